//! Extractors, and the reader of a multipart upload's file, that answer bad input with our
//! error body.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
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
        let bytes = body(request, state).await?;
        check_fields(&bytes, state.config.max_field_bytes)?;
        decode(&bytes).map(ApiJson)
    }
}

/// A JSON body read as `T`, which keeps some values as the JSON text received: when one
/// of them is not what the typed form [`Lenient::Strict`] takes, the answer is the error
/// the typed form gives, word for word.
#[derive(Debug)]
pub(crate) struct ApiJsonRaw<T>(pub T);

/// A body type that keeps some values as JSON text, and its typed form.
pub(crate) trait Lenient: DeserializeOwned {
    /// The same body with every value typed.
    type Strict: DeserializeOwned;
    /// Whether the typed form would refuse this body.
    fn refused(&self) -> bool;
}

impl<T: Lenient> FromRequest<AppState> for ApiJsonRaw<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = body(request, state).await?;
        check_fields(&bytes, state.config.max_field_bytes)?;
        let value: T = decode(&bytes)?;
        if value.refused() {
            decode::<T::Strict>(&bytes)?;
        }
        Ok(ApiJsonRaw(value))
    }
}

/// The request body; over the limit is a 413.
async fn body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "request body is over the limit of {} bytes",
                state.config.max_body_bytes
            ))
        } else if crate::guard::is_body_timeout(&rejection) {
            ApiError::RequestTimeout(format!(
                "the request body was not received within {} s (body_timeout)",
                state.config.body_timeout.as_secs_f64()
            ))
        } else {
            ApiError::invalid(format!("cannot read the request body: {rejection}"))
        }
    })
}

/// Refuses (413) a JSON body holding a string longer than `limit` bytes as sent (escapes
/// counted as sent), naming the limit and where the string starts.
fn check_fields(json: &[u8], limit: usize) -> Result<(), ApiError> {
    if json.len() <= limit {
        return Ok(());
    }
    let (mut start, mut escaped, mut inside) = (0, false, false);
    for (at, &byte) in json.iter().enumerate() {
        if !inside {
            if byte == b'"' {
                (inside, start) = (true, at + 1);
            }
        } else if escaped {
            escaped = false;
        } else if byte == b'\\' {
            escaped = true;
        } else if byte == b'"' {
            inside = false;
        }
        if inside && at + 1 - start > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "the JSON string starting at byte {start} is over the field limit of {limit} \
                 bytes (max_field_bytes)"
            )));
        }
    }
    Ok(())
}

/// A JSON body as `T`: malformed JSON or a wrong type is a 400 whose detail names the
/// field.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
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
    Ok(value)
}

/// The path parameters of a route, percent-decoded. A segment that does not decode to
/// UTF-8, or holds a NUL character (which no stored id has and PostgreSQL cannot compare),
/// is a 400.
#[derive(Debug)]
pub(crate) struct Segments<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.uri.path().contains("%00") {
            return Err(ApiError::invalid(
                "invalid path: a path segment must not contain the NUL character (%00)",
            ));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Segments(value))
            .map_err(|rejection| ApiError::invalid(format!("invalid path: {rejection}")))
    }
}

/// A multipart body; a request that is not one (no or a wrong `Content-Type`, no
/// boundary) is a 400 with a JSON error body, not axum's plain-text rejection.
pub(crate) struct Upload(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Multipart::from_request(request, state).await.map(Upload).map_err(|rejection| {
            ApiError::invalid(format!(
                "{}: send the file as multipart/form-data with a 'file' field",
                rejection.body_text()
            ))
        })
    }
}

/// The `file` field of a multipart upload (E6 and the public API's file upload), read
/// whole: 413 over `limit` bytes, 400 for a malformed body or a missing field.
pub(crate) async fn multipart_file(
    multipart: &mut Multipart,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let mut file = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|err| ApiError::invalid(format!("malformed multipart body: {err}")))?
    {
        if field.name() == Some("file") {
            let bytes = field.bytes().await.map_err(|err| {
                if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(format!("upload is over the limit of {limit} bytes"))
                } else {
                    ApiError::invalid(format!("cannot read the uploaded file: {err}"))
                }
            })?;
            file = Some(bytes);
        }
    }
    file.ok_or_else(|| ApiError::invalid("the multipart body has no 'file' field"))
}
