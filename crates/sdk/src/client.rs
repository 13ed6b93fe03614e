//! The async [`Client`]: its configuration, connection pool and prompt caches. Its
//! methods live with their area: `prompts`, `datasets`, `experiments`, `judge`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Once};

use crate::config::Config;
use crate::prompts::cache_key::Key;
use crate::prompts::hot::HotCache;
use crate::prompts::warm::DiskCache;
use crate::{ClientBuilder, Error, Result};

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
