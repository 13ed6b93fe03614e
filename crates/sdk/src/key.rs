//! Cache keys: a typed key for the in-memory map, and the reference client's SHA-1 file
//! name for the disk tier (spec §4.1).
//!
//! The hot path never formats or hashes JSON: [`KeyRef`] borrows the prompt id and the
//! selector and hashes like the owned [`Key`], so a lookup allocates nothing.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

/// Which version of a prompt a call selects (spec §4.1 precedence: version, label,
/// resolve, latest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    /// The newest version.
    Latest,
    /// An exact version number.
    Version(u64),
    /// The version carrying a label (deprecated on Datadog).
    Label(Box<str>),
    /// Environment resolution: never written to disk.
    Resolve {
        env: Box<str>,
        targeting_key: Option<Box<str>>,
        /// The attributes, as sorted JSON: part of the identity.
        attributes: Box<str>,
    },
}

/// A borrowed selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SelectorRef<'a> {
    Latest,
    Version(u64),
    Label(&'a str),
    Resolve { env: &'a str, targeting_key: Option<&'a str>, attributes: &'a str },
}

impl Selector {
    pub(crate) fn as_ref(&self) -> SelectorRef<'_> {
        match self {
            Selector::Latest => SelectorRef::Latest,
            Selector::Version(version) => SelectorRef::Version(*version),
            Selector::Label(label) => SelectorRef::Label(label),
            Selector::Resolve { env, targeting_key, attributes } => {
                SelectorRef::Resolve { env, targeting_key: targeting_key.as_deref(), attributes }
            }
        }
    }
}

/// An owned cache key: a prompt id and a selector.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) id: Box<str>,
    pub(crate) selector: Selector,
}

/// A borrowed cache key, for allocation-free lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyRef<'a> {
    pub(crate) id: &'a str,
    pub(crate) selector: SelectorRef<'a>,
}

impl Key {
    #[cfg(test)]
    pub(crate) fn new(id: &str, selector: Selector) -> Self {
        Key { id: id.into(), selector }
    }

    pub(crate) fn as_ref(&self) -> KeyRef<'_> {
        KeyRef { id: &self.id, selector: self.selector.as_ref() }
    }

    /// The reference client's file name stem: 16 hex characters of SHA-1 of the
    /// selector's Python JSON.
    #[cfg(test)]
    pub(crate) fn suffix(&self) -> String {
        self.as_ref().suffix()
    }
}

impl KeyRef<'_> {
    pub(crate) fn to_owned(self) -> Key {
        let selector = match self.selector {
            SelectorRef::Latest => Selector::Latest,
            SelectorRef::Version(version) => Selector::Version(version),
            SelectorRef::Label(label) => Selector::Label(label.into()),
            SelectorRef::Resolve { env, targeting_key, attributes } => Selector::Resolve {
                env: env.into(),
                targeting_key: targeting_key.map(Into::into),
                attributes: attributes.into(),
            },
        };
        Key { id: self.id.into(), selector }
    }

    /// See [`Key::suffix`].
    pub(crate) fn suffix(&self) -> String {
        let mut json = String::with_capacity(32);
        match self.selector {
            SelectorRef::Latest => json.push_str(r#"["latest"]"#),
            SelectorRef::Version(version) => {
                let _ = write!(json, r#"["version", {version}]"#);
            }
            SelectorRef::Label(label) => {
                json.push_str(r#"["label", "#);
                python_string(&mut json, label);
                json.push(']');
            }
            SelectorRef::Resolve { env, targeting_key, attributes } => {
                json.push_str(r#"["resolve", "#);
                python_string(&mut json, env);
                json.push_str(", ");
                match targeting_key {
                    Some(key) => python_string(&mut json, key),
                    None => json.push_str("null"),
                }
                json.push_str(", ");
                json.push_str(attributes);
                json.push(']');
            }
        }
        let digest = Sha1::digest(json.as_bytes());
        let mut out = String::with_capacity(16);
        for byte in &digest[..8] {
            let _ = write!(out, "{byte:02x}");
        }
        out
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_ref().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_ref() == other.as_ref()
    }
}

impl Eq for Key {}

/// Writes `value` as Python's `json.dumps(value, sort_keys=True)` would: separators
/// `", "` and `": "`, keys sorted, non-ASCII as lowercase `\uXXXX` (surrogate pairs
/// beyond the BMP), floats in Python's `repr` form.
pub(crate) fn python_json(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => {
            if let Some(int) = number.as_i64() {
                let _ = write!(out, "{int}");
            } else if let Some(int) = number.as_u64() {
                let _ = write!(out, "{int}");
            } else if let Some(float) = number.as_f64() {
                python_float(out, float);
            }
        }
        Value::String(text) => python_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => python_object(out, map),
    }
}

/// An object with sorted keys (see [`python_json`]).
pub(crate) fn python_object(out: &mut String, map: &Map<String, Value>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    // Python sorts str keys by code point, which is UTF-8 byte order.
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        python_string(out, key);
        out.push_str(": ");
        python_json(out, value);
    }
    out.push('}');
}

fn python_string(out: &mut String, text: &str) {
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
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: shortest round-tripping digits, positional notation for
/// decimal exponents in `-4..16`, otherwise `d.ddde+XX`.
fn python_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // `{:e}` gives the shortest digits: "-1.2345e-7".
    let formatted = format!("{value:e}");
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    out.push_str(sign);
    if (-4..16).contains(&exponent) {
        if exponent < 0 {
            out.push_str("0.");
            for _ in 0..(-exponent - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let point = exponent as usize + 1;
            if digits.len() <= point {
                out.push_str(&digits);
                for _ in digits.len()..point {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resolve(env: &str, key: Option<&str>, attributes: Value) -> Selector {
        let mut text = String::new();
        python_object(&mut text, attributes.as_object().unwrap());
        Selector::Resolve {
            env: env.into(),
            targeting_key: key.map(Into::into),
            attributes: text.into(),
        }
    }

    #[test]
    fn suffixes_match_the_reference_table() {
        let cases = [
            (Selector::Latest, "c4ca0a086f77d3b9"),
            (Selector::Version(1), "b80b064934cae83f"),
            (Selector::Version(3), "4d7c9a79ed77485c"),
            (Selector::Label("production".into()), "4bf41a53d5918864"),
            (Selector::Label("".into()), "ca9ee0ab426c4d89"),
            (resolve("prod", None, json!({})), "06ca4e11c0c06b0e"),
            (resolve("prod", Some("user-1"), json!({"tier": "gold", "n": 3})), "8c7277c98bd4ac2d"),
            (Selector::Label("prod".into()), "cfe710a6c06ed1b2"),
        ];
        for (selector, suffix) in cases {
            assert_eq!(Key::new("p", selector.clone()).suffix(), suffix, "{selector:?}");
        }
    }

    #[test]
    fn python_formatting() {
        let mut out = String::new();
        python_json(
            &mut out,
            &json!({"b": [1, -2, 0.5, 1e20, 1.5e-7, 100.0, 1234567890123456.0, 1e16, 0.0001],
                    "a": "ü\"\\\n😀\u{7f}", "c": null, "d": {"z": true, "y": false}}),
        );
        assert_eq!(
            out,
            r#"{"a": "\u00fc\"\\\n\ud83d\ude00\u007f", "b": [1, -2, 0.5, 1e+20, 1.5e-07, 100.0, 1234567890123456.0, 1e+16, 0.0001], "c": null, "d": {"y": false, "z": true}}"#
        );
    }

    #[test]
    fn borrowed_and_owned_keys_agree() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |value: &dyn Fn(&mut DefaultHasher)| {
            let mut hasher = DefaultHasher::new();
            value(&mut hasher);
            hasher.finish()
        };
        let owned = Key::new("a:b", Selector::Label("x".into()));
        let borrowed = KeyRef { id: "a:b", selector: SelectorRef::Label("x") };
        assert_eq!(hash(&|h| owned.hash(h)), hash(&|h| borrowed.hash(h)));
        assert_eq!(borrowed, owned.as_ref());
        assert_eq!(borrowed.to_owned(), owned);
        let other = KeyRef { id: "a", selector: SelectorRef::Label("b:x") };
        assert_ne!(other, owned.as_ref());
    }
}
