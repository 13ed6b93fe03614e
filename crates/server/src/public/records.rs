//! Dataset records: create, update and delete, and the official client's encoders for
//! record pages and mutation answers (used by [`crate::datasets`] too).
//!
//! Each write is one batch update ([`llmobs_store::Store::batch_update`]), so it makes one
//! new version, all or nothing.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use llmobs_core::datasets::{BatchUpdate, InsertRecord, Record, UpdateRecord};
use llmobs_core::jsonapi::{Meta, Request};
use llmobs_core::public::{
    CreateRecords, DeleteRecords, FlatRecord, MutatedRecords, RecordsMutation, RecordsPage,
    UpdateRecords,
};
use llmobs_store::RawRecord;
use serde_json::Value;

use crate::auth::Writer;
use crate::error::ApiError;
use crate::extract::{ApiJson, Segments};
use crate::jsonapi::{FAMILIES, JsonApi};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new();
    for family in FAMILIES {
        let records = format!("{family}/{{project_id}}/datasets/{{dataset_id}}/records");
        router = router
            .route(&records, post(create_records).patch(update_records))
            .route(&format!("{records}/delete"), post(delete_records));
    }
    router
}

/// A page of records as the official client reads it.
pub(crate) fn flat_page(
    records: Vec<(String, RawRecord)>,
    next: Option<String>,
) -> JsonApi<RecordsPage<Box<serde_json::value::RawValue>>> {
    let data = records.into_iter().map(|(id, r)| FlatRecord::new(id, r)).collect();
    JsonApi(RecordsPage { data, meta: Meta { after: next.unwrap_or_default() } })
}

/// A mutation's answer as the official client reads it: `data[0].records`.
pub(crate) fn mutation(touched: Vec<(String, Record)>) -> JsonApi<RecordsMutation> {
    let records = touched.into_iter().map(|(id, r)| FlatRecord::new(id, r)).collect();
    JsonApi(RecordsMutation { data: vec![MutatedRecords { records }] })
}

fn batch() -> BatchUpdate {
    BatchUpdate {
        insert_records: Vec::new(),
        update_records: Vec::new(),
        delete_records: Vec::new(),
        deduplicate: true,
        create_new_version: true,
    }
}

async fn apply(
    state: &AppState,
    caller: &llmobs_store::Caller,
    (project_id, dataset_id): &(String, String),
    batch: BatchUpdate,
) -> Result<Vec<(String, Record)>, ApiError> {
    Ok(state.store.batch_update(&caller.org, &caller.user, project_id, dataset_id, batch).await?)
}

/// Appends records (ids made by the server) as a new version. With `deduplicate` (the
/// default), a record equal to a live one is skipped.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/{project_id}/datasets/{dataset_id}/records", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path)), request_body = Request<CreateRecords>,
    responses((status = 200, content_type = "application/vnd.api+json", body = RecordsMutation), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn create_records(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(path): Segments<(String, String)>,
    ApiJson(body): ApiJson<Request<CreateRecords>>,
) -> Result<JsonApi<RecordsMutation>, ApiError> {
    let create = body.data.attributes;
    let mut batch = batch();
    batch.deduplicate = create.deduplicate.unwrap_or(true);
    batch.insert_records = create
        .records
        .into_iter()
        .map(|r| InsertRecord {
            input: r.input,
            expected_output: r.expected_output,
            metadata: r.metadata.map(Value::Object),
            id: None,
            tags: r.tags,
        })
        .collect();
    Ok(mutation(apply(&state, &caller, &path, batch).await?))
}

/// Changes records as a new version; absent fields stay.
#[utoipa::path(patch, path = "/api/v2/llm-obs/v1/{project_id}/datasets/{dataset_id}/records", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path)), request_body = Request<UpdateRecords>,
    responses((status = 200, content_type = "application/vnd.api+json", body = RecordsMutation), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn update_records(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(path): Segments<(String, String)>,
    ApiJson(body): ApiJson<Request<UpdateRecords>>,
) -> Result<JsonApi<RecordsMutation>, ApiError> {
    let mut batch = batch();
    batch.update_records = body
        .data
        .attributes
        .records
        .into_iter()
        .map(|r| UpdateRecord {
            id: r.id,
            input: r.input,
            expected_output: r.expected_output,
            metadata: r.metadata.map(Value::Object),
            tag_operations: r.tags.map(|set| llmobs_core::datasets::TagOperations {
                set: Some(set),
                ..Default::default()
            }),
        })
        .collect();
    Ok(mutation(apply(&state, &caller, &path, batch).await?))
}

/// Deletes records as a new version. Answers 204.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/{project_id}/datasets/{dataset_id}/records/delete", tag = "public",
    params(("project_id" = String, Path), ("dataset_id" = String, Path)), request_body = Request<DeleteRecords>,
    responses((status = 204), (status = 400, body = llmobs_core::error::ErrorBody), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn delete_records(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(path): Segments<(String, String)>,
    ApiJson(body): ApiJson<Request<DeleteRecords>>,
) -> Result<StatusCode, ApiError> {
    let mut batch = batch();
    batch.delete_records = body.data.attributes.record_ids;
    apply(&state, &caller, &path, batch).await?;
    Ok(StatusCode::NO_CONTENT)
}
