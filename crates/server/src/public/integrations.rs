//! LLM provider integrations under Datadog's public paths: the accounts configured on this
//! server for an integration, the models an account offers, and inference through it.
//! Accounts are the server's ([`crate::integrations`]), the same for every org; their keys
//! are never part of an answer.

use std::time::Instant;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use llmobs_core::integrations::{self, Account, InferenceRequest, Model, inference_answer};
use serde_json::{Map, Value};

use crate::auth::{Reader, Writer};
use crate::error::ApiError;
use crate::extract::{ApiJson, Segments};
use crate::integrations::AccountSpec;
use crate::state::AppState;

const BASE: &str = "/api/v2/llm-obs/v1/integrations";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{BASE}/{{integration}}/accounts"), get(list_accounts))
        .route(&format!("{BASE}/{{integration}}/{{account_id}}/models"), get(list_models))
        .route(&format!("{BASE}/{{integration}}/{{account_id}}/inference"), post(inference))
}

/// A known integration name, or 400.
fn integration(name: &str) -> Result<(), ApiError> {
    integrations::wire_of(name).map(|_| ()).or_else(|err| match err {
        // A known integration without built-in support simply has no accounts.
        integrations::IntegrationError::Unsupported(_) => Ok(()),
        unknown => Err(ApiError::invalid(unknown.to_string())),
    })
}

/// The account `id` of `name`, or 404.
fn account<'a>(state: &'a AppState, name: &str, id: &str) -> Result<&'a AccountSpec, ApiError> {
    integration(name)?;
    state.integrations.accounts(name).into_iter().find(|a| a.id == id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no {name} account '{id}' is configured on this server; list them with \
             GET {BASE}/{name}/accounts"
        ))
    })
}

/// The accounts configured for an integration (a JSON array; empty when none).
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/integrations/{integration}/accounts", tag = "public",
    params(("integration" = String, Path)),
    responses((status = 200, body = Vec<Account>), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    Reader(_): Reader,
    Segments(name): Segments<String>,
) -> Result<Json<Vec<Account>>, ApiError> {
    integration(&name)?;
    Ok(Json(state.integrations.accounts(&name).into_iter().map(AccountSpec::public).collect()))
}

/// The models an account offers: its fixed list, else the provider's model list. A
/// provider that cannot be reached is a 502 naming the account.
#[utoipa::path(get, path = "/api/v2/llm-obs/v1/integrations/{integration}/{account_id}/models", tag = "public",
    params(("integration" = String, Path), ("account_id" = String, Path)),
    responses((status = 200, body = Vec<Model>), (status = 404, body = llmobs_core::error::ErrorBody),
        (status = 502, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn list_models(
    State(state): State<AppState>,
    Reader(_): Reader,
    Segments((name, id)): Segments<(String, String)>,
) -> Result<Json<Vec<Model>>, ApiError> {
    let account = account(&state, &name, &id)?;
    let models = state.integrations.models(account).await.map_err(|err| {
        ApiError::BadGateway(format!("cannot list the models of account '{id}': {err}"))
    })?;
    Ok(Json(models))
}

/// Runs a chat completion through an account. The answer echoes the request with
/// `response`; when the provider fails, `error_response` says how and `response` is empty.
#[utoipa::path(post, path = "/api/v2/llm-obs/v1/integrations/{integration}/{account_id}/inference", tag = "public",
    params(("integration" = String, Path), ("account_id" = String, Path)),
    request_body = InferenceRequest,
    responses((status = 200, description = "LLMObsIntegrationInferenceResponse"),
        (status = 400, body = llmobs_core::error::ErrorBody), (status = 404, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn inference(
    State(state): State<AppState>,
    Writer(_): Writer,
    Segments((name, id)): Segments<(String, String)>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let account = account(&state, &name, &id)?;
    let request: InferenceRequest = serde_json::from_value(Value::Object(body.clone()))
        .map_err(|err| ApiError::invalid(format!("invalid inference request: {err}")))?;
    request.check().map_err(|err| ApiError::invalid(err.to_string()))?;
    let started = Instant::now();
    let outcome = state.integrations.complete(account, &request).await;
    let latency = started.elapsed().as_millis() as i64;
    let answer = match &outcome {
        Ok(completion) => inference_answer(body, Ok(completion), latency),
        Err(err) => {
            tracing::warn!(account = %id, "inference failed: {err}");
            inference_answer(body, Err((err.kind(), &err.to_string())), latency)
        }
    };
    Ok(Json(answer))
}
