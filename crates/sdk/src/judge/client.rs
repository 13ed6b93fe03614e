//! The model behind a judge: the [`JudgeClient`] trait, what it is asked
//! ([`JudgeRequest`], [`JudgeMessage`]) and [`OpenAiClient`] for OpenAI-compatible
//! chat-completions APIs.

use std::future::Future;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::value_error;
use crate::api::retry_after;
use crate::evaluators::{BoxFuture, CallError};
use crate::{Error, Result};

/// The OpenAI API.
const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// One chat message sent to the judge's model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgeMessage {
    /// `system` or `user`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl JudgeMessage {
    /// A message with `role` and `content`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        JudgeMessage { role: role.into(), content: content.into() }
    }
}

/// What a [`JudgeClient`] is asked: the reference client's `LLMClient` arguments
/// `(provider, messages, json_schema, model, model_params)`.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeRequest {
    /// The judge's provider name (`openai`, …), when it has one.
    pub provider: Option<String>,
    /// An optional `system` message, then the rendered `user` message.
    pub messages: Vec<JudgeMessage>,
    /// The JSON schema the reply must follow, when the judge has a structured output.
    pub json_schema: Option<Value>,
    /// The model.
    pub model: String,
    /// Extra request parameters (`temperature`, …), when the judge has some.
    pub model_params: Option<Map<String, Value>>,
}

/// Sends a judge's prompt to a model and returns the reply text.
///
/// Implemented by [`OpenAiClient`] and by any
/// `Fn(JudgeRequest) -> impl Future<Output = Result<String, CallError>>` closure, so a
/// test or another provider's API can be plugged in.
pub trait JudgeClient: Send + Sync + 'static {
    /// The model's reply text (the JSON text of the reply when a schema is given).
    fn complete(&self, request: JudgeRequest) -> BoxFuture<'_, Result<String, CallError>>;
}

impl<F, Fut> JudgeClient for F
where
    F: Fn(JudgeRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, CallError>> + Send + 'static,
{
    fn complete(&self, request: JudgeRequest) -> BoxFuture<'_, Result<String, CallError>> {
        Box::pin(self(request))
    }
}

/// A [`JudgeClient`] for OpenAI's chat-completions API or any compatible endpoint (vLLM,
/// Ollama, LiteLLM, a local mock): `POST {base_url}/chat/completions` with a bearer key.
///
/// The body is `{"model", "messages", ...model_params}` and, when a schema is given,
/// `response_format: {"type": "json_schema", "json_schema": {"name": "evaluation",
/// "strict": true, "schema": …}}`, as the reference client's OpenAI adapter sends. The
/// reply is `choices[0].message.content` (empty when absent). Connection failures, 408,
/// 409, 429 and 5xx are retried (2 retries by default, honouring `Retry-After` up to a
/// minute and `x-should-retry`), as the `openai` Python package does.
///
/// Errors carry the `openai` package's class names as their kind: `BadRequestError`,
/// `AuthenticationError`, `PermissionDeniedError`, `NotFoundError`, `ConflictError`,
/// `UnprocessableEntityError`, `RateLimitError` (with the `Retry-After` wait),
/// `InternalServerError`, `APIStatusError`, `APIConnectionError`, `APITimeoutError`,
/// `APIResponseValidationError`.
#[derive(Clone)]
pub struct OpenAiClient {
    http: std::result::Result<reqwest::Client, String>,
    base_url: String,
    api_key: String,
    timeout: Duration,
    max_retries: u32,
    headers: Vec<(String, String)>,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

impl OpenAiClient {
    /// A client of `https://api.openai.com/v1` with `api_key`; 600 s timeout, 2 retries.
    pub fn new(api_key: impl Into<String>) -> Self {
        crate::client::install_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {err}"));
        OpenAiClient {
            http,
            base_url: OPENAI_BASE_URL.to_owned(),
            api_key: api_key.into(),
            timeout: Duration::from_secs(600),
            max_retries: 2,
            headers: Vec::new(),
        }
    }

    /// A client from `OPENAI_API_KEY` (required) and `OPENAI_BASE_URL` (optional), as
    /// the `openai` package reads them.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `OPENAI_API_KEY` is unset or empty.
    pub fn from_env() -> Result<Self> {
        let key =
            std::env::var("OPENAI_API_KEY").ok().filter(|k| !k.is_empty()).ok_or_else(|| {
                Error::Config(
                    "OpenAI API key not provided. Pass a client (OpenAiClient::new) or set \
                     OPENAI_API_KEY environment variable"
                        .into(),
                )
            })?;
        let client = OpenAiClient::new(key);
        Ok(match std::env::var("OPENAI_BASE_URL").ok().filter(|u| !u.trim().is_empty()) {
            Some(url) => client.base_url(url),
            None => client,
        })
    }

    /// The API's base URL, such as `http://127.0.0.1:8000/v1` (the client appends
    /// `/chat/completions`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim().trim_end_matches('/').to_owned();
        self
    }

    /// The time limit of one attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries after the first attempt (0 for none).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// An extra header on every request (`OpenAI-Organization`, `api-key`, …).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The request body for `request` (see the type's documentation).
    pub fn request_body(request: &JudgeRequest) -> Value {
        let schema = request.json_schema.as_ref().filter(|s| truthy_schema(s));
        llmobs_core::judge::chat_request(
            Value::String(request.model.clone()),
            request.messages.iter().map(|m| (m.role.as_str(), m.content.as_str())),
            schema.map(|schema| json!({"name": "evaluation", "strict": true, "schema": schema})),
            request.model_params.as_ref().unwrap_or(&Map::new()),
        )
    }

    async fn call(&self, request: JudgeRequest) -> Result<String, CallError> {
        let http = self.http.as_ref().map_err(|e| CallError::new(e).kind("APIConnectionError"))?;
        let body = serde_json::to_vec(&Self::request_body(&request))
            .map_err(|e| value_error(format!("cannot encode the request: {e}")))?;
        let url = format!("{}/chat/completions", self.base_url);
        let mut retries = 0;
        loop {
            let mut builder = http
                .post(&url)
                .timeout(self.timeout)
                .header(CONTENT_TYPE, "application/json")
                .header(AUTHORIZATION, format!("Bearer {}", self.api_key));
            for (name, value) in &self.headers {
                builder = builder.header(name, value);
            }
            let can_retry = retries < self.max_retries;
            match builder.body(body.clone()).send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let wait = retry_after(&headers).filter(|w| *w <= Duration::from_secs(60));
                    let should_retry =
                        match headers.get("x-should-retry").and_then(|v| v.to_str().ok()) {
                            Some("true") => true,
                            Some("false") => false,
                            _ => matches!(status, 408 | 409 | 429) || status >= 500,
                        };
                    if !(200..300).contains(&status) && should_retry && can_retry {
                        tokio::time::sleep(wait.unwrap_or_else(|| backoff(retries))).await;
                        retries += 1;
                        continue;
                    }
                    let bytes = response.bytes().await.map_err(|e| {
                        CallError::new(format!("could not read the response: {e}"))
                            .kind("APIConnectionError")
                    })?;
                    if !(200..300).contains(&status) {
                        let text = String::from_utf8_lossy(&bytes);
                        let mut error =
                            CallError::new(format!("Error code: {status} - {}", text.trim()))
                                .kind(status_class(status));
                        if let Some(wait) = retry_after(&headers).filter(|_| status == 429) {
                            error = error.retry_after(wait);
                        }
                        return Err(error);
                    }
                    let answer: Value = serde_json::from_slice(&bytes).map_err(|e| {
                        CallError::new(format!("the response is not JSON: {e}"))
                            .kind("APIResponseValidationError")
                    })?;
                    let content = answer.pointer("/choices/0/message/content");
                    return Ok(content.and_then(Value::as_str).unwrap_or_default().to_owned());
                }
                Err(err) if can_retry => {
                    tracing::debug!(error = %err, "retrying the judge's request");
                    tokio::time::sleep(backoff(retries)).await;
                    retries += 1;
                }
                Err(err) => {
                    let kind =
                        if err.is_timeout() { "APITimeoutError" } else { "APIConnectionError" };
                    let message = if err.is_timeout() {
                        "Request timed out.".to_owned()
                    } else {
                        format!("Connection error: {}", crate::error::transport_text(&err))
                    };
                    return Err(CallError::new(message).kind(kind));
                }
            }
        }
    }
}

impl JudgeClient for OpenAiClient {
    fn complete(&self, request: JudgeRequest) -> BoxFuture<'_, Result<String, CallError>> {
        Box::pin(self.call(request))
    }
}

/// The `openai` package's wait before retry `n`: `min(0.5·2ⁿ, 8)` s less up to 25 %.
fn backoff(retries: u32) -> Duration {
    let base = (0.5 * 2f64.powi(retries as i32)).min(8.0);
    Duration::from_secs_f64(base * (1.0 - 0.25 * fastrand::f64()))
}

/// The `openai` package's exception class for an HTTP status.
fn status_class(status: u16) -> &'static str {
    match status {
        400 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        409 => "ConflictError",
        422 => "UnprocessableEntityError",
        429 => "RateLimitError",
        500.. => "InternalServerError",
        _ => "APIStatusError",
    }
}

/// Python truthiness of a schema: `None` and `{}` are false.
fn truthy_schema(schema: &Value) -> bool {
    match schema {
        Value::Null => false,
        Value::Object(map) => !map.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_bodies_follow_the_reference_adapter() {
        let request = JudgeRequest {
            provider: Some("openai".into()),
            messages: vec![JudgeMessage::new("user", "hi")],
            json_schema: Some(json!({"type": "object"})),
            model: "gpt".into(),
            model_params: Some(
                json!({"temperature": 0.2, "model": "override"}).as_object().unwrap().clone(),
            ),
        };
        assert_eq!(
            OpenAiClient::request_body(&request),
            json!({"model": "override", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2,
                   "response_format": {"type": "json_schema", "json_schema":
                       {"name": "evaluation", "strict": true, "schema": {"type": "object"}}}})
        );
        let request = JudgeRequest { json_schema: Some(json!({})), model_params: None, ..request };
        assert!(OpenAiClient::request_body(&request).get("response_format").is_none());
    }
}
