//! The prompt registry routes (E1–E11 of the prompt spec).
//!
//! Each handler parses its input, checks it against the rules in `llmobs_core::prompts`,
//! calls one store operation and returns the wire type.

use std::future::Future;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use llmobs_core::prompts::{
    self as wire, CreatePromptRequest, CreateVersionRequest, Deleted, INVALID_TEMPLATE,
    PromptRecord, ResolveRequest, SdkPrompt, Template, UpdatePromptRequest, UpdateVersionRequest,
    Version,
};
use llmobs_store::{NewPrompt, NewVersion, OrgId, VersionUpdate};
use serde::Serialize;
use serde_json::Value;

use crate::auth::{Reader, Writer};
use crate::error::ApiError;
use crate::extract::{ApiJson, Segments};
use crate::read_cache::Selector;
use crate::state::AppState;

/// The routes, relative to the base path.
pub(crate) fn router() -> Router<AppState> {
    let base = wire::PROMPTS_PATH;
    Router::new()
        .route(base, get(list_prompts).post(create_prompt))
        .route(
            &format!("{base}/{{prompt_id}}"),
            get(get_prompt).patch(update_prompt).delete(delete_prompt),
        )
        .route(&format!("{base}/{{prompt_id}}/resolve"), post(resolve_prompt))
        .route(&format!("{base}/{{prompt_id}}/versions"), get(list_versions).post(create_version))
        .route(
            &format!("{base}/{{prompt_id}}/versions/{{version}}"),
            get(get_version).patch(update_version),
        )
}

/// A JSON answer already serialised (from the read cache).
pub(crate) struct JsonBytes(Bytes);

impl IntoResponse for JsonBytes {
    fn into_response(self) -> Response {
        ([(CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

/// Answers a read from the read cache, or loads, serialises and caches it.
async fn cached_read<T: Serialize>(
    state: &AppState,
    org: &OrgId,
    prompt_id: &str,
    selector: Selector,
    load: impl Future<Output = Result<T, llmobs_store::Error>>,
) -> Result<JsonBytes, ApiError> {
    if let Some(bytes) = state.reads.get(&org.0, prompt_id, &selector) {
        return Ok(JsonBytes(bytes));
    }
    let stamp = state.reads.stamp();
    let found = load.await?;
    let bytes =
        Bytes::from(serde_json::to_vec(&found).map_err(|e| ApiError::Internal(e.to_string()))?);
    state.reads.put(stamp, &org.0, prompt_id, selector, bytes.clone());
    Ok(JsonBytes(bytes))
}

/// The query parameters of a raw query string, form-decoded (`+` is a space).
fn query_pairs(query: Option<String>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|err| ApiError::invalid(format!("invalid query string: {err}")))
}

fn template(value: &Value) -> Result<Template, ApiError> {
    Template::from_value(value)
        .map_err(|err| ApiError::bad_request(INVALID_TEMPLATE, err.to_string()))
}

fn labels(labels: Option<Vec<String>>, state: &AppState) -> Result<Option<Vec<String>>, ApiError> {
    labels
        .map(|labels| wire::normalize_labels(&labels, state.config.strict_labels))
        .transpose()
        .map_err(|err| ApiError::invalid(err.to_string()))
}

/// A `{version}` path segment: a 64-bit integer, or 400.
fn version_number(segment: &str) -> Result<i64, ApiError> {
    segment.parse().map_err(|_| {
        ApiError::invalid(format!("version must be an integer version number, got '{segment}'"))
    })
}

fn new_version(
    state: &AppState,
    template_value: &Value,
    description: Option<String>,
    user_version: Option<String>,
    label_list: Option<Vec<String>>,
    env_ids: Option<Vec<String>>,
    config: Option<serde_json::Map<String, Value>>,
) -> Result<NewVersion, ApiError> {
    Ok(NewVersion {
        template: template(template_value)?,
        description,
        user_version,
        labels: labels(label_list, state)?.unwrap_or_default(),
        env_ids: env_ids.unwrap_or_default(),
        config,
    })
}

/// E10: the org's live prompts, newest first. `filter[prompt_id]` narrows to one id.
#[utoipa::path(get, path = "/api/unstable/llm-obs/v1/prompts", tag = "prompts",
    params(("filter[prompt_id]" = Option<String>, Query, description = "only this prompt id")),
    responses((status = 200, body = Vec<PromptRecord>), (status = 401), (status = 403)))]
pub(crate) async fn list_prompts(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<PromptRecord>>, ApiError> {
    let pairs = query_pairs(query)?;
    let filter = pairs.iter().find(|(k, _)| k == "filter[prompt_id]").map(|(_, v)| v.as_str());
    Ok(Json(state.store.list_prompts(&org, filter).await?))
}

/// E5: creates a prompt and its version 1.
#[utoipa::path(post, path = "/api/unstable/llm-obs/v1/prompts", tag = "prompts",
    request_body = CreatePromptRequest,
    responses((status = 200, body = PromptRecord), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 409, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn create_prompt(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<CreatePromptRequest>,
) -> Result<Json<PromptRecord>, ApiError> {
    wire::validate_prompt_id(&body.prompt_id).map_err(|err| ApiError::invalid(err.to_string()))?;
    let first = new_version(
        &state,
        &body.template,
        None,
        body.user_version,
        body.labels,
        body.env_ids,
        body.config,
    )?;
    let new = NewPrompt {
        prompt_id: body.prompt_id,
        title: body.title,
        description: body.description,
        first,
    };
    let prompt_id = new.prompt_id.clone();
    let created = state.store.create_prompt(&caller.org, &caller.user, new).await?;
    state.reads.invalidate(&caller.org.0, &prompt_id);
    Ok(Json(created))
}

/// E1 and E2: the newest version, or the one carrying `label`.
#[utoipa::path(get, path = "/api/unstable/llm-obs/v1/prompts/{prompt_id}", tag = "prompts",
    params(("prompt_id" = String, Path, description = "percent-encoded prompt id"),
        ("label" = Option<String>, Query, description = "select the version with this label")),
    responses((status = 200, body = SdkPrompt), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn get_prompt(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments(prompt_id): Segments<String>,
    RawQuery(query): RawQuery,
) -> Result<JsonBytes, ApiError> {
    let pairs = query_pairs(query)?;
    let label =
        pairs.into_iter().find(|(k, _)| k == "label").map(|(_, v)| v).filter(|v| !v.is_empty());
    let store = &state.store;
    match label {
        Some(label) => {
            let load = store.prompt_by_label(&org, &prompt_id, &label);
            cached_read(&state, &org, &prompt_id, Selector::Label(label.clone()), load).await
        }
        None => {
            let load = store.latest_prompt(&org, &prompt_id);
            cached_read(&state, &org, &prompt_id, Selector::Latest, load).await
        }
    }
}

/// E7: changes the title and/or description.
#[utoipa::path(patch, path = "/api/unstable/llm-obs/v1/prompts/{prompt_id}", tag = "prompts",
    params(("prompt_id" = String, Path)), request_body = UpdatePromptRequest,
    responses((status = 200, body = PromptRecord), (status = 400), (status = 404)))]
pub(crate) async fn update_prompt(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(prompt_id): Segments<String>,
    ApiJson(body): ApiJson<UpdatePromptRequest>,
) -> Result<Json<PromptRecord>, ApiError> {
    let updated =
        state.store.update_prompt(&caller.org, &prompt_id, body.title, body.description).await?;
    state.reads.invalidate(&caller.org.0, &prompt_id);
    Ok(Json(updated))
}

/// E9: soft-deletes the prompt and its versions.
#[utoipa::path(delete, path = "/api/unstable/llm-obs/v1/prompts/{prompt_id}", tag = "prompts",
    params(("prompt_id" = String, Path)), responses((status = 200, body = Deleted), (status = 404)))]
pub(crate) async fn delete_prompt(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(prompt_id): Segments<String>,
) -> Result<Json<Deleted>, ApiError> {
    let deleted = state.store.delete_prompt(&caller.org, &prompt_id).await?;
    state.reads.invalidate(&caller.org.0, &prompt_id);
    Ok(Json(deleted))
}

/// E4: the version the prompt serves in an environment.
#[utoipa::path(post, path = "/api/unstable/llm-obs/v1/prompts/{prompt_id}/resolve", tag = "prompts",
    params(("prompt_id" = String, Path)), request_body = ResolveRequest,
    responses((status = 200, body = SdkPrompt), (status = 404)))]
pub(crate) async fn resolve_prompt(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(prompt_id): Segments<String>,
    ApiJson(body): ApiJson<ResolveRequest>,
) -> Result<Json<SdkPrompt>, ApiError> {
    let env = body.data.attributes.env;
    Ok(Json(state.store.resolve_prompt(&caller.org, &prompt_id, &env).await?))
}

/// E11: the versions, newest first, without templates; `[]` for an unknown prompt.
#[utoipa::path(get, path = "/api/unstable/llm-obs/v1/prompts/{prompt_id}/versions", tag = "prompts",
    params(("prompt_id" = String, Path)), responses((status = 200, body = Vec<Version>)))]
pub(crate) async fn list_versions(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments(prompt_id): Segments<String>,
) -> Result<Json<Vec<Version>>, ApiError> {
    Ok(Json(state.store.list_versions(&org, &prompt_id).await?))
}

/// E6: appends a version.
#[utoipa::path(post, path = "/api/unstable/llm-obs/v1/prompts/{prompt_id}/versions", tag = "prompts",
    params(("prompt_id" = String, Path)), request_body = CreateVersionRequest,
    responses((status = 200, body = Version), (status = 400), (status = 404)))]
pub(crate) async fn create_version(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(prompt_id): Segments<String>,
    ApiJson(body): ApiJson<CreateVersionRequest>,
) -> Result<Json<Version>, ApiError> {
    let new = new_version(
        &state,
        &body.template,
        body.description,
        body.user_version,
        body.labels,
        body.env_ids,
        body.config,
    )?;
    let created = state.store.create_version(&caller.org, &caller.user, &prompt_id, new).await?;
    state.reads.invalidate(&caller.org.0, &prompt_id);
    Ok(Json(created))
}

/// E3: one version, with its template.
#[utoipa::path(get, path = "/api/unstable/llm-obs/v1/prompts/{prompt_id}/versions/{version}",
    tag = "prompts", params(("prompt_id" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = Version), (status = 400), (status = 404)))]
pub(crate) async fn get_version(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments((prompt_id, version)): Segments<(String, String)>,
) -> Result<JsonBytes, ApiError> {
    let number = version_number(&version)?;
    let load = state.store.prompt_version(&org, &prompt_id, number);
    cached_read(&state, &org, &prompt_id, Selector::Version(number), load).await
}

/// E8: changes a version's labels, description or environments.
#[utoipa::path(patch, path = "/api/unstable/llm-obs/v1/prompts/{prompt_id}/versions/{version}",
    tag = "prompts", params(("prompt_id" = String, Path), ("version" = i64, Path)),
    request_body = UpdateVersionRequest,
    responses((status = 200, body = Version), (status = 400), (status = 404)))]
pub(crate) async fn update_version(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments((prompt_id, version)): Segments<(String, String)>,
    ApiJson(body): ApiJson<UpdateVersionRequest>,
) -> Result<Json<Version>, ApiError> {
    let number = version_number(&version)?;
    let update = VersionUpdate {
        labels: labels(body.labels, &state)?,
        description: body.description,
        env_ids: body.env_ids,
    };
    let updated = state.store.update_version(&caller.org, &prompt_id, number, update).await?;
    state.reads.invalidate(&caller.org.0, &prompt_id);
    Ok(Json(updated))
}
