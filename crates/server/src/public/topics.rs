//! Topic discovery ("patterns") under Datadog's public paths: configs (upsert, list,
//! latest, delete), runs (trigger, list, status) and what a run found (topics, topics with
//! their clustered points, a topic's clustered points). Runs execute in the background
//! ([`crate::topics`]).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use llmobs_core::jsonapi::{Document, Request, Resource};
use llmobs_core::topics::{
    self as wire, ClusteredPoint, ConfigAttributes, ConfigList, ConfigUpsert, PointPage, PointRef,
    RunList, RunStatus, RunSummary, RunTopics, Topic, TopicWithPoints, Trigger, TriggerRequest,
};
use llmobs_store::{OrgId, StoredPoint, StoredTopic, TopicConfig, TopicRun};
use serde_json::Value;

use crate::auth::{Reader, Writer};
use crate::error::ApiError;
use crate::extract::{ApiJson, Segments};
use crate::jsonapi::{JsonApi, Query};
use crate::state::AppState;

const V1: &str = "/api/v2/llm-obs/v1";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{V1}/topic-discovery-configs"), get(list_configs).put(upsert_config))
        .route(&format!("{V1}/topic-discovery-configs/latest"), get(latest_config))
        .route(&format!("{V1}/topic-discovery-configs/{{config_id}}"), delete(delete_config))
        .route(&format!("{V1}/topic-discovery-runs"), get(list_runs).post(trigger_run))
        .route(&format!("{V1}/topic-discovery-runs/status"), get(run_status))
        .route(&format!("{V1}/topic-discovery-topics"), get(list_topics))
        .route(&format!("{V1}/topic-discovery-topics/with-cluster-points"), get(topics_with_points))
        .route(&format!("{V1}/topic-discovery-clustered-points"), get(clustered_points))
}

fn config_resource(config: TopicConfig) -> Resource<ConfigAttributes> {
    let attributes = ConfigAttributes::new(
        &config.name,
        &config.settings,
        &config.created_at,
        &config.updated_at,
    );
    Resource::new(config.id, wire::CONFIG, attributes)
}

/// A required query parameter.
fn required<'q>(query: &'q Query, key: &str) -> Result<&'q str, ApiError> {
    query
        .get(key)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid(format!("the query parameter {key} is required")))
}

/// Creates a config, or updates the one `config_id` names. A naming account must be one
/// configured on this server.
#[utoipa::path(put, path = "/api/v2/llm-obs/v1/topic-discovery-configs", tag = "public",
    request_body = Request<ConfigUpsert>,
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<ConfigAttributes>>),
        (status = 400, body = llmobs_core::error::ErrorBody), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn upsert_config(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<Request<ConfigUpsert>>,
) -> Result<JsonApi<Document<Resource<ConfigAttributes>>>, ApiError> {
    let upsert = body.data.attributes;
    upsert.check().map_err(|e| ApiError::invalid(e.to_string()))?;
    if let Some(id) = upsert.settings.account_id.as_deref().filter(|id| !id.is_empty())
        && state.integrations.get(id).is_none()
    {
        return Err(ApiError::bad_request(
            format!("account_id '{id}' is not a provider account of this server"),
            "configure it with `llmobs serve --integrations FILE`, or leave account_id out to \
             name topics from their distinctive terms",
        ));
    }
    let config = state
        .store
        .put_topic_config(
            &caller.org,
            upsert.config_id.as_deref(),
            upsert.name.trim(),
            &upsert.settings,
        )
        .await?;
    Ok(JsonApi(Document::one(config_resource(config))))
}

/// Every config of the org, the most recently changed first.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/topic-discovery-configs", tag = "public",
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<ConfigList>>)))]
pub(crate) async fn list_configs(
    State(state): State<AppState>,
    Reader(org): Reader,
) -> Result<JsonApi<Document<Resource<ConfigList>>>, ApiError> {
    let configs = state
        .store
        .topic_configs(&org)
        .await?
        .into_iter()
        .map(|config| {
            let resource = config_resource(config);
            ConfigAttributes { id: Some(resource.id), ..resource.attributes }
        })
        .collect();
    Ok(JsonApi(Document::one(Resource::new(org.0, wire::CONFIG_LIST, ConfigList { configs }))))
}

/// The org's most recently changed config; 404 when it has none.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/topic-discovery-configs/latest", tag = "public",
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<ConfigAttributes>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn latest_config(
    State(state): State<AppState>,
    Reader(org): Reader,
) -> Result<JsonApi<Document<Resource<ConfigAttributes>>>, ApiError> {
    let config = state.store.topic_configs(&org).await?.into_iter().next().ok_or_else(|| {
        ApiError::NotFound(
            "this org has no topic discovery config; create one with PUT \
             /api/v2/llm-obs/v1/topic-discovery-configs"
                .into(),
        )
    })?;
    Ok(JsonApi(Document::one(config_resource(config))))
}

/// Deletes a config with its runs and what they found. Answers 204.
#[utoipa::path(delete, path = "/api/v2/llm-obs/v1/topic-discovery-configs/{config_id}", tag = "public",
    params(("config_id" = String, Path)),
    responses((status = 204), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn delete_config(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(id): Segments<String>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_topic_config(&caller.org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts a run of a config in the background; 202 with its id. 409 while another run of
/// the config is in progress.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/topic-discovery-runs", tag = "public",
    request_body = Request<TriggerRequest>,
    responses((status = 202, content_type = "application/vnd.api+json", body = Document<Resource<Trigger>>), (status = 404, body = llmobs_core::error::ErrorBody),
        (status = 409, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn trigger_run(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<Request<TriggerRequest>>,
) -> Result<(StatusCode, JsonApi<Document<Resource<Trigger>>>), ApiError> {
    let config_id = body.data.attributes.config_id;
    let config = state.store.topic_config(&caller.org, &config_id).await?;
    let run = state.store.create_topic_run(&caller.org, &config_id).await?;
    let answer = Trigger {
        config_id: config_id.clone(),
        run_id: run.id.clone(),
        status: run.status.clone(),
    };
    crate::topics::start(state.clone(), caller.org, run, config.settings);
    Ok((StatusCode::ACCEPTED, JsonApi(Document::one(Resource::new(config_id, wire::RUN, answer)))))
}

fn summary(run: TopicRun) -> RunSummary {
    RunSummary {
        completed_at: run.completed_at,
        config_snapshot: run.snapshot,
        created_at: run.created_at,
        id: run.id,
        status: run.status,
    }
}

/// The completed runs of a config, newest first.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/topic-discovery-runs", tag = "public",
    params(("config_id" = String, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<RunList>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(raw): RawQuery,
) -> Result<JsonApi<Document<Resource<RunList>>>, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    let config_id = required(&query, "config_id")?;
    let runs = state.store.topic_runs(&org, config_id).await?;
    let runs = runs.into_iter().filter(|r| r.status == "completed").map(summary).collect();
    Ok(JsonApi(Document::one(Resource::new(config_id, wire::RUN_LIST, RunList { runs }))))
}

/// The status and progress of a config's latest run; 404 before its first run.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/topic-discovery-runs/status", tag = "public",
    params(("config_id" = String, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<RunStatus>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn run_status(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(raw): RawQuery,
) -> Result<JsonApi<Document<Resource<RunStatus>>>, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    let config_id = required(&query, "config_id")?;
    let run =
        state.store.topic_runs(&org, config_id).await?.into_iter().next().ok_or_else(|| {
            ApiError::NotFound(format!(
                "config '{config_id}' has no run yet; start one with POST {V1}/topic-discovery-runs"
            ))
        })?;
    let status = RunStatus {
        created_at: run.created_at,
        progress: run.progress,
        status: run.status,
        step: run.step,
    };
    Ok(JsonApi(Document::one(Resource::new(run.id, wire::RUN_STATUS, status))))
}

/// The run the topic routes read: `run_id` (one of the config's), else the config's
/// latest completed run; and the completed run before it (`""` when none).
async fn chosen_run(
    state: &AppState,
    org: &OrgId,
    query: &Query,
) -> Result<(String, TopicRun, String), ApiError> {
    let config_id = required(query, "config_id")?.to_owned();
    let runs = state.store.topic_runs(org, &config_id).await?;
    let completed: Vec<&TopicRun> = runs.iter().filter(|r| r.status == "completed").collect();
    let at = match query.get("run_id").filter(|v| !v.is_empty()) {
        Some(id) => runs
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| ApiError::NotFound(format!("config '{config_id}' has no run '{id}'")))?,
        None => {
            let latest = completed.first().ok_or_else(|| {
                ApiError::NotFound(format!(
                    "config '{config_id}' has no completed run yet; poll \
                     {V1}/topic-discovery-runs/status"
                ))
            })?;
            runs.iter().position(|r| r.id == latest.id).unwrap_or(0)
        }
    };
    let run = runs[at].clone();
    let previous = runs[at + 1..]
        .iter()
        .find(|r| r.status == "completed")
        .map(|r| r.id.clone())
        .unwrap_or_default();
    Ok((config_id, run, previous))
}

fn topic(stored: StoredTopic) -> Topic {
    Topic {
        created_at: stored.created_at,
        description: stored.description,
        first_seen_at: stored.first_seen_at,
        hierarchy_level: stored.level,
        id: stored.id,
        is_validated: false,
        name: stored.name,
        parent_topic_id: stored.parent_id,
        point_count: stored.point_count,
        run_id: stored.run_id,
    }
}

fn run_topics<T>(
    config_id: String,
    run: TopicRun,
    previous: String,
    topics: Vec<T>,
) -> RunTopics<T> {
    RunTopics {
        completed_at: run.completed_at,
        config_id,
        config_snapshot: run.snapshot,
        created_at: run.created_at,
        previous_run_id: previous,
        run_id: run.id,
        topics,
    }
}

/// The topics of a run (`run_id`, else the config's latest completed run).
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/topic-discovery-topics", tag = "public",
    params(("config_id" = String, Query), ("run_id" = Option<String>, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<RunTopics<Topic>>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn list_topics(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(raw): RawQuery,
) -> Result<JsonApi<Document<Resource<RunTopics<Topic>>>>, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    let (config_id, run, previous) = chosen_run(&state, &org, &query).await?;
    let topics = state.store.run_topics(&run.id).await?.into_iter().map(topic).collect();
    let id = run.id.clone();
    Ok(JsonApi(Document::one(Resource::new(
        id,
        wire::TOPICS,
        run_topics(config_id, run, previous, topics),
    ))))
}

/// A point as a leaf topic carries it; its metrics only when asked for.
fn point_ref(point: StoredPoint, metrics: bool) -> PointRef {
    let mut out = PointRef { span_id: point.span_id, ..PointRef::default() };
    if metrics {
        let number = |key: &str| point.metrics.get(key).and_then(Value::as_f64);
        out.duration = number("duration");
        out.estimated_total_cost = number("estimated_total_cost");
        out.input_tokens = number("input_tokens");
        out.output_tokens = number("output_tokens");
        out.total_tokens = number("total_tokens");
        out.status = point.metrics.get("status").and_then(Value::as_str).map(str::to_owned);
        out.evaluation = Some(serde_json::Map::new());
    }
    out
}

/// The topics of a run with up to 100 clustered points on each leaf topic
/// (`include_metrics=true` adds each point's duration, status, tokens and cost).
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/topic-discovery-topics/with-cluster-points", tag = "public",
    params(("config_id" = String, Query), ("run_id" = Option<String>, Query), ("include_metrics" = Option<bool>, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<RunTopics<TopicWithPoints>>>), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn topics_with_points(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(raw): RawQuery,
) -> Result<JsonApi<Document<Resource<RunTopics<TopicWithPoints>>>>, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    let metrics = match query.get("include_metrics") {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "include_metrics must be true or false, got '{other}'"
            )));
        }
    };
    let (config_id, run, previous) = chosen_run(&state, &org, &query).await?;
    let stored = state.store.run_topics(&run.id).await?;
    let mut points = state.store.run_points(&run.id, wire::INLINE_POINTS).await?;
    let parents: std::collections::HashSet<String> =
        stored.iter().map(|t| t.parent_id.clone()).collect();
    let topics = stored
        .into_iter()
        .map(|t| {
            let leaf = !parents.contains(&t.id);
            let cluster_points = leaf.then(|| {
                let (mine, rest): (Vec<StoredPoint>, Vec<StoredPoint>) =
                    std::mem::take(&mut points).into_iter().partition(|p| p.topic_id == t.id);
                points = rest;
                mine.into_iter().map(|p| point_ref(p, metrics)).collect()
            });
            TopicWithPoints { topic: topic(t), cluster_points }
        })
        .collect();
    let id = run.id.clone();
    Ok(JsonApi(Document::one(Resource::new(
        id,
        wire::TOPICS_WITH_POINTS,
        run_topics(config_id, run, previous, topics),
    ))))
}

/// A page of a topic's clustered points (a parent's are its leaves'), in run order:
/// `page_size` 1 to 1000 (100), `page_token` from the previous page.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/topic-discovery-clustered-points", tag = "public",
    params(("topic_id" = String, Query), ("page_size" = Option<i64>, Query), ("page_token" = Option<String>, Query)),
    responses((status = 200, content_type = "application/vnd.api+json", body = Document<Resource<PointPage>>), (status = 400, body = llmobs_core::error::ErrorBody),
        (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn clustered_points(
    State(state): State<AppState>,
    Reader(org): Reader,
    RawQuery(raw): RawQuery,
) -> Result<JsonApi<Document<Resource<PointPage>>>, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    let topic_id = required(&query, "topic_id")?.to_owned();
    let (default, max) = wire::POINTS_PAGE;
    let size = query.int("page_size", default, 1..=max)? as usize;
    let after = match query.get("page_token").filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => Some(token.parse::<i64>().map_err(|_| {
            ApiError::invalid(format!(
                "page_token '{token}' is not a token of this listing; pass next_page_token \
                 of the previous page unchanged"
            ))
        })?),
    };
    let (points, next) = state.store.topic_points(&org, &topic_id, after, size).await?;
    let points = points
        .into_iter()
        .map(|p| ClusteredPoint {
            event_id: p.trace_id,
            id: p.id,
            input: p.input,
            is_included: false,
            is_suggested: false,
            session_id: p.session_id,
            span_id: p.span_id,
            topic_id: p.topic_id,
        })
        .collect();
    let page = PointPage {
        next_page_token: next.map(|n| n.to_string()),
        points,
        topic_id: topic_id.clone(),
    };
    Ok(JsonApi(Document::one(Resource::new(topic_id, wire::POINTS, page))))
}
