//! [`Experiment::run`]: creating the experiment, its iterations over the records, the
//! summary evaluators, the statuses, and how a run stops.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use llmobs_core::experiments::{CreateExperiment, EXPERIMENTS, UpdateExperiment};
use llmobs_core::jsonapi::{Document, Request, Resource};
use reqwest::Method;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::progress::{CtrlC, progress_bar};
use super::record::{Iteration, tag_pairs};
use super::results::{EvaluationOutcome, ExperimentResults, Row, RunResult};
use super::wire::{self, Metric, push_json};
use super::writer::{self, Message};
use super::{Attempts, Experiment, Rerun, RunOptions, Status, context_metadata};
use crate::api::{JSON_TIMEOUT, UNSTABLE, json_body};
use crate::evaluators::{Outcome, SummaryContext, SummaryEvaluator};
use crate::{Client, Error, Result};

/// How an iteration ended early.
pub(crate) enum Stop {
    Cancelled,
    Failed(String),
}

/// The distinct failures of a row, as the failed status's error text lists them; with
/// `raise_errors`, the first one stops the run.
pub(crate) fn row_errors(
    row: &Row,
    errors: &mut BTreeSet<String>,
    raise: bool,
    stop: &mut Option<Stop>,
) {
    if let Some(error) = &row.error {
        errors.insert(format!("{}: {}", error.kind, error.message));
        if raise && stop.is_none() {
            *stop = Some(Stop::Failed(format!(
                "Error on record {}: {}\n{}",
                row.index, error.message, error.kind
            )));
        }
    }
    for (label, outcome) in row.evaluations.iter() {
        if let Some(error) = outcome.error() {
            let kind = error.get("type").and_then(Value::as_str).unwrap_or("Error");
            let message = error.get("message").and_then(Value::as_str).unwrap_or("");
            errors.insert(format!("{label} ({kind}): {message}"));
            if raise && stop.is_none() {
                *stop =
                    Some(Stop::Failed(format!("Evaluator {label} failed on row {}", row.index)));
            }
        }
    }
}

/// Sets an experiment's status (E9); failures are only logged, as the reference
/// client does.
pub(crate) async fn set_status(client: &Client, id: &str, status: Status, error: Option<String>) {
    let request = Request::new(
        EXPERIMENTS,
        UpdateExperiment { status: Some(status.as_str().to_owned()), error, ..Default::default() },
    );
    let result = match json_body(&request) {
        Ok(body) => {
            client
                .send(
                    Method::PATCH,
                    &format!("{UNSTABLE}/experiments/{id}"),
                    Some(body),
                    JSON_TIMEOUT,
                    false,
                )
                .await
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(answer) if answer.status == 200 => {}
        Ok(answer) => tracing::warn!(status = answer.status, "experiment status update refused"),
        Err(err) => tracing::warn!(error = %err, "experiment status update failed"),
    }
}

/// Creates an experiment (E8); returns its id and run name.
pub(crate) async fn create_experiment(
    client: &Client,
    create: CreateExperiment,
) -> Result<(String, String)> {
    let name = create.name.clone();
    let created: Document<Resource<Value>> = client
        .call(
            Method::POST,
            &format!("{UNSTABLE}/experiments"),
            Some(json_body(&Request::new(EXPERIMENTS, create))?),
            JSON_TIMEOUT,
            &[200],
        )
        .await?;
    let run_name =
        created.data.attributes.get("name").and_then(Value::as_str).unwrap_or(&name).to_owned();
    Ok((created.data.id, run_name))
}

/// Runs the summary evaluators over `rows`; returns their outcomes and their metric
/// objects (comma-separated JSON). A failure is recorded as `unknown error`.
pub(crate) async fn summarize(
    summary: &[Arc<dyn SummaryEvaluator>],
    rows: &[Row],
    config: &Value,
    experiment_id: &str,
    errors: &mut BTreeSet<String>,
) -> (BTreeMap<String, EvaluationOutcome>, Vec<u8>) {
    let mut results = BTreeMap::new();
    let mut metrics = Vec::new();
    if summary.is_empty() {
        return (results, metrics);
    }
    let labels: BTreeSet<&str> = rows.iter().flat_map(|r| r.evaluations.keys()).collect();
    let context = SummaryContext {
        inputs: rows.iter().map(|r| r.input().clone()).collect(),
        outputs: rows
            .iter()
            .map(|r| match &r.error {
                Some(error) => Outcome::Error((**error).clone()),
                None => Outcome::Ok(r.output.clone()),
            })
            .collect(),
        expected_outputs: rows.iter().map(|r| r.expected_output().clone()).collect(),
        evaluations: labels
            .into_iter()
            .map(|label| {
                let outcomes = rows
                    .iter()
                    .map(|r| {
                        r.evaluations
                            .get(label)
                            .map_or(Outcome::Missing, EvaluationOutcome::outcome)
                    })
                    .collect();
                (label.to_owned(), outcomes)
            })
            .collect(),
        metadata: rows
            .iter()
            .map(|r| context_metadata(r.record().metadata.as_ref(), config))
            .collect(),
    };
    let timestamp_ms =
        rows.iter().map(|r| r.start_ns).max().unwrap_or_else(wire::now_ns) / 1_000_000;
    for evaluator in summary {
        let result = evaluator.evaluate(&context).await;
        if result.is_err() {
            errors.insert("unknown error".to_owned());
        }
        for (label, outcome) in wire::scored(&Arc::from(evaluator.name()), result) {
            push_json(
                &mut metrics,
                &Metric {
                    label: &label,
                    outcome: &outcome,
                    span: None,
                    timestamp_ms,
                    experiment_id,
                    source: None,
                },
            );
            results.insert(label.to_string(), outcome);
        }
    }
    (results, metrics)
}

/// Posts summary metrics through the writer; a failing post stops the run (spec §4.3).
pub(crate) async fn post_summary(
    tx: &mpsc::Sender<Message>,
    metrics: Vec<u8>,
) -> std::result::Result<(), Stop> {
    let (reply, answer) = oneshot::channel();
    let _ = tx.send(Message::Summary(metrics, reply)).await;
    match answer.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(Stop::Failed(format!("summary metrics were refused: {err}"))),
        Err(_) => Err(Stop::Failed("the metrics writer stopped".into())),
    }
}

impl Experiment {
    /// The experiment's id once a run has created it.
    pub fn id(&self) -> Option<String> {
        self.id.lock().expect("experiment id").clone()
    }

    /// `<ui base>/llm/experiments/{id}` (the override origin when set, spec §4.9);
    /// ends in `/None` before the first run, as the reference client's does.
    pub fn url(&self) -> String {
        let id = self.id().unwrap_or_else(|| "None".to_owned());
        self.setup.client.experiment_url(&id)
    }

    /// Re-scores the outputs of this experiment's latest run with other evaluators
    /// (spec §4.11); failed rows can be re-run with this experiment's task.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] before the first run.
    pub fn rerun_evaluators(&self) -> Result<Rerun> {
        let id = self.id().ok_or_else(|| Error::InvalidRequest {
            detail: "the experiment has not run yet; call run() first".into(),
        })?;
        Ok(self.setup.client.rerun_evaluators(id).task_fn(self.setup.task.clone()))
    }

    /// Runs the experiment (spec §4.2): E1, E8, E9 `running`, then for each iteration
    /// every record (task, evaluators, span, metrics), the summary evaluators, and a
    /// final E9 `completed` or `failed`.
    ///
    /// # Errors
    ///
    /// Creation failures (nothing else is sent then); [`Error::Interrupted`] when
    /// cancelled; [`Error::Experiment`] with `raise_errors` or when the summary post
    /// fails. In the last two cases the experiment is marked `interrupted`.
    pub async fn run(&self, options: RunOptions) -> Result<ExperimentResults> {
        options.check()?;
        let setup = &self.setup;
        let client = &setup.client;
        let dataset = &setup.dataset;
        let project_name = setup
            .project_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| client.inner.config.project_name.clone());
        let project_id = client.project_id(&project_name, false).await?;
        let mut tags: Vec<String> = setup.tags.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        tags.extend([
            format!("llmobs.sdk_version:{}", wire::SDK_VERSION),
            format!("project_name:{project_name}"),
            format!("dataset_name:{}", dataset.name()),
            format!("experiment_name:{}", setup.name),
        ]);
        tags.push(format!("project_id:{project_id}"));
        let mut config = setup.config.clone();
        if !dataset.filter_tags().is_empty() {
            config.insert("filtered_record_tags".into(), json!(dataset.filter_tags()));
        }
        let create = CreateExperiment {
            name: setup.name.clone(),
            description: Some(setup.description.clone()),
            dataset_id: dataset.id().to_owned(),
            project_id: project_id.clone(),
            dataset_version: Some(i64::try_from(dataset.version()).unwrap_or(i64::MAX)),
            config: Some(config),
            metadata: Some(Map::from_iter([("tags".to_owned(), json!(tags))])),
            ensure_unique: Some(true),
            run_count: Some(setup.runs as i64),
            parent_experiment_id: None,
        };
        let (experiment_id, run_name) = create_experiment(client, create).await?;
        *self.id.lock().expect("experiment id") = Some(experiment_id.clone());
        tags.push(format!("experiment_id:{experiment_id}"));
        set_status(client, &experiment_id, Status::Running, None).await;

        let cancel = options.cancel.clone().unwrap_or_default();
        let outcome = {
            let _ctrl_c = CtrlC::watch(options.ctrl_c, &cancel);
            self.iterations(&options, &cancel, &experiment_id, &tags).await
        };
        let url = self.url();
        match outcome {
            Ok((runs, errors)) => {
                let (status, error) = if errors.is_empty() {
                    (Status::Completed, None)
                } else {
                    (Status::Failed, Some(errors.into_iter().collect::<Vec<_>>().join("; ")))
                };
                set_status(client, &experiment_id, status, error.clone()).await;
                Ok(ExperimentResults { experiment_id, run_name, status, error, url, runs })
            }
            Err(stop) => {
                set_status(client, &experiment_id, Status::Interrupted, None).await;
                Err(match stop {
                    Stop::Cancelled => Error::Interrupted { experiment_id },
                    Stop::Failed(detail) => Error::Experiment { experiment_id, detail },
                })
            }
        }
    }

    pub(crate) async fn iterations(
        &self,
        options: &RunOptions,
        cancel: &CancellationToken,
        experiment_id: &str,
        tags: &[String],
    ) -> std::result::Result<(Vec<RunResult>, BTreeSet<String>), Stop> {
        let setup = &self.setup;
        let evaluators = setup.scoring.bind(&setup.client);
        // Records finishing while a post is in flight queue here and go out together in
        // the next post, so batches grow with the pace of the run.
        let (tx, rx) = mpsc::channel(options.jobs.saturating_mul(16).clamp(256, 4096));
        let writer = tokio::spawn(writer::writer(
            setup.client.clone(),
            experiment_id.to_owned(),
            options.jobs,
            rx,
        ));
        let total = setup.dataset.len().min(options.sample_size.unwrap_or(usize::MAX));
        let task_config = Arc::new(Value::Object(setup.config.clone()));
        let mut runs = Vec::new();
        let mut errors = BTreeSet::new();
        let mut stop = None;
        for iteration in 1..=setup.runs {
            let run_id = wire::uuid();
            let mut run_tags = tags.to_vec();
            run_tags.extend([format!("run_id:{run_id}"), format!("run_iteration:{iteration}")]);
            let _ = tx.send(Message::Tags(run_tags.clone())).await;
            let mut span_tags = tag_pairs(&run_tags);
            for (k, v) in [
                ("dataset_id", setup.dataset.id()),
                ("language", "rust"),
                ("source", "integration"),
            ] {
                span_tags.retain(|(key, _)| key != k);
                span_tags.push((k.to_owned(), v.to_owned()));
            }
            let shared = Arc::new(Iteration {
                setup: setup.clone(),
                evaluators: evaluators.clone(),
                config: task_config.clone(),
                experiment_id: experiment_id.to_owned(),
                span_tags: Arc::new(span_tags),
                attempts: Attempts::new(options),
                tx: tx.clone(),
            });
            let mut rows: Vec<Option<Row>> = Vec::with_capacity(total);
            rows.resize_with(total, || None);
            let mut set = JoinSet::new();
            let window = options.jobs.saturating_mul(2).max(2);
            let mut next = 0usize;
            let bar =
                progress_bar(options.progress, total, format!("{} run {iteration}", setup.name));
            loop {
                while set.len() < window && next < total && stop.is_none() {
                    set.spawn(shared.clone().process(next));
                    next += 1;
                }
                let joined = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => { stop = Some(Stop::Cancelled); None }
                    joined = set.join_next() => joined,
                };
                let Some(joined) = joined else { break };
                let row = match joined {
                    Ok(row) => row,
                    Err(err) => {
                        stop = Some(Stop::Failed(format!("a record task panicked: {err}")));
                        break;
                    }
                };
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
                row_errors(&row, &mut errors, options.raise_errors, &mut stop);
                let index = row.index;
                rows[index] = Some(row);
                if stop.is_some() {
                    break;
                }
            }
            if stop.is_some() {
                set.abort_all();
                while set.join_next().await.is_some() {}
            }
            // The writer stops once every sender is gone.
            drop(shared);
            if let Some(bar) = bar {
                if stop.is_some() {
                    bar.abandon();
                } else {
                    bar.finish_and_clear();
                }
            }
            // Finished records are kept whatever happens next.
            let (reply, flushed) = oneshot::channel();
            let _ = tx.send(Message::Flush(reply)).await;
            let flushed = flushed.await.unwrap_or(Ok(()));
            if let Some(stop) = stop {
                drop(tx);
                let _ = writer.await;
                return Err(stop);
            }
            if let Err(err) = flushed {
                tracing::warn!(error = %err, "metrics post failed at the end of an iteration");
            }
            // Collected in place (no second buffer of rows); every slot is filled here.
            let rows: Vec<Row> = rows.into_iter().map_while(|row| row).collect();
            let (summary, metrics) =
                summarize(&setup.scoring.summary, &rows, &task_config, experiment_id, &mut errors)
                    .await;
            if !setup.scoring.summary.is_empty()
                && let Err(stop) = post_summary(&tx, metrics).await
            {
                drop(tx);
                let _ = writer.await;
                return Err(stop);
            }
            runs.push(RunResult { run_id, iteration, rows, summary });
        }
        drop(tx);
        let _ = writer.await;
        Ok((runs, errors))
    }
}
