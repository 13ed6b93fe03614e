//! An experiment from Rust against a local server, with a deterministic task: a dataset,
//! a run with a child span per "model call", the results read back, and a rerun that
//! scores the same outputs with another evaluator.
//!
//! ```text
//! llmobs serve &   # prints: listening on http://127.0.0.1:PORT
//! DD_LLMOBS_OVERRIDE_ORIGIN=http://127.0.0.1:PORT DD_API_KEY=… DD_APP_KEY=… \
//!     cargo run -p llmobs --example experiment
//! ```

#[path = "support/env.rs"]
mod support;

use std::error::Error;
use std::sync::Arc;

use llmobs::{
    Assessment, CallError, ChildSpan, Client, DatasetRecord, EvaluatorContext, EvaluatorResult,
    RunOptions, SpanKind, SummaryContext,
};
use serde_json::{Value, json};

/// The "model": a lookup table, so every run gives the same answers.
async fn capital(input: Value, config: Arc<Value>) -> Result<Value, CallError> {
    // Shown under the record's span in the experiment's trace.
    let mut call = ChildSpan::start(SpanKind::Llm, "lookup");
    call.input(input.clone()).metadata(json!({ "model": "table" }));
    let country = input["country"].as_str().unwrap_or_default();
    let answer = match country {
        "France" => "Paris",
        "Italy" => "Rome",
        "Japan" => "Tokyo",
        _ => "I don't know",
    };
    let style = config["style"].as_str().unwrap_or("plain");
    let output = json!(if style == "shout" { answer.to_uppercase() } else { answer.to_owned() });
    call.output(output.clone());
    Ok(output)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    support::require_server_env("experiment");
    let client = Client::from_env()?;
    let records = [("France", "Paris"), ("Italy", "Rome"), ("Japan", "Tokyo"), ("Peru", "Lima")]
        .into_iter()
        .map(|(country, answer)| {
            DatasetRecord::new(json!({ "country": country }))
                .expected_output(json!(answer))
                .tags(["topic:geography"])
        });
    let name = format!("capitals-{}", std::process::id());
    let dataset = client.create_dataset(&name, records).await?;
    println!("dataset {} (version {}): {}", dataset.name(), dataset.version(), dataset.url());

    let experiment = client
        .experiment("capitals", dataset, capital)
        .task_name("capital")
        .description("capital cities, deterministic")
        .config(json!({ "style": "plain" }))
        .tags([("team", "examples")])
        .evaluator("exact_match", |ctx: &EvaluatorContext| {
            ctx.expected_output.as_ref() == Some(&ctx.output)
        })
        .evaluator("verdict", |ctx: &EvaluatorContext| {
            let pass = ctx.expected_output.as_ref() == Some(&ctx.output);
            EvaluatorResult::new(if pass { 1.0 } else { 0.0 })
                .assessment(if pass { Assessment::Pass } else { Assessment::Fail })
                .reasoning(format!("answered {}", ctx.output))
        })
        .summary_evaluator("accuracy", |ctx: &SummaryContext| {
            ctx.rate_of("exact_match", &json!(true))
        })
        .build()?;
    let results = experiment.run(RunOptions { jobs: 4, ..RunOptions::default() }).await?;
    print!("{results}");
    println!("{}", experiment.url());

    // Read back from the server, then re-scored without running the task again.
    let pulled = client.pull_experiment(&results.experiment_id).await?;
    println!("pulled {} rows of {}", pulled.results.rows().len(), pulled.info.attributes.name);
    let rerun = experiment
        .rerun_evaluators()?
        .evaluator("short_answer", |ctx: &EvaluatorContext| {
            ctx.output.as_str().is_some_and(|answer| answer.len() <= 5)
        })
        .run(RunOptions::default())
        .await?;
    print!("{rerun}");
    Ok(())
}
