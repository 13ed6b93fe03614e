//! Keys: `DD-API-KEY` for every route, `DD-APPLICATION-KEY` too for writes and resolve.
//!
//! A missing key is 401, a wrong one 403. Valid keys are remembered in memory (keys are
//! never revoked while a server runs), so a request costs no key query after the first.

use std::collections::HashMap;
use std::sync::RwLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use llmobs_store::{Caller, KeyKind, OrgId};

use crate::error::ApiError;
use crate::state::AppState;

const API_KEY_HEADER: &str = "dd-api-key";
const APP_KEY_HEADER: &str = "dd-application-key";
/// Beyond this many remembered keys of one kind, they are forgotten (a guard against key
/// spraying).
const MAX_REMEMBERED: usize = 10_000;

/// Valid keys seen so far, by kind (`[api, app]`), looked up without copying the key.
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    known: [RwLock<HashMap<String, Caller>>; 2],
}

impl KeyCache {
    fn slot(&self, kind: KeyKind) -> &RwLock<HashMap<String, Caller>> {
        &self.known[matches!(kind, KeyKind::App) as usize]
    }

    /// The caller of `key`, if it is a valid key of that kind.
    pub(crate) async fn check(
        &self,
        state: &AppState,
        kind: KeyKind,
        key: &str,
    ) -> Result<Option<Caller>, ApiError> {
        self.check_with(state, kind, key, Caller::clone).await
    }

    /// What `key` gives, through `pick`, when it is valid.
    async fn check_with<T>(
        &self,
        state: &AppState,
        kind: KeyKind,
        key: &str,
        pick: impl Fn(&Caller) -> T,
    ) -> Result<Option<T>, ApiError> {
        if let Some(caller) = self.slot(kind).read().expect("key cache poisoned").get(key) {
            return Ok(Some(pick(caller)));
        }
        let found = state.store.find_key(kind, key).await?;
        if let Some(caller) = &found {
            let mut known = self.slot(kind).write().expect("key cache poisoned");
            if known.len() >= MAX_REMEMBERED {
                known.clear();
            }
            known.insert(key.to_owned(), caller.clone());
        }
        Ok(found.as_ref().map(pick))
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty())
}

async fn api_key_org(parts: &Parts, state: &AppState) -> Result<OrgId, ApiError> {
    let key = header(parts, API_KEY_HEADER).ok_or_else(|| {
        ApiError::Unauthorized("API key required: send it in the DD-API-KEY header".into())
    })?;
    match state.keys.check_with(state, KeyKind::Api, key, |caller| caller.org.clone()).await? {
        Some(org) => Ok(org),
        None => Err(ApiError::Forbidden("invalid API key".into())),
    }
}

/// A request with a valid API key: reads.
#[derive(Debug)]
pub(crate) struct Reader(pub OrgId);

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        api_key_org(parts, state).await.map(Reader)
    }
}

/// The outcome of checking a request's keys for a write, for handlers that need the
/// application key only on some paths (a create-or-get that finds what exists is a read).
#[derive(Debug)]
pub(crate) struct MaybeWriter(pub Result<Caller, ApiError>);

impl FromRequestParts<AppState> for MaybeWriter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(MaybeWriter(Writer::from_request_parts(parts, state).await.map(|Writer(c)| c)))
    }
}

/// A request with a valid API key and an application key of the same org: writes and
/// resolve.
#[derive(Debug)]
pub(crate) struct Writer(pub Caller);

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let org = api_key_org(parts, state).await?;
        let key = header(parts, APP_KEY_HEADER).ok_or_else(|| {
            ApiError::Unauthorized(
                "application key required for this operation: send it in the \
                 DD-APPLICATION-KEY header"
                    .into(),
            )
        })?;
        match state.keys.check(state, KeyKind::App, key).await? {
            Some(caller) if caller.org == org => Ok(Writer(caller)),
            Some(_) => Err(ApiError::Forbidden(
                "the application key belongs to another org than the API key".into(),
            )),
            None => Err(ApiError::Forbidden("invalid application key".into())),
        }
    }
}

/// An intake request: a valid API key, or, agent-proxy style, no key but an
/// `X-Datadog-EVP-Subdomain` header (then the org is not known: `None`).
#[derive(Debug)]
pub(crate) struct Intake(pub Option<OrgId>);

impl FromRequestParts<AppState> for Intake {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if header(parts, API_KEY_HEADER).is_none()
            && header(parts, "x-datadog-evp-subdomain").is_some()
        {
            return Ok(Intake(None));
        }
        api_key_org(parts, state).await.map(|org| Intake(Some(org)))
    }
}
