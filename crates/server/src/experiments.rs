//! Experiments and their events (E8–E12 of the experiments spec).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use llmobs_core::experiments::{
    CreateExperiment, EXPERIMENT_EVENTS, EXPERIMENTS, ExperimentEvents, ExperimentRecord,
    PostEvents, UpdateExperiment,
};
use llmobs_core::jsonapi::{Document, Request, Resource};
use llmobs_store::{ExperimentCursor, ExperimentFilter, RawEvents};
use serde_json::Value;

use crate::auth::{Reader, Writer};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiJsonRaw, Lenient, Segments};
use crate::jsonapi::{FAMILIES, JsonApi, Query};
use crate::public::Flavor;
use crate::state::AppState;

/// The routes under both path families.
pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new();
    for family in FAMILIES {
        router = router
            .route(&format!("{family}/experiments"), get(list_experiments).post(create_experiment))
            .route(&format!("{family}/experiments/events"), get(events_by_name))
            .route(&format!("{family}/experiments/{{experiment_id}}"), patch(update_experiment))
            .route(
                &format!("{family}/experiments/{{experiment_id}}/events"),
                get(get_events).post(post_events),
            );
    }
    router
}

fn resource((id, experiment): (String, ExperimentRecord)) -> Resource<ExperimentRecord> {
    Resource::new(id, EXPERIMENTS, experiment)
}

/// E8: creates an experiment; its run name is `<name>-<epoch ms>` unless `ensure_unique`
/// is false.
#[utoipa::path(post, path = "/api/unstable/llm-obs/v1/experiments", tag = "experiments", request_body = Request<CreateExperiment>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<ExperimentRecord>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn create_experiment(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<Request<CreateExperiment>>,
) -> Result<JsonApi<Document<Resource<ExperimentRecord>>>, ApiError> {
    let created =
        state.store.create_experiment(&caller.org, &caller.user, body.data.attributes).await?;
    Ok(JsonApi(Document::one(resource(created))))
}

/// E9: sets the status and/or error (and, for the public API, the name, description,
/// metadata and dataset).
#[utoipa::path(patch, path = "/api/unstable/llm-obs/v1/experiments/{experiment_id}", tag = "experiments",
    params(("experiment_id" = String, Path)), request_body = Request<UpdateExperiment>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<ExperimentRecord>>), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn update_experiment(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(id): Segments<String>,
    ApiJson(body): ApiJson<Request<UpdateExperiment>>,
) -> Result<JsonApi<Document<Resource<ExperimentRecord>>>, ApiError> {
    let updated = state.store.edit_experiment(&caller.org, &id, body.data.attributes).await?;
    Ok(JsonApi(Document::one(resource(updated))))
}

fn encode_cursor((at, id): &ExperimentCursor) -> String {
    format!("{at}~{id}")
}

fn decode_cursor(cursor: &str) -> Result<ExperimentCursor, ApiError> {
    cursor.split_once('~').map(|(at, id)| (at.to_owned(), id.to_owned())).ok_or_else(|| {
        ApiError::invalid(format!("invalid page[cursor] '{cursor}': pass back meta.after"))
    })
}

/// E10: experiments, newest first, with the client's filters.
#[utoipa::path(get, path = "/api/unstable/llm-obs/v1/experiments", tag = "experiments",
    params(("filter[id]" = Option<String>, Query), ("filter[experiment]" = Option<String>, Query),
        ("filter[project_id]" = Option<String>, Query), ("filter[dataset_id]" = Option<String>, Query),
        ("filter[parent_experiment_id]" = Option<Vec<String>>, Query), ("filter[metadata]" = Option<String>, Query),
        ("filter[name]" = Option<String>, Query), ("filter[is_deleted]" = Option<bool>, Query),
        ("page[limit]" = Option<i64>, Query), ("page[cursor]" = Option<String>, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Vec<Resource<ExperimentRecord>>>)))]
pub(crate) async fn list_experiments(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(query): RawQuery,
) -> Result<JsonApi<Document<Vec<Resource<ExperimentRecord>>>>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let limit = query.int("page[limit]", 100, 1..=5000)? as usize;
    let tags = match query.get("filter[metadata]").filter(|m| !m.is_empty()) {
        None => Vec::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => match map.get("tags") {
                None => Vec::new(),
                Some(Value::Array(tags)) if tags.iter().all(Value::is_string) => {
                    tags.iter().filter_map(Value::as_str).map(str::to_owned).collect()
                }
                Some(_) => {
                    return Err(ApiError::invalid(
                        "filter[metadata].tags must be a list of strings",
                    ));
                }
            },
            _ => {
                return Err(ApiError::invalid(
                    "filter[metadata] must be a JSON object such as {\"tags\":[\"k:v\"]}",
                ));
            }
        },
    };
    let deleted = match query.get("filter[is_deleted]").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "filter[is_deleted] must be true or false, got '{other}'"
            )));
        }
    };
    let filter = ExperimentFilter {
        id: query.get("filter[id]").map(str::to_owned),
        experiment: query.get("filter[experiment]").map(str::to_owned),
        project_id: query.get("filter[project_id]").map(str::to_owned),
        dataset_id: query.get("filter[dataset_id]").map(str::to_owned),
        parent_ids: query.all("filter[parent_experiment_id]"),
        tags,
        name: query.get("filter[name]").map(str::to_owned),
        deleted,
    };
    let after =
        query.get("page[cursor]").filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
    let (found, next) = state.store.list_experiments(&org, &filter, after, limit).await?;
    let next = next.as_ref().map(encode_cursor).unwrap_or_default();
    Ok(JsonApi(Document::page(found.into_iter().map(resource).collect(), next)))
}

/// E11: stores metrics (and replayed spans). Answers 202.
#[utoipa::path(post, path = "/api/unstable/llm-obs/v1/experiments/{experiment_id}/events", tag = "experiments",
    params(("experiment_id" = String, Path)), request_body = Request<PostEvents>,
    responses((status = 202), (status = 400, body = llmobs_core::error::ErrorBody), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn post_events(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(id): Segments<String>,
    ApiJsonRaw(body): ApiJsonRaw<Request<RawEvents>>,
) -> Result<impl IntoResponse, ApiError> {
    state.store.post_events(&caller.org, &id, body.data.attributes).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Metrics and spans stay the text received; one that is not an object gets the typed
/// form's error.
impl Lenient for Request<RawEvents> {
    type Strict = Request<PostEvents>;

    fn refused(&self) -> bool {
        let events = &self.data.attributes;
        events.metrics.iter().chain(&events.spans).any(|json| !json.get().starts_with('{'))
    }
}

fn events(id: String, events: ExperimentEvents) -> JsonApi<Document<Resource<ExperimentEvents>>> {
    JsonApi(Document::one(Resource::new(id, EXPERIMENT_EVENTS, events)))
}

/// E12: the spans with their metrics, and the summary metrics (for the official client,
/// which asks for `application/json`: a list of spans).
#[utoipa::path(get, path = "/api/unstable/llm-obs/v1/experiments/{experiment_id}/events", tag = "experiments",
    params(("experiment_id" = String, Path)),
    responses((status = 200, description = "the events document; the official client (`Accept: application/json`) gets a list of span resources",
        content((Document<Resource<ExperimentEvents>> = "application/vnd.api+json"), (Document<Vec<Resource<Object>>> = "application/json"))),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn get_events(
    State(state): State<AppState>,
    Reader(org): Reader,
    flavor: Flavor,
    Segments(id): Segments<String>,
) -> Result<Response, ApiError> {
    let found = state.store.experiment_events(&org, &id).await?;
    Ok(match flavor {
        Flavor::Official => crate::public::experiments::spans_list(found).into_response(),
        Flavor::Ddtrace => events(id, found).into_response(),
    })
}

/// E12, by name: the events of the newest experiment `filter[experiment_name]` in project
/// `filter[project_name]`.
#[utoipa::path(get, path = "/api/unstable/llm-obs/v1/experiments/events", tag = "experiments",
    params(("filter[project_name]" = String, Query), ("filter[experiment_name]" = String, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<ExperimentEvents>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn events_by_name(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(query): RawQuery,
) -> Result<JsonApi<Document<Resource<ExperimentEvents>>>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let required = |key: &str| {
        query
            .get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::invalid(format!("{key} is required")))
    };
    let id = state
        .store
        .latest_experiment_named(
            &org,
            required("filter[project_name]")?,
            required("filter[experiment_name]")?,
        )
        .await?;
    let found = state.store.experiment_events(&org, &id).await?;
    Ok(events(id, found))
}
