//! The one escaping path: user text and JSON values become Python literals here and
//! nowhere else (spec §8, D5).

use std::fmt::Write as _;

use crate::json::Json;

/// Renders `text` as an ASCII-only, double-quoted Python string literal.
///
/// Printable ASCII stays as it is (except `\` and `"`), `\n`, `\r` and `\t` keep their
/// short escapes, and every other character is escaped with the full-width `\xHH`,
/// `\uHHHH` or `\UHHHHHHHH` form, in lowercase hex. The result is always one Python
/// `STRING` token, so no value can end the literal, start a comment or smuggle in
/// a line separator, a bidi control or a byte-order mark.
///
/// ```
/// use llmobs_bootstrap::py_str;
///
/// assert_eq!(py_str("say \"hi\"\n"), r#""say \"hi\"\n""#);
/// assert_eq!(py_str("caf\u{e9} \u{1f680}"), r#""caf\xe9 \U0001f680""#);
/// ```
pub fn py_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(ch),
            '\u{0}'..='\u{ff}' => {
                let _ = write!(out, "\\x{:02x}", ch as u32);
            }
            '\u{100}'..='\u{ffff}' => {
                let _ = write!(out, "\\u{:04x}", ch as u32);
            }
            _ => {
                let _ = write!(out, "\\U{:08x}", ch as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Renders a finite double exactly as Python's `repr()` does.
///
/// The digits are the shortest that round-trip. Positional notation is used for decimal
/// exponents from -4 to 15, with at least one digit on each side of the point; other
/// exponents use `d.ddde±XX` with at least two exponent digits.
///
/// ```
/// use llmobs_bootstrap::py_float;
///
/// assert_eq!(py_float(1.0), "1.0");
/// assert_eq!(py_float(1e-7), "1e-07");
/// assert_eq!(py_float(1.5e300), "1.5e+300");
/// assert_eq!(py_float(-0.0), "-0.0");
/// ```
///
/// # Panics
///
/// Panics on NaN or an infinity: the JSON reader rejects those before they get here.
pub fn py_float(value: f64) -> String {
    llmobs_core::pyjson::float_repr(value)
}

/// Renders a JSON value as an inline Python literal (spec §8.2).
///
/// `true`/`false`/`null` become `True`/`False`/`None`, strings go through [`py_str`],
/// integers keep every digit, floats follow [`py_float`], and object keys keep their
/// source order. Separators are `", "` and `": "`, all on one line.
///
/// ```
/// use llmobs_bootstrap::{Json, py_lit};
///
/// let value = Json::parse(r#"{"b": [1.0, 12345678901234567890123, null], "a": "\u00fc"}"#)?;
/// assert_eq!(py_lit(&value), r#"{"b": [1.0, 12345678901234567890123, None], "a": "\xfc"}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn py_lit(value: &Json) -> String {
    let mut out = String::new();
    write_lit(&mut out, value);
    out
}

fn write_lit(out: &mut String, value: &Json) {
    match value {
        Json::Null => out.push_str("None"),
        Json::Bool(true) => out.push_str("True"),
        Json::Bool(false) => out.push_str("False"),
        Json::Int(digits) => out.push_str(digits),
        Json::Float(f) => out.push_str(&py_float(*f)),
        Json::Str(s) => out.push_str(&py_str(s)),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_lit(out, item);
            }
            out.push(']');
        }
        Json::Object(pairs) => {
            out.push('{');
            for (i, (key, item)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&py_str(key));
                out.push_str(": ");
                write_lit(out, item);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_every_hazard_with_full_width_lowercase_hex() {
        assert_eq!(py_str(""), "\"\"");
        assert_eq!(py_str("it's"), "\"it's\"");
        assert_eq!(py_str("a\\b\"c"), r#""a\\b\"c""#);
        assert_eq!(py_str("\r\n\t\0\u{1b}\u{7f}\u{b}\u{c}"), r#""\r\n\t\x00\x1b\x7f\x0b\x0c""#);
        assert_eq!(
            py_str("\u{85}\u{2028}\u{2029}\u{202e}\u{2066}\u{200b}\u{feff}"),
            r#""\x85\u2028\u2029\u202e\u2066\u200b\ufeff""#
        );
        assert_eq!(py_str("\u{1f469}\u{200d}\u{1f4bb}"), r#""\U0001f469\u200d\U0001f4bb""#);
        assert_eq!(py_str("{x}"), "\"{x}\"");
        assert!(py_str("\u{10ffff}é日").is_ascii());
    }

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e-7, "1e-07"),
            (1.5e300, "1.5e+300"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (123.456, "123.456"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-2.5e-5, "-2.5e-05"),
            (12345678.9, "12345678.9"),
            (1234567890123456.7, "1234567890123456.8"),
            (34390023038280.062, "34390023038280.062"),
        ];
        for (value, expected) in cases {
            assert_eq!(py_float(value), expected, "repr of {value:e}");
        }
    }
}
