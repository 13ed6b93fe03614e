//! What a judge's reply must look like: the [`StructuredOutput`] kinds, their JSON
//! schemas, the parsing of a reply and its assessment (spec §5.7). The assessment rules
//! themselves are [`llmobs_core::judge::AssessmentCriteria`], shared with the server.

use llmobs_core::judge::{AssessmentCriteria, Verdict};
use serde_json::{Map, Number, Value, json};

use super::value_error;
use crate::evaluators::{Assessment, CallError, EvaluatorResult};

/// The reasoning description when none is given.
const DEFAULT_REASONING_DESCRIPTION: &str = "Explanation for the evaluation result";

/// A number for a score range or threshold: integers stay integers and floats stay
/// floats in the schema and in the published criteria, as Python's `int` and `float` do.
pub trait IntoNumber {
    /// The JSON number; `None` for a NaN or infinite float, which JSON cannot carry.
    fn into_number(self) -> Option<Number>;
}

macro_rules! integer_numbers {
    ($($ty:ty),*) => {$(
        impl IntoNumber for $ty {
            fn into_number(self) -> Option<Number> {
                Some(Number::from(self))
            }
        }
    )*};
}
integer_numbers!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl IntoNumber for f64 {
    fn into_number(self) -> Option<Number> {
        Number::from_f64(self)
    }
}

impl IntoNumber for f32 {
    fn into_number(self) -> Option<Number> {
        f64::from(self).into_number()
    }
}

impl IntoNumber for Number {
    fn into_number(self) -> Option<Number> {
        Some(self)
    }
}

/// The `reasoning` setters every structured output has.
macro_rules! reasoning_setters {
    () => {
        /// Asks for a `reasoning` string.
        pub fn reasoning(mut self, on: bool) -> Self {
            self.reasoning = on;
            self
        }

        /// Describes the `reasoning` property.
        pub fn reasoning_description(mut self, description: impl Into<String>) -> Self {
            self.reasoning_description = Some(description.into());
            self
        }
    };
}

/// A `true` / `false` verdict, labelled `boolean_eval` (reference:
/// `BooleanStructuredOutput`). With [`pass_when`](Self::pass_when), the assessment is
/// `pass` when the verdict equals it.
#[derive(Debug, Clone, PartialEq)]
pub struct BooleanStructuredOutput {
    /// What the verdict means (the schema's description).
    pub description: String,
    /// Ask for a `reasoning` string too.
    pub reasoning: bool,
    /// The description of `reasoning` (default: "Explanation for the evaluation result").
    pub reasoning_description: Option<String>,
    /// The passing verdict.
    pub pass_when: Option<bool>,
}

impl BooleanStructuredOutput {
    /// A verdict described by `description`, without reasoning or criteria.
    pub fn new(description: impl Into<String>) -> Self {
        BooleanStructuredOutput {
            description: description.into(),
            reasoning: false,
            reasoning_description: None,
            pass_when: None,
        }
    }

    reasoning_setters!();

    /// The verdict that passes.
    pub fn pass_when(mut self, verdict: bool) -> Self {
        self.pass_when = Some(verdict);
        self
    }
}

/// A number between `min_score` and `max_score`, labelled `score_eval` (reference:
/// `ScoreStructuredOutput`).
///
/// Assessment: with both thresholds and `max_threshold >= min_threshold`, pass inside
/// `[min, max]`; with `max_threshold < min_threshold`, pass outside `(max, min)`; with
/// one threshold, pass when `>= min_threshold` or `<= max_threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreStructuredOutput {
    /// What the score means.
    pub description: String,
    /// The schema's `minimum`.
    pub min_score: Number,
    /// The schema's `maximum`.
    pub max_score: Number,
    /// Ask for a `reasoning` string too.
    pub reasoning: bool,
    /// The description of `reasoning`.
    pub reasoning_description: Option<String>,
    /// See the type's documentation.
    pub min_threshold: Option<Number>,
    /// See the type's documentation.
    pub max_threshold: Option<Number>,
    /// Why a bound or threshold given was not a finite number; `LLMJudge` refuses it.
    rejected: Option<String>,
}

impl ScoreStructuredOutput {
    /// A score in `[min_score, max_score]` described by `description`. A NaN or
    /// infinite bound makes [`LLMJudgeBuilder::build`](super::LLMJudgeBuilder::build)
    /// fail, saying which.
    pub fn new(
        description: impl Into<String>,
        min_score: impl IntoNumber,
        max_score: impl IntoNumber,
    ) -> Self {
        let mut output = ScoreStructuredOutput {
            description: description.into(),
            min_score: Number::from(0),
            max_score: Number::from(0),
            reasoning: false,
            reasoning_description: None,
            min_threshold: None,
            max_threshold: None,
            rejected: None,
        };
        output.min_score = output.finite("min_score", min_score).unwrap_or(Number::from(0));
        output.max_score = output.finite("max_score", max_score).unwrap_or(Number::from(0));
        output
    }

    /// `value` as a number, noting it when it is not finite.
    fn finite(&mut self, what: &str, value: impl IntoNumber) -> Option<Number> {
        let number = value.into_number();
        if number.is_none() && self.rejected.is_none() {
            self.rejected = Some(format!(
                "ScoreStructuredOutput {what} must be a finite number, not NaN or infinity"
            ));
        }
        number
    }

    /// Why a bound or threshold was refused, if one was.
    pub(crate) fn rejected(&self) -> Option<&str> {
        self.rejected.as_deref()
    }

    reasoning_setters!();

    /// The lower threshold (see the type's documentation); a NaN or infinite one makes
    /// the judge's `build` fail.
    pub fn min_threshold(mut self, threshold: impl IntoNumber) -> Self {
        self.min_threshold = self.finite("min_threshold", threshold);
        self
    }

    /// The upper threshold (see the type's documentation); a NaN or infinite one makes
    /// the judge's `build` fail.
    pub fn max_threshold(mut self, threshold: impl IntoNumber) -> Self {
        self.max_threshold = self.finite("max_threshold", threshold);
        self
    }
}

/// One of a set of categories, labelled `categorical_eval` (reference:
/// `CategoricalStructuredOutput`). With [`pass_values`](Self::pass_values), the
/// assessment is `pass` when the category is one of them.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalStructuredOutput {
    /// `(value, description)` pairs, in order, values unique.
    pub categories: Vec<(String, String)>,
    /// Ask for a `reasoning` string too.
    pub reasoning: bool,
    /// The description of `reasoning`.
    pub reasoning_description: Option<String>,
    /// The passing categories.
    pub pass_values: Option<Vec<String>>,
}

impl CategoricalStructuredOutput {
    /// Categories as `(value, description)` pairs. A repeated value keeps its first
    /// position and its last description, as a Python dict literal does.
    pub fn new<K: Into<String>, V: Into<String>>(
        categories: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (value, description) in categories {
            let (value, description) = (value.into(), description.into());
            match pairs.iter_mut().find(|(v, _)| *v == value) {
                Some(pair) => pair.1 = description,
                None => pairs.push((value, description)),
            }
        }
        CategoricalStructuredOutput {
            categories: pairs,
            reasoning: false,
            reasoning_description: None,
            pass_values: None,
        }
    }

    reasoning_setters!();

    /// The categories that pass.
    pub fn pass_values<S: Into<String>>(mut self, values: impl IntoIterator<Item = S>) -> Self {
        self.pass_values = Some(values.into_iter().map(Into::into).collect());
        self
    }
}

/// What a judge's reply must look like.
///
/// The three kinds build a schema `{"type": "object", "properties": {<label>: …,
/// "reasoning"?: …}, "required": [<label>, "reasoning"?], "additionalProperties": false}`
/// and turn the reply into an [`EvaluatorResult`] with the labelled value, the reasoning
/// (when asked for), an assessment (when criteria are set) and `metadata.raw_response`.
/// [`JsonSchema`](Self::JsonSchema) is sent as given and its whole reply becomes the
/// value.
#[derive(Debug, Clone, PartialEq)]
pub enum StructuredOutput {
    /// A `true` / `false` verdict.
    Boolean(BooleanStructuredOutput),
    /// A number in a range.
    Score(ScoreStructuredOutput),
    /// One of a set of categories.
    Categorical(CategoricalStructuredOutput),
    /// Any JSON schema (published with `parsing_type: "json"`).
    JsonSchema(Map<String, Value>),
}

impl From<BooleanStructuredOutput> for StructuredOutput {
    fn from(output: BooleanStructuredOutput) -> Self {
        StructuredOutput::Boolean(output)
    }
}

impl From<ScoreStructuredOutput> for StructuredOutput {
    fn from(output: ScoreStructuredOutput) -> Self {
        StructuredOutput::Score(output)
    }
}

impl From<CategoricalStructuredOutput> for StructuredOutput {
    fn from(output: CategoricalStructuredOutput) -> Self {
        StructuredOutput::Categorical(output)
    }
}

impl From<Map<String, Value>> for StructuredOutput {
    fn from(schema: Map<String, Value>) -> Self {
        StructuredOutput::JsonSchema(schema)
    }
}

impl StructuredOutput {
    /// The property holding the value: `boolean_eval`, `score_eval`, `categorical_eval`;
    /// `None` for a raw schema.
    pub fn label(&self) -> Option<&'static str> {
        match self {
            StructuredOutput::Boolean(_) => Some("boolean_eval"),
            StructuredOutput::Score(_) => Some("score_eval"),
            StructuredOutput::Categorical(_) => Some("categorical_eval"),
            StructuredOutput::JsonSchema(_) => None,
        }
    }

    fn reasoning(&self) -> Option<(bool, Option<&str>)> {
        match self {
            StructuredOutput::Boolean(o) => Some((o.reasoning, o.reasoning_description.as_deref())),
            StructuredOutput::Score(o) => Some((o.reasoning, o.reasoning_description.as_deref())),
            StructuredOutput::Categorical(o) => {
                Some((o.reasoning, o.reasoning_description.as_deref()))
            }
            StructuredOutput::JsonSchema(_) => None,
        }
    }

    /// The JSON schema the model is asked to follow.
    pub fn to_json_schema(&self) -> Value {
        let label_schema = match self {
            StructuredOutput::Boolean(o) => {
                json!({"type": "boolean", "description": o.description})
            }
            StructuredOutput::Score(o) => json!({"type": "number", "description": o.description,
                                                 "minimum": o.min_score, "maximum": o.max_score}),
            StructuredOutput::Categorical(o) => {
                let any_of: Vec<Value> = o
                    .categories
                    .iter()
                    .map(|(value, description)| json!({"const": value, "description": description}))
                    .collect();
                json!({"type": "string", "anyOf": any_of})
            }
            StructuredOutput::JsonSchema(schema) => return Value::Object(schema.clone()),
        };
        let label = self.label().unwrap_or_default();
        let mut properties = Map::new();
        properties.insert(label.to_owned(), label_schema);
        let mut required = vec![Value::from(label)];
        if let Some((true, description)) = self.reasoning() {
            let description =
                description.filter(|d| !d.is_empty()).unwrap_or(DEFAULT_REASONING_DESCRIPTION);
            properties
                .insert("reasoning".into(), json!({"type": "string", "description": description}));
            required.push(Value::from("reasoning"));
        }
        json!({"type": "object", "properties": properties, "required": required,
               "additionalProperties": false})
    }

    /// The criteria the assessment follows (published as `assessment_criteria`):
    /// `pass_when`, `min_threshold` / `max_threshold`, or `pass_values`.
    pub(super) fn criteria(&self) -> AssessmentCriteria {
        let mut criteria = AssessmentCriteria::default();
        match self {
            StructuredOutput::Boolean(o) => criteria.pass_when = o.pass_when,
            StructuredOutput::Score(o) => {
                criteria.min_threshold = o.min_threshold.clone();
                criteria.max_threshold = o.max_threshold.clone();
            }
            StructuredOutput::Categorical(o) => criteria.pass_values = o.pass_values.clone(),
            StructuredOutput::JsonSchema(_) => {}
        }
        criteria
    }

    /// The criteria published with the judge: `pass_when`, `min_threshold` /
    /// `max_threshold`, or `pass_values`; `None` when there are none.
    pub fn assessment_criteria(&self) -> Option<Map<String, Value>> {
        let criteria = self.criteria();
        (!criteria.is_empty()).then(|| criteria.to_map())
    }

    /// The assessment of a value of the right type: `None` without criteria. The rules
    /// are [`AssessmentCriteria::assess`], which the server applies to published judges.
    pub fn assess(&self, value: &Value) -> Option<Assessment> {
        self.criteria().assess(value).map(|verdict| match verdict {
            Verdict::Pass => Assessment::Pass,
            Verdict::Fail => Assessment::Fail,
        })
    }

    /// Turns the model's reply into a result (spec §5.7).
    ///
    /// # Errors
    ///
    /// `ValueError` when the reply is empty, not JSON, not a JSON object, or when the
    /// labelled property is missing or of the wrong type (`Expected boolean, got str`).
    pub fn parse(&self, response: &str) -> Result<EvaluatorResult, CallError> {
        if response.is_empty() {
            return Err(value_error("Invalid response: expected non-empty string"));
        }
        let data: Value = serde_json::from_str(response)
            .map_err(|e| value_error(format!("Invalid JSON response: {e}")))?;
        let Value::Object(object) = &data else {
            return Err(value_error(format!(
                "Invalid JSON response: expected object, got {}",
                py_type(&data)
            )));
        };
        let reasoning_of = || object.get("reasoning").and_then(reasoning_text);
        let Some(label) = self.label() else {
            let mut result = EvaluatorResult::new(data.clone());
            result.reasoning = reasoning_of();
            return Ok(result);
        };
        let value = object.get(label).cloned().unwrap_or(Value::Null);
        let expected = match self {
            StructuredOutput::Boolean(_) if !value.is_boolean() => Some("boolean"),
            StructuredOutput::Score(_) if !value.is_number() => Some("number"),
            StructuredOutput::Categorical(_) if !value.is_string() => Some("string"),
            _ => None,
        };
        if let Some(expected) = expected {
            return Err(value_error(format!("Expected {expected}, got {}", py_type(&value))));
        }
        let mut result = EvaluatorResult::new(value.clone());
        result.assessment = self.assess(&value);
        if matches!(self.reasoning(), Some((true, _))) {
            result.reasoning = reasoning_of();
        }
        result.metadata.insert("raw_response".into(), data.clone());
        Ok(result)
    }

    /// Python truthiness: an empty raw schema counts as no structured output.
    pub(super) fn is_set(&self) -> bool {
        !matches!(self, StructuredOutput::JsonSchema(schema) if schema.is_empty())
    }
}

/// The reasoning of a reply: its text, or the JSON of another non-null value.
fn reasoning_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// Python's type name of a decoded JSON value.
fn py_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_schema_matches_the_reference() {
        let output: StructuredOutput = BooleanStructuredOutput::new("correct?").into();
        assert_eq!(
            serde_json::to_string(&output.to_json_schema()).unwrap(),
            r#"{"type":"object","properties":{"boolean_eval":{"type":"boolean","description":"correct?"}},"required":["boolean_eval"],"additionalProperties":false}"#
        );
        let output: StructuredOutput =
            BooleanStructuredOutput::new("correct?").reasoning(true).into();
        assert_eq!(
            output.to_json_schema()["properties"]["reasoning"],
            json!({"type": "string", "description": "Explanation for the evaluation result"})
        );
        assert_eq!(output.to_json_schema()["required"], json!(["boolean_eval", "reasoning"]));
    }

    #[test]
    fn score_schema_keeps_integer_and_float_bounds() {
        let output: StructuredOutput = ScoreStructuredOutput::new("quality", 1, 10)
            .reasoning(true)
            .reasoning_description("why")
            .into();
        assert_eq!(
            serde_json::to_string(&output.to_json_schema()).unwrap(),
            r#"{"type":"object","properties":{"score_eval":{"type":"number","description":"quality","minimum":1,"maximum":10},"reasoning":{"type":"string","description":"why"}},"required":["score_eval","reasoning"],"additionalProperties":false}"#
        );
        let output: StructuredOutput = ScoreStructuredOutput::new("q", 0.0, 1.0).into();
        let schema = serde_json::to_string(&output.to_json_schema()).unwrap();
        assert!(schema.contains(r#""minimum":0.0,"maximum":1.0"#), "{schema}");
    }

    #[test]
    fn categorical_schema_lists_categories_in_order() {
        let output: StructuredOutput = CategoricalStructuredOutput::new([
            ("positive", "good"),
            ("negative", "bad"),
            ("positive", "very good"),
        ])
        .into();
        assert_eq!(
            serde_json::to_string(&output.to_json_schema()).unwrap(),
            r#"{"type":"object","properties":{"categorical_eval":{"type":"string","anyOf":[{"const":"positive","description":"very good"},{"const":"negative","description":"bad"}]}},"required":["categorical_eval"],"additionalProperties":false}"#
        );
    }

    #[test]
    fn raw_schemas_are_sent_as_given() {
        let schema = json!({"type": "object", "properties": {"x": {"type": "integer"}}});
        let output = StructuredOutput::from(schema.as_object().unwrap().clone());
        assert_eq!(output.to_json_schema(), schema);
        assert_eq!(output.label(), None);
        assert_eq!(output.assessment_criteria(), None);
        let result = output.parse(r#"{"x": 3, "reasoning": "r"}"#).unwrap();
        assert_eq!(result.value, json!({"x": 3, "reasoning": "r"}));
        assert_eq!(result.reasoning.as_deref(), Some("r"));
        assert!(result.metadata.is_empty() && result.assessment.is_none());
    }

    #[test]
    fn parsing_rejects_what_is_not_an_object_of_the_declared_type() {
        let boolean = StructuredOutput::from(BooleanStructuredOutput::new("d"));
        let err = |o: &StructuredOutput, text: &str| {
            let e = o.parse(text).unwrap_err();
            assert_eq!(e.kind, "ValueError");
            e.message
        };
        assert_eq!(err(&boolean, ""), "Invalid response: expected non-empty string");
        assert!(err(&boolean, "yes").starts_with("Invalid JSON response: "));
        assert_eq!(err(&boolean, "[true]"), "Invalid JSON response: expected object, got list");
        assert_eq!(err(&boolean, "true"), "Invalid JSON response: expected object, got bool");
        assert_eq!(err(&boolean, "\"x\""), "Invalid JSON response: expected object, got str");
        assert_eq!(err(&boolean, r#"{"boolean_eval": "true"}"#), "Expected boolean, got str");
        assert_eq!(err(&boolean, r#"{"other": true}"#), "Expected boolean, got NoneType");
        let score = StructuredOutput::from(ScoreStructuredOutput::new("d", 0, 10));
        assert_eq!(err(&score, r#"{"score_eval": "7"}"#), "Expected number, got str");
        assert_eq!(err(&score, r#"{"score_eval": [7]}"#), "Expected number, got list");
        assert_eq!(err(&score, r#"{"score_eval": true}"#), "Expected number, got bool");
        let categorical = StructuredOutput::from(CategoricalStructuredOutput::new([("a", "A")]));
        assert_eq!(err(&categorical, r#"{"categorical_eval": 1}"#), "Expected string, got int");
        assert_eq!(err(&categorical, r#"{"categorical_eval": 1.5}"#), "Expected string, got float");
        assert_eq!(err(&categorical, r#"{"categorical_eval": {}}"#), "Expected string, got dict");
    }

    #[test]
    fn parsed_results_carry_value_reasoning_assessment_and_raw_response() {
        let output = StructuredOutput::from(
            BooleanStructuredOutput::new("d").reasoning(true).pass_when(true),
        );
        let result = output.parse(r#"{"boolean_eval": false, "reasoning": "wrong city"}"#).unwrap();
        assert_eq!(result.value, json!(false));
        assert_eq!(result.reasoning.as_deref(), Some("wrong city"));
        assert_eq!(result.assessment, Some(Assessment::Fail));
        assert_eq!(
            Value::Object(result.metadata),
            json!({"raw_response": {"boolean_eval": false, "reasoning": "wrong city"}})
        );
        // reasoning only when enabled, assessment only with criteria
        let output = StructuredOutput::from(BooleanStructuredOutput::new("d"));
        let result = output.parse(r#"{"boolean_eval": true, "reasoning": "r"}"#).unwrap();
        assert_eq!((result.reasoning, result.assessment), (None, None));
        // pass_when false passes a false verdict
        let output = StructuredOutput::from(BooleanStructuredOutput::new("d").pass_when(false));
        assert_eq!(
            output.parse(r#"{"boolean_eval": false}"#).unwrap().assessment,
            Some(Assessment::Pass)
        );
    }

    #[test]
    fn assessments_follow_the_published_criteria() {
        // the rules are core's (tested there); here: each output's criteria reach them
        let cases = [
            (
                StructuredOutput::from(BooleanStructuredOutput::new("d").pass_when(false)),
                json!({"pass_when": false}),
                [(json!(false), Some(Assessment::Pass)), (json!(true), Some(Assessment::Fail))],
            ),
            (
                StructuredOutput::from(
                    ScoreStructuredOutput::new("d", 0, 10).min_threshold(7).max_threshold(3.5),
                ),
                json!({"min_threshold": 7, "max_threshold": 3.5}),
                [(json!(8), Some(Assessment::Pass)), (json!(5.0), Some(Assessment::Fail))],
            ),
            (
                StructuredOutput::from(
                    CategoricalStructuredOutput::new([("a", "A"), ("b", "B")]).pass_values(["a"]),
                ),
                json!({"pass_values": ["a"]}),
                [(json!("a"), Some(Assessment::Pass)), (json!("b"), Some(Assessment::Fail))],
            ),
            (
                StructuredOutput::from(
                    CategoricalStructuredOutput::new([("a", "A")])
                        .pass_values(Vec::<String>::new()),
                ),
                json!({"pass_values": []}),
                [(json!("a"), Some(Assessment::Fail)), (json!("zzz"), Some(Assessment::Fail))],
            ),
        ];
        for (output, published, verdicts) in cases {
            let criteria = output.assessment_criteria().map(Value::Object);
            assert_eq!(
                serde_json::to_string(&criteria).unwrap(),
                serde_json::to_string(&published).unwrap()
            );
            for (value, assessment) in verdicts {
                assert_eq!(output.assess(&value), assessment, "{output:?} {value}");
            }
        }
        // no criteria: no assessment
        let output = StructuredOutput::from(ScoreStructuredOutput::new("d", 0, 10));
        assert_eq!((output.assessment_criteria(), output.assess(&json!(5))), (None, None));
    }
}
