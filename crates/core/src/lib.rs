//! Wire types and shared rules of the llmobs HTTP API.
//!
//! This crate is what the server and the SDK agree on: the bodies of every endpoint, as
//! plain serde structs, and the rules both sides must apply the same way. It holds no I/O.
//! One module per API area, named as in the other crates:
//!
//! - [`prompts`]: the prompt registry (`/api/unstable/llm-obs/v1/prompts…`), with
//!   [`prompts::Template`] and the rules a template, an id or a label must pass;
//!   [`render`] renders a template as the reference client does (used by the SDK).
//! - [`datasets`]: projects, datasets and records, and the upload CSV format
//!   ([`datasets::parse_upload`]).
//! - [`experiments`]: experiments, their events, remote evaluator inference and publishing
//!   ([`experiments::InferAnswer`]), and the intakes.
//! - [`judge`]: how an LLM judge renders its prompt, assesses its verdict and asks its
//!   model ([`judge::chat_request`]), the same in the SDK's `LLMJudge` and the server's
//!   `llm_judge`.
//! - [`public`]: the management routes of Datadog's public API that ddtrace does not use.
//! - [`annotations`]: annotation queues, their label schemas, interactions and annotations,
//!   and how an annotation becomes a dataset record.
//! - [`integrations`]: LLM provider accounts, their models and inference as the public API
//!   shows them, and the OpenAI and Anthropic request and answer shapes behind them.
//! - [`search`], [`spans`], [`experimentation`]: the query plane of the public API
//!   (Datadog's search syntax, span search, experimentation search and analytics).
//! - [`topics`]: topic discovery's configs, runs, topics and clustered points on the wire.
//! - [`summary`]: an experiment's summary as Datadog's experiment page computes it;
//!   [`records`]: which of its records a page lists; [`compare`]: deltas and moves between
//!   experiments of one dataset; [`trace`]: a trace's spans as a tree.
//! - Shared plumbing: [`jsonapi`] envelopes, the [`error`] body of every non-2xx answer,
//!   [`encoding`] of ids and labels on the wire, and [`pyjson`], Python's JSON dialect
//!   where bytes must match the reference client's.
//!
//! Docs cite the specifications in the repository's `docs/spec/` as `spec §N` and `E<n>`
//! (an endpoint of a spec's table): the prompt modules `prompts.md`, datasets,
//! experiments, evaluators, intake and judges `experiments.md`, the public API
//! `public-api.md`. `docs/ARCHITECTURE.md` shows where this crate sits.
//!
//! ```
//! use llmobs_core::prompts::Template;
//!
//! let template = Template::from_value(&serde_json::json!([
//!     {"role": "user", "content": "Hi {{name}}"}
//! ]))?;
//! assert!(template.is_chat());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod annotations;
pub mod compare;
pub mod datasets;
#[cfg(feature = "diff")]
pub mod diff;
pub mod encoding;
pub mod error;
pub mod experimentation;
pub mod experiments;
pub mod integrations;
pub mod jsonapi;
pub mod judge;
pub mod prompts;
pub mod public;
pub mod pyjson;
pub mod records;
pub mod render;
pub mod search;
pub mod spans;
pub mod summary;
pub mod topics;
pub mod trace;
