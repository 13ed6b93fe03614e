//! Which records of an experiment a page lists: [`RecordFilter`], a condition on one
//! evaluation label (a boolean or categorical value, a score range, or an evaluation
//! error) and on the record's own error, read from a page's query parameters and checked
//! here so that every caller refuses the same bad input. The store turns a filter into
//! SQL over its indexed evaluation values.

use thiserror::Error;

/// What an evaluation of the filtered label must be.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalTest {
    /// A boolean (`true`/`false`) or categorical value, exactly.
    Is(String),
    /// A score within `min ..= max` (either end open).
    Range {
        /// The lowest score kept.
        min: Option<f64>,
        /// The highest score kept.
        max: Option<f64>,
    },
    /// The evaluation carries an error.
    Failed,
}

/// A condition on one evaluation label: a record matches when one of its evaluations with
/// this label passes the test.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalCondition {
    /// The evaluation's label.
    pub label: String,
    /// What its value must be.
    pub test: EvalTest,
}

/// Which records to list. The default lists every record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordFilter {
    /// A condition on one evaluation label.
    pub eval: Option<EvalCondition>,
    /// `Some(true)`: only records whose span failed; `Some(false)`: only those that did not.
    pub errors: Option<bool>,
}

/// A filter that cannot be applied; the message names the parameter and what to send.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FilterError {
    /// A value, range or error test without the label it applies to.
    #[error("{0}: needs eval, the evaluation label it applies to")]
    NoLabel(&'static str),
    /// A label without what its evaluations must be.
    #[error(
        "eval: needs value (true, false or a category), min and/or max (a score range), or value=error"
    )]
    NoTest,
    /// Both a value and a range.
    #[error("value and min/max: give one, a value (boolean or category) or a score range")]
    Both,
    /// A bound that is not a number.
    #[error("{0}: '{1}' is not a number")]
    NotNumber(&'static str, String),
    /// A range whose minimum is above its maximum.
    #[error("min {0} is above max {1}")]
    Empty(f64, f64),
    /// An error filter other than `only` or `none`.
    #[error("errors: '{0}' is not one of only, none")]
    Errors(String),
}

/// The query parameters of a record filter, as given (absent or empty when not given).
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterParams<'a> {
    /// `eval`: the label.
    pub eval: Option<&'a str>,
    /// `value`: `true`, `false`, a category, or `error` (an evaluation error).
    pub value: Option<&'a str>,
    /// `min`: the lowest score.
    pub min: Option<&'a str>,
    /// `max`: the highest score.
    pub max: Option<&'a str>,
    /// `errors`: `only` (records that failed) or `none` (records that did not).
    pub errors: Option<&'a str>,
}

fn bound(name: &'static str, text: Option<&str>) -> Result<Option<f64>, FilterError> {
    text.map(|t| {
        t.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| FilterError::NotNumber(name, t.to_owned()))
    })
    .transpose()
}

impl RecordFilter {
    /// Reads a filter from its query parameters.
    pub fn parse(params: FilterParams<'_>) -> Result<RecordFilter, FilterError> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let (value, min, max) = (given(params.value), given(params.min), given(params.max));
        let errors = match given(params.errors) {
            None => None,
            Some("only") => Some(true),
            Some("none") => Some(false),
            Some(other) => return Err(FilterError::Errors(other.to_owned())),
        };
        let min = bound("min", min)?;
        let max = bound("max", max)?;
        let Some(label) = given(params.eval) else {
            return match (value, min.or(max)) {
                (Some(_), _) => Err(FilterError::NoLabel("value")),
                (None, Some(_)) => {
                    Err(FilterError::NoLabel(if min.is_some() { "min" } else { "max" }))
                }
                (None, None) => Ok(RecordFilter { eval: None, errors }),
            };
        };
        let test = match (value, min, max) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => return Err(FilterError::Both),
            (Some("error"), None, None) => EvalTest::Failed,
            (Some(value), None, None) => EvalTest::Is(value.to_owned()),
            (None, Some(min), Some(max)) if min > max => return Err(FilterError::Empty(min, max)),
            (None, None, None) => return Err(FilterError::NoTest),
            (None, min, max) => EvalTest::Range { min, max },
        };
        Ok(RecordFilter { eval: Some(EvalCondition { label: label.to_owned(), test }), errors })
    }

    /// Whether the filter lists every record.
    pub fn is_empty(&self) -> bool {
        self.eval.is_none() && self.errors.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        eval: &str,
        value: &str,
        min: &str,
        max: &str,
        errors: &str,
    ) -> Result<RecordFilter, FilterError> {
        RecordFilter::parse(FilterParams {
            eval: Some(eval),
            value: Some(value),
            min: Some(min),
            max: Some(max),
            errors: Some(errors),
        })
    }

    #[test]
    fn each_kind_of_condition_reads_from_its_parameters() {
        let is = parse("exact", "true", "", "", "").unwrap();
        assert_eq!(is.eval.unwrap().test, EvalTest::Is("true".into()));
        let range = parse("score", "", "0.5", "", "only").unwrap();
        assert_eq!(range.eval.unwrap().test, EvalTest::Range { min: Some(0.5), max: None });
        assert_eq!(range.errors, Some(true));
        assert_eq!(
            parse("tone", "error", "", "", "").unwrap().eval.unwrap().test,
            EvalTest::Failed
        );
        assert!(parse("", "", "", "", "").unwrap().is_empty());
        assert_eq!(parse("", "", "", "", "none").unwrap().errors, Some(false));
    }

    #[test]
    fn bad_filters_say_what_to_send() {
        assert_eq!(parse("", "true", "", "", ""), Err(FilterError::NoLabel("value")));
        assert_eq!(parse("", "", "", "1", ""), Err(FilterError::NoLabel("max")));
        assert_eq!(parse("x", "", "", "", ""), Err(FilterError::NoTest));
        assert_eq!(parse("x", "true", "1", "", ""), Err(FilterError::Both));
        assert_eq!(parse("x", "", "a", "", ""), Err(FilterError::NotNumber("min", "a".into())));
        assert_eq!(parse("x", "", "2", "1", ""), Err(FilterError::Empty(2.0, 1.0)));
        assert_eq!(parse("x", "", "NaN", "", ""), Err(FilterError::NotNumber("min", "NaN".into())));
        assert_eq!(parse("", "", "", "", "yes"), Err(FilterError::Errors("yes".into())));
        assert!(FilterError::NoTest.to_string().contains("min and/or max"));
    }
}
