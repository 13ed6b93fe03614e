//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use llmobs_store::Store;

/// The default body limit: 10 MiB, enough for the multi-MiB templates clients send.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// The default limit of dataset uploads, batch updates and intake bodies: 512 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 512 * 1024 * 1024;

/// The default limit of one JSON string in a request body: 10 MiB, the body limit (a
/// prompt template of just under 10 MiB is accepted).
pub const DEFAULT_MAX_FIELD_BYTES: usize = DEFAULT_MAX_BODY_BYTES;

/// The default limit of a span or eval-metric intake body, as received and once
/// inflated: 32 MiB (ddtrace flushes its span batches at 5 MiB).
pub const DEFAULT_MAX_INTAKE_BYTES: usize = 32 * 1024 * 1024;

/// The default time a client has to send a request's headers, and the time an idle
/// keep-alive connection stays open: 30 s.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// The default time a client has to send a whole request body: 300 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(300);

/// The default number of connections served at once: 768, below the common limit of
/// 1024 open files.
pub const DEFAULT_MAX_CONNECTIONS: usize = 768;

/// The default number of large requests (bodies over `max_body_bytes`, or of unknown
/// length) read at once: 4.
pub const DEFAULT_MAX_LARGE_REQUESTS: usize = 4;

/// Records per page when the client names no `page[limit]`.
pub const DEFAULT_RECORDS_PAGE_SIZE: usize = 5000;

/// An evaluator remote inference can run, configured for every org.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct EvaluatorSpec {
    /// The `eval_name` clients use.
    pub name: String,
    /// `exact_match`, `contains`, `regex`, `json_valid`, `length`, `fixed` or `llm_judge`.
    pub kind: String,
    /// The kind's settings (every other key of the entry).
    #[serde(flatten)]
    pub settings: serde_json::Value,
}

impl EvaluatorSpec {
    /// Reads `{"evaluators": [{"name", "kind", ...settings}]}` and checks every entry.
    pub fn parse_file(text: &str) -> Result<Vec<EvaluatorSpec>, ConfigError> {
        #[derive(serde::Deserialize)]
        struct File {
            evaluators: Vec<EvaluatorSpec>,
        }
        let file: File = serde_json::from_str(text).map_err(|e| {
            ConfigError::Evaluators(format!("{e}; expected {{\"evaluators\": [{{\"name\": \"...\", \"kind\": \"exact_match\"}}]}}"))
        })?;
        for spec in &file.evaluators {
            crate::evaluators::Evaluator::from_config(&spec.kind, &spec.settings)
                .map_err(|e| ConfigError::Evaluators(format!("evaluator '{}': {e}", spec.name)))?;
        }
        Ok(file.evaluators)
    }
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// A path prefix every route is also served under, such as `/proxy/sub`; `""` for
    /// none. Build it with [`Config::with_base_path`] to validate it.
    pub base_path: String,
    /// Requests with a larger body get 413.
    pub max_body_bytes: usize,
    /// Accept only the labels `production` and `development`.
    pub strict_labels: bool,
    /// How long a cached `get_prompt` answer may be served. Writes through this server
    /// drop the cache at once; the bound matters when several servers share a database.
    /// Zero turns the cache off.
    pub read_cache_ttl: Duration,
    /// Largest body of a dataset upload, batch update or intake request.
    pub max_upload_bytes: usize,
    /// Largest span or eval-metric intake body, as received and once inflated.
    pub max_intake_bytes: usize,
    /// Largest JSON string (a template, a record's input, a name) in a JSON request body,
    /// in bytes as sent; a longer one is answered 413.
    pub max_field_bytes: usize,
    /// How long a client may take to send a request's headers; also how long an idle
    /// keep-alive connection is kept. The connection is closed after it.
    pub header_timeout: Duration,
    /// How long a client may take to send a whole request body; a slower body is
    /// answered 408.
    pub body_timeout: Duration,
    /// Connections served at once; further clients wait in the listen queue.
    pub max_connections: usize,
    /// Requests whose body may pass `max_body_bytes` (a larger or missing
    /// `Content-Length`) read at once; others wait for a turn up to `large_request_wait`,
    /// then get 503.
    pub max_large_requests: usize,
    /// How long a large request waits for a turn before it gets 503.
    pub large_request_wait: Duration,
    /// Records per page of a records listing, unless the client asks for another size.
    pub records_page_size: usize,
    /// Evaluators remote inference can run in every org.
    pub evaluators: Vec<EvaluatorSpec>,
    /// Where LLM judges send their requests: shorthand for an `openai` account with id
    /// `judge` among [`Config::integrations`].
    pub judge: Option<crate::evaluators::JudgeProvider>,
    /// LLM provider accounts (`--integrations FILE`).
    pub integrations: Vec<crate::integrations::AccountSpec>,
    /// Whether the web UI shows the `default` org without sign-in to a browser on a
    /// loopback address (`llmobs serve` turns it on only when it listens on loopback).
    pub ui_loopback_open: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_path: String::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            strict_labels: false,
            read_cache_ttl: Duration::from_secs(1),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            records_page_size: DEFAULT_RECORDS_PAGE_SIZE,
            max_intake_bytes: DEFAULT_MAX_INTAKE_BYTES,
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_large_requests: DEFAULT_MAX_LARGE_REQUESTS,
            large_request_wait: Duration::from_secs(10),
            evaluators: Vec::new(),
            judge: None,
            integrations: Vec::new(),
            ui_loopback_open: true,
        }
    }
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The base path is not a plain absolute path.
    #[error(
        "invalid base path '{0}': use an absolute path such as /llmobs, without '?', '#', \
         '{{', '}}' or empty or dot segments"
    )]
    BasePath(String),
    /// An evaluators file cannot be read as evaluators, or one of them is wrong.
    #[error("{0}")]
    Evaluators(String),
    /// An integrations file cannot be read as accounts, or one of them is wrong.
    #[error("{0}")]
    Integrations(String),
}

impl Config {
    /// Sets the base path after checking it: `/a/b` (a trailing `/` is dropped; `/` or `""`
    /// mean none).
    pub fn with_base_path(mut self, path: &str) -> Result<Self, ConfigError> {
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() {
            self.base_path = String::new();
            return Ok(self);
        }
        let bad_segment = |s: &str| s.is_empty() || s == "." || s == "..";
        if !trimmed.starts_with('/')
            || trimmed.contains(['?', '#', '{', '}', '*', ' '])
            || trimmed[1..].split('/').any(bad_segment)
        {
            return Err(ConfigError::BasePath(path.to_owned()));
        }
        self.base_path = trimmed.to_owned();
        Ok(self)
    }
}

/// The state handlers receive: the store and the settings. Cloning it (once or more per
/// request) costs one reference-count increment.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares; reached through `Deref`, as `state.store`.
#[derive(Debug)]
pub struct Shared {
    /// The storage handle.
    pub store: Store,
    /// The settings.
    pub config: Config,
    /// Keys already checked.
    pub(crate) keys: crate::auth::KeyCache,
    /// Recent `get_prompt` answers.
    pub(crate) reads: crate::read_cache::ReadCache,
    /// The LLM provider accounts, which judges, inference and topic naming call.
    pub(crate) integrations: crate::integrations::Integrations,
    /// Turns for large requests (`Config::max_large_requests`).
    pub(crate) large_requests: tokio::sync::Semaphore,
}

impl AppState {
    /// State over `store` with `config`.
    pub fn new(store: Store, config: Config) -> Self {
        let reads = crate::read_cache::ReadCache::new(config.read_cache_ttl);
        let mut accounts = config.integrations.clone();
        if let Some(judge) = &config.judge
            && !accounts.iter().any(|a| a.id == crate::integrations::JUDGE_ACCOUNT)
        {
            accounts.push(judge.account());
        }
        let integrations = crate::integrations::Integrations::new(accounts);
        let large_requests = tokio::sync::Semaphore::new(config.max_large_requests.max(1));
        AppState(Arc::new(Shared {
            store,
            config,
            keys: Default::default(),
            reads,
            integrations,
            large_requests,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_checked() {
        let ok = |p: &str| Config::default().with_base_path(p).map(|c| c.base_path);
        assert_eq!(ok("/proxy/sub/").unwrap(), "/proxy/sub");
        assert_eq!(ok("/").unwrap(), "");
        for bad in ["proxy", "/a//b", "/a/../b", "/a?b", "/{x}"] {
            assert!(ok(bad).is_err(), "{bad} should be refused");
        }
    }
}
