//! Environment resolution (E4): deployment, then a label named like the environment,
//! then the latest version.

use serde_json::{Value, json};

use crate::util::{App, path};

fn body(env: &str) -> Option<Value> {
    Some(json!({"data": {"type": "prompt_resolve_requests",
        "attributes": {"env": env, "targeting_key": "user-1", "context": {"tier": "gold", "n": [1]}}}}))
}

async fn resolved(app: &App, env: &str) -> Value {
    app.ok("POST", &format!("{}/resolve", path("p")), body(env)).await["template"].clone()
}

#[tokio::test]
async fn resolution_prefers_deployments_then_labels_then_latest() {
    let app = App::new().await;
    app.ok(
        "POST",
        crate::util::PROMPTS,
        Some(json!({"prompt_id": "p", "template": "one", "env_ids": ["production"]})),
    )
    .await;
    app.ok(
        "POST",
        &format!("{}/versions", path("p")),
        Some(json!({"template": "two", "labels": ["staging"]})),
    )
    .await;
    app.ok("POST", &format!("{}/versions", path("p")), Some(json!({"template": "three"}))).await;

    assert_eq!(resolved(&app, "production").await, "one");
    assert_eq!(resolved(&app, "staging").await, "two");
    assert_eq!(resolved(&app, "nowhere").await, "three");
    assert_eq!(resolved(&app, "").await, "three");

    // Deploying another version moves the environment.
    app.ok("PATCH", &format!("{}/versions/3", path("p")), Some(json!({"env_ids": ["production"]})))
        .await;
    assert_eq!(resolved(&app, "production").await, "three");
    // Clearing it falls back to the latest.
    app.ok("PATCH", &format!("{}/versions/3", path("p")), Some(json!({"env_ids": []}))).await;
    assert_eq!(resolved(&app, "production").await, "three");
    app.ok("PATCH", &format!("{}/versions/2", path("p")), Some(json!({"env_ids": ["production"]})))
        .await;
    assert_eq!(resolved(&app, "production").await, "two");
    app.ok("PATCH", &format!("{}/versions/2", path("p")), Some(json!({"env_ids": []}))).await;
    assert_eq!(resolved(&app, "production").await, "three");

    let answer = app.ok("POST", &format!("{}/resolve", path("p")), body("staging")).await;
    assert_eq!(answer["version"], "2");
    assert_eq!(answer["prompt_id"], "p");
}

#[tokio::test]
async fn resolving_an_unknown_prompt_is_404() {
    let app = App::new().await;
    let (status, answer) = app
        .call(
            "POST",
            &format!("{}/resolve", path("nope")),
            crate::util::Keys::Both,
            body("production"),
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::NOT_FOUND);
    assert_eq!(crate::util::detail(&answer), "prompt with id 'nope' not found");
}
