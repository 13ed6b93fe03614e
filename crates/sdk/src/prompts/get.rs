//! `get_prompt`: the memory tier, then the disk tier, then one request to the registry,
//! then the fallback; background refreshes of stale copies, and the parsing of read
//! answers (spec §3.2, §4).

use std::borrow::Borrow;
use std::sync::{Arc, LazyLock};

use llmobs_core::encoding::{path_segment, query_value};
use llmobs_core::prompts::{PROMPTS_PATH, RESOLVE_TYPE, Template};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::cache_key::{Key, KeyRef, SelectorRef};
use super::prompt::{GetPrompt, Prompt, Source};
use super::warm::DiskCache;
use crate::client::Inner;
use crate::clock;
use crate::config::Config;
use crate::error::{BoxError, ErrorKind, extract_detail, transport_text};
use crate::{Client, Error, Result};

const SDK_LANGUAGE: &str = "rust";
/// The options of a plain `get_prompt`.
pub(crate) static LATEST: LazyLock<GetPrompt> = LazyLock::new(GetPrompt::new);
const NO_APP_KEY_FOR_RESOLVE: &str =
    "an app key or Service Access Token is required to resolve prompts for an environment";

/// Why a read failed: the server's detail or the transport error, the status (0 for
/// none), its class and the underlying error.
#[derive(Debug)]
struct Failure {
    reason: String,
    status: u16,
    kind: ErrorKind,
    source: Option<BoxError>,
}

impl Failure {
    fn local(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Failure { reason: reason.into(), status: 0, kind, source: None }
    }

    fn status(status: u16, reason: String) -> Self {
        let kind = match status {
            200..=299 => ErrorKind::Server,
            other => ErrorKind::of_status(other),
        };
        Failure { reason, status, kind, source: None }
    }

    fn transport(err: reqwest::Error) -> Self {
        let kind = if err.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Transport };
        Failure { reason: transport_text(&err), status: 0, kind, source: Some(Box::new(err)) }
    }

    fn into_error(self, prompt_id: &str) -> Error {
        Error::Unavailable {
            prompt_id: prompt_id.to_owned(),
            reason: self.reason,
            status: self.status,
            kind: self.kind,
            source: self.source,
        }
    }
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
    /// The latest version of a prompt (or, when the client has an environment, the
    /// version resolved for it). See [`get_prompt_with`](Self::get_prompt_with).
    pub async fn get_prompt(&self, prompt_id: &str) -> Result<Arc<Prompt>> {
        self.get_prompt_with(prompt_id, &*LATEST).await
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
    ///
    /// The options are taken by value or by reference:
    ///
    /// ```no_run
    /// # async fn run(client: llmobs::Client) -> llmobs::Result<()> {
    /// use llmobs::GetPrompt;
    ///
    /// let id = String::from("greeting");
    /// let production = client.get_prompt_with(&id, GetPrompt::new().label("production")).await?;
    /// let options = GetPrompt::new().version(3);
    /// let third = client.get_prompt_with(&id, &options).await?;
    /// println!("{} and {}", production.version(), third.version());
    /// # Ok(()) }
    /// ```
    pub async fn get_prompt_with(
        &self,
        prompt_id: &str,
        options: impl Borrow<GetPrompt>,
    ) -> Result<Arc<Prompt>> {
        let options = options.borrow();
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
            Err(failure) => {
                let from_dir = || inner.config.prompt_dir.as_ref()?.fallback(prompt_id);
                match options.fallback.clone().or_else(from_dir) {
                    Some(fallback) => Ok(Arc::new(Prompt::from_fallback(prompt_id, fallback))),
                    None => Err(failure.into_error(prompt_id)),
                }
            }
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
                Err(failure.into_error(prompt_id))
            }
        }
    }

    /// The directory of this client's on-disk prompt cache: the cache directory's
    /// subdirectory for this client's origin and organisation (a hash of the origin and
    /// the API key, never the key itself), so that clients of different servers or
    /// organisations never read each other's prompts. Whether or not the file cache is
    /// on, and whether or not the directory exists yet.
    pub fn prompt_cache_dir(&self) -> std::path::PathBuf {
        DiskCache::of(&self.inner.config).root().to_owned()
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
                None => DiskCache::of(&inner.config).clear(),
            }
        }
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

impl Inner {
    pub(super) fn require_api_key(&self) -> Result<&str> {
        self.config.api_key.as_deref().ok_or_else(|| Error::Auth {
            status: 0,
            detail: "DD_API_KEY is required for prompt operations".into(),
        })
    }

    pub(super) fn require_app_key(&self) -> Result<&str> {
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

    pub(super) fn url(&self, tail: &str) -> String {
        let mut url =
            String::with_capacity(self.config.base_url.len() + PROMPTS_PATH.len() + tail.len());
        url.push_str(&self.config.base_url);
        url.push_str(PROMPTS_PATH);
        url.push_str(tail);
        url
    }

    pub(super) fn request(
        &self,
        method: Method,
        url: &str,
        api_key: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .header("X-Datadog-SDK-Language", SDK_LANGUAGE)
            .header("DD-API-KEY", api_key)
    }

    /// One read request (E1–E4), parsed per spec §3.2.
    async fn fetch(&self, key: KeyRef<'_>) -> Result<Prompt, Failure> {
        let api_key =
            self.require_api_key().map_err(|err| Failure::local(ErrorKind::Auth, err.detail()))?;
        if key.id == "." || key.id == ".." {
            return Err(Failure::local(
                ErrorKind::Validation,
                format!("prompt_id {:?} cannot be used in a URL path", key.id),
            ));
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
                    return Err(Failure::local(ErrorKind::Auth, NO_APP_KEY_FOR_RESOLVE));
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
        let response = request.send().await.map_err(Failure::transport)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(Failure::transport)?;
        let text = std::str::from_utf8(&bytes).map_err(|err| Failure {
            reason: err.to_string(),
            status,
            kind: ErrorKind::Server,
            source: Some(Box::new(err)),
        })?;
        if status != 200 {
            return Err(Failure::status(status, extract_detail(text)));
        }
        parse_read(text, label, source).ok_or(Failure::status(status, String::new()))
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
    pub(super) async fn evict_prompt(&self, id: &str) {
        if let Some(hot) = &self.hot {
            hot.remove_prompt(id);
        }
        if let Some(warm) = &self.warm {
            warm.evict_prompt(id);
        }
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
}
