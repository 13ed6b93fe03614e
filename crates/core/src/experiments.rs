//! Experiments, their events, evaluators and intake (endpoints E8–E16 of the experiments
//! spec). Metrics and spans are kept as the client sent them (JSON objects), so nothing
//! the client adds is lost.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ErrorBody;
use crate::jsonapi::Author;

/// Resource type of experiments (and of their event posts).
pub const EXPERIMENTS: &str = "experiments";
/// Resource type of an experiment's stored events.
pub const EXPERIMENT_EVENTS: &str = "experiment_events";
/// Resource type of remote evaluator inference.
pub const EVALUATOR_INFERENCE: &str = "evaluator_inference";
/// Resource type of a published evaluator.
pub const EVALUATOR_CONFIG: &str = "evaluator_config";

/// The experiment statuses the client sends.
pub const STATUSES: [&str; 4] = ["running", "completed", "failed", "interrupted"];

/// E8 request attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateExperiment {
    /// The logical name; the run name is derived from it.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// The dataset run over.
    pub dataset_id: String,
    /// The project.
    pub project_id: String,
    /// The dataset version run over.
    #[serde(default)]
    pub dataset_version: Option<i64>,
    /// The experiment's configuration.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: Option<Map<String, Value>>,
    /// Metadata, with `tags`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Option<Map<String, Value>>,
    /// Append the creation time to the run name (default true).
    #[serde(default)]
    pub ensure_unique: Option<bool>,
    /// How many runs.
    #[serde(default)]
    pub run_count: Option<i64>,
    /// The experiment this one re-scores.
    #[serde(default)]
    pub parent_experiment_id: Option<String>,
}

/// E9 request attributes: only what changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateExperiment {
    /// `running`, `completed`, `failed` or `interrupted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Error text of a failed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A new run name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New metadata, replacing the old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Option<Map<String, Value>>,
    /// Another dataset of the same project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<String>,
}

/// An experiment (E8 answer, E10 items).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Experiment))]
pub struct ExperimentRecord {
    /// Who created it.
    pub author: Author,
    /// The run name (`<experiment>-<epoch ms>` by default).
    pub name: String,
    /// The logical name.
    pub experiment: String,
    /// Its project.
    pub project_id: String,
    /// Its dataset.
    pub dataset_id: String,
    /// The dataset version.
    pub dataset_version: i64,
    /// Description.
    pub description: String,
    /// Configuration.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: Map<String, Value>,
    /// Number of runs.
    pub run_count: i64,
    /// Metadata, with `tags`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Map<String, Value>,
    /// The experiment this one re-scores.
    pub parent_experiment_id: Option<String>,
    /// Aggregates over its spans and metrics.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub aggregate_data: Option<Value>,
    /// Status; `null` until a run starts.
    pub status: Option<String>,
    /// Error text of a failed run.
    pub error: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// E11 request attributes.
///
/// `J` is how each metric and span is held: a JSON object by default; the server keeps
/// them as the text it received (`Box<RawValue>`) and stores that text as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(bound = ""))]
pub struct PostEvents<J = Map<String, Value>> {
    /// `experiments`.
    #[serde(default)]
    pub scope: Option<String>,
    /// Metric objects.
    #[serde(default = "Vec::new")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub metrics: Vec<J>,
    /// Tags of the run (`run_id:…`, `run_iteration:…`, …).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Replayed spans (evaluator reruns).
    #[serde(default = "Vec::new")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub spans: Vec<J>,
}

/// E12 answer attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentEvents {
    /// Spans in start order, each with its `eval_metrics`.
    pub spans: Vec<Value>,
    /// Summary metrics.
    pub summary_metrics: Vec<Value>,
}

/// E13 request attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InferRequest {
    /// What the evaluator judges: by default `span_input`, `span_output`, `meta`, ids.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub context: Value,
}

/// E13 answer attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InferResult {
    /// The verdict; any JSON.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub value: Value,
    /// `pass`, `fail` or null.
    pub assessment: Option<String>,
    /// Why.
    pub reasoning: Option<String>,
    /// `OK`, or `ERROR` / `WARN` with `error`.
    pub status: String,
    /// On failure: `{"type", "message", "recommended_resolution"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub error: Option<Value>,
}

/// The `error` of a failed inference (E13).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InferError {
    /// Machine-readable kind, such as `evaluator_not_found`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub recommended_resolution: String,
}

impl InferError {
    /// An error of `kind` with its message and what to do.
    pub fn new(kind: &str, message: impl Into<String>, resolution: impl Into<String>) -> Self {
        InferError {
            kind: kind.to_owned(),
            message: message.into(),
            recommended_resolution: resolution.into(),
        }
    }
}

/// E13 answer attributes of a failed inference: status `ERROR` and the error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InferFailure {
    /// `ERROR`.
    pub status: String,
    /// What failed.
    pub error: InferError,
}

/// The `data` of an [`InferAnswer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InferData<A> {
    /// Always [`EVALUATOR_INFERENCE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// An [`InferResult`] or an [`InferFailure`].
    pub attributes: A,
}

/// E13 answer: `{"data": {"type": "evaluator_inference", "attributes": …}}`. A failure
/// also carries the error body's `detail` and `errors`, so a client that reads either
/// finds the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InferAnswer<A> {
    /// The result.
    pub data: InferData<A>,
    /// On failure: the error body.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl InferAnswer<InferResult> {
    /// The answer of an inference that ran.
    pub fn ok(result: InferResult) -> Self {
        InferAnswer {
            data: InferData { kind: EVALUATOR_INFERENCE.to_owned(), attributes: result },
            error: None,
        }
    }
}

impl InferAnswer<InferFailure> {
    /// The answer of an inference that failed; `title` is the status's reason phrase.
    pub fn failed(title: &str, error: InferError) -> Self {
        let body = ErrorBody::new(title, error.message.clone(), None);
        let attributes = InferFailure { status: "ERROR".to_owned(), error };
        InferAnswer {
            data: InferData { kind: EVALUATOR_INFERENCE.to_owned(), attributes },
            error: Some(body),
        }
    }
}

/// E14 answer attributes: the evaluation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishedEvaluator {
    /// `eval_name`, `applications` and the rest, as published.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub evaluation: Value,
}

/// The value key of a metric: `<metric_type>_value`.
pub fn value_key(metric_type: &str) -> String {
    format!("{metric_type}_value")
}

/// The `key:value` tag named `key` in a list, if any.
pub fn tag_value<'a>(tags: impl IntoIterator<Item = &'a Value>, key: &str) -> Option<&'a str> {
    tags.into_iter()
        .filter_map(Value::as_str)
        .find_map(|tag| tag.split_once(':').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn inference_answers_have_the_wire_shape() {
        let error = InferError::new("evaluator_not_found", "no evaluator named x", "publish it");
        assert_eq!(
            serde_json::to_value(InferAnswer::failed("Not Found", error)).unwrap(),
            json!({"data": {"type": "evaluator_inference", "attributes": {"status": "ERROR",
                       "error": {"type": "evaluator_not_found", "message": "no evaluator named x",
                                 "recommended_resolution": "publish it"}}},
                   "errors": [{"title": "Not Found", "detail": "no evaluator named x"}],
                   "detail": "no evaluator named x"})
        );
        let result = InferResult {
            value: json!(true),
            assessment: Some("pass".into()),
            reasoning: None,
            status: "OK".into(),
            error: None,
        };
        assert_eq!(
            serde_json::to_value(InferAnswer::ok(result)).unwrap(),
            json!({"data": {"type": "evaluator_inference", "attributes": {"value": true,
                       "assessment": "pass", "reasoning": null, "status": "OK"}}})
        );
    }
}
