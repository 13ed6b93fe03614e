//! Storage for the llmobs server.
//!
//! [`Store`] is the one handle the server holds. It opens embedded SQLite (the default) or
//! PostgreSQL from a URL, runs the embedded migrations, and offers the domain operations:
//! keys and orgs ([`Store::create_org_keys`], [`Store::authenticate`]) and the prompt
//! registry ([`Store::create_prompt`], [`Store::latest_prompt`], …). Every write runs in
//! one transaction, so a failed request leaves nothing half-written.
//!
//! The rules that decide state live here, next to the SQL that enforces them: version
//! numbers, label moves, environment deployments and soft deletes. The store knows
//! nothing about HTTP; its [`Error`] speaks in domain terms.
//!
//! ```no_run
//! # async fn demo() -> Result<(), llmobs_store::Error> {
//! use llmobs_store::{Database, KeyKind, Store};
//!
//! let store = Store::open(&Database::Sqlite("llmobs.db".into())).await?;
//! let org = store.create_org_keys("default", "api-key", "app-key").await?;
//! assert!(store.find_key(KeyKind::Api, "api-key").await?.is_some());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod batch;
mod dataset_admin;
mod datasets;
mod db;
mod error;
mod evaluator_admin;
mod evaluators;
mod experiment_admin;
mod experimentation;
mod experiments;
mod fields;
mod intake;
mod keys;
mod migrate;
mod projects;
mod prompts;
mod spans;
mod time;

pub use dataset_admin::{DatasetFilter, FileUpload};
pub use datasets::{INVALID_VERSION, MAX_RECORD_ID_BYTES, RawRecord, RecordPage, RecordQuery};
pub use db::{Database, Store};
pub use error::{Error, NotFound, Result};
pub use evaluator_admin::StoredEvaluator;
pub use experimentation::ScopeResults;
pub use experiments::{ExperimentCursor, ExperimentFilter, ExperimentPage, RawEvents};
pub use keys::{Caller, DEFAULT_ORG, KeyKind, OrgId, OrgKeys, Owned};
pub use projects::{Page, PageCursor, ProjectFilter, decode_cursor, encode_cursor};
pub use prompts::{NewPrompt, NewVersion, VersionUpdate};
pub use spans::{FoundSpan, SpanPage, now_ns};
