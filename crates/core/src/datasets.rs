//! Projects and datasets (endpoints E1–E7 of the experiments spec).
//!
//! Bodies are JSON:API documents ([`crate::jsonapi`]); these are their `attributes`.
//! Record values (`input`, `expected_output`, `metadata`) are arbitrary JSON. The CSV file
//! of a bulk upload (E6) is read by [`parse_upload`]; a CSV file of any header is mapped
//! onto records by a [`ColumnMap`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jsonapi::Author;

mod columns;
mod upload;

pub use columns::{ColumnMap, ColumnRole, MissingColumn};

pub(crate) use upload::CsvRows;
pub use upload::{UploadError, UploadRow, parse_upload};

/// Resource type of projects.
pub const PROJECTS: &str = "projects";
/// Resource type of datasets and of records.
pub const DATASETS: &str = "datasets";
/// Resource type of a bulk upload's answer.
pub const DATASET_VERSION: &str = "dataset_version";

/// The largest page of records the server answers with.
pub const MAX_RECORDS_PAGE: usize = 10_000;

/// E1 request: create-or-get a project by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectRequest {
    /// The project's name, unique in the org.
    pub name: String,
    /// Optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Project {
    /// Who created it.
    pub author: Author,
    /// Its name.
    pub name: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// E2 request: create a dataset in a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatasetRequest {
    /// The dataset's name.
    pub name: String,
    /// Optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Optional metadata (the public API's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Option<serde_json::Map<String, Value>>,
}

/// A dataset (E2, E3, E7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Dataset))]
pub struct DatasetAttributes {
    /// Who created it.
    pub author: Author,
    /// When it was created.
    pub created_at: String,
    /// The newest version; 0 for a dataset never changed.
    pub current_version: i64,
    /// Its description.
    #[serde(default)]
    pub description: String,
    /// Its name.
    pub name: String,
    /// Its project.
    pub project_id: String,
    /// When it last changed.
    pub updated_at: String,
    /// Always `user`.
    #[serde(default)]
    pub dataset_type: String,
    /// When it was deleted, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// Free-form metadata (a JSON object); `null` when never set.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub metadata: Option<Value>,
}

/// A dataset record (E4 items, E5 answers).
///
/// `J` is how record values are held: [`Value`] by default; the server passes stored JSON
/// through as `Box<RawValue>` without rebuilding it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Record<J = Value> {
    /// Who last wrote it.
    pub author: Author,
    /// A server-assigned id that stays the same across versions.
    pub canonical_id: String,
    /// When it was first inserted.
    pub created_at: String,
    /// Its dataset.
    pub dataset_id: String,
    /// The input; any JSON.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub input: J,
    /// The expected output; omitted when never set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub expected_output: Option<J>,
    /// Metadata; omitted when never set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub metadata: Option<J>,
    /// `key:value` tags; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// When it last changed.
    pub updated_at: String,
    /// In a batch update's answer: the version the change made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// In a batch update's answer: when it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

/// E5 request attributes: changes to a dataset's records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchUpdate {
    /// New records.
    #[serde(default)]
    pub insert_records: Vec<InsertRecord>,
    /// Changes to stored records.
    #[serde(default)]
    pub update_records: Vec<UpdateRecord>,
    /// Ids of records to delete.
    #[serde(default)]
    pub delete_records: Vec<String>,
    /// Skip inserts whose input, expected output and metadata equal a live record's.
    #[serde(default = "yes")]
    pub deduplicate: bool,
    /// Make the change a new version (else it amends the current one).
    #[serde(default = "yes")]
    pub create_new_version: bool,
}

fn yes() -> bool {
    true
}

/// A record to insert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InsertRecord {
    /// The input (required).
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub input: Value,
    /// The expected output; `null` or absent for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub expected_output: Option<Value>,
    /// Metadata; `null` or absent for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub metadata: Option<Value>,
    /// The record id the client chose; the server makes one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `key:value` tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// A change to a stored record; `null` fields stay as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateRecord {
    /// The record's id.
    pub id: String,
    /// A new input.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub input: Option<Value>,
    /// A new expected output (`""` erases it).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub expected_output: Option<Value>,
    /// New metadata (`{}` erases it).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub metadata: Option<Value>,
    /// Tag changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_operations: Option<TagOperations>,
}

/// Tag changes, applied remove, then add, then set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TagOperations {
    /// Tags to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add: Option<Vec<String>>,
    /// Tags to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<Vec<String>>,
    /// The full new tag list, replacing everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Vec<String>>,
}

impl TagOperations {
    /// Applies the operations to `tags`: remove, then add (no duplicates), then set.
    pub fn apply(&self, tags: &mut Vec<String>) {
        if let Some(remove) = &self.remove {
            tags.retain(|t| !remove.contains(t));
        }
        for tag in self.add.iter().flatten() {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        if let Some(set) = &self.set {
            tags.clone_from(set);
            tags.dedup();
        }
    }
}

/// E6 answer attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadResult {
    /// The dataset.
    pub dataset_id: String,
    /// When the upload was stored.
    pub last_used: String,
    /// The version it made.
    pub version_number: i64,
}

/// E7 request attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteDatasets {
    /// `soft` (the only kind).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The datasets to delete.
    pub dataset_ids: Vec<String>,
}

/// Why a tag was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// No `:` in the tag.
    #[error("tag '{0}' is malformed: tags must look like 'key:value'")]
    Malformed(String),
    /// A control character in the tag (the tag is shown escaped).
    #[error("tag {0:?} must not contain control characters (found {1}); remove it")]
    ControlCharacter(String, String),
}

/// Checks that every tag contains a `:`, as the reference client requires, and no
/// control character.
pub fn validate_tags<'a>(tags: impl IntoIterator<Item = &'a String>) -> Result<(), TagError> {
    for tag in tags {
        if let Some(found) = crate::prompts::control_character(tag) {
            return Err(TagError::ControlCharacter(tag.clone(), found));
        }
        if !tag.contains(':') {
            return Err(TagError::Malformed(tag.clone()));
        }
    }
    Ok(())
}

/// Why a dataset name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasetNameError {
    /// Empty or whitespace only.
    #[error("a dataset needs a non-empty name")]
    Blank,
    /// A control character in the name.
    #[error("a dataset name must not contain control characters (found {0}); remove it")]
    ControlCharacter(String),
}

/// Checks a dataset name: not blank, no control character.
pub fn validate_dataset_name(name: &str) -> Result<(), DatasetNameError> {
    if let Some(found) = crate::prompts::control_character(name) {
        Err(DatasetNameError::ControlCharacter(found))
    } else if name.trim().is_empty() {
        Err(DatasetNameError::Blank)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_operations_remove_then_add_then_set() {
        let mut tags = vec!["a:1".to_owned(), "b:2".to_owned()];
        let ops = TagOperations {
            add: Some(vec!["c:3".into(), "a:1".into()]),
            remove: Some(vec!["a:1".into()]),
            set: None,
        };
        ops.apply(&mut tags);
        assert_eq!(tags, vec!["b:2", "c:3", "a:1"]);
        TagOperations { set: Some(vec!["z:9".into()]), ..Default::default() }.apply(&mut tags);
        assert_eq!(tags, vec!["z:9"]);
    }

    #[test]
    fn tags_need_a_colon() {
        assert!(validate_tags(&["env:prod".to_owned(), ":".to_owned()]).is_ok());
        assert_eq!(validate_tags(&["bare".to_owned()]), Err(TagError::Malformed("bare".into())));
        assert!(matches!(
            validate_tags(&["k:v\u{1b}".to_owned()]),
            Err(TagError::ControlCharacter(_, found)) if found == "U+001B at byte 3"
        ));
        assert_eq!(
            validate_dataset_name("a\rb"),
            Err(DatasetNameError::ControlCharacter("U+000D at byte 1".into()))
        );
        assert_eq!(validate_dataset_name(" "), Err(DatasetNameError::Blank));
    }
}
