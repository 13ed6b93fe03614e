//! Annotation queues: a project's queues with their label schema, the interactions added to
//! each, one annotation per reviewer and interaction, the spans an interaction shows, and
//! the export of a queue's annotations to a dataset.
//!
//! The rules live here and in [`llmobs_core::annotations`]: a label schema is checked and
//! its labels get ids when stored; a label value is checked against the queue's schema
//! before anything is written; an upsert merges the labels sent into the caller's
//! annotation (labels not sent keep their value), all items of a request or none. A queue
//! of a deleted project is not found. Deleting a queue or an interaction deletes what it
//! holds.

use std::collections::HashMap;

use llmobs_core::annotations::{
    AddedInteraction, AnnotatedByContent, AnnotatedInQueue, AnnotatedInteraction, Annotation,
    AnnotationSchema, Content, DeleteError, DeletedAnnotations, ExportOutcome, ExportRequest,
    Interaction, InteractionType, LabelsAs, NewInteraction, NewQueue, Queue, QueueUpdate,
    SavedLabelValue, UpsertAnnotation, export_record,
};
use llmobs_core::datasets::{BatchUpdate, InsertRecord};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Error, NotFound, Result};
use crate::keys::OrgId;
use crate::{Store, time};

/// The most interactions one add request may hold.
pub const MAX_INTERACTIONS: usize = 1000;

const QUEUE_COLUMNS: &str = "q.uuid, q.project_uuid, q.name, q.description, q.label_schema, \
     q.restrict_to_assignees, q.restrict_to_reviewers, q.reviewer_emails, q.created_by, \
     q.modified_by, q.created_at, q.modified_at";

/// Queues of the org whose project is live.
const LIVE_QUEUE: &str = "q.org_uuid = $1 AND EXISTS (SELECT 1 FROM projects p \
     WHERE p.uuid = q.project_uuid AND p.deleted_at IS NULL)";

fn queue_missing(queue_id: &str) -> Error {
    Error::NotFound(NotFound::Other(format!(
        "annotation queue '{queue_id}' not found: list the org's queues with GET \
         /api/v2/llm-obs/v1/annotation-queues"
    )))
}

fn interaction_missing(queue_id: &str, interaction_id: &str) -> Error {
    Error::NotFound(NotFound::Other(format!(
        "interaction '{interaction_id}' is not in annotation queue '{queue_id}': read its \
         interactions with GET .../annotation-queues/{queue_id}/annotated-interactions"
    )))
}

fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("JSON values serialise")
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|err| Error::Invalid(format!("stored {what} does not parse: {err}")))
}

fn queue_from_row(row: &AnyRow) -> Result<(String, Queue)> {
    let schema: Option<String> = row.try_get("label_schema")?;
    let emails: String = row.try_get("reviewer_emails")?;
    let created_by: String = row.try_get("created_by")?;
    Ok((
        row.try_get("uuid")?,
        Queue {
            project_id: row.try_get("project_uuid")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            annotation_schema: schema.map(|s| parse_json(&s, "label schema")).transpose()?,
            can_manage_access: true,
            restrict_to_assignees: row.try_get::<i64, _>("restrict_to_assignees")? != 0,
            restrict_to_reviewers: row.try_get::<i64, _>("restrict_to_reviewers")? != 0,
            reviewer_emails: parse_json(&emails, "reviewer emails")?,
            owned_by: created_by.clone(),
            created_by,
            modified_by: row.try_get("modified_by")?,
            created_at: row.try_get("created_at")?,
            modified_at: row.try_get("modified_at")?,
        },
    ))
}

fn interaction_from_row(row: &AnyRow) -> Result<Interaction> {
    let kind: String = row.try_get("kind")?;
    let blocks: Option<String> = row.try_get("display_block")?;
    Ok(Interaction {
        id: row.try_get("uuid")?,
        kind: InteractionType::parse(&kind).ok_or_else(|| {
            Error::Invalid(format!("stored interaction type '{kind}' is unknown"))
        })?,
        content_id: row.try_get("content_id")?,
        display_block: blocks.map(|b| parse_json(&b, "display blocks")).transpose()?,
        created_at: row.try_get("created_at")?,
        modified_at: row.try_get("modified_at")?,
    })
}

fn annotation_from_row(row: &AnyRow) -> Result<Annotation> {
    let values: String = row.try_get("label_values")?;
    let author: String = row.try_get("author")?;
    Ok(Annotation {
        id: row.try_get("uuid")?,
        interaction_id: row.try_get("interaction_uuid")?,
        label_values: parse_json(&values, "label values")?,
        created_by: author.clone(),
        modified_by: author,
        created_at: row.try_get("created_at")?,
        modified_at: row.try_get("modified_at")?,
    })
}

/// A label schema checked, its new labels given ids.
fn checked(schema: AnnotationSchema) -> Result<AnnotationSchema> {
    schema
        .check(|| uuid::Uuid::new_v4().to_string())
        .map_err(|err| Error::Invalid(format!("annotation_schema.{err}")))
}

/// The content id of display blocks: a hash of their JSON (keys sorted), so the same
/// blocks get the same id.
fn blocks_id(blocks: &[Value]) -> String {
    let digest = Sha256::digest(json_text(&blocks).as_bytes());
    format!("db-{}", &hex::encode(digest)[..32])
}

const INTERACTION_COLUMNS: &str =
    "i.uuid, i.kind, i.content_id, i.display_block, i.created_at, i.modified_at";

const ANNOTATION_COLUMNS: &str =
    "a.uuid, a.interaction_uuid, a.author, a.label_values, a.created_at, a.modified_at";

/// A queue's interactions with their annotations, in the order they were added.
fn annotate(
    interactions: Vec<Interaction>,
    annotations: Vec<Annotation>,
) -> Vec<AnnotatedInteraction> {
    let mut by_interaction: HashMap<String, Vec<Annotation>> = HashMap::new();
    for annotation in annotations {
        by_interaction.entry(annotation.interaction_id.clone()).or_default().push(annotation);
    }
    interactions
        .into_iter()
        .map(|interaction| AnnotatedInteraction {
            annotations: (by_interaction.remove(&interaction.id).unwrap_or_default())
                .into_iter()
                .map(Into::into)
                .collect(),
            interaction,
            can_annotate: true,
        })
        .collect()
}

impl Store {
    /// Creates a queue in a live project of the org.
    pub async fn create_queue(
        &self,
        org: &OrgId,
        user: &str,
        new: NewQueue,
    ) -> Result<(String, Queue)> {
        if new.name.trim().is_empty() {
            return Err(Error::Invalid("name: a queue needs a non-empty name".into()));
        }
        self.project(org, &new.project_id).await?;
        let schema = new.annotation_schema.map(checked).transpose()?;
        let uuid = uuid::Uuid::new_v4().to_string();
        let now = time::now();
        sqlx::query(
            "INSERT INTO annotation_queues (uuid, org_uuid, project_uuid, name, description, \
             label_schema, restrict_to_assignees, restrict_to_reviewers, reviewer_emails, \
             created_by, modified_by, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $11)",
        )
        .bind(&uuid)
        .bind(&org.0)
        .bind(&new.project_id)
        .bind(&new.name)
        .bind(new.description.unwrap_or_default())
        .bind(schema.as_ref().map(json_text))
        .bind(i64::from(new.restrict_to_assignees.unwrap_or(false)))
        .bind(i64::from(new.restrict_to_reviewers.unwrap_or(false)))
        .bind(json_text(&new.reviewer_emails.unwrap_or_default()))
        .bind(user)
        .bind(&now)
        .execute(&self.write)
        .await?;
        self.queue(org, &uuid).await
    }

    /// The org's queue `queue_id`.
    pub async fn queue(&self, org: &OrgId, queue_id: &str) -> Result<(String, Queue)> {
        let sql = format!(
            "SELECT {QUEUE_COLUMNS} FROM annotation_queues q WHERE {LIVE_QUEUE} AND q.uuid = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&org.0)
            .bind(queue_id)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| queue_missing(queue_id))?;
        queue_from_row(&row)
    }

    /// The org's queues, oldest first: all of them, those of one project, or those named
    /// by id (unknown ids are left out). A project and ids together are refused.
    pub async fn list_queues(
        &self,
        org: &OrgId,
        project_id: Option<&str>,
        queue_ids: &[String],
    ) -> Result<Vec<(String, Queue)>> {
        if project_id.is_some() && !queue_ids.is_empty() {
            return Err(Error::Invalid(
                "projectId and queueIds cannot be used together: pass one of them".into(),
            ));
        }
        let sql = format!(
            "SELECT {QUEUE_COLUMNS} FROM annotation_queues q WHERE {LIVE_QUEUE} \
             AND ($2 IS NULL OR q.project_uuid = $2) ORDER BY q.created_at, q.uuid"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&org.0)
            .bind(project_id)
            .fetch_all(&self.read)
            .await?;
        let mut found = rows.iter().map(queue_from_row).collect::<Result<Vec<_>>>()?;
        if !queue_ids.is_empty() {
            found.retain(|(id, _)| queue_ids.contains(id));
        }
        Ok(found)
    }

    /// Changes the fields `update` sets; a new label schema replaces the old (annotations
    /// keep the values they hold, with the label names they had when saved).
    pub async fn update_queue(
        &self,
        org: &OrgId,
        user: &str,
        queue_id: &str,
        update: QueueUpdate,
    ) -> Result<(String, Queue)> {
        if update.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(Error::Invalid("name: a queue needs a non-empty name".into()));
        }
        self.queue(org, queue_id).await?;
        let schema = update.annotation_schema.map(checked).transpose()?;
        sqlx::query(
            "UPDATE annotation_queues SET name = COALESCE($3, name), \
             description = COALESCE($4, description), label_schema = COALESCE($5, label_schema), \
             restrict_to_assignees = COALESCE($6, restrict_to_assignees), \
             restrict_to_reviewers = COALESCE($7, restrict_to_reviewers), \
             reviewer_emails = COALESCE($8, reviewer_emails), modified_by = $9, modified_at = $10 \
             WHERE org_uuid = $1 AND uuid = $2",
        )
        .bind(&org.0)
        .bind(queue_id)
        .bind(update.name)
        .bind(update.description)
        .bind(schema.as_ref().map(json_text))
        .bind(update.restrict_to_assignees.map(i64::from))
        .bind(update.restrict_to_reviewers.map(i64::from))
        .bind(update.reviewer_emails.as_ref().map(json_text))
        .bind(user)
        .bind(time::now())
        .execute(&self.write)
        .await?;
        self.queue(org, queue_id).await
    }

    /// Creates or replaces a queue's label schema; answers it with every label's id.
    pub async fn put_label_schema(
        &self,
        org: &OrgId,
        user: &str,
        queue_id: &str,
        schema: AnnotationSchema,
    ) -> Result<AnnotationSchema> {
        let update = QueueUpdate { annotation_schema: Some(schema), ..QueueUpdate::default() };
        let (_, queue) = self.update_queue(org, user, queue_id, update).await?;
        Ok(queue.annotation_schema.unwrap_or_default())
    }

    /// Deletes a queue with its interactions and annotations.
    pub async fn delete_queue(&self, org: &OrgId, queue_id: &str) -> Result<()> {
        self.queue(org, queue_id).await?;
        let mut tx = self.writes().await?.begin().await?;
        for sql in [
            "DELETE FROM annotations WHERE queue_uuid = $1",
            "DELETE FROM annotation_interactions WHERE queue_uuid = $1",
            "DELETE FROM annotation_queues WHERE uuid = $1",
        ] {
            sqlx::query(sql).bind(queue_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds interactions to a queue, in order; one the queue holds already (same type and
    /// content id) is answered as it is, with `already_existed`. All or nothing.
    pub async fn add_interactions(
        &self,
        org: &OrgId,
        queue_id: &str,
        items: &[NewInteraction],
    ) -> Result<Vec<AddedInteraction>> {
        if items.is_empty() || items.len() > MAX_INTERACTIONS {
            return Err(Error::Invalid(format!(
                "interactions: send 1 to {MAX_INTERACTIONS} interactions, got {}",
                items.len()
            )));
        }
        for (index, item) in items.iter().enumerate() {
            item.check(&format!("interactions[{index}]"))
                .map_err(|err| Error::Invalid(err.to_string()))?;
        }
        self.queue(org, queue_id).await?;
        let now = time::now();
        let mut tx = self.writes().await?.begin().await?;
        let mut position: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(position), 0) FROM annotation_interactions WHERE queue_uuid = $1",
        )
        .bind(queue_id)
        .fetch_one(&mut *tx)
        .await?;
        let mut added = Vec::with_capacity(items.len());
        for item in items {
            let blocks = item.display_block.as_deref();
            let content_id = match blocks {
                Some(blocks) => blocks_id(blocks),
                None => item.content_id.clone().unwrap_or_default(),
            };
            let select = format!(
                "SELECT {INTERACTION_COLUMNS} FROM annotation_interactions i \
                 WHERE i.queue_uuid = $1 AND i.kind = $2 AND i.content_id = $3"
            );
            let existing = sqlx::query(sqlx::AssertSqlSafe(select))
                .bind(queue_id)
                .bind(item.kind.as_str())
                .bind(&content_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = existing {
                added.push(AddedInteraction {
                    interaction: interaction_from_row(&row)?,
                    already_existed: true,
                });
                continue;
            }
            position += 1;
            let interaction = Interaction {
                id: uuid::Uuid::new_v4().to_string(),
                kind: item.kind,
                content_id,
                display_block: item.display_block.clone(),
                created_at: now.clone(),
                modified_at: now.clone(),
            };
            sqlx::query(
                "INSERT INTO annotation_interactions (uuid, org_uuid, queue_uuid, kind, \
                 content_id, display_block, position, created_at, modified_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(&interaction.id)
            .bind(&org.0)
            .bind(queue_id)
            .bind(interaction.kind.as_str())
            .bind(&interaction.content_id)
            .bind(blocks.map(json_text))
            .bind(position)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            added.push(AddedInteraction { interaction, already_existed: false });
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Deletes interactions of a queue with their annotations; an id not in the queue is
    /// [`Error::NotFound`] and deletes nothing.
    pub async fn delete_interactions(
        &self,
        org: &OrgId,
        queue_id: &str,
        ids: &[String],
    ) -> Result<()> {
        if ids.is_empty() {
            return Err(Error::Invalid("interaction_ids: name at least one interaction".into()));
        }
        self.queue(org, queue_id).await?;
        let mut tx = self.writes().await?.begin().await?;
        for id in ids {
            sqlx::query("DELETE FROM annotations WHERE queue_uuid = $1 AND interaction_uuid = $2")
                .bind(queue_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let gone = sqlx::query(
                "DELETE FROM annotation_interactions WHERE queue_uuid = $1 AND uuid = $2",
            )
            .bind(queue_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if gone.rows_affected() == 0 {
                return Err(interaction_missing(queue_id, id));
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates or updates the caller's annotation on each interaction named, merging the
    /// labels sent into it. Every value is checked against the queue's schema first; an
    /// unknown interaction is [`Error::NotFound`], a bad value [`Error::Invalid`], and
    /// either writes nothing.
    pub async fn upsert_annotations(
        &self,
        org: &OrgId,
        user: &str,
        queue_id: &str,
        items: Vec<UpsertAnnotation>,
    ) -> Result<Vec<Annotation>> {
        if items.is_empty() {
            return Err(Error::Invalid("annotations: send at least one annotation".into()));
        }
        let (_, queue) = self.queue(org, queue_id).await?;
        let schema = queue.annotation_schema.unwrap_or_default();
        let mut checked_items = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            if item.label_values.is_empty() {
                return Err(Error::Invalid(format!(
                    "annotations[{index}].label_values: set at least one label"
                )));
            }
            let mut values = Vec::with_capacity(item.label_values.len());
            for (at, value) in item.label_values.into_iter().enumerate() {
                let label = schema.check_value(&value).map_err(|err| {
                    Error::Invalid(format!("annotations[{index}].label_values[{at}]: {err}"))
                })?;
                values.push(SavedLabelValue::new(value, label));
            }
            checked_items.push((item.interaction_id, values));
        }
        let now = time::now();
        let mut tx = self.writes().await?.begin().await?;
        let mut saved = Vec::with_capacity(checked_items.len());
        for (interaction_id, values) in checked_items {
            let known: Option<String> = sqlx::query_scalar(
                "SELECT uuid FROM annotation_interactions WHERE queue_uuid = $1 AND uuid = $2",
            )
            .bind(queue_id)
            .bind(&interaction_id)
            .fetch_optional(&mut *tx)
            .await?;
            if known.is_none() {
                return Err(interaction_missing(queue_id, &interaction_id));
            }
            let select = format!(
                "SELECT {ANNOTATION_COLUMNS} FROM annotations a \
                 WHERE a.interaction_uuid = $1 AND a.author = $2"
            );
            let existing = sqlx::query(sqlx::AssertSqlSafe(select))
                .bind(&interaction_id)
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
            let annotation = match existing {
                Some(row) => {
                    let mut annotation = annotation_from_row(&row)?;
                    for value in values {
                        match (annotation.label_values.iter_mut())
                            .find(|v| v.label_schema_id == value.label_schema_id)
                        {
                            Some(slot) => *slot = value,
                            None => annotation.label_values.push(value),
                        }
                    }
                    annotation.modified_at = now.clone();
                    sqlx::query(
                        "UPDATE annotations SET label_values = $2, modified_at = $3 WHERE uuid = $1",
                    )
                    .bind(&annotation.id)
                    .bind(json_text(&annotation.label_values))
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                    annotation
                }
                None => {
                    let mut merged: Vec<SavedLabelValue> = Vec::with_capacity(values.len());
                    for value in values {
                        merged.retain(|v| v.label_schema_id != value.label_schema_id);
                        merged.push(value);
                    }
                    let annotation = Annotation {
                        id: uuid::Uuid::new_v4().to_string(),
                        interaction_id: interaction_id.clone(),
                        label_values: merged,
                        created_by: user.to_owned(),
                        modified_by: user.to_owned(),
                        created_at: now.clone(),
                        modified_at: now.clone(),
                    };
                    sqlx::query(
                        "INSERT INTO annotations (uuid, queue_uuid, interaction_uuid, author, \
                         label_values, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                    )
                    .bind(&annotation.id)
                    .bind(queue_id)
                    .bind(&interaction_id)
                    .bind(user)
                    .bind(json_text(&annotation.label_values))
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                    annotation
                }
            };
            sqlx::query("UPDATE annotation_interactions SET modified_at = $2 WHERE uuid = $1")
                .bind(&interaction_id)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            saved.push(annotation);
        }
        tx.commit().await?;
        Ok(saved)
    }

    /// Deletes annotations of a queue; ids that are not annotations of the queue are
    /// answered in `errors` and the others are deleted.
    pub async fn delete_annotations(
        &self,
        org: &OrgId,
        queue_id: &str,
        ids: &[String],
    ) -> Result<DeletedAnnotations> {
        if ids.is_empty() {
            return Err(Error::Invalid("annotation_ids: name at least one annotation".into()));
        }
        self.queue(org, queue_id).await?;
        let mut tx = self.writes().await?.begin().await?;
        let mut outcome = DeletedAnnotations { annotation_ids: Vec::new(), errors: Vec::new() };
        for id in ids {
            let gone = sqlx::query("DELETE FROM annotations WHERE queue_uuid = $1 AND uuid = $2")
                .bind(queue_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if gone.rows_affected() == 0 {
                outcome.errors.push(DeleteError {
                    annotation_id: id.clone(),
                    error: format!("annotation '{id}' not found in annotation queue '{queue_id}'"),
                });
            } else {
                outcome.annotation_ids.push(id.clone());
            }
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// A queue's interactions with their annotations, in the order they were added.
    pub async fn annotated_interactions(
        &self,
        org: &OrgId,
        queue_id: &str,
    ) -> Result<Vec<AnnotatedInteraction>> {
        self.queue(org, queue_id).await?;
        let select = format!(
            "SELECT {INTERACTION_COLUMNS} FROM annotation_interactions i \
             WHERE i.queue_uuid = $1 ORDER BY i.position"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(select))
            .bind(queue_id)
            .fetch_all(self.reads().await?)
            .await?;
        let interactions = rows.iter().map(interaction_from_row).collect::<Result<Vec<_>>>()?;
        let select = format!(
            "SELECT {ANNOTATION_COLUMNS} FROM annotations a WHERE a.queue_uuid = $1 \
             ORDER BY a.created_at, a.uuid"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(select))
            .bind(queue_id)
            .fetch_all(self.reads().await?)
            .await?;
        let annotations = rows.iter().map(annotation_from_row).collect::<Result<Vec<_>>>()?;
        Ok(annotate(interactions, annotations))
    }

    /// One interaction of a queue with its annotations.
    pub async fn annotated_interaction(
        &self,
        org: &OrgId,
        queue_id: &str,
        interaction_id: &str,
    ) -> Result<AnnotatedInteraction> {
        self.queue(org, queue_id).await?;
        let select = format!(
            "SELECT {INTERACTION_COLUMNS} FROM annotation_interactions i \
             WHERE i.queue_uuid = $1 AND i.uuid = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(select))
            .bind(queue_id)
            .bind(interaction_id)
            .fetch_optional(self.reads().await?)
            .await?
            .ok_or_else(|| interaction_missing(queue_id, interaction_id))?;
        let interaction = interaction_from_row(&row)?;
        let select = format!(
            "SELECT {ANNOTATION_COLUMNS} FROM annotations a WHERE a.interaction_uuid = $1 \
             ORDER BY a.created_at, a.uuid"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(select))
            .bind(interaction_id)
            .fetch_all(self.reads().await?)
            .await?;
        let annotations = rows.iter().map(annotation_from_row).collect::<Result<Vec<_>>>()?;
        Ok(annotate(vec![interaction], annotations).remove(0))
    }

    /// The spans an interaction shows, oldest first, `limit` from `offset`, and whether
    /// more follow: a trace's spans from the org's trace store, an experiment trace's from
    /// its experiment, a session's from both. Display blocks have none.
    pub async fn interaction_spans(
        &self,
        org: &OrgId,
        interaction: &Interaction,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Map<String, Value>>, bool)> {
        let filter = match interaction.kind {
            InteractionType::DisplayBlock => return Ok((Vec::new(), false)),
            InteractionType::Trace => "s.trace_id = $2 AND s.experiment_uuid = ''",
            InteractionType::ExperimentTrace => "s.trace_id = $2 AND s.experiment_uuid <> ''",
            InteractionType::Session => "s.session_id = $2",
        };
        let sql = format!(
            "SELECT COALESCE(e.body, l.body) AS body FROM span_search s \
             LEFT JOIN experiment_spans e ON s.experiment_uuid <> '' \
               AND e.experiment_uuid = s.experiment_uuid AND e.span_id = s.span_id \
             LEFT JOIN llmobs_spans l ON s.experiment_uuid = '' AND l.org_uuid = s.org_uuid \
               AND l.trace_id = s.trace_id AND l.span_id = s.span_id \
             WHERE s.org_uuid = $1 AND {filter} ORDER BY s.start_ns, s.seq LIMIT $3 OFFSET $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&org.0)
            .bind(&interaction.content_id)
            .bind(limit as i64 + 1)
            .bind(offset as i64)
            .fetch_all(self.reads().await?)
            .await?;
        let mut spans = Vec::with_capacity(rows.len());
        for row in rows.iter().take(limit) {
            let body: Option<String> = row.try_get("body")?;
            if let Some(Value::Object(event)) =
                body.as_deref().map(|b| parse_json::<Value>(b, "span")).transpose()?
            {
                spans.push(event);
            }
        }
        Ok((spans, rows.len() > limit))
    }

    /// What an interaction shows: its input and output.
    pub async fn interaction_content(
        &self,
        org: &OrgId,
        interaction: &Interaction,
    ) -> Result<Content> {
        if let Some(blocks) = &interaction.display_block {
            return Ok(Content::of_blocks(blocks));
        }
        let (spans, _) = self.interaction_spans(org, interaction, 0, 1000).await?;
        Ok(Content::of_spans(&spans))
    }

    /// The org's annotated interactions, in every queue, whose content id is one of
    /// `content_ids`: `limit` from `offset`, and how many there are.
    pub async fn annotated_by_content(
        &self,
        org: &OrgId,
        content_ids: &[String],
        offset: usize,
        limit: usize,
    ) -> Result<AnnotatedByContent> {
        if content_ids.is_empty() {
            return Err(Error::Invalid("contentIds: name at least one content id".into()));
        }
        let mut found: Vec<(i64, String, String, String)> = Vec::new();
        for content_id in content_ids {
            let sql = format!(
                "SELECT i.uuid, i.queue_uuid, q.name, i.position FROM annotation_interactions i \
                 JOIN annotation_queues q ON q.uuid = i.queue_uuid \
                 WHERE {LIVE_QUEUE} AND i.org_uuid = $1 AND i.content_id = $2"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&org.0)
                .bind(content_id)
                .fetch_all(self.reads().await?)
                .await?;
            for row in rows {
                found.push((
                    row.try_get("position")?,
                    row.try_get("uuid")?,
                    row.try_get("queue_uuid")?,
                    row.try_get("name")?,
                ));
            }
        }
        found.sort_by(|a, b| (&a.2, a.0).cmp(&(&b.2, b.0)));
        found.dedup_by(|a, b| a.1 == b.1);
        let total_count = found.len() as i64;
        let mut annotated_interactions = Vec::new();
        for (_, id, queue_id, queue_name) in found.into_iter().skip(offset).take(limit) {
            let annotated = self.annotated_interaction(org, &queue_id, &id).await?;
            annotated_interactions.push(AnnotatedInQueue { annotated, queue_id, queue_name });
        }
        Ok(AnnotatedByContent { annotated_interactions, total_count })
    }

    /// Writes a queue's annotations to a dataset of the queue's project, one record per
    /// annotation ([`export_record`]), as one new version; the dataset is created when the
    /// project has none of that name. Records equal to live ones are skipped, so an export
    /// run twice adds only what changed.
    pub async fn export_queue(
        &self,
        org: &OrgId,
        user: &str,
        queue_id: &str,
        request: &ExportRequest,
    ) -> Result<ExportOutcome> {
        let (_, queue) = self.queue(org, queue_id).await?;
        if let Some(name) = &request.label {
            if request.labels_as == LabelsAs::Metadata {
                return Err(Error::Invalid(
                    "label: naming one label is for labels_as 'expected_output'".into(),
                ));
            }
            let schema = queue.annotation_schema.clone().unwrap_or_default();
            if !schema.label_schemas.iter().any(|l| &l.name == name) {
                let names: Vec<&str> =
                    schema.label_schemas.iter().map(|l| l.name.as_str()).collect();
                return Err(Error::Invalid(format!(
                    "label '{name}' is not a label of this queue; its labels are: {}",
                    names.join(", ")
                )));
            }
        }
        let annotated = self.annotated_interactions(org, queue_id).await?;
        let mut records = Vec::new();
        let mut skipped = 0;
        for item in annotated {
            if item.annotations.is_empty() {
                continue;
            }
            let content = self.interaction_content(org, &item.interaction).await?;
            let select = format!(
                "SELECT {ANNOTATION_COLUMNS} FROM annotations a WHERE a.interaction_uuid = $1 \
                 ORDER BY a.created_at, a.uuid"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(select))
                .bind(&item.interaction.id)
                .fetch_all(self.reads().await?)
                .await?;
            for row in &rows {
                let annotation = annotation_from_row(row)?;
                match export_record(request, &item.interaction, &annotation, &content) {
                    Some((input, expected_output, metadata)) => records.push(InsertRecord {
                        input,
                        expected_output,
                        metadata: Some(Value::Object(metadata)),
                        id: None,
                        tags: None,
                    }),
                    None => skipped += 1,
                }
            }
        }
        let description = request
            .description
            .clone()
            .unwrap_or_else(|| format!("Annotations of queue '{}' ({queue_id})", queue.name));
        let (dataset_id, _) = self
            .create_dataset(
                org,
                user,
                &queue.project_id,
                &request.dataset_name,
                Some(&description),
                None,
            )
            .await?;
        let built = records.len();
        let written = if records.is_empty() {
            0
        } else {
            let batch = BatchUpdate {
                insert_records: records,
                update_records: Vec::new(),
                delete_records: Vec::new(),
                deduplicate: true,
                create_new_version: true,
            };
            self.batch_update(org, user, &queue.project_id, &dataset_id, batch).await?.len()
        };
        let (_, dataset) = self.dataset(org, Some(&queue.project_id), &dataset_id).await?;
        Ok(ExportOutcome {
            dataset_id,
            project_id: queue.project_id,
            dataset_name: dataset.name,
            version: dataset.current_version,
            records: written,
            unchanged: built - written,
            skipped,
        })
    }
}

#[cfg(test)]
mod tests {
    use llmobs_core::annotations::{LabelValue, NewInteraction};
    use serde_json::json;

    use super::*;
    use crate::test_db;

    async fn setup() -> (tempfile::TempDir, Store, OrgId, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = test_db::open(dir.path()).await;
        let org = store.create_org_keys("o", "api-key-0001", "app-key-0001").await.unwrap().org;
        let (project, _) = store.project_by_name(&org, "u", "p", None).await.unwrap();
        (dir, store, org, project)
    }

    fn new_queue(project: &str) -> NewQueue {
        serde_json::from_value(json!({
            "name": "review", "project_id": project,
            "annotation_schema": {"label_schemas": [
                {"name": "quality", "type": "score", "min": 1, "max": 5},
                {"name": "topic", "type": "categorical", "values": ["billing", "bug"]}
            ]}
        }))
        .unwrap()
    }

    fn trace(id: &str) -> NewInteraction {
        NewInteraction {
            kind: InteractionType::Trace,
            content_id: Some(id.into()),
            display_block: None,
        }
    }

    #[tokio::test]
    async fn a_queue_holds_interactions_and_merges_each_reviewers_labels() {
        let (_dir, store, org, project) = setup().await;
        let (queue_id, queue) = store.create_queue(&org, "u1", new_queue(&project)).await.unwrap();
        let labels = queue.annotation_schema.unwrap().label_schemas;
        let (quality, topic) = (labels[0].id.clone().unwrap(), labels[1].id.clone().unwrap());
        let added =
            store.add_interactions(&org, &queue_id, &[trace("t1"), trace("t2")]).await.unwrap();
        assert!(added.iter().all(|a| !a.already_existed));
        let again = store.add_interactions(&org, &queue_id, &[trace("t1")]).await.unwrap();
        assert!(again[0].already_existed);
        assert_eq!(again[0].interaction.id, added[0].interaction.id);
        let first = added[0].interaction.id.clone();
        let set = |id: &str, v: Value| LabelValue {
            label_schema_id: id.into(),
            value: v,
            reasoning: None,
            assessment: None,
        };
        let item =
            |values| UpsertAnnotation { interaction_id: first.clone(), label_values: values };
        store
            .upsert_annotations(&org, "u1", &queue_id, vec![item(vec![set(&quality, json!(4))])])
            .await
            .unwrap();
        let merged = store
            .upsert_annotations(&org, "u1", &queue_id, vec![item(vec![set(&topic, json!("bug"))])])
            .await
            .unwrap();
        assert_eq!(merged[0].label_values.len(), 2, "labels not sent keep their value");
        store
            .upsert_annotations(&org, "u2", &queue_id, vec![item(vec![set(&quality, json!(2))])])
            .await
            .unwrap();
        let read = store.annotated_interactions(&org, &queue_id).await.unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].annotations.len(), 2, "one annotation per reviewer");
        assert_eq!(read[0].annotations[0].label_values["quality"]["value"], json!(4));
        assert_eq!(read[0].annotations[0].label_values["topic"]["value"], json!("bug"));
        // A bad value or an unknown interaction writes nothing.
        let bad = store
            .upsert_annotations(&org, "u1", &queue_id, vec![item(vec![set(&quality, json!(9))])])
            .await
            .unwrap_err();
        assert!(matches!(bad, Error::Invalid(ref m) if m.contains("from 1 to 5")), "{bad}");
        let stranger = UpsertAnnotation {
            interaction_id: "nope".into(),
            label_values: vec![set(&quality, json!(1))],
        };
        let missing = store
            .upsert_annotations(
                &org,
                "u3",
                &queue_id,
                vec![item(vec![set(&quality, json!(1))]), stranger],
            )
            .await
            .unwrap_err();
        assert!(matches!(missing, Error::NotFound(_)), "{missing}");
        let read = store.annotated_interactions(&org, &queue_id).await.unwrap();
        assert_eq!(read[0].annotations.len(), 2, "the failed batch wrote nothing");
    }

    #[tokio::test]
    async fn another_org_finds_nothing() {
        let (_dir, store, org, project) = setup().await;
        let (queue_id, _) = store.create_queue(&org, "u1", new_queue(&project)).await.unwrap();
        let other =
            store.create_org_keys("other", "api-key-0002", "app-key-0002").await.unwrap().org;
        assert!(matches!(store.queue(&other, &queue_id).await, Err(Error::NotFound(_))));
        assert!(store.list_queues(&other, None, &[]).await.unwrap().is_empty());
        let add = store.add_interactions(&other, &queue_id, &[trace("t")]).await;
        assert!(matches!(add, Err(Error::NotFound(_))));
        assert!(matches!(store.delete_queue(&other, &queue_id).await, Err(Error::NotFound(_))));
        assert_eq!(store.list_queues(&org, Some(&project), &[]).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn deleting_a_queue_deletes_what_it_holds() {
        let (_dir, store, org, project) = setup().await;
        let (queue_id, _) = store.create_queue(&org, "u1", new_queue(&project)).await.unwrap();
        store.add_interactions(&org, &queue_id, &[trace("t1")]).await.unwrap();
        store.delete_queue(&org, &queue_id).await.unwrap();
        assert!(matches!(store.queue(&org, &queue_id).await, Err(Error::NotFound(_))));
        let found = store.annotated_by_content(&org, &["t1".into()], 0, 10).await.unwrap();
        assert_eq!(found.total_count, 0);
    }
}
