//! The spans query plane of Datadog's public API: `GET /api/v2/llm-obs/v1/spans/events`
//! (filters as query parameters) and `POST /api/v2/llm-obs/v1/spans/events/search` (the
//! same as a JSON body), over every span the intake and experiment events stored.

use axum::Router;
use axum::extract::{OriginalUri, RawQuery, State};
use axum::routing::{get, post};
use llmobs_core::spans::{
    FieldNames, SearchSpansAttributes, SearchSpansRequest, SpanAttributes, SpanData, SpanFilter,
    SpanPageQuery, SpanSearchOptions, SpansLinks, SpansMeta, SpansPage, SpansResponse, plan,
};

use crate::auth::Reader;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::jsonapi::{FAMILIES, JsonApi, Query};
use crate::state::AppState;

/// The routes under both path families.
pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new();
    for family in FAMILIES {
        router = router
            .route(&format!("{family}/spans/events"), get(list_spans))
            .route(&format!("{family}/spans/events/search"), post(search_spans));
    }
    router
}

/// Runs a search and shapes the page.
async fn run(
    state: &AppState,
    org: &llmobs_store::OrgId,
    attributes: &SearchSpansAttributes,
    names: &FieldNames,
) -> Result<(SpansResponse, Option<String>), ApiError> {
    let started = std::time::Instant::now();
    let search = plan(attributes, llmobs_store::now_ns(), names)
        .map_err(|err| ApiError::invalid(err.to_string()))?;
    let page = state.store.search_spans(org, &search).await?;
    let data = page
        .spans
        .into_iter()
        .map(|found| {
            let attributes = SpanAttributes::from_event(&found.event);
            SpanData { id: attributes.span_id.clone(), kind: "span".into(), attributes }
        })
        .collect();
    let response = SpansResponse {
        data,
        meta: SpansMeta {
            elapsed: started.elapsed().as_millis() as i64,
            page: SpansPage { after: page.after.clone() },
            request_id: uuid::Uuid::new_v4().to_string(),
            status: "done".into(),
        },
        links: None,
    };
    Ok((response, page.after))
}

/// Lists spans matching `filter[...]` query parameters, newest first by default.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/spans/events", tag = "spans",
    params(
        ("filter[from]" = Option<String>, Query, description = "start: RFC 3339, epoch ms or now-15m (default)"),
        ("filter[to]" = Option<String>, Query, description = "end; default now"),
        ("filter[query]" = Option<String>, Query, description = "Datadog search syntax; when given, the other field filters are ignored"),
        ("filter[span_id]" = Option<String>, Query),
        ("filter[trace_id]" = Option<String>, Query),
        ("filter[span_kind]" = Option<String>, Query),
        ("filter[span_name]" = Option<String>, Query),
        ("filter[ml_app]" = Option<String>, Query),
        ("page[limit]" = Option<i64>, Query, description = "1 to 1000, default 10"),
        ("page[cursor]" = Option<String>, Query, description = "meta.page.after of the previous page"),
        ("sort" = Option<String>, Query, description = "timestamp, -timestamp (default), duration, -duration"),
        ("include_attachments" = Option<bool>, Query),
    ),
    responses((status = 200, content_type = "application/vnd.api+json", body = SpansResponse), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn list_spans(
    State(state): State<AppState>,
    Reader(org): Reader,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> Result<JsonApi<SpansResponse>, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    let text = |key: &str| query.get(key).map(str::to_owned);
    let limit = match query.get("page[limit]").filter(|v| !v.is_empty()) {
        None => None,
        Some(value) => Some(value.parse::<i64>().map_err(|_| {
            ApiError::invalid(format!("page[limit]: '{value}' is not an integer from 1 to 1000"))
        })?),
    };
    let attributes = SearchSpansAttributes {
        filter: SpanFilter {
            from: text("filter[from]"),
            to: text("filter[to]"),
            query: text("filter[query]"),
            span_id: text("filter[span_id]"),
            trace_id: text("filter[trace_id]"),
            span_kind: text("filter[span_kind]"),
            span_name: text("filter[span_name]"),
            ml_app: text("filter[ml_app]"),
            tags: None,
        },
        options: SpanSearchOptions::default(),
        page: SpanPageQuery { cursor: text("page[cursor]"), limit },
        sort: text("sort"),
    };
    let (mut response, after) = run(&state, &org, &attributes, &FieldNames::QUERY).await?;
    if let Some(after) = after {
        let mut pairs: Vec<(String, String)> =
            query.0.into_iter().filter(|(k, _)| k != "page[cursor]").collect();
        pairs.push(("page[cursor]".into(), after));
        let next = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        response.links = Some(SpansLinks { next: format!("{}?{next}", uri.path()) });
    }
    Ok(JsonApi(response))
}

/// Searches spans with a JSON body: filter, sort, page and options.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/spans/events/search", tag = "spans",
    request_body = SearchSpansRequest,
    responses((status = 200, content_type = "application/vnd.api+json", body = SpansResponse), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn search_spans(
    State(state): State<AppState>,
    Reader(org): Reader,
    ApiJson(body): ApiJson<SearchSpansRequest>,
) -> Result<JsonApi<SpansResponse>, ApiError> {
    if let Some(kind) = body.data.kind.as_deref().filter(|k| *k != "spans") {
        return Err(ApiError::invalid(format!("data.type: must be 'spans', got '{kind}'")));
    }
    let (response, _) = run(&state, &org, &body.data.attributes, &FieldNames::BODY).await?;
    Ok(JsonApi(response))
}
