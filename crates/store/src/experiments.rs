//! Experiments, their spans and metrics, the span and eval-metric intakes, and evaluator
//! configurations.
//!
//! Spans and metrics are stored as the client sent them, each on its own: metrics often
//! arrive before their span, so they are joined by `span_id` only when read. A metric
//! posted twice (the client re-posts after a failed attempt) is stored once.

use llmobs_core::experiments::{
    CreateExperiment, Experiment, ExperimentEvents, PostEvents, UpdateExperiment,
};
use llmobs_core::jsonapi::Author;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::error::{Error, NotFound, Result};
use crate::keys::OrgId;
use crate::{Store, time};

/// Which experiments to list. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct ExperimentFilter {
    /// Only this experiment.
    pub id: Option<String>,
    /// Only this logical name.
    pub experiment: Option<String>,
    /// Only this project.
    pub project_id: Option<String>,
    /// Only this dataset.
    pub dataset_id: Option<String>,
    /// Only children of one of these experiments.
    pub parent_ids: Vec<String>,
    /// Only experiments whose `metadata.tags` contain all of these.
    pub tags: Vec<String>,
}

/// Where a listing continues: the last item's `(created_at, id)`.
pub type ExperimentCursor = (String, String);

/// A page of experiments and where the next page starts.
pub type ExperimentPage = (Vec<(String, Experiment)>, Option<ExperimentCursor>);

macro_rules! experiment_columns {
    () => {
        "uuid, project_uuid, dataset_uuid, dataset_version, experiment, name, description, config, \
         metadata, run_count, parent_experiment_id, status, error, author, created_at, updated_at"
    };
}

fn object(text: &str, what: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::Invalid(format!("stored {what} is not a JSON object"))),
    }
}

fn experiment_from_row(row: &AnyRow) -> Result<(String, Experiment)> {
    Ok((
        row.try_get("uuid")?,
        Experiment {
            author: Author { id: row.try_get("author")? },
            name: row.try_get("name")?,
            experiment: row.try_get("experiment")?,
            project_id: row.try_get("project_uuid")?,
            dataset_id: row.try_get("dataset_uuid")?,
            dataset_version: row.try_get("dataset_version")?,
            description: row.try_get("description")?,
            config: object(&row.try_get::<String, _>("config")?, "config")?,
            run_count: row.try_get("run_count")?,
            metadata: object(&row.try_get::<String, _>("metadata")?, "metadata")?,
            parent_experiment_id: row.try_get("parent_experiment_id")?,
            aggregate_data: None,
            status: row.try_get("status")?,
            error: row.try_get("error")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        },
    ))
}

fn tags_of(metadata: &Map<String, Value>) -> Vec<&str> {
    metadata
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// A string field of a JSON object, or `""`.
fn text<'a>(object: &'a Map<String, Value>, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The value of tag `key:` in a span's `tags` list.
fn span_tag<'a>(span: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    llmobs_core::experiments::tag_value(
        span.get("tags").and_then(Value::as_array).into_iter().flatten(),
        key,
    )
}

/// The start of a span in nanoseconds, if it has one.
fn start_ns(span: &Map<String, Value>) -> i64 {
    span.get("start_ns").and_then(Value::as_i64).unwrap_or(0)
}

async fn upsert_span(
    conn: &mut AnyConnection,
    experiment: &str,
    span: &Map<String, Value>,
    now: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO experiment_spans (experiment_uuid, span_id, trace_id, start_ns, body, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (experiment_uuid, span_id) DO UPDATE SET trace_id = excluded.trace_id, \
         start_ns = excluded.start_ns, body = excluded.body, received_at = excluded.received_at",
    )
    .bind(experiment)
    .bind(text(span, "span_id"))
    .bind(text(span, "trace_id"))
    .bind(start_ns(span))
    .bind(Value::Object(span.clone()).to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The span as experiment events show it: `meta` always has an `error` object.
fn event_span(mut span: Map<String, Value>, metrics: Vec<Value>) -> Value {
    let meta = span.entry("meta").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        let error = meta.entry("error").or_insert_with(|| Value::Object(Map::new()));
        if error.is_null() {
            *error = Value::Object(Map::new());
        }
    }
    span.insert("eval_metrics".into(), Value::Array(metrics));
    Value::Object(span)
}

impl Store {
    /// Creates an experiment in a project of the org, over one of its datasets.
    pub async fn create_experiment(
        &self,
        org: &OrgId,
        author: &str,
        request: CreateExperiment,
    ) -> Result<(String, Experiment)> {
        if request.name.trim().is_empty() {
            return Err(Error::Invalid("an experiment needs a non-empty name".into()));
        }
        self.project(org, &request.project_id).await?;
        let (_, dataset) = self.dataset(org, None, &request.dataset_id).await?;
        let now = std::time::SystemTime::now();
        let created_at = humantime::format_rfc3339_micros(now).to_string();
        let name = match request.ensure_unique.unwrap_or(true) {
            true => {
                let millis =
                    now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
                format!("{}-{millis}", request.name)
            }
            false => request.name.clone(),
        };
        let uuid = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO experiments (uuid, org_uuid, project_uuid, dataset_uuid, dataset_version, \
             experiment, name, description, config, metadata, run_count, parent_experiment_id, \
             author, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
        )
        .bind(&uuid)
        .bind(&org.0)
        .bind(&request.project_id)
        .bind(&request.dataset_id)
        .bind(request.dataset_version.unwrap_or(dataset.current_version))
        .bind(&request.name)
        .bind(&name)
        .bind(request.description.unwrap_or_default())
        .bind(Value::Object(request.config.unwrap_or_default()).to_string())
        .bind(Value::Object(request.metadata.unwrap_or_default()).to_string())
        .bind(request.run_count.unwrap_or(1))
        .bind(request.parent_experiment_id)
        .bind(author)
        .bind(&created_at)
        .execute(&self.write)
        .await?;
        self.experiment(org, &uuid).await
    }

    /// An experiment of the org.
    pub async fn experiment(&self, org: &OrgId, id: &str) -> Result<(String, Experiment)> {
        let row = sqlx::query(concat!(
            "SELECT ",
            experiment_columns!(),
            " FROM experiments WHERE org_uuid = $1 AND uuid = $2 AND deleted_at IS NULL"
        ))
        .bind(&org.0)
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| Error::NotFound(NotFound::Other(format!("experiment '{id}' not found"))))?;
        experiment_from_row(&row)
    }

    /// Sets an experiment's status and/or error. Any transition is accepted.
    pub async fn update_experiment(
        &self,
        org: &OrgId,
        id: &str,
        update: UpdateExperiment,
    ) -> Result<(String, Experiment)> {
        if let Some(status) = &update.status
            && !llmobs_core::experiments::STATUSES.contains(&status.as_str())
        {
            return Err(Error::Invalid(format!(
                "unknown status '{status}': use running, completed, failed or interrupted"
            )));
        }
        self.experiment(org, id).await?;
        let now = time::now();
        let mut tx = self.write.begin().await?;
        if let Some(status) = &update.status {
            sqlx::query("UPDATE experiments SET status = $2, updated_at = $3 WHERE uuid = $1")
                .bind(id)
                .bind(status)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(error) = &update.error {
            sqlx::query("UPDATE experiments SET error = $2, updated_at = $3 WHERE uuid = $1")
                .bind(id)
                .bind(error)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.experiment(org, id).await
    }

    /// The org's experiments matching `filter`, newest first, `limit` per page.
    pub async fn list_experiments(
        &self,
        org: &OrgId,
        filter: &ExperimentFilter,
        after: Option<ExperimentCursor>,
        limit: usize,
    ) -> Result<ExperimentPage> {
        const CHUNK: i64 = 500;
        let mut cursor = after;
        let mut found = Vec::new();
        loop {
            let (at, id) = cursor.clone().unzip();
            let rows = sqlx::query(concat!(
                "SELECT ",
                experiment_columns!(),
                " FROM experiments WHERE org_uuid = $1 AND deleted_at IS NULL \
                 AND ($2 IS NULL OR uuid = $2) AND ($3 IS NULL OR experiment = $3) \
                 AND ($4 IS NULL OR project_uuid = $4) AND ($5 IS NULL OR dataset_uuid = $5) \
                 AND ($6 IS NULL OR created_at < $6 OR (created_at = $6 AND uuid < $7)) \
                 ORDER BY created_at DESC, uuid DESC LIMIT $8"
            ))
            .bind(&org.0)
            .bind(&filter.id)
            .bind(&filter.experiment)
            .bind(&filter.project_id)
            .bind(&filter.dataset_id)
            .bind(at)
            .bind(id)
            .bind(CHUNK)
            .fetch_all(&self.read)
            .await?;
            let exhausted = (rows.len() as i64) < CHUNK;
            for row in &rows {
                let (id, experiment) = experiment_from_row(row)?;
                cursor = Some((experiment.created_at.clone(), id.clone()));
                let parent_ok = filter.parent_ids.is_empty()
                    || experiment
                        .parent_experiment_id
                        .as_ref()
                        .is_some_and(|p| filter.parent_ids.contains(p));
                let tags = tags_of(&experiment.metadata);
                let tags_ok = filter.tags.iter().all(|t| tags.contains(&t.as_str()));
                if parent_ok && tags_ok {
                    if found.len() == limit {
                        let last = found.last().map(|(id, e): &(String, Experiment)| {
                            (e.created_at.clone(), id.clone())
                        });
                        return Ok((found, last));
                    }
                    found.push((id, experiment));
                }
            }
            if exhausted {
                return Ok((found, None));
            }
        }
    }

    /// Stores an experiment's metrics (and replayed spans), all or nothing.
    pub async fn post_events(&self, org: &OrgId, id: &str, events: PostEvents) -> Result<usize> {
        for (index, metric) in events.metrics.iter().enumerate() {
            let bad = |what: &str| Error::Invalid(format!("metrics[{index}]: {what}"));
            if text(metric, "label").is_empty() {
                return Err(bad("needs a non-empty string \"label\""));
            }
            if text(metric, "metric_type").is_empty() {
                return Err(bad("needs a string \"metric_type\""));
            }
            if !metric.get("timestamp_ms").is_some_and(Value::is_i64) {
                return Err(bad("needs an integer \"timestamp_ms\""));
            }
        }
        for (index, span) in events.spans.iter().enumerate() {
            if text(span, "span_id").is_empty() {
                return Err(Error::Invalid(format!("spans[{index}]: needs a string \"span_id\"")));
            }
        }
        self.experiment(org, id).await?;
        let run_id = llmobs_core::experiments::tag_value(
            events.tags.iter().map(|t| Value::from(t.as_str())).collect::<Vec<_>>().iter(),
            "run_id",
        )
        .unwrap_or("")
        .to_owned();
        let now = time::now();
        let mut tx = self.write.begin().await?;
        for span in &events.spans {
            upsert_span(&mut tx, id, span, &now).await?;
        }
        for metric in &events.metrics {
            let source = match text(metric, "metric_source") {
                "" => "custom",
                source => source,
            };
            sqlx::query(
                "INSERT INTO experiment_metrics (experiment_uuid, metric_source, span_id, label, \
                 timestamp_ms, run_id, body, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (experiment_uuid, metric_source, span_id, label, timestamp_ms, run_id) \
                 DO UPDATE SET body = excluded.body, received_at = excluded.received_at",
            )
            .bind(id)
            .bind(source)
            .bind(text(metric, "span_id"))
            .bind(text(metric, "label"))
            .bind(metric.get("timestamp_ms").and_then(Value::as_i64).unwrap_or(0))
            .bind(&run_id)
            .bind(Value::Object(metric.clone()).to_string())
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(events.metrics.len() + events.spans.len())
    }

    /// An experiment's spans in start order, each with its metrics, and its summary metrics.
    pub async fn experiment_events(&self, org: &OrgId, id: &str) -> Result<ExperimentEvents> {
        self.experiment(org, id).await?;
        let mut conn = self.read.acquire().await?;
        let spans: Vec<(String, String)> = sqlx::query_as(
            "SELECT span_id, body FROM experiment_spans WHERE experiment_uuid = $1 \
             ORDER BY start_ns, span_id",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        let metrics: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT metric_source, span_id, body FROM experiment_metrics WHERE experiment_uuid = $1 \
             ORDER BY timestamp_ms, label",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        let mut by_span: std::collections::HashMap<String, Vec<Value>> =
            std::collections::HashMap::new();
        let mut summary_metrics = Vec::new();
        for (source, span_id, body) in metrics {
            let value: Value = serde_json::from_str(&body)
                .map_err(|e| Error::Invalid(format!("stored metric is not JSON: {e}")))?;
            if source == "summary" {
                summary_metrics.push(value);
            } else {
                by_span.entry(span_id).or_default().push(value);
            }
        }
        let spans = spans
            .into_iter()
            .map(|(span_id, body)| {
                let span = object(&body, "span")?;
                Ok(event_span(span, by_span.remove(&span_id).unwrap_or_default()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ExperimentEvents { spans, summary_metrics })
    }

    /// The newest experiment named `experiment` in the project named `project`.
    pub async fn latest_experiment_named(
        &self,
        org: &OrgId,
        project: &str,
        experiment: &str,
    ) -> Result<String> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT e.uuid FROM experiments e JOIN projects p ON p.uuid = e.project_uuid \
             WHERE e.org_uuid = $1 AND p.name = $2 AND e.experiment = $3 AND e.deleted_at IS NULL \
             ORDER BY e.created_at DESC LIMIT 1",
        )
        .bind(&org.0)
        .bind(project)
        .bind(experiment)
        .fetch_optional(&self.read)
        .await?;
        id.ok_or_else(|| {
            Error::NotFound(NotFound::Other(format!(
                "no experiment named '{experiment}' in project '{project}'"
            )))
        })
    }

    /// Stores spans from the span intake: a span tagged `experiment_id:` of a known
    /// experiment joins that experiment, any other goes to the org's span store. Without an
    /// org (agent-proxy style, no key) only experiment spans are kept. Returns how many
    /// were stored.
    pub async fn ingest_spans(
        &self,
        org: Option<&OrgId>,
        spans: Vec<Map<String, Value>>,
    ) -> Result<usize> {
        let now = time::now();
        let mut stored = 0;
        let mut tx = self.write.begin().await?;
        for span in &spans {
            let experiment = match span_tag(span, "experiment_id") {
                Some(id) => sqlx::query_scalar::<_, String>(
                    "SELECT org_uuid FROM experiments WHERE uuid = $1 AND deleted_at IS NULL",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .filter(|owner| org.is_none_or(|org| &org.0 == owner))
                .map(|_| id),
                None => None,
            };
            if let Some(experiment) = experiment {
                upsert_span(&mut tx, experiment, span, &now).await?;
                stored += 1;
            } else if let Some(org) = org {
                sqlx::query(
                    "INSERT INTO llmobs_spans (org_uuid, trace_id, span_id, body, received_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_uuid, trace_id, span_id) \
                     DO UPDATE SET body = excluded.body, received_at = excluded.received_at",
                )
                .bind(&org.0)
                .bind(text(span, "trace_id"))
                .bind(text(span, "span_id"))
                .bind(Value::Object(span.clone()).to_string())
                .bind(&now)
                .execute(&mut *tx)
                .await?;
                stored += 1;
            }
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// Stores metrics from the eval-metric intake.
    pub async fn ingest_eval_metrics(
        &self,
        org: &OrgId,
        metrics: Vec<Map<String, Value>>,
    ) -> Result<usize> {
        let now = time::now();
        let mut tx = self.write.begin().await?;
        for metric in &metrics {
            sqlx::query(
                "INSERT INTO eval_metrics (uuid, org_uuid, label, body, received_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(&org.0)
            .bind(text(metric, "label"))
            .bind(Value::Object(metric.clone()).to_string())
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(metrics.len())
    }

    /// Creates or replaces the org's evaluator `name`.
    pub async fn put_evaluator(
        &self,
        org: &OrgId,
        name: &str,
        kind: &str,
        config: &Value,
    ) -> Result<()> {
        let now = time::now();
        sqlx::query(
            "INSERT INTO evaluators (org_uuid, name, kind, config, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (org_uuid, name) \
             DO UPDATE SET kind = excluded.kind, config = excluded.config, updated_at = excluded.updated_at",
        )
        .bind(&org.0)
        .bind(name)
        .bind(kind)
        .bind(config.to_string())
        .bind(&now)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The org's evaluator `name`: its kind and configuration.
    pub async fn evaluator(&self, org: &OrgId, name: &str) -> Result<Option<(String, Value)>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT kind, config FROM evaluators WHERE org_uuid = $1 AND name = $2")
                .bind(&org.0)
                .bind(name)
                .fetch_optional(&self.read)
                .await?;
        row.map(|(kind, config)| {
            let config = serde_json::from_str(&config)
                .map_err(|e| Error::Invalid(format!("stored evaluator is not JSON: {e}")))?;
            Ok((kind, config))
        })
        .transpose()
    }
}
