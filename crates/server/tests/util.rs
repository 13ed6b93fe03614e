//! A fresh server per test, and a compact way to call it.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use llmobs_server::{AppState, Config};
use llmobs_store::Store;
use serde_json::Value;
use tower::ServiceExt;

pub const API: &str = "org-a-api-key";
pub const APP: &str = "org-a-app-key";
pub const OTHER_API: &str = "org-b-api-key";
pub const OTHER_APP: &str = "org-b-app-key";
pub const PROMPTS: &str = "/api/unstable/llm-obs/v1/prompts";
pub const V1: &str = "/api/unstable/llm-obs/v1";
pub const V2: &str = "/api/v2/llm-obs/v1";

/// The keys a request carries.
#[derive(Clone, Copy)]
pub enum Keys {
    None,
    Api,
    Both,
    Custom(Option<&'static str>, Option<&'static str>),
}

pub struct App {
    router: Router,
    _store: Store,
    _dir: tempfile::TempDir,
}

impl App {
    pub async fn new() -> App {
        App::with_config(Config::default()).await
    }

    pub async fn with_config(config: Config) -> App {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path()).await;
        store.create_org_keys("a", API, APP).await.unwrap();
        store.create_org_keys("b", OTHER_API, OTHER_APP).await.unwrap();
        let router = llmobs_server::router(AppState::new(store.clone(), config));
        App { router, _store: store, _dir: dir }
    }

    /// Sends a request; `body` is sent as is (raw text) when given.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        keys: Keys,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        self.send(method, path, keys, &[], body.map(String::into_bytes)).await
    }

    /// Sends a request with extra headers and a raw body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        keys: Keys,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> (StatusCode, Value) {
        let request = request(method, path, keys, headers, body);
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        keys: Keys,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.raw(method, path, keys, body.map(|b| b.to_string())).await
    }

    /// A GET without keys from a loopback address, as a browser on the server's machine
    /// sends it; returns the status and the body as text.
    pub async fn loopback(&self, path: &str) -> (StatusCode, String) {
        let mut request = Request::builder().method("GET").uri(path).body(Body::empty()).unwrap();
        let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 50_000));
        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Sends `request` as it is; returns the status, the headers and the body as text.
    pub async fn request(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The server's store.
    pub fn store(&self) -> &Store {
        &self._store
    }

    /// A write with both keys that must succeed; returns the body.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, Keys::Both, body).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {value}");
        value
    }

    /// Creates prompt `id` with a one-message chat template.
    pub async fn create(&self, id: &str) -> Value {
        self.ok(
            "POST",
            PROMPTS,
            Some(serde_json::json!({"prompt_id": id, "template": [{"role": "user", "content": "v1 {{x}}"}]})),
        )
        .await
    }
}

/// The request [`App::send`] sends: the keys, then each of `headers` once.
pub fn request(
    method: &str,
    path: &str,
    keys: Keys,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Request<Body> {
    let (api, app) = match keys {
        Keys::None => (None, None),
        Keys::Api => (Some(API), None),
        Keys::Both => (Some(API), Some(APP)),
        Keys::Custom(api, app) => (api, app),
    };
    let mut request = Request::builder().method(method).uri(path);
    if let Some(api) = api {
        request = request.header("DD-API-KEY", api);
    }
    if let Some(app) = app {
        request = request.header("DD-APPLICATION-KEY", app);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap()
}

#[test]
fn send_puts_each_extra_header_on_the_request_once() {
    let headers = [("Content-Encoding", "gzip"), ("X-Datadog-EVP-Subdomain", "llmobs-intake")];
    let request = request("POST", "/api/v2/llmobs", Keys::Both, &headers, None);
    for name in ["content-encoding", "x-datadog-evp-subdomain", "dd-api-key", "dd-application-key"]
    {
        assert_eq!(request.headers().get_all(name).iter().count(), 1, "{name}");
    }
}

/// A fresh store: a SQLite file in `dir`, or, when `LLMOBS_TEST_DATABASE_URL` names a
/// PostgreSQL server (as `scripts/test.sh` sets it for its PostgreSQL run), a new database
/// created on that server for this test alone.
pub async fn open_store(dir: &std::path::Path) -> Store {
    llmobs_store::test_db::open(dir).await
}

/// The path of prompt `id`, percent-encoded like ddtrace does.
pub fn path(id: &str) -> String {
    format!("{PROMPTS}/{}", llmobs_core::encoding::path_segment(id))
}

pub fn detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap_or_else(|| panic!("no detail in {body}"))
}
