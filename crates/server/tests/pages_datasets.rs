//! A dataset's pages: records at any version with search and paging, the changes between
//! two versions, and CSV/JSONL downloads, with hostile text escaped.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::pages_access::Browser;
use crate::util::{App, Keys, V1, V2};

const HOSTILE: &str = "<script>alert(1)</script>";

fn doc(kind: &str, attributes: Value) -> Option<Value> {
    Some(json!({"data": {"type": kind, "attributes": attributes}}))
}

/// A dataset with version 1 (r1 hostile, r2, r3) and version 2 (r2 updated, r3 deleted, r4
/// inserted). Returns (project id, dataset id).
async fn two_versions(app: &App) -> (String, String) {
    let project =
        app.ok("POST", &format!("{V1}/projects"), doc("projects", json!({"name": "p"}))).await;
    let p = project["data"]["id"].as_str().unwrap().to_owned();
    let dataset = app
        .ok("POST", &format!("{V1}/{p}/datasets"), doc("datasets", json!({"name": "capitals"})))
        .await;
    let d = dataset["data"]["id"].as_str().unwrap().to_owned();
    let batch = format!("{V2}/{p}/datasets/{d}/batch_update");
    app.ok(
        "POST",
        &batch,
        doc(
            "datasets",
            json!({"insert_records": [
                {"id": "r1", "input": {"q": HOSTILE}, "expected_output": HOSTILE, "tags": [format!("t:{HOSTILE}")]},
                {"id": "r2", "input": {"q": "France"}, "expected_output": "Paris"},
                {"id": "r3", "input": {"q": "Spain"}, "expected_output": "Madrid"}]}),
        ),
    )
    .await;
    app.ok(
        "POST",
        &batch,
        doc(
            "datasets",
            json!({"update_records": [{"id": "r2", "expected_output": "Paris, France"}],
                   "delete_records": ["r3"],
                   "insert_records": [{"id": "r4", "input": {"q": "Italy"}, "expected_output": "Rome"}],
                   "create_new_version": true}),
        ),
    )
    .await;
    (p, d)
}

async fn page(app: &App, path: &str) -> String {
    let (status, body) = app.call("GET", path, Keys::Api, None).await;
    let text = body.as_str().map(str::to_owned).unwrap_or_else(|| body.to_string());
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    assert!(!text.contains("<script"), "{path} lets a script through:\n{text}");
    text
}

fn record_ids(page: &str) -> Vec<String> {
    page.split("<tr class=\"record\"><td>")
        .skip(1)
        .map(|rest| rest[..rest.find("</td>").unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn records_show_at_any_version_and_can_be_searched() {
    let app = App::new().await;
    let (_, d) = two_versions(&app).await;
    let at = format!("/llm/datasets/{d}");
    let current = page(&app, &at).await;
    assert_eq!(record_ids(&current), ["r1", "r2", "r4"], "{current}");
    assert!(current.contains("t:&lt;script&gt;") && current.contains("Paris, France"));
    let first = page(&app, &format!("{at}?version=1")).await;
    assert_eq!(record_ids(&first), ["r1", "r2", "r3"]);
    assert!(first.contains("viewing version 1"), "{first}");
    assert!(first.contains("download?version=1&amp;format=csv"), "{first}");
    // Search: any field, any case; the hostile text too.
    let found = page(&app, &format!("{at}?version=1&search=madrid")).await;
    assert_eq!(record_ids(&found), ["r3"]);
    let found = page(&app, &format!("{at}?search=%3Cscript")).await;
    assert_eq!(record_ids(&found), ["r1"]);
    let none = page(&app, &format!("{at}?search=nothing")).await;
    assert!(none.contains("No records containing this text"), "{none}");
    let (status, _) = app.call("GET", &format!("{at}?version=7"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.call("GET", &format!("{at}?version=x"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_diff_shows_inserted_updated_and_deleted_records_side_by_side() {
    let app = App::new().await;
    let (_, d) = two_versions(&app).await;
    let diff = page(&app, &format!("/llm/datasets/{d}/diff?from=1&to=2")).await;
    for (record, kind) in [("r2", "updated"), ("r3", "deleted"), ("r4", "inserted")] {
        assert!(
            diff.contains(&format!("<tr class=\"change {kind}\" data-record=\"{record}\">")),
            "{record} {kind}: {diff}"
        );
    }
    assert!(!diff.contains("data-record=\"r1\""), "r1 did not change: {diff}");
    assert!(
        diff.contains(">1 inserted<")
            && diff.contains(">1 updated<")
            && diff.contains(">1 deleted<")
    );
    // The update shows both states.
    let updated = &diff[diff.find("data-record=\"r2\"").unwrap()..];
    let updated = &updated[..updated.find("</tr>").unwrap()];
    assert!(updated.contains("Paris") && updated.contains("Paris, France"), "{updated}");
    // Reversed, the insert is a delete.
    let back = page(&app, &format!("/llm/datasets/{d}/diff?from=2&to=1")).await;
    assert!(back.contains("<tr class=\"change deleted\" data-record=\"r4\">"), "{back}");
    let same = page(&app, &format!("/llm/datasets/{d}/diff?from=2&to=2")).await;
    assert!(same.contains("No record differs"), "{same}");
    let (status, _) =
        app.call("GET", &format!("/llm/datasets/{d}/diff?from=0&to=2"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_diff_is_paged() {
    let app = App::new().await;
    let (p, d) = two_versions(&app).await;
    let inserts: Vec<Value> =
        (0..53).map(|i| json!({"id": format!("n{i:02}"), "input": {"i": i}})).collect();
    app.ok(
        "POST",
        &format!("{V2}/{p}/datasets/{d}/batch_update"),
        doc("datasets", json!({"insert_records": inserts, "create_new_version": true})),
    )
    .await;
    let first = page(&app, &format!("/llm/datasets/{d}/diff?from=2&to=3")).await;
    assert_eq!(first.matches("<tr class=\"change inserted\"").count(), 50);
    let next = first.split("href=\"").find(|s| s.contains("cursor=")).unwrap();
    let next = next[..next.find('"').unwrap()].replace("&amp;", "&").replace("&#x2f;", "/");
    let second = page(&app, &next).await;
    assert_eq!(second.matches("<tr class=\"change inserted\"").count(), 3, "{second}");
    assert!(second.contains("data-record=\"n52\"") && !second.contains("cursor="));
}

#[tokio::test]
async fn downloads_stream_a_version_as_csv_or_json_lines() {
    let app = App::new().await;
    let (p, d) = two_versions(&app).await;
    let (status, headers, csv) = Browser {
        loopback: true,
        ..Browser::get(&format!("/llm/datasets/{d}/download?version=1"))
    }
    .header("dd-api-key", crate::util::API)
    .send(&app)
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(headers["content-disposition"], "attachment; filename=\"capitals-v1.csv\"");
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert_eq!(lines[0], "id,input,expected_output,metadata,tags");
    assert!(lines[3].starts_with("\"r3\",") && lines[3].contains("Madrid"), "{csv}");
    // The same text as the API's export of that version.
    let (_, api) = app
        .call(
            "GET",
            &format!("/api/v2/llm-obs/v1/{p}/datasets/{d}/export?version=1"),
            Keys::Api,
            None,
        )
        .await;
    assert_eq!(api.as_str(), Some(csv.as_str()), "the page and the API export differ");
    let (status, headers, jsonl) =
        Browser::get(&format!("/llm/datasets/{d}/download?format=jsonl"))
            .header("dd-api-key", crate::util::API)
            .send(&app)
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let ids: Vec<String> = (jsonl.lines())
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["r1", "r2", "r4"]);
    let (status, _) =
        app.call("GET", &format!("/llm/datasets/{d}/download?format=xml"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_download_larger_than_a_chunk_holds_every_record() {
    let app = App::new().await;
    let (p, d) = two_versions(&app).await;
    let inserts: Vec<Value> =
        (0..2100).map(|i| json!({"id": format!("n{i:04}"), "input": {"i": i}})).collect();
    app.ok(
        "POST",
        &format!("{V2}/{p}/datasets/{d}/batch_update"),
        doc("datasets", json!({"insert_records": inserts, "create_new_version": true})),
    )
    .await;
    let (status, jsonl) =
        app.call("GET", &format!("/llm/datasets/{d}/download?format=jsonl"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = jsonl.as_str().unwrap();
    assert_eq!(text.lines().count(), 3 + 2100);
    assert!(text.ends_with("\"tags\":[]}\n"), "{}", &text[text.len() - 200..]);
    // The API's export streams the same chunks: the same text, and a bad version or
    // dataset is still a clear error before any record is written.
    let export = format!("/api/v2/llm-obs/v1/{p}/datasets/{d}/export");
    let (status, api) = app.call("GET", &format!("{export}?format=jsonl"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api.as_str(), Some(text), "the API export and the download differ");
    let (status, body) = app.call("GET", &format!("{export}?version=9"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let missing = format!("/api/v2/llm-obs/v1/{p}/datasets/nope/export");
    let (status, body) = app.call("GET", &missing, Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
