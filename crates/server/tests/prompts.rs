//! The prompt registry's rules, endpoint by endpoint.

use std::sync::Arc;

use axum::http::StatusCode;
use llmobs_server::Config;
use serde_json::{Value, json};

use crate::util::{App, Keys, PROMPTS, detail, path};

#[tokio::test]
async fn create_returns_the_prompt_and_a_duplicate_conflicts() {
    let app = App::new().await;
    let created = app
        .ok(
            "POST",
            PROMPTS,
            Some(json!({
                "prompt_id": "p1", "title": "T", "description": "D",
                "template": [{"role": "system", "content": "You are a {{persona}}."}],
            })),
        )
        .await;
    assert_eq!(created["prompt_id"], "p1");
    assert_eq!(created["num_versions"], 1);
    assert_eq!(created["in_registry"], true);
    assert_eq!(created["source"], "registry");
    assert_eq!(created["created_from"], "sdk-registry");
    assert_eq!(created["title"], "T");
    assert!(created["ID"].as_str().unwrap().len() == 36, "{created}");
    assert!(created["author"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(created.get("labels").is_none());
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let (status, body) = app
        .call("POST", PROMPTS, Keys::Both, Some(json!({"prompt_id": "p1", "template": "x"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(detail(&body), "prompt template already exists");
}

#[tokio::test]
async fn versions_are_numbered_and_listed_newest_first() {
    let app = App::new().await;
    let prompt = app.create("p1").await;
    let v2 = app
        .ok(
            "POST",
            &format!("{}/versions", path("p1")),
            Some(json!({
                "template": [{"role": "user", "content": "Please answer: {{question}}"}],
                "user_version": "v2", "description": "second",
            })),
        )
        .await;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["prompt_uuid"], prompt["ID"]);
    assert_eq!(v2["user_version"], "v2");
    assert_eq!(v2["template"][0]["content"], "Please answer: {{question}}");
    assert!(v2.get("labels").is_none());

    let (_, list) = app.call("GET", &format!("{}/versions", path("p1")), Keys::Api, None).await;
    let numbers: Vec<_> = list.as_array().unwrap().iter().map(|v| v["version"].clone()).collect();
    assert_eq!(numbers, vec![json!(2), json!(1)]);

    let (_, latest) = app.call("GET", &path("p1"), Keys::Api, None).await;
    assert_eq!(latest["version"], "v2");
    assert_eq!(latest["prompt_version_uuid"], v2["ID"]);
    assert_eq!(latest["chat_template"][0]["content"], "Please answer: {{question}}");
    assert!(latest.get("template").is_none());

    let (_, first) = app.call("GET", &format!("{}/versions/1", path("p1")), Keys::Api, None).await;
    assert_eq!(first["version"], 1);
    assert_eq!(first["template"][0]["content"], "v1 {{x}}");
}

#[tokio::test]
async fn version_path_segments_are_checked() {
    let app = App::new().await;
    app.create("p1").await;
    for (segment, status) in [
        ("abc", StatusCode::BAD_REQUEST),
        ("100000000000000000000", StatusCode::BAD_REQUEST),
        ("999", StatusCode::NOT_FOUND),
        ("0", StatusCode::NOT_FOUND),
        ("-1", StatusCode::NOT_FOUND),
    ] {
        let (got, body) =
            app.call("GET", &format!("{}/versions/{segment}", path("p1")), Keys::Api, None).await;
        assert_eq!(got, status, "/versions/{segment}: {body}");
        assert!(body["detail"].is_string());
    }
}

#[tokio::test]
async fn text_templates_config_and_placeholders_are_kept_verbatim() {
    let app = App::new().await;
    app.ok("POST", PROMPTS, Some(json!({"prompt_id": "t", "template": "Hello {name}"}))).await;
    let (_, got) = app.call("GET", &path("t"), Keys::Api, None).await;
    assert_eq!(got["template"], "Hello {name}");
    assert!(got.get("chat_template").is_none());

    let template = json!([
        {"role": "system", "content": "s"},
        {"type": "placeholder", "name": "history", "role": "user", "extra": [1, {"a": null}]}
    ]);
    let config = json!({"model": "m", "temperature": 0.2, "nested": {"k": [1, "2"]}});
    app.ok(
        "POST",
        PROMPTS,
        Some(json!({"prompt_id": "c", "template": template, "config": config})),
    )
    .await;
    let (_, got) = app.call("GET", &path("c"), Keys::Api, None).await;
    assert_eq!(got["chat_template"], template);
    assert_eq!(got["config"], config);
}

#[tokio::test]
async fn a_3_mib_template_round_trips() {
    let app = App::new().await;
    let big = "x".repeat(3 * 1024 * 1024);
    app.ok(
        "POST",
        PROMPTS,
        Some(json!({"prompt_id": "big", "template": [{"role": "user", "content": big}]})),
    )
    .await;
    let (_, got) = app.call("GET", &path("big"), Keys::Api, None).await;
    assert_eq!(got["chat_template"][0]["content"].as_str().unwrap().len(), big.len());
}

#[tokio::test]
async fn bad_bodies_get_400_with_a_detail_that_says_what_is_wrong() {
    let app = App::new().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"prompt_id": "p", "template": ["h", "i"]}), "invalid prompt template"),
        (json!({"prompt_id": "p", "template": []}), "invalid prompt template"),
        (json!({"prompt_id": "p", "template": "   "}), "invalid prompt template"),
        (
            json!({"prompt_id": "p", "template": [{"role": "", "content": "x"}]}),
            "invalid prompt template",
        ),
        (json!({"prompt_id": "p"}), "missing field `template`"),
        (json!({"template": "x"}), "missing field `prompt_id`"),
        (json!({"prompt_id": "", "template": "x"}), "prompt_id must not be empty"),
        (json!({"prompt_id": "..", "template": "x"}), "prompt_id must not be '.' or '..'"),
        (json!({"prompt_id": "p", "template": "x", "labels": "production"}), "labels"),
        (json!({"prompt_id": "p", "template": "x", "config": [1]}), "config"),
        (json!({"prompt_id": "p", "template": "x", "title": 5}), "title"),
        (json!({"prompt_id": "p", "template": "x", "labels": [""]}), "labels must be non-empty"),
    ];
    for (body, expected) in cases {
        let (status, answer) = app.call("POST", PROMPTS, Keys::Both, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(detail(&answer).contains(expected), "{body}: {answer}");
    }
    let (status, answer) = app.raw("POST", PROMPTS, Keys::Both, Some("{not json".into())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&answer).starts_with("malformed JSON body"), "{answer}");
    // Nothing was stored by any of them.
    let (_, list) = app.call("GET", PROMPTS, Keys::Api, None).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn empty_updates_are_refused_with_the_spec_texts() {
    let app = App::new().await;
    app.create("p1").await;
    let (status, body) = app.call("PATCH", &path("p1"), Keys::Both, Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(detail(&body), "at least one of title or description must be provided");
    let (status, body) =
        app.call("PATCH", &format!("{}/versions/1", path("p1")), Keys::Both, Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).starts_with("at least one of labels"), "{body}");
}

#[tokio::test]
async fn updates_change_only_what_is_sent() {
    let app = App::new().await;
    app.create("p1").await;
    let updated =
        app.ok("PATCH", &path("p1"), Some(json!({"title": "Updated", "description": "U"}))).await;
    assert_eq!(
        (updated["title"].clone(), updated["description"].clone()),
        (json!("Updated"), json!("U"))
    );
    assert_eq!(updated["num_versions"], 1);
    let cleared = app.ok("PATCH", &path("p1"), Some(json!({"description": ""}))).await;
    assert!(cleared.get("description").is_none());
    assert_eq!(cleared["title"], "Updated");

    let v = app
        .ok("PATCH", &format!("{}/versions/1", path("p1")), Some(json!({"description": "d1"})))
        .await;
    assert_eq!(v["description"], "d1");
    assert_eq!(v["template"][0]["content"], "v1 {{x}}");

    for (method, target, body, expected) in [
        ("PATCH", path("nope"), json!({"title": "x"}), "prompt template not found"),
        (
            "PATCH",
            format!("{}/versions/99", path("p1")),
            json!({"description": "x"}),
            "prompt template version not found",
        ),
        (
            "POST",
            format!("{}/versions", path("nope")),
            json!({"template": "x"}),
            "prompt template not found",
        ),
        ("DELETE", path("never"), Value::Null, "prompt template not found"),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = app.call(method, &target, Keys::Both, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {target}");
        assert_eq!(detail(&answer), expected);
    }
    let (status, answer) = app.call("GET", &path("missing"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(detail(&answer), "prompt with id 'missing' not found");
}

#[tokio::test]
async fn labels_move_between_versions_and_select_on_read() {
    let app = App::new().await;
    app.ok(
        "POST",
        PROMPTS,
        Some(json!({"prompt_id": "p", "template": "one", "labels": ["production", "production"]})),
    )
    .await;
    app.ok(
        "POST",
        &format!("{}/versions", path("p")),
        Some(json!({"template": "two", "labels": ["production"]})),
    )
    .await;
    let (_, versions) = app.call("GET", &format!("{}/versions", path("p")), Keys::Api, None).await;
    assert_eq!(versions[0]["labels"], json!(["production"]));
    assert!(versions[1].get("labels").is_none(), "{versions}");

    app.ok(
        "PATCH",
        &format!("{}/versions/1", path("p")),
        Some(json!({"labels": ["production", "with space"]})),
    )
    .await;
    let (_, by_label) =
        app.call("GET", &format!("{}?label=production", path("p")), Keys::Api, None).await;
    assert_eq!(by_label["template"], "one");
    let (_, by_label) =
        app.call("GET", &format!("{}?label=with+space", path("p")), Keys::Api, None).await;
    assert_eq!(by_label["template"], "one");
    let (_, latest) = app.call("GET", &format!("{}?label=", path("p")), Keys::Api, None).await;
    assert_eq!(latest["template"], "two");
    let (status, missing) =
        app.call("GET", &format!("{}?label=development", path("p")), Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(detail(&missing), "prompt 'p' exists but label 'development' was not found");

    let cleared =
        app.ok("PATCH", &format!("{}/versions/1", path("p")), Some(json!({"labels": []}))).await;
    assert!(cleared.get("labels").is_none());
    // A prompt with no labels at all answers its latest version for any label.
    let (status, latest) =
        app.call("GET", &format!("{}?label=production", path("p")), Keys::Api, None).await;
    assert_eq!((status, latest["template"].clone()), (StatusCode::OK, json!("two")));
}

#[tokio::test]
async fn strict_mode_refuses_other_labels() {
    let app = App::with_config(Config { strict_labels: true, ..Config::default() }).await;
    let (status, body) = app
        .call(
            "POST",
            PROMPTS,
            Keys::Both,
            Some(json!({"prompt_id": "p", "template": "x", "labels": ["staging"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).contains("'staging'"), "{body}");
    app.ok(
        "POST",
        PROMPTS,
        Some(json!({"prompt_id": "p", "template": "x", "labels": ["development"]})),
    )
    .await;
}

#[tokio::test]
async fn a_failing_write_leaves_nothing_behind() {
    let app = App::new().await;
    // The bad environment is noticed after the prompt row was written: the whole
    // transaction must roll back.
    let (status, _) = app
        .call(
            "POST",
            PROMPTS,
            Keys::Both,
            Some(json!({"prompt_id": "p", "template": "x", "env_ids": ["ok", " "]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.call("GET", &path("p"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.create("p").await;
    let (status, _) = app
        .call(
            "POST",
            &format!("{}/versions", path("p")),
            Keys::Both,
            Some(json!({"template": "y", "labels": ["l"], "env_ids": [""]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, versions) = app.call("GET", &format!("{}/versions", path("p")), Keys::Api, None).await;
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
    // The failed version did not burn a number either.
    let v2 =
        app.ok("POST", &format!("{}/versions", path("p")), Some(json!({"template": "y"}))).await;
    assert_eq!(v2["version"], 2);
}

#[tokio::test]
async fn delete_is_soft_and_the_id_can_be_created_again() {
    let app = App::new().await;
    let first = app.create("p").await;
    app.ok("POST", &format!("{}/versions", path("p")), Some(json!({"template": "two"}))).await;
    let deleted = app.ok("DELETE", &path("p"), None).await;
    assert_eq!(deleted["ID"], first["ID"]);
    assert_eq!(deleted["prompt_id"], "p");
    let again = app.ok("DELETE", &path("p"), None).await;
    assert!(again["deleted_at"].as_str() > deleted["deleted_at"].as_str());

    let (status, _) = app.call("GET", &path("p"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call("GET", &format!("{}/versions/1", path("p")), Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, versions) = app.call("GET", &format!("{}/versions", path("p")), Keys::Api, None).await;
    assert_eq!(versions, json!([]));
    let (_, list) = app.call("GET", crate::util::PROMPTS, Keys::Api, None).await;
    assert_eq!(list, json!([]));

    let recreated = app.create("p").await;
    assert_eq!(recreated["num_versions"], 1);
    assert_ne!(recreated["ID"], first["ID"]);
    let (_, latest) = app.call("GET", &path("p"), Keys::Api, None).await;
    assert_eq!(latest["version"], "1");
}

/// The shared table of ids that need encoding (`tests/shared/encoding.json`): each id with
/// its path segment as the reference client encodes it, and the long id's length.
fn encoded_ids() -> (Vec<(String, String)>, usize) {
    let table: Value =
        serde_json::from_str(include_str!("../../../tests/shared/encoding.json")).unwrap();
    let ids = table["ids"].as_array().unwrap().iter();
    let ids =
        ids.map(|c| (c["raw"].as_str().unwrap().into(), c["segment"].as_str().unwrap().into()));
    (ids.collect(), table["long_id_length"].as_u64().unwrap() as usize)
}

#[tokio::test]
async fn ids_that_need_encoding_round_trip() {
    let app = App::new().await;
    let (ids, long) = encoded_ids();
    assert!(ids.len() >= 10);
    for (id, segment) in &ids {
        app.create(id).await;
        // The path as the reference client writes it.
        let (status, got) = app.call("GET", &format!("{PROMPTS}/{segment}"), Keys::Api, None).await;
        assert_eq!(status, StatusCode::OK, "{id}");
        assert_eq!(got["prompt_id"], id.as_str());
        let (status, _) =
            app.call("GET", &format!("{PROMPTS}/{segment}/versions/1"), Keys::Api, None).await;
        assert_eq!(status, StatusCode::OK, "{id}");
    }
    let long = "x".repeat(long);
    app.create(&long).await;
    let (_, list) = app.call("GET", PROMPTS, Keys::Api, None).await;
    assert_eq!(list.as_array().unwrap().len(), ids.len() + 1);
    let (_, one) = app
        .call("GET", &format!("{PROMPTS}?filter%5Bprompt_id%5D=with%2Fslash"), Keys::Api, None)
        .await;
    assert_eq!(one.as_array().unwrap().len(), 1, "{one}");
    // A slash in an id never matches another prompt's versions route.
    let (status, _) = app.call("GET", &format!("{PROMPTS}/with/slash"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn concurrent_version_creates_get_distinct_consecutive_numbers() {
    let app = Arc::new(App::new().await);
    app.create("p").await;
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = json!({"template": format!("v {i}")});
                app.ok("POST", &format!("{}/versions", path("p")), Some(body)).await["version"]
                    .as_i64()
                    .unwrap()
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, (2..=33).collect::<Vec<_>>());
    let (_, versions) = app.call("GET", &format!("{}/versions", path("p")), Keys::Api, None).await;
    let listed: Vec<i64> =
        versions.as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(listed, (1..=33).rev().collect::<Vec<_>>());
}

#[tokio::test]
async fn concurrent_label_moves_leave_the_label_on_one_version() {
    let app = Arc::new(App::new().await);
    app.create("p").await;
    for _ in 0..7 {
        app.ok("POST", &format!("{}/versions", path("p")), Some(json!({"template": "v"}))).await;
    }
    let tasks: Vec<_> = (1..=8)
        .flat_map(|n| [n, n])
        .map(|n| {
            let app = app.clone();
            tokio::spawn(async move {
                app.ok(
                    "PATCH",
                    &format!("{}/versions/{n}", path("p")),
                    Some(json!({"labels": ["production"]})),
                )
                .await;
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let (_, versions) = app.call("GET", &format!("{}/versions", path("p")), Keys::Api, None).await;
    let holders = versions.as_array().unwrap().iter().filter(|v| v.get("labels").is_some()).count();
    assert_eq!(holders, 1, "{versions}");
}
