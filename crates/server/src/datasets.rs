//! Projects and datasets (E1–E7 of the experiments spec).

use axum::Router;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use llmobs_core::datasets::{
    BatchUpdate, DATASET_VERSION, DATASETS, DatasetAttributes, DatasetRequest, DeleteDatasets,
    PROJECTS, Project, ProjectRequest, Record, UploadResult, parse_upload,
};
use llmobs_core::jsonapi::{Document, Request, Resource};
use llmobs_store::RecordQuery;

use crate::auth::{MaybeWriter, Reader, Writer};
use crate::error::ApiError;
use crate::extract::{ApiJson, Segments, Upload, multipart_file};
use crate::jsonapi::{FAMILIES, JsonApi, Query};
use crate::public::Flavor;
use crate::state::AppState;

/// The routes under both path families.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let upload_limit = DefaultBodyLimit::max(state.config.max_upload_bytes);
    let mut router = Router::new();
    for family in FAMILIES {
        router = router
            .route(&format!("{family}/projects"), post(create_project))
            .route(
                &format!("{family}/{{project_id}}/datasets"),
                post(create_dataset).get(find_datasets),
            )
            .route(
                &format!("{family}/{{project_id}}/datasets/{{dataset_id}}/records"),
                get(list_records),
            )
            .route(
                &format!("{family}/{{project_id}}/datasets/{{dataset_id}}/batch_update"),
                post(batch_update).layer(upload_limit),
            )
            .route(
                &format!("{family}/datasets/{{dataset_id}}/records/upload"),
                post(upload_records).layer(upload_limit),
            )
            .route(&format!("{family}/datasets/delete"), post(delete_datasets));
    }
    router
}

fn project(id: String, project: Project) -> Resource<Project> {
    Resource::new(id, PROJECTS, project)
}

fn dataset(id: String, dataset: DatasetAttributes) -> Resource<DatasetAttributes> {
    Resource::new(id, DATASETS, dataset)
}

fn record<J>((id, record): (String, Record<J>)) -> Resource<Record<J>> {
    Resource::new(id, DATASETS, record)
}

/// E1: returns the project with this name, creating it if needed. Finding an existing
/// project needs only the API key; creating one needs the application key too.
#[utoipa::path(post, path = "/api/unstable/llm-obs/v1/projects", tag = "datasets", request_body = Request<ProjectRequest>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<Project>>), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn create_project(
    State(state): State<AppState>,
    Reader(org): Reader,
    MaybeWriter(writer): MaybeWriter,
    ApiJson(body): ApiJson<Request<ProjectRequest>>,
) -> Result<JsonApi<Document<Resource<Project>>>, ApiError> {
    let attributes = body.data.attributes;
    if let Some((id, found)) = state.store.find_project(&org, &attributes.name).await? {
        return Ok(JsonApi(Document::one(project(id, found))));
    }
    let caller = writer?;
    let (id, found) = state
        .store
        .project_by_name(
            &caller.org,
            &caller.user,
            &attributes.name,
            attributes.description.as_deref(),
        )
        .await?;
    Ok(JsonApi(Document::one(project(id, found))))
}

/// E2: creates an empty dataset (version 0) in a project; a name the project already has
/// answers 200 with that dataset (see `docs/decisions.md`).
#[utoipa::path(post, path = "/api/unstable/llm-obs/v1/{project_id}/datasets", tag = "datasets", params(("project_id" = String, Path)),
    request_body = Request<DatasetRequest>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<DatasetAttributes>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn create_dataset(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(project_id): Segments<String>,
    ApiJson(body): ApiJson<Request<DatasetRequest>>,
) -> Result<JsonApi<Document<Resource<DatasetAttributes>>>, ApiError> {
    let attributes = body.data.attributes;
    let (id, created) = state
        .store
        .create_dataset(
            &caller.org,
            &caller.user,
            &project_id,
            &attributes.name,
            attributes.description.as_deref(),
            attributes.metadata.as_ref(),
        )
        .await?;
    Ok(JsonApi(Document::one(dataset(id, created))))
}

/// E3: the project's datasets, by exact name with `filter[name]` (and the public API's
/// `filter[id]` and paging).
#[utoipa::path(get, path = "/api/unstable/llm-obs/v1/{project_id}/datasets", tag = "datasets",
    params(("project_id" = String, Path), ("filter[name]" = Option<String>, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Vec<Resource<DatasetAttributes>>>)))]
pub(crate) async fn find_datasets(
    state: State<AppState>,
    org: Reader,
    project_id: Segments<String>,
    query: RawQuery,
) -> Result<JsonApi<Document<Vec<Resource<DatasetAttributes>>>>, ApiError> {
    crate::public::datasets::list_datasets(state, org, project_id, query).await
}

/// E4: a page of records of a version (`filter[version]`, latest by default), optionally
/// only those with any of the `filter[tags]`. `meta.after` is the next page's cursor.
#[utoipa::path(get, path = "/api/unstable/llm-obs/v1/{project_id}/datasets/{dataset_id}/records", tag = "datasets",
    params(("project_id" = String, Path), ("dataset_id" = String, Path), ("filter[version]" = Option<i64>, Query),
        ("filter[tags]" = Option<Vec<String>>, Query), ("page[cursor]" = Option<String>, Query), ("page[limit]" = Option<i64>, Query)),
    responses((status = 200, description = "JSON:API records; the official client (`Accept: application/json`) gets flat records",
        content((Document<Vec<Resource<Record>>> = "application/vnd.api+json"), (llmobs_core::public::RecordsPage = "application/json"))),
        (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn list_records(
    State(state): State<AppState>,
    Reader(org): Reader,
    flavor: Flavor,
    Segments((project_id, dataset_id)): Segments<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let version = query.int("filter[version]", 0, i64::MIN..=i64::MAX)?;
    let max = llmobs_core::datasets::MAX_RECORDS_PAGE as i64;
    let limit = query.int("page[limit]", state.config.records_page_size as i64, 1..=max)? as usize;
    let after = match query.get("page[cursor]").filter(|c| !c.is_empty()) {
        None => 0,
        Some(cursor) => cursor.parse::<i64>().map_err(|_| {
            ApiError::invalid(format!("invalid page[cursor] '{cursor}': pass back meta.after"))
        })?,
    };
    let query = RecordQuery {
        version: Some(version),
        tags: query.all("filter[tags]"),
        after,
        limit,
        text: None,
    };
    let (records, next) = state.store.records(&org, &project_id, &dataset_id, &query).await?;
    let next = next.map(|n| n.to_string());
    Ok(match flavor {
        Flavor::Official => crate::public::records::flat_page(records, next).into_response(),
        Flavor::Ddtrace => JsonApi(Document::page(
            records.into_iter().map(record).collect(),
            next.unwrap_or_default(),
        ))
        .into_response(),
    })
}

/// E5: inserts, updates and deletes records, all or nothing.
#[utoipa::path(post, path = "/api/unstable/llm-obs/v1/{project_id}/datasets/{dataset_id}/batch_update", tag = "datasets",
    params(("project_id" = String, Path), ("dataset_id" = String, Path)), request_body = Request<BatchUpdate>,
    responses((status = 200, description = "JSON:API records; the official client (`Accept: application/json`) gets `data[0].records`",
        content((Document<Vec<Resource<Record>>> = "application/vnd.api+json"), (llmobs_core::public::RecordsMutation = "application/json"))),
        (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn batch_update(
    State(state): State<AppState>,
    Writer(caller): Writer,
    flavor: Flavor,
    Segments((project_id, dataset_id)): Segments<(String, String)>,
    ApiJson(body): ApiJson<Request<BatchUpdate>>,
) -> Result<Response, ApiError> {
    let touched = state
        .store
        .batch_update(&caller.org, &caller.user, &project_id, &dataset_id, body.data.attributes)
        .await?;
    Ok(match flavor {
        Flavor::Official => crate::public::records::mutation(touched).into_response(),
        Flavor::Ddtrace => JsonApi(Document {
            data: touched.into_iter().map(record).collect::<Vec<_>>(),
            meta: None,
        })
        .into_response(),
    })
}

/// E6: replaces or inserts every record of a CSV file (`input,expected_output,metadata,id`,
/// the first three cells JSON) as one new version. A broken row stores nothing.
#[utoipa::path(post, path = "/api/unstable/llm-obs/v1/datasets/{dataset_id}/records/upload", tag = "datasets",
    params(("dataset_id" = String, Path), ("deduplicate" = Option<bool>, Query)),
    request_body(content_type = "multipart/form-data", description = "a `file` field: CSV with columns input,expected_output,metadata,id"),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<UploadResult>>), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn upload_records(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(dataset_id): Segments<String>,
    RawQuery(query): RawQuery,
    Upload(mut multipart): Upload,
) -> Result<JsonApi<Document<Resource<UploadResult>>>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let deduplicate = match query.get("deduplicate").map(str::to_ascii_lowercase).as_deref() {
        None | Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "deduplicate must be True or False, got '{other}'"
            )));
        }
    };
    let file = multipart_file(&mut multipart, state.config.max_upload_bytes).await?;
    let rows = parse_upload(&file).map_err(|err| ApiError::invalid(err.to_string()))?;
    let result = state
        .store
        .upload_records(&caller.org, &caller.user, &dataset_id, rows, deduplicate)
        .await?;
    let id = uuid_like(&result);
    Ok(JsonApi(Document::one(Resource::new(id, DATASET_VERSION, result))))
}

/// A stable id for an upload's version resource.
fn uuid_like(result: &UploadResult) -> String {
    format!("{}-v{}", result.dataset_id, result.version_number)
}

/// E7: soft-deletes datasets, all or nothing; an id that is not a live dataset of the
/// caller's org is 404, as an unknown id.
#[utoipa::path(post, path = "/api/unstable/llm-obs/v1/datasets/delete", tag = "datasets", request_body = Request<DeleteDatasets>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Vec<Resource<DatasetAttributes>>>),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn delete_datasets(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<Request<DeleteDatasets>>,
) -> Result<JsonApi<Document<Vec<Resource<DatasetAttributes>>>>, ApiError> {
    let attributes = body.data.attributes;
    if let Some(kind) = attributes.kind.as_deref().filter(|k| *k != "soft") {
        return Err(ApiError::invalid(format!(
            "only soft deletes are supported, got type '{kind}'"
        )));
    }
    let deleted = state.store.delete_datasets(&caller.org, &attributes.dataset_ids).await?;
    Ok(JsonApi(Document {
        data: deleted.into_iter().map(|(id, d)| dataset(id, d)).collect(),
        meta: None,
    }))
}
