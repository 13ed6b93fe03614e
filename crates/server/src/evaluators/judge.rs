//! The LLM judge evaluator (`llm_judge`) and where it sends its requests.
//!
//! An `llm_judge` renders its prompt and assesses the model's verdict by the rules the
//! SDK's `LLMJudge` and ddtrace's apply in the client ([`llmobs_core::judge`]): the
//! context's fields are `input_data`, `output_data`, `expected_output`, `metadata`,
//! `span_id` and `trace_id`; `{{dotted.path}}` placeholders of the user messages insert
//! objects and lists as indented JSON and missing values as empty text; system messages
//! are sent as written (an empty one is left out); `assessment_criteria` give `pass` /
//! `fail` by `pass_when`, `min_threshold` / `max_threshold` or `pass_values`.

use llmobs_core::experiments::{InferError, InferResult};
use llmobs_core::judge::{self, AssessmentCriteria};
use serde_json::{Map, Value};

use super::kinds::{SettingsError, text_of};
use crate::integrations::{AccountSpec, Integrations, JUDGE_ACCOUNT};

/// Where the LLM judge sends its requests.
#[derive(Debug, Clone)]
pub struct JudgeProvider {
    /// Base URL of an OpenAI-compatible API, e.g. `http://127.0.0.1:8080/v1`; the judge
    /// posts to `<url>/chat/completions`.
    pub url: String,
    /// Sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
}

impl JudgeProvider {
    /// The `openai` account with id `judge` this shorthand stands for.
    pub(crate) fn account(&self) -> AccountSpec {
        AccountSpec {
            integration: "openai".into(),
            id: JUDGE_ACCOUNT.into(),
            name: Some("LLM judge (--judge-url)".into()),
            base_url: self.url.clone(),
            api_key: self.api_key.clone(),
            api_key_env: None,
            region: None,
            models: None,
            embedding_model: None,
        }
    }
}

/// An LLM judge's settings, from a published evaluation (E14: `applications[0]` with a
/// `byop_config`) or from flat settings.
#[derive(Debug, Clone)]
pub(crate) struct LlmJudge {
    /// The provider account named by the config, if any.
    account: Option<String>,
    model_name: Value,
    /// `(role, content)` pairs.
    prompt_template: Vec<(String, String)>,
    output_schema: Option<Value>,
    inference_params: Map<String, Value>,
    criteria: AssessmentCriteria,
}

impl LlmJudge {
    pub(crate) fn from_config(config: &Value) -> Result<Self, SettingsError> {
        let application = config.pointer("/applications/0");
        let source = application.and_then(|a| a.get("byop_config")).unwrap_or(config);
        let get = |key: &str| source.get(key).filter(|v| !v.is_null());
        let messages = get("prompt_template")
            .and_then(Value::as_array)
            .ok_or(SettingsError::MissingPromptTemplate)?;
        let text = |m: &Value, key: &str, default: &str| {
            m.get(key).and_then(Value::as_str).unwrap_or(default).to_owned()
        };
        let model = application
            .and_then(|a| a.get("model_name"))
            .or(config.get("model_name"))
            .or(config.get("model"));
        let account = application
            .and_then(|a| a.get("integration_account_id"))
            .or(config.pointer("/llm_provider/integration_account_id"))
            .or(config.get("integration_account_id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(LlmJudge {
            account,
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
        let messages: Vec<(&str, String)> = self
            .prompt_template
            .iter()
            .filter(|(role, content)| !(role == "system" && content.is_empty()))
            .map(|(role, content)| {
                let content = if role == "system" {
                    content.clone()
                } else {
                    judge::render(content, &variables)
                };
                (role.as_str(), content)
            })
            .collect();
        judge::chat_request(
            self.model_name.clone(),
            messages.iter().map(|(role, content)| (*role, content.as_str())),
            self.output_schema.clone(),
            &self.inference_params,
        )
    }

    pub(crate) async fn evaluate(
        &self,
        context: &Value,
        backend: &Integrations,
    ) -> Result<InferResult, InferError> {
        let account = match &self.account {
            Some(id) => backend.get(id).ok_or_else(|| {
                InferError::new(
                    "judge_not_configured",
                    format!("this server has no provider account '{id}'"),
                    "configure it with `llmobs serve --integrations FILE`, or name another account",
                )
            })?,
            None => backend.default_judge().ok_or_else(|| {
                InferError::new(
                    "judge_not_configured",
                    "this server has no LLM provider for judges",
                    "start the server with --judge-url (and LLMOBS_JUDGE_API_KEY), or with \
                     --integrations FILE and an account with id 'judge'",
                )
            })?,
        };
        let failed = |message: String| {
            InferError::new(
                "judge_request_failed",
                message,
                "check the provider URL, key and model",
            )
        };
        let answer = backend
            .chat(account, &self.request_body(context))
            .await
            .map_err(|e| failed(format!("calling the judge failed: {e}")))?;
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
    use serde_json::json;

    use super::*;

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
            LlmJudge::from_config(&bad)
                .unwrap_err()
                .to_string()
                .starts_with("invalid assessment_criteria")
        );
    }

    #[tokio::test]
    async fn a_judge_that_cannot_reach_a_model_fails_with_the_reason() {
        let config = json!({"prompt_template": [{"role": "user", "content": "{{output_data}}"}]});
        let judge = LlmJudge::from_config(&config).unwrap();
        let context = json!({"span_input": 1, "span_output": "A", "meta": {}});
        let err = judge.evaluate(&context, &Integrations::new(Vec::new())).await.unwrap_err();
        assert_eq!(err.kind, "judge_not_configured");
        // a named account that is not configured
        let named = json!({"integration_account_id": "nope",
                           "prompt_template": [{"role": "user", "content": "x"}]});
        let err = LlmJudge::from_config(&named)
            .unwrap()
            .evaluate(&context, &Integrations::new(Vec::new()))
            .await
            .unwrap_err();
        assert!(err.message.contains("no provider account 'nope'"), "{}", err.message);
        // an account nothing listens on
        let provider =
            JudgeProvider { url: "http://127.0.0.1:9/v1".into(), api_key: Some("k".into()) };
        let err = judge
            .evaluate(&context, &Integrations::new(vec![provider.account()]))
            .await
            .unwrap_err();
        assert_eq!(err.kind, "judge_request_failed");
        assert!(
            err.message.starts_with("calling the judge failed: calling judge failed"),
            "{}",
            err.message
        );
    }
}
