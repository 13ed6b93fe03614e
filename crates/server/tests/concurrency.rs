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

/// Label moves and deployments onto different versions of one prompt at once (as the
/// multiserver suite does across servers): each answers 200 and each label ends on one
/// version.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_label_moves_to_different_versions_all_succeed() {
    let app = Arc::new(App::new().await);
    app.create("moves").await;
    for _ in 0..7 {
        let (status, body) = app
            .call(
                "POST",
                &format!("{PROMPTS}/moves/versions"),
                Keys::Both,
                Some(json!({"template": "v"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for round in 0..6 {
        let env = format!("moves-env-{round}");
        let calls: Vec<_> = (0..16)
            .map(|n| {
                let (app, env) = (app.clone(), env.clone());
                tokio::spawn(async move {
                    let route = format!("{PROMPTS}/moves/versions/{}", n % 8 + 1);
                    let body = json!({"labels": ["production", "development"], "env_ids": [env]});
                    app.call("PATCH", &route, Keys::Both, Some(body)).await
                })
            })
            .collect();
        for call in calls {
            let (status, body) = call.await.unwrap();
            assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        }
        let (_, versions) =
            app.call("GET", &format!("{PROMPTS}/moves/versions"), Keys::Api, None).await;
        let holders = (versions.as_array().unwrap().iter())
            .filter(|v| v.get("labels").and_then(|l| l.as_array()).is_some_and(|l| !l.is_empty()))
            .count();
        assert_eq!(holders, 1, "round {round}: {versions}");
    }
}

/// An intake body of spans `ids` of one trace, in that order.
fn spans(ids: impl Iterator<Item = u32>) -> String {
    let spans: Vec<_> = ids
        .map(|n| {
            json!({"trace_id": "7", "span_id": n.to_string(), "parent_id": "undefined",
                   "name": "s", "start_ns": 1, "duration": 1, "status": "ok", "meta": {},
                   "metrics": {}, "tags": []})
        })
        .collect();
    json!([{"spans": spans}]).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn intake_batches_overlapping_in_opposite_orders_all_succeed() {
    let app = Arc::new(App::new().await);
    for round in 0..6 {
        let mut calls = Vec::new();
        for n in 0..4 {
            let app = app.clone();
            let body = match n % 2 {
                0 => spans(0..200),
                _ => spans((0..200).rev()),
            };
            calls.push(tokio::spawn(async move {
                app.raw("POST", "/api/v2/llmobs", Keys::Api, Some(body)).await
            }));
        }
        for call in calls {
            let (status, body) = call.await.unwrap();
            assert_eq!(status, StatusCode::ACCEPTED, "round {round}: {body}");
        }
    }
}
