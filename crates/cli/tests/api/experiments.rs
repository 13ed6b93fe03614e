//! `llmobs experiments`, the CI gate, and span search over the experiments' spans.

use llmobs::{CallError, DatasetRecord, EvaluatorContext, RunOptions};
use serde_json::{Value, json};

use crate::util::{Env, runtime, stderr};

/// Runs `qa-bot` twice on the same four records: the baseline answers all of them right,
/// the candidate gets one wrong (and its `tone` changes from "short" to "long"). Returns
/// (baseline id, candidate id).
fn two_runs(env: &Env) -> (String, String) {
    two_runs_in(env, "default-project")
}

fn two_runs_in(env: &Env, project: &str) -> (String, String) {
    let client = env.client_in(project);
    runtime().block_on(async move {
        let records: Vec<DatasetRecord> = (1..=4)
            .map(|i| DatasetRecord::new(json!({"n": i})).expected_output(json!(i * 2)))
            .collect();
        let dataset = client.create_dataset("doubles", records).await.unwrap();
        let mut ids = Vec::new();
        for (stage, wrong) in [("baseline", 0), ("candidate", 3)] {
            let results = client
                .experiment("qa-bot", dataset.clone(), move |input: Value, _config| async move {
                    let n = input["n"].as_i64().unwrap();
                    Ok::<_, CallError>(json!(if n == wrong { 0 } else { n * 2 }))
                })
                .evaluator("accuracy", |ctx: &EvaluatorContext| {
                    ctx.expected_output.as_ref() == Some(&ctx.output)
                })
                .evaluator("score", |ctx: &EvaluatorContext| {
                    if ctx.expected_output.as_ref() == Some(&ctx.output) { 1.0 } else { 0.5 }
                })
                .evaluator(
                    "tone",
                    |ctx: &EvaluatorContext| {
                        if ctx.output == json!(0) { "long" } else { "short" }
                    },
                )
                .tags([("stage", stage)])
                .build()
                .unwrap()
                .run(RunOptions::default())
                .await
                .unwrap();
            ids.push(results.experiment_id.clone());
        }
        (ids[0].clone(), ids[1].clone())
    })
}

/// Whether a line of `text` has exactly these whitespace-separated cells.
fn has_row(text: &str, cells: &[&str]) -> bool {
    text.lines().any(|line| line.split_whitespace().eq(cells.iter().copied()))
}

#[test]
fn compare_is_a_ci_gate() {
    let env = Env::new();
    let (baseline, candidate) = two_runs(&env);
    // A drop of 0.25 in accuracy: a rule allowing 2 points fails, one allowing 50 passes.
    let out = env.fails(
        &["experiments", "compare", &baseline, &candidate, "--fail-on", "accuracy < -0.02"],
        1,
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(stderr(&out).contains("1 of 1 rule(s) failed: accuracy < -0.02"), "{}", stderr(&out));
    assert!(has_row(&text, &["accuracy", "boolean", "1", "0.75", "-0.25"]), "{text}");
    assert!(has_row(&text, &["accuracy", "<", "-0.02", "-0.25", "FAIL"]), "{text}");
    // A categorical evaluation shows each side's mode, and its changes are not regressions.
    assert!(has_row(&text, &["tone", "categorical", "short", "short", "-"]), "{text}");
    assert!(text.contains("2 regressed record evaluation(s), 1 changed (categorical)"), "{text}");
    let changed = ["tone", "\"short\"", "\"long\"", "changed"];
    assert!(
        text.lines().any(|l| l.split_whitespace().skip(1).eq(changed.iter().copied())),
        "{text}"
    );
    let out = env.ok(&[
        "experiments",
        "compare",
        &baseline,
        &candidate,
        "--fail-on",
        "accuracy < -0.5",
        "--fail-on",
        "score.mean < -0.2",
    ]);
    assert!(out.contains("pass") && !out.contains("FAIL"), "{out}");
    // The regressed record is listed.
    let json = env.json(&["experiments", "compare", &baseline, &candidate]);
    let regressed: Vec<&str> = json["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metric"].as_str().unwrap())
        .collect();
    assert_eq!(regressed, ["accuracy", "score"]);
    assert_eq!(json["changes"][0]["metric"], "tone", "{json}");
    assert_eq!(json["changes"].as_array().unwrap().len(), 1, "{json}");
    let tone = json["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == "tone");
    assert_eq!(tone.unwrap()["baseline_mode"], "short", "{json}");
    assert_eq!(json["failed"], false);
    // Baseline by tag and candidate by name (its latest run); Markdown for a PR comment.
    let md = env.ok(&[
        "experiments",
        "compare",
        "tag:stage:baseline",
        "qa-bot",
        "--format",
        "markdown",
        "--fail-on",
        "latency.p90 > +100000%",
    ]);
    assert!(md.starts_with("### Experiment comparison\n"), "{md}");
    assert!(md.contains("| accuracy | boolean | 1 | 0.75 | -0.25 |"), "{md}");
    assert!(
        md.contains(&format!("({baseline})")) && md.contains(&format!("({candidate})")),
        "{md}"
    );
    assert!(md.contains("✅ pass"), "{md}");
    // Bad rules are usage errors.
    let out = env.fails(
        &["experiments", "compare", &baseline, &candidate, "--fail-on", "accuracy -0.02"],
        2,
    );
    assert!(stderr(&out).contains("has no comparison"), "{}", stderr(&out));
    let out = env.fails(
        &["experiments", "compare", &baseline, &candidate, "--fail-on", "acuracy < -0.02"],
        2,
    );
    assert!(
        stderr(&out).contains(
            "neither experiment has 'acuracy' (metrics: accuracy, score, tone, latency, errors)"
        ),
        "{}",
        stderr(&out)
    );
    let out = env.fails(&["experiments", "compare", "nope", &candidate], 1);
    assert!(stderr(&out).contains("no experiment with id, name or tag 'nope'"), "{}", stderr(&out));
}

#[test]
fn experiments_list_show_export_delete_and_their_spans() {
    let env = Env::new();
    let (baseline, candidate) = two_runs(&env);
    let (_, elsewhere) = two_runs_in(&env, "side-project");
    // With no project set, every project's experiments, newest first, with their project.
    let everywhere = env.json(&["experiments", "list"]);
    let ids: Vec<&str> =
        everywhere.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "{everywhere}");
    assert_eq!(ids[0], elsewhere, "newest first");
    let table = env.ok(&["experiments", "list", "--limit", "3"]);
    assert_eq!(table.lines().count(), 4, "a header and three rows: {table}");
    assert!(table.starts_with("ID") && table.contains("PROJECT"), "{table}");
    assert!(table.contains("side-project") && table.contains("default-project"), "{table}");
    let listed = env.json(&["--project", "default-project", "experiments", "list"]);
    let pid = env.api("/api/v2/llm-obs/v1/projects?filter[name]=default-project")["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = env.api(&format!("/api/unstable/llm-obs/v1/experiments?filter[project_id]={pid}"));
    assert_eq!(listed, api["data"], "--json prints exactly the API's data");
    let ids: Vec<&str> =
        listed.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [candidate.as_str(), baseline.as_str()], "newest first");
    let tagged = env.json(&["experiments", "list", "--tag", "stage:baseline"]);
    assert_eq!(tagged.as_array().unwrap().len(), 2, "one per project");
    let out = env.fails(&["--project", "nowhere", "experiments", "list"], 1);
    assert!(stderr(&out).contains("no project 'nowhere'"), "{}", stderr(&out));
    let shown = env.ok(&["experiments", "show", &candidate]);
    assert!(shown.contains("qa-bot") && shown.contains("stage:candidate"), "{shown}");
    let rows = env.ok(&["experiments", "export", &candidate]);
    assert_eq!(rows.lines().count(), 4);
    env.ok(&["experiments", "export", &candidate, "-o", "rows.csv"]);
    assert_eq!(std::fs::read_to_string(env.path("rows.csv")).unwrap().lines().count(), 5);
    // The experiment's spans are searchable, and a trace shows as a tree.
    let spans = env.json(&["spans", "search", &format!("@experiment_id:{candidate}")]);
    let spans = spans.as_array().unwrap();
    assert!(spans.len() >= 4, "{spans:?}");
    let trace = spans[0]["attributes"]["trace_id"].as_str().unwrap();
    let tree = env.json(&["traces", "show", trace]);
    assert!(tree.as_array().unwrap().iter().all(|s| s["attributes"]["trace_id"] == trace));
    let table = env.ok(&["traces", "show", trace]);
    assert!(table.starts_with("SPAN"), "{table}");
    env.fails(&["traces", "show", "ffffffffffffffffffffffffffffffff"], 1);
    env.fails(&["experiments", "delete", "missing-id", "--yes"], 1);
    let here = ["--project", "default-project", "experiments", "list"];
    assert_eq!(env.json(&here).as_array().unwrap().len(), 2, "nothing deleted");
    env.ok(&["experiments", "delete", &baseline, "--yes"]);
    let left = env.json(&here);
    assert_eq!(
        left.as_array().unwrap().iter().map(|e| e["id"].clone()).collect::<Vec<_>>(),
        [json!(candidate)]
    );
}
