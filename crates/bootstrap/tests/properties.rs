//! Property tests: for any JSON dataset the generated file compiles, and the records it
//! embeds, read back by Python with `ast.literal_eval`, equal what an independent Python
//! implementation of the spec's rules (shape, tags, PII) makes of the input.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;

use llmobs_bootstrap::{Dataset, Format, Options, py_float, py_lit, py_str};

use crate::util::{Dir, Oracle};

/// A JSON value as the test writes it: numbers keep their token text.
#[derive(Debug, Clone)]
enum Gen {
    Null,
    Bool(bool),
    Number(String),
    Str(String),
    Array(Vec<Gen>),
    Object(Vec<(String, Gen)>),
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ._:@+-]{0,8}",
        2 => any::<char>().prop_map(String::from),
        1 => select(vec!["\"", "\\", "'''", "\"\"\"", "\\N{BULLET}", "\\x41", "\\u0041", "{x}"])
            .prop_map(str::to_owned),
        1 => (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        1 => select(vec![
            '\u{7f}', '\u{85}', '\u{a0}', '\u{2028}', '\u{2029}', '\u{202e}', '\u{2066}',
            '\u{200b}', '\u{feff}', '\u{3000}', '\u{1f680}', 'é', '日', '\u{301}',
        ])
        .prop_map(String::from),
        1 => select(vec![
            "jane.doe+qa@sub.example.co.uk",
            "(555) 123-4567",
            "+44 20 7946 0958",
            "123-45-6789",
            "sk-abcdefghijklmnopqrstuvwx12",
            "0123456789abcdef0123456789ABCDEF",
            "AKIAIOSFODNN7EXAMPLE",
            "<REDACTED:email>",
            "2024-01-15",
            "\"); import os; os.system(\"touch pwned.txt\") #",
            "requests.post(url)",
            "\"record_id\"",
            "DD_API_KEY = 'x'",
        ])
        .prop_map(str::to_owned),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..5).prop_map(|parts| parts.concat())
}

fn key() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..2).prop_map(|parts| parts.concat())
}

fn number() -> impl Strategy<Value = String> {
    let finite = any::<f64>().prop_filter("finite", |f| f.is_finite());
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        "-?[1-9][0-9]{18,60}",
        finite.clone().prop_map(|f| format!("{f:e}")),
        finite.prop_map(|f| format!("{f:?}")),
        select(vec!["-0", "0", "1.0", "-0.0", "1e-400", "-1e-400", "1E+2", "0.1e1", "1e-7"])
            .prop_map(str::to_owned),
    ]
}

fn object_of(values: impl Strategy<Value = Gen>, max: usize) -> impl Strategy<Value = Gen> {
    prop::collection::vec((key(), values), 0..max).prop_map(|pairs| {
        let mut seen = std::collections::HashSet::new();
        Gen::Object(pairs.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect())
    })
}

fn value() -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        Just(Gen::Null),
        any::<bool>().prop_map(Gen::Bool),
        number().prop_map(Gen::Number),
        text().prop_map(Gen::Str),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Gen::Array),
            object_of(inner, 4),
        ]
    })
}

fn tag_element() -> impl Strategy<Value = Gen> {
    prop_oneof![
        4 => text().prop_map(Gen::Str),
        1 => number().prop_map(Gen::Number),
        1 => any::<bool>().prop_map(Gen::Bool),
        1 => Just(Gen::Null),
    ]
}

fn tags() -> impl Strategy<Value = Gen> {
    prop_oneof![
        prop::collection::vec(tag_element(), 0..5).prop_map(Gen::Array),
        text().prop_map(Gen::Str),
        object_of(tag_element(), 3),
        Just(Gen::Null),
    ]
}

/// One record's members, in a shuffled order. `id` is a flag: the dataset gives ids
/// that stay distinct.
fn record() -> impl Strategy<Value = (Vec<(String, Gen)>, Option<String>)> {
    let input = value().prop_filter("input_data is never null", |v| !matches!(v, Gen::Null));
    let metadata = prop_oneof![object_of(value(), 4), Just(Gen::Null)];
    (
        input,
        proptest::option::of(value()),
        proptest::option::of(metadata),
        proptest::option::of(tags()),
        proptest::option::of(text()),
        any::<bool>(),
    )
        .prop_map(|(input, expected, metadata, tags, id, sdk)| {
            let mut fields = vec![("input_data".to_owned(), input)];
            fields.extend(expected.map(|v| ("expected_output".to_owned(), v)));
            fields.extend(metadata.map(|v| ("metadata".to_owned(), v)));
            fields.extend(tags.map(|v| ("tags".to_owned(), v)));
            if sdk {
                fields.push(("record_id".to_owned(), Gen::Str("r".into())));
            }
            (fields, id)
        })
        .prop_flat_map(|(fields, id)| (Just(fields).prop_shuffle(), Just(id)))
}

fn dataset() -> impl Strategy<Value = Vec<Gen>> {
    prop::collection::vec(record(), 1..4).prop_map(|records| {
        records
            .into_iter()
            .enumerate()
            .map(|(i, (mut fields, id))| {
                if let Some(id) = id {
                    fields.push(("id".to_owned(), Gen::Str(format!("r{i}-{id}"))));
                }
                Gen::Object(fields)
            })
            .collect()
    })
}

/// Writes JSON text. With `escape_all`, every non-ASCII character becomes a `\u`
/// escape (astral ones as surrogate pairs); otherwise serde_json's escaping is used.
fn write_json(value: &Gen, escape_all: bool, out: &mut String) {
    let string = |s: &str, out: &mut String| {
        if escape_all {
            out.push('"');
            for unit in s.encode_utf16() {
                match char::from_u32(unit.into()) {
                    Some(c) if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' => {
                        out.push(c)
                    }
                    _ => out.push_str(&format!("\\u{unit:04X}")),
                }
            }
            out.push('"');
        } else {
            out.push_str(&serde_json::to_string(s).unwrap());
        }
    };
    match value {
        Gen::Null => out.push_str("null"),
        Gen::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Gen::Number(token) => out.push_str(token),
        Gen::Str(s) => string(s, out),
        Gen::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(item, escape_all, out);
            }
            out.push(']');
        }
        Gen::Object(pairs) => {
            out.push_str("{\n ");
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\t");
                }
                string(k, out);
                out.push_str(" : ");
                write_json(v, escape_all, out);
            }
            out.push_str("\r\n}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_json_dataset_compiles_and_round_trips(
        records in dataset(),
        ipynb in any::<bool>(),
        escape_all in any::<bool>(),
    ) {
        let mut text = String::new();
        write_json(&Gen::Array(records), escape_all, &mut text);
        let format = if ipynb { Format::Ipynb } else { Format::Py };
        let dir = Dir::named("prop");
        dir.write("data.json", &text);
        let options = Options {
            format,
            dataset: Some("data.json".into()),
            project_name: Some("prop".into()),
            ..Options::default()
        };
        match dir.render(&options) {
            Ok((plan, rendered)) => {
                let answer = Oracle::ask(&json!({
                    "op": "check", "dataset": text, "file": rendered.text, "format": format.as_str(),
                }));
                prop_assert_eq!(&answer["ok"], &json!(true), "{}", answer);
                let Dataset::Json { records, .. } = &plan.dataset else { unreachable!() };
                let pii: Vec<serde_json::Value> = records
                    .pii
                    .iter()
                    .map(|(i, c)| json!([i, [c.api_key, c.email, c.ssn, c.phone]]))
                    .collect();
                prop_assert_eq!(&answer["report"]["pii"], &json!(pii));
                prop_assert_eq!(&answer["report"]["tags_rewritten"], &json!(records.tags_rewritten));
                prop_assert_eq!(&answer["report"]["sdk_keys_removed"], &json!(records.sdk_keys_removed));
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(
                    message.contains("two keys equal") || message.contains("the same id"),
                    "unexpected refusal: {}", message
                );
                let answer = Oracle::ask(&json!({
                    "op": "check", "dataset": text, "file": null, "format": format.as_str(),
                }));
                prop_assert_eq!(&answer["ok"], &json!(true), "{}", answer);
            }
        }
    }

    #[test]
    fn literals_evaluate_to_their_values(
        strings in prop::collection::vec(any::<String>(), 8),
        floats in prop::collection::vec(any::<f64>().prop_filter("finite", |f| f.is_finite()), 8),
        ints in prop::collection::vec("-?(0|[1-9][0-9]{0,80})", 8),
    ) {
        let mut items = Vec::new();
        for s in &strings {
            items.push(json!([py_str(s), serde_json::to_string(s).unwrap(), false]));
        }
        for f in &floats {
            // The float text must be exactly Python's repr of the same double.
            items.push(json!([py_float(*f), format!("{f:e}"), true]));
        }
        for token in &ints {
            let value = llmobs_bootstrap::Json::parse(token).unwrap();
            items.push(json!([py_lit(&value), token, false]));
        }
        let answer = Oracle::ask(&json!({"op": "literal", "items": items}));
        prop_assert_eq!(&answer["ok"], &json!(true), "{}", answer);
    }
}

/// Cases of the nested-literal property: `LLMOBS_FUZZ_CASES` (default 64, what CI runs).
fn fuzz_cases() -> u32 {
    std::env::var("LLMOBS_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Any JSON value, nested, with any text in keys and strings and any number token:
    /// the emitted Python literal, read back by `ast.literal_eval`, is the value Python's
    /// `json.loads` makes of the same JSON text, type for type.
    #[test]
    fn nested_literals_evaluate_to_their_values(values in prop::collection::vec(value(), 1..8), escape_all in any::<bool>()) {
        let mut items = Vec::new();
        for value in &values {
            let mut text = String::new();
            write_json(value, escape_all, &mut text);
            let parsed = llmobs_bootstrap::Json::parse(&text).unwrap();
            items.push(json!([py_lit(&parsed), text, false]));
        }
        let answer = Oracle::ask(&json!({"op": "literal", "items": items}));
        prop_assert_eq!(&answer["ok"], &json!(true), "{}", answer);
    }
}
