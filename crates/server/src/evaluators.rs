//! Remote evaluators: inference (E13) and publishing a custom evaluator (E14). The kinds
//! they run are in [`kinds`], the LLM judge in [`judge`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use llmobs_core::experiments::{
    EVALUATOR_CONFIG, InferAnswer, InferError, InferRequest, PublishedEvaluator,
};
use llmobs_core::jsonapi::{Document, Request, Resource};
use serde_json::Value;

use crate::auth::Writer;
use crate::error::ApiError;
use crate::extract::{ApiJson, Segments};
use crate::jsonapi::FAMILIES;
use crate::state::AppState;

mod judge;
mod kinds;

pub use judge::JudgeProvider;
pub(crate) use kinds::Evaluator;

/// The routes under both path families (E14 also where Datadog's public API has it).
pub(crate) fn router() -> Router<AppState> {
    let mut router =
        Router::new().route("/api/unstable/llm-obs/config/evaluators/custom", put(publish));
    for family in FAMILIES {
        router = router
            .route(&format!("{family}/evaluators/{{eval_name}}/infer"), post(infer))
            .route(&format!("{family}/config/evaluators/custom"), put(publish));
    }
    router
}

/// A failed inference: `data.attributes` carries `status` and the structured `error`.
fn failure(status: StatusCode, error: InferError) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    (status, Json(InferAnswer::failed(title, error))).into_response()
}

/// E13: runs the evaluator named `eval_name` on the context.
#[utoipa::path(post, path = "/api/unstable/llm-obs/v1/evaluators/{eval_name}/infer", tag = "evaluators",
    params(("eval_name" = String, Path)), request_body = Request<InferRequest>,
    responses((status = 200, description = "`data.attributes` is an InferResult"), (status = 404, description = "evaluator_not_found")))]
pub(crate) async fn infer(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Segments(name): Segments<String>,
    ApiJson(body): ApiJson<Request<InferRequest>>,
) -> Result<Response, ApiError> {
    let stored = state.store.evaluator(&caller.org, &name).await?;
    let configured = state.config.evaluators.iter().find(|e| e.name == name);
    let evaluator = match (stored, configured) {
        (Some((kind, config)), _) => Evaluator::from_config(&kind, &config),
        (None, Some(spec)) => Evaluator::from_config(&spec.kind, &spec.settings),
        (None, None) => {
            return Ok(failure(
                StatusCode::NOT_FOUND,
                InferError::new(
                    "evaluator_not_found",
                    format!("no evaluator named {name}"),
                    "publish it with LLMObs.publish_evaluator, or configure it with \
                     `llmobs serve --evaluators FILE`",
                ),
            ));
        }
    };
    let evaluator = match evaluator {
        Ok(evaluator) => evaluator,
        Err(err) => {
            return Ok(failure(
                StatusCode::UNPROCESSABLE_ENTITY,
                InferError::new(
                    "invalid_evaluator",
                    err.to_string(),
                    "fix the evaluator's configuration",
                ),
            ));
        }
    };
    let context = body.data.attributes.context;
    match evaluator.evaluate(&context, &state.integrations).await {
        Ok(result) => Ok((StatusCode::OK, Json(InferAnswer::ok(result))).into_response()),
        Err(err) => Ok(failure(StatusCode::UNPROCESSABLE_ENTITY, err)),
    }
}

/// E14: stores an LLM judge (`evaluation.eval_name` with its applications), replacing one
/// of the same name. Answers exactly 200.
#[utoipa::path(put, path = "/api/unstable/llm-obs/v1/config/evaluators/custom", tag = "evaluators",
    request_body(content = Object, description = "`data.attributes.evaluation` with eval_name and applications"),
    responses((status = 200), (status = 400, body = llmobs_core::error::ErrorBody)))]
pub(crate) async fn publish(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<Request<Value>>,
) -> Result<Response, ApiError> {
    let evaluation = body.data.attributes.get("evaluation").cloned().unwrap_or(Value::Null);
    let name = evaluation.get("eval_name").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err(ApiError::invalid(
            "attributes.evaluation.eval_name must be a non-empty string",
        ));
    }
    Evaluator::from_config("llm_judge", &evaluation)
        .map_err(|err| ApiError::invalid(err.to_string()))?;
    state.store.put_evaluator(&caller.org, name, "llm_judge", &evaluation).await?;
    let id = name.to_owned();
    let published = PublishedEvaluator { evaluation };
    Ok((StatusCode::OK, Json(Document::one(Resource::new(id, EVALUATOR_CONFIG, published))))
        .into_response())
}
