//! Who may see and change what in the web UI: sign-in, sign-out, the session cookie and the
//! CSRF checks of the forms that write.
//!
//! A browser signs in at `/sign-in` with an API key and, to make changes, an application
//! key. The keys go into one cookie, `llmobs_session`, marked `HttpOnly` (no script reads
//! it), `SameSite=Strict` (no other site's page sends it) and `Path=/`; `Secure` too when a
//! proxy says the request came over HTTPS. No key is ever put in a URL. The cookie also
//! holds a random CSRF token (244 random bits): every form that writes carries it in a
//! hidden field, and a write goes through only when the field equals the cookie's token
//! (compared in constant time). Every `POST` of the UI is also refused when the browser says
//! it comes from another site (`Sec-Fetch-Site: cross-site`, or an `Origin` whose host is
//! not this server's), which covers the sign-in form itself, before a session exists.
//!
//! Without a session, a browser on a loopback address sees the `default` org when
//! [`Config::ui_loopback_open`](crate::Config::ui_loopback_open) is on; every page says so
//! in its header. Any other visitor is sent to sign in.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{COOKIE, HOST, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use llmobs_store::{Caller, KeyKind, OrgId};
use minijinja::context;

use super::{PageError, Place, Shown, page, render};
use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie's name.
const COOKIE_NAME: &str = "llmobs_session";

/// A signed-in browser's session, as its cookie holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Session {
    /// The API key: which org the browser sees.
    pub api_key: String,
    /// The application key, when given: needed for changes.
    pub app_key: Option<String>,
    /// The token every form that writes must send back.
    pub csrf: String,
}

impl Session {
    fn new(api_key: String, app_key: Option<String>) -> Self {
        let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        Session { api_key, app_key, csrf: token }
    }

    /// The cookie's value: the fields, form-encoded (only cookie-safe characters).
    fn encode(&self) -> String {
        let mut pairs = vec![("api", self.api_key.as_str()), ("csrf", self.csrf.as_str())];
        if let Some(app) = &self.app_key {
            pairs.push(("app", app));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    fn decode(value: &str) -> Option<Session> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(value).ok()?;
        let get = |name: &str| {
            pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
        };
        Some(Session { api_key: get("api")?, app_key: get("app"), csrf: get("csrf")? })
    }

    /// The session a request's cookie holds, if any.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Session> {
        (headers.get_all(COOKIE).iter())
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE_NAME)
            .and_then(|(_, value)| Session::decode(value))
    }

    /// Whether `token`, a form's hidden field, is this session's CSRF token.
    fn token_matches(&self, token: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// How a page's visitor got to see it.
#[derive(Debug, Clone)]
pub(crate) enum Access {
    /// A client sent `DD-API-KEY` itself.
    Key,
    /// A signed-in browser.
    Session(Session),
    /// A browser on a loopback address, without sign-in.
    Loopback,
    /// Nobody yet: the sign-in page.
    Anonymous,
}

impl Access {
    /// How the header names the access, on hover.
    pub(crate) fn note(&self) -> &'static str {
        match self {
            Access::Key => "the org of the DD-API-KEY sent",
            Access::Session(_) => "the org of the API key you signed in with",
            Access::Loopback => {
                "shown without sign-in because you are on this machine (loopback) and the \
                 server runs with --ui-loopback-open; sign in to see another org or to make \
                 changes"
            }
            Access::Anonymous => "not signed in",
        }
    }

    /// The CSRF token forms must carry; empty without a session.
    pub(crate) fn csrf(&self) -> &str {
        match self {
            Access::Session(session) => &session.csrf,
            _ => "",
        }
    }
}

/// The org of a session's API key; a key that is no longer valid is 401 (sign in again).
pub(crate) async fn session_org(state: &AppState, session: &Session) -> Result<OrgId, ApiError> {
    match state.keys.check(state, KeyKind::Api, &session.api_key).await? {
        Some(caller) => Ok(caller.org),
        None => Err(ApiError::Unauthorized(
            "the API key of this browser's session is not valid any more: sign in again at \
             /sign-in"
                .into(),
        )),
    }
}

/// Refuses a `POST` a browser says comes from another site.
fn same_site(headers: &HeaderMap) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return Err(ApiError::Forbidden(
            "this form was sent from another site; open the page on this server and send it \
             from there"
                .into(),
        ));
    }
    if let (Some(origin), Some(host)) = (header("origin"), header(HOST.as_str())) {
        let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
        if origin != "null" && origin_host.trim_end_matches('/') != host {
            return Err(ApiError::Forbidden(format!(
                "this form was sent from {origin}, not from this server ({host}); open the \
                 page on this server and send it from there"
            )));
        }
    }
    Ok(())
}

/// A form body as name-value pairs.
pub(crate) struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// Reads an `application/x-www-form-urlencoded` body.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        serde_urlencoded::from_bytes(body)
            .map(FormFields)
            .map_err(|err| ApiError::invalid(format!("the form could not be read: {err}")))
    }

    /// A field's value, trimmed; `None` when absent or empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        (self.0.iter()).find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }
}

/// The caller behind a form that writes: a signed-in session with an application key of
/// the same org, a same-site request, and the session's CSRF token in the `csrf` field.
pub(crate) async fn form_writer(
    state: &AppState,
    headers: &HeaderMap,
    form: &FormFields,
) -> Result<Caller, ApiError> {
    same_site(headers)?;
    let session = Session::from_headers(headers).ok_or_else(|| {
        ApiError::Unauthorized(
            "changes need a signed-in session: sign in at /sign-in with your API key and \
             application key"
                .into(),
        )
    })?;
    if !session.token_matches(form.get("csrf").unwrap_or("")) {
        return Err(ApiError::Forbidden(
            "the form's CSRF token does not match this browser's session: reload the page and \
             send the form again"
                .into(),
        ));
    }
    let org = session_org(state, &session).await?;
    let app_key = session.app_key.as_deref().ok_or_else(|| {
        ApiError::Forbidden(
            "changes need an application key: sign out, then sign in with your API key and \
             application key"
                .into(),
        )
    })?;
    match state.keys.check(state, KeyKind::App, app_key).await? {
        Some(caller) if caller.org == org => Ok(caller),
        Some(_) => Err(ApiError::Forbidden(
            "the application key of this session belongs to another org than its API key: sign \
             in again"
                .into(),
        )),
        None => Err(ApiError::Forbidden(
            "the application key of this session is not valid any more: sign in again".into(),
        )),
    }
}

/// The `Set-Cookie` value of a session, or of its removal.
fn cookie(headers: &HeaderMap, session: Option<&Session>) -> HeaderValue {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    let secure = if https { "; Secure" } else { "" };
    let text = match session {
        Some(session) => {
            format!("{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict{secure}", session.encode())
        }
        None => format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A `303 See Other` to `to`, with headers.
fn see_other(to: &'static str, set_cookie: HeaderValue) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(LOCATION, HeaderValue::from_static(to));
    response.headers_mut().insert(SET_COOKIE, set_cookie);
    response
}

/// The sign-in page, with `message` above the form and `status`.
fn sign_in_page(state: &AppState, status: StatusCode, message: &str) -> Result<Response, ApiError> {
    let shown = Shown {
        org: OrgId(String::new()),
        name: "not signed in".into(),
        access: Access::Anonymous,
    };
    let body =
        render("sign_in", context! { message, loopback_open => state.config.ui_loopback_open })?;
    let place = Place { section: "", crumbs: vec![("Sign in", None)] };
    Ok((status, page("Sign in", &shown, place, body)?).into_response())
}

/// `GET /sign-in`: the form.
#[utoipa::path(get, path = "/sign-in", tag = "pages",
    responses((status = 200, content_type = "text/html")))]
pub(crate) async fn sign_in_form(State(state): State<AppState>) -> Result<Response, PageError> {
    Ok(sign_in_page(&state, StatusCode::OK, "")?)
}

/// `POST /sign-in`: checks the keys and keeps them in the session cookie, then goes to `/`.
/// Wrong keys answer the form again, with what is wrong, and the status the API would give.
#[utoipa::path(post, path = "/sign-in", tag = "pages",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "api_key, and app_key for changes"),
    responses((status = 303), (status = 401, content_type = "text/html"),
              (status = 403, content_type = "text/html")))]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    same_site(&headers)?;
    let form = FormFields::parse(&body)?;
    let Some(api_key) = form.get("api_key") else {
        return Ok(sign_in_page(&state, StatusCode::UNAUTHORIZED, "Enter your API key.")?);
    };
    let session = Session::new(api_key.to_owned(), form.get("app_key").map(str::to_owned));
    let Some(api) = state.keys.check(&state, KeyKind::Api, api_key).await? else {
        return Ok(sign_in_page(
            &state,
            StatusCode::FORBIDDEN,
            "That API key is not valid here: check it, or make a new pair with llmobs keys create --org NAME on the server's machine.",
        )?);
    };
    if let Some(app_key) = &session.app_key {
        let refused = match state.keys.check(&state, KeyKind::App, app_key).await? {
            Some(app) if app.org == api.org => None,
            Some(_) => Some("That application key belongs to another org than the API key."),
            None => Some(
                "That application key is not valid here: check it, or leave it empty to only look.",
            ),
        };
        if let Some(message) = refused {
            return Ok(sign_in_page(&state, StatusCode::FORBIDDEN, message)?);
        }
    }
    Ok(see_other("/", cookie(&headers, Some(&session))))
}

/// `POST /sign-out`: forgets the session (its CSRF token must come with the form).
#[utoipa::path(post, path = "/sign-out", tag = "pages",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "csrf: the session's token"),
    responses((status = 303), (status = 403, content_type = "text/html")))]
pub(crate) async fn sign_out(headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    same_site(&headers)?;
    let form = FormFields::parse(&body)?;
    if let Some(session) = Session::from_headers(&headers)
        && !session.token_matches(form.get("csrf").unwrap_or(""))
    {
        return Err(ApiError::Forbidden(
            "the form's CSRF token does not match this browser's session: reload the page and \
             sign out again"
                .into(),
        )
        .into());
    }
    Ok(see_other("/sign-in", cookie(&headers, None)))
}

/// The sign-in page as the answer to a page that needs a key.
pub(crate) fn needs_sign_in() -> ApiError {
    ApiError::Unauthorized(
        "sign in to see this page: open /sign-in and enter your API key (browsers on this \
         machine need none while the server runs with --ui-loopback-open)"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_survives_its_cookie() {
        let session = Session::new("api key;=&%".into(), Some("app".into()));
        let header = cookie(&HeaderMap::new(), Some(&session));
        let text = header.to_str().unwrap();
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Strict"), "{text}");
        let value = text.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(&format!("other=1; {value}")).unwrap());
        assert_eq!(Session::from_headers(&headers), Some(session.clone()));
        assert!(session.token_matches(&session.csrf));
        assert!(!session.token_matches("") && !session.token_matches(&session.csrf[1..]));
    }

    #[test]
    fn posts_from_another_site_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:7580"));
        headers.insert("origin", HeaderValue::from_static("http://127.0.0.1:7580"));
        assert!(same_site(&headers).is_ok());
        headers.insert("origin", HeaderValue::from_static("http://evil.example"));
        assert!(same_site(&headers).is_err());
        headers.remove("origin");
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(same_site(&headers).is_err());
    }
}
