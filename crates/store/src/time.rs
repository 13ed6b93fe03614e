//! Timestamps as stored: RFC 3339, UTC, microseconds, so that text order is time order;
//! and span times (nanoseconds) written for people.

use std::time::SystemTime;

/// Now, as stored.
pub(crate) fn now() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

/// Now, in nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A time in nanoseconds since the Unix epoch as RFC 3339 (UTC, milliseconds); times
/// before the epoch read as the epoch.
pub fn format_ns(ns: i64) -> String {
    let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(ns.max(0) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}
