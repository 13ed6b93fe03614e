//! An in-process server for tests, on `127.0.0.1:0` with a fresh SQLite file.
//!
//! ```no_run
//! # async fn demo() {
//! let server = llmobs_server::test_support::TestServer::start().await;
//! let url = format!("{}/healthz", server.origin());
//! # let _ = url;
//! # }
//! ```

use std::net::SocketAddr;

use llmobs_store::{Database, Store};
use tokio::sync::oneshot;

use crate::{AppState, Config};

/// The API key every test server accepts.
pub const API_KEY: &str = "test-api-key-0001";
/// The application key every test server accepts.
pub const APP_KEY: &str = "test-app-key-0001";

/// A running server. It stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    base_path: String,
    store: Store,
    stop: Option<oneshot::Sender<()>>,
    /// For `start_blocking`: the thread that owns the runtime.
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with default settings on the current runtime.
    pub async fn start() -> TestServer {
        Self::start_with(Config::default()).await
    }

    /// Starts a server that also serves every route under `prefix`.
    pub async fn start_with_base_path(prefix: &str) -> TestServer {
        Self::start_with(Config::default().with_base_path(prefix).expect("valid base path")).await
    }

    /// Starts a server with `config` on the current runtime.
    pub async fn start_with(config: Config) -> TestServer {
        let (dir, store, listener) = prepare().await;
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let base_path = config.base_path.clone();
        let state = AppState::new(store.clone(), config);
        tokio::spawn(async move {
            let _ = crate::serve(listener, state, async move {
                let _ = stopped.await;
            })
            .await;
        });
        TestServer { addr, base_path, store, stop: Some(stop), thread: None, _dir: dir }
    }

    /// Starts a server on a thread of its own, for plain `#[test]` functions.
    pub fn start_blocking() -> TestServer {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async move {
                let (dir, store, listener) = prepare().await;
                let addr = listener.local_addr().expect("local address");
                let (stop, stopped) = oneshot::channel::<()>();
                let state = AppState::new(store.clone(), Config::default());
                ready_tx.send((addr, store, stop, dir)).expect("test thread gone");
                let _ = crate::serve(listener, state, async move {
                    let _ = stopped.await;
                })
                .await;
            });
        });
        let (addr, store, stop, dir) = ready_rx.recv().expect("test server failed to start");
        TestServer {
            addr,
            base_path: String::new(),
            store,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT` plus the base path, if any.
    pub fn origin(&self) -> String {
        format!("http://{}{}", self.addr, self.base_path)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API key of the `default` org.
    pub fn api_key(&self) -> &str {
        API_KEY
    }

    /// The application key of the `default` org.
    pub fn app_key(&self) -> &str {
        APP_KEY
    }

    /// The store behind the server, to check what was stored.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

async fn prepare() -> (tempfile::TempDir, Store, tokio::net::TcpListener) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store =
        Store::open(&Database::Sqlite(dir.path().join("llmobs.db"))).await.expect("open store");
    store.create_org_keys(llmobs_store::DEFAULT_ORG, API_KEY, APP_KEY).await.expect("initial keys");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    (dir, store, listener)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
