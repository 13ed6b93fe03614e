//! `llmobs serve`: run the HTTP server until SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;
use llmobs_server::{AccountSpec, AppState, Config, EvaluatorSpec, JudgeProvider};
use llmobs_store::{DEFAULT_ORG, KeyKind, Store};

use crate::store::StoreArgs;

/// The address `serve` listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7580";

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on; port 0 picks a free one.
    #[arg(long, env = "LLMOBS_LISTEN", default_value = DEFAULT_LISTEN, value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Also serve every route under this path prefix, e.g. /llmobs.
    #[arg(long, env = "LLMOBS_BASE_PATH", default_value = "", value_name = "PATH")]
    base_path: String,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "LLMOBS_MAX_BODY_BYTES", default_value_t = llmobs_server_default_limit(),
          value_name = "BYTES")]
    max_body_bytes: usize,
    /// Accept only the labels 'production' and 'development' (Datadog's documented set).
    #[arg(long)]
    strict_labels: bool,
    /// How long, in milliseconds, a cached prompt read may be served. Writes through this
    /// server drop it at once; the bound matters when servers share a database. 0 = off.
    #[arg(long, env = "LLMOBS_READ_CACHE_MS", default_value_t = 1000, value_name = "MS")]
    read_cache_ms: u64,
    /// Largest dataset upload, batch update or intake body, in bytes.
    #[arg(long, env = "LLMOBS_MAX_UPLOAD_BYTES", default_value_t = Config::default().max_upload_bytes,
          value_name = "BYTES")]
    max_upload_bytes: usize,
    /// Largest span or eval-metric intake body, in bytes, as received and once inflated.
    #[arg(long, env = "LLMOBS_MAX_INTAKE_BYTES", default_value_t = Config::default().max_intake_bytes,
          value_name = "BYTES")]
    max_intake_bytes: usize,
    /// Largest JSON string (a template, a record's input, a name) in a JSON request body,
    /// in bytes; longer ones get 413.
    #[arg(long, env = "LLMOBS_MAX_FIELD_BYTES", default_value_t = Config::default().max_field_bytes,
          value_name = "BYTES")]
    max_field_bytes: usize,
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, env = "LLMOBS_HEADER_TIMEOUT_SECS", value_name = "SECS",
          default_value_t = Config::default().header_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_secs: u64,
    /// Seconds a client has to send a whole request body; slower bodies get 408.
    #[arg(long, env = "LLMOBS_BODY_TIMEOUT_SECS", value_name = "SECS",
          default_value_t = Config::default().body_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_secs: u64,
    /// Connections served at once; more clients wait in the listen queue.
    #[arg(long, env = "LLMOBS_MAX_CONNECTIONS", value_name = "N",
          default_value_t = Config::default().max_connections as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Requests with a body over --max-body-bytes (or of unknown length) read at once;
    /// others wait up to 10 s for a turn, then get 503.
    #[arg(long, env = "LLMOBS_MAX_LARGE_REQUESTS", value_name = "N",
          default_value_t = Config::default().max_large_requests as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_large_requests: u32,
    /// Records per page of a dataset records listing when the client names no page size.
    #[arg(long, env = "LLMOBS_RECORDS_PAGE_SIZE", default_value_t = Config::default().records_page_size as u32,
          value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    records_page_size: u32,
    /// A JSON file of evaluators that remote inference can run in every org:
    /// {"evaluators": [{"name": "exact", "kind": "exact_match"}, ...]}.
    #[arg(long, env = "LLMOBS_EVALUATORS", value_name = "FILE")]
    evaluators: Option<std::path::PathBuf>,
    /// Base URL of an OpenAI-compatible API for LLM judges (e.g. http://127.0.0.1:8080/v1);
    /// its key comes from LLMOBS_JUDGE_API_KEY.
    #[arg(long, env = "LLMOBS_JUDGE_URL", value_name = "URL")]
    judge_url: Option<String>,
    /// A JSON file of LLM provider accounts (judges, inference, topic naming and
    /// embeddings): {"accounts": [{"integration": "openai", "id": "local",
    /// "base_url": "http://127.0.0.1:8000/v1", "api_key_env": "OPENAI_API_KEY"}]}.
    /// --judge-url adds an openai account with id 'judge'.
    #[arg(long, env = "LLMOBS_INTEGRATIONS", value_name = "FILE")]
    integrations: Option<std::path::PathBuf>,
    /// Show the web UI's 'default' org without sign-in to browsers on this machine
    /// (loopback addresses). Default: true when --listen is a loopback address, else false.
    #[arg(long, env = "LLMOBS_UI_LOOPBACK_OPEN", value_name = "BOOL", action = clap::ArgAction::Set)]
    ui_loopback_open: Option<bool>,
    /// Fill an empty store with a demo project (prompts, a dataset with two versions, two
    /// experiments to compare, with traces) to look at in the web UI; a store that already
    /// holds projects or prompts is left as it is.
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    store: StoreArgs,
}

fn llmobs_server_default_limit() -> usize {
    Config::default().max_body_bytes
}

/// Runs the server.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    crate::logging::init();
    let config = Config {
        max_body_bytes: args.max_body_bytes,
        strict_labels: args.strict_labels,
        read_cache_ttl: std::time::Duration::from_millis(args.read_cache_ms),
        max_upload_bytes: args.max_upload_bytes,
        records_page_size: args.records_page_size as usize,
        max_intake_bytes: args.max_intake_bytes,
        max_field_bytes: args.max_field_bytes,
        header_timeout: std::time::Duration::from_secs(args.header_timeout_secs),
        body_timeout: std::time::Duration::from_secs(args.body_timeout_secs),
        max_connections: args.max_connections as usize,
        max_large_requests: args.max_large_requests as usize,
        evaluators: match &args.evaluators {
            None => Vec::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --evaluators {}", path.display()))?;
                EvaluatorSpec::parse_file(&text)
                    .map_err(|e| anyhow::anyhow!("--evaluators {}: {e}", path.display()))?
            }
        },
        integrations: match &args.integrations {
            None => Vec::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --integrations {}", path.display()))?;
                AccountSpec::parse_file(&text, |name| std::env::var(name).ok())
                    .map_err(|e| anyhow::anyhow!("--integrations {}: {e}", path.display()))?
            }
        },
        judge: args.judge_url.clone().map(|url| JudgeProvider {
            url,
            api_key: std::env::var("LLMOBS_JUDGE_API_KEY").ok().filter(|k| !k.is_empty()),
        }),
        ui_loopback_open: args.ui_loopback_open.unwrap_or(args.listen.ip().is_loopback()),
        ..Config::default()
    }
    .with_base_path(&args.base_path)?;
    if [args.max_body_bytes, args.max_upload_bytes, args.max_intake_bytes, args.max_field_bytes]
        .contains(&0)
    {
        anyhow::bail!(
            "--max-body-bytes, --max-upload-bytes, --max-intake-bytes and --max-field-bytes \
             must be greater than 0"
        );
    }
    if let Some(url) = &args.judge_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        anyhow::bail!("--judge-url must start with http:// or https://, got '{url}'");
    }
    if args.judge_url.is_some() && config.integrations.iter().any(|a| a.id == "judge") {
        anyhow::bail!(
            "--judge-url and the --integrations account with id 'judge' both name the judge's \
             provider: keep one"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async move {
        let store = args.store.open().await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let origin = format!("http://{addr}{}", config.base_path);
        create_initial_keys(&store, &origin).await?;
        println!("listening on http://{addr}");
        match config.ui_loopback_open {
            true => println!("web UI at {origin}/ (no sign-in needed from this machine)"),
            false => println!("web UI at {origin}/ (sign in with an API key at {origin}/sign-in)"),
        }
        if args.demo {
            demo(&store, &origin).await?;
        }
        std::io::stdout().flush()?;
        llmobs_server::serve(listener, AppState::new(store.clone(), config), shutdown_signal())
            .await
            .context("serving")?;
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    });
    crate::logging::flush();
    result
}

/// The variables naming the first-start keys, each with the deprecated name it replaces
/// (from when they were called bootstrap keys, a word now kept for `llmobs bootstrap`).
const INITIAL_API_KEY: (&str, &str) = ("LLMOBS_INITIAL_API_KEY", "LLMOBS_BOOTSTRAP_API_KEY");
const INITIAL_APP_KEY: (&str, &str) = ("LLMOBS_INITIAL_APP_KEY", "LLMOBS_BOOTSTRAP_APP_KEY");

/// A first-start key from the environment: the new name, else the deprecated one (with a
/// warning). Empty values count as unset.
fn initial_key((name, deprecated): (&str, &str)) -> Option<String> {
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    from_env(name).or_else(|| {
        let value = from_env(deprecated)?;
        tracing::warn!("{deprecated} is deprecated: set {name} instead");
        Some(value)
    })
}

/// On a store with no keys, creates the `default` org's initial keys: from
/// `LLMOBS_INITIAL_API_KEY` / `LLMOBS_INITIAL_APP_KEY` when set, else random ones that are
/// printed once. Servers starting together on one empty database create them once (the
/// others find them there).
async fn create_initial_keys(store: &Store, origin: &str) -> anyhow::Result<()> {
    let api = initial_key(INITIAL_API_KEY);
    let app = initial_key(INITIAL_APP_KEY);
    if !store.has_keys().await? {
        let given = match (&api, &app) {
            (Some(api), Some(app)) => Some((api.as_str(), app.as_str())),
            (None, None) => None,
            _ => anyhow::bail!(
                "set both LLMOBS_INITIAL_API_KEY and LLMOBS_INITIAL_APP_KEY, or neither"
            ),
        };
        let made = store
            .create_first_keys(DEFAULT_ORG, given)
            .await
            .context("creating the initial keys from LLMOBS_INITIAL_API_KEY/APP_KEY")?;
        match (made, given) {
            (Some(_), Some(_)) => {
                tracing::info!("created the 'default' org with the initial keys");
                return Ok(());
            }
            (Some(keys), None) => {
                eprintln!(
                    "No keys existed, so the 'default' org got new ones. They are shown only once.\n\
                     Point ddtrace at this server with:\n\n\
                     export DD_API_KEY={}\n\
                     export DD_APP_KEY={}\n\
                     export DD_LLMOBS_OVERRIDE_ORIGIN={origin}\n\
                     export DD_LLMOBS_AGENTLESS_ENABLED=1\n\
                     export DD_TRACE_ENABLED=false  # no Datadog Agent: stops ddtrace's APM \
                     'failed to send traces' errors; LLM Observability still works\n",
                    keys.api_key, keys.app_key
                );
                return Ok(());
            }
            // Another server sharing the database created them first.
            (None, _) => {}
        }
    }
    if let Some(api) = &api
        && store.find_key(KeyKind::Api, api).await?.is_none()
    {
        tracing::warn!(
            "LLMOBS_INITIAL_API_KEY is ignored: this store already has keys \
             (create more with `llmobs keys create`)"
        );
    }
    Ok(())
}

/// Writes the demo project (`--demo`); a store that is not empty keeps what it has, with a
/// note.
async fn demo(store: &Store, origin: &str) -> anyhow::Result<()> {
    match llmobs_server::demo::fill(store).await {
        Ok(demo) => {
            let [baseline, improved] = &demo.experiment_ids;
            println!(
                "demo project '{}' written: open {origin}/ (compare {origin}/llm/experiments/{baseline} \
                 with {origin}/llm/experiments/{improved}; prompts at {origin}/llm/prompts)",
                llmobs_server::demo::DEMO_PROJECT
            );
            Ok(())
        }
        Err(llmobs_server::demo::DemoError::NotEmpty) => {
            eprintln!(
                "--demo: nothing written, this store already has projects or prompts (the demo \
                 fills only an empty store; use a new --data-dir to see it)"
            );
            Ok(())
        }
        Err(err) => Err(anyhow::Error::new(err).context("--demo")),
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
