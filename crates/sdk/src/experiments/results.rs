//! What a run produces: one [`Row`] per record with its evaluations, the summary, and
//! the ways to show them (a table, CSV, JSON Lines).
//!
//! Rows are kept small because a run over 100,000 records keeps 100,000 of them: a row
//! points at its record instead of copying it, ids are integers, and an evaluation
//! keeps only its value unless it has more to say.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write as _;
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::{Status, TaskRun};
use crate::datasets::{Dataset, DatasetRecord};
use crate::evaluators::{ErrorInfo, Outcome};
use crate::{Error, Result};

static NULL: Value = Value::Null;

/// A span id: a random 64-bit integer, written in decimal on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub u64);

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for SpanId {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A 128-bit trace id, written as 32 lowercase hex digits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub u128);

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl Serialize for TraceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What an evaluation has beyond its value; absent for a plain `OK` value.
#[derive(Debug, Clone, PartialEq, Default)]
struct Details {
    error: Option<Value>,
    status: Option<String>,
    reasoning: Option<String>,
    assessment: Option<String>,
    metadata: Map<String, Value>,
    tags: Vec<String>,
}

/// An evaluation's value, kept small: nearly all are booleans, numbers or short text,
/// and a run keeps one per row and label.
#[derive(Debug, Clone, PartialEq)]
enum Small {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(Box<str>),
    Other(Box<Value>),
}

impl From<Value> for Small {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Small::Null,
            Value::Bool(b) => Small::Bool(b),
            Value::Number(n) => Small::Number(n),
            Value::String(text) => Small::Text(text.into_boxed_str()),
            other => Small::Other(Box::new(other)),
        }
    }
}

impl Small {
    fn to_value(&self) -> Value {
        match self {
            Small::Null => Value::Null,
            Small::Bool(b) => Value::Bool(*b),
            Small::Number(n) => Value::Number(n.clone()),
            Small::Text(text) => Value::String(text.to_string()),
            Small::Other(value) => (**value).clone(),
        }
    }
}

impl Serialize for Small {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Small::Null => serializer.serialize_unit(),
            Small::Bool(b) => serializer.serialize_bool(*b),
            Small::Number(n) => n.serialize(serializer),
            Small::Text(text) => serializer.serialize_str(text),
            Small::Other(value) => value.serialize(serializer),
        }
    }
}

/// One evaluation of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationOutcome {
    value: Small,
    details: Option<Box<Details>>,
}

impl EvaluationOutcome {
    /// A value and nothing else (status `OK`).
    pub fn ok(value: Value) -> Self {
        EvaluationOutcome { value: Small::from(value), details: None }
    }

    /// The value (`null` on failure).
    pub fn value(&self) -> Value {
        self.value.to_value()
    }

    /// Whether the value is `value`, without building it.
    pub fn is(&self, value: &Value) -> bool {
        match (&self.value, value) {
            (Small::Null, Value::Null) => true,
            (Small::Bool(a), Value::Bool(b)) => a == b,
            (Small::Number(a), Value::Number(b)) => a == b,
            (Small::Text(a), Value::String(b)) => **a == **b,
            (Small::Other(a), b) => **a == *b,
            _ => false,
        }
    }

    /// A failure: `null` value, `error` as sent in the metric, status `status`
    /// (`ERROR` unless a remote evaluator said otherwise).
    pub fn failed(error: Value, status: impl Into<String>) -> Self {
        let status = status.into();
        let status = (status != "ERROR").then_some(status);
        let details = Details { error: Some(error), status, ..Details::default() };
        EvaluationOutcome { value: Small::Null, details: Some(Box::new(details)) }
    }

    /// Adds reasoning, assessment, metadata and `key:value` tags; empty ones are
    /// dropped, as the metric leaves them out.
    pub fn with(
        mut self,
        reasoning: Option<String>,
        assessment: Option<String>,
        metadata: Map<String, Value>,
        tags: Vec<String>,
    ) -> Self {
        let reasoning = reasoning.filter(|s| !s.is_empty());
        let assessment = assessment.filter(|s| !s.is_empty());
        if reasoning.is_none() && assessment.is_none() && metadata.is_empty() && tags.is_empty() {
            return self;
        }
        let details = self.details.get_or_insert_with(Box::default);
        details.reasoning = reasoning;
        details.assessment = assessment;
        details.metadata = metadata;
        details.tags = tags;
        self
    }

    /// The failure, as sent in the metric.
    pub fn error(&self) -> Option<&Value> {
        self.details.as_ref().and_then(|d| d.error.as_ref())
    }

    /// `OK`, `ERROR`, or the server's status for remote evaluators.
    pub fn status(&self) -> &str {
        match &self.details {
            Some(d) => match (&d.status, &d.error) {
                (Some(status), _) => status,
                (None, Some(_)) => "ERROR",
                (None, None) => "OK",
            },
            None => "OK",
        }
    }

    /// Why (only when non-empty).
    pub fn reasoning(&self) -> Option<&str> {
        self.details.as_ref().and_then(|d| d.reasoning.as_deref())
    }

    /// Pass, fail or other text (only when non-empty).
    pub fn assessment(&self) -> Option<&str> {
        self.details.as_ref().and_then(|d| d.assessment.as_deref())
    }

    /// Extra data (only when non-empty).
    pub fn metadata(&self) -> Option<&Map<String, Value>> {
        self.details.as_ref().map(|d| &d.metadata).filter(|m| !m.is_empty())
    }

    /// `key:value` tags.
    pub fn tags(&self) -> &[String] {
        self.details.as_ref().map(|d| d.tags.as_slice()).unwrap_or(&[])
    }

    /// As summary evaluators see it.
    pub(crate) fn outcome(&self) -> Outcome {
        match self.error() {
            None => Outcome::Ok(self.value()),
            Some(error) => Outcome::Error(ErrorInfo {
                message: error.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
                kind: error.get("type").and_then(Value::as_str).unwrap_or("").to_owned(),
                stack: String::new(),
            }),
        }
    }
}

impl Serialize for EvaluationOutcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("value", &self.value)?;
        map.serialize_entry("error", &self.error())?;
        map.serialize_entry("status", self.status())?;
        if let Some(reasoning) = self.reasoning() {
            map.serialize_entry("reasoning", reasoning)?;
        }
        if let Some(assessment) = self.assessment() {
            map.serialize_entry("assessment", assessment)?;
        }
        if let Some(metadata) = self.metadata() {
            map.serialize_entry("metadata", metadata)?;
        }
        map.serialize_entry("tags", self.tags())?;
        map.end()
    }
}

/// A row's evaluations by label, in the evaluators' order (a later result with the same
/// label replaces an earlier one). Kept as a short list: rows of large runs stay small.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluations(Vec<(Arc<str>, EvaluationOutcome)>);

impl Evaluations {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Evaluations(Vec::with_capacity(n))
    }

    /// The evaluation labelled `label`.
    pub fn get(&self, label: &str) -> Option<&EvaluationOutcome> {
        self.0.iter().find(|(l, _)| &**l == label).map(|(_, e)| e)
    }

    /// The labels.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(l, _)| &**l)
    }

    /// Labels and evaluations.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &EvaluationOutcome)> {
        self.0.iter().map(|(l, e)| (&**l, e))
    }

    /// How many labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn insert(&mut self, label: Arc<str>, outcome: EvaluationOutcome) {
        match self.0.iter_mut().find(|(l, _)| *l == label) {
            Some(slot) => slot.1 = outcome,
            None => self.0.push((label, outcome)),
        }
    }

    pub(crate) fn shrink(&mut self) {
        self.0.shrink_to_fit();
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
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (label, outcome) in &self.0 {
            map.serialize_entry(&**label, outcome)?;
        }
        map.end()
    }
}

/// Where a row's record lives: in the dataset the run used, or (for an experiment
/// read back from the server) in the row itself.
#[derive(Debug, Clone)]
pub(crate) enum RecordRef {
    Dataset(Arc<Dataset>),
    Owned(Arc<DatasetRecord>),
}

/// One record's result.
#[derive(Debug, Clone)]
pub struct Row {
    record: RecordRef,
    /// The record's position in the dataset.
    pub index: usize,
    /// Its span.
    pub span_id: SpanId,
    /// Its trace.
    pub trace_id: TraceId,
    /// When the task started, in Unix nanoseconds.
    pub start_ns: u64,
    /// How long the task took, all attempts included.
    pub duration_ns: u64,
    /// The output (`null` when the task failed).
    pub output: Value,
    /// The task's failure after its retries.
    pub error: Option<Box<ErrorInfo>>,
    /// Retries the task needed.
    pub retries: u32,
    /// Evaluations by label.
    pub evaluations: Evaluations,
}

impl PartialEq for Row {
    fn eq(&self, other: &Self) -> bool {
        self.record() == other.record()
            && (self.index, self.span_id, self.trace_id, self.start_ns, self.duration_ns)
                == (other.index, other.span_id, other.trace_id, other.start_ns, other.duration_ns)
            && (&self.output, &self.error, self.retries, &self.evaluations)
                == (&other.output, &other.error, other.retries, &other.evaluations)
    }
}

impl Row {
    pub(crate) fn new(
        record: RecordRef,
        index: usize,
        run: TaskRun,
        evaluations: Evaluations,
    ) -> Self {
        let TaskRun { span_id, trace_id, start_ns, duration_ns, output, error, retries } = run;
        Row {
            record,
            index,
            span_id,
            trace_id,
            start_ns,
            duration_ns,
            output,
            error,
            retries,
            evaluations,
        }
    }

    /// The record this row ran.
    pub fn record(&self) -> &DatasetRecord {
        match &self.record {
            RecordRef::Dataset(dataset) => &dataset.records()[self.index],
            RecordRef::Owned(record) => record,
        }
    }

    /// The record's id.
    pub fn record_id(&self) -> &str {
        self.record().id.as_str()
    }

    /// Gives a pulled row its dataset record's tags.
    pub(crate) fn set_record_tags(&mut self, tags: Vec<String>) {
        if let RecordRef::Owned(record) = &mut self.record {
            Arc::make_mut(record).tags = tags;
        }
    }

    /// The input.
    pub fn input(&self) -> &Value {
        &self.record().input
    }

    /// The expected output (`null` when none).
    pub fn expected_output(&self) -> &Value {
        self.record().expected_output.as_ref().unwrap_or(&NULL)
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut row = serializer.serialize_struct("Row", 12)?;
        row.serialize_field("index", &self.index)?;
        row.serialize_field("record_id", self.record_id())?;
        row.serialize_field("span_id", &self.span_id)?;
        row.serialize_field("trace_id", &self.trace_id)?;
        row.serialize_field("start_ns", &self.start_ns)?;
        row.serialize_field("duration_ns", &self.duration_ns)?;
        row.serialize_field("input", self.input())?;
        row.serialize_field("expected_output", self.expected_output())?;
        row.serialize_field("output", &self.output)?;
        row.serialize_field("error", &self.error)?;
        row.serialize_field("retries", &self.retries)?;
        row.serialize_field("evaluations", &self.evaluations)?;
        row.end()
    }
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

/// What [`Experiment::run`](super::Experiment::run) returns, and what
/// [`Client::pull_experiment`](crate::Client::pull_experiment) reads back.
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
        let labels: BTreeSet<&str> = self
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
                    row.record_id().to_owned(),
                    row.span_id.to_string(),
                    row.input().to_string(),
                    row.output.to_string(),
                    row.expected_output().to_string(),
                    row.error
                        .as_ref()
                        .map(|e| format!("{}: {}", e.kind, e.message))
                        .unwrap_or_default(),
                ];
                for label in &labels {
                    cells.push(match row.evaluations.get(label) {
                        Some(e) if e.error().is_none() => e.value().to_string(),
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

impl fmt::Display for ExperimentResults {
    /// A plain-text table of the first iteration's rows, then the summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: BTreeSet<&str> =
            self.rows().iter().flat_map(|r| r.evaluations.keys()).collect();
        let mut header = vec!["#".to_owned(), "input".into(), "output".into(), "error".into()];
        header.extend(labels.iter().map(|l| l.to_string()));
        let mut table = vec![header];
        for row in self.rows() {
            let mut cells = vec![
                row.index.to_string(),
                clip(&row.input().to_string(), 30),
                clip(&row.output.to_string(), 30),
                row.error.as_ref().map(|e| clip(&e.message, 20)).unwrap_or_default(),
            ];
            for label in &labels {
                cells.push(match row.evaluations.get(label) {
                    Some(e) if e.error().is_none() => clip(&e.value().to_string(), 16),
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
                match outcome.error() {
                    None => writeln!(f, "{label}: {}", outcome.value())?,
                    Some(error) => writeln!(f, "{label}: ERROR {error}")?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_stay_small() {
        // A run keeps one row per record; this is what makes 100k records fit.
        assert!(std::mem::size_of::<Row>() <= 176, "{}", std::mem::size_of::<Row>());
        assert!(std::mem::size_of::<EvaluationOutcome>() <= 32);
    }

    #[test]
    fn outcomes_keep_details_only_when_set() {
        let plain =
            EvaluationOutcome::ok(json!(1)).with(None, Some(String::new()), Map::new(), vec![]);
        assert!(plain.details.is_none());
        assert_eq!(plain.status(), "OK");
        let failed = EvaluationOutcome::failed(json!({"type": "E"}), "ERROR");
        assert_eq!((failed.status(), failed.value()), ("ERROR", Value::Null));
        let warned = EvaluationOutcome::failed(json!({}), "WARN");
        assert_eq!(warned.status(), "WARN");
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            json!({"value": 1, "error": null, "status": "OK", "tags": []})
        );
    }

    #[test]
    fn small_values_round_trip() {
        for value in [
            json!(null),
            json!(true),
            json!(3),
            json!(-2.5),
            json!("Yes"),
            json!([1]),
            json!({"k": "v"}),
        ] {
            let outcome = EvaluationOutcome::ok(value.clone());
            assert_eq!(outcome.value(), value);
            assert!(outcome.is(&value));
            assert_eq!(serde_json::to_value(&outcome).unwrap()["value"], value);
        }
        assert!(!EvaluationOutcome::ok(json!(1)).is(&json!(true)));
    }

    #[test]
    fn ids_print_as_on_the_wire() {
        assert_eq!(SpanId(42).to_string(), "42");
        assert_eq!(TraceId(0xab).to_string(), format!("{}ab", "0".repeat(30)));
        assert_eq!(
            serde_json::to_value(TraceId(1)).unwrap(),
            json!(format!("{}1", "0".repeat(31)))
        );
    }
}
