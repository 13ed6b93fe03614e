//! The request middleware: the body limits of [`crate::guard`], then one log line per
//! request: method, path, status and latency. Never headers, so never a key. One layer
//! does both, as each layer costs a request some allocations.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::InternalDetail;
use crate::state::AppState;

/// Applies the body limits, and logs the request once it has been answered.
pub(crate) async fn request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // A `Uri` clone shares its bytes: no copy of the path.
    let uri = request.uri().clone();
    let path = uri.path();
    let response = crate::guard::limit_bodies(&state, request, next).await;
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    if let Some(InternalDetail(detail)) = response.extensions().get::<InternalDetail>() {
        tracing::error!(target: "llmobs::http", %method, path, status, micros, detail, "request failed");
    } else {
        tracing::info!(target: "llmobs::http", %method, path, status, micros, "request");
    }
    response
}
