//! The rules of `experiments compare --fail-on`: parsing and evaluation over two
//! experiment summaries ([`llmobs_core::summary`]).
//!
//! A rule is `METRIC[.STAT] OP NUMBER[%]`, with `OP` one of `<`, `<=`, `>`, `>=`:
//!
//! - a number with a sign (`-0.02`, `+5`) compares the **change** from baseline to
//!   candidate: `accuracy < -0.02` holds when accuracy dropped by more than 0.02;
//! - a number ending in `%` compares the **relative change**, in percent of the baseline:
//!   `latency.p90 > +10%` holds when the p90 latency grew by more than 10 %;
//! - a number without a sign or `%` compares the **candidate's value** itself:
//!   `accuracy < 0.8`, `errors > 0`.
//!
//! `METRIC` is an evaluation label, `latency` (record durations in milliseconds) or
//! `errors` (records that failed). `STAT` picks a statistic: `rate` (boolean labels, the
//! default), `mean` (the default of scores), `p50`, `p90` (scores and latency), `p99`
//! (latency; its default is `p50`), `count` (evaluations or records). A rule that holds
//! fails the gate.

use llmobs_core::summary::{Aggregate, ExperimentSummary};

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
        }
    }
}

/// What a rule's number is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The candidate's value.
    Value,
    /// Candidate minus baseline.
    Change,
    /// (Candidate − baseline) / |baseline|, in percent.
    Relative,
}

/// One `--fail-on` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule as written.
    pub text: String,
    /// The metric: a label, `latency` or `errors`.
    pub metric: String,
    /// The statistic, when named.
    pub stat: Option<String>,
    /// The comparison.
    pub op: Op,
    /// The number.
    pub threshold: f64,
    /// What the number is compared with.
    pub mode: Mode,
}

/// Parses a rule; the error says what is wrong and shows the form.
pub fn parse(text: &str) -> Result<Rule, String> {
    let form = "rules look like 'accuracy < -0.02', 'latency.p90 > +10%' or 'errors > 0'";
    let trimmed = text.trim();
    let at = trimmed
        .find(['<', '>'])
        .ok_or_else(|| format!("'{text}' has no comparison (<, <=, >, >=): {form}"))?;
    let (left, rest) = trimmed.split_at(at);
    let (op, right) = match rest.as_bytes() {
        [b'<', b'=', ..] => (Op::Le, &rest[2..]),
        [b'>', b'=', ..] => (Op::Ge, &rest[2..]),
        [b'<', ..] => (Op::Lt, &rest[1..]),
        _ => (Op::Gt, &rest[1..]),
    };
    let left = left.trim();
    if left.is_empty() {
        return Err(format!("'{text}' names no metric: {form}"));
    }
    let (metric, stat) = match left.rsplit_once('.') {
        Some((metric, stat)) if STATS.contains(&stat) => (metric, Some(stat.to_owned())),
        _ => (left, None),
    };
    let right = right.trim();
    let (number, relative) = match right.strip_suffix('%') {
        Some(number) => (number.trim(), true),
        None => (right, false),
    };
    let signed = number.starts_with(['+', '-']);
    let threshold: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| format!("'{text}': '{right}' is not a number: {form}"))?;
    let mode = if relative {
        Mode::Relative
    } else if signed {
        Mode::Change
    } else {
        Mode::Value
    };
    Ok(Rule { text: trimmed.to_owned(), metric: metric.to_owned(), stat, op, threshold, mode })
}

/// The statistics a rule may name.
pub const STATS: [&str; 6] = ["rate", "mean", "p50", "p90", "p99", "count"];

/// The value of `metric.stat` in a summary; `Ok(None)` when the experiment has no such
/// value (no records, no evaluations of that label); an error when the statistic does not
/// apply to the metric.
pub fn value(
    summary: &ExperimentSummary,
    metric: &str,
    stat: Option<&str>,
) -> Result<Option<f64>, String> {
    let ms = |ns: f64| ns / 1e6;
    match metric {
        "latency" => {
            let Some(d) = summary.durations else { return Ok(None) };
            match stat.unwrap_or("p50") {
                "p50" => Ok(Some(ms(d.p50))),
                "p90" => Ok(Some(ms(d.p90))),
                "p99" => Ok(Some(ms(d.p99))),
                "count" => Ok(Some(summary.records as f64)),
                other => Err(format!("latency has p50, p90, p99 and count, not '{other}'")),
            }
        }
        "errors" => match stat.unwrap_or("count") {
            "count" => Ok(Some(summary.record_errors as f64)),
            "rate" if summary.records > 0 => {
                Ok(Some(summary.record_errors as f64 / summary.records as f64))
            }
            "rate" => Ok(None),
            other => Err(format!("errors has count and rate, not '{other}'")),
        },
        label => {
            let Some(found) = summary.labels.iter().find(|l| l.label == label) else {
                return Ok(None);
            };
            match (&found.aggregate, stat) {
                (Aggregate::Boolean { .. }, None | Some("rate" | "mean")) => {
                    Ok(found.aggregate.ratio())
                }
                (Aggregate::Boolean { count, .. }, Some("count")) => Ok(Some(*count as f64)),
                (Aggregate::Score { mean, .. }, None | Some("mean")) => Ok(Some(*mean)),
                (Aggregate::Score { p50, .. }, Some("p50")) => Ok(Some(*p50)),
                (Aggregate::Score { p90, .. }, Some("p90")) => Ok(Some(*p90)),
                (Aggregate::Score { count, .. }, Some("count")) => Ok(Some(*count as f64)),
                (Aggregate::Categorical { counts, .. }, Some("count")) => {
                    Ok(Some(counts.iter().map(|(_, n)| *n as f64).sum()))
                }
                (Aggregate::Categorical { .. }, _) => {
                    Err(format!("'{label}' is categorical: only '{label}.count' can be compared"))
                }
                (Aggregate::Empty, _) => Ok(None),
                (_, Some(other)) => Err(format!("'{label}' has no statistic '{other}'")),
            }
        }
    }
}

/// How a rule came out.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The rule.
    pub rule: Rule,
    /// The baseline's value.
    pub baseline: Option<f64>,
    /// The candidate's value.
    pub candidate: Option<f64>,
    /// What was compared with the threshold.
    pub observed: Option<f64>,
    /// Whether the rule holds (the gate fails).
    pub holds: bool,
}

/// Evaluates a rule. A metric neither experiment has is an error naming the metrics they
/// have; a metric one of them lacks compares nothing and does not hold.
pub fn check(
    rule: &Rule,
    baseline: &ExperimentSummary,
    candidate: &ExperimentSummary,
) -> Result<Outcome, String> {
    let known = |s: &ExperimentSummary| s.labels.iter().any(|l| l.label == rule.metric);
    if !matches!(rule.metric.as_str(), "latency" | "errors")
        && !known(baseline)
        && !known(candidate)
    {
        let mut names: Vec<&str> =
            baseline.labels.iter().chain(&candidate.labels).map(|l| l.label.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.extend(["latency", "errors"]);
        return Err(format!(
            "rule '{}': neither experiment has '{}' (metrics: {})",
            rule.text,
            rule.metric,
            names.join(", ")
        ));
    }
    let stat = rule.stat.as_deref();
    let base =
        value(baseline, &rule.metric, stat).map_err(|e| format!("rule '{}': {e}", rule.text))?;
    let cand =
        value(candidate, &rule.metric, stat).map_err(|e| format!("rule '{}': {e}", rule.text))?;
    let observed = match rule.mode {
        Mode::Value => cand,
        Mode::Change => base.zip(cand).map(|(b, c)| c - b),
        Mode::Relative => base.zip(cand).and_then(|(b, c)| {
            if b == 0.0 {
                (c == 0.0).then_some(0.0).or(Some(f64::INFINITY.copysign(c)))
            } else {
                Some((c - b) / b.abs() * 100.0)
            }
        }),
    };
    let holds = observed.is_some_and(|o| rule.op.holds(o, rule.threshold));
    Ok(Outcome { rule: rule.clone(), baseline: base, candidate: cand, observed, holds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmobs_core::summary::SummaryBuilder;
    use serde_json::json;

    fn summary(passes: &[bool], scores: &[f64], durations_ms: &[f64]) -> ExperimentSummary {
        let mut b = SummaryBuilder::new();
        for p in passes {
            b.evaluation(
                &json!({"label": "accuracy", "metric_type": "boolean", "boolean_value": p}),
            );
        }
        for s in scores {
            b.evaluation(&json!({"label": "quality", "metric_type": "score", "score_value": s}));
        }
        b.evaluation(
            &json!({"label": "tone", "metric_type": "categorical", "categorical_value": "ok"}),
        );
        for d in durations_ms {
            b.record(d * 1e6, false);
        }
        b.finish()
    }

    #[test]
    fn rules_parse_with_their_mode() {
        let r = parse("accuracy < -0.02").unwrap();
        assert_eq!(
            (r.metric.as_str(), r.stat, r.op, r.threshold, r.mode),
            ("accuracy", None, Op::Lt, -0.02, Mode::Change)
        );
        let r = parse(" latency.p90 > +10% ").unwrap();
        assert_eq!(
            (r.metric.as_str(), r.stat.as_deref(), r.op, r.threshold, r.mode),
            ("latency", Some("p90"), Op::Gt, 10.0, Mode::Relative)
        );
        let r = parse("errors>=1").unwrap();
        assert_eq!((r.op, r.mode), (Op::Ge, Mode::Value));
        let r = parse("my.label <= 0.5").unwrap();
        assert_eq!((r.metric.as_str(), r.stat), ("my.label", None));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        assert!(parse("accuracy -0.02").unwrap_err().contains("no comparison"));
        assert!(parse("< 3").unwrap_err().contains("no metric"));
        assert!(parse("accuracy < lots").unwrap_err().contains("not a number"));
        assert!(parse("accuracy < nan").unwrap_err().contains("not a number"));
    }

    #[test]
    fn a_drop_beyond_the_threshold_holds_and_a_small_one_does_not() {
        let base = summary(&[true, true, true, true, false], &[0.8], &[100.0]); // 0.8
        let worse = summary(&[true, true, true, false, false], &[0.8], &[100.0]); // 0.6
        let same = summary(&[true, true, true, true, false], &[0.8], &[100.0]);
        let rule = parse("accuracy < -0.02").unwrap();
        let out = check(&rule, &base, &worse).unwrap();
        assert!(out.holds);
        assert!((out.observed.unwrap() + 0.2).abs() < 1e-9);
        assert!(!check(&rule, &base, &same).unwrap().holds);
    }

    #[test]
    fn relative_latency_rules_use_the_percentile() {
        let base = summary(
            &[true],
            &[],
            &[100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 200.0],
        );
        let slower = summary(
            &[true],
            &[],
            &[100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 150.0, 300.0],
        );
        let out = check(&parse("latency.p90 > +10%").unwrap(), &base, &slower).unwrap();
        assert_eq!(out.baseline, Some(100.0));
        assert_eq!(out.candidate, Some(150.0));
        assert!(out.holds);
        assert!(!check(&parse("latency.p90 > +60%").unwrap(), &base, &slower).unwrap().holds);
        assert!(check(&parse("latency > 99").unwrap(), &base, &slower).unwrap().holds);
    }

    #[test]
    fn unknown_metrics_and_stats_are_errors() {
        let s = summary(&[true], &[0.5], &[1.0]);
        let err = check(&parse("acuracy < -0.1").unwrap(), &s, &s).unwrap_err();
        assert!(err.contains("accuracy, quality, tone, latency, errors"), "{err}");
        assert!(check(&parse("tone < 1").unwrap(), &s, &s).unwrap_err().contains("categorical"));
        assert!(check(&parse("latency.rate > 1").unwrap(), &s, &s).is_err());
        assert!(check(&parse("quality.p90 < -0.1").unwrap(), &s, &s).is_ok());
    }
}
