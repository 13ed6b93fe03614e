//! The web UI: server-rendered HTML pages with our own small stylesheet and no JavaScript
//! (except [`review`], the annotation review page, whose own script maps keys to its form).
//!
//! Routes: `/` (the org's projects with what each holds, and recent experiments),
//! `/llm/experiments`, `/llm/datasets`, `/llm/prompts` and `/llm/traces` (lists paged by
//! cursor and filtered from the query string; traces take the spans search syntax), and the paths Datadog's UI uses for one item,
//! `/llm/experiments/{id}` and `/llm/datasets/{id}`, so the links clients print lead here;
//! `/llm/topics` ([`topics`]), the topic hierarchy a discovery run found.
//! Every page reads through the same store calls as the API routes.
//!
//! Templates live in `pages/` and are compiled into the binary; every value is
//! HTML-escaped when rendered, except pieces this module rendered itself.
//!
//! Who sees what: a browser cannot send key headers, so a request from a loopback address
//! without `DD-API-KEY` needs no key (whoever can reach loopback runs the server). Lists show
//! the default org then; a page of one experiment or dataset shows its owner's. Any other
//! request needs `DD-API-KEY` and sees its own org only. Each page names the org it shows.

pub(crate) mod access;
pub(crate) mod dataset;
pub(crate) mod prompt;
pub(crate) mod review;
pub(crate) mod topics;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, RawQuery, State};
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use llmobs_core::spans::{
    FieldNames, SearchSpansAttributes, SpanAttributes, SpanFilter, SpanIo, SpanPageQuery, plan,
};
use llmobs_core::summary::{Aggregate, ExperimentSummary};
use llmobs_store::{
    DEFAULT_ORG, DatasetFilter, ExperimentFilter, OrgId, Owned, ProjectFilter, decode_cursor,
    encode_cursor,
};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};
use serde_json::Value as Json;

use crate::auth::Reader;
use crate::error::ApiError;
use crate::jsonapi::Query;
use crate::state::AppState;
use access::{Access, Session};

mod chart;
mod compare;
mod experiment_page;
mod trace;
pub(crate) use compare::{__path_compare, compare};
pub(crate) use experiment_page::{__path_experiment, experiment};
pub(crate) use trace::{__path_trace, trace};

/// Items per page of a list.
const PAGE: usize = 50;

/// The longest text shown in a table cell, in characters.
const CELL_CHARS: usize = 500;

/// The page routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/llm/experiments", get(experiments))
        .route("/llm/experiments/compare", get(compare))
        .route("/llm/experiments/{experiment_id}", get(experiment))
        .route("/llm/datasets", get(datasets))
        .route("/llm/datasets/{dataset_id}", get(dataset::dataset))
        .route("/llm/datasets/{dataset_id}/diff", get(dataset::diff))
        .route("/llm/datasets/{dataset_id}/download", get(dataset::download))
        .route("/llm/prompts", get(prompts))
        .route("/llm/traces", get(traces))
        .route("/llm/prompts/{prompt_id}", get(prompt::prompt))
        .route("/llm/prompts/{prompt_id}/diff", get(prompt::diff))
        .route("/llm/prompts/{prompt_id}/labels", post(prompt::move_label))
        .route("/sign-in", get(access::sign_in_form).post(access::sign_in))
        .route("/sign-out", post(access::sign_out))
        .route("/llm/traces/{trace_id}", get(trace))
        .route("/llm/topics", get(topics::topics))
        .merge(review::router())
}

/// A failed page: the API's error and status, as an HTML page.
pub(crate) struct PageError(ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(err: E) -> Self {
        PageError(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let message = self.0.to_string();
        let hint = match &self.0 {
            ApiError::BadRequest { hint: Some(hint), .. } => hint.clone(),
            _ => String::new(),
        };
        let html = render("error", context! { status => status.as_u16(), message, hint })
            .map(|body| body.to_string())
            .unwrap_or_else(|_| status.to_string());
        // Keep the parts the API error set (status, details for the request log).
        let (mut parts, _) = self.0.into_response().into_parts();
        parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        Response::from_parts(parts, Body::from(html))
    }
}

/// Who may see a page: an org (`None` for a loopback visitor without sign-in) and how.
pub(crate) struct Viewer {
    org: Option<OrgId>,
    access: Access,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        if parts.headers.contains_key("dd-api-key") {
            let Reader(org) = Reader::from_request_parts(parts, state).await?;
            return Ok(Viewer { org: Some(org), access: Access::Key });
        }
        if let Some(session) = Session::from_headers(&parts.headers) {
            let org = access::session_org(state, &session).await?;
            return Ok(Viewer { org: Some(org), access: Access::Session(session) });
        }
        let loopback = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|ConnectInfo(addr)| addr.ip().is_loopback());
        if loopback && state.config.ui_loopback_open {
            return Ok(Viewer { org: None, access: Access::Loopback });
        }
        Err(access::needs_sign_in().into())
    }
}

/// How a page names an org: its name, else its id.
async fn org_name(state: &AppState, org: &OrgId) -> Result<String, ApiError> {
    Ok(state.store.org_name(org).await?.unwrap_or_else(|| org.0.clone()))
}

/// The org a page shows, how the page names it, and how the visitor got in.
struct Shown {
    org: OrgId,
    name: String,
    access: Access,
}

impl Viewer {
    /// The org of a list page: the key's, or for loopback, the default org.
    async fn org(self, state: &AppState) -> Result<Shown, ApiError> {
        match self.org {
            Some(org) => Ok(Shown { name: org_name(state, &org).await?, org, access: self.access }),
            None => {
                let org = state.store.org_named(DEFAULT_ORG).await?.ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "no org named '{DEFAULT_ORG}' yet: start the server once with its \
                         default keys, or sign in"
                    ))
                })?;
                Ok(Shown { org, name: DEFAULT_ORG.into(), access: self.access })
            }
        }
    }

    /// The org of a page of one item: the key's, or for loopback, the item's owner.
    async fn owner(self, state: &AppState, kind: Owned, id: &str) -> Result<Shown, ApiError> {
        match self.org {
            Some(org) => Ok(Shown { name: org_name(state, &org).await?, org, access: self.access }),
            None => {
                let org = state.store.owner_of(kind, id).await?;
                Ok(Shown { name: org_name(state, &org).await?, org, access: self.access })
            }
        }
    }
}

/// The compiled templates.
fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in [
            ("layout", include_str!("pages/layout.html")),
            ("home", include_str!("pages/home.html")),
            ("list", include_str!("pages/list.html")),
            ("filters", include_str!("pages/filters.html")),
            ("experiment_rows", include_str!("pages/experiment_rows.html")),
            ("dataset_rows", include_str!("pages/dataset_rows.html")),
            ("prompt_rows", include_str!("pages/prompt_rows.html")),
            ("span_rows", include_str!("pages/span_rows.html")),
            ("experiment", include_str!("pages/experiment.html")),
            ("dataset", include_str!("pages/dataset.html")),
            ("summary", include_str!("pages/summary.html")),
            ("error", include_str!("pages/error.html")),
            ("sign_in", include_str!("pages/sign_in.html")),
            ("prompt", include_str!("pages/prompt.html")),
            ("dataset_diff", include_str!("pages/dataset_diff.html")),
            ("prompt_diff", include_str!("pages/prompt_diff.html")),
            ("compare", include_str!("pages/compare.html")),
            ("chart", include_str!("pages/chart.html")),
            ("trace", include_str!("pages/trace.html")),
            ("review", include_str!("pages/review.html")),
            ("review_queues", include_str!("pages/review_queues.html")),
        ] {
            // The templates are part of the binary and covered by the page tests.
            env.add_template(name, source).expect("a page template does not parse");
        }
        env
    })
}

/// Renders one template to HTML that may be placed into another unescaped.
fn render(name: &str, ctx: Value) -> Result<Value, ApiError> {
    let html = environment()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|err| ApiError::Internal(format!("page template '{name}': {err:#}")))?;
    Ok(Value::from_safe_string(html))
}

/// Where a page sits: the header item it belongs to and its breadcrumbs.
struct Place<'a> {
    section: &'a str,
    crumbs: Vec<(&'a str, Option<String>)>,
}

/// A whole page: `body` inside the layout.
fn page(
    title: &str,
    shown: &Shown,
    place: Place<'_>,
    body: Value,
) -> Result<Html<String>, ApiError> {
    let nav: Vec<Value> = [
        ("Projects", "/"),
        ("Experiments", "/llm/experiments"),
        ("Datasets", "/llm/datasets"),
        ("Prompts", "/llm/prompts"),
        ("Traces", "/llm/traces"),
        ("Annotations", "/llm/annotations"),
        ("Topics", "/llm/topics"),
    ]
    .into_iter()
    .map(|(text, href)| context! { text, href, on => text == place.section })
    .collect();
    let crumbs: Vec<Value> = (place.crumbs.into_iter())
        .map(|(text, href)| context! { text, href => href.unwrap_or_default() })
        .collect();
    let access = match shown.access {
        Access::Key => "key",
        Access::Session(_) => "session",
        Access::Loopback => "loopback",
        Access::Anonymous => "anonymous",
    };
    let html = render(
        "layout",
        context! {
            title, nav, crumbs, body, access, csrf => shown.access.csrf(),
            org => shown.name.clone(), org_note => shown.access.note(),
            style => Value::from_safe_string(include_str!("pages/style.css").to_owned()),
        },
    )?;
    Ok(Html(html.to_string()))
}

/// Text of a JSON value for a cell: strings as they are, other JSON as JSON, cut short.
fn text(value: Option<&Json>) -> String {
    let full = match value {
        None | Some(Json::Null) => return String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    cut(full)
}

fn cut(full: String) -> String {
    match full.char_indices().nth(CELL_CHARS) {
        Some((end, _)) => format!("{}…", &full[..end]),
        None => full,
    }
}

fn parse(raw: &serde_json::value::RawValue) -> Json {
    serde_json::from_str(raw.get()).unwrap_or(Json::Null)
}

/// A list's query: its filters (empty values dropped) and cursor.
struct ListQuery {
    query: Query,
}

impl ListQuery {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        Ok(ListQuery { query: Query::parse(raw)? })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(str::trim).filter(|v| !v.is_empty())
    }

    fn cursor(&self) -> Option<&str> {
        self.get("cursor")
    }

    /// The link to the next page: the same filters and `cursor`.
    fn next(&self, path: &str, keys: &[&str], cursor: Option<String>) -> String {
        let Some(cursor) = cursor else { return String::new() };
        let mut pairs: Vec<(&str, &str)> =
            keys.iter().filter_map(|k| self.get(k).map(|v| (*k, v))).collect();
        pairs.push(("cursor", &cursor));
        format!("{path}?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
    }

    /// The filter form of a list.
    fn form(&self, path: &str, fields: &[(&str, &str, &str)]) -> Result<Value, ApiError> {
        let filtered = fields.iter().any(|(name, _, _)| self.get(name).is_some());
        let fields: Vec<Value> = (fields.iter())
            .map(|(name, label, hint)| {
                context! { name => *name, label => *label, hint => *hint, value => self.get(name).unwrap_or_default() }
            })
            .collect();
        render("filters", context! { fields, filtered, path })
    }
}

fn experiment_row(
    id: String,
    e: llmobs_core::experiments::ExperimentRecord,
    names: &HashMap<String, String>,
) -> Value {
    let dataset_name = names.get(&e.dataset_id).cloned().unwrap_or_else(|| e.dataset_id.clone());
    context! {
        id, experiment => e.experiment, name => e.name, dataset_id => e.dataset_id, dataset_name,
        dataset_version => e.dataset_version,
        status => e.status.unwrap_or_else(|| "not started".into()),
        created_at => when(&e.created_at),
    }
}

/// The names of the datasets of `experiments`, by id; a deleted dataset has none.
async fn dataset_names(
    state: &AppState,
    org: &OrgId,
    experiments: &[(String, llmobs_core::experiments::ExperimentRecord)],
) -> Result<HashMap<String, String>, ApiError> {
    let mut names = HashMap::new();
    for (_, e) in experiments {
        if names.contains_key(&e.dataset_id) {
            continue;
        }
        match state.store.dataset(org, None, &e.dataset_id).await {
            Ok((_, d)) => names.insert(e.dataset_id.clone(), d.name),
            Err(llmobs_store::Error::NotFound(_)) => continue,
            Err(err) => return Err(err.into()),
        };
    }
    Ok(names)
}

/// The names of the projects `ids`, by id; a deleted project has none.
async fn project_names<'a>(
    state: &AppState,
    org: &OrgId,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, String>, ApiError> {
    let mut names = HashMap::new();
    for id in ids {
        if names.contains_key(id) {
            continue;
        }
        match state.store.project(org, id).await {
            Ok((_, p)) => names.insert(id.to_owned(), p.name),
            Err(llmobs_store::Error::NotFound(_)) => continue,
            Err(err) => return Err(err.into()),
        };
    }
    Ok(names)
}

/// The project a list is filtered to, if any: its id and name.
async fn filtered_project(
    state: &AppState,
    org: &OrgId,
    query: &ListQuery,
) -> Result<Option<(String, String)>, ApiError> {
    match query.get("project") {
        None => Ok(None),
        Some(id) => Ok(Some((id.to_owned(), state.store.project(org, id).await?.1.name))),
    }
}

/// The crumbs of a list, through its project when it is filtered to one.
fn list_crumbs<'a>(
    project: &'a Option<(String, String)>,
    list: &'a str,
) -> Vec<(&'a str, Option<String>)> {
    let mut crumbs = vec![("Projects", Some("/".to_owned()))];
    if let Some((id, name)) = project {
        crumbs.push((name.as_str(), Some(format!("/llm/experiments?project={}", urlencode(id)))));
    }
    crumbs.push((list, None));
    crumbs
}

/// `/`: the org's projects with what each holds, and the newest experiments.
#[utoipa::path(get, path = "/", tag = "pages",
    params(("cursor" = Option<String>, Query)), responses((status = 200, content_type = "text/html")))]
pub(crate) async fn home(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.org(&state).await?;
    let (found, next) = state
        .store
        .list_projects(&shown.org, &ProjectFilter::default(), query.cursor(), PAGE)
        .await?;
    let mut projects = Vec::with_capacity(found.len());
    for (id, project) in found {
        let activity = state.store.project_activity(&shown.org, &id).await?;
        projects.push(context! {
            id, name => project.name, description => project.description,
            created_at => when(&project.created_at), datasets => activity.datasets,
            experiments => activity.experiments,
            last_activity => activity.last_activity.as_deref().map(when).unwrap_or_default(),
        });
    }
    let (recent, _) =
        state.store.list_experiments(&shown.org, &ExperimentFilter::default(), None, 10).await?;
    let names = dataset_names(&state, &shown.org, &recent).await?;
    let recent =
        recent.into_iter().map(|(id, e)| experiment_row(id, e, &names)).collect::<Vec<_>>();
    let recent = render("experiment_rows", context! { experiments => recent })?;
    let next = query.next("/", &[], next.as_ref().map(encode_cursor));
    let body = render("home", context! { projects, recent, next })?;
    Ok(page(
        "Projects",
        &shown,
        Place { section: "Projects", crumbs: vec![("Projects", None)] },
        body,
    )?)
}

/// `/llm/experiments`: the org's experiments, newest first, filtered by `project` (id),
/// `name` (the experiment's name, exact) and `dataset` (id), with boxes to tick for the
/// compare page; `compare_with` (an experiment id) lists its dataset's experiments with it
/// ticked.
#[utoipa::path(get, path = "/llm/experiments", tag = "pages",
    params(("project" = Option<String>, Query), ("name" = Option<String>, Query),
           ("dataset" = Option<String>, Query), ("compare_with" = Option<String>, Query),
           ("cursor" = Option<String>, Query)),
    responses((status = 200, content_type = "text/html")))]
pub(crate) async fn experiments(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    const PATH: &str = "/llm/experiments";
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.org(&state).await?;
    // "Compare with…" from an experiment's page: its dataset's experiments, it ticked.
    let compare_with = match query.get("compare_with") {
        None => None,
        Some(id) => {
            Some((id.to_owned(), state.store.experiment(&shown.org, id).await?.1.dataset_id))
        }
    };
    let filter = ExperimentFilter {
        dataset_id: (query.get("dataset").map(str::to_owned))
            .or_else(|| compare_with.as_ref().map(|(_, dataset)| dataset.clone())),
        project_id: query.get("project").map(str::to_owned),
        experiment: query.get("name").map(str::to_owned),
        ..ExperimentFilter::default()
    };
    let after = query.cursor().map(decode_cursor).transpose()?;
    let project = filtered_project(&state, &shown.org, &query).await?;
    let (found, next) = state.store.list_experiments(&shown.org, &filter, after, PAGE).await?;
    let names = dataset_names(&state, &shown.org, &found).await?;
    let experiments =
        found.into_iter().map(|(id, e)| experiment_row(id, e, &names)).collect::<Vec<_>>();
    let body = render(
        "list",
        context! {
            heading => heading("Experiments", &project),
            filters => query.form(PATH, &[("project", "project id", "any project"),
                                          ("name", "experiment name", "exact name"),
                                          ("dataset", "dataset id", "any dataset")])?,
            rows => render("experiment_rows", context! {
                experiments, pick => true,
                checked => compare_with.map(|(id, _)| vec![id]).unwrap_or_default(),
            })?,
            next => query.next(PATH, &["project", "name", "dataset", "compare_with"],
                               next.as_ref().map(encode_cursor)),
        },
    )?;
    let place = Place { section: "Experiments", crumbs: list_crumbs(&project, "Experiments") };
    Ok(page("Experiments", &shown, place, body)?)
}

/// `/llm/datasets`: the org's datasets, oldest first, filtered by `project` (id) and `name`
/// (exact).
#[utoipa::path(get, path = "/llm/datasets", tag = "pages",
    params(("project" = Option<String>, Query), ("name" = Option<String>, Query),
           ("cursor" = Option<String>, Query)),
    responses((status = 200, content_type = "text/html")))]
pub(crate) async fn datasets(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    const PATH: &str = "/llm/datasets";
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.org(&state).await?;
    let project = filtered_project(&state, &shown.org, &query).await?;
    let filter =
        DatasetFilter { name: query.get("name").map(str::to_owned), ..DatasetFilter::default() };
    let (found, next) = state
        .store
        .list_datasets(&shown.org, query.get("project"), &filter, query.cursor(), PAGE)
        .await?;
    let projects =
        project_names(&state, &shown.org, found.iter().map(|(_, d)| d.project_id.as_str())).await?;
    let datasets: Vec<Value> = (found.into_iter())
        .map(|(id, d)| {
            context! {
                id, name => d.name,
                project_name => projects.get(&d.project_id).cloned().unwrap_or_else(|| d.project_id.clone()),
                project_id => d.project_id, version => d.current_version,
                description => d.description, updated_at => when(&d.updated_at),
            }
        })
        .collect();
    let body = render(
        "list",
        context! {
            heading => heading("Datasets", &project),
            filters => query.form(PATH, &[("project", "project id", "any project"),
                                          ("name", "dataset name", "exact name")])?,
            rows => render("dataset_rows", context! { datasets })?,
            next => query.next(PATH, &["project", "name"], next.as_ref().map(encode_cursor)),
        },
    )?;
    let place = Place { section: "Datasets", crumbs: list_crumbs(&project, "Datasets") };
    Ok(page("Datasets", &shown, place, body)?)
}

/// `/llm/prompts`: the org's prompts, newest first, filtered by `name` (the prompt id, exact).
#[utoipa::path(get, path = "/llm/prompts", tag = "pages",
    params(("name" = Option<String>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, content_type = "text/html")))]
pub(crate) async fn prompts(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    const PATH: &str = "/llm/prompts";
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.org(&state).await?;
    let (found, next) =
        state.store.prompts_page(&shown.org, query.get("name"), query.cursor(), PAGE).await?;
    let prompts: Vec<Value> = (found.into_iter())
        .map(|(prompt_id, p)| {
            context! {
                path => llmobs_core::encoding::path_segment(&prompt_id),
                prompt_id, title => p.title.unwrap_or_default(), versions => p.num_versions,
                last_version_at => when(&p.last_version_created_at), created_at => when(&p.created_at),
            }
        })
        .collect();
    let body = render(
        "list",
        context! {
            heading => "Prompts",
            filters => query.form(PATH, &[("name", "prompt id", "exact id")])?,
            rows => render("prompt_rows", context! { prompts })?,
            next => query.next(PATH, &["name"], next.as_ref().map(encode_cursor)),
        },
    )?;
    let place = Place {
        section: "Prompts",
        crumbs: vec![("Projects", Some("/".into())), ("Prompts", None)],
    };
    Ok(page("Prompts", &shown, place, body)?)
}

/// The exact span fields the traces list filters on, by their query parameter.
const TRACE_FIELDS: &[&str] = &["ml_app", "kind", "name", "status"];

/// `/llm/traces`: spans the server stored, newest first, through the spans search of the
/// public API: `ml_app`, `kind`, `name` and `status` (exact), `query` (its search syntax:
/// free text, tags, …), `from` and `to` (default: the last day). Each span links to its
/// trace.
#[utoipa::path(get, path = "/llm/traces", tag = "pages",
    params(("ml_app" = Option<String>, Query), ("kind" = Option<String>, Query),
           ("name" = Option<String>, Query), ("status" = Option<String>, Query),
           ("query" = Option<String>, Query), ("from" = Option<String>, Query),
           ("to" = Option<String>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, content_type = "text/html")))]
pub(crate) async fn traces(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    const PATH: &str = "/llm/traces";
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.org(&state).await?;
    let text = |key: &str| query.get(key).map(str::to_owned);
    // The exact fields become terms ANDed with the search text.
    let mut terms: Vec<String> = TRACE_FIELDS
        .iter()
        .filter_map(|field| query.get(field).map(|v| llmobs_core::search::exact_term(field, v)))
        .collect();
    terms.extend(text("query").map(|q| format!("({q})")));
    let search_text = (!terms.is_empty()).then(|| terms.join(" "));
    let attributes = SearchSpansAttributes {
        filter: SpanFilter {
            from: Some(text("from").unwrap_or_else(|| "now-1d".into())),
            to: text("to"),
            query: search_text,
            ..SpanFilter::default()
        },
        page: SpanPageQuery { cursor: text("cursor"), limit: Some(PAGE as i64) },
        ..SearchSpansAttributes::default()
    };
    let search = plan(&attributes, llmobs_store::now_ns(), &FieldNames::QUERY)
        .map_err(|err| ApiError::invalid(err.to_string()))?;
    let found = state.store.search_spans(&shown.org, &search).await?;
    let io = |io: Option<&SpanIo>| {
        let io = io.cloned().unwrap_or_default();
        match (io.value, io.messages) {
            (Some(value), _) => cut(value),
            (None, Some(messages)) => text_of(&Json::Array(messages)),
            (None, None) => String::new(),
        }
    };
    let spans: Vec<Value> = (found.spans.iter())
        .map(|found| {
            let a = SpanAttributes::from_event(&found.event);
            context! {
                trace => format!("/llm/traces/{}?span={}", urlencode(&a.trace_id), urlencode(&a.span_id)),
                start => start_time(a.start_ns), name => a.name, kind => a.span_kind,
                ml_app => a.ml_app, status => a.status, duration => millis(a.duration),
                input => io(a.input.as_ref()), output => io(a.output.as_ref()),
                tag_count => a.tags.len(), tags => a.tags,
            }
        })
        .collect();
    let body = render(
        "list",
        context! {
            heading => "Traces",
            filters => query.form(PATH, &[("ml_app", "ml app", "any"), ("kind", "kind", "llm, tool…"),
                                          ("name", "span name", "exact name"), ("status", "status", "ok, error"),
                                          ("query", "search", "free text, env:prod, -@kind:llm"),
                                          ("from", "from", "now-1d"), ("to", "to", "now")])?,
            rows => render("span_rows", context! { spans })?,
            next => query.next(PATH, &["ml_app", "kind", "name", "status", "query", "from", "to"],
                               found.after),
        },
    )?;
    let place =
        Place { section: "Traces", crumbs: vec![("Projects", Some("/".into())), ("Traces", None)] };
    Ok(page("Traces", &shown, place, body)?)
}

/// A duration in nanoseconds, in milliseconds.
fn millis(ns: f64) -> String {
    format!("{:.1} ms", ns / 1e6)
}

/// A span's start (nanoseconds since the epoch) for people: UTC, to the millisecond.
fn start_time(ns: i64) -> String {
    readable(&llmobs_store::format_ns(ns), 23)
}

/// A stored time (RFC 3339, UTC) for people: UTC, to the second.
fn when(stored: &str) -> String {
    readable(stored, 19)
}

/// `2026-01-02T03:04:05.678Z` as `2026-01-02 03:04:05.678`, cut to `len` characters.
fn readable(rfc3339: &str, len: usize) -> String {
    rfc3339.trim_end_matches('Z').replacen('T', " ", 1).chars().take(len).collect()
}

fn text_of(value: &Json) -> String {
    text(Some(value))
}

/// The project crumb of an item's page.
async fn project_crumb(
    state: &AppState,
    org: &OrgId,
    project_id: &str,
) -> Result<(String, Option<String>), ApiError> {
    let (_, project) = state.store.project(org, project_id).await?;
    Ok((project.name, Some(format!("/llm/experiments?project={}", urlencode(project_id)))))
}

fn urlencode(value: &str) -> String {
    serde_urlencoded::to_string([("", value)]).unwrap_or_default().split_off(1)
}

/// The summary cards of an experiment.
fn summary(s: &ExperimentSummary) -> Result<Value, ApiError> {
    let labels: Vec<Value> = (s.labels.iter())
        .map(|l| {
            let (value, detail) = match &l.aggregate {
                Aggregate::Boolean { true_count, count } => (
                    percent(l.aggregate.ratio().unwrap_or_default()),
                    format!("{true_count} of {count} true"),
                ),
                Aggregate::Score { count, mean, p50, p90 } => (
                    number(*mean),
                    format!("mean · p50 {} · p90 {} · {count} scores", number(*p50), number(*p90)),
                ),
                Aggregate::Categorical { mode, counts } => (
                    mode.clone(),
                    (counts.iter())
                        .map(|(v, n)| format!("{v}: {n}"))
                        .collect::<Vec<_>>()
                        .join(" · "),
                ),
                Aggregate::Empty => ("–".into(), "no values".into()),
            };
            context! { label => l.label.clone(), kind => l.metric_type.clone(), value, detail,
            errors => l.errors }
        })
        .collect();
    let d = s.durations;
    render(
        "summary",
        context! {
            labels, records => s.records, record_errors => s.record_errors,
            p50 => d.map(|d| millis(d.p50)).unwrap_or_else(|| "–".into()),
            p90 => d.map(|d| millis(d.p90)).unwrap_or_else(|| "–".into()),
            p99 => d.map(|d| millis(d.p99)).unwrap_or_else(|| "–".into()),
        },
    )
}

/// A list's heading: `Experiments`, or `Experiments of <project>`.
fn heading(list: &str, project: &Option<(String, String)>) -> String {
    match project {
        Some((_, name)) => format!("{list} of {name}"),
        None => list.to_owned(),
    }
}

/// A share from 0 to 1 as a percentage with one decimal.
fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// A number with at most three decimals, without trailing zeros.
fn number(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".into() } else { text.into() }
}

/// One evaluation for a cell: its label, value and reasoning.
fn metric(m: &Json) -> Value {
    let kind = m["metric_type"].as_str().unwrap_or("");
    context! {
        label => text(m.get("label")),
        value => text(m.get(format!("{kind}_value").as_str())),
        reasoning => text(m.get("reasoning")),
    }
}
