//! Hostile input: control characters in the names clients choose, deletes of another
//! org's things, and reads of a deleted prompt's versions.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::util::{App, Keys, OTHER_API, OTHER_APP, PROMPTS, V1, V2, detail, path};

fn doc(kind: &str, attributes: Value) -> Option<Value> {
    Some(json!({"data": {"type": kind, "attributes": attributes}}))
}

/// A project and a dataset of org a; returns their ids.
async fn dataset(app: &App, name: &str) -> (String, String) {
    let project =
        app.ok("POST", &format!("{V1}/projects"), doc("projects", json!({"name": "p"}))).await;
    let p = project["data"]["id"].as_str().unwrap().to_owned();
    let made =
        app.ok("POST", &format!("{V1}/{p}/datasets"), doc("datasets", json!({"name": name}))).await;
    (p, made["data"]["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn control_characters_in_prompt_ids_labels_and_environments_are_refused_and_slashes_kept() {
    let app = App::new().await;
    for id in ["a\u{0}b", "line\nbreak", "tab\tbed", "del\u{7f}"] {
        let body = json!({"prompt_id": id, "template": "x"});
        let (status, answer) = app.call("POST", PROMPTS, Keys::Both, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id:?}: {answer}");
        assert!(detail(&answer).starts_with("prompt_id must not contain control characters"));
    }
    let (status, answer) = app.call("GET", &path("a\u{0}b"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("NUL"), "{answer}");
    // Free text keeps control characters, except NUL, refused on both backends alike.
    let body = json!({"prompt_id": "described", "template": "x", "description": "a\u{0}b"});
    let (status, answer) = app.call("POST", PROMPTS, Keys::Both, Some(body)).await;
    if std::env::var("LLMOBS_TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(detail(&answer).contains("NUL character"), "{answer}");
    }
    let body = json!({"prompt_id": "p", "template": "x", "labels": ["prod\u{1b}[31m"]});
    let (status, answer) = app.call("POST", PROMPTS, Keys::Both, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("U+001B at byte 4"), "{answer}");
    // Environment names (env_ids) likewise, on create and on a version's update; nothing
    // is deployed.
    let body = json!({"prompt_id": "envs", "template": "x", "env_ids": ["qa\u{7}"]});
    let (status, answer) = app.call("POST", PROMPTS, Keys::Both, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("environment names must not contain control characters"));
    app.create("envs").await;
    let body = json!({"env_ids": ["staging", "line\nbreak"]});
    let (status, answer) =
        app.call("PATCH", &format!("{}/versions/1", path("envs")), Keys::Both, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("U+000A at byte 4"), "{answer}");
    let resolve =
        json!({"data": {"type": "prompt_resolve_requests", "attributes": {"env": "line\nbreak"}}});
    let (status, answer) =
        app.call("POST", &format!("{}/resolve", path("envs")), Keys::Both, Some(resolve)).await;
    assert_eq!((status, answer["version"].clone()), (StatusCode::OK, json!("1")), "{answer}");
    // '/' is an ordinary character of an id, sent as %2F.
    app.create("team/summary").await;
    let (status, got) = app.call("GET", &path("team/summary"), Keys::Api, None).await;
    assert_eq!((status, got["prompt_id"].clone()), (StatusCode::OK, json!("team/summary")));
}

#[tokio::test]
async fn control_characters_in_dataset_names_and_tags_are_refused() {
    let app = App::new().await;
    let (p, d) = dataset(&app, "fine").await;
    let (status, answer) = app
        .call(
            "POST",
            &format!("{V1}/{p}/datasets"),
            Keys::Both,
            doc("datasets", json!({"name": "bad\u{0}name"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("control characters"), "{answer}");
    let (status, answer) = app
        .call(
            "PATCH",
            &format!("{V2}/{p}/datasets/{d}"),
            Keys::Both,
            doc("datasets", json!({"name": "bad\rname"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("U+000D"), "{answer}");
    let records = json!({"insert_records": [{"input": {"q": 1}, "tags": ["k:v\u{0}"]}]});
    let (status, answer) = app
        .call(
            "POST",
            &format!("{V2}/{p}/datasets/{d}/batch_update"),
            Keys::Both,
            doc("datasets", records),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("control characters"), "{answer}");
}

#[tokio::test]
async fn deleting_another_orgs_dataset_answers_404_and_deletes_nothing() {
    let app = App::new().await;
    let (p, d) = dataset(&app, "mine").await;
    let other = Keys::Custom(Some(OTHER_API), Some(OTHER_APP));
    for family in [V1, V2] {
        let (status, answer) = app
            .call(
                "POST",
                &format!("{family}/datasets/delete"),
                other,
                doc("datasets", json!({"type": "soft", "dataset_ids": [d]})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{family}: {answer}");
        assert_eq!(detail(&answer), format!("dataset '{d}' not found"));
    }
    let (status, unknown) = app
        .call(
            "POST",
            &format!("{V1}/datasets/delete"),
            Keys::Both,
            doc("datasets", json!({"type": "soft", "dataset_ids": [d, "no-such-id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    let (_, still) =
        app.call("GET", &format!("{V1}/{p}/datasets?filter[name]=mine"), Keys::Api, None).await;
    assert_eq!(still["data"].as_array().map(Vec::len), Some(1), "nothing deleted: {still}");
}

#[tokio::test]
async fn versions_of_an_unknown_or_deleted_prompt_are_404_on_the_public_route() {
    let app = App::new().await;
    app.create("gone").await;
    let public =
        |id: &str| format!("{V2}/prompts/{}/versions", llmobs_core::encoding::path_segment(id));
    let (status, _) = app.call("GET", &public("gone"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::OK);
    app.ok("DELETE", &path("gone"), None).await;
    for id in ["gone", "never"] {
        let (status, answer) = app.call("GET", &public(id), Keys::Api, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {answer}");
        // ddtrace's route keeps Datadog's documented answer, an empty list.
        let (status, answer) =
            app.call("GET", &format!("{}/versions", path(id)), Keys::Api, None).await;
        assert_eq!((status, answer), (StatusCode::OK, json!([])));
    }
}

#[tokio::test]
async fn every_delete_of_another_orgs_thing_answers_404_and_the_owner_can_still_delete_it() {
    let app = App::new().await;
    let (p, d) = dataset(&app, "owned").await;
    app.ok(
        "POST",
        &format!("{V2}/{p}/datasets/{d}/batch_update"),
        doc("datasets", json!({"insert_records": [{"id": "r1", "input": 1}]})),
    )
    .await;
    let made = app
        .ok(
            "POST",
            &format!("{V1}/experiments"),
            doc("experiments", json!({"name": "e", "dataset_id": d, "project_id": p})),
        )
        .await;
    let e = made["data"]["id"].as_str().unwrap().to_owned();
    app.create("owned-prompt").await;
    let deletes = [
        (
            "POST",
            format!("{V2}/{p}/datasets/{d}/records/delete"),
            doc("records", json!({"record_ids": ["r1"]})),
        ),
        (
            "POST",
            format!("{V2}/experiments/delete"),
            doc("experiments", json!({"experiment_ids": [e]})),
        ),
        ("POST", format!("{V2}/{p}/datasets/delete"), doc("datasets", json!({"dataset_ids": [d]}))),
        (
            "POST",
            format!("{V1}/datasets/delete"),
            doc("datasets", json!({"type": "soft", "dataset_ids": [d]})),
        ),
        ("DELETE", format!("{V2}/prompts/owned-prompt"), None),
        ("DELETE", path("owned-prompt"), None),
        ("POST", format!("{V2}/projects/delete"), doc("projects", json!({"project_ids": [p]}))),
    ];
    let other = Keys::Custom(Some(OTHER_API), Some(OTHER_APP));
    for (method, route, body) in &deletes {
        let (status, answer) = app.call(method, route, other, body.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {route}: {answer}");
    }
    // Nothing was deleted: each delete still works for the owner (the two dataset deletes
    // and the two prompt deletes are one thing each, so only the first of a pair runs).
    for (index, (method, route, body)) in deletes.iter().enumerate() {
        if index == 3 || index == 5 {
            continue;
        }
        let (status, answer) = app.call(method, route, Keys::Both, body.clone()).await;
        assert!(status.is_success(), "{method} {route}: {status} {answer}");
    }
}
