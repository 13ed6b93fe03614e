//! Datasets with typed records against a local server: create, read back in your types,
//! edit by record id, push, and pull an older version.
//!
//! ```text
//! llmobs serve &   # prints the variables to export
//! DD_LLMOBS_OVERRIDE_ORIGIN=http://127.0.0.1:PORT DD_API_KEY=… DD_APP_KEY=… \
//!     cargo run -p llmobs --example datasets
//! ```

#[path = "support/env.rs"]
mod support;

use llmobs::{Client, DatasetRecord, PullDataset, RecordUpdate};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What a record's input holds.
#[derive(Debug, Serialize, Deserialize)]
struct Question {
    country: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    support::require_server_env("datasets");
    let client = Client::from_env()?;

    // Typed records: the input and expected output are any serde types.
    let records =
        [("France", "Paris"), ("Italy", "Rome"), ("Peru", "Quito")].map(|(country, capital)| {
            DatasetRecord::new(Question { country: country.to_owned() })
                .expected_output(capital.to_owned())
                .id(country.to_lowercase())
                .tags(["topic:geography"])
        });
    let name = format!("capitals-{}", std::process::id());
    let mut dataset = client.create_dataset(&name, records).await?;
    println!(
        "created {} version {} with {} records",
        dataset.name(),
        dataset.version(),
        dataset.len()
    );

    // Read them back in your types; a record that does not fit is an error naming it.
    for record in dataset.records_as::<Question, String>() {
        let record = record?;
        println!("  {}: {} -> {:?}", record.id, record.input.country, record.expected_output);
    }

    // Edit by record id: ids stay right when a delete shifts positions.
    dataset.append(
        DatasetRecord::new(Question { country: "Japan".to_owned() })
            .expected_output("Tokyo")
            .id("japan"),
    )?;
    dataset.delete("italy")?;
    let fix = RecordUpdate { expected_output: Some(json!("Lima")), ..RecordUpdate::default() };
    dataset.update("peru", fix)?;
    dataset.add_tags("japan", ["continent:asia"])?;
    client.push_dataset(&mut dataset).await?;
    println!("pushed: version {}", dataset.version());

    // The latest version, then the first one as it was.
    let latest = client.pull_dataset(&name).await?;
    println!("latest version {}: {} records", latest.version(), latest.len());
    if let Some(peru) = latest.record("peru") {
        println!("  peru now expects {:?}", peru.expected_output);
    }
    let first = client
        .pull_dataset_with(&name, PullDataset { version: Some(1), ..PullDataset::default() })
        .await?;
    println!(
        "version 1: {} records, peru expected {:?}",
        first.len(),
        first.record("peru").and_then(|r| r.expected_output.clone())
    );

    client.delete_dataset(latest.id()).await?;
    println!("deleted {name}");
    Ok(())
}
