//! Answers of the JSON:API routes (datasets, experiments): `application/vnd.api+json`,
//! and the query parameters they share.

use axum::Json;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// A JSON:API answer with status 200.
pub(crate) struct JsonApi<T>(pub T);

impl<T: Serialize> IntoResponse for JsonApi<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.0).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, "application/vnd.api+json".parse().expect("valid"));
        response
    }
}

/// The form-decoded pairs of a query string, in order (repeated keys kept).
pub(crate) struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses a raw query string.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        serde_urlencoded::from_str(raw.unwrap_or(""))
            .map(Query)
            .map_err(|err| ApiError::invalid(format!("invalid query string: {err}")))
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    /// `key` as an integer within `range`, or `default` when absent.
    pub(crate) fn int(
        &self,
        key: &str,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<i64, ApiError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(text) => match text.parse::<i64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(ApiError::invalid(format!(
                    "{key} must be an integer from {} to {}, got '{text}'",
                    range.start(),
                    range.end()
                ))),
            },
        }
    }
}

/// The routes' two path families: the client uses both, and has moved routes between
/// them across releases, so every route answers under each.
pub(crate) const FAMILIES: [&str; 2] = ["/api/unstable/llm-obs/v1", "/api/v2/llm-obs/v1"];
