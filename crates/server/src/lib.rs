//! The llmobs HTTP server: Datadog's LLM Observability API, self-hosted.
//!
//! [`router`] builds the whole application from an [`AppState`] (a
//! [`Store`](llmobs_store::Store) plus a [`Config`]); [`serve`] runs it on a listener until
//! a shutdown future resolves, finishing requests in flight. The `llmobs serve` command
//! and the tests both go through these two functions.
//!
//! Routes (under an optional [`Config::base_path`]):
//! - `GET /healthz`, no key needed.
//! - the prompt registry, `/api/unstable/llm-obs/v1/prompts…` (endpoints E1–E11 of the
//!   prompt spec).
//! - the management plane of Datadog's public API as the official `datadog-api-client`
//!   calls it: projects, datasets, records, experiments and their events, the public prompt
//!   registry (`/api/v2/llm-obs/v1/prompts…`) and custom evaluator configs
//!   (`/api/unstable/llm-obs/config/evaluators/custom…`), over the same store ddtrace writes.
//! - the query plane of Datadog's public API: spans list and search
//!   (`/api/v2/llm-obs/v1/spans/events…`), experimentation search, simple-search and
//!   analytics (`/api/v2/llm-obs/v1/experimentation/…`).
//! - `GET /openapi.json`, the OpenAPI description of every route.
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
mod error;
mod evaluators;
mod experimentation;
mod experiments;
mod extract;
mod intake;
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

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

pub use error::ApiError;
pub use evaluators::JudgeProvider;
pub use state::{AppState, Config, ConfigError, EvaluatorSpec, Shared};

/// Builds the application: every route, under the configured base path, with the body
/// limit, JSON 404/405 answers and per-request logging.
pub fn router(state: AppState) -> Router {
    let (base_path, max_body_bytes) = (state.config.base_path.clone(), state.config.max_body_bytes);
    let api = Router::new()
        .route("/healthz", get(|| async { "ok" }))
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
    app.layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(log::request))
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` resolves, then finishes the
/// requests in flight and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
