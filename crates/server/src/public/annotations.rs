//! Annotation queues under `/annotation-queues`: queues (create, list, update, delete),
//! their label schema (get, put), interactions (add, delete), annotations (upsert, delete),
//! annotated interactions (a queue's, one with a page of its spans, and across queues by
//! content id), and `POST /annotation-queues/{queue_id}/export`, which writes a queue's
//! annotations to a dataset (ours; Datadog's API has no such route).
//!
//! Handlers parse, make one store call ([`llmobs_store::Store`]'s annotation methods, which
//! hold the rules) and wrap the answer in the client's JSON:API shapes.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use llmobs_core::annotations::{
    ANNOTATED_BY_TRACE, ANNOTATED_INTERACTIONS, ANNOTATIONS, AddInteractions, AddedInteractions,
    AnnotatedByContent, AnnotatedInteractionPage, AnnotatedInteractions, DeleteAnnotations,
    DeleteInteractions, DeletedAnnotations, EXPORTS, ExportOutcome, ExportRequest, INTERACTIONS,
    InteractionEvent, LabelSchemaAttributes, NewQueue, QUEUES, Queue, QueueUpdate,
    UpsertAnnotations, UpsertedAnnotations,
};
use llmobs_core::jsonapi::{Document, Request, Resource};
use llmobs_core::spans::SpanAttributes;

use crate::auth::{Reader, Writer};
use crate::error::ApiError;
use crate::extract::{ApiJson, Segments};
use crate::jsonapi::{FAMILIES, JsonApi, Query};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new();
    for family in FAMILIES {
        let queues = format!("{family}/annotation-queues");
        let queue = format!("{queues}/{{queue_id}}");
        router = router
            .route(&queues, get(list_queues).post(create_queue))
            .route(&queue, axum::routing::patch(update_queue).delete(delete_queue))
            .route(&format!("{queue}/label-schema"), get(label_schema).put(put_label_schema))
            .route(&format!("{queue}/interactions"), post(add_interactions))
            .route(&format!("{queue}/interactions/delete"), post(delete_interactions))
            .route(&format!("{queue}/annotations"), post(upsert_annotations))
            .route(&format!("{queue}/annotations/delete"), post(delete_annotations))
            .route(&format!("{queue}/annotated-interactions"), get(annotated_interactions))
            .route(
                &format!("{queue}/annotated-interactions/{{interaction_id}}"),
                get(annotated_interaction),
            )
            .route(&format!("{queue}/export"), post(export_queue))
            .route(&format!("{family}/annotated-interactions"), get(annotated_by_content));
    }
    router
}

type One<T> = JsonApi<Document<Resource<T>>>;

fn one<T>(id: impl Into<String>, kind: &str, attributes: T) -> One<T> {
    JsonApi(Document::one(Resource::new(id, kind, attributes)))
}

/// Every value of a repeated query parameter, each also split at commas.
fn listed(query: &Query, key: &str) -> Vec<String> {
    (query.all(key).iter())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Creates a queue in a project, with an optional label schema. Answers 201.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/annotation-queues", tag = "public",
    request_body = Request<NewQueue>,
    responses((status = 201, body = Document<Resource<Queue>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn create_queue(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<Request<NewQueue>>,
) -> Result<(StatusCode, One<Queue>), ApiError> {
    let (id, queue) =
        state.store.create_queue(&caller.org, &caller.user, body.data.attributes).await?;
    Ok((StatusCode::CREATED, one(id, QUEUES, queue)))
}

/// The org's queues, oldest first: all, one project's (`projectId`) or some by id
/// (`queueIds`, repeated or comma-separated).
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/annotation-queues", tag = "public",
    params(("projectId" = Option<String>, Query), ("queueIds" = Option<Vec<String>>, Query)),
    responses((status = 200, body = Document<Vec<Resource<Queue>>>), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn list_queues(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(query): RawQuery,
) -> Result<JsonApi<Document<Vec<Resource<Queue>>>>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let project = query.get("projectId").filter(|p| !p.is_empty());
    let found = state.store.list_queues(&org, project, &listed(&query, "queueIds")).await?;
    let data = found.into_iter().map(|(id, q)| Resource::new(id, QUEUES, q)).collect();
    Ok(JsonApi(Document { data, meta: None }))
}

/// Changes a queue's name, description, label schema or access settings.
#[utoipa::path(patch, path = "/api/v2/llm-obs/v1/annotation-queues/{queue_id}", tag = "public",
    params(("queue_id" = String, Path)), request_body = Request<QueueUpdate>,
    responses((status = 200, body = Document<Resource<Queue>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn update_queue(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(queue_id): Segments<String>,
    ApiJson(body): ApiJson<Request<QueueUpdate>>,
) -> Result<One<Queue>, ApiError> {
    let (id, queue) = state
        .store
        .update_queue(&caller.org, &caller.user, &queue_id, body.data.attributes)
        .await?;
    Ok(one(id, QUEUES, queue))
}

/// Deletes a queue with its interactions and annotations. Answers 204.
#[utoipa::path(delete, path = "/api/v2/llm-obs/v1/annotation-queues/{queue_id}", tag = "public",
    params(("queue_id" = String, Path)),
    responses((status = 204), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn delete_queue(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(queue_id): Segments<String>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_queue(&caller.org, &queue_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A queue's label schema (no labels when none was set).
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/annotation-queues/{queue_id}/label-schema", tag = "public",
    params(("queue_id" = String, Path)),
    responses((status = 200, body = Document<Resource<LabelSchemaAttributes>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn label_schema(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments(queue_id): Segments<String>,
) -> Result<One<LabelSchemaAttributes>, ApiError> {
    let (id, queue) = state.store.queue(&org, &queue_id).await?;
    let annotation_schema = queue.annotation_schema.unwrap_or_default();
    Ok(one(id, QUEUES, LabelSchemaAttributes { annotation_schema }))
}

/// Creates or replaces a queue's label schema; labels sent without an id get one.
#[utoipa::path(put, path = "/api/v2/llm-obs/v1/annotation-queues/{queue_id}/label-schema", tag = "public",
    params(("queue_id" = String, Path)), request_body = Request<LabelSchemaAttributes>,
    responses((status = 200, body = Document<Resource<LabelSchemaAttributes>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn put_label_schema(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(queue_id): Segments<String>,
    ApiJson(body): ApiJson<Request<LabelSchemaAttributes>>,
) -> Result<One<LabelSchemaAttributes>, ApiError> {
    let schema = body.data.attributes.annotation_schema;
    let annotation_schema =
        state.store.put_label_schema(&caller.org, &caller.user, &queue_id, schema).await?;
    Ok(one(queue_id, QUEUES, LabelSchemaAttributes { annotation_schema }))
}

/// Adds interactions (traces, experiment traces, sessions by id; display blocks by
/// content); one already in the queue is answered with `already_existed`.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/annotation-queues/{queue_id}/interactions", tag = "public",
    params(("queue_id" = String, Path)), request_body = Request<AddInteractions>,
    responses((status = 200, body = Document<Resource<AddedInteractions>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn add_interactions(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(queue_id): Segments<String>,
    ApiJson(body): ApiJson<Request<AddInteractions>>,
) -> Result<One<AddedInteractions>, ApiError> {
    let items = body.data.attributes.interactions;
    let interactions = state.store.add_interactions(&caller.org, &queue_id, &items).await?;
    Ok(one(queue_id, INTERACTIONS, AddedInteractions { interactions }))
}

/// Deletes interactions with their annotations, all or none. Answers 204.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/annotation-queues/{queue_id}/interactions/delete", tag = "public",
    params(("queue_id" = String, Path)), request_body = Request<DeleteInteractions>,
    responses((status = 204), (status = 400, body = llmobs_core::error::ErrorBody), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn delete_interactions(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(queue_id): Segments<String>,
    ApiJson(body): ApiJson<Request<DeleteInteractions>>,
) -> Result<StatusCode, ApiError> {
    let ids = body.data.attributes.interaction_ids;
    state.store.delete_interactions(&caller.org, &queue_id, &ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates or updates the caller's annotation on each interaction named; the labels sent
/// replace those labels' values, others stay. A bad value (400) or an unknown interaction
/// (404) writes nothing.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/annotation-queues/{queue_id}/annotations", tag = "public",
    params(("queue_id" = String, Path)), request_body = Request<UpsertAnnotations>,
    responses((status = 200, body = Document<Resource<UpsertedAnnotations>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn upsert_annotations(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(queue_id): Segments<String>,
    ApiJson(body): ApiJson<Request<UpsertAnnotations>>,
) -> Result<One<UpsertedAnnotations>, ApiError> {
    let items = body.data.attributes.annotations;
    let annotations =
        state.store.upsert_annotations(&caller.org, &caller.user, &queue_id, items).await?;
    Ok(one(queue_id, ANNOTATIONS, UpsertedAnnotations { annotations, errors: Vec::new() }))
}

/// Deletes annotations; ids not in the queue come back in `errors`.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/annotation-queues/{queue_id}/annotations/delete", tag = "public",
    params(("queue_id" = String, Path)), request_body = Request<DeleteAnnotations>,
    responses((status = 200, body = Document<Resource<DeletedAnnotations>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn delete_annotations(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(queue_id): Segments<String>,
    ApiJson(body): ApiJson<Request<DeleteAnnotations>>,
) -> Result<One<DeletedAnnotations>, ApiError> {
    let ids = body.data.attributes.annotation_ids;
    let outcome = state.store.delete_annotations(&caller.org, &queue_id, &ids).await?;
    Ok(one(queue_id, ANNOTATIONS, outcome))
}

/// A queue's interactions with their annotations, in the order they were added.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/annotation-queues/{queue_id}/annotated-interactions", tag = "public",
    params(("queue_id" = String, Path)),
    responses((status = 200, body = Document<Resource<AnnotatedInteractions>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn annotated_interactions(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments(queue_id): Segments<String>,
) -> Result<One<AnnotatedInteractions>, ApiError> {
    let annotated_interactions = state.store.annotated_interactions(&org, &queue_id).await?;
    Ok(one(queue_id, ANNOTATED_INTERACTIONS, AnnotatedInteractions { annotated_interactions }))
}

/// One interaction with its annotations and a page of its spans (`limit`, 1 to 1000,
/// default 10; `cursor` from `next_cursor`).
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/annotation-queues/{queue_id}/annotated-interactions/{interaction_id}", tag = "public",
    params(("queue_id" = String, Path), ("interaction_id" = String, Path),
        ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Document<Resource<AnnotatedInteractionPage>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn annotated_interaction(
    State(state): State<AppState>,
    Reader(org): Reader,
    Segments((queue_id, interaction_id)): Segments<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<One<AnnotatedInteractionPage>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let limit = query.int("limit", 10, 1..=1000)? as usize;
    let offset = match query.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(cursor) => cursor.parse::<usize>().map_err(|_| {
            ApiError::invalid(format!("invalid cursor '{cursor}': pass back next_cursor"))
        })?,
    };
    let annotated = state.store.annotated_interaction(&org, &queue_id, &interaction_id).await?;
    let (spans, more) =
        state.store.interaction_spans(&org, &annotated.interaction, offset, limit).await?;
    let events = (spans.iter())
        .map(|event| {
            let attributes = SpanAttributes::from_event(event);
            InteractionEvent { id: attributes.span_id.clone(), kind: "span".into(), attributes }
        })
        .collect::<Vec<_>>();
    let next_cursor = more.then(|| (offset + events.len()).to_string());
    let page = AnnotatedInteractionPage {
        interaction_type: annotated.interaction.kind,
        annotated_interaction: annotated,
        events,
        next_cursor,
    };
    Ok(one(interaction_id, ANNOTATED_INTERACTIONS, page))
}

/// Annotated interactions of every queue whose content id is one of `contentIds`
/// (repeated or comma-separated), `limit` (default 100) from `offset`.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/annotated-interactions", tag = "public",
    params(("contentIds" = Vec<String>, Query), ("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = Document<Resource<AnnotatedByContent>>), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn annotated_by_content(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(query): RawQuery,
) -> Result<One<AnnotatedByContent>, ApiError> {
    let query = Query::parse(query.as_deref())?;
    let offset = query.int("offset", 0, 0..=i64::from(i32::MAX))? as usize;
    let limit = query.int("limit", 100, 1..=i64::from(i32::MAX))? as usize;
    let ids = listed(&query, "contentIds");
    let found = state.store.annotated_by_content(&org, &ids, offset, limit).await?;
    Ok(one(ids.join(","), ANNOTATED_BY_TRACE, found))
}

/// Writes the queue's annotations to a dataset of its project: one record per annotation,
/// the interaction's input as input, the labels as expected output or metadata.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/annotation-queues/{queue_id}/export", tag = "public",
    params(("queue_id" = String, Path)), request_body = Request<ExportRequest>,
    responses((status = 200, body = Document<Resource<ExportOutcome>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn export_queue(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(queue_id): Segments<String>,
    ApiJson(body): ApiJson<Request<ExportRequest>>,
) -> Result<One<ExportOutcome>, ApiError> {
    let request = body.data.attributes;
    let outcome = state.store.export_queue(&caller.org, &caller.user, &queue_id, &request).await?;
    Ok(one(outcome.dataset_id.clone(), EXPORTS, outcome))
}
