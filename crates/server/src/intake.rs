//! Span intake (E15) and eval-metric intake (E16), also under the agent-proxy prefix
//! `/evp_proxy/v2`. Bodies may be gzip-compressed.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::auth::Intake;
use crate::error::ApiError;
use crate::state::AppState;

const SPANS: &str = "/api/v2/llmobs";
const EVAL_METRICS: &str = "/api/intake/llm-obs/v2/eval-metric";
const PROXY: &str = "/evp_proxy/v2";

/// The intake routes, with and without the agent-proxy prefix.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let limit = DefaultBodyLimit::max(state.config.max_upload_bytes);
    Router::new()
        .route(SPANS, post(spans).layer(limit))
        .route(&format!("{PROXY}{SPANS}"), post(spans).layer(limit))
        .route(EVAL_METRICS, post(eval_metrics).layer(limit))
        .route(&format!("{PROXY}{EVAL_METRICS}"), post(eval_metrics).layer(limit))
}

/// The body as JSON, inflating it first when `Content-Encoding: gzip`.
fn json_body(headers: &HeaderMap, body: &[u8], limit: usize) -> Result<Value, ApiError> {
    let gzip = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let inflated;
    let bytes = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|err| ApiError::invalid(format!("body is not valid gzip: {err}")))?;
        if out.len() > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "inflated body is over the limit of {limit} bytes"
            )));
        }
        inflated = out;
        &inflated[..]
    } else {
        body
    };
    serde_json::from_slice(bytes)
        .map_err(|err| ApiError::invalid(format!("malformed JSON body: {err}")))
}

/// The spans of an intake body: a list of event wrappers (or one), each with `spans`.
fn spans_of(body: Value) -> Result<Vec<Map<String, Value>>, ApiError> {
    let wrappers = match body {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => {
            return Err(ApiError::invalid(
                "span intake takes a list of events, each with a 'spans' list",
            ));
        }
    };
    let mut spans = Vec::new();
    for (index, wrapper) in wrappers.into_iter().enumerate() {
        let Value::Object(mut wrapper) = wrapper else {
            return Err(ApiError::invalid(format!("event {index} is not an object")));
        };
        match wrapper.remove("spans") {
            Some(Value::Array(items)) => {
                for (n, span) in items.into_iter().enumerate() {
                    match span {
                        Value::Object(span) => spans.push(span),
                        _ => {
                            return Err(ApiError::invalid(format!(
                                "event {index}: span {n} is not an object"
                            )));
                        }
                    }
                }
            }
            _ => return Err(ApiError::invalid(format!("event {index} has no 'spans' list"))),
        }
    }
    Ok(spans)
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
    let spans = spans_of(json_body(&headers, &body, state.config.max_upload_bytes)?)?;
    let stored = state.store.ingest_spans(org.as_ref(), spans).await?;
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
    let body = json_body(&headers, &body, state.config.max_upload_bytes)?;
    let metrics = match body.pointer("/data/attributes/metrics") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.as_object()
                    .cloned()
                    .ok_or_else(|| ApiError::invalid(format!("metrics[{i}] is not an object")))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(ApiError::invalid(
                "expected {\"data\": {\"attributes\": {\"metrics\": [...]}}}",
            ));
        }
    };
    let org = match org {
        Some(org) => org,
        None => state.store.org_named("default").await?.ok_or_else(|| {
            ApiError::Unauthorized("API key required: send it in the DD-API-KEY header".into())
        })?,
    };
    let stored = state.store.ingest_eval_metrics(&org, metrics).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"stored": stored}))))
}
