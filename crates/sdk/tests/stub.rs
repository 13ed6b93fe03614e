//! Parsing, status mapping and transport against a scripted stub (spec §7.8).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use llmobs::{
    ChatItem, Client, Error, ErrorKind, Fallback, GetPrompt, NewPrompt, Source, Template,
    UpdatePromptRequest, UpdateVersionRequest,
};
use serde_json::{Map, Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::util::{BASE, all, builder, sdk};

#[tokio::test]
async fn reads_accept_only_200_and_carry_the_reason() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = builder(&stub.uri(), dir.path()).cache_ttl(Duration::ZERO).build().unwrap();
    let cases: Vec<(u16, ResponseTemplate, &str)> = vec![
        (201, ResponseTemplate::new(201).set_body_json(sdk("p", "1", "t")), r#"{"prompt_id":"p""#),
        (204, ResponseTemplate::new(204), ""),
        (400, ResponseTemplate::new(400).set_body_json(json!({"detail": "bad"})), "bad"),
        (401, ResponseTemplate::new(401).set_body_string("Unauthorized"), "Unauthorized"),
        (404, ResponseTemplate::new(404).set_body_json(json!({"detail": "nope"})), "nope"),
        (
            500,
            ResponseTemplate::new(500).set_body_string("Internal Server Error"),
            "Internal Server Error",
        ),
        (200, ResponseTemplate::new(200).set_body_string("not json"), ""),
        (200, ResponseTemplate::new(200).set_body_json(json!({"data": sdk("p", "1", "t")})), ""),
        (200, ResponseTemplate::new(200).set_body_bytes(b"\xff\xfe".to_vec()), "invalid utf-8"),
    ];
    for (status, response, reason) in cases {
        stub.reset().await;
        Mock::given(method("GET")).respond_with(response).mount(&stub).await;
        let err = client.get_prompt("p").await.unwrap_err();
        match &err {
            Error::Unavailable { prompt_id, reason: got, status: got_status, .. } => {
                assert_eq!(prompt_id, "p");
                assert_eq!(*got_status, status);
                assert!(got.starts_with(reason), "{status}: {got:?} should start with {reason:?}");
            }
            other => panic!("{status}: unexpected {other:?}"),
        }
        let fallback = client.get_prompt_with("p", &GetPrompt::new().fallback("fb")).await.unwrap();
        assert_eq!(fallback.source(), Source::Fallback);
    }
}

#[tokio::test]
async fn fallbacks_in_every_form() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).mount(&stub).await;
    let client = builder(&stub.uri(), dir.path()).build().unwrap();
    let get = |fallback: Fallback| {
        let client = client.clone();
        async move { client.get_prompt_with("p", &GetPrompt::new().fallback(fallback)).await.unwrap() }
    };
    let text = get("Hi {name}".into()).await;
    assert_eq!((text.id(), text.version(), text.label()), ("p", "fallback", None));
    assert_eq!(text.format([("name", "A")]).unwrap().as_text(), Some("Hi A"));
    let chat = get(vec![ChatItem::message("user", "{q}")].into()).await;
    assert!(chat.is_chat());
    let mut config = Map::new();
    config.insert("model".into(), json!("m"));
    let full =
        get(Fallback::prompt(Template::Text("t".into()), Some("local".into()), Some(config))).await;
    assert_eq!((full.version(), full.config()["model"].as_str()), ("local", Some("m")));
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let lazy = GetPrompt::new().fallback(Fallback::from_fn(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Fallback::from("lazy")
    }));
    let got = client.get_prompt_with("p", &lazy).await.unwrap();
    assert_eq!(got.template(), &Template::Text("lazy".into()));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(got.prompt_uuid(), None);
    assert_eq!(got.age(), None);
    // A fallback is never cached.
    assert_eq!(client.get_prompt_with("p", &lazy).await.unwrap().source(), Source::Fallback);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // The closure is not called when the fetch succeeds.
    stub.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sdk("p", "1", "t")))
        .mount(&stub)
        .await;
    assert_eq!(client.get_prompt_with("p", &lazy).await.unwrap().source(), Source::Registry);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

fn prompt_record() -> Value {
    json!({"ID": "u", "prompt_id": "p", "source": "registry", "created_at": "t",
           "last_version_created_at": "t", "num_versions": 1, "in_registry": true,
           "created_from": "sdk-registry", "author": "a"})
}

#[tokio::test]
async fn management_statuses_map_to_the_reference_classes() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = builder(&stub.uri(), dir.path()).build().unwrap();
    let cases: Vec<(u16, ErrorKind)> = vec![
        (400, ErrorKind::Validation),
        (401, ErrorKind::Auth),
        (403, ErrorKind::Auth),
        (404, ErrorKind::NotFound),
        (405, ErrorKind::Other),
        (409, ErrorKind::Conflict),
        (422, ErrorKind::Other),
        (429, ErrorKind::Other),
        (500, ErrorKind::Server),
        (502, ErrorKind::Server),
        (503, ErrorKind::Server),
        (599, ErrorKind::Server),
        (301, ErrorKind::Other),
        (302, ErrorKind::Other),
    ];
    let bodies: Vec<(&str, &str)> = vec![
        (r#"{"detail": "the detail"}"#, "the detail"),
        (
            r#"{"errors":[{"title":"t","detail":"d"}]}"#,
            r#"{"errors":[{"title":"t","detail":"d"}]}"#,
        ),
        ("plain text", "plain text"),
        ("[1,2]", "[1,2]"),
        (r#"{"detail": 42}"#, "42"),
    ];
    for (status, kind) in cases {
        for (body, detail) in &bodies {
            stub.reset().await;
            let response = ResponseTemplate::new(status)
                .set_body_string(*body)
                .insert_header("Location", format!("{}/elsewhere", stub.uri()));
            Mock::given(method("DELETE")).respond_with(response).mount(&stub).await;
            let err = client.delete_prompt("p").await.unwrap_err();
            assert_eq!((err.status(), err.kind()), (status, kind), "{status}");
            assert_eq!(err.detail(), *detail, "{status}");
            assert!(err.to_string().contains(detail), "{err}");
            assert_eq!(all(&stub).await.len(), 1, "redirects are not followed");
        }
    }
}

#[tokio::test]
async fn management_success_bodies() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = builder(&stub.uri(), dir.path()).build().unwrap();
    let update = || UpdatePromptRequest { title: Some("x".into()), ..Default::default() };
    for status in [200, 201, 202] {
        stub.reset().await;
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(status).set_body_json(prompt_record()))
            .mount(&stub)
            .await;
        assert_eq!(client.update_prompt("p", update()).await.unwrap().uuid, "u");
    }
    stub.reset().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(200).set_body_string("not json{"))
        .mount(&stub)
        .await;
    let err = client.update_prompt("p", update()).await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Server, 200));
    assert_eq!(err.detail(), "invalid JSON in response body");

    stub.reset().await;
    let lower = json!([{"id": "l", "prompt_id": "p", "source": "registry", "created_at": "t",
        "last_version_created_at": "t", "num_versions": 1, "in_registry": true,
        "created_from": "sdk-registry", "author": "a", "ID": "u2"}, prompt_record()]);
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(lower))
        .mount(&stub)
        .await;
    let listed = client.list_prompts().await.unwrap();
    assert_eq!((listed[0].uuid.as_str(), listed[1].uuid.as_str()), ("l", "u"));
    let request = all(&stub).await.pop().unwrap();
    assert_eq!(request.headers.get("content-type").unwrap(), "application/json");
    assert_eq!(request.headers.get("dd-application-key").unwrap(), "app", "sent when configured");
    assert!(request.body.is_empty());
}

#[tokio::test]
async fn local_checks_come_before_any_request() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let no_keys = Client::builder().origin(stub.uri()).cache_dir(dir.path()).build().unwrap();
    let err = no_keys.get_prompt_with("p", &GetPrompt::new().fallback("x")).await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Auth, 0));
    assert_eq!(
        err.to_string(),
        "authentication error (0): DD_API_KEY is required for prompt operations"
    );
    assert!(no_keys.list_prompts().await.unwrap_err().kind() == ErrorKind::Auth);
    assert!(no_keys.refresh_prompt("p", None).await.unwrap_err().kind() == ErrorKind::Auth);
    // An empty update is a validation error even without keys.
    let err = no_keys.update_prompt("p", UpdatePromptRequest::default()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid request: At least one of title or description must be provided"
    );
    assert_eq!((err.kind(), err.status()), (ErrorKind::Validation, 0));

    let no_app =
        Client::builder().origin(stub.uri()).api_key("k").cache_dir(dir.path()).build().unwrap();
    let err =
        no_app.create_prompt(NewPrompt::new("p", Template::Text("t".into()))).await.unwrap_err();
    assert_eq!(err.detail(), "DD_APP_KEY is required for prompt write operations");
    assert_eq!(no_app.delete_prompt("p").await.unwrap_err().status(), 0);
    let err =
        no_app.update_prompt_version("p", 1, UpdateVersionRequest::default()).await.unwrap_err();
    assert_eq!(err.detail(), "At least one of labels, description, or env_ids must be provided");
    assert_eq!(all(&stub).await.len(), 0, "no request was sent");
}

#[tokio::test]
async fn timeouts_and_refused_connections() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(sdk("p", "1", "t"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&stub)
        .await;
    let client =
        builder(&stub.uri(), dir.path()).timeout(Duration::from_millis(500)).build().unwrap();
    let start = Instant::now();
    let err = client.get_prompt("p").await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(err.is_timeout());
    assert_eq!(
        err.to_string(),
        "Prompt 'p' could not be fetched and no fallback was provided: request timed out"
    );
    let err = client.list_prompts().await.unwrap_err();
    assert!(err.is_timeout() && err.is_transport());
    assert_eq!(err.status(), 0);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = builder(&format!("http://127.0.0.1:{port}"), dir.path()).build().unwrap();
    let err = refused.list_prompts().await.unwrap_err();
    assert!(err.is_transport() && !err.is_timeout(), "{err}");
    assert!(err.to_string().starts_with("transport error: connection failed"), "{err}");
    let err = refused.get_prompt("p").await.unwrap_err();
    assert!(err.to_string().contains("could not be fetched"), "{err}");
}

#[tokio::test]
async fn a_path_prefix_is_kept_and_ids_are_encoded() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sdk("a/b c:ü", "1", "t")))
        .mount(&stub)
        .await;
    let origin = format!("{}/proxy/sub/?query=1#frag", stub.uri());
    let client = builder(&origin, dir.path()).build().unwrap();
    client.get_prompt("a/b c:ü").await.unwrap();
    client.get_prompt_with("a/b c:ü", &GetPrompt::new().label("with space&+")).await.unwrap();
    client.get_prompt_with("a/b c:ü", &GetPrompt::new().label("")).await.unwrap();
    let requests = all(&stub).await;
    let seen: Vec<String> = requests
        .iter()
        .map(|r| match r.url.query() {
            Some(q) => format!("{}?{q}", r.url.path()),
            None => r.url.path().to_owned(),
        })
        .collect();
    let base = format!("/proxy/sub{BASE}/a%2Fb%20c%3A%C3%BC");
    assert_eq!(seen, [base.clone(), format!("{base}?label=with+space%26%2B"), base]);
    let first = &requests[0];
    assert_eq!(first.headers.get("x-datadog-sdk-language").unwrap(), "rust");
    assert_eq!(first.headers.get("dd-api-key").unwrap(), "api");
    assert!(first.headers.get("dd-application-key").is_none(), "reads never send the app key");
    assert!(first.headers.get("content-type").is_none());
    assert!(client.prompt_cache_dir().join("a%2Fb%20c%3A%C3%BC").is_dir());
    // Dot segments cannot be addressed.
    let err = client.delete_prompt("..").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
}
