//! The error body of every non-2xx answer, and [`RequestError`]: why a query-plane
//! request (span search, experimentation search and analytics) cannot run.

use serde::{Deserialize, Serialize};

/// The JSON body the server sends with every error status.
///
/// ddtrace reads the top-level `detail`; Datadog's own API answers with `errors`. The
/// server sends both so either kind of client finds the message.
///
/// ```json
/// {"detail":"prompt template not found",
///  "errors":[{"title":"Not Found","detail":"prompt template not found"}]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The human-readable reason, exactly as the spec words it where it names one.
    pub detail: String,
    /// Datadog-style error list; the first item repeats `detail`, possibly with a hint.
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

/// One entry of [`ErrorBody::errors`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorItem {
    /// A short class of the error, such as `Bad Request`.
    pub title: String,
    /// What went wrong and, where it helps, what to do about it.
    pub detail: String,
}

impl ErrorBody {
    /// An error body whose `errors` entry carries `hint` after the detail, when given.
    pub fn new(title: &str, detail: impl Into<String>, hint: Option<&str>) -> Self {
        let detail = detail.into();
        let long = match hint {
            Some(hint) => format!("{detail}: {hint}"),
            None => detail.clone(),
        };
        ErrorBody { detail, errors: vec![ErrorItem { title: title.to_owned(), detail: long }] }
    }
}

/// Why a request cannot run: the field at fault and what is wrong. The span search and
/// the experimentation search and analytics plans return it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    /// The request field, as the API names it (`filter[from]`,
    /// `data.attributes.filter.scope`, ...).
    pub field: String,
    /// What is wrong with it and what to send instead.
    pub message: String,
}

/// The [`RequestError`] of `field`, saying `message`.
pub(crate) fn refuse(field: &str, message: impl Into<String>) -> RequestError {
    RequestError { field: field.to_owned(), message: message.into() }
}
