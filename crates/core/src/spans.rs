//! Wire types of the spans query plane: `GET /api/v2/llm-obs/v1/spans/events` and
//! `POST /api/v2/llm-obs/v1/spans/events/search`, and how a stored span event (as the
//! intake received it from ddtrace or the SDK) reads as a span of those answers.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::search::{self, Query};

/// The span search request body: `{"data": {"type": "spans", "attributes": {...}}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchSpansRequest {
    /// The search.
    pub data: SearchSpansData,
}

/// The `data` of a [`SearchSpansRequest`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchSpansData {
    /// Always `spans`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// What to search for.
    #[serde(default)]
    pub attributes: SearchSpansAttributes,
}

/// Filter, paging, sort and options of a span search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchSpansAttributes {
    /// Which spans.
    #[serde(default)]
    pub filter: SpanFilter,
    /// Extra options.
    #[serde(default)]
    pub options: SpanSearchOptions,
    /// Which page.
    #[serde(default)]
    pub page: SpanPageQuery,
    /// `timestamp` or `duration`, `-` prefixed for descending; default `-timestamp`.
    #[serde(default)]
    pub sort: Option<String>,
}

/// Which spans a search returns. When `query` is given, the other field filters are
/// ignored (the time range still applies), as Datadog documents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpanFilter {
    /// Start of the time range: RFC 3339, epoch milliseconds or `now-15m` (the default).
    #[serde(default)]
    pub from: Option<String>,
    /// End of the time range; default `now`.
    #[serde(default)]
    pub to: Option<String>,
    /// A query in Datadog's search syntax.
    #[serde(default)]
    pub query: Option<String>,
    /// Exactly this span id.
    #[serde(default)]
    pub span_id: Option<String>,
    /// Exactly this trace id.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// Exactly this span kind (`llm`, `agent`, `tool`, `task`, `workflow`, ...).
    #[serde(default)]
    pub span_kind: Option<String>,
    /// Exactly this span name.
    #[serde(default)]
    pub span_name: Option<String>,
    /// Exactly this ML application.
    #[serde(default)]
    pub ml_app: Option<String>,
    /// Tags `key:value` the span must all have.
    #[serde(default)]
    pub tags: Option<std::collections::BTreeMap<String, String>>,
}

/// Options of a span search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpanSearchOptions {
    /// Accepted; spans carry no attachments here.
    #[serde(default)]
    pub include_attachments: Option<bool>,
    /// Seconds added to both ends of the time range.
    #[serde(default)]
    pub time_offset: Option<i64>,
}

/// Paging of a span search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpanPageQuery {
    /// `meta.page.after` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Spans per page, 1 to [`MAX_PAGE_LIMIT`]; default [`DEFAULT_PAGE_LIMIT`].
    #[serde(default)]
    pub limit: Option<i64>,
}

/// Spans per page when the request names no limit.
pub const DEFAULT_PAGE_LIMIT: i64 = 10;
/// The most spans one page holds.
pub const MAX_PAGE_LIMIT: i64 = 1000;

/// What spans are ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanOrder {
    /// Start time (`timestamp`).
    Start,
    /// Duration (`duration`).
    Duration,
}

/// A span search.
#[derive(Debug, Clone)]
pub struct SpanSearch {
    /// Spans starting at or after this, in nanoseconds since the epoch.
    pub from_ns: i64,
    /// Spans starting at or before this.
    pub to_ns: i64,
    /// Which spans.
    pub query: Query,
    /// Ordered by.
    pub order: SpanOrder,
    /// Descending when true.
    pub descending: bool,
    /// Spans per page.
    pub limit: i64,
    /// Where the page starts: the `after` of the previous page.
    pub cursor: Option<String>,
}

impl SpanSearch {
    /// The sort as the request names it: `timestamp`, `-timestamp`, `duration` or
    /// `-duration` (`start_ns` is a synonym of `timestamp`).
    pub fn parse_sort(sort: &str) -> Option<(SpanOrder, bool)> {
        let (descending, name) = match sort.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, sort.strip_prefix('+').unwrap_or(sort)),
        };
        let order = match name {
            "timestamp" | "start_ns" | "start" => SpanOrder::Start,
            "duration" => SpanOrder::Duration,
            _ => return None,
        };
        Some((order, descending))
    }

    /// The sort's name, as a cursor records it.
    pub fn sort_name(&self) -> &'static str {
        match (self.order, self.descending) {
            (SpanOrder::Start, false) => "timestamp",
            (SpanOrder::Start, true) => "-timestamp",
            (SpanOrder::Duration, false) => "duration",
            (SpanOrder::Duration, true) => "-duration",
        }
    }
}

pub use crate::error::RequestError;
use crate::error::refuse;

/// A structured filter `field` equal to `value`, as a query term.
fn equals(field: &str, value: &str) -> Query {
    Query::Term(search::Term::Field {
        name: field.to_owned(),
        at: true,
        value: search::Value::Exact(value.to_owned()),
    })
}

/// How a span search request reads: the time range (default `now-15m` to `now`, shifted
/// by `time_offset` seconds), the query (`filter.query` when given, else the structured
/// filters ANDed), the sort (default `-timestamp`) and the page. `now_ns` is what `now`
/// means. `names` gives the request's own names of the fields, for errors.
pub fn plan(
    attributes: &SearchSpansAttributes,
    now_ns: i64,
    names: &FieldNames,
) -> Result<SpanSearch, RequestError> {
    let filter = &attributes.filter;
    let offset = attributes.options.time_offset.unwrap_or(0).saturating_mul(1_000_000_000);
    let time = |text: Option<&String>, default: &str, field: &str| {
        let text = text.map(String::as_str).filter(|t| !t.is_empty()).unwrap_or(default);
        search::parse_time(text, now_ns)
            .map(|ns| ns.saturating_add(offset))
            .map_err(|err| refuse(field, err.to_string()))
    };
    let from_ns = time(filter.from.as_ref(), "now-15m", names.from)?;
    let to_ns = time(filter.to.as_ref(), "now", names.to)?;
    if from_ns > to_ns {
        return Err(refuse(names.from, "the start of the time range is after its end"));
    }
    let query = match filter.query.as_deref().filter(|q| !q.trim().is_empty()) {
        Some(text) => search::parse(text).map_err(|err| {
            refuse(names.query, format!("{err}; see Datadog's search syntax (@field:value, -negation, AND/OR, \"phrases\", wild*cards)"))
        })?,
        None => {
            let mut terms = Vec::new();
            for (field, value) in [
                ("span_id", &filter.span_id),
                ("trace_id", &filter.trace_id),
                ("span_kind", &filter.span_kind),
                ("span_name", &filter.span_name),
                ("ml_app", &filter.ml_app),
            ] {
                if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                    terms.push(equals(field, value));
                }
            }
            for (key, value) in filter.tags.iter().flatten() {
                terms.push(Query::Term(search::Term::Field {
                    name: key.clone(),
                    at: false,
                    value: search::Value::Exact(value.clone()),
                }));
            }
            match terms.len() {
                0 => Query::All,
                1 => terms.remove(0),
                _ => Query::And(terms),
            }
        }
    };
    let sort = attributes.sort.as_deref().filter(|s| !s.is_empty()).unwrap_or("-timestamp");
    let (order, descending) = SpanSearch::parse_sort(sort).ok_or_else(|| {
        refuse(
            "sort",
            format!("'{sort}' is not a sort: use timestamp, -timestamp, duration or -duration"),
        )
    })?;
    let limit = attributes.page.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
        return Err(refuse(
            names.limit,
            format!("must be between 1 and {MAX_PAGE_LIMIT}, got {limit}"),
        ));
    }
    let cursor = attributes.page.cursor.clone().filter(|c| !c.is_empty());
    Ok(SpanSearch { from_ns, to_ns, query, order, descending, limit, cursor })
}

/// What a request calls the fields [`plan`] may refuse: query parameters
/// ([`FieldNames::QUERY`]) or body fields ([`FieldNames::BODY`]).
#[derive(Debug, Clone, Copy)]
pub struct FieldNames {
    /// The start of the time range.
    pub from: &'static str,
    /// The end of the time range.
    pub to: &'static str,
    /// The query.
    pub query: &'static str,
    /// The page size.
    pub limit: &'static str,
}

impl FieldNames {
    /// Query parameters of `GET /spans/events`.
    pub const QUERY: FieldNames = FieldNames {
        from: "filter[from]",
        to: "filter[to]",
        query: "filter[query]",
        limit: "page[limit]",
    };
    /// Body fields of `POST /spans/events/search`.
    pub const BODY: FieldNames = FieldNames {
        from: "data.attributes.filter.from",
        to: "data.attributes.filter.to",
        query: "data.attributes.filter.query",
        limit: "data.attributes.page.limit",
    };
}

/// A page of spans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpansResponse {
    /// The spans, in the requested order.
    pub data: Vec<SpanData>,
    /// Paging and timing.
    pub meta: SpansMeta,
    /// The next page's URL (GET only), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<SpansLinks>,
}

/// One span of a [`SpansResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpanData {
    /// The span id.
    pub id: String,
    /// Always `span`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The span.
    pub attributes: SpanAttributes,
}

/// `meta` of a [`SpansResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpansMeta {
    /// Milliseconds the query took.
    pub elapsed: i64,
    /// The cursor of the next page.
    pub page: SpansPage,
    /// A fresh id for this request.
    pub request_id: String,
    /// Always `done`.
    pub status: String,
}

/// `meta.page` of a [`SpansResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpansPage {
    /// The next page's cursor; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// `links` of a [`SpansResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpansLinks {
    /// The next page's URL.
    pub next: String,
}

/// A span as the query plane returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpanAttributes {
    /// Nanoseconds.
    pub duration: f64,
    /// The ML application (`ml_app:` tag, or an `ml_app` field).
    pub ml_app: String,
    /// The span name.
    pub name: String,
    /// The span id.
    pub span_id: String,
    /// `meta.span.kind`.
    pub span_kind: String,
    /// Start, in nanoseconds since the epoch.
    pub start_ns: i64,
    /// `ok` or `error`.
    pub status: String,
    /// The trace id.
    pub trace_id: String,
    /// The parent span id (`undefined` for a root span).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// `meta.input`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<SpanIo>,
    /// `meta.output`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<SpanIo>,
    /// `meta.metadata`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Option<Map<String, Value>>,
    /// The numeric `metrics` (token counts and such).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<std::collections::BTreeMap<String, f64>>,
    /// `meta.model_name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// `meta.model_provider`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
    /// The span's tags, `key:value`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Evaluations by label (experiment spans: their metrics).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub evaluation: Option<Map<String, Value>>,
}

/// Input or output of a span: a plain value or chat messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpanIo {
    /// Chat messages, each with `content` and `role` (and tool calls or results).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub messages: Option<Vec<Value>>,
    /// The text (JSON text when the span holds a structured value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

fn string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The value of tag `key:` in a tag list.
fn tag_value<'v>(tags: &'v [Value], key: &str) -> Option<&'v str> {
    tags.iter()
        .filter_map(Value::as_str)
        .find_map(|tag| tag.split_once(':').filter(|(k, _)| *k == key).map(|(_, value)| value))
}

/// The span kind of an event's `meta`: `meta.span.kind`, or the dotted `meta["span.kind"]`.
pub fn kind_of(meta: Option<&Map<String, Value>>) -> Option<&str> {
    let meta = meta?;
    meta.get("span")
        .and_then(|span| span.get("kind"))
        .or_else(|| meta.get("span.kind"))
        .and_then(Value::as_str)
}

/// The ML application of an event: its `ml_app:` tag, else an `ml_app` field.
pub fn ml_app_of(event: &Map<String, Value>) -> Option<&str> {
    let tags = event.get("tags").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    tag_value(tags, "ml_app").or_else(|| event.get("ml_app").and_then(Value::as_str))
}

/// A message as the client's `LLMObsSpanMessage` reads it: text fields as text, tool
/// calls and results as objects of their documented fields.
fn message(value: &Value) -> Value {
    let Some(object) = value.as_object() else {
        return serde_json::json!({"content": string(Some(value)).unwrap_or_default()});
    };
    let mut out = Map::new();
    for key in ["content", "role", "id"] {
        if let Some(text) = string(object.get(key)) {
            out.insert(key.into(), Value::String(text));
        }
    }
    let pick = |key: &str, fields: &[&str]| -> Option<Value> {
        let items = object.get(key)?.as_array()?;
        Some(Value::Array(
            items
                .iter()
                .filter_map(Value::as_object)
                .map(|item| {
                    let mut kept = Map::new();
                    for field in fields {
                        if let Some(text) = string(item.get(*field)) {
                            kept.insert((*field).into(), Value::String(text));
                        }
                    }
                    if let Some(Value::Object(arguments)) = item.get("arguments") {
                        kept.insert("arguments".into(), Value::Object(arguments.clone()));
                    }
                    Value::Object(kept)
                })
                .collect(),
        ))
    };
    if let Some(calls) = pick("tool_calls", &["name", "tool_id", "type"]) {
        out.insert("tool_calls".into(), calls);
    }
    if let Some(results) = pick("tool_results", &["name", "result", "tool_id", "type"]) {
        out.insert("tool_results".into(), results);
    }
    Value::Object(out)
}

/// `meta.input` or `meta.output` as a [`SpanIo`]: `{value}` and `{messages}` objects as
/// they are; any other value (an experiment's record input, say) as its text.
fn io(value: Option<&Value>) -> Option<SpanIo> {
    let value = value.filter(|v| !v.is_null())?;
    if let Some(object) = value.as_object() {
        let messages = object.get("messages").and_then(Value::as_array);
        if messages.is_some() || object.get("value").is_some() {
            return Some(SpanIo {
                messages: messages.map(|items| items.iter().map(message).collect()),
                value: string(object.get("value")),
            });
        }
    }
    Some(SpanIo { messages: None, value: string(Some(value)) })
}

/// The text a free-text search looks through: input and output values and message
/// contents, in that order, separated by newlines.
pub fn searchable_text(event: &Map<String, Value>) -> String {
    let mut text = String::new();
    for side in ["input", "output"] {
        push_side(&mut text, event, side);
    }
    text
}

/// The text of a span's input alone (what topic discovery clusters): its value and
/// message contents, each followed by a newline.
pub fn input_text(event: &Map<String, Value>) -> String {
    let mut text = String::new();
    push_side(&mut text, event, "input");
    text
}

fn push_side(text: &mut String, event: &Map<String, Value>, side: &str) {
    let meta = event.get("meta").and_then(Value::as_object);
    if let Some(io) = io(meta.and_then(|meta| meta.get(side))) {
        if let Some(value) = io.value {
            text.push_str(&value);
            text.push('\n');
        }
        for message in io.messages.iter().flatten() {
            if let Some(content) = message.get("content").and_then(Value::as_str) {
                text.push_str(content);
                text.push('\n');
            }
        }
    }
}

impl SpanAttributes {
    /// A stored span event as the query plane shows it. Fields of the wrong type read as
    /// absent; missing required fields read as empty.
    pub fn from_event(event: &Map<String, Value>) -> SpanAttributes {
        let meta = event.get("meta").and_then(Value::as_object);
        let metrics = event.get("metrics").and_then(Value::as_object).map(|metrics| {
            metrics.iter().filter_map(|(k, v)| Some((k.clone(), v.as_f64()?))).collect()
        });
        SpanAttributes {
            duration: event.get("duration").and_then(Value::as_f64).unwrap_or(0.0),
            ml_app: ml_app_of(event).unwrap_or_default().to_owned(),
            name: string(event.get("name")).unwrap_or_default(),
            span_id: string(event.get("span_id")).unwrap_or_default(),
            span_kind: kind_of(meta).unwrap_or_default().to_owned(),
            start_ns: event.get("start_ns").and_then(Value::as_i64).unwrap_or(0),
            status: string(event.get("status")).unwrap_or_else(|| "ok".into()),
            trace_id: string(event.get("trace_id")).unwrap_or_default(),
            parent_id: string(event.get("parent_id")),
            input: io(meta.and_then(|meta| meta.get("input"))),
            output: io(meta.and_then(|meta| meta.get("output"))),
            metadata: meta
                .and_then(|meta| meta.get("metadata"))
                .and_then(Value::as_object)
                .cloned(),
            metrics,
            model_name: string(meta.and_then(|meta| meta.get("model_name"))),
            model_provider: string(meta.and_then(|meta| meta.get("model_provider"))),
            tags: event
                .get("tags")
                .and_then(Value::as_array)
                .map(|tags| tags.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            evaluation: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_ddtrace_llm_span_reads_as_the_client_expects() {
        let event = json!({
            "trace_id": "t1", "span_id": "s1", "parent_id": "undefined", "name": "chat",
            "start_ns": 5, "duration": 7, "status": "ok",
            "meta": {"span": {"kind": "llm"}, "model_name": "gpt", "model_provider": "openai",
                     "input": {"messages": [{"role": "user", "content": "hi"}]},
                     "output": {"messages": [{"role": "assistant", "content": "hello", "tool_calls": [{"name": "f", "arguments": {"a": 1}, "x": 2}]}]},
                     "metadata": {"temperature": 0.5}},
            "metrics": {"input_tokens": 3, "bad": "x"},
            "tags": ["env:prod", "ml_app:shop"],
        });
        let span = SpanAttributes::from_event(event.as_object().unwrap());
        assert_eq!(
            (span.ml_app.as_str(), span.span_kind.as_str(), span.duration),
            ("shop", "llm", 7.0)
        );
        assert_eq!(span.metrics.unwrap()["input_tokens"], 3.0);
        let output = span.output.unwrap().messages.unwrap();
        assert_eq!(
            output[0],
            json!({"content": "hello", "role": "assistant",
            "tool_calls": [{"name": "f", "arguments": {"a": 1}}]})
        );
        assert_eq!(searchable_text(event.as_object().unwrap()), "hi\nhello\n");
    }

    #[test]
    fn an_experiment_span_with_structured_input_reads_as_text() {
        let event = json!({"meta": {"span.kind": "experiment", "input": {"q": 1}, "output": "Paris"},
                           "ml_app": "exp"});
        let span = SpanAttributes::from_event(event.as_object().unwrap());
        assert_eq!(span.input.unwrap().value.as_deref(), Some("{\"q\":1}"));
        assert_eq!(span.output.unwrap().value.as_deref(), Some("Paris"));
        assert_eq!((span.span_kind.as_str(), span.ml_app.as_str()), ("experiment", "exp"));
    }
}
