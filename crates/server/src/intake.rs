//! Span intake (E15) and eval-metric intake (E16), also under the agent-proxy prefix
//! `/evp_proxy/v2`. Bodies may be gzip- or deflate-compressed; they are inflated as a
//! stream that stops at [`Config::max_intake_bytes`](crate::Config::max_intake_bytes), so
//! a small compressed body cannot make the server hold more than that limit.

use std::borrow::Cow;
use std::io::Read;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::json;
use serde_json::value::RawValue;

use crate::auth::Intake;
use crate::error::ApiError;
use crate::state::AppState;

const SPANS: &str = "/api/v2/llmobs";
const EVAL_METRICS: &str = "/api/intake/llm-obs/v2/eval-metric";
const PROXY: &str = "/evp_proxy/v2";

/// The intake routes, with and without the agent-proxy prefix.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let limit = DefaultBodyLimit::max(state.config.max_intake_bytes);
    Router::new()
        .route(SPANS, post(spans).layer(limit))
        .route(&format!("{PROXY}{SPANS}"), post(spans).layer(limit))
        .route(EVAL_METRICS, post(eval_metrics).layer(limit))
        .route(&format!("{PROXY}{EVAL_METRICS}"), post(eval_metrics).layer(limit))
}

/// The body, inflated first when `Content-Encoding` is `gzip` or `deflate`. Inflation
/// stops as soon as the output passes `limit`: the answer is then a 413 naming the limit.
fn inflate<'b>(
    headers: &HeaderMap,
    body: &'b [u8],
    limit: usize,
) -> Result<Cow<'b, [u8]>, ApiError> {
    let encoding = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase());
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let read = match encoding.as_deref() {
        None | Some("" | "identity") => return Ok(Cow::Borrowed(body)),
        Some("gzip" | "x-gzip") => {
            flate2::read::GzDecoder::new(body).take(limit as u64 + 1).read_to_end(&mut out)
        }
        Some("deflate") => {
            flate2::read::ZlibDecoder::new(body).take(limit as u64 + 1).read_to_end(&mut out)
        }
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Content-Encoding '{other}' is not supported: send gzip, deflate or no encoding"
            )));
        }
    };
    read.map_err(|err| ApiError::invalid(format!("body does not inflate: {err}")))?;
    if out.len() > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "inflated body is over the intake limit of {limit} bytes (max_intake_bytes)"
        )));
    }
    Ok(Cow::Owned(out))
}

fn malformed(err: serde_json::Error) -> ApiError {
    ApiError::invalid(format!("malformed JSON body: {err}"))
}

/// The first byte of a JSON text after whitespace.
fn first(json: &[u8]) -> Option<u8> {
    json.iter().copied().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// The value of `key` in the JSON object `object` (the last one if the key repeats), as
/// text; the whole of `object` is checked to be JSON.
fn member<'a>(object: &'a [u8], key: &str) -> Result<Option<&'a RawValue>, serde_json::Error> {
    struct Member<'k>(&'k str);
    struct KeyIs<'k>(&'k str);
    impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
            deserializer.deserialize_str(self)
        }
    }
    impl Visitor<'_> for KeyIs<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a key")
        }
        fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
            Ok(key == self.0)
        }
    }
    impl<'de> Visitor<'de> for Member<'_> {
        type Value = Option<&'de RawValue>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(is) = map.next_key_seed(KeyIs(self.0))? {
                if is {
                    found = Some(map.next_value::<&RawValue>()?);
                } else {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(object);
    let found = deserializer.deserialize_map(Member(key))?;
    deserializer.end()?;
    Ok(found)
}

/// The spans of an intake body, each as the JSON text received: the body is a list of
/// event wrappers (or one), each with `spans`. One pass over the body: each span's text is
/// read once, as it is found.
fn spans_of(body: &[u8]) -> Result<Vec<&RawValue>, ApiError> {
    let shape = std::cell::RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let read = Body { shape: &shape }
        .deserialize(&mut deserializer)
        .and_then(|spans| deserializer.end().map(|()| spans));
    read.map_err(|err| match shape.take() {
        // A value of the wrong type where the message was set: the body's shape is wrong.
        Some(message) if err.classify() == serde_json::error::Category::Data => {
            ApiError::invalid(message)
        }
        _ => malformed(err),
    })
}

/// The shapes `spans_of` walks, top down. Each sets `shape` to what to tell the client
/// before it asks for a value of one type, and clears it once the value has that type, so
/// a type error while it is set is that message.
struct Body<'c> {
    shape: &'c std::cell::RefCell<Option<String>>,
}

struct Wrapper<'c, 'v, 's> {
    shape: &'c std::cell::RefCell<Option<String>>,
    index: usize,
    spans: &'v mut Vec<&'s RawValue>,
}

struct Spans<'c, 'v, 's> {
    shape: &'c std::cell::RefCell<Option<String>>,
    index: usize,
    spans: &'v mut Vec<&'s RawValue>,
}

impl<'c> Body<'c> {
    fn wrapper<'v, 's>(
        &self,
        index: usize,
        spans: &'v mut Vec<&'s RawValue>,
    ) -> Wrapper<'c, 'v, 's> {
        *self.shape.borrow_mut() = Some(format!("event {index} is not an object"));
        Wrapper { shape: self.shape, index, spans }
    }
}

impl<'s> DeserializeSeed<'s> for Body<'_> {
    type Value = Vec<&'s RawValue>;
    fn deserialize<D: Deserializer<'s>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        *self.shape.borrow_mut() =
            Some("span intake takes a list of events, each with a 'spans' list".to_owned());
        deserializer.deserialize_any(self)
    }
}

impl<'s> Visitor<'s> for Body<'_> {
    type Value = Vec<&'s RawValue>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of event wrappers")
    }
    fn visit_seq<A: de::SeqAccess<'s>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut spans = Vec::new();
        let mut index = 0;
        while seq.next_element_seed(self.wrapper(index, &mut spans))?.is_some() {
            index += 1;
        }
        Ok(spans)
    }
    fn visit_map<A: MapAccess<'s>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut spans = Vec::new();
        self.wrapper(0, &mut spans).visit_map(map)?;
        Ok(spans)
    }
}

impl<'s> DeserializeSeed<'s> for Wrapper<'_, '_, 's> {
    type Value = ();
    fn deserialize<D: Deserializer<'s>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'s> Visitor<'s> for Wrapper<'_, '_, 's> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an event wrapper object")
    }
    fn visit_map<A: MapAccess<'s>>(self, mut map: A) -> Result<(), A::Error> {
        let no_spans = format!("event {} has no 'spans' list", self.index);
        let start = self.spans.len();
        let mut found = false;
        while let Some(key) = map.next_key::<Cow<'s, str>>()? {
            if key == "spans" {
                // As with any repeated key, the last `spans` is the one kept.
                self.spans.truncate(start);
                *self.shape.borrow_mut() = Some(no_spans.clone());
                let spans = Spans { shape: self.shape, index: self.index, spans: self.spans };
                map.next_value_seed(spans)?;
                found = true;
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        if !found {
            *self.shape.borrow_mut() = Some(no_spans);
            return Err(de::Error::custom("no spans"));
        }
        *self.shape.borrow_mut() = None;
        Ok(())
    }
}

impl<'s> DeserializeSeed<'s> for Spans<'_, '_, 's> {
    type Value = ();
    fn deserialize<D: Deserializer<'s>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'s> Visitor<'s> for Spans<'_, '_, 's> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of spans")
    }
    fn visit_seq<A: de::SeqAccess<'s>>(self, mut seq: A) -> Result<(), A::Error> {
        *self.shape.borrow_mut() = None;
        let mut n = 0;
        while let Some(span) = seq.next_element::<&'s RawValue>()? {
            if first(span.get().as_bytes()) != Some(b'{') {
                *self.shape.borrow_mut() =
                    Some(format!("event {}: span {n} is not an object", self.index));
                return Err(de::Error::custom("span is not an object"));
            }
            self.spans.push(span);
            n += 1;
        }
        Ok(())
    }
}

/// The metrics of an eval-metric body, `data.attributes.metrics`, each as the JSON text
/// received.
fn eval_metrics_of(body: &[u8]) -> Result<Vec<&RawValue>, ApiError> {
    let shape = || ApiError::invalid("expected {\"data\": {\"attributes\": {\"metrics\": [...]}}}");
    if first(body) != Some(b'{') {
        serde_json::from_slice::<de::IgnoredAny>(body).map_err(malformed)?;
        return Err(shape());
    }
    let mut object = body;
    for key in ["data", "attributes", "metrics"] {
        match member(object, key).map_err(malformed)? {
            Some(value) if key == "metrics" || first(value.get().as_bytes()) == Some(b'{') => {
                object = value.get().as_bytes();
            }
            _ => return Err(shape()),
        }
    }
    if first(object) != Some(b'[') {
        return Err(shape());
    }
    let metrics: Vec<&RawValue> = serde_json::from_slice(object).map_err(malformed)?;
    for (i, metric) in metrics.iter().enumerate() {
        if first(metric.get().as_bytes()) != Some(b'{') {
            return Err(ApiError::invalid(format!("metrics[{i}] is not an object")));
        }
    }
    Ok(metrics)
}

/// E15: stores LLM Observability spans. Answers 202.
#[utoipa::path(post, path = "/api/v2/llmobs", tag = "intake",
    request_body(content = Vec<Object>, description = "event wrappers, each with a `spans` list; gzip accepted; also under /evp_proxy/v2"),
    responses((status = 202), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn spans(
    State(state): State<AppState>,
    Intake(org): Intake,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let body = inflate(&headers, &body, state.config.max_intake_bytes)?;
    let stored = state.store.ingest_spans(org.as_ref(), &spans_of(&body)?).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"stored": stored}))))
}

/// E16: stores evaluation metrics. Answers 202.
#[utoipa::path(post, path = "/api/intake/llm-obs/v2/eval-metric", tag = "intake",
    request_body(content = Object, description = "`data.attributes.metrics`; also under /evp_proxy/v2"),
    responses((status = 202), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn eval_metrics(
    State(state): State<AppState>,
    Intake(org): Intake,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let body = inflate(&headers, &body, state.config.max_intake_bytes)?;
    let metrics = eval_metrics_of(&body)?;
    let stored = state.store.ingest_eval_metrics(org.as_ref(), &metrics).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"stored": stored}))))
}
