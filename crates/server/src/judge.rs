//! What remote inference (E13) runs: deterministic evaluators that need no model, and an
//! LLM judge that asks an OpenAI-compatible chat-completions endpoint.
//!
//! Every evaluator judges a context of the default shape the client sends:
//! `{"span_input", "span_output", "meta": {"expected_output", "metadata"}}`.
//!
//! | kind | settings | value |
//! |---|---|---|
//! | `exact_match` | — | output equals the expected output (as JSON) |
//! | `contains` | `value` (default: the expected output), `case_sensitive` (default true) | output text contains it |
//! | `regex` | `pattern` | output text matches |
//! | `json_valid` | — | output is an object or list, or a string holding JSON |
//! | `length` | `min`, `max` (characters, each optional) | output text length within bounds |
//! | `fixed` | `value`, `assessment`, `reasoning` | always those (for tests) |
//! | `llm_judge` | `model_name`, `prompt_template`, `output_schema`, `assessment_criteria`, `inference_params` | what the model answers |
//!
//! Deterministic verdicts are booleans with assessment `pass` / `fail`.
//!
//! An `llm_judge` renders its prompt and assesses the model's verdict by the rules the
//! SDK's `LLMJudge` and ddtrace's apply in the client ([`llmobs_core::judge`]): the
//! context's fields are `input_data`, `output_data`, `expected_output`, `metadata`,
//! `span_id` and `trace_id`; `{{dotted.path}}` placeholders of the user messages insert
//! objects and lists as indented JSON and missing values as empty text; system messages
//! are sent as written (an empty one is left out); `assessment_criteria` give `pass` /
//! `fail` by `pass_when`, `min_threshold` / `max_threshold` or `pass_values`.

use llmobs_core::experiments::InferResult;
use llmobs_core::judge::{self, AssessmentCriteria};
use serde_json::{Map, Value, json};

/// An evaluator failure, answered as the structured error the client reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    /// Machine-readable kind, such as `evaluator_not_found`.
    pub kind: &'static str,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub resolution: String,
}

impl Failure {
    fn new(kind: &'static str, message: impl Into<String>, resolution: impl Into<String>) -> Self {
        Failure { kind, message: message.into(), resolution: resolution.into() }
    }

    /// The `error` object of the answer.
    pub(crate) fn to_value(&self) -> Value {
        json!({"type": self.kind, "message": self.message, "recommended_resolution": self.resolution})
    }
}

/// Where the LLM judge sends its requests.
#[derive(Debug, Clone)]
pub struct JudgeProvider {
    /// Base URL of an OpenAI-compatible API, e.g. `http://127.0.0.1:8080/v1`; the judge
    /// posts to `<url>/chat/completions`.
    pub url: String,
    /// Sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
}

/// The HTTP client judges use. Installs the `ring` TLS provider first (several crates
/// may do so; the first one wins).
pub(crate) fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("the HTTP client of LLM judges cannot be built")
}

/// A configured evaluator.
#[derive(Debug, Clone)]
pub(crate) enum Evaluator {
    ExactMatch,
    Contains { needle: Option<String>, case_sensitive: bool },
    Regex(regex::Regex),
    JsonValid,
    Length { min: Option<u64>, max: Option<u64> },
    Fixed { value: Value, assessment: Option<String>, reasoning: Option<String> },
    LlmJudge(Box<LlmJudge>),
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn verdict(passed: bool, reasoning: String) -> InferResult {
    InferResult {
        value: Value::Bool(passed),
        assessment: Some(if passed { "pass" } else { "fail" }.to_owned()),
        reasoning: Some(reasoning),
        status: "OK".to_owned(),
        error: None,
    }
}

impl Evaluator {
    /// Builds an evaluator of `kind` from its settings.
    pub(crate) fn from_config(kind: &str, config: &Value) -> Result<Self, String> {
        let get = |key: &str| config.get(key);
        let bound = |key: &str| -> Result<Option<u64>, String> {
            get(key)
                .filter(|v| !v.is_null())
                .map(|v| v.as_u64().ok_or(format!("'{key}' must be a whole number")))
                .transpose()
        };
        Ok(match kind {
            "exact_match" => Evaluator::ExactMatch,
            "contains" => Evaluator::Contains {
                needle: get("value").filter(|v| !v.is_null()).map(text_of),
                case_sensitive: get("case_sensitive").and_then(Value::as_bool).unwrap_or(true),
            },
            "regex" => {
                let pattern = get("pattern")
                    .and_then(Value::as_str)
                    .ok_or("a regex evaluator needs 'pattern'")?;
                Evaluator::Regex(
                    regex::Regex::new(pattern).map_err(|e| format!("invalid pattern: {e}"))?,
                )
            }
            "json_valid" => Evaluator::JsonValid,
            "length" => Evaluator::Length { min: bound("min")?, max: bound("max")? },
            "fixed" => Evaluator::Fixed {
                value: get("value").cloned().unwrap_or(Value::Null),
                assessment: get("assessment").and_then(Value::as_str).map(str::to_owned),
                reasoning: get("reasoning").and_then(Value::as_str).map(str::to_owned),
            },
            "llm_judge" => Evaluator::LlmJudge(Box::new(LlmJudge::from_config(config)?)),
            other => {
                return Err(format!(
                    "unknown evaluator kind '{other}': use exact_match, contains, regex, json_valid, \
                     length, fixed or llm_judge"
                ));
            }
        })
    }

    /// Judges `context`.
    pub(crate) async fn evaluate(
        &self,
        context: &Value,
        provider: Option<&JudgeProvider>,
        http: &reqwest::Client,
    ) -> Result<InferResult, Failure> {
        let output = context.get("span_output").cloned().unwrap_or(Value::Null);
        let expected = context.pointer("/meta/expected_output").cloned();
        Ok(match self {
            Evaluator::ExactMatch => {
                let expected = expected.ok_or_else(|| {
                    Failure::new(
                        "missing_expected_output",
                        "exact_match needs meta.expected_output",
                        "add expected outputs to the dataset records",
                    )
                })?;
                verdict(
                    output == expected,
                    format!(
                        "output {} the expected output",
                        if output == expected { "equals" } else { "differs from" }
                    ),
                )
            }
            Evaluator::Contains { needle, case_sensitive } => {
                let needle =
                    needle.clone().or(expected.as_ref().map(text_of)).ok_or_else(|| {
                        Failure::new(
                            "missing_expected_output",
                            "contains needs a 'value' or meta.expected_output",
                            "configure 'value' or add expected outputs",
                        )
                    })?;
                let haystack = text_of(&output);
                let found = if *case_sensitive {
                    haystack.contains(&needle)
                } else {
                    haystack.to_lowercase().contains(&needle.to_lowercase())
                };
                verdict(
                    found,
                    format!(
                        "output {} {needle:?}",
                        if found { "contains" } else { "does not contain" }
                    ),
                )
            }
            Evaluator::Regex(pattern) => {
                let found = pattern.is_match(&text_of(&output));
                verdict(
                    found,
                    format!(
                        "output {} /{}/",
                        if found { "matches" } else { "does not match" },
                        pattern.as_str()
                    ),
                )
            }
            Evaluator::JsonValid => {
                let valid = match &output {
                    Value::Object(_) | Value::Array(_) => true,
                    Value::String(s) => serde_json::from_str::<Value>(s).is_ok(),
                    _ => false,
                };
                verdict(valid, format!("output is {}JSON", if valid { "" } else { "not " }))
            }
            Evaluator::Length { min, max } => {
                let n = text_of(&output).chars().count() as u64;
                let ok = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
                verdict(ok, format!("output has {n} characters"))
            }
            Evaluator::Fixed { value, assessment, reasoning } => InferResult {
                value: value.clone(),
                assessment: assessment.clone(),
                reasoning: reasoning.clone(),
                status: "OK".to_owned(),
                error: None,
            },
            Evaluator::LlmJudge(settings) => settings.evaluate(context, provider, http).await?,
        })
    }
}

/// An LLM judge's settings, from a published evaluation (E14: `applications[0]` with a
/// `byop_config`) or from flat settings.
#[derive(Debug, Clone)]
pub(crate) struct LlmJudge {
    model_name: Value,
    /// `(role, content)` pairs.
    prompt_template: Vec<(String, String)>,
    output_schema: Option<Value>,
    inference_params: Map<String, Value>,
    criteria: AssessmentCriteria,
}

impl LlmJudge {
    fn from_config(config: &Value) -> Result<Self, String> {
        let application = config.pointer("/applications/0");
        let source = application.and_then(|a| a.get("byop_config")).unwrap_or(config);
        let get = |key: &str| source.get(key).filter(|v| !v.is_null());
        let messages = get("prompt_template")
            .and_then(Value::as_array)
            .ok_or("an llm_judge needs a 'prompt_template' list of messages")?;
        let text = |m: &Value, key: &str, default: &str| {
            m.get(key).and_then(Value::as_str).unwrap_or(default).to_owned()
        };
        let model = application
            .and_then(|a| a.get("model_name"))
            .or(config.get("model_name"))
            .or(config.get("model"));
        Ok(LlmJudge {
            model_name: model.cloned().unwrap_or(Value::Null),
            prompt_template: messages
                .iter()
                .map(|m| (text(m, "role", "user"), text(m, "content", "")))
                .collect(),
            output_schema: get("output_schema").cloned(),
            inference_params: get("inference_params")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            criteria: AssessmentCriteria::from_value(
                get("assessment_criteria").unwrap_or(&Value::Null),
            )?,
        })
    }

    /// The chat-completions request for an E13 `context`: the messages as the client
    /// sends them (see the module documentation), the schema and the parameters.
    fn request_body(&self, context: &Value) -> Value {
        let variables = judge::infer_context(context);
        let messages: Vec<Value> = self
            .prompt_template
            .iter()
            .filter(|(role, content)| !(role == "system" && content.is_empty()))
            .map(|(role, content)| {
                let content = if role == "system" {
                    content.clone()
                } else {
                    judge::render(content, &variables)
                };
                json!({"role": role, "content": content})
            })
            .collect();
        let mut body = json!({"model": self.model_name, "messages": messages});
        if let Some(schema) = &self.output_schema {
            body["response_format"] = json!({"type": "json_schema", "json_schema": schema});
        }
        for (k, v) in &self.inference_params {
            body[k] = v.clone();
        }
        body
    }

    async fn evaluate(
        &self,
        context: &Value,
        provider: Option<&JudgeProvider>,
        http: &reqwest::Client,
    ) -> Result<InferResult, Failure> {
        let provider = provider.ok_or_else(|| {
            Failure::new(
                "judge_not_configured",
                "this server has no LLM provider for judges",
                "start the server with --judge-url (and LLMOBS_JUDGE_API_KEY)",
            )
        })?;
        let url = format!("{}/chat/completions", provider.url.trim_end_matches('/'));
        let mut request = http.post(&url).json(&self.request_body(context));
        if let Some(key) = &provider.api_key {
            request = request.bearer_auth(key);
        }
        let failed = |message: String| {
            Failure::new("judge_request_failed", message, "check the provider URL, key and model")
        };
        let response =
            request.send().await.map_err(|e| failed(format!("calling the judge failed: {e}")))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .map_err(|e| failed(format!("the judge answered {status} with no JSON: {e}")))?;
        if !status.is_success() {
            return Err(failed(format!("the judge answered {status}: {answer}")));
        }
        let content = answer.pointer("/choices/0/message/content").and_then(Value::as_str);
        let content = content.ok_or_else(|| {
            failed(format!("the judge's answer has no choices[0].message.content: {answer}"))
        })?;
        let (value, reasoning) = match serde_json::from_str::<Value>(content) {
            Ok(Value::Object(mut object)) => {
                let reasoning = object.remove("reasoning").map(|r| text_of(&r));
                let value = if object.len() == 1 {
                    object.into_iter().next().map(|(_, v)| v).unwrap_or(Value::Null)
                } else {
                    Value::Object(object)
                };
                (value, reasoning)
            }
            Ok(other) => (other, None),
            Err(_) => (Value::from(content), None),
        };
        let assessment = self.criteria.assess(&value).map(|v| v.as_str().to_owned());
        Ok(InferResult { value, assessment, reasoning, status: "OK".to_owned(), error: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(kind: &str, config: Value, output: Value, expected: Option<Value>) -> InferResult {
        let evaluator = Evaluator::from_config(kind, &config).unwrap();
        let mut context = json!({"span_input": {"q": "?"}, "span_output": output, "meta": {}});
        if let Some(expected) = expected {
            context["meta"]["expected_output"] = expected;
        }
        evaluator.evaluate(&context, None, &http_client()).await.unwrap()
    }

    #[tokio::test]
    async fn deterministic_kinds_judge_the_output() {
        assert_eq!(
            run("exact_match", json!({}), json!("Paris"), Some(json!("Paris"))).await.value,
            json!(true)
        );
        assert_eq!(
            run("exact_match", json!({}), json!("Rome"), Some(json!("Paris")))
                .await
                .assessment
                .as_deref(),
            Some("fail")
        );
        assert_eq!(
            run(
                "contains",
                json!({"value": "par", "case_sensitive": false}),
                json!("Paris!"),
                None
            )
            .await
            .value,
            json!(true)
        );
        assert_eq!(
            run("contains", json!({}), json!("in Paris"), Some(json!("Paris"))).await.value,
            json!(true)
        );
        assert_eq!(
            run("regex", json!({"pattern": "^\\d+$"}), json!("123"), None).await.value,
            json!(true)
        );
        assert_eq!(
            run("regex", json!({"pattern": "^\\d+$"}), json!("12a"), None).await.value,
            json!(false)
        );
        assert_eq!(
            run("json_valid", json!({}), json!("{\"a\": 1}"), None).await.value,
            json!(true)
        );
        assert_eq!(run("json_valid", json!({}), json!("nope"), None).await.value, json!(false));
        assert_eq!(
            run("length", json!({"min": 2, "max": 3}), json!("abcd"), None).await.value,
            json!(false)
        );
        let fixed = run(
            "fixed",
            json!({"value": 0.5, "assessment": "pass", "reasoning": "r"}),
            json!(null),
            None,
        )
        .await;
        assert_eq!(
            (fixed.value, fixed.assessment.as_deref(), fixed.reasoning.as_deref()),
            (json!(0.5), Some("pass"), Some("r"))
        );
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        assert!(
            Evaluator::from_config("regex", &json!({"pattern": "("}))
                .unwrap_err()
                .contains("invalid pattern")
        );
        assert!(
            Evaluator::from_config("nope", &json!({}))
                .unwrap_err()
                .contains("unknown evaluator kind")
        );
        assert!(Evaluator::from_config("llm_judge", &json!({})).is_err());
    }

    #[test]
    fn judges_send_what_the_client_sends() {
        let config = json!({"model_name": "m", "inference_params": {"temperature": 0},
            "prompt_template": [
                {"role": "system", "content": "Grade {{output_data}} strictly."},
                {"role": "user", "content": "Is {{output_data}} right for {{ input_data }}? {{missing}}"}],
            "assessment_criteria": {"min_threshold": 7}});
        let judge = LlmJudge::from_config(&config).unwrap();
        let context = json!({"span_input": {"q": "Q?"}, "span_output": "A", "meta": {}});
        assert_eq!(
            judge.request_body(&context),
            json!({"model": "m", "temperature": 0, "messages": [
                {"role": "system", "content": "Grade {{output_data}} strictly."},
                {"role": "user", "content": "Is A right for {\n  \"q\": \"Q?\"\n}? "}]})
        );
        // an empty system prompt (what a judge without one publishes) is not sent
        let published = json!({"applications": [{"model_name": "m", "byop_config": {
            "prompt_template": [{"role": "system", "content": ""},
                                {"role": "user", "content": "{{output_data}}"}]}}]});
        let body = LlmJudge::from_config(&published).unwrap().request_body(&context);
        assert_eq!(body["messages"], json!([{"role": "user", "content": "A"}]));
        // malformed criteria are refused when the judge is configured or published
        let bad = json!({"prompt_template": [], "assessment_criteria": {"pass_values": "a"}});
        assert!(
            LlmJudge::from_config(&bad).unwrap_err().starts_with("invalid assessment_criteria")
        );
    }
}
