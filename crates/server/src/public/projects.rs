//! Projects: list (filters, cursor paging), update, delete.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use llmobs_core::datasets::{PROJECTS, Project};
use llmobs_core::jsonapi::{Document, Request, Resource};
use llmobs_core::public::{DeleteProjects, MAX_PAGE, ProjectUpdate};
use llmobs_store::{ProjectFilter, encode_cursor};

use super::{meta, paging};
use crate::auth::{Reader, Writer};
use crate::error::ApiError;
use crate::extract::{ApiJson, Segments};
use crate::jsonapi::{FAMILIES, JsonApi, Query};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new();
    for family in FAMILIES {
        router = router
            .route(&format!("{family}/projects"), get(list_projects))
            .route(&format!("{family}/projects/{{project_id}}"), patch(update_project))
            .route(&format!("{family}/projects/delete"), post(delete_projects));
    }
    router
}

fn resource((id, project): (String, Project)) -> Resource<Project> {
    Resource::new(id, PROJECTS, project)
}

/// The org's projects, oldest first, by `filter[id]` and/or `filter[name]` (exact).
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/projects", tag = "public",
    params(("filter[id]" = Option<String>, Query), ("filter[name]" = Option<String>, Query),
        ("page[limit]" = Option<i64>, Query), ("page[cursor]" = Option<String>, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Vec<Resource<Project>>>), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn list_projects(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(query): RawQuery,
) -> Result<JsonApi<Document<Vec<Resource<Project>>>>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let (limit, cursor) = paging(&query, 100, MAX_PAGE)?;
    let filter = ProjectFilter {
        id: query.get("filter[id]").map(str::to_owned),
        name: query.get("filter[name]").map(str::to_owned),
    };
    let (found, next) = state.store.list_projects(&org, &filter, cursor.as_deref(), limit).await?;
    Ok(JsonApi(Document {
        data: found.into_iter().map(resource).collect(),
        meta: meta(next.as_ref().map(encode_cursor)),
    }))
}

/// Renames a project and/or changes its description.
#[utoipa::path(patch, path = "/api/v2/llm-obs/v1/projects/{project_id}", tag = "public",
    params(("project_id" = String, Path)), request_body = Request<ProjectUpdate>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<Project>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody), (status = 409, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn update_project(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(project_id): Segments<String>,
    ApiJson(body): ApiJson<Request<ProjectUpdate>>,
) -> Result<JsonApi<Document<Resource<Project>>>, ApiError> {
    let update = body.data.attributes;
    let updated = state
        .store
        .update_project(
            &caller.org,
            &project_id,
            update.name.as_deref(),
            update.description.as_deref(),
        )
        .await?;
    Ok(JsonApi(Document::one(resource(updated))))
}

/// Deletes projects with their datasets and experiments; all or nothing. Answers 204.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/projects/delete", tag = "public", request_body = Request<DeleteProjects>,
    responses((status = 204), (status = 400, body = llmobs_core::error::ErrorBody), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn delete_projects(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<Request<DeleteProjects>>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_projects(&caller.org, &body.data.attributes.project_ids).await?;
    Ok(StatusCode::NO_CONTENT)
}
