//! Plain HTML pages at the paths Datadog's UI uses, `/llm/experiments/{id}` and
//! `/llm/datasets/{id}`, so the links the clients print lead somewhere.
//!
//! A browser cannot send key headers, so a request from a loopback address needs no key
//! (whoever can reach loopback runs the server); any other needs `DD-API-KEY`, and sees
//! its own org only.

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Html;
use axum::routing::get;
use llmobs_store::{OrgId, Owned, RecordQuery};
use serde_json::Value;

use crate::auth::Reader;
use crate::error::ApiError;
use crate::extract::Segments;
use crate::state::AppState;

/// The page routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/llm/experiments/{experiment_id}", get(experiment))
        .route("/llm/datasets/{dataset_id}", get(dataset))
}

/// Who may see a page: `None` for a loopback visitor without a key (any org).
pub(crate) struct Viewer(Option<OrgId>);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let loopback = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|ConnectInfo(addr)| addr.ip().is_loopback());
        if loopback && !parts.headers.contains_key("dd-api-key") {
            return Ok(Viewer(None));
        }
        Reader::from_request_parts(parts, state).await.map(|Reader(org)| Viewer(Some(org)))
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let short: String = text.chars().take(300).collect();
    escape(&short)
}

fn parse(raw: &serde_json::value::RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title} · llmobs</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}}</style>\
         </head><body>{body}</body></html>"
    ))
}

/// The org that owns what a page shows: the viewer's, or for loopback, the owner's.
async fn owner(state: &AppState, viewer: Viewer, kind: Owned, id: &str) -> Result<OrgId, ApiError> {
    match viewer.0 {
        Some(org) => Ok(org),
        None => Ok(state.store.owner_of(kind, id).await?),
    }
}

/// The experiment page.
#[utoipa::path(get, path = "/llm/experiments/{experiment_id}", tag = "pages",
    params(("experiment_id" = String, Path)), responses((status = 200, content_type = "text/html")))]
pub(crate) async fn experiment(
    State(state): State<AppState>,
    viewer: Viewer,
    Segments(id): Segments<String>,
) -> Result<Html<String>, ApiError> {
    let org = owner(&state, viewer, Owned::Experiment, &id).await?;
    let (_, experiment) = state.store.experiment(&org, &id).await?;
    let events = state.store.experiment_events(&org, &id).await?;
    let mut body = format!(
        "<h1>Experiment {}</h1><p>run <b>{}</b> · status <b>{}</b> · dataset <a href=\"/llm/datasets/{}\">{}</a> \
         version {} · {} spans</p>",
        escape(&experiment.experiment),
        escape(&experiment.name),
        escape(experiment.status.as_deref().unwrap_or("not started")),
        escape(&experiment.dataset_id),
        escape(&experiment.dataset_id),
        experiment.dataset_version,
        events.spans.len(),
    );
    if let Some(error) = &experiment.error {
        let _ = write!(body, "<p>error: {}</p>", escape(error));
    }
    body.push_str("<table><tr><th>span</th><th>input</th><th>output</th><th>expected</th><th>evaluations</th></tr>");
    for span in &events.spans {
        let metrics: Vec<String> = span["eval_metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let kind = m["metric_type"].as_str().unwrap_or("");
                format!(
                    "{}: {}",
                    cell(m.get("label")),
                    cell(m.get(format!("{kind}_value").as_str()))
                )
            })
            .collect();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            cell(span.get("name")),
            cell(span.pointer("/meta/input")),
            cell(span.pointer("/meta/output")),
            cell(span.pointer("/meta/expected_output")),
            metrics.join("<br>"),
        );
    }
    body.push_str("</table>");
    if !events.summary_metrics.is_empty() {
        body.push_str("<h2>Summary</h2><ul>");
        for m in &events.summary_metrics {
            let kind = m["metric_type"].as_str().unwrap_or("");
            let _ = write!(
                body,
                "<li>{}: {}</li>",
                cell(m.get("label")),
                cell(m.get(format!("{kind}_value").as_str()))
            );
        }
        body.push_str("</ul>");
    }
    Ok(page(&escape(&experiment.name), &body))
}

/// The dataset page.
#[utoipa::path(get, path = "/llm/datasets/{dataset_id}", tag = "pages",
    params(("dataset_id" = String, Path)), responses((status = 200, content_type = "text/html")))]
pub(crate) async fn dataset(
    State(state): State<AppState>,
    viewer: Viewer,
    Segments(id): Segments<String>,
) -> Result<Html<String>, ApiError> {
    const SHOWN: usize = 200;
    let org = owner(&state, viewer, Owned::Dataset, &id).await?;
    let (_, dataset) = state.store.dataset(&org, None, &id).await?;
    let query = RecordQuery { limit: SHOWN, ..RecordQuery::default() };
    let (records, more) = state.store.records(&org, &dataset.project_id, &id, &query).await?;
    let mut body = format!(
        "<h1>Dataset {}</h1><p>version <b>{}</b> · {}</p><table><tr><th>id</th><th>input</th>\
         <th>expected output</th><th>metadata</th><th>tags</th></tr>",
        escape(&dataset.name),
        dataset.current_version,
        escape(&dataset.description),
    );
    for (record_id, record) in &records {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(record_id),
            cell(Some(&parse(&record.input))),
            cell(record.expected_output.as_deref().map(parse).as_ref()),
            cell(record.metadata.as_deref().map(parse).as_ref()),
            escape(&record.tags.join(", ")),
        );
    }
    body.push_str("</table>");
    if more.is_some() {
        let _ = write!(body, "<p>Showing the first {SHOWN} records.</p>");
    }
    Ok(page(&escape(&dataset.name), &body))
}
