//! The store's error, in domain terms.

use std::fmt;

/// A store result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing asked for does not exist (or was deleted).
    #[error("{0}")]
    NotFound(NotFound),
    /// The write would break a uniqueness rule, such as a second live prompt with one id.
    #[error("{0}")]
    Conflict(&'static str),
    /// The input breaks a rule the store checks itself.
    #[error("{0}")]
    Invalid(String),
    /// A request without a key names no org, and there is no default org to use.
    #[error("no org for a request without an API key")]
    NoOrg,
    /// The database URL or file cannot be used.
    #[error("cannot open the database: {0}")]
    Open(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

/// PostgreSQL's SQLSTATE for text it cannot store, such as a NUL character.
const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";

impl From<sqlx::Error> for Error {
    /// A database failure; text PostgreSQL cannot hold (a NUL character, which SQLite
    /// stores) is the caller's mistake, [`Error::Invalid`], on both backends' terms.
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.code().as_deref() == Some(CHARACTER_NOT_IN_REPERTOIRE)
        {
            return Error::Invalid(
                "text must not contain the NUL character (U+0000); remove it".into(),
            );
        }
        Error::Database(err)
    }
}

/// Which thing was not found. Its `Display` is the exact text the API answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotFound {
    /// A write named a prompt that is not live.
    Prompt,
    /// A write named a version that does not exist.
    Version,
    /// A read named a prompt that is not live.
    PromptId(String),
    /// A read by label on a prompt that has labels, none of them this one.
    Label {
        /// The prompt's identifier.
        prompt_id: String,
        /// The label asked for.
        label: String,
    },
    /// Any other missing thing, with its message.
    Other(String),
    /// A read of a version number the prompt does not have.
    VersionNumber {
        /// The prompt's identifier.
        prompt_id: String,
        /// The number asked for.
        version: i64,
    },
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotFound::Prompt => f.write_str("prompt template not found"),
            NotFound::Version => f.write_str("prompt template version not found"),
            NotFound::PromptId(id) => write!(f, "prompt with id '{id}' not found"),
            NotFound::Label { prompt_id, label } => {
                write!(f, "prompt '{prompt_id}' exists but label '{label}' was not found")
            }
            NotFound::Other(message) => f.write_str(message),
            NotFound::VersionNumber { prompt_id, version } => {
                write!(f, "prompt '{prompt_id}' has no version {version}")
            }
        }
    }
}

/// Turns a unique-constraint violation into [`Error::Conflict`].
pub(crate) fn on_unique(err: sqlx::Error, what: &'static str) -> Error {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(what),
        _ => Error::from(err),
    }
}
