//! Extractors that answer bad input with our error body.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body. Malformed JSON or a wrong type is a 400 whose detail names the field;
/// a body over the limit is a 413. `Content-Type` is not required.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(format!(
                    "request body is over the limit of {} bytes",
                    state.config.max_body_bytes
                ))
            } else {
                ApiError::invalid(format!("cannot read the request body: {rejection}"))
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let detail = if inner.is_syntax() || inner.is_eof() {
                format!("malformed JSON body: {inner}")
            } else if path == "." {
                format!("invalid request body: {inner}")
            } else {
                format!("invalid request body: {path}: {inner}")
            };
            ApiError::invalid(detail)
        })?;
        de.end().map_err(|err| ApiError::invalid(format!("malformed JSON body: {err}")))?;
        Ok(ApiJson(value))
    }
}

/// The path parameters of a route, percent-decoded. A segment that does not decode to
/// UTF-8 is a 400.
#[derive(Debug)]
pub(crate) struct Segments<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Segments(value))
            .map_err(|rejection| ApiError::invalid(format!("invalid path: {rejection}")))
    }
}
