//! The experiment page, `/llm/experiments/{id}`: the run, its config and metadata, its
//! parent experiment and reruns, the summary, facets of every evaluation (each value, a
//! score's ranges, evaluation errors) and of record errors, and the records, filtered in
//! the store ([`llmobs_core::records::RecordFilter`]) and paged. Each record links to its
//! trace.

use axum::extract::{RawQuery, State};
use axum::response::Html;
use llmobs_core::records::{EvalTest, FilterParams, RecordFilter};
use llmobs_core::summary::{Aggregate, ExperimentSummary};
use llmobs_store::{ExperimentFilter, Owned, encode_cursor};
use minijinja::{Value, context};
use serde_json::Value as Json;

use super::{
    ListQuery, PAGE, PageError, Place, Viewer, metric, millis, number, page, project_crumb, render,
    summary, text, urlencode, when,
};
use crate::error::ApiError;
use crate::extract::Segments;
use crate::state::AppState;

/// The query parameters of the record filter, kept by every link of the page.
const FILTER_KEYS: &[&str] = &["eval", "value", "min", "max", "errors"];

/// The most reruns listed.
const RERUNS: usize = 20;

/// The record filter of a page's query.
fn record_filter(query: &ListQuery) -> Result<RecordFilter, ApiError> {
    RecordFilter::parse(FilterParams {
        eval: query.get("eval"),
        value: query.get("value"),
        min: query.get("min"),
        max: query.get("max"),
        errors: query.get("errors"),
    })
    .map_err(|err| {
        ApiError::bad_request(err.to_string(), "pick a filter from the experiment page's facets")
    })
}

/// A link to this page filtered by `pairs`.
fn filtered(path: &str, pairs: &[(&str, String)]) -> String {
    format!("{path}?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
}

/// The facets of the summary: each a label and its links (text, href, count, whether on).
fn facets(path: &str, s: &ExperimentSummary, filter: &RecordFilter) -> Vec<Value> {
    let on = |label: &str, test: &EvalTest| {
        filter.eval.as_ref().is_some_and(|e| e.label == label && &e.test == test)
    };
    let mut out = Vec::new();
    for l in &s.labels {
        let label = l.label.as_str();
        let link =
            |text: String, count: Option<u64>, test: EvalTest, pairs: Vec<(&str, String)>| {
                let mut all = vec![("eval", label.to_owned())];
                all.extend(pairs);
                context! { text, count, href => filtered(path, &all), on => on(label, &test) }
            };
        let mut links = Vec::new();
        match &l.aggregate {
            Aggregate::Boolean { true_count, count } => {
                for (value, n) in [("true", *true_count), ("false", count - true_count)] {
                    links.push(link(
                        value.into(),
                        Some(n),
                        EvalTest::Is(value.into()),
                        vec![("value", value.into())],
                    ));
                }
            }
            Aggregate::Categorical { counts, .. } => {
                for (value, n) in counts.iter().take(12) {
                    links.push(link(
                        value.clone(),
                        Some(*n),
                        EvalTest::Is(value.clone()),
                        vec![("value", value.clone())],
                    ));
                }
            }
            Aggregate::Score { p50, p90, .. } => {
                let (p50, p90) = (*p50, *p90);
                let ranges = [
                    (format!("≤ {} (p50)", number(p50)), None, Some(p50)),
                    (format!("≥ {} (p50)", number(p50)), Some(p50), None),
                    (format!("≥ {} (p90)", number(p90)), Some(p90), None),
                ];
                for (text, min, max) in ranges {
                    let mut pairs = Vec::new();
                    pairs.extend(min.map(|m| ("min", m.to_string())));
                    pairs.extend(max.map(|m| ("max", m.to_string())));
                    links.push(link(text, None, EvalTest::Range { min, max }, pairs));
                }
            }
            Aggregate::Empty => {}
        }
        if l.errors > 0 {
            links.push(link(
                "error".into(),
                Some(l.errors),
                EvalTest::Failed,
                vec![("value", "error".into())],
            ));
        }
        out.push(context! { label, kind => l.metric_type.clone(), links });
    }
    let errors = [
        ("with errors", "only", s.record_errors, true),
        ("without", "none", s.records.saturating_sub(s.record_errors), false),
    ]
    .into_iter()
    .map(|(text, value, count, want)| {
        context! { text, count, href => filtered(path, &[("errors", value.to_owned())]),
        on => filter.eval.is_none() && filter.errors == Some(want) }
    })
    .collect::<Vec<_>>();
    out.push(context! { label => "records", kind => "", links => errors });
    out
}

/// What the active filter keeps, in words.
fn describe(filter: &RecordFilter) -> String {
    let mut parts = Vec::new();
    if let Some(e) = &filter.eval {
        parts.push(match &e.test {
            EvalTest::Is(value) => format!("{} is {value}", e.label),
            EvalTest::Failed => format!("{} failed", e.label),
            EvalTest::Range { min, max } => {
                let bound = |b: &Option<f64>| b.map(number).unwrap_or_else(|| "…".into());
                format!("{} in {} to {}", e.label, bound(min), bound(max))
            }
        });
    }
    match filter.errors {
        Some(true) => parts.push("the record failed".into()),
        Some(false) => parts.push("the record did not fail".into()),
        None => {}
    }
    parts.join(" and ")
}

/// A JSON object for a `<pre>`: pretty, or empty when it has nothing.
fn object_text(map: &serde_json::Map<String, Json>) -> String {
    if map.is_empty() {
        String::new()
    } else {
        serde_json::to_string_pretty(map).unwrap_or_default()
    }
}

/// The experiment page: its summary, facets and records, filtered and paged.
#[utoipa::path(get, path = "/llm/experiments/{experiment_id}", tag = "pages",
    params(("experiment_id" = String, Path), ("cursor" = Option<String>, Query),
           ("eval" = Option<String>, Query, description = "an evaluation label to filter on"),
           ("value" = Option<String>, Query, description = "true, false, a category, or error"),
           ("min" = Option<f64>, Query), ("max" = Option<f64>, Query),
           ("errors" = Option<String>, Query, description = "only or none")),
    responses((status = 200, content_type = "text/html")))]
pub(crate) async fn experiment(
    State(state): State<AppState>,
    viewer: Viewer,
    Segments(id): Segments<String>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let filter = record_filter(&query)?;
    let shown = viewer.owner(&state, Owned::Experiment, &id).await?;
    let (_, e) = state.store.experiment(&shown.org, &id).await?;
    let stats = state.store.experiment_summary(&shown.org, &id).await?;
    let path = format!("/llm/experiments/{}", urlencode(&id));
    let (found, next) =
        state.store.experiment_records(&shown.org, &id, &filter, query.cursor(), PAGE).await?;
    let records: Vec<Value> = (found.iter())
        .map(|(span_id, span)| {
            let trace_id = span.get("trace_id").and_then(Json::as_str).unwrap_or_default();
            let trace = (!trace_id.is_empty()).then(|| {
                format!("/llm/traces/{}?span={}", urlencode(trace_id), urlencode(span_id))
            });
            context! {
                name => text(span.get("name")),
                input => text(span.pointer("/meta/input")),
                output => text(span.pointer("/meta/output")),
                expected => text(span.pointer("/meta/expected_output")),
                error => text(span.pointer("/meta/error/message")),
                failed => span.get("status").and_then(Json::as_str) == Some("error"),
                duration => span.get("duration").and_then(Json::as_f64).map(millis)
                    .unwrap_or_default(),
                metrics => span["eval_metrics"].as_array().into_iter().flatten()
                    .map(metric).collect::<Vec<_>>(),
                trace => trace.unwrap_or_default(),
            }
        })
        .collect();
    let summary_metrics = (state.store.summary_metrics(&shown.org, &id, PAGE).await?.iter())
        .map(metric)
        .collect::<Vec<_>>();
    let parent = match e.parent_experiment_id.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(parent) => match state.store.experiment(&shown.org, parent).await {
            Ok((_, p)) => Some(context! { id => parent, name => p.experiment, run => p.name }),
            Err(llmobs_store::Error::NotFound(_)) => {
                Some(context! { id => parent, name => parent, run => "deleted" })
            }
            Err(err) => return Err(err.into()),
        },
    };
    let reruns_filter = ExperimentFilter { parent_ids: vec![id.clone()], ..Default::default() };
    let (reruns, _) =
        state.store.list_experiments(&shown.org, &reruns_filter, None, RERUNS).await?;
    let reruns: Vec<Value> = (reruns.into_iter())
        .map(|(rid, r)| {
            context! { id => rid, name => r.experiment, run => r.name,
            created_at => when(&r.created_at) }
        })
        .collect();
    let crumb = project_crumb(&state, &shown.org, &e.project_id).await?;
    // A deleted dataset keeps its experiments: they show its id.
    let dataset_name = match state.store.dataset(&shown.org, None, &e.dataset_id).await {
        Ok((_, d)) => d.name,
        Err(llmobs_store::Error::NotFound(_)) => e.dataset_id.clone(),
        Err(err) => return Err(err.into()),
    };
    let labels: Vec<String> = stats.labels.iter().map(|l| l.label.clone()).collect();
    let form = context! {
        labels, eval => query.get("eval").unwrap_or_default(),
        value => query.get("value").unwrap_or_default(), min => query.get("min").unwrap_or_default(),
        max => query.get("max").unwrap_or_default(), errors => query.get("errors").unwrap_or_default(),
    };
    let body = render(
        "experiment",
        context! {
            id => id.clone(), experiment => e.experiment.clone(), name => e.name,
            description => e.description,
            dataset_id => e.dataset_id, dataset_name, dataset_version => e.dataset_version,
            status => e.status.unwrap_or_else(|| "not started".into()),
            created_at => when(&e.created_at), error => e.error.unwrap_or_default(),
            config => object_text(&e.config), metadata => object_text(&e.metadata),
            run_count => e.run_count, parent, reruns,
            summary => summary(&stats)?, facets => facets(&path, &stats, &filter),
            filtered => !filter.is_empty(), filter_text => describe(&filter), form, path => path.clone(),
            records, summary_metrics,
            next => query.next(&path, FILTER_KEYS, next.as_ref().map(encode_cursor)),
        },
    )?;
    let crumbs = vec![
        ("Projects", Some("/".into())),
        (crumb.0.as_str(), crumb.1),
        (e.experiment.as_str(), None),
    ];
    Ok(page(&e.experiment, &shown, Place { section: "Experiments", crumbs }, body)?)
}
