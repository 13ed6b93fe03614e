//! Storage for the llmobs server.
//!
//! [`Store`] is the one handle the server holds. It opens embedded SQLite (the default) or
//! PostgreSQL from a URL ([`Database`]), runs the embedded migrations, and offers the
//! domain operations, one module per noun as in the server:
//!
//! - keys and orgs: [`Store::create_org_keys`], [`Store::find_key`], [`Store::owner_of`];
//! - the prompt registry: [`Store::create_prompt`], [`Store::latest_prompt`], …;
//! - projects, datasets and versioned records: [`Store::create_dataset`],
//!   [`Store::records`] (paged, filtered by tag before paging), [`Store::batch_update`],
//!   [`Store::upload_records`];
//! - experiments and their events: [`Store::create_experiment`],
//!   [`Store::list_experiments`], [`Store::post_events`], [`Store::experiment_events`];
//! - the intakes: [`Store::ingest_spans`] and [`Store::ingest_eval_metrics`], which decide
//!   where a keyless (agent-proxy) span or metric goes;
//! - evaluator configurations: [`Store::put_evaluator`], [`Store::evaluator`];
//! - annotation queues: [`Store::create_queue`], [`Store::add_interactions`],
//!   [`Store::upsert_annotations`], [`Store::export_queue`] (a queue's labels to a dataset);
//! - what Datadog's public API adds: project, dataset, experiment and evaluator
//!   management (the `*_admin` and `projects` modules), span search and experimentation
//!   search and analytics;
//! - what the web UI adds: [`Store::compare_records`] (experiments joined by dataset
//!   record) and [`Store::trace_spans`] (one trace's spans).
//!
//! On SQLite, experiment spans and events are acknowledged once kept in the ingest journal
//! and stored in their tables just after; reads of experiment results, spans and traces
//! store what is pending first ([`Store::catch_up`], the `journal` module).
//!
//! Every write runs in one transaction, so a failed request leaves nothing half-written.
//! The rules that decide state live here, next to the SQL that enforces them: version
//! numbers, label moves, environment deployments, soft deletes, record versions, paging
//! and filtering, and which org owns what. The store knows nothing about HTTP; its
//! [`Error`] speaks in domain terms and the server maps it to statuses.
//! `docs/ARCHITECTURE.md` shows where this crate sits; `spec §N` and `E<n>` in the docs
//! cite the specifications in `docs/spec/`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), llmobs_store::Error> {
//! use llmobs_store::{DEFAULT_ORG, Database, KeyKind, Store};
//!
//! let store = Store::open(&Database::Sqlite("llmobs.db".into())).await?;
//! let org = store.create_org_keys(DEFAULT_ORG, "api-key-0001", "app-key-0001").await?;
//! assert!(store.find_key(KeyKind::Api, "api-key-0001").await?.is_some());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod annotations;
mod batch;
mod checkpoint;
mod compare;
mod dataset_admin;
mod datasets;
mod db;
mod deletes;
mod error;
mod evaluator_admin;
mod evaluators;
mod experiment_admin;
mod experimentation;
mod experiments;
mod fields;
mod intake;
mod journal;
mod keys;
mod migrate;
mod projects;
mod prompts;
mod spans;
mod sql;
#[cfg(any(test, feature = "test-support"))]
pub mod test_db;
mod time;
mod topics;
mod traces;

pub use annotations::MAX_INTERACTIONS;
pub use compare::JoinedRecord;
pub use dataset_admin::{DatasetFilter, FileUpload};
pub use datasets::{
    ChangePage, INVALID_VERSION, MAX_RECORD_ID_BYTES, RawRecord, RecordChange, RecordPage,
    RecordQuery,
};
pub use db::{DEFAULT_POOL_SIZE, Database, Store};
pub use error::{Error, NotFound, Result};
pub use evaluator_admin::StoredEvaluator;
pub use experimentation::ScopeResults;
pub use experiments::{ExperimentCursor, ExperimentFilter, ExperimentPage, RawEvents};
pub use keys::{Caller, DEFAULT_ORG, KeyKind, OrgId, OrgKeys, Owned};
pub use projects::{
    Page, PageCursor, ProjectActivity, ProjectFilter, decode_cursor, encode_cursor,
};
pub use prompts::{NewPrompt, NewVersion, VersionUpdate};
pub use spans::{FoundSpan, SpanInput, SpanPage, now_ns};
pub use time::format_ns;
pub use topics::{NewPoint, NewTopic, StoredPoint, StoredTopic, TopicConfig, TopicRun};
