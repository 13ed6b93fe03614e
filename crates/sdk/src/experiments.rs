//! The experiment runner: a task over a dataset's records, scored by evaluators, with
//! one span per record (E15) and metrics streamed to the server (E11) (spec §4).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::{IsTerminal, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use llmobs_core::experiments::{CreateExperiment, EXPERIMENTS, UpdateExperiment};
use llmobs_core::jsonapi::{Document, Request, Resource};
use reqwest::Method;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
pub use tokio_util::sync::CancellationToken;

use crate::api::{Body, JSON_TIMEOUT, SPANS, UNSTABLE, json_body};
use crate::datasets::Dataset;
use crate::evaluators::{
    BoxFuture, CallError, ErrorInfo, Evaluation, Evaluator, EvaluatorContext, EvaluatorResult,
    FnEvaluator, IntoEvaluation, Outcome, RemoteEvaluator, SummaryContext, SummaryFn, valid_name,
};
use crate::{Client, Error, Result};

/// The SDK's version, sent in tags.
const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Most spans in one intake request, and the byte budget of one (spec §6 item 6).
const SPAN_BATCH: usize = 1000;
const SPAN_BYTES: usize = 5 * 1024 * 1024 - 64 * 1024;
/// Span intake cadence.
const SPAN_INTERVAL: Duration = Duration::from_secs(1);

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

/// One evaluation of one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluationOutcome {
    /// The value (`null` on failure).
    pub value: Value,
    /// The failure, as sent in the metric.
    pub error: Option<Value>,
    /// `OK`, `ERROR`, or the server's status for remote evaluators.
    pub status: Cow<'static, str>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Pass or fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assessment: Option<String>,
    /// Extra data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Box<Map<String, Value>>>,
    /// `key:value` tags.
    pub tags: Vec<String>,
}

/// A row's evaluations by label, in the evaluators' order (a later result with the same
/// label replaces an earlier one). Kept as a short list: rows of large runs stay small.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluations(Vec<(String, EvaluationOutcome)>);

impl Evaluations {
    /// The evaluation labelled `label`.
    pub fn get(&self, label: &str) -> Option<&EvaluationOutcome> {
        self.0.iter().find(|(l, _)| l == label).map(|(_, e)| e)
    }

    /// The labels.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(l, _)| l)
    }

    /// Labels and evaluations.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &EvaluationOutcome)> {
        self.0.iter().map(|(l, e)| (l, e))
    }

    /// How many labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn insert(&mut self, label: String, outcome: EvaluationOutcome) {
        match self.0.iter_mut().find(|(l, _)| *l == label) {
            Some(slot) => slot.1 = outcome,
            None => self.0.push((label, outcome)),
        }
    }
}

impl std::ops::Index<&str> for Evaluations {
    type Output = EvaluationOutcome;

    /// # Panics
    ///
    /// When no evaluation has that label.
    fn index(&self, label: &str) -> &EvaluationOutcome {
        self.get(label).unwrap_or_else(|| panic!("no evaluation labelled {label}"))
    }
}

impl Serialize for Evaluations {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (label, outcome) in &self.0 {
            map.serialize_entry(label, outcome)?;
        }
        map.end()
    }
}

impl EvaluationOutcome {
    fn outcome(&self) -> Outcome {
        match &self.error {
            None => Outcome::Ok(self.value.clone()),
            Some(error) => Outcome::Error(ErrorInfo {
                message: error.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
                kind: error.get("type").and_then(Value::as_str).unwrap_or("").to_owned(),
                stack: String::new(),
            }),
        }
    }
}

/// One record's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The record's position in the dataset.
    pub index: usize,
    /// The record's id.
    pub record_id: String,
    /// Its span (decimal 64-bit id).
    pub span_id: String,
    /// Its trace (32 hex digits).
    pub trace_id: String,
    /// When the task started, in Unix nanoseconds.
    pub start_ns: u64,
    /// How long the task took, all attempts included.
    pub duration_ns: u64,
    /// The input.
    pub input: Value,
    /// The expected output (`null` when none).
    pub expected_output: Value,
    /// The output (`null` when the task failed).
    pub output: Value,
    /// The task's failure after its retries.
    pub error: Option<ErrorInfo>,
    /// Retries the task needed.
    pub retries: u32,
    /// Evaluations by label.
    pub evaluations: Evaluations,
}

/// One iteration of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    /// Its id (a UUID).
    pub run_id: String,
    /// 1-based.
    pub iteration: u32,
    /// Rows in record order.
    pub rows: Vec<Row>,
    /// Summary evaluations by label.
    pub summary: BTreeMap<String, EvaluationOutcome>,
}

/// What [`Experiment::run`] returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentResults {
    /// The experiment's id.
    pub experiment_id: String,
    /// The run name (`<name>-<epoch ms>`).
    pub run_name: String,
    /// The final status: `completed` or `failed`.
    pub status: Status,
    /// The error text of a failed run.
    pub error: Option<String>,
    /// The UI link.
    pub url: String,
    /// One entry per iteration.
    pub runs: Vec<RunResult>,
}

impl ExperimentResults {
    /// The rows of the first iteration.
    pub fn rows(&self) -> &[Row] {
        self.runs.first().map(|r| r.rows.as_slice()).unwrap_or(&[])
    }

    /// The summary of the first iteration.
    pub fn summary(&self) -> Option<&BTreeMap<String, EvaluationOutcome>> {
        self.runs.first().map(|r| &r.summary)
    }

    /// Writes every row of every iteration as JSON Lines (one object per row, with
    /// `run_id` and `run_iteration`).
    pub fn write_jsonl<W: std::io::Write>(&self, writer: W) -> Result<()> {
        let mut writer = std::io::BufWriter::new(writer);
        let io = |err: std::io::Error| Error::Csv { detail: err.to_string() };
        for run in &self.runs {
            for row in &run.rows {
                let mut value = serde_json::to_value(row).unwrap_or_default();
                if let Value::Object(map) = &mut value {
                    map.insert("run_id".into(), json!(run.run_id));
                    map.insert("run_iteration".into(), json!(run.iteration));
                }
                serde_json::to_writer(&mut writer, &value)
                    .map_err(|e| Error::Csv { detail: e.to_string() })?;
                writer.write_all(b"\n").map_err(io)?;
            }
        }
        writer.flush().map_err(io)
    }

    /// Writes every row as CSV: `run_iteration,index,record_id,span_id,input,output,
    /// expected_output,error`, then one column per evaluation label (values as JSON).
    pub fn write_csv<W: std::io::Write>(&self, writer: W) -> Result<()> {
        let labels: BTreeSet<&String> = self
            .runs
            .iter()
            .flat_map(|r| r.rows.iter())
            .flat_map(|r| r.evaluations.keys())
            .collect();
        let mut csv = csv::Writer::from_writer(writer);
        let wire = |err: csv::Error| Error::Csv { detail: err.to_string() };
        let mut header: Vec<String> = [
            "run_iteration",
            "index",
            "record_id",
            "span_id",
            "input",
            "output",
            "expected_output",
            "error",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        header.extend(labels.iter().map(|l| l.to_string()));
        csv.write_record(&header).map_err(wire)?;
        for run in &self.runs {
            for row in &run.rows {
                let mut cells = vec![
                    run.iteration.to_string(),
                    row.index.to_string(),
                    row.record_id.clone(),
                    row.span_id.clone(),
                    row.input.to_string(),
                    row.output.to_string(),
                    row.expected_output.to_string(),
                    row.error
                        .as_ref()
                        .map(|e| format!("{}: {}", e.kind, e.message))
                        .unwrap_or_default(),
                ];
                for label in &labels {
                    cells.push(match row.evaluations.get(label) {
                        Some(e) if e.error.is_none() => e.value.to_string(),
                        Some(_) => "ERROR".to_owned(),
                        None => String::new(),
                    });
                }
                csv.write_record(&cells).map_err(wire)?;
            }
        }
        csv.flush().map_err(|err| Error::Csv { detail: err.to_string() })
    }
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

impl std::fmt::Display for ExperimentResults {
    /// A plain-text table of the first iteration's rows, then the summary.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: BTreeSet<&String> =
            self.rows().iter().flat_map(|r| r.evaluations.keys()).collect();
        let mut header = vec!["#".to_owned(), "input".into(), "output".into(), "error".into()];
        header.extend(labels.iter().map(|l| l.to_string()));
        let mut table = vec![header];
        for row in self.rows() {
            let mut cells = vec![
                row.index.to_string(),
                clip(&row.input.to_string(), 30),
                clip(&row.output.to_string(), 30),
                row.error.as_ref().map(|e| clip(&e.message, 20)).unwrap_or_default(),
            ];
            for label in &labels {
                cells.push(match row.evaluations.get(label) {
                    Some(e) if e.error.is_none() => clip(&e.value.to_string(), 16),
                    Some(_) => "ERROR".to_owned(),
                    None => "-".to_owned(),
                });
            }
            table.push(cells);
        }
        let widths: Vec<usize> = (0..table[0].len())
            .map(|c| table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for (i, row) in table.iter().enumerate() {
            let line: Vec<String> =
                row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
            writeln!(f, "| {} |", line.join(" | "))?;
            if i == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                writeln!(f, "|-{}-|", rule.join("-|-"))?;
            }
        }
        writeln!(
            f,
            "status: {}{}",
            self.status.as_str(),
            self.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
        )?;
        if let Some(summary) = self.summary() {
            for (label, outcome) in summary {
                match &outcome.error {
                    None => writeln!(f, "{label}: {}", outcome.value)?,
                    Some(error) => writeln!(f, "{label}: ERROR {error}")?,
                }
            }
        }
        Ok(())
    }
}

enum EvaluatorSlot {
    Local(Arc<dyn Evaluator>),
    Remote(RemoteEvaluator),
}

struct Setup {
    client: Client,
    name: String,
    description: String,
    project_name: Option<String>,
    dataset: Arc<Dataset>,
    task: TaskFn,
    task_name: String,
    evaluators: Vec<EvaluatorSlot>,
    summary: Vec<(String, SummaryFn)>,
    config: Map<String, Value>,
    tags: Vec<(String, String)>,
    runs: u32,
}

/// Builds an [`Experiment`]; from [`Client::experiment`]. Nothing is sent until
/// [`Experiment::run`].
pub struct ExperimentBuilder {
    setup: Setup,
}

impl Client {
    /// An experiment named `name` running `task` over `dataset`.
    ///
    /// `task` is an async closure over the record's input and the experiment's config
    /// (an object; `{}` by default), returning any serializable output or a
    /// [`CallError`]. Pass an `Arc<Dataset>` to share a large dataset without copying.
    pub fn experiment<F, Fut, O, E>(
        &self,
        name: impl Into<String>,
        dataset: impl Into<Arc<Dataset>>,
        task: F,
    ) -> ExperimentBuilder
    where
        F: Fn(Value, Arc<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<O, E>> + Send + 'static,
        O: Serialize,
        E: Into<CallError>,
    {
        let task: TaskFn = Arc::new(move |input, config| {
            let future = task(input, config);
            Box::pin(async move {
                match future.await {
                    Ok(output) => serde_json::to_value(output)
                        .map_err(|err| CallError::new(err.to_string()).kind("SerializationError")),
                    Err(err) => Err(err.into()),
                }
            })
        });
        ExperimentBuilder {
            setup: Setup {
                client: self.clone(),
                name: name.into(),
                description: String::new(),
                project_name: None,
                dataset: dataset.into(),
                task,
                task_name: "task".to_owned(),
                evaluators: Vec::new(),
                summary: Vec::new(),
                config: Map::new(),
                tags: Vec::new(),
                runs: 1,
            },
        }
    }
}

impl From<&Dataset> for Arc<Dataset> {
    fn from(dataset: &Dataset) -> Self {
        Arc::new(dataset.clone())
    }
}

impl ExperimentBuilder {
    /// Adds a closure evaluator labelled `name`. It returns a plain value, an
    /// [`EvaluatorResult`], a [`MultiEvaluatorResult`](crate::MultiEvaluatorResult), or
    /// a `Result` of those.
    pub fn evaluator<F, R>(mut self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(&EvaluatorContext) -> R + Send + Sync + 'static,
        R: IntoEvaluation + 'static,
    {
        let evaluator = FnEvaluator { name: name.into(), f };
        self.setup.evaluators.push(EvaluatorSlot::Local(Arc::new(evaluator)));
        self
    }

    /// Adds an [`Evaluator`] (stateful or async).
    pub fn evaluator_impl(mut self, evaluator: impl Evaluator) -> Self {
        self.setup.evaluators.push(EvaluatorSlot::Local(Arc::new(evaluator)));
        self
    }

    /// Adds an evaluator run by the server (E13).
    pub fn remote_evaluator(mut self, evaluator: RemoteEvaluator) -> Self {
        self.setup.evaluators.push(EvaluatorSlot::Remote(evaluator));
        self
    }

    /// Adds a summary evaluator labelled `name`, called once per iteration with every
    /// row's results (see [`SummaryContext`] for the denominator).
    pub fn summary_evaluator<F, R>(mut self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(&SummaryContext) -> R + Send + Sync + 'static,
        R: IntoEvaluation,
    {
        let f: SummaryFn = Arc::new(move |context| f(context).into_evaluation());
        self.setup.summary.push((name.into(), f));
        self
    }

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
        let setup = self.setup;
        let invalid = |detail: String| Err(Error::InvalidRequest { detail });
        if setup.name.trim().is_empty() {
            return invalid("an experiment needs a name".into());
        }
        if setup.evaluators.is_empty() {
            return invalid("an experiment needs at least one evaluator".into());
        }
        if setup.runs == 0 {
            return invalid("runs must be at least 1".into());
        }
        for slot in &setup.evaluators {
            match slot {
                EvaluatorSlot::Local(e) if !valid_name(e.name()) => {
                    return invalid(format!(
                        "evaluator name '{}' must match ^[a-zA-Z0-9_-]+$",
                        e.name()
                    ));
                }
                EvaluatorSlot::Remote(r) if r.eval_name.is_empty() => {
                    return invalid("a remote evaluator needs a name".into());
                }
                _ => {}
            }
        }
        for (name, _) in &setup.summary {
            if !valid_name(name) {
                return invalid(format!(
                    "summary evaluator name '{name}' must match ^[a-zA-Z0-9_-]+$"
                ));
            }
        }
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

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// A 128-bit trace id laid out as Datadog's: 32-bit seconds, 32 zero bits, 64 random
/// bits (spec §6 item 6).
fn trace_id(start_ns: u64) -> String {
    format!("{:08x}00000000{:016x}", (start_ns / 1_000_000_000) as u32, fastrand::u64(..))
}

fn span_id() -> String {
    fastrand::u64(1..).to_string()
}

fn uuid() -> String {
    let hex = crate::datasets::new_id();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The metric type and value key of a value (spec §4.5).
fn typed(value: &Value) -> (&'static str, Value) {
    match value {
        Value::Null => ("categorical", Value::Null),
        Value::Bool(_) => ("boolean", value.clone()),
        Value::Number(_) => ("score", value.clone()),
        Value::Object(_) => ("json", value.clone()),
        Value::String(text) => ("categorical", Value::String(text.to_lowercase())),
        other => ("categorical", Value::String(other.to_string().to_lowercase())),
    }
}

/// One metric's content before ids are attached.
struct Scored {
    label: String,
    outcome: EvaluationOutcome,
    source_type: Option<String>,
}

fn scored(
    label: &str,
    result: std::result::Result<Evaluation, CallError>,
    source: Option<&str>,
) -> Vec<Scored> {
    let ok = |label: String, r: EvaluatorResult, status: &'static str| Scored {
        label,
        outcome: EvaluationOutcome {
            value: r.value,
            error: None,
            status: Cow::Borrowed(status),
            reasoning: r.reasoning.filter(|s| !s.is_empty()),
            assessment: r.assessment.map(|a| a.as_str().to_owned()).filter(|s| !s.is_empty()),
            metadata: Some(r.metadata).filter(|m| !m.is_empty()).map(Box::new),
            tags: r.tags.into_iter().map(|(k, v)| format!("{k}:{v}")).collect(),
        },
        source_type: source.map(str::to_owned),
    };
    match result {
        Ok(Evaluation::Value(value)) => {
            vec![ok(label.to_owned(), EvaluatorResult::new(value), "OK")]
        }
        Ok(Evaluation::Result(result)) => vec![ok(label.to_owned(), result, "OK")],
        Ok(Evaluation::Multi(multi)) => multi
            .values
            .into_iter()
            .map(|(key, result)| {
                let label = if multi.prefix { format!("{label}-{key}") } else { key };
                ok(label, result, "OK")
            })
            .collect(),
        Err(err) => {
            let error = err
                .remote
                .as_ref()
                .map(|r| r.backend_error.clone())
                .unwrap_or_else(|| serde_json::to_value(err.info()).unwrap_or_default());
            vec![Scored {
                label: label.to_owned(),
                outcome: EvaluationOutcome {
                    value: Value::Null,
                    error: Some(error),
                    status: err
                        .remote
                        .as_ref()
                        .map_or(Cow::Borrowed("ERROR"), |r| Cow::Owned(r.status.clone())),
                    reasoning: None,
                    assessment: None,
                    metadata: None,
                    tags: Vec::new(),
                },
                source_type: source.map(str::to_owned),
            }]
        }
    }
}

/// A metric object (E11); `span` is `None` for summary metrics.
fn metric(s: &Scored, span: Option<(&str, &str)>, timestamp_ms: u64, experiment_id: &str) -> Value {
    let (metric_type, value) = typed(&s.outcome.value);
    let mut m = Map::new();
    m.insert("metric_source".into(), json!(if span.is_some() { "custom" } else { "summary" }));
    m.insert("span_id".into(), json!(span.map(|s| s.0).unwrap_or("")));
    m.insert("trace_id".into(), json!(span.map(|s| s.1).unwrap_or("")));
    m.insert("timestamp_ms".into(), json!(timestamp_ms));
    m.insert("metric_type".into(), json!(metric_type));
    m.insert("label".into(), json!(s.label));
    m.insert(format!("{metric_type}_value"), value);
    m.insert("error".into(), s.outcome.error.clone().unwrap_or(Value::Null));
    m.insert("tags".into(), json!(s.outcome.tags));
    m.insert("experiment_id".into(), json!(experiment_id));
    if span.is_some() {
        m.insert("status".into(), json!(s.outcome.status));
    }
    if let Some(reasoning) = &s.outcome.reasoning {
        m.insert("reasoning".into(), json!(reasoning));
    }
    if let Some(assessment) = &s.outcome.assessment {
        m.insert("assessment".into(), json!(assessment));
    }
    if let Some(metadata) = &s.outcome.metadata {
        m.insert("metadata".into(), Value::Object((**metadata).clone()));
    }
    if let Some(source) = &s.source_type {
        m.insert("eval_source_type".into(), json!(source));
    }
    Value::Object(m)
}

/// Messages to the writer task. Spans and metrics arrive serialized, so the queue
/// holds compact text rather than JSON trees.
enum Message {
    /// A finished record: its span event and its metrics, as JSON text.
    Record(String, Vec<String>),
    /// New run tags for the E11 posts that follow.
    Tags(Vec<String>),
    /// Post everything pending; answer whether the metrics went through.
    Flush(oneshot::Sender<Result<()>>),
    /// Post summary metrics now; errors propagate.
    Summary(Vec<String>, oneshot::Sender<Result<()>>),
}

/// `[a,b,…]` from JSON texts.
fn json_list(items: &[String]) -> String {
    let mut out = String::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
    out
}

/// Posts metrics (E11) and spans (E15) in the background: metrics when at least
/// `jobs` are pending (a failed post keeps them for the next one), each with a span
/// flush; spans also every second and at 1000 events or 5 MiB.
async fn writer(
    client: Client,
    experiment_id: String,
    jobs: usize,
    mut rx: mpsc::Receiver<Message>,
) {
    let events_path = format!("{UNSTABLE}/experiments/{experiment_id}/events");
    let mut tags = String::from("[]");
    let mut metrics: Vec<String> = Vec::new();
    let mut spans: Vec<String> = Vec::new();
    let mut span_bytes = 0usize;
    let post_metrics = |metrics: &[String], tags: &str| {
        let body = format!(
            r#"{{"data":{{"type":"{EXPERIMENTS}","attributes":{{"scope":"experiments","metrics":{},"tags":{tags}}}}}}}"#,
            json_list(metrics)
        );
        let client = client.clone();
        let path = events_path.clone();
        async move {
            let answer = client
                .send(Method::POST, &path, Some(Body::Json(body.into_bytes())), JSON_TIMEOUT, false)
                .await?;
            crate::api::check(&answer, &[200, 202])
        }
    };
    let flush_spans = |spans: &mut Vec<String>, span_bytes: &mut usize| {
        let body = (!spans.is_empty()).then(|| json_list(spans));
        spans.clear();
        *span_bytes = 0;
        let client = client.clone();
        async move {
            let Some(body) = body else { return };
            match client
                .send(Method::POST, SPANS, Some(Body::Json(body.into_bytes())), JSON_TIMEOUT, true)
                .await
            {
                Ok(answer) if (200..300).contains(&answer.status) => {}
                Ok(answer) => tracing::warn!(status = answer.status, "span intake refused a batch"),
                Err(err) => tracing::warn!(error = %err, "span intake failed; batch dropped"),
            }
        }
    };
    loop {
        let message = if spans.is_empty() {
            rx.recv().await
        } else {
            match tokio::time::timeout(SPAN_INTERVAL, rx.recv()).await {
                Ok(message) => message,
                Err(_) => {
                    flush_spans(&mut spans, &mut span_bytes).await;
                    continue;
                }
            }
        };
        let Some(message) = message else { break };
        let mut next = Some(message);
        while let Some(message) = next.take() {
            match message {
                Message::Record(span, record_metrics) => {
                    span_bytes += span.len() + 1;
                    spans.push(span);
                    metrics.extend(record_metrics);
                    if spans.len() >= SPAN_BATCH || span_bytes >= SPAN_BYTES {
                        flush_spans(&mut spans, &mut span_bytes).await;
                    }
                    next = rx.try_recv().ok();
                }
                Message::Tags(new_tags) => {
                    tags = serde_json::to_string(&new_tags).unwrap_or_default()
                }
                Message::Flush(reply) => {
                    let result = if metrics.is_empty() {
                        Ok(())
                    } else {
                        let posted = post_metrics(&metrics, &tags).await;
                        if posted.is_ok() {
                            metrics.clear();
                        }
                        posted
                    };
                    flush_spans(&mut spans, &mut span_bytes).await;
                    let _ = reply.send(result);
                }
                Message::Summary(summary, reply) => {
                    let _ = reply.send(post_metrics(&summary, &tags).await);
                }
            }
        }
        if metrics.len() >= jobs {
            // The metrics post and the span flush go out together.
            let (posted, ()) = tokio::join!(
                post_metrics(&metrics, &tags),
                flush_spans(&mut spans, &mut span_bytes)
            );
            match posted {
                Ok(()) => metrics.clear(),
                Err(err) => {
                    tracing::warn!(error = %err, "metrics post failed; kept for the next one")
                }
            }
        }
    }
}

/// Shared by the record tasks of one iteration.
struct Iteration {
    setup: Arc<Setup>,
    evaluators: Vec<Arc<dyn Evaluator>>,
    config: Arc<Value>,
    experiment_id: String,
    base_tags: Vec<String>,
    run_id: String,
    iteration: u32,
    options: RunOptions,
    permits: Semaphore,
    tx: mpsc::Sender<Message>,
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

impl Iteration {
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
        let mut tries = 0;
        loop {
            let result = {
                let _permit = self.permits.acquire().await.expect("semaphore open");
                attempt(limit, what, make()).await
            };
            match result {
                Err(err) if tries < self.options.max_retries => {
                    let wait =
                        err.retry_after.unwrap_or_else(|| backoff(self.options.retry_delay, tries));
                    tokio::time::sleep(wait).await;
                    tries += 1;
                }
                other => return (other, tries),
            }
        }
    }

    async fn process(self: Arc<Self>, index: usize) -> Row {
        let record = &self.setup.dataset.records()[index];
        let start_ns = now_ns();
        let span_id = span_id();
        let trace_id = trace_id(start_ns);
        let started = std::time::Instant::now();
        let task = &self.setup.task;
        let (result, retries) = self
            .retried(self.options.task_timeout, "task", || {
                task(record.input.clone(), self.config.clone())
            })
            .await;
        let duration_ns = started.elapsed().as_nanos() as u64;
        let (output, error) = match result {
            Ok(output) => (output, None),
            Err(err) => (Value::Null, Some(err.info())),
        };
        let expected_output = record.expected_output.clone().unwrap_or(Value::Null);
        let mut metadata = match &record.metadata {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        metadata.insert("experiment_config".into(), (*self.config).clone());
        let context = EvaluatorContext {
            input: record.input.clone(),
            output: output.clone(),
            expected_output: expected_output.clone(),
            metadata: Value::Object(metadata),
            span_id: span_id.clone(),
            trace_id: trace_id.clone(),
            task_error: error.clone(),
        };
        let mut evaluations = Evaluations(Vec::with_capacity(self.evaluators.len()));
        let mut metrics = Vec::new();
        let timestamp_ms = start_ns / 1_000_000;
        for evaluator in &self.evaluators {
            let (result, _) = self
                .retried(self.options.evaluator_timeout, evaluator.name(), || {
                    evaluator.evaluate(&context)
                })
                .await;
            for s in scored(evaluator.name(), result, evaluator.source_type()) {
                metrics.push(metric(
                    &s,
                    Some((&span_id, &trace_id)),
                    timestamp_ms,
                    &self.experiment_id,
                ));
                evaluations.insert(s.label, s.outcome);
            }
        }
        let span = self.span(
            record,
            index,
            &span_id,
            &trace_id,
            start_ns,
            duration_ns,
            &output,
            error.as_ref(),
            retries,
        );
        let span = span.to_string();
        let metrics = metrics.iter().map(Value::to_string).collect();
        let _ = self.tx.send(Message::Record(span, metrics)).await;
        Row {
            index,
            record_id: record.id.clone(),
            span_id,
            trace_id,
            start_ns,
            duration_ns,
            input: record.input.clone(),
            expected_output,
            output,
            error,
            retries,
            evaluations,
        }
    }

    /// The span event of one record (E15).
    #[allow(clippy::too_many_arguments)]
    fn span(
        &self,
        record: &crate::DatasetRecord,
        index: usize,
        span_id: &str,
        trace_id: &str,
        start_ns: u64,
        duration_ns: u64,
        output: &Value,
        error: Option<&ErrorInfo>,
        retries: u32,
    ) -> Value {
        let dataset = &self.setup.dataset;
        let mut tags: BTreeMap<String, String> = self
            .base_tags
            .iter()
            .filter_map(|t| t.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for (k, v) in [
            ("dataset_id", dataset.id().to_owned()),
            ("dataset_record_id", record.id.clone()),
            ("experiment_id", self.experiment_id.clone()),
            ("run_id", self.run_id.clone()),
            ("run_iteration", self.iteration.to_string()),
            ("error", if error.is_some() { "1" } else { "0" }.to_owned()),
            ("language", "rust".to_owned()),
            ("source", "integration".to_owned()),
            ("dataset_record_index", index.to_string()),
        ] {
            tags.insert(k.to_owned(), v);
        }
        if let Some(canonical) = &record.canonical_id {
            tags.insert("dataset_record_canonical_id".into(), canonical.clone());
        }
        for tag in &record.tags {
            if let Some((k, v)) = tag.split_once(':') {
                tags.insert(k.to_owned(), v.to_owned());
            }
        }
        if let Some(error) = error {
            tags.insert("error_type".into(), error.kind.clone());
        }
        if retries > 0 {
            tags.insert("retries".into(), retries.to_string());
        }
        let mut meta = Map::new();
        meta.insert("span".into(), json!({"kind": "experiment"}));
        meta.insert("input".into(), record.input.clone());
        meta.insert("output".into(), if error.is_some() { json!({}) } else { output.clone() });
        meta.insert(
            "expected_output".into(),
            record.expected_output.clone().unwrap_or(Value::Null),
        );
        meta.insert("metadata".into(), record.metadata.clone().unwrap_or_else(|| json!({})));
        if let Some(error) = error {
            meta.insert("error".into(), serde_json::to_value(error).unwrap_or_default());
        }
        let mut span = json!({
            "trace_id": trace_id, "span_id": span_id, "parent_id": "undefined",
            "name": self.setup.task_name, "start_ns": start_ns, "duration": duration_ns.max(1),
            "status": if error.is_some() { "error" } else { "ok" },
            "meta": meta, "metrics": {},
            "tags": tags.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>(),
            "_dd": {"scope": "experiments", "span_id": span_id, "trace_id": trace_id, "apm_trace_id": trace_id},
        });
        if !self.setup.config.is_empty() {
            span["config"] = Value::Object(self.setup.config.clone());
        }
        json!({"_dd.stage": "raw", "_dd.tracer_version": SDK_VERSION, "event_type": "span",
               "_dd.scope": "experiments", "spans": [span]})
    }
}

/// A remote evaluator bound to a client.
struct Remote {
    client: Client,
    spec: RemoteEvaluator,
}

impl Evaluator for Remote {
    fn name(&self) -> &str {
        &self.spec.eval_name
    }

    fn source_type(&self) -> Option<&str> {
        Some("managed")
    }

    fn evaluate<'a>(
        &'a self,
        context: &'a EvaluatorContext,
    ) -> BoxFuture<'a, std::result::Result<Evaluation, CallError>> {
        Box::pin(async move {
            let payload = match &self.spec.transform {
                Some(transform) => transform(context),
                None => RemoteEvaluator::default_context(context),
            };
            let body = json!({"data": {"type": "evaluator_inference", "attributes": {"context": payload}}});
            let path = format!("{UNSTABLE}/evaluators/{}/infer", self.spec.eval_name);
            let body = json_body(&body).map_err(|e| CallError::new(e.to_string()))?;
            let answer = self
                .client
                .send(Method::POST, &path, Some(body), JSON_TIMEOUT, false)
                .await
                .map_err(|e| CallError::new(e.to_string()).kind("TransportError"))?;
            let value: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            let attributes = value.pointer("/data/attributes").cloned().unwrap_or(Value::Null);
            if answer.status != 200 {
                if let Some(error) = attributes.get("error").filter(|e| !e.is_null()) {
                    let message = error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("remote evaluator failed");
                    let kind =
                        error.get("type").and_then(Value::as_str).unwrap_or("RemoteEvaluatorError");
                    let mut err = CallError::new(message).kind(kind);
                    err.remote = Some(Box::new(crate::evaluators::RemoteFailure {
                        status: attributes
                            .get("status")
                            .and_then(Value::as_str)
                            .unwrap_or("ERROR")
                            .to_owned(),
                        backend_error: error.clone(),
                    }));
                    return Err(err);
                }
                return Err(
                    CallError::new(crate::api::error_detail(answer.text())).kind("RuntimeError")
                );
            }
            let text = |key: &str| {
                attributes
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            let value = attributes.get("value").cloned().unwrap_or(Value::Null);
            let (reasoning, assessment) = (text("reasoning"), text("assessment"));
            if reasoning.is_none() && assessment.is_none() {
                return Ok(Evaluation::Value(value));
            }
            Ok(Evaluation::Result(EvaluatorResult {
                value,
                reasoning,
                assessment: assessment.map(|a| match a.as_str() {
                    "pass" => crate::Assessment::Pass,
                    "fail" => crate::Assessment::Fail,
                    _ => crate::Assessment::Other(a),
                }),
                ..Default::default()
            }))
        })
    }
}

/// How an iteration ended early.
enum Stop {
    Cancelled,
    Failed(String),
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
        format!("{}/llm/experiments/{id}", self.setup.client.inner.config.ui_base)
    }

    async fn set_status(&self, id: &str, status: Status, error: Option<String>) {
        let request = Request::new(
            EXPERIMENTS,
            UpdateExperiment { status: Some(status.as_str().to_owned()), error },
        );
        let result = match json_body(&request) {
            Ok(body) => {
                self.setup
                    .client
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
            Ok(answer) => {
                tracing::warn!(status = answer.status, "experiment status update refused")
            }
            Err(err) => tracing::warn!(error = %err, "experiment status update failed"),
        }
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
        if options.jobs == 0 {
            return Err(Error::InvalidRequest { detail: "jobs must be at least 1".into() });
        }
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
            format!("llmobs.sdk_version:{SDK_VERSION}"),
            format!("project_name:{project_name}"),
            format!("dataset_name:{}", dataset.name()),
            format!("experiment_name:{}", setup.name),
        ]);
        tags.push(format!("project_id:{project_id}"));
        let mut config = setup.config.clone();
        if !dataset.filter_tags().is_empty() {
            config.insert("filtered_record_tags".into(), json!(dataset.filter_tags()));
        }
        let create = Request::new(
            EXPERIMENTS,
            CreateExperiment {
                name: setup.name.clone(),
                description: Some(setup.description.clone()),
                dataset_id: dataset.id().to_owned(),
                project_id: project_id.clone(),
                dataset_version: Some(dataset.version()),
                config: Some(config.clone()),
                metadata: Some(Map::from_iter([("tags".to_owned(), json!(tags))])),
                ensure_unique: Some(true),
                run_count: Some(setup.runs as i64),
                parent_experiment_id: None,
            },
        );
        let created: Document<Resource<Value>> = client
            .call(
                Method::POST,
                &format!("{UNSTABLE}/experiments"),
                Some(json_body(&create)?),
                JSON_TIMEOUT,
                &[200],
            )
            .await?;
        let experiment_id = created.data.id.clone();
        let run_name = created
            .data
            .attributes
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&setup.name)
            .to_owned();
        *self.id.lock().expect("experiment id") = Some(experiment_id.clone());
        tags.push(format!("experiment_id:{experiment_id}"));
        self.set_status(&experiment_id, Status::Running, None).await;

        let cancel = options.cancel.clone().unwrap_or_default();
        let signal = options.ctrl_c.then(|| {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.cancel();
                }
            })
        });
        let outcome = self.iterations(&options, &cancel, &experiment_id, &tags).await;
        if let Some(signal) = signal {
            signal.abort();
        }
        let url = self.url();
        match outcome {
            Ok((runs, errors)) => {
                let (status, error) = if errors.is_empty() {
                    (Status::Completed, None)
                } else {
                    (Status::Failed, Some(errors.into_iter().collect::<Vec<_>>().join("; ")))
                };
                self.set_status(&experiment_id, status, error.clone()).await;
                Ok(ExperimentResults { experiment_id, run_name, status, error, url, runs })
            }
            Err(stop) => {
                self.set_status(&experiment_id, Status::Interrupted, None).await;
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
        let evaluators: Vec<Arc<dyn Evaluator>> = setup
            .evaluators
            .iter()
            .map(|slot| match slot {
                EvaluatorSlot::Local(e) => e.clone(),
                EvaluatorSlot::Remote(spec) => {
                    Arc::new(Remote { client: setup.client.clone(), spec: spec.clone() })
                        as Arc<dyn Evaluator>
                }
            })
            .collect();
        // Records finishing while a post is in flight queue here and go out together in
        // the next post, so batches grow with the pace of the run.
        let (tx, rx) = mpsc::channel(options.jobs.saturating_mul(16).clamp(256, 4096));
        let writer =
            tokio::spawn(writer(setup.client.clone(), experiment_id.to_owned(), options.jobs, rx));
        let total = setup.dataset.len().min(options.sample_size.unwrap_or(usize::MAX));
        let progress = options.progress && std::io::stderr().is_terminal();
        let task_config = Arc::new(Value::Object(setup.config.clone()));
        let mut runs = Vec::new();
        let mut errors = BTreeSet::new();
        let mut stop = None;
        for iteration in 1..=setup.runs {
            let run_id = uuid();
            let mut run_tags = tags.to_vec();
            run_tags.extend([format!("run_id:{run_id}"), format!("run_iteration:{iteration}")]);
            let _ = tx.send(Message::Tags(run_tags.clone())).await;
            let shared = Arc::new(Iteration {
                setup: setup.clone(),
                evaluators: evaluators.clone(),
                config: task_config.clone(),
                experiment_id: experiment_id.to_owned(),
                base_tags: run_tags,
                run_id: run_id.clone(),
                iteration,
                options: options.clone(),
                permits: Semaphore::new(options.jobs),
                tx: tx.clone(),
            });
            let mut rows: Vec<Option<Row>> = vec![None; total];
            let mut set = JoinSet::new();
            let window = options.jobs.saturating_mul(2).max(2);
            let mut next = 0usize;
            let bar = progress.then(|| {
                let bar = indicatif::ProgressBar::new(total as u64);
                bar.set_message(format!("{} run {iteration}", setup.name));
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
                ) {
                    bar.set_style(style);
                }
                bar
            });
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
                if let Some(error) = &row.error {
                    errors.insert(format!("{}: {}", error.kind, error.message));
                    if options.raise_errors {
                        stop = Some(Stop::Failed(format!(
                            "Error on record {}: {}\n{}",
                            row.index, error.message, error.kind
                        )));
                    }
                }
                for (label, outcome) in row.evaluations.iter() {
                    if let Some(error) = &outcome.error {
                        let kind = error.get("type").and_then(Value::as_str).unwrap_or("Error");
                        let message = error.get("message").and_then(Value::as_str).unwrap_or("");
                        errors.insert(format!("{label} ({kind}): {message}"));
                        if options.raise_errors && stop.is_none() {
                            stop = Some(Stop::Failed(format!(
                                "Evaluator {label} failed on row {}",
                                row.index
                            )));
                        }
                    }
                }
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
            let summary =
                self.summarize(&rows, &task_config, experiment_id, &tx, &mut errors).await;
            let summary = match summary {
                Ok(summary) => summary,
                Err(stop) => {
                    drop(tx);
                    let _ = writer.await;
                    return Err(stop);
                }
            };
            runs.push(RunResult { run_id, iteration, rows, summary });
        }
        drop(tx);
        let _ = writer.await;
        Ok((runs, errors))
    }

    async fn summarize(
        &self,
        rows: &[Row],
        config: &Arc<Value>,
        experiment_id: &str,
        tx: &mpsc::Sender<Message>,
        errors: &mut BTreeSet<String>,
    ) -> std::result::Result<BTreeMap<String, EvaluationOutcome>, Stop> {
        let mut summary = BTreeMap::new();
        if self.setup.summary.is_empty() {
            return Ok(summary);
        }
        let records = self.setup.dataset.records();
        let labels: BTreeSet<&String> = rows.iter().flat_map(|r| r.evaluations.keys()).collect();
        let context = SummaryContext {
            inputs: rows.iter().map(|r| r.input.clone()).collect(),
            outputs: rows
                .iter()
                .map(|r| match &r.error {
                    Some(error) => Outcome::Error(error.clone()),
                    None => Outcome::Ok(r.output.clone()),
                })
                .collect(),
            expected_outputs: rows.iter().map(|r| r.expected_output.clone()).collect(),
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
                    (label.clone(), outcomes)
                })
                .collect(),
            metadata: rows
                .iter()
                .map(|r| {
                    let mut m = match &records[r.index].metadata {
                        Some(Value::Object(m)) => m.clone(),
                        _ => Map::new(),
                    };
                    m.insert("experiment_config".into(), (**config).clone());
                    Value::Object(m)
                })
                .collect(),
        };
        let timestamp_ms = rows.iter().map(|r| r.start_ns).max().unwrap_or_else(now_ns) / 1_000_000;
        let mut metrics = Vec::new();
        for (name, f) in &self.setup.summary {
            let result = f(&context);
            if result.is_err() {
                errors.insert("unknown error".to_owned());
            }
            for s in scored(name, result, None) {
                metrics.push(metric(&s, None, timestamp_ms, experiment_id).to_string());
                summary.insert(s.label, s.outcome);
            }
        }
        let (reply, answer) = oneshot::channel();
        let _ = tx.send(Message::Summary(metrics, reply)).await;
        match answer.await {
            Ok(Ok(())) => Ok(summary),
            Ok(Err(err)) => Err(Stop::Failed(format!("summary metrics were refused: {err}"))),
            Err(_) => Err(Stop::Failed("the metrics writer stopped".into())),
        }
    }
}

/// An experiment as the server lists it (E10).
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentInfo {
    /// Its id.
    pub id: String,
    /// Its fields: run name, logical name, dataset, config, status, …
    pub attributes: llmobs_core::experiments::Experiment,
}

/// Filters of [`Client::list_experiments`] (spec §4.10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListExperiments {
    /// Only runs of this logical name.
    pub experiment_name: Option<String>,
    /// The project; the client's default when `None`.
    pub project_name: Option<String>,
    /// Only experiments on this dataset.
    pub dataset_id: Option<String>,
}

impl Client {
    /// Lists experiments, newest first, following every page (E1, E10).
    pub async fn list_experiments(&self, filter: &ListExperiments) -> Result<Vec<ExperimentInfo>> {
        use llmobs_core::encoding::query_value;
        let project_name = filter
            .project_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.inner.config.project_name.clone());
        let project_id = self.project_id(&project_name, true).await?;
        let mut base = format!("{}/experiments?page[limit]=100", crate::api::V2);
        if let Some(name) = &filter.experiment_name {
            base.push_str(&format!("&filter[experiment]={}", query_value(name)));
        }
        base.push_str(&format!("&filter[project_id]={}", query_value(&project_id)));
        if let Some(dataset) = &filter.dataset_id {
            base.push_str(&format!("&filter[dataset_id]={}", query_value(dataset)));
        }
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let path = if cursor.is_empty() {
                base.clone()
            } else {
                format!("{base}&page[cursor]={}", query_value(&cursor))
            };
            let page: Document<Vec<Resource<llmobs_core::experiments::Experiment>>> =
                self.call(Method::GET, &path, None, JSON_TIMEOUT, &[200]).await?;
            out.extend(
                page.data
                    .into_iter()
                    .map(|r| ExperimentInfo { id: r.id, attributes: r.attributes }),
            );
            cursor = page.meta.map(|m| m.after).unwrap_or_default();
            if cursor.is_empty() {
                return Ok(out);
            }
        }
    }

    /// The stored spans (each with its `eval_metrics`) and summary metrics of an
    /// experiment (E12).
    pub async fn experiment_events(
        &self,
        experiment_id: &str,
    ) -> Result<llmobs_core::experiments::ExperimentEvents> {
        let path = format!(
            "{UNSTABLE}/experiments/{}/events?include[eval_metrics]=true",
            llmobs_core::encoding::path_segment(experiment_id)
        );
        let answer: Document<Resource<llmobs_core::experiments::ExperimentEvents>> =
            self.call(Method::GET, &path, None, JSON_TIMEOUT, &[200]).await?;
        Ok(answer.data.attributes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_look_like_datadogs() {
        let id = trace_id(1_795_234_552_385_792_731);
        assert_eq!(id.len(), 32);
        assert_eq!(&id[..8], "6b011af8");
        assert_eq!(&id[8..16], "00000000");
        assert!(span_id().parse::<u64>().is_ok());
    }

    #[test]
    fn values_are_typed_like_the_reference_client() {
        assert_eq!(typed(&json!(true)).0, "boolean");
        assert_eq!(typed(&json!(0.5)).0, "score");
        assert_eq!(typed(&json!("Good")), ("categorical", json!("good")));
        assert_eq!(typed(&json!({"k": 1})).0, "json");
        assert_eq!(typed(&Value::Null), ("categorical", Value::Null));
    }

    #[test]
    fn metrics_carry_optional_fields_only_when_set() {
        let s = scored(
            "q",
            Ok(Evaluation::Result(
                EvaluatorResult::new(true)
                    .reasoning("r")
                    .assessment(crate::Assessment::Pass)
                    .tag("kind", "rule"),
            )),
            None,
        );
        let m = metric(&s[0], Some(("1", "t")), 5, "e");
        assert_eq!(m["boolean_value"], json!(true));
        assert_eq!(m["tags"], json!(["kind:rule"]));
        assert_eq!((m["status"].as_str(), m["assessment"].as_str()), (Some("OK"), Some("pass")));
        assert!(m.get("metadata").is_none());
        let summary = metric(&s[0], None, 5, "e");
        assert!(summary.get("status").is_none());
        assert_eq!(summary["span_id"], json!(""));
        let failed = scored("q", Err(CallError::new("boom").kind("ValueError")), None);
        let m = metric(&failed[0], Some(("1", "t")), 5, "e");
        assert_eq!(
            (m["categorical_value"].clone(), m["status"].clone()),
            (Value::Null, json!("ERROR"))
        );
        assert_eq!(m["error"]["type"], json!("ValueError"));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        for attempt in 0..5 {
            let wait = backoff(base, attempt);
            assert!(wait >= base * (1 << attempt) / 2 && wait <= base * (1 << attempt));
        }
        assert!(backoff(base, 40) <= crate::api::MAX_RETRY_AFTER);
    }
}
