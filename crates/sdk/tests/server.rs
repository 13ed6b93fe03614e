//! Every registry call against the real server, in process (async and blocking).

use std::time::Duration;

use llmobs::{
    ChatItem, Client, ErrorKind, GetPrompt, NewPrompt, NewVersion, Source, Template,
    UpdatePromptRequest, UpdateVersionRequest,
};
use llmobs_server::test_support::TestServer;
use serde_json::{Map, json};

fn client(server: &TestServer, dir: &std::path::Path) -> Client {
    Client::builder()
        .origin(server.origin())
        .api_key(server.api_key())
        .app_key(server.app_key())
        .cache_dir(dir)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn chat(items: &[(&str, &str)]) -> Template {
    Template::Chat(items.iter().map(|(role, content)| ChatItem::message(*role, *content)).collect())
}

fn labels(labels: &[&str]) -> UpdateVersionRequest {
    UpdateVersionRequest {
        labels: Some(labels.iter().map(|l| l.to_string()).collect()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_registry_round_trip() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&server, dir.path());

    let template = chat(&[("system", "You are a {{persona}}."), ("user", "{{question}}")]);
    let created = client
        .create_prompt(NewPrompt::new("p1", template.clone()).title("T").description("D"))
        .await
        .unwrap();
    assert_eq!((created.prompt_id.as_str(), created.num_versions), ("p1", 1));
    assert_eq!((created.title.as_deref(), created.description.as_deref()), (Some("T"), Some("D")));
    assert!(!created.uuid.is_empty() && !created.author.is_empty());

    let err = client.create_prompt(NewPrompt::new("p1", template.clone())).await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Conflict, 409));
    assert_eq!(err.detail(), "prompt template already exists");

    assert!(client.list_prompts().await.unwrap().iter().any(|p| p.prompt_id == "p1"));

    let v2 = client
        .create_prompt_version(
            "p1",
            NewVersion::new(chat(&[("user", "Please answer: {{question}}")]))
                .description("v2")
                .user_version("v2"),
        )
        .await
        .unwrap();
    assert_eq!(
        (v2.version, v2.prompt_uuid.as_str(), v2.user_version.as_deref()),
        (2, created.uuid.as_str(), Some("v2"))
    );
    let versions = client.list_prompt_versions("p1").await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);

    let latest = client.get_prompt("p1").await.unwrap();
    assert_eq!((latest.id(), latest.version(), latest.source()), ("p1", "v2", Source::Registry));
    assert!(latest.prompt_uuid().is_some() && latest.prompt_version_uuid().is_some());
    assert_eq!(client.get_prompt("p1").await.unwrap().source(), Source::Cache);

    let v1 = client.get_prompt_with("p1", &GetPrompt::new().version(1)).await.unwrap();
    assert_eq!((v1.version(), v1.source()), ("1", Source::Registry));
    assert_eq!(v1.template(), &template);
    let rendered = v1.format([("persona", "x"), ("question", "y")]).unwrap();
    assert_eq!(
        rendered.to_value(),
        json!([{"role": "system", "content": "You are a x."}, {"role": "user", "content": "y"}])
    );
    assert_eq!(v1.variables(), ["persona", "question"]);
    let missing = client.get_prompt_with("p1", &GetPrompt::new().version(999).fallback("fb")).await;
    assert_eq!(missing.unwrap().version(), "fallback");
    let err = client.get_prompt_with("p1", &GetPrompt::new().version(999)).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");

    let updated = client
        .update_prompt(
            "p1",
            UpdatePromptRequest { title: Some("Updated".into()), description: Some("U".into()) },
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.title.as_deref(), updated.uuid.as_str()),
        (Some("Updated"), created.uuid.as_str())
    );
    let described = client
        .update_prompt_version(
            "p1",
            1,
            UpdateVersionRequest { description: Some("d1".into()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(described.description.as_deref(), Some("d1"));

    let deleted = client.delete_prompt("p1").await.unwrap();
    assert_eq!((deleted.prompt_id.as_str(), deleted.id.as_str()), ("p1", created.uuid.as_str()));
    let err = client.get_prompt("p1").await.unwrap_err();
    assert!(err.to_string().contains("could not be fetched"), "the write evicted the cache: {err}");
    assert!(client.list_prompt_versions("p1").await.unwrap().is_empty());
    assert!(!client.list_prompts().await.unwrap().iter().any(|p| p.prompt_id == "p1"));
    let err = client.create_prompt_version("p1", NewVersion::new(Template::Text("x".into()))).await;
    assert!(err.unwrap_err().is_not_found());
    assert!(client.delete_prompt("never-existed").await.unwrap_err().is_not_found());
    let again =
        client.create_prompt(NewPrompt::new("p1", Template::Text("Hello {name}".into()))).await;
    assert_eq!(again.unwrap().num_versions, 1);
    let text = client.get_prompt("p1").await.unwrap();
    assert_eq!(text.version(), "1");
    assert_eq!(text.format([("name", "A")]).unwrap().as_text(), Some("Hello A"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_class_from_the_server() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&server, dir.path());
    let err =
        client.create_prompt(NewPrompt::new("bad", Template::Chat(vec![]))).await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Validation, 400));
    assert!(err.to_string().contains("invalid prompt template"), "{err}");
    let err = client
        .create_prompt(NewPrompt::new("bad", Template::Text("   ".into())))
        .await
        .unwrap_err();
    assert_eq!(err.detail(), "invalid prompt template");
    let err = client
        .update_prompt(
            "nope",
            UpdatePromptRequest { title: Some("x".into()), ..Default::default() },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.detail().as_str()),
        (ErrorKind::NotFound, "prompt template not found")
    );
    client.create_prompt(NewPrompt::new("p", Template::Text("t".into()))).await.unwrap();
    let err = client
        .update_prompt_version(
            "p",
            99,
            UpdateVersionRequest { description: Some("x".into()), ..Default::default() },
        )
        .await
        .unwrap_err();
    assert_eq!(err.detail(), "prompt template version not found");
    let err = client.get_prompt("missing").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Prompt 'missing' could not be fetched and no fallback was provided: prompt with id 'missing' not found"
    );

    let wrong_app = Client::builder()
        .origin(server.origin())
        .api_key(server.api_key())
        .app_key("wrong")
        .file_cache(false)
        .build()
        .unwrap();
    let err =
        wrong_app.create_prompt(NewPrompt::new("q", Template::Text("t".into()))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(matches!(err.status(), 401 | 403));
    assert_eq!(wrong_app.list_prompts().await.unwrap().len(), 1, "lists need the API key only");

    let wrong_api = Client::builder()
        .origin(server.origin())
        .api_key("wrong")
        .file_cache(false)
        .build()
        .unwrap();
    assert_eq!(wrong_api.list_prompts().await.unwrap_err().kind(), ErrorKind::Auth);
    let fb = wrong_api.get_prompt_with("p", &GetPrompt::new().fallback("x")).await.unwrap();
    assert_eq!(fb.source(), Source::Fallback);
    assert!(
        wrong_api.get_prompt("p").await.unwrap_err().to_string().contains("could not be fetched")
    );

    // Any other status keeps its number: a body over the server's limit is a 413.
    let small = TestServer::start_with(llmobs_server::Config {
        max_body_bytes: 4096,
        ..llmobs_server::Config::default()
    })
    .await;
    let limited = self::client(&small, dir.path());
    let err = limited
        .create_prompt(NewPrompt::new("big", Template::Text("x".repeat(8192))))
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Other, 413), "{err}");

    // No server at all: a transport error, and the read path names it.
    let (origin, addr) = (small.origin(), small.addr());
    drop(small);
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let gone = Client::builder()
        .origin(origin)
        .api_key("k")
        .app_key("a")
        .file_cache(false)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = gone.delete_prompt("p").await.unwrap_err();
    assert!(err.is_transport() && err.status() == 0, "{err}");
    let err = gone.get_prompt("p").await.unwrap_err();
    assert!(
        err.to_string().contains("could not be fetched and no fallback was provided: "),
        "{err}"
    );

    let no_app = Client::builder()
        .origin(server.origin())
        .api_key(server.api_key())
        .file_cache(false)
        .build()
        .unwrap();
    assert_eq!(no_app.delete_prompt("p").await.unwrap_err().status(), 0);
    assert_eq!(no_app.get_prompt("p").await.unwrap().version(), "1");
    assert_eq!(no_app.list_prompt_versions("p").await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_moves_are_seen_through_get_prompt() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&server, dir.path());
    client.create_prompt(NewPrompt::new("p", Template::Text("one".into()))).await.unwrap();
    let none = client.get_prompt_with("p", &GetPrompt::new().label("production")).await.unwrap();
    assert_eq!(none.version(), "1", "a prompt without labels serves latest");
    client
        .create_prompt_version(
            "p",
            NewVersion::new(Template::Text("two".into())).user_version("v2"),
        )
        .await
        .unwrap();
    let moved = client.update_prompt_version("p", 1, labels(&["development"])).await.unwrap();
    assert_eq!(moved.labels, ["development"]);
    let dev = client.get_prompt_with("p", &GetPrompt::new().label("development")).await.unwrap();
    assert_eq!((dev.version(), dev.label()), ("1", Some("development")));
    assert_eq!(dev.to_annotation(llmobs::Vars::new())["label"], "development");
    let err = client.get_prompt_with("p", &GetPrompt::new().label("production")).await.unwrap_err();
    assert!(err.to_string().ends_with("exists but label 'production' was not found"), "{err}");

    client.update_prompt_version("p", 2, labels(&["development"])).await.unwrap();
    let dev = client.get_prompt_with("p", &GetPrompt::new().label("development")).await.unwrap();
    assert_eq!(
        (dev.version(), dev.source()),
        ("v2", Source::Registry),
        "the write evicted the cache"
    );
    let versions = client.list_prompt_versions("p").await.unwrap();
    assert_eq!(versions[0].labels, ["development"]);
    assert!(versions[1].labels.is_empty());
    let cleared = client.update_prompt_version("p", 2, labels(&[])).await.unwrap();
    assert!(cleared.labels.is_empty());

    client
        .create_prompt(NewPrompt::new("p3", Template::Text("a".into())).labels(["production"]))
        .await
        .unwrap();
    client
        .create_prompt_version(
            "p3",
            NewVersion::new(Template::Text("b".into())).labels(["production"]),
        )
        .await
        .unwrap();
    let prod = client.get_prompt_with("p3", &GetPrompt::new().label("production")).await.unwrap();
    assert_eq!(prod.version(), "2");

    // Labels that need query encoding.
    let table = encoding_cases();
    for case in table["labels"].as_array().unwrap() {
        let label = case["raw"].as_str().unwrap();
        client.update_prompt_version("p", 1, labels(&[label])).await.unwrap();
        let got = client.get_prompt_with("p", &GetPrompt::new().label(label)).await.unwrap();
        assert_eq!(got.version(), "1", "label {label:?}");
    }
}

/// The shared table of ids and labels that need encoding (`tests/shared/encoding.json`).
fn encoding_cases() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../tests/shared/encoding.json")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_that_need_encoding_and_a_path_prefix() {
    let server = TestServer::start_with_base_path("/proxy/sub").await;
    assert!(server.origin().ends_with("/proxy/sub"));
    let dir = tempfile::tempdir().unwrap();
    let client = client(&server, dir.path());
    let table = encoding_cases();
    let long = "x".repeat(table["long_id_length"].as_u64().unwrap() as usize);
    let mut ids: Vec<&str> =
        table["ids"].as_array().unwrap().iter().map(|c| c["raw"].as_str().unwrap()).collect();
    assert!(ids.len() >= 10);
    ids.push(&long);
    for &id in &ids {
        client.create_prompt(NewPrompt::new(id, Template::Text("Hi {name}".into()))).await.unwrap();
        let got = client.get_prompt(id).await.unwrap();
        assert_eq!((got.id(), got.version()), (id, "1"));
        let v1 = client.get_prompt_with(id, &GetPrompt::new().version(1)).await.unwrap();
        assert_eq!(v1.id(), id);
        client
            .update_prompt(
                id,
                UpdatePromptRequest { title: Some("t".into()), ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(client.list_prompt_versions(id).await.unwrap().len(), 1);
    }
    let listed: Vec<String> =
        client.list_prompts().await.unwrap().into_iter().map(|p| p.prompt_id).collect();
    for id in ids {
        assert!(listed.iter().any(|l| l == id), "{id} listed raw");
        client.delete_prompt(id).await.unwrap();
    }

    // `g` and `g:x` are independent cache entries.
    for id in ["g", "g:x"] {
        client.create_prompt(NewPrompt::new(id, Template::Text(id.into()))).await.unwrap();
        client.get_prompt(id).await.unwrap();
    }
    client
        .update_prompt("g", UpdatePromptRequest { title: Some("t".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(client.get_prompt("g:x").await.unwrap().source(), Source::Cache);
    assert_eq!(client.get_prompt("g").await.unwrap().source(), Source::Registry);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_placeholders_and_environments() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&server, dir.path());
    let mut config = Map::new();
    config.insert("model".into(), json!("m"));
    config.insert("temperature".into(), json!(0.2));
    client
        .create_prompt(NewPrompt::new("p-cfg", Template::Text("t".into())).config(config.clone()))
        .await
        .unwrap();
    assert_eq!(client.get_prompt("p-cfg").await.unwrap().config(), &config);

    let with_placeholder =
        Template::Chat(vec![ChatItem::message("system", "s"), ChatItem::placeholder("history")]);
    client.create_prompt(NewPrompt::new("p-ph", with_placeholder.clone())).await.unwrap();
    let got = client.get_prompt("p-ph").await.unwrap();
    assert_eq!(got.template(), &with_placeholder);
    let rendered = got
        .format(llmobs::Vars::new().with("history", json!([{"role": "user", "content": "hey"}])));
    assert_eq!(
        rendered.unwrap().to_value(),
        json!([{"role": "system", "content": "s"}, {"role": "user", "content": "hey"}])
    );
    assert!(got.format(llmobs::Vars::new()).is_err());

    let big = "x".repeat(3 << 20);
    client.create_prompt(NewPrompt::new("huge", Template::Text(big.clone()))).await.unwrap();
    assert_eq!(client.get_prompt("huge").await.unwrap().template(), &Template::Text(big));

    // Environments: a deployed version is resolved for DD_ENV.
    client.create_prompt(NewPrompt::new("p4", Template::Text("one".into()))).await.unwrap();
    client
        .create_prompt_version("p4", NewVersion::new(Template::Text("two".into())))
        .await
        .unwrap();
    let prod = Client::builder()
        .origin(server.origin())
        .api_key(server.api_key())
        .app_key(server.app_key())
        .env("production")
        .cache_dir(dir.path())
        .build()
        .unwrap();
    let latest = prod.get_prompt("p4").await.unwrap();
    assert_eq!((latest.version(), latest.source()), ("2", Source::Resolve));
    prod.update_prompt_version(
        "p4",
        1,
        UpdateVersionRequest { env_ids: Some(vec!["production".into()]), ..Default::default() },
    )
    .await
    .unwrap();
    let deployed =
        prod.get_prompt_with("p4", &GetPrompt::new().targeting_key("user-1")).await.unwrap();
    assert_eq!((deployed.version(), deployed.source()), ("1", Source::Resolve));
    assert_eq!(prod.refresh_prompt("p4", None).await.unwrap().version(), "1");
}

#[test]
fn the_blocking_client_against_the_server() {
    let server = TestServer::start_blocking();
    let dir = tempfile::tempdir().unwrap();
    let client = llmobs::blocking::Client::builder()
        .origin(server.origin())
        .api_key(server.api_key())
        .app_key(server.app_key())
        .cache_dir(dir.path())
        .cache_ttl(Duration::from_millis(300))
        .build()
        .unwrap();
    client.create_prompt(NewPrompt::new("b", Template::Text("Hi {name}".into()))).unwrap();
    let first = client.get_prompt("b").unwrap();
    assert_eq!(first.source(), Source::Registry);
    let cached = client.get_prompt("b").unwrap();
    assert_eq!(cached.source(), Source::Cache);
    client
        .create_prompt_version("b", NewVersion::new(Template::Text("Bye {name}".into())))
        .unwrap();
    assert_eq!(client.get_prompt("b").unwrap().version(), "2");
    // A stale hit on the calling thread refreshes on the runtime thread.
    client.update_prompt_version("b", 2, labels(&["production"])).unwrap();
    let by_label = client.get_prompt_with("b", GetPrompt::new().label("production")).unwrap();
    assert_eq!(by_label.version(), "2");
    std::thread::sleep(Duration::from_millis(400));
    client.create_prompt_version("b", NewVersion::new(Template::Text("Three".into()))).unwrap();
    client.get_prompt("b").unwrap();
    let clone = client.clone();
    assert_eq!(clone.list_prompt_versions("b").unwrap().len(), 3);
    assert!(client.refresh_prompt("nope", None).unwrap_err().is_not_found());
    client.clear_prompt_cache(true, true);
    assert_eq!(client.get_prompt("b").unwrap().version(), "3");
    assert!(client.update_prompt("b", UpdatePromptRequest::default()).is_err());
    client.delete_prompt("b").unwrap();
    assert!(client.list_prompts().unwrap().is_empty());
    drop(clone);
    drop(client);
}
