//! The `span_search` row of a span, read in one pass over its stored text.
//!
//! Only the members the row needs are read (ids, times, names, `meta.span.kind`, the
//! model, the tags and the input and output text); their text borrows from the body when
//! it has no escapes, and every other member is skipped without being built. The values
//! are what reading the span as a `serde_json` object and asking it would give
//! (`llmobs_core::spans::{kind_of, ml_app_of, searchable_text}`): a text field of another
//! type reads as its JSON text, `null` as empty, and a key given twice counts once, the
//! last time. A body that is not a JSON object gives a row of empty fields.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// Visitor methods for the values that are not lists or objects, answering `$value`.
macro_rules! not_containers {
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

/// What the index reads of a span event.
#[derive(Debug, Default, PartialEq)]
pub(super) struct SpanFields<'a> {
    pub trace_id: Cow<'a, str>,
    pub span_id: Cow<'a, str>,
    pub parent_id: Cow<'a, str>,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub kind: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub ml_app: Cow<'a, str>,
    pub status: Cow<'a, str>,
    pub session_id: Cow<'a, str>,
    pub model_name: Cow<'a, str>,
    pub model_provider: Cow<'a, str>,
    /// `|` + the string tags joined by `|` + `|`.
    pub tags: String,
    /// The input and output text, as `searchable_text` gives it.
    pub content: String,
}

impl<'a> SpanFields<'a> {
    /// The fields of a stored span body; empty ones when it is not a JSON object.
    pub(super) fn of(body: &'a str) -> SpanFields<'a> {
        let top = serde_json::from_str::<Top<'a>>(body).unwrap_or_default();
        let mut tag_text = String::from("|");
        for tag in top.tags.iter().flatten() {
            tag_text.push_str(tag);
            tag_text.push('|');
        }
        let ml_app = (top.tags.iter().flatten())
            .find_map(|tag| tag.split_once(':').filter(|(k, _)| *k == "ml_app").map(|(_, v)| v))
            .map(|app| Cow::Owned(app.to_owned()))
            .or(top.ml_app)
            .unwrap_or_default();
        let meta = top.meta.unwrap_or_default();
        let mut content = String::new();
        for side in [meta.input, meta.output] {
            io_text(side, &mut content);
        }
        SpanFields {
            trace_id: top.trace_id.unwrap_or_default(),
            span_id: top.span_id.unwrap_or_default(),
            parent_id: top.parent_id.unwrap_or_default(),
            start_ns: top.start_ns.unwrap_or(0),
            duration_ns: top.duration.unwrap_or(0.0) as i64,
            kind: meta.kind.unwrap_or_default(),
            name: top.name.unwrap_or_default(),
            ml_app,
            status: top.status.unwrap_or_default(),
            session_id: top.session_id.unwrap_or_default(),
            model_name: meta.model_name.unwrap_or_default(),
            model_provider: meta.model_provider.unwrap_or_default(),
            tags: tag_text,
            content,
        }
    }
}

/// Appends the searchable text of `meta.input` or `meta.output`: its `value` and its
/// messages' `content`, each followed by a newline (or the whole value as text when it
/// has neither).
fn io_text(io: Option<&RawValue>, out: &mut String) {
    let Some(io) = io.filter(|io| io.get() != "null") else { return };
    let mut push = |text: &str| {
        out.push_str(text);
        out.push('\n');
    };
    if io.get().starts_with('{')
        && let Ok(object) = serde_json::from_str::<IoObject>(io.get())
        && (object.messages.is_some_and(|m| m.get().starts_with('[')) || object.value.is_some())
    {
        if let Some(Text(Some(value))) = object.value.map(text_of) {
            push(&value);
        }
        if let Some(messages) = object.messages
            && let Ok(messages) = serde_json::from_str::<Vec<&RawValue>>(messages.get())
        {
            for message in messages {
                if message.get().starts_with('{') {
                    let content = serde_json::from_str::<Content>(message.get());
                    if let Ok(Content(Some(Text(Some(content))))) = content {
                        push(&content);
                    }
                } else {
                    push(&text_of(message).0.unwrap_or_default());
                }
            }
        }
        return;
    }
    if let Text(Some(text)) = text_of(io) {
        push(&text);
    }
}

/// A JSON value as text, as `llmobs_core` reads text fields.
fn text_of(raw: &RawValue) -> Text<'_> {
    serde_json::from_str(raw.get()).unwrap_or(Text(None))
}

/// The top-level members the row reads (the last of a repeated key).
#[derive(Default)]
struct Top<'a> {
    trace_id: Option<Cow<'a, str>>,
    span_id: Option<Cow<'a, str>>,
    parent_id: Option<Cow<'a, str>>,
    start_ns: Option<i64>,
    duration: Option<f64>,
    name: Option<Cow<'a, str>>,
    status: Option<Cow<'a, str>>,
    session_id: Option<Cow<'a, str>>,
    /// `ml_app`, if a string.
    ml_app: Option<Cow<'a, str>>,
    meta: Option<Meta<'a>>,
    /// The string items of `tags`, if a list.
    tags: Option<Vec<Cow<'a, str>>>,
}

/// The members of `meta` the row reads; absent when `meta` is not an object.
#[derive(Default)]
struct Meta<'a> {
    kind: Option<Cow<'a, str>>,
    model_name: Option<Cow<'a, str>>,
    model_provider: Option<Cow<'a, str>>,
    input: Option<&'a RawValue>,
    output: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = Top<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a span object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
                let mut top = Top::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key.as_str() {
                        "trace_id" => top.trace_id = map.next_value::<Text>()?.0,
                        "span_id" => top.span_id = map.next_value::<Text>()?.0,
                        "parent_id" => top.parent_id = map.next_value::<Text>()?.0,
                        "start_ns" => top.start_ns = map.next_value::<Number>()?.int,
                        "duration" => top.duration = map.next_value::<Number>()?.float,
                        "name" => top.name = map.next_value::<Text>()?.0,
                        "status" => top.status = map.next_value::<Text>()?.0,
                        "session_id" => top.session_id = map.next_value::<Text>()?.0,
                        "ml_app" => top.ml_app = map.next_value::<OnlyText>()?.0,
                        "meta" => top.meta = map.next_value::<MaybeMeta>()?.0,
                        "tags" => top.tags = map.next_value::<Tags>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(top)
            }
        }
        deserializer.deserialize_map(TopVisitor)
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl Key<'_> {
    /// The key's text, whether borrowed or unescaped.
    fn as_str(&self) -> &str {
        &self.0
    }
}

/// A text field: a string as itself, `null` as absent, anything else as its JSON text.
struct Text<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        fn json<'a>(value: impl Into<Value>) -> Text<'a> {
            Text(Some(Cow::Owned(value.into().to_string())))
        }
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text<'de>, E> {
                Ok(json(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text<'de>, E> {
                Ok(json(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text<'de>, E> {
                Ok(json(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text<'de>, E> {
                Ok(json(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
                Ok(json(Value::deserialize(SeqAccessDeserializer::new(seq))?))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
                Ok(json(Value::deserialize(MapAccessDeserializer::new(map))?))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// A value read only when it is a string.
struct OnlyText<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for OnlyText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Scalar::deserialize(deserializer)? {
            Scalar::Text(text) => OnlyText(Some(text)),
            _ => OnlyText(None),
        })
    }
}

/// A number, as `Value::as_i64` and `Value::as_f64` read it.
#[derive(Default)]
struct Number {
    int: Option<i64>,
    float: Option<f64>,
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Scalar::deserialize(deserializer)? {
            Scalar::Int(v) => Number { int: Some(v), float: Some(v as f64) },
            Scalar::Uint(v) => Number { int: i64::try_from(v).ok(), float: Some(v as f64) },
            Scalar::Float(v) => Number { int: None, float: Some(v) },
            _ => Number::default(),
        })
    }
}

/// A value of which only strings and numbers are kept; the rest is skipped.
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Uint(u64),
    Float(f64),
    Other,
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
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Uint(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
                drain_seq(seq)?;
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
                drain_map(map)?;
                Ok(Scalar::Other)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// `tags`: its string items when it is a list.
struct Tags<'a>(Option<Vec<Cow<'a, str>>>);

impl<'de> Deserialize<'de> for Tags<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagsVisitor;
        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = Tags<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of tags")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tags<'de>, A::Error> {
                let mut tags = Vec::with_capacity(seq.size_hint().unwrap_or(8));
                while let Some(tag) = seq.next_element::<OnlyText>()? {
                    tags.extend(tag.0);
                }
                Ok(Tags(Some(tags)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Tags<'de>, A::Error> {
                drain_map(map)?;
                Ok(Tags(None))
            }
            not_containers!(Tags(None));
        }
        deserializer.deserialize_any(TagsVisitor)
    }
}

/// `meta`: its members the row reads when it is an object.
struct MaybeMeta<'a>(Option<Meta<'a>>);

impl<'de> Deserialize<'de> for MaybeMeta<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MetaVisitor;
        impl<'de> Visitor<'de> for MetaVisitor {
            type Value = MaybeMeta<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a meta object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeMeta<'de>, A::Error> {
                // `meta.span.kind`, else the dotted `meta["span.kind"]`; then read as text
                // only when a string.
                let mut nested: Option<Option<Cow<'de, str>>> = None;
                let mut dotted: Option<Option<Cow<'de, str>>> = None;
                let mut meta = Meta::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key.as_str() {
                        "span" => nested = map.next_value::<SpanKind>()?.0,
                        "span.kind" => dotted = Some(map.next_value::<OnlyText>()?.0),
                        "model_name" => meta.model_name = map.next_value::<Text>()?.0,
                        "model_provider" => meta.model_provider = map.next_value::<Text>()?.0,
                        "input" => meta.input = Some(map.next_value()?),
                        "output" => meta.output = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                meta.kind = nested.or(dotted).flatten();
                Ok(MaybeMeta(Some(meta)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<MaybeMeta<'de>, A::Error> {
                drain_seq(seq)?;
                Ok(MaybeMeta(None))
            }
            not_containers!(MaybeMeta(None));
        }
        deserializer.deserialize_any(MetaVisitor)
    }
}

/// `meta.span`: whether it is an object with `kind`, and that kind when a string.
struct SpanKind<'a>(Option<Option<Cow<'a, str>>>);

impl<'de> Deserialize<'de> for SpanKind<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpanVisitor;
        impl<'de> Visitor<'de> for SpanVisitor {
            type Value = SpanKind<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a span object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpanKind<'de>, A::Error> {
                let mut kind = None;
                while let Some(key) = map.next_key::<Key>()? {
                    if key.as_str() == "kind" {
                        kind = Some(map.next_value::<OnlyText>()?.0);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(SpanKind(kind))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<SpanKind<'de>, A::Error> {
                drain_seq(seq)?;
                Ok(SpanKind(None))
            }
            not_containers!(SpanKind(None));
        }
        deserializer.deserialize_any(SpanVisitor)
    }
}

/// The members of an object `meta.input` or `meta.output` that decide how it reads.
struct IoObject<'a> {
    messages: Option<&'a RawValue>,
    value: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for IoObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IoVisitor;
        impl<'de> Visitor<'de> for IoVisitor {
            type Value = IoObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IoObject<'de>, A::Error> {
                let mut io = IoObject { messages: None, value: None };
                while let Some(key) = map.next_key::<Key>()? {
                    match key.as_str() {
                        "messages" => io.messages = Some(map.next_value()?),
                        "value" => io.value = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(io)
            }
        }
        deserializer.deserialize_map(IoVisitor)
    }
}

/// A message object's `content`, as text.
struct Content<'a>(Option<Text<'a>>);

impl<'de> Deserialize<'de> for Content<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContentVisitor;
        impl<'de> Visitor<'de> for ContentVisitor {
            type Value = Content<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a message object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Content<'de>, A::Error> {
                let mut content = None;
                while let Some(key) = map.next_key::<Key>()? {
                    if key.as_str() == "content" {
                        content = Some(map.next_value::<Text>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Content(content))
            }
        }
        deserializer.deserialize_map(ContentVisitor)
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;

    /// The row's fields as reading the span as a parsed object gives them.
    fn oracle(body: &str) -> SpanFields<'static> {
        let event: Map<String, Value> = serde_json::from_str(body).unwrap_or_default();
        let text = |value: Option<&Value>| -> Cow<'static, str> {
            Cow::Owned(match value {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            })
        };
        let meta = event.get("meta").and_then(Value::as_object);
        let mut tags = String::from("|");
        for tag in event.get("tags").and_then(Value::as_array).into_iter().flatten() {
            if let Some(tag) = tag.as_str() {
                tags.push_str(tag);
                tags.push('|');
            }
        }
        let owned = |s: Option<&str>| Cow::Owned(s.unwrap_or_default().to_owned());
        SpanFields {
            trace_id: text(event.get("trace_id")),
            span_id: text(event.get("span_id")),
            parent_id: text(event.get("parent_id")),
            start_ns: event.get("start_ns").and_then(Value::as_i64).unwrap_or(0),
            duration_ns: event.get("duration").and_then(Value::as_f64).unwrap_or(0.0) as i64,
            kind: owned(llmobs_core::spans::kind_of(meta)),
            name: text(event.get("name")),
            ml_app: owned(llmobs_core::spans::ml_app_of(&event)),
            status: text(event.get("status")),
            session_id: text(event.get("session_id")),
            model_name: text(meta.and_then(|m| m.get("model_name"))),
            model_provider: text(meta.and_then(|m| m.get("model_provider"))),
            tags,
            content: llmobs_core::spans::searchable_text(&event),
        }
    }

    fn check(body: &str) {
        assert_eq!(SpanFields::of(body), oracle(body), "{body}");
    }

    #[test]
    fn a_typical_span_reads_as_its_parsed_object_and_borrows_its_text() {
        let body = json!({"trace_id": "t1", "span_id": "s1", "parent_id": "undefined",
            "name": "task", "start_ns": 1_700_000_000_000_000_000_i64, "duration": 1234.0,
            "status": "ok", "session_id": "sess", "ml_app": "fallback",
            "meta": {"span": {"kind": "experiment"}, "model_name": "gpt", "model_provider": "oa",
                     "input": {"value": "{\"question\": \"q1\"}"}, "output": {"value": "true"},
                     "metadata": {"a": [1, 2, {"b": null}]}},
            "metrics": {"tokens": 3}, "tags": ["ml_app:shop", "env:prod", 5, "ml_app:other"]})
        .to_string();
        check(&body);
        let fields = SpanFields::of(&body);
        assert!(matches!(fields.trace_id, Cow::Borrowed("t1")));
        assert_eq!(fields.ml_app, "shop");
        assert_eq!(fields.content, "{\"question\": \"q1\"}\ntrue\n");
    }

    #[test]
    fn odd_spans_read_as_their_parsed_object() {
        for body in [
            // Other types as text, escapes, a repeated key (the last counts).
            r#"{"trace_id": 12, "span_id": "s\u0031", "span_id": "s2", "name": {"b": 1, "a": [true, null]},
                "status": null, "start_ns": 1.5, "duration": 18446744073709551615, "session_id": false}"#,
            r#"{"start_ns": 18446744073709551615, "duration": -3, "parent_id": 0.25}"#,
            r#"{"trace_\u0069d": "escaped key", "tags": "ml_app:x", "ml_app": 3}"#,
            r#"{"tags": ["ml_app:a"], "tags": ["env:x", "ml_app:b:c"], "ml_app": "m"}"#,
            r#"{"tags": [], "ml_app": "m"}"#,
            // meta: the nested kind, the dotted one, neither, and not an object.
            r#"{"meta": {"span.kind": "llm", "span": {"kind": "tool"}}}"#,
            r#"{"meta": {"span.kind": "llm", "span": {"other": 1}}}"#,
            r#"{"meta": {"span.kind": "llm", "span": {"kind": 7}}}"#,
            r#"{"meta": {"span.kind": "llm", "span": ["kind"]}}"#,
            r#"{"meta": {"span": {"kind": "a"}, "span": {"kind": "b"}, "model_name": [1]}}"#,
            r#"{"meta": [1, 2], "tags": {"a": 1}}"#,
            r#"{"meta": "text"}"#,
            // input and output: text, values of other types, messages, odd messages.
            r#"{"meta": {"input": "plain", "output": 42}}"#,
            r#"{"meta": {"input": {"q": 1, "a": [2]}, "output": null}}"#,
            r#"{"meta": {"input": {"value": null, "messages": [{"content": "hi"}, {"role": "x"},
                {"content": null}, {"content": 5}, "bare", null, 3, [1]]}}}"#,
            r#"{"meta": {"input": {"messages": "not a list"}, "output": {"messages": [], "x": 1}}}"#,
            r#"{"meta": {"input": {"messages": "not a list", "value": "v"}}}"#,
            r#"{"meta": {"output": {"value": {"k": "v"}, "value": "second"}}}"#,
            r#"{"meta": {"input": {"messages": [{"content": "a", "content": "b"}]}}}"#,
            r#"{"meta": {"input": {"val\u0075e": "escaped"}}}"#,
            // Not an object.
            "[1, 2]",
            "\"span\"",
            "{}",
        ] {
            check(body);
        }
    }
}
