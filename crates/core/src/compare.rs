//! Comparing experiments run on the same dataset: which experiments may be compared
//! ([`check_comparable`]), each evaluation's headline number and its delta against the
//! first experiment chosen (the baseline), and how one dataset record's evaluation moved
//! ([`Change`]), which the store's record join filters on.

use thiserror::Error;

use crate::summary::{Aggregate, EvalValue};

/// The most experiments one comparison takes.
pub const MAX_COMPARED: usize = 8;

/// How an evaluation of one dataset record moved from the baseline to another experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The value differs (any type).
    Changed,
    /// A number went down: a boolean from true to false, a lower score.
    Regressed,
    /// A number went up.
    Improved,
}

impl Change {
    /// Every change, in the order pages offer them.
    pub const ALL: [Change; 3] = [Change::Changed, Change::Regressed, Change::Improved];

    /// The change's name in a query string.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Changed => "changed",
            Change::Regressed => "regressed",
            Change::Improved => "improved",
        }
    }

    /// Reads a change's name.
    pub fn parse(text: &str) -> Result<Change, CompareError> {
        Change::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| CompareError::Change(text.to_owned()))
    }

    /// How `other` moved from `base`; `None` when it did not (or either has no value).
    pub fn between(base: &EvalValue, other: &EvalValue) -> Option<Change> {
        match (base.number, other.number) {
            (Some(a), Some(b)) if b < a => return Some(Change::Regressed),
            (Some(a), Some(b)) if b > a => return Some(Change::Improved),
            _ => {}
        }
        match (&base.text, &other.text) {
            (Some(a), Some(b)) if a != b => Some(Change::Changed),
            _ => None,
        }
    }

    /// Whether a move counts under this filter: every regression or improvement is also a
    /// change.
    pub fn matches(self, moved: Option<Change>) -> bool {
        match (self, moved) {
            (_, None) => false,
            (Change::Changed, Some(_)) => true,
            (want, Some(got)) => want == got,
        }
    }
}

/// A record filter of a comparison: records whose evaluation `label` moved this way in any
/// compared experiment, against the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareFilter {
    /// The evaluation's label.
    pub label: String,
    /// How it moved.
    pub change: Change,
}

/// A comparison that cannot be made; the message says what to choose instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CompareError {
    /// Fewer than two experiments.
    #[error("compare needs at least two experiments: tick two or more on the experiments list")]
    TooFew,
    /// More than [`MAX_COMPARED`].
    #[error("compare takes at most {MAX_COMPARED} experiments at once, not {0}")]
    TooMany(usize),
    /// One experiment twice.
    #[error("experiment '{0}' is chosen twice: choose each experiment once")]
    Twice(String),
    /// Experiments of different datasets.
    #[error(
        "experiment '{0}' ran on another dataset than '{1}': compare experiments of one dataset"
    )]
    OtherDataset(String, String),
    /// An unknown change filter.
    #[error("change: '{0}' is not one of changed, regressed, improved")]
    Change(String),
    /// A change filter without its label.
    #[error("change: needs eval, the evaluation label it applies to")]
    NoLabel,
}

/// Checks that `experiments` (id and dataset id each, baseline first) can be compared:
/// two to [`MAX_COMPARED`], each once, all on one dataset.
pub fn check_comparable(experiments: &[(&str, &str)]) -> Result<(), CompareError> {
    if experiments.len() < 2 {
        return Err(CompareError::TooFew);
    }
    if experiments.len() > MAX_COMPARED {
        return Err(CompareError::TooMany(experiments.len()));
    }
    let (base, dataset) = experiments[0];
    for (i, (id, other)) in experiments.iter().enumerate() {
        if experiments[..i].iter().any(|(seen, _)| seen == id) {
            return Err(CompareError::Twice((*id).to_owned()));
        }
        if other != &dataset {
            return Err(CompareError::OtherDataset((*id).to_owned(), base.to_owned()));
        }
    }
    Ok(())
}

/// An aggregate's headline number: a boolean's share of `true` (0 to 1), a score's mean;
/// `None` for categorical and empty aggregates.
pub fn headline(aggregate: &Aggregate) -> Option<f64> {
    match aggregate {
        Aggregate::Boolean { .. } => aggregate.ratio(),
        Aggregate::Score { mean, .. } => Some(*mean),
        _ => None,
    }
}

/// `other`'s headline minus `base`'s, when both have one.
pub fn delta(base: &Aggregate, other: &Aggregate) -> Option<f64> {
    Some(headline(other)? - headline(base)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(n: f64) -> EvalValue {
        EvalValue { number: Some(n), ..EvalValue::default() }
    }

    fn cat(t: &str) -> EvalValue {
        EvalValue { text: Some(t.into()), ..EvalValue::default() }
    }

    #[test]
    fn moves_follow_the_numbers_then_the_text() {
        assert_eq!(Change::between(&num(1.0), &num(0.0)), Some(Change::Regressed));
        assert_eq!(Change::between(&num(0.2), &num(0.7)), Some(Change::Improved));
        assert_eq!(Change::between(&num(0.5), &num(0.5)), None);
        assert_eq!(Change::between(&cat("a"), &cat("b")), Some(Change::Changed));
        assert_eq!(Change::between(&cat("a"), &EvalValue::default()), None);
        assert!(Change::Changed.matches(Some(Change::Regressed)));
        assert!(!Change::Improved.matches(Some(Change::Regressed)));
        assert!(!Change::Regressed.matches(None));
        assert_eq!(Change::parse("improved"), Ok(Change::Improved));
        assert!(Change::parse("worse").unwrap_err().to_string().contains("regressed"));
    }

    #[test]
    fn only_experiments_of_one_dataset_compare() {
        assert_eq!(check_comparable(&[("a", "d")]), Err(CompareError::TooFew));
        assert_eq!(
            check_comparable(&[("a", "d"), ("a", "d")]),
            Err(CompareError::Twice("a".into()))
        );
        assert_eq!(
            check_comparable(&[("a", "d"), ("b", "e")]),
            Err(CompareError::OtherDataset("b".into(), "a".into()))
        );
        assert_eq!(check_comparable(&[("a", "d"), ("b", "d")]), Ok(()));
        let many: Vec<(String, &str)> = (0..9).map(|i| (i.to_string(), "d")).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(i, d)| (i.as_str(), *d)).collect();
        assert_eq!(check_comparable(&many), Err(CompareError::TooMany(9)));
    }

    #[test]
    fn deltas_compare_headlines() {
        let base = Aggregate::Boolean { true_count: 1, count: 4 };
        let other = Aggregate::Boolean { true_count: 3, count: 4 };
        assert_eq!(delta(&base, &other), Some(0.5));
        let s = |mean| Aggregate::Score { count: 1, mean, p50: mean, p90: mean };
        assert_eq!(delta(&s(2.0), &s(1.5)), Some(-0.5));
        assert_eq!(delta(&base, &Aggregate::Empty), None);
    }
}
