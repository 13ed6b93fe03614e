//! The CSV file of a bulk record upload (E6): a header row naming the columns
//! `input,expected_output,metadata,id` in any order (`expected_output` and `metadata` may
//! be left out), then one record per row, each cell but `id` holding JSON.

use serde_json::Value;

/// One record of a bulk upload.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadRow {
    /// The record id.
    pub id: String,
    /// The input.
    pub input: Value,
    /// The expected output, if any.
    pub expected_output: Option<Value>,
    /// The metadata, if any.
    pub metadata: Option<Value>,
}

/// Why an upload file was refused: the row (the header is row 1) and what is wrong there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("row {row}: {reason}")]
pub struct UploadError {
    /// The 1-based row of the file; the header is row 1.
    pub row: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// The rows of an uploaded CSV file after its header, each with its 1-based row number
/// (the header is row 1). Both upload formats (E6 here, the public API's file upload in
/// [`crate::public`]) read their files through it.
pub(crate) struct CsvRows<'b> {
    reader: csv::Reader<&'b [u8]>,
    headers: csv::StringRecord,
    record: csv::StringRecord,
    row: usize,
}

impl<'b> CsvRows<'b> {
    /// Reads the header of `bytes`.
    pub(crate) fn new(bytes: &'b [u8]) -> Result<Self, UploadError> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
        let headers = reader.headers().cloned().map_err(|err| UploadError {
            row: 1,
            reason: format!("unreadable CSV header: {err}"),
        })?;
        Ok(CsvRows { reader, headers, record: csv::StringRecord::new(), row: 1 })
    }

    /// The index of the column named `name` (surrounding spaces ignored), if any.
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h.trim() == name)
    }

    /// The next row and its number, or `None` after the last.
    pub(crate) fn next_row(&mut self) -> Result<Option<(usize, &csv::StringRecord)>, UploadError> {
        self.row += 1;
        match self.reader.read_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => Ok(Some((self.row, &self.record))),
            Err(err) => Err(UploadError { row: self.row, reason: format!("malformed CSV: {err}") }),
        }
    }
}

/// Parses an upload file into its records. An absent expected output or metadata may also
/// be written as the JSON string `""`, as the reference client does.
pub fn parse_upload(bytes: &[u8]) -> Result<Vec<UploadRow>, UploadError> {
    let header = |reason: &str| UploadError { row: 1, reason: reason.to_owned() };
    let mut csv = CsvRows::new(bytes)?;
    let input = csv.column("input").ok_or_else(|| header("the CSV has no 'input' column"))?;
    let id = csv.column("id").ok_or_else(|| header("the CSV has no 'id' column"))?;
    let (expected, metadata) = (csv.column("expected_output"), csv.column("metadata"));
    let mut rows = Vec::new();
    while let Some((row, record)) = csv.next_row()? {
        let cell = |index: usize, name: &str| -> Result<Value, UploadError> {
            let text = record.get(index).unwrap_or("");
            serde_json::from_str(text).map_err(|err| UploadError {
                row,
                reason: format!("column '{name}' is not valid JSON: {err}"),
            })
        };
        let optional = |index: Option<usize>, name: &str| -> Result<Option<Value>, UploadError> {
            match index {
                None => Ok(None),
                Some(index) => cell(index, name).map(|v| (v != "").then_some(v)),
            }
        };
        rows.push(UploadRow {
            id: record.get(id).unwrap_or("").to_owned(),
            input: cell(input, "input")?,
            expected_output: optional(expected, "expected_output")?,
            metadata: optional(metadata, "metadata")?,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_parse_json_cells_and_name_the_broken_row() {
        let csv = "input,expected_output,metadata,id\r\n\
                   \"{\"\"q\"\": \"\"\\u00e9\"\"}\",\"\"\"\"\"\",\"{}\",a1\r\n\
                   \"[1, 2]\",\"{\"\"a\"\": 1}\",\"\"\"\"\"\",a2\r\n";
        let rows = parse_upload(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].input, serde_json::json!({"q": "é"}));
        assert_eq!(rows[0].expected_output, None);
        assert_eq!(rows[0].metadata, Some(serde_json::json!({})));
        assert_eq!(rows[1].id, "a2");
        assert_eq!(rows[1].metadata, None);
        let broken = "input,expected_output,metadata,id\r\n\"{}\",\"\"\"\"\"\",\"{}\",ok\r\nnot json,x,y,z\r\n";
        let err = parse_upload(broken.as_bytes()).unwrap_err();
        assert_eq!(err.row, 3);
        assert!(err.to_string().starts_with("row 3: column 'input' is not valid JSON"), "{err}");
        let err = parse_upload(b"input,metadata\r\n1,2\r\n").unwrap_err();
        assert_eq!(err.to_string(), "row 1: the CSV has no 'id' column");
    }
}
