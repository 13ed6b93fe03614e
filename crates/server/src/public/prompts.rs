//! The public prompt registry, `/api/v2/llm-obs/v1/prompts…`: the same store and the same
//! handlers as ddtrace's `/api/unstable/llm-obs/v1/prompts…` ([`crate::prompts`]), with
//! JSON:API bodies. A resource's `id` is the prompt's `prompt_id` (prompts) or the version's
//! UUID (versions); paths take the `prompt_id`.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use llmobs_core::jsonapi::{Document, Request, Resource};
use llmobs_core::prompts::{
    CreatePromptRequest, CreateVersionRequest, Deleted, PromptRecord, SdkPrompt,
    UpdatePromptRequest, UpdateVersionRequest, Version,
};
use llmobs_core::public::{PROMPT_TEMPLATE_VERSIONS, PROMPT_TEMPLATES, authoring_template};
use serde_json::{Value, json};

use crate::auth::{Reader, Writer};
use crate::error::ApiError;
use crate::extract::{ApiJson, Segments};
use crate::jsonapi::{JsonApi, Query};
use crate::prompts as registry;
use crate::state::AppState;

const BASE: &str = "/api/v2/llm-obs/v1/prompts";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list_prompts).post(create_prompt))
        .route(
            &format!("{BASE}/{{prompt_id}}"),
            get(get_prompt).patch(update_prompt).delete(delete_prompt),
        )
        .route(&format!("{BASE}/{{prompt_id}}/versions"), get(list_versions).post(create_version))
        .route(
            &format!("{BASE}/{{prompt_id}}/versions/{{version}}"),
            get(get_version).patch(update_version),
        )
}

fn prompt(found: PromptRecord) -> Resource<PromptRecord> {
    Resource::new(found.prompt_id.clone(), PROMPT_TEMPLATES, found)
}

fn version(found: Version) -> Resource<Version> {
    Resource::new(found.id.clone(), PROMPT_TEMPLATE_VERSIONS, found)
}

fn template(value: Value) -> Result<Value, ApiError> {
    authoring_template(value).map_err(|err| ApiError::invalid(err.to_string()))
}

/// The org's live prompts, newest first; `filter[prompt_id]` narrows to one.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/prompts", tag = "public",
    params(("filter[prompt_id]" = Option<String>, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Vec<Resource<PromptRecord>>>)))]
pub(crate) async fn list_prompts(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(query): RawQuery,
) -> Result<JsonApi<Document<Vec<Resource<PromptRecord>>>>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let found = state.store.list_prompts(&org, query.get("filter[prompt_id]")).await?;
    Ok(JsonApi(Document { data: found.into_iter().map(prompt).collect(), meta: None }))
}

/// Creates a prompt and its version 1.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/prompts", tag = "public", request_body = Request<CreatePromptRequest>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<PromptRecord>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 409, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn create_prompt(
    state: State<AppState>,
    writer: Writer,
    ApiJson(body): ApiJson<Request<CreatePromptRequest>>,
) -> Result<JsonApi<Document<Resource<PromptRecord>>>, ApiError> {
    let mut attributes = body.data.attributes;
    attributes.template = template(attributes.template)?;
    let created = registry::create_prompt(state, writer, ApiJson(attributes)).await?.0;
    Ok(JsonApi(Document::one(prompt(created))))
}

/// The newest version, or the one carrying `label`, as the SDKs read it.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/prompts/{prompt_id}", tag = "public",
    params(("prompt_id" = String, Path), ("label" = Option<String>, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<SdkPrompt>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn get_prompt(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments(prompt_id): Segments<String>,
    RawQuery(query): RawQuery,
) -> Result<JsonApi<Document<Resource<SdkPrompt>>>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let found = match query.get("label").filter(|l| !l.is_empty()) {
        Some(label) => state.store.prompt_by_label(&org, &prompt_id, label).await?,
        None => state.store.latest_prompt(&org, &prompt_id).await?,
    };
    let id = found.prompt_version_uuid.clone();
    Ok(JsonApi(Document::one(Resource::new(id, PROMPT_TEMPLATES, found))))
}

/// Changes the title and/or description.
#[utoipa::path(patch, path = "/api/v2/llm-obs/v1/prompts/{prompt_id}", tag = "public",
    params(("prompt_id" = String, Path)), request_body = Request<UpdatePromptRequest>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<PromptRecord>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn update_prompt(
    state: State<AppState>,
    writer: Writer,
    prompt_id: Segments<String>,
    ApiJson(body): ApiJson<Request<UpdatePromptRequest>>,
) -> Result<JsonApi<Document<Resource<PromptRecord>>>, ApiError> {
    let updated =
        registry::update_prompt(state, writer, prompt_id, ApiJson(body.data.attributes)).await?.0;
    Ok(JsonApi(Document::one(prompt(updated))))
}

/// Deletes the prompt and its versions.
#[utoipa::path(delete, path = "/api/v2/llm-obs/v1/prompts/{prompt_id}", tag = "public",
    params(("prompt_id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<Deleted>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn delete_prompt(
    state: State<AppState>,
    writer: Writer,
    prompt_id: Segments<String>,
) -> Result<JsonApi<Value>, ApiError> {
    let deleted = registry::delete_prompt(state, writer, prompt_id).await?.0;
    Ok(JsonApi(json!({"data": {
        "id": deleted.prompt_id,
        "type": PROMPT_TEMPLATES,
        "attributes": {"prompt_id": deleted.prompt_id, "deleted_at": deleted.deleted_at, "uuid": deleted.id},
    }})))
}

/// The versions, newest first, without templates; 404 for an unknown or deleted prompt.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/prompts/{prompt_id}/versions", tag = "public",
    params(("prompt_id" = String, Path)), responses((status = 200, content_type = "application/vnd.api+json", body = Document<Vec<Resource<Version>>>),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn list_versions(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments(prompt_id): Segments<String>,
) -> Result<JsonApi<Document<Vec<Resource<Version>>>>, ApiError> {
    let found = state.store.list_live_versions(&org, &prompt_id).await?;
    Ok(JsonApi(Document { data: found.into_iter().map(version).collect(), meta: None }))
}

/// Appends a version.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/prompts/{prompt_id}/versions", tag = "public",
    params(("prompt_id" = String, Path)), request_body = Request<CreateVersionRequest>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<Version>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn create_version(
    state: State<AppState>,
    writer: Writer,
    prompt_id: Segments<String>,
    ApiJson(body): ApiJson<Request<CreateVersionRequest>>,
) -> Result<JsonApi<Document<Resource<Version>>>, ApiError> {
    let mut attributes = body.data.attributes;
    attributes.template = template(attributes.template)?;
    let created = registry::create_version(state, writer, prompt_id, ApiJson(attributes)).await?.0;
    Ok(JsonApi(Document::one(version(created))))
}

/// One version, with its template.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/prompts/{prompt_id}/versions/{version}", tag = "public",
    params(("prompt_id" = String, Path), ("version" = i64, Path)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<Version>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn get_version(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments((prompt_id, number)): Segments<(String, String)>,
) -> Result<JsonApi<Document<Resource<Version>>>, ApiError> {
    let number = number.parse().map_err(|_| {
        ApiError::invalid(format!("version must be an integer version number, got '{number}'"))
    })?;
    let found = state.store.prompt_version(&org, &prompt_id, number).await?;
    Ok(JsonApi(Document::one(version(found))))
}

/// Changes a version's labels, description or environments.
#[utoipa::path(patch, path = "/api/v2/llm-obs/v1/prompts/{prompt_id}/versions/{version}", tag = "public",
    params(("prompt_id" = String, Path), ("version" = i64, Path)), request_body = Request<UpdateVersionRequest>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<Version>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn update_version(
    state: State<AppState>,
    writer: Writer,
    path: Segments<(String, String)>,
    ApiJson(body): ApiJson<Request<UpdateVersionRequest>>,
) -> Result<JsonApi<Document<Resource<Version>>>, ApiError> {
    let updated =
        registry::update_version(state, writer, path, ApiJson(body.data.attributes)).await?.0;
    Ok(JsonApi(Document::one(version(updated))))
}
