//! Load generator for `bench/experiments.sh`: pushes a dataset, ingests experiment events
//! (spans through the span intake, metrics through the events endpoint) from several
//! concurrent clients, and pulls the dataset back page by page. Prints one JSON line.
//!
//! `bench_experiments ORIGIN API_KEY APP_KEY RECORDS SPANS ROUNDS` — ingest and pull run
//! ROUNDS times each (a new experiment per ingest round); every round's figure is printed.

use std::time::Instant;

use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;

const V1: &str = "/api/unstable/llm-obs/v1";
const V2: &str = "/api/v2/llm-obs/v1";
const CLIENTS: usize = 4;
const PER_REQUEST: usize = 500;
const METRICS_PER_SPAN: usize = 3;

struct Api {
    http: reqwest::Client,
    origin: String,
    api: String,
    app: String,
}

impl Api {
    async fn post(&self, path: &str, body: &Value) -> Result<Value, Error> {
        let response = self
            .http
            .post(format!("{}{path}", self.origin))
            .header("DD-API-KEY", &self.api)
            .header("DD-APPLICATION-KEY", &self.app)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(format!("POST {path}: {status}: {text}").into());
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Result<Value, Error> {
        let response = self
            .http
            .get(format!("{}{path}", self.origin))
            .header("DD-API-KEY", &self.api)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {path}: {status}").into());
        }
        Ok(response.json().await?)
    }
}

fn doc(kind: &str, attributes: Value) -> Value {
    json!({"data": {"type": kind, "attributes": attributes}})
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().collect();
    let [_, origin, api, app, records, spans, rounds] = &args[..] else {
        return Err("usage: bench_experiments ORIGIN API_KEY APP_KEY RECORDS SPANS ROUNDS".into());
    };
    let (records, spans, rounds): (usize, usize, usize) =
        (records.parse()?, spans.parse()?, rounds.parse()?);
    let api = std::sync::Arc::new(Api {
        http: reqwest::Client::new(),
        origin: origin.clone(),
        api: api.clone(),
        app: app.clone(),
    });

    let project =
        api.post(&format!("{V1}/projects"), &doc("projects", json!({"name": "bench"}))).await?;
    let p = project["data"]["id"].as_str().ok_or("no project id")?.to_owned();
    let dataset =
        api.post(&format!("{V1}/{p}/datasets"), &doc("datasets", json!({"name": "bench"}))).await?;
    let d = dataset["data"]["id"].as_str().ok_or("no dataset id")?.to_owned();

    let started = Instant::now();
    for (batch, first) in (0..records).step_by(1000).enumerate() {
        let inserts: Vec<Value> = (first..(first + 1000).min(records))
            .map(|i| {
                json!({"id": format!("rec-{i:06}"), "input": {"question": format!("question {i}?")},
                            "expected_output": format!("answer {i}"), "metadata": {"i": i}})
            })
            .collect();
        let body = doc(
            "datasets",
            json!({"insert_records": inserts, "deduplicate": false, "create_new_version": batch == 0}),
        );
        api.post(&format!("{V2}/{p}/datasets/{d}/batch_update"), &body).await?;
    }
    let push_s = started.elapsed().as_secs_f64();

    let mut events_per_s = Vec::new();
    let mut pull_s = Vec::new();
    for _ in 0..rounds {
        let (rate, seconds) =
            (ingest(&api, &p, &d, spans).await?, pull(&api, &p, &d, records).await?);
        events_per_s.push(rate);
        pull_s.push(seconds);
    }
    println!(
        "{}",
        json!({"project": p, "dataset": d, "records": records, "push_s": push_s,
               "events": spans * (1 + METRICS_PER_SPAN), "events_per_s": events_per_s, "pull_s": pull_s})
    );
    Ok(())
}

/// Ingests `spans` spans and their metrics into a new experiment; returns events per second.
async fn ingest(api: &std::sync::Arc<Api>, p: &str, d: &str, spans: usize) -> Result<f64, Error> {
    let experiment = api
        .post(
            &format!("{V1}/experiments"),
            &doc("experiments", json!({"name": "bench", "project_id": p, "dataset_id": d})),
        )
        .await?;
    let e = experiment["data"]["id"].as_str().ok_or("no experiment id")?.to_owned();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (api, e) = (api.clone(), e.clone());
        tasks.push(tokio::spawn(async move {
            let mine: Vec<usize> = (0..spans).filter(|i| i % CLIENTS == client).collect();
            for chunk in mine.chunks(PER_REQUEST) {
                let spans: Vec<Value> = chunk
                    .iter()
                    .map(|i| json!({"trace_id": format!("{i:032x}"), "span_id": i.to_string(), "parent_id": "undefined",
                        "name": "task", "start_ns": 1_795_234_552_385_792_731_i64 + *i as i64, "duration": 1000, "status": "ok",
                        "meta": {"span": {"kind": "experiment"}, "input": {"question": "q"}, "output": "a", "expected_output": "a"},
                        "tags": [format!("experiment_id:{e}"), format!("dataset_record_id:rec-{i:06}")]}))
                    .collect();
                api.post("/api/v2/llmobs", &json!([{"_dd.stage": "raw", "event_type": "span", "_dd.scope": "experiments", "spans": spans}])).await?;
                let metrics: Vec<Value> = chunk
                    .iter()
                    .flat_map(|i| (0..METRICS_PER_SPAN).map(move |m| (i, m)))
                    .map(|(i, m)| json!({"metric_source": "custom", "span_id": i.to_string(), "trace_id": format!("{i:032x}"),
                        "timestamp_ms": 1_795_234_552_385_i64, "metric_type": "score", "label": format!("eval{m}"),
                        "score_value": 0.5, "error": null, "tags": [], "experiment_id": e, "status": "OK"}))
                    .collect();
                let body = doc("experiments", json!({"scope": "experiments", "metrics": metrics, "tags": ["run_id:bench", "run_iteration:1"]}));
                api.post(&format!("{V1}/experiments/{e}/events"), &body).await?;
            }
            Ok::<(), Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }

    Ok((spans * (1 + METRICS_PER_SPAN)) as f64 / started.elapsed().as_secs_f64())
}

/// Pulls every record of the dataset's latest version; returns the seconds it took.
async fn pull(api: &Api, p: &str, d: &str, records: usize) -> Result<f64, Error> {
    let started = Instant::now();
    let (mut pulled, mut cursor) = (0, String::new());
    loop {
        let mut path = format!("{V2}/{p}/datasets/{d}/records?");
        if !cursor.is_empty() {
            path.push_str(&format!("page[cursor]={cursor}"));
        }
        let page = api.get(&path).await?;
        pulled += page["data"].as_array().map_or(0, Vec::len);
        cursor = page["meta"]["after"].as_str().unwrap_or("").to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if pulled != records {
        return Err(format!("pulled {pulled} records, pushed {records}").into());
    }
    Ok(seconds)
}
