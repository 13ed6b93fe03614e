//! The experiment runner against the real server (and a stub for retries).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use llmobs::{
    CallError, CancellationToken, Client, DatasetRecord, Error, EvaluatorContext, EvaluatorResult,
    ListExperiments, MultiEvaluatorResult, Outcome, RemoteEvaluator, RunOptions, Status,
    SummaryContext,
};
use llmobs_server::test_support::TestServer;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::datasets::client;

fn capitals() -> Vec<DatasetRecord> {
    [("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid")]
        .iter()
        .map(|(country, capital)| {
            DatasetRecord::new(json!({"country": country}))
                .expected_output(json!(capital))
                .tags(["topic:geo"])
        })
        .collect()
}

fn answer(input: &Value) -> Value {
    let country = input["country"].as_str().unwrap_or("");
    json!(match country {
        "France" => "Paris",
        "Italy" => "Rome",
        _ => "Lyon",
    })
}

fn exact(ctx: &EvaluatorContext) -> bool {
    ctx.expected_output.as_ref() == Some(&ctx.output)
}

/// Metrics of the stored spans, by label.
fn metric_labels(events: &llmobs::ExperimentEvents) -> Vec<Vec<String>> {
    events
        .spans
        .iter()
        .map(|span| {
            let mut labels: Vec<String> = span["eval_metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["label"].as_str().unwrap().to_owned())
                .collect();
            labels.sort();
            labels
        })
        .collect()
}

/// A client of `stub` with both keys and no disk cache.
fn stub_client(stub: &MockServer) -> Client {
    Client::builder()
        .origin(stub.uri())
        .api_key("k")
        .app_key("a")
        .file_cache(false)
        .build()
        .unwrap()
}

/// Mounts stub answers for a dataset `d1` in project `p1` and an experiment `e1`:
/// create, batch update, status updates, events (202) and span intake (202).
async fn mount_experiment_stub(stub: &MockServer) {
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let dataset = json!({"data": {"id": "d1", "type": "datasets", "attributes": {
        "author": {"id": "a"}, "created_at": "", "current_version": 0, "name": "x",
        "project_id": "p1", "updated_at": ""}}});
    let experiment =
        json!({"data": {"id": "e1", "type": "experiments", "attributes": {"name": "x-1"}}});
    let mocks = [
        (
            "POST",
            "/api/unstable/llm-obs/v1/projects",
            ok(json!({"data": {"id": "p1", "type": "projects", "attributes": {}}})),
        ),
        ("POST", "/api/unstable/llm-obs/v1/p1/datasets", ok(dataset)),
        ("POST", "/api/v2/llm-obs/v1/p1/datasets/d1/batch_update", ok(json!({"data": []}))),
        ("POST", "/api/unstable/llm-obs/v1/experiments", ok(experiment)),
        ("PATCH", "/api/unstable/llm-obs/v1/experiments/e1", ResponseTemplate::new(200)),
        ("POST", "/api/unstable/llm-obs/v1/experiments/e1/events", ResponseTemplate::new(202)),
        ("POST", "/api/v2/llmobs", ResponseTemplate::new(202)),
    ];
    for (verb, route, answer) in mocks {
        Mock::given(method(verb)).and(path(route)).respond_with(answer).mount(stub).await;
    }
}

async fn status_of(client: &Client, id: &str) -> Option<String> {
    let listed = client.list_experiments(&ListExperiments::default()).await.unwrap();
    listed.into_iter().find(|e| e.id == id).unwrap().attributes.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_create_push_pull_run_and_read_back() {
    let server = TestServer::start_with(llmobs_server::Config {
        evaluators: llmobs_server::EvaluatorSpec::parse_file(
            r#"{"evaluators":[{"name":"exact","kind":"exact_match"}]}"#,
        )
        .unwrap(),
        ..Default::default()
    })
    .await;
    let client = client(&server);
    let mut ds = client.create_dataset("capitals", capitals()).await.unwrap();
    ds.append(DatasetRecord::new(json!({"country": "Peru"})).expected_output(json!("Lima")))
        .unwrap();
    client.push_dataset(&mut ds).await.unwrap();
    let ds = client.pull_dataset("capitals").await.unwrap();
    assert_eq!((ds.len(), ds.version()), (4, 2));

    let experiment = client
        .experiment("geo", &ds, |input: Value, config: Arc<Value>| async move {
            assert_eq!(config["model"], json!("stub"));
            Ok::<_, CallError>(answer(&input))
        })
        .task_name("capital_task")
        .config(json!({"model": "stub"}))
        .tags([("team", "ml")])
        .description("capitals")
        .evaluator("exact", exact)
        .evaluator("detailed", |ctx: &EvaluatorContext| {
            EvaluatorResult::new(if ctx.expected_output.as_ref() == Some(&ctx.output) {
                1.0
            } else {
                0.0
            })
            .reasoning("compared")
            .assessment(llmobs::Assessment::Pass)
            .metadata("len", ctx.output.to_string().len())
            .tag("kind", "rule")
        })
        .evaluator("multi", |_: &EvaluatorContext| {
            MultiEvaluatorResult::new().with("a", true).with("b", "Good")
        })
        .remote_evaluator(RemoteEvaluator::new("exact"))
        .summary_evaluator("accuracy", |ctx: &SummaryContext| ctx.rate_of("exact", &json!(true)))
        .build()
        .unwrap();
    assert!(experiment.url().ends_with("/llm/experiments/None"));
    let results = experiment.run(RunOptions { jobs: 2, ..Default::default() }).await.unwrap();
    assert_eq!(results.status, Status::Completed, "{:?}", results.error);
    assert_eq!(results.rows().len(), 4);
    assert!(results.run_name.starts_with("geo-"));
    assert_eq!(
        experiment.url(),
        format!("{}/llm/experiments/{}", server.origin(), results.experiment_id)
    );
    let summary = results.summary().unwrap();
    assert_eq!(summary["accuracy"].value(), json!(0.5));
    let table = results.to_string();
    assert!(table.contains("accuracy: 0.5"), "{table}");

    // What the server stored: one span per record, one metric per record×label.
    assert_eq!(status_of(&client, &results.experiment_id).await.as_deref(), Some("completed"));
    let events = client.experiment_events(&results.experiment_id).await.unwrap();
    assert_eq!(events.spans.len(), 4);
    let expected: Vec<String> = ["detailed", "exact", "exact", "multi-a", "multi-b"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut deduped = expected.clone();
    deduped.dedup();
    for labels in metric_labels(&events) {
        assert_eq!(labels, deduped);
    }
    // Spans are stored in start order; the first record's is the one with index 0.
    let span = events
        .spans
        .iter()
        .find(|s| s["tags"].as_array().unwrap().contains(&json!("dataset_record_index:0")))
        .unwrap();
    assert_eq!(span["name"], json!("capital_task"));
    let tags: Vec<&str> =
        span["tags"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(tags.iter().any(|t| t.starts_with("dataset_record_id:")), "{tags:?}");
    assert!(tags.contains(&"team:ml") && tags.contains(&"topic:geo"), "{tags:?}");
    let detailed = span["eval_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["label"] == json!("detailed"))
        .unwrap();
    assert_eq!(detailed["reasoning"], json!("compared"));
    assert_eq!(detailed["tags"], json!(["kind:rule"]));
    assert_eq!(events.summary_metrics.len(), 1);
    assert_eq!(events.summary_metrics[0]["score_value"], json!(0.5));

    // Exports.
    let mut csv = Vec::new();
    results.write_csv(&mut csv).unwrap();
    assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 5);
    let mut jsonl = Vec::new();
    results.write_jsonl(&mut jsonl).unwrap();
    assert_eq!(String::from_utf8(jsonl).unwrap().lines().count(), 4);

    // Each run is a new experiment; both are listed under the logical name.
    let again =
        experiment.run(RunOptions { sample_size: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!(again.rows().len(), 1);
    let listed = client
        .list_experiments(&ListExperiments {
            experiment_name: Some("geo".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, again.experiment_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_marked_for_summaries_and_fail_the_run() {
    let server = TestServer::start().await;
    let client = client(&server);
    let ds = client.create_dataset("ds", capitals()).await.unwrap();
    let seen = Arc::new(std::sync::Mutex::new(None::<SummaryContext>));
    let keep = seen.clone();
    let results = client
        .experiment("failing", &ds, |input: Value, _| async move {
            if input["country"] == json!("Italy") {
                return Err(CallError::new("no answer").kind("RuntimeError"));
            }
            Ok(answer(&input))
        })
        .evaluator("exact", exact)
        .evaluator("broken", |ctx: &EvaluatorContext| {
            if ctx.input["country"] == json!("Spain") {
                Err(CallError::new("evaluator failed on purpose").kind("ValueError"))
            } else {
                Ok(true)
            }
        })
        .summary_evaluator("seen", move |ctx: &SummaryContext| {
            *keep.lock().unwrap() = Some(ctx.clone());
            ctx.len() as i64
        })
        .build()
        .unwrap()
        .run(RunOptions::default())
        .await
        .unwrap();
    assert_eq!(results.status, Status::Failed);
    let error = results.error.clone().unwrap();
    assert!(error.contains("RuntimeError: no answer"), "{error}");
    assert!(error.contains("broken (ValueError): evaluator failed on purpose"), "{error}");

    let ctx = seen.lock().unwrap().clone().unwrap();
    assert_eq!(ctx.len(), 3);
    assert!(matches!(ctx.outputs[1], Outcome::Error(ref e) if e.message == "no answer"));
    assert!(matches!(ctx.outputs[0], Outcome::Ok(_)));
    assert!(ctx.outcomes("broken")[2].is_error());
    assert_eq!(results.summary().unwrap()["seen"].value(), json!(3));

    assert_eq!(status_of(&client, &results.experiment_id).await.as_deref(), Some("failed"));
    let events = client.experiment_events(&results.experiment_id).await.unwrap();
    let failed = events.spans.iter().find(|s| s["status"] == json!("error")).unwrap();
    assert_eq!(failed["meta"]["error"]["type"], json!("RuntimeError"));
    let broken = events
        .spans
        .iter()
        .flat_map(|s| s["eval_metrics"].as_array().unwrap())
        .find(|m| m["label"] == json!("broken") && m["status"] == json!("ERROR"))
        .unwrap();
    assert_eq!(broken["error"]["type"], json!("ValueError"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_honour_retry_after_and_timeouts_count_as_attempts() {
    let server = TestServer::start().await;
    let client = client(&server);
    let ds = client.create_dataset("ds", capitals()).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let attempts =
        Arc::new(std::sync::Mutex::new(std::collections::HashMap::<String, usize>::new()));
    let results = client
        .experiment("retries", &ds, move |input: Value, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            let attempt = {
                let mut attempts = attempts.lock().unwrap();
                let n = attempts.entry(input.to_string()).or_default();
                *n += 1;
                *n
            };
            async move {
                // The first attempt of each record is rate limited, the second hangs
                // past the timeout, the third answers.
                match attempt - 1 {
                    0 => Err(CallError::new("rate limited")
                        .kind("RateLimit")
                        .retry_after(Duration::from_millis(1))),
                    1 => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        Ok(Value::Null)
                    }
                    _ => Ok(answer(&input)),
                }
            }
        })
        .evaluator("exact", exact)
        .evaluator("slow", |_: &EvaluatorContext| true)
        .build()
        .unwrap()
        .run(RunOptions {
            jobs: 1,
            max_retries: 2,
            retry_delay: Duration::from_millis(1),
            task_timeout: Some(Duration::from_millis(50)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(results.status, Status::Completed, "{:?}", results.error);
    assert_eq!(calls.load(Ordering::SeqCst), 9);
    assert!(results.rows().iter().all(|r| r.retries == 2 && r.error.is_none()));
    let events = client.experiment_events(&results.experiment_id).await.unwrap();
    assert!(
        events.spans.iter().all(|s| s["tags"].as_array().unwrap().contains(&json!("retries:2")))
    );

    // Without retries the timeout is the failure.
    let results = client
        .experiment("timeouts", &ds, |_: Value, _| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, CallError>(Value::Null)
        })
        .evaluator("exact", exact)
        .build()
        .unwrap()
        .run(RunOptions { task_timeout: Some(Duration::from_millis(20)), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(results.status, Status::Failed);
    assert!(results.rows().iter().all(|r| r.error.as_ref().unwrap().kind == "timeout"));
}

/// An evaluator that never answers.
struct Stuck;

impl llmobs::Evaluator for Stuck {
    fn name(&self) -> &str {
        "stuck"
    }

    fn evaluate<'a>(
        &'a self,
        _: &'a EvaluatorContext,
    ) -> llmobs::BoxFuture<'a, Result<llmobs::Evaluation, CallError>> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(llmobs::Evaluation::Value(Value::Null))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluator_timeouts_are_errors_with_metrics() {
    let server = TestServer::start().await;
    let client = client(&server);
    let ds = client.create_dataset("ds", capitals()).await.unwrap();
    let results =
        client
            .experiment("stuck", &ds, |input: Value, _| async move {
                Ok::<_, CallError>(answer(&input))
            })
            .evaluator_impl(Stuck)
            .build()
            .unwrap()
            .run(RunOptions {
                evaluator_timeout: Some(Duration::from_millis(20)),
                ..Default::default()
            })
            .await
            .unwrap();
    assert_eq!(results.status, Status::Failed);
    let events = client.experiment_events(&results.experiment_id).await.unwrap();
    assert_eq!(metric_labels(&events), vec![vec!["stuck".to_owned()]; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_interrupts_and_keeps_what_finished() {
    let server = TestServer::start().await;
    let client = client(&server);
    let records: Vec<DatasetRecord> = (0..20).map(|i| DatasetRecord::new(json!(i))).collect();
    let ds = client.create_dataset("many", records).await.unwrap();
    let token = CancellationToken::new();
    let trigger = token.clone();
    let experiment = client
        .experiment("cancelled", &ds, move |input: Value, _| {
            let trigger = trigger.clone();
            async move {
                if input.as_i64().unwrap() >= 3 {
                    trigger.cancel();
                    std::future::pending::<()>().await;
                }
                Ok::<_, CallError>(input)
            }
        })
        .evaluator("any", |_: &EvaluatorContext| true)
        .build()
        .unwrap();
    let err = experiment
        .run(RunOptions { jobs: 1, cancel: Some(token), ..Default::default() })
        .await
        .unwrap_err();
    let Error::Interrupted { experiment_id } = err else { panic!("{err}") };
    assert_eq!(experiment.id().as_deref(), Some(experiment_id.as_str()));
    assert_eq!(status_of(&client, &experiment_id).await.as_deref(), Some("interrupted"));
    // Records 0–2 may or may not have finished their evaluator when record 3 (sharing
    // the one permit) cancels; those that finished are kept whole, none after them.
    let events = client.experiment_events(&experiment_id).await.unwrap();
    let kept = events.spans.len();
    assert!((2..=3).contains(&kept), "{kept} spans");
    assert_eq!(metric_labels(&events), vec![vec!["any".to_owned()]; kept]);
    assert!(events.spans.iter().all(|s| s["meta"]["input"].as_i64().unwrap() < 3));

    // raise_errors stops at the first failure, also as interrupted.
    let err = client
        .experiment("raising", &ds, |_: Value, _| async { Err::<Value, _>(CallError::new("boom")) })
        .evaluator("any", |_: &EvaluatorContext| true)
        .build()
        .unwrap()
        .run(RunOptions { raise_errors: true, ..Default::default() })
        .await
        .unwrap_err();
    let Error::Experiment { experiment_id, detail } = err else { panic!("{err}") };
    assert!(detail.contains("boom"), "{detail}");
    assert_eq!(status_of(&client, &experiment_id).await.as_deref(), Some("interrupted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_calls_retry_429_after_retry_after() {
    let stub = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/unstable/llm-obs/v1/projects"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&stub)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/unstable/llm-obs/v1/projects"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"id": "p1", "type": "projects", "attributes": {}}})),
        )
        .mount(&stub)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/unstable/llm-obs/v1/p1/datasets"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "0"))
        .up_to_n_times(2)
        .mount(&stub)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/unstable/llm-obs/v1/p1/datasets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": {"id": "d1", "type": "datasets", "attributes": {
            "author": {"id": "a"}, "created_at": "", "current_version": 0, "name": "x",
            "project_id": "p1", "updated_at": ""}}}),
        ))
        .mount(&stub)
        .await;
    let client = stub_client(&stub);
    let ds = client.create_dataset("x", Vec::<DatasetRecord>::new()).await.unwrap();
    assert_eq!(ds.id(), "d1");
    let requests = stub.received_requests().await.unwrap();
    let count = |p: &str| requests.iter().filter(|r| r.url.path() == p).count();
    assert_eq!(count("/api/unstable/llm-obs/v1/projects"), 2);
    assert_eq!(count("/api/unstable/llm-obs/v1/p1/datasets"), 3);
    assert!(requests.iter().all(|r| r.headers.get("DD-APPLICATION-KEY").is_some()));

    // A client error is not retried.
    let stub = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"errors": [{"title": "Bad", "detail": "nope"}]})),
        )
        .mount(&stub)
        .await;
    let client =
        Client::builder().origin(stub.uri()).api_key("k").file_cache(false).build().unwrap();
    let err = client.create_dataset("x", Vec::<DatasetRecord>::new()).await.unwrap_err();
    assert_eq!((err.status(), err.detail()), (400, "nope".to_owned()));
    assert_eq!(stub.received_requests().await.unwrap().len(), 1);
}

#[test]
fn the_blocking_facade_runs_the_same_flow() {
    let server = TestServer::start_blocking();
    let client = llmobs::blocking::Client::builder()
        .origin(server.origin())
        .api_key(server.api_key())
        .app_key(server.app_key())
        .project_name("blocking")
        .file_cache(false)
        .build()
        .unwrap();
    let mut ds = client.create_dataset("ds", capitals()).unwrap();
    ds.delete(0).unwrap();
    client.push_dataset(&mut ds).unwrap();
    assert_eq!(ds.version(), 2);
    let ds = client.pull_dataset("ds").unwrap();
    assert_eq!(ds.len(), 2);
    let experiment = client
        .experiment("sync", ds, |input: Value, _| async move { Ok::<_, CallError>(answer(&input)) })
        .evaluator("exact", exact)
        .build()
        .unwrap();
    let results = client.run_experiment(&experiment, RunOptions::default()).unwrap();
    assert_eq!((results.status, results.rows().len()), (Status::Completed, 2));
    let listed = client.list_experiments(ListExperiments::default()).unwrap();
    assert_eq!(listed[0].attributes.status.as_deref(), Some("completed"));
    assert_eq!(client.experiment_events(&results.experiment_id).unwrap().spans.len(), 2);

    // Pull, rerun and publish through the same facade.
    let pulled = client.pull_experiment(&results.experiment_id).unwrap();
    assert_eq!(pulled.results.rows().len(), 2);
    let rerun = client.rerun_evaluators(&results.experiment_id).evaluator("again", exact);
    let rerun = client.run_rerun(rerun, RunOptions::default()).unwrap();
    let parent = client.pull_experiment(&rerun.experiment_id).unwrap().info.attributes;
    assert_eq!(parent.parent_experiment_id.as_deref(), Some(results.experiment_id.as_str()));
    let judge = llmobs::LLMJudge::builder("Is {{output_data}} right?")
        .structured_output(llmobs::BooleanStructuredOutput::new("correct").pass_when(true))
        .provider("openai")
        .model("m")
        .client(|_: llmobs::JudgeRequest| async { Ok::<_, CallError>("{}".to_owned()) })
        .name("sync_judge")
        .build()
        .unwrap();
    let url = client.publish_evaluator(&judge, "svc", llmobs::PublishEvaluator::default()).unwrap();
    assert!(url.contains("evalName=sync_judge"), "{url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_runs_make_one_experiment_with_distinct_run_ids() {
    let server = TestServer::start().await;
    let client = client(&server);
    let ds = client.create_dataset("ds", capitals()).await.unwrap();
    let results =
        client
            .experiment("twice", &ds, |input: Value, _| async move {
                Ok::<_, CallError>(answer(&input))
            })
            .evaluator("exact", exact)
            .summary_evaluator("count", |ctx: &SummaryContext| ctx.len() as i64)
            .runs(2)
            .build()
            .unwrap()
            .run(RunOptions::default())
            .await
            .unwrap();
    assert_eq!(results.runs.len(), 2);
    assert_ne!(results.runs[0].run_id, results.runs[1].run_id);
    assert_eq!((results.runs[1].iteration, results.runs[1].rows.len()), (2, 3));
    let events = client.experiment_events(&results.experiment_id).await.unwrap();
    assert_eq!((events.spans.len(), events.summary_metrics.len()), (6, 2));
    let iterations: std::collections::BTreeSet<String> = events
        .spans
        .iter()
        .flat_map(|s| s["tags"].as_array().unwrap().iter().filter_map(Value::as_str))
        .filter(|t| t.starts_with("run_iteration:"))
        .map(str::to_owned)
        .collect();
    assert_eq!(iterations.len(), 2);
    let listed = client.list_experiments(&ListExperiments::default()).await.unwrap();
    assert_eq!(
        listed.iter().find(|e| e.id == results.experiment_id).unwrap().attributes.run_count,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_open_child_spans_under_the_record_span() {
    let stub = MockServer::start().await;
    mount_experiment_stub(&stub).await;
    let client = stub_client(&stub);
    let ds = client.create_dataset("x", capitals()).await.unwrap();
    let outside = llmobs::ChildSpan::start(llmobs::SpanKind::Llm, "outside");
    assert!(!outside.is_recording());
    let results = client
        .experiment("spans", &ds, |input: Value, _| async move {
            let mut llm = llmobs::ChildSpan::start(llmobs::SpanKind::Llm, "answer");
            llm.input(input.clone()).metadata(json!({"model": "stub"}));
            let output = llm
                .run(async {
                    let mut tool = llmobs::ChildSpan::start(llmobs::SpanKind::Tool, "lookup");
                    tool.input(input.clone()).output(answer(&input));
                    answer(&input)
                })
                .await;
            llm.output(output.clone());
            Ok::<_, CallError>(output)
        })
        .evaluator("exact", exact)
        .build()
        .unwrap()
        .run(RunOptions::default())
        .await
        .unwrap();
    assert_eq!(results.status, Status::Completed);

    let requests = stub.received_requests().await.unwrap();
    let spans: Vec<Value> = requests
        .iter()
        .filter(|r| r.url.path() == "/api/v2/llmobs")
        .flat_map(|r| serde_json::from_slice::<Vec<Value>>(&r.body).unwrap())
        .map(|event| event["spans"][0].clone())
        .collect();
    assert_eq!(spans.len(), 9, "a record span, an llm span and a tool span per record");
    for row in results.rows() {
        let root = spans.iter().find(|s| s["span_id"] == json!(row.span_id.to_string())).unwrap();
        assert_eq!(root["parent_id"], json!("undefined"));
        let children: Vec<&Value> =
            spans.iter().filter(|s| s["trace_id"] == root["trace_id"] && s != &root).collect();
        let llm = children.iter().find(|s| s["name"] == json!("answer")).unwrap();
        let tool = children.iter().find(|s| s["name"] == json!("lookup")).unwrap();
        assert_eq!(llm["parent_id"], root["span_id"]);
        assert_eq!(tool["parent_id"], llm["span_id"]);
        assert_eq!(
            (llm["meta"]["span"]["kind"].clone(), tool["meta"]["span"]["kind"].clone()),
            (json!("llm"), json!("tool"))
        );
        assert_eq!(llm["meta"]["metadata"], json!({"model": "stub"}));
        assert_eq!(llm["meta"]["output"], row.output);
        assert_eq!(llm["_dd"]["scope"], json!("experiments"));
        let tags: Vec<&str> =
            llm["tags"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(tags.contains(&"experiment_id:e1"), "{tags:?}");
        assert!(
            tags.contains(&format!("dataset_record_id:{}", row.record_id()).as_str()),
            "{tags:?}"
        );
        assert!(tool["start_ns"].as_u64() >= llm["start_ns"].as_u64());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_proxy_mode_sends_spans_through_the_proxy_path() {
    let server = TestServer::start().await;
    let client = Client::builder()
        .origin(server.origin())
        .api_key(server.api_key())
        .app_key(server.app_key())
        .project_name("sdk-tests")
        .file_cache(false)
        .agentless(false)
        .build()
        .unwrap();
    let ds = client.create_dataset("capitals", capitals()).await.unwrap();
    let results =
        client
            .experiment("proxied", &ds, |input: Value, _| async move {
                Ok::<_, CallError>(answer(&input))
            })
            .evaluator("exact", exact)
            .build()
            .unwrap()
            .run(RunOptions::default())
            .await
            .unwrap();
    // The server accepts keyless spans on the proxy path and files them under the run.
    let events = client.experiment_events(&results.experiment_id).await.unwrap();
    assert_eq!(events.spans.len(), 3);
    assert_eq!(metric_labels(&events), vec![vec!["exact".to_owned()]; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_spans_stay_out_of_the_experiments_rows_on_the_server() {
    let server = TestServer::start().await;
    let client = client(&server);
    let ds = client.create_dataset("capitals", capitals()).await.unwrap();
    let results = client
        .experiment("with-children", &ds, |input: Value, _| async move {
            let mut llm = llmobs::ChildSpan::start(llmobs::SpanKind::Llm, "answer");
            llm.input(input.clone()).output(answer(&input));
            Ok::<_, CallError>(answer(&input))
        })
        .evaluator("exact", exact)
        .build()
        .unwrap()
        .run(RunOptions::default())
        .await
        .unwrap();
    let events = client.experiment_events(&results.experiment_id).await.unwrap();
    assert_eq!(events.spans.len(), 3, "one span per record, children kept apart");
    assert!(events.spans.iter().all(|s| s["parent_id"] == json!("undefined")));
    assert_eq!(
        client.pull_experiment(&results.experiment_id).await.unwrap().results.rows().len(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_metrics_post_is_sent_again_with_the_next() {
    let stub = MockServer::start().await;
    let events = "/api/unstable/llm-obs/v1/experiments/e1/events";
    // The first metrics post is refused (400 is not retried by the transport); mocks
    // mounted first answer first.
    Mock::given(method("POST"))
        .and(path(events))
        .respond_with(ResponseTemplate::new(400))
        .up_to_n_times(1)
        .mount(&stub)
        .await;
    mount_experiment_stub(&stub).await;
    let client = stub_client(&stub);
    let records: Vec<DatasetRecord> = (0..40).map(|i| DatasetRecord::new(json!(i))).collect();
    let ds = client.create_dataset("x", records).await.unwrap();
    let results = client
        .experiment("resend", &ds, |input: Value, _| async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok::<_, CallError>(input)
        })
        .evaluator("any", |_: &EvaluatorContext| true)
        .build()
        .unwrap()
        .run(RunOptions { jobs: 1, ..Default::default() })
        .await
        .unwrap();
    let posts: Vec<Vec<String>> = stub
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == events)
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let metrics = body["data"]["attributes"]["metrics"].as_array().unwrap().clone();
            metrics.iter().map(|m| m["span_id"].as_str().unwrap().to_owned()).collect()
        })
        .collect();
    assert!(posts.len() >= 2, "{posts:?}");
    // Every metric of the refused first post went out again, and every record's metric
    // reached an accepted post.
    let accepted: std::collections::HashSet<&String> = posts[1..].iter().flatten().collect();
    assert!(posts[0].iter().all(|span| accepted.contains(span)), "{posts:?}");
    for row in results.rows() {
        assert!(accepted.contains(&row.span_id.to_string()), "{}", row.span_id);
    }
}
