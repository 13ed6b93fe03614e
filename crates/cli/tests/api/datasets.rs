//! `llmobs datasets`.

use serde_json::{Value, json};

use crate::util::{Env, stderr};

const CSV: &str = "input,expected_output,metadata,tags\n\
\"{\"\"q\"\": \"\"2+2\"\"}\",4,\"{\"\"level\"\": 1}\",\"[\"\"kind:sum\"\"]\"\n\
hello,world,,\n";

fn project_id(env: &Env) -> String {
    env.api("/api/v2/llm-obs/v1/projects?filter[name]=default-project")["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn csv_and_jsonl_import_export_and_list_as_the_api_does() {
    let env = Env::new();
    let csv = env.write("qa.csv", CSV);
    let imported = env.json(&["datasets", "import", "qa", csv.to_str().unwrap()]);
    assert_eq!(imported["attributes"]["version_number"], 1);
    let pid = project_id(&env);
    let listed = env.json(&["datasets", "list"]);
    assert_eq!(listed, env.api(&format!("/api/v2/llm-obs/v1/{pid}/datasets"))["data"]);
    // Export, import the export into another dataset, export again: the same records.
    let exported = env.ok(&["datasets", "export", "qa", "--format", "jsonl"]);
    let rows: Vec<Value> = exported.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let first = rows.iter().find(|r| r["expected_output"] == json!(4)).unwrap();
    assert_eq!(
        (&first["input"], &first["metadata"], &first["tags"]),
        (&json!({"q": "2+2"}), &json!({"level": 1}), &json!(["kind:sum"]))
    );
    env.ok(&["datasets", "export", "qa", "-o", "copy.csv"]);
    env.ok(&["datasets", "import", "copy", "copy.csv"]);
    let strip = |text: String| -> Vec<Value> {
        let mut rows: Vec<Value> = text
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("id");
                v
            })
            .collect();
        rows.sort_by_key(|r| r.to_string());
        rows
    };
    assert_eq!(
        strip(env.ok(&["datasets", "export", "copy", "--format", "jsonl"])),
        strip(exported.clone())
    );
    // JSON lines import.
    let jsonl = env.write("more.jsonl", "{\"input\": {\"q\": \"3+3\"}, \"expected_output\": 6, \"tags\": [\"kind:sum\"]}\n\n{\"input\": \"plain\"}\n");
    env.ok(&["datasets", "import", "qa", jsonl.to_str().unwrap()]);
    let shown = env.json(&["datasets", "show", "qa"]);
    assert_eq!(shown["attributes"]["current_version"], 2);
    let table = env.ok(&["datasets", "show", "qa"]);
    assert!(table.contains("4 record(s)") && table.contains("{\"q\":\"3+3\"}"), "{table}");
    let versions = env.json(&["datasets", "versions", "qa"]);
    let ds = shown["id"].as_str().unwrap();
    assert_eq!(
        versions,
        env.api(&format!("/api/v2/llm-obs/v1/{pid}/datasets/{ds}/versions"))["data"]
    );
    let diff = env.json(&["datasets", "diff", "qa", "1", "2"]);
    let changes: Vec<&str> =
        diff.as_array().unwrap().iter().map(|c| c["change"].as_str().unwrap()).collect();
    assert_eq!(changes, ["added", "added"]);
}

#[test]
fn pull_edit_push_makes_one_version_with_exactly_the_file() {
    let env = Env::new();
    let csv = env.write("qa.csv", CSV);
    env.ok(&["datasets", "import", "qa", csv.to_str().unwrap()]);
    env.ok(&["datasets", "pull", "qa"]);
    let text = std::fs::read_to_string(env.path("qa.jsonl")).unwrap();
    let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // Change one, drop one, add one.
    lines.retain(|l| l["input"] != "hello");
    lines[0]["expected_output"] = json!(5);
    lines.push(json!({"input": "new", "expected_output": "record"}));
    let edited: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(env.path("qa.jsonl"), edited).unwrap();
    let summary = env.json(&["datasets", "push", "qa", "qa.jsonl"]);
    assert_eq!(
        (summary["added"].as_u64(), summary["updated"].as_u64(), summary["deleted"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    let after = env.json(&["datasets", "show", "qa"]);
    assert_eq!(after["attributes"]["current_version"], 2, "one new version");
    let mut outputs: Vec<String> = env
        .ok(&["datasets", "export", "qa", "--format", "jsonl"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["expected_output"].to_string())
        .collect();
    outputs.sort();
    assert_eq!(outputs, ["\"record\"", "5"]);
    // Pushing the same file again changes nothing.
    let again = env.json(&["datasets", "push", "qa", "qa.jsonl"]);
    assert_eq!(
        (again["added"].as_u64(), again["updated"].as_u64(), again["deleted"].as_u64()),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(env.json(&["datasets", "show", "qa"])["attributes"]["current_version"], 2);
}

#[test]
fn a_csv_of_any_header_imports_through_a_column_mapping() {
    let env = Env::new();
    let csv = env.write(
        "faq.csv",
        "ref,question,lang,answer,source\nq1,\"Capital of France?\",en,Paris,atlas\n\
         q2,Capital of Peru?,en,Lima,\n",
    );
    let map = ["--input-columns", "question,lang", "--expected-output-columns", "answer"];
    let mut args = vec!["datasets", "import", "faq", csv.to_str().unwrap()];
    args.extend(map);
    args.extend(["--metadata-columns", "source", "--id-column", "ref"]);
    env.ok(&args);
    let rows = env.ok(&["datasets", "export", "faq", "--format", "jsonl"]);
    let rows: Vec<Value> = rows.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let first = rows.iter().find(|r| r["id"] == "q1").expect("the id column is the id");
    assert_eq!(first["input"], json!({"question": "Capital of France?", "lang": "en"}));
    assert_eq!(first["expected_output"], json!({"answer": "Paris"}));
    assert_eq!(first["metadata"], json!({"source": "atlas"}));
    // A column that is not there is a usage error naming the columns, and nothing is made.
    let mut args = vec!["datasets", "import", "other", "faq.csv"];
    args.extend(["--input-columns", "question,colour"]);
    let out = env.fails(&args, 2);
    assert!(
        stderr(&out).contains(
            "--input-columns: 'colour' is not a column of faq.csv (columns: ref, question, lang, \
             answer, source)"
        ),
        "{}",
        stderr(&out)
    );
    let out = env.fails(&["datasets", "import", "other", "faq.csv", "--metadata-columns", "x"], 2);
    assert!(stderr(&out).contains("--input-columns"), "{}", stderr(&out));
    let names: Vec<Value> = env
        .json(&["datasets", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["attributes"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("faq")]);
}

#[test]
fn bad_dataset_input_is_refused_and_nothing_is_stored() {
    let env = Env::new();
    let csv = env.write("qa.csv", CSV);
    env.ok(&["datasets", "import", "qa", csv.to_str().unwrap()]);
    let pid = project_id(&env);
    let before = env.api(&format!("/api/v2/llm-obs/v1/{pid}/datasets"));
    let no_input = env.write("bad.csv", "question,answer\nq,a\n");
    let out = env.fails(&["datasets", "import", "fresh", no_input.to_str().unwrap()], 2);
    assert!(
        stderr(&out).contains("has no 'input' column (found: question, answer)"),
        "{}",
        stderr(&out)
    );
    let bad_line = env.write("bad.jsonl", "{\"input\": 1}\n{\"input\": 2, \"colour\": 3}\n");
    let out = env.fails(&["datasets", "import", "qa", bad_line.to_str().unwrap()], 2);
    assert!(stderr(&out).contains("bad.jsonl line 2: unknown key 'colour'"), "{}", stderr(&out));
    let not_json = env.write("worse.jsonl", "{\"input\": 1}\nnope\n");
    let out = env.fails(&["datasets", "import", "qa", not_json.to_str().unwrap()], 2);
    assert!(stderr(&out).contains("worse.jsonl line 2: not JSON"), "{}", stderr(&out));
    // A row the server refuses (empty input) stores nothing, and the dataset made for the
    // import is removed again.
    let empty_input = env.write("empty.csv", "input,expected_output\nok,1\n,2\n");
    let out = env.fails(&["datasets", "import", "fresh", empty_input.to_str().unwrap()], 1);
    assert!(stderr(&out).contains("nothing was stored"), "{}", stderr(&out));
    env.fails(&["datasets", "import", "qa", "missing.csv"], 2);
    env.fails(&["datasets", "import", "qa", csv.to_str().unwrap(), "--tag", "notag"], 2);
    let out = env.fails(&["datasets", "show", "nope"], 1);
    assert!(
        stderr(&out).contains("no dataset 'nope' in project 'default-project'"),
        "{}",
        stderr(&out)
    );
    let out = env.fails(&["datasets", "diff", "qa", "1", "9"], 2);
    assert!(stderr(&out).contains("versions 1 to 1, not 9"), "{}", stderr(&out));
    let empty = env.write("empty.jsonl", "\n");
    let out = env.fails(&["datasets", "push", "qa", empty.to_str().unwrap()], 2);
    assert!(stderr(&out).contains("holds no records"), "{}", stderr(&out));
    env.fails(&["datasets", "delete", "qa"], 2);
    let out = env.fails(&["--project", "nowhere", "datasets", "list"], 1);
    assert!(stderr(&out).contains("no project 'nowhere'"), "{}", stderr(&out));
    assert_eq!(env.api(&format!("/api/v2/llm-obs/v1/{pid}/datasets")), before);
    assert_eq!(env.api("/api/v2/llm-obs/v1/projects")["data"].as_array().unwrap().len(), 1);
    env.ok(&["datasets", "delete", "qa", "--yes"]);
    assert_eq!(env.json(&["datasets", "list"]), json!([]));
}
