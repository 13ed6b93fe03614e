//! The SDK side of `bench/runner.sh`: runs one experiment against a server and prints
//! one JSON line with the wall time of `run()` and the peak RSS of the process.
//!
//! ```text
//! bench_runner ORIGIN API_KEY APP_KEY RECORDS SLEEP_MS JOBS
//! ```

use std::time::{Duration, Instant};

use llmobs::{CallError, Client, DatasetRecord, EvaluatorContext, RunOptions};
use serde_json::{Value, json};

/// Peak resident set size in KiB (`VmHWM`), 0 where unknown.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")?.trim().trim_end_matches("kB").trim().parse().ok()
            })
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [origin, api, app, records, sleep_ms, jobs] = args.as_slice() else {
        return Err("usage: bench_runner ORIGIN API_KEY APP_KEY RECORDS SLEEP_MS JOBS".into());
    };
    let (records, sleep_ms, jobs): (usize, u64, usize) =
        (records.parse()?, sleep_ms.parse()?, jobs.parse()?);
    let client = Client::builder()
        .origin(origin)
        .api_key(api)
        .app_key(app)
        .project_name("bench-runner")
        .file_cache(false)
        .build()?;
    let name = format!("runner-{records}-{sleep_ms}");
    let dataset = match client.pull_dataset(&name).await {
        Ok(dataset) if dataset.len() == records => dataset,
        _ => {
            let rows = (0..records).map(|i| {
                DatasetRecord::new(json!({"question": format!("q{i}")}))
                    .expected_output(json!(i.is_multiple_of(2)))
            });
            client.create_dataset(&name, rows).await?
        }
    };
    let dataset_rss = peak_rss_kib();
    let sleep = Duration::from_millis(sleep_ms);
    let experiment = client
        .experiment("bench", dataset, move |input: Value, _| async move {
            if !sleep.is_zero() {
                tokio::time::sleep(sleep).await;
            }
            Ok::<_, CallError>(json!(
                input["question"].as_str().map(str::len).unwrap_or(0).is_multiple_of(2)
            ))
        })
        .evaluator("exact", |ctx: &EvaluatorContext| {
            ctx.expected_output.as_ref() == Some(&ctx.output)
        })
        .evaluator("length", |ctx: &EvaluatorContext| ctx.output.to_string().len() as f64)
        .evaluator(
            "label",
            |ctx: &EvaluatorContext| if ctx.output == json!(true) { "yes" } else { "no" },
        )
        .build()?;
    let started = Instant::now();
    let results =
        experiment.run(RunOptions { jobs, progress: false, ..RunOptions::default() }).await?;
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(results.rows().len(), records);
    println!(
        "{}",
        json!({"records": records, "wall_s": wall, "peak_rss_kib": peak_rss_kib(),
               "dataset_peak_rss_kib": dataset_rss, "status": results.status})
    );
    Ok(())
}
