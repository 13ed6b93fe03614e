//! Reading experiments back (`pull_experiment`, list filters), re-scoring them
//! (`rerun_evaluators`), summary evaluators with state, and Ctrl-C, against the real
//! server.

use std::sync::Arc;
use std::time::Duration;

use llmobs::{
    BoxFuture, CallError, Client, DatasetRecord, Error, Evaluation, EvaluatorContext,
    IntoEvaluation, ListExperiments, MissingTask, RunOptions, Status, SummaryContext,
    SummaryEvaluator,
};
use llmobs_server::test_support::TestServer;
use serde_json::{Value, json};

use crate::datasets::client;

fn capitals() -> Vec<DatasetRecord> {
    [("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid")]
        .iter()
        .map(|(country, capital)| {
            DatasetRecord::new(json!({"country": country})).expected_output(json!(capital))
        })
        .collect()
}

/// Answers every country but Italy, which fails.
async fn flaky(input: Value, _: Arc<Value>) -> Result<Value, CallError> {
    match input["country"].as_str() {
        Some("France") => Ok(json!("Paris")),
        Some("Italy") => Err(CallError::new("no answer").kind("RuntimeError")),
        _ => Ok(json!("Lyon")),
    }
}

fn exact(ctx: &EvaluatorContext) -> bool {
    ctx.expected_output.as_ref() == Some(&ctx.output)
}

fn output_len(ctx: &EvaluatorContext) -> usize {
    ctx.output.as_str().map_or(0, str::len)
}

fn tags(span: &Value) -> Vec<&str> {
    span["tags"].as_array().unwrap().iter().filter_map(Value::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulled_experiments_match_the_run_and_reruns_rescore_them() {
    let server = TestServer::start().await;
    let client = client(&server);
    let ds = client.create_dataset("capitals", capitals()).await.unwrap();
    let experiment = client
        .experiment("geo", &ds, flaky)
        .config(json!({"model": "stub"}))
        .tags([("team", "ml")])
        .evaluator("exact", exact)
        .build()
        .unwrap();
    assert!(matches!(experiment.rerun_evaluators(), Err(Error::InvalidRequest { .. })));
    let run = experiment.run(RunOptions { jobs: 1, ..Default::default() }).await.unwrap();
    assert_eq!(run.status, Status::Failed);

    // pull_experiment rebuilds the same rows from what the server stored.
    let pulled = client.pull_experiment(&run.experiment_id).await.unwrap();
    assert_eq!(pulled.info.attributes.experiment, "geo");
    assert_eq!(pulled.info.tag("team"), Some("ml"));
    assert_eq!((pulled.results.status, pulled.results.rows().len()), (Status::Failed, 3));
    for (ours, theirs) in run.rows().iter().zip(pulled.results.rows()) {
        assert_eq!(
            (ours.index, ours.span_id, ours.trace_id),
            (theirs.index, theirs.span_id, theirs.trace_id)
        );
        assert_eq!((ours.record_id(), ours.input()), (theirs.record_id(), theirs.input()));
        assert_eq!(ours.expected_output(), theirs.expected_output());
        assert_eq!((&ours.output, ours.error.is_some()), (&theirs.output, theirs.error.is_some()));
        assert_eq!(ours.evaluations["exact"].value(), theirs.evaluations["exact"].value());
    }
    assert_eq!(pulled.results.rows()[1].error.as_ref().unwrap().kind, "RuntimeError");
    let unknown = client.pull_experiment("00000000-0000-0000-0000-000000000000").await;
    assert!(matches!(unknown, Err(Error::NotFound { .. })), "{unknown:?}");

    let empty = client.rerun_evaluators(&run.experiment_id).run(RunOptions::default()).await;
    assert!(
        matches!(empty, Err(Error::InvalidRequest { ref detail }) if detail == "a rerun needs at least one evaluator"),
        "{empty:?}"
    );
    // A failed row refuses the default strategy before anything is created.
    let refused = client
        .rerun_evaluators(&run.experiment_id)
        .evaluator("len", output_len)
        .run(RunOptions::default())
        .await;
    assert!(
        matches!(refused, Err(Error::InvalidRequest { ref detail }) if detail.contains("row 1")),
        "{refused:?}"
    );
    let no_task = client
        .rerun_evaluators(&run.experiment_id)
        .evaluator("len", output_len)
        .missing_task(MissingTask::Retry)
        .run(RunOptions::default())
        .await;
    assert!(matches!(no_task, Err(Error::InvalidRequest { .. })), "{no_task:?}");
    let children = ListExperiments {
        parent_experiment_ids: vec![run.experiment_id.clone()],
        ..Default::default()
    };
    assert!(client.list_experiments(&children).await.unwrap().is_empty());

    // Skip: the two good rows are re-scored under a child experiment.
    let skipped = client
        .rerun_evaluators(&run.experiment_id)
        .evaluator("len", output_len)
        .summary_evaluator("rows", |ctx: &SummaryContext| ctx.len())
        .missing_task(MissingTask::Skip)
        .run(RunOptions::default())
        .await
        .unwrap();
    assert_eq!(skipped.status, Status::Completed);
    assert!(skipped.run_name.starts_with("geo-rerun-"), "{}", skipped.run_name);
    let lens: Vec<(usize, Value)> =
        skipped.rows().iter().map(|r| (r.index, r.evaluations["len"].value())).collect();
    assert_eq!(lens, vec![(0, json!(5)), (2, json!(4))]);
    assert_eq!(skipped.summary().unwrap()["rows"].value(), json!(2));
    let child = client.pull_experiment(&skipped.experiment_id).await.unwrap();
    let attributes = &child.info.attributes;
    assert_eq!(attributes.parent_experiment_id.as_deref(), Some(run.experiment_id.as_str()));
    assert_eq!(attributes.config, json!({"evaluators": ["len"]}).as_object().unwrap().clone());
    assert_eq!(attributes.status.as_deref(), Some("completed"));
    let events = client.experiment_events(&skipped.experiment_id).await.unwrap();
    assert_eq!(events.spans.len(), 2);
    let originals = &run.rows();
    for span in &events.spans {
        let tags = tags(span);
        let old = tags.iter().find_map(|t| t.strip_prefix("parent_experiment_span_id:")).unwrap();
        let original = originals.iter().find(|r| r.span_id.to_string() == old).unwrap();
        assert!(tags.contains(&format!("experiment_id:{}", skipped.experiment_id).as_str()));
        assert!(tags.contains(&format!("dataset_record_id:{}", original.record_id()).as_str()));
        assert_eq!(span["meta"]["span.kind"], json!("experiment"));
        assert_eq!(span["meta"]["parent_experiment_span_id"], json!(old));
        assert_eq!(&span["meta"]["output"], &original.output);
        assert_ne!(span["span_id"], json!(old));
        let metric = &span["eval_metrics"][0];
        assert_eq!(metric["label"], json!("len"));
        assert_eq!(metric["timestamp_ms"], json!(original.start_ns / 1_000_000));
    }
    assert_eq!(events.summary_metrics.len(), 1);

    // Retry: the failed row runs again with the given task; the others are replayed.
    let retried = client
        .rerun_evaluators(&run.experiment_id)
        .evaluator("exact", exact)
        .task(|_: Value, _| async { Ok::<_, CallError>(json!("Rome")) })
        .missing_task(MissingTask::Retry)
        .run(RunOptions::default())
        .await
        .unwrap();
    let exact_values: Vec<Value> =
        retried.rows().iter().map(|r| r.evaluations["exact"].value()).collect();
    assert_eq!(exact_values, vec![json!(true), json!(true), json!(false)]);
    assert_eq!(client.experiment_events(&retried.experiment_id).await.unwrap().spans.len(), 3);

    // From the experiment itself, its own task is the default: Italy fails again.
    let own = experiment
        .rerun_evaluators()
        .unwrap()
        .evaluator("exact", exact)
        .missing_task(MissingTask::Retry)
        .run(RunOptions::default())
        .await
        .unwrap();
    assert!(own.rows()[1].error.is_some());

    // Listing by parent, by tag, and with a cap.
    let listed = client.list_experiments(&children).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|e| e.attributes.parent_experiment_id.as_deref()
                == Some(run.experiment_id.as_str()))
    );
    let tagged = ListExperiments { tags: vec!["team:ml".into()], ..Default::default() };
    assert_eq!(client.list_experiments(&tagged).await.unwrap().len(), 4);
    let none = ListExperiments { tags: vec!["team:other".into()], ..Default::default() };
    assert!(client.list_experiments(&none).await.unwrap().is_empty());
    let capped = ListExperiments { max_results: Some(2), page_limit: 1, ..Default::default() };
    assert_eq!(client.list_experiments(&capped).await.unwrap().len(), 2);
    let bad = ListExperiments { max_results: Some(0), ..Default::default() };
    assert!(matches!(client.list_experiments(&bad).await, Err(Error::InvalidRequest { .. })));
}

/// A summary evaluator with state: counts exact matches above a threshold.
struct AtLeast {
    threshold: usize,
}

impl SummaryEvaluator for AtLeast {
    fn name(&self) -> &str {
        "at_least"
    }

    fn evaluate<'a>(
        &'a self,
        context: &'a SummaryContext,
    ) -> BoxFuture<'a, Result<Evaluation, CallError>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let hits = context.outcomes("exact").iter().filter(|o| o.value() == Some(&json!(true)));
            (hits.count() >= self.threshold).into_evaluation()
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_evaluators_can_be_stateful_and_async() {
    let server = TestServer::start().await;
    let client = client(&server);
    let ds = client.create_dataset("capitals", capitals()).await.unwrap();
    let results = client
        .experiment("summary", &ds, flaky)
        .evaluator("exact", exact)
        .summary_evaluator_impl(AtLeast { threshold: 1 })
        .summary_evaluator_impl(AtLeast { threshold: 2 })
        .build()
        .unwrap()
        .run(RunOptions::default())
        .await
        .unwrap();
    // Same label twice: the later one wins, as for row evaluators.
    assert_eq!(results.summary().unwrap()["at_least"].value(), json!(false));
    let events = client.experiment_events(&results.experiment_id).await.unwrap();
    let values: Vec<&Value> = events.summary_metrics.iter().map(|m| &m["boolean_value"]).collect();
    assert_eq!(values, vec![&json!(false)]);
}

/// Runs in a child process started by `ctrl_c_interrupts_a_run`: an experiment whose
/// fourth record never finishes, stopped by SIGINT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper: run by ctrl_c_interrupts_a_run in a child process"]
async fn ctrl_c_child() {
    let (Ok(origin), Ok(api), Ok(app)) = (
        std::env::var("LLMOBS_CHILD_ORIGIN"),
        std::env::var("LLMOBS_CHILD_API"),
        std::env::var("LLMOBS_CHILD_APP"),
    ) else {
        return;
    };
    let client = Client::builder()
        .origin(origin)
        .api_key(api)
        .app_key(app)
        .project_name("sdk-tests")
        .file_cache(false)
        .build()
        .unwrap();
    let ds = client.pull_dataset("counting").await.unwrap();
    let outcome = client
        .experiment("ctrl-c", ds, |input: Value, _| async move {
            if input.as_i64().unwrap() >= 3 {
                std::future::pending::<()>().await;
            }
            Ok::<_, CallError>(input)
        })
        .evaluator("any", |_: &EvaluatorContext| true)
        .build()
        .unwrap()
        .run(RunOptions { jobs: 1, ctrl_c: true, ..Default::default() })
        .await;
    match outcome {
        Err(Error::Interrupted { experiment_id }) => println!("CHILD interrupted {experiment_id}"),
        other => println!("CHILD other {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_interrupts_a_run() {
    let server = TestServer::start().await;
    let client = client(&server);
    let records: Vec<DatasetRecord> = (0..10).map(|i| DatasetRecord::new(json!(i))).collect();
    client.create_dataset("counting", records).await.unwrap();
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["rerun::ctrl_c_child", "--exact", "--ignored", "--nocapture"])
        .env("LLMOBS_CHILD_ORIGIN", server.origin())
        .env("LLMOBS_CHILD_API", server.api_key())
        .env("LLMOBS_CHILD_APP", server.app_key())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until quick records are stored: the run is then under way. Record 3 never
    // ends and holds the one permit, so record 2 may never get to its evaluator.
    let mut id = None;
    for _ in 0..600 {
        let listed = client
            .list_experiments(&ListExperiments {
                experiment_name: Some("ctrl-c".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        if let Some(found) = listed.first() {
            let spans = client.experiment_events(&found.id).await.unwrap().spans.len();
            if spans >= 2 {
                id = Some(found.id.clone());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(id) = id else {
        let _ = std::process::Command::new("kill").arg(child.id().to_string()).status();
        let output = child.wait_with_output().unwrap();
        panic!(
            "the child's run never stored two records:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output =
        tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("CHILD interrupted {id}")),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pulled = client.pull_experiment(&id).await.unwrap();
    assert_eq!(pulled.results.status, Status::Interrupted);
    let rows = pulled.results.rows();
    assert!((2..=3).contains(&rows.len()), "{} rows", rows.len());
    assert!(rows.iter().all(|r| r.input().as_i64().unwrap() < 3 && r.evaluations.len() == 1));
}
