//! Experimentation search and analytics of Datadog's public API:
//! `POST /api/v2/llm-obs/v1/experimentation/search` (cursor paging, 206 while more
//! pages follow), `…/simple-search` (page numbers) and `…/analytics` (aggregations of
//! experiment evaluations grouped by fields).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use llmobs_core::experimentation::{
    AnalyticsAttributes, AnalyticsData, AnalyticsResponse, AnalyticsResult, EXPERIMENTATION,
    ExperimentationRequest, SearchAttributes, SearchResponse, SearchResults, cursor,
    plan_analytics, plan_search,
};
use serde_json::{Map, Value, json};

use crate::auth::Reader;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::jsonapi::{FAMILIES, JsonApi};
use crate::state::AppState;

/// The routes under both path families.
pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new();
    for family in FAMILIES {
        router = router
            .route(&format!("{family}/experimentation/search"), post(search))
            .route(&format!("{family}/experimentation/simple-search"), post(simple_search))
            .route(&format!("{family}/experimentation/analytics"), post(analytics));
    }
    router
}

fn results(found: &[llmobs_store::ScopeResults]) -> SearchResults {
    let attributes: Map<String, Value> = found
        .iter()
        .map(|scope| (scope.scope.to_owned(), Value::Array(scope.items.clone())))
        .collect();
    SearchResults { id: uuid::Uuid::new_v4().to_string(), kind: EXPERIMENTATION.into(), attributes }
}

/// Searches projects, datasets, records, experiments and runs; pages by cursor.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/experimentation/search", tag = "experimentation",
    request_body = ExperimentationRequest<SearchAttributes>,
    responses((status = 200, body = SearchResponse, description = "the last page"),
              (status = 206, body = SearchResponse, description = "more pages follow: meta.after"),
              (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn search(
    State(state): State<AppState>,
    Reader(org): Reader,
    ApiJson(body): ApiJson<ExperimentationRequest<SearchAttributes>>,
) -> Result<impl IntoResponse, ApiError> {
    let plan = plan_search(&body, false).map_err(|err| ApiError::invalid(err.to_string()))?;
    let found = state.store.search_entities(&org, &plan).await?;
    let more = found.iter().any(|scope| scope.total > plan.offset + plan.limit);
    let after = more.then(|| cursor(plan.offset + plan.limit));
    let status = if more { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let response = SearchResponse { data: results(&found), meta: json!({"after": after}) };
    Ok((status, JsonApi(response)))
}

/// Searches like `search`, paged by page number, with totals.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/experimentation/simple-search", tag = "experimentation",
    request_body = ExperimentationRequest<SearchAttributes>,
    responses((status = 200, content_type = "application/vnd.api+json", body = SearchResponse), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn simple_search(
    State(state): State<AppState>,
    Reader(org): Reader,
    ApiJson(body): ApiJson<ExperimentationRequest<SearchAttributes>>,
) -> Result<JsonApi<SearchResponse>, ApiError> {
    let plan = plan_search(&body, true).map_err(|err| ApiError::invalid(err.to_string()))?;
    let found = state.store.search_entities(&org, &plan).await?;
    let total: i64 = found.iter().map(|scope| scope.total).sum();
    let widest = found.iter().map(|scope| scope.total).max().unwrap_or(0);
    let pages = (widest + plan.limit - 1) / plan.limit;
    let meta = json!({"page": {"current": plan.offset / plan.limit + 1, "limit": plan.limit,
                               "total_count": total, "total_pages": pages}});
    Ok(JsonApi(SearchResponse { data: results(&found), meta }))
}

/// Aggregates experiment evaluations: counts and statistics, grouped by fields.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/experimentation/analytics", tag = "experimentation",
    request_body = ExperimentationRequest<AnalyticsAttributes>,
    responses((status = 200, content_type = "application/vnd.api+json", body = AnalyticsResponse), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn analytics(
    State(state): State<AppState>,
    Reader(org): Reader,
    ApiJson(body): ApiJson<ExperimentationRequest<AnalyticsAttributes>>,
) -> Result<JsonApi<AnalyticsResponse>, ApiError> {
    let plan = plan_analytics(&body).map_err(|err| ApiError::invalid(err.to_string()))?;
    let (hits, buckets) = state.store.aggregate_evaluations(&org, &plan).await?;
    let values: Vec<Value> =
        buckets.into_iter().map(|(by, metrics)| json!({"by": by, "metrics": metrics})).collect();
    Ok(JsonApi(AnalyticsResponse {
        data: AnalyticsData {
            id: uuid::Uuid::new_v4().to_string(),
            kind: EXPERIMENTATION.into(),
            attributes: AnalyticsResult { hit_count: hits, result: json!({"values": values}) },
        },
    }))
}
