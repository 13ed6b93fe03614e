//! Concurrent writes that race on PostgreSQL (run with `LLMOBS_TEST_DATABASE_URL` set, as
//! `scripts/test.sh` does): each must succeed, none may answer 500.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;

use crate::util::{App, Keys, PROMPTS};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deploys_to_a_new_environment_all_succeed() {
    let app = Arc::new(App::new().await);
    for n in 0..4 {
        app.create(&format!("p{n}")).await;
    }
    for round in 0..6 {
        let env = format!("env-{round}");
        let mut calls = Vec::new();
        for n in 0..4 {
            let (app, env) = (app.clone(), env.clone());
            calls.push(tokio::spawn(async move {
                let route = format!("{PROMPTS}/p{n}/versions/1");
                app.call("PATCH", &route, Keys::Both, Some(json!({"env_ids": [env]}))).await
            }));
        }
        for call in calls {
            let (status, body) = call.await.unwrap();
            assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        }
    }
}
