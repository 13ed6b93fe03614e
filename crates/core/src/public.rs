//! Datadog's public LLM Observability API, as the official `datadog-api-client` speaks it:
//! the request attributes and answers of the management routes that ddtrace does not use
//! (project list, update and delete; dataset update, versions, clone, restore, export and
//! draft state; record create, update and delete; experiment delete), and the flat record
//! shape the official client reads where ddtrace reads [`Record`].
//!
//! Bodies are JSON:API documents ([`crate::jsonapi`]); these are their `attributes`, except
//! [`FlatRecord`] and [`RecordsMutation`], which the client reads as they are.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::datasets::{CsvRows, Record, UploadError};

/// Resource type of record requests.
pub const RECORDS: &str = "records";
/// Resource type of a dataset's draft state.
pub const DRAFT_STATE: &str = "draft_state_data";

/// Resource type of prompts in the public prompt registry.
pub const PROMPT_TEMPLATES: &str = "prompt-templates";
/// Resource type of prompt versions in the public prompt registry.
pub const PROMPT_TEMPLATE_VERSIONS: &str = "prompt-template-versions";

/// The largest page of projects or datasets answered.
pub const MAX_PAGE: i64 = 1000;

/// `PATCH /projects/{project_id}`: fields to change; absent ones stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    /// A new name, unique in the org.
    #[serde(default)]
    pub name: Option<String>,
    /// A new description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /projects/delete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteProjects {
    /// The projects to delete, with their datasets and experiments.
    pub project_ids: Vec<String>,
}

/// `POST /{project_id}/datasets` as the official client sends it: a name, and optionally a
/// description and metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateDataset {
    /// The dataset's name.
    pub name: String,
    /// Optional description.
    #[serde(default)]
    pub description: Option<String>,
    /// Optional metadata.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Option<Map<String, Value>>,
}

/// `PATCH /{project_id}/datasets/{dataset_id}`: fields to change; absent ones stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DatasetUpdate {
    /// A new name, unique among the project's live datasets.
    #[serde(default)]
    pub name: Option<String>,
    /// A new description.
    #[serde(default)]
    pub description: Option<String>,
    /// New metadata, replacing the old.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Option<Map<String, Value>>,
}

/// `POST /{project_id}/datasets/{dataset_id}/clone`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CloneDataset {
    /// The copy's name.
    pub name: String,
    /// The copy's description (the source's when absent).
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /{project_id}/datasets/{dataset_id}/restore`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RestoreVersion {
    /// The version whose records become the dataset's records again, as a new version.
    pub dataset_version: i64,
}

/// A record to create with `POST /{project_id}/datasets/{dataset_id}/records`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRecord {
    /// The input (required).
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub input: Value,
    /// The expected output.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub expected_output: Option<Value>,
    /// Metadata.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Option<Map<String, Value>>,
    /// `key:value` tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// `POST /{project_id}/datasets/{dataset_id}/records`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateRecords {
    /// The records, in order.
    pub records: Vec<NewRecord>,
    /// Skip records equal in input, expected output and metadata to a live record.
    #[serde(default)]
    pub deduplicate: Option<bool>,
}

/// A change to a record with `PATCH /{project_id}/datasets/{dataset_id}/records`; absent
/// fields stay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordChange {
    /// The record's id.
    pub id: String,
    /// A new input.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub input: Option<Value>,
    /// A new expected output.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub expected_output: Option<Value>,
    /// New metadata.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Option<Map<String, Value>>,
    /// The record's full new tag list (`key:value`); absent leaves the tags as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// `PATCH /{project_id}/datasets/{dataset_id}/records`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateRecords {
    /// The changes, in order.
    pub records: Vec<RecordChange>,
}

/// `POST /{project_id}/datasets/{dataset_id}/records/delete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteRecords {
    /// The records to delete.
    pub record_ids: Vec<String>,
}

/// `POST /{project_id}/datasets/delete` and `POST /experiments/delete` name what to delete
/// with these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteExperiments {
    /// The experiments to delete.
    pub experiment_ids: Vec<String>,
}

/// A record as the official client reads it: flat, no JSON:API envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlatRecord<J = Value> {
    /// The record's id.
    pub id: String,
    /// Its dataset.
    pub dataset_id: String,
    /// The input.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub input: J,
    /// The expected output; `null` when never set.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub expected_output: Option<J>,
    /// Metadata; `null` when never set.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub metadata: Option<J>,
    /// `key:value` tags.
    pub tags: Vec<String>,
    /// When it was first inserted.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// In a mutation's answer: the version the change made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// In a mutation's answer: when it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

impl<J> FlatRecord<J> {
    /// The flat form of a stored record.
    pub fn new(id: String, record: Record<J>) -> Self {
        FlatRecord {
            id,
            dataset_id: record.dataset_id,
            input: record.input,
            expected_output: record.expected_output,
            metadata: record.metadata,
            tags: record.tags,
            created_at: record.created_at,
            updated_at: record.updated_at,
            version: record.version,
            deleted_at: record.deleted_at,
        }
    }
}

/// The answer of a record mutation (create, update, batch update) for the official client:
/// `data` is one entry holding the records touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordsMutation {
    /// One entry.
    pub data: Vec<MutatedRecords>,
}

/// The records a mutation touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MutatedRecords {
    /// Each record as it now is (deleted ones with `deleted_at`).
    pub records: Vec<FlatRecord>,
}

/// A page of records for the official client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordsPage<J = Value> {
    /// The records.
    pub data: Vec<FlatRecord<J>>,
    /// `after`: the next page's cursor, empty on the last page.
    pub meta: crate::jsonapi::Meta,
}

/// A version of a dataset, in its list of versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatasetVersion {
    /// The dataset.
    pub dataset_id: String,
    /// When the version last wrote a record; `null` when it only deleted records.
    pub last_used: Option<String>,
    /// The version's number.
    pub version_number: i64,
}

/// Who holds a dataset's draft lock, and since when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DraftState {
    /// When the lock was taken.
    pub drafting_since: String,
    /// The user holding it.
    pub user: DraftUser,
}

/// The user holding a draft lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DraftUser {
    /// The user's id.
    pub id: String,
}

/// A dataset's export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `input,expected_output,metadata,id,tags`, JSON cells.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl ExportFormat {
    /// Parses the `format` query parameter (`csv` by default).
    pub fn parse(text: Option<&str>) -> Result<Self, UnknownFormat> {
        match text.map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("csv") => Ok(ExportFormat::Csv),
            Some("jsonl") => Ok(ExportFormat::Jsonl),
            Some(other) => Err(UnknownFormat(other.to_owned())),
        }
    }
}

/// The `format` query parameter names no export format; it holds the name, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("format must be csv or jsonl, got '{0}'")]
pub struct UnknownFormat(pub String);

/// A record of a dataset export could not be written as JSON (a value JSON cannot hold);
/// holds the serializer's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExportError(pub String);

impl ExportError {
    fn of(err: serde_json::Error) -> ExportError {
        ExportError(err.to_string())
    }
}

impl ExportFormat {
    /// The export's content type.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Jsonl => "application/x-ndjson",
        }
    }

    /// What an export starts with: the CSV header line, nothing for JSON lines.
    pub fn header(self) -> &'static str {
        match self {
            ExportFormat::Csv => "id,input,expected_output,metadata,tags\r\n",
            ExportFormat::Jsonl => "",
        }
    }

    /// One record of an export, with its line break: see [`export`]. Writing an export
    /// record by record (after [`ExportFormat::header`]) gives the same text as [`export`],
    /// so a large dataset can be streamed.
    pub fn line<J: Serialize>(self, id: &str, record: &Record<J>) -> Result<String, ExportError> {
        let json = |value: &J| serde_json::to_string(value).map_err(ExportError::of);
        let mut out = String::new();
        match self {
            ExportFormat::Csv => {
                let optional = |value: &Option<J>| match value {
                    Some(v) => json(v),
                    None => Ok("\"\"".to_owned()),
                };
                let tags = serde_json::to_string(&record.tags).map_err(ExportError::of)?;
                let cells = [
                    id.to_owned(),
                    json(&record.input)?,
                    optional(&record.expected_output)?,
                    optional(&record.metadata)?,
                    tags,
                ];
                for (index, cell) in cells.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push('"');
                    out.push_str(&cell.replace('"', "\"\""));
                    out.push('"');
                }
                out.push_str("\r\n");
            }
            ExportFormat::Jsonl => {
                let line = serde_json::json!({
                    "id": id,
                    "input": serde_json::to_value(&record.input).map_err(ExportError::of)?,
                    "expected_output": serde_json::to_value(&record.expected_output).map_err(ExportError::of)?,
                    "metadata": serde_json::to_value(&record.metadata).map_err(ExportError::of)?,
                    "tags": record.tags,
                });
                out.push_str(&line.to_string());
                out.push('\n');
            }
        }
        Ok(out)
    }
}

/// A dataset export: its content type and text. CSV has the columns
/// `id,input,expected_output,metadata,tags` with JSON cells (an absent value is the JSON
/// string `""`, as uploads read it); JSON lines have one object per record with the same
/// keys (absent values `null`).
pub fn export<J: Serialize>(
    format: ExportFormat,
    records: &[(String, Record<J>)],
) -> Result<(&'static str, String), ExportError> {
    let mut out = format.header().to_owned();
    for (id, record) in records {
        out.push_str(&format.line(id, record)?);
    }
    Ok((format.content_type(), out))
}

/// One page of an experiment's events: `limit` spans from `offset`, the summary metrics
/// on the first page only, and the offset of the next page when more spans remain.
pub fn page_events(
    events: crate::experiments::ExperimentEvents,
    offset: usize,
    limit: usize,
) -> (crate::experiments::ExperimentEvents, Option<usize>) {
    let total = events.spans.len();
    let spans = events.spans.into_iter().skip(offset).take(limit).collect();
    let summary_metrics = if offset == 0 { events.summary_metrics } else { Vec::new() };
    let next = (offset + limit < total).then_some(offset + limit);
    (crate::experiments::ExperimentEvents { spans, summary_metrics }, next)
}

/// Why [`authoring_template`] refuses a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthoringTemplateError {
    /// `template.messages` is there but is not a list: send a list of messages.
    #[error("template.messages must be a list of messages")]
    MessagesNotList,
    /// The message at `index` includes another prompt: inline its messages instead.
    #[error(
        "template.messages[{index}]: includes of other prompts are not supported; inline the \
         messages"
    )]
    Include {
        /// The position of the message in `template.messages`.
        index: usize,
    },
}

/// A template as the public prompt registry takes it, in the form the prompt registry
/// stores: a string and a list of chat messages stay as they are, and an authoring template
/// `{"messages": [...]}` becomes its list. Includes of other prompts are refused.
pub fn authoring_template(template: Value) -> Result<Value, AuthoringTemplateError> {
    match template {
        Value::Object(mut map) if map.contains_key("messages") => {
            let messages = map.remove("messages").unwrap_or_default();
            let Value::Array(items) = messages else {
                return Err(AuthoringTemplateError::MessagesNotList);
            };
            if let Some(index) = items.iter().position(|item| item.get("include").is_some()) {
                return Err(AuthoringTemplateError::Include { index });
            }
            Ok(Value::Array(items))
        }
        other => Ok(other),
    }
}

/// The keys of an LLM judge's settings inside the public API's `llm_judge_config`, which
/// the server's judge reads at the top level of a stored configuration.
const JUDGE_KEYS: [&str; 4] =
    ["prompt_template", "inference_params", "output_schema", "assessment_criteria"];

/// Why [`stored_eval_config`] refuses a custom evaluator's attributes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalConfigError {
    /// The body's `eval_name` is not the name in the path: send the same name, or none.
    #[error("eval_name '{sent}' differs from the name in the path '{name}'")]
    NameMismatch {
        /// The `eval_name` of the body.
        sent: String,
        /// The name in the path.
        name: String,
    },
    /// `target` is missing or lacks a string `application_name` or a boolean `enabled`.
    #[error("target must be an object with application_name (string) and enabled (boolean)")]
    Target,
}

/// The stored configuration of a custom evaluator put through the public API
/// (`category`, `eval_name`, `llm_judge_config`, `llm_provider`, `target`): the attributes
/// as sent, plus the judge's settings copied to the top level with the provider's
/// `model_name`, where the LLM judge reads them.
pub fn stored_eval_config(
    name: &str,
    attributes: Map<String, Value>,
) -> Result<Value, EvalConfigError> {
    if let Some(sent) = attributes.get("eval_name").and_then(Value::as_str)
        && sent != name
    {
        return Err(EvalConfigError::NameMismatch { sent: sent.to_owned(), name: name.to_owned() });
    }
    match attributes.get("target") {
        Some(Value::Object(target))
            if target.get("application_name").is_some_and(Value::is_string)
                && target.get("enabled").is_some_and(Value::is_boolean) => {}
        _ => {
            return Err(EvalConfigError::Target);
        }
    }
    let mut config = attributes;
    config.insert("eval_name".into(), Value::String(name.to_owned()));
    let judge = config.get("llm_judge_config").and_then(Value::as_object).cloned();
    for key in JUDGE_KEYS {
        if let Some(value) = judge.as_ref().and_then(|j| j.get(key)) {
            config.insert(key.into(), value.clone());
        }
    }
    if let Some(model) = config.get("llm_provider").and_then(|p| p.get("model_name")).cloned() {
        config.insert("model_name".into(), model);
    }
    Ok(Value::Object(config))
}

/// The public API's attributes of a stored evaluator configuration, whoever put it: the
/// attributes the official client sent, or for one published by ddtrace (`applications[0]`
/// with its `byop_config`), the same settings in the public shape.
pub fn public_eval_config(name: &str, config: &Value, created_at: &str, updated_at: &str) -> Value {
    let mut out = Map::new();
    if config.get("target").is_some() {
        for key in ["category", "llm_judge_config", "llm_provider", "target"] {
            if let Some(value) = config.get(key) {
                out.insert(key.into(), value.clone());
            }
        }
    } else {
        let application = config.pointer("/applications/0");
        let source = application.and_then(|a| a.get("byop_config")).unwrap_or(config);
        let mut judge: Map<String, Value> = JUDGE_KEYS
            .iter()
            .filter_map(|key| source.get(*key).map(|v| ((*key).to_owned(), v.clone())))
            .collect();
        // The public shape requires inference parameters; none means the defaults.
        judge.entry("inference_params").or_insert_with(|| Value::Object(Map::new()));
        out.insert("llm_judge_config".into(), Value::Object(judge));
        if let Some(model) = application.and_then(|a| a.get("model_name")) {
            out.insert("llm_provider".into(), serde_json::json!({"model_name": model}));
        }
        let app = application
            .and_then(|a| a.get("ml_app").or(a.get("application_name")))
            .and_then(Value::as_str)
            .unwrap_or("");
        out.insert("target".into(), serde_json::json!({"application_name": app, "enabled": true}));
    }
    out.insert("eval_name".into(), Value::String(name.to_owned()));
    out.insert("created_at".into(), Value::String(created_at.to_owned()));
    out.insert("updated_at".into(), Value::String(updated_at.to_owned()));
    Value::Object(out)
}

/// One row of a file uploaded on the v2 path.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    /// The record id, when the file has an `id` column and the cell is not empty.
    pub id: Option<String>,
    /// The input.
    pub input: Value,
    /// The expected output, when given.
    pub expected_output: Option<Value>,
    /// The metadata, when given.
    pub metadata: Option<Value>,
    /// The row's tags (a JSON list, or `key:value` items separated by commas).
    pub tags: Vec<String>,
}

/// Parses a CSV file of the v2 upload: an `input` column, and optionally `id`,
/// `expected_output`, `metadata` and `tags`. A cell holding JSON is that JSON; any other
/// text is a string; an empty cell (or the JSON string `""`) is absent. Errors name the
/// row (the header is row 1).
pub fn parse_file_upload(bytes: &[u8]) -> Result<Vec<FileRow>, UploadError> {
    let mut csv = CsvRows::new(bytes)?;
    let input = csv
        .column("input")
        .ok_or_else(|| UploadError { row: 1, reason: "the file has no 'input' column".into() })?;
    let (id, expected, metadata, tags) = (
        csv.column("id"),
        csv.column("expected_output"),
        csv.column("metadata"),
        csv.column("tags"),
    );
    let mut rows = Vec::new();
    while let Some((row, record)) = csv.next_row()? {
        let bad = |reason: &str| UploadError { row, reason: reason.to_owned() };
        let cell = |index: Option<usize>| -> Option<Value> {
            let text = index.and_then(|i| record.get(i)).unwrap_or("");
            if text.is_empty() {
                return None;
            }
            let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into()));
            (value != "").then_some(value)
        };
        let input = cell(Some(input)).ok_or_else(|| bad("the input is empty"))?;
        let tags = match cell(tags) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|t| match t {
                    Value::String(t) => Ok(t),
                    _ => Err(bad("tags must be strings")),
                })
                .collect::<Result<_, _>>()?,
            Some(Value::String(text)) => text
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(_) => return Err(bad("tags must be a list of strings")),
        };
        let id = id.and_then(|i| record.get(i)).filter(|v| !v.is_empty()).map(str::to_owned);
        rows.push(FileRow {
            id,
            input,
            expected_output: cell(expected),
            metadata: cell(metadata),
            tags,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonapi::Author;

    fn record(input: Value, expected: Option<Value>) -> Record {
        Record {
            author: Author { id: "u".into() },
            canonical_id: "c".into(),
            created_at: "t".into(),
            dataset_id: "d".into(),
            input,
            expected_output: expected,
            metadata: None,
            tags: vec!["k:v".into()],
            updated_at: "t".into(),
            version: None,
            deleted_at: None,
        }
    }

    #[test]
    fn csv_export_quotes_json_cells_and_marks_absent_values() {
        let records = vec![("r1".to_owned(), record(serde_json::json!({"q": "a\"b"}), None))];
        let (kind, text) = export(ExportFormat::Csv, &records).unwrap();
        assert_eq!(kind, "text/csv; charset=utf-8");
        assert_eq!(
            text,
            "id,input,expected_output,metadata,tags\r\n\
             \"r1\",\"{\"\"q\"\":\"\"a\\\"\"b\"\"}\",\"\"\"\"\"\",\"\"\"\"\"\",\"[\"\"k:v\"\"]\"\r\n"
        );
    }

    #[test]
    fn file_uploads_take_json_or_text_cells() {
        let csv =
            "input,expected_output,tags\r\nWhat is 2+2?,4,\"a:1, b:2\"\r\n\"{\"\"q\"\": 1}\",,\r\n";
        let rows = parse_file_upload(csv.as_bytes()).unwrap();
        assert_eq!(rows[0].input, Value::String("What is 2+2?".into()));
        assert_eq!(rows[0].expected_output, Some(serde_json::json!(4)));
        assert_eq!(rows[0].tags, vec!["a:1", "b:2"]);
        assert_eq!(rows[1].input, serde_json::json!({"q": 1}));
        assert_eq!(rows[1].expected_output, None);
        assert_eq!(rows[1].id, None);
        let err = parse_file_upload(b"question\r\nx\r\n").unwrap_err();
        assert_eq!(err.to_string(), "row 1: the file has no 'input' column");
        let err = parse_file_upload(b"input,id\r\nx,1\r\n,2\r\n").unwrap_err();
        assert_eq!((err.row, err.to_string()), (3, "row 3: the input is empty".to_owned()));
    }

    #[test]
    fn authoring_templates_become_message_lists() {
        let chat = serde_json::json!({"messages": [{"role": "user", "content": "Hi {{name}}"}]});
        assert_eq!(
            authoring_template(chat).unwrap(),
            serde_json::json!([{"role": "user", "content": "Hi {{name}}"}])
        );
        assert_eq!(authoring_template(Value::from("text")).unwrap(), "text");
        let include =
            serde_json::json!({"messages": [{"include": {"prompt_id": "p", "version": 1}}]});
        assert!(
            authoring_template(include)
                .unwrap_err()
                .to_string()
                .starts_with("template.messages[0]")
        );
    }

    #[test]
    fn jsonl_export_has_one_object_per_record() {
        let records = vec![
            ("a".to_owned(), record(serde_json::json!(1), Some(serde_json::json!("x")))),
            ("b".to_owned(), record(serde_json::json!([2]), None)),
        ];
        let (_, text) = export(ExportFormat::Jsonl, &records).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["expected_output"], "x");
        assert_eq!(lines[1]["id"], "b");
        assert_eq!(lines[1]["expected_output"], Value::Null);
        assert_eq!(
            ExportFormat::parse(Some("XML")).unwrap_err().to_string(),
            "format must be csv or jsonl, got 'xml'"
        );
    }
}
