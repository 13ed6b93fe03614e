//! Acceptance cases 31 to 33: CSV and TSV datasets.

use llmobs_bootstrap::{CsvDataset, Dataset, Plan};

use crate::util::{Dir, with_dataset};

fn plan(dir: &Dir, name: &str, contents: &str) -> Plan {
    dir.write(name, contents);
    dir.plan(&with_dataset(name)).unwrap()
}

fn csv(plan: &Plan) -> &CsvDataset {
    match &plan.dataset {
        Dataset::Csv(csv) => csv,
        other => panic!("expected a CSV dataset, got {other:?}"),
    }
}

fn columns(plan: &Plan) -> (Vec<String>, Vec<String>, Vec<String>, Option<String>) {
    let c = csv(plan);
    (
        c.input_columns.clone(),
        c.expected_columns.clone(),
        c.metadata_columns.clone(),
        c.id_column.clone(),
    )
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn reference_csv_at_an_awkward_path() {
    let dir = Dir::named("work");
    let mut rows = String::from("prompt,topics,labels\n");
    for i in 0..129 {
        rows.push_str(&format!("\"Plan task {i}, then report\",\"a,b\",x\n"));
    }
    let name = "data \"q\" \\ ü/taskmaster.csv";
    let plan = plan(&dir, name, &rows);
    let rendered = llmobs_bootstrap::render(&plan).unwrap();
    let canonical = std::fs::canonicalize(dir.cwd.join(name)).unwrap();
    let literal = llmobs_bootstrap::py_str(canonical.to_str().unwrap());
    assert!(literal.contains(r#"\"q\" \\ \xfc/taskmaster.csv""#), "{literal}");
    assert!(rendered.text.contains(&format!(
        "dataset = LLMObs.create_dataset_from_csv(\n    csv_path={literal},\n    dataset_name=\"taskmaster\",\n    \
         input_data_columns=[\"prompt\"],\n    metadata_columns=[\"topics\", \"labels\"],\n    \
         description=\"Dataset created by llmobs bootstrap from a CSV file.\",\n)\n"
    )));
    assert_eq!(csv(&plan).rows, 129);
    assert_eq!(
        plan.warnings,
        [
            "No expected-output column matched (expected|gold|truth|answer); evaluators that \
             compare with the expected output will fail until you add one."
                .to_owned(),
            format!("The CSV file {literal} is read when the experiment runs: keep it there."),
        ]
    );
    assert!(!rendered.text.contains("Plan task"), "cells never reach the output");
}

#[test]
fn header_heuristics() {
    let dir = Dir::named("work");
    let p = plan(&dir, "a.csv", "question,answer\nq,a\n");
    assert_eq!(columns(&p), (strings(&["question"]), strings(&["answer"]), vec![], None));

    let p = plan(&dir, "b.csv", "Prompt,Expected_Output,category\nq,a,c\n");
    assert_eq!(
        columns(&p),
        (strings(&["Prompt"]), strings(&["Expected_Output"]), strings(&["category"]), None)
    );

    let p = plan(&dir, "c.csv", "user_question,reference_answer,context\nq,a,c\n");
    assert_eq!(
        columns(&p),
        (strings(&["user_question"]), strings(&["reference_answer"]), strings(&["context"]), None)
    );
    let text = llmobs_bootstrap::render(&p).unwrap().text;
    assert!(text.contains("return output_data == expected_output.get(\"reference_answer\")"));

    let p = plan(&dir, "d.csv", "question_answer,notes\nq,a\n");
    assert_eq!(columns(&p), (strings(&["notes"]), strings(&["question_answer"]), vec![], None));
    assert!(p.warnings[0].contains("using \"notes\" as input"), "{:?}", p.warnings);

    let p = plan(
        &dir,
        "e.csv",
        "id,contract,expected_proposals,category,severity\n1,\"line one\nline two\",p,c,high\n",
    );
    assert_eq!(
        columns(&p),
        (
            strings(&["contract"]),
            strings(&["expected_proposals"]),
            strings(&["category", "severity"]),
            Some("id".to_owned())
        )
    );
    let text = llmobs_bootstrap::render(&p).unwrap().text;
    assert!(text.contains("    id_column=\"id\",\n"));

    dir.write("f.csv", "answer\nx\n");
    let error = dir.plan(&with_dataset("f.csv")).unwrap_err().to_string();
    assert!(error.contains("no input column"), "{error}");
}

#[test]
fn bom_tsv_and_semicolons() {
    let dir = Dir::named("work");
    let p = plan(&dir, "bom.csv", "\u{feff}prompt,answer\nq,a\n");
    assert_eq!(csv(&p).input_columns, ["\u{feff}prompt"]);
    let text = llmobs_bootstrap::render(&p).unwrap().text;
    assert!(text.contains("input_data_columns=[\"\\ufeffprompt\"],"));
    assert!(
        p.warnings[0].contains("byte-order mark") && p.warnings[0].contains("\"\\ufeffprompt\"")
    );

    let p = plan(&dir, "data.tsv", "question\tanswer\nq\ta\n");
    let text = llmobs_bootstrap::render(&p).unwrap().text;
    assert!(text.contains("    csv_delimiter=\"\\t\",\n    description="));

    let p = plan(&dir, "semi.csv", "question;answer\nq;a\n");
    assert_eq!(csv(&p).delimiter, ';');
    assert!(p.warnings[0].contains("\";\" as delimiter"));
    let text = llmobs_bootstrap::render(&p).unwrap().text;
    assert!(text.contains("    csv_delimiter=\";\",\n"));
}

#[test]
fn malformed_files_name_the_file_and_row() {
    let dir = Dir::named("work");
    for (name, contents, needle) in [
        ("empty.csv", "", "empty"),
        ("header.csv", "question,answer\n", "no data rows"),
        ("dup.csv", "question,question,answer\nq,q,a\n", "duplicate header name \"question\""),
        ("blank.csv", "question,,answer\nq,x,a\n", "header cell 1 is empty"),
        ("ragged.csv", "question,answer\nq,a\nq2\n", "data row 1 has 1 fields"),
        ("latin1.csv", "question,answer\nq,caf\u{e9}\n", ""),
    ] {
        let bytes: Vec<u8> = if name == "latin1.csv" {
            b"question,answer\nq,caf\xe9\n".to_vec()
        } else {
            contents.as_bytes().to_vec()
        };
        dir.write(name, bytes);
        let error = dir.plan(&with_dataset(name)).unwrap_err().to_string();
        assert!(error.contains(&format!("\"{name}\"")), "{error}");
        let needle = if needle.is_empty() { "not UTF-8 (in data row 0)" } else { needle };
        assert!(error.contains(needle), "{name}: {error}");
    }
}

#[test]
fn pii_in_cells_is_reported_not_embedded() {
    let dir = Dir::named("work");
    let contents = "question,answer\nmail ann@example.com,a\nplain,b\ncall 555-123-4567,c\n";
    let p = plan(&dir, "pii.csv", contents);
    assert!(
        p.warnings.contains(
            &"PII-like text found in CSV rows 0, 2 (email: 1, phone: 1); the CSV is uploaded \
          unchanged when the experiment runs."
                .to_owned()
        ),
        "{:?}",
        p.warnings
    );
    let text = llmobs_bootstrap::render(&p).unwrap().text;
    assert!(!text.contains("ann@example.com") && !text.contains("REDACTED"));
    assert_eq!(std::fs::read_to_string(dir.cwd.join("pii.csv")).unwrap(), contents);
}
