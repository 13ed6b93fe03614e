//! Publishing a judge (E14): [`PublishEvaluator`] options, [`LLMJudge::publish_payload`]
//! and [`Client::publish_evaluator`].

use llmobs_core::pyjson::is_space;
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::borrow::Borrow;

use super::{LLMJudge, PROVIDERS, check_name, invalid};
use crate::api::{JSON_TIMEOUT, UNSTABLE, error_detail, json_body};
use crate::{Client, Error, Result};

/// Options of [`Client::publish_evaluator_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishEvaluator {
    /// The published name; the judge's name when `None`.
    pub eval_name: Option<String>,
    /// `(key, value)` pairs: each `{{key}}` placeholder of the user prompt (spaces
    /// inside the braces allowed) is published as `{{value}}`, e.g. `("answer",
    /// "output_data")`.
    pub variable_mapping: Vec<(String, String)>,
}

impl PublishEvaluator {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// The published name.
    pub fn eval_name(mut self, name: impl Into<String>) -> Self {
        self.eval_name = Some(name.into());
        self
    }

    /// Placeholder renames, in order.
    pub fn variable_mapping<K: Into<String>, V: Into<String>>(
        mut self,
        mapping: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.variable_mapping = mapping.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        self
    }
}

/// `urllib.parse.quote_plus`: letters, digits and `_.-~` kept, spaces as `+`, the rest
/// percent-encoded (UTF-8, upper-case hex).
fn quote_plus(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

impl Client {
    /// Publishes `judge` for `agent_service` under its own name; see
    /// [`publish_evaluator_with`](Self::publish_evaluator_with).
    pub async fn publish_evaluator(&self, judge: &LLMJudge, agent_service: &str) -> Result<String> {
        self.publish_evaluator_with(judge, agent_service, &PublishEvaluator::default()).await
    }

    /// Stores `judge` on the server as a custom evaluator of the agent service (ML app)
    /// `agent_service` (E14, `PUT /api/unstable/llm-obs/v1/config/evaluators/custom`),
    /// with the body the reference client builds ([`LLMJudge::publish_payload`]).
    /// Remote inference ([`RemoteEvaluator`](crate::RemoteEvaluator)) can then run it by
    /// its name.
    ///
    /// Returns the UI link `<ui base>/llm/evaluations/custom?evalName=…&applicationName=…`
    /// (the UI base is the override origin when one is set, spec §4.9).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for what [`LLMJudge::publish_payload`] refuses (nothing
    /// is sent); an error of the answer's status class whenever the status is not
    /// exactly 200 (`Failed to publish evaluator <name>: <status>`, with the server's
    /// detail); transport errors after the usual retries.
    pub async fn publish_evaluator_with(
        &self,
        judge: &LLMJudge,
        agent_service: &str,
        options: impl Borrow<PublishEvaluator>,
    ) -> Result<String> {
        let options = options.borrow();
        let ml_app = agent_service.trim_matches(is_space);
        if ml_app.is_empty() {
            return Err(invalid("`agent_service` must be provided as a non-empty string."));
        }
        let evaluation = judge.publish_payload(ml_app, options)?;
        let eval_name = evaluation["eval_name"].as_str().unwrap_or_default().to_owned();
        let body = json!({"data": {"type": "evaluator_config",
                                   "attributes": {"evaluation": evaluation}}});
        let path = format!("{UNSTABLE}/config/evaluators/custom");
        let answer =
            self.send(Method::PUT, &path, Some(json_body(&body)?), JSON_TIMEOUT, false).await?;
        if answer.status != 200 {
            let detail = error_detail(answer.text());
            let mut message = format!("Failed to publish evaluator {eval_name}: {}", answer.status);
            if !detail.trim().is_empty() {
                message.push_str(": ");
                message.push_str(detail.trim());
            }
            return Err(Error::from_status(answer.status, message));
        }
        Ok(format!(
            "{}/llm/evaluations/custom?evalName={}&applicationName={}",
            self.inner.config.ui_base,
            quote_plus(&eval_name),
            quote_plus(ml_app)
        ))
    }
}

impl LLMJudge {
    /// The `evaluation` object [`Client::publish_evaluator_with`] sends (E14), for the
    /// agent service (ML app) `agent_service`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] with the reference client's message for an empty
    /// agent service, an empty or invalid evaluator name, a missing or unsupported
    /// provider, an empty variable-mapping key or value, or no structured output.
    pub fn publish_payload(
        &self,
        agent_service: &str,
        options: impl Borrow<PublishEvaluator>,
    ) -> Result<Value> {
        let options = options.borrow();
        let ml_app = agent_service.trim_matches(is_space);
        if ml_app.is_empty() {
            return Err(invalid("ml_app must be a non-empty string"));
        }
        let eval_name = options.eval_name.as_deref().unwrap_or(&self.name).trim_matches(is_space);
        if eval_name.is_empty() {
            return Err(invalid("eval_name must be provided either as argument or evaluator name"));
        }
        check_name(eval_name)?;
        let provider = self
            .provider
            .as_deref()
            .ok_or_else(|| invalid("provider must be specified to publish LLMJudge"))?;
        let integration_provider = match provider {
            "openai" => "openai",
            "anthropic" => "anthropic",
            "azure_openai" => "azure_openai",
            "vertexai" => "vertex_ai",
            "bedrock" => "amazon_bedrock",
            other => {
                let mut known = PROVIDERS;
                known.sort_unstable();
                return Err(invalid(format!(
                    "Unsupported provider '{other}' for publish(). Expected one of: {}",
                    known.join(", ")
                )));
            }
        };
        let mut mapping: Vec<(String, String)> = Vec::new();
        for (key, value) in &options.variable_mapping {
            let (key, value) = (key.trim_matches(is_space), value.trim_matches(is_space));
            if key.is_empty() {
                return Err(invalid("variable_mapping keys must be non-empty strings"));
            }
            if value.is_empty() {
                return Err(invalid("variable_mapping values must be non-empty strings"));
            }
            match mapping.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = value.to_owned(),
                None => mapping.push((key.to_owned(), value.to_owned())),
            }
        }
        let output = self
            .structured_output
            .as_ref()
            .ok_or_else(|| invalid("structured_output must be provided to publish an evaluator"))?;
        let (schema_name, parsing_type) = match output.label() {
            Some(label) => (label, "structured_output"),
            None => ("evaluation", "json"),
        };
        let schema = output.to_json_schema();
        let output_schema = if matches!(integration_provider, "openai" | "azure_openai") {
            json!({"name": schema_name, "strict": true, "schema": schema})
        } else {
            schema
        };
        let mut byop = Map::new();
        byop.insert(
            "inference_params".into(),
            Value::Object(self.model_params.clone().unwrap_or_default()),
        );
        byop.insert(
            "prompt_template".into(),
            json!([
                {"role": "system", "content": self.system_prompt.as_deref().unwrap_or("")},
                {"role": "user", "content": apply_variable_mapping(&self.user_prompt, &mapping)},
            ]),
        );
        byop.insert("output_schema".into(), output_schema);
        byop.insert("parsing_type".into(), Value::from(parsing_type));
        if let Some(criteria) = output.assessment_criteria() {
            byop.insert("assessment_criteria".into(), Value::Object(criteria));
        }
        let mut application = Map::new();
        application.insert("application_name".into(), Value::from(ml_app));
        application.insert("enabled".into(), Value::Bool(false));
        application.insert("integration_provider".into(), Value::from(integration_provider));
        application.insert("model_provider".into(), Value::from(integration_provider));
        application.insert("byop_config".into(), Value::Object(byop));
        let model = self.model.as_deref().unwrap_or("").trim_matches(is_space);
        if !model.is_empty() {
            application.insert("model_name".into(), Value::from(model));
        }
        Ok(json!({"eval_name": eval_name, "applications": [application]}))
    }
}

/// Rewrites `{{ key }}` placeholders to `{{value}}` (the reference's
/// `\{\{\s*(k1|k2|…)\s*\}\}`: keys tried in order, surrounding whitespace dropped).
fn apply_variable_mapping(template: &str, mapping: &[(String, String)]) -> String {
    if mapping.is_empty() {
        return template.to_owned();
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let inner = rest[open + 2..].trim_start_matches(is_space);
        let found = mapping.iter().find_map(|(key, value)| {
            let tail = inner.strip_prefix(key.as_str())?.trim_start_matches(is_space);
            tail.strip_prefix("}}").map(|tail| (value, tail))
        });
        match found {
            Some((value, tail)) => {
                out.push_str("{{");
                out.push_str(value);
                out.push_str("}}");
                rest = tail;
            }
            None => {
                out.push('{');
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::super::{
        BooleanStructuredOutput, JudgeRequest, LLMJudgeBuilder, ScoreStructuredOutput,
    };
    use super::*;
    use crate::CallError;

    #[test]
    fn variable_mappings_rewrite_placeholders() {
        let mapping = vec![
            ("answer".to_owned(), "output_data".to_owned()),
            ("q".to_owned(), "input_data.question".to_owned()),
        ];
        assert_eq!(
            apply_variable_mapping(
                "Is {{ answer }} right for {{q}}? {{other}} {{answers}}",
                &mapping
            ),
            "Is {{output_data}} right for {{input_data.question}}? {{other}} {{answers}}"
        );
        assert_eq!(apply_variable_mapping("{{{answer}}}", &mapping), "{{{output_data}}}");
        assert_eq!(apply_variable_mapping("{{answer}}", &[]), "{{answer}}");
    }

    #[test]
    fn publish_payloads_follow_the_reference() {
        let judge = LLMJudge::builder("Is {{ answer }} right for {{input_data.q}}?")
            .system_prompt("Be strict.")
            .structured_output(BooleanStructuredOutput::new("ok?").reasoning(true).pass_when(true))
            .provider("openai")
            .model(" gpt-4o-mini ")
            .client(|_req: JudgeRequest| async { Ok::<_, CallError>(String::new()) })
            .name("my_judge")
            .build()
            .unwrap();
        let options = PublishEvaluator::new().variable_mapping([("answer", " output_data ")]);
        let payload = judge.publish_payload(" app ", &options).unwrap();
        let schema = judge.structured_output().unwrap().to_json_schema();
        let expected = json!({"eval_name": "my_judge", "applications": [{
            "application_name": "app", "enabled": false,
            "integration_provider": "openai", "model_provider": "openai",
            "byop_config": {
                "inference_params": {},
                "prompt_template": [{"role": "system", "content": "Be strict."},
                                    {"role": "user", "content": "Is {{output_data}} right for {{input_data.q}}?"}],
                "output_schema": {"name": "boolean_eval", "strict": true, "schema": schema},
                "parsing_type": "structured_output",
                "assessment_criteria": {"pass_when": true}},
            "model_name": "gpt-4o-mini"}]});
        // key order too (the reference's dicts are ordered)
        assert_eq!(
            serde_json::to_string(&payload).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
    }

    #[test]
    fn publish_maps_providers_and_wraps_schemas_for_openai_only() {
        let cases = [
            ("openai", "openai", true),
            ("azure_openai", "azure_openai", true),
            ("anthropic", "anthropic", false),
            ("vertexai", "vertex_ai", false),
            ("bedrock", "amazon_bedrock", false),
        ];
        for (provider, mapped, wrapped) in cases {
            let judge = LLMJudge::builder("p")
                .structured_output(
                    ScoreStructuredOutput::new("d", 1, 5).min_threshold(4).max_threshold(2),
                )
                .provider(provider)
                .client(|_req: JudgeRequest| async { Ok::<_, CallError>(String::new()) })
                .build()
                .unwrap();
            let payload = judge.publish_payload("app", PublishEvaluator::new()).unwrap();
            let app = &payload["applications"][0];
            assert_eq!(payload["eval_name"], "LLMJudge");
            assert_eq!(
                (app["integration_provider"].as_str(), app["model_provider"].as_str()),
                (Some(mapped), Some(mapped))
            );
            assert!(app.get("model_name").is_none());
            let schema = judge.structured_output().unwrap().to_json_schema();
            let published = &app["byop_config"]["output_schema"];
            if wrapped {
                assert_eq!(
                    *published,
                    json!({"name": "score_eval", "strict": true, "schema": schema})
                );
            } else {
                assert_eq!(*published, schema);
            }
            assert_eq!(
                app["byop_config"]["assessment_criteria"],
                json!({"min_threshold": 4, "max_threshold": 2})
            );
            assert_eq!(
                app["byop_config"]["prompt_template"][0],
                json!({"role": "system", "content": ""})
            );
        }
        // a raw schema: name "evaluation", parsing "json", no criteria
        let judge = LLMJudge::builder("p")
            .structured_output(json!({"type": "object"}).as_object().unwrap().clone())
            .provider("openai")
            .client(|_req: JudgeRequest| async { Ok::<_, CallError>(String::new()) })
            .build()
            .unwrap();
        let payload = judge.publish_payload("app", PublishEvaluator::new()).unwrap();
        let byop = &payload["applications"][0]["byop_config"];
        assert_eq!(
            byop["output_schema"],
            json!({"name": "evaluation", "strict": true, "schema": {"type": "object"}})
        );
        assert_eq!(byop["parsing_type"], "json");
        assert!(byop.get("assessment_criteria").is_none());
    }

    #[test]
    fn publish_refuses_what_the_reference_refuses() {
        let client = |_req: JudgeRequest| async { Ok::<_, CallError>(String::new()) };
        let judge = |b: LLMJudgeBuilder| b.client(client).build().unwrap();
        let bool_out = || BooleanStructuredOutput::new("d");
        let refused = |j: &LLMJudge, app: &str, o: PublishEvaluator| {
            j.publish_payload(app, &o).unwrap_err().detail()
        };
        let ok = judge(LLMJudge::builder("p").structured_output(bool_out()).provider("openai"));
        assert_eq!(
            refused(&ok, "  ", PublishEvaluator::new()),
            "ml_app must be a non-empty string"
        );
        assert_eq!(
            refused(&ok, "a", PublishEvaluator::new().eval_name(" ")),
            "eval_name must be provided either as argument or evaluator name"
        );
        assert_eq!(
            refused(&ok, "a", PublishEvaluator::new().eval_name("a b")),
            "Evaluator name 'a b' is invalid. Name must contain only alphanumeric characters, underscores, and hyphens."
        );
        assert_eq!(
            refused(&ok, "a", PublishEvaluator::new().variable_mapping([(" ", "x")])),
            "variable_mapping keys must be non-empty strings"
        );
        assert_eq!(
            refused(&ok, "a", PublishEvaluator::new().variable_mapping([("x", "")])),
            "variable_mapping values must be non-empty strings"
        );
        let no_provider = judge(LLMJudge::builder("p").structured_output(bool_out()));
        assert_eq!(
            refused(&no_provider, "a", PublishEvaluator::new()),
            "provider must be specified to publish LLMJudge"
        );
        let custom =
            judge(LLMJudge::builder("p").structured_output(bool_out()).provider("mistral"));
        assert_eq!(
            refused(&custom, "a", PublishEvaluator::new()),
            "Unsupported provider 'mistral' for publish(). Expected one of: anthropic, azure_openai, bedrock, openai, vertexai"
        );
        let no_output = judge(LLMJudge::builder("p").provider("openai"));
        assert_eq!(
            refused(&no_output, "a", PublishEvaluator::new()),
            "structured_output must be provided to publish an evaluator"
        );
    }

    #[test]
    fn ui_links_are_url_encoded_like_urlencode() {
        assert_eq!(quote_plus("my app/é~_.-"), "my+app%2F%C3%A9~_.-");
        assert_eq!(quote_plus("a&b=c+d"), "a%26b%3Dc%2Bd");
    }
}
