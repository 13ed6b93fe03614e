//! The web UI's pages: status, the experiment summary's numbers, paging, errors as HTML,
//! who sees what, and hostile text escaped in every field a page shows.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::util::{App, Keys, PROMPTS, V1, V2};

pub(crate) const HOSTILE: &str = "<script>alert(1)</script>";

pub(crate) fn doc(kind: &str, attributes: Value) -> Option<Value> {
    Some(json!({"data": {"type": kind, "attributes": attributes}}))
}

fn now_ns() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since.as_nanos()).unwrap()
}

/// A page's HTML, asserting its status.
pub(crate) async fn html(app: &App, path: &str, keys: Keys, want: StatusCode) -> String {
    let (status, body) = app.call("GET", path, keys, None).await;
    let text = body.as_str().map(str::to_owned).unwrap_or_else(|| body.to_string());
    assert_eq!(status, want, "GET {path}: {text}");
    text
}

pub(crate) fn assert_escaped(page: &str, path: &str) {
    assert!(!page.contains("<script"), "{path} lets a script through:\n{page}");
    assert!(page.contains("&lt;script&gt;"), "{path} does not show the hostile text:\n{page}");
}

/// A project, a dataset with a hostile record, an experiment with `records` spans through
/// the intake (three of them evaluated), a child span, and a prompt: hostile text in the
/// names, the record, the span name, a tag and the prompt id. Returns the dataset and
/// experiment ids.
pub(crate) async fn hostile_data(app: &App, records: usize) -> (String, String) {
    let project =
        app.ok("POST", &format!("{V1}/projects"), doc("projects", json!({"name": HOSTILE}))).await;
    let p = project["data"]["id"].as_str().unwrap().to_owned();
    let dataset = app
        .ok(
            "POST",
            &format!("{V1}/{p}/datasets"),
            doc("datasets", json!({"name": HOSTILE, "description": HOSTILE})),
        )
        .await;
    let d = dataset["data"]["id"].as_str().unwrap().to_owned();
    app.ok(
        "POST",
        &format!("{V2}/{p}/datasets/{d}/batch_update"),
        doc("datasets", json!({"insert_records": [{"id": "r1", "input": {"q": HOSTILE},
            "expected_output": HOSTILE, "metadata": {"m": HOSTILE}, "tags": [format!("t:{HOSTILE}")]}]})),
    )
    .await;
    let created = app
        .ok(
            "POST",
            &format!("{V1}/experiments"),
            doc(
                "experiments",
                json!({"name": HOSTILE, "dataset_id": d, "project_id": p,
                "dataset_version": 1, "config": {}, "metadata": {}, "ensure_unique": true}),
            ),
        )
        .await;
    let e = created["data"]["id"].as_str().unwrap().to_owned();
    let start = now_ns() - 60_000_000_000;
    let mut spans: Vec<Value> = (0..records)
        .map(|i| {
            json!({"trace_id": format!("t{i}"), "span_id": format!("s{i:03}"), "parent_id": "undefined",
                "name": HOSTILE, "start_ns": start + i as i64, "duration": (i as i64 + 1) * 1_000_000,
                "status": if i == 0 { "error" } else { "ok" },
                "meta": {"span": {"kind": "experiment"}, "input": {"q": HOSTILE}, "output": HOSTILE,
                         "expected_output": HOSTILE},
                "tags": [format!("experiment_id:{e}"), format!("note:{HOSTILE}"),
                         format!("dataset_record_id:{HOSTILE}{i:03}")]})
        })
        .collect();
    spans.push(json!({"trace_id": "t0", "span_id": "child", "parent_id": "s000", "name": HOSTILE,
        "start_ns": start + 5, "duration": 1000, "status": "ok",
        "meta": {"span": {"kind": "llm"}, "input": {"value": HOSTILE}, "output": {"value": "ok"}},
        "tags": ["ml_app:app", format!("note:{HOSTILE}")]}));
    let body = json!([{"_dd.stage": "raw", "event_type": "span", "spans": spans}]);
    let (status, answer) = app.call("POST", "/api/v2/llmobs", Keys::Api, Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let metric = |span: &str, label: &str, kind: &str, value: Value| {
        let mut m = json!({"metric_source": "custom", "span_id": span, "trace_id": "t", "timestamp_ms": 1,
            "metric_type": kind, "label": label, "tags": [], "reasoning": HOSTILE});
        m[format!("{kind}_value")] = value;
        m
    };
    let metrics = vec![
        metric("s000", "exact", "boolean", json!(true)),
        metric("s001", "exact", "boolean", json!(true)),
        metric("s002", "exact", "boolean", json!(false)),
        metric("s000", "quality", "score", json!(0.2)),
        metric("s001", "quality", "score", json!(0.4)),
        metric("s002", "quality", "score", json!(0.9)),
        metric("s000", HOSTILE, "categorical", json!(HOSTILE)),
        metric("s001", HOSTILE, "categorical", json!("b")),
        metric("s002", HOSTILE, "categorical", json!(HOSTILE)),
        json!({"metric_source": "summary", "span_id": "", "trace_id": "", "timestamp_ms": 2,
               "metric_type": "categorical", "label": HOSTILE, "categorical_value": HOSTILE}),
    ];
    let (status, answer) = app
        .call(
            "POST",
            &format!("{V1}/experiments/{e}/events"),
            Keys::Both,
            doc(
                "experiments",
                json!({"scope": "experiments", "tags": ["run_id:r"], "metrics": metrics}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let prompt = json!({"prompt_id": "<script>x", "title": HOSTILE,
                        "template": [{"role": "user", "content": "hi"}]});
    app.ok("POST", PROMPTS, Some(prompt)).await;
    (d, e)
}

/// The `href`s of a piece of page, with the `/` escape undone.
fn links_of(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].replace("&#x2f;", "/"))
        .collect()
}

#[tokio::test]
async fn every_page_answers_and_escapes_hostile_text() {
    let app = App::new().await;
    let (d, e) = hostile_data(&app, 3).await;
    for path in [
        "/".to_owned(),
        "/llm/experiments".to_owned(),
        "/llm/datasets".to_owned(),
        "/llm/prompts".to_owned(),
        "/llm/traces".to_owned(),
        format!("/llm/experiments/{e}"),
        format!("/llm/datasets/{d}"),
    ] {
        let page = html(&app, &path, Keys::Api, StatusCode::OK).await;
        assert_escaped(&page, &path);
        assert!(page.contains("<nav>") && page.contains("class=\"crumbs\""), "{path}: no layout");
    }
    // The header reaches the review pages, and marks where the reader is.
    let queues = html(&app, "/llm/annotations", Keys::Api, StatusCode::OK).await;
    let nav = &queues[queues.find("<nav>").unwrap()..queues.find("</nav>").unwrap()];
    assert!(nav.contains("class=\"on\">Annotations</a>"), "{nav}");
    assert!(links_of(nav).contains(&"/llm/annotations".to_owned()), "{nav}");
    // The hostile text of each field reaches its page, escaped.
    let traces = html(&app, "/llm/traces", Keys::Api, StatusCode::OK).await;
    assert!(traces.contains("note:&lt;script&gt;"), "a span tag: {traces}");
    let prompts = html(&app, "/llm/prompts", Keys::Api, StatusCode::OK).await;
    assert!(prompts.contains("&lt;script&gt;x</a></td>"), "a prompt id: {prompts}");
    let dataset = html(&app, &format!("/llm/datasets/{d}"), Keys::Api, StatusCode::OK).await;
    assert!(dataset.contains("t:&lt;script&gt;"), "a record tag: {dataset}");
    // A search that matches nothing, and filters, still answer.
    let none = html(&app, "/llm/traces?query=%40name%3Anothing", Keys::Api, StatusCode::OK).await;
    assert!(none.contains("No spans"), "{none}");
    let none = html(&app, "/llm/experiments?name=nothing", Keys::Api, StatusCode::OK).await;
    assert!(none.contains("No experiments."), "{none}");
}

#[tokio::test]
async fn the_experiment_summary_shows_datadogs_aggregates() {
    let app = App::new().await;
    let (_, e) = hostile_data(&app, 3).await;
    let page = html(&app, &format!("/llm/experiments/{e}"), Keys::Api, StatusCode::OK).await;
    let card = |label: &str| {
        let start = page
            .find(&format!("data-summary=\"{label}\""))
            .unwrap_or_else(|| panic!("no card {label}: {page}"));
        let end = page[start..].find("</div></div>").unwrap() + start;
        page[start..end].to_owned()
    };
    // Two of three true; scores 0.2, 0.4, 0.9: mean 0.5, p50 0.4, p90 0.9 (nearest rank).
    assert!(
        card("exact").contains(">66.7%<") && card("exact").contains("2 of 3 true"),
        "{}",
        card("exact")
    );
    assert!(
        card("quality").contains(">0.5<") && card("quality").contains("p50 0.4 · p90 0.9"),
        "{}",
        card("quality")
    );
    let categorical = card("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;");
    assert!(
        categorical.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;: 2 · b: 1"),
        "{categorical}"
    );
    // Three records, the first failed; durations 1, 2, 3 ms.
    assert!(
        card("records").contains(">3<") && card("records").contains("1 with errors"),
        "{}",
        card("records")
    );
    assert!(
        card("duration").contains(">2.0 ms<")
            && card("duration").contains("p90 3.0 ms · p99 3.0 ms"),
        "{}",
        card("duration")
    );
}

#[tokio::test]
async fn the_experiment_records_are_paged() {
    let app = App::new().await;
    let (_, e) = hostile_data(&app, 52).await;
    let path = format!("/llm/experiments/{e}");
    let first = html(&app, &path, Keys::Api, StatusCode::OK).await;
    assert_eq!(
        first.matches("<tr class=\"record\">").count(),
        50,
        "the first page holds 50 records"
    );
    let next = first.split("href=\"").find(|s| s.contains("cursor=")).unwrap();
    let next = next[..next.find('"').unwrap()].replace("&amp;", "&").replace("&#x2f;", "/");
    assert!(next.starts_with(&path), "{next}");
    let second = html(&app, &next, Keys::Api, StatusCode::OK).await;
    assert_eq!(second.matches("<tr class=\"record\">").count(), 2, "{second}");
    assert!(!second.contains("cursor="), "the last page links no further");
    let bad =
        html(&app, &format!("{path}?cursor=nonsense"), Keys::Api, StatusCode::BAD_REQUEST).await;
    assert!(bad.starts_with("<!doctype html>") && bad.contains("cursor"), "{bad}");
}

#[tokio::test]
async fn errors_are_html_pages_and_keys_see_their_own_org() {
    let app = App::new().await;
    let (d, e) = hostile_data(&app, 1).await;
    let missing = html(&app, "/llm/experiments/nope", Keys::Api, StatusCode::NOT_FOUND).await;
    assert!(missing.starts_with("<!doctype html>") && missing.contains("nope"), "{missing}");
    // Another org's key sees neither the items nor them in its lists.
    let other = Keys::Custom(Some(crate::util::OTHER_API), None);
    html(&app, &format!("/llm/experiments/{e}"), other, StatusCode::NOT_FOUND).await;
    html(&app, &format!("/llm/datasets/{d}"), other, StatusCode::NOT_FOUND).await;
    for path in ["/", "/llm/experiments", "/llm/datasets", "/llm/prompts"] {
        let page = html(&app, path, other, StatusCode::OK).await;
        assert!(!page.contains("&lt;script&gt;"), "{path} shows another org's data: {page}");
    }
    // Without a key, from an address that is not loopback: 401, as an HTML page.
    let page = html(&app, "/", Keys::None, StatusCode::UNAUTHORIZED).await;
    assert!(page.starts_with("<!doctype html>"), "{page}");
}

#[tokio::test]
async fn loopback_visitors_need_no_key_and_see_the_default_org() {
    let app = App::new().await;
    let (_, e) = hostile_data(&app, 1).await;
    // No org named `default` yet: the lists say so; an item's page shows its owner's org.
    let (status, page) = app.loopback("/llm/experiments").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    assert!(page.contains("no org named &#x27;default&#x27;"), "{page}");
    let (status, page) = app.loopback(&format!("/llm/experiments/{e}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("org: ") && page.contains("loopback"), "{page}");
    // With the default org, the lists show it (and not org a's experiment).
    app.store().create_org_keys("default", "default-api-key", "default-app-key").await.unwrap();
    let (status, page) = app.loopback("/llm/experiments").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("org: default") && page.contains("No experiments."), "{page}");
}
