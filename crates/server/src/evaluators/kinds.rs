//! The evaluator kinds remote inference (E13) runs: deterministic evaluators that need
//! no model, and the LLM judge ([`super::judge`]), which asks an OpenAI-compatible
//! chat-completions endpoint.
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
//! Deterministic verdicts are booleans with assessment `pass` / `fail`. Settings an
//! evaluator cannot run with are refused with a [`SettingsError`].

use llmobs_core::experiments::{InferError, InferResult};
use llmobs_core::judge::CriteriaError;
use serde_json::Value;

use super::judge::LlmJudge;
use crate::integrations::Integrations;

/// Why an evaluator's settings are refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SettingsError {
    /// The kind is none of those in the module's table: use one of them.
    #[error(
        "unknown evaluator kind '{0}': use exact_match, contains, regex, json_valid, length, \
         fixed or llm_judge"
    )]
    UnknownKind(String),
    /// A `regex` evaluator has no string `pattern`: add one.
    #[error("a regex evaluator needs 'pattern'")]
    MissingPattern,
    /// The `pattern` of a `regex` evaluator does not compile: fix its syntax.
    #[error("invalid pattern: {0}")]
    BadPattern(#[from] regex::Error),
    /// A bound of a `length` evaluator (`min`, `max`, named here) is not a whole number.
    #[error("'{0}' must be a whole number")]
    NotWholeNumber(&'static str),
    /// An `llm_judge` has no `prompt_template` list: add its messages.
    #[error("an llm_judge needs a 'prompt_template' list of messages")]
    MissingPromptTemplate,
    /// An `llm_judge`'s `assessment_criteria` cannot be read.
    #[error(transparent)]
    Criteria(#[from] CriteriaError),
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

pub(crate) fn text_of(value: &Value) -> String {
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
    pub(crate) fn from_config(kind: &str, config: &Value) -> Result<Self, SettingsError> {
        let get = |key: &str| config.get(key);
        let bound = |key: &'static str| -> Result<Option<u64>, SettingsError> {
            get(key)
                .filter(|v| !v.is_null())
                .map(|v| v.as_u64().ok_or(SettingsError::NotWholeNumber(key)))
                .transpose()
        };
        Ok(match kind {
            "exact_match" => Evaluator::ExactMatch,
            "contains" => Evaluator::Contains {
                needle: get("value").filter(|v| !v.is_null()).map(text_of),
                case_sensitive: get("case_sensitive").and_then(Value::as_bool).unwrap_or(true),
            },
            "regex" => {
                let pattern =
                    get("pattern").and_then(Value::as_str).ok_or(SettingsError::MissingPattern)?;
                Evaluator::Regex(regex::Regex::new(pattern)?)
            }
            "json_valid" => Evaluator::JsonValid,
            "length" => Evaluator::Length { min: bound("min")?, max: bound("max")? },
            "fixed" => Evaluator::Fixed {
                value: get("value").cloned().unwrap_or(Value::Null),
                assessment: get("assessment").and_then(Value::as_str).map(str::to_owned),
                reasoning: get("reasoning").and_then(Value::as_str).map(str::to_owned),
            },
            "llm_judge" => Evaluator::LlmJudge(Box::new(LlmJudge::from_config(config)?)),
            other => return Err(SettingsError::UnknownKind(other.to_owned())),
        })
    }

    /// Judges `context`.
    pub(crate) async fn evaluate(
        &self,
        context: &Value,
        judges: &Integrations,
    ) -> Result<InferResult, InferError> {
        let output = context.get("span_output").cloned().unwrap_or(Value::Null);
        let expected = context.pointer("/meta/expected_output").cloned();
        Ok(match self {
            Evaluator::ExactMatch => {
                let expected = expected.ok_or_else(|| {
                    InferError::new(
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
                        InferError::new(
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
            Evaluator::LlmJudge(settings) => settings.evaluate(context, judges).await?,
        })
    }
}
#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    async fn run(kind: &str, config: Value, output: Value, expected: Option<Value>) -> InferResult {
        let evaluator = Evaluator::from_config(kind, &config).unwrap();
        let mut context = json!({"span_input": {"q": "?"}, "span_output": output, "meta": {}});
        if let Some(expected) = expected {
            context["meta"]["expected_output"] = expected;
        }
        evaluator.evaluate(&context, &Integrations::new(Vec::new())).await.unwrap()
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
                .to_string()
                .contains("invalid pattern")
        );
        assert!(
            Evaluator::from_config("nope", &json!({}))
                .unwrap_err()
                .to_string()
                .contains("unknown evaluator kind")
        );
        assert!(Evaluator::from_config("llm_judge", &json!({})).is_err());
    }
}
