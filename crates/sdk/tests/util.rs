//! Shared helpers: a client pointed at a stub, stub bodies and request counting.

use std::time::Duration;

use llmobs::{Client, ClientBuilder};
use serde_json::{Value, json};
use wiremock::MockServer;

pub const BASE: &str = "/api/unstable/llm-obs/v1/prompts";

/// A builder for a client of `origin` with keys, a private cache directory and a
/// short timeout.
pub fn builder(origin: &str, dir: &std::path::Path) -> ClientBuilder {
    Client::builder()
        .origin(origin)
        .api_key("api")
        .app_key("app")
        .cache_dir(dir)
        .timeout(Duration::from_secs(2))
}

/// An SdkPrompt body (E1/E2/E4) with a text template.
pub fn sdk(id: &str, version: &str, template: &str) -> Value {
    json!({
        "prompt_id": id,
        "prompt_uuid": "00000000-0000-0000-0000-000000000001",
        "prompt_version_uuid": format!("00000000-0000-0000-0000-00000000000{}", version.len()),
        "version": version,
        "template": template,
    })
}

/// How many requests the stub received for `path` (any method, any query).
pub async fn hits(stub: &MockServer, path: &str) -> usize {
    stub.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == path)
        .count()
}

/// Every request the stub received.
pub async fn all(stub: &MockServer) -> Vec<wiremock::Request> {
    stub.received_requests().await.unwrap_or_default()
}

/// Waits until `check` holds, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check().await
}
