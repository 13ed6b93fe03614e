//! The prompt registry: prompts, their numbered versions, labels and environments.
//!
//! The rules, all enforced inside one transaction per write:
//! - A `prompt_id` is unique among the org's live prompts; deleting is soft, and a
//!   deleted id may be created again, starting over at version 1.
//! - Versions are numbered 1, 2, 3… per prompt by bumping a counter on the prompt row,
//!   which also serialises concurrent creates on PostgreSQL (the row lock) and SQLite
//!   (the single writer).
//! - A label sits on at most one version of a prompt: assigning it moves it.
//! - An environment serves at most one version of a prompt by default: assigning it moves
//!   it too.

use llmobs_core::prompts::{
    Deleted, PromptRecord, SdkPrompt, Template, Version, check_environment,
};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::error::{Error, NotFound, Result, on_unique};
use crate::keys::OrgId;
use crate::{Store, time};

/// A version to create, already validated.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// The template.
    pub template: Template,
    /// Description of the version.
    pub description: Option<String>,
    /// Free-text version name.
    pub user_version: Option<String>,
    /// Labels to move onto this version (de-duplicated).
    pub labels: Vec<String>,
    /// Environments (UUIDs or names) this version becomes the default for.
    pub env_ids: Vec<String>,
    /// Application configuration.
    pub config: Option<Map<String, Value>>,
}

/// A prompt to create, with its version 1.
#[derive(Debug, Clone)]
pub struct NewPrompt {
    /// The customer-chosen identifier, already validated.
    pub prompt_id: String,
    /// Title.
    pub title: Option<String>,
    /// Description of the prompt.
    pub description: Option<String>,
    /// Version 1.
    pub first: NewVersion,
}

/// Changes to a version; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct VersionUpdate {
    /// Replaces the version's labels (moved from other versions); `[]` clears them.
    pub labels: Option<Vec<String>>,
    /// Replaces the description; `""` clears it.
    pub description: Option<String>,
    /// Replaces the environments this version is the default for; `[]` clears them.
    pub env_ids: Option<Vec<String>>,
}

/// The detail of an update with nothing to change.
const NOTHING_TO_UPDATE_PROMPT: &str = "at least one of title or description must be provided";
const NOTHING_TO_UPDATE_VERSION: &str =
    "at least one of labels, description, or env_ids must be provided";
const PROMPT_EXISTS: &str = "prompt template already exists";

/// The columns [`prompt_from_row`] reads, as a literal for `concat!`.
macro_rules! prompt_columns {
    () => {
        "uuid, prompt_id, title, description, created_at, last_version_created_at, \
         version_seq, created_from, author"
    };
}

/// The columns [`version_from_row`] reads (`v` versions joined to `p` prompts).
macro_rules! version_columns {
    () => {
        "v.uuid, v.prompt_uuid, p.prompt_id, v.template, v.version, v.user_version, \
         v.created_at, v.author, v.description, v.config"
    };
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.is_empty())
}

fn prompt_from_row(row: &AnyRow) -> Result<PromptRecord> {
    Ok(PromptRecord {
        id: row.try_get("uuid")?,
        prompt_id: row.try_get("prompt_id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        source: "registry".to_owned(),
        created_at: row.try_get("created_at")?,
        last_version_created_at: row.try_get("last_version_created_at")?,
        num_versions: row.try_get("version_seq")?,
        in_registry: true,
        created_from: row.try_get("created_from")?,
        author: row.try_get("author")?,
    })
}

fn json_column(row: &AnyRow, column: &str) -> Result<Option<Value>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| {
        serde_json::from_str(&text)
            .map_err(|err| Error::Invalid(format!("stored {column} is not JSON: {err}")))
    })
    .transpose()
}

fn version_from_row(row: &AnyRow, with_template: bool) -> Result<Version> {
    let created_at: String = row.try_get("created_at")?;
    let template = match with_template {
        true => json_column(row, "template")?.map(|v| Template::from_value_lenient(&v)),
        false => None,
    };
    let config = match json_column(row, "config")? {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    };
    Ok(Version {
        id: row.try_get("uuid")?,
        prompt_uuid: row.try_get("prompt_uuid")?,
        prompt_id: row.try_get("prompt_id")?,
        template,
        version: row.try_get("version")?,
        user_version: row.try_get("user_version")?,
        labels: Vec::new(),
        version_created_at: created_at.clone(),
        created_at,
        author: row.try_get("author")?,
        description: row.try_get("description")?,
        config,
    })
}

/// The `get_prompt` view of a version.
fn sdk_view(version: Version) -> SdkPrompt {
    let display = version.user_version.clone().unwrap_or_else(|| version.version.to_string());
    let (template, chat_template) = match version.template {
        Some(Template::Text(text)) => (Some(text), None),
        Some(Template::Chat(items)) => (None, Some(items)),
        None => (None, None),
    };
    SdkPrompt {
        prompt_id: version.prompt_id,
        prompt_uuid: version.prompt_uuid,
        prompt_version_uuid: version.id,
        version: display,
        template,
        chat_template,
        labels: version.labels,
        config: version.config,
    }
}

/// The UUID of the org's live prompt `prompt_id`.
async fn live_uuid(
    conn: &mut AnyConnection,
    org: &OrgId,
    prompt_id: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT uuid FROM prompts WHERE org_uuid = $1 AND prompt_id = $2 AND deleted_at IS NULL",
    )
    .bind(&org.0)
    .bind(prompt_id)
    .fetch_optional(conn)
    .await?)
}

/// Takes the prompt row's lock for the rest of the transaction, so that concurrent label
/// moves and deployments on one prompt (from this server or another sharing a PostgreSQL
/// database) queue instead of deleting and inserting the same label rows at once, where the
/// later insert would meet the earlier one's row. (SQLite has one writer at a time.)
async fn lock_prompt(conn: &mut AnyConnection, uuid: &str) -> Result<()> {
    sqlx::query("UPDATE prompts SET prompt_id = prompt_id WHERE uuid = $1")
        .bind(uuid)
        .execute(conn)
        .await?;
    Ok(())
}

async fn prompt_row(conn: &mut AnyConnection, uuid: &str) -> Result<PromptRecord> {
    let row = sqlx::query(concat!("SELECT ", prompt_columns!(), " FROM prompts WHERE uuid = $1"))
        .bind(uuid)
        .fetch_one(conn)
        .await?;
    prompt_from_row(&row)
}

/// One version with its template and labels.
async fn version_row(
    conn: &mut AnyConnection,
    prompt_uuid: &str,
    number: i64,
) -> Result<Option<Version>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        version_columns!(),
        " FROM prompt_versions v JOIN prompts p ON p.uuid = v.prompt_uuid \
         WHERE v.prompt_uuid = $1 AND v.version = $2"
    ))
    .bind(prompt_uuid)
    .bind(number)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut version = version_from_row(&row, true)?;
    version.labels = sqlx::query_scalar(
        "SELECT label FROM prompt_labels WHERE prompt_uuid = $1 AND version = $2 ORDER BY label",
    )
    .bind(prompt_uuid)
    .bind(number)
    .fetch_all(conn)
    .await?;
    Ok(Some(version))
}

async fn latest_number(conn: &mut AnyConnection, prompt_uuid: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT version_seq FROM prompts WHERE uuid = $1")
        .bind(prompt_uuid)
        .fetch_one(conn)
        .await?)
}

/// Moves each label onto `number`.
async fn move_labels(
    conn: &mut AnyConnection,
    prompt_uuid: &str,
    number: i64,
    labels: &[String],
) -> Result<()> {
    for label in labels {
        sqlx::query(
            "INSERT INTO prompt_labels (prompt_uuid, label, version) VALUES ($1, $2, $3) \
             ON CONFLICT (prompt_uuid, label) DO UPDATE SET version = excluded.version",
        )
        .bind(prompt_uuid)
        .bind(label)
        .bind(number)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Makes `number` the default version of each environment (by UUID or name; unknown names
/// are created).
async fn deploy(
    conn: &mut AnyConnection,
    org: &OrgId,
    prompt_uuid: &str,
    number: i64,
    env_ids: &[String],
) -> Result<()> {
    for env in env_ids {
        check_environment(env).map_err(|err| Error::Invalid(err.to_string()))?;
        let find = || {
            sqlx::query_scalar::<_, String>(
                "SELECT uuid FROM environments WHERE org_uuid = $1 AND (uuid = $2 OR name = $2)",
            )
            .bind(&org.0)
            .bind(env)
        };
        let env_uuid = match find().fetch_optional(&mut *conn).await? {
            Some(uuid) => uuid,
            None => {
                // Another server may create the same environment at the same moment: the
                // second insert does nothing, and the row the first committed is read back.
                sqlx::query(
                    "INSERT INTO environments (uuid, org_uuid, name) VALUES ($1, $2, $3) \
                     ON CONFLICT (org_uuid, name) DO NOTHING",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(&org.0)
                .bind(env)
                .execute(&mut *conn)
                .await?;
                find().fetch_one(&mut *conn).await?
            }
        };
        sqlx::query(
            "INSERT INTO env_deployments (prompt_uuid, env_uuid, version) VALUES ($1, $2, $3) \
             ON CONFLICT (prompt_uuid, env_uuid) DO UPDATE SET version = excluded.version",
        )
        .bind(prompt_uuid)
        .bind(&env_uuid)
        .bind(number)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Inserts version `number` with its labels and deployments.
async fn insert_version(
    conn: &mut AnyConnection,
    org: &OrgId,
    author: &str,
    prompt_uuid: &str,
    number: i64,
    new: &NewVersion,
    now: &str,
) -> Result<()> {
    let config = new.config.as_ref().map(|c| Value::Object(c.clone()).to_string());
    sqlx::query(
        "INSERT INTO prompt_versions (uuid, prompt_uuid, version, user_version, template, \
         description, config, created_at, author) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(prompt_uuid)
    .bind(number)
    .bind(non_empty(new.user_version.clone()))
    .bind(new.template.to_value().to_string())
    .bind(non_empty(new.description.clone()))
    .bind(config)
    .bind(now)
    .bind(author)
    .execute(&mut *conn)
    .await?;
    move_labels(conn, prompt_uuid, number, &new.labels).await?;
    deploy(conn, org, prompt_uuid, number, &new.env_ids).await
}

impl Store {
    /// Creates a prompt and its version 1. [`Error::Conflict`] if a live prompt has the id.
    pub async fn create_prompt(
        &self,
        org: &OrgId,
        author: &str,
        new: NewPrompt,
    ) -> Result<PromptRecord> {
        let now = time::now();
        let mut tx = self.write.begin().await?;
        if live_uuid(&mut tx, org, &new.prompt_id).await?.is_some() {
            return Err(Error::Conflict(PROMPT_EXISTS));
        }
        let uuid = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO prompts (uuid, org_uuid, prompt_id, title, description, created_at, \
             created_from, author, version_seq, last_version_created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'sdk-registry', $7, 1, $6)",
        )
        .bind(&uuid)
        .bind(&org.0)
        .bind(&new.prompt_id)
        .bind(non_empty(new.title))
        .bind(non_empty(new.description))
        .bind(&now)
        .bind(author)
        .execute(&mut *tx)
        .await
        .map_err(|err| on_unique(err, PROMPT_EXISTS))?;
        insert_version(&mut tx, org, author, &uuid, 1, &new.first, &now).await?;
        let prompt = prompt_row(&mut tx, &uuid).await?;
        tx.commit().await?;
        Ok(prompt)
    }

    /// Appends the next version to a live prompt.
    pub async fn create_version(
        &self,
        org: &OrgId,
        author: &str,
        prompt_id: &str,
        new: NewVersion,
    ) -> Result<Version> {
        let now = time::now();
        let mut tx = self.write.begin().await?;
        let uuid =
            live_uuid(&mut tx, org, prompt_id).await?.ok_or(Error::NotFound(NotFound::Prompt))?;
        let number: i64 = sqlx::query_scalar(
            "UPDATE prompts SET version_seq = version_seq + 1, last_version_created_at = $2 \
             WHERE uuid = $1 RETURNING version_seq",
        )
        .bind(&uuid)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        insert_version(&mut tx, org, author, &uuid, number, &new, &now).await?;
        let version =
            version_row(&mut tx, &uuid, number).await?.ok_or(Error::NotFound(NotFound::Version))?;
        tx.commit().await?;
        Ok(version)
    }

    /// Changes the title and/or description of a live prompt; `""` clears a field.
    pub async fn update_prompt(
        &self,
        org: &OrgId,
        prompt_id: &str,
        title: Option<String>,
        description: Option<String>,
    ) -> Result<PromptRecord> {
        if title.is_none() && description.is_none() {
            return Err(Error::Invalid(NOTHING_TO_UPDATE_PROMPT.into()));
        }
        let mut tx = self.write.begin().await?;
        let uuid =
            live_uuid(&mut tx, org, prompt_id).await?.ok_or(Error::NotFound(NotFound::Prompt))?;
        let statements = [
            ("UPDATE prompts SET title = $2 WHERE uuid = $1", title),
            ("UPDATE prompts SET description = $2 WHERE uuid = $1", description),
        ];
        for (sql, value) in statements {
            if let Some(value) = value {
                sqlx::query(sql).bind(&uuid).bind(non_empty(Some(value))).execute(&mut *tx).await?;
            }
        }
        let prompt = prompt_row(&mut tx, &uuid).await?;
        tx.commit().await?;
        Ok(prompt)
    }

    /// Changes a version's labels, description or environments.
    pub async fn update_version(
        &self,
        org: &OrgId,
        prompt_id: &str,
        number: i64,
        update: VersionUpdate,
    ) -> Result<Version> {
        if update.labels.is_none() && update.description.is_none() && update.env_ids.is_none() {
            return Err(Error::Invalid(NOTHING_TO_UPDATE_VERSION.into()));
        }
        let not_found = || Error::NotFound(NotFound::Version);
        let mut tx = self.write.begin().await?;
        let uuid = live_uuid(&mut tx, org, prompt_id).await?.ok_or_else(not_found)?;
        lock_prompt(&mut tx, &uuid).await?;
        if version_row(&mut tx, &uuid, number).await?.is_none() {
            return Err(not_found());
        }
        if let Some(labels) = &update.labels {
            sqlx::query("DELETE FROM prompt_labels WHERE prompt_uuid = $1 AND version = $2")
                .bind(&uuid)
                .bind(number)
                .execute(&mut *tx)
                .await?;
            move_labels(&mut tx, &uuid, number, labels).await?;
        }
        if let Some(description) = update.description {
            sqlx::query(
                "UPDATE prompt_versions SET description = $3 WHERE prompt_uuid = $1 AND version = $2",
            )
            .bind(&uuid)
            .bind(number)
            .bind(non_empty(Some(description)))
            .execute(&mut *tx)
            .await?;
        }
        if let Some(env_ids) = &update.env_ids {
            sqlx::query("DELETE FROM env_deployments WHERE prompt_uuid = $1 AND version = $2")
                .bind(&uuid)
                .bind(number)
                .execute(&mut *tx)
                .await?;
            deploy(&mut tx, org, &uuid, number, env_ids).await?;
        }
        let version = version_row(&mut tx, &uuid, number).await?.ok_or_else(not_found)?;
        tx.commit().await?;
        Ok(version)
    }

    /// Puts `label` on version `number`, moving it off any other version, and keeps the
    /// version's other labels (the API's version update replaces the whole set). Unknown
    /// prompt: [`NotFound::Prompt`]; unknown version: [`NotFound::Version`].
    pub async fn add_label(
        &self,
        org: &OrgId,
        prompt_id: &str,
        number: i64,
        label: &str,
    ) -> Result<()> {
        let (mut tx, uuid) = self.locked_version(org, prompt_id, Some(number)).await?;
        move_labels(&mut tx, &uuid, number, &[label.to_owned()]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes `label` off the version that carries it, keeping that version's other labels.
    /// Answers that version's number, or `None` when no version carries the label. Unknown
    /// prompt: [`NotFound::Prompt`].
    pub async fn remove_label(
        &self,
        org: &OrgId,
        prompt_id: &str,
        label: &str,
    ) -> Result<Option<i64>> {
        let (mut tx, uuid) = self.locked_version(org, prompt_id, None).await?;
        let carrier: Option<i64> = sqlx::query_scalar(
            "DELETE FROM prompt_labels WHERE prompt_uuid = $1 AND label = $2 RETURNING version",
        )
        .bind(&uuid)
        .bind(label)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(carrier)
    }

    /// Makes version `number` the one `environment` serves (moving it off any other
    /// version; an unknown name is created), and keeps the environments the version already
    /// served (the API's version update replaces the whole set). Unknown prompt:
    /// [`NotFound::Prompt`]; unknown version: [`NotFound::Version`].
    pub async fn add_environment(
        &self,
        org: &OrgId,
        prompt_id: &str,
        number: i64,
        environment: &str,
    ) -> Result<()> {
        let (mut tx, uuid) = self.locked_version(org, prompt_id, Some(number)).await?;
        deploy(&mut tx, org, &uuid, number, &[environment.to_owned()]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A write transaction holding the live prompt's lock (and its UUID), after checking
    /// that version `number`, when given, exists.
    async fn locked_version(
        &self,
        org: &OrgId,
        prompt_id: &str,
        number: Option<i64>,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Any>, String)> {
        let mut tx = self.write.begin().await?;
        let uuid = live_uuid(&mut tx, org, prompt_id).await?;
        let uuid = uuid.ok_or(Error::NotFound(NotFound::Prompt))?;
        lock_prompt(&mut tx, &uuid).await?;
        if let Some(number) = number
            && version_row(&mut tx, &uuid, number).await?.is_none()
        {
            return Err(Error::NotFound(NotFound::Version));
        }
        Ok((tx, uuid))
    }

    /// Soft-deletes a prompt. Deleting an already deleted prompt succeeds again with a new
    /// `deleted_at`; a never-existing id is [`NotFound::Prompt`].
    pub async fn delete_prompt(&self, org: &OrgId, prompt_id: &str) -> Result<Deleted> {
        let now = time::now();
        let mut tx = self.write.begin().await?;
        let target: Option<String> = match live_uuid(&mut tx, org, prompt_id).await? {
            Some(uuid) => Some(uuid),
            None => {
                sqlx::query_scalar(
                    "SELECT uuid FROM prompts WHERE org_uuid = $1 AND prompt_id = $2 \
                     ORDER BY deleted_at DESC LIMIT 1",
                )
                .bind(&org.0)
                .bind(prompt_id)
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        let uuid = target.ok_or(Error::NotFound(NotFound::Prompt))?;
        sqlx::query("UPDATE prompts SET deleted_at = $2 WHERE uuid = $1")
            .bind(&uuid)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Deleted { id: uuid, prompt_id: prompt_id.to_owned(), deleted_at: now })
    }

    /// The org's live prompts, newest first (then by id), optionally only `prompt_id`.
    pub async fn list_prompts(
        &self,
        org: &OrgId,
        prompt_id: Option<&str>,
    ) -> Result<Vec<PromptRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            prompt_columns!(),
            " FROM prompts WHERE org_uuid = $1 AND deleted_at IS NULL \
             AND ($2 IS NULL OR prompt_id = $2) ORDER BY created_at DESC, prompt_id ASC"
        ))
        .bind(&org.0)
        .bind(prompt_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(prompt_from_row).collect()
    }

    /// A page of the org's live prompts, newest first (then by id), optionally only
    /// `prompt_id`, `limit` per page after the cursor `after` (see
    /// [`crate::encode_cursor`]): the same order as [`Store::list_prompts`].
    pub async fn prompts_page(
        &self,
        org: &OrgId,
        prompt_id: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<crate::Page<PromptRecord>> {
        let (at, id) =
            after.filter(|c| !c.is_empty()).map(crate::decode_cursor).transpose()?.unzip();
        let rows = sqlx::query(concat!(
            "SELECT ",
            prompt_columns!(),
            " FROM prompts WHERE org_uuid = $1 AND deleted_at IS NULL \
             AND ($2 IS NULL OR prompt_id = $2) \
             AND ($3 IS NULL OR created_at < $3 OR (created_at = $3 AND prompt_id > $4)) \
             ORDER BY created_at DESC, prompt_id ASC LIMIT $5"
        ))
        .bind(&org.0)
        .bind(prompt_id)
        .bind(at)
        .bind(id)
        .bind(limit as i64 + 1)
        .fetch_all(&self.read)
        .await?;
        let found = (rows.iter().take(limit))
            .map(|row| prompt_from_row(row).map(|p| (p.prompt_id.clone(), p)))
            .collect::<Result<Vec<_>>>()?;
        let next = (rows.len() > limit)
            .then(|| found.last().map(|(id, p)| (p.created_at.clone(), id.clone())))
            .flatten();
        Ok((found, next))
    }

    /// The versions of a live prompt, newest first, without templates. An unknown or
    /// deleted prompt has none (ddtrace's route, E11, answers `[]` for it, as Datadog
    /// documents).
    pub async fn list_versions(&self, org: &OrgId, prompt_id: &str) -> Result<Vec<Version>> {
        Ok(self.live_versions(org, prompt_id).await?.unwrap_or_default())
    }

    /// The versions of a live prompt, newest first, without templates; an unknown or
    /// deleted prompt is [`NotFound::PromptId`] (the public API's answer).
    pub async fn list_live_versions(&self, org: &OrgId, prompt_id: &str) -> Result<Vec<Version>> {
        self.live_versions(org, prompt_id)
            .await?
            .ok_or_else(|| Error::NotFound(NotFound::PromptId(prompt_id.to_owned())))
    }

    /// The versions of a live prompt; `None` when it is unknown or deleted.
    async fn live_versions(&self, org: &OrgId, prompt_id: &str) -> Result<Option<Vec<Version>>> {
        let mut conn = self.read.acquire().await?;
        let Some(uuid) = live_uuid(&mut conn, org, prompt_id).await? else {
            return Ok(None);
        };
        let rows = sqlx::query(concat!(
            "SELECT ",
            version_columns!(),
            " FROM prompt_versions v JOIN prompts p ON p.uuid = v.prompt_uuid \
             WHERE v.prompt_uuid = $1 ORDER BY v.version DESC"
        ))
        .bind(&uuid)
        .fetch_all(&mut *conn)
        .await?;
        let labels: Vec<(i64, String)> = sqlx::query_as(
            "SELECT version, label FROM prompt_labels WHERE prompt_uuid = $1 ORDER BY label",
        )
        .bind(&uuid)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| {
                let mut version = version_from_row(row, false)?;
                version.labels = labels
                    .iter()
                    .filter(|(n, _)| *n == version.version)
                    .map(|(_, label)| label.clone())
                    .collect();
                Ok(version)
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// The newest version of a live prompt, as `get_prompt` reads it.
    pub async fn latest_prompt(&self, org: &OrgId, prompt_id: &str) -> Result<SdkPrompt> {
        let mut conn = self.read.acquire().await?;
        let uuid = self.live_for_read(&mut conn, org, prompt_id).await?;
        let number = latest_number(&mut conn, &uuid).await?;
        self.sdk_version(&mut conn, &uuid, number).await
    }

    /// The version carrying `label`. A prompt with no labels at all answers its newest
    /// version; a prompt with labels but not this one is [`NotFound::Label`].
    pub async fn prompt_by_label(
        &self,
        org: &OrgId,
        prompt_id: &str,
        label: &str,
    ) -> Result<SdkPrompt> {
        let mut conn = self.read.acquire().await?;
        let uuid = self.live_for_read(&mut conn, org, prompt_id).await?;
        let holder: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM prompt_labels WHERE prompt_uuid = $1 AND label = $2",
        )
        .bind(&uuid)
        .bind(label)
        .fetch_optional(&mut *conn)
        .await?;
        let number = match holder {
            Some(number) => number,
            None => {
                let any: Option<String> = sqlx::query_scalar(
                    "SELECT label FROM prompt_labels WHERE prompt_uuid = $1 LIMIT 1",
                )
                .bind(&uuid)
                .fetch_optional(&mut *conn)
                .await?;
                if any.is_some() {
                    return Err(Error::NotFound(NotFound::Label {
                        prompt_id: prompt_id.to_owned(),
                        label: label.to_owned(),
                    }));
                }
                latest_number(&mut conn, &uuid).await?
            }
        };
        self.sdk_version(&mut conn, &uuid, number).await
    }

    /// Version `number` of a live prompt, with its template.
    pub async fn prompt_version(
        &self,
        org: &OrgId,
        prompt_id: &str,
        number: i64,
    ) -> Result<Version> {
        let mut conn = self.read.acquire().await?;
        let uuid = self.live_for_read(&mut conn, org, prompt_id).await?;
        version_row(&mut conn, &uuid, number).await?.ok_or_else(|| {
            Error::NotFound(NotFound::VersionNumber {
                prompt_id: prompt_id.to_owned(),
                version: number,
            })
        })
    }

    /// The version a live prompt serves in environment `env`: the environment's deployed
    /// version, else the newest version carrying a label equal to `env`, else the newest.
    pub async fn resolve_prompt(
        &self,
        org: &OrgId,
        prompt_id: &str,
        env: &str,
    ) -> Result<SdkPrompt> {
        let mut conn = self.read.acquire().await?;
        let uuid = self.live_for_read(&mut conn, org, prompt_id).await?;
        let mut deployed: Option<i64> = None;
        if !env.is_empty() {
            deployed = sqlx::query_scalar(
                "SELECT d.version FROM env_deployments d JOIN environments e ON e.uuid = d.env_uuid \
                 WHERE d.prompt_uuid = $1 AND e.org_uuid = $2 AND e.name = $3",
            )
            .bind(&uuid)
            .bind(&org.0)
            .bind(env)
            .fetch_optional(&mut *conn)
            .await?;
            if deployed.is_none() {
                deployed = sqlx::query_scalar(
                    "SELECT version FROM prompt_labels WHERE prompt_uuid = $1 AND label = $2",
                )
                .bind(&uuid)
                .bind(env)
                .fetch_optional(&mut *conn)
                .await?;
            }
        }
        let number = match deployed {
            Some(number) => number,
            None => latest_number(&mut conn, &uuid).await?,
        };
        self.sdk_version(&mut conn, &uuid, number).await
    }

    /// The environments a live prompt is deployed to, by name, each with the version it
    /// serves there, in name order.
    pub async fn prompt_environments(
        &self,
        org: &OrgId,
        prompt_id: &str,
    ) -> Result<Vec<(String, i64)>> {
        let mut conn = self.read.acquire().await?;
        let uuid = self.live_for_read(&mut conn, org, prompt_id).await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT e.name, d.version FROM env_deployments d JOIN environments e \
             ON e.uuid = d.env_uuid WHERE d.prompt_uuid = $1 AND e.org_uuid = $2 ORDER BY e.name",
        )
        .bind(&uuid)
        .bind(&org.0)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows)
    }

    async fn live_for_read(
        &self,
        conn: &mut AnyConnection,
        org: &OrgId,
        prompt_id: &str,
    ) -> Result<String> {
        live_uuid(conn, org, prompt_id)
            .await?
            .ok_or_else(|| Error::NotFound(NotFound::PromptId(prompt_id.to_owned())))
    }

    async fn sdk_version(
        &self,
        conn: &mut AnyConnection,
        uuid: &str,
        number: i64,
    ) -> Result<SdkPrompt> {
        let version =
            version_row(conn, uuid, number).await?.ok_or(Error::NotFound(NotFound::Version))?;
        Ok(sdk_view(version))
    }
}
