//! An experiment's summary, computed as Datadog's experiment page does: per evaluation
//! label, boolean evaluations as the share of `true`, scores as their mean (with p50 and
//! p90), categorical ones as the most frequent value with the whole distribution; how many
//! evaluations failed; and the records' durations (p50, p90, p99) and error count.
//!
//! [`SummaryBuilder`] takes one evaluation or one record at a time, so a store can feed it
//! while reading rows and keep only numbers. Percentiles use the nearest-rank method: the
//! p-th percentile of n sorted values is the value at rank ⌈p·n/100⌉.

use std::collections::BTreeMap;

use serde_json::Value;

/// The aggregate of one evaluation label.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// `boolean` evaluations: how many were `true` out of how many.
    Boolean {
        /// Evaluations whose value is `true`.
        true_count: u64,
        /// Evaluations with a boolean value.
        count: u64,
    },
    /// `score` evaluations: their mean and percentiles.
    Score {
        /// Evaluations with a numeric value.
        count: u64,
        /// The mean value.
        mean: f64,
        /// The median (nearest rank).
        p50: f64,
        /// The 90th percentile (nearest rank).
        p90: f64,
    },
    /// `categorical` evaluations: the most frequent value and every value's count.
    Categorical {
        /// The most frequent value (the first in text order on a tie).
        mode: String,
        /// Each value and how many evaluations had it, most frequent first.
        counts: Vec<(String, u64)>,
    },
    /// Evaluations with no usable value (only errors, or a type we do not aggregate).
    Empty,
}

impl Aggregate {
    /// The share of `true` of boolean evaluations, from 0 to 1.
    pub fn ratio(&self) -> Option<f64> {
        match self {
            Aggregate::Boolean { true_count, count } if *count > 0 => {
                Some(*true_count as f64 / *count as f64)
            }
            _ => None,
        }
    }
}

/// The summary of one evaluation label.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSummary {
    /// The evaluation's label.
    pub label: String,
    /// `boolean`, `score`, `categorical` (or another type as posted).
    pub metric_type: String,
    /// Its aggregate.
    pub aggregate: Aggregate,
    /// Evaluations of this label that carry an error.
    pub errors: u64,
}

/// Percentiles of the records' durations, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Durations {
    /// The median.
    pub p50: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The 99th percentile.
    pub p99: f64,
}

/// An experiment's summary.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExperimentSummary {
    /// One entry per evaluation label, in label order.
    pub labels: Vec<LabelSummary>,
    /// Records (the experiment's own spans).
    pub records: u64,
    /// Records whose span has status `error`.
    pub record_errors: u64,
    /// Percentiles of the records' durations; `None` without records.
    pub durations: Option<Durations>,
}

#[derive(Debug, Default)]
struct Label {
    metric_type: String,
    booleans: (u64, u64),
    scores: Vec<f64>,
    categories: BTreeMap<String, u64>,
    errors: u64,
}

/// The value of one evaluation metric as the store indexes it for filtering and
/// comparing: booleans as `"true"`/`"false"` and 1/0, categorical values as text, scores as
/// numbers, read as [`SummaryBuilder::evaluation`] reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalValue {
    /// A boolean's `"true"`/`"false"`, or a categorical value.
    pub text: Option<String>,
    /// A boolean's 1 or 0, or a finite score.
    pub number: Option<f64>,
    /// Whether the evaluation carries an error.
    pub failed: bool,
}

impl EvalValue {
    /// The value of a metric as posted (`metric_type`, `{type}_value`, `error`).
    pub fn of(metric: &Value) -> EvalValue {
        let metric_type = metric.get("metric_type").and_then(Value::as_str).unwrap_or("");
        let value = metric.get(format!("{metric_type}_value").as_str());
        EvalValue::from_fields(metric_type, value, metric.get("error"))
    }

    /// The value of a metric from its fields: `metric_type`, its `{metric_type}_value`
    /// and `error`, each if given.
    pub fn from_fields(
        metric_type: &str,
        value: Option<&Value>,
        error: Option<&Value>,
    ) -> EvalValue {
        let failed = error.is_some_and(|e| match e {
            Value::Null => false,
            Value::Object(object) => !object.is_empty(),
            _ => true,
        });
        let (text, number) = match (metric_type, value) {
            ("boolean", Some(Value::Bool(value))) => {
                (Some(value.to_string()), Some(f64::from(u8::from(*value))))
            }
            ("score", Some(value)) => (None, value.as_f64().filter(|v| v.is_finite())),
            ("categorical", Some(Value::String(value))) => (Some(value.clone()), None),
            ("categorical", Some(value)) if !value.is_null() => (Some(value.to_string()), None),
            _ => (None, None),
        };
        EvalValue { text, number, failed }
    }
}

/// Builds an [`ExperimentSummary`] from evaluations and records fed one at a time.
#[derive(Debug, Default)]
pub struct SummaryBuilder {
    labels: BTreeMap<String, Label>,
    durations: Vec<f64>,
    record_errors: u64,
}

impl SummaryBuilder {
    /// A builder with nothing fed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one evaluation metric as posted (`label`, `metric_type`, `{type}_value`,
    /// optional `error`). One without a label is skipped.
    pub fn evaluation(&mut self, metric: &Value) {
        let Some(label) = metric.get("label").and_then(Value::as_str) else { return };
        let metric_type = metric.get("metric_type").and_then(Value::as_str).unwrap_or("");
        let entry = self.labels.entry(label.to_owned()).or_default();
        if entry.metric_type.is_empty() {
            entry.metric_type = metric_type.to_owned();
        }
        let value = EvalValue::of(metric);
        entry.errors += u64::from(value.failed);
        match (metric_type, value.text, value.number) {
            ("boolean", Some(_), Some(number)) => {
                entry.booleans.0 += u64::from(number > 0.5);
                entry.booleans.1 += 1;
            }
            ("score", _, Some(number)) => entry.scores.push(number),
            ("categorical", Some(text), _) => *entry.categories.entry(text).or_default() += 1,
            _ => {}
        }
    }

    /// Feeds one record: its span's duration (nanoseconds) and whether it failed.
    pub fn record(&mut self, duration_ns: f64, error: bool) {
        self.durations.push(duration_ns);
        self.record_errors += u64::from(error);
    }

    /// The summary of everything fed.
    pub fn finish(mut self) -> ExperimentSummary {
        let labels = (self.labels.into_iter())
            .map(|(label, mut l)| {
                let aggregate = match l.metric_type.as_str() {
                    "boolean" if l.booleans.1 > 0 => {
                        Aggregate::Boolean { true_count: l.booleans.0, count: l.booleans.1 }
                    }
                    "score" if !l.scores.is_empty() => {
                        l.scores.sort_by(f64::total_cmp);
                        let mean = l.scores.iter().sum::<f64>() / l.scores.len() as f64;
                        Aggregate::Score {
                            count: l.scores.len() as u64,
                            mean,
                            p50: percentile(&l.scores, 50.0),
                            p90: percentile(&l.scores, 90.0),
                        }
                    }
                    "categorical" if !l.categories.is_empty() => {
                        let mut counts: Vec<(String, u64)> = l.categories.into_iter().collect();
                        // Stable: equal counts keep text order.
                        counts.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
                        Aggregate::Categorical { mode: counts[0].0.clone(), counts }
                    }
                    _ => Aggregate::Empty,
                };
                LabelSummary { label, metric_type: l.metric_type, aggregate, errors: l.errors }
            })
            .collect();
        self.durations.sort_by(f64::total_cmp);
        let durations = (!self.durations.is_empty()).then(|| Durations {
            p50: percentile(&self.durations, 50.0),
            p90: percentile(&self.durations, 90.0),
            p99: percentile(&self.durations, 99.0),
        });
        ExperimentSummary {
            labels,
            records: self.durations.len() as u64,
            record_errors: self.record_errors,
            durations,
        }
    }
}

/// The nearest-rank `p`-th percentile of sorted, non-empty `values`.
fn percentile(values: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0 * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_type_aggregates_as_datadog_shows_it() {
        let mut b = SummaryBuilder::new();
        for value in [true, true, false, true] {
            b.evaluation(
                &json!({"label": "exact", "metric_type": "boolean", "boolean_value": value}),
            );
        }
        for value in [0.5, 1.0, 0.25, 0.75, 0.0] {
            b.evaluation(&json!({"label": "score", "metric_type": "score", "score_value": value}));
        }
        for value in ["good", "bad", "good"] {
            b.evaluation(
                &json!({"label": "tone", "metric_type": "categorical", "categorical_value": value}),
            );
        }
        b.evaluation(&json!({"label": "exact", "metric_type": "boolean", "boolean_value": null,
                             "error": {"message": "boom"}}));
        b.evaluation(&json!({"label": "exact", "metric_type": "boolean", "boolean_value": true,
                             "error": {}}));
        let s = b.finish();
        let by = |l: &str| s.labels.iter().find(|x| x.label == l).unwrap().clone();
        assert_eq!(by("exact").aggregate, Aggregate::Boolean { true_count: 4, count: 5 });
        assert_eq!(by("exact").aggregate.ratio(), Some(0.8));
        assert_eq!(by("exact").errors, 1);
        assert_eq!(
            by("score").aggregate,
            Aggregate::Score { count: 5, mean: 0.5, p50: 0.5, p90: 1.0 }
        );
        assert_eq!(
            by("tone").aggregate,
            Aggregate::Categorical {
                mode: "good".into(),
                counts: vec![("good".into(), 2), ("bad".into(), 1)]
            }
        );
    }

    #[test]
    fn durations_take_nearest_rank_percentiles_and_count_errors() {
        let mut b = SummaryBuilder::new();
        for (i, d) in (1..=10).rev().enumerate() {
            b.record(f64::from(d) * 1e6, i % 4 == 0);
        }
        let s = b.finish();
        assert_eq!(s.records, 10);
        assert_eq!(s.record_errors, 3);
        assert_eq!(s.durations, Some(Durations { p50: 5e6, p90: 9e6, p99: 10e6 }));
        assert_eq!(SummaryBuilder::new().finish().durations, None);
    }

    #[test]
    fn a_tie_of_categories_picks_the_first_in_text_order() {
        let mut b = SummaryBuilder::new();
        for value in ["b", "a"] {
            b.evaluation(
                &json!({"label": "c", "metric_type": "categorical", "categorical_value": value}),
            );
        }
        let s = b.finish();
        assert!(
            matches!(&s.labels[0].aggregate, Aggregate::Categorical { mode, .. } if mode == "a")
        );
    }
}
