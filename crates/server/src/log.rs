//! One log line per request: method, path, status and latency. Never headers, so never
//! a key.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::InternalDetail;

/// Logs the request once it has been answered.
pub(crate) async fn request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // A `Uri` clone shares its bytes: no copy of the path.
    let uri = request.uri().clone();
    let path = uri.path();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    if let Some(InternalDetail(detail)) = response.extensions().get::<InternalDetail>() {
        tracing::error!(target: "llmobs::http", %method, path, status, micros, detail, "request failed");
    } else {
        tracing::info!(target: "llmobs::http", %method, path, status, micros, "request");
    }
    response
}
