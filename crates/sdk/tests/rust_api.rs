//! The SDK as a Rust developer uses it: options by value or by reference, one version
//! type, labels moved one at a time, `Display`, errors that compose and classify, typed
//! records, tasks and evaluators, `Option` as "no evaluation", edits by record id, and
//! disk caches kept apart per origin and organisation. Also the two runner bugs: record
//! tags that overrode the runner's span tags, and `pull_experiment` losing record tags.

use std::time::Duration;

use llmobs::{
    CallError, ChatItem, DatasetRecord, EvaluatorContext, GetPrompt, NewPrompt, NewVersion,
    Outcome, Prompt, RecordUpdate, RunOptions, Source, SummaryContext, Template,
};
use llmobs::{ErrorKind, Fallback};
use llmobs_server::test_support::TestServer;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::datasets::client;
use crate::util::{builder, sdk};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_by_value_or_reference_and_a_label_that_moves_alone() {
    let server = TestServer::start().await;
    let client = client(&server);
    let text = |t: &str| Template::Text(t.into());
    let created = client
        .create_prompt(NewPrompt::new("p", text("one")).labels(["production", "staging"]))
        .await
        .unwrap();
    let versions: u64 = created.num_versions;
    assert_eq!(versions, 1);
    assert_eq!(created.to_string(), "p (1 version)");
    let v2 = client.create_prompt_version("p", NewVersion::new(text("two"))).await.unwrap();
    let number: u64 = v2.version;

    let id = String::from("p");
    let by_value = client.get_prompt_with(&id, GetPrompt::new().label("production")).await;
    assert_eq!(by_value.unwrap().version(), "1");
    let options = GetPrompt::new().version(number);
    assert_eq!(client.get_prompt_with(&id, &options).await.unwrap().version(), "2");

    let moved = client.set_label("p", number, "production").await.unwrap();
    assert_eq!(moved.to_string(), "p v2 [production]");
    let versions = client.list_prompt_versions("p").await.unwrap();
    let v1 = versions.iter().find(|v| v.version == 1).unwrap();
    assert_eq!(v1.labels, ["staging"], "the other label stays where it was");
    let again = client.get_prompt_with(&id, GetPrompt::new().label("production")).await;
    assert_eq!(again.unwrap().version(), "2");
    // Setting a label a version already has changes nothing.
    assert_eq!(client.set_label("p", 2, "production").await.unwrap().labels, ["production"]);
    let removed = client.remove_label("p", 1, "staging").await.unwrap();
    assert!(removed.labels.is_empty());
    let missing = client.set_label("p", 9, "production").await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
}

#[test]
fn values_display_as_people_read_them() {
    let text = Prompt::from_fallback("greeting", Fallback::from("Hello {name}"));
    assert_eq!(text.to_string(), "greeting fallback (fallback)");
    let rendered = text.format([("name", "Ada")]).unwrap();
    assert_eq!(format!("{rendered}"), "Hello Ada");
    let chat = Prompt::from_fallback(
        "chat",
        Fallback::from(vec![
            ChatItem::message("system", "Be brief."),
            ChatItem::message("user", "Hi {name}"),
        ]),
    );
    let rendered = chat.format([("name", "Ada")]).unwrap();
    assert_eq!(rendered.to_string(), "system: Be brief.\nuser: Hi Ada");
    assert_eq!(ErrorKind::NotFound.to_string(), "not found");
    assert_eq!(CallError::new("boom").kind("Boom").to_string(), "Boom: boom");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_classified_and_chain_their_source() {
    let server = TestServer::start().await;
    let client = client(&server);
    let missing = client.get_prompt("nope").await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    assert!(missing.is_not_found());

    let chat = Prompt::from_fallback("c", Fallback::from(vec![ChatItem::placeholder("history")]));
    let render = chat.format([("x", "y")]).unwrap_err();
    assert_eq!(render.kind(), ErrorKind::Render, "{render}");
    assert!(std::error::Error::source(&render).is_some(), "the render error is the source");

    let dir = tempfile::tempdir().unwrap();
    let down = builder("http://127.0.0.1:9", dir.path()).build().unwrap();
    let err = down.list_prompts().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(std::error::Error::source(&err).is_some(), "the connection failure is the source");
    let err = down.get_prompt("p").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

#[derive(Debug, Serialize, Deserialize)]
struct Question {
    kind: String,
}

#[derive(Debug)]
struct OwnError;

impl std::fmt::Display for OwnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an own error")
    }
}

impl std::error::Error for OwnError {}

/// Fails in the way `kind` names, each time through `?`.
fn answer(question: &Question) -> anyhow::Result<String> {
    match question.kind.as_str() {
        "anyhow" => Err(anyhow::anyhow!("from anyhow"))?,
        "own" => Err(OwnError)?,
        _ => Ok(format!("answer to {}", question.kind)),
    }
}

fn plain(question: &Question) -> Result<String, String> {
    match question.kind.as_str() {
        "string" => Err("from a String".to_owned()),
        _ => Ok(format!("answer to {}", question.kind)),
    }
}

fn literal(question: &Question) -> Result<String, &'static str> {
    match question.kind.as_str() {
        "str" => Err("from a &str"),
        _ => Ok(format!("answer to {}", question.kind)),
    }
}

fn boxed(question: &Question) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    match question.kind.as_str() {
        "boxed" => Err("from a box".into()),
        _ => Ok(format!("answer to {}", question.kind)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_tasks_fail_with_any_error_and_bad_rows_fail_alone() {
    let server = TestServer::start().await;
    let client = client(&server);
    let kinds = ["ok", "anyhow", "own", "string", "str", "boxed"];
    let mut records: Vec<DatasetRecord> = kinds
        .iter()
        .map(|k| {
            DatasetRecord::new(Question { kind: (*k).into() })
                .expected_output(format!("answer to {k}"))
                .id(*k)
                .into_json()
                .unwrap()
        })
        .collect();
    records.push(DatasetRecord::new(json!({"not": "a question"})).id("bad"));
    let dataset = client.create_dataset("typed", records).await.unwrap();
    let typed: Vec<_> = dataset.records_as::<Question, String>().collect();
    assert!(typed[0].as_ref().is_ok_and(|r| r.input.kind == "ok"));
    let bad = typed[6].as_ref().unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::Validation);
    assert!(bad.to_string().contains("record 'bad'"), "{bad}");

    let results = client
        .experiment("typed", &dataset, |question: Question, _config| async move {
            plain(&question)?;
            literal(&question)?;
            boxed(&question)?;
            Ok::<_, llmobs::BoxError>(answer(&question)?)
        })
        .evaluator("exact", |ctx: &EvaluatorContext<Question, String, String>| {
            ctx.expected_output.as_ref().map(|expected| *expected == ctx.output)
        })
        .build()
        .unwrap()
        .run(RunOptions { progress: false, ..RunOptions::default() })
        .await
        .unwrap();
    // Each error type is a task's error type as it is, too.
    let _ = client.experiment("s", &dataset, |q: Question, _| async move { plain(&q) });
    let _ = client.experiment("l", &dataset, |q: Question, _| async move { literal(&q) });
    let _ = client.experiment("b", &dataset, |q: Question, _| async move { boxed(&q) });
    let _ = client.experiment("a", &dataset, |q: Question, _| async move { answer(&q) });
    let _ =
        client.experiment("o", &dataset, |_: Value, _| async move { Err::<Value, _>(OwnError) });

    let rows = results.rows();
    let error = |id: &str| {
        let row = rows.iter().find(|r| r.record_id() == id).unwrap();
        row.error.as_ref().map(|e| (e.kind.as_str(), e.message.as_str()))
    };
    assert_eq!(error("ok"), None);
    assert_eq!(error("anyhow"), Some(("Error", "from anyhow")));
    assert_eq!(error("own"), Some(("Error", "an own error")));
    assert_eq!(error("string"), Some(("Error", "from a String")));
    assert_eq!(error("str"), Some(("Error", "from a &str")));
    assert_eq!(error("boxed"), Some(("Error", "from a box")));
    let (kind, message) = error("bad").unwrap();
    assert_eq!(kind, "DeserializationError");
    assert!(message.contains("Question"), "{message}");
    let ok = rows.iter().find(|r| r.record_id() == "ok").unwrap();
    assert_eq!(ok.evaluations.get("exact").map(|e| e.value()), Some(json!(true)));
    // Failed rows: the typed evaluator cannot read a null output, so no evaluation.
    let failed = rows.iter().find(|r| r.record_id() == "own").unwrap();
    assert!(failed.evaluations.get("exact").is_none());
}

#[derive(Debug)]
struct Own;

impl std::fmt::Display for Own {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("own")
    }
}

impl std::error::Error for Own {}

#[test]
fn call_errors_keep_their_type_and_a_returned_call_error_is_kept() {
    assert_eq!(CallError::from_error(Own).kind, "Own");
    assert_eq!(CallError::from_error("text").kind, "Error");
    let wait = CallError::new("slow down").kind("RateLimit").retry_after(Duration::from_secs(1));
    let back = CallError::from_error(wait.clone());
    assert_eq!(back, wait);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_is_no_evaluation_and_summaries_see_it_missing() {
    let server = TestServer::start().await;
    let client = client(&server);
    let records = vec![
        DatasetRecord::new(json!("a")).expected_output(json!("a")),
        DatasetRecord::new(json!("b")),
    ];
    let dataset = client.create_dataset("optional", records).await.unwrap();
    let results = client
        .experiment(
            "optional",
            &dataset,
            |input: Value, _| async move { Ok::<_, CallError>(input) },
        )
        .evaluator("exact", |ctx: &EvaluatorContext| {
            ctx.expected_output.as_ref().map(|expected| *expected == ctx.output)
        })
        .summary_evaluator("missing", |ctx: &SummaryContext| {
            ctx.outcomes("exact").iter().filter(|o| **o == Outcome::Missing).count()
        })
        .build()
        .unwrap()
        .run(RunOptions { progress: false, ..RunOptions::default() })
        .await
        .unwrap();
    let rows = results.rows();
    assert_eq!(rows[0].evaluations.get("exact").map(|e| e.value()), Some(json!(true)));
    assert!(rows[1].evaluations.get("exact").is_none(), "no metric for None");
    assert_eq!(results.summary().unwrap()["missing"].value(), json!(1));
    let pulled = client.pull_experiment(&results.experiment_id).await.unwrap();
    let rows = pulled.results.rows();
    assert!(rows[1].evaluations.get("exact").is_none(), "nothing was stored for None");
    assert_eq!(rows[0].evaluations.get("exact").map(|e| e.value()), Some(json!(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_edits_by_record_id_survive_deletes() {
    let server = TestServer::start().await;
    let client = client(&server);
    let records = ["a", "b", "c"].map(|id| DatasetRecord::new(json!({"q": id})).id(id));
    let mut dataset = client.create_dataset("by-id", records).await.unwrap();
    dataset.delete("a").unwrap();
    let update = RecordUpdate { expected_output: Some(json!("C")), ..RecordUpdate::default() };
    dataset.update("c", update).unwrap();
    dataset.add_tags(String::from("b"), ["team:ml"]).unwrap();
    let unknown = dataset.delete("zzz").unwrap_err();
    assert!(unknown.to_string().contains("zzz"), "{unknown}");
    client.push_dataset(&mut dataset).await.unwrap();
    let pulled = client.pull_dataset("by-id").await.unwrap();
    assert_eq!(pulled.len(), 2);
    assert_eq!(pulled.record("c").unwrap().expected_output, Some(json!("C")));
    assert_eq!(pulled.record("b").unwrap().expected_output, None);
    assert_eq!(pulled.record("b").unwrap().tags, ["team:ml"]);
    assert!(pulled.record("a").is_none());
    let version: u64 = pulled.version();
    assert_eq!(version, 2);
    assert_eq!(pulled.to_string(), "by-id v2 (2 records)");
}

#[tokio::test]
async fn disk_caches_never_cross_origins_or_organisations() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sdk("p", "1", "org one")))
        .mount(&stub)
        .await;
    let org_one = || builder(&stub.uri(), dir.path()).api_key("key-one").build().unwrap();
    assert_eq!(org_one().get_prompt("p").await.unwrap().source(), Source::Registry);

    stub.reset().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).mount(&stub).await;
    // Same origin, same directory, another organisation: nothing to serve.
    let org_two = builder(&stub.uri(), dir.path()).api_key("key-two").build().unwrap();
    let err = org_two.get_prompt("p").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    // Another origin with the same key: nothing to serve either.
    let other = MockServer::start().await;
    let elsewhere = builder(&other.uri(), dir.path()).api_key("key-one").build().unwrap();
    assert!(elsewhere.get_prompt("p").await.is_err());
    // The first organisation's next process still has its copy.
    let again = org_one().get_prompt("p").await.unwrap();
    assert_eq!((again.source(), again.version()), (Source::Cache, "1"));

    let scope = org_one().prompt_cache_dir();
    assert!(scope.starts_with(dir.path()) && scope != dir.path());
    assert_ne!(scope, org_two.prompt_cache_dir());
    let name = scope.file_name().unwrap().to_string_lossy().into_owned();
    assert!(!name.contains("key-one"), "the key is never written in clear");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_tags_never_override_the_runner_and_come_back_when_pulled() {
    let server = TestServer::start().await;
    let client = client(&server);
    let records = (0..3).map(|i| {
        DatasetRecord::new(json!({"i": i})).id(format!("r{i}")).tags([
            "dataset_record_index:0",
            "retries:3",
            &format!("team:t{i}"),
        ])
    });
    let dataset = client.create_dataset("tagged", records).await.unwrap();
    let results = client
        .experiment("tagged", &dataset, |input: Value, _| async move { Ok::<_, CallError>(input) })
        .evaluator("any", |_: &EvaluatorContext| true)
        .build()
        .unwrap()
        .run(RunOptions { progress: false, ..RunOptions::default() })
        .await
        .unwrap();
    let pulled = client.pull_experiment(&results.experiment_id).await.unwrap();
    let ran = results.rows();
    let rows = pulled.results.rows();
    assert_eq!(rows.len(), 3);
    for (row, original) in rows.iter().zip(ran) {
        assert_eq!(row.record_id(), original.record_id());
        assert_eq!(row.index, original.index, "{}", row.record_id());
        assert_eq!(row.retries, 0, "{}", row.record_id());
        assert_eq!(row.record().tags, original.record().tags, "{}", row.record_id());
    }
    assert_eq!(rows.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(rows[2].record().tags.iter().any(|t| t == "team:t2"));
}
