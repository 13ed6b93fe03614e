//! Datasets against the real server: create, push, pull, versions, CSV, exports.

use llmobs::{
    Client, CreateDataset, CsvImport, DatasetRecord, ErrorKind, PullDataset, Push, RecordUpdate,
};
use llmobs_server::test_support::TestServer;
use serde_json::{Value, json};

pub fn client(server: &TestServer) -> Client {
    Client::builder()
        .origin(server.origin())
        .api_key(server.api_key())
        .app_key(server.app_key())
        .project_name("sdk-tests")
        .file_cache(false)
        .build()
        .unwrap()
}

fn record(i: usize) -> DatasetRecord {
    DatasetRecord::new(json!({"question": format!("q{i}")}))
        .expected_output(json!(format!("a{i}")))
        .metadata(json!({"n": i}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_push_pull_and_versions() {
    let server = TestServer::start().await;
    let client = client(&server);

    let records = (0..3).map(record).map(|r| r.tags(["team:ml"])).collect::<Vec<_>>();
    let mut ds = client.create_dataset("ds", records).await.unwrap();
    assert_eq!((ds.version(), ds.latest_version(), ds.len()), (1, 1, 3));
    assert!(ds.records().iter().all(|r| r.canonical_id.is_some()));
    assert!(ds.url().starts_with(&server.origin()));

    // Tags are checked before anything is sent.
    assert!(ds.append(record(9).tags(["bare"])).is_err());

    ds.append(record(3).id("user-id")).unwrap();
    ds.update(0, RecordUpdate { expected_output: Some(Value::Null), ..Default::default() })
        .unwrap();
    ds.update(1, RecordUpdate { metadata: Some(Value::Null), ..Default::default() }).unwrap();
    ds.add_tags(1, ["reviewed:yes"]).unwrap();
    ds.remove_tags(0, ["team:ml"]).unwrap();
    let deleted = ds.delete(2).unwrap();
    assert!(ds.has_changes());
    client.push_dataset(&mut ds).await.unwrap();
    assert!(!ds.has_changes());
    assert_eq!(ds.version(), 2);

    // A push without changes makes no version.
    client.push_dataset(&mut ds).await.unwrap();
    assert_eq!(ds.version(), 2);

    let pulled = client.pull_dataset("ds").await.unwrap();
    assert_eq!((pulled.version(), pulled.latest_version(), pulled.len()), (2, 2, 3));
    let by_id = |id: &str| pulled.records().iter().find(|r| r.id == id).unwrap().clone();
    assert_eq!(by_id(&ds.records()[0].id).expected_output, Some(json!("")));
    assert!(by_id(&ds.records()[0].id).tags.is_empty());
    assert_eq!(by_id(&ds.records()[1].id).metadata, Some(json!({})));
    let mut tags = by_id(&ds.records()[1].id).tags;
    tags.sort();
    assert_eq!(tags, vec!["reviewed:yes", "team:ml"]);
    assert_eq!(by_id("user-id").input, json!({"question": "q3"}));
    assert!(pulled.records().iter().all(|r| r.id != deleted.id));

    let v1 = client
        .pull_dataset_with("ds", &PullDataset { version: Some(1), ..Default::default() })
        .await
        .unwrap();
    assert_eq!((v1.version(), v1.latest_version(), v1.len()), (1, 2, 3));
    assert!(v1.records().iter().any(|r| r.id == deleted.id));

    let tagged = client
        .pull_dataset_with(
            "ds",
            &PullDataset { tags: vec!["reviewed:yes".into()], ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!((tagged.len(), tagged.filter_tags().len()), (1, 1));

    let err = client
        .pull_dataset_with("ds", &PullDataset { version: Some(9), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(client.pull_dataset("missing").await.unwrap_err().kind(), ErrorKind::NotFound);

    // Exports.
    let mut csv = Vec::new();
    pulled.write_csv(&mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    assert!(text.starts_with("id,input,expected_output,metadata,tags\n"));
    assert_eq!(text.lines().count(), 4);
    let mut jsonl = Vec::new();
    pulled.write_jsonl(&mut jsonl).unwrap();
    let lines: Vec<DatasetRecord> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, pulled.records());

    client.delete_dataset(ds.id()).await.unwrap();
    assert!(client.pull_dataset("ds").await.unwrap_err().is_not_found());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_creates_are_batched_into_one_version_and_pulled_completely() {
    let server = TestServer::start_with(llmobs_server::Config {
        records_page_size: 700,
        ..Default::default()
    })
    .await;
    let client = client(&server);
    let ds = client.create_dataset("big", (0..2500).map(record)).await.unwrap();
    assert_eq!((ds.version(), ds.len()), (1, 2500));
    let pulled = client.pull_dataset("big").await.unwrap();
    assert_eq!((pulled.version(), pulled.len()), (1, 2500));
    let mut ids: Vec<_> = pulled.records().iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2500);

    // The bulk path: every local record, a new version on the server.
    let mut small = client.create_dataset("bulk", (0..3).map(record)).await.unwrap();
    small.append(record(3)).unwrap();
    client
        .push_dataset_with(&mut small, &Push { bulk_upload: Some(true), ..Push::default() })
        .await
        .unwrap();
    let pulled = client.pull_dataset("bulk").await.unwrap();
    assert_eq!((pulled.len(), pulled.latest_version()), (4, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_imports_stream_into_one_upload() {
    let server = TestServer::start().await;
    let client = client(&server);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    std::fs::write(&path, "id|q|a|level|ignored\nx1|What?|Yes|easy|z\nx2|Qui é?|Oui|hard|z\n")
        .unwrap();

    let mut import = CsvImport::new(&path, "from-csv", ["q"]);
    import.delimiter = b'|';
    import.metadata_columns = vec!["level".into()];
    import.id_column = Some("id".into());
    let ds = client.create_dataset_from_csv(&import).await.unwrap();
    assert_eq!(ds.len(), 0);
    let pulled = client.pull_dataset("from-csv").await.unwrap();
    let mut records = pulled.records().to_vec();
    records.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(records[1].id, "x2");
    assert_eq!(records[1].input, json!({"q": "Qui é?"}));
    assert_eq!(records[1].expected_output, Some(json!({})));
    assert_eq!(records[1].metadata, Some(json!({"level": "hard"})));

    // Bad files are refused before any request.
    let mut missing = CsvImport::new(&path, "nope", ["absent"]);
    missing.delimiter = b'|';
    let err = client.create_dataset_from_csv(&missing).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(err.to_string().contains("input column 'absent' is not in the CSV header"), "{err}");
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let err =
        client.create_dataset_from_csv(&CsvImport::new(&empty, "nope", ["q"])).await.unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    assert!(client.pull_dataset("nope").await.unwrap_err().is_not_found());

    let named = CreateDataset { description: "d".into(), ..CreateDataset::new("described") };
    let ds = client.create_dataset_with(&named, Vec::<DatasetRecord>::new()).await.unwrap();
    assert_eq!((ds.description(), ds.version()), ("d", 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_dataset_again_adds_only_new_records() {
    let server = TestServer::start().await;
    let client = client(&server);

    let first = client.create_dataset("again", (0..3).map(record)).await.unwrap();
    assert_eq!(first.version(), 1);
    // The same records again: the same dataset, nothing duplicated, no new version.
    let second = client.create_dataset("again", (0..3).map(record)).await.unwrap();
    assert_eq!((second.id(), second.version()), (first.id(), 1));
    let pulled = client.pull_dataset("again").await.unwrap();
    assert_eq!((pulled.version(), pulled.len()), (1, 3));
    // One changed record: one new version holding it beside the others.
    let changed =
        (0..3).map(|i| if i == 1 { record(1).expected_output(json!("b1")) } else { record(i) });
    let third = client.create_dataset("again", changed).await.unwrap();
    assert_eq!((third.id(), third.version()), (first.id(), 2));
    let pulled = client.pull_dataset("again").await.unwrap();
    assert_eq!((pulled.version(), pulled.len()), (2, 4));
    assert_eq!(
        client
            .pull_dataset_with("again", &PullDataset { version: Some(1), ..Default::default() })
            .await
            .unwrap()
            .len(),
        3
    );
}
