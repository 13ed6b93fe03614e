//! Custom evaluator configs under Datadog's public path
//! `/api/unstable/llm-obs/config/evaluators/custom/{eval_name}`: put, get, list, delete.
//! They share the store with ddtrace's `publish_evaluator` ([`crate::evaluators`]): a
//! config put here is an `llm_judge` that remote inference runs, and one published by
//! ddtrace is listed and read here in the public shape.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use llmobs_core::experiments::EVALUATOR_CONFIG;
use llmobs_core::jsonapi::{Document, Request, Resource};
use llmobs_core::public::{public_eval_config, stored_eval_config};
use llmobs_store::StoredEvaluator;
use serde_json::{Map, Value};

use crate::auth::{Reader, Writer};
use crate::error::ApiError;
use crate::evaluators::Evaluator;
use crate::extract::{ApiJson, Segments};
use crate::jsonapi::JsonApi;
use crate::state::AppState;

const BASE: &str = "/api/unstable/llm-obs/config/evaluators/custom";

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(BASE, get(list_configs)).route(
        &format!("{BASE}/{{eval_name}}"),
        get(get_config).put(put_config).delete(delete_config),
    )
}

fn resource(found: StoredEvaluator) -> Resource<Value> {
    let attributes =
        public_eval_config(&found.name, &found.config, &found.created_at, &found.updated_at);
    Resource::new(found.name, EVALUATOR_CONFIG, attributes)
}

/// Every custom evaluator config of the org, by name.
#[utoipa::path(get, path = "/api/unstable/llm-obs/config/evaluators/custom", tag = "public",
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Vec<Resource<Object>>>)))]
pub(crate) async fn list_configs(
    State(state): State<AppState>,
    Reader(org): Reader,
) -> Result<JsonApi<Document<Vec<Resource<Value>>>>, ApiError> {
    let found = state.store.list_evaluators(&org).await?;
    Ok(JsonApi(Document { data: found.into_iter().map(resource).collect(), meta: None }))
}

/// One custom evaluator config.
#[utoipa::path(get, path = "/api/unstable/llm-obs/config/evaluators/custom/{eval_name}", tag = "public",
    params(("eval_name" = String, Path)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<Object>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn get_config(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments(name): Segments<String>,
) -> Result<JsonApi<Document<Resource<Value>>>, ApiError> {
    let found = state.store.stored_evaluator(&org, &name).await?;
    Ok(JsonApi(Document::one(resource(found))))
}

/// Creates or replaces a custom evaluator config (an LLM judge). Answers 204.
#[utoipa::path(put, path = "/api/unstable/llm-obs/config/evaluators/custom/{eval_name}", tag = "public",
    params(("eval_name" = String, Path)),
    request_body(content = Object, description = "`data.attributes`: category, eval_name, llm_judge_config, llm_provider, target"),
    responses((status = 204), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn put_config(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(name): Segments<String>,
    ApiJson(body): ApiJson<Request<Map<String, Value>>>,
) -> Result<StatusCode, ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::invalid("eval_name must be a non-empty string"));
    }
    let config = stored_eval_config(&name, body.data.attributes)
        .map_err(|err| ApiError::invalid(err.to_string()))?;
    Evaluator::from_config("llm_judge", &config)
        .map_err(|err| ApiError::invalid(format!("llm_judge_config: {err}")))?;
    state.store.put_evaluator(&caller.org, &name, "llm_judge", &config).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a custom evaluator config. Answers 204.
#[utoipa::path(delete, path = "/api/unstable/llm-obs/config/evaluators/custom/{eval_name}", tag = "public",
    params(("eval_name" = String, Path)),
    responses((status = 204), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn delete_config(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(name): Segments<String>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_evaluator(&caller.org, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
