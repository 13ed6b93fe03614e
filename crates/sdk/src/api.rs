//! Calls to the datasets and experiments API and to the span intake (E1–E15): keys,
//! per-call timeouts and the retry policy of spec §1.3.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::extract_detail;
use crate::{Client, Error, Result};

/// The path family of most experiments calls.
pub(crate) const UNSTABLE: &str = "/api/unstable/llm-obs/v1";
/// The path family of dataset reads and batch updates.
pub(crate) const V2: &str = "/api/v2/llm-obs/v1";
/// The span intake (E15).
pub(crate) const SPANS: &str = "/api/v2/llmobs";

/// JSON calls (spec §1.3).
pub(crate) const JSON_TIMEOUT: Duration = Duration::from_secs(10);
/// Record listings.
pub(crate) const LIST_TIMEOUT: Duration = Duration::from_secs(20);
/// Bulk uploads.
pub(crate) const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts of a retried call.
const ATTEMPTS: u32 = 3;
/// The base wait between attempts; attempt `i` waits a random time in `[0, BASE·1.618^i]`.
const BASE_WAIT: Duration = Duration::from_millis(730);
/// The longest `Retry-After` honoured.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// A request body.
pub(crate) enum Body {
    /// JSON bytes.
    Json(Vec<u8>),
    /// Anything else, with its content type; not retried (a stream is consumed).
    Other(reqwest::Body, String),
}

/// An HTTP answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The body as text (empty when it is not UTF-8).
    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }
}

/// The wait a `Retry-After` header asks for (seconds only; HTTP dates are ignored).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let seconds: f64 = text.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::from_secs_f64(seconds).min(MAX_RETRY_AFTER))
}

/// Whether a status is worth another attempt (spec §1.3).
fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// A random wait in `[0, base·1.618^attempt]`.
pub(crate) fn jitter(base: Duration, attempt: u32) -> Duration {
    let top = base.as_secs_f64() * 1.618_f64.powi(attempt as i32);
    Duration::from_secs_f64(top * fastrand::f64())
}

/// Serializes a request body.
pub(crate) fn json_body<T: Serialize>(value: &T) -> Result<Body> {
    serde_json::to_vec(value).map(Body::Json).map_err(|err| Error::InvalidRequest {
        detail: format!("cannot encode the request: {err}"),
    })
}

impl Client {
    /// One API call with keys (`DD-APPLICATION-KEY` is sent even when empty, as the
    /// reference client does); retried up to 3 attempts on a connection error, 408, 429
    /// or 5xx, waiting what `Retry-After` asks (429, 503) or a random backoff. After
    /// the last attempt the last answer is returned whatever its status.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
        timeout: Duration,
        intake: bool,
    ) -> Result<Answer> {
        let config = &self.inner.config;
        let route = config.route(path, intake);
        let api_key = match (route.keys, config.api_key.as_deref()) {
            (true, None) => {
                return Err(Error::Auth {
                    status: 0,
                    detail: "DD_API_KEY is required for datasets and experiments".into(),
                });
            }
            (true, key) => key,
            (false, _) => None,
        };
        let url = route.url;
        let (json, mut other) = match body {
            Some(Body::Json(bytes)) => (Some(bytes), None),
            Some(Body::Other(body, kind)) => (None, Some((body, kind))),
            None => (None, None),
        };
        let attempts = if other.is_some() { 1 } else { ATTEMPTS };
        let mut attempt = 0;
        loop {
            let mut request = self.inner.http.request(method.clone(), &url).timeout(timeout);
            if let Some(api_key) = api_key {
                request = request.header("DD-API-KEY", api_key);
                if !intake {
                    request = request
                        .header("DD-APPLICATION-KEY", config.app_key.as_deref().unwrap_or(""));
                }
            }
            if let Some(subdomain) = route.subdomain {
                request = request.header("X-Datadog-EVP-Subdomain", subdomain);
            }
            if route.needs_app_key {
                request = request.header("X-Datadog-NeedsAppKey", "true");
            }
            if let Some((body, kind)) = other.take() {
                request = request.header("Content-Type", kind).body(body);
            } else {
                request = request.header("Content-Type", "application/json");
                if let Some(bytes) = &json {
                    request = request.body(bytes.clone());
                }
            }
            attempt += 1;
            let last = attempt >= attempts;
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let wait =
                        retry_after(response.headers()).filter(|_| matches!(status, 429 | 503));
                    if !last && retryable(status) {
                        let wait = wait.unwrap_or_else(|| jitter(BASE_WAIT, attempt - 1));
                        tracing::debug!(status, ?wait, path, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    let bytes = response.bytes().await.map_err(Error::transport)?;
                    return Ok(Answer { status, body: bytes.to_vec() });
                }
                Err(err) if !last => {
                    tracing::debug!(error = %err, path, "retrying after a transport error");
                    tokio::time::sleep(jitter(BASE_WAIT, attempt - 1)).await;
                }
                Err(err) => return Err(Error::transport(err)),
            }
        }
    }

    /// A JSON call whose answer must have one of `ok` statuses; the body is parsed as
    /// `T` (an empty body reads as `{}`).
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
        timeout: Duration,
        ok: &[u16],
    ) -> Result<T> {
        let answer = self.send(method, path, body, timeout, false).await?;
        check(&answer, ok)?;
        let text = answer.text();
        let text = if text.trim().is_empty() { "{}" } else { text };
        serde_json::from_str(text).map_err(|err| Error::Server {
            status: answer.status,
            detail: format!("unexpected response body: {err}"),
        })
    }
}

/// Turns a status outside `ok` into the matching error.
pub(crate) fn check(answer: &Answer, ok: &[u16]) -> Result<()> {
    if ok.contains(&answer.status) {
        return Ok(());
    }
    Err(Error::from_status(answer.status, error_detail(answer.text())))
}

/// The `detail` of a JSON:API error body (`errors[0].detail`, else its title), or what
/// [`extract_detail`] finds.
pub(crate) fn error_detail(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body)
        && let Some(first) = value.get("errors").and_then(|e| e.get(0))
    {
        for key in ["detail", "title"] {
            if let Some(text) = first.get(key).and_then(|v| v.as_str()) {
                return text.to_owned();
            }
        }
    }
    extract_detail(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(RETRY_AFTER, "0.5".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(500)));
        headers.insert(RETRY_AFTER, "100000".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn jitter_stays_under_the_exponential_bound() {
        for attempt in 0..4 {
            let bound = BASE_WAIT.as_secs_f64() * 1.618_f64.powi(attempt as i32);
            assert!(jitter(BASE_WAIT, attempt).as_secs_f64() <= bound);
        }
    }

    #[test]
    fn json_api_error_details_are_found() {
        assert_eq!(error_detail(r#"{"errors":[{"title":"t","detail":"d"}]}"#), "d");
        assert_eq!(error_detail(r#"{"errors":[{"title":"t"}]}"#), "t");
        assert_eq!(error_detail("plain"), "plain");
    }
}
