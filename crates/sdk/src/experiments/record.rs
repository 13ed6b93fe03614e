//! One record of an iteration: the task's run, its evaluations, its span tags and the
//! span and metrics it sends.

use super::builder::Setup;
use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::results::{RecordRef, Row};
use super::wire::{MetricsOf, Span, SpanEvent, Tags, push_json};
use super::writer::Message;
use super::{Attempts, RunTags, TaskRun};
use crate::datasets::DatasetRecord;
use crate::evaluators::{Evaluator, EvaluatorContext};

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

pub(crate) fn record_tags<'a>(
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
pub(crate) fn context_metadata(record_metadata: Option<&Value>, config: &Value) -> Value {
    let mut metadata = match record_metadata {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    metadata.insert("experiment_config".into(), config.clone());
    Value::Object(metadata)
}

/// `key:value` tags as pairs (tags without `:` are left out).
pub(crate) fn tag_pairs(tags: &[String]) -> Vec<(String, String)> {
    tags.iter()
        .filter_map(|t| t.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Sets `key` in a small tag list, replacing an earlier value.
pub(crate) fn set_tag<'a>(
    tags: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>,
    key: &'a str,
    value: Cow<'a, str>,
) {
    match tags.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => tags.push((Cow::Borrowed(key), value)),
    }
}

/// Shared by the record tasks of one iteration.
pub(crate) struct Iteration {
    pub(crate) setup: Arc<Setup>,
    pub(crate) evaluators: Vec<(Arc<dyn Evaluator>, Arc<str>)>,
    pub(crate) config: Arc<Value>,
    pub(crate) experiment_id: String,
    /// The run's span tags (experiment tags, ids, `language`, `source`).
    pub(crate) span_tags: RunTags,
    pub(crate) attempts: Attempts,
    pub(crate) tx: mpsc::Sender<Message>,
}

impl Iteration {
    pub(crate) async fn process(self: Arc<Self>, index: usize) -> Row {
        let setup = &self.setup;
        let record = &setup.dataset.records()[index];
        let mut run = self
            .attempts
            .run_task(&setup.task, record, &self.config, Some((&self.tx, &self.span_tags)))
            .await;
        let context = EvaluatorContext {
            input: record.input.clone(),
            output: std::mem::take(&mut run.output),
            expected_output: record.expected_output.clone().filter(|e| !e.is_null()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_tags_override_run_tags() {
        let mut tags: Vec<(Cow<str>, Cow<str>)> = vec![];
        set_tag(&mut tags, "env", Cow::Borrowed("a"));
        set_tag(&mut tags, "env", Cow::Borrowed("b"));
        assert_eq!(tags, vec![(Cow::Borrowed("env"), Cow::Borrowed("b"))]);
        assert_eq!(tag_pairs(&["a:b:c".into(), "bare".into()]), vec![("a".into(), "b:c".into())]);
    }
}
