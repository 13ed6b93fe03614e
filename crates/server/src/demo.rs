//! The demo project `llmobs serve --demo` writes into an empty store, so that a newcomer
//! sees every page of the web UI with data: two prompts with versions, labels and an
//! environment; a dataset with two versions (records inserted, updated and deleted); two
//! experiments on its second version worth comparing, each record evaluated three ways
//! (boolean, score, categorical) and traced with child spans (llm, tool, retrieval).
//!
//! Everything goes through the same store calls as the API routes, in the `default` org.

use llmobs_core::datasets::BatchUpdate;
use llmobs_core::experiments::{CreateExperiment, UpdateExperiment};
use llmobs_core::prompts::{ChatItem, Template};
use llmobs_store::{
    DEFAULT_ORG, NewPrompt, NewVersion, OrgId, ProjectFilter, RawEvents, Store, now_ns,
};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// The author the demo's items carry.
const AUTHOR: &str = "llmobs-demo";

/// The demo project's name.
pub const DEMO_PROJECT: &str = "demo";

/// Why the demo was not written.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The `default` org has projects or prompts already: the demo only fills an empty store.
    #[error(
        "the store is not empty (the default org has projects or prompts): --demo fills only \
         an empty store; start with a new --data-dir (or database) to see the demo"
    )]
    NotEmpty,
    /// There is no `default` org to write into.
    #[error("the store has no org named 'default' (its keys were created for other orgs)")]
    NoDefaultOrg,
    /// A store call failed.
    #[error("writing the demo: {0}")]
    Store(#[from] llmobs_store::Error),
}

/// What the demo wrote: the ids of its items, for the start message.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The project's id.
    pub project_id: String,
    /// The dataset's id.
    pub dataset_id: String,
    /// The two experiments' ids: baseline, then improved.
    pub experiment_ids: [String; 2],
}

/// One record of the dataset's second version and what each experiment answered.
struct Case {
    id: &'static str,
    country: &'static str,
    capital: &'static str,
    baseline: (&'static str, f64, &'static str),
    improved: (&'static str, f64, &'static str),
}

const CASES: [Case; 6] = [
    Case {
        id: "france",
        country: "France",
        capital: "Paris",
        baseline: ("Paris", 1.0, "high"),
        improved: ("Paris", 1.0, "high"),
    },
    Case {
        id: "spain",
        country: "Spain",
        capital: "Madrid",
        baseline: ("Madrid", 1.0, "high"),
        improved: ("Madrid", 1.0, "high"),
    },
    Case {
        id: "italy",
        country: "Italy",
        capital: "Rome",
        baseline: ("Rome", 1.0, "medium"),
        improved: ("Rome", 1.0, "high"),
    },
    Case {
        id: "japan",
        country: "Japan",
        capital: "Tokyo",
        baseline: ("Tokyo", 1.0, "high"),
        improved: ("Tokyo", 1.0, "high"),
    },
    Case {
        id: "canada",
        country: "Canada",
        capital: "Ottawa",
        baseline: ("Toronto", 0.1, "low"),
        improved: ("Ottawa", 1.0, "high"),
    },
    Case {
        id: "australia",
        country: "Australia",
        capital: "Canberra",
        baseline: ("Sydney", 0.2, "low"),
        improved: ("Canberra, the capital", 0.7, "medium"),
    },
];

fn raw(value: Value) -> Box<RawValue> {
    RawValue::from_string(value.to_string()).expect("JSON text is JSON")
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("the demo's requests are well formed")
}

fn version(template: Template, labels: &[&str], env_ids: &[&str], description: &str) -> NewVersion {
    NewVersion {
        template,
        description: Some(description.into()),
        user_version: None,
        labels: labels.iter().map(|l| l.to_string()).collect(),
        env_ids: env_ids.iter().map(|e| e.to_string()).collect(),
        config: None,
    }
}

/// Writes the demo project into the `default` org of an empty store.
pub async fn fill(store: &Store) -> Result<Demo, DemoError> {
    let org = store.org_named(DEFAULT_ORG).await?.ok_or(DemoError::NoDefaultOrg)?;
    let (projects, _) = store.list_projects(&org, &ProjectFilter::default(), None, 1).await?;
    let (prompts, _) = store.prompts_page(&org, None, None, 1).await?;
    if !projects.is_empty() || !prompts.is_empty() {
        return Err(DemoError::NotEmpty);
    }
    prompts_of(store, &org).await?;
    let (project_id, _) = store
        .project_by_name(&org, AUTHOR, DEMO_PROJECT, Some("Made by llmobs serve --demo"))
        .await?;
    let dataset_id = dataset(store, &org, &project_id).await?;
    let baseline = experiment(store, &org, &project_id, &dataset_id, false).await?;
    let improved = experiment(store, &org, &project_id, &dataset_id, true).await?;
    Ok(Demo { project_id, dataset_id, experiment_ids: [baseline, improved] })
}

async fn prompts_of(store: &Store, org: &OrgId) -> Result<(), DemoError> {
    let text = |t: &str| Template::Text(t.into());
    let first = version(text("What is the capital of {{country}}?"), &[], &[], "first try");
    store
        .create_prompt(
            org,
            AUTHOR,
            NewPrompt {
                prompt_id: "capital-qa".into(),
                title: Some("Capital of a country".into()),
                description: Some("Asks for a country's capital".into()),
                first,
            },
        )
        .await?;
    let second = version(
        text("Answer with the city's name only.\nWhat is the capital of {{country}}?"),
        &["production"],
        &[],
        "one-word answers",
    );
    store.create_version(org, AUTHOR, "capital-qa", second).await?;
    let third = version(
        text(
            "Answer with the city's name only.\nIf a country has several capitals, name the \
             seat of government.\nWhat is the capital of {{country}}?",
        ),
        &["development"],
        &["staging"],
        "several capitals",
    );
    store.create_version(org, AUTHOR, "capital-qa", third).await?;

    let system = "You are a helpful support agent for {{product}}.";
    let chat_v1 = Template::Chat(vec![
        ChatItem::message("system", system),
        ChatItem::message("user", "{{question}}"),
    ]);
    store
        .create_prompt(
            org,
            AUTHOR,
            NewPrompt {
                prompt_id: "support-chat".into(),
                title: Some("Support assistant".into()),
                description: None,
                first: version(chat_v1, &["production"], &[], "first version"),
            },
        )
        .await?;
    let chat_v2 = Template::Chat(vec![
        ChatItem::message("system", format!("{system}\nAnswer in at most three sentences.")),
        ChatItem::placeholder("history"),
        ChatItem::message("user", "{{question}}"),
    ]);
    let v2 = version(chat_v2, &["development"], &[], "short answers, with the conversation");
    store.create_version(org, AUTHOR, "support-chat", v2).await?;
    Ok(())
}

/// The dataset: version 1 with five records, version 2 fixing one, deleting one and
/// adding two.
async fn dataset(store: &Store, org: &OrgId, project_id: &str) -> Result<String, DemoError> {
    let (dataset_id, _) = store
        .create_dataset(
            org,
            AUTHOR,
            project_id,
            "capitals",
            Some("Countries and their capitals"),
            None,
        )
        .await?;
    let record = |id: &str, country: &str, capital: &str, region: &str| {
        json!({"id": id, "input": {"country": country}, "expected_output": capital,
               "metadata": {"region": region}, "tags": [format!("region:{region}")]})
    };
    let first: BatchUpdate = from_json(json!({
        "insert_records": [
            record("france", "France", "Paris", "europe"),
            record("spain", "Spain", "Madrid", "europe"),
            record("italy", "Italy", "Rome", "europe"),
            record("germany", "Germany", "Bonn", "europe"),
            record("japan", "Japan", "Tokio", "asia"),
        ],
        "create_new_version": true,
    }));
    store.batch_update(org, AUTHOR, project_id, &dataset_id, first).await?;
    let second: BatchUpdate = from_json(json!({
        "update_records": [{"id": "japan", "expected_output": "Tokyo"}],
        "delete_records": ["germany"],
        "insert_records": [
            record("canada", "Canada", "Ottawa", "americas"),
            record("australia", "Australia", "Canberra", "oceania"),
        ],
        "create_new_version": true,
    }));
    store.batch_update(org, AUTHOR, project_id, &dataset_id, second).await?;
    Ok(dataset_id)
}

/// One experiment over the dataset's version 2: a record span per record with its llm,
/// tool and retrieval child spans, and three evaluations per record.
async fn experiment(
    store: &Store,
    org: &OrgId,
    project_id: &str,
    dataset_id: &str,
    improved: bool,
) -> Result<String, DemoError> {
    let (name, model, prompt) = match improved {
        false => ("capital-baseline", "small-model", 1),
        true => ("capital-improved", "large-model", 2),
    };
    let request: CreateExperiment = from_json(json!({
        "name": name, "project_id": project_id, "dataset_id": dataset_id, "dataset_version": 2,
        "description": format!("capital-qa v{prompt} on {model}"),
        "config": {"model": model, "prompt": format!("capital-qa@{prompt}"), "temperature": 0},
        "metadata": {"made_by": "llmobs serve --demo"}, "ensure_unique": false,
    }));
    let (id, _) = store.create_experiment(org, AUTHOR, request).await?;
    let start = now_ns() - 3_600_000_000_000 + if improved { 600_000_000_000 } else { 0 };
    let mut spans = Vec::new();
    let mut metrics = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let (output, similarity, confidence) = if improved { case.improved } else { case.baseline };
        let trace = format!("demo-{}-{}", if improved { "b" } else { "a" }, case.id);
        let span_id = format!("{trace}-record");
        let at = start + i as i64 * 2_000_000_000;
        let duration: i64 =
            if improved { 900_000_000 } else { 600_000_000 } + i as i64 * 70_000_000;
        let tags = |extra: &[String]| {
            let mut tags = vec!["ml_app:demo-app".to_owned(), "env:demo".to_owned()];
            tags.extend_from_slice(extra);
            tags
        };
        spans.push(json!({
            "trace_id": trace, "span_id": span_id, "parent_id": "undefined", "name": name,
            "start_ns": at, "duration": duration, "status": "ok",
            "meta": {"span": {"kind": "experiment"}, "input": {"country": case.country},
                     "output": output, "expected_output": case.capital,
                     "metadata": {"model": model}},
            "tags": tags(&[format!("experiment_id:{id}"), format!("dataset_record_id:{}", case.id)]),
        }));
        let child = |suffix: &str,
                     kind: &str,
                     name: &str,
                     offset: i64,
                     length: i64,
                     mut meta: Value| {
            meta["span"] = json!({"kind": kind});
            json!({"trace_id": trace, "span_id": format!("{trace}-{suffix}"), "parent_id": span_id,
                   "name": name, "start_ns": at + offset, "duration": length, "status": "ok",
                   "meta": meta, "tags": tags(&[])})
        };
        spans.push(child("retrieval", "retrieval", "lookup_country_facts", 5_000_000, 80_000_000, json!({
            "input": {"value": case.country},
            "output": {"documents": [{"text": format!("{} is a country.", case.country), "score": 0.92}]},
        })));
        spans.push(child(
            "tool",
            "tool",
            "normalize_country",
            90_000_000,
            10_000_000,
            json!({
                "input": {"value": case.country},
                "output": {"value": case.country.to_lowercase()},
            }),
        ));
        spans.push(child("llm", "llm", "answer", 110_000_000, duration - 130_000_000, json!({
            "model_name": model, "model_provider": "demo",
            "input": {"messages": [{"role": "user", "content": format!("What is the capital of {}?", case.country)}]},
            "output": {"messages": [{"role": "assistant", "content": output}]},
            "metrics": {"input_tokens": 14, "output_tokens": 3 + output.len() / 8},
        })));
        let metric = |label: &str, kind: &str, value: Value, reasoning: &str| {
            let mut m = json!({"metric_source": "custom", "span_id": span_id, "trace_id": trace,
                "timestamp_ms": at / 1_000_000 + 1000, "metric_type": kind, "label": label,
                "tags": [format!("experiment_id:{id}")], "reasoning": reasoning});
            m[format!("{kind}_value")] = value;
            m
        };
        let exact = output == case.capital;
        metrics.push(metric(
            "exact_match",
            "boolean",
            json!(exact),
            &format!(
                "'{output}' {} '{}'",
                if exact { "equals" } else { "differs from" },
                case.capital
            ),
        ));
        metrics.push(metric(
            "similarity",
            "score",
            json!(similarity),
            "closeness to the expected city",
        ));
        metrics.push(metric(
            "confidence",
            "categorical",
            json!(confidence),
            "the model's own estimate",
        ));
    }
    let accuracy = CASES
        .iter()
        .filter(|c| (if improved { c.improved } else { c.baseline }).0 == c.capital)
        .count();
    metrics.push(json!({"metric_source": "summary", "span_id": "", "trace_id": "", "timestamp_ms": start / 1_000_000,
        "metric_type": "score", "label": "accuracy", "score_value": accuracy as f64 / CASES.len() as f64}));
    let record_spans: Vec<Box<RawValue>> = spans.into_iter().map(raw).collect();
    let refs: Vec<&RawValue> = record_spans.iter().map(|s| s.as_ref()).collect();
    store.ingest_spans(Some(org), &refs).await?;
    let events = RawEvents {
        scope: Some("experiments".into()),
        metrics: metrics.into_iter().map(raw).collect(),
        tags: vec!["run_id:demo".into(), "run_iteration:1".into()],
        spans: Vec::new(),
    };
    store.post_events(org, &id, events).await?;
    let done: UpdateExperiment = from_json(json!({"status": "completed"}));
    store.update_experiment(org, &id, done).await?;
    Ok(id)
}
