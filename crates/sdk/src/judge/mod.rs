//! LLM-as-a-judge evaluators (spec §5.7): [`LLMJudge`] and its builder (here), its
//! structured outputs (`output`), a pluggable [`JudgeClient`] with an OpenAI-compatible
//! implementation (`client`), and
//! [`Client::publish_evaluator`](crate::Client::publish_evaluator) (E14, `publish`), which
//! stores a judge on the server so that remote inference (E13) can run it. The prompt
//! rendering and assessment rules are [`llmobs_core::judge`]'s, which the server's
//! `llm_judge` applies too, so a published judge judges as it does locally.
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

mod client;
mod output;
mod publish;

use std::sync::Arc;

use llmobs_core::judge;
use llmobs_core::pyjson::is_space;
use serde_json::{Map, Value};

pub use client::{JudgeClient, JudgeMessage, JudgeRequest, OpenAiClient};
pub use output::{
    BooleanStructuredOutput, CategoricalStructuredOutput, IntoNumber, ScoreStructuredOutput,
    StructuredOutput,
};
pub use publish::PublishEvaluator;

use crate::evaluators::{
    BoxFuture, CallError, Evaluation, Evaluator, EvaluatorContext, valid_name,
};
use crate::{Error, Result};

/// The providers the reference client knows, in its order.
pub const PROVIDERS: [&str; 5] = ["openai", "anthropic", "azure_openai", "vertexai", "bedrock"];

/// The label of a judge built without a name (the reference client's class name).
const DEFAULT_NAME: &str = "LLMJudge";

fn value_error(message: impl Into<String>) -> CallError {
    CallError::new(message).kind("ValueError")
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::InvalidRequest { detail: detail.into() }
}

/// The object a judge's template is rendered from: the context's fields under the
/// reference client's names ([`judge::FIELDS`]).
fn template_context(context: &EvaluatorContext) -> Value {
    judge::template_context([
        context.input.clone(),
        context.output.clone(),
        context.expected_output.clone().unwrap_or(Value::Null),
        context.metadata.clone(),
        Value::String(context.span_id.clone()),
        Value::String(context.trace_id.clone()),
    ])
}

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
/// [`StructuredOutput`] the result is an [`EvaluatorResult`](crate::EvaluatorResult) (see
/// [`StructuredOutput::parse`]); without one, the reply text. Failures are
/// [`CallError`]s: `ValueError` for a missing model or an unusable reply, or the
/// client's own error.
///
/// [`Client::publish_evaluator`](crate::Client::publish_evaluator) stores it on the server for remote inference.
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

    /// The user prompt rendered for `context`, by the rules the server's `llm_judge`
    /// applies too ([`llmobs_core::judge::render`]).
    pub fn render_user_prompt(&self, context: &EvaluatorContext) -> String {
        judge::render(&self.user_prompt, &template_context(context))
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
    /// a client and without `OPENAI_API_KEY`; and for a score output with a NaN or
    /// infinite bound or threshold.
    pub fn build(self) -> Result<LLMJudge> {
        let name = match &self.name {
            Some(name) => name.trim_matches(is_space).to_owned(),
            None => DEFAULT_NAME.to_owned(),
        };
        check_name(&name)?;
        if let Some(StructuredOutput::Score(score)) = &self.structured_output
            && let Some(why) = score.rejected()
        {
            return Err(invalid(why));
        }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::evaluators::Assessment;

    fn context() -> EvaluatorContext {
        EvaluatorContext {
            input: json!({"question": "Capital of France?", "nested": {"deep": {"k": 3}}}),
            output: json!("Paris"),
            expected_output: Some(json!({"answer": "Paris", "alts": ["Paname", "Lutèce"]})),
            metadata: json!({"experiment_config": {"model": "m1"}, "difficulty": "easy"}),
            span_id: "123".into(),
            trace_id: String::new(),
            task_error: None,
        }
    }

    #[test]
    fn templates_see_every_context_field_under_the_reference_names() {
        let judge = LLMJudge::builder(
            "{{input_data.question}}|{{ output_data }}|{{expected_output.alts}}|\
             {{metadata.experiment_config.model}}|{{span_id}}|{{trace_id}}|{{task_error}}",
        )
        .client(|_req: JudgeRequest| async { Ok::<_, CallError>(String::new()) })
        .build()
        .unwrap();
        assert_eq!(
            judge.render_user_prompt(&context()),
            "Capital of France?|Paris|[\n  \"Paname\",\n  \"Lut\\u00e8ce\"\n]|m1|123||"
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
        // Bounds JSON cannot carry are refused, not panicked on.
        let score = |output: ScoreStructuredOutput| {
            build(LLMJudge::builder("p").client(client).structured_output(output))
        };
        assert_eq!(
            score(ScoreStructuredOutput::new("s", 0, f64::NAN)),
            Err("ScoreStructuredOutput max_score must be a finite number, not NaN or infinity"
                .to_owned())
        );
        assert_eq!(
            score(ScoreStructuredOutput::new("s", 0, 1).min_threshold(f64::INFINITY)),
            Err("ScoreStructuredOutput min_threshold must be a finite number, not NaN or infinity"
                .to_owned())
        );
        assert!(score(ScoreStructuredOutput::new("s", 0, 1.5).max_threshold(1)).is_ok());
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
}
