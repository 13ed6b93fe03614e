//! Topic discovery's storage: configs (per org), their runs with status and progress, and
//! what a completed run found, its topics and clustered points, written in one
//! transaction when the run finishes. Span sampling is [`Store::sample_span_inputs`].
//!
//! A run is `pending`, then `running`, then `completed` or `failed`. Runs do not survive
//! the server: [`Store::fail_unfinished_topic_runs`], called at start, marks any run still
//! pending or running as failed.

use llmobs_core::topics::{Progress, Snapshot, TopicSettings};
use serde_json::{Map, Value};
use sqlx::Row;

use crate::Store;
use crate::batch::{Col, Insert};
use crate::error::{Error, NotFound, Result};
use crate::keys::OrgId;
use crate::time;

/// A stored config.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its settings.
    pub settings: TopicSettings,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicRun {
    /// Its id.
    pub id: String,
    /// Its config.
    pub config_id: String,
    /// `pending`, `running`, `completed` or `failed`.
    pub status: String,
    /// The current or last step (for a failed run, with the reason).
    pub step: String,
    /// Its steps.
    pub progress: Vec<Progress>,
    /// The settings it runs with.
    pub snapshot: Snapshot,
    /// When it was created.
    pub created_at: String,
    /// When it finished.
    pub completed_at: Option<String>,
}

/// A topic to store: its parent by position in the same list.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTopic {
    /// The parent's index in the list, `None` at the top.
    pub parent: Option<usize>,
    /// 0 for a leaf.
    pub level: i64,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Points under it.
    pub point_count: i64,
}

/// A clustered point to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPoint {
    /// Its leaf topic's index in the topic list.
    pub topic: usize,
    /// The span.
    pub span_id: String,
    /// Its trace.
    pub trace_id: String,
    /// Its session.
    pub session_id: String,
    /// Its input text.
    pub input: String,
    /// Its metrics (see [`crate::SpanInput::metrics`]).
    pub metrics: Map<String, Value>,
}

/// A stored topic.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTopic {
    /// Its id.
    pub id: String,
    /// Its run.
    pub run_id: String,
    /// Its parent (`""` at the top).
    pub parent_id: String,
    /// 0 for a leaf.
    pub level: i64,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Points under it.
    pub point_count: i64,
    /// When a topic of this name first appeared in the config's runs.
    pub first_seen_at: String,
    /// When it was stored.
    pub created_at: String,
}

/// A stored clustered point.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPoint {
    /// Its id.
    pub id: String,
    /// Its leaf topic.
    pub topic_id: String,
    /// Its place in the run.
    pub position: i64,
    /// The span.
    pub span_id: String,
    /// Its trace.
    pub trace_id: String,
    /// Its session.
    pub session_id: String,
    /// Its input.
    pub input: String,
    /// Its metrics.
    pub metrics: Map<String, Value>,
}

static TOPICS: Insert = Insert::new(
    "topics",
    &[
        ("uuid", Col::Row),
        ("run_uuid", Col::Shared(1)),
        ("position", Col::Row),
        ("parent_uuid", Col::Row),
        ("level", Col::Row),
        ("name", Col::Row),
        ("description", Col::Row),
        ("point_count", Col::Row),
        ("first_seen_at", Col::Row),
        ("created_at", Col::Shared(2)),
    ],
    "",
);

static POINTS: Insert = Insert::new(
    "topic_points",
    &[
        ("uuid", Col::Row),
        ("run_uuid", Col::Shared(1)),
        ("topic_uuid", Col::Row),
        ("position", Col::Row),
        ("span_id", Col::Row),
        ("trace_id", Col::Row),
        ("session_id", Col::Row),
        ("input", Col::Row),
        ("metrics", Col::Row),
    ],
    "",
);

fn json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| Error::Invalid(format!("stored {what} is not valid: {e}")))
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn config_of(row: &sqlx::any::AnyRow) -> Result<TopicConfig> {
    Ok(TopicConfig {
        id: row.try_get("uuid")?,
        name: row.try_get("name")?,
        settings: json(&row.try_get::<String, _>("settings")?, "topic config")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn run_of(row: &sqlx::any::AnyRow) -> Result<TopicRun> {
    Ok(TopicRun {
        id: row.try_get("uuid")?,
        config_id: row.try_get("config_uuid")?,
        status: row.try_get("status")?,
        step: row.try_get("step")?,
        progress: json(&row.try_get::<String, _>("progress")?, "run progress")?,
        snapshot: json(&row.try_get::<String, _>("snapshot")?, "run snapshot")?,
        created_at: row.try_get("created_at")?,
        completed_at: row.try_get("completed_at")?,
    })
}

fn topic_of(row: &sqlx::any::AnyRow) -> Result<StoredTopic> {
    Ok(StoredTopic {
        id: row.try_get("uuid")?,
        run_id: row.try_get("run_uuid")?,
        parent_id: row.try_get("parent_uuid")?,
        level: row.try_get("level")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        point_count: row.try_get("point_count")?,
        first_seen_at: row.try_get("first_seen_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn point_of(row: &sqlx::any::AnyRow) -> Result<StoredPoint> {
    Ok(StoredPoint {
        id: row.try_get("uuid")?,
        topic_id: row.try_get("topic_uuid")?,
        position: row.try_get("position")?,
        span_id: row.try_get("span_id")?,
        trace_id: row.try_get("trace_id")?,
        session_id: row.try_get("session_id")?,
        input: row.try_get("input")?,
        metrics: json(&row.try_get::<String, _>("metrics")?, "point metrics")?,
    })
}

fn missing(what: &str, id: &str) -> Error {
    Error::NotFound(NotFound::Other(format!("no topic discovery {what} '{id}'")))
}

const CONFIG_COLUMNS: &str = "uuid, name, settings, created_at, updated_at";
const RUN_COLUMNS: &str =
    "uuid, config_uuid, status, step, progress, snapshot, created_at, completed_at";
const TOPIC_COLUMNS: &str = "uuid, run_uuid, parent_uuid, level, name, description, \
                             point_count, first_seen_at, created_at";
const POINT_COLUMNS: &str =
    "uuid, topic_uuid, position, span_id, trace_id, session_id, input, metrics";

impl Store {
    /// Creates a config, or replaces the name and settings of the org's config `id`.
    pub async fn put_topic_config(
        &self,
        org: &OrgId,
        id: Option<&str>,
        name: &str,
        settings: &TopicSettings,
    ) -> Result<TopicConfig> {
        let now = time::now();
        let id = match id {
            Some(id) => {
                let done = sqlx::query(
                    "UPDATE topic_configs SET name = $1, settings = $2, updated_at = $3 \
                     WHERE uuid = $4 AND org_uuid = $5",
                )
                .bind(name)
                .bind(to_json(settings))
                .bind(&now)
                .bind(id)
                .bind(&org.0)
                .execute(&self.write)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(missing("config", id));
                }
                id.to_owned()
            }
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                sqlx::query(
                    "INSERT INTO topic_configs (uuid, org_uuid, name, settings, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(&id)
                .bind(&org.0)
                .bind(name)
                .bind(to_json(settings))
                .bind(&now)
                .execute(&self.write)
                .await?;
                id
            }
        };
        self.topic_config(org, &id).await
    }

    /// The org's config `id`.
    pub async fn topic_config(&self, org: &OrgId, id: &str) -> Result<TopicConfig> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONFIG_COLUMNS} FROM topic_configs WHERE uuid = $1 AND org_uuid = $2"
        )))
        .bind(id)
        .bind(&org.0)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| missing("config", id))?;
        config_of(&row)
    }

    /// The org's configs, the most recently changed first.
    pub async fn topic_configs(&self, org: &OrgId) -> Result<Vec<TopicConfig>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONFIG_COLUMNS} FROM topic_configs WHERE org_uuid = $1 \
             ORDER BY updated_at DESC, uuid"
        )))
        .bind(&org.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(config_of).collect()
    }

    /// Deletes the org's config `id` with its runs, topics and points.
    pub async fn delete_topic_config(&self, org: &OrgId, id: &str) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query("DELETE FROM topic_configs WHERE uuid = $1 AND org_uuid = $2")
            .bind(id)
            .bind(&org.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(missing("config", id));
        }
        for table in ["topic_points", "topics"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE run_uuid IN \
                 (SELECT uuid FROM topic_runs WHERE config_uuid = $1)"
            )))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM topic_runs WHERE config_uuid = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a pending run of the org's config `config_id` with its settings now;
    /// [`Error::Conflict`] while another run of it is pending or running.
    pub async fn create_topic_run(&self, org: &OrgId, config_id: &str) -> Result<TopicRun> {
        let config = self.topic_config(org, config_id).await?;
        let mut tx = self.write.begin().await?;
        let busy: Option<String> = sqlx::query_scalar(
            "SELECT uuid FROM topic_runs WHERE config_uuid = $1 \
             AND status IN ('pending', 'running')",
        )
        .bind(config_id)
        .fetch_optional(&mut *tx)
        .await?;
        if busy.is_some() {
            return Err(Error::Conflict(
                "a run of this topic discovery config is already in progress; poll its status \
                 and trigger again when it has finished",
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO topic_runs (uuid, org_uuid, config_uuid, status, step, progress, \
             snapshot, created_at, completed_at) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, NULL)",
        )
        .bind(&id)
        .bind(&org.0)
        .bind(config_id)
        .bind(llmobs_core::topics::STEPS[0])
        .bind(to_json(&Progress::all_pending()))
        .bind(to_json(&config.settings.snapshot()))
        .bind(time::now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.topic_run(org, &id).await
    }

    /// Records a run's status, step and progress (no-op for a run deleted meanwhile).
    pub async fn update_topic_run(
        &self,
        run_id: &str,
        status: &str,
        step: &str,
        progress: &[Progress],
    ) -> Result<()> {
        let completed = matches!(status, "completed" | "failed").then(time::now);
        sqlx::query(
            "UPDATE topic_runs SET status = $1, step = $2, progress = $3, completed_at = $4 \
             WHERE uuid = $5",
        )
        .bind(status)
        .bind(step)
        .bind(to_json(&progress))
        .bind(completed)
        .bind(run_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Stores what a run found and marks it completed, in one transaction. A topic's
    /// `first_seen_at` is that of the earliest topic of the same name in the config's
    /// earlier runs, else now. [`Error::NotFound`] when the run was deleted meanwhile.
    pub async fn finish_topic_run(
        &self,
        run_id: &str,
        topics: &[NewTopic],
        points: &[NewPoint],
        progress: &[Progress],
    ) -> Result<()> {
        let now = time::now();
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE topic_runs SET status = 'completed', step = $1, progress = $2, \
             completed_at = $3 WHERE uuid = $4",
        )
        .bind(llmobs_core::topics::STEPS[llmobs_core::topics::STEPS.len() - 1])
        .bind(to_json(&progress))
        .bind(&now)
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(missing("run", run_id));
        }
        let seen: Vec<(String, String)> = sqlx::query_as(
            "SELECT t.name, MIN(t.first_seen_at) FROM topics t JOIN topic_runs r \
             ON r.uuid = t.run_uuid WHERE r.config_uuid = \
             (SELECT config_uuid FROM topic_runs WHERE uuid = $1) GROUP BY t.name",
        )
        .bind(run_id)
        .fetch_all(&mut *tx)
        .await?;
        let seen: std::collections::HashMap<String, String> = seen.into_iter().collect();
        let ids: Vec<String> = topics.iter().map(|_| uuid::Uuid::new_v4().to_string()).collect();
        let rows: Vec<(usize, &NewTopic)> = topics.iter().enumerate().collect();
        TOPICS
            .run(
                &mut tx,
                &rows,
                |q| q.bind(run_id.to_owned()).bind(now.clone()),
                |q, (i, topic)| {
                    let parent = topic.parent.map(|p| ids[p].clone()).unwrap_or_default();
                    let first = seen.get(&topic.name).cloned().unwrap_or_else(|| now.clone());
                    q.bind(ids[*i].clone())
                        .bind(*i as i64)
                        .bind(parent)
                        .bind(topic.level)
                        .bind(topic.name.clone())
                        .bind(topic.description.clone())
                        .bind(topic.point_count)
                        .bind(first)
                },
            )
            .await?;
        let rows: Vec<(usize, &NewPoint)> = points.iter().enumerate().collect();
        POINTS
            .run(
                &mut tx,
                &rows,
                |q| q.bind(run_id.to_owned()),
                |q, (i, point)| {
                    q.bind(uuid::Uuid::new_v4().to_string())
                        .bind(ids[point.topic].clone())
                        .bind(*i as i64)
                        .bind(point.span_id.clone())
                        .bind(point.trace_id.clone())
                        .bind(point.session_id.clone())
                        .bind(point.input.clone())
                        .bind(to_json(&point.metrics))
                },
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks every run still pending or running as failed: their server stopped.
    /// Returns how many there were.
    pub async fn fail_unfinished_topic_runs(&self) -> Result<u64> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM topic_runs WHERE status IN ('pending', 'running')"
        )))
        .fetch_all(&self.write)
        .await?;
        let mut failed = 0;
        for row in &rows {
            let mut run = run_of(row)?;
            for step in &mut run.progress {
                if step.status.starts_with("running") {
                    step.status = "failed".into();
                }
            }
            let step = format!("{}: the server stopped during the run", run.step);
            self.update_topic_run(&run.id, "failed", &step, &run.progress).await?;
            failed += 1;
        }
        Ok(failed)
    }

    /// The org's run `id`.
    pub async fn topic_run(&self, org: &OrgId, id: &str) -> Result<TopicRun> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM topic_runs WHERE uuid = $1 AND org_uuid = $2"
        )))
        .bind(id)
        .bind(&org.0)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| missing("run", id))?;
        run_of(&row)
    }

    /// The runs of the org's config `config_id`, newest first.
    pub async fn topic_runs(&self, org: &OrgId, config_id: &str) -> Result<Vec<TopicRun>> {
        self.topic_config(org, config_id).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM topic_runs WHERE config_uuid = $1 AND org_uuid = $2 \
             ORDER BY created_at DESC, uuid DESC"
        )))
        .bind(config_id)
        .bind(&org.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(run_of).collect()
    }

    /// The topics of a run, each parent before its children.
    pub async fn run_topics(&self, run_id: &str) -> Result<Vec<StoredTopic>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOPIC_COLUMNS} FROM topics WHERE run_uuid = $1 ORDER BY position"
        )))
        .bind(run_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(topic_of).collect()
    }

    /// The org's topic `id`.
    pub async fn topic(&self, org: &OrgId, id: &str) -> Result<StoredTopic> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t.{} FROM topics t JOIN topic_runs r ON r.uuid = t.run_uuid \
             WHERE t.uuid = $1 AND r.org_uuid = $2",
            TOPIC_COLUMNS.replace(", ", ", t.")
        )))
        .bind(id)
        .bind(&org.0)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| missing("topic", id))?;
        topic_of(&row)
    }

    /// A page of the points under the org's topic `id` (its own, or its leaves' for a
    /// parent) in run order, after position `after`; and the position the next page
    /// starts after, when there is one.
    pub async fn topic_points(
        &self,
        org: &OrgId,
        id: &str,
        after: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<StoredPoint>, Option<i64>)> {
        let topic = self.topic(org, id).await?;
        let all = self.run_topics(&topic.run_id).await?;
        // The leaves under the topic.
        let mut under = vec![topic.id.clone()];
        let mut leaves = Vec::new();
        while let Some(current) = under.pop() {
            let children: Vec<&StoredTopic> =
                all.iter().filter(|t| t.parent_id == current).collect();
            if children.is_empty() {
                leaves.push(current);
            } else {
                under.extend(children.into_iter().map(|t| t.id.clone()));
            }
        }
        let marks: Vec<String> = (0..leaves.len()).map(|i| format!("${}", i + 3)).collect();
        let text = format!(
            "SELECT {POINT_COLUMNS} FROM topic_points WHERE position > $1 AND run_uuid = $2 \
             AND topic_uuid IN ({}) ORDER BY position LIMIT {}",
            marks.join(", "),
            limit + 1
        );
        let mut query =
            sqlx::query(sqlx::AssertSqlSafe(text)).bind(after.unwrap_or(-1)).bind(&topic.run_id);
        for leaf in &leaves {
            query = query.bind(leaf);
        }
        let rows = query.fetch_all(&self.read).await?;
        let mut points: Vec<StoredPoint> = rows.iter().map(point_of).collect::<Result<_>>()?;
        let next = if points.len() > limit {
            points.truncate(limit);
            points.last().map(|p| p.position)
        } else {
            None
        };
        Ok((points, next))
    }

    /// Up to `per_topic` points of each leaf topic of a run, in run order.
    pub async fn run_points(&self, run_id: &str, per_topic: usize) -> Result<Vec<StoredPoint>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {POINT_COLUMNS} FROM (SELECT p.*, ROW_NUMBER() OVER \
             (PARTITION BY topic_uuid ORDER BY position) AS nth FROM topic_points p \
             WHERE run_uuid = $1) ranked WHERE nth <= $2 ORDER BY position"
        )))
        .bind(run_id)
        .bind(per_topic as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(point_of).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TopicSettings {
        serde_json::from_value(serde_json::json!({
            "evp_query": "", "sampling_ratio": 1.0, "num_records": 10, "hierarchy_depth": 2
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn runs_store_topics_and_page_points() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_db::open(dir.path()).await;
        let org =
            store.create_org_keys("o", "api-key-topics-1", "app-key-topics-1").await.unwrap().org;
        let config = store.put_topic_config(&org, None, "c", &settings()).await.unwrap();
        let run = store.create_topic_run(&org, &config.id).await.unwrap();
        assert_eq!(run.status, "pending");
        assert!(matches!(store.create_topic_run(&org, &config.id).await, Err(Error::Conflict(_))));
        let topics = vec![
            NewTopic {
                parent: None,
                level: 1,
                name: "top".into(),
                description: "d".into(),
                point_count: 3,
            },
            NewTopic {
                parent: Some(0),
                level: 0,
                name: "a".into(),
                description: "d".into(),
                point_count: 2,
            },
            NewTopic {
                parent: Some(0),
                level: 0,
                name: "b".into(),
                description: "d".into(),
                point_count: 1,
            },
        ];
        let point = |topic, span: &str| NewPoint {
            topic,
            span_id: span.into(),
            trace_id: "t".into(),
            session_id: String::new(),
            input: format!("input {span}"),
            metrics: Map::new(),
        };
        let points = vec![point(1, "s1"), point(2, "s2"), point(1, "s3")];
        store.finish_topic_run(&run.id, &topics, &points, &Progress::all_pending()).await.unwrap();
        let stored = store.run_topics(&run.id).await.unwrap();
        assert_eq!(stored.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["top", "a", "b"]);
        assert_eq!(stored[1].parent_id, stored[0].id);
        let (page, next) = store.topic_points(&org, &stored[0].id, None, 2).await.unwrap();
        assert_eq!(page.iter().map(|p| p.span_id.as_str()).collect::<Vec<_>>(), ["s1", "s2"]);
        let (rest, end) = store.topic_points(&org, &stored[0].id, next, 2).await.unwrap();
        assert_eq!((rest.len(), end), (1, None));
        let (leaf, _) = store.topic_points(&org, &stored[1].id, None, 10).await.unwrap();
        assert_eq!(leaf.len(), 2);
        assert_eq!(store.run_points(&run.id, 1).await.unwrap().len(), 2);
        assert_eq!(store.topic_run(&org, &run.id).await.unwrap().status, "completed");

        // A run left unfinished by a stopped server is failed at the next start.
        let again = store.create_topic_run(&org, &config.id).await.unwrap();
        assert_eq!(store.fail_unfinished_topic_runs().await.unwrap(), 1);
        let failed = store.topic_run(&org, &again.id).await.unwrap();
        assert_eq!(failed.status, "failed");
        assert!(failed.step.ends_with("the server stopped during the run"), "{}", failed.step);

        store.delete_topic_config(&org, &config.id).await.unwrap();
        assert!(store.run_topics(&run.id).await.unwrap().is_empty());
        assert!(matches!(store.topic_run(&org, &run.id).await, Err(Error::NotFound(_))));
    }
}
