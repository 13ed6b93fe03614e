//! An LLM judge scoring an experiment, then published to the server for remote use.
//!
//! ```text
//! llmobs serve [--judge-url http://127.0.0.1:8000/v1] &   # prints: listening on http://127.0.0.1:PORT
//! DD_LLMOBS_OVERRIDE_ORIGIN=http://127.0.0.1:PORT DD_API_KEY=… DD_APP_KEY=… \
//!     cargo run -p llmobs --example judge
//! ```
//!
//! The model: with `OPENAI_API_KEY` set, an OpenAI-compatible endpoint (`OPENAI_BASE_URL`,
//! default OpenAI; `JUDGE_MODEL`, default `gpt-4o-mini`), e.g. a local vLLM or Ollama
//! server at `http://127.0.0.1:11434/v1`. Without it, a deterministic stand-in (a
//! closure implementing `JudgeClient`) answers, so the example runs offline.
//!
//! When the server was started with `--judge-url`, set `JUDGE_REMOTE=1` to also run the
//! published judge remotely (E13) on the same dataset.

#[path = "support/env.rs"]
mod support;

use std::error::Error;
use std::sync::Arc;

use llmobs::{
    BooleanStructuredOutput, CallError, Client, DatasetRecord, JudgeClient, JudgeRequest, LLMJudge,
    OpenAiClient, PublishEvaluator, RemoteEvaluator, RunOptions,
};
use serde_json::{Map, Value, json};

/// The offline stand-in: says an answer is correct when the prompt's answer appears in
/// its list of known capitals.
async fn offline_model(request: JudgeRequest) -> Result<String, CallError> {
    let prompt = request.messages.last().map(|m| m.content.as_str()).unwrap_or_default();
    let correct =
        ["Answer: Paris", "Answer: Rome", "Answer: Tokyo"].iter().any(|a| prompt.contains(a));
    Ok(json!({"boolean_eval": correct, "reasoning": "checked against a fixed list"}).to_string())
}

/// The model's client: OpenAI-compatible when `OPENAI_API_KEY` is set, else offline.
fn model_client() -> Arc<dyn JudgeClient> {
    match OpenAiClient::from_env() {
        Ok(client) => Arc::new(client),
        Err(_) => {
            println!("OPENAI_API_KEY is not set: an offline stand-in judges");
            Arc::new(offline_model)
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    support::require_server_env("judge");
    let client = Client::from_env()?;
    let model = std::env::var("JUDGE_MODEL").unwrap_or_else(|_| "gpt-4o-mini".to_owned());

    let mut params = Map::new();
    params.insert("temperature".into(), json!(0));
    let judge = LLMJudge::builder(
        "Question: which city is the capital of {{input_data.country}}?\n\
         Answer: {{output_data}}\nIs the answer correct?",
    )
    .system_prompt("You are a strict geography grader.")
    .structured_output(
        BooleanStructuredOutput::new("Whether the answer is correct")
            .reasoning(true)
            .pass_when(true),
    )
    .provider("openai")
    .model(model)
    .model_params(params)
    .shared_client(model_client())
    .name("capital_correct")
    .build()?;

    let records = [("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima")].into_iter().map(
        |(country, capital)| {
            DatasetRecord::new(json!({ "country": country })).expected_output(json!(capital))
        },
    );
    let name = format!("judged-capitals-{}", std::process::id());
    let dataset = client.create_dataset(&name, records).await?;
    let results = client
        .experiment("judged-capitals", &dataset, |input: Value, _config| async move {
            let answer = match input["country"].as_str() {
                Some("France") => "Paris",
                Some("Italy") => "Rome",
                _ => "Cusco",
            };
            Ok::<_, CallError>(json!(answer))
        })
        .evaluator_impl(judge.clone())
        .build()?
        .run(RunOptions::default())
        .await?;
    println!("{results}");

    let ui_url =
        client.publish_evaluator_with(&judge, "capitals-agent", &PublishEvaluator::new()).await?;
    println!("published: {ui_url}");

    if std::env::var("JUDGE_REMOTE").is_ok_and(|v| v == "1") {
        let remote = client
            .experiment("judged-capitals-remote", &dataset, |input: Value, _config| async move {
                Ok::<_, CallError>(json!(if input["country"] == "France" { "Paris" } else { "?" }))
            })
            .remote_evaluator(RemoteEvaluator::new("capital_correct"))
            .build()?
            .run(RunOptions::default())
            .await?;
        println!("{remote}");
    }
    Ok(())
}
