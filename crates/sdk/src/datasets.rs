//! Datasets: a local copy of a dataset's records with change tracking, pushed to the
//! server as a diff (spec §3, endpoints E1–E7).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use llmobs_core::datasets::{
    BatchUpdate, DATASETS, DatasetAttributes, DatasetRequest, DeleteDatasets, InsertRecord,
    PROJECTS, ProjectRequest, TagOperations, UpdateRecord, validate_tags,
};
use llmobs_core::encoding::query_value;
use llmobs_core::jsonapi::{Document, Request, Resource};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::api::{Body, JSON_TIMEOUT, LIST_TIMEOUT, UNSTABLE, UPLOAD_TIMEOUT, V2, json_body};
use crate::{Client, Error, Result};
use llmobs_core::pyjson;

/// The payload limit of one batch update and the bulk threshold: 5 MiB (spec §3.5).
pub const MAX_BATCH_BYTES: usize = 5 * 1024 * 1024;
/// The most records in one batch update (spec §3.6).
pub const MAX_BATCH_RECORDS: usize = 1000;
/// The multipart boundary of a bulk upload, as the reference client writes it (E6).
const BOUNDARY: &str = "----------boundary------";

/// The length of Python's `json.dumps(value, sort_keys=True)` (spec §3.5 estimates).
fn py_len(value: &Value, scratch: &mut String) -> usize {
    scratch.clear();
    pyjson::write(scratch, value, true);
    scratch.len()
}

/// A fresh record id: a UUID4 as 32 lowercase hex digits (spec §3.2).
pub(crate) fn new_id() -> String {
    let mut bits = fastrand::u128(..);
    bits = (bits & !(0xf << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    format!("{bits:032x}")
}

/// One record of a dataset.
///
/// `expected_output` and `metadata` distinguish "never set" (`None`) from "explicitly
/// empty" (`Some(Value::Null)`), as the wire does (spec E5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// The record id; empty until the record joins a dataset, which then picks a UUID4.
    pub id: String,
    /// The input: any JSON.
    pub input: Value,
    /// The expected output: any JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_output: Option<Value>,
    /// Metadata, usually an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// `key:value` tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The id the server keeps across versions, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_id: Option<String>,
}

impl DatasetRecord {
    /// A record with `input` and nothing else.
    pub fn new(input: impl Into<Value>) -> Self {
        DatasetRecord {
            id: String::new(),
            input: input.into(),
            expected_output: None,
            metadata: None,
            tags: Vec::new(),
            canonical_id: None,
        }
    }

    /// Chooses the record id.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the expected output (`Value::Null` means "explicitly none").
    pub fn expected_output(mut self, value: impl Into<Value>) -> Self {
        self.expected_output = Some(value.into());
        self
    }

    /// Sets the metadata.
    pub fn metadata(mut self, value: impl Into<Value>) -> Self {
        self.metadata = Some(value.into());
        self
    }

    /// Sets the tags (each `key:value`).
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// The wire form of an insert (spec E5 field rules).
    fn to_insert(&self) -> InsertRecord {
        InsertRecord {
            input: self.input.clone(),
            expected_output: Some(match &self.expected_output {
                None => Value::Null,
                Some(Value::Null) => Value::String(String::new()),
                Some(value) => value.clone(),
            }),
            metadata: Some(match &self.metadata {
                None => Value::Null,
                Some(Value::Null) => Value::Object(Map::new()),
                Some(value) => value.clone(),
            }),
            id: Some(self.id.clone()),
            tags: (!self.tags.is_empty()).then(|| self.tags.clone()),
        }
    }
}

/// Changes to a stored record for [`Dataset::update`]; `None` leaves a field alone.
/// `Some(Value::Null)` erases `expected_output` or `metadata`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordUpdate {
    /// A new input.
    pub input: Option<Value>,
    /// A new expected output; `Some(Null)` erases it.
    pub expected_output: Option<Value>,
    /// New metadata; `Some(Null)` erases it.
    pub metadata: Option<Value>,
    /// A new tag list (sent as a `set` tag operation).
    pub tags: Option<Vec<String>>,
}

/// Pending value changes of one record.
#[derive(Debug, Clone, Default)]
struct FieldUpdate {
    input: Option<Value>,
    expected_output: Option<Value>,
    metadata: Option<Value>,
}

/// Pending tag changes of one record (spec §3.3 accumulation rules).
#[derive(Debug, Clone, Default)]
struct TagOps {
    add: BTreeSet<String>,
    remove: BTreeSet<String>,
    replace: Option<BTreeSet<String>>,
}

impl TagOps {
    fn to_wire(&self) -> TagOperations {
        let list =
            |set: &BTreeSet<String>| (!set.is_empty()).then(|| set.iter().cloned().collect());
        match &self.replace {
            Some(set) => {
                TagOperations { set: Some(set.iter().cloned().collect()), ..Default::default() }
            }
            None => TagOperations { add: list(&self.add), remove: list(&self.remove), set: None },
        }
    }
}

/// A dataset: its records as this process sees them, plus the changes not yet pushed.
///
/// Obtained from [`Client::create_dataset`], [`Client::pull_dataset`] or
/// [`Client::create_dataset_from_csv`]. Local edits ([`append`](Self::append),
/// [`update`](Self::update), [`delete`](Self::delete), the tag operations) are sent by
/// [`Client::push_dataset`] as one diff. `Dataset::default()` is an empty placeholder
/// that belongs to no server dataset.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    name: String,
    description: String,
    id: String,
    project_name: String,
    project_id: String,
    version: i64,
    latest_version: i64,
    filter_tags: Vec<String>,
    records: Vec<DatasetRecord>,
    ids: IdIndex,
    pending_inserts: HashSet<String>,
    pending_updates: HashMap<String, FieldUpdate>,
    pending_deletes: Vec<String>,
    tag_ops: HashMap<String, TagOps>,
    ui_base: String,
}

/// The positions of a dataset's records by id: 4 bytes a record, where a set of the
/// ids would hold a second copy of every id.
#[derive(Clone, Default)]
struct IdIndex {
    table: hashbrown::HashTable<u32>,
    state: foldhash::fast::FixedState,
}

impl std::fmt::Debug for IdIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdIndex").field("len", &self.table.len()).finish()
    }
}

impl IdIndex {
    fn hash(&self, id: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.state, id)
    }

    /// Whether a record of `records` has id `id`.
    fn contains(&self, records: &[DatasetRecord], id: &str) -> bool {
        self.table.find(self.hash(id), |&i| records[i as usize].id == id).is_some()
    }

    /// Indexes `records[index]`.
    fn insert(&mut self, records: &[DatasetRecord], index: usize) {
        let hash = self.hash(&records[index].id);
        let state = &self.state;
        self.table.insert_unique(hash, index as u32, |&i| {
            std::hash::BuildHasher::hash_one(state, records[i as usize].id.as_str())
        });
    }

    /// Indexes `records` from scratch (after a removal shifted positions).
    fn rebuild(&mut self, records: &[DatasetRecord]) {
        self.table.clear();
        for index in 0..records.len() {
            self.insert(records, index);
        }
    }
}

/// Rebuilds every object and array in `value` at its exact size. Objects built one key
/// at a time (by `json!` or by parsing) keep room for four entries, several hundred
/// bytes each with key order kept; a dataset holds many of them.
fn compact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let old = std::mem::take(map);
            let mut exact = Map::with_capacity(old.len());
            for (key, mut item) in old {
                compact(&mut item);
                exact.insert(key, item);
            }
            *map = exact;
        }
        Value::Array(items) => {
            items.iter_mut().for_each(compact);
            items.shrink_to_fit();
        }
        _ => {}
    }
}

/// [`compact`] on every value of a record.
fn compact_record(record: &mut DatasetRecord) {
    compact(&mut record.input);
    if let Some(expected) = &mut record.expected_output {
        compact(expected);
    }
    if let Some(metadata) = &mut record.metadata {
        compact(metadata);
    }
    record.tags.shrink_to_fit();
}

/// Sorts and deduplicates a tag list.
fn normalize(tags: &mut Vec<String>) {
    tags.sort();
    tags.dedup();
}

fn check_tags(tags: &[String]) -> Result<()> {
    validate_tags(tags).map_err(|err| Error::InvalidRequest { detail: err.to_string() })
}

impl Dataset {
    fn empty(
        client: &Client,
        project: (&str, &str),
        id: String,
        attributes: DatasetAttributes,
    ) -> Self {
        Dataset {
            name: attributes.name,
            description: attributes.description,
            id,
            project_name: project.0.to_owned(),
            project_id: project.1.to_owned(),
            version: attributes.current_version,
            latest_version: attributes.current_version,
            filter_tags: Vec::new(),
            records: Vec::new(),
            ids: IdIndex::default(),
            pending_inserts: HashSet::new(),
            pending_updates: HashMap::new(),
            pending_deletes: Vec::new(),
            tag_ops: HashMap::new(),
            ui_base: client.inner.config.ui_base.clone(),
        }
    }

    /// The dataset's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The server's id of the dataset.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The project's name.
    pub fn project_name(&self) -> &str {
        &self.project_name
    }

    /// The project's id.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The version these records are (0: never changed). Experiments record it.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The newest version known on the server.
    pub fn latest_version(&self) -> i64 {
        self.latest_version
    }

    /// The tags the records were pulled with (empty: all records).
    pub fn filter_tags(&self) -> &[String] {
        &self.filter_tags
    }

    /// The records, in order.
    pub fn records(&self) -> &[DatasetRecord] {
        &self.records
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record at `index`.
    pub fn get(&self, index: usize) -> Option<&DatasetRecord> {
        self.records.get(index)
    }

    /// `<ui base>/llm/datasets/{id}`: the override origin when one is set, else the
    /// site's UI host.
    pub fn url(&self) -> String {
        format!("{}/llm/datasets/{}", self.ui_base, self.id)
    }

    /// Whether there are changes not yet pushed.
    pub fn has_changes(&self) -> bool {
        !self.pending_inserts.is_empty()
            || !self.pending_updates.is_empty()
            || !self.pending_deletes.is_empty()
            || !self.tag_ops.is_empty()
    }

    /// Adds a record (pending until pushed). A record without id gets a fresh one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when a tag is not `key:value` or the id is already in
    /// this dataset; nothing changes then.
    pub fn append(&mut self, mut record: DatasetRecord) -> Result<()> {
        check_tags(&record.tags)?;
        if record.id.is_empty() {
            record.id = new_id();
        }
        if self.ids.contains(&self.records, &record.id) {
            return Err(Error::InvalidRequest {
                detail: format!("record id '{}' is already in the dataset", record.id),
            });
        }
        normalize(&mut record.tags);
        compact_record(&mut record);
        self.pending_inserts.insert(record.id.clone());
        self.records.push(record);
        self.ids.insert(&self.records, self.records.len() - 1);
        Ok(())
    }

    /// Takes `records` (already [`compact_record`]ed) as new local records without
    /// marking them pending, as [`append`](Self::append) would otherwise (ids given, tags
    /// checked and sorted). The vector becomes the dataset's own when it has none yet.
    fn adopt(&mut self, mut records: Vec<DatasetRecord>) -> Result<std::ops::Range<usize>> {
        let start = self.records.len();
        for record in &mut records {
            check_tags(&record.tags)?;
            if record.id.is_empty() {
                record.id = new_id();
            }
        }
        let mut seen = HashSet::with_capacity(records.len());
        for record in &records {
            if self.ids.contains(&self.records, &record.id) || !seen.insert(record.id.as_str()) {
                return Err(Error::InvalidRequest {
                    detail: format!("record id '{}' is already in the dataset", record.id),
                });
            }
        }
        drop(seen);
        for record in &mut records {
            normalize(&mut record.tags);
        }
        if self.records.is_empty() {
            self.records = records;
        } else {
            self.records.append(&mut records);
        }
        for index in start..self.records.len() {
            self.ids.insert(&self.records, index);
        }
        Ok(start..self.records.len())
    }

    /// [`append`](Self::append)s every record; stops at the first refused one.
    pub fn extend(&mut self, records: impl IntoIterator<Item = DatasetRecord>) -> Result<()> {
        records.into_iter().try_for_each(|record| self.append(record))
    }

    fn index(&self, index: usize) -> Result<usize> {
        if index < self.records.len() {
            Ok(index)
        } else {
            Err(Error::InvalidRequest {
                detail: format!("record index {index} is out of range ({} records)", self.len()),
            })
        }
    }

    /// Changes the record at `index` (spec §3.3): value fields are merged into its
    /// pending update, `tags` replaces its tags.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an empty update, a bad index or a malformed tag.
    pub fn update(&mut self, index: usize, update: RecordUpdate) -> Result<()> {
        let index = self.index(index)?;
        if update.input.is_none()
            && update.expected_output.is_none()
            && update.metadata.is_none()
            && update.tags.is_none()
        {
            return Err(Error::InvalidRequest {
                detail: "an update needs input, expected_output, metadata or tags".into(),
            });
        }
        if let Some(tags) = &update.tags {
            check_tags(tags)?;
        }
        let record = &mut self.records[index];
        let pending = self.pending_inserts.contains(&record.id);
        let has_values =
            update.input.is_some() || update.expected_output.is_some() || update.metadata.is_some();
        if let Some(input) = &update.input {
            record.input = input.clone();
        }
        if let Some(expected) = &update.expected_output {
            record.expected_output = Some(expected.clone());
        }
        if let Some(metadata) = &update.metadata {
            record.metadata = Some(metadata.clone());
        }
        if has_values && !pending {
            let entry = self.pending_updates.entry(record.id.clone()).or_default();
            entry.input = update.input.or(entry.input.take());
            entry.expected_output = update.expected_output.or(entry.expected_output.take());
            entry.metadata = update.metadata.or(entry.metadata.take());
        }
        if let Some(tags) = update.tags {
            self.replace_tags(index, tags)?;
        }
        Ok(())
    }

    /// Removes the record at `index` and returns it. A record not yet pushed is simply
    /// forgotten; a stored one is queued for deletion.
    pub fn delete(&mut self, index: usize) -> Result<DatasetRecord> {
        let index = self.index(index)?;
        let record = self.records.remove(index);
        self.ids.rebuild(&self.records);
        if !self.pending_inserts.remove(&record.id) {
            self.pending_updates.remove(&record.id);
            self.tag_ops.remove(&record.id);
            self.pending_deletes.push(record.id.clone());
        }
        Ok(record)
    }

    /// Adds tags to the record at `index`.
    pub fn add_tags<S: Into<String>>(
        &mut self,
        index: usize,
        tags: impl IntoIterator<Item = S>,
    ) -> Result<()> {
        let tags: Vec<String> = tags.into_iter().map(Into::into).collect();
        self.edit_tags(
            index,
            tags,
            |ops, tag| match &mut ops.replace {
                Some(set) => {
                    set.insert(tag);
                }
                None => {
                    ops.remove.remove(&tag);
                    ops.add.insert(tag);
                }
            },
            |list, tag| list.push(tag),
        )
    }

    /// Removes tags from the record at `index`.
    pub fn remove_tags<S: Into<String>>(
        &mut self,
        index: usize,
        tags: impl IntoIterator<Item = S>,
    ) -> Result<()> {
        let tags: Vec<String> = tags.into_iter().map(Into::into).collect();
        self.edit_tags(
            index,
            tags,
            |ops, tag| match &mut ops.replace {
                Some(set) => {
                    set.remove(&tag);
                }
                None => {
                    ops.add.remove(&tag);
                    ops.remove.insert(tag);
                }
            },
            |list, tag| list.retain(|t| *t != tag),
        )
    }

    /// Replaces the tags of the record at `index` (sent as a `set` operation).
    pub fn replace_tags<S: Into<String>>(
        &mut self,
        index: usize,
        tags: impl IntoIterator<Item = S>,
    ) -> Result<()> {
        let tags: Vec<String> = tags.into_iter().map(Into::into).collect();
        let index = self.index(index)?;
        check_tags(&tags)?;
        let record = &mut self.records[index];
        record.tags = tags;
        normalize(&mut record.tags);
        if !self.pending_inserts.contains(&record.id) {
            let ops = self.tag_ops.entry(record.id.clone()).or_default();
            *ops = TagOps {
                replace: Some(record.tags.iter().cloned().collect()),
                ..Default::default()
            };
        }
        Ok(())
    }

    fn edit_tags(
        &mut self,
        index: usize,
        tags: Vec<String>,
        op: impl Fn(&mut TagOps, String),
        local: impl Fn(&mut Vec<String>, String),
    ) -> Result<()> {
        let index = self.index(index)?;
        check_tags(&tags)?;
        let record = &mut self.records[index];
        let stored = !self.pending_inserts.contains(&record.id);
        for tag in tags {
            if stored {
                op(self.tag_ops.entry(record.id.clone()).or_default(), tag.clone());
            }
            local(&mut record.tags, tag);
        }
        normalize(&mut record.tags);
        Ok(())
    }

    /// Writes the records as CSV: columns `id,input,expected_output,metadata,tags`, the
    /// values as compact JSON, the tags as a JSON list.
    pub fn write_csv<W: std::io::Write>(&self, writer: W) -> Result<()> {
        let mut csv = csv::Writer::from_writer(writer);
        let io = |err: csv::Error| Error::Csv { detail: err.to_string() };
        csv.write_record(["id", "input", "expected_output", "metadata", "tags"]).map_err(io)?;
        let json = |value: &Option<Value>| value.as_ref().map(Value::to_string).unwrap_or_default();
        for record in &self.records {
            csv.write_record([
                record.id.as_str(),
                &record.input.to_string(),
                &json(&record.expected_output),
                &json(&record.metadata),
                &serde_json::to_string(&record.tags).unwrap_or_default(),
            ])
            .map_err(io)?;
        }
        csv.flush().map_err(|err| Error::Csv { detail: err.to_string() })
    }

    /// Writes the records as JSON Lines, one [`DatasetRecord`] object per line.
    pub fn write_jsonl<W: std::io::Write>(&self, writer: W) -> Result<()> {
        let mut writer = std::io::BufWriter::new(writer);
        let io = |err: std::io::Error| Error::Csv { detail: err.to_string() };
        for record in &self.records {
            serde_json::to_writer(&mut writer, record)
                .map_err(|err| Error::Csv { detail: err.to_string() })?;
            writer.write_all(b"\n").map_err(io)?;
        }
        writer.flush().map_err(io)
    }

    /// The pending diff as wire items, in record order.
    fn diff(&self) -> (Vec<InsertRecord>, Vec<UpdateRecord>, Vec<String>) {
        let inserts = self
            .records
            .iter()
            .filter(|r| self.pending_inserts.contains(&r.id))
            .map(DatasetRecord::to_insert)
            .collect();
        let mut ids: Vec<&String> =
            self.pending_updates.keys().chain(self.tag_ops.keys()).collect();
        ids.sort();
        ids.dedup();
        let updates = ids
            .into_iter()
            .map(|id| {
                let fields = self.pending_updates.get(id).cloned().unwrap_or_default();
                UpdateRecord {
                    id: id.clone(),
                    input: fields.input,
                    expected_output: fields.expected_output.map(|v| match v {
                        Value::Null => Value::String(String::new()),
                        other => other,
                    }),
                    metadata: fields.metadata.map(|v| match v {
                        Value::Null => Value::Object(Map::new()),
                        other => other,
                    }),
                    tag_operations: self.tag_ops.get(id).map(TagOps::to_wire),
                }
            })
            .collect();
        (inserts, updates, self.pending_deletes.clone())
    }
}

/// Options of [`Client::push_dataset_with`] (spec §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Push {
    /// Skip inserts equal to a live record (default true).
    pub deduplicate: bool,
    /// Make the change a new version (default true).
    pub create_new_version: bool,
    /// `Some(true)`: always the bulk upload; `Some(false)`: never; `None` (default):
    /// bulk when the diff is over 5 MiB.
    pub bulk_upload: Option<bool>,
}

impl Default for Push {
    fn default() -> Self {
        Push { deduplicate: true, create_new_version: true, bulk_upload: None }
    }
}

/// Options of [`Client::create_dataset_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateDataset {
    /// The dataset's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its project; the client's default project when `None`.
    pub project_name: Option<String>,
    /// Send the records in one bulk upload instead of batch updates.
    pub bulk_upload: bool,
}

impl CreateDataset {
    /// A dataset called `name` in the default project.
    pub fn new(name: impl Into<String>) -> Self {
        CreateDataset { name: name.into(), ..Default::default() }
    }
}

/// Options of [`Client::pull_dataset_with`] (spec §3.8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullDataset {
    /// The project; the client's default project when `None`.
    pub project_name: Option<String>,
    /// The version to read; `None` or `Some(0)` means the latest.
    pub version: Option<i64>,
    /// Only records carrying any of these tags.
    pub tags: Vec<String>,
}

/// Options of [`Client::create_dataset_from_csv`] (spec §3.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvImport {
    /// The CSV file.
    pub path: PathBuf,
    /// The dataset's name.
    pub name: String,
    /// Columns that make up `input` (an object of strings).
    pub input_columns: Vec<String>,
    /// Columns that make up `expected_output` (`{}` when none).
    pub expected_output_columns: Vec<String>,
    /// Columns that make up `metadata` (`{}` when none).
    pub metadata_columns: Vec<String>,
    /// The field delimiter (default `,`).
    pub delimiter: u8,
    /// A column holding record ids; fresh ids when `None`.
    pub id_column: Option<String>,
    /// The dataset's description.
    pub description: String,
    /// The project; the client's default when `None`.
    pub project_name: Option<String>,
    /// Remove content duplicates within the upload (default true).
    pub deduplicate: bool,
}

impl CsvImport {
    /// Reads `path` into dataset `name`, with `input_columns` as input.
    pub fn new<S: Into<String>>(
        path: impl Into<PathBuf>,
        name: impl Into<String>,
        input_columns: impl IntoIterator<Item = S>,
    ) -> Self {
        CsvImport {
            path: path.into(),
            name: name.into(),
            input_columns: input_columns.into_iter().map(Into::into).collect(),
            expected_output_columns: Vec::new(),
            metadata_columns: Vec::new(),
            delimiter: b',',
            id_column: None,
            description: String::new(),
            project_name: None,
            deduplicate: true,
        }
    }
}

/// What a batch update answers for each touched record.
#[derive(Debug, Deserialize)]
struct Touched {
    #[serde(default)]
    canonical_id: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

/// What a record listing holds (spec E4 mapping).
#[derive(Debug, Deserialize)]
struct Listed {
    input: Value,
    #[serde(default)]
    expected_output: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    canonical_id: Option<String>,
}

/// Splits wire items into batches of at most [`MAX_BATCH_RECORDS`] items and about
/// [`MAX_BATCH_BYTES`] (Python-style JSON size).
fn batches(
    inserts: Vec<InsertRecord>,
    updates: Vec<UpdateRecord>,
    deletes: Vec<String>,
) -> Vec<(Vec<InsertRecord>, Vec<UpdateRecord>, Vec<String>)> {
    let mut out = vec![(Vec::new(), Vec::new(), Vec::new())];
    let (mut count, mut bytes) = (0usize, 0usize);
    let mut scratch = String::new();
    let mut room = |size: usize, out: &mut Vec<(Vec<_>, Vec<_>, Vec<_>)>| {
        if count > 0 && (count + 1 > MAX_BATCH_RECORDS || bytes + size > MAX_BATCH_BYTES) {
            out.push((Vec::new(), Vec::new(), Vec::new()));
            count = 0;
            bytes = 0;
        }
        count += 1;
        bytes += size;
    };
    for insert in inserts {
        let size = py_len(&serde_json::to_value(&insert).unwrap_or_default(), &mut scratch);
        room(size, &mut out);
        out.last_mut().expect("one batch").0.push(insert);
    }
    for update in updates {
        let size = py_len(&serde_json::to_value(&update).unwrap_or_default(), &mut scratch);
        room(size, &mut out);
        out.last_mut().expect("one batch").1.push(update);
    }
    for delete in deletes {
        room(delete.len() + 4, &mut out);
        out.last_mut().expect("one batch").2.push(delete);
    }
    out
}

/// One CSV row of a bulk upload: `input,expected_output,metadata,id` (spec E6).
fn upload_row<W: std::io::Write>(
    csv: &mut csv::Writer<W>,
    record: &DatasetRecord,
    scratch: &mut [String; 3],
) -> csv::Result<()> {
    let cell = |value: &Option<Value>, out: &mut String| {
        out.clear();
        match value {
            None => out.push_str("\"\""),
            Some(value) => pyjson::write(out, value, false),
        }
    };
    scratch[0].clear();
    pyjson::write(&mut scratch[0], &record.input, false);
    cell(&record.expected_output, &mut scratch[1]);
    cell(&record.metadata, &mut scratch[2]);
    csv.write_record([&scratch[0], &scratch[1], &scratch[2], &record.id])
}

fn upload_writer<W: std::io::Write>(writer: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(writer)
}

fn multipart_head() -> String {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}.csv\"\r\nContent-Type: text/csv\r\n\r\n",
        new_id()
    )
}

fn multipart_tail() -> String {
    format!("\r\n--{BOUNDARY}--\r\n")
}

fn csv_error(path: &Path, err: csv::Error) -> Error {
    match err.into_kind() {
        csv::ErrorKind::Io(source) => Error::Io { path: path.to_owned(), source },
        other => Error::Csv { detail: format!("{}: {other:?}", path.display()) },
    }
}

impl Client {
    /// The id of project `name` (E1, create-or-get), cached per client.
    pub(crate) async fn project_id(&self, name: &str, use_cache: bool) -> Result<String> {
        if use_cache && let Some(id) = self.inner.projects.lock().expect("project cache").get(name)
        {
            return Ok(id.clone());
        }
        let request = Request::new(
            PROJECTS,
            ProjectRequest { name: name.to_owned(), description: Some(String::new()) },
        );
        let answer: Document<Resource<Value>> = self
            .call(
                Method::POST,
                &format!("{UNSTABLE}/projects"),
                Some(json_body(&request)?),
                JSON_TIMEOUT,
                &[200],
            )
            .await?;
        let id = answer.data.id;
        self.inner.projects.lock().expect("project cache").insert(name.to_owned(), id.clone());
        Ok(id)
    }

    fn project_name_or_default(&self, name: Option<&str>) -> String {
        name.filter(|n| !n.is_empty()).unwrap_or(&self.inner.config.project_name).to_owned()
    }

    async fn new_dataset(
        &self,
        name: &str,
        description: &str,
        project: Option<&str>,
    ) -> Result<Dataset> {
        let project_name = self.project_name_or_default(project);
        let project_id = self.project_id(&project_name, true).await?;
        let request = Request::new(
            DATASETS,
            DatasetRequest {
                name: name.to_owned(),
                description: Some(description.to_owned()),
                metadata: None,
            },
        );
        let answer: Document<Resource<DatasetAttributes>> = self
            .call(
                Method::POST,
                &format!("{UNSTABLE}/{project_id}/datasets"),
                Some(json_body(&request)?),
                JSON_TIMEOUT,
                &[200],
            )
            .await?;
        if answer.data.id.is_empty() {
            return Err(Error::Server { status: 200, detail: "the dataset has no id".into() });
        }
        Ok(Dataset::empty(
            self,
            (&project_name, &project_id),
            answer.data.id,
            answer.data.attributes,
        ))
    }

    /// Creates dataset `name` in the default project with `records` (E1, E2, then batch
    /// updates of at most 1000 records and 5 MiB, one version in all; spec §3.6).
    pub async fn create_dataset(
        &self,
        name: &str,
        records: impl IntoIterator<Item = DatasetRecord>,
    ) -> Result<Dataset> {
        self.create_dataset_with(&CreateDataset::new(name), records).await
    }

    /// [`create_dataset`](Self::create_dataset) with options. Tags are checked before
    /// anything is sent.
    pub async fn create_dataset_with(
        &self,
        options: &CreateDataset,
        records: impl IntoIterator<Item = DatasetRecord>,
    ) -> Result<Dataset> {
        // Compacted as they arrive, so the caller's loosely built values are freed one
        // record at a time rather than all held at once.
        let records: Vec<DatasetRecord> = records
            .into_iter()
            .map(|mut record| {
                check_tags(&record.tags)?;
                compact_record(&mut record);
                Ok(record)
            })
            .collect::<Result<_>>()?;
        let mut dataset = self
            .new_dataset(&options.name, &options.description, options.project_name.as_deref())
            .await?;
        if records.is_empty() {
            return Ok(dataset);
        }
        if options.bulk_upload {
            dataset.extend(records)?;
            self.push_dataset_with(
                &mut dataset,
                &Push { bulk_upload: Some(true), ..Push::default() },
            )
            .await?;
            return Ok(dataset);
        }
        let mut scratch = String::new();
        let total: usize = records
            .iter()
            .map(|r| {
                py_len(&serde_json::to_value(r.to_insert()).unwrap_or_default(), &mut scratch) + 2
            })
            .sum();
        let num_batches = total.div_ceil(MAX_BATCH_BYTES).max(1);
        let batch_size = records.len().div_ceil(num_batches).min(MAX_BATCH_RECORDS);
        let mut bumped = false;
        // The records move into the dataset once; each batch is marked pending in turn.
        let all = dataset.adopt(records)?;
        for start in all.clone().step_by(batch_size) {
            let end = (start + batch_size).min(all.end);
            for record in &dataset.records[start..end] {
                dataset.pending_inserts.insert(record.id.clone());
            }
            let before = dataset.latest_version;
            let push =
                Push { bulk_upload: Some(false), create_new_version: !bumped, ..Push::default() };
            self.push_dataset_with(&mut dataset, &push).await?;
            bumped |= dataset.latest_version != before;
        }
        Ok(dataset)
    }

    /// Sends the local changes of `dataset` (spec §3.5 with default options).
    pub async fn push_dataset(&self, dataset: &mut Dataset) -> Result<()> {
        self.push_dataset_with(dataset, &Push::default()).await
    }

    /// Sends the local changes of `dataset`: batch updates (E5) of at most 1000 records
    /// and 5 MiB each (only the first may create a version), or one bulk upload (E6)
    /// of every local record when the diff is over 5 MiB or `bulk_upload` says so.
    pub async fn push_dataset_with(&self, dataset: &mut Dataset, options: &Push) -> Result<()> {
        let (inserts, updates, deletes) = dataset.diff();
        let bulk = match options.bulk_upload {
            Some(bulk) => bulk,
            None => {
                let mut scratch = String::new();
                let size: usize = inserts
                    .iter()
                    .map(|i| serde_json::to_value(i).unwrap_or_default())
                    .chain(updates.iter().map(|u| serde_json::to_value(u).unwrap_or_default()))
                    .map(|v| py_len(&v, &mut scratch) + 40)
                    .sum();
                size > MAX_BATCH_BYTES
            }
        };
        if bulk {
            let mut body = multipart_head().into_bytes();
            {
                let mut csv = upload_writer(&mut body);
                csv.write_record(["input", "expected_output", "metadata", "id"])
                    .map_err(|err| Error::Csv { detail: err.to_string() })?;
                let mut scratch: [String; 3] = Default::default();
                for record in &dataset.records {
                    upload_row(&mut csv, record, &mut scratch)
                        .map_err(|err| Error::Csv { detail: err.to_string() })?;
                }
                csv.flush().map_err(|err| Error::Csv { detail: err.to_string() })?;
            }
            body.extend_from_slice(multipart_tail().as_bytes());
            self.upload(&dataset.id, options.deduplicate, reqwest::Body::from(body)).await?;
            // As the reference client: the bulk path sends no deletes, updates or tags
            // and clears them; pending inserts stay pending (spec §3.5).
            dataset.pending_updates.clear();
            dataset.pending_deletes.clear();
            dataset.tag_ops.clear();
            return Ok(());
        }
        let path = format!("{V2}/{}/datasets/{}/batch_update", dataset.project_id, dataset.id);
        // Only inserts come back with a canonical id to record.
        let positions: HashMap<String, usize> = dataset
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| dataset.pending_inserts.contains(&r.id))
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let mut bumped = false;
        for (insert_records, update_records, delete_records) in batches(inserts, updates, deletes) {
            let mut request = Request::new(
                DATASETS,
                BatchUpdate {
                    insert_records,
                    update_records,
                    delete_records,
                    deduplicate: options.deduplicate,
                    create_new_version: options.create_new_version && !bumped,
                },
            );
            request.data.id = Some(dataset.id.clone());
            let answer: Document<Vec<Resource<Touched>>> = self
                .call(Method::POST, &path, Some(json_body(&request)?), JSON_TIMEOUT, &[200])
                .await?;
            if let Some(version) = answer.data.first().and_then(|r| r.attributes.version) {
                dataset.latest_version = version;
                dataset.version = version;
                bumped = true;
            }
            for touched in answer.data {
                dataset.pending_inserts.remove(&touched.id);
                if let (Some(canonical), Some(&i)) =
                    (touched.attributes.canonical_id, positions.get(&touched.id))
                {
                    dataset.records[i].canonical_id = Some(canonical);
                }
            }
        }
        dataset.pending_updates.clear();
        dataset.pending_deletes.clear();
        dataset.tag_ops.clear();
        Ok(())
    }

    async fn upload(&self, dataset_id: &str, deduplicate: bool, body: reqwest::Body) -> Result<()> {
        let flag = if deduplicate { "True" } else { "False" };
        let path = format!("{UNSTABLE}/datasets/{dataset_id}/records/upload?deduplicate={flag}");
        let kind = format!("multipart/form-data; boundary={BOUNDARY}");
        let answer = self
            .send(Method::POST, &path, Some(Body::Other(body, kind)), UPLOAD_TIMEOUT, false)
            .await?;
        crate::api::check(&answer, &[200])
    }

    /// Reads dataset `name` of the default project, latest version, all records.
    pub async fn pull_dataset(&self, name: &str) -> Result<Dataset> {
        self.pull_dataset_with(name, &PullDataset::default()).await
    }

    /// Reads a dataset (E1, E3, then E4 pages until `meta.after` is empty).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] (status 0) when no dataset has that name;
    /// [`Error::InvalidRequest`] for a malformed filter tag; the server's 400 for a
    /// version past the latest.
    pub async fn pull_dataset_with(&self, name: &str, options: &PullDataset) -> Result<Dataset> {
        check_tags(&options.tags)?;
        let project_name = self.project_name_or_default(options.project_name.as_deref());
        let project_id = self.project_id(&project_name, false).await?;
        let found: Document<Vec<Resource<DatasetAttributes>>> = self
            .call(
                Method::GET,
                &format!("{V2}/{project_id}/datasets?filter[name]={}", query_value(name)),
                None,
                JSON_TIMEOUT,
                &[200],
            )
            .await?;
        let Some(first) = found.data.into_iter().next() else {
            return Err(Error::NotFound {
                status: 0,
                detail: format!("Dataset '{name}' not found in project {project_name}"),
            });
        };
        let mut dataset =
            Dataset::empty(self, (&project_name, &project_id), first.id, first.attributes);
        let requested = options.version.filter(|v| *v != 0);
        let mut filters = String::new();
        if let Some(version) = requested {
            filters.push_str(&format!("filter[version]={version}"));
        }
        for tag in &options.tags {
            filters.push_str("&filter[tags]=");
            filters.push_str(tag);
        }
        let base = format!("{V2}/{project_id}/datasets/{}/records?", dataset.id);
        let mut cursor = String::new();
        loop {
            let path = if cursor.is_empty() {
                format!("{base}{filters}")
            } else if filters.is_empty() {
                format!("{base}page[cursor]={}", query_value(&cursor))
            } else {
                let filters = filters.strip_prefix('&').unwrap_or(&filters);
                format!("{base}page[cursor]={}&{filters}", query_value(&cursor))
            };
            let page: Document<Vec<Resource<Listed>>> =
                self.call(Method::GET, &path, None, LIST_TIMEOUT, &[200]).await?;
            for item in page.data {
                let listed = item.attributes;
                let mut record = DatasetRecord {
                    id: item.id,
                    input: listed.input,
                    expected_output: listed.expected_output,
                    metadata: Some(
                        listed.metadata.filter(|m| !m.is_null()).unwrap_or_else(|| json!({})),
                    ),
                    tags: listed.tags,
                    canonical_id: listed.canonical_id,
                };
                compact_record(&mut record);
                dataset.records.push(record);
                dataset.ids.insert(&dataset.records, dataset.records.len() - 1);
            }
            cursor = page.meta.map(|m| m.after).unwrap_or_default();
            if cursor.is_empty() {
                break;
            }
        }
        dataset.records.shrink_to_fit();
        if let Some(version) = requested {
            dataset.version = version;
        }
        dataset.filter_tags = options.tags.clone();
        Ok(dataset)
    }

    /// Soft-deletes a dataset (E7).
    pub async fn delete_dataset(&self, dataset_id: &str) -> Result<()> {
        let request = Request::new(
            DATASETS,
            DeleteDatasets { kind: Some("soft".into()), dataset_ids: vec![dataset_id.to_owned()] },
        );
        let _: Value = self
            .call(
                Method::POST,
                &format!("{UNSTABLE}/datasets/delete"),
                Some(json_body(&request)?),
                JSON_TIMEOUT,
                &[200],
            )
            .await?;
        Ok(())
    }

    /// Creates a dataset from a CSV file (spec §3.7): E1, E2 and one bulk upload.
    ///
    /// The file is read once, row by row into one reused record, and converted into a
    /// temporary upload file that is streamed to the server: memory stays flat whatever
    /// the file's size. Every cell is a string; `input` is an object of the input
    /// columns, `expected_output` and `metadata` objects of theirs (`{}` when none).
    ///
    /// The returned [`Dataset`] holds **no records** (they were never loaded) and its
    /// version is the creation's; [`pull_dataset`](Self::pull_dataset) reads them back.
    ///
    /// # Errors
    ///
    /// [`Error::Csv`] for an empty file, a missing header, a listed column or id column
    /// not in the header, or a malformed row; [`Error::Io`] when the file cannot be
    /// read. Either way nothing was sent.
    pub async fn create_dataset_from_csv(&self, import: &CsvImport) -> Result<Dataset> {
        let import_owned = import.clone();
        let (file, rows) =
            tokio::task::spawn_blocking(move || convert_csv(&import_owned))
                .await
                .map_err(|err| Error::Csv { detail: format!("the CSV reader stopped: {err}") })??;
        let mut dataset = self
            .new_dataset(&import.name, &import.description, import.project_name.as_deref())
            .await?;
        dataset.filter_tags.clear();
        if rows > 0 {
            let handle = tokio::fs::File::open(file.path())
                .await
                .map_err(|source| Error::Io { path: file.path().to_owned(), source })?;
            let stream = tokio_util::io::ReaderStream::with_capacity(handle, 64 * 1024);
            self.upload(&dataset.id, import.deduplicate, reqwest::Body::wrap_stream(stream))
                .await?;
        }
        drop(file);
        Ok(dataset)
    }
}

/// Converts a user CSV into the multipart body of a bulk upload, in a temporary file.
/// Returns the file and the number of rows.
fn convert_csv(import: &CsvImport) -> Result<(tempfile::NamedTempFile, usize)> {
    let path = &import.path;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(import.delimiter)
        .has_headers(true)
        .from_path(path)
        .map_err(|err| csv_error(path, err))?;
    let headers = reader.headers().map_err(|err| csv_error(path, err))?.clone();
    if headers.is_empty() || (headers.len() == 1 && headers.get(0) == Some("")) {
        return Err(Error::Csv {
            detail: "CSV file appears to be empty or header is missing.".into(),
        });
    }
    let find = |columns: &[String], what: &str| -> Result<Vec<(String, usize)>> {
        columns
            .iter()
            .map(|column| {
                headers.iter().position(|h| h == column).map(|i| (column.clone(), i)).ok_or_else(
                    || Error::Csv {
                        detail: format!("{what} column '{column}' is not in the CSV header"),
                    },
                )
            })
            .collect()
    };
    let input = find(&import.input_columns, "input")?;
    let expected = find(&import.expected_output_columns, "expected output")?;
    let metadata = find(&import.metadata_columns, "metadata")?;
    let id_column = match &import.id_column {
        Some(column) => Some(find(std::slice::from_ref(column), "id")?[0].1),
        None => None,
    };
    let mut file = tempfile::NamedTempFile::new()
        .map_err(|source| Error::Io { path: std::env::temp_dir(), source })?;
    let temp_path = file.path().to_owned();
    let io = |source: std::io::Error| Error::Io { path: temp_path.clone(), source };
    let mut rows = 0usize;
    {
        let mut out = std::io::BufWriter::new(file.as_file_mut());
        out.write_all(multipart_head().as_bytes()).map_err(io)?;
        let mut csv = upload_writer(&mut out);
        let wire = |err: csv::Error| Error::Csv { detail: err.to_string() };
        csv.write_record(["input", "expected_output", "metadata", "id"]).map_err(wire)?;
        let mut row = csv::StringRecord::new();
        let mut cells: [String; 3] = Default::default();
        let object = |columns: &[(String, usize)], row: &csv::StringRecord, out: &mut String| {
            out.clear();
            let map: Map<String, Value> = columns
                .iter()
                .map(|(name, i)| {
                    (name.clone(), Value::String(row.get(*i).unwrap_or("").to_owned()))
                })
                .collect();
            pyjson::write(out, &Value::Object(map), false);
        };
        while reader.read_record(&mut row).map_err(|err| csv_error(path, err))? {
            object(&input, &row, &mut cells[0]);
            object(&expected, &row, &mut cells[1]);
            object(&metadata, &row, &mut cells[2]);
            let id = match id_column {
                Some(i) => row.get(i).unwrap_or("").to_owned(),
                None => new_id(),
            };
            csv.write_record([&cells[0], &cells[1], &cells[2], &id]).map_err(wire)?;
            rows += 1;
        }
        csv.flush().map_err(io)?;
        drop(csv);
        out.write_all(multipart_tail().as_bytes()).map_err(io)?;
        out.flush().map_err(io)?;
    }
    Ok((file, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Dataset {
        let attributes: DatasetAttributes = serde_json::from_value(json!({
            "author": {"id": "a"}, "created_at": "", "current_version": 1, "name": "d",
            "project_id": "p", "updated_at": ""
        }))
        .unwrap();
        let client = Client::builder().build().unwrap();
        let mut dataset = Dataset::empty(&client, ("p", "p"), "d".into(), attributes);
        for (id, tags) in [("r1", vec!["topic:geo"]), ("r2", vec![])] {
            dataset.records.push(DatasetRecord::new(json!({"q": id})).id(id).tags(tags));
            dataset.ids.insert(&dataset.records, dataset.records.len() - 1);
        }
        dataset
    }

    #[test]
    fn ids_are_uuid4_hex() {
        let id = new_id();
        assert_eq!(id.len(), 32);
        assert_eq!(&id[12..13], "4");
        assert!(matches!(&id[16..17], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn the_diff_follows_the_wire_rules() {
        let mut ds = local();
        ds.append(
            DatasetRecord::new(json!({"q": 3}))
                .id("r3")
                .expected_output(Value::Null)
                .tags(["env:test"]),
        )
        .unwrap();
        assert!(ds.append(DatasetRecord::new(json!(1)).id("r3")).is_err());
        assert!(ds.append(DatasetRecord::new(json!(1)).tags(["bare"])).is_err());
        ds.update(0, RecordUpdate { expected_output: Some(Value::Null), ..Default::default() })
            .unwrap();
        ds.remove_tags(0, ["topic:geo"]).unwrap();
        ds.add_tags(1, ["reviewed:yes"]).unwrap();
        assert!(ds.add_tags(1, ["bad"]).is_err());
        let (inserts, updates, deletes) = ds.diff();
        let wire = serde_json::to_value(&inserts[0]).unwrap();
        assert_eq!(
            wire,
            json!({"input": {"q": 3}, "expected_output": "", "metadata": null, "id": "r3", "tags": ["env:test"]})
        );
        let wire = serde_json::to_value(&updates).unwrap();
        assert_eq!(
            wire,
            json!([
                {"id": "r1", "input": null, "expected_output": "", "metadata": null, "tag_operations": {"remove": ["topic:geo"]}},
                {"id": "r2", "input": null, "expected_output": null, "metadata": null, "tag_operations": {"add": ["reviewed:yes"]}},
            ])
        );
        assert!(deletes.is_empty());
        ds.delete(2).unwrap();
        ds.delete(1).unwrap();
        let (inserts, updates, deletes) = ds.diff();
        assert!(inserts.is_empty());
        assert_eq!((updates.len(), deletes), (1, vec!["r2".to_owned()]));
    }

    #[test]
    fn tag_operations_accumulate() {
        let mut ds = local();
        ds.add_tags(0, ["a:1"]).unwrap();
        ds.remove_tags(0, ["a:1"]).unwrap();
        assert_eq!(
            ds.tag_ops["r1"].to_wire(),
            TagOperations { remove: Some(vec!["a:1".into()]), ..Default::default() }
        );
        ds.replace_tags(0, ["x:1"]).unwrap();
        ds.add_tags(0, ["y:2"]).unwrap();
        assert_eq!(ds.tag_ops["r1"].to_wire().set, Some(vec!["x:1".into(), "y:2".into()]));
        assert_eq!(ds.records[0].tags, vec!["x:1", "y:2"]);
    }

    #[test]
    fn batches_respect_count_and_size() {
        let inserts: Vec<InsertRecord> =
            (0..2500).map(|i| DatasetRecord::new(json!(i)).id(i.to_string()).to_insert()).collect();
        let sizes: Vec<usize> =
            batches(inserts, vec![], vec![]).iter().map(|b| b.0.len()).collect();
        assert_eq!(sizes, vec![1000, 1000, 500]);
        let big = "x".repeat(2 * 1024 * 1024);
        let inserts: Vec<InsertRecord> =
            (0..5).map(|i| DatasetRecord::new(json!(big)).id(i.to_string()).to_insert()).collect();
        let sizes: Vec<usize> =
            batches(inserts, vec![], vec![]).iter().map(|b| b.0.len()).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
        assert_eq!(batches(vec![], vec![], vec![]).len(), 1);
    }

    #[test]
    fn upload_rows_are_python_csv() {
        let mut body = Vec::new();
        {
            let mut csv = upload_writer(&mut body);
            let mut scratch: [String; 3] = Default::default();
            let record = DatasetRecord::new(json!({"q": "é"})).id("r").metadata(Value::Null);
            upload_row(&mut csv, &record, &mut scratch).unwrap();
        }
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "\"{\"\"q\"\": \"\"\\u00e9\"\"}\",\"\"\"\"\"\",null,r\r\n"
        );
    }
}
