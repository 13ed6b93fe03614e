//! The async [`Client`]: its configuration, connection pool and prompt caches. Its
//! methods live with their area: `prompts`, `datasets`, `experiments`, `judge`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Once};

use crate::config::Config;
use crate::prompts::cache_key::Key;
use crate::prompts::hot::HotCache;
use crate::prompts::warm::DiskCache;
use crate::{ClientBuilder, Error, Result};

/// The async client for prompts, datasets and experiments.
///
/// Build one with [`Client::from_env`] (the variables ddtrace reads) or
/// [`Client::builder`]. Cloning is cheap: clones share the caches and the connection pool,
/// so clone it into tasks rather than wrapping it in a lock. [`blocking::Client`] has the
/// same methods for synchronous code.
///
/// - [Prompts](#prompts): [`get_prompt`](Self::get_prompt),
///   [`get_prompt_with`](Self::get_prompt_with), [`create_prompt`](Self::create_prompt),
///   [`create_prompt_version`](Self::create_prompt_version), [`set_label`](Self::set_label),
///   [`update_prompt`](Self::update_prompt), [`list_prompts`](Self::list_prompts), …
/// - [Datasets](#datasets): [`create_dataset`](Self::create_dataset),
///   [`pull_dataset`](Self::pull_dataset), [`push_dataset`](Self::push_dataset),
///   [`create_dataset_from_csv`](Self::create_dataset_from_csv),
///   [`delete_dataset`](Self::delete_dataset)
/// - [Experiments](#experiments): [`experiment`](Self::experiment),
///   [`pull_experiment`](Self::pull_experiment), [`list_experiments`](Self::list_experiments),
///   [`rerun_evaluators`](Self::rerun_evaluators)
/// - [Evaluators](#evaluators): closures, [`Evaluator`](crate::Evaluator),
///   [`RemoteEvaluator`](crate::RemoteEvaluator), [`LLMJudge`](crate::LLMJudge) and
///   [`publish_evaluator`](Self::publish_evaluator)
/// - [Caching](#caching) and [Errors](#errors)
///
/// # Prompts
///
/// `get_prompt` returns an `Arc<Prompt>` ready to [`format`](crate::Prompt::format); options
/// select a version, a label or an environment's version, and a fallback. Options and
/// other builders are taken by value or by reference alike. Version numbers are `u64`.
///
/// ```no_run
/// # async fn run(client: llmobs::Client) -> llmobs::Result<()> {
/// use llmobs::{GetPrompt, NewPrompt, Template};
///
/// client.create_prompt(NewPrompt::new("greeting", Template::Text("Hi {name}".into()))).await?;
/// client.set_label("greeting", 1, "production").await?; // other labels stay put
/// let prompt = client.get_prompt_with("greeting", GetPrompt::new().label("production")).await?;
/// println!("{prompt}: {}", prompt.format([("name", "Ada")])?);
/// # Ok(()) }
/// ```
///
/// # Datasets
///
/// A [`Dataset`](crate::Dataset) is a local copy: records (JSON or your `serde` types)
/// edited by id or position and sent as one diff by `push_dataset`; `pull_dataset_with`
/// reads any version back.
///
/// ```no_run
/// # async fn run(client: llmobs::Client) -> llmobs::Result<()> {
/// use llmobs::{DatasetRecord, PullDataset};
/// use serde_json::json;
///
/// let records = [DatasetRecord::new(json!({"q": "2+2"})).expected_output(json!("4")).id("sum")];
/// let mut dataset = client.create_dataset("arithmetic", records).await?;
/// dataset.delete("sum")?;
/// client.push_dataset(&mut dataset).await?;
/// let first = client.pull_dataset_with("arithmetic", PullDataset { version: Some(1), ..Default::default() }).await?;
/// assert_eq!(first.len(), 1);
/// # Ok(()) }
/// ```
///
/// # Experiments
///
/// [`experiment`](Self::experiment) runs an async task over each record's input (a JSON
/// value or any type it deserializes into), with bounded concurrency, retries, timeouts
/// and cancellation ([`RunOptions`](crate::RunOptions)); one span per record and the
/// evaluations are sent as the run goes. The task may fail with any error.
///
/// ```no_run
/// # async fn run(client: llmobs::Client, dataset: llmobs::Dataset) -> llmobs::Result<()> {
/// use llmobs::{EvaluatorContext, RunOptions};
/// use serde_json::Value;
///
/// let results = client
///     .experiment("echo", dataset, |input: Value, _config| async move {
///         Ok::<_, std::io::Error>(input)
///     })
///     .evaluator("exact", |ctx: &EvaluatorContext| ctx.expected_output.as_ref() == Some(&ctx.output))
///     .build()?
///     .run(RunOptions { jobs: 20, max_retries: 2, ..RunOptions::default() })
///     .await?;
/// let again = client.pull_experiment(&results.experiment_id).await?;
/// println!("{results}\n{}", again.results);
/// # Ok(()) }
/// ```
///
/// # Evaluators
///
/// A closure evaluator sees an [`EvaluatorContext`](crate::EvaluatorContext) over JSON or
/// over your types, and returns a value (`bool`, a number, text), an
/// [`EvaluatorResult`](crate::EvaluatorResult) with reasoning and tags, several results, an
/// `Option` of these (`None`: no evaluation for that row) or a `Result`. Summary
/// evaluators see every row at once.
///
/// ```no_run
/// # fn build(builder: llmobs::ExperimentBuilder) -> llmobs::ExperimentBuilder {
/// use llmobs::{EvaluatorContext, EvaluatorResult, SummaryContext};
/// use serde_json::json;
///
/// builder
///     .evaluator("length", |ctx: &EvaluatorContext<String, String, String>| {
///         EvaluatorResult::new(ctx.output.len() as f64).reasoning("characters")
///     })
///     .summary_evaluator("pass_rate", |ctx: &SummaryContext| ctx.rate_of("exact", &json!(true)))
/// # }
/// ```
///
/// # Caching
///
/// `get_prompt` looks in memory (a bounded LRU), then on disk, then asks the registry.
/// A cached copy older than the TTL is still returned at once, and one background
/// refresh per key replaces it; while the registry is down the stale copy keeps being
/// served, and a 404 on refresh evicts it. Environment-resolved prompts stay in memory.
/// A successful write (`create_*`, `update_*`, `set_label`, `delete_prompt`) evicts every
/// cached copy of that prompt id in this process. The disk tier is kept per origin and
/// organisation ([`prompt_cache_dir`](Self::prompt_cache_dir)), so clients of different
/// servers or keys never share cached prompts.
///
/// ```no_run
/// # async fn run(client: llmobs::Client) -> llmobs::Result<()> {
/// let prompt = client.get_prompt("greeting").await?; // memory, disk, then the registry
/// println!("{} from {}, {:?} old, cached in {}", prompt.id(), prompt.source(), prompt.age(),
///          client.prompt_cache_dir().display());
/// client.clear_prompt_cache(true, true).await;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// Every method returns [`Error`], classified by [`Error::kind`]
/// ([`ErrorKind`](crate::ErrorKind)), with the server's detail in its message and the
/// cause in [`source`](std::error::Error::source).
///
/// ```no_run
/// # async fn run(client: llmobs::Client) {
/// use llmobs::ErrorKind;
///
/// match client.pull_dataset("missing").await {
///     Ok(dataset) => println!("{} records", dataset.len()),
///     Err(err) if err.kind() == ErrorKind::NotFound => println!("create it first"),
///     Err(err) if err.is_transport() => println!("server unreachable: {err}"),
///     Err(err) => println!("{err}"),
/// }
/// # }
/// ```
///
/// [`blocking::Client`]: crate::blocking::Client
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) http: reqwest::Client,
    /// Project ids by name (create-or-get answers, spec E1).
    pub(crate) projects: Mutex<std::collections::HashMap<String, String>>,
    pub(crate) hot: Option<HotCache>,
    /// The TTL in nanoseconds (when caching is on).
    pub(crate) ttl_nanos: u64,
    pub(crate) warm: Option<DiskCache>,
    /// Keys with a background refresh in flight.
    pub(crate) refreshing: Mutex<HashSet<Key>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config = &self.inner.config;
        f.debug_struct("Client")
            .field("base_url", &config.base_url)
            .field("env", &config.env)
            .field("ttl", &config.ttl)
            .field("file_cache", &self.inner.warm.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when the application installed a provider already: keep theirs.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Client {
    /// A builder with defaults and no keys (see [`ClientBuilder`]).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from the environment, as ddtrace is (see [`ClientBuilder`]).
    pub fn from_env() -> Result<Client> {
        ClientBuilder::from_env().build()
    }

    pub(crate) fn from_config(config: Config) -> Result<Client> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::transport)?;
        let hot = config.ttl.map(|_| HotCache::new(config.hot_capacity));
        let warm = (config.ttl.is_some() && config.file_cache).then(|| DiskCache::of(&config));
        Ok(Client {
            inner: Arc::new(Inner {
                ttl_nanos: config
                    .ttl
                    .map_or(u64::MAX, |ttl| u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX)),
                config,
                http,
                hot,
                warm,
                refreshing: Mutex::new(HashSet::new()),
                projects: Mutex::new(std::collections::HashMap::new()),
            }),
        })
    }
}

/// Checks at compile time that the clients and the error can cross threads.
#[allow(dead_code)]
fn _assert_impls() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send_sync<T: Send + Sync>() {}
    send_sync_clone::<Client>();
    send_sync_clone::<crate::blocking::Client>();
    send_sync::<Error>();
    send_sync::<crate::Prompt>();
}
