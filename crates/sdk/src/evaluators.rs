//! Evaluators: what they receive, what they return, and the ways to write one
//! (spec §5).

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::BoxError;

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

/// A task's or an evaluator's failure, as the runner records it.
///
/// Tasks and evaluators do not need to build one: they may fail with any error that
/// converts into a [`BoxError`] (`Box<dyn Error + Send + Sync>`): your own error types,
/// `std::io::Error`, `anyhow::Error`, `String`, `&'static str`. The runner turns it into
/// a `CallError` whose message is the error's text and whose `type` is the error's type
/// name (`Error` for strings, boxes and `anyhow`). Return a `CallError` yourself to choose
/// the `type`, or to say when to try again: with [`retry_after`](Self::retry_after) (a
/// rate limit) the runner waits that long before the next attempt instead of its own
/// backoff.
///
/// ```
/// use llmobs::CallError;
/// use std::time::Duration;
///
/// fn task_step(code: u16) -> Result<&'static str, CallError> {
///     match code {
///         429 => Err(CallError::new("rate limited").kind("RateLimit").retry_after(Duration::from_secs(2))),
///         _ => Ok("done"),
///     }
/// }
/// # assert!(task_step(429).is_err());
/// ```
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

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for CallError {}

impl CallError {
    /// The failure of a task or an evaluator that returned `err`: a [`CallError`] as it
    /// is, anything else with its text as the message and `E`'s type name as the type
    /// (`Error` for strings, boxed errors and `anyhow::Error`).
    pub fn from_error<E: Into<BoxError>>(err: E) -> Self {
        let kind = type_label::<E>();
        match err.into().downcast::<CallError>() {
            Ok(call) => *call,
            Err(other) => CallError::new(other.to_string()).kind(kind),
        }
    }
}

/// The short type name of an error type, or `Error` when the type says nothing (a
/// string, a box, `anyhow::Error`).
fn type_label<E>() -> String {
    let full = std::any::type_name::<E>();
    if full.contains("dyn ") || matches!(full, "&str" | "alloc::string::String" | "anyhow::Error") {
        return "Error".to_owned();
    }
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().filter(|name| !name.is_empty()).unwrap_or("Error").to_owned()
}

/// What an evaluator sees for one record: the record's input `Q`, the task's output `O`
/// and the record's expected output `A`.
///
/// The types default to [`Value`]; a closure evaluator that names other types (any
/// `serde` types) gets the row's JSON read into them:
///
/// ```
/// use llmobs::EvaluatorContext;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Question { text: String }
///
/// // Untyped: JSON values.
/// let exact = |ctx: &EvaluatorContext| ctx.expected_output.as_ref() == Some(&ctx.output);
/// // Typed: `None` when the record has no expected output, which sends no metric.
/// let short = |ctx: &EvaluatorContext<Question, String, String>| {
///     let expected = ctx.expected_output.as_ref()?;
///     Some(ctx.output.len() <= expected.len() + ctx.input.text.len())
/// };
/// # let _ = (exact, short);
/// ```
///
/// When a row cannot be read into the evaluator's types, the evaluator is not called:
/// the row's evaluation is an error of type `DeserializationError` naming the field and
/// the type, or no evaluation at all when the task failed (its output is `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluatorContext<Q = Value, O = Value, A = Value> {
    /// The record's input.
    pub input: Q,
    /// The task's output (`null` when the task failed).
    pub output: O,
    /// The record's expected output, when it has one (`None` also for an explicit `null`).
    pub expected_output: Option<A>,
    /// The record's metadata merged with `{"experiment_config": config}`.
    pub metadata: Value,
    /// The record's span.
    pub span_id: String,
    /// The record's trace.
    pub trace_id: String,
    /// The task's failure, when it failed after its retries.
    pub task_error: Option<ErrorInfo>,
}

/// `value` read as `T`; free (a move) when `T` is [`Value`].
pub(crate) fn from_value<T: DeserializeOwned + 'static>(value: Value) -> serde_json::Result<T> {
    let mut slot = Some(value);
    if let Some(same) = (&mut slot as &mut dyn Any).downcast_mut::<Option<T>>() {
        return Ok(same.take().expect("just set"));
    }
    serde_json::from_value(slot.expect("not taken"))
}

/// Reads a row into an evaluator's types; `Ok(None)` when it cannot and the task failed.
fn typed_context<Q, O, A>(
    context: &EvaluatorContext,
) -> Result<Option<EvaluatorContext<Q, O, A>>, CallError>
where
    Q: DeserializeOwned + 'static,
    O: DeserializeOwned + 'static,
    A: DeserializeOwned + 'static,
{
    let read = |field: &str, type_name: &str, err: serde_json::Error| {
        CallError::new(format!("the row's {field} cannot be read as {type_name}: {err}"))
            .kind("DeserializationError")
    };
    let typed = (|| {
        let input = Q::deserialize(&context.input)
            .map_err(|err| read("input", std::any::type_name::<Q>(), err))?;
        let output = O::deserialize(&context.output)
            .map_err(|err| read("output", std::any::type_name::<O>(), err))?;
        let expected_output = match &context.expected_output {
            Some(value) => Some(
                A::deserialize(value)
                    .map_err(|err| read("expected output", std::any::type_name::<A>(), err))?,
            ),
            None => None,
        };
        Ok(EvaluatorContext {
            input,
            output,
            expected_output,
            metadata: context.metadata.clone(),
            span_id: context.span_id.clone(),
            trace_id: context.trace_id.clone(),
            task_error: context.task_error.clone(),
        })
    })();
    match typed {
        Ok(typed) => Ok(Some(typed)),
        Err(_) if context.task_error.is_some() => Ok(None),
        Err(err) => Err(err),
    }
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
            Ok(Evaluation::Skip) => return self,
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

/// What an evaluator returns: a plain value, one result, several, or nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// No evaluation for this row: no metric is sent, and summary evaluators see
    /// [`Outcome::Missing`]. What `None` becomes when an evaluator returns an `Option`.
    Skip,
    /// A plain value.
    Value(Value),
    /// One result with details.
    Result(EvaluatorResult),
    /// Several labelled results.
    Multi(MultiEvaluatorResult),
}

/// Everything an evaluator closure may return: plain values (`bool`, numbers,
/// strings, [`Value`]), [`EvaluatorResult`], [`MultiEvaluatorResult`], an `Option` of
/// any of these (`None`: no evaluation for this row, see [`Evaluation::Skip`]), and a
/// `Result` of any of these with any error that converts into a [`BoxError`].
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

impl<T: IntoEvaluation, E: Into<BoxError>> IntoEvaluation for Result<T, E> {
    fn into_evaluation(self) -> Result<Evaluation, CallError> {
        self.map_err(CallError::from_error).and_then(IntoEvaluation::into_evaluation)
    }
}

impl<T: IntoEvaluation> IntoEvaluation for Option<T> {
    fn into_evaluation(self) -> Result<Evaluation, CallError> {
        match self {
            Some(value) => value.into_evaluation(),
            None => Ok(Evaluation::Skip),
        }
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

/// The types a closure evaluator reads a row into (only named, never held).
type RowTypes<Q, O, A> = fn() -> (Q, O, A);

/// A closure as an [`Evaluator`], over the row read into its types `Q`, `O`, `A`.
pub(crate) struct FnEvaluator<F, Q = Value, O = Value, A = Value> {
    pub(crate) name: String,
    pub(crate) f: F,
    pub(crate) types: PhantomData<RowTypes<Q, O, A>>,
}

impl<F> FnEvaluator<F> {
    pub(crate) fn new<Q, O, A>(name: String, f: F) -> FnEvaluator<F, Q, O, A> {
        FnEvaluator { name, f, types: PhantomData }
    }
}

impl<F, R, Q, O, A> Evaluator for FnEvaluator<F, Q, O, A>
where
    F: Fn(&EvaluatorContext<Q, O, A>) -> R + Send + Sync + 'static,
    R: IntoEvaluation,
    Q: DeserializeOwned + 'static,
    O: DeserializeOwned + 'static,
    A: DeserializeOwned + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate<'a>(
        &'a self,
        context: &'a EvaluatorContext,
    ) -> BoxFuture<'a, Result<Evaluation, CallError>> {
        // JSON values all the way: no copy.
        let result = match (context as &dyn Any).downcast_ref::<EvaluatorContext<Q, O, A>>() {
            Some(same) => (self.f)(same).into_evaluation(),
            None => match typed_context::<Q, O, A>(context) {
                Ok(Some(typed)) => (self.f)(&typed).into_evaluation(),
                Ok(None) => Ok(Evaluation::Skip),
                Err(err) => Err(err),
            },
        };
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
        if let Some(expected) = context.expected_output.as_ref().filter(|e| !e.is_null()) {
            meta.insert("expected_output".into(), expected.clone());
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
        assert_eq!(None::<f64>.into_evaluation().unwrap(), Evaluation::Skip);
        assert_eq!(Some(0.5).into_evaluation().unwrap(), Evaluation::Value(json!(0.5)));
        let skipped = MultiEvaluatorResult::new().with("a", None::<bool>).with("b", Some(true));
        assert_eq!(skipped.values.len(), 1);
        let multi = MultiEvaluatorResult::new().with("a", 1.0).with("b", EvaluatorResult::new("x"));
        assert_eq!(multi.values.len(), 2);
    }

    #[test]
    fn the_default_remote_context_follows_the_spec() {
        let context = EvaluatorContext {
            input: json!({"q": 1}),
            output: json!("a"),
            expected_output: None,
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
