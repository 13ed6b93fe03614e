//! The compare page, `/llm/experiments/compare?experiment=A&experiment=B…`: experiments
//! of one dataset side by side (the oldest is the baseline): each evaluation's aggregate
//! with its delta against the baseline, a bar chart of each, and the dataset records
//! joined across the experiments, filterable to those whose evaluation changed, regressed
//! or improved ([`llmobs_core::compare`]; the join runs in the store).

use axum::extract::{RawQuery, State};
use axum::response::Html;
use llmobs_core::compare::{Change, CompareFilter, check_comparable, delta, headline};
use llmobs_core::summary::{Aggregate, EvalValue, ExperimentSummary};
use llmobs_store::Owned;
use minijinja::{Value, context};
use serde_json::Value as Json;

use super::chart::{Bar, bars};
use super::{
    ListQuery, PAGE, PageError, Place, Viewer, metric, millis, number, page, percent,
    project_crumb, render, text,
};
use crate::error::ApiError;
use crate::state::AppState;

const PATH: &str = "/llm/experiments/compare";

/// The compare filter of a page's query (`eval` and `change`, both or neither).
fn compare_filter(query: &ListQuery) -> Result<Option<CompareFilter>, ApiError> {
    let bad = |err: llmobs_core::compare::CompareError| {
        ApiError::bad_request(err.to_string(), "pick an evaluation and a change in the form")
    };
    match (query.get("eval"), query.get("change")) {
        (None, None) => Ok(None),
        (Some(_), None) => Ok(None),
        (None, Some(_)) => Err(bad(llmobs_core::compare::CompareError::NoLabel)),
        (Some(label), Some(change)) => Ok(Some(CompareFilter {
            label: label.to_owned(),
            change: Change::parse(change).map_err(bad)?,
        })),
    }
}

/// An aggregate's headline for a cell, and its detail.
fn cell(aggregate: Option<&Aggregate>) -> (String, String) {
    match aggregate {
        None | Some(Aggregate::Empty) => ("–".into(), String::new()),
        Some(a @ Aggregate::Boolean { true_count, count }) => {
            (percent(a.ratio().unwrap_or_default()), format!("{true_count} of {count} true"))
        }
        Some(Aggregate::Score { mean, p50, p90, .. }) => {
            (number(*mean), format!("p50 {} · p90 {}", number(*p50), number(*p90)))
        }
        Some(Aggregate::Categorical { mode, counts }) => (
            mode.clone(),
            counts.iter().take(4).map(|(v, n)| format!("{v}: {n}")).collect::<Vec<_>>().join(" · "),
        ),
    }
}

/// A delta for people: percentage points for shares, plain for scores, with its sign.
fn signed(delta: f64, share: bool) -> String {
    let sign = if delta > 0.0 {
        "+"
    } else if delta < 0.0 {
        "−"
    } else {
        "±"
    };
    if share {
        format!("{sign}{:.1} pp", delta.abs() * 100.0)
    } else {
        format!("{sign}{}", number(delta.abs()))
    }
}

/// The compare page.
#[utoipa::path(get, path = "/llm/experiments/compare", tag = "pages",
    params(("experiment" = Vec<String>, Query, description = "two or more experiment ids; the oldest is the baseline"),
           ("eval" = Option<String>, Query), ("change" = Option<String>, Query, description = "changed, regressed or improved"),
           ("cursor" = Option<String>, Query)),
    responses((status = 200, content_type = "text/html")))]
pub(crate) async fn compare(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let ids: Vec<String> = (query.query.all("experiment").into_iter())
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .collect();
    let hint = "tick two or more experiments of one dataset on the experiments list";
    let first = ids.first().ok_or_else(|| {
        ApiError::bad_request("compare needs at least two experiments (experiment=…)", hint)
    })?;
    let filter = compare_filter(&query)?;
    let shown = viewer.owner(&state, Owned::Experiment, first).await?;
    let mut chosen = Vec::with_capacity(ids.len());
    for id in &ids {
        chosen.push((id.clone(), state.store.experiment(&shown.org, id).await?.1));
    }
    // The oldest is the baseline: newer runs are compared with what came before.
    chosen.sort_by(|(a, x), (b, y)| (&x.created_at, a).cmp(&(&y.created_at, b)));
    let (ids, experiments): (Vec<String>, Vec<_>) = chosen.into_iter().unzip();
    let pairs: Vec<(&str, &str)> =
        ids.iter().zip(&experiments).map(|(id, e)| (id.as_str(), e.dataset_id.as_str())).collect();
    check_comparable(&pairs).map_err(|err| ApiError::bad_request(err.to_string(), hint))?;
    let mut summaries: Vec<ExperimentSummary> = Vec::with_capacity(ids.len());
    for id in &ids {
        summaries.push(state.store.experiment_summary(&shown.org, id).await?);
    }
    // Every label any experiment has, in label order.
    let mut labels: Vec<(String, String)> = Vec::new();
    for s in &summaries {
        for l in &s.labels {
            if !labels.iter().any(|(label, _)| label == &l.label) {
                labels.push((l.label.clone(), l.metric_type.clone()));
            }
        }
    }
    labels.sort();
    let aggregate = |i: usize, label: &str| {
        summaries[i].labels.iter().find(|l| l.label == label).map(|l| &l.aggregate)
    };
    let mut rows = Vec::new();
    let mut charts = Vec::new();
    for (label, kind) in &labels {
        let share = kind == "boolean";
        let cells: Vec<Value> = (0..ids.len())
            .map(|i| {
                let (value, detail) = cell(aggregate(i, label));
                let d = match (aggregate(0, label), aggregate(i, label)) {
                    (Some(base), Some(other)) if i > 0 => delta(base, other),
                    _ => None,
                };
                let mode_changed = matches!(
                    (aggregate(0, label), aggregate(i, label)),
                    (Some(Aggregate::Categorical { mode: a, .. }), Some(Aggregate::Categorical { mode: b, .. })) if i > 0 && a != b
                );
                context! {
                    value, detail,
                    delta => d.map(|d| signed(d, share)).unwrap_or_else(|| if mode_changed { "changed".into() } else { String::new() }),
                    up => d.is_some_and(|d| d > 0.0), down => d.is_some_and(|d| d < 0.0),
                }
            })
            .collect();
        rows.push(context! { label, kind, cells });
        if kind == "boolean" || kind == "score" {
            let chart_bars: Vec<Bar> = (0..ids.len())
                .map(|i| {
                    let value = aggregate(i, label).and_then(headline);
                    Bar {
                        name: experiments[i].experiment.clone(),
                        value,
                        text: cell(aggregate(i, label)).0,
                    }
                })
                .collect();
            let title =
                if share { format!("{label} (share true)") } else { format!("{label} (mean)") };
            charts.push(bars(&title, &chart_bars, share)?);
        }
    }
    let records_row = (0..ids.len())
        .map(|i| {
            let s = &summaries[i];
            context! {
                records => s.records, errors => s.record_errors,
                p50 => s.durations.map(|d| millis(d.p50)).unwrap_or_else(|| "–".into()),
            }
        })
        .collect::<Vec<_>>();
    let columns: Vec<Value> = (ids.iter().zip(&experiments))
        .enumerate()
        .map(|(i, (id, e))| context! { id, name => e.experiment.clone(), run => e.name.clone(), baseline => i == 0 })
        .collect();

    let (joined, next) = state
        .store
        .compare_records(&shown.org, &ids, filter.as_ref(), query.cursor(), PAGE)
        .await?;
    let records: Vec<Value> = (joined.iter())
        .map(|(record_id, j)| {
            let base = j.runs.first().and_then(Option::as_ref);
            let base_values = |label: &str| value_of(base, label);
            let runs: Vec<Value> = (j.runs.iter().enumerate())
                .map(|(i, run)| match run {
                    None => {
                        context! { missing => true, output => "", metrics => Vec::<Value>::new() }
                    }
                    Some(span) => {
                        let metrics: Vec<Value> = (span["eval_metrics"]
                            .as_array()
                            .into_iter()
                            .flatten())
                        .map(|m| {
                            let label = m["label"].as_str().unwrap_or_default();
                            let moved = (i > 0)
                                .then(|| Change::between(&base_values(label), &EvalValue::of(m)))
                                .flatten();
                            let mut shown = metric(m);
                            if let Some(moved) = moved {
                                shown = context! { moved => moved.as_str(), ..shown };
                            }
                            shown
                        })
                        .collect();
                        context! {
                            missing => false, output => text(span.pointer("/meta/output")), metrics,
                            failed => span.get("status").and_then(Json::as_str) == Some("error"),
                        }
                    }
                })
                .collect();
            context! {
                record_id,
                input => text(base.and_then(|b| b.pointer("/meta/input"))),
                expected => text(base.and_then(|b| b.pointer("/meta/expected_output"))),
                runs,
            }
        })
        .collect();
    let mut keys: Vec<(&str, String)> = ids.iter().map(|id| ("experiment", id.clone())).collect();
    for key in ["eval", "change"] {
        if let Some(v) = query.get(key) {
            keys.push((key, v.to_owned()));
        }
    }
    let chosen: Vec<(&str, &String)> = ids.iter().map(|id| ("experiment", id)).collect();
    let clear = format!("{PATH}?{}", serde_urlencoded::to_string(&chosen).unwrap_or_default());
    // A filtered page looks at a bounded window of records: when it is not full but has a
    // next page, say how far it looked.
    let looked_to = (filter.is_some() && joined.len() < PAGE).then(|| next.clone()).flatten();
    let next = next.map(|cursor| {
        let mut keys = keys.clone();
        keys.push(("cursor", cursor));
        format!("{PATH}?{}", serde_urlencoded::to_string(&keys).unwrap_or_default())
    });
    let dataset_name = match state.store.dataset(&shown.org, None, &experiments[0].dataset_id).await
    {
        Ok((_, d)) => d.name,
        Err(llmobs_store::Error::NotFound(_)) => experiments[0].dataset_id.clone(),
        Err(err) => return Err(err.into()),
    };
    let changes: Vec<&str> = Change::ALL.iter().map(|c| c.as_str()).collect();
    let label_names: Vec<String> = labels.iter().map(|(l, _)| l.clone()).collect();
    let body = render(
        "compare",
        context! {
            columns, rows, records_row, charts, records, dataset_name,
            dataset_id => experiments[0].dataset_id.clone(),
            ids_count => ids.len(), ids => ids.clone(), labels => label_names, changes,
            eval => query.get("eval").unwrap_or_default(), change => query.get("change").unwrap_or_default(),
            filtered => filter.is_some(), clear, next => next.unwrap_or_default(),
            looked_to => looked_to.unwrap_or_default(),
        },
    )?;
    let crumb = project_crumb(&state, &shown.org, &experiments[0].project_id).await?;
    let crumbs =
        vec![("Projects", Some("/".into())), (crumb.0.as_str(), crumb.1), ("Compare", None)];
    Ok(page("Compare experiments", &shown, Place { section: "Experiments", crumbs }, body)?)
}

/// The value of `label` in a record span's evaluations (the first one with that label).
fn value_of(span: Option<&Json>, label: &str) -> EvalValue {
    (span.and_then(|s| s["eval_metrics"].as_array()).into_iter().flatten())
        .find(|m| m["label"].as_str() == Some(label))
        .map(EvalValue::of)
        .unwrap_or_default()
}
