//! Interop with the reference client: an experiment run by this SDK and one run by
//! ddtrace 4.16.0 on the same dataset, each listed and read back by the other client.
//!
//! Needs `DDTRACE_PYTHON`: a Python with `ddtrace==4.16.0` (scripts/test.sh makes one).
//! Without it the test fails, saying so.

use std::process::Command;

use llmobs::{CallError, EvaluatorContext, ListExperiments, RunOptions, Status};
use llmobs_server::test_support::TestServer;
use serde_json::{Value, json};

use crate::datasets::client;

const SCRIPT: &str = include_str!("interop/ddtrace_side.py");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiments_from_both_clients_are_read_by_the_other() {
    let python = std::env::var("DDTRACE_PYTHON").unwrap_or_default();
    assert!(
        !python.is_empty(),
        "DDTRACE_PYTHON is not set: point it at a python with ddtrace==4.16.0 \
         (bash scripts/test.sh creates .ci/venv and exports it)"
    );
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
        .evaluator("exact", |ctx: &EvaluatorContext| ctx.output == ctx.expected_output)
        .build()
        .unwrap()
        .run(RunOptions::default())
        .await
        .unwrap();
    assert_eq!(ours.status, Status::Completed);

    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("ddtrace_side.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let args =
        json!({"project": "sdk-tests", "dataset": "interop-ds", "rust_id": ours.experiment_id});
    let origin = server.origin();
    let (api, app) = (server.api_key().to_owned(), server.app_key().to_owned());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .arg(&script)
            .arg(args.to_string())
            .current_dir(home.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("DD_LLMOBS_OVERRIDE_ORIGIN", origin)
            .env("DD_API_KEY", api)
            .env("DD_APP_KEY", app)
            .env("DD_SITE", "datadoghq.com")
            .env("DD_TRACE_ENABLED", "false")
            .env("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "false")
            .env("DD_REMOTE_CONFIGURATION_ENABLED", "false")
            .env("DD_TRACE_AGENT_URL", "http://127.0.0.1:9")
            .output()
            .expect("DDTRACE_PYTHON could not be started")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the ddtrace side failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let theirs: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();

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
}
