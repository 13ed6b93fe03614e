//! LLM-as-a-judge evaluators (spec §5.7): [`LLMJudge`], its structured outputs, a
//! pluggable [`JudgeClient`] with an OpenAI-compatible implementation, and
//! [`Client::publish_evaluator`] (E14), which stores a judge on the server so that
//! remote inference (E13) can run it.
//!
//! ```no_run
//! use llmobs::{BooleanStructuredOutput, Client, LLMJudge, OpenAiClient};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let judge = LLMJudge::builder("Is {{output_data}} a correct answer to {{input_data.question}}?")
//!     .system_prompt("You are a strict grader.")
//!     .structured_output(
//!         BooleanStructuredOutput::new("Whether the answer is correct").reasoning(true).pass_when(true),
//!     )
//!     .provider("openai")
//!     .model("gpt-4o-mini")
//!     .client(OpenAiClient::from_env()?)
//!     .name("correctness")
//!     .build()?;
//! // As an evaluator: `client.experiment(...).evaluator_impl(judge.clone())`.
//! let client = Client::from_env()?;
//! let ui_url = client.publish_evaluator(&judge, "my-agent").await?;
//! println!("{ui_url}");
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use llmobs_core::pyjson;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value, json};

use crate::api::{JSON_TIMEOUT, UNSTABLE, error_detail, json_body, retry_after};
use crate::evaluators::{
    Assessment, BoxFuture, CallError, Evaluation, Evaluator, EvaluatorContext, EvaluatorResult,
    valid_name,
};
use crate::{Client, Error, Result};

/// The providers the reference client knows, in its order.
pub const PROVIDERS: [&str; 5] = ["openai", "anthropic", "azure_openai", "vertexai", "bedrock"];

/// The label of a judge built without a name (the reference client's class name).
const DEFAULT_NAME: &str = "LLMJudge";
/// The reasoning description when none is given.
const DEFAULT_REASONING_DESCRIPTION: &str = "Explanation for the evaluation result";
/// The OpenAI API.
const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

fn value_error(message: impl Into<String>) -> CallError {
    CallError::new(message).kind("ValueError")
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::InvalidRequest { detail: detail.into() }
}

// ---------------------------------------------------------------------------------------
// The LLM client
// ---------------------------------------------------------------------------------------

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
        let mut body = Map::new();
        body.insert("model".into(), Value::String(request.model.clone()));
        body.insert("messages".into(), json!(request.messages));
        if let Some(params) = &request.model_params {
            for (key, value) in params {
                body.insert(key.clone(), value.clone());
            }
        }
        if let Some(schema) = request.json_schema.as_ref().filter(|s| truthy_schema(s)) {
            body.insert(
                "response_format".into(),
                json!({"type": "json_schema",
                       "json_schema": {"name": "evaluation", "strict": true, "schema": schema}}),
            );
        }
        Value::Object(body)
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

// ---------------------------------------------------------------------------------------
// Structured outputs
// ---------------------------------------------------------------------------------------

/// A number for a score range or threshold: integers stay integers and floats stay
/// floats in the schema and in the published criteria, as Python's `int` and `float` do.
pub trait IntoNumber {
    /// The JSON number.
    ///
    /// # Panics
    ///
    /// Panics for a NaN or infinite float, which JSON cannot carry.
    fn into_number(self) -> Number;
}

macro_rules! integer_numbers {
    ($($ty:ty),*) => {$(
        impl IntoNumber for $ty {
            fn into_number(self) -> Number {
                Number::from(self)
            }
        }
    )*};
}
integer_numbers!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl IntoNumber for f64 {
    fn into_number(self) -> Number {
        Number::from_f64(self).expect("a score bound or threshold must be a finite number")
    }
}

impl IntoNumber for f32 {
    fn into_number(self) -> Number {
        f64::from(self).into_number()
    }
}

impl IntoNumber for Number {
    fn into_number(self) -> Number {
        self
    }
}

/// A `true` / `false` verdict, labelled `boolean_eval` (reference:
/// `BooleanStructuredOutput`). With [`pass_when`](Self::pass_when), the assessment is
/// `pass` when the verdict equals it.
#[derive(Debug, Clone, PartialEq)]
pub struct BooleanStructuredOutput {
    /// What the verdict means (the schema's description).
    pub description: String,
    /// Ask for a `reasoning` string too.
    pub reasoning: bool,
    /// The description of `reasoning` (default: "Explanation for the evaluation result").
    pub reasoning_description: Option<String>,
    /// The passing verdict.
    pub pass_when: Option<bool>,
}

impl BooleanStructuredOutput {
    /// A verdict described by `description`, without reasoning or criteria.
    pub fn new(description: impl Into<String>) -> Self {
        BooleanStructuredOutput {
            description: description.into(),
            reasoning: false,
            reasoning_description: None,
            pass_when: None,
        }
    }

    /// Asks for a `reasoning` string.
    pub fn reasoning(mut self, on: bool) -> Self {
        self.reasoning = on;
        self
    }

    /// Describes the `reasoning` property.
    pub fn reasoning_description(mut self, description: impl Into<String>) -> Self {
        self.reasoning_description = Some(description.into());
        self
    }

    /// The verdict that passes.
    pub fn pass_when(mut self, verdict: bool) -> Self {
        self.pass_when = Some(verdict);
        self
    }
}

/// A number between `min_score` and `max_score`, labelled `score_eval` (reference:
/// `ScoreStructuredOutput`).
///
/// Assessment: with both thresholds and `max_threshold >= min_threshold`, pass inside
/// `[min, max]`; with `max_threshold < min_threshold`, pass outside `(max, min)`; with
/// one threshold, pass when `>= min_threshold` or `<= max_threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreStructuredOutput {
    /// What the score means.
    pub description: String,
    /// The schema's `minimum`.
    pub min_score: Number,
    /// The schema's `maximum`.
    pub max_score: Number,
    /// Ask for a `reasoning` string too.
    pub reasoning: bool,
    /// The description of `reasoning`.
    pub reasoning_description: Option<String>,
    /// See the type's documentation.
    pub min_threshold: Option<Number>,
    /// See the type's documentation.
    pub max_threshold: Option<Number>,
}

impl ScoreStructuredOutput {
    /// A score in `[min_score, max_score]` described by `description`.
    ///
    /// # Panics
    ///
    /// Panics when a bound is a NaN or infinite float.
    pub fn new(
        description: impl Into<String>,
        min_score: impl IntoNumber,
        max_score: impl IntoNumber,
    ) -> Self {
        ScoreStructuredOutput {
            description: description.into(),
            min_score: min_score.into_number(),
            max_score: max_score.into_number(),
            reasoning: false,
            reasoning_description: None,
            min_threshold: None,
            max_threshold: None,
        }
    }

    /// Asks for a `reasoning` string.
    pub fn reasoning(mut self, on: bool) -> Self {
        self.reasoning = on;
        self
    }

    /// Describes the `reasoning` property.
    pub fn reasoning_description(mut self, description: impl Into<String>) -> Self {
        self.reasoning_description = Some(description.into());
        self
    }

    /// The lower threshold (see the type's documentation).
    ///
    /// # Panics
    ///
    /// Panics for a NaN or infinite float.
    pub fn min_threshold(mut self, threshold: impl IntoNumber) -> Self {
        self.min_threshold = Some(threshold.into_number());
        self
    }

    /// The upper threshold (see the type's documentation).
    ///
    /// # Panics
    ///
    /// Panics for a NaN or infinite float.
    pub fn max_threshold(mut self, threshold: impl IntoNumber) -> Self {
        self.max_threshold = Some(threshold.into_number());
        self
    }

    fn assess(&self, score: f64) -> Option<bool> {
        let min = self.min_threshold.as_ref().and_then(Number::as_f64);
        let max = self.max_threshold.as_ref().and_then(Number::as_f64);
        match (min, max) {
            (Some(min), Some(max)) if max >= min => Some(min <= score && score <= max),
            (Some(min), Some(max)) => Some(score < max || score > min),
            (Some(min), None) => Some(score >= min),
            (None, Some(max)) => Some(score <= max),
            (None, None) => None,
        }
    }
}

/// One of a set of categories, labelled `categorical_eval` (reference:
/// `CategoricalStructuredOutput`). With [`pass_values`](Self::pass_values), the
/// assessment is `pass` when the category is one of them.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalStructuredOutput {
    /// `(value, description)` pairs, in order, values unique.
    pub categories: Vec<(String, String)>,
    /// Ask for a `reasoning` string too.
    pub reasoning: bool,
    /// The description of `reasoning`.
    pub reasoning_description: Option<String>,
    /// The passing categories.
    pub pass_values: Option<Vec<String>>,
}

impl CategoricalStructuredOutput {
    /// Categories as `(value, description)` pairs. A repeated value keeps its first
    /// position and its last description, as a Python dict literal does.
    pub fn new<K: Into<String>, V: Into<String>>(
        categories: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (value, description) in categories {
            let (value, description) = (value.into(), description.into());
            match pairs.iter_mut().find(|(v, _)| *v == value) {
                Some(pair) => pair.1 = description,
                None => pairs.push((value, description)),
            }
        }
        CategoricalStructuredOutput {
            categories: pairs,
            reasoning: false,
            reasoning_description: None,
            pass_values: None,
        }
    }

    /// Asks for a `reasoning` string.
    pub fn reasoning(mut self, on: bool) -> Self {
        self.reasoning = on;
        self
    }

    /// Describes the `reasoning` property.
    pub fn reasoning_description(mut self, description: impl Into<String>) -> Self {
        self.reasoning_description = Some(description.into());
        self
    }

    /// The categories that pass.
    pub fn pass_values<S: Into<String>>(mut self, values: impl IntoIterator<Item = S>) -> Self {
        self.pass_values = Some(values.into_iter().map(Into::into).collect());
        self
    }
}

/// What a judge's reply must look like.
///
/// The three kinds build a schema `{"type": "object", "properties": {<label>: …,
/// "reasoning"?: …}, "required": [<label>, "reasoning"?], "additionalProperties": false}`
/// and turn the reply into an [`EvaluatorResult`] with the labelled value, the reasoning
/// (when asked for), an assessment (when criteria are set) and `metadata.raw_response`.
/// [`JsonSchema`](Self::JsonSchema) is sent as given and its whole reply becomes the
/// value.
#[derive(Debug, Clone, PartialEq)]
pub enum StructuredOutput {
    /// A `true` / `false` verdict.
    Boolean(BooleanStructuredOutput),
    /// A number in a range.
    Score(ScoreStructuredOutput),
    /// One of a set of categories.
    Categorical(CategoricalStructuredOutput),
    /// Any JSON schema (published with `parsing_type: "json"`).
    JsonSchema(Map<String, Value>),
}

impl From<BooleanStructuredOutput> for StructuredOutput {
    fn from(output: BooleanStructuredOutput) -> Self {
        StructuredOutput::Boolean(output)
    }
}

impl From<ScoreStructuredOutput> for StructuredOutput {
    fn from(output: ScoreStructuredOutput) -> Self {
        StructuredOutput::Score(output)
    }
}

impl From<CategoricalStructuredOutput> for StructuredOutput {
    fn from(output: CategoricalStructuredOutput) -> Self {
        StructuredOutput::Categorical(output)
    }
}

impl From<Map<String, Value>> for StructuredOutput {
    fn from(schema: Map<String, Value>) -> Self {
        StructuredOutput::JsonSchema(schema)
    }
}

impl StructuredOutput {
    /// The property holding the value: `boolean_eval`, `score_eval`, `categorical_eval`;
    /// `None` for a raw schema.
    pub fn label(&self) -> Option<&'static str> {
        match self {
            StructuredOutput::Boolean(_) => Some("boolean_eval"),
            StructuredOutput::Score(_) => Some("score_eval"),
            StructuredOutput::Categorical(_) => Some("categorical_eval"),
            StructuredOutput::JsonSchema(_) => None,
        }
    }

    fn reasoning(&self) -> Option<(bool, Option<&str>)> {
        match self {
            StructuredOutput::Boolean(o) => Some((o.reasoning, o.reasoning_description.as_deref())),
            StructuredOutput::Score(o) => Some((o.reasoning, o.reasoning_description.as_deref())),
            StructuredOutput::Categorical(o) => {
                Some((o.reasoning, o.reasoning_description.as_deref()))
            }
            StructuredOutput::JsonSchema(_) => None,
        }
    }

    /// The JSON schema the model is asked to follow.
    pub fn to_json_schema(&self) -> Value {
        let label_schema = match self {
            StructuredOutput::Boolean(o) => {
                json!({"type": "boolean", "description": o.description})
            }
            StructuredOutput::Score(o) => json!({"type": "number", "description": o.description,
                                                 "minimum": o.min_score, "maximum": o.max_score}),
            StructuredOutput::Categorical(o) => {
                let any_of: Vec<Value> = o
                    .categories
                    .iter()
                    .map(|(value, description)| json!({"const": value, "description": description}))
                    .collect();
                json!({"type": "string", "anyOf": any_of})
            }
            StructuredOutput::JsonSchema(schema) => return Value::Object(schema.clone()),
        };
        let label = self.label().unwrap_or_default();
        let mut properties = Map::new();
        properties.insert(label.to_owned(), label_schema);
        let mut required = vec![Value::from(label)];
        if let Some((true, description)) = self.reasoning() {
            let description =
                description.filter(|d| !d.is_empty()).unwrap_or(DEFAULT_REASONING_DESCRIPTION);
            properties
                .insert("reasoning".into(), json!({"type": "string", "description": description}));
            required.push(Value::from("reasoning"));
        }
        json!({"type": "object", "properties": properties, "required": required,
               "additionalProperties": false})
    }

    /// The criteria published with the judge: `pass_when`, `min_threshold` /
    /// `max_threshold`, or `pass_values`; `None` when there are none.
    pub fn assessment_criteria(&self) -> Option<Map<String, Value>> {
        let mut criteria = Map::new();
        match self {
            StructuredOutput::Boolean(o) => {
                if let Some(pass_when) = o.pass_when {
                    criteria.insert("pass_when".into(), Value::Bool(pass_when));
                }
            }
            StructuredOutput::Score(o) => {
                if let Some(min) = &o.min_threshold {
                    criteria.insert("min_threshold".into(), Value::Number(min.clone()));
                }
                if let Some(max) = &o.max_threshold {
                    criteria.insert("max_threshold".into(), Value::Number(max.clone()));
                }
            }
            StructuredOutput::Categorical(o) => {
                if let Some(values) = &o.pass_values {
                    criteria.insert("pass_values".into(), json!(values));
                }
            }
            StructuredOutput::JsonSchema(_) => {}
        }
        (!criteria.is_empty()).then_some(criteria)
    }

    /// The assessment of a value of the right type: `None` without criteria.
    pub fn assess(&self, value: &Value) -> Option<Assessment> {
        let passed = match self {
            StructuredOutput::Boolean(o) => o.pass_when.map(|p| value.as_bool() == Some(p)),
            StructuredOutput::Categorical(o) => o
                .pass_values
                .as_ref()
                .map(|values| value.as_str().is_some_and(|v| values.iter().any(|p| p == v))),
            StructuredOutput::Score(o) => value.as_f64().and_then(|score| o.assess(score)),
            StructuredOutput::JsonSchema(_) => None,
        }?;
        Some(if passed { Assessment::Pass } else { Assessment::Fail })
    }

    /// Turns the model's reply into a result (spec §5.7).
    ///
    /// # Errors
    ///
    /// `ValueError` when the reply is empty, not JSON, not a JSON object, or when the
    /// labelled property is missing or of the wrong type (`Expected boolean, got str`).
    pub fn parse(&self, response: &str) -> Result<EvaluatorResult, CallError> {
        if response.is_empty() {
            return Err(value_error("Invalid response: expected non-empty string"));
        }
        let data: Value = serde_json::from_str(response)
            .map_err(|e| value_error(format!("Invalid JSON response: {e}")))?;
        let Value::Object(object) = &data else {
            return Err(value_error(format!(
                "Invalid JSON response: expected object, got {}",
                py_type(&data)
            )));
        };
        let reasoning_of = || object.get("reasoning").and_then(reasoning_text);
        let Some(label) = self.label() else {
            let mut result = EvaluatorResult::new(data.clone());
            result.reasoning = reasoning_of();
            return Ok(result);
        };
        let value = object.get(label).cloned().unwrap_or(Value::Null);
        let expected = match self {
            StructuredOutput::Boolean(_) if !value.is_boolean() => Some("boolean"),
            StructuredOutput::Score(_) if !value.is_number() => Some("number"),
            StructuredOutput::Categorical(_) if !value.is_string() => Some("string"),
            _ => None,
        };
        if let Some(expected) = expected {
            return Err(value_error(format!("Expected {expected}, got {}", py_type(&value))));
        }
        let mut result = EvaluatorResult::new(value.clone());
        result.assessment = self.assess(&value);
        if matches!(self.reasoning(), Some((true, _))) {
            result.reasoning = reasoning_of();
        }
        result.metadata.insert("raw_response".into(), data.clone());
        Ok(result)
    }

    /// Python truthiness: an empty raw schema counts as no structured output.
    fn is_set(&self) -> bool {
        !matches!(self, StructuredOutput::JsonSchema(schema) if schema.is_empty())
    }
}

/// The reasoning of a reply: its text, or the JSON of another non-null value.
fn reasoning_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// Python's type name of a decoded JSON value.
fn py_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

// ---------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------

/// Python's `str.isspace()`, which `str.strip()` and the regex `\s` use: Unicode
/// whitespace plus the separators U+001C–U+001F.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The value of a dotted `path` in the context; `None` when missing.
fn resolve<'a>(path: &str, context: &'a EvaluatorContext) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = match parts.next()? {
        "input_data" => &context.input,
        "output_data" => &context.output,
        "expected_output" => &context.expected_output,
        "metadata" => &context.metadata,
        _ => return None,
    };
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// Renders `{{path}}` placeholders (spec §5.7): the reference's `\{\{(.+?)\}\}` (the
/// shortest non-empty text on one line), the path stripped, resolved against the
/// context's fields and dotted into objects; objects and lists as `json.dumps(indent=2)`,
/// other values as Python's `str()`, missing values and `null` as empty text.
pub(crate) fn render(template: &str, context: &EvaluatorContext) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(end) = placeholder_end(after) else {
            // No placeholder starts here: keep one `{` and look again from the next one.
            out.push('{');
            rest = &rest[open + 1..];
            continue;
        };
        let path = after[..end].trim_matches(py_space);
        match path_value(path, context) {
            Some(value @ (Value::Object(_) | Value::Array(_))) => {
                out.push_str(&pyjson::dumps_indent(&value, 2))
            }
            Some(value) => out.push_str(&pyjson::str_of(&value)),
            None => {}
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The context value a path names, `None` for missing values and `null`.
fn path_value(path: &str, context: &EvaluatorContext) -> Option<Value> {
    let ids = |id: &str| (!id.is_empty()).then(|| Value::String(id.to_owned()));
    let value = match path {
        "span_id" => ids(&context.span_id),
        "trace_id" => ids(&context.trace_id),
        _ => resolve(path, context).cloned(),
    };
    value.filter(|v| !v.is_null())
}

/// Where the `}}` closing a placeholder whose text starts `after` is: at least one
/// character, no line break before it.
fn placeholder_end(after: &str) -> Option<usize> {
    let first = after.chars().next().filter(|c| *c != '\n')?;
    let start = first.len_utf8();
    let end = start + after[start..].find("}}")?;
    (!after[..end].contains('\n')).then_some(end)
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
        let inner = rest[open + 2..].trim_start_matches(py_space);
        let found = mapping.iter().find_map(|(key, value)| {
            let tail = inner.strip_prefix(key.as_str())?.trim_start_matches(py_space);
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

// ---------------------------------------------------------------------------------------
// The judge
// ---------------------------------------------------------------------------------------

/// An evaluator that asks a model to grade each record (reference: `LLMJudge`).
///
/// Build it with [`LLMJudge::builder`]. The user prompt is a template: `{{input_data}}`,
/// `{{output_data}}`, `{{expected_output}}`, `{{metadata}}`, `{{span_id}}`,
/// `{{trace_id}}` and dotted paths into objects (`{{input_data.question}}`,
/// `{{metadata.experiment_config.model}}`) are replaced by the record's values; objects
/// and lists are inserted as 2-space-indented JSON and missing values as empty text. The
/// system prompt is sent as is.
///
/// It implements [`Evaluator`], so it plugs into
/// [`ExperimentBuilder::evaluator_impl`](crate::ExperimentBuilder::evaluator_impl). With a
/// [`StructuredOutput`] the result is an [`EvaluatorResult`] (see
/// [`StructuredOutput::parse`]); without one, the reply text. Failures are
/// [`CallError`]s: `ValueError` for a missing model or an unusable reply, or the
/// client's own error.
///
/// [`Client::publish_evaluator`] stores it on the server for remote inference.
#[derive(Clone)]
pub struct LLMJudge {
    name: String,
    user_prompt: String,
    system_prompt: Option<String>,
    structured_output: Option<StructuredOutput>,
    provider: Option<String>,
    model: Option<String>,
    model_params: Option<Map<String, Value>>,
    client: Option<Arc<dyn JudgeClient>>,
}

impl std::fmt::Debug for LLMJudge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LLMJudge")
            .field("name", &self.name)
            .field("user_prompt", &self.user_prompt)
            .field("system_prompt", &self.system_prompt)
            .field("structured_output", &self.structured_output)
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("model_params", &self.model_params)
            .field("client", &self.client.is_some())
            .finish()
    }
}

/// Builds an [`LLMJudge`]; see [`LLMJudge::builder`].
#[derive(Clone)]
pub struct LLMJudgeBuilder {
    user_prompt: String,
    system_prompt: Option<String>,
    structured_output: Option<StructuredOutput>,
    provider: Option<String>,
    model: Option<String>,
    model_params: Option<Map<String, Value>>,
    client: Option<Arc<dyn JudgeClient>>,
    name: Option<String>,
}

impl std::fmt::Debug for LLMJudgeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LLMJudgeBuilder")
            .field("user_prompt", &self.user_prompt)
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl LLMJudge {
    /// Starts a judge whose user prompt is the template `user_prompt`.
    pub fn builder(user_prompt: impl Into<String>) -> LLMJudgeBuilder {
        LLMJudgeBuilder {
            user_prompt: user_prompt.into(),
            system_prompt: None,
            structured_output: None,
            provider: None,
            model: None,
            model_params: None,
            client: None,
            name: None,
        }
    }

    /// The user prompt template.
    pub fn user_prompt(&self) -> &str {
        &self.user_prompt
    }

    /// The system prompt.
    pub fn system_prompt(&self) -> Option<&str> {
        self.system_prompt.as_deref()
    }

    /// The structured output.
    pub fn structured_output(&self) -> Option<&StructuredOutput> {
        self.structured_output.as_ref()
    }

    /// The provider name.
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// The model.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The extra request parameters.
    pub fn model_params(&self) -> Option<&Map<String, Value>> {
        self.model_params.as_ref()
    }

    /// The user prompt rendered for `context`.
    pub fn render_user_prompt(&self, context: &EvaluatorContext) -> String {
        render(&self.user_prompt, context)
    }

    /// What the client is asked for `context`.
    ///
    /// # Errors
    ///
    /// `ValueError` when the judge has no model.
    pub fn request_for(&self, context: &EvaluatorContext) -> Result<JudgeRequest, CallError> {
        let model = self.model.clone().ok_or_else(|| value_error("model must be specified"))?;
        let mut messages = Vec::with_capacity(2);
        if let Some(system) = self.system_prompt.as_deref().filter(|s| !s.is_empty()) {
            messages.push(JudgeMessage::new("system", system));
        }
        messages.push(JudgeMessage::new("user", self.render_user_prompt(context)));
        let json_schema = self.active_output().map(StructuredOutput::to_json_schema);
        Ok(JudgeRequest {
            provider: self.provider.clone(),
            messages,
            json_schema,
            model,
            model_params: self.model_params.clone(),
        })
    }

    fn active_output(&self) -> Option<&StructuredOutput> {
        self.structured_output.as_ref().filter(|o| o.is_set())
    }

    async fn run(&self, context: &EvaluatorContext) -> Result<Evaluation, CallError> {
        let request = self.request_for(context)?;
        let client = self.client.as_ref().ok_or_else(|| {
            value_error(format!(
                "provider '{}' has no built-in client in this SDK: pass one with \
                 LLMJudgeBuilder::client",
                self.provider.as_deref().unwrap_or_default()
            ))
        })?;
        let response = client.complete(request).await?;
        match self.active_output() {
            Some(output) => output.parse(&response).map(Evaluation::Result),
            None => Ok(Evaluation::Value(Value::String(response))),
        }
    }

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
        options: &PublishEvaluator,
    ) -> Result<Value> {
        let ml_app = agent_service.trim_matches(py_space);
        if ml_app.is_empty() {
            return Err(invalid("ml_app must be a non-empty string"));
        }
        let eval_name = options.eval_name.as_deref().unwrap_or(&self.name).trim_matches(py_space);
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
            let (key, value) = (key.trim_matches(py_space), value.trim_matches(py_space));
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
        let model = self.model.as_deref().unwrap_or("").trim_matches(py_space);
        if !model.is_empty() {
            application.insert("model_name".into(), Value::from(model));
        }
        Ok(json!({"eval_name": eval_name, "applications": [application]}))
    }
}

impl Evaluator for LLMJudge {
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate<'a>(
        &'a self,
        context: &'a EvaluatorContext,
    ) -> BoxFuture<'a, Result<Evaluation, CallError>> {
        Box::pin(self.run(context))
    }
}

/// The reference client's evaluator-name check (spec §5.3).
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid("Evaluator name cannot be empty"));
    }
    if !valid_name(name) {
        return Err(invalid(format!(
            "Evaluator name '{name}' is invalid. Name must contain only alphanumeric \
             characters, underscores, and hyphens."
        )));
    }
    Ok(())
}

impl LLMJudgeBuilder {
    /// The system prompt (not templated; an empty one is not sent).
    pub fn system_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = Some(prompt.into());
        self
    }

    /// The shape of the reply.
    pub fn structured_output(mut self, output: impl Into<StructuredOutput>) -> Self {
        self.structured_output = Some(output.into());
        self
    }

    /// The provider: `openai`, `anthropic`, `azure_openai`, `vertexai` or `bedrock`
    /// (another name is accepted with a [`client`](Self::client), but cannot be
    /// published).
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// The model (required to evaluate).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Extra request parameters (`{"temperature": 0}`), merged into the request and
    /// published as `inference_params`.
    pub fn model_params(mut self, params: Map<String, Value>) -> Self {
        self.model_params = Some(params);
        self
    }

    /// The client that calls the model.
    pub fn client(mut self, client: impl JudgeClient) -> Self {
        self.client = Some(Arc::new(client));
        self
    }

    /// A shared client.
    pub fn shared_client(mut self, client: Arc<dyn JudgeClient>) -> Self {
        self.client = Some(client);
        self
    }

    /// The label of its metrics (default `LLMJudge`), stripped.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The judge.
    ///
    /// Without a client, provider `openai` uses [`OpenAiClient::from_env`]; `anthropic`,
    /// `azure_openai`, `vertexai` and `bedrock` have no built-in client here (such a
    /// judge can be published; evaluating it fails).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] with the reference client's message for an empty or
    /// invalid name, for neither a client nor a known provider, or for `openai` without
    /// a client and without `OPENAI_API_KEY`.
    pub fn build(self) -> Result<LLMJudge> {
        let name = match &self.name {
            Some(name) => name.trim_matches(py_space).to_owned(),
            None => DEFAULT_NAME.to_owned(),
        };
        check_name(&name)?;
        let client = match (self.client, self.provider.as_deref()) {
            (Some(client), _) => Some(client),
            (None, Some("openai")) => {
                Some(Arc::new(OpenAiClient::from_env().map_err(|e| invalid(e.detail()))?)
                    as Arc<dyn JudgeClient>)
            }
            (None, Some("anthropic" | "azure_openai" | "vertexai" | "bedrock")) => None,
            (None, _) => {
                return Err(invalid(
                    "Provide either 'client' or 'provider' (openai/anthropic/azure_openai/vertexai/bedrock)",
                ));
            }
        };
        Ok(LLMJudge {
            name,
            user_prompt: self.user_prompt,
            system_prompt: self.system_prompt,
            structured_output: self.structured_output,
            provider: self.provider,
            model: self.model,
            model_params: self.model_params,
            client,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Publishing
// ---------------------------------------------------------------------------------------

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
        options: &PublishEvaluator,
    ) -> Result<String> {
        let ml_app = agent_service.trim_matches(py_space);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> EvaluatorContext {
        EvaluatorContext {
            input: json!({"question": "Capital of France?", "nested": {"deep": {"k": 3}}}),
            output: json!("Paris"),
            expected_output: json!({"answer": "Paris", "alts": ["Paname", "Lutèce"]}),
            metadata: json!({"experiment_config": {"model": "m1"}, "difficulty": "easy"}),
            span_id: "123".into(),
            trace_id: String::new(),
            task_error: None,
        }
    }

    #[test]
    fn templates_resolve_nested_paths_and_scalars() {
        let ctx = context();
        assert_eq!(
            render(
                "Q: {{input_data.question}} A: {{ output_data }} k={{input_data.nested.deep.k}}",
                &ctx
            ),
            "Q: Capital of France? A: Paris k=3"
        );
        assert_eq!(render("{{span_id}}|{{trace_id}}|{{metadata.difficulty}}", &ctx), "123||easy");
        // Python str() of scalars
        let mut ctx = context();
        ctx.input = json!({"b": true, "f": 0.5, "i": 7, "n": null, "one": 1.0});
        assert_eq!(
            render(
                "{{input_data.b}} {{input_data.f}} {{input_data.i}} [{{input_data.n}}] {{input_data.one}}",
                &ctx
            ),
            "True 0.5 7 [] 1.0"
        );
    }

    #[test]
    fn templates_insert_dicts_and_lists_as_indented_json() {
        let ctx = context();
        // json.dumps({"answer": "Paris", "alts": ["Paname", "Lutèce"]}, indent=2)
        assert_eq!(
            render("{{expected_output}}", &ctx),
            "{\n  \"answer\": \"Paris\",\n  \"alts\": [\n    \"Paname\",\n    \"Lut\\u00e8ce\"\n  ]\n}"
        );
        assert_eq!(
            render("{{expected_output.alts}}", &ctx),
            "[\n  \"Paname\",\n  \"Lut\\u00e8ce\"\n]"
        );
        assert_eq!(render("{{metadata.experiment_config}}", &ctx), "{\n  \"model\": \"m1\"\n}");
        let mut ctx = context();
        ctx.input = json!({"empty": {}, "none": []});
        assert_eq!(render("{{input_data.empty}}{{input_data.none}}", &ctx), "{}[]");
    }

    #[test]
    fn templates_leave_missing_values_empty() {
        let ctx = context();
        assert_eq!(render("[{{nope}}][{{input_data.missing}}][{{output_data.x}}]", &ctx), "[][][]");
        // lists are not indexed; paths through scalars are missing
        assert_eq!(render("[{{expected_output.alts.0}}][{{input_data.question.x}}]", &ctx), "[][]");
        let mut ctx = context();
        ctx.expected_output = Value::Null;
        assert_eq!(render("[{{expected_output}}]", &ctx), "[]");
    }

    #[test]
    fn templates_follow_the_reference_regex() {
        let ctx = context();
        // `\{\{(.+?)\}\}`: the shortest text, at least one character, on one line.
        assert_eq!(render("{{{output_data}}}", &ctx), "}");
        assert_eq!(render("{{}}}", &ctx), "");
        assert_eq!(render("{{output_data\n}} {{output_data}}", &ctx), "{{output_data\n}} Paris");
        assert_eq!(render("{{ \t output_data \u{a0}}}", &ctx), "Paris");
        assert_eq!(render("no placeholders {{", &ctx), "no placeholders {{");
        assert_eq!(render("{{output_data}}{{output_data}}", &ctx), "ParisParis");
        assert_eq!(render("é{{output_data}}ü", &ctx), "éParisü");
    }

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
    fn boolean_schema_matches_the_reference() {
        let output: StructuredOutput = BooleanStructuredOutput::new("correct?").into();
        assert_eq!(
            serde_json::to_string(&output.to_json_schema()).unwrap(),
            r#"{"type":"object","properties":{"boolean_eval":{"type":"boolean","description":"correct?"}},"required":["boolean_eval"],"additionalProperties":false}"#
        );
        let output: StructuredOutput =
            BooleanStructuredOutput::new("correct?").reasoning(true).into();
        assert_eq!(
            output.to_json_schema()["properties"]["reasoning"],
            json!({"type": "string", "description": "Explanation for the evaluation result"})
        );
        assert_eq!(output.to_json_schema()["required"], json!(["boolean_eval", "reasoning"]));
    }

    #[test]
    fn score_schema_keeps_integer_and_float_bounds() {
        let output: StructuredOutput = ScoreStructuredOutput::new("quality", 1, 10)
            .reasoning(true)
            .reasoning_description("why")
            .into();
        assert_eq!(
            serde_json::to_string(&output.to_json_schema()).unwrap(),
            r#"{"type":"object","properties":{"score_eval":{"type":"number","description":"quality","minimum":1,"maximum":10},"reasoning":{"type":"string","description":"why"}},"required":["score_eval","reasoning"],"additionalProperties":false}"#
        );
        let output: StructuredOutput = ScoreStructuredOutput::new("q", 0.0, 1.0).into();
        let schema = serde_json::to_string(&output.to_json_schema()).unwrap();
        assert!(schema.contains(r#""minimum":0.0,"maximum":1.0"#), "{schema}");
    }

    #[test]
    fn categorical_schema_lists_categories_in_order() {
        let output: StructuredOutput = CategoricalStructuredOutput::new([
            ("positive", "good"),
            ("negative", "bad"),
            ("positive", "very good"),
        ])
        .into();
        assert_eq!(
            serde_json::to_string(&output.to_json_schema()).unwrap(),
            r#"{"type":"object","properties":{"categorical_eval":{"type":"string","anyOf":[{"const":"positive","description":"very good"},{"const":"negative","description":"bad"}]}},"required":["categorical_eval"],"additionalProperties":false}"#
        );
    }

    #[test]
    fn raw_schemas_are_sent_as_given() {
        let schema = json!({"type": "object", "properties": {"x": {"type": "integer"}}});
        let output = StructuredOutput::from(schema.as_object().unwrap().clone());
        assert_eq!(output.to_json_schema(), schema);
        assert_eq!(output.label(), None);
        assert_eq!(output.assessment_criteria(), None);
        let result = output.parse(r#"{"x": 3, "reasoning": "r"}"#).unwrap();
        assert_eq!(result.value, json!({"x": 3, "reasoning": "r"}));
        assert_eq!(result.reasoning.as_deref(), Some("r"));
        assert!(result.metadata.is_empty() && result.assessment.is_none());
    }

    #[test]
    fn parsing_rejects_what_is_not_an_object_of_the_declared_type() {
        let boolean = StructuredOutput::from(BooleanStructuredOutput::new("d"));
        let err = |o: &StructuredOutput, text: &str| {
            let e = o.parse(text).unwrap_err();
            assert_eq!(e.kind, "ValueError");
            e.message
        };
        assert_eq!(err(&boolean, ""), "Invalid response: expected non-empty string");
        assert!(err(&boolean, "yes").starts_with("Invalid JSON response: "));
        assert_eq!(err(&boolean, "[true]"), "Invalid JSON response: expected object, got list");
        assert_eq!(err(&boolean, "true"), "Invalid JSON response: expected object, got bool");
        assert_eq!(err(&boolean, "\"x\""), "Invalid JSON response: expected object, got str");
        assert_eq!(err(&boolean, r#"{"boolean_eval": "true"}"#), "Expected boolean, got str");
        assert_eq!(err(&boolean, r#"{"other": true}"#), "Expected boolean, got NoneType");
        let score = StructuredOutput::from(ScoreStructuredOutput::new("d", 0, 10));
        assert_eq!(err(&score, r#"{"score_eval": "7"}"#), "Expected number, got str");
        assert_eq!(err(&score, r#"{"score_eval": [7]}"#), "Expected number, got list");
        assert_eq!(err(&score, r#"{"score_eval": true}"#), "Expected number, got bool");
        let categorical = StructuredOutput::from(CategoricalStructuredOutput::new([("a", "A")]));
        assert_eq!(err(&categorical, r#"{"categorical_eval": 1}"#), "Expected string, got int");
        assert_eq!(err(&categorical, r#"{"categorical_eval": 1.5}"#), "Expected string, got float");
        assert_eq!(err(&categorical, r#"{"categorical_eval": {}}"#), "Expected string, got dict");
    }

    #[test]
    fn parsed_results_carry_value_reasoning_assessment_and_raw_response() {
        let output = StructuredOutput::from(
            BooleanStructuredOutput::new("d").reasoning(true).pass_when(true),
        );
        let result = output.parse(r#"{"boolean_eval": false, "reasoning": "wrong city"}"#).unwrap();
        assert_eq!(result.value, json!(false));
        assert_eq!(result.reasoning.as_deref(), Some("wrong city"));
        assert_eq!(result.assessment, Some(Assessment::Fail));
        assert_eq!(
            Value::Object(result.metadata),
            json!({"raw_response": {"boolean_eval": false, "reasoning": "wrong city"}})
        );
        // reasoning only when enabled, assessment only with criteria
        let output = StructuredOutput::from(BooleanStructuredOutput::new("d"));
        let result = output.parse(r#"{"boolean_eval": true, "reasoning": "r"}"#).unwrap();
        assert_eq!((result.reasoning, result.assessment), (None, None));
        // pass_when false passes a false verdict
        let output = StructuredOutput::from(BooleanStructuredOutput::new("d").pass_when(false));
        assert_eq!(
            output.parse(r#"{"boolean_eval": false}"#).unwrap().assessment,
            Some(Assessment::Pass)
        );
    }

    #[test]
    fn score_assessment_rules() {
        let assess = |o: ScoreStructuredOutput, v: Value| StructuredOutput::from(o).assess(&v);
        let base = || ScoreStructuredOutput::new("d", 0, 10);
        let (pass, fail) = (Some(Assessment::Pass), Some(Assessment::Fail));
        // inclusive range
        let range = || base().min_threshold(3).max_threshold(7);
        assert_eq!(assess(range(), json!(3)), pass);
        assert_eq!(assess(range(), json!(7.0)), pass);
        assert_eq!(assess(range(), json!(2.99)), fail);
        assert_eq!(assess(range(), json!(8)), fail);
        // inverted: pass outside (max, min) = outside (3, 7)
        let outside = || base().min_threshold(7).max_threshold(3);
        assert_eq!(assess(outside(), json!(2)), pass);
        assert_eq!(assess(outside(), json!(8)), pass);
        assert_eq!(assess(outside(), json!(3)), fail);
        assert_eq!(assess(outside(), json!(7)), fail);
        assert_eq!(assess(outside(), json!(5)), fail);
        // one threshold
        assert_eq!(assess(base().min_threshold(5), json!(5)), pass);
        assert_eq!(assess(base().min_threshold(5), json!(4.5)), fail);
        assert_eq!(assess(base().max_threshold(5), json!(5)), pass);
        assert_eq!(assess(base().max_threshold(5), json!(6)), fail);
        // equal thresholds: only that value
        assert_eq!(assess(base().min_threshold(5).max_threshold(5), json!(5)), pass);
        assert_eq!(assess(base().min_threshold(5).max_threshold(5), json!(5.1)), fail);
        assert_eq!(assess(base(), json!(5)), None);
    }

    #[test]
    fn categorical_assessment_uses_pass_values() {
        let output = StructuredOutput::from(
            CategoricalStructuredOutput::new([("a", "A"), ("b", "B")]).pass_values(["a"]),
        );
        assert_eq!(output.assess(&json!("a")), Some(Assessment::Pass));
        assert_eq!(output.assess(&json!("b")), Some(Assessment::Fail));
        assert_eq!(output.assess(&json!("zzz")), Some(Assessment::Fail));
        let empty = StructuredOutput::from(
            CategoricalStructuredOutput::new([("a", "A")]).pass_values(Vec::<String>::new()),
        );
        assert_eq!(empty.assess(&json!("a")), Some(Assessment::Fail));
        assert_eq!(
            empty.assessment_criteria(),
            Some(json!({"pass_values": []}).as_object().unwrap().clone())
        );
    }

    #[test]
    fn names_and_providers_are_checked_when_building() {
        let client = |_req: JudgeRequest| async { Ok::<_, CallError>(String::new()) };
        let build = |b: LLMJudgeBuilder| b.build().map(|j| j.name).map_err(|e| e.detail());
        assert_eq!(build(LLMJudge::builder("p").client(client)), Ok("LLMJudge".to_owned()));
        assert_eq!(
            build(LLMJudge::builder("p").client(client).name("  ok-1 ")),
            Ok("ok-1".to_owned())
        );
        assert_eq!(
            build(LLMJudge::builder("p").client(client).name(" ")),
            Err("Evaluator name cannot be empty".to_owned())
        );
        assert_eq!(
            build(LLMJudge::builder("p").client(client).name("a.b")),
            Err("Evaluator name 'a.b' is invalid. Name must contain only alphanumeric characters, underscores, and hyphens.".to_owned())
        );
        assert_eq!(
            build(LLMJudge::builder("p").provider("mistral")),
            Err("Provide either 'client' or 'provider' (openai/anthropic/azure_openai/vertexai/bedrock)".to_owned())
        );
        assert!(LLMJudge::builder("p").provider("bedrock").build().is_ok());
    }

    #[tokio::test]
    async fn evaluation_needs_a_model_and_a_client() {
        let judge = LLMJudge::builder("p")
            .client(|_req: JudgeRequest| async { Ok::<_, CallError>("raw text".to_owned()) })
            .build()
            .unwrap();
        let err = judge.evaluate(&context()).await.unwrap_err();
        assert_eq!(
            (err.kind.as_str(), err.message.as_str()),
            ("ValueError", "model must be specified")
        );
        let judge = LLMJudge::builder("p").provider("anthropic").model("claude").build().unwrap();
        let err = judge.evaluate(&context()).await.unwrap_err();
        assert_eq!(err.kind, "ValueError");
        assert!(err.message.contains("no built-in client"), "{}", err.message);
    }

    #[tokio::test]
    async fn evaluation_sends_messages_and_schema_to_the_client() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let judge = LLMJudge::builder("Is {{output_data}} right for {{input_data.question}}?")
            .system_prompt("Be strict {{not_templated}}")
            .structured_output(BooleanStructuredOutput::new("ok?").pass_when(true))
            .provider("custom")
            .model("m")
            .model_params(json!({"temperature": 0}).as_object().unwrap().clone())
            .client(move |req: JudgeRequest| {
                log.lock().unwrap().push(req);
                async { Ok::<_, CallError>(r#"{"boolean_eval": true}"#.to_owned()) }
            })
            .name("strict")
            .build()
            .unwrap();
        let Evaluation::Result(result) = judge.evaluate(&context()).await.unwrap() else {
            panic!("expected a result")
        };
        assert_eq!((result.value, result.assessment), (json!(true), Some(Assessment::Pass)));
        let req = seen.lock().unwrap().pop().unwrap();
        assert_eq!(req.provider.as_deref(), Some("custom"));
        assert_eq!(req.model, "m");
        assert_eq!(
            req.messages,
            vec![
                JudgeMessage::new("system", "Be strict {{not_templated}}"),
                JudgeMessage::new("user", "Is Paris right for Capital of France??"),
            ]
        );
        assert_eq!(req.json_schema, Some(judge.structured_output().unwrap().to_json_schema()));
        assert_eq!(req.model_params, Some(json!({"temperature": 0}).as_object().unwrap().clone()));

        // without a structured output (or with an empty raw schema): the reply text
        for output in [None, Some(StructuredOutput::JsonSchema(Map::new()))] {
            let mut builder =
                LLMJudge::builder("p").model("m").client(|req: JudgeRequest| async move {
                    assert!(req.json_schema.is_none() && req.messages.len() == 1);
                    Ok::<_, CallError>("Fine".to_owned())
                });
            if let Some(output) = output {
                builder = builder.structured_output(output);
            }
            let judge = builder.build().unwrap();
            assert_eq!(judge.evaluate(&context()).await.unwrap(), Evaluation::Value(json!("Fine")));
        }
    }

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
            let payload = judge.publish_payload("app", &PublishEvaluator::new()).unwrap();
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
        let payload = judge.publish_payload("app", &PublishEvaluator::new()).unwrap();
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
