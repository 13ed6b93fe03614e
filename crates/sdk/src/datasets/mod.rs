//! Datasets: a local copy of a dataset's records with change tracking, pushed to the
//! server as a diff (spec §3, endpoints E1–E7).
//!
//! - [`records`]: one record, typed or JSON, and how an edit names it;
//! - [`dataset`]: the local model, its pending changes and its exports;
//! - [`options`]: the options of the calls;
//! - [`calls`]: create, push, pull and delete;
//! - [`upload`]: batch and bulk-upload encodings;
//! - [`csv_import`]: a dataset from a CSV file.

mod calls;
mod csv_import;
mod dataset;
mod options;
mod records;
mod upload;

pub use dataset::Dataset;
pub use options::{CreateDataset, CsvImport, PullDataset, Push};
pub use records::{DatasetRecord, RecordKey, RecordUpdate};
pub use upload::{MAX_BATCH_BYTES, MAX_BATCH_RECORDS};

/// A version number as the wire carries it (a signed integer) read as this crate's
/// version type; a negative number, which no server sends, reads as 0.
pub(crate) fn wire_version(version: i64) -> u64 {
    u64::try_from(version).unwrap_or(0)
}

/// A fresh record id: a UUID4 as 32 lowercase hex digits (spec §3.2).
pub(crate) fn new_id() -> String {
    let mut bits = fastrand::u128(..);
    bits = (bits & !(0xf << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    format!("{bits:032x}")
}
