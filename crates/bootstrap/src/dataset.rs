//! Dataset sources (spec §5): the default sample, inline JSON records, a CSV file read at
//! runtime, or a dataset pulled from Datadog. [`RecordsError`] says why inline JSON
//! records are refused.

use std::collections::HashMap;
use std::path::Path;

use crate::csv::CsvDataset;
use crate::json::{Json, JsonError};
use crate::literal::{py_lit, py_str};
use crate::pii::{PiiCounts, scrub};
use crate::tags::{TagsError, dedup, normalise_tags};

/// Above this many bytes of record literals the summary suggests CSV or a pulled dataset.
pub const LARGE_INLINE_BYTES: usize = 5 * 1024 * 1024;

/// Name of the default three-record sample dataset.
pub const SAMPLE_NAME: &str = "bootstrap-sample";

/// One dataset record, ready to be embedded: shape-checked, tags normalised, PII scrubbed.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The task input. Never `null`.
    pub input_data: Json,
    /// The expected output, if any (`null` in the file means absent).
    pub expected_output: Option<Json>,
    /// Metadata: always an object when present.
    pub metadata: Option<Json>,
    /// `key:value` tags; not emitted when empty.
    pub tags: Vec<String>,
    /// The user's record id.
    pub id: Option<String>,
}

impl Record {
    /// The record's fields in emission order, rendered as Python literals.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![("input_data", py_lit(&self.input_data))];
        if let Some(expected) = &self.expected_output {
            fields.push(("expected_output", py_lit(expected)));
        }
        if let Some(metadata) = &self.metadata {
            fields.push(("metadata", py_lit(metadata)));
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|t| py_str(t)).collect();
            fields.push(("tags", format!("[{}]", tags.join(", "))));
        }
        if let Some(id) = &self.id {
            fields.push(("id", py_str(id)));
        }
        fields
    }
}

/// Records read from a JSON file, with what the reading changed.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRecords {
    /// The records, in file order.
    pub records: Vec<Record>,
    /// Indices of records that had `record_id` or `canonical_id` removed.
    pub sdk_keys_removed: Vec<usize>,
    /// Indices of records whose tags were rewritten.
    pub tags_rewritten: Vec<usize>,
    /// Per record with redactions: its index and what was redacted.
    pub pii: Vec<(usize, PiiCounts)>,
}

/// Where the experiment's dataset comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Dataset {
    /// No dataset flag: the three built-in records (spec §5.5).
    Sample(Vec<Record>),
    /// `--dataset x.json`: records embedded inline.
    Json {
        /// The dataset name: the file stem.
        name: String,
        /// The records and the reading report.
        records: JsonRecords,
    },
    /// `--dataset x.csv` or `.tsv`: read by the SDK when the experiment runs.
    Csv(CsvDataset),
    /// `--dataset-name`: pulled from Datadog when the experiment runs.
    Pull {
        /// The dataset name, verbatim.
        name: String,
        /// The pinned version, or `None` for the latest.
        version: Option<u32>,
    },
}

impl Dataset {
    /// The records embedded in the output, if the source embeds any.
    pub fn inline_records(&self) -> Option<&[Record]> {
        match self {
            Dataset::Sample(records) => Some(records),
            Dataset::Json { records, .. } => Some(&records.records),
            _ => None,
        }
    }

    /// Whether any record's expected output is an object or an array (D21). Only
    /// JSON datasets can be structured.
    pub fn is_structured(&self) -> bool {
        match self {
            Dataset::Json { records, .. } => records
                .records
                .iter()
                .any(|r| matches!(r.expected_output, Some(Json::Object(_) | Json::Array(_)))),
            _ => false,
        }
    }

    /// Whether every record's `input_data` is known to be an object (D35).
    pub fn inputs_are_objects(&self) -> bool {
        match self {
            Dataset::Sample(_) | Dataset::Csv(_) => true,
            Dataset::Json { records, .. } => {
                records.records.iter().all(|r| matches!(r.input_data, Json::Object(_)))
            }
            Dataset::Pull { .. } => false,
        }
    }

    /// The input key the remote judge's transform reads (D48): `question` for the sample,
    /// the first key of the first object input for JSON, the first input column for CSV,
    /// and none (send the whole input) otherwise. With the key comes the index of the
    /// record it was taken from, for JSON.
    pub fn judge_input_key(&self) -> Option<(String, Option<usize>)> {
        match self {
            Dataset::Sample(_) => Some(("question".to_owned(), None)),
            Dataset::Json { records, .. } => {
                records.records.iter().enumerate().find_map(|(i, r)| match &r.input_data {
                    Json::Object(pairs) => Some(pairs.first().map(|(k, _)| (k.clone(), Some(i)))),
                    _ => None,
                })?
            }
            Dataset::Csv(csv) => csv.input_columns.first().map(|c| (c.clone(), None)),
            Dataset::Pull { .. } => None,
        }
    }
}

/// The default sample of spec §5.5.
pub fn sample_records() -> Vec<Record> {
    [
        ("What is the capital of France?", "Paris", "easy"),
        ("What is the capital of Japan?", "Tokyo", "easy"),
        ("What is the capital of Australia?", "Canberra", "medium"),
    ]
    .into_iter()
    .map(|(question, answer, difficulty)| Record {
        input_data: Json::Object(vec![("question".into(), Json::Str(question.into()))]),
        expected_output: Some(Json::Str(answer.into())),
        metadata: Some(Json::Object(vec![("difficulty".into(), Json::Str(difficulty.into()))])),
        tags: vec!["env:smoke".into()],
        id: None,
    })
    .collect()
}

const ALLOWED_KEYS: &str = "input_data, expected_output, metadata, tags, id";

/// Why [`parse_records`] refuses a JSON dataset. The messages leave out the path (the
/// caller adds it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// The text is not strict JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(JsonError),
    /// The top-level value, of the named type, is not an array of records.
    #[error("the file must hold a top-level JSON array of records, not {0}")]
    NotAnArray(&'static str),
    /// The array is empty.
    #[error("the JSON array holds no records")]
    NoRecords,
    /// Two records (0-based) have the same `id`.
    #[error("records {first} and {index} have the same id {}; ids must be unique", py_str(.id))]
    DuplicateId {
        /// The first record with the id.
        first: usize,
        /// The later record with the same id.
        index: usize,
        /// The id.
        id: String,
    },
    /// The record at `index` (0-based) is malformed.
    #[error("record {index}: {problem}")]
    Record {
        /// The record's position in the array.
        index: usize,
        /// What is wrong with it.
        problem: RecordProblem,
    },
}

/// What is wrong with one record of a JSON dataset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordProblem {
    /// The record, of the named type, is not an object.
    #[error("must be an object, not {0}")]
    NotAnObject(&'static str),
    /// `metadata`, of the named type, is not an object (or null).
    #[error("\"metadata\" must be an object, not {0}")]
    MetadataNotObject(&'static str),
    /// `id` is the empty string.
    #[error("\"id\" must be a non-empty string")]
    EmptyId,
    /// `id`, of the named type, is not a string (or null).
    #[error("\"id\" must be a non-empty string, not {0}")]
    IdNotString(&'static str),
    /// A key outside `input_data, expected_output, metadata, tags, id`.
    #[error("unknown key {}; allowed keys are {ALLOWED_KEYS}", py_str(.0))]
    UnknownKey(String),
    /// `input_data` is missing.
    #[error("missing required key \"input_data\"")]
    MissingInput,
    /// `input_data` is null.
    #[error("\"input_data\" must not be null")]
    NullInput,
    /// `tags` cannot be normalised.
    #[error(transparent)]
    Tags(#[from] TagsError),
    /// Redacting PII from an object's keys made two of them equal (the redacted key).
    #[error("PII redaction made two keys equal: {}", py_str(.0))]
    KeyCollision(String),
}

/// Reads dataset records from a JSON text (spec §5.2): strict parsing, shape checks,
/// tag normalisation, PII scrubbing of every string and key, tag de-duplication, and
/// the uniqueness of `id`s. Errors name the 0-based record index.
///
/// ```
/// use llmobs_bootstrap::{Json, parse_records};
///
/// let parsed = parse_records(r#"[{"input_data": "hi", "tags": "smoke", "record_id": "r1"}]"#)?;
/// assert_eq!(parsed.records[0].input_data, Json::Str("hi".into()));
/// assert_eq!(parsed.records[0].tags, ["tag:smoke"]);
/// assert_eq!((parsed.sdk_keys_removed, parsed.tags_rewritten), (vec![0], vec![0]));
/// # Ok::<(), llmobs_bootstrap::RecordsError>(())
/// ```
pub fn parse_records(text: &str) -> Result<JsonRecords, RecordsError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value = Json::parse(text).map_err(RecordsError::InvalidJson)?;
    let Json::Array(items) = value else {
        return Err(RecordsError::NotAnArray(value.type_name()));
    };
    if items.is_empty() {
        return Err(RecordsError::NoRecords);
    }
    let mut out = JsonRecords {
        records: Vec::with_capacity(items.len()),
        sdk_keys_removed: Vec::new(),
        tags_rewritten: Vec::new(),
        pii: Vec::new(),
    };
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.into_iter().enumerate() {
        let record = one_record(index, item, &mut out)
            .map_err(|problem| RecordsError::Record { index, problem })?;
        if let Some(id) = &record.id
            && let Some(first) = ids.insert(id.clone(), index)
        {
            return Err(RecordsError::DuplicateId { first, index, id: id.clone() });
        }
        out.records.push(record);
    }
    Ok(out)
}

fn one_record(index: usize, item: Json, out: &mut JsonRecords) -> Result<Record, RecordProblem> {
    let Json::Object(pairs) = item else {
        return Err(RecordProblem::NotAnObject(item.type_name()));
    };
    let mut input_data = None;
    let mut expected_output: Option<Json> = None;
    let mut metadata: Option<Json> = None;
    let mut raw_tags = None;
    let mut id = None;
    let mut dropped = false;
    for (key, value) in pairs {
        match key.as_str() {
            "input_data" => input_data = Some(value),
            "expected_output" => expected_output = Some(value).filter(|v| *v != Json::Null),
            "metadata" => match value {
                Json::Null => {}
                Json::Object(_) => metadata = Some(value),
                other => return Err(RecordProblem::MetadataNotObject(other.type_name())),
            },
            "tags" => raw_tags = Some(value).filter(|v| *v != Json::Null),
            "id" => match value {
                Json::Null => {}
                Json::Str(s) if !s.is_empty() => id = Some(s),
                Json::Str(_) => return Err(RecordProblem::EmptyId),
                other => return Err(RecordProblem::IdNotString(other.type_name())),
            },
            "record_id" | "canonical_id" => dropped = true,
            other => return Err(RecordProblem::UnknownKey(other.to_owned())),
        }
    }
    let input_data = match input_data {
        None => return Err(RecordProblem::MissingInput),
        Some(Json::Null) => return Err(RecordProblem::NullInput),
        Some(value) => value,
    };
    if dropped {
        out.sdk_keys_removed.push(index);
    }
    let original_tags = raw_tags.clone();
    let tags = match &raw_tags {
        Some(value) => normalise_tags(value)?,
        None => Vec::new(),
    };

    let mut counts = PiiCounts::default();
    let mut input_data = input_data;
    scrub_value(&mut input_data, &mut counts)?;
    if let Some(value) = &mut expected_output {
        scrub_value(value, &mut counts)?;
    }
    if let Some(value) = &mut metadata {
        scrub_value(value, &mut counts)?;
    }
    let tags = dedup(tags.iter().map(|t| scrub(t, &mut counts)).collect());
    let id = id.map(|id| scrub(&id, &mut counts));
    if counts.total() > 0 {
        out.pii.push((index, counts));
    }

    let unchanged = match &original_tags {
        None => true,
        Some(Json::Array(items)) => {
            items.len() == tags.len()
                && items.iter().zip(&tags).all(|(a, b)| matches!(a, Json::Str(s) if s == b))
        }
        Some(_) => false,
    };
    if !unchanged {
        out.tags_rewritten.push(index);
    }
    Ok(Record { input_data, expected_output, metadata, tags, id })
}

fn scrub_value(value: &mut Json, counts: &mut PiiCounts) -> Result<(), RecordProblem> {
    match value {
        Json::Str(s) => *s = scrub(s, counts),
        Json::Array(items) => {
            for item in items {
                scrub_value(item, counts)?;
            }
        }
        Json::Object(pairs) => {
            let mut seen = std::collections::HashSet::new();
            for (key, item) in pairs.iter_mut() {
                *key = scrub(key, counts);
                if !seen.insert(key.clone()) {
                    return Err(RecordProblem::KeyCollision(key.clone()));
                }
                scrub_value(item, counts)?;
            }
        }
        Json::Null | Json::Bool(_) | Json::Int(_) | Json::Float(_) => {}
    }
    Ok(())
}

/// Formats record indices for a warning: `0, 2, 5`, or the first 20 followed by
/// `… and N more`.
pub fn index_list(indices: &[usize]) -> String {
    let shown: Vec<String> = indices.iter().take(20).map(usize::to_string).collect();
    let mut out = shown.join(", ");
    if indices.len() > 20 {
        out.push_str(&format!(" … and {} more", indices.len() - 20));
    }
    out
}

/// The warnings reading a JSON dataset produces, in the spec's order.
pub fn json_warnings(parsed: &JsonRecords, warnings: &mut Vec<String>) {
    if !parsed.sdk_keys_removed.is_empty() {
        warnings.push(format!(
            "Removed SDK-owned keys (record_id, canonical_id) from records {}",
            index_list(&parsed.sdk_keys_removed)
        ));
    }
    let size: usize = parsed
        .records
        .iter()
        .flat_map(Record::fields)
        .map(|(key, literal)| key.len() + literal.len())
        .sum();
    if size > LARGE_INLINE_BYTES {
        warnings.push(format!(
            "The dataset is embedded inline ({:.1} MB); consider a CSV file or --dataset-name \
             for large datasets.",
            size as f64 / (1024.0 * 1024.0)
        ));
    }
    if !parsed.tags_rewritten.is_empty() {
        warnings.push(format!(
            "Tags rewritten to key:value form in records {}",
            index_list(&parsed.tags_rewritten)
        ));
    }
    if !parsed.pii.is_empty() {
        let mut total = PiiCounts::default();
        for (_, counts) in &parsed.pii {
            total.add(counts);
        }
        let indices: Vec<usize> = parsed.pii.iter().map(|(i, _)| *i).collect();
        warnings.push(format!("PII redacted in records {} ({total})", index_list(&indices)));
    }
}

/// The dataset name of a file: its name without the last extension (D30).
pub fn file_stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_are_cut_after_twenty() {
        assert_eq!(index_list(&[0, 2]), "0, 2");
        let many: Vec<usize> = (0..25).collect();
        assert!(index_list(&many).ends_with("18, 19 … and 5 more"));
    }

    #[test]
    fn record_keys_are_emitted_in_fixed_order() {
        let parsed = parse_records(
            r#"[{"id": "a", "tags": ["x:y"], "metadata": {}, "expected_output": 1, "input_data": 2}]"#,
        )
        .unwrap();
        let keys: Vec<&str> = parsed.records[0].fields().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["input_data", "expected_output", "metadata", "tags", "id"]);
        assert!(parsed.tags_rewritten.is_empty());
    }
}
