//! LLM provider integrations as Datadog's public API shows them (`/integrations/{integration}
//! /accounts`, `/{account_id}/models`, `/{account_id}/inference`), and the translation of an
//! inference request to and from the two provider APIs the server speaks: OpenAI's chat
//! completions (OpenAI, Azure OpenAI's v1 API, vLLM, Ollama, llama.cpp, any proxy that speaks
//! it) and Anthropic's messages.
//!
//! The answers are the client's models as they are, not JSON:API documents: a list of
//! [`Account`], a list of [`Model`], one inference answer ([`inference_answer`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The integrations the official client names, with their display names.
pub const INTEGRATIONS: &[(&str, &str)] = &[
    ("openai", "OpenAI"),
    ("azure_openai", "Azure OpenAI"),
    ("anthropic", "Anthropic"),
    ("llmproxy", "LLM Proxy"),
    ("amazon_bedrock", "Amazon Bedrock"),
    ("vertex_ai", "Vertex AI"),
];

/// The provider API an integration speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI's `/chat/completions`, `/models` and `/embeddings`.
    OpenAi,
    /// Anthropic's `/messages` and `/models`.
    Anthropic,
}

/// Why an integration name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationError {
    /// Not one of [`INTEGRATIONS`].
    #[error(
        "unknown integration '{0}': use openai, azure_openai, anthropic, llmproxy, \
         amazon_bedrock or vertex_ai"
    )]
    Unknown(String),
    /// Known, but no provider API for it is built in.
    #[error(
        "integration '{0}' is not supported by this server: configure an openai, azure_openai, \
         anthropic or llmproxy account (any OpenAI-compatible endpoint is an openai account)"
    )]
    Unsupported(String),
}

/// The API `integration` speaks.
pub fn wire_of(integration: &str) -> Result<Wire, IntegrationError> {
    match integration {
        "openai" | "azure_openai" | "llmproxy" => Ok(Wire::OpenAi),
        "anthropic" => Ok(Wire::Anthropic),
        other if INTEGRATIONS.iter().any(|(name, _)| *name == other) => {
            Err(IntegrationError::Unsupported(other.to_owned()))
        }
        other => Err(IntegrationError::Unknown(other.to_owned())),
    }
}

/// The display name of a known integration (the name itself otherwise).
pub fn display_name(integration: &str) -> &str {
    INTEGRATIONS.iter().find(|(name, _)| *name == integration).map_or(integration, |(_, d)| d)
}

/// `LLMObsIntegrationAccount`: one configured account. Its key is never part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    /// The account's identifier at the provider (its id in the server's file).
    pub account_id: String,
    /// Its human-readable name.
    pub account_name: String,
    /// Its region, when the file names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_region: Option<String>,
    /// The id the routes take as `{account_id}`.
    pub id: String,
    /// Its integration, e.g. `openai`.
    pub integration: String,
}

/// `LLMObsIntegrationModel`: a model an account offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Model {
    /// Always true: the list is what the account itself offers.
    pub has_access: bool,
    /// `{account id}/{model id}`.
    pub id: String,
    /// The integration.
    pub integration: String,
    /// The integration's display name.
    pub integration_display_name: String,
    /// Whether the model takes a JSON schema for structured output (OpenAI-style APIs).
    pub json_schema: bool,
    /// The model's name as shown (the provider's display name, else its id).
    pub model_display_name: String,
    /// The id inference takes as `model_id`.
    pub model_id: String,
    /// The integration again: the server knows no other provider for a model.
    pub provider: String,
    /// The provider's display name.
    pub provider_display_name: String,
}

impl Model {
    /// The entry of `model_id` (shown as `display`) offered by `account` of `integration`.
    pub fn new(integration: &str, account: &str, model_id: &str, display: Option<&str>) -> Model {
        Model {
            has_access: true,
            id: format!("{account}/{model_id}"),
            integration: integration.to_owned(),
            integration_display_name: display_name(integration).to_owned(),
            json_schema: wire_of(integration) == Ok(Wire::OpenAi),
            model_display_name: display.unwrap_or(model_id).to_owned(),
            model_id: model_id.to_owned(),
            provider: integration.to_owned(),
            provider_display_name: display_name(integration).to_owned(),
        }
    }
}

/// The models of a provider's model list (`{"data": [{"id", "display_name"?}]}`, the shape
/// of both OpenAI's and Anthropic's `GET /models`), sorted by id.
pub fn models_of(integration: &str, account: &str, list: &Value) -> Vec<Model> {
    let mut models: Vec<Model> = list
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let id = entry.get("id").and_then(Value::as_str)?;
            let display = entry.get("display_name").and_then(Value::as_str);
            Some(Model::new(integration, account, id, display))
        })
        .collect();
    models.sort_by(|a, b| a.model_id.cmp(&b.model_id));
    models
}

/// One message of an inference request (`LLMObsInferenceMessage`): text in `content`, or
/// in the `text` of `contents` blocks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// The author's role: `system`, `user` or `assistant`.
    #[serde(default)]
    pub role: Option<String>,
    /// Plain text.
    #[serde(default)]
    pub content: Option<String>,
    /// Structured blocks, `{"type", "value": {"text"}}`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub contents: Option<Vec<Value>>,
}

impl Message {
    /// The message's text: `content`, else its blocks' texts joined by newlines.
    pub fn text(&self) -> String {
        if let Some(content) = &self.content {
            return content.clone();
        }
        let texts: Vec<&str> = self
            .contents
            .iter()
            .flatten()
            .filter_map(|block| block.pointer("/value/text").and_then(Value::as_str))
            .collect();
        texts.join("\n")
    }

    /// Its role, `user` when absent.
    pub fn role(&self) -> &str {
        self.role.as_deref().filter(|r| !r.is_empty()).unwrap_or("user")
    }
}

/// `LLMObsIntegrationInferenceRequest`, the fields the server uses (the others are echoed
/// back as sent).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InferenceRequest {
    /// The conversation.
    pub messages: Vec<Message>,
    /// The model to run.
    pub model_id: String,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Most tokens to generate.
    #[serde(default)]
    pub max_tokens: Option<i64>,
    /// Most completion tokens (OpenAI's newer name).
    #[serde(default)]
    pub max_completion_tokens: Option<i64>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Top-K sampling (Anthropic).
    #[serde(default)]
    pub top_k: Option<i64>,
    /// Frequency penalty (OpenAI).
    #[serde(default)]
    pub frequency_penalty: Option<f64>,
    /// Presence penalty (OpenAI).
    #[serde(default)]
    pub presence_penalty: Option<f64>,
    /// A JSON schema, as text, the answer must follow (OpenAI's structured output).
    #[serde(default)]
    pub json_schema: Option<String>,
}

/// Why an inference request cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InferenceError {
    /// `model_id` is empty.
    #[error("model_id must name a model of the account (list them with the models route)")]
    NoModel,
    /// `messages` is empty.
    #[error("messages must hold at least one message")]
    NoMessages,
    /// `json_schema` is not a JSON object.
    #[error("json_schema must be a JSON object as text, e.g. '{{\"type\": \"object\"}}'")]
    Schema,
}

impl InferenceRequest {
    /// Checks what every provider needs.
    pub fn check(&self) -> Result<(), InferenceError> {
        if self.model_id.trim().is_empty() {
            return Err(InferenceError::NoModel);
        }
        if self.messages.is_empty() {
            return Err(InferenceError::NoMessages);
        }
        self.schema().map(|_| ())
    }

    fn schema(&self) -> Result<Option<Value>, InferenceError> {
        match self.json_schema.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(schema @ Value::Object(_)) => Ok(Some(schema)),
                _ => Err(InferenceError::Schema),
            },
        }
    }

    /// The OpenAI chat-completions body.
    pub fn openai_body(&self) -> Value {
        let messages: Vec<Value> =
            self.messages.iter().map(|m| json!({"role": m.role(), "content": m.text()})).collect();
        let mut body = Map::new();
        body.insert("model".into(), Value::from(self.model_id.clone()));
        body.insert("messages".into(), Value::Array(messages));
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                body.insert(key.into(), value);
            }
        };
        put("temperature", self.temperature.map(Value::from));
        put("max_tokens", self.max_tokens.map(Value::from));
        put("max_completion_tokens", self.max_completion_tokens.map(Value::from));
        put("top_p", self.top_p.map(Value::from));
        put("frequency_penalty", self.frequency_penalty.map(Value::from));
        put("presence_penalty", self.presence_penalty.map(Value::from));
        if let Ok(Some(schema)) = self.schema() {
            // A schema given as OpenAI's `{"name", "schema"}` wrapper is sent as it is.
            let wrapped = if schema.get("schema").is_some() {
                schema
            } else {
                json!({"name": "output", "schema": schema})
            };
            body.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": wrapped}),
            );
        }
        Value::Object(body)
    }

    /// The Anthropic messages body: system messages joined into `system`, `max_tokens`
    /// 1024 unless given.
    pub fn anthropic_body(&self) -> Value {
        let system: Vec<String> =
            self.messages.iter().filter(|m| m.role() == "system").map(Message::text).collect();
        let messages: Vec<Value> = self
            .messages
            .iter()
            .filter(|m| m.role() != "system")
            .map(|m| json!({"role": m.role(), "content": m.text()}))
            .collect();
        let mut body = Map::new();
        body.insert("model".into(), Value::from(self.model_id.clone()));
        body.insert(
            "max_tokens".into(),
            Value::from(self.max_tokens.or(self.max_completion_tokens).unwrap_or(1024)),
        );
        body.insert("messages".into(), Value::Array(messages));
        if !system.is_empty() {
            body.insert("system".into(), Value::from(system.join("\n\n")));
        }
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                body.insert(key.into(), value);
            }
        };
        put("temperature", self.temperature.map(Value::from));
        put("top_p", self.top_p.map(Value::from));
        put("top_k", self.top_k.map(Value::from));
        Value::Object(body)
    }
}

/// A model's answer, in either provider's terms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Completion {
    /// The text.
    pub content: String,
    /// Why generation stopped.
    pub finish_reason: String,
    /// Tokens read.
    pub input_tokens: i64,
    /// Tokens written.
    pub output_tokens: i64,
}

/// An answer that is not the provider's success shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the provider's answer has no {0}")]
pub struct AnswerError(pub &'static str);

impl Completion {
    /// An OpenAI chat-completions answer.
    pub fn from_openai(answer: &Value) -> Result<Completion, AnswerError> {
        let choice = answer.pointer("/choices/0").ok_or(AnswerError("choices[0]"))?;
        let content = choice.pointer("/message/content").and_then(Value::as_str);
        let usage = |key: &str| answer.pointer(&format!("/usage/{key}")).and_then(Value::as_i64);
        Ok(Completion {
            content: content.ok_or(AnswerError("choices[0].message.content"))?.to_owned(),
            finish_reason: choice
                .get("finish_reason")
                .and_then(Value::as_str)
                .unwrap_or("stop")
                .to_owned(),
            input_tokens: usage("prompt_tokens").unwrap_or(0),
            output_tokens: usage("completion_tokens").unwrap_or(0),
        })
    }

    /// An Anthropic messages answer: its text blocks joined.
    pub fn from_anthropic(answer: &Value) -> Result<Completion, AnswerError> {
        let blocks =
            answer.get("content").and_then(Value::as_array).ok_or(AnswerError("content"))?;
        let text: Vec<&str> = blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect();
        let usage = |key: &str| answer.pointer(&format!("/usage/{key}")).and_then(Value::as_i64);
        Ok(Completion {
            content: text.join(""),
            finish_reason: answer
                .get("stop_reason")
                .and_then(Value::as_str)
                .unwrap_or("end_turn")
                .to_owned(),
            input_tokens: usage("input_tokens").unwrap_or(0),
            output_tokens: usage("output_tokens").unwrap_or(0),
        })
    }
}

/// The vectors of an OpenAI `/embeddings` answer, in input order.
pub fn embeddings_of(answer: &Value, expected: usize) -> Result<Vec<Vec<f32>>, AnswerError> {
    let data = answer.get("data").and_then(Value::as_array).ok_or(AnswerError("data"))?;
    let mut out: Vec<(i64, Vec<f32>)> = Vec::with_capacity(data.len());
    for (position, item) in data.iter().enumerate() {
        let vector = item.get("embedding").and_then(Value::as_array);
        let vector = vector.ok_or(AnswerError("data[].embedding"))?;
        let index = item.get("index").and_then(Value::as_i64).unwrap_or(position as i64);
        out.push((index, vector.iter().map(|x| x.as_f64().unwrap_or(0.0) as f32).collect()));
    }
    if out.len() != expected {
        return Err(AnswerError("embedding for every input"));
    }
    out.sort_by_key(|(index, _)| *index);
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// The answer of the inference route (`LLMObsIntegrationInferenceResponse`): the request's
/// attributes as sent, with `response` (`LLMObsInferenceRunResult`) and, when the provider
/// failed, `error_response` (`{type, message}`) and an empty result.
pub fn inference_answer(
    request: Map<String, Value>,
    outcome: Result<&Completion, (&str, &str)>,
    latency_ms: i64,
) -> Value {
    let mut answer = request;
    let empty = Completion { finish_reason: "error".into(), ..Completion::default() };
    let completion = match outcome {
        Ok(completion) => completion,
        Err((kind, message)) => {
            answer.insert("error_response".into(), json!({"type": kind, "message": message}));
            &empty
        }
    };
    answer.insert(
        "response".into(),
        json!({
            "assessment": null,
            "content": completion.content,
            "finish_reason": completion.finish_reason,
            "inference_codes": [],
            "input_tokens": completion.input_tokens,
            "latency": latency_ms,
            "output_tokens": completion.output_tokens,
            "tools": [],
            "total_tokens": completion.input_tokens + completion.output_tokens,
        }),
    );
    Value::Object(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrations_map_to_their_wire() {
        assert_eq!(wire_of("llmproxy"), Ok(Wire::OpenAi));
        assert_eq!(wire_of("anthropic"), Ok(Wire::Anthropic));
        assert!(matches!(wire_of("vertex_ai"), Err(IntegrationError::Unsupported(_))));
        assert!(matches!(wire_of("cohere"), Err(IntegrationError::Unknown(_))));
    }

    #[test]
    fn requests_translate_to_both_providers() {
        let request: InferenceRequest = serde_json::from_value(json!({
            "model_id": "m", "temperature": 0.5, "top_k": 3, "json_schema": "{\"type\": \"object\"}",
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "contents": [{"type": "text", "value": {"text": "Hi"}}]}]
        }))
        .unwrap();
        request.check().unwrap();
        assert_eq!(
            request.openai_body(),
            json!({"model": "m", "messages": [{"role": "system", "content": "Be brief."},
                   {"role": "user", "content": "Hi"}], "temperature": 0.5,
                   "response_format": {"type": "json_schema",
                   "json_schema": {"name": "output", "schema": {"type": "object"}}}})
        );
        assert_eq!(
            request.anthropic_body(),
            json!({"model": "m", "max_tokens": 1024, "messages": [{"role": "user", "content": "Hi"}],
                   "system": "Be brief.", "temperature": 0.5, "top_k": 3})
        );
        let bad = InferenceRequest { json_schema: Some("[1]".into()), ..request };
        assert_eq!(bad.check(), Err(InferenceError::Schema));
    }

    #[test]
    fn answers_read_from_both_providers() {
        let openai = json!({"choices": [{"finish_reason": "length", "message": {"content": "x"}}],
                            "usage": {"prompt_tokens": 3, "completion_tokens": 4}});
        let done = Completion::from_openai(&openai).unwrap();
        assert_eq!((done.content.as_str(), done.input_tokens, done.output_tokens), ("x", 3, 4));
        let anthropic = json!({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                               "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 2}});
        assert_eq!(Completion::from_anthropic(&anthropic).unwrap().content, "ab");
        assert!(Completion::from_openai(&json!({"error": {}})).is_err());
        let vectors = embeddings_of(
            &json!({"data": [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}]}),
            2,
        )
        .unwrap();
        assert_eq!(vectors, vec![vec![1.0], vec![2.0]]);
    }
}
