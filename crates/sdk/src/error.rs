//! The SDK's one error type, [`Error`], and its coarse classification, [`ErrorKind`].

use llmobs_core::render::RenderError;

/// A boxed error that can cross threads: what [`Error::source`](std::error::Error::source)
/// chains through, with no third-party type in this crate's API.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in this crate: prompts, datasets, experiments and
/// evaluators alike.
///
/// Match on [`kind`](Self::kind) for the class of failure ([`ErrorKind::NotFound`],
/// [`ErrorKind::Auth`], [`ErrorKind::Timeout`], …); the variants carry the details. Every
/// variant that comes from the server carries the server's `detail` text (or the raw body
/// when there is none) and shows it in its message. A status of `0` means "decided on
/// this side, no HTTP answer". [`source`](std::error::Error::source) chains to the
/// underlying cause (a connection failure, a render error, a file error) when there is one.
///
/// ```
/// use llmobs::{Error, ErrorKind};
///
/// fn explain(err: &Error) -> &'static str {
///     match err.kind() {
///         ErrorKind::NotFound => "no such prompt, dataset or experiment",
///         ErrorKind::Auth => "check DD_API_KEY and DD_APP_KEY",
///         ErrorKind::Timeout | ErrorKind::Transport => "the server could not be reached",
///         _ => "something else",
///     }
/// }
/// # let _ = explain;
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401 or 403; or status 0 when a required key is not configured.
    #[error("authentication error ({status}): {detail}")]
    Auth {
        /// The HTTP status, or 0 when no request was made.
        status: u16,
        /// The server's detail, or what is missing.
        detail: String,
    },
    /// 400: the server refused the request's content.
    #[error("validation error ({status}): {detail}")]
    Validation {
        /// The HTTP status (400).
        status: u16,
        /// The server's detail.
        detail: String,
    },
    /// 404: no such prompt, version, dataset or experiment.
    #[error("not found ({status}): {detail}")]
    NotFound {
        /// The HTTP status (404).
        status: u16,
        /// The server's detail.
        detail: String,
    },
    /// 409: the prompt (or another resource) already exists.
    #[error("conflict ({status}): {detail}")]
    Conflict {
        /// The HTTP status (409).
        status: u16,
        /// The server's detail.
        detail: String,
    },
    /// 500–599, or a 2xx whose body could not be read as the expected type.
    #[error("server error ({status}): {detail}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's detail.
        detail: String,
    },
    /// Any other status (3xx redirects are not followed, 405, 413, 422, 429, …).
    #[error("unexpected status ({status}): {detail}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The server's detail.
        detail: String,
    },
    /// No usable HTTP answer: connection refused, DNS, TLS, a timeout, a body that is
    /// not UTF-8.
    #[error("transport error: {detail}")]
    Transport {
        /// What happened, such as `request timed out`.
        detail: String,
        /// Whether the request timed out.
        timeout: bool,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// A request refused on this side before anything was sent, such as an update with
    /// no fields.
    #[error("invalid request: {detail}")]
    InvalidRequest {
        /// What is wrong.
        detail: String,
    },
    /// `get_prompt` found no cached copy, could not fetch the prompt and had no
    /// fallback. `reason` is the server's detail or the transport error, when there is
    /// one; [`kind`](Error::kind) says why (`NotFound` after a 404, `Auth`, `Timeout`,
    /// `Transport`, `Server`, …).
    #[error(
        "Prompt '{prompt_id}' could not be fetched and no fallback was provided{}{reason}",
        if reason.is_empty() { "" } else { ": " }
    )]
    Unavailable {
        /// The requested prompt id.
        prompt_id: String,
        /// Why: the server's detail, the transport error, or empty.
        reason: String,
        /// The HTTP status of the failed fetch, or 0.
        status: u16,
        /// The class of the failure.
        kind: ErrorKind,
        /// The underlying error (a transport failure), if any.
        #[source]
        source: Option<BoxError>,
    },
    /// Rendering a template failed (a chat placeholder, or a missing variable in
    /// `try_format`).
    #[error("{0}")]
    Render(#[from] RenderError),
    /// A setting could not be parsed, such as a non-numeric `DD_LLMOBS_PROMPTS_CACHE_TTL`.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Reading or writing a local file failed (a CSV to import, an export target).
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be used: empty, no header, a listed column missing, a
    /// malformed row. Nothing was sent.
    #[error("csv error: {detail}")]
    Csv {
        /// What is wrong, naming the column or row.
        detail: String,
    },
    /// An experiment run stopped on a failure (`raise_errors`, or a failing summary
    /// post); the experiment is marked `interrupted` and what finished is kept.
    #[error("experiment {experiment_id} stopped: {detail}")]
    Experiment {
        /// The experiment's id (empty when it was never created).
        experiment_id: String,
        /// The failure, naming the record or evaluator.
        detail: String,
    },
    /// An experiment run was cancelled (a cancellation token or Ctrl-C); the experiment
    /// is marked `interrupted` and what finished is kept.
    #[error("experiment {experiment_id} was interrupted")]
    Interrupted {
        /// The experiment's id (empty when it was never created).
        experiment_id: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The class of an [`Error`], for callers that match on what went wrong rather than on
/// variants. The first five mirror the reference client's exception classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No such prompt, version, dataset or experiment (404).
    NotFound,
    /// A key is missing, wrong or lacks a permission (401, 403, or no key configured).
    Auth,
    /// The request was refused for its content, here (a bad option, a CSV without a
    /// listed column, an invalid setting) or by the server (400).
    Validation,
    /// The resource already exists (409).
    Conflict,
    /// The server failed (5xx) or answered something unreadable.
    Server,
    /// No usable HTTP answer: connection refused, DNS, TLS, a body cut short.
    Transport,
    /// A request timed out.
    Timeout,
    /// A template could not be rendered.
    Render,
    /// An experiment run was cancelled (a cancellation token or Ctrl-C).
    Cancelled,
    /// Anything else: another HTTP status (3xx, 405, 408, 413, 422, 429, …, as the
    /// reference client's base class), a local file error, an experiment stopped by
    /// `raise_errors`.
    Other,
}

impl ErrorKind {
    /// The kind of an HTTP status.
    pub(crate) fn of_status(status: u16) -> ErrorKind {
        match status {
            400 => ErrorKind::Validation,
            401 | 403 => ErrorKind::Auth,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::Other,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Auth => "authentication",
            ErrorKind::Validation => "validation",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Server => "server",
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Render => "render",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Other => "other",
        })
    }
}

impl Error {
    /// The HTTP status behind this error, or 0 when there was no HTTP answer.
    pub fn status(&self) -> u16 {
        match self {
            Error::Auth { status, .. }
            | Error::Validation { status, .. }
            | Error::NotFound { status, .. }
            | Error::Conflict { status, .. }
            | Error::Server { status, .. }
            | Error::Status { status, .. }
            | Error::Unavailable { status, .. } => *status,
            _ => 0,
        }
    }

    /// The server's detail, the reason, or the local message.
    pub fn detail(&self) -> String {
        match self {
            Error::Auth { detail, .. }
            | Error::Validation { detail, .. }
            | Error::NotFound { detail, .. }
            | Error::Conflict { detail, .. }
            | Error::Server { detail, .. }
            | Error::Status { detail, .. }
            | Error::Transport { detail, .. }
            | Error::InvalidRequest { detail } => detail.clone(),
            Error::Unavailable { reason, .. } => reason.clone(),
            Error::Render(err) => err.to_string(),
            Error::Config(message) => message.clone(),
            Error::Io { source, .. } => source.to_string(),
            Error::Csv { detail } | Error::Experiment { detail, .. } => detail.clone(),
            Error::Interrupted { .. } => "interrupted".to_owned(),
        }
    }

    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Auth { .. } => ErrorKind::Auth,
            Error::Validation { .. }
            | Error::InvalidRequest { .. }
            | Error::Csv { .. }
            | Error::Config(_) => ErrorKind::Validation,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Server { .. } => ErrorKind::Server,
            Error::Status { status, .. } => ErrorKind::of_status(*status),
            Error::Transport { timeout: true, .. } => ErrorKind::Timeout,
            Error::Transport { .. } => ErrorKind::Transport,
            Error::Unavailable { kind, .. } => *kind,
            Error::Render(_) => ErrorKind::Render,
            Error::Interrupted { .. } => ErrorKind::Cancelled,
            Error::Io { .. } | Error::Experiment { .. } => ErrorKind::Other,
        }
    }

    /// Whether the prompt, version, dataset or experiment does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// Whether a request timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// Whether no HTTP answer was received (connection, DNS, TLS, timeout).
    pub fn is_transport(&self) -> bool {
        matches!(self.kind(), ErrorKind::Transport | ErrorKind::Timeout)
    }

    pub(crate) fn from_status(status: u16, detail: String) -> Self {
        match status {
            400 => Error::Validation { status, detail },
            401 | 403 => Error::Auth { status, detail },
            404 => Error::NotFound { status, detail },
            409 => Error::Conflict { status, detail },
            500..=599 => Error::Server { status, detail },
            _ => Error::Status { status, detail },
        }
    }

    pub(crate) fn transport(err: reqwest::Error) -> Self {
        Error::Transport {
            detail: transport_text(&err),
            timeout: err.is_timeout(),
            source: Some(Box::new(err)),
        }
    }
}

/// A short text for a transport error, without the URL.
pub(crate) fn transport_text(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "request timed out".to_owned();
    }
    let mut text = if err.is_connect() {
        "connection failed".to_owned()
    } else if err.is_body() || err.is_decode() {
        "could not read the response body".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `detail` of an error body: the top-level `detail` member of a JSON object
/// (its text if a string, else its JSON), otherwise the raw body.
pub(crate) fn extract_detail(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => match map.get("detail") {
            Some(serde_json::Value::String(detail)) => detail.clone(),
            Some(other) => other.to_string(),
            None => body.to_owned(),
        },
        _ => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_reference_classes() {
        let kind = |status| Error::from_status(status, String::new()).kind();
        assert_eq!(kind(400), ErrorKind::Validation);
        assert_eq!(kind(401), ErrorKind::Auth);
        assert_eq!(kind(403), ErrorKind::Auth);
        assert_eq!(kind(404), ErrorKind::NotFound);
        assert_eq!(kind(409), ErrorKind::Conflict);
        for status in [500, 502, 503, 599] {
            assert_eq!(kind(status), ErrorKind::Server);
        }
        for status in [301, 302, 402, 405, 408, 413, 422, 429] {
            assert_eq!(Error::from_status(status, "x".into()).status(), status);
            assert_eq!(kind(status), ErrorKind::Other, "{status}");
        }
    }

    #[test]
    fn details_are_extracted_like_the_reference_client() {
        assert_eq!(extract_detail(r#"{"detail":"nope"}"#), "nope");
        assert_eq!(extract_detail(r#"{"detail": 42}"#), "42");
        let errors = r#"{"errors":[{"title":"t","detail":"d"}]}"#;
        assert_eq!(extract_detail(errors), errors);
        assert_eq!(extract_detail("[1]"), "[1]");
        assert_eq!(extract_detail("Internal Server Error"), "Internal Server Error");
        assert_eq!(extract_detail(""), "");
    }

    #[test]
    fn messages_carry_the_detail() {
        let err = Error::from_status(409, "prompt template already exists".into());
        assert_eq!(err.to_string(), "conflict (409): prompt template already exists");
        let err = Error::Unavailable {
            prompt_id: "missing".into(),
            reason: "prompt with id 'missing' not found".into(),
            status: 404,
            kind: ErrorKind::NotFound,
            source: None,
        };
        assert_eq!(
            err.to_string(),
            "Prompt 'missing' could not be fetched and no fallback was provided: \
             prompt with id 'missing' not found"
        );
        assert!(err.is_not_found());
        let err = Error::Unavailable {
            prompt_id: "p".into(),
            reason: String::new(),
            status: 200,
            kind: ErrorKind::Server,
            source: None,
        };
        assert_eq!(err.to_string(), "Prompt 'p' could not be fetched and no fallback was provided");
    }
}
