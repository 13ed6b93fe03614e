//! CSV and TSV datasets (spec §5.3, D9): the file is checked and its columns classified
//! here, but it is read again by the SDK when the experiment runs, so no cell reaches
//! the output. [`CsvError`] says why a file cannot be used.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use crate::dataset::index_list;
use crate::literal::py_str;
use crate::pii::{PiiCounts, detect};

/// Why a CSV or TSV file cannot be used as a dataset. The messages leave out the path (the
/// caller adds it) and name the 0-based data row where one applies.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file cannot be opened or read.
    #[error("cannot read the file: {0}")]
    Read(#[source] io::Error),
    /// The file holds nothing, not even a header.
    #[error("the CSV file is empty")]
    Empty,
    /// A line is not UTF-8; `place` is `the header` or `data row N`.
    #[error("not UTF-8 (in {place})")]
    NotUtf8 {
        /// Where: `the header` or `data row N`.
        place: String,
    },
    /// A line cannot be parsed as CSV; `place` is `the header` or `data row N`.
    #[error("cannot parse {place}: {message}")]
    Parse {
        /// Where: `the header` or `data row N`.
        place: String,
        /// The parser's reason.
        message: String,
    },
    /// Every header cell is empty.
    #[error("the CSV header is empty")]
    EmptyHeader,
    /// The header cell at this 0-based position is empty: every column needs a name.
    #[error("header cell {0} is empty; every column needs a name")]
    EmptyHeaderCell(usize),
    /// Two columns have this name.
    #[error("duplicate header name {}", py_str(.0))]
    DuplicateHeader(String),
    /// A data row has a different number of fields from the header.
    #[error("data row {row} has {fields} fields but the header has {expected}")]
    FieldCount {
        /// The 0-based data row.
        row: usize,
        /// Its number of fields.
        fields: usize,
        /// The header's number of fields.
        expected: usize,
    },
    /// The file has a header and nothing after it.
    #[error("the CSV file has a header but no data rows")]
    NoDataRows,
    /// No column can be the input: every one is an expected-output or id column.
    #[error(
        "no input column: no header matches prompt|input|query|question and every column is an \
         expected-output or id column"
    )]
    NoInputColumn,
}

/// A CSV or TSV file, classified for `LLMObs.create_dataset_from_csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvDataset {
    /// The canonical absolute path (symlinks resolved), as the output passes it.
    pub path: String,
    /// The dataset name: the file stem.
    pub name: String,
    /// The field delimiter: `,`, `;` or tab.
    pub delimiter: char,
    /// Input columns, in header order (runtime names: a BOM stays on the first one).
    pub input_columns: Vec<String>,
    /// Expected-output columns, in header order. The first is the primary one.
    pub expected_columns: Vec<String>,
    /// Metadata columns, in header order.
    pub metadata_columns: Vec<String>,
    /// The `id` column, if the header has one.
    pub id_column: Option<String>,
    /// Number of data rows.
    pub rows: usize,
    /// What the generator had to guess or wants the user to know, in the spec's order.
    pub warnings: Vec<String>,
}

impl CsvDataset {
    /// The first expected column: the one the evaluators compare with.
    pub fn primary_expected(&self) -> Option<&str> {
        self.expected_columns.first().map(String::as_str)
    }
}

#[derive(PartialEq)]
enum Role {
    Expected,
    Input,
    Id,
    Metadata,
}

fn role(header: &str, id_taken: bool) -> Role {
    let lower = header.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&["expected", "gold", "truth", "answer"]) {
        Role::Expected
    } else if has(&["prompt", "input", "query", "question"]) {
        Role::Input
    } else if lower == "id" && !id_taken {
        Role::Id
    } else {
        Role::Metadata
    }
}

/// Checks and classifies a CSV (`tab` false) or TSV (`tab` true) file.
///
/// `canonical` is the canonical absolute path to embed. Errors are messages without the
/// path (the caller adds it) that name the 0-based data row where one applies.
pub fn analyze(file: &Path, canonical: String, tab: bool) -> Result<CsvDataset, CsvError> {
    let open = || File::open(file).map_err(CsvError::Read);
    let mut first_line = Vec::new();
    BufReader::new(open()?).read_until(b'\n', &mut first_line).map_err(CsvError::Read)?;
    if first_line.is_empty() {
        return Err(CsvError::Empty);
    }
    let bom = first_line.starts_with(b"\xef\xbb\xbf");
    let mut warnings = Vec::new();
    let delimiter = if tab {
        '\t'
    } else if !first_line.contains(&b',') && first_line.contains(&b';') {
        warnings.push(
            "The CSV header uses \";\" as delimiter; emitting csv_delimiter=\";\".".to_owned(),
        );
        ';'
    } else {
        ','
    };

    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter as u8)
        .has_headers(false)
        .flexible(true)
        .from_reader(open()?);
    let mut record = csv::StringRecord::new();
    let read =
        |reader: &mut csv::Reader<File>, record: &mut csv::StringRecord, row: Option<usize>| {
            reader.read_record(record).map_err(|e| {
                let place = match row {
                    None => "the header".to_owned(),
                    Some(row) => format!("data row {row}"),
                };
                match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => CsvError::NotUtf8 { place },
                    _ => CsvError::Parse { place, message: e.to_string() },
                }
            })
        };
    if !read(&mut reader, &mut record, None)? {
        return Err(CsvError::Empty);
    }
    let mut headers: Vec<String> = record.iter().map(str::to_owned).collect();
    if headers.iter().all(String::is_empty) {
        return Err(CsvError::EmptyHeader);
    }
    let mut seen = HashSet::new();
    for (i, header) in headers.iter().enumerate() {
        if header.is_empty() {
            return Err(CsvError::EmptyHeaderCell(i));
        }
        if !seen.insert(header.as_str()) {
            return Err(CsvError::DuplicateHeader(header.clone()));
        }
    }

    let mut rows = 0;
    let mut pii_rows = Vec::new();
    let mut pii = PiiCounts::default();
    while read(&mut reader, &mut record, Some(rows))? {
        if record.len() != headers.len() {
            return Err(CsvError::FieldCount {
                row: rows,
                fields: record.len(),
                expected: headers.len(),
            });
        }
        let mut counts = PiiCounts::default();
        for cell in record.iter() {
            counts.add(&detect(cell));
        }
        if counts.total() > 0 {
            pii_rows.push(rows);
            pii.add(&counts);
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(CsvError::NoDataRows);
    }

    if bom {
        // csv strips the BOM; the SDK does not, so the runtime name keeps it.
        headers[0].insert(0, '\u{feff}');
        warnings.push(format!(
            "The CSV starts with a UTF-8 byte-order mark; its first column is named {} at \
             runtime. Re-save the file without BOM for a clean name.",
            py_str(&headers[0])
        ));
    }

    let mut roles = Vec::with_capacity(headers.len());
    let mut id_taken = false;
    for header in &headers {
        let r = role(header.trim_start_matches('\u{feff}'), id_taken);
        id_taken |= r == Role::Id;
        roles.push(r);
    }
    if !roles.contains(&Role::Input) {
        let Some(fallback) = roles.iter().position(|r| *r == Role::Metadata) else {
            return Err(CsvError::NoInputColumn);
        };
        roles[fallback] = Role::Input;
        warnings.push(format!(
            "No input column matched (prompt|input|query|question); using {} as input.",
            py_str(&headers[fallback])
        ));
    }
    let pick = |wanted: Role| -> Vec<String> {
        headers.iter().zip(&roles).filter(|(_, r)| **r == wanted).map(|(h, _)| h.clone()).collect()
    };
    let expected_columns = pick(Role::Expected);
    if expected_columns.is_empty() {
        warnings.push(
            "No expected-output column matched (expected|gold|truth|answer); evaluators that \
             compare with the expected output will fail until you add one."
                .to_owned(),
        );
    }
    warnings.push(format!(
        "The CSV file {} is read when the experiment runs: keep it there.",
        py_str(&canonical)
    ));
    if !pii_rows.is_empty() {
        warnings.push(format!(
            "PII-like text found in CSV rows {} ({pii}); the CSV is uploaded unchanged when \
             the experiment runs.",
            index_list(&pii_rows)
        ));
    }

    Ok(CsvDataset {
        name: crate::dataset::file_stem(file),
        path: canonical,
        delimiter,
        input_columns: pick(Role::Input),
        expected_columns,
        metadata_columns: pick(Role::Metadata),
        id_column: pick(Role::Id).into_iter().next(),
        rows,
        warnings,
    })
}
