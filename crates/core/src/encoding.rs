//! Percent-encodings used on the wire.
//!
//! A prompt id travels as one path segment: every byte outside the RFC 3986
//! unreserved set (`A-Z a-z 0-9 - . _ ~`) becomes `%XX` with upper-case hex, so a `/`
//! inside an id never splits the path. A label travels as a form-encoded query value,
//! where a space becomes `+`. Both match what ddtrace sends (Python's `quote(id,
//! safe="")` and `quote_plus`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Bytes kept as they are in a path segment: the RFC 3986 unreserved set.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Encodes a prompt id (or any value) as a single URL path segment.
///
/// ```
/// assert_eq!(llmobs_core::encoding::path_segment("a/b c:ü"), "a%2Fb%20c%3A%C3%BC");
/// ```
pub fn path_segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Encodes a query value with form encoding: a space becomes `+`.
///
/// ```
/// assert_eq!(llmobs_core::encoding::query_value("with space"), "with+space");
/// assert_eq!(llmobs_core::encoding::query_value("+plus"), "%2Bplus");
/// ```
pub fn query_value(value: &str) -> String {
    // Encode spaces as %20 first, then turn exactly those into '+'. A literal '+' in the
    // input was already encoded as %2B, so no ambiguity is possible.
    utf8_percent_encode(value, SEGMENT).to_string().replace("%20", "+")
}

/// Decodes a percent-encoded path segment, as the server does after splitting on `/`.
///
/// Returns `None` when the decoded bytes are not UTF-8.
pub fn decode_path_segment(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment).decode_utf8().ok().map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The shared table of encoding cases (`tests/shared/encoding.json`): `(raw, encoded)`
    /// pairs of its `list`, encoded as `field`.
    fn cases(list: &str, field: &str) -> Vec<(String, String)> {
        let table: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/shared/encoding.json")).unwrap();
        let case = |c: &serde_json::Value| {
            (c["raw"].as_str().unwrap().to_owned(), c[field].as_str().unwrap().to_owned())
        };
        table[list].as_array().unwrap().iter().map(case).collect()
    }

    #[test]
    fn segments_match_the_reference_client() {
        let mut cases = cases("ids", "segment");
        assert!(cases.len() >= 10);
        // Dot segments stay as they are (no client sends one as an id).
        cases.push(("..".into(), "..".into()));
        for (raw, encoded) in cases {
            assert_eq!(path_segment(&raw), encoded, "encoding {raw:?}");
        }
    }

    #[test]
    fn query_values_match_the_reference_client() {
        let cases = cases("labels", "query");
        assert!(cases.len() >= 5);
        for (raw, encoded) in cases {
            assert_eq!(query_value(&raw), encoded, "encoding {raw:?}");
        }
    }

    proptest! {
        #[test]
        fn a_segment_never_holds_a_slash_and_round_trips(value in "\\PC*") {
            let encoded = path_segment(&value);
            prop_assert!(!encoded.contains('/'));
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            prop_assert_eq!(decode_path_segment(&encoded), Some(value));
        }

        #[test]
        fn a_query_value_round_trips_through_form_decoding(value in "\\PC*") {
            let encoded = query_value(&value);
            let decoded = percent_encoding::percent_decode_str(&encoded.replace('+', "%20"))
                .decode_utf8()
                .unwrap()
                .into_owned();
            prop_assert_eq!(decoded, value);
        }
    }
}
