//! The few fields the store reads of a span or metric that it keeps as the text it
//! received.
//!
//! One pass over the text pulls them out without building the JSON (only a metric's
//! value fields, usually a word or a number, are built as values), and checks the rest
//! the way building it would (numbers in range, valid escapes, nesting within
//! serde_json's limit), so every stored body reads back. A key given twice counts once,
//! the last time, as in a parsed object; a field of the wrong type reads as absent.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// What the store needs of a span or metric object. Text borrows from the JSON when it
/// has no escapes.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Fields<'a> {
    /// `span_id`, if a string.
    pub span_id: Option<Cow<'a, str>>,
    /// `trace_id`, if a string.
    pub trace_id: Option<Cow<'a, str>>,
    /// `parent_id`, if a string (`"undefined"` for a root span).
    pub parent_id: Option<Cow<'a, str>>,
    /// `start_ns`, if an integer that fits `i64`.
    pub start_ns: Option<i64>,
    /// The value of the first `experiment_id:` string in `tags`, if a list has one.
    pub experiment_id: Option<Cow<'a, str>>,
    /// The value of the first `dataset_record_id:` string in `tags`, if a list has one.
    pub record_id: Option<Cow<'a, str>>,
    /// `label`, if a string.
    pub label: Option<Cow<'a, str>>,
    /// `metric_type`, if a string.
    pub metric_type: Option<Cow<'a, str>>,
    /// `metric_source`, if a string.
    pub metric_source: Option<Cow<'a, str>>,
    /// `timestamp_ms`, if an integer that fits `i64`.
    pub timestamp_ms: Option<i64>,
    /// A metric's `error`, `boolean_value`, `score_value` and `categorical_value`, as
    /// given: what [`EvalValue::of`](llmobs_core::summary::EvalValue::of) reads of it.
    pub values: MetricValues,
}

/// The value fields of a metric, each as given (usually small), read in the same pass as
/// the rest so that the store does not parse a metric twice.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct MetricValues {
    pub error: Option<serde_json::Value>,
    pub boolean_value: Option<serde_json::Value>,
    pub score_value: Option<serde_json::Value>,
    pub categorical_value: Option<serde_json::Value>,
}

/// A text field, or `""`.
pub(crate) fn text<'s>(field: &'s Option<Cow<'_, str>>) -> &'s str {
    field.as_deref().unwrap_or("")
}

impl<'a> Fields<'a> {
    /// The fields of `json`; `Ok(None)` when it is not an object, an error when it is not
    /// JSON that parses.
    pub(crate) fn of(json: &'a RawValue) -> serde_json::Result<Option<Fields<'a>>> {
        serde_json::from_str::<Top<'a>>(json.get()).map(|top| top.0)
    }
}

/// Visitor methods for the scalars a value need not be, answering `$value`.
macro_rules! scalars {
    ($value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// The top of a value: an object's fields, or `None`.
struct Top<'a>(Option<Fields<'a>>);

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = Top<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
                let mut fields = Fields::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::SpanId => fields.span_id = map.next_value::<Scalar>()?.text(),
                        Key::TraceId => fields.trace_id = map.next_value::<Scalar>()?.text(),
                        Key::ParentId => fields.parent_id = map.next_value::<Scalar>()?.text(),
                        Key::StartNs => fields.start_ns = map.next_value::<Scalar>()?.int(),
                        Key::Tags => {
                            let tags = map.next_value::<TagIds>()?;
                            fields.experiment_id = tags.experiment;
                            fields.record_id = tags.record;
                        }
                        Key::Label => fields.label = map.next_value::<Scalar>()?.text(),
                        Key::MetricType => fields.metric_type = map.next_value::<Scalar>()?.text(),
                        Key::MetricSource => {
                            fields.metric_source = map.next_value::<Scalar>()?.text()
                        }
                        Key::TimestampMs => fields.timestamp_ms = map.next_value::<Scalar>()?.int(),
                        Key::Error => fields.values.error = Some(map.next_value()?),
                        Key::BooleanValue => fields.values.boolean_value = Some(map.next_value()?),
                        Key::ScoreValue => fields.values.score_value = Some(map.next_value()?),
                        Key::CategoricalValue => {
                            fields.values.categorical_value = Some(map.next_value()?)
                        }
                        Key::Other => {
                            map.next_value::<Checked>()?;
                        }
                    }
                }
                Ok(Top(Some(fields)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Top<'de>, A::Error> {
                Checked::drain_seq(seq)?;
                Ok(Top(None))
            }
            scalars!(Top(None));
        }
        deserializer.deserialize_any(TopVisitor)
    }
}

/// The keys the store reads.
enum Key {
    SpanId,
    TraceId,
    ParentId,
    StartNs,
    Tags,
    Label,
    MetricType,
    MetricSource,
    TimestampMs,
    Error,
    BooleanValue,
    ScoreValue,
    CategoricalValue,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "span_id" => Key::SpanId,
                    "trace_id" => Key::TraceId,
                    "parent_id" => Key::ParentId,
                    "start_ns" => Key::StartNs,
                    "tags" => Key::Tags,
                    "label" => Key::Label,
                    "metric_type" => Key::MetricType,
                    "metric_source" => Key::MetricSource,
                    "timestamp_ms" => Key::TimestampMs,
                    "error" => Key::Error,
                    "boolean_value" => Key::BooleanValue,
                    "score_value" => Key::ScoreValue,
                    "categorical_value" => Key::CategoricalValue,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A field's value: text, an integer that fits `i64`, or something else (checked).
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Other,
}

impl<'a> Scalar<'a> {
    fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Scalar::Text(text) => Some(text),
            _ => None,
        }
    }

    fn int(self) -> Option<i64> {
        match self {
            Scalar::Int(int) => Some(int),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(i64::try_from(v).map_or(Scalar::Other, Scalar::Int))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
                Checked::drain_seq(seq)?;
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
                Checked::drain_map(map)?;
                Ok(Scalar::Other)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// `tags`: the values of its first `experiment_id:` and `dataset_record_id:` strings, when
/// it is a list.
#[derive(Default)]
struct TagIds<'a> {
    experiment: Option<Cow<'a, str>>,
    record: Option<Cow<'a, str>>,
}

/// `tag` without `prefix`, borrowed as `tag` is.
fn strip<'a>(tag: &Cow<'a, str>, prefix: &str) -> Option<Cow<'a, str>> {
    match tag {
        Cow::Borrowed(tag) => tag.strip_prefix(prefix).map(Cow::Borrowed),
        Cow::Owned(tag) => tag.strip_prefix(prefix).map(|id| Cow::Owned(id.to_owned())),
    }
}

impl<'de> Deserialize<'de> for TagIds<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagsVisitor;
        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = TagIds<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of tags")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut found = TagIds::default();
                while let Some(tag) = seq.next_element::<Scalar>()? {
                    if let Scalar::Text(tag) = tag {
                        if found.experiment.is_none() {
                            found.experiment = strip(&tag, "experiment_id:");
                        }
                        if found.record.is_none() {
                            found.record = strip(&tag, "dataset_record_id:");
                        }
                    }
                }
                Ok(found)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Checked::drain_map(map)?;
                Ok(TagIds::default())
            }
            scalars!(TagIds::default());
        }
        deserializer.deserialize_any(TagsVisitor)
    }
}

/// Any JSON value, checked as building it would check it, and dropped.
struct Checked;

impl Checked {
    fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(())
    }

    fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CheckedVisitor;
        impl<'de> Visitor<'de> for CheckedVisitor {
            type Value = Checked;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Checked, A::Error> {
                Checked::drain_seq(seq)?;
                Ok(Checked)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Checked, A::Error> {
                Checked::drain_map(map)?;
                Ok(Checked)
            }
            scalars!(Checked);
        }
        deserializer.deserialize_any(CheckedVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn reads_fields_borrowing_plain_text() {
        let json = raw(
            r#"{"span_id": "s1", "trace_id": "t\u0031", "start_ns": 17, "meta": {"a": [1, 2.5]},
               "tags": [3, "dataset_record_id:r1", "experiment_id:e:1", "experiment_id:e2"],
               "label": "acc", "metric_type": "score", "metric_source": "custom",
               "timestamp_ms": 42}"#,
        );
        let fields = Fields::of(&json).unwrap().unwrap();
        assert!(matches!(fields.span_id, Some(Cow::Borrowed("s1"))));
        assert_eq!(text(&fields.trace_id), "t1");
        assert_eq!(fields.start_ns, Some(17));
        assert_eq!(text(&fields.experiment_id), "e:1");
        assert_eq!(text(&fields.record_id), "r1");
        assert_eq!(
            (text(&fields.label), text(&fields.metric_type), text(&fields.metric_source)),
            ("acc", "score", "custom")
        );
        assert_eq!(fields.timestamp_ms, Some(42));
    }

    #[test]
    fn wrong_types_read_as_absent_and_the_last_duplicate_wins() {
        let json = raw(r#"{"span_id": 5, "start_ns": 1.5, "timestamp_ms": 18446744073709551615,
               "label": "a", "label": "b", "tags": "experiment_id:x", "metric_type": null,
               "trace_id": {"x": 1}}"#);
        let fields = Fields::of(&json).unwrap().unwrap();
        assert_eq!(
            fields,
            Fields { label: Some(Cow::Borrowed("b")), ..Fields::default() },
            "{fields:?}"
        );
        let json = raw(r#"{"tags": ["experiment_id:a"], "tags": []}"#);
        assert_eq!(Fields::of(&json).unwrap().unwrap().experiment_id, None);
        let json = raw(r#"{"tags": ["experiment_id:a"], "tags": ["x", "experiment_id:\u0062"]}"#);
        assert_eq!(text(&Fields::of(&json).unwrap().unwrap().experiment_id), "b");
    }

    #[test]
    fn non_objects_have_no_fields_and_what_would_not_parse_is_an_error() {
        for json in ["5", "\"s\"", "[1, {\"a\": 2}]", "null", "true"] {
            assert_eq!(Fields::of(&raw(json)).unwrap(), None, "{json}");
        }
        for json in [
            r#"{"a": 1e400}"#,
            r#"{"tags": ["\ud800"]}"#,
            &format!("{{\"a\": {}{}}}", "[".repeat(200), "]".repeat(200)),
        ] {
            assert!(Fields::of(&raw(json)).is_err(), "{json}");
            assert!(serde_json::from_str::<serde_json::Value>(json).is_err(), "{json}");
        }
    }
}
