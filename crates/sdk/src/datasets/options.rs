//! The options of dataset calls: [`Push`], [`CreateDataset`], [`PullDataset`] and
//! [`CsvImport`].

use std::path::PathBuf;

/// Options of [`Client::push_dataset_with`](crate::Client::push_dataset_with) (spec §3.5).
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

/// Options of [`Client::create_dataset_with`](crate::Client::create_dataset_with).
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

/// Options of [`Client::pull_dataset_with`](crate::Client::pull_dataset_with) (spec §3.8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullDataset {
    /// The project; the client's default project when `None`.
    pub project_name: Option<String>,
    /// The version to read; `None` or `Some(0)` means the latest.
    pub version: Option<u64>,
    /// Only records carrying any of these tags.
    pub tags: Vec<String>,
}

/// Options of [`Client::create_dataset_from_csv`](crate::Client::create_dataset_from_csv) (spec §3.7).
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
