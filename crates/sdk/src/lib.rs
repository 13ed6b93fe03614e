//! Rust SDK for LLM Observability's prompt registry, wire-compatible with Datadog's API
//! and with the self-hosted `llmobs` server.
//!
//! The central type is [`Client`] (async; [`blocking::Client`] for synchronous code).
//! [`Client::get_prompt`] returns an [`Arc<Prompt>`](Prompt): the template of one
//! version, ready to [`format`](Prompt::format), served from a two-tier cache:
//!
//! - **memory**: a bounded LRU (1024 entries by default); a fresh hit costs a hash
//!   lookup and an `Arc` clone;
//! - **disk**: one JSON file per prompt and selector under
//!   `~/.cache/datadog/llmobs/prompts`, shared with later processes (and with ddtrace,
//!   whose file layout it reproduces). **On by default**, unlike ddtrace, so that a
//!   process starting while the registry is down still has its prompts;
//!   `DD_LLMOBS_PROMPTS_FILE_CACHE_ENABLED=false` turns it off.
//!
//! A copy older than the TTL (`DD_LLMOBS_PROMPTS_CACHE_TTL`, 60 s) is still served at
//! once while one background request per key refreshes it; if the registry is down the
//! stale copy is served indefinitely, and [`Prompt::age`] tells how old it is. When
//! nothing is cached and the fetch fails, a [`Fallback`] is used, or [`Error::Unavailable`]
//! is returned.
//!
//! The registry is managed with [`Client::create_prompt`], [`Client::create_prompt_version`],
//! [`Client::update_prompt`], [`Client::update_prompt_version`], [`Client::delete_prompt`],
//! [`Client::list_prompts`] and [`Client::list_prompt_versions`]; every error is one
//! [`Error`] mirroring the reference client's exception classes.
//!
//! ```no_run
//! use llmobs::{Client, GetPrompt};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // DD_API_KEY, DD_APP_KEY, DD_SITE or DD_LLMOBS_OVERRIDE_ORIGIN, DD_ENV, ...
//! let client = Client::from_env()?;
//! let prompt = client
//!     .get_prompt_with("greeting", &GetPrompt::new().fallback("Hello {name}"))
//!     .await?;
//! let text = prompt.format([("name", "Ada")])?;
//! println!("{} v{} ({}): {:?}", prompt.id(), prompt.version(), prompt.source(), text);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod blocking;
mod client;
mod clock;
mod config;
mod error;
mod hot;
mod key;
mod prompt;
mod requests;
mod warm;

pub use client::Client;
pub use config::{ClientBuilder, DEFAULT_CACHE_TTL, DEFAULT_HOT_CAPACITY, DEFAULT_TIMEOUT};
pub use error::{Error, ErrorKind, Result};
pub use prompt::{Fallback, GetPrompt, Prompt, Source};
pub use requests::{NewPrompt, NewVersion};

pub use llmobs_core::prompts::{
    ChatItem, CreatePromptRequest, CreateVersionRequest, Deleted, Prompt as PromptRecord, Template,
    UpdatePromptRequest, UpdateVersionRequest, Version,
};
pub use llmobs_core::render::{RenderError, Rendered, Vars};

/// The wire types of the prompt registry, as the server and this SDK share them.
pub mod wire {
    pub use llmobs_core::prompts::*;
}
