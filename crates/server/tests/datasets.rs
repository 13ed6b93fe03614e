//! Projects, datasets and versioned records (E1–E7).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::util::{App, Keys, V1, V2, detail};

fn doc(kind: &str, attributes: Value) -> Option<Value> {
    Some(json!({"data": {"type": kind, "attributes": attributes}}))
}

/// Creates project `p` and dataset `d`; returns their ids.
async fn setup(app: &App) -> (String, String) {
    let project =
        app.ok("POST", &format!("{V1}/projects"), doc("projects", json!({"name": "p"}))).await;
    let again =
        app.ok("POST", &format!("{V1}/projects"), doc("projects", json!({"name": "p"}))).await;
    assert_eq!(project["data"]["id"], again["data"]["id"], "create-or-get by name");
    // Getting an existing project is a read: the API key alone will do; creating is not.
    let (status, found) = app
        .call("POST", &format!("{V1}/projects"), Keys::Api, doc("projects", json!({"name": "p"})))
        .await;
    assert_eq!(
        (status, found["data"]["id"].clone()),
        (StatusCode::OK, project["data"]["id"].clone())
    );
    let (status, _) = app
        .call("POST", &format!("{V1}/projects"), Keys::Api, doc("projects", json!({"name": "new"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let project = project["data"]["id"].as_str().unwrap().to_owned();
    let dataset = app
        .ok(
            "POST",
            &format!("{V1}/{project}/datasets"),
            doc("datasets", json!({"name": "d", "description": "x"})),
        )
        .await;
    assert_eq!(dataset["data"]["attributes"]["current_version"], 0);
    (project, dataset["data"]["id"].as_str().unwrap().to_owned())
}

async fn batch(app: &App, project: &str, dataset: &str, attributes: Value) -> Value {
    app.ok(
        "POST",
        &format!("{V2}/{project}/datasets/{dataset}/batch_update"),
        doc("datasets", attributes),
    )
    .await
}

/// `(id, expected_output)` of every record of a version, following the cursor.
async fn pull(
    app: &App,
    project: &str,
    dataset: &str,
    version: Option<i64>,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut path = format!("{V2}/{project}/datasets/{dataset}/records?page[limit]=2");
        if let Some(v) = version {
            path.push_str(&format!("&filter[version]={v}"));
        }
        if !cursor.is_empty() {
            path.push_str(&format!("&page[cursor]={cursor}"));
        }
        let (status, page) = app.call("GET", &path, Keys::Api, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["data"].as_array().unwrap() {
            let expected =
                item["attributes"].get("expected_output").cloned().unwrap_or(Value::Null);
            out.push((item["id"].as_str().unwrap().to_owned(), expected));
        }
        cursor = page["meta"]["after"].as_str().unwrap().to_owned();
        if cursor.is_empty() {
            return out;
        }
    }
}

fn ids(records: &[(String, Value)]) -> Vec<&str> {
    records.iter().map(|(id, _)| id.as_str()).collect()
}

#[tokio::test]
async fn every_version_reads_back_as_it_was() {
    let app = App::new().await;
    let (p, d) = setup(&app).await;
    let inserted = batch(
        &app,
        &p,
        &d,
        json!({"insert_records": [
            {"id": "a", "input": {"q": 1}, "expected_output": "A", "tags": ["t:1"]},
            {"id": "b", "input": {"q": 2}, "expected_output": "B"},
            {"id": "c", "input": "plain", "metadata": {"m": true}},
        ]}),
    )
    .await;
    let data = inserted["data"].as_array().unwrap();
    assert_eq!(
        data.iter().map(|r| r["id"].clone()).collect::<Vec<_>>(),
        vec![json!("a"), json!("b"), json!("c")]
    );
    assert!(data.iter().all(|r| r["attributes"]["version"] == 1));

    let changed = batch(&app, &p, &d, json!({
        "insert_records": [{"id": "e", "input": {"q": 5}}],
        "update_records": [{"id": "a", "input": null, "expected_output": "A2", "metadata": null},
                           {"id": "c", "input": null, "expected_output": null, "metadata": null,
                            "tag_operations": {"add": ["x:y"]}},
                           {"id": "ghost", "expected_output": "ignored"}],
        "delete_records": ["b"],
    })).await;
    let data = changed["data"].as_array().unwrap();
    assert_eq!(data.len(), 4, "{changed}");
    assert!(data.iter().all(|r| r["attributes"]["version"] == 2));
    assert!(data.iter().any(|r| r["id"] == "b" && r["attributes"]["deleted_at"].is_string()));

    assert_eq!(ids(&pull(&app, &p, &d, None).await), vec!["a", "c", "e"]);
    let v1 = pull(&app, &p, &d, Some(1)).await;
    assert_eq!(
        v1,
        vec![("a".into(), json!("A")), ("b".into(), json!("B")), ("c".into(), Value::Null)]
    );
    assert_eq!(pull(&app, &p, &d, Some(2)).await[0], ("a".into(), json!("A2")));

    // Amending the current version changes it in place and makes no new version.
    let amended = batch(&app, &p, &d, json!({"update_records": [{"id": "a", "expected_output": "A3"}], "create_new_version": false})).await;
    assert_eq!(amended["data"][0]["attributes"]["version"], 2);
    assert_eq!(pull(&app, &p, &d, Some(2)).await[0].1, json!("A3"));
    assert_eq!(pull(&app, &p, &d, Some(1)).await[0].1, json!("A"));

    for bad in ["3", "-1"] {
        let (status, body) = app
            .call(
                "GET",
                &format!("{V2}/{p}/datasets/{d}/records?filter[version]={bad}"),
                Keys::Api,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            detail(&body),
            "invalid version: version is greater than the current version or negative"
        );
    }
}

/// Pages of `filter[tags]` are full: the filter applies before paging, so a page is short
/// only when it is the last, and carries no cursor then.
#[tokio::test]
async fn tag_filtered_pages_are_full_and_the_last_has_no_cursor() {
    let app = App::new().await;
    let (p, d) = setup(&app).await;
    let tagged = |id: &str| json!({"id": id, "input": id, "tags": ["t:1"]});
    let plain = |id: &str| json!({"id": id, "input": id});
    let records = [tagged("a"), plain("b"), plain("c"), plain("d"), tagged("e"), tagged("f")];
    batch(&app, &p, &d, json!({"insert_records": records})).await;
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!(
            "{V2}/{p}/datasets/{d}/records?page[limit]=2&filter[tags]=t:1&page[cursor]={cursor}"
        );
        let page = app.ok("GET", &path, None).await;
        let ids: Vec<String> = (page["data"].as_array().unwrap().iter())
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        cursor = page["meta"]["after"].as_str().unwrap().to_owned();
        pages.push((ids, !cursor.is_empty()));
        if cursor.is_empty() || pages.len() > 5 {
            break;
        }
    }
    let a_e = vec!["a".to_owned(), "e".to_owned()];
    assert_eq!(pages, [(a_e, true), (vec!["f".to_owned()], false)]);
}

#[tokio::test]
async fn nothing_changed_means_no_version_and_duplicates_are_skipped() {
    let app = App::new().await;
    let (p, d) = setup(&app).await;
    let empty = batch(
        &app,
        &p,
        &d,
        json!({"insert_records": [], "update_records": [], "delete_records": []}),
    )
    .await;
    assert_eq!(empty["data"], json!([]));
    let record = json!({"input": {"q": 1}, "expected_output": "A"});
    batch(&app, &p, &d, json!({"insert_records": [record.clone()]})).await;
    let again =
        batch(&app, &p, &d, json!({"insert_records": [record.clone()], "deduplicate": true})).await;
    assert_eq!(again["data"], json!([]));
    let (_, found) =
        app.call("GET", &format!("{V2}/{p}/datasets?filter[name]=d"), Keys::Api, None).await;
    assert_eq!(found["data"][0]["attributes"]["current_version"], 1);
    let kept = batch(&app, &p, &d, json!({"insert_records": [record], "deduplicate": false})).await;
    assert_eq!(kept["data"][0]["attributes"]["version"], 2);
    // A server-made id is 32 hex digits, like the client's.
    let id = kept["data"][0]["id"].as_str().unwrap();
    assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
}

#[tokio::test]
async fn a_bad_batch_stores_nothing() {
    let app = App::new().await;
    let (p, d) = setup(&app).await;
    let (status, body) = app
        .call("POST", &format!("{V2}/{p}/datasets/{d}/batch_update"), Keys::Both, doc("datasets", json!({
            "insert_records": [{"id": "ok", "input": 1}, {"id": "bad", "input": 2, "tags": ["bare"]}]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        detail(&body).contains("insert_records[1]") && detail(&body).contains("'bare'"),
        "{body}"
    );
    let (status, body) = app
        .call(
            "POST",
            &format!("{V2}/{p}/datasets/{d}/batch_update"),
            Keys::Both,
            doc(
                "datasets",
                json!({
            "insert_records": [{"id": "x"}]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).contains("input"), "{body}");
    assert!(pull(&app, &p, &d, None).await.is_empty());
}

/// Uploads `csv` to dataset `d` as ddtrace does: one multipart `file` field.
async fn upload(app: &App, d: &str, csv: &str) -> (StatusCode, Value) {
    let body = format!(
        "------------boundary------\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n------------boundary--------\r\n"
    );
    let headers = [("Content-Type", "multipart/form-data; boundary=----------boundary------")];
    let path = format!("{V1}/datasets/{d}/records/upload?deduplicate=True");
    app.send("POST", &path, Keys::Both, &headers, Some(body.into_bytes())).await
}

#[tokio::test]
async fn csv_uploads_make_one_version_and_a_broken_row_stores_nothing() {
    let app = App::new().await;
    let (p, d) = setup(&app).await;
    let good = "input,expected_output,metadata,id\r\n\"{\"\"q\"\": 1}\",\"\"\"A\"\"\",\"{}\",r1\r\n\"{\"\"q\"\": 2}\",\"\"\"\"\"\",\"\"\"\"\"\",r2\r\n";
    let (status, body) = upload(&app, &d, good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["attributes"]["version_number"], 1);
    assert_eq!(
        pull(&app, &p, &d, None).await,
        vec![("r1".into(), json!("A")), ("r2".into(), Value::Null)]
    );

    let broken = "input,expected_output,metadata,id\r\n\"{}\",\"\"\"\"\"\",\"{}\",r3\r\n{oops,\"\"\"\"\"\",\"{}\",r4\r\n";
    let (status, body) = upload(&app, &d, broken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).starts_with("row 3:"), "{body}");
    assert_eq!(pull(&app, &p, &d, None).await.len(), 2);
}

#[tokio::test]
async fn an_upload_that_is_not_multipart_gets_a_json_400() {
    let app = App::new().await;
    let (p, d) = setup(&app).await;
    for path in [
        format!("{V1}/datasets/{d}/records/upload"),
        format!("/api/v2/llm-obs/v2/{p}/datasets/{d}/records/upload"),
    ] {
        let headers = [("Content-Type", "application/json")];
        let (status, body) =
            app.send("POST", &path, Keys::Both, &headers, Some(b"{}".to_vec())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(detail(&body).contains("multipart/form-data"), "{path}: {body}");
    }
}

#[tokio::test]
async fn datasets_are_found_by_name_created_once_and_delete_softly() {
    let app = App::new().await;
    let (p, d) = setup(&app).await;
    batch(&app, &p, &d, json!({"insert_records": [{"input": {"q": 1}}]})).await;
    // Creating a name the project already has answers the existing dataset, on both
    // families, with its current version; nothing new is made.
    for family in [V1, V2] {
        let again = app
            .ok(
                "POST",
                &format!("{family}/{p}/datasets"),
                doc("datasets", json!({"name": "d", "description": "other"})),
            )
            .await;
        assert_eq!(again["data"]["id"], json!(d), "{family}");
        assert_eq!(again["data"]["attributes"]["current_version"], 1, "{family}");
        assert_eq!(again["data"]["attributes"]["description"], "x", "{family}");
    }
    let (_, named) =
        app.call("GET", &format!("{V2}/{p}/datasets?filter[name]=d"), Keys::Api, None).await;
    assert_eq!(named["data"].as_array().map(Vec::len), Some(1), "{named}");
    let (_, none) =
        app.call("GET", &format!("{V2}/{p}/datasets?filter[name]=D"), Keys::Api, None).await;
    assert_eq!(none["data"], json!([]));
    let deleted = app
        .ok(
            "POST",
            &format!("{V1}/datasets/delete"),
            doc("datasets", json!({"type": "soft", "dataset_ids": [d]})),
        )
        .await;
    assert!(deleted["data"][0]["attributes"]["deleted_at"].is_string());
    let (_, gone) =
        app.call("GET", &format!("{V2}/{p}/datasets?filter[name]=d"), Keys::Api, None).await;
    assert_eq!(gone["data"], json!([]));
    // Another org sees neither the project's datasets nor can write to them.
    let other = Keys::Custom(Some(crate::util::OTHER_API), Some(crate::util::OTHER_APP));
    let (status, _) = app
        .call(
            "POST",
            &format!("{V1}/{p}/datasets"),
            other,
            doc("datasets", json!({"name": "theirs"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_public_record_routes_keep_tags_and_check_them() {
    let app = App::new().await;
    let (p, d) = setup(&app).await;
    let records = format!("{V2}/{p}/datasets/{d}/records");
    let created = app
        .ok(
            "POST",
            &records,
            doc(
                "datasets",
                json!({"records": [{"input": {"q": 1}, "tags": ["team:ml", "env:dev"]}]}),
            ),
        )
        .await;
    let id = created["data"][0]["records"][0]["id"].as_str().unwrap().to_owned();
    let tags = |page: &Value| page["data"][0]["attributes"]["tags"].clone();
    let (_, page) =
        app.call("GET", &format!("{records}?filter[tags]=env:dev"), Keys::Api, None).await;
    assert_eq!(tags(&page), json!(["team:ml", "env:dev"]), "{page}");
    // A change without tags leaves them; a change with tags replaces them.
    let change = |body: Value| doc("datasets", json!({"records": [body]}));
    app.ok("PATCH", &records, change(json!({"id": id, "expected_output": "A"}))).await;
    let (_, page) = app.call("GET", &records, Keys::Api, None).await;
    assert_eq!(tags(&page), json!(["team:ml", "env:dev"]), "{page}");
    app.ok("PATCH", &records, change(json!({"id": id, "tags": ["env:prod"]}))).await;
    let (_, page) = app.call("GET", &records, Keys::Api, None).await;
    assert_eq!(tags(&page), json!(["env:prod"]), "{page}");
    // A tag without a key is refused and nothing is stored.
    let (status, body) = app
        .call(
            "POST",
            &records,
            Keys::Both,
            doc("datasets", json!({"records": [{"input": 2, "tags": ["bare"]}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(detail(&body).contains("'bare'"), "{body}");
    let (_, page) = app.call("GET", &records, Keys::Api, None).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
}
