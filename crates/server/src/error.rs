//! `ApiError`: every failure a handler can answer with, and its status.

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use llmobs_core::error::ErrorBody;

/// A failed request. Each variant's status is the one the API documents.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or breaks a validation rule. `hint` says what to do.
    #[error("{detail}")]
    BadRequest {
        /// The exact text clients match on.
        detail: String,
        /// An explanation added to the `errors` entry.
        hint: Option<String>,
    },
    /// 401: a required key is missing.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a key is wrong or belongs to another org.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing, or no such route.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the write conflicts with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// 408: the request body did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// 413: the body is over the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 503: the server is busy with other requests; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// 502: a provider this server calls (an LLM account) failed.
    #[error("{0}")]
    BadGateway(String),
    /// 500: a fault of the server; the detail is logged, not returned.
    #[error("internal server error")]
    Internal(String),
}

/// The private detail of a 500, handed to the logging middleware.
#[derive(Debug, Clone)]
pub(crate) struct InternalDetail(pub String);

impl ApiError {
    /// A 400 with a hint.
    pub fn bad_request(detail: impl Into<String>, hint: impl Into<String>) -> Self {
        ApiError::BadRequest { detail: detail.into(), hint: Some(hint.into()) }
    }

    /// A 400 whose detail says it all.
    pub fn invalid(detail: impl Into<String>) -> Self {
        ApiError::BadRequest { detail: detail.into(), hint: None }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let body = match &self {
            ApiError::BadRequest { detail, hint } => ErrorBody::new(title, detail, hint.as_deref()),
            other => ErrorBody::new(title, other.to_string(), None),
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::Internal(detail) = self {
            response.extensions_mut().insert(InternalDetail(detail));
        }
        response
    }
}

impl From<llmobs_store::Error> for ApiError {
    fn from(err: llmobs_store::Error) -> Self {
        use llmobs_store::Error;
        match err {
            Error::NotFound(what) => ApiError::NotFound(what.to_string()),
            Error::Conflict(what) => ApiError::Conflict(what.to_owned()),
            Error::Invalid(detail) => ApiError::invalid(detail),
            Error::NoOrg => {
                ApiError::Unauthorized("API key required: send it in the DD-API-KEY header".into())
            }
            err @ (Error::Open(_) | Error::Database(_)) => ApiError::Internal(err.to_string()),
        }
    }
}

/// The answer for a path no route matches.
pub(crate) async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

/// The answer for a known path with a method it does not take.
pub(crate) async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {method}", uri.path()))
}
