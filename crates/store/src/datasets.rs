//! Projects, datasets and their versioned records.
//!
//! A record is stored as a series of states. Each state is visible in the versions
//! `from_version <= v < to_version` (`to_version` is NULL for the live state), so pulling
//! any version returns that version's records exactly. A change made at version `t`
//! closes the record's live state at `t` and opens a new one from `t`; a state opened at
//! `t` itself is edited in place. The rules:
//! - A change with `create_new_version` makes version `current + 1`; without it, it amends
//!   the current version (a dataset at version 0 moves to 1 on its first change).
//! - A request that changes nothing makes no version.
//! - With `deduplicate`, an insert equal in input, expected output and metadata to a live
//!   record is skipped. An insert whose id is live replaces that record.
//! - Record ids chosen by the client are stored and returned unchanged.

use std::collections::{BTreeSet, HashMap, HashSet};

use llmobs_core::datasets::{
    BatchUpdate, DatasetAttributes, Project, Record, TagOperations, UploadResult, UploadRow,
    validate_tags,
};
use llmobs_core::jsonapi::Author;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::batch::{Col, Insert, Lookup};
use crate::deletes::soft_delete;
use crate::error::{Error, NotFound, Result, on_unique};
use crate::keys::OrgId;
use crate::projects::project_from_row;
use crate::{Store, time};

/// The longest record id accepted, in bytes.
pub const MAX_RECORD_ID_BYTES: usize = 512;

/// The detail of a records read at a version the dataset does not have.
pub const INVALID_VERSION: &str =
    "invalid version: version is greater than the current version or negative";

/// A record as stored: its values are the stored JSON text, not rebuilt.
pub type RawRecord = Record<Box<RawValue>>;

/// Which records [`Store::records`] reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordQuery {
    /// The version to read; the current one when `None` or 0.
    pub version: Option<i64>,
    /// Only records carrying any of these tags; empty matches every record.
    pub tags: Vec<String>,
    /// Only records whose id, input, expected output, metadata or tags contain this text,
    /// ignoring case (JSON values are searched as their stored JSON text).
    pub text: Option<String>,
    /// Continue after this position (a previous page's cursor; 0 from the start).
    pub after: i64,
    /// At most this many records.
    pub limit: usize,
}

impl RecordQuery {
    /// Whether a record passes the tag filter.
    fn matches(&self, id: &str, record: &RawRecord) -> bool {
        let tagged = self.tags.is_empty() || record.tags.iter().any(|tag| self.tags.contains(tag));
        tagged && self.text.as_deref().is_none_or(|text| contains_text(id, record, text))
    }

    /// Whether a filter may skip records (then pages read in larger chunks).
    fn filters(&self) -> bool {
        !self.tags.is_empty() || self.text.is_some()
    }
}

/// Whether `text` appears in the record, ignoring case.
fn contains_text(id: &str, record: &RawRecord, text: &str) -> bool {
    let wanted = text.to_lowercase();
    let has = |value: &str| value.to_lowercase().contains(&wanted);
    has(id)
        || has(record.input.get())
        || record.expected_output.as_deref().is_some_and(|v| has(v.get()))
        || record.metadata.as_deref().is_some_and(|v| has(v.get()))
        || record.tags.iter().any(|tag| has(tag))
}

/// A page of records and the position to continue after, if more remain.
pub type RecordPage = (Vec<(String, RawRecord)>, Option<i64>);

/// The state a record is written with.
#[derive(Debug, Clone, PartialEq)]
struct Content {
    input: Value,
    expected_output: Option<Value>,
    metadata: Option<Value>,
    tags: Vec<String>,
}

impl Content {
    /// What deduplication compares: input, expected output and metadata.
    fn hash(&self) -> String {
        let text =
            |v: &Option<Value>| v.as_ref().map_or_else(|| "\u{0}".to_owned(), Value::to_string);
        let mut hasher = Sha256::new();
        hasher.update(self.input.to_string());
        hasher.update([0x1f]);
        hasher.update(text(&self.expected_output));
        hasher.update([0x1f]);
        hasher.update(text(&self.metadata));
        hex::encode(hasher.finalize())
    }
}

/// A live record state: as stored, or as a change leaves it.
struct Live {
    from_version: i64,
    position: i64,
    canonical_id: String,
    created_at: String,
    content: Content,
    /// The content's [`Content::hash`].
    hash: String,
}

fn parse_json(text: &str, what: &str) -> Result<Value> {
    serde_json::from_str(text)
        .map_err(|err| Error::Invalid(format!("stored {what} is not JSON: {err}")))
}

fn optional_json(row: &AnyRow, column: &str) -> Result<Option<Value>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| parse_json(&t, column)).transpose()
}

fn tags_from_text(text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text)
        .map_err(|err| Error::Invalid(format!("stored tags are not JSON: {err}")))
}

macro_rules! dataset_columns {
    () => {
        "uuid, project_uuid, name, description, current_version, author, created_at, updated_at, \
         deleted_at, metadata"
    };
}
pub(crate) use dataset_columns;

pub(crate) fn dataset_from_row(row: &AnyRow) -> Result<(String, DatasetAttributes)> {
    Ok((
        row.try_get("uuid")?,
        DatasetAttributes {
            author: Author { id: row.try_get("author")? },
            created_at: row.try_get("created_at")?,
            current_version: row.try_get("current_version")?,
            description: row.try_get("description")?,
            name: row.try_get("name")?,
            project_id: row.try_get("project_uuid")?,
            updated_at: row.try_get("updated_at")?,
            dataset_type: "user".to_owned(),
            deleted_at: row.try_get("deleted_at")?,
            metadata: optional_json(row, "metadata")?,
        },
    ))
}

macro_rules! record_columns {
    () => {
        "record_id, canonical_id, input, expected_output, metadata, tags, author, created_at, \
         updated_at, position, from_version"
    };
}

fn raw(text: String, what: &str) -> Result<Box<RawValue>> {
    RawValue::from_string(text)
        .map_err(|err| Error::Invalid(format!("stored {what} is not JSON: {err}")))
}

fn optional_raw(row: &AnyRow, column: &str) -> Result<Option<Box<RawValue>>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| raw(t, column)).transpose()
}

fn record_from_row(row: &AnyRow, dataset_id: &str) -> Result<(String, RawRecord)> {
    let tags: String = row.try_get("tags")?;
    Ok((
        row.try_get("record_id")?,
        Record {
            author: Author { id: row.try_get("author")? },
            canonical_id: row.try_get("canonical_id")?,
            created_at: row.try_get("created_at")?,
            dataset_id: dataset_id.to_owned(),
            input: raw(row.try_get("input")?, "input")?,
            expected_output: optional_raw(row, "expected_output")?,
            metadata: optional_raw(row, "metadata")?,
            tags: tags_from_text(&tags)?,
            updated_at: row.try_get("updated_at")?,
            version: None,
            deleted_at: None,
        },
    ))
}

fn check_record_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_RECORD_ID_BYTES {
        return Err(Error::Invalid(format!(
            "record ids must be 1 to {MAX_RECORD_ID_BYTES} bytes long, got {} bytes",
            id.len()
        )));
    }
    Ok(())
}

fn check_tags(tags: &[String]) -> Result<()> {
    validate_tags(tags).map_err(|err| Error::Invalid(err.to_string()))
}

/// A 32-hex-digit id, the form the reference client uses.
fn new_record_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The live states of records, looked up many ids at a time.
static LIVE: Lookup = Lookup::new(
    "SELECT record_id, from_version, position, canonical_id, created_at, input, \
     expected_output, metadata, tags, content_hash FROM dataset_records \
     WHERE dataset_uuid = $1 AND to_version IS NULL AND record_id IN ({keys})",
);

/// The live records with any of some content hashes (deduplication).
static LIVE_HASHES: Lookup = Lookup::new(
    "SELECT record_id, content_hash FROM dataset_records \
     WHERE dataset_uuid = $1 AND to_version IS NULL AND content_hash IN ({keys})",
);

/// Removes live states opened at the change's own version (they are replaced).
static REMOVE_STATES: Lookup = Lookup::new(
    "DELETE FROM dataset_records \
     WHERE dataset_uuid = $1 AND from_version = $2 AND record_id IN ({keys})",
);

/// Ends older live states at the change's version.
static END_STATES: Lookup = Lookup::new(
    "UPDATE dataset_records SET to_version = $1 \
     WHERE dataset_uuid = $2 AND to_version IS NULL AND record_id IN ({keys})",
);

/// New live states.
static STATES: Insert = Insert::new(
    "dataset_records",
    &[
        ("dataset_uuid", Col::Shared(1)),
        ("record_id", Col::Row),
        ("from_version", Col::Shared(2)),
        ("position", Col::Row),
        ("canonical_id", Col::Row),
        ("input", Col::Row),
        ("expected_output", Col::Row),
        ("metadata", Col::Row),
        ("tags", Col::Row),
        ("content_hash", Col::Row),
        ("author", Col::Shared(3)),
        ("created_at", Col::Row),
        ("updated_at", Col::Shared(4)),
    ],
    "",
);

/// Changes to one dataset inside one transaction, made at version `target`.
///
/// The change runs in memory over the records it looked up first ([`Change::load`],
/// [`Change::load_hashes`]); [`Change::finish`] then writes the end result in a few
/// multi-row statements, in record id order, so overlapping changes lock rows in the
/// same order. The result is the one of applying each step to the database in turn: a
/// record written twice ends as its last state, with one state opened at `target`.
struct Change<'a> {
    conn: &'a mut AnyConnection,
    dataset_id: &'a str,
    author: &'a str,
    /// The dataset's version before the change.
    current: i64,
    /// The version the change makes (or amends).
    target: i64,
    next_position: i64,
    now: String,
    /// The records written or deleted, in turn, each as the step left it (when `report`).
    touched: Vec<(String, Record)>,
    /// Whether to keep `touched` (a bulk upload does not answer with its records).
    report: bool,
    /// The live state of each record looked up, as the change leaves it so far (`None`:
    /// not live).
    live: HashMap<String, Option<Live>>,
    /// The version each looked-up record's stored live state was opened at.
    stored: HashMap<String, i64>,
    /// The live records of each content hash looked up, as the change leaves them.
    hashes: HashMap<String, HashSet<String>>,
    /// The records whose live state changed.
    changed: BTreeSet<String>,
}

impl<'a> Change<'a> {
    /// Starts changing `dataset_id`; `target` picks the version to make from the current one.
    async fn begin(
        conn: &'a mut AnyConnection,
        dataset_id: &'a str,
        author: &'a str,
        target: impl FnOnce(i64) -> i64,
    ) -> Result<Change<'a>> {
        // PostgreSQL plans this transaction's statements for their values and the table's
        // size now. A prepared statement otherwise settles on a generic plan after five
        // runs: planned while a dataset was small, a lookup of 256 ids stayed a sequential
        // scan comparing every row with each id, and batches slowed as the dataset grew
        // (2.7 s a batch at 40,000 records).
        if conn.backend_name() != "SQLite" {
            sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
                .execute(&mut *conn)
                .await?;
        }
        // Take the dataset row's lock before reading its version: concurrent changes (from
        // this server or another one sharing a PostgreSQL database) then queue, and each
        // reads the version the previous one committed. (SQLite has one writer at a time.)
        sqlx::query("UPDATE datasets SET record_seq = record_seq WHERE uuid = $1")
            .bind(dataset_id)
            .execute(&mut *conn)
            .await?;
        let (current, seq): (i64, i64) =
            sqlx::query_as("SELECT current_version, record_seq FROM datasets WHERE uuid = $1")
                .bind(dataset_id)
                .fetch_one(&mut *conn)
                .await?;
        Ok(Change {
            conn,
            dataset_id,
            author,
            current,
            target: target(current),
            next_position: seq,
            now: time::now(),
            touched: Vec::new(),
            report: true,
            live: HashMap::new(),
            stored: HashMap::new(),
            hashes: HashMap::new(),
            changed: BTreeSet::new(),
        })
    }

    /// Looks up the live states of `ids` (those not looked up yet).
    async fn load<'i>(&mut self, ids: impl IntoIterator<Item = &'i str>) -> Result<()> {
        let wanted: Vec<&str> = ids.into_iter().filter(|id| !self.live.contains_key(*id)).collect();
        let dataset_id = self.dataset_id;
        let rows =
            LIVE.run(self.conn, wanted.iter().copied(), |q| q.bind(dataset_id.to_owned())).await?;
        for id in wanted {
            self.live.insert(id.to_owned(), None);
        }
        for row in rows {
            let id: String = row.try_get("record_id")?;
            let live = Live {
                from_version: row.try_get("from_version")?,
                position: row.try_get("position")?,
                canonical_id: row.try_get("canonical_id")?,
                created_at: row.try_get("created_at")?,
                hash: row.try_get("content_hash")?,
                content: Content {
                    input: parse_json(&row.try_get::<String, _>("input")?, "input")?,
                    expected_output: optional_json(&row, "expected_output")?,
                    metadata: optional_json(&row, "metadata")?,
                    tags: tags_from_text(&row.try_get::<String, _>("tags")?)?,
                },
            };
            self.stored.insert(id.clone(), live.from_version);
            self.live.insert(id, Some(live));
        }
        Ok(())
    }

    /// Looks up which live records have each of `hashes`. Call it after [`Change::load`]
    /// and before any change, so the states loaded and these agree.
    async fn load_hashes<'h>(&mut self, hashes: impl IntoIterator<Item = &'h str>) -> Result<()> {
        let wanted: Vec<&str> = hashes.into_iter().collect();
        let dataset_id = self.dataset_id;
        let rows = LIVE_HASHES
            .run(self.conn, wanted.iter().copied(), |q| q.bind(dataset_id.to_owned()))
            .await?;
        for hash in wanted {
            self.hashes.entry(hash.to_owned()).or_default();
        }
        for row in rows {
            let hash: String = row.try_get("content_hash")?;
            self.hashes.entry(hash).or_default().insert(row.try_get("record_id")?);
        }
        Ok(())
    }

    /// The live state of a looked-up record.
    fn live(&self, record_id: &str) -> Option<&Live> {
        let looked_up = self.live.get(record_id);
        debug_assert!(looked_up.is_some(), "record '{record_id}' was not looked up");
        looked_up.and_then(Option::as_ref)
    }

    /// Whether a live record has `hash` (one of those looked up).
    fn has_duplicate(&self, hash: &str) -> bool {
        let looked_up = self.hashes.get(hash);
        debug_assert!(looked_up.is_some(), "hash {hash} was not looked up");
        looked_up.is_some_and(|ids| !ids.is_empty())
    }

    /// Makes `state` the live state of `record_id` (`None`: not live).
    fn set_live(&mut self, record_id: &str, state: Option<Live>) -> Option<Live> {
        let previous = self.live.insert(record_id.to_owned(), state).flatten();
        if let Some(old) = &previous
            && let Some(ids) = self.hashes.get_mut(&old.hash)
        {
            ids.remove(record_id);
        }
        if let Some(new) = self.live.get(record_id).and_then(Option::as_ref)
            && let Some(ids) = self.hashes.get_mut(&new.hash)
        {
            ids.insert(record_id.to_owned());
        }
        self.changed.insert(record_id.to_owned());
        previous
    }

    /// Writes the result (when anything changed) and the new version. Returns the
    /// dataset's version and the records touched.
    async fn finish(self) -> Result<(i64, Vec<(String, Record)>)> {
        if self.changed.is_empty() {
            return Ok((self.current, self.touched));
        }
        // The stored live states of changed records end: removed when opened at the target
        // itself, otherwise kept for the versions before it.
        let (mut remove, mut end) = (Vec::new(), Vec::new());
        for id in &self.changed {
            match self.stored.get(id) {
                Some(&from) if from == self.target => remove.push(id.as_str()),
                Some(_) => end.push(id.as_str()),
                None => {}
            }
        }
        let (dataset_id, target) = (self.dataset_id, self.target);
        REMOVE_STATES
            .run(self.conn, remove, |q| q.bind(dataset_id.to_owned()).bind(target))
            .await?;
        END_STATES.run(self.conn, end, |q| q.bind(target).bind(dataset_id.to_owned())).await?;
        let states: Vec<(&str, &Live)> = (self.changed.iter())
            .filter_map(|id| self.live.get(id)?.as_ref().map(|live| (id.as_str(), live)))
            .collect();
        let text = |v: &Option<Value>| v.as_ref().map(Value::to_string);
        STATES
            .run(
                self.conn,
                &states,
                |q| {
                    q.bind(dataset_id.to_owned())
                        .bind(target)
                        .bind(self.author.to_owned())
                        .bind(self.now.clone())
                },
                |q, (id, live)| {
                    q.bind((*id).to_owned())
                        .bind(live.position)
                        .bind(live.canonical_id.clone())
                        .bind(live.content.input.to_string())
                        .bind(text(&live.content.expected_output))
                        .bind(text(&live.content.metadata))
                        .bind(Value::from(live.content.tags.clone()).to_string())
                        .bind(live.hash.clone())
                        .bind(live.created_at.clone())
                },
            )
            .await?;
        sqlx::query(
            "UPDATE datasets SET current_version = $2, record_seq = $3, updated_at = $4 \
             WHERE uuid = $1",
        )
        .bind(self.dataset_id)
        .bind(self.target)
        .bind(self.next_position)
        .bind(&self.now)
        .execute(&mut *self.conn)
        .await?;
        Ok((self.target, self.touched))
    }

    /// Makes `content` the live state of `record_id` (looked up), replacing the one it
    /// has, if any.
    fn write(&mut self, record_id: &str, content: Content, hash: String) {
        let (position, canonical_id, created_at) = match self.live(record_id) {
            Some(live) => (live.position, live.canonical_id.clone(), live.created_at.clone()),
            None => {
                self.next_position += 1;
                (self.next_position, uuid::Uuid::new_v4().to_string(), self.now.clone())
            }
        };
        if self.report {
            self.touched.push((
                record_id.to_owned(),
                Record {
                    author: Author { id: self.author.to_owned() },
                    canonical_id: canonical_id.clone(),
                    created_at: created_at.clone(),
                    dataset_id: self.dataset_id.to_owned(),
                    input: content.input.clone(),
                    expected_output: content.expected_output.clone(),
                    metadata: content.metadata.clone(),
                    tags: content.tags.clone(),
                    updated_at: self.now.clone(),
                    version: Some(self.target),
                    deleted_at: None,
                },
            ));
        }
        let state =
            Live { from_version: self.target, position, canonical_id, created_at, content, hash };
        self.set_live(record_id, Some(state));
    }

    /// Inserts a record (its id and, with `deduplicate`, its hash looked up).
    fn insert(&mut self, id: &str, content: Content, hash: String, deduplicate: bool) {
        if deduplicate && self.has_duplicate(&hash) {
            return;
        }
        if self.live(id).is_some_and(|live| live.content == content) {
            return;
        }
        self.write(id, content, hash);
    }

    /// Updates a record (looked up) if it is live.
    fn update(&mut self, id: &str, change: Content, ops: Option<&TagOperations>) {
        let Some(live) = self.live(id) else { return };
        let mut next = live.content.clone();
        if !change.input.is_null() {
            next.input = change.input;
        }
        if change.expected_output.is_some() {
            next.expected_output = change.expected_output;
        }
        if change.metadata.is_some() {
            next.metadata = change.metadata;
        }
        if let Some(ops) = ops {
            ops.apply(&mut next.tags);
        }
        if next == live.content {
            return;
        }
        let hash = next.hash();
        self.write(id, next, hash);
    }

    /// Deletes a record (looked up) if it is live.
    fn delete(&mut self, id: &str) {
        if self.live(id).is_none() {
            return;
        }
        let live = self.set_live(id, None).expect("live");
        if !self.report {
            return;
        }
        self.touched.push((
            id.to_owned(),
            Record {
                author: Author { id: self.author.to_owned() },
                canonical_id: live.canonical_id,
                created_at: live.created_at,
                dataset_id: self.dataset_id.to_owned(),
                input: live.content.input,
                expected_output: live.content.expected_output,
                metadata: live.content.metadata,
                tags: live.content.tags,
                updated_at: self.now.clone(),
                version: Some(self.target),
                deleted_at: Some(self.now.clone()),
            },
        ));
    }
}

impl Store {
    /// The org's project named `name`, if it exists.
    pub async fn find_project(&self, org: &OrgId, name: &str) -> Result<Option<(String, Project)>> {
        let row = sqlx::query(
            "SELECT uuid, name, description, author, created_at, updated_at FROM projects \
             WHERE org_uuid = $1 AND name = $2",
        )
        .bind(&org.0)
        .bind(name)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    /// Returns the org's project named `name`, creating it if needed.
    pub async fn project_by_name(
        &self,
        org: &OrgId,
        author: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<(String, Project)> {
        if name.trim().is_empty() {
            return Err(Error::Invalid("a project needs a non-empty name".into()));
        }
        let select = "SELECT uuid, name, description, author, created_at, updated_at FROM projects \
                      WHERE org_uuid = $1 AND name = $2";
        if let Some(row) =
            sqlx::query(select).bind(&org.0).bind(name).fetch_optional(&self.read).await?
        {
            return project_from_row(&row);
        }
        let now = time::now();
        let inserted = sqlx::query(
            "INSERT INTO projects (uuid, org_uuid, name, description, author, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&org.0)
        .bind(name)
        .bind(description.unwrap_or(""))
        .bind(author)
        .bind(&now)
        .execute(&self.write)
        .await;
        if let Err(err) = inserted {
            // A unique violation means another request created it meanwhile: read theirs.
            match on_unique(err, "project") {
                Error::Conflict(_) => {}
                other => return Err(other),
            }
        }
        let row = sqlx::query(select).bind(&org.0).bind(name).fetch_one(&self.write).await?;
        project_from_row(&row)
    }

    /// The org's project `project_id`.
    pub async fn project(&self, org: &OrgId, project_id: &str) -> Result<(String, Project)> {
        let row = sqlx::query(
            "SELECT uuid, name, description, author, created_at, updated_at FROM projects \
             WHERE org_uuid = $1 AND uuid = $2 AND deleted_at IS NULL",
        )
        .bind(&org.0)
        .bind(project_id)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| {
            Error::NotFound(NotFound::Other(format!("project '{project_id}' not found")))
        })?;
        project_from_row(&row)
    }

    /// Creates an empty dataset (version 0) with its description and metadata, in one
    /// transaction, or returns the project's live dataset of that name unchanged (its id and
    /// `current_version`; the description and metadata given here are ignored). Clients then
    /// push their records deduplicated, so creating twice adds only new ones.
    pub async fn create_dataset(
        &self,
        org: &OrgId,
        author: &str,
        project_id: &str,
        name: &str,
        description: Option<&str>,
        metadata: Option<&Map<String, Value>>,
    ) -> Result<(String, DatasetAttributes)> {
        llmobs_core::datasets::validate_dataset_name(name)
            .map_err(|err| Error::Invalid(err.to_string()))?;
        self.project(org, project_id).await?;
        let now = time::now();
        let uuid = uuid::Uuid::new_v4().to_string();
        let mut tx = self.write.begin().await?;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT uuid FROM datasets WHERE project_uuid = $1 AND name = $2 AND deleted_at IS NULL",
        )
        .bind(project_id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(existing) = existing {
            drop(tx);
            return self.dataset(org, Some(project_id), &existing).await;
        }
        sqlx::query(
            "INSERT INTO datasets (uuid, org_uuid, project_uuid, name, description, \
             current_version, record_seq, author, created_at, updated_at, metadata) \
             VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $7, $7, $8)",
        )
        .bind(&uuid)
        .bind(&org.0)
        .bind(project_id)
        .bind(name)
        .bind(description.unwrap_or(""))
        .bind(author)
        .bind(&now)
        .bind(metadata.map(|m| Value::Object(m.clone()).to_string()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.dataset(org, Some(project_id), &uuid).await
    }

    /// The project's live datasets, optionally only those named `name` (exact match).
    pub async fn find_datasets(
        &self,
        org: &OrgId,
        project_id: &str,
        name: Option<&str>,
    ) -> Result<Vec<(String, DatasetAttributes)>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            dataset_columns!(),
            " FROM datasets WHERE org_uuid = $1 AND project_uuid = $2 AND deleted_at IS NULL \
             AND ($3 IS NULL OR name = $3) ORDER BY created_at, uuid"
        ))
        .bind(&org.0)
        .bind(project_id)
        .bind(name)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(dataset_from_row).collect()
    }

    /// A live dataset of the org, in `project_id` when given.
    pub async fn dataset(
        &self,
        org: &OrgId,
        project_id: Option<&str>,
        dataset_id: &str,
    ) -> Result<(String, DatasetAttributes)> {
        let row = sqlx::query(concat!(
            "SELECT ",
            dataset_columns!(),
            " FROM datasets WHERE org_uuid = $1 AND uuid = $2 AND deleted_at IS NULL \
             AND ($3 IS NULL OR project_uuid = $3)"
        ))
        .bind(&org.0)
        .bind(dataset_id)
        .bind(project_id)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| {
            Error::NotFound(NotFound::Other(format!("dataset '{dataset_id}' not found")))
        })?;
        dataset_from_row(&row)
    }

    /// A page of records of a dataset, in insertion order, and where the next page starts:
    /// see [`RecordQuery`]. A tag filter applies before paging, so only the last page is
    /// short, and it carries no cursor.
    pub async fn records(
        &self,
        org: &OrgId,
        project_id: &str,
        dataset_id: &str,
        query: &RecordQuery,
    ) -> Result<RecordPage> {
        let (_, dataset) = self.dataset(org, Some(project_id), dataset_id).await?;
        let version = match query.version {
            None | Some(0) => dataset.current_version,
            Some(v) if v < 0 || v > dataset.current_version => {
                return Err(Error::Invalid(INVALID_VERSION.into()));
            }
            Some(v) => v,
        };
        let limit = query.limit;
        // One more than a page tells whether more remain; a tag filter reads in larger
        // chunks, since it may skip many.
        let chunk = match query.filters() {
            false => limit + 1,
            true => (limit + 1).max(500),
        };
        let mut records = Vec::with_capacity(limit.min(chunk));
        let (mut scanned, mut last) = (query.after, query.after);
        loop {
            let rows = sqlx::query(concat!(
                "SELECT ",
                record_columns!(),
                " FROM dataset_records WHERE dataset_uuid = $1 AND position > $2 \
                 AND from_version <= $3 AND (to_version IS NULL OR to_version > $3) \
                 ORDER BY position LIMIT $4"
            ))
            .bind(dataset_id)
            .bind(scanned)
            .bind(version)
            .bind(chunk as i64)
            .fetch_all(&self.read)
            .await?;
            let exhausted = rows.len() < chunk;
            for row in &rows {
                let position: i64 = row.try_get("position")?;
                scanned = position;
                let (id, record) = record_from_row(row, dataset_id)?;
                if !query.matches(&id, &record) {
                    continue;
                }
                if records.len() == limit {
                    return Ok((records, Some(last)));
                }
                last = position;
                records.push((id, record));
            }
            if exhausted {
                return Ok((records, None));
            }
        }
    }

    /// Applies a batch of inserts, updates and deletes, all or nothing. Returns every
    /// record it touched (deleted ones with `deleted_at`), each with the resulting version;
    /// empty when nothing changed.
    pub async fn batch_update(
        &self,
        org: &OrgId,
        author: &str,
        project_id: &str,
        dataset_id: &str,
        batch: BatchUpdate,
    ) -> Result<Vec<(String, Record)>> {
        // Validate everything before writing anything.
        let mut inserts = Vec::with_capacity(batch.insert_records.len());
        for (index, record) in batch.insert_records.into_iter().enumerate() {
            let id = record.id.unwrap_or_else(new_record_id);
            check_record_id(&id)
                .map_err(|e| Error::Invalid(format!("insert_records[{index}]: {e}")))?;
            let tags = record.tags.unwrap_or_default();
            check_tags(&tags)
                .map_err(|e| Error::Invalid(format!("insert_records[{index}]: {e}")))?;
            let content = Content {
                input: record.input,
                expected_output: record.expected_output,
                metadata: record.metadata,
                tags,
            };
            inserts.push((id, content));
        }
        for (index, update) in batch.update_records.iter().enumerate() {
            let ops = update
                .tag_operations
                .iter()
                .flat_map(|o| [&o.add, &o.remove, &o.set].into_iter().flatten().flatten());
            validate_tags(ops)
                .map_err(|e| Error::Invalid(format!("update_records[{index}]: {e}")))?;
        }
        self.dataset(org, Some(project_id), dataset_id).await?;
        let mut tx = self.write.begin().await?;
        let new_version = batch.create_new_version;
        let mut change = Change::begin(&mut tx, dataset_id, author, |current| {
            if new_version { current + 1 } else { current.max(1) }
        })
        .await?;
        let inserts: Vec<(String, Content, String)> = (inserts.into_iter())
            .map(|(id, content)| {
                let hash = content.hash();
                (id, content, hash)
            })
            .collect();
        let ids = (inserts.iter().map(|(id, _, _)| id.as_str()))
            .chain(batch.update_records.iter().map(|update| update.id.as_str()))
            .chain(batch.delete_records.iter().map(String::as_str));
        change.load(ids).await?;
        if batch.deduplicate {
            change.load_hashes(inserts.iter().map(|(_, _, hash)| hash.as_str())).await?;
        }
        for (id, content, hash) in inserts {
            change.insert(&id, content, hash, batch.deduplicate);
        }
        for update in batch.update_records {
            let content = Content {
                input: update.input.unwrap_or(Value::Null),
                expected_output: update.expected_output,
                metadata: update.metadata,
                tags: Vec::new(),
            };
            change.update(&update.id, content, update.tag_operations.as_ref());
        }
        for id in &batch.delete_records {
            change.delete(id);
        }
        let (_, touched) = change.finish().await?;
        tx.commit().await?;
        Ok(touched)
    }

    /// Stores a bulk upload as a new version: records whose id is live are replaced (their
    /// tags kept), others inserted. With `deduplicate`, rows equal to an earlier row of the
    /// same upload are skipped.
    pub async fn upload_records(
        &self,
        org: &OrgId,
        author: &str,
        dataset_id: &str,
        rows: Vec<UploadRow>,
        deduplicate: bool,
    ) -> Result<UploadResult> {
        for (index, row) in rows.iter().enumerate() {
            check_record_id(&row.id)
                .map_err(|e| Error::Invalid(format!("row {}: {e}", index + 2)))?;
        }
        self.dataset(org, None, dataset_id).await?;
        let mut tx = self.write.begin().await?;
        let mut change = Change::begin(&mut tx, dataset_id, author, |current| current + 1).await?;
        change.report = false;
        change.load(rows.iter().map(|row| row.id.as_str())).await?;
        let mut seen = HashSet::new();
        for row in rows {
            let mut content = Content {
                input: row.input,
                expected_output: row.expected_output,
                metadata: row.metadata,
                tags: Vec::new(),
            };
            let hash = content.hash();
            if deduplicate && !seen.insert(hash.clone()) {
                continue;
            }
            if let Some(live) = change.live(&row.id) {
                content.tags.clone_from(&live.content.tags);
                if live.content == content {
                    continue;
                }
            }
            change.write(&row.id, content, hash);
        }
        let now = change.now.clone();
        let (version, _) = change.finish().await?;
        tx.commit().await?;
        Ok(UploadResult {
            dataset_id: dataset_id.to_owned(),
            last_used: now,
            version_number: version,
        })
    }

    /// Soft-deletes datasets of the org, all or nothing: an id that is not a live dataset
    /// of the org (unknown, deleted already, or another org's) is [`Error::NotFound`] and
    /// deletes nothing. Returns those deleted.
    pub async fn delete_datasets(
        &self,
        org: &OrgId,
        ids: &[String],
    ) -> Result<Vec<(String, DatasetAttributes)>> {
        let now = time::now();
        let mut deleted = Vec::new();
        let mut tx = self.write.begin().await?;
        for id in ids {
            soft_delete(
                &mut tx,
                "UPDATE datasets SET deleted_at = $3, updated_at = $3 \
                 WHERE org_uuid = $1 AND uuid = $2 AND deleted_at IS NULL",
                &[&org.0, id, &now],
                || Error::NotFound(NotFound::Other(format!("dataset '{id}' not found"))),
            )
            .await?;
            let row = sqlx::query(concat!(
                "SELECT ",
                dataset_columns!(),
                " FROM datasets WHERE uuid = $1"
            ))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            deleted.push(dataset_from_row(&row)?);
        }
        tx.commit().await?;
        Ok(deleted)
    }
}

/// A record that differs between two versions of a dataset: its state at the first
/// (`before`, `None` when it was not there) and at the second (`after`, `None` when it is
/// gone).
#[derive(Debug, Clone)]
pub struct RecordChange {
    /// The record's id.
    pub id: String,
    /// Its state at the first version.
    pub before: Option<RawRecord>,
    /// Its state at the second version.
    pub after: Option<RawRecord>,
}

impl RecordChange {
    /// `inserted` (only in the second version), `deleted` (only in the first) or
    /// `updated` (in both, changed).
    pub fn kind(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, _) => "inserted",
            (_, None) => "deleted",
            _ => "updated",
        }
    }
}

/// A page of changed records and the record id the next page starts after.
pub type ChangePage = (Vec<RecordChange>, Option<String>);

impl Store {
    /// The records that differ between versions `from` and `to` of a dataset (each 1 to
    /// the current version; `from` may be the later one), by record id, `limit` a page after
    /// the record id `after`. A record whose state changed and changed back between the two
    /// versions is left out, so a page may hold fewer than `limit`.
    pub async fn dataset_changes(
        &self,
        org: &OrgId,
        project_id: &str,
        dataset_id: &str,
        (from, to): (i64, i64),
        after: Option<&str>,
        limit: usize,
    ) -> Result<ChangePage> {
        let (_, dataset) = self.dataset(org, Some(project_id), dataset_id).await?;
        for version in [from, to] {
            if version < 1 || version > dataset.current_version {
                return Err(Error::Invalid(format!(
                    "version {version}: pick a version from 1 to {} (the current one)",
                    dataset.current_version
                )));
            }
        }
        // A record has one state per version: the rows visible at exactly one of the two
        // versions are the states that differ.
        let rows = sqlx::query(concat!(
            "SELECT ",
            record_columns!(),
            ", CAST(CASE WHEN from_version <= $3 AND (to_version IS NULL OR to_version > $3) \
             THEN 1 ELSE 0 END AS BIGINT) AS at_from FROM dataset_records \
             WHERE dataset_uuid = $1 AND record_id > $2 \
             AND ((from_version <= $3 AND (to_version IS NULL OR to_version > $3)) \
               <> (from_version <= $4 AND (to_version IS NULL OR to_version > $4))) \
             ORDER BY record_id LIMIT $5"
        ))
        .bind(dataset_id)
        .bind(after.unwrap_or(""))
        .bind(from)
        .bind(to)
        .bind(2 * (limit as i64 + 1))
        .fetch_all(&self.read)
        .await?;
        let mut changes: Vec<RecordChange> = Vec::new();
        for row in &rows {
            let at_from: i64 = row.try_get("at_from")?;
            let (id, record) = record_from_row(row, dataset_id)?;
            let change = match changes.last_mut() {
                Some(last) if last.id == id => last,
                _ => {
                    changes.push(RecordChange { id: id.clone(), before: None, after: None });
                    changes.last_mut().expect("just pushed")
                }
            };
            match at_from == 1 {
                true => change.before = Some(record),
                false => change.after = Some(record),
            }
        }
        let next = match changes.len() > limit {
            true => {
                changes.truncate(limit);
                changes.last().map(|c| c.id.clone())
            }
            false => None,
        };
        changes.retain(|c| match (&c.before, &c.after) {
            (Some(a), Some(b)) => {
                a.input.get() != b.input.get()
                    || a.expected_output.as_deref().map(RawValue::get)
                        != b.expected_output.as_deref().map(RawValue::get)
                    || a.metadata.as_deref().map(RawValue::get)
                        != b.metadata.as_deref().map(RawValue::get)
                    || a.tags != b.tags
            }
            _ => true,
        });
        Ok((changes, next))
    }
}

#[cfg(test)]
mod tests {
    use llmobs_core::datasets::BatchUpdate;
    use serde_json::json;

    fn batch(value: serde_json::Value) -> BatchUpdate {
        serde_json::from_value(value).unwrap()
    }

    /// The records of a version as (id, input) in order.
    async fn inputs(
        store: &crate::Store,
        org: &crate::OrgId,
        project: &str,
        dataset: &str,
        version: i64,
    ) -> Vec<(String, String)> {
        let records = store.all_records(org, project, dataset, Some(version)).await.unwrap();
        records.into_iter().map(|(id, r)| (id, r.input.get().to_owned())).collect()
    }

    /// The steps of one batch act in turn, as if applied one by one: a record written
    /// twice ends as its last state, deduplication sees the records inserted or replaced
    /// before it in the same batch, and a record deleted after being inserted is gone.
    #[tokio::test]
    async fn the_steps_of_a_batch_act_in_turn() {
        let dir = tempfile::tempdir().unwrap();
        let (store, org, project, dataset) = crate::test_db::with_dataset(dir.path()).await;
        let push = |value| store.batch_update(&org, "u", &project, &dataset, batch(value));
        let first = push(json!({
            "insert_records": [
                {"id": "a", "input": {"x": 1}},
                {"id": "b", "input": {"x": 2}},
                {"id": "c", "input": {"x": 3}},
            ],
            "create_new_version": true,
        }))
        .await
        .unwrap();
        let touched = push(json!({
            "insert_records": [
                {"id": "a", "input": {"x": 10}},
                {"id": "d", "input": {"x": 1}},
                {"id": "e", "input": {"x": 10}},
                {"id": "f", "input": {"x": 4}},
                {"id": "f", "input": {"x": 5}},
                {"id": "g", "input": {"x": 2}},
            ],
            "update_records": [{"id": "b", "input": {"x": 20}}, {"id": "z", "input": {"x": 0}}],
            "delete_records": ["c", "d", "y"],
            "deduplicate": true,
            "create_new_version": true,
        }))
        .await
        .unwrap();
        let steps: Vec<(&str, bool)> =
            touched.iter().map(|(id, r)| (id.as_str(), r.deleted_at.is_some())).collect();
        assert_eq!(
            steps,
            [
                ("a", false),
                ("d", false),
                ("f", false),
                ("f", false),
                ("b", false),
                ("c", true),
                ("d", true)
            ]
        );
        assert!(touched.iter().all(|(_, r)| r.version == Some(2)));
        assert_eq!(touched[0].1.canonical_id, first[0].1.canonical_id, "a keeps its identity");
        assert_eq!(touched[2].1.canonical_id, touched[3].1.canonical_id, "f is one record");
        let pair = |id: &str, input: &str| (id.to_owned(), input.to_owned());
        let v1 = [pair("a", r#"{"x":1}"#), pair("b", r#"{"x":2}"#), pair("c", r#"{"x":3}"#)];
        assert_eq!(inputs(&store, &org, &project, &dataset, 1).await, v1);
        assert_eq!(
            inputs(&store, &org, &project, &dataset, 2).await,
            [pair("a", r#"{"x":10}"#), pair("b", r#"{"x":20}"#), pair("f", r#"{"x":5}"#)]
        );
        // Amending version 2: a state opened at 2 is replaced, a deleted id comes back
        // as a new record at the end.
        let touched = push(json!({
            "insert_records": [{"id": "c", "input": {"x": 3}}],
            "update_records": [{"id": "a", "input": {"x": 11}}, {"id": "a", "input": {"x": 12}}],
            "create_new_version": false,
        }))
        .await
        .unwrap();
        assert_eq!(touched.len(), 3);
        assert_ne!(touched[0].1.canonical_id, first[2].1.canonical_id, "c is a new record");
        assert_eq!(inputs(&store, &org, &project, &dataset, 1).await, v1);
        assert_eq!(
            inputs(&store, &org, &project, &dataset, 2).await,
            [
                pair("a", r#"{"x":12}"#),
                pair("b", r#"{"x":20}"#),
                pair("f", r#"{"x":5}"#),
                pair("c", r#"{"x":3}"#)
            ]
        );
        let (_, attributes) = store.dataset(&org, Some(&project), &dataset).await.unwrap();
        assert_eq!(attributes.current_version, 2);
    }

    /// Batches into one dataset from many writers at once (as from several servers on one
    /// PostgreSQL database): each makes its own version, 1..N, and every record is kept
    /// with its own position.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_batches_each_make_their_own_version() {
        let dir = tempfile::tempdir().unwrap();
        let (store, org, project, dataset) = crate::test_db::with_dataset(dir.path()).await;
        let (writers, per_batch) = (12, 20);
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(12));
        let tasks = (0..writers)
            .map(|w| {
                let (store, org, project, dataset, start) =
                    (store.clone(), org.clone(), project.clone(), dataset.clone(), start.clone());
                tokio::spawn(async move {
                    let records: Vec<_> =
                        (0..per_batch).map(|k| json!({"input": {"w": w, "k": k}})).collect();
                    let batch: BatchUpdate = serde_json::from_value(json!({
                        "insert_records": records,
                        "create_new_version": true,
                        "deduplicate": false,
                    }))
                    .unwrap();
                    start.wait().await;
                    let touched =
                        store.batch_update(&org, "u", &project, &dataset, batch).await.unwrap();
                    touched[0].1.version.expect("a batch's version")
                })
            })
            .collect::<Vec<_>>();
        let mut versions = Vec::new();
        for task in tasks {
            versions.push(task.await.unwrap());
        }
        versions.sort_unstable();
        assert_eq!(versions, (1..=writers).collect::<Vec<i64>>());
        let records = store.all_records(&org, &project, &dataset, None).await.unwrap();
        assert_eq!(records.len(), per_batch * usize::try_from(writers).unwrap());
    }
}
