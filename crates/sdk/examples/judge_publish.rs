//! Publishes LLM judges described in JSON (E14), one result line per judge. The compat
//! suite (`tests/compat/test_judge_publish.py`) gives the same descriptions to ddtrace's
//! `LLMObs.publish_evaluator` and to this program, and compares the two requests.
//!
//! ```text
//! DD_LLMOBS_OVERRIDE_ORIGIN=http://127.0.0.1:PORT DD_API_KEY=… DD_APP_KEY=… \
//!     cargo run -p llmobs --example judge_publish -- judges.json
//! ```
//!
//! `judges.json` (or `-` for standard input) is a list of
//!
//! ```text
//! {"id": "…", "agent_service": "…", "eval_name": "…"?, "variable_mapping": {…}?,
//!  "judge": {"user_prompt": "…", "system_prompt"?, "provider"?, "model"?, "model_params"?,
//!            "name"?, "structured_output"?: {"kind": "boolean" | "score" | "categorical",
//!            …the reference constructor's arguments…} | {"kind": "json", "schema": {…}}}}
//! ```
//!
//! and each output line is `{"id", "ok": true, "ui_url"}` or `{"id", "ok": false, "error"}`.

#[path = "support/env.rs"]
mod support;

use std::error::Error;
use std::io::Read;

use llmobs::{
    BooleanStructuredOutput, CallError, CategoricalStructuredOutput, Client, JudgeRequest,
    LLMJudge, PublishEvaluator, ScoreStructuredOutput, StructuredOutput,
};
use serde_json::{Map, Number, Value, json};

fn text(spec: &Value, key: &str) -> Option<String> {
    spec.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn number(spec: &Value, key: &str) -> Option<Number> {
    match spec.get(key) {
        Some(Value::Number(n)) => Some(n.clone()),
        _ => None,
    }
}

fn structured_output(spec: &Value) -> Result<StructuredOutput, String> {
    let reasoning = spec.get("reasoning").and_then(Value::as_bool).unwrap_or(false);
    let reasoning_description = text(spec, "reasoning_description");
    Ok(match spec["kind"].as_str().unwrap_or_default() {
        "boolean" => {
            let mut output =
                BooleanStructuredOutput::new(text(spec, "description").unwrap_or_default())
                    .reasoning(reasoning);
            output.reasoning_description = reasoning_description;
            output.pass_when = spec.get("pass_when").and_then(Value::as_bool);
            output.into()
        }
        "score" => {
            let bound = |key| number(spec, key).ok_or(format!("score needs a numeric {key}"));
            let mut output = ScoreStructuredOutput::new(
                text(spec, "description").unwrap_or_default(),
                bound("min_score")?,
                bound("max_score")?,
            )
            .reasoning(reasoning);
            output.reasoning_description = reasoning_description;
            output.min_threshold = number(spec, "min_threshold");
            output.max_threshold = number(spec, "max_threshold");
            output.into()
        }
        "categorical" => {
            let categories = spec["categories"].as_object().cloned().unwrap_or_default();
            let mut output = CategoricalStructuredOutput::new(
                categories.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned())),
            )
            .reasoning(reasoning);
            output.reasoning_description = reasoning_description;
            output.pass_values = spec
                .get("pass_values")
                .and_then(Value::as_array)
                .map(|values| values.iter().filter_map(Value::as_str).map(str::to_owned).collect());
            output.into()
        }
        "json" => StructuredOutput::JsonSchema(
            spec["schema"].as_object().cloned().ok_or("json needs an object 'schema'")?,
        ),
        other => return Err(format!("unknown structured output kind '{other}'")),
    })
}

fn judge(spec: &Value) -> Result<LLMJudge, String> {
    let mut builder = LLMJudge::builder(text(spec, "user_prompt").unwrap_or_default())
        // Publishing never calls the model.
        .client(|_request: JudgeRequest| async {
            Err::<String, _>(CallError::new("this program only publishes"))
        });
    if let Some(system) = text(spec, "system_prompt") {
        builder = builder.system_prompt(system);
    }
    if let Some(output) = spec.get("structured_output").filter(|o| !o.is_null()) {
        builder = builder.structured_output(structured_output(output)?);
    }
    if let Some(provider) = text(spec, "provider") {
        builder = builder.provider(provider);
    }
    if let Some(model) = text(spec, "model") {
        builder = builder.model(model);
    }
    if let Some(params) = spec.get("model_params").and_then(Value::as_object) {
        builder = builder.model_params(params.clone());
    }
    if let Some(name) = text(spec, "name") {
        builder = builder.name(name);
    }
    builder.build().map_err(|e| e.detail())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let source = std::env::args().nth(1).ok_or("usage: judge_publish FILE|-")?;
    support::require_server_env("judge_publish");
    let mut input = String::new();
    if source == "-" {
        std::io::stdin().read_to_string(&mut input)?;
    } else {
        input = std::fs::read_to_string(&source)?;
    }
    let cases: Vec<Value> = serde_json::from_str(&input)?;
    let client = Client::from_env()?;
    for case in &cases {
        let id = case["id"].clone();
        let line = match judge(&case["judge"]) {
            Err(error) => json!({"id": id, "ok": false, "stage": "build", "error": error}),
            Ok(judge) => {
                let mapping: Map<String, Value> =
                    case["variable_mapping"].as_object().cloned().unwrap_or_default();
                let mut options = PublishEvaluator::new().variable_mapping(
                    mapping
                        .into_iter()
                        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned())),
                );
                options.eval_name = text(case, "eval_name");
                let service = text(case, "agent_service").unwrap_or_default();
                match client.publish_evaluator_with(&judge, &service, &options).await {
                    Ok(ui_url) => json!({"id": id, "ok": true, "ui_url": ui_url}),
                    Err(error) => json!({"id": id, "ok": false, "error": error.detail()}),
                }
            }
        };
        println!("{line}");
    }
    Ok(())
}
