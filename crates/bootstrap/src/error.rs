//! The generator's error type.

use std::io;
use std::path::{Path, PathBuf};

use crate::literal::py_str;

/// Everything that can stop the generator. Nothing is written when one occurs.
///
/// [`Error::exit_code`] gives the command's exit status: 2 for command-line mistakes,
/// 1 for everything else (spec §2.4). Errors about a file carry its path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A flag value, or a combination of flags, is invalid (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The dataset file cannot be used. `path` is the path as the user gave it.
    #[error("dataset {}: {message}", py_str(&.path.display().to_string()))]
    Dataset {
        /// The dataset path, as given.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The output file exists and `--force` was not given.
    #[error("{} exists; pass --force to replace it", py_str(&.path.display().to_string()))]
    OutputExists {
        /// The output path.
        path: PathBuf,
    },
    /// The output path names a directory.
    #[error("{} is a directory; --output needs a file path", py_str(&.path.display().to_string()))]
    OutputIsDirectory {
        /// The output path.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("cannot {action} {}", py_str(&.path.display().to_string()))]
    Io {
        /// What was being done: "create the directory", "write", ...
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The rendered file failed the generator's own checks: a generator bug.
    #[error("internal self-check failed: {0}")]
    SelfCheck(String),
    /// A built-in template failed to compile or render: a generator bug.
    #[error("built-in template failed: {0}")]
    Template(String),
    /// Python could not compile the rendered file: a generator bug.
    #[error("generated code failed the syntax check: {0}")]
    SyntaxCheck(String),
}

impl Error {
    /// The exit status the command should end with: 2 for [`Error::Usage`], 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }

    /// Whether this is a command-line mistake (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }

    /// The file this error concerns, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Dataset { path, .. }
            | Error::OutputExists { path }
            | Error::OutputIsDirectory { path }
            | Error::Io { path, .. } => Some(path),
            _ => None,
        }
    }

    pub(crate) fn dataset(path: &Path, message: impl Into<String>) -> Error {
        Error::Dataset { path: path.to_owned(), message: message.into() }
    }

    /// Shows paths under `base` relative to it, as the user typed them.
    pub(crate) fn relative_to(mut self, base: &Path) -> Error {
        if let Error::OutputExists { path }
        | Error::OutputIsDirectory { path }
        | Error::Io { path, .. } = &mut self
            && let Ok(relative) = path.strip_prefix(base)
            && !relative.as_os_str().is_empty()
        {
            *path = relative.to_owned();
        }
        self
    }

    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Error {
        Error::Io { action, path: path.to_owned(), source }
    }
}
