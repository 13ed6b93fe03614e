//! Fuzzing by properties: the template renderer, path-segment and label decoding, and the
//! parsing of request bodies into wire types, on generated input, must never panic and
//! must keep their stated rules.
//!
//! Each property runs `LLMOBS_FUZZ_CASES` cases (default 256, what CI runs); set it higher
//! for a longer search.

use llmobs_core::encoding::{decode_path_segment, path_segment};
use llmobs_core::prompts::{
    LabelError, PromptIdError, Template, control_character, normalize_labels, validate_prompt_id,
};
use llmobs_core::render::{Vars, render, render_text, try_render, try_render_text, variables};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value, json};

fn config() -> Config {
    let cases = std::env::var("LLMOBS_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Text rich in what the renderer and the decoders look at: braces, percent signs,
/// control characters, multi-byte characters.
fn tricky() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => "[{}]{1,3}",
            2 => "[a-z_ .-]{1,4}",
            1 => "%[0-9A-Fa-fg]{0,2}",
            1 => "[\u{0}-\u{1f}\u{7f}-\u{9f}]",
            1 => "\\PC{1,3}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        tricky().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A request body as a client might send one: a chat or text template shape, with
/// generated values where strings and objects go.
fn template_json() -> impl Strategy<Value = Value> {
    let message = (prop_oneof![Just("user".to_owned()), tricky()], json_value(), any::<bool>())
        .prop_map(|(role, content, text)| {
            if text {
                json!({"role": role, "content": content})
            } else {
                json!({"role": role, "content": content.to_string()})
            }
        });
    prop_oneof![
        tricky().prop_map(Value::String),
        prop::collection::vec(message, 0..5).prop_map(Value::Array),
        json_value(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn rendering_any_text_never_panics_and_strict_agrees_with_lenient(
        template in tricky(),
        vars in prop::collection::vec(("[a-z_ .-]{1,4}", json_value()), 0..6),
    ) {
        let vars: Vars = vars.into_iter().collect();
        let lenient = render_text(&template, &vars);
        if let Ok(strict) = try_render_text(&template, &vars) {
            prop_assert_eq!(strict, lenient);
        }
        // Supplying every variable the template names makes the strict render succeed.
        let names = variables(&Template::Text(template.clone()));
        let all: Vars = names.iter().map(|n| (n.clone(), "X")).collect();
        prop_assert!(try_render_text(&template, &all).is_ok(), "{:?} with {:?}", template, names);
    }

    #[test]
    fn parsed_templates_render_without_panicking(body in template_json(), vars in prop::collection::vec(("[a-z]{1,3}", json_value()), 0..4)) {
        let vars: Vars = vars.into_iter().collect();
        if let Ok(template) = serde_json::from_value::<Template>(body) {
            let lenient = render(&template, &vars);
            prop_assert!(lenient.is_ok() || try_render(&template, &vars).is_err());
            // What parsed serialises and parses back to the same template.
            let again: Template = serde_json::from_value(serde_json::to_value(&template).unwrap()).unwrap();
            prop_assert_eq!(again, template);
        }
    }

    #[test]
    fn decoding_any_path_segment_never_panics_and_re_encodes(segment in tricky()) {
        if let Some(decoded) = decode_path_segment(&segment) {
            let encoded = path_segment(&decoded);
            prop_assert!(!encoded.contains('/'));
            prop_assert_eq!(decode_path_segment(&encoded), Some(decoded));
        }
    }

    #[test]
    fn ids_and_labels_are_refused_exactly_when_they_hold_a_control_character(text in tricky()) {
        let control = control_character(&text);
        match validate_prompt_id(&text) {
            Err(PromptIdError::ControlCharacter(found)) => prop_assert_eq!(Some(found), control.clone()),
            other => prop_assert!(control.is_none(), "{:?} accepted as {:?}", text, other),
        }
        match normalize_labels(std::slice::from_ref(&text), false) {
            Err(LabelError::ControlCharacter(found)) => prop_assert_eq!(Some(found), control),
            Err(LabelError::Empty) => prop_assert!(text.is_empty()),
            Err(other) => prop_assert!(false, "{:?}: {}", text, other),
            Ok(labels) => {
                prop_assert!(control.is_none());
                prop_assert_eq!(labels, vec![text]);
            }
        }
    }

    #[test]
    fn request_bodies_of_any_shape_parse_or_fail_cleanly(body in json_value(), raw in prop::collection::vec(any::<u8>(), 0..64)) {
        use llmobs_core::datasets::BatchUpdate;
        use llmobs_core::jsonapi::Request;
        use llmobs_core::public::{CreateRecords, UpdateRecords};
        let text = body.to_string();
        let _ = serde_json::from_str::<Request<BatchUpdate>>(&text);
        let _ = serde_json::from_str::<Request<CreateRecords>>(&text);
        let _ = serde_json::from_str::<Request<UpdateRecords>>(&text);
        let _ = serde_json::from_slice::<Request<BatchUpdate>>(&raw);
        let wrapped = json!({"data": {"type": "datasets", "attributes": {"insert_records": [{"input": body}]}}});
        let parsed = serde_json::from_value::<Request<BatchUpdate>>(wrapped);
        prop_assert!(parsed.is_ok(), "any JSON value is a record input: {:?}", parsed.err());
    }
}
