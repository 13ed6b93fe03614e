//! The experiment runner: a task over a dataset's records, scored by evaluators, with
//! one span per record (E15) and metrics streamed to the server (E11) (spec §4).
//!
//! - [`results`]: rows, evaluations and their table, CSV and JSON Lines forms;
//! - [`wire`]: metric and span serialization and the background writer;
//! - [`remote`]: server-side evaluators (E13);
//! - [`list`]: listing and reading back experiments (E10, E12);
//! - [`rerun`]: re-scoring stored outputs with new evaluators (§4.11).

mod list;
mod remote;
mod rerun;
mod results;
mod spans;
mod wire;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmobs_core::experiments::{CreateExperiment, EXPERIMENTS, UpdateExperiment};
use llmobs_core::jsonapi::{Document, Request, Resource};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
pub use tokio_util::sync::CancellationToken;

pub use list::{ExperimentInfo, ListExperiments, PulledExperiment};
pub use rerun::{MissingTask, Rerun};
pub use results::{
    EvaluationOutcome, Evaluations, ExperimentResults, Row, RunResult, SpanId, TraceId,
};
pub use spans::{ChildSpan, SpanKind};

use crate::api::{JSON_TIMEOUT, UNSTABLE, json_body};
use crate::datasets::{Dataset, DatasetRecord};
use crate::error::BoxError;
use crate::evaluators::{
    BoxFuture, CallError, ErrorInfo, Evaluator, EvaluatorContext, FnEvaluator, FnSummary,
    IntoEvaluation, Outcome, RemoteEvaluator, SummaryContext, SummaryEvaluator, from_value,
    valid_name,
};
use crate::{Client, Error, Result};
use results::RecordRef;
use wire::{Message, Metric, MetricsOf, Span, SpanEvent, Tags, push_json};

type TaskFn =
    Arc<dyn Fn(Value, Arc<Value>) -> BoxFuture<'static, Result<Value, CallError>> + Send + Sync>;

/// An experiment's status (spec §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not run yet.
    Created,
    /// Running.
    Running,
    /// Every record done, nothing failed.
    Completed,
    /// Every record done, something failed (see the error text).
    Failed,
    /// Stopped early: cancelled, `raise_errors`, or a failing summary post.
    Interrupted,
}

impl Status {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }

    /// The status of wire text `text` (`created` for anything unknown).
    pub fn parse(text: &str) -> Status {
        match text {
            "running" => Status::Running,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            "interrupted" => Status::Interrupted,
            _ => Status::Created,
        }
    }
}

/// Options of [`Experiment::run`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// At most this many tasks and evaluations at once (default 10).
    pub jobs: usize,
    /// Only the first `n` records.
    pub sample_size: Option<usize>,
    /// Extra attempts of a failing task or evaluator (default 0).
    pub max_retries: u32,
    /// The first backoff; attempt `n` waits `retry_delay·2^n`, jittered to 50–100 %,
    /// unless the failure carries a `retry_after` (default 100 ms).
    pub retry_delay: Duration,
    /// Longest time for one task attempt; a timeout is a failed attempt.
    pub task_timeout: Option<Duration>,
    /// Longest time for one evaluator attempt; a timeout is a failed attempt.
    pub evaluator_timeout: Option<Duration>,
    /// Stop at the first failure (after retries) with [`Error::Experiment`]; the
    /// experiment becomes `interrupted`.
    pub raise_errors: bool,
    /// Cancelling it stops the run: unfinished records are dropped, finished ones are
    /// kept on the server, the experiment becomes `interrupted` and `run` returns
    /// [`Error::Interrupted`].
    pub cancel: Option<CancellationToken>,
    /// Cancel on Ctrl-C (SIGINT) while running.
    pub ctrl_c: bool,
    /// Show a progress bar (indicatif) when stderr is a terminal (default true; never
    /// otherwise).
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: 10,
            sample_size: None,
            max_retries: 0,
            retry_delay: Duration::from_millis(100),
            task_timeout: None,
            evaluator_timeout: None,
            raise_errors: false,
            cancel: None,
            ctrl_c: false,
            progress: true,
        }
    }
}

impl RunOptions {
    fn check(&self) -> Result<()> {
        if self.jobs == 0 {
            return Err(Error::InvalidRequest { detail: "jobs must be at least 1".into() });
        }
        Ok(())
    }
}

/// A row evaluator as configured: local, or run by the server once bound to a client.
#[derive(Clone)]
enum EvaluatorSlot {
    Local(Arc<dyn Evaluator>),
    Remote(RemoteEvaluator),
}

impl EvaluatorSlot {
    fn bind(&self, client: &Client) -> Arc<dyn Evaluator> {
        match self {
            EvaluatorSlot::Local(e) => e.clone(),
            EvaluatorSlot::Remote(spec) => {
                Arc::new(remote::Remote { client: client.clone(), spec: spec.clone() })
            }
        }
    }

    fn check(&self) -> Result<()> {
        let detail = match self {
            EvaluatorSlot::Local(e) if !valid_name(e.name()) => {
                format!("evaluator name '{}' must match ^[a-zA-Z0-9_-]+$", e.name())
            }
            EvaluatorSlot::Remote(r) if r.eval_name.is_empty() => {
                "a remote evaluator needs a name".to_owned()
            }
            _ => return Ok(()),
        };
        Err(Error::InvalidRequest { detail })
    }
}

/// Evaluators and summary evaluators, as both experiments and reruns collect them.
#[derive(Clone, Default)]
struct Scoring {
    evaluators: Vec<EvaluatorSlot>,
    summary: Vec<Arc<dyn SummaryEvaluator>>,
}

impl Scoring {
    /// Checks names; `what` (`an experiment`, `a rerun`) needs at least one evaluator.
    fn check(&self, what: &str) -> Result<()> {
        if self.evaluators.is_empty() {
            return Err(Error::InvalidRequest {
                detail: format!("{what} needs at least one evaluator"),
            });
        }
        for slot in &self.evaluators {
            slot.check()?;
        }
        for summary in &self.summary {
            if !valid_name(summary.name()) {
                return Err(Error::InvalidRequest {
                    detail: format!(
                        "summary evaluator name '{}' must match ^[a-zA-Z0-9_-]+$",
                        summary.name()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The evaluators bound to `client`, each with its label.
    fn bind(&self, client: &Client) -> Vec<(Arc<dyn Evaluator>, Arc<str>)> {
        self.evaluators
            .iter()
            .map(|slot| {
                let evaluator = slot.bind(client);
                let label = Arc::from(evaluator.name());
                (evaluator, label)
            })
            .collect()
    }
}

/// The evaluator-adding methods shared by [`ExperimentBuilder`] and [`Rerun`].
macro_rules! scoring_methods {
    () => {
        /// Adds a closure evaluator labelled `name`. It sees an
        /// [`EvaluatorContext`] over JSON values, or over the types it names (the row is
        /// read into them); it returns a plain value, an
        /// [`EvaluatorResult`](crate::EvaluatorResult), a
        /// [`MultiEvaluatorResult`](crate::MultiEvaluatorResult), an `Option` of those
        /// (`None`: no evaluation for this row), or a `Result` of those with any error.
        pub fn evaluator<F, R, Q, O, A>(mut self, name: impl Into<String>, f: F) -> Self
        where
            F: Fn(&EvaluatorContext<Q, O, A>) -> R + Send + Sync + 'static,
            R: IntoEvaluation + 'static,
            Q: serde::de::DeserializeOwned + 'static,
            O: serde::de::DeserializeOwned + 'static,
            A: serde::de::DeserializeOwned + 'static,
        {
            let evaluator = FnEvaluator::new::<Q, O, A>(name.into(), f);
            self.scoring.evaluators.push(EvaluatorSlot::Local(Arc::new(evaluator)));
            self
        }

        /// Adds an [`Evaluator`] (stateful or async).
        pub fn evaluator_impl(mut self, evaluator: impl Evaluator) -> Self {
            self.scoring.evaluators.push(EvaluatorSlot::Local(Arc::new(evaluator)));
            self
        }

        /// Adds an evaluator run by the server (E13).
        pub fn remote_evaluator(mut self, evaluator: RemoteEvaluator) -> Self {
            self.scoring.evaluators.push(EvaluatorSlot::Remote(evaluator));
            self
        }

        /// Adds a summary evaluator labelled `name`, called once per iteration with every
        /// row's results (see [`SummaryContext`] for the denominator).
        pub fn summary_evaluator<F, R>(mut self, name: impl Into<String>, f: F) -> Self
        where
            F: Fn(&SummaryContext) -> R + Send + Sync + 'static,
            R: IntoEvaluation + 'static,
        {
            self.scoring.summary.push(Arc::new(FnSummary { name: name.into(), f }));
            self
        }

        /// Adds a [`SummaryEvaluator`] (stateful or async).
        pub fn summary_evaluator_impl(mut self, evaluator: impl SummaryEvaluator) -> Self {
            self.scoring.summary.push(Arc::new(evaluator));
            self
        }
    };
}
use scoring_methods;

struct Setup {
    client: Client,
    name: String,
    description: String,
    project_name: Option<String>,
    dataset: Arc<Dataset>,
    task: TaskFn,
    task_name: String,
    scoring: Scoring,
    config: Map<String, Value>,
    tags: Vec<(String, String)>,
    runs: u32,
}

/// Builds an [`Experiment`]; from [`Client::experiment`]. Nothing is sent until
/// [`Experiment::run`].
pub struct ExperimentBuilder {
    setup: Setup,
    scoring: Scoring,
}

/// Wraps an async closure over inputs of type `Q` returning any serializable output
/// as a [`TaskFn`]. An input that does not deserialize into `Q` fails that record's
/// task with a `DeserializationError`.
fn task_fn<F, Fut, Q, O, E>(task: F) -> TaskFn
where
    F: Fn(Q, Arc<Value>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<O, E>> + Send + 'static,
    Q: DeserializeOwned + 'static,
    O: Serialize,
    E: Into<BoxError>,
{
    Arc::new(move |input, config| {
        let future = from_value::<Q>(input).map(|input| task(input, config)).map_err(|err| {
            CallError::new(format!(
                "the record's input cannot be read as {}: {err}",
                std::any::type_name::<Q>()
            ))
            .kind("DeserializationError")
        });
        Box::pin(async move {
            match future?.await {
                Ok(output) => serde_json::to_value(output)
                    .map_err(|err| CallError::new(err.to_string()).kind("SerializationError")),
                Err(err) => Err(CallError::from_error(err)),
            }
        })
    })
}

impl Client {
    /// An experiment named `name` running `task` over `dataset`.
    ///
    /// `task` is an async closure over the record's input and the experiment's config
    /// (an object; `{}` by default). The input is a [`Value`], or any type the closure
    /// names that the input deserializes into (a record that does not fails its row
    /// with a `DeserializationError`). It returns any serializable output, or any error
    /// ([`CallError`] to set the type or ask for a delay before a retry). Pass an
    /// `Arc<Dataset>` to share a large dataset without copying.
    pub fn experiment<F, Fut, Q, O, E>(
        &self,
        name: impl Into<String>,
        dataset: impl Into<Arc<Dataset>>,
        task: F,
    ) -> ExperimentBuilder
    where
        F: Fn(Q, Arc<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<O, E>> + Send + 'static,
        Q: DeserializeOwned + 'static,
        O: Serialize,
        E: Into<BoxError>,
    {
        ExperimentBuilder {
            setup: Setup {
                client: self.clone(),
                name: name.into(),
                description: String::new(),
                project_name: None,
                dataset: dataset.into(),
                task: task_fn(task),
                task_name: "task".to_owned(),
                scoring: Scoring::default(),
                config: Map::new(),
                tags: Vec::new(),
                runs: 1,
            },
            scoring: Scoring::default(),
        }
    }
}

impl From<&Dataset> for Arc<Dataset> {
    fn from(dataset: &Dataset) -> Self {
        Arc::new(dataset.clone())
    }
}

impl ExperimentBuilder {
    scoring_methods!();

    /// The configuration passed to the task (a JSON object).
    pub fn config(mut self, config: Value) -> Self {
        self.setup.config = match config {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => Map::from_iter([("value".to_owned(), other)]),
        };
        self
    }

    /// Adds tags (`key`, `value`).
    pub fn tags<K: Into<String>, V: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.setup.tags.extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.setup.description = description.into();
        self
    }

    /// The project (default: the client's project).
    pub fn project_name(mut self, name: impl Into<String>) -> Self {
        self.setup.project_name = Some(name.into());
        self
    }

    /// The name of the records' spans (default `task`).
    pub fn task_name(mut self, name: impl Into<String>) -> Self {
        self.setup.task_name = name.into();
        self
    }

    /// Runs the whole dataset `runs` times (default 1).
    pub fn runs(mut self, runs: u32) -> Self {
        self.setup.runs = runs;
        self
    }

    /// Checks the setup (no network).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] without evaluators, with an invalid evaluator name,
    /// zero runs or an empty name.
    pub fn build(self) -> Result<Experiment> {
        let mut setup = self.setup;
        setup.scoring = self.scoring;
        if setup.name.trim().is_empty() {
            return Err(Error::InvalidRequest { detail: "an experiment needs a name".into() });
        }
        if setup.runs == 0 {
            return Err(Error::InvalidRequest { detail: "runs must be at least 1".into() });
        }
        setup.scoring.check("an experiment")?;
        Ok(Experiment { setup: Arc::new(setup), id: Arc::new(Mutex::new(None)) })
    }
}

/// A configured experiment. Cheap to clone. Each [`run`](Self::run) creates a new
/// experiment on the server.
#[derive(Clone)]
pub struct Experiment {
    setup: Arc<Setup>,
    id: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Experiment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Experiment")
            .field("name", &self.setup.name)
            .field("dataset", &self.setup.dataset.name())
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

/// A random backoff for attempt `attempt` (0-based): `base·2^attempt`, 50–100 %.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let top = base.saturating_mul(1u32 << attempt.min(16));
    top.mul_f64(0.5 + fastrand::f64() / 2.0).min(crate::api::MAX_RETRY_AFTER)
}

async fn attempt<T>(
    limit: Option<Duration>,
    what: &str,
    future: impl Future<Output = std::result::Result<T, CallError>>,
) -> std::result::Result<T, CallError> {
    match limit {
        None => future.await,
        Some(limit) => match tokio::time::timeout(limit, future).await {
            Ok(result) => result,
            Err(_) => {
                Err(CallError::new(format!("{what} timed out after {limit:?}")).kind("timeout"))
            }
        },
    }
}

/// Bounded concurrency and retries, shared by the records of one iteration.
struct Attempts {
    options: RunOptions,
    permits: Semaphore,
}

impl Attempts {
    fn new(options: &RunOptions) -> Self {
        Attempts { options: options.clone(), permits: Semaphore::new(options.jobs) }
    }

    /// Calls `make` up to `1 + max_retries` times under a permit, with backoff
    /// between attempts (permit released while waiting). Returns the result and the
    /// number of retries.
    async fn retried<T, Fut>(
        &self,
        limit: Option<Duration>,
        what: &str,
        make: impl Fn() -> Fut,
    ) -> (std::result::Result<T, CallError>, u32)
    where
        Fut: Future<Output = std::result::Result<T, CallError>>,
    {
        self.timed(limit, what, make).await.0
    }

    /// [`retried`](Self::retried), also returning when the first attempt started (once
    /// it had its permit): Unix nanoseconds and an instant.
    async fn timed<T, Fut>(
        &self,
        limit: Option<Duration>,
        what: &str,
        make: impl Fn() -> Fut,
    ) -> ((std::result::Result<T, CallError>, u32), (u64, std::time::Instant))
    where
        Fut: Future<Output = std::result::Result<T, CallError>>,
    {
        let mut tries = 0;
        let mut started = None;
        loop {
            let result = {
                let _permit = self.permits.acquire().await.expect("semaphore open");
                started.get_or_insert_with(|| (wire::now_ns(), std::time::Instant::now()));
                attempt(limit, what, make()).await
            };
            match result {
                Err(err) if tries < self.options.max_retries => {
                    let wait =
                        err.retry_after.unwrap_or_else(|| backoff(self.options.retry_delay, tries));
                    tokio::time::sleep(wait).await;
                    tries += 1;
                }
                other => {
                    let started = started.expect("set by the first attempt");
                    return ((other, tries), started);
                }
            }
        }
    }

    /// Runs every evaluator on `context`, in order; returns the evaluations and the
    /// metric objects (comma-separated JSON) with their count.
    async fn evaluate(
        &self,
        evaluators: &[(Arc<dyn Evaluator>, Arc<str>)],
        context: &EvaluatorContext,
        metrics_of: &MetricsOf<'_>,
    ) -> (Evaluations, Vec<u8>, usize) {
        let mut evaluations = Evaluations::with_capacity(evaluators.len());
        let mut metrics = Vec::new();
        let mut count = 0;
        for (evaluator, label) in evaluators {
            let (result, _) = self
                .retried(self.options.evaluator_timeout, label, || evaluator.evaluate(context))
                .await;
            for (label, outcome) in wire::scored(label, result) {
                push_json(
                    &mut metrics,
                    &metrics_of.metric(&label, &outcome, evaluator.source_type()),
                );
                count += 1;
                evaluations.insert(label, outcome);
            }
        }
        evaluations.shrink();
        (evaluations, metrics, count)
    }
}

/// A run's span tags as `(key, value)`, shared by its records and child spans.
pub(crate) type RunTags = Arc<Vec<(String, String)>>;

/// One task call on a record, all attempts included: what its span and row need.
pub(crate) struct TaskRun {
    pub(crate) span_id: SpanId,
    pub(crate) trace_id: TraceId,
    /// When the first attempt started (once it had its permit), Unix nanoseconds.
    pub(crate) start_ns: u64,
    pub(crate) duration_ns: u64,
    /// `null` when the task failed.
    pub(crate) output: Value,
    pub(crate) error: Option<Box<ErrorInfo>>,
    pub(crate) retries: u32,
}

impl Attempts {
    /// Runs `task` on `record` with retries. Child spans the task opens go to `scope`'s
    /// run, under this record's span.
    async fn run_task(
        &self,
        task: &TaskFn,
        record: &DatasetRecord,
        config: &Arc<Value>,
        scope: Option<(&mpsc::Sender<Message>, &RunTags)>,
    ) -> TaskRun {
        let span_id = wire::span_id();
        let trace_id = wire::trace_id(wire::now_ns());
        let scope = scope.map(|(tx, tags)| {
            Arc::new(spans::Scope {
                tx: tx.downgrade(),
                trace_id,
                parent: span_id,
                tags: tags.clone(),
                record_id: Arc::from(record.id.as_str()),
            })
        });
        let ((result, retries), (start_ns, started)) = self
            .timed(self.options.task_timeout, "task", || {
                let call = task(record.input.clone(), config.clone());
                let scope = scope.clone();
                async move {
                    match scope {
                        Some(scope) => spans::within(scope, call).await,
                        None => call.await,
                    }
                }
            })
            .await;
        let duration_ns = started.elapsed().as_nanos() as u64;
        let (output, error) = match result {
            Ok(output) => (output, None),
            Err(err) => (Value::Null, Some(Box::new(err.info()))),
        };
        TaskRun { span_id, trace_id, start_ns, duration_ns, output, error, retries }
    }
}

/// The tags a record's span adds to its run's: ids, position, error, the record's own
/// tags (which override), retries.
/// The span tags the runner writes to identify a record's run; a record tag with one of
/// these keys is not copied onto the span, so that it cannot override them (it may
/// still override the experiment's own tags, such as `env`).
pub(crate) const RUNNER_TAGS: &[&str] = &[
    "dataset_record_id",
    "dataset_record_index",
    "dataset_record_canonical_id",
    "dataset_id",
    "error",
    "error_type",
    "retries",
    "experiment_id",
    "run_id",
    "run_iteration",
];

fn record_tags<'a>(
    record: &'a DatasetRecord,
    index: usize,
    run: &'a TaskRun,
) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    let mut tags: Vec<(Cow<str>, Cow<str>)> = vec![
        (Cow::Borrowed("dataset_record_id"), Cow::Borrowed(&record.id)),
        (Cow::Borrowed("error"), Cow::Borrowed(if run.error.is_some() { "1" } else { "0" })),
        (Cow::Borrowed("dataset_record_index"), Cow::Owned(index.to_string())),
    ];
    if let Some(canonical) = &record.canonical_id {
        set_tag(&mut tags, "dataset_record_canonical_id", Cow::Borrowed(canonical));
    }
    for tag in &record.tags {
        if let Some((k, v)) = tag.split_once(':')
            && !RUNNER_TAGS.contains(&k)
        {
            set_tag(&mut tags, k, Cow::Borrowed(v));
        }
    }
    if let Some(error) = &run.error {
        set_tag(&mut tags, "error_type", Cow::Borrowed(&error.kind));
    }
    if run.retries > 0 {
        set_tag(&mut tags, "retries", Cow::Owned(run.retries.to_string()));
    }
    tags
}

/// The metadata evaluators see: the record's, with `experiment_config` added.
fn context_metadata(record_metadata: Option<&Value>, config: &Value) -> Value {
    let mut metadata = match record_metadata {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    metadata.insert("experiment_config".into(), config.clone());
    Value::Object(metadata)
}

/// `key:value` tags as pairs (tags without `:` are left out).
fn tag_pairs(tags: &[String]) -> Vec<(String, String)> {
    tags.iter()
        .filter_map(|t| t.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Sets `key` in a small tag list, replacing an earlier value.
fn set_tag<'a>(tags: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>, key: &'a str, value: Cow<'a, str>) {
    match tags.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => tags.push((Cow::Borrowed(key), value)),
    }
}

/// Shared by the record tasks of one iteration.
struct Iteration {
    setup: Arc<Setup>,
    evaluators: Vec<(Arc<dyn Evaluator>, Arc<str>)>,
    config: Arc<Value>,
    experiment_id: String,
    /// The run's span tags (experiment tags, ids, `language`, `source`).
    span_tags: RunTags,
    attempts: Attempts,
    tx: mpsc::Sender<Message>,
}

impl Iteration {
    async fn process(self: Arc<Self>, index: usize) -> Row {
        let setup = &self.setup;
        let record = &setup.dataset.records()[index];
        let mut run = self
            .attempts
            .run_task(&setup.task, record, &self.config, Some((&self.tx, &self.span_tags)))
            .await;
        let context = EvaluatorContext {
            input: record.input.clone(),
            output: std::mem::take(&mut run.output),
            expected_output: record.expected_output.clone(),
            metadata: context_metadata(record.metadata.as_ref(), &self.config),
            span_id: run.span_id.to_string(),
            trace_id: run.trace_id.to_string(),
            task_error: run.error.as_deref().cloned(),
        };
        let metrics_of = MetricsOf {
            span: Some((run.span_id, run.trace_id)),
            timestamp_ms: run.start_ns / 1_000_000,
            experiment_id: &self.experiment_id,
        };
        let (evaluations, metrics, count) =
            self.attempts.evaluate(&self.evaluators, &context, &metrics_of).await;
        run.output = context.output;
        let tags = record_tags(record, index, &run);
        let span = Span::of_record(
            &setup.task_name,
            record,
            &run,
            &setup.config,
            Tags { run: &self.span_tags, record: &tags },
        );
        let mut spans = Vec::new();
        push_json(&mut spans, &SpanEvent(&span));
        let _ = self.tx.send(Message::Record { spans, metrics, count }).await;
        Row::new(RecordRef::Dataset(setup.dataset.clone()), index, run, evaluations)
    }
}

/// How an iteration ended early.
enum Stop {
    Cancelled,
    Failed(String),
}

/// The distinct failures of a row, as the failed status's error text lists them; with
/// `raise_errors`, the first one stops the run.
fn row_errors(row: &Row, errors: &mut BTreeSet<String>, raise: bool, stop: &mut Option<Stop>) {
    if let Some(error) = &row.error {
        errors.insert(format!("{}: {}", error.kind, error.message));
        if raise && stop.is_none() {
            *stop = Some(Stop::Failed(format!(
                "Error on record {}: {}\n{}",
                row.index, error.message, error.kind
            )));
        }
    }
    for (label, outcome) in row.evaluations.iter() {
        if let Some(error) = outcome.error() {
            let kind = error.get("type").and_then(Value::as_str).unwrap_or("Error");
            let message = error.get("message").and_then(Value::as_str).unwrap_or("");
            errors.insert(format!("{label} ({kind}): {message}"));
            if raise && stop.is_none() {
                *stop =
                    Some(Stop::Failed(format!("Evaluator {label} failed on row {}", row.index)));
            }
        }
    }
}

/// Sets an experiment's status (E9); failures are only logged, as the reference
/// client does.
async fn set_status(client: &Client, id: &str, status: Status, error: Option<String>) {
    let request = Request::new(
        EXPERIMENTS,
        UpdateExperiment { status: Some(status.as_str().to_owned()), error, ..Default::default() },
    );
    let result = match json_body(&request) {
        Ok(body) => {
            client
                .send(
                    Method::PATCH,
                    &format!("{UNSTABLE}/experiments/{id}"),
                    Some(body),
                    JSON_TIMEOUT,
                    false,
                )
                .await
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(answer) if answer.status == 200 => {}
        Ok(answer) => tracing::warn!(status = answer.status, "experiment status update refused"),
        Err(err) => tracing::warn!(error = %err, "experiment status update failed"),
    }
}

/// Creates an experiment (E8); returns its id and run name.
async fn create_experiment(client: &Client, create: CreateExperiment) -> Result<(String, String)> {
    let name = create.name.clone();
    let created: Document<Resource<Value>> = client
        .call(
            Method::POST,
            &format!("{UNSTABLE}/experiments"),
            Some(json_body(&Request::new(EXPERIMENTS, create))?),
            JSON_TIMEOUT,
            &[200],
        )
        .await?;
    let run_name =
        created.data.attributes.get("name").and_then(Value::as_str).unwrap_or(&name).to_owned();
    Ok((created.data.id, run_name))
}

/// Runs the summary evaluators over `rows`; returns their outcomes and their metric
/// objects (comma-separated JSON). A failure is recorded as `unknown error`.
async fn summarize(
    summary: &[Arc<dyn SummaryEvaluator>],
    rows: &[Row],
    config: &Value,
    experiment_id: &str,
    errors: &mut BTreeSet<String>,
) -> (BTreeMap<String, EvaluationOutcome>, Vec<u8>) {
    let mut results = BTreeMap::new();
    let mut metrics = Vec::new();
    if summary.is_empty() {
        return (results, metrics);
    }
    let labels: BTreeSet<&str> = rows.iter().flat_map(|r| r.evaluations.keys()).collect();
    let context = SummaryContext {
        inputs: rows.iter().map(|r| r.input().clone()).collect(),
        outputs: rows
            .iter()
            .map(|r| match &r.error {
                Some(error) => Outcome::Error((**error).clone()),
                None => Outcome::Ok(r.output.clone()),
            })
            .collect(),
        expected_outputs: rows.iter().map(|r| r.expected_output().clone()).collect(),
        evaluations: labels
            .into_iter()
            .map(|label| {
                let outcomes = rows
                    .iter()
                    .map(|r| {
                        r.evaluations
                            .get(label)
                            .map_or(Outcome::Missing, EvaluationOutcome::outcome)
                    })
                    .collect();
                (label.to_owned(), outcomes)
            })
            .collect(),
        metadata: rows
            .iter()
            .map(|r| context_metadata(r.record().metadata.as_ref(), config))
            .collect(),
    };
    let timestamp_ms =
        rows.iter().map(|r| r.start_ns).max().unwrap_or_else(wire::now_ns) / 1_000_000;
    for evaluator in summary {
        let result = evaluator.evaluate(&context).await;
        if result.is_err() {
            errors.insert("unknown error".to_owned());
        }
        for (label, outcome) in wire::scored(&Arc::from(evaluator.name()), result) {
            push_json(
                &mut metrics,
                &Metric {
                    label: &label,
                    outcome: &outcome,
                    span: None,
                    timestamp_ms,
                    experiment_id,
                    source: None,
                },
            );
            results.insert(label.to_string(), outcome);
        }
    }
    (results, metrics)
}

/// Posts summary metrics through the writer; a failing post stops the run (spec §4.3).
async fn post_summary(
    tx: &mpsc::Sender<Message>,
    metrics: Vec<u8>,
) -> std::result::Result<(), Stop> {
    let (reply, answer) = oneshot::channel();
    let _ = tx.send(Message::Summary(metrics, reply)).await;
    match answer.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(Stop::Failed(format!("summary metrics were refused: {err}"))),
        Err(_) => Err(Stop::Failed("the metrics writer stopped".into())),
    }
}

/// A progress bar on a terminal, nothing otherwise.
fn progress_bar(show: bool, total: usize, message: String) -> Option<indicatif::ProgressBar> {
    (show && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_message(message);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar
    })
}

/// Calls `Ctrl-C` a cancellation while the guard lives, when asked to.
struct CtrlC(Option<tokio::task::JoinHandle<()>>);

impl CtrlC {
    fn watch(enabled: bool, cancel: &CancellationToken) -> Self {
        CtrlC(enabled.then(|| {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.cancel();
                }
            })
        }))
    }
}

impl Drop for CtrlC {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
        }
    }
}

impl Experiment {
    /// The experiment's id once a run has created it.
    pub fn id(&self) -> Option<String> {
        self.id.lock().expect("experiment id").clone()
    }

    /// `<ui base>/llm/experiments/{id}` (the override origin when set, spec §4.9);
    /// ends in `/None` before the first run, as the reference client's does.
    pub fn url(&self) -> String {
        let id = self.id().unwrap_or_else(|| "None".to_owned());
        self.setup.client.experiment_url(&id)
    }

    /// Re-scores the outputs of this experiment's latest run with other evaluators
    /// (spec §4.11); failed rows can be re-run with this experiment's task.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] before the first run.
    pub fn rerun_evaluators(&self) -> Result<Rerun> {
        let id = self.id().ok_or_else(|| Error::InvalidRequest {
            detail: "the experiment has not run yet; call run() first".into(),
        })?;
        Ok(self.setup.client.rerun_evaluators(id).task_fn(self.setup.task.clone()))
    }

    /// Runs the experiment (spec §4.2): E1, E8, E9 `running`, then for each iteration
    /// every record (task, evaluators, span, metrics), the summary evaluators, and a
    /// final E9 `completed` or `failed`.
    ///
    /// # Errors
    ///
    /// Creation failures (nothing else is sent then); [`Error::Interrupted`] when
    /// cancelled; [`Error::Experiment`] with `raise_errors` or when the summary post
    /// fails. In the last two cases the experiment is marked `interrupted`.
    pub async fn run(&self, options: RunOptions) -> Result<ExperimentResults> {
        options.check()?;
        let setup = &self.setup;
        let client = &setup.client;
        let dataset = &setup.dataset;
        let project_name = setup
            .project_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| client.inner.config.project_name.clone());
        let project_id = client.project_id(&project_name, false).await?;
        let mut tags: Vec<String> = setup.tags.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        tags.extend([
            format!("llmobs.sdk_version:{}", wire::SDK_VERSION),
            format!("project_name:{project_name}"),
            format!("dataset_name:{}", dataset.name()),
            format!("experiment_name:{}", setup.name),
        ]);
        tags.push(format!("project_id:{project_id}"));
        let mut config = setup.config.clone();
        if !dataset.filter_tags().is_empty() {
            config.insert("filtered_record_tags".into(), json!(dataset.filter_tags()));
        }
        let create = CreateExperiment {
            name: setup.name.clone(),
            description: Some(setup.description.clone()),
            dataset_id: dataset.id().to_owned(),
            project_id: project_id.clone(),
            dataset_version: Some(i64::try_from(dataset.version()).unwrap_or(i64::MAX)),
            config: Some(config),
            metadata: Some(Map::from_iter([("tags".to_owned(), json!(tags))])),
            ensure_unique: Some(true),
            run_count: Some(setup.runs as i64),
            parent_experiment_id: None,
        };
        let (experiment_id, run_name) = create_experiment(client, create).await?;
        *self.id.lock().expect("experiment id") = Some(experiment_id.clone());
        tags.push(format!("experiment_id:{experiment_id}"));
        set_status(client, &experiment_id, Status::Running, None).await;

        let cancel = options.cancel.clone().unwrap_or_default();
        let outcome = {
            let _ctrl_c = CtrlC::watch(options.ctrl_c, &cancel);
            self.iterations(&options, &cancel, &experiment_id, &tags).await
        };
        let url = self.url();
        match outcome {
            Ok((runs, errors)) => {
                let (status, error) = if errors.is_empty() {
                    (Status::Completed, None)
                } else {
                    (Status::Failed, Some(errors.into_iter().collect::<Vec<_>>().join("; ")))
                };
                set_status(client, &experiment_id, status, error.clone()).await;
                Ok(ExperimentResults { experiment_id, run_name, status, error, url, runs })
            }
            Err(stop) => {
                set_status(client, &experiment_id, Status::Interrupted, None).await;
                Err(match stop {
                    Stop::Cancelled => Error::Interrupted { experiment_id },
                    Stop::Failed(detail) => Error::Experiment { experiment_id, detail },
                })
            }
        }
    }

    async fn iterations(
        &self,
        options: &RunOptions,
        cancel: &CancellationToken,
        experiment_id: &str,
        tags: &[String],
    ) -> std::result::Result<(Vec<RunResult>, BTreeSet<String>), Stop> {
        let setup = &self.setup;
        let evaluators = setup.scoring.bind(&setup.client);
        // Records finishing while a post is in flight queue here and go out together in
        // the next post, so batches grow with the pace of the run.
        let (tx, rx) = mpsc::channel(options.jobs.saturating_mul(16).clamp(256, 4096));
        let writer = tokio::spawn(wire::writer(
            setup.client.clone(),
            experiment_id.to_owned(),
            options.jobs,
            rx,
        ));
        let total = setup.dataset.len().min(options.sample_size.unwrap_or(usize::MAX));
        let task_config = Arc::new(Value::Object(setup.config.clone()));
        let mut runs = Vec::new();
        let mut errors = BTreeSet::new();
        let mut stop = None;
        for iteration in 1..=setup.runs {
            let run_id = wire::uuid();
            let mut run_tags = tags.to_vec();
            run_tags.extend([format!("run_id:{run_id}"), format!("run_iteration:{iteration}")]);
            let _ = tx.send(Message::Tags(run_tags.clone())).await;
            let mut span_tags = tag_pairs(&run_tags);
            for (k, v) in [
                ("dataset_id", setup.dataset.id()),
                ("language", "rust"),
                ("source", "integration"),
            ] {
                span_tags.retain(|(key, _)| key != k);
                span_tags.push((k.to_owned(), v.to_owned()));
            }
            let shared = Arc::new(Iteration {
                setup: setup.clone(),
                evaluators: evaluators.clone(),
                config: task_config.clone(),
                experiment_id: experiment_id.to_owned(),
                span_tags: Arc::new(span_tags),
                attempts: Attempts::new(options),
                tx: tx.clone(),
            });
            let mut rows: Vec<Option<Row>> = Vec::with_capacity(total);
            rows.resize_with(total, || None);
            let mut set = JoinSet::new();
            let window = options.jobs.saturating_mul(2).max(2);
            let mut next = 0usize;
            let bar =
                progress_bar(options.progress, total, format!("{} run {iteration}", setup.name));
            loop {
                while set.len() < window && next < total && stop.is_none() {
                    set.spawn(shared.clone().process(next));
                    next += 1;
                }
                let joined = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => { stop = Some(Stop::Cancelled); None }
                    joined = set.join_next() => joined,
                };
                let Some(joined) = joined else { break };
                let row = match joined {
                    Ok(row) => row,
                    Err(err) => {
                        stop = Some(Stop::Failed(format!("a record task panicked: {err}")));
                        break;
                    }
                };
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
                row_errors(&row, &mut errors, options.raise_errors, &mut stop);
                let index = row.index;
                rows[index] = Some(row);
                if stop.is_some() {
                    break;
                }
            }
            if stop.is_some() {
                set.abort_all();
                while set.join_next().await.is_some() {}
            }
            // The writer stops once every sender is gone.
            drop(shared);
            if let Some(bar) = bar {
                if stop.is_some() {
                    bar.abandon();
                } else {
                    bar.finish_and_clear();
                }
            }
            // Finished records are kept whatever happens next.
            let (reply, flushed) = oneshot::channel();
            let _ = tx.send(Message::Flush(reply)).await;
            let flushed = flushed.await.unwrap_or(Ok(()));
            if let Some(stop) = stop {
                drop(tx);
                let _ = writer.await;
                return Err(stop);
            }
            if let Err(err) = flushed {
                tracing::warn!(error = %err, "metrics post failed at the end of an iteration");
            }
            // Collected in place (no second buffer of rows); every slot is filled here.
            let rows: Vec<Row> = rows.into_iter().map_while(|row| row).collect();
            let (summary, metrics) =
                summarize(&setup.scoring.summary, &rows, &task_config, experiment_id, &mut errors)
                    .await;
            if !setup.scoring.summary.is_empty()
                && let Err(stop) = post_summary(&tx, metrics).await
            {
                drop(tx);
                let _ = writer.await;
                return Err(stop);
            }
            runs.push(RunResult { run_id, iteration, rows, summary });
        }
        drop(tx);
        let _ = writer.await;
        Ok((runs, errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        for attempt in 0..5 {
            let wait = backoff(base, attempt);
            assert!(wait >= base * (1 << attempt) / 2 && wait <= base * (1 << attempt));
        }
        assert!(backoff(base, 40) <= crate::api::MAX_RETRY_AFTER);
    }

    #[test]
    fn record_tags_override_run_tags() {
        let mut tags: Vec<(Cow<str>, Cow<str>)> = vec![];
        set_tag(&mut tags, "env", Cow::Borrowed("a"));
        set_tag(&mut tags, "env", Cow::Borrowed("b"));
        assert_eq!(tags, vec![(Cow::Borrowed("env"), Cow::Borrowed("b"))]);
        assert_eq!(tag_pairs(&["a:b:c".into(), "bare".into()]), vec![("a".into(), "b:c".into())]);
    }
}
