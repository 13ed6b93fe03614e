//! Wire types and shared rules of the llmobs HTTP API.
//!
//! This crate is what the server and the SDK agree on. It holds no I/O:
//!
//! - [`prompts`]: the request and response bodies of the prompt registry
//!   (`/api/unstable/llm-obs/v1/prompts`), with [`prompts::Template`] and the
//!   validation rules a template, an id or a label must pass.
//! - [`error`]: the JSON error body every non-2xx answer carries.
//! - [`encoding`]: how a prompt id becomes a path segment and a label a query value,
//!   exactly as the reference Python client encodes them.
//! - [`judge`]: how an LLM judge renders its prompt template and assesses its verdict,
//!   the same in the SDK's `LLMJudge` and the server's `llm_judge`.
//! - [`search`]: Datadog's search syntax (`@field:value`, `-negation`, `AND`/`OR`, phrases,
//!   wildcards) parsed into a tree, and the time bounds of query-plane requests.
//! - [`experimentation`]: experimentation search, simple-search and analytics requests,
//!   and the rules that read them.
//! - [`public`]: the management plane of Datadog's public API as the official client speaks
//!   it (project, dataset, record and experiment management, exports, file uploads, the
//!   public prompt registry's templates, custom evaluator configs).
//! - [`spans`]: the spans query plane's requests and answers, and how a stored span
//!   event reads as one of its spans.
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

pub mod datasets;
pub mod encoding;
pub mod error;
pub mod experimentation;
pub mod experiments;
pub mod jsonapi;
pub mod judge;
pub mod prompts;
pub mod public;
pub mod pyjson;
pub mod render;
pub mod search;
pub mod spans;
