//! Datasets: paged list, update, delete in a project, versions, restore, clone, export,
//! the draft lock, and the file upload on the v2 path.

use axum::Router;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post};
use llmobs_core::datasets::{
    DATASET_VERSION, DATASETS, DatasetAttributes, DeleteDatasets, UploadResult,
};
use llmobs_core::jsonapi::{Document, Request, Resource};
use llmobs_core::public::{
    CloneDataset, DRAFT_STATE, DatasetUpdate, DatasetVersion, DraftState, ExportFormat, MAX_PAGE,
    RestoreVersion, parse_file_upload,
};
use llmobs_store::{DatasetFilter, FileUpload, encode_cursor};

use super::{meta, paging};
use crate::auth::{Reader, Writer};
use crate::error::ApiError;
use crate::extract::{ApiJson, Segments, Upload, multipart_file};
use crate::jsonapi::{FAMILIES, JsonApi, Query};
use crate::state::AppState;

pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let upload_limit = DefaultBodyLimit::max(state.config.max_upload_bytes);
    let mut router = Router::new().route(
        "/api/v2/llm-obs/v2/{project_id}/datasets/{dataset_id}/records/upload",
        post(upload_file).layer(upload_limit),
    );
    for family in FAMILIES {
        let one = format!("{family}/{{project_id}}/datasets/{{dataset_id}}");
        router = router
            .route(&format!("{family}/{{project_id}}/datasets/delete"), post(delete_datasets))
            .route(&one, patch(update_dataset))
            .route(&format!("{one}/versions"), get(list_versions))
            .route(&format!("{one}/restore"), post(restore_version))
            .route(&format!("{one}/clone"), post(clone_dataset))
            .route(&format!("{one}/export"), get(export_dataset))
            .route(&format!("{one}/draft_state"), get(draft_state))
            .route(&format!("{one}/draft_state/lock"), patch(lock_draft))
            .route(&format!("{one}/draft_state/unlock"), patch(unlock_draft));
    }
    router
}

fn resource((id, dataset): (String, DatasetAttributes)) -> Resource<DatasetAttributes> {
    Resource::new(id, DATASETS, dataset)
}

/// The project's datasets, oldest first, by `filter[name]` (exact) and/or `filter[id]`.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/{project_id}/datasets", tag = "public",
    params(("project_id" = String, Path), ("filter[name]" = Option<String>, Query), ("filter[id]" = Option<String>, Query),
        ("page[limit]" = Option<i64>, Query), ("page[cursor]" = Option<String>, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Vec<Resource<DatasetAttributes>>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn list_datasets(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments(project_id): Segments<String>,
    RawQuery(query): RawQuery,
) -> Result<JsonApi<Document<Vec<Resource<DatasetAttributes>>>>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let (limit, cursor) = paging(&query, MAX_PAGE, MAX_PAGE)?;
    let filter = DatasetFilter {
        name: query.get("filter[name]").map(str::to_owned),
        id: query.get("filter[id]").map(str::to_owned),
    };
    let (found, next) = state
        .store
        .list_datasets(&org, Some(&project_id), &filter, cursor.as_deref(), limit)
        .await?;
    Ok(JsonApi(Document {
        data: found.into_iter().map(resource).collect(),
        meta: meta(next.as_ref().map(encode_cursor)),
    }))
}

/// Changes a dataset's name, description and/or metadata.
#[utoipa::path(patch, path = "/api/v2/llm-obs/v1/{project_id}/datasets/{dataset_id}", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path)), request_body = Request<DatasetUpdate>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<DatasetAttributes>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody), (status = 409, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn update_dataset(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments((project_id, dataset_id)): Segments<(String, String)>,
    ApiJson(body): ApiJson<Request<DatasetUpdate>>,
) -> Result<JsonApi<Document<Resource<DatasetAttributes>>>, ApiError> {
    let updated = state
        .store
        .update_dataset(&caller.org, &project_id, &dataset_id, body.data.attributes)
        .await?;
    Ok(JsonApi(Document::one(resource(updated))))
}

/// Deletes datasets of the project; all or nothing. Answers 204.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/{project_id}/datasets/delete", tag = "public",
    params(("project_id" = String, Path)), request_body = Request<DeleteDatasets>,
    responses((status = 204), (status = 400, body = llmobs_core::error::ErrorBody), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn delete_datasets(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(project_id): Segments<String>,
    ApiJson(body): ApiJson<Request<DeleteDatasets>>,
) -> Result<StatusCode, ApiError> {
    let ids = body.data.attributes.dataset_ids;
    state.store.delete_project_datasets(&caller.org, &project_id, &ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The dataset's versions, newest first.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/{project_id}/datasets/{dataset_id}/versions", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Vec<Resource<DatasetVersion>>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn list_versions(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments((project_id, dataset_id)): Segments<(String, String)>,
) -> Result<JsonApi<Document<Vec<Resource<DatasetVersion>>>>, ApiError> {
    let versions = state.store.dataset_versions(&org, &project_id, &dataset_id).await?;
    let data = versions
        .into_iter()
        .map(|v| {
            Resource::new(format!("{}-v{}", v.dataset_id, v.version_number), DATASET_VERSION, v)
        })
        .collect();
    Ok(JsonApi(Document { data, meta: None }))
}

/// Makes a version's records the current ones again, as a new version. Answers the
/// dataset.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/{project_id}/datasets/{dataset_id}/restore", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path)), request_body = Request<RestoreVersion>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<DatasetAttributes>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn restore_version(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments((project_id, dataset_id)): Segments<(String, String)>,
    ApiJson(body): ApiJson<Request<RestoreVersion>>,
) -> Result<JsonApi<Document<Resource<DatasetAttributes>>>, ApiError> {
    let version = body.data.attributes.dataset_version;
    let restored = state
        .store
        .restore_dataset_version(&caller.org, &caller.user, &project_id, &dataset_id, version)
        .await?;
    Ok(JsonApi(Document::one(resource(restored))))
}

/// Copies the dataset's current records into a new dataset of the project.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/{project_id}/datasets/{dataset_id}/clone", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path)), request_body = Request<CloneDataset>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<DatasetAttributes>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody), (status = 409, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn clone_dataset(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments((project_id, dataset_id)): Segments<(String, String)>,
    ApiJson(body): ApiJson<Request<CloneDataset>>,
) -> Result<JsonApi<Document<Resource<DatasetAttributes>>>, ApiError> {
    let clone = body.data.attributes;
    let made = state
        .store
        .clone_dataset(
            &caller.org,
            &caller.user,
            &project_id,
            &dataset_id,
            &clone.name,
            clone.description.as_deref(),
        )
        .await?;
    Ok(JsonApi(Document::one(resource(made))))
}

/// The records of a version (`version`, the current one by default) as CSV
/// (`id,input,expected_output,metadata,tags`, JSON cells) or JSON lines (`format=jsonl`).
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/{project_id}/datasets/{dataset_id}/export", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path), ("format" = Option<String>, Query),
        ("version" = Option<i64>, Query)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn export_dataset(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments((project_id, dataset_id)): Segments<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let format = ExportFormat::parse(query.get("format"))
        .map_err(|err| ApiError::invalid(err.to_string()))?;
    let version = match query.int("version", 0, 0..=i64::MAX)? {
        0 => state.store.dataset(&org, Some(&project_id), &dataset_id).await?.1.current_version,
        version => version,
    };
    let version = crate::export::Version { org, project_id, dataset_id, version };
    crate::export::stream(state, version, format).await
}

fn draft(dataset_id: String, found: DraftState) -> JsonApi<Document<Resource<DraftState>>> {
    JsonApi(Document::one(Resource::new(dataset_id, DRAFT_STATE, found)))
}

/// Who holds the dataset's draft lock; 404 when nobody does.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/{project_id}/datasets/{dataset_id}/draft_state", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<DraftState>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn draft_state(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments((project_id, dataset_id)): Segments<(String, String)>,
) -> Result<JsonApi<Document<Resource<DraftState>>>, ApiError> {
    let found = state.store.draft_state(&org, &project_id, &dataset_id).await?;
    Ok(draft(dataset_id, found))
}

/// Takes the draft lock for the caller; 409 when another user holds it.
#[utoipa::path(patch, path = "/api/v2/llm-obs/v1/{project_id}/datasets/{dataset_id}/draft_state/lock", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<DraftState>>), (status = 404, body = llmobs_core::error::ErrorBody),
        (status = 409, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn lock_draft(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments((project_id, dataset_id)): Segments<(String, String)>,
) -> Result<JsonApi<Document<Resource<DraftState>>>, ApiError> {
    let found = state.store.lock_draft(&caller.org, &caller.user, &project_id, &dataset_id).await?;
    Ok(draft(dataset_id, found))
}

/// Releases the draft lock. Answers 204.
#[utoipa::path(patch, path = "/api/v2/llm-obs/v1/{project_id}/datasets/{dataset_id}/draft_state/unlock", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path)),
    responses((status = 204), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn unlock_draft(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments((project_id, dataset_id)): Segments<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.store.unlock_draft(&caller.org, &project_id, &dataset_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stores a CSV file (an `input` column; optional `id`, `expected_output`, `metadata`,
/// `tags`) as one new version of a dataset of the project. A broken row stores nothing.
#[utoipa::path(post, path = "/api/v2/llm-obs/v2/{project_id}/datasets/{dataset_id}/records/upload", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path), ("deduplicate" = Option<bool>, Query),
        ("overwrite" = Option<bool>, Query), ("tags" = Option<Vec<String>>, Query), ("include_user_data" = Option<bool>, Query)),
    request_body(content_type = "multipart/form-data", description = "a `file` field: CSV with an input column"),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<UploadResult>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody), (status = 413, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn upload_file(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments((project_id, dataset_id)): Segments<(String, String)>,
    RawQuery(query): RawQuery,
    Upload(mut multipart): Upload,
) -> Result<JsonApi<Document<Resource<UploadResult>>>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let options = FileUpload {
        deduplicate: flag(&query, "deduplicate", false)?,
        overwrite: flag(&query, "overwrite", true)?,
        tags: query.all("tags"),
    };
    flag(&query, "include_user_data", false)?;
    llmobs_core::datasets::validate_tags(&options.tags)
        .map_err(|err| ApiError::invalid(format!("tags: {err}")))?;
    let file = multipart_file(&mut multipart, state.config.max_upload_bytes).await?;
    let rows = parse_file_upload(&file).map_err(|err| ApiError::invalid(err.to_string()))?;
    let result = state
        .store
        .upload_file(&caller.org, &caller.user, &project_id, &dataset_id, rows, &options)
        .await?;
    let id = format!("{}-v{}", result.dataset_id, result.version_number);
    Ok(JsonApi(Document::one(Resource::new(id, DATASET_VERSION, result))))
}

/// A boolean query parameter (`true`/`false`, any case, or 1/0).
fn flag(query: &Query, key: &str, default: bool) -> Result<bool, ApiError> {
    match query.get(key).map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => Ok(default),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => {
            Err(ApiError::invalid(format!("{key} must be true or false, got '{other}'")))
        }
    }
}
