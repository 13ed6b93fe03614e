//! Finding experiments and reading them back: list (E10), events (E12), and
//! `pull_experiment`, which rebuilds the results from what the server stored
//! (spec §4.10).

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use llmobs_core::encoding::{path_segment, query_value};
use llmobs_core::experiments::{ExperimentEvents, ExperimentRecord};
use llmobs_core::jsonapi::{Document, Resource};
use reqwest::Method;
use serde_json::Value;

use super::results::{
    EvaluationOutcome, Evaluations, ExperimentResults, RecordRef, Row, RunResult, SpanId, TraceId,
};
use super::{Status, TaskRun};
use crate::api::{JSON_TIMEOUT, UNSTABLE, V2};
use crate::datasets::DatasetRecord;
use crate::evaluators::ErrorInfo;
use crate::{Client, Error, Result};

/// An experiment as the server lists it (E10).
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentInfo {
    /// Its id.
    pub id: String,
    /// Its fields: run name, logical name, dataset, config, status, …
    pub attributes: ExperimentRecord,
}

impl ExperimentInfo {
    /// Its `metadata.tags`.
    pub fn tags(&self) -> Vec<&str> {
        self.attributes
            .metadata
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| tags.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The value of tag `key:`, if set.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags().into_iter().find_map(|t| t.strip_prefix(key)?.strip_prefix(':'))
    }
}

/// Filters of [`Client::list_experiments`] (spec §4.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListExperiments {
    /// Only runs of this logical name.
    pub experiment_name: Option<String>,
    /// The project; the client's default when `None`.
    pub project_name: Option<String>,
    /// Only experiments on this dataset.
    pub dataset_id: Option<String>,
    /// Only experiments whose `metadata.tags` hold every one of these `key:value` tags.
    pub tags: Vec<String>,
    /// Only reruns of these experiments.
    pub parent_experiment_ids: Vec<String>,
    /// Page size (1–5000, default 100).
    pub page_limit: usize,
    /// Stop after this many (all when `None`).
    pub max_results: Option<usize>,
}

impl Default for ListExperiments {
    fn default() -> Self {
        ListExperiments {
            experiment_name: None,
            project_name: None,
            dataset_id: None,
            tags: Vec::new(),
            parent_experiment_ids: Vec::new(),
            page_limit: 100,
            max_results: None,
        }
    }
}

impl ListExperiments {
    /// The E10 query, without the cursor, parameters in the reference client's order.
    fn query(&self, project_id: &str) -> Result<String> {
        if !(1..=5000).contains(&self.page_limit) {
            return Err(Error::InvalidRequest {
                detail: format!("page_limit must be between 1 and 5000, not {}", self.page_limit),
            });
        }
        if self.max_results == Some(0) {
            return Err(Error::InvalidRequest { detail: "max_results must be at least 1".into() });
        }
        let mut query = format!("{V2}/experiments?page[limit]={}", self.page_limit);
        if let Some(name) = &self.experiment_name {
            query.push_str(&format!("&filter[experiment]={}", query_value(name)));
        }
        if !self.tags.is_empty() {
            let metadata = serde_json::json!({"tags": self.tags}).to_string();
            query.push_str(&format!("&filter[metadata]={}", query_value(&metadata)));
        }
        for parent in &self.parent_experiment_ids {
            query.push_str(&format!("&filter[parent_experiment_id]={}", query_value(parent)));
        }
        query.push_str(&format!("&filter[project_id]={}", query_value(project_id)));
        if let Some(dataset) = &self.dataset_id {
            query.push_str(&format!("&filter[dataset_id]={}", query_value(dataset)));
        }
        Ok(query)
    }
}

/// An experiment read back from the server: what it is, and its results rebuilt from
/// its stored spans and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct PulledExperiment {
    /// The experiment.
    pub info: ExperimentInfo,
    /// Its rows (by run iteration) and summary metrics.
    pub results: ExperimentResults,
}

impl Client {
    /// `<ui base>/llm/experiments/{id}`.
    pub(crate) fn experiment_url(&self, id: &str) -> String {
        format!("{}/llm/experiments/{id}", self.inner.config.ui_base)
    }

    /// Lists experiments, newest first, following every page (E1, E10).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for a page limit outside 1–5000 or `max_results` of 0
    /// (before any request); otherwise the API's errors.
    pub async fn list_experiments(
        &self,
        filter: impl Borrow<ListExperiments>,
    ) -> Result<Vec<ExperimentInfo>> {
        let filter = filter.borrow();
        filter.query("")?;
        let project_name = filter
            .project_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.inner.config.project_name.clone());
        let project_id = self.project_id(&project_name, true).await?;
        let base = filter.query(&project_id)?;
        let limit = filter.max_results.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let path = if cursor.is_empty() {
                base.clone()
            } else {
                format!("{base}&page[cursor]={}", query_value(&cursor))
            };
            let page: Document<Vec<Resource<ExperimentRecord>>> =
                self.call(Method::GET, &path, None, JSON_TIMEOUT, &[200]).await?;
            out.extend(
                page.data
                    .into_iter()
                    .map(|r| ExperimentInfo { id: r.id, attributes: r.attributes }),
            );
            cursor = page.meta.map(|m| m.after).unwrap_or_default();
            if out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
            if cursor.is_empty() {
                return Ok(out);
            }
        }
    }

    /// One experiment by id (E10 `filter[id]`).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when the server has no experiment with that id.
    pub async fn get_experiment(&self, experiment_id: &str) -> Result<ExperimentInfo> {
        let path = format!("{V2}/experiments?filter[id]={}", query_value(experiment_id));
        let page: Document<Vec<Resource<ExperimentRecord>>> =
            self.call(Method::GET, &path, None, JSON_TIMEOUT, &[200]).await?;
        page.data
            .into_iter()
            .next()
            .map(|r| ExperimentInfo { id: r.id, attributes: r.attributes })
            .ok_or_else(|| Error::NotFound {
                status: 0,
                detail: format!("no experiment with id '{experiment_id}'"),
            })
    }

    /// The stored spans (each with its `eval_metrics`) and summary metrics of an
    /// experiment (E12).
    pub async fn experiment_events(&self, experiment_id: &str) -> Result<ExperimentEvents> {
        let path = format!(
            "{UNSTABLE}/experiments/{}/events?include[eval_metrics]=true",
            path_segment(experiment_id)
        );
        let answer: Document<Resource<ExperimentEvents>> =
            self.call(Method::GET, &path, None, JSON_TIMEOUT, &[200]).await?;
        Ok(answer.data.attributes)
    }

    /// An experiment and its results as the server stored them (E10, E12): one row per
    /// span, grouped by run iteration, each with its latest metric per label.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown id; the API's errors otherwise.
    pub async fn pull_experiment(&self, experiment_id: &str) -> Result<PulledExperiment> {
        let info = self.get_experiment(experiment_id).await?;
        let events = self.experiment_events(experiment_id).await?;
        let mut results = rebuild(&info, events, self.experiment_url(&info.id));
        // Spans carry a record's tags mixed with the run's: the dataset says which are
        // the record's.
        let attributes = &info.attributes;
        let version = crate::datasets::wire_version(attributes.dataset_version);
        match self
            .dataset_records(&attributes.project_id, &attributes.dataset_id, Some(version), &[])
            .await
        {
            Ok(records) => {
                let tags: HashMap<String, Vec<String>> =
                    records.into_iter().map(|r| (r.id, r.tags)).collect();
                for row in results.runs.iter_mut().flat_map(|run| run.rows.iter_mut()) {
                    if let Some(tags) = tags.get(row.record_id()) {
                        row.set_record_tags(tags.clone());
                    }
                }
            }
            Err(err) => {
                tracing::debug!(error = %err, "the experiment's dataset could not be read: rows keep no record tags");
            }
        }
        Ok(PulledExperiment { info, results })
    }
}

/// The value of tag `key:` in a span's tags.
pub(crate) fn span_tag<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    llmobs_core::experiments::tag_value(
        span.get("tags").and_then(Value::as_array).into_iter().flatten(),
        key,
    )
}

/// A stored metric as an evaluation: the value of `<metric_type>_value` and the
/// optional fields.
fn outcome_of(metric: &Value) -> EvaluationOutcome {
    let text = |key: &str| metric.get(key).and_then(Value::as_str).map(str::to_owned);
    let metric_type = metric.get("metric_type").and_then(Value::as_str).unwrap_or("categorical");
    let value = metric.get(format!("{metric_type}_value")).cloned().unwrap_or(Value::Null);
    let outcome = match metric.get("error").filter(|e| !e.is_null()) {
        Some(error) => EvaluationOutcome::failed(error.clone(), text("status").unwrap_or_default()),
        None => EvaluationOutcome::ok(value),
    };
    let metadata = metric.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
    let tags = metric
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    outcome.with(text("reasoning"), text("assessment"), metadata, tags)
}

/// Whether a stored span is a record's own span rather than a child span opened in a
/// task (a server may list both).
pub(crate) fn is_record_span(span: &Value) -> bool {
    matches!(span.get("parent_id").and_then(Value::as_str), None | Some("" | "undefined" | "0"))
}

/// A stored span's record position: its `dataset_record_index` tag, else `position`.
pub(crate) fn record_index(span: &Value, position: usize) -> usize {
    span_tag(span, "dataset_record_index").and_then(|i| i.parse().ok()).unwrap_or(position)
}

/// One stored span as a row: the record comes from the span's `meta`.
pub(crate) fn row_of(span: &Value, position: usize) -> Row {
    let meta = span.get("meta").cloned().unwrap_or(Value::Null);
    let field = |key: &str| meta.get(key).cloned().filter(|v| !v.is_null());
    let mut record = DatasetRecord::new(field("input").unwrap_or(Value::Null));
    record.id = span_tag(span, "dataset_record_id").unwrap_or("").to_owned();
    record.expected_output = field("expected_output");
    record.metadata = field("metadata").filter(|m| m.as_object().is_none_or(|m| !m.is_empty()));
    record.canonical_id = span_tag(span, "dataset_record_canonical_id").map(str::to_owned);
    let error = meta
        .get("error")
        .filter(|e| e.as_object().is_some_and(|e| !e.is_empty()))
        .and_then(|e| serde_json::from_value::<ErrorInfo>(e.clone()).ok())
        .map(Box::new);
    let output = if error.is_some() { Value::Null } else { field("output").unwrap_or_default() };
    let mut latest: BTreeMap<&str, (i64, &Value)> = BTreeMap::new();
    let mut order = Vec::new();
    for metric in span.get("eval_metrics").and_then(Value::as_array).into_iter().flatten() {
        let Some(label) = metric.get("label").and_then(Value::as_str) else { continue };
        let at = metric.get("timestamp_ms").and_then(Value::as_i64).unwrap_or(0);
        match latest.get(label) {
            Some((seen, _)) if *seen > at => {}
            Some(_) => {
                latest.insert(label, (at, metric));
            }
            None => {
                order.push(label);
                latest.insert(label, (at, metric));
            }
        }
    }
    let mut evaluations = Evaluations::with_capacity(order.len());
    for label in order {
        evaluations.insert(Arc::from(label), outcome_of(latest[label].1));
    }
    let number = |key: &str| span.get(key).and_then(Value::as_u64).unwrap_or(0);
    let index = record_index(span, position);
    let text = |key: &str| span.get(key).and_then(Value::as_str).unwrap_or("");
    let run = TaskRun {
        span_id: SpanId(text("span_id").parse().unwrap_or(0)),
        trace_id: TraceId(u128::from_str_radix(text("trace_id"), 16).unwrap_or(0)),
        start_ns: number("start_ns"),
        duration_ns: number("duration"),
        output,
        error,
        retries: span_tag(span, "retries").and_then(|r| r.parse().ok()).unwrap_or(0),
    };
    Row::new(RecordRef::Owned(Arc::new(record)), index, run, evaluations)
}

/// Results from stored events: spans grouped by `run_iteration` (1 when untagged), in
/// record order (`dataset_record_index`, else start order); summary metrics go with the
/// first iteration.
fn rebuild(info: &ExperimentInfo, events: ExperimentEvents, url: String) -> ExperimentResults {
    let mut runs: BTreeMap<u32, RunResult> = BTreeMap::new();
    for span in events.spans.iter().filter(|s| is_record_span(s)) {
        let iteration = span_tag(span, "run_iteration").and_then(|i| i.parse().ok()).unwrap_or(1);
        let run = runs.entry(iteration).or_insert_with(|| RunResult {
            run_id: span_tag(span, "run_id").unwrap_or("").to_owned(),
            iteration,
            rows: Vec::new(),
            summary: BTreeMap::new(),
        });
        let position = run.rows.len();
        run.rows.push(row_of(span, position));
    }
    let mut runs: Vec<RunResult> = runs.into_values().collect();
    for run in &mut runs {
        run.rows.sort_by_key(|r| r.index);
    }
    if runs.is_empty() && !events.summary_metrics.is_empty() {
        runs.push(RunResult {
            run_id: String::new(),
            iteration: 1,
            rows: Vec::new(),
            summary: BTreeMap::new(),
        });
    }
    if let Some(first) = runs.first_mut() {
        for metric in &events.summary_metrics {
            if let Some(label) = metric.get("label").and_then(Value::as_str) {
                first.summary.insert(label.to_owned(), outcome_of(metric));
            }
        }
    }
    let attributes = &info.attributes;
    ExperimentResults {
        experiment_id: info.id.clone(),
        run_name: attributes.name.clone(),
        status: Status::parse(attributes.status.as_deref().unwrap_or("")),
        error: attributes.error.clone(),
        url,
        runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_queries_follow_the_reference_order() {
        let filter = ListExperiments {
            experiment_name: Some("a b".into()),
            tags: vec!["git.commit.sha:abc".into()],
            parent_experiment_ids: vec!["p1".into(), "p2".into()],
            dataset_id: Some("d".into()),
            ..ListExperiments::default()
        };
        let query = filter.query("P").unwrap();
        let order: Vec<&str> =
            query.split(['?', '&']).skip(1).map(|p| p.split('=').next().unwrap()).collect();
        assert_eq!(
            order,
            [
                "page[limit]",
                "filter[experiment]",
                "filter[metadata]",
                "filter[parent_experiment_id]",
                "filter[parent_experiment_id]",
                "filter[project_id]",
                "filter[dataset_id]"
            ]
        );
        let bad = ListExperiments { max_results: Some(0), ..ListExperiments::default() };
        assert!(bad.query("P").is_err());
        let bad = ListExperiments { page_limit: 5001, ..ListExperiments::default() };
        assert!(bad.query("P").is_err());
    }

    #[test]
    fn stored_spans_become_rows_with_their_latest_metrics() {
        let span = json!({
        "span_id": "12", "trace_id": "6b011af80000000055617504a9c8ca26", "start_ns": 5,
        "duration": 7, "status": "ok",
        "tags": ["dataset_record_id:r1", "run_iteration:1", "dataset_record_index:3"],
        "meta": {"input": {"q": 1}, "output": "A", "expected_output": "a",
                 "metadata": {}, "error": {}},
        "eval_metrics": [
            {"label": "x", "metric_type": "score", "score_value": 1, "timestamp_ms": 1, "error": null},
            {"label": "x", "metric_type": "score", "score_value": 2, "timestamp_ms": 2, "error": null},
            {"label": "y", "metric_type": "categorical", "categorical_value": null,
             "timestamp_ms": 1, "status": "ERROR", "error": {"type": "E", "message": "m"}}
        ]});
        let row = row_of(&span, 0);
        assert_eq!((row.index, row.record_id(), row.span_id), (3, "r1", SpanId(12)));
        assert_eq!(row.trace_id.to_string(), "6b011af80000000055617504a9c8ca26");
        assert_eq!((row.input(), &row.output), (&json!({"q": 1}), &json!("A")));
        assert_eq!(row.record().metadata, None);
        assert_eq!(row.evaluations["x"].value(), json!(2));
        assert_eq!(row.evaluations["y"].status(), "ERROR");
        assert!(row.error.is_none());
    }
}
