//! Interop with Datadog's official `datadog-api-client` (Python, 2.62.0): a dataset made and
//! edited through its `AgentObservabilityApi` is pulled by this SDK with the same records.
//!
//! Needs `DDTRACE_PYTHON`: a Python with `datadog-api-client==2.62.0` (scripts/test.sh
//! installs it into the venv it makes, and sets it, so CI always runs this test). Without
//! it the test is skipped with a message saying how to run it.

use std::process::Command;

use llmobs::PullDataset;
use llmobs_server::test_support::TestServer;
use serde_json::{Value, json};

use crate::datasets::client;

const SCRIPT: &str = include_str!("interop/official_side.py");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_made_by_the_official_client_is_pulled_by_the_sdk() {
    let python = std::env::var("DDTRACE_PYTHON").unwrap_or_default();
    if python.is_empty() {
        eprintln!(
            "SKIPPED a_dataset_made_by_the_official_client_is_pulled_by_the_sdk: DDTRACE_PYTHON \
             is not set; point it at a python with datadog-api-client==2.62.0 to run it (bash \
             scripts/test.sh creates .ci/venv and exports it)"
        );
        return;
    }
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("official_side.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let (origin, api, app) =
        (server.origin(), server.api_key().to_owned(), server.app_key().to_owned());
    let dir = home.path().to_owned();
    let made: Value = tokio::task::spawn_blocking(move || {
        let output = Command::new(&python)
            .arg(&script)
            .args([origin.as_str(), &api, &app, "official-interop", "capitals"])
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &dir)
            .output()
            .expect("DDTRACE_PYTHON could not be started");
        assert!(
            output.status.success(),
            "the official client's side failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the official client's side prints JSON")
    })
    .await
    .unwrap();

    let options =
        PullDataset { project_name: Some("official-interop".into()), ..Default::default() };
    let pulled = client(&server).pull_dataset_with("capitals", &options).await.unwrap();
    assert_eq!(pulled.id(), made["dataset_id"]);
    assert_eq!((pulled.version(), pulled.len()), (2, 3));
    let ours: Vec<Value> = pulled
        .records()
        .iter()
        .map(|r| {
            json!({"id": r.id, "input": r.input, "expected_output": r.expected_output,
                   "metadata": r.metadata})
        })
        .collect();
    // Absent metadata is `null` to the official client and `{}` to the SDK (as to ddtrace).
    let mut theirs = made["records"].clone();
    for record in theirs.as_array_mut().unwrap() {
        if record["metadata"].is_null() {
            record["metadata"] = json!({});
        }
    }
    assert_eq!(Value::Array(ours), theirs);
    assert_eq!(pulled.records()[2].expected_output, Some(json!("Lima")));
    assert_eq!(pulled.records()[0].metadata, Some(json!({"continent": "Europe"})));
}
