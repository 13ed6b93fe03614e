//! The async client: `get_prompt` with its two cache tiers, and the registry's CRUD.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex, Once};

use llmobs_core::encoding::{path_segment, query_value};
use llmobs_core::prompts::{
    CreatePromptRequest, CreateVersionRequest, Deleted, PROMPTS_PATH, PromptRecord, RESOLVE_TYPE,
    Template, UpdatePromptRequest, UpdateVersionRequest, Version,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::clock;
use crate::config::Config;
use crate::error::{extract_detail, transport_text};
use crate::hot::HotCache;
use crate::key::{Key, KeyRef, SelectorRef};
use crate::prompt::{GetPrompt, Prompt, Source};
use crate::warm::DiskCache;
use crate::{ClientBuilder, Error, Result};

const SDK_LANGUAGE: &str = "rust";
/// The options of a plain `get_prompt`.
pub(crate) static LATEST: LazyLock<GetPrompt> = LazyLock::new(GetPrompt::new);
const NO_APP_KEY_FOR_RESOLVE: &str =
    "an app key or Service Access Token is required to resolve prompts for an environment";

/// The prompt registry client (async).
///
/// Cloning is cheap and clones share the caches and the connection pool.
///
/// # Caching
///
/// `get_prompt` looks in memory (a bounded LRU), then on disk, then asks the registry.
/// A cached copy older than the TTL is still returned at once, and one background
/// refresh per key replaces it; while the registry is down the stale copy keeps being
/// served, and a 404 on refresh evicts it. Environment-resolved prompts stay in memory.
/// A successful write (`create_*`, `update_*`, `delete_prompt`) evicts every cached
/// copy of that prompt id in this process.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) http: reqwest::Client,
    /// Project ids by name (create-or-get answers, spec E1).
    pub(crate) projects: Mutex<std::collections::HashMap<String, String>>,
    hot: Option<HotCache>,
    /// The TTL in nanoseconds (when caching is on).
    ttl_nanos: u64,
    warm: Option<DiskCache>,
    /// Keys with a background refresh in flight.
    refreshing: Mutex<HashSet<Key>>,
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

/// Why a read failed: the server's detail or the transport error, the status (0 for
/// none) and whether it timed out.
#[derive(Debug, Clone)]
struct Failure {
    reason: String,
    status: u16,
    timeout: bool,
}

impl Failure {
    fn local(reason: impl Into<String>) -> Self {
        Failure { reason: reason.into(), status: 0, timeout: false }
    }

    fn transport(err: &reqwest::Error) -> Self {
        Failure { reason: transport_text(err), status: 0, timeout: err.is_timeout() }
    }
}

pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when the application installed a provider already: keep theirs.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Warns about options a call ignores (spec §5.1).
fn warn_ignored(options: &GetPrompt) {
    let targeting = options.targeting_key.is_some() || !options.attributes.is_empty();
    if options.version.is_some() && (options.label.is_some() || targeting) {
        tracing::warn!("get_prompt: a version was given; label and targeting are ignored");
    } else if options.label.is_some() && targeting {
        tracing::warn!("get_prompt: a label was given; targeting key and attributes are ignored");
    }
}

/// The selector of a `get_prompt` call, borrowed from its options (spec §4.1).
fn selector<'a>(
    config: &'a Config,
    options: &'a GetPrompt,
    attributes: &'a mut String,
) -> SelectorRef<'a> {
    if let Some(version) = options.version {
        return SelectorRef::Version(version);
    }
    if let Some(label) = &options.label {
        return SelectorRef::Label(label);
    }
    match &config.env {
        Some(env) => {
            llmobs_core::pyjson::write_object(attributes, &options.attributes, true);
            SelectorRef::Resolve {
                env,
                targeting_key: options.targeting_key.as_deref(),
                attributes,
            }
        }
        None => SelectorRef::Latest,
    }
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
        let warm = (config.ttl.is_some() && config.file_cache)
            .then(|| DiskCache::new(config.cache_dir.clone()));
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

    /// The latest version of a prompt (or, when the client has an environment, the
    /// version resolved for it). See [`get_prompt_with`](Self::get_prompt_with).
    pub async fn get_prompt(&self, prompt_id: &str) -> Result<Arc<Prompt>> {
        self.get_prompt_with(prompt_id, &LATEST).await
    }

    /// A prompt, selected by `options` (version, label, or environment resolution with
    /// a targeting key and attributes).
    ///
    /// Served from memory, else from disk, else fetched with one request. A cached copy
    /// older than the TTL is returned at once and refreshed in the background (one
    /// refresh per key at a time). When the prompt is neither cached nor fetchable,
    /// returns the fallback (never cached) or [`Error::Unavailable`] naming the prompt
    /// and the reason.
    ///
    /// # Errors
    ///
    /// [`Error::Auth`] with status 0 when no API key is configured, even with a
    /// fallback; [`Error::Unavailable`] as above.
    pub async fn get_prompt_with(
        &self,
        prompt_id: &str,
        options: &GetPrompt,
    ) -> Result<Arc<Prompt>> {
        if let Some(answer) = self.get_hot(prompt_id, options, None) {
            return answer;
        }
        self.get_prompt_slow(prompt_id, options).await
    }

    /// A memory hit, answered without awaiting anything; `None` on a miss. A stale hit
    /// starts its refresh on `runtime` (or the current runtime).
    pub(crate) fn get_hot(
        &self,
        prompt_id: &str,
        options: &GetPrompt,
        runtime: Option<&tokio::runtime::Handle>,
    ) -> Option<Result<Arc<Prompt>>> {
        let inner = &*self.inner;
        if let Err(err) = inner.require_api_key() {
            return Some(Err(err));
        }
        warn_ignored(options);
        let hot = inner.hot.as_ref()?;
        let mut attributes = String::new();
        let key =
            KeyRef { id: prompt_id, selector: selector(&inner.config, options, &mut attributes) };
        let hit = hot.get(key)?;
        if inner.is_stale(&hit, clock::coarse()) {
            self.spawn_refresh(key, runtime);
        }
        Some(Ok(hit))
    }

    /// Disk, then the registry, then the fallback: what follows a memory miss. Boxed,
    /// so that the future of a memory hit stays a few bytes instead of carrying the HTTP
    /// machinery's state.
    pub(crate) fn get_prompt_slow<'a>(
        &'a self,
        prompt_id: &'a str,
        options: &'a GetPrompt,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Arc<Prompt>>> + Send + 'a>> {
        Box::pin(self.get_prompt_slow_inner(prompt_id, options))
    }

    async fn get_prompt_slow_inner(
        &self,
        prompt_id: &str,
        options: &GetPrompt,
    ) -> Result<Arc<Prompt>> {
        let inner = &*self.inner;
        inner.require_api_key()?;
        let mut attributes = String::new();
        let key =
            KeyRef { id: prompt_id, selector: selector(&inner.config, options, &mut attributes) };
        if let Some(hot) = &inner.hot
            && let Some(warm) = inner.warm.as_ref().filter(|_| !is_resolve(key))
            && let Some(found) = warm.read(key)
        {
            let found = Arc::new(found);
            hot.insert(key.to_owned(), found.clone());
            if inner.is_stale(&found, clock::coarse()) {
                self.spawn_refresh(key, None);
            }
            return Ok(found);
        }
        match inner.fetch(key).await {
            Ok(prompt) => {
                inner.store(key, &prompt).await;
                Ok(Arc::new(prompt))
            }
            Err(failure) => match &options.fallback {
                Some(fallback) => Ok(Arc::new(Prompt::from_fallback(prompt_id, fallback.clone()))),
                None => Err(Error::Unavailable {
                    prompt_id: prompt_id.to_owned(),
                    reason: failure.reason,
                    status: failure.status,
                    timeout: failure.timeout,
                }),
            },
        }
    }

    /// Fetches a prompt now, bypassing the caches, and caches the answer: the version
    /// with `label` if given, else the environment's (without targeting), else the
    /// latest.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the fetch fails; a 404 also evicts that key from both
    /// tiers, any other failure leaves the cache as it was.
    pub async fn refresh_prompt(
        &self,
        prompt_id: &str,
        label: Option<&str>,
    ) -> Result<Arc<Prompt>> {
        let inner = &*self.inner;
        inner.require_api_key()?;
        let selector = match (label, &inner.config.env) {
            (Some(label), _) => SelectorRef::Label(label),
            (None, Some(env)) => {
                SelectorRef::Resolve { env, targeting_key: None, attributes: "{}" }
            }
            (None, None) => SelectorRef::Latest,
        };
        let key = KeyRef { id: prompt_id, selector };
        match inner.fetch(key).await {
            Ok(prompt) => {
                inner.store(key, &prompt).await;
                Ok(Arc::new(prompt))
            }
            Err(failure) => {
                if failure.status == 404 {
                    inner.evict_key(key).await;
                }
                Err(Error::Unavailable {
                    prompt_id: prompt_id.to_owned(),
                    reason: failure.reason,
                    status: failure.status,
                    timeout: failure.timeout,
                })
            }
        }
    }

    /// Empties the in-memory tier (`hot`) and/or the on-disk tier (`warm`).
    ///
    /// Clearing the disk removes the cache files and prompt directories under the
    /// cache directory, even when this client does not use the file cache; other files
    /// are left alone and the directory is not created.
    pub async fn clear_prompt_cache(&self, hot: bool, warm: bool) {
        let inner = &*self.inner;
        if hot && let Some(cache) = &inner.hot {
            cache.clear();
        }
        if warm {
            match &inner.warm {
                Some(disk) => disk.clear(),
                None => DiskCache::new(inner.config.cache_dir.clone()).clear(),
            }
        }
    }

    /// Creates a prompt and its version 1 (`POST /prompts`).
    ///
    /// ```no_run
    /// # async fn run(client: llmobs::Client) -> llmobs::Result<()> {
    /// use llmobs::{ChatItem, NewPrompt, Template};
    ///
    /// let template = Template::Chat(vec![ChatItem::message("user", "Hi {{name}}")]);
    /// let created = client.create_prompt(NewPrompt::new("greeting", template).title("Greeting")).await?;
    /// assert_eq!(created.num_versions, 1);
    /// # Ok(()) }
    /// ```
    pub async fn create_prompt(
        &self,
        request: impl Into<CreatePromptRequest>,
    ) -> Result<PromptRecord> {
        let request = request.into();
        let body = to_body(&request)?;
        let id = request.prompt_id.clone();
        let created = self.inner.crud(Method::POST, String::new(), Some(body), true).await?;
        self.inner.evict_prompt(&id).await;
        Ok(created)
    }

    /// Adds a version to a prompt (`POST /prompts/{id}/versions`).
    pub async fn create_prompt_version(
        &self,
        prompt_id: &str,
        request: impl Into<CreateVersionRequest>,
    ) -> Result<Version> {
        let body = to_body(&request.into())?;
        let tail = format!("/{}/versions", segment(prompt_id)?);
        let created = self.inner.crud(Method::POST, tail, Some(body), true).await?;
        self.inner.evict_prompt(prompt_id).await;
        Ok(created)
    }

    /// Changes a prompt's title and/or description (`PATCH /prompts/{id}`). An empty
    /// string clears the field.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] without a request when neither field is set.
    pub async fn update_prompt(
        &self,
        prompt_id: &str,
        request: UpdatePromptRequest,
    ) -> Result<PromptRecord> {
        if request.title.is_none() && request.description.is_none() {
            return Err(Error::InvalidRequest {
                detail: "At least one of title or description must be provided".into(),
            });
        }
        let body = to_body(&request)?;
        let tail = format!("/{}", segment(prompt_id)?);
        let updated = self.inner.crud(Method::PATCH, tail, Some(body), true).await?;
        self.inner.evict_prompt(prompt_id).await;
        Ok(updated)
    }

    /// Changes a version's labels, description and/or environments
    /// (`PATCH /prompts/{id}/versions/{version}`). Labels and environments are
    /// replaced; an empty list clears them.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] without a request when no field is set.
    pub async fn update_prompt_version(
        &self,
        prompt_id: &str,
        version: u64,
        request: UpdateVersionRequest,
    ) -> Result<Version> {
        if request.labels.is_none() && request.description.is_none() && request.env_ids.is_none() {
            return Err(Error::InvalidRequest {
                detail: "At least one of labels, description, or env_ids must be provided".into(),
            });
        }
        let body = to_body(&request)?;
        let tail = format!("/{}/versions/{version}", segment(prompt_id)?);
        let updated = self.inner.crud(Method::PATCH, tail, Some(body), true).await?;
        self.inner.evict_prompt(prompt_id).await;
        Ok(updated)
    }

    /// Deletes a prompt and all its versions (`DELETE /prompts/{id}`).
    pub async fn delete_prompt(&self, prompt_id: &str) -> Result<Deleted> {
        let tail = format!("/{}", segment(prompt_id)?);
        let deleted = self.inner.crud(Method::DELETE, tail, None, true).await?;
        self.inner.evict_prompt(prompt_id).await;
        Ok(deleted)
    }

    /// Every prompt in the registry (`GET /prompts`). Needs only the API key.
    pub async fn list_prompts(&self) -> Result<Vec<PromptRecord>> {
        self.inner.crud(Method::GET, String::new(), None, false).await
    }

    /// A prompt's versions, newest first (`GET /prompts/{id}/versions`); empty for an
    /// unknown prompt. Needs only the API key.
    pub async fn list_prompt_versions(&self, prompt_id: &str) -> Result<Vec<Version>> {
        let tail = format!("/{}/versions", segment(prompt_id)?);
        self.inner.crud(Method::GET, tail, None, false).await
    }

    /// Starts the background refresh of `key` unless one is in flight.
    fn spawn_refresh(&self, key: KeyRef<'_>, runtime: Option<&tokio::runtime::Handle>) {
        let current = tokio::runtime::Handle::try_current();
        let Some(runtime) = runtime.or(current.as_ref().ok()) else {
            tracing::debug!("no Tokio runtime: the stale prompt is not refreshed");
            return;
        };
        let key = key.to_owned();
        {
            let mut refreshing = self.inner.refreshing.lock().unwrap_or_else(|e| e.into_inner());
            if !refreshing.insert(key.clone()) {
                return;
            }
        }
        let inner = self.inner.clone();
        runtime.spawn(async move {
            let _done = RefreshGuard { inner: &inner, key: &key };
            match inner.fetch(key.as_ref()).await {
                Ok(prompt) => inner.store(key.as_ref(), &prompt).await,
                Err(failure) if failure.status == 404 => inner.evict_key(key.as_ref()).await,
                Err(failure) => {
                    tracing::debug!(prompt_id = %key.id, reason = %failure.reason,
                        "prompt refresh failed; serving the stale copy");
                }
            }
        });
    }

    /// Whether a background refresh of this prompt's latest version is in flight (for
    /// tests and diagnostics).
    #[doc(hidden)]
    pub fn refreshes_in_flight(&self) -> usize {
        self.inner.refreshing.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Removes a key from the in-flight set when its refresh ends, however it ends.
struct RefreshGuard<'a> {
    inner: &'a Inner,
    key: &'a Key,
}

impl Drop for RefreshGuard<'_> {
    fn drop(&mut self) {
        self.inner.refreshing.lock().unwrap_or_else(|e| e.into_inner()).remove(self.key);
    }
}

fn is_resolve(key: KeyRef<'_>) -> bool {
    matches!(key.selector, SelectorRef::Resolve { .. })
}

fn to_body<T: serde::Serialize>(request: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(request).map_err(|err| Error::InvalidRequest { detail: err.to_string() })
}

/// A prompt id as a path segment. `.` and `..` cannot be sent: URL parsers remove such
/// segments, which would address another resource.
fn segment(prompt_id: &str) -> Result<String> {
    if prompt_id == "." || prompt_id == ".." {
        return Err(Error::InvalidRequest {
            detail: format!("prompt_id {prompt_id:?} cannot be used in a URL path"),
        });
    }
    Ok(path_segment(prompt_id))
}

impl Inner {
    fn require_api_key(&self) -> Result<&str> {
        self.config.api_key.as_deref().ok_or_else(|| Error::Auth {
            status: 0,
            detail: "DD_API_KEY is required for prompt operations".into(),
        })
    }

    fn require_app_key(&self) -> Result<&str> {
        self.config.app_key.as_deref().ok_or_else(|| Error::Auth {
            status: 0,
            detail: "DD_APP_KEY is required for prompt write operations".into(),
        })
    }

    /// Older than the TTL (strictly), with `now` in epoch nanoseconds.
    fn is_stale(&self, prompt: &Prompt, now: u64) -> bool {
        match prompt.fetched_at {
            Some(fetched_at) => now.saturating_sub(fetched_at) > self.ttl_nanos,
            None => false,
        }
    }

    fn url(&self, tail: &str) -> String {
        let mut url =
            String::with_capacity(self.config.base_url.len() + PROMPTS_PATH.len() + tail.len());
        url.push_str(&self.config.base_url);
        url.push_str(PROMPTS_PATH);
        url.push_str(tail);
        url
    }

    fn request(&self, method: Method, url: &str, api_key: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .header("X-Datadog-SDK-Language", SDK_LANGUAGE)
            .header("DD-API-KEY", api_key)
    }

    /// One read request (E1–E4), parsed per spec §3.2.
    async fn fetch(&self, key: KeyRef<'_>) -> Result<Prompt, Failure> {
        let api_key = self.require_api_key().map_err(|err| Failure::local(err.detail()))?;
        if key.id == "." || key.id == ".." {
            return Err(Failure::local(format!(
                "prompt_id {:?} cannot be used in a URL path",
                key.id
            )));
        }
        let id = path_segment(key.id);
        let mut label = None;
        let mut source = Source::Registry;
        let request = match key.selector {
            SelectorRef::Latest => self.request(Method::GET, &self.url(&format!("/{id}")), api_key),
            SelectorRef::Label("") => {
                self.request(Method::GET, &self.url(&format!("/{id}")), api_key)
            }
            SelectorRef::Label(text) => {
                label = Some(text);
                let url = self.url(&format!("/{id}?label={}", query_value(text)));
                self.request(Method::GET, &url, api_key)
            }
            SelectorRef::Version(version) => {
                self.request(Method::GET, &self.url(&format!("/{id}/versions/{version}")), api_key)
            }
            SelectorRef::Resolve { env, targeting_key, attributes } => {
                let Some(app_key) = self.config.app_key.as_deref() else {
                    return Err(Failure::local(NO_APP_KEY_FOR_RESOLVE));
                };
                source = Source::Resolve;
                let context: Map<String, Value> =
                    serde_json::from_str(attributes).unwrap_or_default();
                let mut body = Map::new();
                body.insert("env".into(), Value::from(env));
                if let Some(key) = targeting_key {
                    body.insert("targeting_key".into(), Value::from(key));
                }
                if !context.is_empty() {
                    body.insert("context".into(), Value::Object(context));
                }
                let body = json!({"data": {"type": RESOLVE_TYPE, "attributes": body}});
                self.request(Method::POST, &self.url(&format!("/{id}/resolve")), api_key)
                    .header("Content-Type", "application/json")
                    .header("DD-APPLICATION-KEY", app_key)
                    .body(serde_json::to_vec(&body).unwrap_or_default())
            }
        };
        let response = request.send().await.map_err(|err| Failure::transport(&err))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|err| Failure::transport(&err))?;
        let text = std::str::from_utf8(&bytes).map_err(|err| Failure {
            reason: err.to_string(),
            status,
            timeout: false,
        })?;
        if status != 200 {
            return Err(Failure { reason: extract_detail(text), status, timeout: false });
        }
        parse_read(text, label, source).ok_or(Failure {
            reason: String::new(),
            status,
            timeout: false,
        })
    }

    /// Caches a fetched prompt: memory always, disk unless it was resolved.
    async fn store(&self, key: KeyRef<'_>, prompt: &Prompt) {
        let Some(hot) = &self.hot else { return };
        hot.insert(key.to_owned(), Arc::new(prompt.with_source(Source::Cache)));
        if let Some(warm) = self.warm.as_ref().filter(|_| !is_resolve(key)) {
            warm.write(key, prompt);
        }
    }

    async fn evict_key(&self, key: KeyRef<'_>) {
        if let Some(hot) = &self.hot {
            hot.remove(key);
        }
        if let Some(warm) = &self.warm {
            warm.evict_key(key);
        }
    }

    /// Evicts every cached copy of `id` (all selectors), and no other id.
    async fn evict_prompt(&self, id: &str) {
        if let Some(hot) = &self.hot {
            hot.remove_prompt(id);
        }
        if let Some(warm) = &self.warm {
            warm.evict_prompt(id);
        }
    }

    /// One registry management call (E5–E11).
    async fn crud<T: DeserializeOwned>(
        &self,
        method: Method,
        tail: String,
        body: Option<Vec<u8>>,
        write: bool,
    ) -> Result<T> {
        let api_key = self.require_api_key()?;
        let app_key =
            if write { Some(self.require_app_key()?) } else { self.config.app_key.as_deref() };
        let mut request = self
            .request(method, &self.url(&tail), api_key)
            .header("Content-Type", "application/json");
        if let Some(app_key) = app_key {
            request = request.header("DD-APPLICATION-KEY", app_key);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(Error::transport)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(Error::transport)?;
        let text = std::str::from_utf8(&bytes).map_err(|err| Error::Transport {
            detail: format!("the response body is not UTF-8: {err}"),
            timeout: false,
            source: None,
        })?;
        if !(200..300).contains(&status) {
            return Err(Error::from_status(status, extract_detail(text)));
        }
        let text = if text.trim().is_empty() { "{}" } else { text };
        let mut value: Value = serde_json::from_str(text).map_err(|_| Error::Server {
            status,
            detail: "invalid JSON in response body".into(),
        })?;
        normalize_ids(&mut value);
        serde_json::from_value(value).map_err(|err| Error::Server {
            status,
            detail: format!("unexpected response body: {err}"),
        })
    }
}

/// An object holding both `id` and `ID` keeps `id` (what the reference client shows).
fn normalize_ids(value: &mut Value) {
    let fix = |item: &mut Value| {
        if let Value::Object(map) = item
            && map.contains_key("id")
        {
            map.remove("ID");
        }
    };
    match value {
        Value::Array(items) => items.iter_mut().for_each(fix),
        other => fix(other),
    }
}

/// JSON truthiness as Python sees it.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Parses a read response (E1–E4) as the reference client does (spec §3.2).
fn parse_read(text: &str, requested_label: Option<&str>, source: Source) -> Option<Prompt> {
    let value: Value = serde_json::from_str(text).ok()?;
    let body = value.as_object()?;
    let id = body.get("prompt_id").filter(|v| truthy(v)).map(scalar_text)?;
    let version = body
        .get("user_version")
        .filter(|v| truthy(v))
        .or_else(|| body.get("version").filter(|v| truthy(v)))
        .map(scalar_text)?;
    let label = match body.get("label") {
        Some(Value::String(label)) => Some(label.clone()),
        Some(Value::Null) => None,
        Some(other) => Some(other.to_string()),
        None => requested_label.map(str::to_owned),
    };
    let template =
        match ["template", "chat_template"].iter().find_map(|k| body.get(*k).filter(|v| truthy(v)))
        {
            Some(value) => Template::from_value_lenient(value),
            None => Template::Chat(Vec::new()),
        };
    let config = match body.get("config") {
        None => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return None,
    };
    let string = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(Prompt {
        id,
        version,
        label,
        source,
        template,
        prompt_uuid: string("prompt_uuid"),
        version_uuid: string("prompt_version_uuid")
            .or_else(|| string("id"))
            .or_else(|| string("ID")),
        config,
        fetched_at: Some(clock::precise()),
    })
}

/// Checks at compile time that the clients and the error can cross threads.
#[allow(dead_code)]
fn _assert_impls() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send_sync<T: Send + Sync>() {}
    send_sync_clone::<Client>();
    send_sync_clone::<crate::blocking::Client>();
    send_sync::<Error>();
    send_sync::<Prompt>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_responses_are_parsed_like_the_reference_client() {
        let parse = |text: &str| parse_read(text, None, Source::Registry);
        let ok = |text: &str| parse(text).unwrap();
        assert_eq!(ok(r#"{"prompt_id":"p","version":7}"#).version, "7");
        assert_eq!(ok(r#"{"prompt_id":"p","version":"7"}"#).version, "7");
        assert!(parse(r#"{"prompt_id":"p","version":0}"#).is_none());
        assert!(parse(r#"{"prompt_id":"p"}"#).is_none());
        assert_eq!(ok(r#"{"prompt_id":"p","version":2,"user_version":""}"#).version, "2");
        assert_eq!(ok(r#"{"prompt_id":"p","version":2,"user_version":5}"#).version, "5");
        assert!(parse(r#"{"version":"1"}"#).is_none());
        assert_eq!(ok(r#"{"prompt_id":"other","version":"1"}"#).id, "other");
        assert!(parse(r#"{"data":{"prompt_id":"p","version":"1"}}"#).is_none());
        assert!(parse(r#"[{"prompt_id":"p","version":"1"}]"#).is_none());
        let both = ok(
            r#"{"prompt_id":"p","version":"1","template":"t","chat_template":[{"role":"u","content":"c"}]}"#,
        );
        assert_eq!(both.template, Template::Text("t".into()));
        for empty in [r#""template":"""#, r#""template":null"#, r#""x":1"#] {
            let prompt = ok(&format!(r#"{{"prompt_id":"p","version":"1",{empty}}}"#));
            assert_eq!(prompt.template, Template::Chat(vec![]), "{empty}");
        }
        assert_eq!(
            ok(r#"{"prompt_id":"p","version":"1","label":"l"}"#).label.as_deref(),
            Some("l")
        );
        assert_eq!(
            parse_read(r#"{"prompt_id":"p","version":"1"}"#, Some("x"), Source::Registry)
                .unwrap()
                .label
                .as_deref(),
            Some("x")
        );
        assert_eq!(
            ok(r#"{"prompt_id":"p","version":"1","ID":"v"}"#).version_uuid.as_deref(),
            Some("v")
        );
        assert_eq!(
            ok(r#"{"prompt_id":"p","version":"1","id":"v","prompt_version_uuid":"w"}"#)
                .version_uuid
                .as_deref(),
            Some("w")
        );
        assert!(parse(r#"{"prompt_id":"p","version":"1","config":null}"#).is_none());
        assert!(parse(r#"{"prompt_id":"p","version":"1","config":[1]}"#).is_none());
        assert_eq!(ok(r#"{"prompt_id":"p","version":"1","config":{"m":1}}"#).config["m"], 1);
    }

    #[test]
    fn ids_are_normalized_for_typed_parsing() {
        let mut value = json!([{"ID": "u"}, {"id": "l", "ID": "u2"}]);
        normalize_ids(&mut value);
        assert_eq!(value, json!([{"ID": "u"}, {"id": "l"}]));
    }
}
