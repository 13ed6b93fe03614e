//! The rules of LLM judges (spec §5.7, §7.4) that the SDK's `LLMJudge` and the server's
//! `llm_judge` share, so that a judge renders its prompt and assesses its verdict the same
//! way when it runs in the client and when it runs on the server after being published
//! (E14) and called through remote inference (E13).
//!
//! - [`render`]: the user prompt's `{{path}}` placeholders, filled from a template context,
//!   a JSON object with the fields of the reference client's `EvaluatorContext`
//!   ([`FIELDS`], [`template_context`]). [`infer_context`] builds that object from an
//!   E13 context.
//! - [`AssessmentCriteria`]: the published `assessment_criteria` (`pass_when`,
//!   `min_threshold` / `max_threshold`, `pass_values`) and the [`Verdict`] they give;
//!   [`CriteriaError`] says why published criteria cannot be read.
//! - [`chat_request`]: the OpenAI chat-completions request the judge sends its model.
//!
//! ```
//! use llmobs_core::judge::{AssessmentCriteria, Verdict, render};
//! use serde_json::json;
//!
//! let context = json!({"input_data": {"q": "Capital of France?"}, "output_data": "Paris"});
//! assert_eq!(render("Is {{output_data}} right for {{input_data.q}}?{{nope}}", &context),
//!            "Is Paris right for Capital of France??");
//!
//! let criteria = AssessmentCriteria::from_value(&json!({"min_threshold": 7}))?;
//! assert_eq!(criteria.assess(&json!(8)), Some(Verdict::Pass));
//! # Ok::<(), llmobs_core::judge::CriteriaError>(())
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::pyjson;

/// The fields of a template context: what `{{input_data}}`, `{{output_data}}`,
/// `{{expected_output}}`, `{{metadata}}`, `{{span_id}}` and `{{trace_id}}` name (the
/// reference client's `EvaluatorContext`).
pub const FIELDS: [&str; 6] =
    ["input_data", "output_data", "expected_output", "metadata", "span_id", "trace_id"];

// ---------------------------------------------------------------------------------------
// Prompt templates
// ---------------------------------------------------------------------------------------

/// Renders the `{{path}}` placeholders of `template` from `context`, a JSON object such as
/// `{"input_data": …, "output_data": …, "expected_output": …, "metadata": …, "span_id":
/// …, "trace_id": …}`, as the reference client's `LLMJudge._render` does:
///
/// - a placeholder is the reference's `\{\{(.+?)\}\}`: the shortest text of at least one
///   character, on one line, between `{{` and `}}`;
/// - its path, stripped of whitespace (Python's `str.strip()`), names a member of
///   `context`, then dotted members of objects (`input_data.question`,
///   `metadata.experiment_config.model`); lists are not indexed;
/// - objects and lists are inserted as `json.dumps(value, indent=2)`, other values as
///   Python's `str()` ([`pyjson::str_of`]: `True`, `0.5`, …), and missing values and
///   `null` as empty text.
///
/// Text outside placeholders is kept as is; inserted values are not scanned again.
pub fn render(template: &str, context: &Value) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(end) = placeholder_end(after) else {
            // No placeholder starts here: keep one `{` and look again from the next one.
            out.push('{');
            rest = &rest[open + 1..];
            continue;
        };
        match lookup(context, after[..end].trim_matches(pyjson::is_space)) {
            Some(value @ (Value::Object(_) | Value::Array(_))) => {
                out.push_str(&pyjson::dumps_indent(value, 2))
            }
            Some(Value::Null) | None => {}
            Some(value) => out.push_str(&pyjson::str_of(value)),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The value a dotted `path` names in `context`: its first segment a member of the
/// context, each next one a member of an object. `None` when missing.
pub fn lookup<'a>(context: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(context, |value, part| value.as_object()?.get(part))
}

/// Where the `}}` closing a placeholder whose text starts `after` is: at least one
/// character, no line break before it.
fn placeholder_end(after: &str) -> Option<usize> {
    let first = after.chars().next().filter(|c| *c != '\n')?;
    let start = first.len_utf8();
    let end = start + after[start..].find("}}")?;
    (!after[..end].contains('\n')).then_some(end)
}

/// The template context of an E13 `context` of the default shape the clients send
/// (spec §5.5): `span_input` → `input_data`, `span_output` → `output_data`,
/// `meta.expected_output` → `expected_output`, `meta.metadata` → `metadata` (`{}` when
/// absent, as the client's context defaults it), `span_id` and `trace_id` as they are.
/// Members a context lacks are `null`, so they render as empty text.
pub fn infer_context(context: &Value) -> Value {
    let field = |pointer: &str| context.pointer(pointer).cloned().unwrap_or(Value::Null);
    let metadata =
        context.pointer("/meta/metadata").cloned().unwrap_or_else(|| Value::Object(Map::new()));
    template_context([
        field("/span_input"),
        field("/span_output"),
        field("/meta/expected_output"),
        metadata,
        field("/span_id"),
        field("/trace_id"),
    ])
}

/// The template context holding `values` under the names of [`FIELDS`], in that order.
pub fn template_context(values: [Value; 6]) -> Value {
    Value::Object(FIELDS.iter().map(|name| (*name).to_owned()).zip(values).collect())
}

// ---------------------------------------------------------------------------------------
// Assessment
// ---------------------------------------------------------------------------------------

/// The assessment of a judge's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// `pass`.
    Pass,
    /// `fail`.
    Fail,
}

impl Verdict {
    /// `Pass` when `passed`.
    pub fn of(passed: bool) -> Self {
        if passed { Verdict::Pass } else { Verdict::Fail }
    }

    /// The wire text: `pass` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }
}

/// A judge's `assessment_criteria`, as the reference client publishes them (E14
/// `byop_config.assessment_criteria`): `pass_when` for a boolean verdict, `min_threshold`
/// and/or `max_threshold` for a score, `pass_values` for a category. Members are written
/// in that order, absent ones left out; unknown members are ignored when read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssessmentCriteria {
    /// A boolean verdict passes when it equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_when: Option<bool>,
    /// See [`assess`](Self::assess).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_threshold: Option<Number>,
    /// See [`assess`](Self::assess).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_threshold: Option<Number>,
    /// A category passes when it is one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_values: Option<Vec<String>>,
}

/// Why [`AssessmentCriteria::from_value`] refuses published criteria.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CriteriaError {
    /// `assessment_criteria` is neither an object nor null: send an object.
    #[error("invalid assessment_criteria: expected an object")]
    NotAnObject,
    /// A criterion has the wrong type; the text names it and the type expected.
    #[error("invalid assessment_criteria: {0}")]
    Field(String),
}

impl AssessmentCriteria {
    /// Reads published criteria; `null` is none.
    ///
    /// # Errors
    ///
    /// A [`CriteriaError`] when `value` is not an object or null, `pass_when` not a
    /// boolean, a threshold not a number, or `pass_values` not a list of strings.
    pub fn from_value(value: &Value) -> Result<Self, CriteriaError> {
        match value {
            Value::Null => Ok(Self::default()),
            Value::Object(_) => {
                Self::deserialize(value).map_err(|e| CriteriaError::Field(e.to_string()))
            }
            _ => Err(CriteriaError::NotAnObject),
        }
    }

    /// No criterion is set (a judge without criteria gives no assessment).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The criteria as a JSON object (what E14 publishes).
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// The assessment of a judge's verdict `value` (the reference client's
    /// `_compute_assessment`), the first criterion set deciding:
    ///
    /// 1. `pass_when`: pass iff `value` is that boolean;
    /// 2. `pass_values`: pass iff `value` is one of those strings (none pass an empty list);
    /// 3. thresholds, for a number: with both and `max_threshold >= min_threshold`, pass
    ///    inside `[min, max]`; with `max_threshold < min_threshold`, pass outside
    ///    `(max, min)`; with one, pass when `>= min_threshold` or `<= max_threshold`. A
    ///    value that is not a number gets no assessment.
    ///
    /// `None` without criteria.
    pub fn assess(&self, value: &Value) -> Option<Verdict> {
        if let Some(pass_when) = self.pass_when {
            return Some(Verdict::of(value.as_bool() == Some(pass_when)));
        }
        if let Some(values) = &self.pass_values {
            return Some(Verdict::of(
                value.as_str().is_some_and(|v| values.iter().any(|p| p == v)),
            ));
        }
        let min = self.min_threshold.as_ref().and_then(Number::as_f64);
        let max = self.max_threshold.as_ref().and_then(Number::as_f64);
        if min.is_none() && max.is_none() {
            return None;
        }
        let score = value.as_f64()?;
        Some(Verdict::of(match (min, max) {
            (Some(min), Some(max)) if max >= min => min <= score && score <= max,
            (Some(min), Some(max)) => score < max || score > min,
            (Some(min), None) => score >= min,
            (None, Some(max)) => score <= max,
            (None, None) => unreachable!("checked above"),
        }))
    }
}

// ---------------------------------------------------------------------------------------
// The model request
// ---------------------------------------------------------------------------------------

/// The body of the OpenAI chat-completions request a judge sends (`POST
/// <base>/chat/completions`), the same from the SDK's `OpenAiClient` and the server's
/// `llm_judge`: `{"model", "messages": [{"role", "content"}…]}`, then `params` as given
/// (they may replace `model`), then `response_format: {"type": "json_schema",
/// "json_schema": json_schema}` when a schema is given (`json_schema` is the
/// `{"name", "strict", "schema"}` object OpenAI expects).
///
/// ```
/// use llmobs_core::judge::chat_request;
/// use serde_json::json;
///
/// let params = json!({"temperature": 0}).as_object().cloned().unwrap();
/// let body = chat_request(json!("gpt-4o"), [("user", "Is 2 + 2 = 4?")], None, &params);
/// assert_eq!(body, json!({"model": "gpt-4o", "temperature": 0,
///                         "messages": [{"role": "user", "content": "Is 2 + 2 = 4?"}]}));
/// ```
pub fn chat_request<'m>(
    model: Value,
    messages: impl IntoIterator<Item = (&'m str, &'m str)>,
    json_schema: Option<Value>,
    params: &Map<String, Value>,
) -> Value {
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|(role, content)| {
            let mut message = Map::new();
            message.insert("role".into(), Value::from(role));
            message.insert("content".into(), Value::from(content));
            Value::Object(message)
        })
        .collect();
    let mut body = Map::new();
    body.insert("model".into(), model);
    body.insert("messages".into(), Value::Array(messages));
    for (key, value) in params {
        body.insert(key.clone(), value.clone());
    }
    if let Some(schema) = json_schema {
        let mut format = Map::new();
        format.insert("type".into(), Value::from("json_schema"));
        format.insert("json_schema".into(), schema);
        body.insert("response_format".into(), Value::Object(format));
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> Value {
        json!({
            "input_data": {"question": "Capital of France?", "nested": {"deep": {"k": 3}}},
            "output_data": "Paris",
            "expected_output": {"answer": "Paris", "alts": ["Paname", "Lutèce"]},
            "metadata": {"experiment_config": {"model": "m1"}, "difficulty": "easy"},
            "span_id": "123",
            "trace_id": "",
        })
    }

    #[test]
    fn templates_resolve_nested_paths_and_scalars() {
        let ctx = context();
        assert_eq!(
            render(
                "Q: {{input_data.question}} A: {{ output_data }} k={{input_data.nested.deep.k}}",
                &ctx
            ),
            "Q: Capital of France? A: Paris k=3"
        );
        assert_eq!(render("{{span_id}}|{{trace_id}}|{{metadata.difficulty}}", &ctx), "123||easy");
        // Python str() of scalars
        let ctx = json!({"input_data": {"b": true, "f": 0.5, "i": 7, "n": null, "one": 1.0}});
        assert_eq!(
            render(
                "{{input_data.b}} {{input_data.f}} {{input_data.i}} [{{input_data.n}}] {{input_data.one}}",
                &ctx
            ),
            "True 0.5 7 [] 1.0"
        );
    }

    #[test]
    fn templates_insert_dicts_and_lists_as_indented_json() {
        let ctx = context();
        // json.dumps({"answer": "Paris", "alts": ["Paname", "Lutèce"]}, indent=2)
        assert_eq!(
            render("{{expected_output}}", &ctx),
            "{\n  \"answer\": \"Paris\",\n  \"alts\": [\n    \"Paname\",\n    \"Lut\\u00e8ce\"\n  ]\n}"
        );
        assert_eq!(
            render("{{expected_output.alts}}", &ctx),
            "[\n  \"Paname\",\n  \"Lut\\u00e8ce\"\n]"
        );
        assert_eq!(render("{{metadata.experiment_config}}", &ctx), "{\n  \"model\": \"m1\"\n}");
        let ctx = json!({"input_data": {"empty": {}, "none": []}});
        assert_eq!(render("{{input_data.empty}}{{input_data.none}}", &ctx), "{}[]");
    }

    #[test]
    fn templates_leave_missing_values_empty() {
        let ctx = context();
        assert_eq!(render("[{{nope}}][{{input_data.missing}}][{{output_data.x}}]", &ctx), "[][][]");
        // lists are not indexed; paths through scalars are missing
        assert_eq!(render("[{{expected_output.alts.0}}][{{input_data.question.x}}]", &ctx), "[][]");
        assert_eq!(render("[{{expected_output}}]", &json!({"expected_output": null})), "[]");
        // a context that is not an object has nothing
        assert_eq!(render("[{{output_data}}]", &json!("Paris")), "[]");
    }

    #[test]
    fn templates_follow_the_reference_regex() {
        let ctx = context();
        // `\{\{(.+?)\}\}`: the shortest text, at least one character, on one line.
        assert_eq!(render("{{{output_data}}}", &ctx), "}");
        assert_eq!(render("{{}}}", &ctx), "");
        assert_eq!(render("{{output_data\n}} {{output_data}}", &ctx), "{{output_data\n}} Paris");
        assert_eq!(render("{{ \t output_data \u{a0}\u{1f}}}", &ctx), "Paris");
        assert_eq!(render("no placeholders {{", &ctx), "no placeholders {{");
        assert_eq!(render("{{output_data}}{{output_data}}", &ctx), "ParisParis");
        assert_eq!(render("é{{output_data}}ü", &ctx), "éParisü");
        // inserted values are not rendered again
        let ctx = json!({"output_data": "{{input_data}}", "input_data": "x"});
        assert_eq!(render("{{output_data}}", &ctx), "{{input_data}}");
    }

    #[test]
    fn infer_contexts_become_template_contexts() {
        let infer = json!({"span_input": {"q": "Q?"}, "span_output": "A",
                           "meta": {"expected_output": "E", "metadata": {"k": "v"}},
                           "span_id": "1", "trace_id": "t"});
        assert_eq!(
            infer_context(&infer),
            json!({"input_data": {"q": "Q?"}, "output_data": "A", "expected_output": "E",
                   "metadata": {"k": "v"}, "span_id": "1", "trace_id": "t"})
        );
        let bare = infer_context(&json!({"span_output": "A", "meta": {}}));
        assert_eq!(
            render(
                "[{{input_data}}][{{output_data}}][{{expected_output}}][{{metadata}}][{{span_id}}]",
                &bare
            ),
            "[][A][][{}][]"
        );
        // key order is the client's context order
        let keys: Vec<&String> = bare.as_object().unwrap().keys().collect();
        assert_eq!(keys, FIELDS.iter().collect::<Vec<_>>());
    }

    fn criteria(value: Value) -> AssessmentCriteria {
        AssessmentCriteria::from_value(&value).unwrap()
    }

    #[test]
    fn pass_when_compares_booleans() {
        let (pass, fail) = (Some(Verdict::Pass), Some(Verdict::Fail));
        let when_true = criteria(json!({"pass_when": true}));
        assert_eq!(when_true.assess(&json!(true)), pass);
        assert_eq!(when_true.assess(&json!(false)), fail);
        assert_eq!(when_true.assess(&json!("true")), fail);
        assert_eq!(when_true.assess(&json!(1)), fail);
        let when_false = criteria(json!({"pass_when": false}));
        assert_eq!(when_false.assess(&json!(false)), pass);
        assert_eq!(when_false.assess(&json!(true)), fail);
    }

    #[test]
    fn score_thresholds_pass_inside_or_outside_a_range() {
        let assess = |c: Value, v: Value| criteria(c).assess(&v);
        let (pass, fail) = (Some(Verdict::Pass), Some(Verdict::Fail));
        // inclusive range
        let range = || json!({"min_threshold": 3, "max_threshold": 7});
        assert_eq!(assess(range(), json!(3)), pass);
        assert_eq!(assess(range(), json!(7.0)), pass);
        assert_eq!(assess(range(), json!(2.99)), fail);
        assert_eq!(assess(range(), json!(8)), fail);
        // inverted (max < min): pass outside (max, min) = outside (3, 7)
        let outside = || json!({"min_threshold": 7, "max_threshold": 3});
        assert_eq!(assess(outside(), json!(2)), pass);
        assert_eq!(assess(outside(), json!(8)), pass);
        assert_eq!(assess(outside(), json!(3)), fail);
        assert_eq!(assess(outside(), json!(7)), fail);
        assert_eq!(assess(outside(), json!(5)), fail);
        // one threshold
        assert_eq!(assess(json!({"min_threshold": 5}), json!(5)), pass);
        assert_eq!(assess(json!({"min_threshold": 5}), json!(4.5)), fail);
        assert_eq!(assess(json!({"max_threshold": 0.5}), json!(0.5)), pass);
        assert_eq!(assess(json!({"max_threshold": 0.5}), json!(0.6)), fail);
        // equal thresholds: only that value
        let equal = || json!({"min_threshold": 5, "max_threshold": 5.0});
        assert_eq!(assess(equal(), json!(5)), pass);
        assert_eq!(assess(equal(), json!(5.1)), fail);
        // not a number: no assessment
        assert_eq!(assess(range(), json!("5")), None);
        assert_eq!(assess(json!({"min_threshold": null}), json!(5)), None);
    }

    #[test]
    fn pass_values_list_the_passing_categories() {
        let some = criteria(json!({"pass_values": ["positive", "neutral"]}));
        assert_eq!(some.assess(&json!("neutral")), Some(Verdict::Pass));
        assert_eq!(some.assess(&json!("negative")), Some(Verdict::Fail));
        assert_eq!(some.assess(&json!(1)), Some(Verdict::Fail));
        let none = criteria(json!({"pass_values": []}));
        assert_eq!(none.assess(&json!("positive")), Some(Verdict::Fail));
        assert_eq!(Value::Object(none.to_map()), json!({"pass_values": []}));
    }

    #[test]
    fn criteria_are_read_strictly_and_written_in_the_reference_order() {
        assert!(criteria(json!(null)).is_empty());
        assert!(criteria(json!({})).is_empty());
        assert!(criteria(json!({"unknown": 1})).is_empty());
        assert_eq!(criteria(json!({})).assess(&json!(true)), None);
        for bad in [
            json!([]),
            json!({"pass_when": "yes"}),
            json!({"min_threshold": "7"}),
            json!({"pass_values": "a"}),
            json!({"pass_values": [1]}),
        ] {
            let err = AssessmentCriteria::from_value(&bad).unwrap_err();
            assert!(err.to_string().starts_with("invalid assessment_criteria: "), "{err}");
        }
        let score = criteria(json!({"max_threshold": 2, "min_threshold": 4.0}));
        assert_eq!(
            serde_json::to_string(&score.to_map()).unwrap(),
            r#"{"min_threshold":4.0,"max_threshold":2}"#
        );
        assert_eq!(
            Value::Object(criteria(json!({"pass_when": false})).to_map()),
            json!({"pass_when": false})
        );
    }
}
