//! The encodings of a push: batch updates cut by count and size (spec §3.5, §3.6) and
//! the bulk upload's multipart CSV body (E6).

use llmobs_core::datasets::{InsertRecord, UpdateRecord};
use llmobs_core::pyjson;
use serde_json::Value;

use super::{DatasetRecord, new_id};

/// The payload limit of one batch update and the bulk threshold: 5 MiB (spec §3.5).
pub const MAX_BATCH_BYTES: usize = 5 * 1024 * 1024;
/// The most records in one batch update (spec §3.6).
pub const MAX_BATCH_RECORDS: usize = 1000;
/// The multipart boundary of a bulk upload, as the reference client writes it (E6).
pub(super) const BOUNDARY: &str = "----------boundary------";

/// The length of Python's `json.dumps(value, sort_keys=True)` (spec §3.5 estimates).
pub(super) fn py_len(value: &Value, scratch: &mut String) -> usize {
    scratch.clear();
    pyjson::write(scratch, value, true);
    scratch.len()
}

/// Splits wire items into batches of at most [`MAX_BATCH_RECORDS`] items and about
/// [`MAX_BATCH_BYTES`] (Python-style JSON size).
pub(super) fn batches(
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
pub(super) fn upload_row<W: std::io::Write>(
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

pub(super) fn upload_writer<W: std::io::Write>(writer: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(writer)
}

pub(super) fn multipart_head() -> String {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}.csv\"\r\nContent-Type: text/csv\r\n\r\n",
        new_id()
    )
}

pub(super) fn multipart_tail() -> String {
    format!("\r\n--{BOUNDARY}--\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
