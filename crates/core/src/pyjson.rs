//! Python's JSON dialect, for the places where bytes must match what the reference client
//! computes: `json.dumps` with its default separators (`", "`, `": "`), `ensure_ascii`,
//! optional `sort_keys`, and floats written as Python's `repr()`; also the `indent=N`
//! layout ([`dumps_indent`]) and `str()` of a JSON scalar ([`str_of`]).
//!
//! The SDK derives disk-cache file names from it (so a cache directory can be shared with
//! ddtrace) and estimates push sizes with it; the bootstrap generator writes Python float
//! literals with [`float_repr`].
//!
//! ```
//! use llmobs_core::pyjson;
//! use serde_json::json;
//!
//! assert_eq!(pyjson::dumps(&json!({"b": 1.0, "a": "é"}), true), r#"{"a": "\u00e9", "b": 1.0}"#);
//! assert_eq!(pyjson::float_repr(1e-7), "1e-07");
//! ```

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// `json.dumps(value, sort_keys=sort_keys)` as Python writes it.
pub fn dumps(value: &Value, sort_keys: bool) -> String {
    let mut out = String::new();
    write(&mut out, value, sort_keys);
    out
}

/// Appends `json.dumps(value, sort_keys=sort_keys)` to `out`.
pub fn write(out: &mut String, value: &Value, sort_keys: bool) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => write_float(out, f),
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(out, item, sort_keys);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map, sort_keys),
    }
}

/// Appends an object as `json.dumps` writes it. Python sorts `str` keys by code point,
/// which is the byte order of their UTF-8.
pub fn write_object(out: &mut String, map: &Map<String, Value>, sort_keys: bool) {
    let mut entries: Vec<_> = map.iter().collect();
    if sort_keys {
        entries.sort_by(|a, b| a.0.cmp(b.0));
    }
    out.push('{');
    for (i, (key, item)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(out, key);
        out.push_str(": ");
        write(out, item, sort_keys);
    }
    out.push('}');
}

/// `json.dumps(value, indent=indent)` as Python writes it: one member per line indented
/// by `indent` spaces per level, separators `","` and `": "` (no space before a line
/// break), empty containers as `[]` / `{}`, keys in their order, `ensure_ascii`.
pub fn dumps_indent(value: &Value, indent: usize) -> String {
    let mut out = String::new();
    write_indent(&mut out, value, indent, 0);
    out
}

fn write_indent(out: &mut String, value: &Value, indent: usize, level: usize) {
    let newline = |out: &mut String, level: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', indent * level));
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_indent(out, item, indent, level + 1);
            }
            newline(out, level);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_str(out, key);
                out.push_str(": ");
                write_indent(out, item, indent, level + 1);
            }
            newline(out, level);
            out.push('}');
        }
        other => write(out, other, false),
    }
}

/// Python's `str()` of a decoded JSON scalar: text as is, `True` / `False`, `None`,
/// integers, floats as `repr()` (`nan`, `inf`, `-inf` when not finite). Lists and dicts
/// are written as [`dumps`] writes them (Python's `str()` would give their `repr()`).
pub fn str_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "None".to_owned(),
        Value::Bool(b) => (if *b { "True" } else { "False" }).to_owned(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => {
                if f.is_nan() {
                    "nan".to_owned()
                } else if f.is_infinite() {
                    (if f > 0.0 { "inf" } else { "-inf" }).to_owned()
                } else {
                    float_repr(f)
                }
            }
            _ => n.to_string(),
        },
        other => dumps(other, false),
    }
}

/// Python's `str.isspace()` of one character, which `str.strip()` and the regex `\s`
/// use: Unicode whitespace plus the separators U+001C–U+001F.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Appends a JSON string with `ensure_ascii`: everything outside printable ASCII becomes
/// `\uXXXX` (UTF-16 units, lower-case hex), with the short escapes Python uses.
pub fn write_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// A float as `json.dumps` writes it: [`float_repr`], or `NaN` / `Infinity` /
/// `-Infinity`.
fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        out.push_str(&float_repr(value));
    }
}

/// A finite double exactly as Python's `repr()` writes it: the shortest digits that
/// round-trip (the nearest such, ties to even, as Python picks), positional notation for
/// decimal exponents -4 to 15 with a digit on each side of the point, otherwise
/// `d.ddde±XX`.
///
/// # Panics
///
/// Panics on NaN or an infinity, which have no `repr()` literal form here.
pub fn float_repr(value: f64) -> String {
    assert!(value.is_finite(), "float_repr needs a finite value");
    // `{:e}` prints the shortest round-trip digits. When two strings of that length
    // round-trip, Python picks the one nearest the exact value, ties to even; Rust's
    // shortest mode may pick the other. The correctly rounded `{:.N$e}` is that nearest
    // one, used whenever it round-trips.
    let shortest = format!("{value:e}");
    let digits =
        shortest.split('e').next().unwrap_or_default().bytes().filter(u8::is_ascii_digit).count();
    let nearest = format!("{value:.*e}", digits.saturating_sub(1));
    let sci = match nearest.parse::<f64>() {
        Ok(back) if back.to_bits() == value.to_bits() => nearest,
        _ => shortest,
    };
    let (mantissa, exponent) = sci.split_once('e').expect("LowerExp always has an exponent");
    let exponent: i32 = exponent.parse().expect("LowerExp exponent is an integer");
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exponent) {
        if exponent < 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
            out.push_str(&digits);
        } else {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (123456789012345.0, "123456789012345.0"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e300, "1.5e+300"),
            (0.2, "0.2"),
            (5e-324, "5e-324"),
            (9007199254740993.0, "9007199254740992.0"),
        ];
        for (value, python) in cases {
            assert_eq!(float_repr(value), python, "repr({value:e})");
        }
    }

    #[test]
    fn dumps_matches_python_defaults() {
        let value = json!({"z": [1, 2.5, null, true], "a": {"k": "ü😀\n\"x\""}});
        assert_eq!(
            dumps(&value, true),
            r#"{"a": {"k": "\u00fc\ud83d\ude00\n\"x\""}, "z": [1, 2.5, null, true]}"#
        );
        assert_eq!(dumps(&value, false).chars().nth(2), Some('z'));
        assert_eq!(dumps(&json!(["latest"]), true), r#"["latest"]"#);
    }

    #[test]
    fn indented_dumps_match_python() {
        // json.dumps(v, indent=2) in CPython 3.11
        let value =
            json!({"q": "caf\u{e9} \u{1f600}", "n": [1, 2.5, [], {}], "d": {"k": null, "b": true}});
        assert_eq!(
            dumps_indent(&value, 2),
            "{\n  \"q\": \"caf\\u00e9 \\ud83d\\ude00\",\n  \"n\": [\n    1,\n    2.5,\n    [],\n    {}\n  ],\n  \"d\": {\n    \"k\": null,\n    \"b\": true\n  }\n}"
        );
        assert_eq!(dumps_indent(&json!([]), 2), "[]");
        assert_eq!(dumps_indent(&json!({}), 4), "{}");
        assert_eq!(dumps_indent(&json!(["a"]), 4), "[\n    \"a\"\n]");
        assert_eq!(dumps_indent(&json!(1e16), 2), "1e+16");
    }

    #[test]
    fn str_of_scalars_matches_python() {
        assert_eq!(str_of(&json!("plain")), "plain");
        assert_eq!(str_of(&json!(true)), "True");
        assert_eq!(str_of(&json!(false)), "False");
        assert_eq!(str_of(&Value::Null), "None");
        assert_eq!(str_of(&json!(42)), "42");
        assert_eq!(str_of(&json!(-7)), "-7");
        assert_eq!(str_of(&json!(0.5)), "0.5");
        assert_eq!(str_of(&json!(1.0)), "1.0");
        assert_eq!(str_of(&json!(1e-5)), "1e-05");
    }
}
