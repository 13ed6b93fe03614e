//! Creating a dataset from a CSV file (spec §3.7): the file converted row by row into a
//! temporary upload file, then streamed to the server.

use std::borrow::Borrow;
use std::io::Write as _;
use std::path::Path;

use serde_json::Value;

use super::Dataset;
use super::new_id;
use super::options::CsvImport;
use super::upload::{multipart_head, multipart_tail, upload_writer};
use crate::{Client, Error, Result};
use llmobs_core::datasets::{ColumnMap, ColumnRole};
use llmobs_core::pyjson;

fn csv_error(path: &Path, err: csv::Error) -> Error {
    match err.into_kind() {
        csv::ErrorKind::Io(source) => Error::Io { path: path.to_owned(), source },
        other => Error::Csv { detail: format!("{}: {other:?}", path.display()) },
    }
}

impl Client {
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
    pub async fn create_dataset_from_csv(&self, import: impl Borrow<CsvImport>) -> Result<Dataset> {
        let import = import.borrow();
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
    let columns = ColumnMap::new(
        &headers,
        &import.input_columns,
        &import.expected_output_columns,
        &import.metadata_columns,
        import.id_column.as_deref(),
    )
    .map_err(|missing| {
        let what = match missing.role {
            ColumnRole::Input => "input",
            ColumnRole::ExpectedOutput => "expected output",
            ColumnRole::Metadata => "metadata",
            ColumnRole::Id => "id",
        };
        Error::Csv {
            detail: format!("{what} column '{}' is not in the CSV header", missing.column),
        }
    })?;
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
        let object = |role: ColumnRole, row: &csv::StringRecord, out: &mut String| {
            out.clear();
            pyjson::write(out, &Value::Object(columns.object(role, |i| row.get(i))), false);
        };
        while reader.read_record(&mut row).map_err(|err| csv_error(path, err))? {
            object(ColumnRole::Input, &row, &mut cells[0]);
            object(ColumnRole::ExpectedOutput, &row, &mut cells[1]);
            object(ColumnRole::Metadata, &row, &mut cells[2]);
            let id = match columns.id(|i| row.get(i)) {
                Some(id) => id.to_owned(),
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
