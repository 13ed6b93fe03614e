//! Server-wide behaviour: health, unknown routes, body limit, base path, OpenAPI.

use axum::http::StatusCode;
use llmobs_server::Config;
use serde_json::json;

use crate::util::{App, Keys, PROMPTS, detail, path};

#[tokio::test]
async fn health_needs_no_key_and_unknown_routes_answer_json() {
    let app = App::new().await;
    let (status, body) = app.call("GET", "/healthz", Keys::None, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!("ok")));
    let (status, body) = app.call("GET", "/nothing/here", Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(detail(&body), "no route for GET /nothing/here");
    let (status, body) = app.call("PUT", PROMPTS, Keys::Both, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn readiness_checks_the_database() {
    let app = App::new().await;
    let (status, body) = app.call("GET", "/readyz", Keys::None, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!("ready")));
    // With the database gone (its pools closed), not ready, and the answer says why;
    // liveness still answers.
    app.store().close().await;
    let (status, body) = app.call("GET", "/readyz", Keys::None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(detail(&body).starts_with("not ready: the database does not answer"), "{body}");
    let (status, _) = app.call("GET", "/healthz", Keys::None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let app = App::with_config(Config { max_body_bytes: 1024, ..Config::default() }).await;
    let big = json!({"prompt_id": "p", "template": "x".repeat(2000)});
    let (status, body) = app.call("POST", PROMPTS, Keys::Both, Some(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(detail(&body).contains("1024 bytes"), "{body}");
    let (status, _) = app.call("GET", &path("p"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn routes_are_served_under_the_base_path_too() {
    let app = App::with_config(Config::default().with_base_path("/proxy/sub/").unwrap()).await;
    let created = app
        .call(
            "POST",
            &format!("/proxy/sub{PROMPTS}"),
            Keys::Both,
            Some(json!({"prompt_id": "a/b", "template": "x"})),
        )
        .await;
    assert_eq!(created.0, StatusCode::OK, "{}", created.1);
    let (status, got) =
        app.call("GET", &format!("/proxy/sub{}", path("a/b")), Keys::Api, None).await;
    assert_eq!((status, got["template"].clone()), (StatusCode::OK, json!("x")));
    let (status, _) = app.call("GET", &path("a/b"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call("GET", "/proxy/sub/healthz", Keys::None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = App::new().await;
    let (status, doc) = app.call("GET", "/openapi.json", Keys::None, None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    let mut expected = vec![
        ("/healthz".to_owned(), vec!["get"]),
        ("/readyz".to_owned(), vec!["get"]),
        ("/openapi.json".to_owned(), vec!["get"]),
        (PROMPTS.to_owned(), vec!["get", "post"]),
        (format!("{PROMPTS}/{{prompt_id}}"), vec!["get", "patch", "delete"]),
        (format!("{PROMPTS}/{{prompt_id}}/resolve"), vec!["post"]),
        (format!("{PROMPTS}/{{prompt_id}}/versions"), vec!["get", "post"]),
        (format!("{PROMPTS}/{{prompt_id}}/versions/{{version}}"), vec!["get", "patch"]),
        ("/api/v2/llmobs".to_owned(), vec!["post"]),
        ("/sign-in".to_owned(), vec!["get", "post"]),
        ("/sign-out".to_owned(), vec!["post"]),
        ("/llm/prompts/{prompt_id}".to_owned(), vec!["get"]),
        ("/llm/prompts/{prompt_id}/diff".to_owned(), vec!["get"]),
        ("/llm/prompts/{prompt_id}/labels".to_owned(), vec!["post"]),
        ("/llm/prompts/{prompt_id}/labels/remove".to_owned(), vec!["post"]),
        ("/llm/prompts/{prompt_id}/environments".to_owned(), vec!["post"]),
        ("/llm/datasets/{dataset_id}/diff".to_owned(), vec!["get"]),
        ("/llm/datasets/{dataset_id}/download".to_owned(), vec!["get"]),
        ("/llm/annotations".to_owned(), vec!["get"]),
        ("/llm/annotations/{queue_id}".to_owned(), vec!["get"]),
        ("/llm/annotations/{queue_id}/items/{interaction_id}".to_owned(), vec!["post"]),
        ("/llm/annotations/{queue_id}/export".to_owned(), vec!["post"]),
        ("/api/intake/llm-obs/v2/eval-metric".to_owned(), vec!["post"]),
        ("/".to_owned(), vec!["get"]),
        ("/llm/experiments".to_owned(), vec!["get"]),
        ("/llm/datasets".to_owned(), vec!["get"]),
        ("/llm/prompts".to_owned(), vec!["get"]),
        ("/llm/traces".to_owned(), vec!["get"]),
        ("/llm/topics".to_owned(), vec!["get"]),
        ("/llm/experiments/{experiment_id}".to_owned(), vec!["get"]),
        ("/llm/datasets/{dataset_id}".to_owned(), vec!["get"]),
        ("/llm/experiments/compare".to_owned(), vec!["get"]),
        ("/llm/traces/{trace_id}".to_owned(), vec!["get"]),
        ("/api/v2/llm-obs/v1/spans/events".to_owned(), vec!["get"]),
        ("/api/v2/llm-obs/v1/spans/events/search".to_owned(), vec!["post"]),
        ("/api/v2/llm-obs/v1/experimentation/search".to_owned(), vec!["post"]),
        ("/api/v2/llm-obs/v1/experimentation/simple-search".to_owned(), vec!["post"]),
        ("/api/v2/llm-obs/v1/experimentation/analytics".to_owned(), vec!["post"]),
    ];
    for family in ["/api/unstable/llm-obs/v1", "/api/v2/llm-obs/v1"] {
        for (route, methods) in [
            ("/projects", vec!["post"]),
            ("/{project_id}/datasets", vec!["get", "post"]),
            ("/{project_id}/datasets/{dataset_id}/records", vec!["get"]),
            ("/{project_id}/datasets/{dataset_id}/batch_update", vec!["post"]),
            ("/datasets/{dataset_id}/records/upload", vec!["post"]),
            ("/datasets/delete", vec!["post"]),
            ("/experiments", vec!["get", "post"]),
            ("/experiments/{experiment_id}", vec!["patch"]),
            ("/experiments/{experiment_id}/events", vec!["get", "post"]),
            ("/experiments/events", vec!["get"]),
            ("/evaluators/{eval_name}/infer", vec!["post"]),
            ("/config/evaluators/custom", vec!["put"]),
        ] {
            expected.push((format!("{family}{route}"), methods));
        }
    }
    // Datadog's public API: the management plane and the query plane, where the official
    // client calls them.
    let v2 = "/api/v2/llm-obs/v1";
    let dataset = format!("{v2}/{{project_id}}/datasets/{{dataset_id}}");
    for (route, methods) in [
        (format!("{v2}/projects"), vec!["get"]),
        (format!("{v2}/projects/{{project_id}}"), vec!["patch"]),
        (format!("{v2}/projects/delete"), vec!["post"]),
        (format!("{v2}/{{project_id}}/datasets/delete"), vec!["post"]),
        (dataset.clone(), vec!["patch"]),
        (format!("{dataset}/records"), vec!["post", "patch"]),
        (format!("{dataset}/records/delete"), vec!["post"]),
        (format!("{dataset}/versions"), vec!["get"]),
        (format!("{dataset}/restore"), vec!["post"]),
        (format!("{dataset}/clone"), vec!["post"]),
        (format!("{dataset}/export"), vec!["get"]),
        (format!("{dataset}/draft_state"), vec!["get"]),
        (format!("{dataset}/draft_state/lock"), vec!["patch"]),
        (format!("{dataset}/draft_state/unlock"), vec!["patch"]),
        (
            "/api/v2/llm-obs/v2/{project_id}/datasets/{dataset_id}/records/upload".to_owned(),
            vec!["post"],
        ),
        (format!("{v2}/experiments/delete"), vec!["post"]),
        ("/api/v2/llm-obs/v2/experiments/{experiment_id}/events".to_owned(), vec!["get"]),
        ("/api/v2/llm-obs/v3/experiments/{experiment_id}/events".to_owned(), vec!["get"]),
        (format!("{v2}/prompts"), vec!["get", "post"]),
        (format!("{v2}/prompts/{{prompt_id}}"), vec!["get", "patch", "delete"]),
        (format!("{v2}/prompts/{{prompt_id}}/versions"), vec!["get", "post"]),
        (format!("{v2}/prompts/{{prompt_id}}/versions/{{version}}"), vec!["get", "patch"]),
        ("/api/unstable/llm-obs/config/evaluators/custom".to_owned(), vec!["get"]),
        (
            "/api/unstable/llm-obs/config/evaluators/custom/{eval_name}".to_owned(),
            vec!["get", "put", "delete"],
        ),
        (format!("{v2}/spans/events"), vec!["get"]),
        (format!("{v2}/spans/events/search"), vec!["post"]),
        (format!("{v2}/experimentation/search"), vec!["post"]),
        (format!("{v2}/experimentation/simple-search"), vec!["post"]),
        (format!("{v2}/experimentation/analytics"), vec!["post"]),
        (format!("{v2}/annotation-queues"), vec!["get", "post"]),
        (format!("{v2}/annotation-queues/{{queue_id}}"), vec!["patch", "delete"]),
        (format!("{v2}/annotation-queues/{{queue_id}}/label-schema"), vec!["get", "put"]),
        (format!("{v2}/annotation-queues/{{queue_id}}/interactions"), vec!["post"]),
        (format!("{v2}/annotation-queues/{{queue_id}}/interactions/delete"), vec!["post"]),
        (format!("{v2}/annotation-queues/{{queue_id}}/annotations"), vec!["post"]),
        (format!("{v2}/annotation-queues/{{queue_id}}/annotations/delete"), vec!["post"]),
        (format!("{v2}/annotation-queues/{{queue_id}}/annotated-interactions"), vec!["get"]),
        (
            format!(
                "{v2}/annotation-queues/{{queue_id}}/annotated-interactions/{{interaction_id}}"
            ),
            vec!["get"],
        ),
        (format!("{v2}/annotation-queues/{{queue_id}}/export"), vec!["post"]),
        (format!("{v2}/annotated-interactions"), vec!["get"]),
        (format!("{v2}/integrations/{{integration}}/accounts"), vec!["get"]),
        (format!("{v2}/integrations/{{integration}}/{{account_id}}/models"), vec!["get"]),
        (format!("{v2}/integrations/{{integration}}/{{account_id}}/inference"), vec!["post"]),
        (format!("{v2}/topic-discovery-configs"), vec!["get", "put"]),
        (format!("{v2}/topic-discovery-configs/latest"), vec!["get"]),
        (format!("{v2}/topic-discovery-configs/{{config_id}}"), vec!["delete"]),
        (format!("{v2}/topic-discovery-runs"), vec!["get", "post"]),
        (format!("{v2}/topic-discovery-runs/status"), vec!["get"]),
        (format!("{v2}/topic-discovery-topics"), vec!["get"]),
        (format!("{v2}/topic-discovery-topics/with-cluster-points"), vec!["get"]),
        (format!("{v2}/topic-discovery-clustered-points"), vec!["get"]),
    ] {
        match expected.iter_mut().find(|(r, _)| *r == route) {
            Some((_, known)) => known.extend(methods),
            None => expected.push((route, methods)),
        }
    }
    for (route, methods) in &expected {
        for method in methods {
            assert!(
                paths.get(route).and_then(|p| p.get(*method)).is_some(),
                "{method} {route} missing"
            );
        }
    }
    assert_eq!(paths.len(), expected.len(), "{:?}", paths.keys());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in ["SdkPrompt", "Record", "BatchUpdate", "Experiment", "PostEvents", "ErrorBody"] {
        assert!(schemas.contains_key(schema), "schema {schema} missing: {:?}", schemas.keys());
    }
}
