//! What a run sends: metric objects (E11) and span events (E15), ids and timestamps
//! (spec §4.5); [`writer`](super::writer) posts them.
//!
//! Both are written straight from borrowed data into JSON text, never built as
//! `serde_json::Value` trees first: a run of 10,000 records writes 40,000 of them.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use llmobs_core::experiments::EXPERIMENTS;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::TaskRun;
use super::results::{EvaluationOutcome, SpanId, TraceId};
use crate::datasets::DatasetRecord;
use crate::evaluators::{CallError, ErrorInfo, Evaluation, EvaluatorResult};

/// The SDK's version, sent in tags and span events.
pub(crate) const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
pub(crate) fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// A 128-bit trace id laid out as Datadog's: 32-bit seconds, 32 zero bits, 64 random
/// bits (spec §6 item 6).
pub(crate) fn trace_id(start_ns: u64) -> TraceId {
    TraceId(((start_ns / 1_000_000_000) as u128) << 96 | fastrand::u64(..) as u128)
}

/// A random non-zero 64-bit span id.
pub(crate) fn span_id() -> SpanId {
    SpanId(fastrand::u64(1..))
}

/// A UUID4-shaped random id.
pub(crate) fn uuid() -> String {
    let hex = crate::datasets::new_id();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The metric type and value of a value (spec §4.5): strings (and anything that is not
/// null, a bool, a number or an object) become lower-cased categorical text.
fn typed(value: &Value) -> (&'static str, Cow<'_, Value>) {
    match value {
        Value::Null => ("categorical", Cow::Borrowed(value)),
        Value::Bool(_) => ("boolean", Cow::Borrowed(value)),
        Value::Number(_) => ("score", Cow::Borrowed(value)),
        Value::Object(_) => ("json", Cow::Borrowed(value)),
        Value::String(text) if text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase()) => {
            ("categorical", Cow::Borrowed(value))
        }
        Value::String(text) => ("categorical", Cow::Owned(Value::String(text.to_lowercase()))),
        other => ("categorical", Cow::Owned(Value::String(other.to_string().to_lowercase()))),
    }
}

/// The outcomes of one evaluator call by label: one, or one per key of a multi-result.
pub(crate) fn scored(
    label: &Arc<str>,
    result: std::result::Result<Evaluation, CallError>,
) -> Vec<(Arc<str>, EvaluationOutcome)> {
    let ok = |r: EvaluatorResult| {
        EvaluationOutcome::ok(r.value).with(
            r.reasoning,
            r.assessment.map(|a| a.as_str().to_owned()),
            r.metadata,
            r.tags.into_iter().map(|(k, v)| format!("{k}:{v}")).collect(),
        )
    };
    match result {
        Ok(Evaluation::Skip) => Vec::new(),
        Ok(Evaluation::Value(value)) => vec![(label.clone(), EvaluationOutcome::ok(value))],
        Ok(Evaluation::Result(result)) => vec![(label.clone(), ok(result))],
        Ok(Evaluation::Multi(multi)) => multi
            .values
            .into_iter()
            .map(|(key, result)| {
                let label = if multi.prefix { format!("{label}-{key}") } else { key };
                (Arc::from(label), ok(result))
            })
            .collect(),
        Err(err) => {
            let (error, status) = match err.remote {
                Some(remote) => (remote.backend_error, remote.status),
                None => (serde_json::to_value(err.info()).unwrap_or_default(), "ERROR".into()),
            };
            vec![(label.clone(), EvaluationOutcome::failed(error, status))]
        }
    }
}

/// One metric object (E11); `span` is `None` for summary metrics.
pub(crate) struct Metric<'a> {
    pub label: &'a str,
    pub outcome: &'a EvaluationOutcome,
    pub span: Option<(SpanId, TraceId)>,
    pub timestamp_ms: u64,
    pub experiment_id: &'a str,
    /// `eval_source_type`, e.g. `managed` for remote evaluators.
    pub source: Option<&'a str>,
}

impl Serialize for Metric<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let value = self.outcome.value();
        let (metric_type, value) = typed(&value);
        let value_key = match metric_type {
            "boolean" => "boolean_value",
            "score" => "score_value",
            "json" => "json_value",
            _ => "categorical_value",
        };
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("metric_source", if self.span.is_some() { "custom" } else { "summary" })?;
        match &self.span {
            Some((span_id, trace_id)) => {
                m.serialize_entry("span_id", span_id)?;
                m.serialize_entry("trace_id", trace_id)?;
            }
            None => {
                m.serialize_entry("span_id", "")?;
                m.serialize_entry("trace_id", "")?;
            }
        }
        m.serialize_entry("timestamp_ms", &self.timestamp_ms)?;
        m.serialize_entry("metric_type", metric_type)?;
        m.serialize_entry("label", self.label)?;
        m.serialize_entry(value_key, &*value)?;
        m.serialize_entry("error", &self.outcome.error())?;
        m.serialize_entry("tags", self.outcome.tags())?;
        m.serialize_entry("experiment_id", self.experiment_id)?;
        if self.span.is_some() {
            m.serialize_entry("status", self.outcome.status())?;
        }
        if let Some(reasoning) = self.outcome.reasoning() {
            m.serialize_entry("reasoning", reasoning)?;
        }
        if let Some(assessment) = self.outcome.assessment() {
            m.serialize_entry("assessment", assessment)?;
        }
        if let Some(metadata) = self.outcome.metadata() {
            m.serialize_entry("metadata", metadata)?;
        }
        if let Some(source) = self.source {
            m.serialize_entry("eval_source_type", source)?;
        }
        m.end()
    }
}

/// What the metrics of one span share: the span, the task's start, the experiment.
pub(crate) struct MetricsOf<'a> {
    pub span: Option<(SpanId, TraceId)>,
    pub timestamp_ms: u64,
    pub experiment_id: &'a str,
}

impl MetricsOf<'_> {
    /// The metric of one outcome.
    pub fn metric<'b>(
        &'b self,
        label: &'b str,
        outcome: &'b EvaluationOutcome,
        source: Option<&'b str>,
    ) -> Metric<'b> {
        Metric {
            label,
            outcome,
            span: self.span,
            timestamp_ms: self.timestamp_ms,
            experiment_id: self.experiment_id,
            source,
        }
    }
}

/// Appends `item` as JSON to a comma-separated list.
pub(crate) fn push_json(list: &mut Vec<u8>, item: &impl Serialize) {
    if !list.is_empty() {
        list.push(b',');
    }
    // Writing to a Vec cannot fail, and the types written here always serialize.
    let _ = serde_json::to_writer(&mut *list, item);
}

/// A span's tags: the run's, minus those the record overrides, then the record's.
/// Written as `key:value` strings.
pub(crate) struct Tags<'a> {
    pub run: &'a [(String, String)],
    pub record: &'a [(Cow<'a, str>, Cow<'a, str>)],
}

impl Serialize for Tags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for (k, v) in self.run {
            if !self.record.iter().any(|(rk, _)| rk == k) {
                seq.serialize_element(&format_args!("{k}:{v}"))?;
            }
        }
        for (k, v) in self.record {
            seq.serialize_element(&format_args!("{k}:{v}"))?;
        }
        seq.end()
    }
}

/// The fields of one experiment span event (E15).
pub(crate) struct Span<'a> {
    pub name: &'a str,
    pub span_id: SpanId,
    pub trace_id: TraceId,
    /// `None` for a root span (`"undefined"` on the wire).
    pub parent_id: Option<SpanId>,
    pub start_ns: u64,
    pub duration_ns: u64,
    pub kind: &'a str,
    pub input: &'a Value,
    pub output: &'a Value,
    pub expected_output: Option<&'a Value>,
    pub metadata: Option<&'a Value>,
    pub error: Option<&'a ErrorInfo>,
    pub config: Option<&'a Map<String, Value>>,
    pub tags: Tags<'a>,
}

impl<'a> Span<'a> {
    /// The span of a record's task run (kind `experiment`, a root).
    pub fn of_record(
        name: &'a str,
        record: &'a DatasetRecord,
        run: &'a TaskRun,
        config: &'a Map<String, Value>,
        tags: Tags<'a>,
    ) -> Self {
        Span {
            name,
            span_id: run.span_id,
            trace_id: run.trace_id,
            parent_id: None,
            start_ns: run.start_ns,
            duration_ns: run.duration_ns,
            kind: "experiment",
            input: &record.input,
            output: &run.output,
            expected_output: record.expected_output.as_ref(),
            metadata: record.metadata.as_ref(),
            error: run.error.as_deref(),
            config: Some(config),
            tags,
        }
    }
}

struct Meta<'s, 'a>(&'s Span<'a>);

impl Serialize for Meta<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        struct Kind<'k>(&'k str);
        impl Serialize for Kind<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("kind", self.0)?;
                m.end()
            }
        }
        let span = self.0;
        let empty = Value::Object(Map::new());
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("span", &Kind(span.kind))?;
        m.serialize_entry("input", span.input)?;
        m.serialize_entry("output", if span.error.is_some() { &empty } else { span.output })?;
        m.serialize_entry("expected_output", &span.expected_output)?;
        m.serialize_entry("metadata", span.metadata.unwrap_or(&empty))?;
        if let Some(error) = span.error {
            m.serialize_entry("error", error)?;
        }
        m.end()
    }
}

impl Serialize for Span<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        struct Dd(SpanId, TraceId);
        impl Serialize for Dd {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(4))?;
                m.serialize_entry("scope", "experiments")?;
                m.serialize_entry("span_id", &self.0)?;
                m.serialize_entry("trace_id", &self.1)?;
                m.serialize_entry("apm_trace_id", &self.1)?;
                m.end()
            }
        }
        struct Empty;
        impl Serialize for Empty {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_map(Some(0))?.end()
            }
        }
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("trace_id", &self.trace_id)?;
        m.serialize_entry("span_id", &self.span_id)?;
        match &self.parent_id {
            Some(parent) => m.serialize_entry("parent_id", parent)?,
            None => m.serialize_entry("parent_id", "undefined")?,
        }
        m.serialize_entry("name", self.name)?;
        m.serialize_entry("start_ns", &self.start_ns)?;
        m.serialize_entry("duration", &self.duration_ns.max(1))?;
        m.serialize_entry("status", if self.error.is_some() { "error" } else { "ok" })?;
        m.serialize_entry("meta", &Meta(self))?;
        m.serialize_entry("metrics", &Empty)?;
        m.serialize_entry("tags", &self.tags)?;
        m.serialize_entry("_dd", &Dd(self.span_id, self.trace_id))?;
        if let Some(config) = self.config.filter(|c| !c.is_empty()) {
            m.serialize_entry("config", config)?;
        }
        m.end()
    }
}

/// The intake wrapper of one span: `{"_dd.stage": "raw", …, "spans": [span]}`.
pub(crate) struct SpanEvent<'s, 'a>(pub &'s Span<'a>);

impl Serialize for SpanEvent<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(5))?;
        m.serialize_entry("_dd.stage", "raw")?;
        m.serialize_entry("_dd.tracer_version", SDK_VERSION)?;
        m.serialize_entry("event_type", "span")?;
        m.serialize_entry("_dd.scope", "experiments")?;
        m.serialize_entry("spans", &[self.0])?;
        m.end()
    }
}

/// The E11 body around comma-separated metric objects (and replayed spans, for
/// reruns).
pub(crate) fn events_body(metrics: &[u8], tags: &str, spans: Option<&[u8]>) -> Vec<u8> {
    let spans_len = spans.map_or(0, |s| s.len() + 12);
    let mut body = Vec::with_capacity(metrics.len() + tags.len() + spans_len + 96);
    body.extend_from_slice(br#"{"data":{"type":""#);
    body.extend_from_slice(EXPERIMENTS.as_bytes());
    body.extend_from_slice(br#"","attributes":{"scope":"experiments","metrics":["#);
    body.extend_from_slice(metrics);
    body.extend_from_slice(br#"],"tags":"#);
    body.extend_from_slice(tags.as_bytes());
    if let Some(spans) = spans {
        body.extend_from_slice(br#","spans":["#);
        body.extend_from_slice(spans);
        body.push(b']');
    }
    body.extend_from_slice(b"}}}");
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Assessment;
    use serde_json::json;

    fn metric_value(
        outcome: &EvaluationOutcome,
        span: Option<(SpanId, TraceId)>,
        source: Option<&str>,
    ) -> Value {
        let metric =
            Metric { label: "q", outcome, span, timestamp_ms: 5, experiment_id: "e", source };
        serde_json::to_value(&metric).unwrap()
    }

    #[test]
    fn trace_ids_look_like_datadogs() {
        let id = trace_id(1_795_234_552_385_792_731).to_string();
        assert_eq!(id.len(), 32);
        assert_eq!(&id[..8], "6b011af8");
        assert_eq!(&id[8..16], "00000000");
        assert_ne!(span_id().0, 0);
    }

    #[test]
    fn values_are_typed_like_the_reference_client() {
        assert_eq!(typed(&json!(true)).0, "boolean");
        assert_eq!(typed(&json!(0.5)).0, "score");
        assert_eq!(typed(&json!("Good")), ("categorical", Cow::Owned(json!("good"))));
        assert_eq!(typed(&json!({"k": 1})).0, "json");
        assert_eq!(typed(&Value::Null).0, "categorical");
    }

    #[test]
    fn metrics_carry_optional_fields_only_when_set() {
        let label: Arc<str> = Arc::from("q");
        let result = EvaluatorResult::new(true)
            .reasoning("r")
            .assessment(Assessment::Pass)
            .tag("kind", "rule");
        let s = scored(&label, Ok(Evaluation::Result(result)));
        let m = metric_value(&s[0].1, Some((SpanId(1), TraceId(2))), None);
        assert_eq!(m["boolean_value"], json!(true));
        assert_eq!(m["tags"], json!(["kind:rule"]));
        assert_eq!(m["span_id"], json!("1"));
        assert_eq!((m["status"].as_str(), m["assessment"].as_str()), (Some("OK"), Some("pass")));
        assert!(m.get("metadata").is_none() && m.get("eval_source_type").is_none());
        let summary = metric_value(&s[0].1, None, None);
        assert!(summary.get("status").is_none());
        assert_eq!(
            (summary["span_id"].clone(), summary["metric_source"].clone()),
            (json!(""), json!("summary"))
        );
        let failed = scored(&label, Err(CallError::new("boom").kind("ValueError")));
        let m = metric_value(&failed[0].1, Some((SpanId(1), TraceId(2))), Some("managed"));
        assert_eq!(
            (m["categorical_value"].clone(), m["status"].clone()),
            (Value::Null, json!("ERROR"))
        );
        assert_eq!(m["error"]["type"], json!("ValueError"));
        assert_eq!(m["eval_source_type"], json!("managed"));
        let multi = crate::MultiEvaluatorResult::new().with("a", 1.0).with("b", "Yes");
        let s = scored(&label, Ok(Evaluation::Multi(multi)));
        let labels: Vec<&str> = s.iter().map(|(l, _)| &**l).collect();
        assert_eq!(labels, ["q-a", "q-b"]);
        assert_eq!(metric_value(&s[1].1, None, None)["categorical_value"], json!("yes"));
    }

    #[test]
    fn spans_have_the_intake_shape() {
        let run =
            vec![("env".to_owned(), "prod".to_owned()), ("run_id".to_owned(), "r".to_owned())];
        let record = vec![(Cow::Borrowed("env"), Cow::Borrowed("dev"))];
        let error = ErrorInfo { message: "m".into(), kind: "K".into(), stack: String::new() };
        let config = Map::from_iter([("model".to_owned(), json!("x"))]);
        let span = Span {
            name: "task",
            span_id: SpanId(7),
            trace_id: TraceId(9),
            parent_id: None,
            start_ns: 10,
            duration_ns: 0,
            kind: "experiment",
            input: &json!({"q": 1}),
            output: &json!("ignored on error"),
            expected_output: None,
            metadata: None,
            error: Some(&error),
            config: Some(&config),
            tags: Tags { run: &run, record: &record },
        };
        let event = serde_json::to_value(SpanEvent(&span)).unwrap();
        let s = &event["spans"][0];
        assert_eq!(event["_dd.scope"], json!("experiments"));
        assert_eq!(
            (s["span_id"].clone(), s["parent_id"].clone()),
            (json!("7"), json!("undefined"))
        );
        assert_eq!((s["duration"].clone(), s["status"].clone()), (json!(1), json!("error")));
        assert_eq!(s["meta"]["output"], json!({}));
        assert_eq!(s["meta"]["expected_output"], Value::Null);
        assert_eq!(s["meta"]["metadata"], json!({}));
        assert_eq!(s["meta"]["error"]["type"], json!("K"));
        assert_eq!(s["tags"], json!(["run_id:r", "env:dev"]));
        assert_eq!(s["_dd"]["apm_trace_id"], json!(TraceId(9).to_string()));
        assert_eq!(s["config"], json!({"model": "x"}));
    }

    #[test]
    fn events_bodies_wrap_the_metrics() {
        let body = events_body(b"{\"a\":1},{\"b\":2}", "[\"run_id:r\"]", None);
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["data"]["attributes"]["metrics"], json!([{"a": 1}, {"b": 2}]));
        assert_eq!(value["data"]["attributes"]["tags"], json!(["run_id:r"]));
        assert_eq!(value["data"]["type"], json!(EXPERIMENTS));
        assert!(value["data"]["attributes"].get("spans").is_none());
        let body = events_body(b"", "[]", Some(b"{\"s\":1}"));
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["data"]["attributes"]["spans"], json!([{"s": 1}]));
    }
}
