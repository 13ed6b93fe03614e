//! Fuzzing the request path by properties: generated bodies, path segments and labels sent
//! through the router to the routes that parse them. Whatever arrives, the answer is never
//! a 5xx, an error names what is wrong in a JSON `detail`, and a prompt stored under any
//! id is found again at its percent-encoded path.
//!
//! Each property runs `LLMOBS_FUZZ_CASES` cases (default 64 here, what CI runs).

use axum::http::StatusCode;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

use crate::util::{App, Keys, PROMPTS, V1, V2, path};

fn config() -> Config {
    let cases = std::env::var("LLMOBS_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    Config { cases, failure_persistence: None, ..Config::default() }
}

fn tricky() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => "[{}]{1,2}",
            3 => "[a-z_ .:-]{1,4}",
            1 => "%[0-9A-Fa-fg]{0,2}",
            1 => "[/?#&=+]",
            1 => "[\u{0}-\u{1f}\u{7f}]",
            1 => "\\PC{1,3}",
        ],
        0..16,
    )
    .prop_map(|parts| parts.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        tricky().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("template".to_owned()),
                        Just("labels".to_owned()),
                        Just("data".to_owned()),
                        Just("attributes".to_owned()),
                        Just("insert_records".to_owned()),
                        Just("input".to_owned()),
                        Just("tags".to_owned()),
                        Just("role".to_owned()),
                        Just("content".to_owned()),
                        "[a-z_]{1,6}",
                    ],
                    inner,
                ),
                0..5,
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A body: a generated JSON value, one of a few near-valid shapes with generated parts, or
/// raw bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (tricky(), json_value(), json_value()).prop_map(|(id, template, labels)| {
            json!({"prompt_id": id, "template": template, "labels": labels}).to_string().into_bytes()
        }),
        (json_value(), json_value()).prop_map(|(input, tags)| {
            json!({"data": {"type": "datasets", "attributes": {"insert_records": [{"input": input, "tags": tags}]}}})
                .to_string()
                .into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..48),
        Just(b"[".repeat(4096)),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Checks an answer: no 5xx; a 4xx carries a JSON `detail`.
fn judge(what: &str, status: StatusCode, answer: &Value) -> Result<(), TestCaseError> {
    prop_assert!(!status.is_server_error(), "{}: {} {}", what, status, answer);
    if status.is_client_error() {
        prop_assert!(
            answer["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}: {} without a detail: {}",
            what,
            status,
            answer
        );
    }
    Ok(())
}

#[test]
fn any_body_on_the_write_routes_gets_a_clean_answer() {
    let rt = runtime();
    let (app, routes) = rt.block_on(async {
        let app = App::new().await;
        let project = app
            .ok(
                "POST",
                &format!("{V1}/projects"),
                Some(json!({"data": {"type": "projects", "attributes": {"name": "fuzz"}}})),
            )
            .await["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let dataset = app
            .ok(
                "POST",
                &format!("{V1}/{project}/datasets"),
                Some(json!({"data": {"type": "datasets", "attributes": {"name": "fuzz"}}})),
            )
            .await["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.create("fuzz-prompt").await;
        let routes = vec![
            ("POST", PROMPTS.to_owned()),
            ("PATCH", format!("{PROMPTS}/fuzz-prompt")),
            ("POST", format!("{PROMPTS}/fuzz-prompt/versions")),
            ("POST", format!("{PROMPTS}/fuzz-prompt/resolve")),
            ("POST", format!("{V2}/{project}/datasets/{dataset}/batch_update")),
            ("POST", format!("{V2}/{project}/datasets/{dataset}/records")),
            ("POST", format!("{V1}/{project}/datasets")),
            ("POST", format!("{V1}/experiments")),
            ("POST", "/api/v2/llmobs".to_owned()),
            ("POST", format!("{V2}/spans/events/search")),
        ];
        (app, routes)
    });
    let strategy = (0..routes.len(), body(), any::<bool>());
    TestRunner::new(config())
        .run(&strategy, |(route, body, json_type)| {
            let (method, path) = &routes[route];
            let headers: &[(&str, &str)] =
                if json_type { &[("Content-Type", "application/json")] } else { &[] };
            let (status, answer) =
                rt.block_on(app.send(method, path, Keys::Both, headers, Some(body)));
            judge(&format!("{method} {path}"), status, &answer)
        })
        .unwrap();
}

#[test]
fn a_prompt_under_any_id_is_found_at_its_encoded_path_and_any_label_query_is_clean() {
    let rt = runtime();
    let app = rt.block_on(App::new());
    TestRunner::new(config())
        .run(&(tricky(), tricky()), |(id, label)| {
            let body = json!({"prompt_id": id, "template": "hi {{x}}"});
            let (status, answer) = rt.block_on(app.call("POST", PROMPTS, Keys::Both, Some(body)));
            judge("create", status, &answer)?;
            let encoded_label = llmobs_core::encoding::query_value(&label);
            let (read, found) = rt.block_on(app.call("GET", &path(&id), Keys::Api, None));
            judge("read", read, &found)?;
            if status.is_success() {
                prop_assert_eq!(read, StatusCode::OK, "{:?} stored but not found: {}", id, found);
                prop_assert_eq!(&found["prompt_id"], &json!(id));
            }
            let labelled = format!("{}?label={encoded_label}", path(&id));
            let (read, found) = rt.block_on(app.call("GET", &labelled, Keys::Api, None));
            judge("read by label", read, &found)?;
            // The raw label, not encoded, in the query: still never a 5xx.
            let raw = format!("{}?label={label}", path(&id));
            if raw.parse::<axum::http::Uri>().is_ok() {
                let (read, found) = rt.block_on(app.call("GET", &raw, Keys::Api, None));
                judge("read by raw label", read, &found)?;
            }
            Ok(())
        })
        .unwrap();
}
