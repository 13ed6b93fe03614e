//! Evaluators: what they receive, what they return, and the ways to write one
//! (spec §5).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A boxed future returned by [`Evaluator::evaluate`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A failure's description, as spans and metrics carry it: `{"message","type","stack"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The message.
    pub message: String,
    /// The error's type, such as `timeout` or a Rust type name.
    #[serde(rename = "type")]
    pub kind: String,
    /// A stack or extra context (often empty).
    #[serde(default)]
    pub stack: String,
}

/// The error a task or an evaluator returns.
///
/// Any `std::error::Error` converts into it (its type name becomes the `type`). A
/// failure that knows when to try again (a rate limit) says so with
/// [`retry_after`](Self::retry_after): the runner then waits that long before the next
/// attempt instead of its own backoff.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    /// The message.
    pub message: String,
    /// The type shown in metrics, spans and the experiment's error text.
    pub kind: String,
    /// How long to wait before another attempt, when the callee said so.
    pub retry_after: Option<Duration>,
    /// For remote evaluators: the server's status and error object.
    pub remote: Option<Box<RemoteFailure>>,
}

/// A remote evaluator's structured failure (spec E13).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteFailure {
    /// The server's status (`ERROR`, `WARN`).
    pub status: String,
    /// The server's error object (`type`, `message`, `recommended_resolution`), sent
    /// as the metric's error.
    pub backend_error: Value,
}

impl CallError {
    /// An error with `message` and type `Error`.
    pub fn new(message: impl Into<String>) -> Self {
        CallError {
            message: message.into(),
            kind: "Error".to_owned(),
            retry_after: None,
            remote: None,
        }
    }

    /// Sets the type.
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }

    /// Asks the runner to wait `wait` before the next attempt.
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub(crate) fn info(&self) -> ErrorInfo {
        ErrorInfo { message: self.message.clone(), kind: self.kind.clone(), stack: String::new() }
    }
}

impl<E: std::error::Error> From<E> for CallError {
    fn from(err: E) -> Self {
        let kind = std::any::type_name::<E>().rsplit("::").next().unwrap_or("Error").to_owned();
        CallError::new(err.to_string()).kind(kind)
    }
}

/// What an evaluator sees for one record.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluatorContext {
    /// The record's input.
    pub input: Value,
    /// The task's output (`null` when the task failed).
    pub output: Value,
    /// The record's expected output (`null` when none).
    pub expected_output: Value,
    /// The record's metadata merged with `{"experiment_config": config}`.
    pub metadata: Value,
    /// The record's span.
    pub span_id: String,
    /// The record's trace.
    pub trace_id: String,
    /// The task's failure, when it failed after its retries.
    pub task_error: Option<ErrorInfo>,
}

/// `pass` or `fail`, the conventional assessments, or any other text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Assessment {
    /// `pass`.
    Pass,
    /// `fail`.
    Fail,
    /// Any other text (forwarded unchanged).
    Other(String),
}

impl Assessment {
    /// The wire text.
    pub fn as_str(&self) -> &str {
        match self {
            Assessment::Pass => "pass",
            Assessment::Fail => "fail",
            Assessment::Other(text) => text,
        }
    }
}

/// A value with reasoning, assessment, metadata and tags (spec §5.2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluatorResult {
    /// The value: decides the metric type (bool, number, object, else categorical).
    pub value: Value,
    /// Why.
    pub reasoning: Option<String>,
    /// Pass or fail.
    pub assessment: Option<Assessment>,
    /// Extra data (sent when non-empty).
    pub metadata: Map<String, Value>,
    /// Tags, sent as `key:value`.
    pub tags: BTreeMap<String, String>,
}

impl EvaluatorResult {
    /// A result with `value`.
    pub fn new(value: impl Into<Value>) -> Self {
        EvaluatorResult { value: value.into(), ..Default::default() }
    }

    /// Sets the reasoning.
    pub fn reasoning(mut self, reasoning: impl Into<String>) -> Self {
        self.reasoning = Some(reasoning.into());
        self
    }

    /// Sets the assessment.
    pub fn assessment(mut self, assessment: Assessment) -> Self {
        self.assessment = Some(assessment);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }
}

/// Several named results from one evaluator, each its own metric labelled
/// `<evaluator>-<key>` (or `<key>` without prefix).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MultiEvaluatorResult {
    /// The results by key, in order.
    pub values: Vec<(String, EvaluatorResult)>,
    /// Prefix labels with the evaluator's name (default true).
    pub prefix: bool,
}

impl MultiEvaluatorResult {
    /// An empty set of results, prefixed.
    pub fn new() -> Self {
        MultiEvaluatorResult { values: Vec::new(), prefix: true }
    }

    /// Adds a result under `key`.
    pub fn with(mut self, key: impl Into<String>, result: impl IntoEvaluation) -> Self {
        let result = match result.into_evaluation() {
            Ok(Evaluation::Result(result)) => result,
            Ok(Evaluation::Value(value)) => EvaluatorResult::new(value),
            Ok(Evaluation::Multi(_)) | Err(_) => EvaluatorResult::new(Value::Null),
        };
        self.values.push((key.into(), result));
        self
    }

    /// Labels without the evaluator's name.
    pub fn without_prefix(mut self) -> Self {
        self.prefix = false;
        self
    }
}

/// What an evaluator returns: a plain value, one result, or several.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// A plain value.
    Value(Value),
    /// One result with details.
    Result(EvaluatorResult),
    /// Several labelled results.
    Multi(MultiEvaluatorResult),
}

/// Everything an evaluator closure may return: plain values (`bool`, numbers,
/// strings, [`Value`]), [`EvaluatorResult`], [`MultiEvaluatorResult`], and a `Result`
/// of any of these.
pub trait IntoEvaluation {
    /// The evaluation, or the failure.
    fn into_evaluation(self) -> Result<Evaluation, CallError>;
}

macro_rules! plain {
    ($($ty:ty),*) => {$(
        impl IntoEvaluation for $ty {
            fn into_evaluation(self) -> Result<Evaluation, CallError> {
                Ok(Evaluation::Value(Value::from(self)))
            }
        }
    )*};
}
plain!(Value, bool, f64, f32, i64, i32, i16, i8, isize, u64, u32, u16, u8, usize, String, &str);

impl IntoEvaluation for EvaluatorResult {
    fn into_evaluation(self) -> Result<Evaluation, CallError> {
        Ok(Evaluation::Result(self))
    }
}

impl IntoEvaluation for MultiEvaluatorResult {
    fn into_evaluation(self) -> Result<Evaluation, CallError> {
        Ok(Evaluation::Multi(self))
    }
}

impl IntoEvaluation for Evaluation {
    fn into_evaluation(self) -> Result<Evaluation, CallError> {
        Ok(self)
    }
}

impl<T: IntoEvaluation, E: Into<CallError>> IntoEvaluation for Result<T, E> {
    fn into_evaluation(self) -> Result<Evaluation, CallError> {
        self.map_err(Into::into).and_then(IntoEvaluation::into_evaluation)
    }
}

/// A row evaluator with state or async work. Closures are simpler: see
/// [`ExperimentBuilder::evaluator`](crate::ExperimentBuilder::evaluator).
///
/// `evaluate` may be called concurrently for different records.
pub trait Evaluator: Send + Sync + 'static {
    /// The label of its metrics: letters, digits, `_` and `-`.
    fn name(&self) -> &str;

    /// Judges one record.
    fn evaluate<'a>(
        &'a self,
        context: &'a EvaluatorContext,
    ) -> BoxFuture<'a, Result<Evaluation, CallError>>;

    /// `Some("managed")` for evaluators run by the server.
    fn source_type(&self) -> Option<&str> {
        None
    }
}

/// A closure as an [`Evaluator`].
pub(crate) struct FnEvaluator<F> {
    pub(crate) name: String,
    pub(crate) f: F,
}

impl<F, R> Evaluator for FnEvaluator<F>
where
    F: Fn(&EvaluatorContext) -> R + Send + Sync + 'static,
    R: IntoEvaluation,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate<'a>(
        &'a self,
        context: &'a EvaluatorContext,
    ) -> BoxFuture<'a, Result<Evaluation, CallError>> {
        let result = (self.f)(context).into_evaluation();
        Box::pin(std::future::ready(result))
    }
}

/// Whether a name is a valid evaluator name (`^[a-zA-Z0-9_-]+$`, spec §5.3).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A transform from the evaluator context to the `context` sent to the server.
pub type Transform = Arc<dyn Fn(&EvaluatorContext) -> Value + Send + Sync>;

/// An evaluator run by the server (E13) under `eval_name`; `transform` shapes what is
/// sent (default: §5.5's `span_input`, `span_output`, `meta`, ids).
#[derive(Clone)]
pub struct RemoteEvaluator {
    /// The server's evaluator name.
    pub eval_name: String,
    /// Builds the request's `context`; `None` for the default shape.
    pub transform: Option<Transform>,
}

impl std::fmt::Debug for RemoteEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEvaluator")
            .field("eval_name", &self.eval_name)
            .field("transform", &self.transform.is_some())
            .finish()
    }
}

impl RemoteEvaluator {
    /// The server's evaluator `eval_name`, default context.
    pub fn new(eval_name: impl Into<String>) -> Self {
        RemoteEvaluator { eval_name: eval_name.into().trim().to_owned(), transform: None }
    }

    /// Sends `transform(context)` instead of the default context.
    pub fn transform(
        mut self,
        transform: impl Fn(&EvaluatorContext) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.transform = Some(Arc::new(transform));
        self
    }

    /// The default context (spec §5.5).
    pub(crate) fn default_context(context: &EvaluatorContext) -> Value {
        let mut meta = Map::new();
        if !context.expected_output.is_null() {
            meta.insert("expected_output".into(), context.expected_output.clone());
        }
        if context.metadata.as_object().is_some_and(|m| !m.is_empty()) {
            meta.insert("metadata".into(), context.metadata.clone());
        }
        let mut out = Map::new();
        out.insert("span_input".into(), context.input.clone());
        out.insert("span_output".into(), context.output.clone());
        out.insert("meta".into(), Value::Object(meta));
        if !context.span_id.is_empty() {
            out.insert("span_id".into(), Value::String(context.span_id.clone()));
        }
        if !context.trace_id.is_empty() {
            out.insert("trace_id".into(), Value::String(context.trace_id.clone()));
        }
        Value::Object(out)
    }
}

/// One row's result for a label, as summary evaluators see it: a value, an explicit
/// error, or explicitly missing.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The value produced.
    Ok(Value),
    /// The task or evaluator failed (after its retries).
    Error(ErrorInfo),
    /// Nothing was produced for this row (a multi-result without this key, or a row
    /// not processed).
    Missing,
}

impl Outcome {
    /// The value, if there is one.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Outcome::Ok(value) => Some(value),
            _ => None,
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Outcome::Error(_))
    }
}

/// What a summary evaluator sees: per-row lists aligned by record order.
///
/// **Denominator**: every list has [`len`](Self::len) entries, one per record of the
/// run (after `sample_size`), *including* rows whose task or evaluator failed. Failed
/// and missing rows are never dropped: they appear as [`Outcome::Error`] and
/// [`Outcome::Missing`], so a rate computed over `len()` counts them as not passing.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryContext {
    /// The inputs.
    pub inputs: Vec<Value>,
    /// The task outputs, or the task's error.
    pub outputs: Vec<Outcome>,
    /// The expected outputs (`null` when none).
    pub expected_outputs: Vec<Value>,
    /// Per label, one outcome per row.
    pub evaluations: BTreeMap<String, Vec<Outcome>>,
    /// Per row: record metadata merged with `{"experiment_config": config}`.
    pub metadata: Vec<Value>,
}

impl SummaryContext {
    /// The number of rows: the denominator of any rate.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// The outcomes of `label` (empty when no evaluator has that label).
    pub fn outcomes(&self, label: &str) -> &[Outcome] {
        self.evaluations.get(label).map(Vec::as_slice).unwrap_or(&[])
    }

    /// How many rows of `label` hold exactly `value`, over [`len`](Self::len).
    pub fn rate_of(&self, label: &str, value: &Value) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        let hits = self.outcomes(label).iter().filter(|o| o.value() == Some(value)).count();
        hits as f64 / self.len() as f64
    }
}

/// An evaluator over a whole iteration (spec §4.7, §5.6): sees every row's results
/// at once and produces one (or, with a multi-result, several) summary metrics.
/// Implement it for summary evaluators with state or async work; closures go through
/// [`ExperimentBuilder::summary_evaluator`](crate::ExperimentBuilder::summary_evaluator).
pub trait SummaryEvaluator: Send + Sync + 'static {
    /// The label of its metric: letters, digits, `_` and `-`.
    fn name(&self) -> &str;

    /// Summarizes one iteration.
    fn evaluate<'a>(
        &'a self,
        context: &'a SummaryContext,
    ) -> BoxFuture<'a, Result<Evaluation, CallError>>;
}

/// A closure as a [`SummaryEvaluator`].
pub(crate) struct FnSummary<F> {
    pub(crate) name: String,
    pub(crate) f: F,
}

impl<F, R> SummaryEvaluator for FnSummary<F>
where
    F: Fn(&SummaryContext) -> R + Send + Sync + 'static,
    R: IntoEvaluation,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate<'a>(
        &'a self,
        context: &'a SummaryContext,
    ) -> BoxFuture<'a, Result<Evaluation, CallError>> {
        Box::pin(std::future::ready((self.f)(context).into_evaluation()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_checked() {
        assert!(valid_name("exact_match-2"));
        assert!(!valid_name(""));
        assert!(!valid_name("a.b"));
    }

    #[test]
    fn closures_return_many_shapes() {
        assert_eq!(true.into_evaluation().unwrap(), Evaluation::Value(json!(true)));
        let failed: Result<f64, std::fmt::Error> = Err(std::fmt::Error);
        assert_eq!(failed.into_evaluation().unwrap_err().kind, "Error");
        let multi = MultiEvaluatorResult::new().with("a", 1.0).with("b", EvaluatorResult::new("x"));
        assert_eq!(multi.values.len(), 2);
    }

    #[test]
    fn the_default_remote_context_follows_the_spec() {
        let context = EvaluatorContext {
            input: json!({"q": 1}),
            output: json!("a"),
            expected_output: Value::Null,
            metadata: json!({"experiment_config": {}}),
            span_id: "1".into(),
            trace_id: String::new(),
            task_error: None,
        };
        assert_eq!(
            RemoteEvaluator::default_context(&context),
            json!({"span_input": {"q": 1}, "span_output": "a",
                   "meta": {"metadata": {"experiment_config": {}}}, "span_id": "1"})
        );
    }

    #[test]
    fn rates_count_failed_rows_in_the_denominator() {
        let context = SummaryContext {
            inputs: vec![json!(1), json!(2), json!(3), json!(4)],
            outputs: vec![],
            expected_outputs: vec![],
            evaluations: BTreeMap::from([(
                "ok".to_owned(),
                vec![
                    Outcome::Ok(json!(true)),
                    Outcome::Ok(json!(true)),
                    Outcome::Error(ErrorInfo {
                        message: "x".into(),
                        kind: "E".into(),
                        stack: String::new(),
                    }),
                    Outcome::Missing,
                ],
            )]),
            metadata: vec![],
        };
        assert_eq!(context.rate_of("ok", &json!(true)), 0.5);
    }
}
