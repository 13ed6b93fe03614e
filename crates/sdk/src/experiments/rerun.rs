//! Re-scoring an experiment's stored outputs with other evaluators, without running
//! the task again (spec §4.11): a child experiment gets copies of the original spans
//! and the new metrics in one E11 call.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use llmobs_core::experiments::CreateExperiment;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Map, Value, json};

use super::list::{ExperimentInfo, is_record_span, record_index, row_of, span_tag};
use super::results::{ExperimentResults, RecordRef, Row, RunResult, SpanId};
use super::wire::{self, MetricsOf, Span, Tags, push_json};
use super::writer;
use super::{
    Attempts, EvaluatorSlot, RunOptions, Scoring, Status, TaskFn, context_metadata,
    create_experiment, record_tags, scoring_methods, set_status, summarize, task_fn,
};
use crate::evaluators::{
    Evaluator, EvaluatorContext, FnEvaluator, FnSummary, IntoEvaluation, RemoteEvaluator,
    SummaryContext, SummaryEvaluator,
};
use crate::{Client, Error, Result};

/// A stored span of the original run and its position.
type Stored<'a> = (usize, &'a Value);

/// What a rerun does with rows whose task failed (spec §4.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingTask {
    /// Refuse the rerun, before any request that changes anything.
    #[default]
    Raise,
    /// Leave those rows out.
    Skip,
    /// Run the task again for those rows (the experiment's task, or
    /// [`Rerun::task`]).
    Retry,
}

/// Re-scores a stored experiment; from [`Client::rerun_evaluators`] or
/// [`Experiment::rerun_evaluators`](super::Experiment::rerun_evaluators).
pub struct Rerun {
    client: Client,
    experiment_id: String,
    scoring: Scoring,
    task: Option<TaskFn>,
    missing: MissingTask,
}

impl Client {
    /// Re-scores the first run of experiment `experiment_id` with the evaluators added
    /// to the returned [`Rerun`] (spec §4.11). The new experiment is a child of it.
    pub fn rerun_evaluators(&self, experiment_id: impl Into<String>) -> Rerun {
        Rerun {
            client: self.clone(),
            experiment_id: experiment_id.into(),
            scoring: Scoring::default(),
            task: None,
            missing: MissingTask::default(),
        }
    }
}

/// A replayed span (spec §4.11 step 3): the original's content under a new id, trace
/// and start, with a **dotted** `span.kind` in `meta`.
struct Replay<'a> {
    span: &'a Value,
    span_id: SpanId,
    trace_id: &'a str,
    start_ns: u64,
    tags: Vec<String>,
}

impl Serialize for Replay<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let old = self.span.get("span_id").and_then(Value::as_str).unwrap_or("");
        let meta = self.span.get("meta");
        let field = |key: &str| meta.and_then(|m| m.get(key)).unwrap_or(&Value::Null);
        let mut copy = Map::new();
        copy.insert("span.kind".into(), json!("experiment"));
        for key in ["input", "output", "expected_output", "metadata"] {
            copy.insert(key.into(), field(key).clone());
        }
        copy.insert("parent_experiment_span_id".into(), json!(old));
        let name = self.span.get("name").and_then(Value::as_str).filter(|n| !n.is_empty());
        let duration = self.span.get("duration").and_then(Value::as_u64).filter(|d| *d > 0);
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("span_id", &self.span_id)?;
        m.serialize_entry("trace_id", self.trace_id)?;
        m.serialize_entry("name", name.unwrap_or("experiment_record"))?;
        m.serialize_entry("start_ns", &self.start_ns)?;
        m.serialize_entry("duration", &duration.unwrap_or(1))?;
        m.serialize_entry("meta", &copy)?;
        m.serialize_entry("status", "ok")?;
        m.serialize_entry("tags", &self.tags)?;
        m.end()
    }
}

impl Rerun {
    scoring_methods!(scoring);

    /// The task that [`MissingTask::Retry`] runs for failed rows.
    pub fn task<F, Fut, Q, O, E>(mut self, task: F) -> Self
    where
        F: Fn(Q, Arc<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<O, E>> + Send + 'static,
        Q: serde::de::DeserializeOwned + 'static,
        O: Serialize,
        E: Into<crate::error::BoxError>,
    {
        self.task = Some(task_fn(task));
        self
    }

    pub(crate) fn task_fn(mut self, task: TaskFn) -> Self {
        self.task = Some(task);
        self
    }

    /// What to do with rows whose task failed (default [`MissingTask::Raise`]).
    pub fn missing_task(mut self, strategy: MissingTask) -> Self {
        self.missing = strategy;
        self
    }

    /// Runs the rerun: reads the original (E10, E12), creates the child experiment
    /// (E8, named `<name>-rerun-<epoch ms>`, config `{"evaluators": [names]}`), scores
    /// every kept row, posts the replayed spans with the metrics (one E11), runs the
    /// summary evaluators, and sets `completed` (E9; `failed` when the post failed).
    /// `options.sample_size` and `ctrl_c` do not apply.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] before anything is created: no evaluators, a failed
    /// row with [`MissingTask::Raise`], or [`MissingTask::Retry`] without a task.
    /// [`Error::NotFound`] for an unknown experiment.
    pub async fn run(self, options: RunOptions) -> Result<ExperimentResults> {
        options.check()?;
        self.scoring.check("a rerun")?;
        let client = &self.client;
        let info = client.get_experiment(&self.experiment_id).await?;
        let events = client.experiment_events(&self.experiment_id).await?;
        let first_run = events
            .spans
            .iter()
            .filter(|s| is_record_span(s))
            .filter_map(|s| span_tag(s, "run_iteration"))
            .filter_map(|i| i.parse::<u32>().ok())
            .min()
            .unwrap_or(1);
        let spans: Vec<&Value> = events
            .spans
            .iter()
            .filter(|s| is_record_span(s))
            .filter(|s| {
                span_tag(s, "run_iteration").and_then(|i| i.parse().ok()).unwrap_or(1) == first_run
            })
            .collect();
        let failed = |span: &Value| {
            span.pointer("/meta/error/message")
                .and_then(Value::as_str)
                .is_some_and(|m| !m.is_empty())
        };
        let (mut retry, mut keep): (Vec<Stored>, Vec<Stored>) = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (record_index(s, i), *s))
            .partition(|(_, s)| failed(s));
        match self.missing {
            MissingTask::Raise if !retry.is_empty() => {
                return Err(Error::InvalidRequest {
                    detail: format!(
                        "cannot re-run evaluators: row {} has a task error; use \
                         MissingTask::Skip or MissingTask::Retry for failed rows",
                        retry[0].0
                    ),
                });
            }
            MissingTask::Skip => retry.clear(),
            MissingTask::Retry if !retry.is_empty() && self.task.is_none() => {
                return Err(Error::InvalidRequest {
                    detail: "cannot retry failed rows without a task: pass one with \
                             Rerun::task"
                        .into(),
                });
            }
            _ => {}
        }
        keep.sort_by_key(|(i, _)| *i);
        retry.sort_by_key(|(i, _)| *i);

        let attributes = &info.attributes;
        let evaluators = self.scoring.bind(client);
        let names: Vec<&str> = evaluators.iter().map(|(_, label)| &**label).collect();
        let name = format!("{}-rerun-{}", attributes.experiment, wire::now_ns() / 1_000_000);
        let original_tags: Vec<String> = info.tags().into_iter().map(str::to_owned).collect();
        let create = CreateExperiment {
            name: name.clone(),
            description: Some(String::new()),
            dataset_id: attributes.dataset_id.clone(),
            project_id: attributes.project_id.clone(),
            dataset_version: Some(attributes.dataset_version),
            config: Some(Map::from_iter([("evaluators".to_owned(), json!(names))])),
            metadata: Some(Map::from_iter([("tags".to_owned(), json!(original_tags))])),
            ensure_unique: Some(true),
            run_count: Some(1),
            parent_experiment_id: Some(info.id.clone()),
        };
        let (new_id, run_name) = create_experiment(client, create).await?;
        let outcome = self.score(&info, &new_id, &keep, &retry, &evaluators, &options).await;
        let url = client.experiment_url(&new_id);
        let (status, error) = match &outcome {
            Ok((_, None)) => (Status::Completed, None),
            Ok((_, Some(error))) => (Status::Failed, Some(error.clone())),
            Err(_) => (Status::Failed, None),
        };
        set_status(client, &new_id, status, None).await;
        let (run, _) = outcome?;
        Ok(ExperimentResults {
            experiment_id: new_id,
            run_name,
            status,
            error,
            url,
            runs: vec![run],
        })
    }

    /// Scores the kept rows (and re-runs the retried ones), posts spans and metrics,
    /// and runs the summary evaluators. The error text is set when the post failed.
    async fn score(
        &self,
        info: &ExperimentInfo,
        new_id: &str,
        keep: &[Stored<'_>],
        retry: &[Stored<'_>],
        evaluators: &[(Arc<dyn Evaluator>, Arc<str>)],
        options: &RunOptions,
    ) -> Result<(RunResult, Option<String>)> {
        let run_id = wire::uuid();
        let mut tags: Vec<String> = info
            .tags()
            .into_iter()
            .filter(|t| {
                !["experiment_id:", "run_id:", "run_iteration:"].iter().any(|p| t.starts_with(p))
            })
            .map(str::to_owned)
            .collect();
        tags.extend([
            format!("experiment_id:{new_id}"),
            format!("run_id:{run_id}"),
            "run_iteration:1".to_owned(),
        ]);
        let config = Value::Object(info.attributes.config.clone());
        let attempts = Attempts::new(options);
        let now = wire::now_ns();
        let earliest = keep
            .iter()
            .filter_map(|(_, s)| s.get("start_ns").and_then(Value::as_u64))
            .min()
            .unwrap_or(now);
        let offset = now.saturating_sub(earliest);
        let trace_id = wire::trace_id(now);
        let trace_text = trace_id.to_string();
        let mut spans = Vec::new();
        let mut metrics = Vec::new();
        let mut rows = Vec::with_capacity(keep.len() + retry.len());
        for (position, span) in keep {
            let mut row = row_of(span, *position);
            let old_span = span.get("span_id").and_then(Value::as_str).unwrap_or("");
            let new_span = wire::span_id();
            let mut span_tags = tags.clone();
            if !row.record_id().is_empty() {
                span_tags.push(format!("dataset_record_id:{}", row.record_id()));
            }
            span_tags.push(format!("parent_experiment_span_id:{old_span}"));
            let replay = Replay {
                span,
                span_id: new_span,
                trace_id: &trace_text,
                start_ns: row.start_ns.saturating_add(offset),
                tags: span_tags,
            };
            push_json(&mut spans, &replay);
            row.span_id = new_span;
            row.trace_id = trace_id;
            self.evaluate(&mut row, new_id, &config, evaluators, &attempts, &mut metrics).await;
            rows.push(row);
        }
        for (position, span) in retry {
            let mut row =
                self.retry_row(span, *position, &tags, &config, &attempts, &mut spans).await;
            self.evaluate(&mut row, new_id, &config, evaluators, &attempts, &mut metrics).await;
            rows.push(row);
        }
        rows.sort_by_key(|r| r.index);
        let tags_json = serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into());
        let posted =
            writer::post_events(&self.client, new_id, &metrics, &tags_json, Some(&spans)).await;
        let mut errors = BTreeSet::new();
        let (summary, summary_metrics) =
            summarize(&self.scoring.summary, &rows, &config, new_id, &mut errors).await;
        if !summary_metrics.is_empty() {
            writer::post_events(&self.client, new_id, &summary_metrics, &tags_json, None).await?;
        }
        let error = posted.err().map(|err| format!("the events post failed: {err}"));
        Ok((RunResult { run_id, iteration: 1, rows, summary }, error))
    }

    /// Scores one row: its evaluations replace the row's, its metrics (stamped with
    /// the original task start) join `metrics`.
    async fn evaluate(
        &self,
        row: &mut Row,
        new_id: &str,
        config: &Value,
        evaluators: &[(Arc<dyn Evaluator>, Arc<str>)],
        attempts: &Attempts,
        metrics: &mut Vec<u8>,
    ) {
        let context = EvaluatorContext {
            input: row.input().clone(),
            output: std::mem::take(&mut row.output),
            expected_output: row.record().expected_output.clone().filter(|e| !e.is_null()),
            metadata: context_metadata(row.record().metadata.as_ref(), config),
            span_id: row.span_id.to_string(),
            trace_id: row.trace_id.to_string(),
            task_error: row.error.as_deref().cloned(),
        };
        let metrics_of = MetricsOf {
            span: Some((row.span_id, row.trace_id)),
            timestamp_ms: row.start_ns / 1_000_000,
            experiment_id: new_id,
        };
        let (evaluations, text, _) = attempts.evaluate(evaluators, &context, &metrics_of).await;
        if !text.is_empty() {
            if !metrics.is_empty() {
                metrics.push(b',');
            }
            metrics.extend_from_slice(&text);
        }
        row.output = context.output;
        row.evaluations = evaluations;
    }

    /// Runs the task again for a failed row; its new span joins `spans`.
    async fn retry_row(
        &self,
        span: &Value,
        position: usize,
        tags: &[String],
        config: &Value,
        attempts: &Attempts,
        spans: &mut Vec<u8>,
    ) -> Row {
        let old = row_of(span, position);
        let task = self.task.as_ref().expect("checked before any request");
        let config_map = config.as_object().cloned().unwrap_or_default();
        let record = old.record();
        let run = attempts.run_task(task, record, &Arc::new(config.clone()), None).await;
        let run_tags = super::record::tag_pairs(tags);
        let own_tags = record_tags(record, old.index, &run);
        let name = span.get("name").and_then(Value::as_str).unwrap_or("task");
        let tags = Tags { run: &run_tags, record: &own_tags };
        push_json(spans, &Span::of_record(name, record, &run, &config_map, tags));
        Row::new(RecordRef::Owned(Arc::new(record.clone())), old.index, run, Default::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replayed_spans_keep_content_under_new_ids() {
        let span = json!({"span_id": "11", "name": "", "duration": 0,
            "meta": {"input": {"q": 1}, "output": "a", "expected_output": null,
                     "metadata": {"m": 1}, "error": {}}});
        let replay = Replay {
            span: &span,
            span_id: SpanId(22),
            trace_id: "t",
            start_ns: 9,
            tags: vec!["experiment_id:new".into()],
        };
        let value = serde_json::to_value(&replay).unwrap();
        assert_eq!(
            value,
            json!({"span_id": "22", "trace_id": "t", "name": "experiment_record", "start_ns": 9,
                   "duration": 1, "status": "ok", "tags": ["experiment_id:new"],
                   "meta": {"span.kind": "experiment", "input": {"q": 1}, "output": "a",
                            "expected_output": null, "metadata": {"m": 1},
                            "parent_experiment_span_id": "11"}})
        );
    }
}
