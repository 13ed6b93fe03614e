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
//! is returned (its [`kind`](Error::kind) says why: `NotFound`, `Timeout`, …). Disk copies
//! are kept per origin and organisation: clients of different servers or API keys never
//! serve each other's prompts.
//!
//! The registry is managed with [`Client::create_prompt`], [`Client::create_prompt_version`],
//! [`Client::update_prompt`], [`Client::update_prompt_version`], [`Client::delete_prompt`],
//! [`Client::list_prompts`], [`Client::list_prompt_versions`] and [`Client::set_label`];
//! every error is one [`Error`] whose [`kind`](Error::kind) classifies it. [`Client`]'s
//! documentation is the manual, one section per area. Prompts kept as files
//! (`llmobs prompts pull DIR`) load as a [`PromptDir`]; [`ClientBuilder::prompt_dir`] makes
//! them `get_prompt`'s fallback when the registry cannot be reached.
//!
//! The public API's management and query routes answer in their own wire types
//! ([`wire`]): [`Client::list_projects`], [`Client::list_datasets`],
//! [`Client::dataset_versions`], [`Client::export_dataset`], [`Client::upload_dataset_file`]
//! (a CSV file streamed as one new version), the deletes, and [`Client::search_spans`].
//!
//! ```no_run
//! use llmobs::{Client, GetPrompt};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // DD_API_KEY, DD_APP_KEY, DD_SITE or DD_LLMOBS_OVERRIDE_ORIGIN, DD_ENV, ...
//! let client = Client::from_env()?;
//! let prompt = client
//!     .get_prompt_with("greeting", GetPrompt::new().fallback("Hello {name}"))
//!     .await?;
//! let text = prompt.format([("name", "Ada")])?;
//! println!("{prompt}: {text}");
//! # Ok(()) }
//! ```
//!
//! # Datasets and experiments
//!
//! [`Client::create_dataset`], [`Client::pull_dataset`] and
//! [`Client::create_dataset_from_csv`] give a [`Dataset`]: records (JSON values or any
//! `serde` types, [`DatasetRecord`]) edited locally by id or position
//! ([`Dataset::append`], [`Dataset::update`], [`Dataset::delete`], tag operations) and
//! sent as one diff by [`Client::push_dataset`]. [`Client::experiment`] builds an
//! [`Experiment`]: an async task over each record's input (typed or JSON) and the
//! experiment's config, failing with any error type,
//! scored by evaluators (closures, the [`Evaluator`] trait, [`RemoteEvaluator`]) and
//! summary evaluators, run with bounded concurrency, retries, timeouts and
//! cancellation ([`RunOptions`]). [`LLMJudge`] grades records with a model (any
//! [`JudgeClient`]; [`OpenAiClient`] for OpenAI-compatible endpoints) and
//! [`Client::publish_evaluator`] stores it on the server for remote inference.
//!
//! ```no_run
//! use llmobs::{CallError, Client, DatasetRecord, EvaluatorContext, RunOptions};
//! // tokio = { version = "1", features = ["macros", "rt-multi-thread"] } to use #[tokio::main]
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
//!     .evaluator("exact", |ctx: &EvaluatorContext| ctx.expected_output.as_ref() == Some(&ctx.output))
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
mod judge;
mod prompts;
mod public;

pub use client::Client;
pub use config::{ClientBuilder, DEFAULT_CACHE_TTL, DEFAULT_HOT_CAPACITY, DEFAULT_TIMEOUT};
pub use datasets::{
    CreateDataset, CsvImport, Dataset, DatasetRecord, MAX_BATCH_BYTES, MAX_BATCH_RECORDS,
    PullDataset, Push, RecordKey, RecordUpdate,
};
pub use error::{BoxError, Error, ErrorKind, Result};
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
pub use prompts::{
    Fallback, GetPrompt, LOCKFILE, Lockfile, NewPrompt, NewVersion, Pin, Prompt, PromptDir,
    PromptFile, PromptInfo, PromptVersion, Source,
};

pub use llmobs_core::prompts::{
    ChatItem, CreatePromptRequest, CreateVersionRequest, Deleted, Template, UpdatePromptRequest,
    UpdateVersionRequest,
};
pub use llmobs_core::render::{RenderError, Rendered, Vars};
pub use public::{FileUpload, Progress};

/// The wire types of the prompt registry and of the public API's management and query
/// routes, as the server and this SDK share them.
pub mod wire {
    pub use llmobs_core::datasets::{DatasetAttributes, Project, UploadResult};
    pub use llmobs_core::experiments::ExperimentRecord;
    pub use llmobs_core::jsonapi::{Author, Document, Resource};
    pub use llmobs_core::prompts::*;
    pub use llmobs_core::public::{DatasetVersion, ExportFormat};
    pub use llmobs_core::spans::{
        SearchSpansAttributes, SearchSpansData, SearchSpansRequest, SpanAttributes, SpanData,
        SpanFilter, SpanIo, SpanPageQuery, SpansResponse,
    };
}

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Type-level promises, checked by compile-fail doctests.
///
/// The transport error's source is a `Box<dyn Error>`, not a `reqwest::Error`: no
/// third-party type leaks through the API.
///
/// ```compile_fail
/// fn connect_failed(err: &llmobs::Error) -> bool {
///     match err {
///         llmobs::Error::Transport { source: Some(source), .. } => source.is_connect(),
///         _ => false,
///     }
/// }
/// ```
///
/// Version numbers are `u64`: a signed number is refused.
///
/// ```compile_fail
/// let version: i64 = 3;
/// let _ = llmobs::GetPrompt::new().version(version);
/// ```
///
/// A task's output must be serializable.
///
/// ```compile_fail
/// # async fn run(client: llmobs::Client, dataset: llmobs::Dataset) {
/// struct Opaque;
/// let _ = client.experiment("x", dataset, |_: serde_json::Value, _| async move {
///     Ok::<_, String>(Opaque)
/// });
/// # }
/// ```
///
/// A typed evaluator's types must be deserializable.
///
/// ```compile_fail
/// # fn build(builder: llmobs::ExperimentBuilder) {
/// struct Opaque;
/// let _ = builder.evaluator("x", |_: &llmobs::EvaluatorContext<Opaque>| true);
/// # }
/// ```
///
/// A task's error must be an error (or a string): an integer is not.
///
/// ```compile_fail
/// # async fn run(client: llmobs::Client, dataset: llmobs::Dataset) {
/// let _ = client.experiment("x", dataset, |_: serde_json::Value, _| async move {
///     Err::<String, _>(42)
/// });
/// # }
/// ```
///
/// The same programs with the right types compile:
///
/// ```
/// # async fn run(client: llmobs::Client, dataset: llmobs::Dataset, err: llmobs::Error) {
/// let _ = llmobs::GetPrompt::new().version(3_u64);
/// let _ = client.experiment("x", dataset, |input: serde_json::Value, _| async move {
///     Err::<serde_json::Value, _>(format!("no answer for {input}"))
/// });
/// let _: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
/// # }
/// ```
#[cfg(doctest)]
pub struct CompileFailDoctests;
