//! Keys: 401 when missing, 403 when wrong, and one org never sees another's data.

use axum::http::StatusCode;
use serde_json::json;

use crate::util::{API, App, Keys, OTHER_API, OTHER_APP, PROMPTS, detail, path};

#[tokio::test]
async fn missing_keys_are_401_and_wrong_keys_403() {
    let app = App::new().await;
    app.create("p").await;
    let (status, body) = app.call("GET", &path("p"), Keys::None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail(&body).contains("DD-API-KEY"));
    assert_eq!(body["errors"][0]["title"], "Unauthorized");
    let (status, _) =
        app.call("GET", &path("p"), Keys::Custom(Some("wrong-key-123"), None), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let write = Some(json!({"prompt_id": "q", "template": "x"}));
    let (status, body) = app.call("POST", PROMPTS, Keys::Api, write.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail(&body).contains("DD-APPLICATION-KEY"));
    let (status, _) = app
        .call("POST", PROMPTS, Keys::Custom(Some(API), Some("wrong-app-key")), write.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) =
        app.call("POST", PROMPTS, Keys::Custom(Some(API), Some(OTHER_APP)), write.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(detail(&body).contains("another org"));
    // An API key is not an application key.
    let (status, _) = app.call("POST", PROMPTS, Keys::Custom(Some(API), Some(API)), write).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Reads need no application key, and ignore a wrong one.
    let (status, _) =
        app.call("GET", &path("p"), Keys::Custom(Some(API), Some("junk-app-key")), None).await;
    assert_eq!(status, StatusCode::OK);
    let resolve =
        json!({"data": {"type": "prompt_resolve_requests", "attributes": {"env": "prod"}}});
    let (status, _) =
        app.call("POST", &format!("{}/resolve", path("p")), Keys::Api, Some(resolve)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_org_never_sees_the_data() {
    let app = App::new().await;
    app.create("secret").await;
    let other = Keys::Custom(Some(OTHER_API), Some(OTHER_APP));
    let resolve =
        json!({"data": {"type": "prompt_resolve_requests", "attributes": {"env": "prod"}}});
    let routes = [
        ("GET", path("secret"), None),
        ("GET", format!("{}?label=production", path("secret")), None),
        ("GET", format!("{}/versions/1", path("secret")), None),
        ("POST", format!("{}/resolve", path("secret")), Some(resolve)),
        ("PATCH", path("secret"), Some(json!({"title": "mine"}))),
        (
            "PATCH",
            format!("{}/versions/1", path("secret")),
            Some(json!({"labels": ["production"]})),
        ),
        ("POST", format!("{}/versions", path("secret")), Some(json!({"template": "mine"}))),
        ("DELETE", path("secret"), None),
    ];
    for (method, route, body) in routes {
        let (status, answer) = app.call(method, &route, other, body).await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
            "{method} {route} answered {status}: {answer}"
        );
        assert!(!answer.to_string().contains("v1 {{x}}"), "{answer}");
    }
    let (_, list) = app.call("GET", PROMPTS, other, None).await;
    assert_eq!(list, json!([]));
    let (_, versions) = app.call("GET", &format!("{}/versions", path("secret")), other, None).await;
    assert_eq!(versions, json!([]));
    // The other org may use the same id for its own prompt.
    let (status, _) = app
        .call("POST", PROMPTS, other, Some(json!({"prompt_id": "secret", "template": "theirs"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    // And the first org's prompt is untouched by all of the above.
    let (_, mine) = app.call("GET", &path("secret"), Keys::Api, None).await;
    assert_eq!(mine["chat_template"][0]["content"], "v1 {{x}}");
    assert_eq!(mine["version"], "1");
}
