//! The local model: a [`Dataset`]'s records as this process sees them, the changes not
//! yet pushed (values, tags, inserts, deletes), and the diff they become (spec §3.3),
//! plus the CSV and JSON Lines exports.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write as _;

use llmobs_core::datasets::{
    DatasetAttributes, InsertRecord, TagOperations, UpdateRecord, validate_tags,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::records::{RecordKey, RecordUpdate};
use super::{DatasetRecord, new_id, wire_version};
use crate::{Client, Error, Result};

/// Pending value changes of one record.
#[derive(Debug, Clone, Default)]
pub(super) struct FieldUpdate {
    input: Option<Value>,
    expected_output: Option<Value>,
    metadata: Option<Value>,
}

/// Pending tag changes of one record (spec §3.3 accumulation rules).
#[derive(Debug, Clone, Default)]
pub(super) struct TagOps {
    add: BTreeSet<String>,
    remove: BTreeSet<String>,
    replace: Option<BTreeSet<String>>,
}

impl TagOps {
    /// Adds (`add`) or removes `tag`: in the `set` when there is one, else as an add or
    /// remove that cancels the opposite one.
    fn edit(&mut self, tag: &str, add: bool) {
        match &mut self.replace {
            Some(set) if add => {
                set.insert(tag.to_owned());
            }
            Some(set) => {
                set.remove(tag);
            }
            None => {
                let (to, from) = if add {
                    (&mut self.add, &mut self.remove)
                } else {
                    (&mut self.remove, &mut self.add)
                };
                from.remove(tag);
                to.insert(tag.to_owned());
            }
        }
    }

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
    pub(super) name: String,
    pub(super) description: String,
    pub(super) id: String,
    pub(super) project_name: String,
    pub(super) project_id: String,
    pub(super) version: u64,
    pub(super) latest_version: u64,
    pub(super) filter_tags: Vec<String>,
    pub(super) records: Vec<DatasetRecord>,
    pub(super) ids: IdIndex,
    pub(super) pending_inserts: HashSet<String>,
    pub(super) pending_updates: HashMap<String, FieldUpdate>,
    pub(super) pending_deletes: Vec<String>,
    pub(super) tag_ops: HashMap<String, TagOps>,
    pub(super) ui_base: String,
}

/// The positions of a dataset's records by id: 4 bytes a record, where a set of the
/// ids would hold a second copy of every id.
#[derive(Clone, Default)]
pub(super) struct IdIndex {
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
    pub(super) fn contains(&self, records: &[DatasetRecord], id: &str) -> bool {
        self.position(records, id).is_some()
    }

    /// The position of the record of `records` with id `id`.
    pub(super) fn position(&self, records: &[DatasetRecord], id: &str) -> Option<usize> {
        self.table.find(self.hash(id), |&i| records[i as usize].id == id).map(|&i| i as usize)
    }

    /// Indexes `records[index]`.
    pub(super) fn insert(&mut self, records: &[DatasetRecord], index: usize) {
        let hash = self.hash(&records[index].id);
        let state = &self.state;
        self.table.insert_unique(hash, index as u32, |&i| {
            std::hash::BuildHasher::hash_one(state, records[i as usize].id.as_str())
        });
    }

    /// Indexes `records` from scratch (after a removal shifted positions).
    pub(super) fn rebuild(&mut self, records: &[DatasetRecord]) {
        self.table.clear();
        for index in 0..records.len() {
            self.insert(records, index);
        }
    }
}

/// `capitals v2 (3 records)`: the name, the version this copy shows and how many records
/// it holds (pending changes included).
impl std::fmt::Display for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.records.len() == 1 { "" } else { "s" };
        write!(f, "{} v{} ({} record{plural})", self.name, self.version, self.records.len())
    }
}

/// Rebuilds every object and array in `value` at its exact size. Objects built one key
/// at a time (by `json!` or by parsing) keep room for four entries, several hundred
/// bytes each with key order kept; a dataset holds many of them.
pub(super) fn compact(value: &mut Value) {
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
pub(super) fn compact_record(record: &mut DatasetRecord) {
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
pub(super) fn normalize(tags: &mut Vec<String>) {
    tags.sort();
    tags.dedup();
}

pub(super) fn check_tags(tags: &[String]) -> Result<()> {
    validate_tags(tags).map_err(|err| Error::InvalidRequest { detail: err.to_string() })
}

impl Dataset {
    pub(super) fn empty(
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
            version: wire_version(attributes.current_version),
            latest_version: wire_version(attributes.current_version),
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
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The newest version known on the server.
    pub fn latest_version(&self) -> u64 {
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
    pub fn append<Q, A>(&mut self, record: DatasetRecord<Q, A>) -> Result<()>
    where
        Q: Serialize + 'static,
        A: Serialize + 'static,
    {
        let mut record = record.into_json()?;
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
    pub(super) fn adopt(
        &mut self,
        mut records: Vec<DatasetRecord>,
    ) -> Result<std::ops::Range<usize>> {
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
    pub fn extend<Q, A>(
        &mut self,
        records: impl IntoIterator<Item = DatasetRecord<Q, A>>,
    ) -> Result<()>
    where
        Q: Serialize + 'static,
        A: Serialize + 'static,
    {
        records.into_iter().try_for_each(|record| self.append(record))
    }

    pub(super) fn index(&self, index: usize) -> Result<usize> {
        if index < self.records.len() {
            Ok(index)
        } else {
            Err(Error::InvalidRequest {
                detail: format!("record index {index} is out of range ({} records)", self.len()),
            })
        }
    }

    pub(super) fn position_of(&self, id: &str) -> Result<usize> {
        self.ids.position(&self.records, id).ok_or_else(|| Error::InvalidRequest {
            detail: format!("no record with id '{id}' in dataset '{}'", self.name),
        })
    }

    /// Every record read as `DatasetRecord<Q, A>`, in order; a record whose JSON does not
    /// fit the types is an error naming it, and the others are still read.
    pub fn records_as<Q: DeserializeOwned + 'static, A: DeserializeOwned + 'static>(
        &self,
    ) -> impl Iterator<Item = Result<DatasetRecord<Q, A>>> + '_ {
        self.records.iter().map(DatasetRecord::read_as)
    }

    /// The record with id `id`, if the dataset has it.
    pub fn record(&self, id: &str) -> Option<&DatasetRecord> {
        self.ids.position(&self.records, id).map(|i| &self.records[i])
    }

    /// Changes a record, given by id or by position (see [`RecordKey`]) (spec §3.3):
    /// value fields are merged into its pending update, `tags` replaces its tags.
    ///
    /// ```
    /// # fn edit(dataset: &mut llmobs::Dataset) -> llmobs::Result<()> {
    /// use llmobs::RecordUpdate;
    /// use serde_json::json;
    ///
    /// let update = RecordUpdate { expected_output: Some(json!("Paris")), ..Default::default() };
    /// dataset.update("rec-france", update)?; // by id: stays right after deletes
    /// dataset.delete("rec-obsolete")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an empty update, an unknown id, a bad index or a
    /// malformed tag.
    pub fn update(&mut self, record: impl RecordKey, update: RecordUpdate) -> Result<()> {
        let index = record.locate(self)?;
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

    /// Removes a record (by id or position) and returns it. A record not yet pushed is
    /// simply forgotten; a stored one is queued for deletion. Deleting shifts the
    /// positions of the records after it; ids never change.
    pub fn delete(&mut self, record: impl RecordKey) -> Result<DatasetRecord> {
        let index = record.locate(self)?;
        let record = self.records.remove(index);
        self.ids.rebuild(&self.records);
        if !self.pending_inserts.remove(&record.id) {
            self.pending_updates.remove(&record.id);
            self.tag_ops.remove(&record.id);
            self.pending_deletes.push(record.id.clone());
        }
        Ok(record)
    }

    /// Adds tags to a record (by id or position, see [`RecordKey`]).
    pub fn add_tags<S: Into<String>>(
        &mut self,
        record: impl RecordKey,
        tags: impl IntoIterator<Item = S>,
    ) -> Result<()> {
        self.edit_tags(record, tags, true)
    }

    /// Removes tags from a record (by id or position).
    pub fn remove_tags<S: Into<String>>(
        &mut self,
        record: impl RecordKey,
        tags: impl IntoIterator<Item = S>,
    ) -> Result<()> {
        self.edit_tags(record, tags, false)
    }

    /// Replaces the tags of a record (by id or position; sent as a `set` operation).
    pub fn replace_tags<S: Into<String>>(
        &mut self,
        record: impl RecordKey,
        tags: impl IntoIterator<Item = S>,
    ) -> Result<()> {
        let (index, tags) = self.checked_tags(record, tags)?;
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

    /// Adds (`add`) or removes `tags` on a record, here and, for a stored record, in the
    /// tag operations the next push sends.
    fn edit_tags<S: Into<String>>(
        &mut self,
        record: impl RecordKey,
        tags: impl IntoIterator<Item = S>,
        add: bool,
    ) -> Result<()> {
        let (index, tags) = self.checked_tags(record, tags)?;
        let record = &mut self.records[index];
        let stored = !self.pending_inserts.contains(&record.id);
        for tag in tags {
            if stored {
                self.tag_ops.entry(record.id.clone()).or_default().edit(&tag, add);
            }
            if add {
                record.tags.push(tag);
            } else {
                record.tags.retain(|t| *t != tag);
            }
        }
        normalize(&mut record.tags);
        Ok(())
    }

    /// The position of `record` and `tags`, checked.
    fn checked_tags<S: Into<String>>(
        &self,
        record: impl RecordKey,
        tags: impl IntoIterator<Item = S>,
    ) -> Result<(usize, Vec<String>)> {
        let tags: Vec<String> = tags.into_iter().map(Into::into).collect();
        let index = record.locate(self)?;
        check_tags(&tags)?;
        Ok((index, tags))
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
    pub(super) fn diff(&self) -> (Vec<InsertRecord>, Vec<UpdateRecord>, Vec<String>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
