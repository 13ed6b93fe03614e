//! Datadog's public LLM Observability API, as the official `datadog-api-client` calls it:
//! the management routes ddtrace never uses, one module per noun.
//!
//! - [`projects`]: list, update, delete.
//! - [`datasets`]: paged list, update, delete in a project, versions, restore, clone,
//!   export, draft lock, the v2 file upload.
//! - [`records`]: create, update, delete.
//! - [`experiments`]: delete, events in the v1 (list), v2 and v3 (paged) shapes.
//! - [`prompts`]: the public prompt registry over the same store as ddtrace's.
//! - [`annotations`]: annotation queues, label schemas, interactions, annotations, and
//!   the export of a queue's annotations to a dataset.
//! - [`evaluators`]: custom evaluator configs (get, list, delete; put is
//!   [`crate::evaluators`]).
//! - [`integrations`]: LLM provider accounts, their models, inference.
//! - [`topics`]: topic discovery configs, runs, topics and clustered points.
//!
//! Where ddtrace and the official client call the same route and read different shapes
//! (record lists, batch updates, experiment events), the handler makes one domain call and
//! [`Flavor`] picks the encoder: the official client always sends an `Accept` header naming
//! `application/json`; ddtrace sends none and our SDK sends `*/*`.

pub(crate) mod annotations;
pub(crate) mod datasets;
pub(crate) mod evaluators;
pub(crate) mod experiments;
pub(crate) mod integrations;
pub(crate) mod projects;
pub(crate) mod prompts;
pub(crate) mod records;
pub(crate) mod topics;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header::ACCEPT;
use axum::http::request::Parts;
use llmobs_core::jsonapi::Meta;

use crate::error::ApiError;
use crate::jsonapi::Query;
use crate::state::AppState;

/// Which client's answer shape a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// ddtrace and the SDK: JSON:API resources.
    Ddtrace,
    /// The official `datadog-api-client`: the shapes of its models.
    Official,
}

impl<S: Send + Sync> FromRequestParts<S> for Flavor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let official = parts.headers.get_all(ACCEPT).iter().any(|value| {
            value.to_str().unwrap_or("").split(',').any(|t| {
                t.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json")
            })
        });
        Ok(if official { Flavor::Official } else { Flavor::Ddtrace })
    }
}

/// Every public route.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(projects::router())
        .merge(datasets::router(state))
        .merge(records::router())
        .merge(experiments::router())
        .merge(evaluators::router())
        .merge(prompts::router())
        .merge(annotations::router())
        .merge(integrations::router())
        .merge(topics::router())
}

/// `page[limit]` (1 to `max`, `default` when absent) and `page[cursor]`.
pub(crate) fn paging(
    query: &Query,
    default: i64,
    max: i64,
) -> Result<(usize, Option<String>), ApiError> {
    let limit = query.int("page[limit]", default, 1..=max)? as usize;
    let cursor = query.get("page[cursor]").filter(|c| !c.is_empty()).map(str::to_owned);
    Ok((limit, cursor))
}

/// The `meta` of a page: where the next one starts (empty on the last page).
pub(crate) fn meta(next: Option<String>) -> Option<Meta> {
    Some(Meta { after: next.unwrap_or_default() })
}
