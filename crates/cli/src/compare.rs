//! `llmobs experiments compare BASELINE CANDIDATE`: per-evaluator aggregates of both
//! experiments ([`llmobs_core::summary`]), their deltas, the records that regressed (or,
//! for categorical evaluations, changed), and the `--fail-on` rules ([`crate::gate`])
//! that make it a CI gate. Printed as a table, Markdown (for a pull-request comment) or
//! JSON.

use std::collections::BTreeMap;

use clap::{Args, ValueEnum};
use llmobs::{ErrorKind, ExperimentInfo, ListExperiments};
use llmobs_core::summary::{Aggregate, ExperimentSummary, SummaryBuilder};
use serde::Serialize;
use serde_json::{Value, json};

use crate::gate::{self, Outcome, Rule};
use crate::output::{Format, Table};
use crate::{Ctx, usage};

/// How the comparison is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// Aligned tables.
    Table,
    /// Markdown, for a pull-request comment.
    Markdown,
    /// JSON.
    Json,
}

/// Options of `experiments compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: an experiment id, an experiment name (its latest run) or a tag
    /// KEY:VALUE (the latest run with it); `id:`, `name:` or `tag:` force one reading.
    pub baseline: String,
    /// The candidate, named the same ways.
    pub candidate: String,
    /// A rule that fails the comparison (exit 1) when it holds, such as
    /// 'accuracy < -0.02' or 'latency.p90 > +10%' (repeatable).
    #[arg(long = "fail-on", value_name = "RULE", value_parser = parse_rule)]
    pub fail_on: Vec<Rule>,
    /// How to print.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    /// How many regressed or changed records to list.
    #[arg(long, default_value_t = 20)]
    pub max_records: usize,
}

fn parse_rule(text: &str) -> Result<Rule, String> {
    gate::parse(text)
}

/// One experiment, read for comparison.
struct Side {
    info: ExperimentInfo,
    summary: ExperimentSummary,
    /// Per record id: its latest value per label, and whether its span failed.
    records: BTreeMap<String, (BTreeMap<String, Value>, bool)>,
}

/// Finds an experiment by id, name (latest run) or tag.
pub async fn resolve(ctx: &Ctx, key: &str) -> anyhow::Result<ExperimentInfo> {
    let by_filter = |name: Option<String>, tags: Vec<String>| ListExperiments {
        experiment_name: name,
        project_name: Some(ctx.settings.project().to_owned()),
        tags,
        max_results: Some(1),
        ..ListExperiments::default()
    };
    let first = |filter: ListExperiments| async move {
        Ok::<_, anyhow::Error>(ctx.client.list_experiments(filter).await?.into_iter().next())
    };
    if let Some(id) = key.strip_prefix("id:") {
        return Ok(ctx.client.get_experiment(id).await?);
    }
    if let Some(name) = key.strip_prefix("name:") {
        return first(by_filter(Some(name.to_owned()), vec![])).await?.ok_or_else(|| {
            anyhow::anyhow!("no experiment named '{name}' in project '{}'", ctx.settings.project())
        });
    }
    if let Some(tag) = key.strip_prefix("tag:") {
        return first(by_filter(None, vec![tag.to_owned()])).await?.ok_or_else(|| {
            anyhow::anyhow!("no experiment tagged '{tag}' in project '{}'", ctx.settings.project())
        });
    }
    match ctx.client.get_experiment(key).await {
        Ok(found) => return Ok(found),
        Err(err) if err.kind() == ErrorKind::NotFound || err.kind() == ErrorKind::Validation => {}
        Err(err) => return Err(err.into()),
    }
    if let Some(found) = first(by_filter(Some(key.to_owned()), vec![])).await? {
        return Ok(found);
    }
    if key.contains(':')
        && let Some(found) = first(by_filter(None, vec![key.to_owned()])).await?
    {
        return Ok(found);
    }
    anyhow::bail!(
        "no experiment with id, name or tag '{key}' in project '{}': `llmobs experiments list` shows them",
        ctx.settings.project()
    )
}

/// The latest metric of each label on a span.
fn latest_metrics(span: &Value) -> BTreeMap<String, &Value> {
    let mut latest: BTreeMap<String, (i64, &Value)> = BTreeMap::new();
    for metric in span.get("eval_metrics").and_then(Value::as_array).into_iter().flatten() {
        let Some(label) = metric.get("label").and_then(Value::as_str) else { continue };
        let at = metric.get("timestamp_ms").and_then(Value::as_i64).unwrap_or(0);
        if latest.get(label).is_none_or(|(seen, _)| *seen <= at) {
            latest.insert(label.to_owned(), (at, metric));
        }
    }
    latest.into_iter().map(|(k, (_, v))| (k, v)).collect()
}

fn tag<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span.get("tags")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|t| t.strip_prefix(key)?.strip_prefix(':'))
}

async fn side(ctx: &Ctx, info: ExperimentInfo) -> anyhow::Result<Side> {
    let events = ctx.client.experiment_events(&info.id).await?;
    let mut builder = SummaryBuilder::new();
    let mut records = BTreeMap::new();
    for span in &events.spans {
        let root = matches!(
            span.get("parent_id").and_then(Value::as_str),
            None | Some("" | "undefined" | "0")
        );
        if !root {
            continue;
        }
        let failed = span.get("status").and_then(Value::as_str) == Some("error");
        builder.record(span.get("duration").and_then(Value::as_f64).unwrap_or(0.0), failed);
        let mut values = BTreeMap::new();
        for (label, metric) in latest_metrics(span) {
            builder.evaluation(metric);
            let kind = metric.get("metric_type").and_then(Value::as_str).unwrap_or("");
            if let Some(value) = metric.get(format!("{kind}_value")) {
                values.insert(label, value.clone());
            }
        }
        let id = tag(span, "dataset_record_id").unwrap_or("").to_owned();
        if !id.is_empty() {
            records.insert(id, (values, failed));
        }
    }
    Ok(Side { info, summary: builder.finish(), records })
}

/// One row of the metrics table. Categorical evaluations have no number: their row shows
/// each side's mode (most frequent value) instead, and no delta.
#[derive(Debug, Serialize)]
struct MetricRow {
    metric: String,
    kind: String,
    baseline: Option<f64>,
    candidate: Option<f64>,
    delta: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate_mode: Option<String>,
}

impl MetricRow {
    /// A side's figure as printed: its number, else its mode, else `-`.
    fn shown(number_of: Option<f64>, mode: &Option<String>) -> String {
        match (number_of, mode) {
            (None, Some(mode)) => mode.clone(),
            (value, _) => number(value),
        }
    }
}

/// How a record's evaluation moved between the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Movement {
    /// Worse: `true` to `false`, a lower score, or a span that now fails.
    Regressed,
    /// A different category: categories have no order, so neither better nor worse.
    Changed,
}

/// A record whose evaluation regressed or changed.
#[derive(Debug, Serialize)]
struct MovedRecord {
    record_id: String,
    metric: String,
    baseline: Value,
    candidate: Value,
    movement: Movement,
}

fn headline(aggregate: &Aggregate) -> Option<f64> {
    match aggregate {
        Aggregate::Boolean { .. } => aggregate.ratio(),
        Aggregate::Score { mean, .. } => Some(*mean),
        _ => None,
    }
}

fn metric_rows(base: &ExperimentSummary, cand: &ExperimentSummary) -> Vec<MetricRow> {
    let mut labels: Vec<(&str, &str)> = base
        .labels
        .iter()
        .chain(&cand.labels)
        .map(|l| (l.label.as_str(), l.metric_type.as_str()))
        .collect();
    labels.sort_unstable();
    labels.dedup_by(|a, b| a.0 == b.0);
    let find = |s: &ExperimentSummary, label: &str| {
        s.labels.iter().find(|l| l.label == label).and_then(|l| headline(&l.aggregate))
    };
    let mode = |s: &ExperimentSummary, label: &str| {
        s.labels.iter().find(|l| l.label == label).and_then(|l| match &l.aggregate {
            Aggregate::Categorical { mode, .. } => Some(mode.clone()),
            _ => None,
        })
    };
    let mut rows: Vec<MetricRow> = labels
        .into_iter()
        .map(|(label, kind)| {
            let (b, c) = (find(base, label), find(cand, label));
            MetricRow {
                metric: label.to_owned(),
                kind: kind.to_owned(),
                baseline: b,
                candidate: c,
                delta: b.zip(c).map(|(b, c)| c - b),
                baseline_mode: mode(base, label),
                candidate_mode: mode(cand, label),
            }
        })
        .collect();
    for (metric, stat) in [("latency.p50", "p50"), ("latency.p90", "p90")] {
        let b = gate::value(base, "latency", Some(stat)).ok().flatten();
        let c = gate::value(cand, "latency", Some(stat)).ok().flatten();
        rows.push(MetricRow {
            metric: metric.to_owned(),
            kind: "ms".to_owned(),
            baseline: b,
            candidate: c,
            delta: b.zip(c).map(|(b, c)| c - b),
            baseline_mode: None,
            candidate_mode: None,
        });
    }
    let (b, c) = (base.record_errors as f64, cand.record_errors as f64);
    rows.push(MetricRow {
        metric: "errors".to_owned(),
        kind: "count".to_owned(),
        baseline: Some(b),
        candidate: Some(c),
        delta: Some(c - b),
        baseline_mode: None,
        candidate_mode: None,
    });
    rows
}

fn moved_records(base: &Side, cand: &Side) -> Vec<MovedRecord> {
    let mut out = Vec::new();
    for (id, (cand_values, cand_failed)) in &cand.records {
        let Some((base_values, base_failed)) = base.records.get(id) else { continue };
        if *cand_failed && !base_failed {
            out.push(MovedRecord {
                record_id: id.clone(),
                metric: "status".into(),
                baseline: json!("ok"),
                candidate: json!("error"),
                movement: Movement::Regressed,
            });
        }
        for (label, c) in cand_values {
            let Some(b) = base_values.get(label) else { continue };
            let movement = match (b, c) {
                (Value::Bool(true), Value::Bool(false)) => Some(Movement::Regressed),
                (Value::Number(b), Value::Number(c)) if c.as_f64() < b.as_f64() => {
                    Some(Movement::Regressed)
                }
                (Value::String(b), Value::String(c)) if b != c => Some(Movement::Changed),
                _ => None,
            };
            if let Some(movement) = movement {
                out.push(MovedRecord {
                    record_id: id.clone(),
                    metric: label.clone(),
                    baseline: b.clone(),
                    candidate: c.clone(),
                    movement,
                });
            }
        }
    }
    out
}

fn number(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) => format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_owned(),
    }
}

fn signed(value: Option<f64>) -> String {
    match value {
        Some(v) if v > 0.0 => format!("+{}", number(Some(v))),
        other => number(other),
    }
}

fn movement_word(movement: Movement) -> &'static str {
    match movement {
        Movement::Regressed => "regressed",
        Movement::Changed => "changed",
    }
}

/// "3 regressed record evaluation(s), 2 changed (categorical)".
fn moved_heading(moved: &[MovedRecord]) -> String {
    let regressed = moved.iter().filter(|r| r.movement == Movement::Regressed).count();
    let changed = moved.len() - regressed;
    let mut text = format!("{regressed} regressed record evaluation(s)");
    if changed > 0 {
        text.push_str(&format!(", {changed} changed (categorical)"));
    }
    text
}

fn name(info: &ExperimentInfo) -> String {
    format!("{} ({})", info.attributes.name, info.id)
}

/// Runs `experiments compare`; fails (exit 1) when a `--fail-on` rule holds.
pub async fn run(ctx: &Ctx, args: CompareArgs) -> anyhow::Result<()> {
    let base_info = resolve(ctx, &args.baseline).await?;
    let cand_info = resolve(ctx, &args.candidate).await?;
    let base = side(ctx, base_info).await?;
    let cand = side(ctx, cand_info).await?;
    let outcomes: Vec<Outcome> = args
        .fail_on
        .iter()
        .map(|rule| gate::check(rule, &base.summary, &cand.summary))
        .collect::<Result<_, _>>()
        .map_err(usage)?;
    let rows = metric_rows(&base.summary, &cand.summary);
    let moved = moved_records(&base, &cand);
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.holds).collect();
    let format = if ctx.out.format == Format::Table { args.format } else { CompareFormat::Json };
    match format {
        CompareFormat::Json => {
            let rules: Vec<Value> = outcomes
                .iter()
                .map(|o| json!({"rule": o.rule.text, "baseline": o.baseline, "candidate": o.candidate, "observed": o.observed, "failed": o.holds}))
                .collect();
            let value = json!({
                "baseline": {"id": base.info.id, "name": base.info.attributes.name, "records": base.summary.records},
                "candidate": {"id": cand.info.id, "name": cand.info.attributes.name, "records": cand.summary.records},
                "metrics": rows,
                "regressions": moved.iter().filter(|r| r.movement == Movement::Regressed).collect::<Vec<_>>(),
                "changes": moved.iter().filter(|r| r.movement == Movement::Changed).collect::<Vec<_>>(),
                "rules": rules,
                "failed": !failed.is_empty(),
            });
            ctx.out.one(&value, Table::default)?;
        }
        CompareFormat::Table => {
            let mut text =
                format!("baseline   {}\ncandidate  {}\n\n", name(&base.info), name(&cand.info));
            let mut table = Table::new(["METRIC", "TYPE", "BASELINE", "CANDIDATE", "DELTA"]);
            for r in &rows {
                table.row([
                    r.metric.clone(),
                    r.kind.clone(),
                    MetricRow::shown(r.baseline, &r.baseline_mode),
                    MetricRow::shown(r.candidate, &r.candidate_mode),
                    signed(r.delta),
                ]);
            }
            let width = crate::output::terminal_width();
            text.push_str(&table.render(width));
            if !moved.is_empty() {
                text.push_str(&format!("\n{}\n", moved_heading(&moved)));
                let mut table = Table::new(["RECORD", "METRIC", "BASELINE", "CANDIDATE", "CHANGE"]);
                for r in moved.iter().take(args.max_records) {
                    table.row([
                        r.record_id.clone(),
                        r.metric.clone(),
                        r.baseline.to_string(),
                        r.candidate.to_string(),
                        movement_word(r.movement).to_owned(),
                    ]);
                }
                text.push_str(&table.render(width));
            }
            if !outcomes.is_empty() {
                text.push('\n');
                let mut table = Table::new(["RULE", "OBSERVED", "RESULT"]);
                for o in &outcomes {
                    table.row([
                        o.rule.text.clone(),
                        number(o.observed),
                        if o.holds { "FAIL" } else { "pass" }.to_owned(),
                    ]);
                }
                text.push_str(&table.render(width));
            }
            ctx.out.text(&text)?;
        }
        CompareFormat::Markdown => {
            let mut md = String::from("### Experiment comparison\n\n");
            md.push_str(&format!(
                "Baseline: `{}` · Candidate: `{}`\n\n",
                name(&base.info),
                name(&cand.info)
            ));
            md.push_str("| Metric | Type | Baseline | Candidate | Δ |\n|---|---|---:|---:|---:|\n");
            for r in &rows {
                md.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    r.metric,
                    r.kind,
                    MetricRow::shown(r.baseline, &r.baseline_mode),
                    MetricRow::shown(r.candidate, &r.candidate_mode),
                    signed(r.delta)
                ));
            }
            if !outcomes.is_empty() {
                md.push_str("\n| Rule | Observed | Result |\n|---|---:|---|\n");
                for o in &outcomes {
                    md.push_str(&format!(
                        "| `{}` | {} | {} |\n",
                        o.rule.text,
                        number(o.observed),
                        if o.holds { "❌ fail" } else { "✅ pass" }
                    ));
                }
            }
            if !moved.is_empty() {
                md.push_str(&format!("\n<details><summary>{}</summary>\n\n| Record | Metric | Baseline | Candidate | Change |\n|---|---|---|---|---|\n", moved_heading(&moved)));
                for r in moved.iter().take(args.max_records) {
                    md.push_str(&format!(
                        "| `{}` | {} | {} | {} | {} |\n",
                        r.record_id,
                        r.metric,
                        r.baseline,
                        r.candidate,
                        movement_word(r.movement)
                    ));
                }
                md.push_str("\n</details>\n");
            }
            ctx.out.text(&md)?;
        }
    }
    if !failed.is_empty() {
        let list: Vec<&str> = failed.iter().map(|o| o.rule.text.as_str()).collect();
        anyhow::bail!("{} of {} rule(s) failed: {}", failed.len(), outcomes.len(), list.join("; "));
    }
    Ok(())
}
