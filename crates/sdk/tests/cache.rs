//! Cache behaviour against a scripted stub (spec §7.7).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use llmobs::{Client, Fallback, GetPrompt, NewVersion, Source, Template};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::util::{BASE, builder, eventually, hits, sdk};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn p_path(id: &str) -> String {
    format!("{BASE}/{id}")
}

async fn serve(stub: &MockServer, id: &str, status: u16, body: Value, delay: Duration) {
    Mock::given(method("GET"))
        .and(path(p_path(id)))
        .respond_with(ResponseTemplate::new(status).set_body_json(body).set_delay(delay))
        .mount(stub)
        .await;
}

async fn settle(client: &Client) {
    assert!(
        eventually(Duration::from_secs(5), || async { client.refreshes_in_flight() == 0 }).await,
        "a background refresh never finished"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_hit_is_served_while_exactly_one_refresh_runs() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = builder(&stub.uri(), dir.path()).cache_ttl(ms(1000)).build().unwrap();
    serve(&stub, "p", 200, sdk("p", "v1", "one"), Duration::ZERO).await;
    let first = client.get_prompt("p").await.unwrap();
    assert_eq!((first.version(), first.source()), ("v1", Source::Registry));
    let cached = client.get_prompt("p").await.unwrap();
    assert_eq!((cached.version(), cached.source()), ("v1", Source::Cache));
    assert_eq!(hits(&stub, &p_path("p")).await, 1);

    tokio::time::sleep(ms(1100)).await;
    stub.reset().await;
    serve(&stub, "p", 200, sdk("p", "v2", "two"), ms(500)).await;
    for _ in 0..5 {
        let stale = client.get_prompt("p").await.unwrap();
        assert_eq!((stale.version(), stale.source()), ("v1", Source::Cache));
        assert!(stale.age().unwrap() > ms(1000));
    }
    assert!(
        eventually(Duration::from_secs(5), || async { hits(&stub, &p_path("p")).await >= 1 }).await
    );
    settle(&client).await;
    assert_eq!(hits(&stub, &p_path("p")).await, 1, "five stale hits must cost one request");
    let fresh = client.get_prompt("p").await.unwrap();
    assert_eq!((fresh.version(), fresh.source()), ("v2", Source::Cache));
    assert!(fresh.age().unwrap() < ms(1000));
    assert_eq!(hits(&stub, &p_path("p")).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_registry_means_stale_forever() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = builder(&stub.uri(), dir.path()).cache_ttl(ms(200)).build().unwrap();
    serve(&stub, "p", 200, sdk("p", "v1", "one"), Duration::ZERO).await;
    client.get_prompt("p").await.unwrap();
    tokio::time::sleep(ms(300)).await;
    stub.reset().await;
    Mock::given(method("GET"))
        .and(path(p_path("p")))
        .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .mount(&stub)
        .await;
    for round in 1..=3 {
        let stale = client.get_prompt("p").await.unwrap();
        assert_eq!((stale.version(), stale.source()), ("v1", Source::Cache));
        settle(&client).await;
        assert_eq!(hits(&stub, &p_path("p")).await, round, "one refresh per call");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timing_out_registry_means_stale_too() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client =
        builder(&stub.uri(), dir.path()).cache_ttl(ms(200)).timeout(ms(300)).build().unwrap();
    serve(&stub, "p", 200, sdk("p", "v1", "one"), Duration::ZERO).await;
    client.get_prompt("p").await.unwrap();
    tokio::time::sleep(ms(300)).await;
    stub.reset().await;
    serve(&stub, "p", 200, sdk("p", "v2", "two"), ms(2000)).await;
    let stale = client.get_prompt("p").await.unwrap();
    assert_eq!(stale.version(), "v1");
    settle(&client).await;
    let still = client.get_prompt("p").await.unwrap();
    assert_eq!((still.version(), still.source()), ("v1", Source::Cache));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_on_refresh_evicts() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = builder(&stub.uri(), dir.path()).cache_ttl(ms(200)).build().unwrap();
    serve(&stub, "p", 200, sdk("p", "v1", "one"), Duration::ZERO).await;
    client.get_prompt("p").await.unwrap();
    tokio::time::sleep(ms(300)).await;
    stub.reset().await;
    serve(&stub, "p", 404, json!({"detail": "prompt with id 'p' not found"}), Duration::ZERO).await;
    let stale = client.get_prompt("p").await.unwrap();
    assert_eq!((stale.version(), stale.source()), ("v1", Source::Cache));
    settle(&client).await;
    let err = client.get_prompt("p").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(
        err.to_string(),
        "Prompt 'p' could not be fetched and no fallback was provided: prompt with id 'p' not found"
    );
    let file = client.prompt_cache_dir().join("p/c4ca0a086f77d3b9.json");
    assert!(!file.exists(), "the warm copy is evicted too");
    let fallback = client.get_prompt_with("p", &GetPrompt::new().fallback("fb")).await.unwrap();
    assert_eq!((fallback.source(), fallback.version()), (Source::Fallback, "fallback"));
    assert_eq!(hits(&stub, &p_path("p")).await, 3);
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_client_is_served_from_disk() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    Mock::given(method("GET"))
        .and(path(p_path("p")))
        .and(query_param("label", "prod"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sdk("p", "v-prod", "prod")))
        .mount(&stub)
        .await;
    serve(&stub, "p", 200, sdk("p", "v2", "latest"), Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/p/versions/1")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ID": "vu1", "prompt_uuid": "pu", "prompt_id": "p", "version": 1,
            "template": [{"role": "user", "content": "Hi {{name}}"}],
            "created_at": "2026-01-01T00:00:00Z", "version_created_at": "2026-01-01T00:00:00Z",
            "author": "a"
        })))
        .mount(&stub)
        .await;

    let first = builder(&stub.uri(), &root).build().unwrap();
    first.get_prompt("p").await.unwrap();
    first.get_prompt_with("p", &GetPrompt::new().label("prod")).await.unwrap();
    let v1 = first.get_prompt_with("p", &GetPrompt::new().version(1)).await.unwrap();
    assert_eq!((v1.version(), v1.prompt_version_uuid()), ("1", Some("vu1")));

    let prompt_dir = first.prompt_cache_dir().join("p");
    assert!(prompt_dir.starts_with(&root));
    let mut names: Vec<String> = std::fs::read_dir(&prompt_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["b80b064934cae83f.json", "c4ca0a086f77d3b9.json", "cfe710a6c06ed1b2.json"]);
    #[cfg(unix)]
    {
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&prompt_dir), 0o700);
        for name in &names {
            assert_eq!(mode(&prompt_dir.join(name)), 0o600, "{name}");
        }
    }
    let stored: Value =
        serde_json::from_slice(&std::fs::read(prompt_dir.join("c4ca0a086f77d3b9.json")).unwrap())
            .unwrap();
    assert_eq!(stored["prompt"]["source"], "cache");
    assert_eq!(stored["prompt"]["version"], "v2");
    assert_eq!(stored["prompt"]["label"], Value::Null);
    assert!(stored["timestamp"].as_f64().unwrap() > 1.7e9);

    stub.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .mount(&stub)
        .await;
    let second = builder(&stub.uri(), &root).build().unwrap();
    let latest = second.get_prompt("p").await.unwrap();
    assert_eq!((latest.version(), latest.source()), ("v2", Source::Cache));
    let prod = second.get_prompt_with("p", &GetPrompt::new().label("prod")).await.unwrap();
    assert_eq!((prod.version(), prod.label()), ("v-prod", Some("prod")));
    let v1 = second.get_prompt_with("p", &GetPrompt::new().version(1)).await.unwrap();
    assert!(v1.is_chat());
    assert_eq!(v1.format([("name", "Ada")]).unwrap().to_value()[0]["content"], "Hi Ada");
    assert_eq!(stub.received_requests().await.unwrap().len(), 0, "fresh files need no request");

    // Age the files beyond the TTL: a third client serves them and refreshes once.
    let old = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() - 600.0;
    for name in &names {
        let file = prompt_dir.join(name);
        let mut body: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        body["timestamp"] = json!(old);
        std::fs::write(&file, serde_json::to_vec(&body).unwrap()).unwrap();
    }
    let third = builder(&stub.uri(), &root).build().unwrap();
    let stale = third.get_prompt("p").await.unwrap();
    assert_eq!((stale.version(), stale.source()), ("v2", Source::Cache));
    assert!(stale.age().unwrap() >= Duration::from_secs(599));
    settle(&third).await;
    assert_eq!(stub.received_requests().await.unwrap().len(), 1);
    let again = third.get_prompt("p").await.unwrap();
    assert_eq!(again.version(), "v2", "a 503 keeps the stale copy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_or_truncated_files_are_ignored_and_replaced() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    serve(&stub, "p", 200, sdk("p", "v1", "one"), Duration::ZERO).await;
    let first = builder(&stub.uri(), dir.path()).build().unwrap();
    let file = first.prompt_cache_dir().join("p/c4ca0a086f77d3b9.json");
    first.get_prompt("p").await.unwrap();
    let good = std::fs::read(&file).unwrap();
    let broken: [&[u8]; 4] =
        [b"{", &good[..good.len() / 2], b"\xff\xfe", b"{\"prompt\": 3, \"timestamp\": 1}"];
    for (i, bytes) in broken.into_iter().enumerate() {
        std::fs::write(&file, bytes).unwrap();
        let client = builder(&stub.uri(), dir.path()).build().unwrap();
        let prompt = client.get_prompt("p").await.unwrap();
        assert_eq!((prompt.version(), prompt.source()), ("v1", Source::Registry), "case {i}");
        assert_eq!(hits(&stub, &p_path("p")).await, i + 2);
        let rewritten: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(rewritten["prompt"]["version"], "v1");
    }
}

#[tokio::test]
async fn a_zero_ttl_disables_both_tiers() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    serve(&stub, "p", 200, sdk("p", "v1", "one"), Duration::ZERO).await;
    let client = builder(&stub.uri(), dir.path()).cache_ttl(Duration::ZERO).build().unwrap();
    for _ in 0..3 {
        assert_eq!(client.get_prompt("p").await.unwrap().source(), Source::Registry);
    }
    assert_eq!(hits(&stub, &p_path("p")).await, 3);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no files");
}

#[tokio::test]
async fn clearing_each_tier() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    serve(&stub, "p", 200, sdk("p", "v1", "one"), Duration::ZERO).await;
    std::fs::write(dir.path().join("keep.txt"), "not ours").unwrap();
    let client = builder(&stub.uri(), dir.path()).build().unwrap();
    client.get_prompt("p").await.unwrap();
    assert_eq!(hits(&stub, &p_path("p")).await, 1);

    client.clear_prompt_cache(true, false).await;
    assert_eq!(client.get_prompt("p").await.unwrap().source(), Source::Cache);
    assert_eq!(hits(&stub, &p_path("p")).await, 1, "served from disk");

    client.clear_prompt_cache(false, true).await;
    assert!(!client.prompt_cache_dir().join("p").exists());
    assert!(dir.path().join("keep.txt").exists(), "only cache files are removed");
    assert_eq!(client.get_prompt("p").await.unwrap().source(), Source::Cache);
    assert_eq!(hits(&stub, &p_path("p")).await, 1, "memory still serves");

    client.clear_prompt_cache(true, true).await;
    assert_eq!(client.get_prompt("p").await.unwrap().source(), Source::Registry);
    assert_eq!(hits(&stub, &p_path("p")).await, 2);
}

#[tokio::test]
async fn a_successful_write_evicts_that_id_only() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    serve(&stub, "g", 200, sdk("g", "1", "g"), Duration::ZERO).await;
    serve(&stub, "g%3Ax", 200, sdk("g:x", "1", "gx"), Duration::ZERO).await;
    let version = json!({"ID": "v", "prompt_uuid": "u", "prompt_id": "g", "version": 2,
        "template": "t", "created_at": "t", "version_created_at": "t", "author": "a"});
    Mock::given(method("POST"))
        .and(path(format!("{BASE}/g/versions")))
        .respond_with(ResponseTemplate::new(200).set_body_json(version))
        .up_to_n_times(1)
        .mount(&stub)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{BASE}/g/versions")))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"detail": "boom"})))
        .mount(&stub)
        .await;
    let client = builder(&stub.uri(), dir.path()).build().unwrap();
    client.get_prompt("g").await.unwrap();
    client.get_prompt_with("g", &GetPrompt::new().label("x")).await.unwrap();
    client.get_prompt("g:x").await.unwrap();
    assert_eq!(hits(&stub, &p_path("g")).await, 2);

    let created =
        client.create_prompt_version("g", NewVersion::new(Template::Text("t".into()))).await;
    assert_eq!(created.unwrap().version, 2);
    assert!(!client.prompt_cache_dir().join("g").exists(), "the warm directory of g is gone");
    assert!(client.prompt_cache_dir().join("g%3Ax").exists(), "g:x keeps its files");
    assert_eq!(client.get_prompt("g:x").await.unwrap().source(), Source::Cache);
    assert_eq!(client.get_prompt("g").await.unwrap().source(), Source::Registry);
    assert_eq!(hits(&stub, &p_path("g")).await, 3);

    let failed =
        client.create_prompt_version("g", NewVersion::new(Template::Text("t".into()))).await;
    assert_eq!(failed.unwrap_err().to_string(), "server error (500): boom");
    assert_eq!(client.get_prompt("g").await.unwrap().source(), Source::Cache, "nothing evicted");
}

#[tokio::test]
async fn refresh_prompt_outcomes() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    serve(&stub, "p", 200, sdk("p", "v1", "one"), Duration::ZERO).await;
    let client = builder(&stub.uri(), dir.path()).build().unwrap();
    client.get_prompt("p").await.unwrap();
    stub.reset().await;
    serve(&stub, "p", 200, sdk("p", "v2", "two"), Duration::ZERO).await;
    let fresh = client.refresh_prompt("p", None).await.unwrap();
    assert_eq!((fresh.version(), fresh.source()), ("v2", Source::Registry));
    assert_eq!(client.get_prompt("p").await.unwrap().version(), "v2");

    stub.reset().await;
    serve(&stub, "p", 500, json!({"detail": "down"}), Duration::ZERO).await;
    let err = client.refresh_prompt("p", None).await.unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(err.to_string().ends_with(": down"), "{err}");
    assert_eq!(client.get_prompt("p").await.unwrap().version(), "v2", "kept");

    stub.reset().await;
    serve(&stub, "p", 404, json!({"detail": "gone"}), Duration::ZERO).await;
    assert!(client.refresh_prompt("p", None).await.unwrap_err().is_not_found());
    assert!(client.get_prompt("p").await.unwrap_err().is_not_found(), "evicted");
    assert_eq!(hits(&stub, &p_path("p")).await, 2);
}

#[tokio::test]
async fn the_memory_tier_is_a_bounded_lru() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    for id in ["a", "b", "c"] {
        serve(&stub, id, 200, sdk(id, "1", id), Duration::ZERO).await;
    }
    let client =
        builder(&stub.uri(), dir.path()).file_cache(false).hot_capacity(2).build().unwrap();
    client.get_prompt("a").await.unwrap();
    client.get_prompt("b").await.unwrap();
    assert_eq!(client.get_prompt("a").await.unwrap().source(), Source::Cache);
    client.get_prompt("c").await.unwrap();
    assert_eq!(client.get_prompt("a").await.unwrap().source(), Source::Cache, "a was touched");
    assert_eq!(client.get_prompt("b").await.unwrap().source(), Source::Registry, "b was evicted");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "file cache off");
}

#[tokio::test]
async fn an_id_too_long_for_a_directory_name_is_served_from_memory() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let id = "ü".repeat(90);
    let encoded = llmobs_core::encoding::path_segment(&id);
    assert!(encoded.len() > 255);
    serve(&stub, &encoded, 200, sdk(&id, "1", "t"), Duration::ZERO).await;
    let client = builder(&stub.uri(), dir.path()).build().unwrap();
    assert_eq!(client.get_prompt(&id).await.unwrap().source(), Source::Registry);
    assert_eq!(client.get_prompt(&id).await.unwrap().source(), Source::Cache);
    assert_eq!(hits(&stub, &p_path(&encoded)).await, 1);
}

#[tokio::test]
async fn environment_resolution_is_cached_in_memory_only() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let resolve = format!("{BASE}/p4/resolve");
    Mock::given(method("POST"))
        .and(path(resolve.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_json(sdk("p4", "3", "resolved")))
        .mount(&stub)
        .await;
    serve(&stub, "p4/versions/1", 200, sdk("p4", "1", "v1"), Duration::ZERO).await;
    let client = builder(&stub.uri(), dir.path()).env("production").build().unwrap();
    let plain = client.get_prompt("p4").await.unwrap();
    assert_eq!(plain.source(), Source::Resolve);
    assert_eq!(client.get_prompt("p4").await.unwrap().source(), Source::Cache);

    let options = GetPrompt::new()
        .targeting_key("user-1")
        .attribute("tier", "gold")
        .attribute("n", 3)
        .attribute("nested", json!({"a": [1, 2]}));
    client.get_prompt_with("p4", &options).await.unwrap();
    client.get_prompt_with("p4", &options).await.unwrap();
    client.get_prompt_with("p4", &options.clone().attribute("tier", "silver")).await.unwrap();
    let requests = crate::util::all(&stub).await;
    let bodies: Vec<Value> = requests
        .iter()
        .filter(|r| r.url.path() == resolve)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 3);
    assert_eq!(
        serde_json::to_string(&bodies[0]).unwrap(),
        r#"{"data":{"type":"prompt_resolve_requests","attributes":{"env":"production"}}}"#
    );
    assert_eq!(
        bodies[1],
        json!({"data": {"type": "prompt_resolve_requests", "attributes": {"env": "production",
            "targeting_key": "user-1", "context": {"tier": "gold", "n": 3, "nested": {"a": [1, 2]}}}}})
    );
    assert_eq!(bodies[2]["data"]["attributes"]["context"]["tier"], "silver");
    let first = &requests[0];
    assert_eq!(first.headers.get("dd-application-key").unwrap(), "app");
    assert_eq!(first.headers.get("content-type").unwrap(), "application/json");
    assert_eq!(first.headers.get("x-datadog-sdk-language").unwrap(), "rust");
    assert!(!client.prompt_cache_dir().join("p4").exists(), "resolve results never reach the disk");

    // A version bypasses resolution and sends no application key.
    let v1 = client.get_prompt_with("p4", &GetPrompt::new().version(1)).await.unwrap();
    assert_eq!(v1.source(), Source::Registry);
    let last = crate::util::all(&stub).await.pop().unwrap();
    assert_eq!(last.url.path(), format!("{BASE}/p4/versions/1"));
    assert!(last.headers.get("dd-application-key").is_none());

    // Without an application key, resolution makes no request.
    let no_app = llmobs::Client::builder()
        .origin(stub.uri())
        .api_key("api")
        .env("production")
        .cache_dir(dir.path())
        .build()
        .unwrap();
    let before = crate::util::all(&stub).await.len();
    let err = no_app.get_prompt("p4").await.unwrap_err();
    assert!(
        err.to_string().ends_with(
            "an app key or Service Access Token is required to resolve prompts for an environment"
        ),
        "{err}"
    );
    let fb = no_app.get_prompt_with("p4", &GetPrompt::new().fallback(Fallback::from("x"))).await;
    assert_eq!(fb.unwrap().source(), Source::Fallback);
    assert_eq!(crate::util::all(&stub).await.len(), before);
}

/// Runs in a child process started by `a_second_process_is_served_from_disk`.
#[tokio::test]
#[ignore = "helper: run by a_second_process_is_served_from_disk in a child process"]
async fn warm_child() {
    let (Ok(origin), Ok(dir)) =
        (std::env::var("LLMOBS_CHILD_ORIGIN"), std::env::var("LLMOBS_CHILD_DIR"))
    else {
        return;
    };
    let client = builder(&origin, std::path::Path::new(&dir)).build().unwrap();
    let prompt = client.get_prompt("p").await.unwrap();
    println!("CHILD source={} version={}", prompt.source(), prompt.version());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_is_served_from_disk() {
    let stub = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    serve(&stub, "p", 200, sdk("p", "v1", "one"), Duration::ZERO).await;
    builder(&stub.uri(), dir.path()).build().unwrap().get_prompt("p").await.unwrap();
    stub.reset().await;
    serve(&stub, "p", 503, json!({"detail": "down"}), Duration::ZERO).await;
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["cache::warm_child", "--exact", "--ignored", "--nocapture"])
        .env("LLMOBS_CHILD_ORIGIN", stub.uri())
        .env("LLMOBS_CHILD_DIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("CHILD source=cache version=v1"), "{stdout}");
    assert_eq!(hits(&stub, &p_path("p")).await, 0, "the child made no request");
}
