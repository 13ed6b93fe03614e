//! A strict RFC 8259 reader that keeps what the Python output needs (spec §5.2, D6):
//! key order, exact integers, floats as floats, and errors for duplicate keys, lone
//! surrogates, non-finite numbers and nesting deeper than 100 levels.

use std::collections::HashSet;
use std::fmt;

/// Deepest array or object nesting accepted (D20).
pub const MAX_DEPTH: usize = 100;

/// Most digits an integer may have: Python refuses to compile longer int literals
/// (`sys.get_int_max_str_digits()`, 4300 by default).
pub const MAX_INT_DIGITS: usize = 4300;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer token (no `.`, `e` or `E`), as the canonical decimal text of its exact
    /// value, of any size. `-0` is stored as `0`.
    Int(String),
    /// A number token with a fraction or an exponent, as the nearest finite double.
    Float(f64),
    /// A string, decoded.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object: its members in source order. Keys are unique.
    Object(Vec<(String, Json)>),
}

/// Why a JSON text was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// What is wrong.
    pub message: String,
    /// 1-based line of the offending token.
    pub line: usize,
    /// 1-based column (in characters) of the offending token.
    pub column: usize,
    /// 0-based index of the top-level array element (the dataset record) the problem
    /// is in, for the errors that concern a value rather than the syntax.
    pub record: Option<usize>,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(record) = self.record {
            write!(f, "record {record}: ")?;
        }
        write!(f, "{} at line {}, column {}", self.message, self.line, self.column)
    }
}

impl std::error::Error for JsonError {}

impl Json {
    /// Parses one strict JSON text. Surrounding whitespace is allowed; a byte-order mark
    /// is not (strip it first).
    ///
    /// ```
    /// use llmobs_bootstrap::Json;
    ///
    /// let err = Json::parse(r#"[{"a": 1, "a": 2}]"#).unwrap_err();
    /// assert_eq!(err.record, Some(0));
    /// assert!(err.message.contains("duplicate key"));
    /// ```
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let mut parser = Parser { text, bytes: text.as_bytes(), pos: 0, depth: 0, record: None };
        parser.skip_ws();
        let value = parser.value()?;
        parser.skip_ws();
        if parser.pos < parser.bytes.len() {
            return Err(parser.syntax("unexpected text after the JSON value", parser.pos));
        }
        Ok(value)
    }

    /// A short English name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Int(_) | Json::Float(_) => "a number",
            Json::Str(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    record: Option<usize>,
}

impl Parser<'_> {
    fn position(&self, at: usize) -> (usize, usize) {
        let before = &self.text[..at.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    fn syntax(&self, message: impl Into<String>, at: usize) -> JsonError {
        let (line, column) = self.position(at);
        JsonError { message: message.into(), line, column, record: None }
    }

    fn semantic(&self, message: impl Into<String>, at: usize) -> JsonError {
        JsonError { record: self.record, ..self.syntax(message, at) }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn unexpected(&self, expected: &str) -> JsonError {
        match self.text[self.pos..].chars().next() {
            None => self.syntax(format!("unexpected end of input, expected {expected}"), self.pos),
            Some(c) => self.syntax(
                format!("unexpected {}, expected {expected}", crate::py_str(&c.to_string())),
                self.pos,
            ),
        }
    }

    fn value(&mut self) -> Result<Json, JsonError> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.keyword("true", Json::Bool(true)),
            Some(b'f') => self.keyword("false", Json::Bool(false)),
            Some(b'n') => self.keyword("null", Json::Null),
            _ => Err(self.unexpected("a JSON value")),
        }
    }

    fn keyword(&mut self, word: &str, value: Json) -> Result<Json, JsonError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.unexpected("a JSON value"))
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.semantic(format!("nesting deeper than {MAX_DEPTH} levels"), self.pos));
        }
        Ok(())
    }

    fn array(&mut self) -> Result<Json, JsonError> {
        self.enter()?;
        let top = self.depth == 1;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                if top {
                    self.record = Some(items.len());
                }
                self.skip_ws();
                items.push(self.value()?);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.unexpected("',' or ']'")),
                }
            }
        }
        if top {
            self.record = None;
        }
        self.depth -= 1;
        Ok(Json::Array(items))
    }

    fn object(&mut self) -> Result<Json, JsonError> {
        self.enter()?;
        self.pos += 1;
        let mut pairs = Vec::new();
        let mut seen = HashSet::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return Err(self.unexpected("a string key"));
                }
                let key_at = self.pos;
                let key = self.string()?;
                if !seen.insert(key.clone()) {
                    return Err(
                        self.semantic(format!("duplicate key {}", crate::py_str(&key)), key_at)
                    );
                }
                self.skip_ws();
                if self.peek() != Some(b':') {
                    return Err(self.unexpected("':'"));
                }
                self.pos += 1;
                self.skip_ws();
                let value = self.value()?;
                pairs.push((key, value));
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.unexpected("',' or '}'")),
                }
            }
        }
        self.depth -= 1;
        Ok(Json::Object(pairs))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(digits) = digits else {
            return Err(self.syntax("invalid \\u escape", self.pos));
        };
        self.pos += 4;
        Ok(u32::from_str_radix(digits, 16).expect("four hex digits"))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                None => return Err(self.syntax("unterminated string", start)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let escape_at = self.pos;
                    self.pos += 1;
                    let Some(kind) = self.peek() else {
                        return Err(self.syntax("unterminated string", start));
                    };
                    self.pos += 1;
                    match kind {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape(escape_at)?),
                        _ => return Err(self.syntax("invalid escape", escape_at)),
                    }
                }
                Some(_) => {
                    return Err(self.syntax("raw control character in a string", self.pos));
                }
            }
        }
    }

    fn unicode_escape(&mut self, escape_at: usize) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                let pair = self.text[self.pos..].starts_with("\\u");
                let low = if pair {
                    let save = self.pos;
                    self.pos += 2;
                    let low = self.hex4()?;
                    if (0xDC00..=0xDFFF).contains(&low) {
                        Some(low)
                    } else {
                        self.pos = save;
                        None
                    }
                } else {
                    None
                };
                match low {
                    Some(low) => 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00),
                    None => {
                        return Err(self.semantic(
                            format!("lone surrogate \\u{first:04x} in a string"),
                            escape_at,
                        ));
                    }
                }
            }
            0xDC00..=0xDFFF => {
                return Err(
                    self.semantic(format!("lone surrogate \\u{first:04x} in a string"), escape_at)
                );
            }
            other => other,
        };
        Ok(char::from_u32(code).expect("surrogates are handled above"))
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.syntax("invalid number: leading zero", start));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.syntax("invalid number", start)),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.syntax("invalid number: digits expected after '.'", start));
            }
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.syntax("invalid number: digits expected in the exponent", start));
            }
            is_float = true;
        }
        let token = &self.text[start..self.pos];
        if is_float {
            let value: f64 = token.parse().expect("the grammar above only admits valid floats");
            if !value.is_finite() {
                return Err(self.semantic(
                    format!("number {token} is out of range for a 64-bit float"),
                    start,
                ));
            }
            return Ok(Json::Float(value));
        }
        let digits = self.pos - int_start;
        if digits > MAX_INT_DIGITS {
            return Err(self.semantic(
                format!(
                    "integer with {digits} digits: Python source accepts at most {MAX_INT_DIGITS}"
                ),
                start,
            ));
        }
        Ok(Json::Int(if token == "-0" { "0".to_owned() } else { token.to_owned() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> JsonError {
        Json::parse(text).unwrap_err()
    }

    #[test]
    fn values_keep_order_and_exact_numbers() {
        let value =
            Json::parse(r#" {"z": 1, "a": [true, false, null, -0, 1.0, 1e-400]} "#).unwrap();
        assert_eq!(
            value,
            Json::Object(vec![
                ("z".into(), Json::Int("1".into())),
                (
                    "a".into(),
                    Json::Array(vec![
                        Json::Bool(true),
                        Json::Bool(false),
                        Json::Null,
                        Json::Int("0".into()),
                        Json::Float(1.0),
                        Json::Float(0.0),
                    ])
                ),
            ])
        );
        assert_eq!(
            Json::parse("-9223372036854775809").unwrap(),
            Json::Int("-9223372036854775809".into())
        );
    }

    #[test]
    fn strings_decode_escapes_and_surrogate_pairs() {
        assert_eq!(
            Json::parse(r#""a\"\\\/\b\f\n\r\t\u0041\ud83d\ude80\u00e9""#).unwrap(),
            Json::Str("a\"\\/\u{8}\u{c}\n\r\tA\u{1f680}é".into())
        );
    }

    #[test]
    fn refusals_carry_positions_and_records() {
        let e = err("[1,\n 2,]");
        assert_eq!((e.line, e.column, e.record), (2, 4, None));
        assert!(e.message.contains("expected a JSON value"), "{e}");

        let e = err(r#"[{"a": 1}, {"b": {"c": 1, "c": 2}}]"#);
        assert_eq!(e.record, Some(1));
        assert!(e.message.contains("duplicate key \"c\""), "{e}");

        let e = err(r#"[{"a": "\ud800"}]"#);
        assert_eq!(e.record, Some(0));
        assert!(e.message.contains("lone surrogate"), "{e}");
        assert_eq!(err(r#"["\udc00x"]"#).record, Some(0));
        assert!(err(r#"["\ud800\u0041"]"#).message.contains("lone surrogate"));

        for bad in ["[NaN]", "[Infinity]", "[-Infinity]", "[01]", "[1.]", "[.5]", "[+1]", "{'a':1}"]
        {
            assert!(Json::parse(bad).is_err(), "{bad} must be refused");
        }
        let e = err("[1e400]");
        assert_eq!(e.record, Some(0));
        assert!(e.message.contains("out of range"), "{e}");

        assert!(err("[\"a\u{1}\"]").message.contains("control character"));
        assert!(err("[1] x").message.contains("after the JSON value"));
        assert!(err("[1] // c").message.contains("after the JSON value"));
    }

    #[test]
    fn nesting_is_limited_to_one_hundred_levels() {
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(Json::parse(&ok).is_ok());
        let deep = format!("[{}{}]", "[".repeat(100), "]".repeat(100));
        let e = err(&deep);
        assert_eq!(e.record, Some(0));
        assert!(e.message.contains("nesting"), "{e}");
    }

    #[test]
    fn huge_integers_are_exact_up_to_pythons_limit() {
        let long = "9".repeat(MAX_INT_DIGITS);
        assert_eq!(Json::parse(&long).unwrap(), Json::Int(long.clone()));
        let e = err(&format!("[{long}9]"));
        assert!(e.message.contains("4300"), "{e}");
    }
}
