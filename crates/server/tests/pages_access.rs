//! The web UI's sign-in, sign-out, session cookie, loopback option and CSRF checks.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use llmobs_server::Config;

use crate::util::{API, APP, App, OTHER_APP};

/// A browser request: method, path, cookie, form body, extra headers; from 10.0.0.1
/// (not loopback) unless `loopback`.
pub struct Browser<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub cookie: Option<&'a str>,
    pub form: Option<Vec<(&'a str, &'a str)>>,
    pub headers: Vec<(&'a str, &'a str)>,
    pub loopback: bool,
}

impl<'a> Browser<'a> {
    pub fn get(path: &'a str) -> Self {
        Browser { method: "GET", path, cookie: None, form: None, headers: vec![], loopback: false }
    }

    pub fn post(path: &'a str, form: Vec<(&'a str, &'a str)>) -> Self {
        Browser { method: "POST", form: Some(form), ..Browser::get(path) }
    }

    pub fn cookie(mut self, cookie: &'a str) -> Self {
        self.cookie = Some(cookie);
        self
    }

    pub fn header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }

    pub async fn send(self, app: &App) -> (StatusCode, HeaderMap, String) {
        let mut request = Request::builder().method(self.method).uri(self.path);
        request = request.header("host", "ui.test");
        if let Some(cookie) = self.cookie {
            request = request.header("cookie", cookie);
        }
        for (name, value) in &self.headers {
            request = request.header(*name, *value);
        }
        let body = match &self.form {
            Some(form) => {
                request = request.header("content-type", "application/x-www-form-urlencoded");
                Body::from(serde_urlencoded::to_string(form).unwrap())
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).unwrap();
        let peer = match self.loopback {
            true => std::net::SocketAddr::from(([127, 0, 0, 1], 50_000)),
            false => std::net::SocketAddr::from(([10, 0, 0, 1], 50_000)),
        };
        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        app.request(request).await
    }
}

/// Signs in with `api` (and `app`); returns the cookie to send back (`name=value`).
pub async fn sign_in(app: &App, api: &str, app_key: Option<&str>) -> String {
    let mut form = vec![("api_key", api)];
    if let Some(key) = app_key {
        form.push(("app_key", key));
    }
    let (status, headers, body) = Browser::post("/sign-in", form).send(app).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(headers["location"], "/");
    let set = headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

/// The CSRF token a page's forms carry.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("no CSRF field on the page") + 19;
    page[at..at + page[at..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn signing_in_keeps_the_keys_in_a_cookie_and_signing_out_forgets_them() {
    let app = App::new().await;
    // Not on loopback and not signed in: 401, with a link to the sign-in page.
    let (status, _, page) = Browser::get("/llm/experiments").send(&app).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    assert!(page.contains("href=\"/sign-in\""), "{page}");
    let (status, _, form) = Browser::get("/sign-in").send(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("name=\"api_key\"") && form.contains("name=\"app_key\""), "{form}");

    let cookie = sign_in(&app, API, None).await;
    let (status, _, page) = Browser::get("/llm/experiments").cookie(&cookie).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("org: ") && page.contains("Sign out"), "{page}");
    // The key is in no link or form of the page.
    assert!(!page.contains(API), "the page shows the key: {page}");

    let csrf = csrf_of(&page);
    // Sign-out needs the session's token.
    let (status, _, _) =
        Browser::post("/sign-out", vec![("csrf", "wrong")]).cookie(&cookie).send(&app).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) =
        Browser::post("/sign-out", vec![("csrf", &csrf)]).cookie(&cookie).send(&app).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/sign-in");
    assert!(headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn wrong_keys_answer_the_form_again_with_what_is_wrong() {
    let app = App::new().await;
    let (status, headers, page) =
        Browser::post("/sign-in", vec![("api_key", "<script>nope")]).send(&app).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(!headers.contains_key("set-cookie"));
    assert!(page.contains("API key is not valid") && page.contains("name=\"api_key\""), "{page}");
    assert!(!page.contains("<script>nope"), "{page}");
    let (status, _, page) =
        Browser::post("/sign-in", vec![("api_key", API), ("app_key", OTHER_APP)]).send(&app).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("another org"), "{page}");
    let (status, _, page) = Browser::post("/sign-in", vec![("api_key", "")]).send(&app).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    // A stale cookie (a key that no longer exists) asks to sign in again.
    let stale = "llmobs_session=api=gone&csrf=x";
    let (status, _, page) = Browser::get("/llm/prompts").cookie(stale).send(&app).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    assert!(page.contains("sign in again"), "{page}");
}

#[tokio::test]
async fn forms_sent_from_another_site_are_refused() {
    let app = App::new().await;
    let form = || vec![("api_key", API), ("app_key", APP)];
    for (name, value) in [("origin", "http://evil.test"), ("sec-fetch-site", "cross-site")] {
        let (status, headers, page) =
            Browser::post("/sign-in", form()).header(name, value).send(&app).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {page}");
        assert!(!headers.contains_key("set-cookie"));
    }
    let (status, _, _) =
        Browser::post("/sign-in", form()).header("origin", "http://ui.test").send(&app).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_loopback_option_decides_whether_loopback_browsers_sign_in() {
    let open = App::new().await;
    open.store().create_org_keys("default", "default-api-key", "default-app-key").await.unwrap();
    let (status, _, page) =
        Browser { loopback: true, ..Browser::get("/llm/experiments") }.send(&open).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("org: default") && page.contains("open on this machine"), "{page}");
    assert!(page.contains("href=\"/sign-in\""), "{page}");

    let closed = App::with_config(Config { ui_loopback_open: false, ..Config::default() }).await;
    let (status, _, page) =
        Browser { loopback: true, ..Browser::get("/llm/experiments") }.send(&closed).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    let (_, _, form) = Browser::get("/sign-in").send(&closed).await;
    assert!(form.contains("--ui-loopback-open false"), "{form}");
}
