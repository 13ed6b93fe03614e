//! Experiments and their events: create, read, update and list experiments, the
//! metrics (and replayed spans) a run posts to its experiment, and reading them back whole,
//! a page of records at a time, or as a summary.
//!
//! Spans and metrics are stored as the client sent them, each on its own: metrics often
//! arrive before their span, so they are joined by `span_id` only when read. A metric
//! posted twice (the client re-posts after a failed attempt) is stored once. The span
//! intake ([`crate::intake`]) attaches spans to experiments through the same table.

use llmobs_core::experiments::{
    CreateExperiment, ExperimentEvents, ExperimentRecord, PostEvents, UpdateExperiment,
};
use llmobs_core::jsonapi::Author;
use llmobs_core::records::{EvalTest, RecordFilter};
use llmobs_core::summary::{EvalValue, ExperimentSummary, SummaryBuilder};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Connection, Row};

use crate::batch::{Col, Insert, bind_number, dedupe};
use crate::error::{Error, NotFound, Result};
use crate::fields::{Fields, text};
use crate::journal::{Journal, Kind};
use crate::keys::OrgId;
use crate::sql::{Bind, Sql};
use crate::{Store, time};

/// E11 attributes with each metric and span kept as the JSON text received.
pub type RawEvents = PostEvents<Box<RawValue>>;

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
    /// Only this run name.
    pub name: Option<String>,
    /// Deleted experiments instead of live ones.
    pub deleted: bool,
}

/// Where a listing continues: the last item's `(created_at, id)`.
pub type ExperimentCursor = (String, String);

/// A page of experiments and where the next page starts.
pub type ExperimentPage = (Vec<(String, ExperimentRecord)>, Option<ExperimentCursor>);

macro_rules! experiment_columns {
    () => {
        "uuid, project_uuid, dataset_uuid, dataset_version, experiment, name, description, config, \
         metadata, run_count, parent_experiment_id, status, error, author, created_at, updated_at"
    };
}

pub(crate) fn object(text: &str, what: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::Invalid(format!("stored {what} is not a JSON object"))),
    }
}

fn experiment_from_row(row: &AnyRow) -> Result<(String, ExperimentRecord)> {
    Ok((
        row.try_get("uuid")?,
        ExperimentRecord {
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

static EXPERIMENT_SPANS: Insert = Insert::new(
    "experiment_spans",
    &[
        ("experiment_uuid", Col::Row),
        ("span_id", Col::Row),
        ("trace_id", Col::Row),
        ("start_ns", Col::Row),
        ("body", Col::Row),
        ("record_id", Col::Row),
        ("received_at", Col::Shared(1)),
    ],
    "ON CONFLICT (experiment_uuid, span_id) DO UPDATE SET trace_id = excluded.trace_id, \
     start_ns = excluded.start_ns, body = excluded.body, record_id = excluded.record_id, \
     received_at = excluded.received_at",
);

static EXPERIMENT_METRICS: Insert = Insert::new(
    "experiment_metrics",
    &[
        ("experiment_uuid", Col::Shared(1)),
        ("metric_source", Col::Row),
        ("span_id", Col::Row),
        ("label", Col::Row),
        ("timestamp_ms", Col::Row),
        ("run_id", Col::Shared(2)),
        ("body", Col::Row),
        ("value_text", Col::Row),
        ("value_num", Col::Number),
        ("failed", Col::Row),
        ("received_at", Col::Shared(3)),
    ],
    "ON CONFLICT (experiment_uuid, metric_source, span_id, label, timestamp_ms, run_id) \
     DO UPDATE SET body = excluded.body, value_text = excluded.value_text, \
     value_num = excluded.value_num, failed = excluded.failed, received_at = excluded.received_at",
);

/// A span or metric as received: what the store reads of it, and its text.
pub(crate) struct Event<'a> {
    pub(crate) fields: Fields<'a>,
    pub(crate) body: &'a str,
}

/// Reads the `what[index]` object of a request.
pub(crate) fn event<'a>(json: &'a RawValue, what: &str, index: usize) -> Result<Event<'a>> {
    match Fields::of(json) {
        Ok(Some(fields)) => Ok(Event { fields, body: json.get() }),
        Ok(None) => Err(Error::Invalid(format!("{what}[{index}]: must be a JSON object"))),
        Err(err) => Err(Error::Invalid(format!("malformed JSON body: {what}[{index}]: {err}"))),
    }
}

/// A metric's source; `custom` when it names none.
fn source<'s>(metric: &'s Event) -> &'s str {
    match text(&metric.fields.metric_source) {
        "" => "custom",
        source => source,
    }
}

/// The value of tag `key:` in a list of tags.
fn tag<'a>(tags: &'a [String], key: &str) -> Option<&'a str> {
    tags.iter().find_map(|tag| tag.split_once(':').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

/// Upserts spans of experiments: `(experiment, span)` pairs, deduped by the caller.
pub(crate) async fn upsert_spans(
    conn: &mut AnyConnection,
    spans: &[&(&str, &Event<'_>)],
    now: &str,
) -> Result<()> {
    // Rows are written in key order, so batches that overlap lock them in the same order
    // and cannot deadlock on PostgreSQL.
    let mut spans = spans.to_vec();
    spans.sort_by(|(a, x), (b, y)| (a, text(&x.fields.span_id)).cmp(&(b, text(&y.fields.span_id))));
    EXPERIMENT_SPANS
        .run(
            conn,
            &spans,
            |q| q.bind(now.to_owned()),
            |q, (experiment, span)| {
                q.bind(experiment.to_string())
                    .bind(text(&span.fields.span_id).to_owned())
                    .bind(text(&span.fields.trace_id).to_owned())
                    .bind(span.fields.start_ns.unwrap_or(0))
                    .bind(span.body.to_owned())
                    .bind(text(&span.fields.record_id).to_owned())
            },
        )
        .await
}

/// An events post's metrics and spans, each read once and checked.
struct Parsed<'a> {
    metrics: Vec<Event<'a>>,
    spans: Vec<Event<'a>>,
}

impl<'a> Parsed<'a> {
    fn of(events: &'a RawEvents) -> Result<Self> {
        let metrics = (events.metrics.iter().enumerate())
            .map(|(index, metric)| event(metric, "metrics", index))
            .collect::<Result<Vec<_>>>()?;
        let spans = (events.spans.iter().enumerate())
            .map(|(index, span)| event(span, "spans", index))
            .collect::<Result<Vec<_>>>()?;
        for (index, metric) in metrics.iter().enumerate() {
            let bad = |what: &str| Error::Invalid(format!("metrics[{index}]: {what}"));
            if text(&metric.fields.label).is_empty() {
                return Err(bad("needs a non-empty string \"label\""));
            }
            if text(&metric.fields.metric_type).is_empty() {
                return Err(bad("needs a string \"metric_type\""));
            }
            if metric.fields.timestamp_ms.is_none() {
                return Err(bad("needs an integer \"timestamp_ms\""));
            }
        }
        for (index, span) in spans.iter().enumerate() {
            if text(&span.fields.span_id).is_empty() {
                return Err(Error::Invalid(format!("spans[{index}]: needs a string \"span_id\"")));
            }
        }
        Ok(Parsed { metrics, spans })
    }
}

/// Stores an events post (see [`Store::post_events`]) in its tables, on the writer `conn`,
/// received at `now`: how [`crate::journal`] applies a kept post.
pub(crate) async fn store_events(
    conn: &mut AnyConnection,
    org: &OrgId,
    id: &str,
    events: &RawEvents,
    now: &str,
) -> Result<usize> {
    let parsed = Parsed::of(events)?;
    store_parsed(conn, org, id, events, &parsed, now, None).await
}

/// Stores a checked events post on the writer `conn`; with `journal`, keeps it there
/// instead.
async fn store_parsed(
    conn: &mut AnyConnection,
    org: &OrgId,
    id: &str,
    events: &RawEvents,
    parsed: &Parsed<'_>,
    now: &str,
    journal: Option<&Journal>,
) -> Result<usize> {
    let posted = events.metrics.len() + events.spans.len();
    check_experiment(conn, org, id).await?;
    if parsed.spans.is_empty() && parsed.metrics.is_empty() {
        return Ok(posted);
    }
    if let Some(journal) = journal {
        journal.keep(conn, Kind::Events, Some(org), Some(id), events, now).await?;
        return Ok(posted);
    }
    let run_id = tag(&events.tags, "run_id").unwrap_or("");
    let spans: Vec<(&str, &Event)> = parsed.spans.iter().map(|span| (id, span)).collect();
    let spans = dedupe(&spans, |(_, span)| text(&span.fields.span_id));
    let metrics = dedupe(&parsed.metrics, |metric| {
        let fields = &metric.fields;
        (source(metric), text(&fields.span_id), text(&fields.label), fields.timestamp_ms)
    });
    let index = (spans.iter())
        .map(|(_, span)| crate::spans::Indexed { org: &org.0, experiment: id, body: span.body })
        .collect();
    let write = Events { index, experiment: id, run_id, spans, metrics, now };
    let mut tx = conn.begin().await?;
    write.write(&mut tx).await?;
    tx.commit().await?;
    Ok(posted)
}

/// What one events post writes.
struct Events<'e, 'a> {
    /// The spans' entries in the spans query plane.
    index: Vec<crate::spans::Indexed<'e>>,
    experiment: &'e str,
    run_id: &'e str,
    spans: Vec<&'e (&'e str, &'e Event<'a>)>,
    metrics: Vec<&'e Event<'a>>,
    now: &'e str,
}

impl Events<'_, '_> {
    async fn write(&self, conn: &mut AnyConnection) -> Result<()> {
        upsert_spans(conn, &self.spans, self.now).await?;
        crate::spans::index(conn, &self.index).await?;
        EXPERIMENT_METRICS
            .run(
                conn,
                &self.metrics,
                |q| {
                    q.bind(self.experiment.to_owned())
                        .bind(self.run_id.to_owned())
                        .bind(self.now.to_owned())
                },
                |q, metric| {
                    let value = eval_value(metric);
                    let q = q
                        .bind(source(metric).to_owned())
                        .bind(text(&metric.fields.span_id).to_owned())
                        .bind(text(&metric.fields.label).to_owned())
                        .bind(metric.fields.timestamp_ms.unwrap_or(0))
                        .bind(metric.body.to_owned())
                        .bind(value.text);
                    bind_number(q, value.number).bind(i64::from(value.failed))
                },
            )
            .await?;
        if !self.metrics.is_empty() {
            sqlx::query(
                "INSERT INTO experiment_runs (experiment_uuid, run_id, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (experiment_uuid, run_id) DO NOTHING",
            )
            .bind(self.experiment)
            .bind(self.run_id)
            .bind(self.now)
            .execute(&mut *conn)
            .await?;
        }
        count_writes(conn, &[self.experiment]).await
    }
}

/// Counts one more write of each of `experiments` (their spans or evaluations) in
/// `experiment_writes`, which tells whether a cached summary still holds. Called last in
/// a write's transaction, in key order, so that on PostgreSQL the row stays locked only
/// until the commit and two writes cannot wait on each other for it.
pub(crate) async fn count_writes(conn: &mut AnyConnection, experiments: &[&str]) -> Result<()> {
    let mut experiments = experiments.to_vec();
    experiments.sort_unstable();
    experiments.dedup();
    for experiment in experiments {
        sqlx::query(
            "INSERT INTO experiment_writes (experiment_uuid, writes) VALUES ($1, 1) \
             ON CONFLICT (experiment_uuid) DO UPDATE SET writes = experiment_writes.writes + 1",
        )
        .bind(experiment)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
/// A metric's value as [`EvalValue::of`] reads it, from the fields read as it arrived.
fn eval_value(metric: &Event) -> EvalValue {
    let fields = &metric.fields;
    let values = &fields.values;
    let metric_type = text(&fields.metric_type);
    let value = match metric_type {
        "boolean" => values.boolean_value.as_ref(),
        "score" => values.score_value.as_ref(),
        "categorical" => values.categorical_value.as_ref(),
        _ => None,
    };
    EvalValue::from_fields(metric_type, value, values.error.as_ref())
}

/// Fails with not-found unless the org has the experiment.
async fn check_experiment(conn: &mut AnyConnection, org: &OrgId, id: &str) -> Result<()> {
    sqlx::query_scalar::<_, String>(
        "SELECT uuid FROM experiments WHERE org_uuid = $1 AND uuid = $2 AND deleted_at IS NULL",
    )
    .bind(&org.0)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .map(|_| ())
    .ok_or_else(|| Error::NotFound(NotFound::Other(format!("experiment '{id}' not found"))))
}

/// The span as experiment events show it: `meta` always has an `error` object.
pub(crate) fn event_span(mut span: Map<String, Value>, metrics: Vec<Value>) -> Value {
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
    ) -> Result<(String, ExperimentRecord)> {
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
    pub async fn experiment(&self, org: &OrgId, id: &str) -> Result<(String, ExperimentRecord)> {
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
    ) -> Result<(String, ExperimentRecord)> {
        check_status(&update)?;
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
                " FROM experiments WHERE org_uuid = $1 \
                 AND (CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END) = $10 \
                 AND ($2 IS NULL OR uuid = $2) AND ($3 IS NULL OR experiment = $3) \
                 AND ($4 IS NULL OR project_uuid = $4) AND ($5 IS NULL OR dataset_uuid = $5) \
                 AND ($6 IS NULL OR created_at < $6 OR (created_at = $6 AND uuid < $7)) \
                 AND ($9 IS NULL OR name = $9) \
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
            .bind(&filter.name)
            .bind(i64::from(filter.deleted))
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
                        let last = found.last().map(|(id, e): &(String, ExperimentRecord)| {
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

    /// Stores an experiment's metrics (and replayed spans), all or nothing. A metric or span
    /// given twice is stored once, as last given. On SQLite they are kept in the
    /// ingest journal once checked, and stored shortly after; reads never see them
    /// missing.
    pub async fn post_events(&self, org: &OrgId, id: &str, events: RawEvents) -> Result<usize> {
        let parsed = Parsed::of(&events)?;
        let mut conn = self.write.acquire().await?;
        let journal = self.journal();
        let open = journal.filter(|journal| journal.open());
        let posted = store_parsed(&mut conn, org, id, &events, &parsed, &time::now(), open).await?;
        if let Some(journal) = journal {
            journal.finish(&mut conn).await?;
        }
        Ok(posted)
    }

    /// An experiment's spans in start order, each with its metrics, and its summary metrics.
    pub async fn experiment_events(&self, org: &OrgId, id: &str) -> Result<ExperimentEvents> {
        self.experiment(org, id).await?;
        let mut conn = self.reads().await?.acquire().await?;
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

    /// A page of an experiment's records (its own spans) in start order, each with its
    /// metrics, `limit` per page after the cursor `after` (see [`crate::encode_cursor`]),
    /// and where the next page starts. `filter` keeps the records with an evaluation of
    /// its label that passes its test and those whose span failed (or not); it runs in
    /// SQL over the indexed evaluation values: when few evaluations pass (at most
    /// 2,000) their records are read and sorted, otherwise the records are
    /// walked in order until the page is full, so a page stays bounded either way.
    pub async fn experiment_records(
        &self,
        org: &OrgId,
        id: &str,
        filter: &RecordFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<crate::Page<Value>> {
        self.experiment(org, id).await?;
        let after = match after.filter(|c| !c.is_empty()).map(crate::decode_cursor).transpose()? {
            None => None,
            Some((at, span_id)) => Some((
                at.parse::<i64>().map_err(|_| {
                    Error::Invalid(format!(
                        "invalid cursor '{at}~{span_id}': pass back the next page's"
                    ))
                })?,
                span_id,
            )),
        };
        let mut conn = self.reads().await?.acquire().await?;
        // Few matching evaluations: read their records and sort them; many: walk the
        // records in order, looking each one's evaluation up, until the page is full.
        let mut few: Option<Vec<String>> = None;
        if let Some(eval) = &filter.eval {
            let mut sql = Sql::default();
            let matching = matching_evaluations(&mut sql, id, &eval.label, &eval.test);
            let most = sql.bind(Bind::Int(FEW_MATCHES + 1));
            sql.text = format!("SELECT m.span_id {matching} LIMIT {most}");
            let mut spans: Vec<String> = (sql.query().fetch_all(&mut *conn).await?.iter())
                .map(|row| row.try_get(0))
                .collect::<std::result::Result<_, _>>()?;
            if spans.len() as i64 <= FEW_MATCHES {
                spans.sort_unstable();
                spans.dedup();
                few = Some(spans);
            }
        }
        let mut sql = Sql::default();
        let experiment = sql.bind(Bind::Text(id.to_owned()));
        sql.text = match &few {
            None => format!(
                "SELECT e.span_id, e.start_ns, e.body FROM experiment_spans e \
                 WHERE e.experiment_uuid = {experiment}"
            ),
            Some(spans) if spans.is_empty() => return Ok((Vec::new(), None)),
            // Each candidate by its key, written as row values so SQLite looks each one up
            // rather than walk every record in start order to find them.
            Some(spans) => {
                let keys: Vec<String> = (spans.iter())
                    .map(|span| format!("({experiment}, {})", sql.bind(Bind::Text(span.clone()))))
                    .collect();
                format!(
                    "SELECT e.span_id, e.start_ns FROM experiment_spans e \
                     WHERE (e.experiment_uuid, e.span_id) IN (VALUES {})",
                    keys.join(", ")
                )
            }
        };
        if let Some(eval) = filter.eval.as_ref().filter(|_| few.is_none()) {
            let label = sql.bind(Bind::Text(eval.label.clone()));
            let test = value_test(&mut sql, &eval.test);
            sql.text.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM experiment_metrics m \
                 WHERE m.experiment_uuid = e.experiment_uuid AND m.span_id = e.span_id \
                 AND m.label = {label} AND m.metric_source <> 'summary' AND {test})"
            ));
        }
        if let Some((at, span_id)) = after.as_ref().filter(|_| few.is_none()) {
            let at = sql.bind(Bind::Int(*at));
            let span_id = sql.bind(Bind::Text(span_id.clone()));
            sql.text.push_str(&format!(
                " AND (e.start_ns > {at} OR (e.start_ns = {at} AND e.span_id > {span_id}))"
            ));
        }
        if let Some(errors) = filter.errors {
            let org = sql.bind(Bind::Text(org.0.clone()));
            let not = if errors { "" } else { "NOT " };
            sql.text.push_str(&format!(
                " AND {not}EXISTS (SELECT 1 FROM span_search s WHERE s.org_uuid = {org} \
                 AND s.span_id = e.span_id AND s.experiment_uuid = e.experiment_uuid \
                 AND s.trace_key = '' AND s.status = 'error')"
            ));
        }
        let rows: Vec<(String, i64, String)> = if few.is_none() {
            let limit_p = sql.bind(Bind::Int(limit as i64 + 1));
            sql.text.push_str(&format!(" ORDER BY e.start_ns, e.span_id LIMIT {limit_p}"));
            (sql.query().fetch_all(&mut *conn).await?.iter())
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
                .collect::<Result<_>>()?
        } else {
            // No ORDER BY, which would have SQLite walk the records in order instead:
            // sorted and paged here.
            let mut keys: Vec<(i64, String)> = (sql.query().fetch_all(&mut *conn).await?.iter())
                .map(|row| Ok((row.try_get(1)?, row.try_get(0)?)))
                .collect::<Result<_>>()?;
            keys.retain(|(at, span)| after.as_ref().is_none_or(|(a, s)| (at, span) > (a, s)));
            keys.sort_unstable();
            keys.truncate(limit + 1);
            let mut bodies = span_bodies(&mut conn, id, keys.iter().map(|(_, s)| s)).await?;
            (keys.into_iter())
                .map(|(at, span)| {
                    let body = bodies.remove(&span).unwrap_or_default();
                    (span, at, body)
                })
                .collect()
        };
        let more = rows.len() > limit;
        let rows = &rows[..rows.len().min(limit)];
        let mut by_span: std::collections::HashMap<String, Vec<Value>> =
            std::collections::HashMap::new();
        if !rows.is_empty() {
            let placeholders: Vec<String> =
                (0..rows.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT span_id, body FROM experiment_metrics WHERE experiment_uuid = $1 \
                 AND metric_source <> 'summary' AND span_id IN ({}) ORDER BY timestamp_ms, label",
                placeholders.join(", ")
            );
            // Only numbered placeholders are formatted in; every value is bound.
            let mut query =
                sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql)).bind(id);
            for (span_id, _, _) in rows {
                query = query.bind(span_id);
            }
            for (span_id, body) in query.fetch_all(&mut *conn).await? {
                let value: Value = serde_json::from_str(&body)
                    .map_err(|e| Error::Invalid(format!("stored metric is not JSON: {e}")))?;
                by_span.entry(span_id).or_default().push(value);
            }
        }
        let found = (rows.iter())
            .map(|(span_id, _, body)| {
                let span = object(body, "span")?;
                Ok((span_id.clone(), event_span(span, by_span.remove(span_id).unwrap_or_default())))
            })
            .collect::<Result<Vec<_>>>()?;
        let next = more
            .then(|| rows.last().map(|(span_id, at, _)| (at.to_string(), span_id.clone())))
            .flatten();
        Ok((found, next))
    }

    /// An experiment's summary metrics (the values of its summary evaluators), at most
    /// `limit`, in posting order.
    pub async fn summary_metrics(&self, org: &OrgId, id: &str, limit: usize) -> Result<Vec<Value>> {
        self.experiment(org, id).await?;
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM experiment_metrics WHERE experiment_uuid = $1 \
             AND metric_source = 'summary' ORDER BY timestamp_ms, label LIMIT $2",
        )
        .bind(id)
        .bind(limit as i64)
        .fetch_all(self.reads().await?)
        .await?;
        (bodies.iter())
            .map(|body| {
                serde_json::from_str(body)
                    .map_err(|e| Error::Invalid(format!("stored metric is not JSON: {e}")))
            })
            .collect()
    }

    /// An experiment's summary (see [`llmobs_core::summary`]), read in one pass over its
    /// metrics and the search index of its records, keeping only numbers. Records stored
    /// before the search index existed (migration 0004) are not counted.
    ///
    /// A summary is kept in memory with the count of the experiment's writes
    /// (`experiment_writes`, one lookup); it is read again only when that changed, so a
    /// page of a 100,000-record experiment does not re-read every evaluation on every view.
    pub async fn experiment_summary(&self, org: &OrgId, id: &str) -> Result<ExperimentSummary> {
        self.experiment(org, id).await?;
        let mut conn = self.reads().await?.acquire().await?;
        let writes: Option<i64> =
            sqlx::query_scalar("SELECT writes FROM experiment_writes WHERE experiment_uuid = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        let token = writes.unwrap_or(0).to_string();
        if let Some(summary) = self.summaries.get(id, &token) {
            return Ok(summary);
        }
        let summary = summarize(&mut conn, org, id).await?;
        self.summaries.put(id, token, summary.clone());
        Ok(summary)
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
}

/// The bodies of experiment `id`'s spans `spans`, by span id.
async fn span_bodies<'a>(
    conn: &mut AnyConnection,
    id: &str,
    spans: impl Iterator<Item = &'a String>,
) -> Result<std::collections::HashMap<String, String>> {
    let mut sql = Sql::default();
    let experiment = sql.bind(Bind::Text(id.to_owned()));
    let spans: Vec<String> = spans.map(|span| sql.bind(Bind::Text(span.clone()))).collect();
    if spans.is_empty() {
        return Ok(Default::default());
    }
    sql.text = format!(
        "SELECT span_id, body FROM experiment_spans WHERE experiment_uuid = {experiment} \
         AND span_id IN ({})",
        spans.join(", ")
    );
    (sql.query().fetch_all(&mut *conn).await?.iter())
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// How many evaluations matching a record filter count as few (see
/// [`Store::experiment_records`]): that many record lookups and a sort cost about what
/// walking the records in order costs when more match.
const FEW_MATCHES: i64 = 2000;

/// The SQL test of `test` on the evaluation `m`, its values bound in `sql`.
fn value_test(sql: &mut Sql, test: &EvalTest) -> String {
    match test {
        EvalTest::Is(value) => format!("m.value_text = {}", sql.bind(Bind::Text(value.clone()))),
        EvalTest::Failed => "m.failed = 1".to_owned(),
        EvalTest::Range { min, max } => {
            let mut text = "m.value_text IS NULL AND m.value_num IS NOT NULL".to_owned();
            if let Some(min) = min {
                text.push_str(&format!(" AND m.value_num >= {}", sql.bind(Bind::Real(*min))));
            }
            if let Some(max) = max {
                text.push_str(&format!(" AND m.value_num <= {}", sql.bind(Bind::Real(*max))));
            }
            text
        }
    }
}

/// `FROM … WHERE` of the evaluations `m` of experiment `id` labelled `label` that pass
/// `test` (a range of the index by value, migration 0011), its values bound in `sql`.
fn matching_evaluations(sql: &mut Sql, id: &str, label: &str, test: &EvalTest) -> String {
    let experiment = sql.bind(Bind::Text(id.to_owned()));
    let label = sql.bind(Bind::Text(label.to_owned()));
    let test = value_test(sql, test);
    format!(
        "FROM experiment_metrics m WHERE m.experiment_uuid = {experiment} AND m.label = {label} \
         AND m.metric_source <> 'summary' AND {test}"
    )
}

/// Reads an experiment's summary from its metrics and its records' search index entries.
async fn summarize(conn: &mut AnyConnection, org: &OrgId, id: &str) -> Result<ExperimentSummary> {
    use futures_util::TryStreamExt as _;
    let mut builder = SummaryBuilder::new();
    {
        let mut rows = sqlx::query_scalar::<_, String>(
            "SELECT body FROM experiment_metrics WHERE experiment_uuid = $1 \
             AND metric_source <> 'summary'",
        )
        .bind(id)
        .fetch(&mut *conn);
        while let Some(body) = rows.try_next().await? {
            let metric: Value = serde_json::from_str(&body)
                .map_err(|e| Error::Invalid(format!("stored metric is not JSON: {e}")))?;
            builder.evaluation(&metric);
        }
    }
    let mut rows = sqlx::query_as::<_, (i64, String)>(
        "SELECT s.duration_ns, s.status FROM experiment_spans e JOIN span_search s \
         ON s.org_uuid = $1 AND s.span_id = e.span_id AND s.experiment_uuid = e.experiment_uuid \
         AND s.trace_key = '' WHERE e.experiment_uuid = $2",
    )
    .bind(&org.0)
    .bind(id)
    .fetch(&mut *conn);
    while let Some((duration, status)) = rows.try_next().await? {
        builder.record(duration as f64, status == "error");
    }
    Ok(builder.finish())
}

/// Experiment summaries computed lately, each with the token of the data it was computed
/// from (the times of the experiment's last stored metric and span). Bounded: past
/// [`SummaryCache::MAX`] entries it is emptied.
#[derive(Debug, Clone, Default)]
pub(crate) struct SummaryCache(
    std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, (String, ExperimentSummary)>>,
    >,
);

impl SummaryCache {
    const MAX: usize = 256;

    fn get(&self, id: &str, token: &str) -> Option<ExperimentSummary> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).filter(|(t, _)| t == token).map(|(_, s)| s.clone())
    }

    fn put(&self, id: &str, token: String, summary: ExperimentSummary) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(id.to_owned(), (token, summary));
    }
}

/// Refuses an update whose status is not one of
/// [`STATUSES`](llmobs_core::experiments::STATUSES).
pub(crate) fn check_status(update: &UpdateExperiment) -> Result<()> {
    match &update.status {
        Some(status) if !llmobs_core::experiments::STATUSES.contains(&status.as_str()) => {
            Err(Error::Invalid(format!(
                "unknown status '{status}': use running, completed, failed or interrupted"
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::batch::CHUNK;

    #[test]
    fn metric_values_read_as_from_the_whole_body() {
        let bodies = [
            r#"{"label":"a","metric_type":"boolean","boolean_value":true,"tags":["x:1"]}"#,
            r#"{"metric_type":"score","score_value":0.25,"error":null}"#,
            r#"{"metric_type":"score","score_value":"high","error":{"message":"boom"}}"#,
            r#"{"metric_type":"categorical","categorical_value":"good","error":{}}"#,
            r#"{"metric_type":"categorical","categorical_value":{"k":[1,2]}}"#,
            r#"{"metric_type":"categorical","categorical_value":null}"#,
            r#"{"metric_type":"boolean","boolean_value":1}"#,
            r#"{"metric_type":7,"score_value":1}"#,
            r#"{"metric_type":"score","score_value":1,"score_value":2}"#,
            r#"{"metric_type":"score"}"#,
            r#"[1]"#,
            r#"not json"#,
        ];
        // What the store reads of a metric as it arrives, then its value.
        let read = |body: &str| {
            let raw: Box<RawValue> = serde_json::from_str(body).ok()?;
            let metric = event(&raw, "metrics", 0).ok()?;
            Some(eval_value(&metric))
        };
        for body in bodies {
            let whole = serde_json::from_str::<Value>(body).ok().filter(Value::is_object);
            assert_eq!(read(body), whole.map(|json| EvalValue::of(&json)), "{body}");
        }
        assert_eq!(read(bodies[0]).unwrap().text.as_deref(), Some("true"));
        assert_eq!(read(bodies[8]).unwrap().number, Some(2.0), "the last of a key given twice");
        assert!(read(bodies[2]).unwrap().failed);
    }

    pub(crate) struct Setup {
        pub(crate) store: Store,
        pub(crate) a: OrgId,
        pub(crate) b: OrgId,
        /// An experiment of org a.
        pub(crate) ea: String,
        /// An experiment of org b.
        pub(crate) eb: String,
        pub(crate) _dir: tempfile::TempDir,
    }

    pub(crate) async fn experiment_of(store: &Store, org: &OrgId) -> String {
        let (project, _) = store.project_by_name(org, "u", "p", None).await.unwrap();
        let (dataset, _) = store.create_dataset(org, "u", &project, "d", None, None).await.unwrap();
        let request = CreateExperiment {
            name: "e".into(),
            description: None,
            dataset_id: dataset,
            project_id: project,
            dataset_version: None,
            config: None,
            metadata: None,
            ensure_unique: None,
            run_count: None,
            parent_experiment_id: None,
        };
        store.create_experiment(org, "u", request).await.unwrap().0
    }

    pub(crate) async fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_db::open(dir.path()).await;
        let a = store.create_org_keys("a", "org-a-api-key", "org-a-app-key").await.unwrap().org;
        let b = store.create_org_keys("b", "org-b-api-key", "org-b-app-key").await.unwrap().org;
        let ea = experiment_of(&store, &a).await;
        let eb = experiment_of(&store, &b).await;
        Setup { store, a, b, ea, eb, _dir: dir }
    }

    pub(crate) fn raw(value: Value) -> Box<RawValue> {
        RawValue::from_string(value.to_string()).unwrap()
    }

    pub(crate) fn span(experiment: Option<&str>, trace: &str, id: &str, name: &str) -> Value {
        let mut tags = vec![json!("dataset_record_id:r1")];
        tags.extend(experiment.map(|e| json!(format!("experiment_id:{e}"))));
        json!({"trace_id": trace, "span_id": id, "parent_id": "undefined", "name": name,
               "start_ns": 100, "duration": 5, "meta": {"input": {"q": 1}}, "tags": tags})
    }

    pub(crate) fn metric(span: &str, label: &str, value: f64) -> Value {
        json!({"metric_source": "custom", "span_id": span, "trace_id": "t", "timestamp_ms": 10,
               "metric_type": "score", "label": label, "score_value": value})
    }

    pub(crate) fn events(metrics: Vec<Value>, spans: Vec<Value>) -> RawEvents {
        PostEvents {
            scope: Some("experiments".into()),
            metrics: metrics.into_iter().map(raw).collect(),
            tags: vec!["run_id:r".into(), "run_iteration:1".into()],
            spans: spans.into_iter().map(raw).collect(),
        }
    }

    pub(crate) async fn count(store: &Store, sql: &'static str, key: &str) -> i64 {
        sqlx::query_scalar(sql).bind(key).fetch_one(store.reads().await.unwrap()).await.unwrap()
    }

    pub(crate) async fn bodies(store: &Store, sql: &'static str, key: &str) -> Vec<Value> {
        let rows: Vec<String> = sqlx::query_scalar(sql)
            .bind(key)
            .fetch_all(store.reads().await.unwrap())
            .await
            .unwrap();
        rows.iter().map(|body| serde_json::from_str(body).unwrap()).collect()
    }

    #[tokio::test]
    async fn a_post_that_repeats_a_key_stores_its_last_body() {
        let s = setup().await;
        let mut unsourced = metric("s1", "acc", 0.7);
        unsourced.as_object_mut().unwrap().remove("metric_source");
        let posted = events(
            vec![
                metric("s1", "acc", 0.1),
                metric("s2", "acc", 0.5),
                metric("s1", "acc", 0.9),
                unsourced.clone(),
            ],
            vec![span(None, "t", "s1", "first"), span(None, "t", "s1", "second")],
        );
        assert_eq!(s.store.post_events(&s.a, &s.ea, posted).await.unwrap(), 6);
        let found = s.store.experiment_events(&s.a, &s.ea).await.unwrap();
        assert_eq!(found.spans.len(), 1);
        assert_eq!(found.spans[0]["name"], "second");
        // No source counts as `custom`: the same key as the first and third metrics.
        assert_eq!(found.spans[0]["eval_metrics"], json!([unsourced]));
        let labels = "SELECT COUNT(*) FROM experiment_metrics WHERE experiment_uuid = $1";
        assert_eq!(count(&s.store, labels, &s.ea).await, 2);

        // The same through the span intake.
        let spans = [
            raw(span(Some(&s.ea), "t", "s3", "first")),
            raw(span(None, "t9", "x", "first")),
            raw(span(Some(&s.ea), "t", "s3", "second")),
            raw(span(None, "t9", "x", "second")),
        ];
        let spans: Vec<&RawValue> = spans.iter().map(|s| &**s).collect();
        assert_eq!(s.store.ingest_spans(Some(&s.a), &spans).await.unwrap(), 4);
        let found = s.store.experiment_events(&s.a, &s.ea).await.unwrap();
        let names: Vec<_> = found.spans.iter().map(|s| (&s["span_id"], &s["name"])).collect();
        assert_eq!(names, [(&json!("s1"), &json!("second")), (&json!("s3"), &json!("second"))]);
        let loose = "SELECT body FROM llmobs_spans WHERE org_uuid = $1";
        let loose = bodies(&s.store, loose, &s.a.0).await;
        assert_eq!(loose.iter().map(|s| &s["name"]).collect::<Vec<_>>(), [&json!("second")]);
    }

    #[tokio::test]
    async fn numbers_after_non_numbers_are_stored_on_every_connection() {
        // On PostgreSQL, a statement first run with a NULL number once kept the wrong
        // parameter type, and a later number through the same statement was a 500.
        let s = setup().await;
        for i in 0..16 {
            let span = format!("s{i}");
            let label = json!({"metric_source": "custom", "span_id": span, "timestamp_ms": 10,
                "metric_type": "categorical", "label": "tone", "categorical_value": "curt"});
            for metric in [label, metric(&span, "acc", f64::from(i) + 0.25)] {
                let posted = events(vec![metric], Vec::new());
                assert_eq!(s.store.post_events(&s.a, &s.ea, posted).await.unwrap(), 1, "{i}");
            }
        }
        let sum: f64 = sqlx::query_scalar(
            "SELECT SUM(value_num) FROM experiment_metrics WHERE experiment_uuid = $1",
        )
        .bind(&s.ea)
        .fetch_one(s.store.reads().await.unwrap())
        .await
        .unwrap();
        assert_eq!(sum, (0..16).map(|i| f64::from(i) + 0.25).sum::<f64>());
        let unnumbered = "SELECT COUNT(*) FROM experiment_metrics \
            WHERE experiment_uuid = $1 AND value_num IS NULL AND value_text = 'curt'";
        assert_eq!(count(&s.store, unnumbered, &s.ea).await, 16);
    }

    #[tokio::test]
    async fn batches_of_any_size_are_stored_whole() {
        let s = setup().await;
        let (mut spans_total, mut metrics_total) = (0, 0);
        for (round, size) in
            [1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 1000].into_iter().enumerate()
        {
            let spans: Vec<Box<RawValue>> = (0..size)
                .map(|i| raw(span(Some(&s.ea), &format!("t{round}"), &format!("{round}-{i}"), "n")))
                .collect();
            let spans: Vec<&RawValue> = spans.iter().map(|s| &**s).collect();
            assert_eq!(s.store.ingest_spans(None, &spans).await.unwrap(), size);
            let metrics =
                (0..size).map(|i| metric(&format!("{round}-{i}"), "acc", i as f64)).collect();
            s.store.post_events(&s.a, &s.ea, events(metrics, Vec::new())).await.unwrap();
            spans_total += size;
            metrics_total += size;
            let stored = "SELECT COUNT(*) FROM experiment_spans WHERE experiment_uuid = $1";
            assert_eq!(count(&s.store, stored, &s.ea).await, spans_total as i64, "{size}");
            let stored = "SELECT COUNT(*) FROM experiment_metrics WHERE experiment_uuid = $1";
            assert_eq!(count(&s.store, stored, &s.ea).await, metrics_total as i64, "{size}");
        }
        let found = s.store.experiment_events(&s.a, &s.ea).await.unwrap();
        assert_eq!(found.spans.len(), spans_total);
        assert!(found.spans.iter().all(|s| s["eval_metrics"].as_array().unwrap().len() == 1));

        let metrics: Vec<Box<RawValue>> =
            (0..1000).map(|i| raw(json!({"label": format!("m{i}"), "n": i}))).collect();
        let metrics: Vec<&RawValue> = metrics.iter().map(|m| &**m).collect();
        assert_eq!(s.store.ingest_eval_metrics(Some(&s.a), &metrics).await.unwrap(), 1000);
        let stored = "SELECT COUNT(*) FROM eval_metrics WHERE org_uuid = $1";
        assert_eq!(count(&s.store, stored, &s.a.0).await, 1000);
    }

    #[tokio::test]
    async fn a_refused_post_writes_nothing() {
        let s = setup().await;
        let mut metrics: Vec<Value> =
            (0..500).map(|i| metric(&format!("s{i}"), "acc", 0.5)).collect();
        metrics.push(json!({"label": "late", "metric_type": "score"}));
        let err = s.store.post_events(&s.a, &s.ea, events(metrics, Vec::new())).await.unwrap_err();
        assert_eq!(err.to_string(), "metrics[500]: needs an integer \"timestamp_ms\"");
        let err = s
            .store
            .post_events(&s.a, &s.eb, events(vec![metric("s", "acc", 0.5)], Vec::new()))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{err}");
        let err = s
            .store
            .post_events(&s.a, &s.ea, events(Vec::new(), vec![json!({"span_id": ""})]))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "spans[0]: needs a string \"span_id\"");
        let bad = RawValue::from_string(r#"{"label": "x", "v": 1e400}"#.into()).unwrap();
        let err = s.store.ingest_eval_metrics(Some(&s.a), &[&*bad]).await.unwrap_err();
        assert!(err.to_string().starts_with("malformed JSON body: metrics[0]: "), "{err}");
        for table in ["experiment_metrics", "experiment_spans"] {
            let sql = match table {
                "experiment_metrics" => {
                    "SELECT COUNT(*) FROM experiment_metrics WHERE experiment_uuid = $1"
                }
                _ => "SELECT COUNT(*) FROM experiment_spans WHERE experiment_uuid = $1",
            };
            assert_eq!(count(&s.store, sql, &s.ea).await, 0, "{table}");
            assert_eq!(count(&s.store, sql, &s.eb).await, 0, "{table}");
        }
        assert_eq!(
            count(&s.store, "SELECT COUNT(*) FROM eval_metrics WHERE org_uuid = $1", &s.a.0).await,
            0
        );
    }

    #[tokio::test]
    async fn the_owner_of_an_experiment_or_dataset_is_its_org() {
        use crate::Owned;
        let s = setup().await;
        assert_eq!(s.store.owner_of(Owned::Experiment, &s.ea).await.unwrap(), s.a);
        let (_, experiment) = s.store.experiment(&s.b, &s.eb).await.unwrap();
        assert_eq!(s.store.owner_of(Owned::Dataset, &experiment.dataset_id).await.unwrap(), s.b);
        let err = s.store.owner_of(Owned::Dataset, &s.ea).await.unwrap_err();
        assert_eq!(err.to_string(), format!("dataset '{}' not found", s.ea));
    }
}
