//! The trace page, `/llm/traces/{trace_id}`: every span of one trace the org stored (an
//! experiment's record span and the llm, tool, retrieval, workflow… spans opened inside
//! it, or a trace from the span intake) as a tree ([`llmobs_core::trace::tree`]), each
//! with its kind, status, duration and a bar placing it in the trace's time, and its
//! input, output and metadata on expand. `span` (a span id) marks one span and opens it.

use axum::extract::{RawQuery, State};
use axum::response::Html;
use llmobs_core::spans::{SpanAttributes, SpanIo};
use llmobs_core::trace::tree;
use minijinja::{Value, context};
use serde_json::Value as Json;

use super::{ListQuery, PageError, Place, Viewer, millis, page, render, start_time, urlencode};
use crate::error::ApiError;
use crate::extract::Segments;
use crate::state::AppState;

/// The most spans a trace page shows.
pub(crate) const TRACE_SPANS: usize = 1000;

/// The longest text of an input or output shown, in characters.
const IO_CHARS: usize = 20_000;

/// An input or output as text: its value, or its messages as `role: content` lines.
pub(crate) fn io_text(io: Option<&SpanIo>) -> String {
    let Some(io) = io else { return String::new() };
    let full = match (&io.value, &io.messages) {
        (Some(value), _) => value.clone(),
        (None, Some(messages)) => (messages.iter())
            .map(|m| {
                let role = m.get("role").and_then(Json::as_str).unwrap_or("");
                let content = match m.get("content") {
                    Some(Json::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                if role.is_empty() { content } else { format!("{role}: {content}") }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        (None, None) => String::new(),
    };
    match full.char_indices().nth(IO_CHARS) {
        Some((end, _)) => format!("{}…", &full[..end]),
        None => full,
    }
}

/// The trace page.
#[utoipa::path(get, path = "/llm/traces/{trace_id}", tag = "pages",
    params(("trace_id" = String, Path), ("span" = Option<String>, Query, description = "a span id to mark and open")),
    responses((status = 200, content_type = "text/html")))]
pub(crate) async fn trace(
    State(state): State<AppState>,
    viewer: Viewer,
    Segments(trace_id): Segments<String>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.org(&state).await?;
    let (found, more) = state.store.trace_spans(&shown.org, &trace_id, TRACE_SPANS).await?;
    if found.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no spans of trace '{trace_id}' are stored in this org: search the traces list"
        ))
        .into());
    }
    let spans: Vec<SpanAttributes> =
        found.iter().map(|f| SpanAttributes::from_event(&f.event)).collect();
    let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let end = (spans.iter())
        .map(|s| s.start_ns.saturating_add(s.duration as i64))
        .max()
        .unwrap_or(start)
        .max(start + 1);
    let total = (end - start) as f64;
    let ids: Vec<(&str, &str)> = (spans.iter())
        .map(|s| (s.span_id.as_str(), s.parent_id.as_deref().unwrap_or("")))
        .collect();
    let marked = query.get("span");
    let rows: Vec<Value> = (tree(&ids).into_iter())
        .map(|node| {
            let s = &spans[node.index];
            let experiment = found[node.index].experiment_id.clone();
            let left = (s.start_ns - start) as f64 / total * 100.0;
            let width = (s.duration / total * 100.0).clamp(0.3, 100.0 - left.min(99.7));
            let metadata = (s.metadata.as_ref())
                .filter(|m| !m.is_empty())
                .map(|m| serde_json::to_string_pretty(m).unwrap_or_default())
                .unwrap_or_default();
            context! {
                depth => node.depth, indent => node.depth as f64 * 1.1,
                span_id => s.span_id.clone(), name => s.name.clone(), kind => s.span_kind.clone(),
                status => s.status.clone(), duration => millis(s.duration),
                offset => millis((s.start_ns - start) as f64),
                left => format!("{left:.2}"), width => format!("{width:.2}"),
                input => io_text(s.input.as_ref()), output => io_text(s.output.as_ref()),
                model => s.model_name.clone().unwrap_or_default(), metadata,
                tags => s.tags.clone(), marked => marked == Some(s.span_id.as_str()),
                experiment => experiment.unwrap_or_default(),
            }
        })
        .collect();
    let root = &spans[0];
    let body = render(
        "trace",
        context! {
            trace_id => trace_id.clone(), rows, count => spans.len(), more, limit => TRACE_SPANS,
            started => start_time(start), duration => millis(total), ml_app => root.ml_app.clone(),
            search => format!("/llm/traces?query={}", urlencode(&format!("@trace_id:{trace_id}"))),
        },
    )?;
    let crumbs = vec![
        ("Projects", Some("/".into())),
        ("Traces", Some("/llm/traces".into())),
        (trace_id.as_str(), None),
    ];
    Ok(page(&format!("Trace {trace_id}"), &shown, Place { section: "Traces", crumbs }, body)?)
}
