//! Fills a SQLite store for the web UI benchmark (`bench/ui.sh`), through the store's own
//! write paths (experiment events and the span intake), without HTTP.
//!
//! `cargo run --release -p llmobs-store --example fill_ui -- DB_FILE RECORDS API_KEY APP_KEY`
//!
//! One project and dataset, and two experiments on it (a baseline and a candidate, the
//! candidate a rerun of the baseline) of RECORDS records each: every record has a
//! boolean `exact`, a score `quality` and a categorical `tone` evaluation, and its task
//! opened four child spans (workflow, retrieval, llm, tool), so the store holds
//! 2 × RECORDS × 5 spans (1,000,000 for 100,000 records). One record in 50 failed. The
//! generator is seeded; it prints what the benchmark requests: the experiments' ids, a
//! cursor deep into the baseline's records and one record's trace id.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use llmobs_core::experiments::{CreateExperiment, PostEvents};
use llmobs_store::{Database, Store};
use serde_json::json;
use serde_json::value::RawValue;

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const KINDS: [&str; 4] = ["workflow", "retrieval", "llm", "tool"];
const TONES: [&str; 3] = ["neutral", "friendly", "curt"];

fn raw(value: serde_json::Value) -> Box<RawValue> {
    RawValue::from_string(value.to_string()).expect("JSON")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, records, api, app] = args.as_slice() else {
        return Err("usage: fill_ui DB_FILE RECORDS API_KEY APP_KEY".into());
    };
    let records: u64 = records.parse()?;
    let store = Store::open(&Database::Sqlite(db.into())).await?;
    let org = store.create_org_keys("default", api, app).await?.org;
    let (project, _) = store.project_by_name(&org, "bench", "ui-bench", None).await?;
    let (dataset, _) =
        store.create_dataset(&org, "bench", &project, "questions", None, None).await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as i64;
    let started = Instant::now();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut ids = Vec::new();
    let mut deep = String::new();
    let mut trace = String::new();
    for (run, name) in ["baseline", "candidate"].into_iter().enumerate() {
        let request = CreateExperiment {
            name: name.into(),
            description: Some(format!("the {name} run")),
            dataset_id: dataset.clone(),
            project_id: project.clone(),
            dataset_version: None,
            config: Some(serde_json::from_value(
                json!({"model": "gpt-4o-mini", "temperature": run}),
            )?),
            metadata: None,
            ensure_unique: None,
            run_count: None,
            parent_experiment_id: ids.first().cloned(),
        };
        let (id, _) = store.create_experiment(&org, "bench", request).await?;
        let batch = 1000;
        let mut done = 0;
        while done < records {
            let mut spans = Vec::new();
            let mut metrics = Vec::new();
            let mut children = Vec::new();
            for r in done..(done + batch).min(records) {
                let span_id = format!("{run}{r:09}");
                let trace_id = format!("{:032x}", (run as u128) << 64 | r as u128);
                let start = now - 3_600_000_000_000 + r as i64 * 10_000_000;
                let failed = rng.below(50) == 0;
                spans.push(raw(json!({
                    "trace_id": trace_id, "span_id": span_id, "parent_id": "undefined",
                    "name": "answer", "start_ns": start,
                    "duration": 1_000_000 + rng.below(900_000_000) as i64,
                    "status": if failed { "error" } else { "ok" },
                    "meta": {"span": {"kind": "experiment"}, "input": {"question": format!("question {r}")},
                             "output": format!("answer {} to {r}", rng.below(1000)),
                             "expected_output": format!("answer to {r}")},
                    "tags": [format!("experiment_id:{id}"), format!("dataset_record_id:rec{r:09}")],
                })));
                let m = |label: &str, kind: &str, value: serde_json::Value| {
                    let mut metric = json!({"span_id": span_id, "trace_id": trace_id, "timestamp_ms": start / 1_000_000,
                        "metric_type": kind, "label": label, "reasoning": "because"});
                    metric[format!("{kind}_value")] = value;
                    raw(metric)
                };
                metrics.push(m("exact", "boolean", json!(rng.below(4) != 0)));
                metrics.push(m("quality", "score", json!(rng.below(1000) as f64 / 1000.0)));
                metrics.push(m("tone", "categorical", json!(TONES[rng.below(3) as usize])));
                for (step, kind) in KINDS.iter().enumerate() {
                    let parent = if step == 0 { span_id.clone() } else { format!("{span_id}c0") };
                    children.push(raw(json!({
                        "trace_id": trace_id, "span_id": format!("{span_id}c{step}"), "parent_id": parent,
                        "name": format!("{kind}_step"), "start_ns": start + 1000 * (step as i64 + 1),
                        "duration": 500_000 + rng.below(100_000_000) as i64, "status": "ok",
                        "meta": {"span": {"kind": kind}, "input": {"value": format!("question {r} for {kind}")},
                                 "output": {"value": format!("{kind} answered {r}")}},
                        "tags": [format!("experiment_id:{id}"), "ml_app:ui-bench".to_owned()],
                    })));
                }
                if run == 0 && r == records * 9 / 10 {
                    deep = format!("{start}~{span_id}");
                    trace = trace_id.clone();
                }
            }
            let events = PostEvents {
                scope: Some("experiments".into()),
                metrics,
                tags: vec!["run_id:bench".into()],
                spans,
            };
            store.post_events(&org, &id, events).await?;
            let refs: Vec<&RawValue> = children.iter().map(|b| &**b).collect();
            store.ingest_spans(Some(&org), &refs).await?;
            done = (done + batch).min(records);
            if done % 20_000 == 0 {
                eprintln!("{name}: {done} records, {:.1}s", started.elapsed().as_secs_f64());
            }
        }
        ids.push(id);
    }
    println!("baseline={}", ids[0]);
    println!("candidate={}", ids[1]);
    println!("deep_cursor={deep}");
    println!("trace={trace}");
    println!("filled in {:.1}s", started.elapsed().as_secs_f64());
    store.close().await;
    Ok(())
}
