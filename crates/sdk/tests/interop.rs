//! Interop with the reference client: an experiment run by this SDK and one run by
//! ddtrace 4.16.0 on the same dataset, each listed, pulled and re-scored by the other
//! client, and each rerun pulled by the client that did not make it.
//!
//! Needs `DDTRACE_PYTHON`: a Python with `ddtrace==4.16.0` (scripts/test.sh makes one and
//! sets it, so CI always runs this test). Without it the test is skipped with a message
//! saying how to run it, so that a plain `cargo test` passes on a machine without Python.

use std::process::Command;

use llmobs::{CallError, EvaluatorContext, ListExperiments, MissingTask, RunOptions, Status};
use llmobs_server::test_support::TestServer;
use serde_json::{Value, json};

use crate::datasets::client;

const SCRIPT: &str = include_str!("interop/ddtrace_side.py");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiments_from_both_clients_are_read_by_the_other() {
    let python = std::env::var("DDTRACE_PYTHON").unwrap_or_default();
    if python.is_empty() {
        eprintln!(
            "SKIPPED experiments_from_both_clients_are_read_by_the_other: DDTRACE_PYTHON is not \
             set; point it at a python with ddtrace==4.16.0 to run it (bash scripts/test.sh \
             creates .ci/venv and exports it)"
        );
        return;
    }
    let server = TestServer::start().await;
    let client = client(&server);
    let records = [("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid")]
        .iter()
        .map(|(c, a)| llmobs::DatasetRecord::new(json!({"country": c})).expected_output(json!(a)));
    let ds = client.create_dataset("interop-ds", records).await.unwrap();
    let ours = client
        .experiment("rust-exp", &ds, |input: Value, _| async move {
            let answer = match input["country"].as_str() {
                Some("France") => "Paris",
                Some("Italy") => "Rome",
                _ => "Lyon",
            };
            Ok::<_, CallError>(json!(answer))
        })
        .task_name("capital_task")
        .evaluator("exact", |ctx: &EvaluatorContext| {
            ctx.expected_output.as_ref() == Some(&ctx.output)
        })
        .build()
        .unwrap()
        .run(RunOptions::default())
        .await
        .unwrap();
    assert_eq!(ours.status, Status::Completed);

    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("ddtrace_side.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let ddtrace = |args: Value| {
        let (python, script, home) = (python.clone(), script.clone(), home.path().to_owned());
        let origin = server.origin();
        let (api, app) = (server.api_key().to_owned(), server.app_key().to_owned());
        tokio::task::spawn_blocking(move || {
            let output = Command::new(&python)
                .arg(&script)
                .arg(args.to_string())
                .current_dir(&home)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", &home)
                .env("DD_LLMOBS_OVERRIDE_ORIGIN", origin)
                .env("DD_API_KEY", api)
                .env("DD_APP_KEY", app)
                .env("DD_SITE", "datadoghq.com")
                .env("DD_TRACE_ENABLED", "false")
                .env("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "false")
                .env("DD_REMOTE_CONFIGURATION_ENABLED", "false")
                .env("DD_TRACE_AGENT_URL", "http://127.0.0.1:9")
                .output()
                .expect("DDTRACE_PYTHON could not be started");
            assert!(
                output.status.success(),
                "the ddtrace side failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            serde_json::from_str::<Value>(stdout.lines().last().unwrap_or("")).unwrap()
        })
    };
    let args =
        json!({"project": "sdk-tests", "dataset": "interop-ds", "rust_id": ours.experiment_id});
    let theirs = ddtrace(args).await.unwrap();

    // ddtrace read our dataset, listed our experiment and pulled our rows.
    assert_eq!(theirs["dataset_records"], json!(3));
    let listed = theirs["listed"].as_array().unwrap();
    let mine = listed.iter().find(|e| e["id"] == json!(ours.experiment_id)).unwrap();
    assert_eq!(
        (mine["experiment"].clone(), mine["status"].clone()),
        (json!("rust-exp"), json!("completed"))
    );
    let rows = theirs["rust_rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let mut exact: Vec<bool> =
        rows.iter().map(|r| r["evaluations"]["exact"].as_bool().unwrap()).collect();
    exact.sort();
    assert_eq!(exact, vec![false, true, true]);

    // We list ddtrace's experiment and read its spans and metrics.
    let py_id = theirs["py_id"].as_str().unwrap();
    let listed = client.list_experiments(&ListExperiments::default()).await.unwrap();
    let py = listed.iter().find(|e| e.id == py_id).unwrap();
    assert_eq!(
        (py.attributes.experiment.as_str(), py.attributes.status.as_deref()),
        ("py-exp", Some("completed"))
    );
    assert!(listed.iter().any(|e| e.id == ours.experiment_id));
    let events = client.experiment_events(py_id).await.unwrap();
    assert_eq!(events.spans.len(), 3);
    for span in &events.spans {
        let metrics = span["eval_metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 1);
        assert_eq!(metrics[0]["label"], json!("exact"));
        assert_eq!(span["name"], json!("capital_task"));
    }

    // We pull ddtrace's experiment: the same records, outputs and evaluations as ours.
    let pulled = client.pull_experiment(py_id).await.unwrap();
    let record_ids: Vec<&str> = ds.records().iter().map(|r| r.id.as_str()).collect();
    let mut seen: Vec<&str> = pulled.results.rows().iter().map(|r| r.record_id()).collect();
    seen.sort();
    let mut expected_ids = record_ids.clone();
    expected_ids.sort();
    assert_eq!(seen, expected_ids);
    for row in pulled.results.rows() {
        let same = ours.rows().iter().find(|r| r.record_id() == row.record_id()).unwrap();
        assert_eq!((&row.output, row.input()), (&same.output, same.input()));
        assert_eq!(row.evaluations["exact"].value(), same.evaluations["exact"].value());
    }

    // ddtrace's rerun of our experiment, read back by us: a child with a `length` score.
    let py_rerun = client.pull_experiment(theirs["py_rerun_id"].as_str().unwrap()).await.unwrap();
    let parent = py_rerun.info.attributes.parent_experiment_id.as_deref();
    assert_eq!(parent, Some(ours.experiment_id.as_str()));
    assert_eq!(py_rerun.results.rows().len(), 3);
    for row in py_rerun.results.rows() {
        let len = row.output.as_str().unwrap().len();
        assert_eq!(row.evaluations["length"].value(), json!(len));
    }

    // Our rerun of ddtrace's experiment, read back by ddtrace.
    let rerun = client
        .rerun_evaluators(py_id)
        .evaluator("length", |ctx: &EvaluatorContext| ctx.output.as_str().map_or(0, str::len))
        .missing_task(MissingTask::Skip)
        .run(RunOptions::default())
        .await
        .unwrap();
    assert_eq!(rerun.status, Status::Completed);
    let back =
        ddtrace(json!({"project": "sdk-tests", "pull_only": [rerun.experiment_id]})).await.unwrap();
    let rows = back["pulled"][&rerun.experiment_id].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let len = row["output"].as_str().unwrap().len();
        assert_eq!(row["evaluations"]["length"], json!(len), "{row}");
        assert!(record_ids.contains(&row["record_id"].as_str().unwrap()), "{row}");
    }
}
