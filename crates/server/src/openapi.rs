//! `/openapi.json`: the OpenAPI description of every route.

use axum::Json;
use axum::response::IntoResponse;
use utoipa::OpenApi;

use crate::prompts;

/// The document, built from the route annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "llmobs", description = "Self-hosted LLM Observability API, wire-compatible \
        with Datadog's for prompts, datasets and experiments."),
    paths(
        healthz,
        openapi_json,
        prompts::list_prompts,
        prompts::create_prompt,
        prompts::get_prompt,
        prompts::update_prompt,
        prompts::delete_prompt,
        prompts::resolve_prompt,
        prompts::list_versions,
        prompts::create_version,
        prompts::get_version,
        prompts::update_version,
    ),
    components(schemas(
        llmobs_core::error::ErrorBody,
        llmobs_core::error::ErrorItem,
        llmobs_core::prompts::ResolveData,
        llmobs_core::prompts::ResolveAttributes,
    )),
    tags((name = "prompts", description = "The prompt registry"))
)]
struct ApiDoc;

/// Liveness: 200 with `ok`, no key needed.
#[utoipa::path(get, path = "/healthz", tag = "server", responses((status = 200, body = String)))]
#[allow(dead_code)]
async fn healthz() {}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "server", responses((status = 200)))]
#[allow(dead_code)]
async fn openapi_json() {}

/// Serves the document.
pub(crate) async fn document() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}
