//! Timestamps as stored: RFC 3339, UTC, microseconds, so that text order is time order.

use std::time::SystemTime;

/// Now, as stored.
pub(crate) fn now() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}
