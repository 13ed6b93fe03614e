//! The llmobs HTTP server: Datadog's LLM Observability API, self-hosted.
//!
//! [`router`] builds the whole application from an [`AppState`] (a
//! [`Store`](llmobs_store::Store) plus a [`Config`]); [`serve`] runs it on a listener until
//! a shutdown future resolves, finishing requests in flight. The `llmobs serve` command
//! and the tests both go through these two functions.
//!
//! Routes (under an optional [`Config::base_path`]), one module per resource, each
//! with its own `router()`:
//! - `GET /healthz` (liveness) and `GET /readyz` (readiness: the database answers), no
//!   key needed, and `GET /openapi.json`, the OpenAPI description of every route.
//! - what ddtrace calls, under `/api/unstable/llm-obs/v1` and `/api/v2/llm-obs/v1`: the
//!   prompt registry (`prompts`, endpoints E1–E11 of `docs/spec/prompts.md`); projects and
//!   datasets (`datasets`, E1–E7 of `docs/spec/experiments.md`), experiments and their
//!   events (`experiments`, E8–E12), remote evaluators (`evaluators`, E13–E14: the kinds
//!   they run, and the LLM judge with the [`JudgeProvider`] it calls); the span and
//!   eval-metric intakes (`intake`, E15–E16, also under `/evp_proxy/v2`).
//! - the management routes of Datadog's public API that the official
//!   `datadog-api-client` calls (`public`, `docs/spec/public-api.md`), and its query
//!   plane: span list and search (`spans`), experimentation search, simple-search and
//!   analytics (`experimentation`).
//! - topic discovery (`public::topics`, runs in `topics`) and the LLM provider accounts
//!   it, inference and judges call (`integrations`).
//! - [`demo`]: the demo project `llmobs serve --demo` writes into an empty store.
//! - the web UI (`pages`, `docs/ui.md`): `/`, lists of experiments, datasets, prompts and
//!   traces, and `/llm/experiments/{id}` and `/llm/datasets/{id}`, the links clients print.
//!
//! Handlers stay thin: they extract the inputs (`auth` checks the keys, `extract` turns
//! bad bodies into our error), call one store or core function, and convert the result
//! into a wire type from `llmobs_core`; [`ApiError`] maps store errors to statuses.
//! Rules live below, in the store or in core. `docs/ARCHITECTURE.md` has the whole map.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use llmobs_server::{AppState, Config};
//! use llmobs_store::{Database, Store};
//!
//! let store = Store::open(&Database::Sqlite("llmobs.db".into())).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! llmobs_server::serve(listener, AppState::new(store, Config::default()), std::future::pending())
//!     .await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod auth;
mod datasets;
pub mod demo;
mod error;
mod evaluators;
mod experimentation;
mod experiments;
mod export;
mod extract;
mod guard;
mod intake;
mod integrations;
mod jsonapi;
mod log;
mod openapi;
mod pages;
mod prompts;
mod public;
mod read_cache;
mod spans;
mod state;
#[cfg(feature = "test-support")]
pub mod test_support;
mod topics;

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

pub use error::ApiError;
pub use evaluators::JudgeProvider;
pub use integrations::AccountSpec;
pub use state::{AppState, Config, ConfigError, EvaluatorSpec, Shared};

/// Builds the application: every route, under the configured base path, with the body
/// limits (size, read deadline, large requests in flight), JSON 404/405 answers and
/// per-request logging.
pub fn router(state: AppState) -> Router {
    let (base_path, max_body_bytes) = (state.config.base_path.clone(), state.config.max_body_bytes);
    let api = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/openapi.json", get(openapi::document))
        .merge(prompts::router())
        .merge(datasets::router(&state))
        .merge(experiments::router())
        .merge(evaluators::router())
        .merge(public::router(&state))
        .merge(intake::router(&state))
        .merge(pages::router())
        .merge(spans::router())
        .merge(experimentation::router())
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method);
    let app = match base_path.as_str() {
        "" => api,
        // Serve under the prefix and at the root, so a proxy may strip it or keep it.
        prefix => Router::new().nest(prefix, api.clone()).merge(api),
    };
    // One layer of both, as each `Router::layer` wraps every route once more.
    let request = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(state.clone(), log::request))
        .layer(DefaultBodyLimit::max(max_body_bytes));
    app.layer(request).with_state(state)
}

/// How long `/readyz` waits for the database.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: 200 `ready` when the database answers within [`READY_WITHIN`], else 503
/// naming the cause (a load balancer then sends traffic to the other servers).
async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<&'static str, ApiError> {
    match state.store.ping(READY_WITHIN).await {
        Ok(()) => Ok("ready"),
        Err(err) => Err(ApiError::Unavailable(format!(
            "not ready: the database does not answer ({err}); check that it is up and \
             reachable from this server"
        ))),
    }
}

/// Serves the application on `listener` until `shutdown` resolves, then finishes the
/// requests in flight and returns. The connection limits of [`Config`] apply here:
/// `max_connections`, `header_timeout` (also the idle keep-alive time) and, through the
/// router, `body_timeout` and `max_large_requests`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = state.config.clone();
    match state.store.fail_unfinished_topic_runs().await {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!("{n} topic discovery runs were cut short by a restart: marked failed")
        }
        Err(err) => tracing::warn!("cannot mark unfinished topic discovery runs failed: {err}"),
    }
    guard::serve_connections(listener, router(state), &config, shutdown).await
}
