//! Client settings: from the environment (the same variables as ddtrace) and from the
//! builder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{Error, Result};

/// Default staleness threshold of both cache tiers.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);
/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of entries the in-memory tier holds.
pub const DEFAULT_HOT_CAPACITY: usize = 1024;

/// The resolved settings a client runs with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) api_key: Option<String>,
    pub(crate) app_key: Option<String>,
    /// Scheme, host, port and path prefix, without a trailing `/`.
    pub(crate) base_url: String,
    pub(crate) env: Option<String>,
    /// `None` disables caching.
    pub(crate) ttl: Option<Duration>,
    pub(crate) file_cache: bool,
    pub(crate) cache_dir: PathBuf,
    pub(crate) timeout: Duration,
    pub(crate) hot_capacity: usize,
    /// The default project of datasets and experiments.
    pub(crate) project_name: String,
    /// Where UI links (`/llm/experiments/{id}`) point: the override origin when set,
    /// else the site's UI host (spec §4.9).
    pub(crate) ui_base: String,
    /// How datasets, experiments and span intake are reached (spec §1.1).
    pub(crate) routing: Routing,
    /// Prompt files whose templates are `get_prompt`'s fallback.
    pub(crate) prompt_dir: Option<std::sync::Arc<crate::PromptDir>>,
}

/// How experiment traffic travels (spec §1.1): straight to the API and intake hosts
/// (agentless), or through a Datadog agent's `/evp_proxy/v2`.
#[derive(Debug, Clone)]
pub(crate) struct Routing {
    /// Whether an override origin is set (it then receives all traffic).
    pub(crate) overridden: bool,
    pub(crate) agentless: bool,
    /// The span intake host when agentless without an override.
    pub(crate) intake_url: String,
    /// The agent, without a trailing `/`.
    pub(crate) agent_url: String,
}

/// Where one request goes, and with which keys and proxy headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) url: String,
    /// Send `DD-API-KEY` (and, off intake, `DD-APPLICATION-KEY`).
    pub(crate) keys: bool,
    /// `X-Datadog-EVP-Subdomain`, when going through the agent proxy.
    pub(crate) subdomain: Option<&'static str>,
    /// `X-Datadog-NeedsAppKey: true`: the agent adds the application key.
    pub(crate) needs_app_key: bool,
}

/// The agent's proxy prefix.
const EVP_PROXY: &str = "/evp_proxy/v2";

impl Config {
    /// The route of a request to `path`: an API call, or span intake when `intake`.
    pub(crate) fn route(&self, path: &str, intake: bool) -> Route {
        let r = &self.routing;
        let direct = |base: &str| Route {
            url: format!("{base}{path}"),
            keys: true,
            subdomain: None,
            needs_app_key: false,
        };
        let proxied = |base: &str, subdomain, needs_app_key| Route {
            url: format!("{base}{EVP_PROXY}{path}"),
            keys: false,
            subdomain: Some(subdomain),
            needs_app_key,
        };
        match (intake, r.agentless, r.overridden) {
            (false, _, true) | (false, true, false) => direct(&self.base_url),
            (false, false, false) if self.app_key.is_some() => direct(&self.base_url),
            (false, false, false) => proxied(&r.agent_url, "api", true),
            (true, true, true) => direct(&self.base_url),
            (true, true, false) => direct(&r.intake_url),
            (true, false, true) => proxied(&self.base_url, "llmobs-intake", false),
            (true, false, false) => proxied(&r.agent_url, "llmobs-intake", false),
        }
    }
}

/// Builds a [`Client`](crate::Client).
///
/// [`ClientBuilder::new`] starts from defaults only; [`ClientBuilder::from_env`] first
/// reads the settings ddtrace reads. Every setter overrides what came before it.
///
/// | Variable | Setter | Default |
/// |---|---|---|
/// | `DD_API_KEY` | [`api_key`](Self::api_key) | none: every prompt operation fails with an auth error |
/// | `DD_APP_KEY`, else `DD_APPLICATION_KEY` | [`app_key`](Self::app_key) | none: writes and environment resolution fail |
/// | `DD_SITE` | [`site`](Self::site) | `datadoghq.com` (base URL `https://api.{site}`) |
/// | `DD_LLMOBS_OVERRIDE_ORIGIN` | [`origin`](Self::origin) | unset; replaces the base URL, its path is kept as a prefix |
/// | `DD_ENV` | [`env`](Self::env) | unset; when set, `get_prompt` resolves through `/resolve` |
/// | `DD_LLMOBS_PROMPTS_CACHE_TTL` (seconds) | [`cache_ttl`](Self::cache_ttl) | 60 s; `<= 0` disables caching |
/// | `DD_LLMOBS_PROMPTS_FILE_CACHE_ENABLED` | [`file_cache`](Self::file_cache) | **on** (ddtrace: off) |
/// | `DD_LLMOBS_PROMPTS_CACHE_DIR` | [`cache_dir`](Self::cache_dir) | `~/.cache/datadog/llmobs/prompts` |
/// | `DD_LLMOBS_PROMPTS_TIMEOUT` (seconds) | [`timeout`](Self::timeout) | 5 s |
/// | `DD_LLMOBS_PROJECT_NAME` | [`project_name`](Self::project_name) | `default-project` (datasets, experiments) |
/// | `DD_LLMOBS_AGENTLESS_ENABLED`, else `DD_AGENTLESS_ENABLED` | [`agentless`](Self::agentless) | agentless (ddtrace probes the agent instead) |
/// | `DD_TRACE_AGENT_URL` | [`agent_url`](Self::agent_url) | `http://localhost:8126` |
///
/// The on-disk cache is **on by default**, unlike ddtrace: a process that starts while
/// the registry is unreachable still gets the prompts an earlier process fetched. Set
/// `DD_LLMOBS_PROMPTS_FILE_CACHE_ENABLED=false` (or call `file_cache(false)`) to keep
/// prompts in memory only. Files are written with mode 0600 in 0700 directories.
///
/// `DD_ENV` is read when the client is built, not at every call as ddtrace does.
#[derive(Debug, Clone, Default)]
pub struct ClientBuilder {
    api_key: Option<String>,
    app_key: Option<String>,
    site: Option<String>,
    origin: Option<String>,
    env: Option<String>,
    ttl: Option<Duration>,
    file_cache: Option<bool>,
    cache_dir: Option<PathBuf>,
    timeout: Option<Duration>,
    hot_capacity: Option<usize>,
    project_name: Option<String>,
    agentless: Option<bool>,
    agent_url: Option<String>,
    prompt_dir: Option<PathBuf>,
    error: Option<String>,
}

/// ddtrace's `asbool`: `true` and `1` (any case) are true.
fn as_bool(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "1")
}

/// Seconds as a float; `<= 0` maps to zero.
fn parse_seconds(name: &str, value: &str) -> std::result::Result<Duration, String> {
    let seconds: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{name} must be a number of seconds, not {value:?}"))?;
    if seconds.is_nan() {
        return Err(format!("{name} must be a number of seconds, not {value:?}"));
    }
    if seconds <= 0.0 {
        return Ok(Duration::ZERO);
    }
    Ok(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

impl ClientBuilder {
    /// A builder with no keys and default settings; reads no environment variable.
    pub fn new() -> Self {
        ClientBuilder::default()
    }

    /// A builder preset from the environment variables in the table above.
    pub fn from_env() -> Self {
        ClientBuilder::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any source of variables.
    pub(crate) fn from_vars(env_var: impl Fn(&str) -> Option<String>) -> Self {
        let mut builder = ClientBuilder::new();
        builder.api_key = env_var("DD_API_KEY");
        builder.app_key = env_var("DD_APP_KEY")
            .filter(|key| !key.is_empty())
            .or_else(|| env_var("DD_APPLICATION_KEY"));
        builder.site = env_var("DD_SITE");
        builder.origin = env_var("DD_LLMOBS_OVERRIDE_ORIGIN");
        builder.env = env_var("DD_ENV");
        builder.project_name = env_var("DD_LLMOBS_PROJECT_NAME");
        builder.agentless = env_var("DD_LLMOBS_AGENTLESS_ENABLED")
            .or_else(|| env_var("DD_AGENTLESS_ENABLED"))
            .filter(|v| !v.trim().is_empty())
            .map(|v| as_bool(&v));
        builder.agent_url = env_var("DD_TRACE_AGENT_URL").filter(|v| !v.trim().is_empty());
        let mut errors = Vec::new();
        if let Some(value) = env_var("DD_LLMOBS_PROMPTS_CACHE_TTL") {
            match parse_seconds("DD_LLMOBS_PROMPTS_CACHE_TTL", &value) {
                Ok(ttl) => builder.ttl = Some(ttl),
                Err(err) => errors.push(err),
            }
        }
        if let Some(value) = env_var("DD_LLMOBS_PROMPTS_TIMEOUT") {
            match parse_seconds("DD_LLMOBS_PROMPTS_TIMEOUT", &value) {
                Ok(timeout) if timeout > Duration::ZERO => builder.timeout = Some(timeout),
                Ok(_) => errors.push("DD_LLMOBS_PROMPTS_TIMEOUT must be positive".to_owned()),
                Err(err) => errors.push(err),
            }
        }
        if let Some(value) = env_var("DD_LLMOBS_PROMPTS_FILE_CACHE_ENABLED") {
            builder.file_cache = Some(as_bool(&value));
        }
        if let Some(value) = env_var("DD_LLMOBS_PROMPTS_CACHE_DIR").filter(|v| !v.is_empty()) {
            builder.cache_dir = Some(expand_home(&value, home_dir()));
        }
        if !errors.is_empty() {
            builder.error = Some(errors.join("; "));
        }
        builder
    }

    /// The API key (`DD-API-KEY`), required for every prompt operation.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The application key (`DD-APPLICATION-KEY`), required for writes and for
    /// environment resolution.
    pub fn app_key(mut self, key: impl Into<String>) -> Self {
        self.app_key = Some(key.into());
        self
    }

    /// The Datadog site, such as `datadoghq.eu`: the base URL becomes
    /// `https://api.{site}`. Ignored when an origin is set.
    pub fn site(mut self, site: impl Into<String>) -> Self {
        self.site = Some(site.into());
        self
    }

    /// The server to talk to, such as `http://127.0.0.1:8126/proxy/sub`. Without a
    /// scheme, `https://` is assumed. A path is kept as a prefix of every request path;
    /// a query or fragment is dropped.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// The environment (`DD_ENV`): `get_prompt` without a version or label resolves
    /// the prompt for it through `/resolve`. An empty string means none.
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }

    /// How long a cached copy is fresh. `Duration::ZERO` disables both cache tiers:
    /// every `get_prompt` makes a request.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Turns the on-disk cache on (the default) or off.
    pub fn file_cache(mut self, enabled: bool) -> Self {
        self.file_cache = Some(enabled);
        self
    }

    /// The directory of the on-disk cache; a leading `~` is expanded.
    pub fn cache_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cache_dir = Some(expand_home(&dir.as_ref().to_string_lossy(), home_dir()));
        self
    }

    /// The timeout of every request, background refreshes included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How many prompts (per selector) the in-memory tier keeps; least recently used
    /// entries go first. Default 1024.
    pub fn hot_capacity(mut self, capacity: usize) -> Self {
        self.hot_capacity = Some(capacity);
        self
    }

    /// The project that datasets and experiments belong to when a call names none.
    pub fn project_name(mut self, name: impl Into<String>) -> Self {
        self.project_name = Some(name.into());
        self
    }

    /// Agentless (the default) or through a Datadog agent (spec §1.1). Through the
    /// agent, spans go to its `/evp_proxy/v2/api/v2/llmobs` without keys, and API calls
    /// too when no application key is set; with an override origin, only spans take
    /// the proxy path, on the origin.
    pub fn agentless(mut self, agentless: bool) -> Self {
        self.agentless = Some(agentless);
        self
    }

    /// The agent of agent mode (default `http://localhost:8126`).
    pub fn agent_url(mut self, url: impl Into<String>) -> Self {
        self.agent_url = Some(url.into());
        self
    }

    /// A directory written by `llmobs prompts pull` (prompt files and their lockfile):
    /// when `get_prompt` finds no cached copy and cannot reach the registry, and the call
    /// gives no fallback of its own, the prompt's file is used, shown as its pinned
    /// version. The directory is read when the client is built.
    pub fn prompt_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.prompt_dir = Some(dir.as_ref().to_owned());
        self
    }

    pub(crate) fn into_config(self) -> Result<Config> {
        if let Some(error) = self.error {
            return Err(Error::Config(error));
        }
        let site = self.site.as_deref().filter(|s| !s.is_empty()).unwrap_or("datadoghq.com");
        let overridden = self.origin.as_deref().is_some_and(|o| !o.trim().is_empty());
        let base_url = match self.origin.as_deref().filter(|o| !o.trim().is_empty()) {
            Some(origin) => normalize_origin(origin),
            None => format!("https://api.{site}"),
        };
        let routing = Routing {
            overridden,
            agentless: self.agentless.unwrap_or(true),
            intake_url: format!("https://llmobs-intake.{site}"),
            agent_url: normalize_origin(
                self.agent_url.as_deref().unwrap_or("http://localhost:8126"),
            ),
        };
        let ui_base = match self.origin.as_deref().filter(|o| !o.trim().is_empty()) {
            Some(_) => base_url.clone(),
            None => {
                ui_base(self.site.as_deref().filter(|s| !s.is_empty()).unwrap_or("datadoghq.com"))
            }
        };
        let ttl = self.ttl.unwrap_or(DEFAULT_CACHE_TTL);
        let prompt_dir = match &self.prompt_dir {
            Some(dir) => Some(std::sync::Arc::new(crate::PromptDir::load(dir)?)),
            None => None,
        };
        Ok(Config {
            prompt_dir,
            project_name: self
                .project_name
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "default-project".to_owned()),
            ui_base,
            routing,
            api_key: self.api_key.filter(|key| !key.is_empty()),
            app_key: self.app_key.filter(|key| !key.is_empty()),
            base_url,
            env: self.env.filter(|env| !env.is_empty()),
            ttl: (ttl > Duration::ZERO).then_some(ttl),
            file_cache: self.file_cache.unwrap_or(true),
            cache_dir: self.cache_dir.unwrap_or_else(default_cache_dir),
            timeout: self.timeout.filter(|t| !t.is_zero()).unwrap_or(DEFAULT_TIMEOUT),
            hot_capacity: self.hot_capacity.unwrap_or(DEFAULT_HOT_CAPACITY).max(1),
        })
    }

    /// Builds the client.
    ///
    /// Fails only when a setting read from the environment could not be parsed. Building
    /// does no I/O and needs no runtime; the on-disk cache directory is created on the
    /// first write.
    pub fn build(self) -> Result<crate::Client> {
        crate::Client::from_config(self.into_config()?)
    }
}

/// The UI host of a site (spec §4.9).
fn ui_base(site: &str) -> String {
    match site {
        "datadoghq.com" | "datadoghq.eu" | "ddog-gov.com" => format!("https://app.{site}"),
        "datad0g.com" => "https://dd.datad0g.com".to_owned(),
        other => format!("https://{other}"),
    }
}

/// Keeps scheme, authority and path; drops query and fragment and trailing slashes.
pub(crate) fn normalize_origin(origin: &str) -> String {
    let origin = origin.trim();
    let mut origin =
        if origin.contains("://") { origin.to_owned() } else { format!("https://{origin}") };
    if let Some(cut) = origin.find(['?', '#']) {
        origin.truncate(cut);
    }
    while origin.ends_with('/') {
        origin.pop();
    }
    origin
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|home| !home.is_empty()).map(PathBuf::from)
}

fn expand_home(path: &str, home: Option<PathBuf>) -> PathBuf {
    if path == "~" {
        return home.unwrap_or_else(|| PathBuf::from(path));
    }
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = home
    {
        return home.join(rest);
    }
    PathBuf::from(path)
}

fn default_cache_dir() -> PathBuf {
    match home_dir() {
        Some(home) => home.join(".cache/datadog/llmobs/prompts"),
        None => std::env::temp_dir().join("datadog/llmobs/prompts"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_is_routed_as_the_reference_client_does() {
        let config = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> =
                vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            ClientBuilder::from_vars(|name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            })
            .into_config()
            .unwrap()
        };
        let api = "/api/unstable/llm-obs/v1/projects";
        let spans = "/api/v2/llmobs";
        let route = |c: &Config, path: &str, intake: bool| {
            let r = c.route(path, intake);
            (r.url, r.keys, r.subdomain, r.needs_app_key)
        };
        // Agentless, no override: the API host and the intake host, with keys.
        let c = config(&[("DD_SITE", "datadoghq.eu")]);
        assert_eq!(
            route(&c, api, false),
            (format!("https://api.datadoghq.eu{api}"), true, None, false)
        );
        assert_eq!(
            route(&c, spans, true),
            (format!("https://llmobs-intake.datadoghq.eu{spans}"), true, None, false)
        );
        // Agent mode without an app key: both through the agent's proxy.
        let c = config(&[
            ("DD_LLMOBS_AGENTLESS_ENABLED", "false"),
            ("DD_TRACE_AGENT_URL", "http://agent:8126/"),
        ]);
        assert_eq!(
            route(&c, api, false),
            (format!("http://agent:8126/evp_proxy/v2{api}"), false, Some("api"), true)
        );
        assert_eq!(
            route(&c, spans, true),
            (format!("http://agent:8126/evp_proxy/v2{spans}"), false, Some("llmobs-intake"), false)
        );
        // With an app key the API goes direct.
        let c = config(&[("DD_AGENTLESS_ENABLED", "0"), ("DD_APP_KEY", "k")]);
        assert_eq!(route(&c, api, false).0, format!("https://api.datadoghq.com{api}"));
        // An override origin takes everything; agent mode only changes the span path.
        let o = "http://127.0.0.1:7580/base";
        let c =
            config(&[("DD_LLMOBS_OVERRIDE_ORIGIN", o), ("DD_LLMOBS_AGENTLESS_ENABLED", "false")]);
        assert_eq!(route(&c, api, false), (format!("{o}{api}"), true, None, false));
        assert_eq!(
            route(&c, spans, true),
            (format!("{o}/evp_proxy/v2{spans}"), false, Some("llmobs-intake"), false)
        );
        let c = config(&[("DD_LLMOBS_OVERRIDE_ORIGIN", o)]);
        assert_eq!(route(&c, spans, true), (format!("{o}{spans}"), true, None, false));
    }

    #[test]
    fn origins_keep_their_path_prefix() {
        assert_eq!(normalize_origin("http://h:1/proxy/sub/"), "http://h:1/proxy/sub");
        assert_eq!(normalize_origin("h.example:8443"), "https://h.example:8443");
        assert_eq!(normalize_origin("http://h/p?x=1#f"), "http://h/p");
        assert_eq!(normalize_origin("http://h:1"), "http://h:1");
    }

    #[test]
    fn defaults_and_overrides() {
        let config = ClientBuilder::new().into_config().unwrap();
        assert_eq!(config.base_url, "https://api.datadoghq.com");
        assert_eq!(config.ttl, Some(DEFAULT_CACHE_TTL));
        assert!(config.file_cache);
        assert_eq!(config.timeout, DEFAULT_TIMEOUT);
        let config = ClientBuilder::new()
            .site("datadoghq.eu")
            .cache_ttl(Duration::ZERO)
            .env("")
            .api_key("")
            .into_config()
            .unwrap();
        assert_eq!(config.base_url, "https://api.datadoghq.eu");
        assert_eq!((config.ttl, config.env, config.api_key), (None, None, None));
    }

    #[test]
    fn the_environment_is_read_like_ddtrace() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            ClientBuilder::from_vars(move |name| {
                pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string())
            })
        };
        let config = vars(&[
            ("DD_API_KEY", "api"),
            ("DD_APPLICATION_KEY", "application"),
            ("DD_SITE", "datadoghq.eu"),
            ("DD_ENV", "prod"),
            ("DD_LLMOBS_PROMPTS_CACHE_TTL", "0.5"),
            ("DD_LLMOBS_PROMPTS_FILE_CACHE_ENABLED", "False"),
            ("DD_LLMOBS_PROMPTS_CACHE_DIR", "/var/cache/p"),
            ("DD_LLMOBS_PROMPTS_TIMEOUT", "2.5"),
        ])
        .into_config()
        .unwrap();
        assert_eq!(config.api_key.as_deref(), Some("api"));
        assert_eq!(config.app_key.as_deref(), Some("application"));
        assert_eq!(config.base_url, "https://api.datadoghq.eu");
        assert_eq!(config.env.as_deref(), Some("prod"));
        assert_eq!(config.ttl, Some(Duration::from_millis(500)));
        assert!(!config.file_cache);
        assert_eq!(config.cache_dir, PathBuf::from("/var/cache/p"));
        assert_eq!(config.timeout, Duration::from_millis(2500));

        let config = vars(&[
            ("DD_APP_KEY", "app"),
            ("DD_APPLICATION_KEY", "application"),
            ("DD_LLMOBS_OVERRIDE_ORIGIN", "http://127.0.0.1:9/proxy/sub/"),
            ("DD_SITE", "ignored.example"),
            ("DD_LLMOBS_PROMPTS_CACHE_TTL", "-1"),
        ])
        .into_config()
        .unwrap();
        assert_eq!(config.app_key.as_deref(), Some("app"), "DD_APP_KEY wins");
        assert_eq!(config.base_url, "http://127.0.0.1:9/proxy/sub");
        assert_eq!(config.ttl, None, "a negative TTL disables caching");
        assert!(config.file_cache, "the file cache is on by default");

        let err = vars(&[("DD_LLMOBS_PROMPTS_CACHE_TTL", "soon")]).into_config().unwrap_err();
        assert!(err.to_string().contains("DD_LLMOBS_PROMPTS_CACHE_TTL"), "{err}");
        assert!(vars(&[("DD_LLMOBS_PROMPTS_TIMEOUT", "0")]).into_config().is_err());
        // Setters override the environment.
        let config = vars(&[("DD_API_KEY", "env")]).api_key("builder").into_config().unwrap();
        assert_eq!(config.api_key.as_deref(), Some("builder"));
    }

    #[test]
    fn home_is_expanded() {
        let home = Some(PathBuf::from("/home/u"));
        assert_eq!(expand_home("~/c", home.clone()), PathBuf::from("/home/u/c"));
        assert_eq!(expand_home("~", home.clone()), PathBuf::from("/home/u"));
        assert_eq!(expand_home("/abs/~", home), PathBuf::from("/abs/~"));
        assert_eq!(expand_home("~/c", None), PathBuf::from("~/c"));
    }

    #[test]
    fn seconds_parse_like_python_floats() {
        assert_eq!(parse_seconds("X", "0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_seconds("X", "-3").unwrap(), Duration::ZERO);
        assert_eq!(parse_seconds("X", " 60 ").unwrap(), Duration::from_secs(60));
        assert!(parse_seconds("X", "soon").is_err());
        assert!(as_bool("TRUE") && as_bool("1") && !as_bool("yes") && !as_bool("false"));
    }
}
