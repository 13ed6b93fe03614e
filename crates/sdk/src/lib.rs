//! Rust SDK for LLM Observability (prompt registry, datasets, experiments),
//! wire-compatible with Datadog's API and with the self-hosted `llmobs` server.
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
//!
//! # Datasets and experiments
//!
//! [`Client::create_dataset`], [`Client::pull_dataset`] and
//! [`Client::create_dataset_from_csv`] give a [`Dataset`]: records edited locally
//! ([`Dataset::append`], [`Dataset::update`], [`Dataset::delete`], tag operations) and
//! sent as one diff by [`Client::push_dataset`]. [`Client::experiment`] builds an
//! [`Experiment`]: an async task over each record's input and the experiment's config,
//! scored by evaluators (closures, the [`Evaluator`] trait, [`RemoteEvaluator`]) and
//! summary evaluators, run with bounded concurrency, retries, timeouts and
//! cancellation ([`RunOptions`]). [`LLMJudge`] grades records with a model (any
//! [`JudgeClient`]; [`OpenAiClient`] for OpenAI-compatible endpoints) and
//! [`Client::publish_evaluator`] stores it on the server for remote inference.
//!
//! ```no_run
//! use llmobs::{CallError, Client, DatasetRecord, EvaluatorContext, RunOptions};
//! use serde_json::{Value, json};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::from_env()?;
//! let records = [DatasetRecord::new(json!({"q": "2+2"})).expected_output(json!("4"))];
//! let dataset = client.create_dataset("arithmetic", records).await?;
//! let results = client
//!     .experiment("calculator", dataset, |input: Value, _config| async move {
//!         Ok::<_, CallError>(json!(if input["q"] == "2+2" { "4" } else { "?" }))
//!     })
//!     .evaluator("exact", |ctx: &EvaluatorContext| ctx.output == ctx.expected_output)
//!     .build()?
//!     .run(RunOptions::default())
//!     .await?;
//! println!("{results}");
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod api;
pub mod blocking;
mod client;
mod clock;
mod config;
mod datasets;
mod error;
mod evaluators;
mod experiments;
mod hot;
mod judge;
mod key;
mod prompt;
mod requests;
mod warm;

pub use client::Client;
pub use config::{ClientBuilder, DEFAULT_CACHE_TTL, DEFAULT_HOT_CAPACITY, DEFAULT_TIMEOUT};
pub use datasets::{
    CreateDataset, CsvImport, Dataset, DatasetRecord, MAX_BATCH_BYTES, MAX_BATCH_RECORDS,
    PullDataset, Push, RecordUpdate,
};
pub use error::{Error, ErrorKind, Result};
pub use evaluators::{
    Assessment, BoxFuture, CallError, ErrorInfo, Evaluation, Evaluator, EvaluatorContext,
    EvaluatorResult, IntoEvaluation, MultiEvaluatorResult, Outcome, RemoteEvaluator, RemoteFailure,
    SummaryContext, SummaryEvaluator, Transform,
};
pub use experiments::{
    CancellationToken, ChildSpan, EvaluationOutcome, Evaluations, Experiment, ExperimentBuilder,
    ExperimentInfo, ExperimentResults, ListExperiments, MissingTask, PulledExperiment, Rerun, Row,
    RunOptions, RunResult, SpanId, SpanKind, Status, TraceId,
};
pub use judge::{
    BooleanStructuredOutput, CategoricalStructuredOutput, IntoNumber, JudgeClient, JudgeMessage,
    JudgeRequest, LLMJudge, LLMJudgeBuilder, OpenAiClient, PROVIDERS, PublishEvaluator,
    ScoreStructuredOutput, StructuredOutput,
};
pub use llmobs_core::experiments::{ExperimentEvents, ExperimentRecord};
pub use prompt::{Fallback, GetPrompt, Prompt, Source};
pub use requests::{NewPrompt, NewVersion};

pub use llmobs_core::prompts::{
    ChatItem, CreatePromptRequest, CreateVersionRequest, Deleted, PromptRecord, Template,
    UpdatePromptRequest, UpdateVersionRequest, Version,
};
pub use llmobs_core::render::{RenderError, Rendered, Vars};

/// The wire types of the prompt registry, as the server and this SDK share them.
pub mod wire {
    pub use llmobs_core::prompts::*;
}
