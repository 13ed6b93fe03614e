//! Experiments: delete, and the events in the shapes the official client reads: v1 a list
//! of spans, v2 one document, v3 one document per page of spans.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use llmobs_core::experiments::{EXPERIMENT_EVENTS, EXPERIMENTS, ExperimentEvents};
use llmobs_core::jsonapi::{Document, Request, Resource};
use llmobs_core::public::{DeleteExperiments, MAX_PAGE};
use serde_json::Value;

use super::{meta, paging};
use crate::auth::{Reader, Writer};
use crate::error::ApiError;
use crate::extract::{ApiJson, Segments};
use crate::jsonapi::{FAMILIES, JsonApi, Query};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new()
        .route("/api/v2/llm-obs/v2/experiments/{experiment_id}/events", get(events_v2))
        .route("/api/v2/llm-obs/v3/experiments/{experiment_id}/events", get(events_v3));
    for family in FAMILIES {
        router = router.route(&format!("{family}/experiments/delete"), post(delete_experiments));
    }
    router
}

/// Deletes experiments; all or nothing. Answers 204.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/experiments/delete", tag = "public", request_body = Request<DeleteExperiments>,
    responses((status = 204), (status = 400, body = llmobs_core::error::ErrorBody), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn delete_experiments(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<Request<DeleteExperiments>>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_experiments(&caller.org, &body.data.attributes.experiment_ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The v1 events as the official client reads them: one resource per span, its id the
/// span id, its attributes the span with its metrics.
pub(crate) fn spans_list(events: ExperimentEvents) -> JsonApi<Document<Vec<Resource<Value>>>> {
    let data = events
        .spans
        .into_iter()
        .map(|span| {
            let id = span.get("span_id").and_then(Value::as_str).unwrap_or_default().to_owned();
            Resource::new(id, EXPERIMENTS, span)
        })
        .collect();
    JsonApi(Document { data, meta: None })
}

/// The spans with their metrics, and the summary metrics, in one document.
#[utoipa::path(get, path = "/api/v2/llm-obs/v2/experiments/{experiment_id}/events", tag = "public",
    params(("experiment_id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<ExperimentEvents>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn events_v2(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments(id): Segments<String>,
) -> Result<JsonApi<Document<Resource<ExperimentEvents>>>, ApiError> {
    let found = state.store.experiment_events(&org, &id).await?;
    Ok(JsonApi(Document::one(Resource::new(id, EXPERIMENT_EVENTS, found))))
}

/// A page of spans (`page[limit]`, default 100; `page[cursor]`, the `meta.after` of the
/// previous page) with their metrics; the summary metrics come on the first page.
#[utoipa::path(get, path = "/api/v2/llm-obs/v3/experiments/{experiment_id}/events", tag = "public",
    params(("experiment_id" = String, Path), ("page[limit]" = Option<i64>, Query), ("page[cursor]" = Option<String>, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<ExperimentEvents>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn events_v3(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments(id): Segments<String>,
    RawQuery(query): RawQuery,
) -> Result<JsonApi<Document<Resource<ExperimentEvents>>>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let (limit, cursor) = paging(&query, 100, MAX_PAGE)?;
    let offset = match cursor {
        None => 0,
        Some(c) => c.parse::<usize>().map_err(|_| {
            ApiError::invalid(format!("invalid page[cursor] '{c}': pass back meta.after"))
        })?,
    };
    let found = state.store.experiment_events(&org, &id).await?;
    let (page, next) = llmobs_core::public::page_events(found, offset, limit);
    Ok(JsonApi(Document {
        data: Resource::new(id, EXPERIMENT_EVENTS, page),
        meta: meta(next.map(|n| n.to_string())),
    }))
}
