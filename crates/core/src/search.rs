//! Datadog's search syntax for the query plane (`filter[query]` of the spans search), and
//! the time bounds its requests take (`now-15m`, RFC 3339, epoch milliseconds).
//!
//! [`parse`] turns a query string into a [`Query`] tree; it never panics and rejects what
//! it cannot read with a [`SyntaxError`] that says where. The grammar, loosest first:
//!
//! ```text
//! query := or
//! or    := and ("OR" and)*
//! and   := unary (["AND"] unary)*          adjacent terms are ANDed
//! unary := ("-" | "NOT") unary | "(" or ")" | term
//! term  := [@]field ":" value | value       a value alone is free text
//! value := word | "quoted phrase"           `*` and `?` in a word are wildcards
//! ```
//!
//! What the fields mean (which column, which tag) is the store's business; this module only
//! reads the syntax.
//!
//! ```
//! use llmobs_core::search::{parse, Query, Term, Value};
//!
//! let query = parse("@ml_app:shop -status:error")?;
//! assert_eq!(query, Query::And(vec![
//!     Query::Term(Term::Field { name: "ml_app".into(), at: true, value: Value::Exact("shop".into()) }),
//!     Query::Not(Box::new(Query::Term(Term::Field {
//!         name: "status".into(), at: false, value: Value::Exact("error".into()) }))),
//! ]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Matches everything (an empty query).
    All,
    /// One condition.
    Term(Term),
    /// The inner query does not match.
    Not(Box<Query>),
    /// Every one matches (at least two).
    And(Vec<Query>),
    /// At least one matches (at least two).
    Or(Vec<Query>),
}

/// One condition of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// `field:value` or `@field:value`.
    Field {
        /// The field name, without `@`.
        name: String,
        /// Whether it was written `@field` (an attribute, not a tag).
        at: bool,
        /// What the field must be.
        value: Value,
    },
    /// Free text, searched for in a span's input and output.
    Text(Value),
}

/// The value a term looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A word, matched whole.
    Exact(String),
    /// A quoted phrase: its words in order (for a field, the exact text).
    Phrase(String),
    /// A word with `*` (any run) or `?` (one character) wildcards.
    Wildcard(String),
}

impl Value {
    /// The text as written, without quotes.
    pub fn text(&self) -> &str {
        match self {
            Value::Exact(text) | Value::Phrase(text) | Value::Wildcard(text) => text,
        }
    }
}

/// Why a query string does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at character {position}")]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// Where, in characters from the start.
    pub position: usize,
}

/// The longest query string [`parse`] reads, in bytes.
pub const MAX_QUERY_BYTES: usize = 4096;
/// How deeply parentheses and negations may nest.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Minus,
    And,
    Or,
    Not,
    /// A term: optional `field:` and its value.
    Term(Term),
}

/// Parses a query string. Blank input is [`Query::All`].
pub fn parse(input: &str) -> Result<Query, SyntaxError> {
    if input.len() > MAX_QUERY_BYTES {
        return Err(SyntaxError {
            message: format!("query is longer than {MAX_QUERY_BYTES} bytes"),
            position: MAX_QUERY_BYTES,
        });
    }
    let tokens = lex(input)?;
    if tokens.is_empty() {
        return Ok(Query::All);
    }
    let mut parser = Parser { tokens, at: 0, depth: 0, end: input.chars().count() };
    let query = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(query),
        Some((Token::Close, position)) => {
            Err(SyntaxError { message: "unmatched ')'".into(), position: *position })
        }
        Some((_, position)) => {
            Err(SyntaxError { message: "unexpected input".into(), position: *position })
        }
    }
}

/// The query text of an exact `@name:"value"` term: `value` quoted, its quotes and
/// backslashes escaped, so any text (spaces, wildcards, operators) matches as it is.
pub fn exact_term(name: &str, value: &str) -> String {
    let mut out = format!("@{name}:\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | '"')
}

/// Reads a quoted string starting after its opening quote; returns it and the index
/// after the closing quote.
fn quoted(chars: &[char], mut i: usize, start: usize) -> Result<(String, usize), SyntaxError> {
    let mut text = String::new();
    while i < chars.len() {
        match chars[i] {
            '"' => return Ok((text, i + 1)),
            '\\' if i + 1 < chars.len() => {
                text.push(chars[i + 1]);
                i += 2;
            }
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    Err(SyntaxError { message: "unterminated quoted phrase".into(), position: start })
}

/// A word's value: wildcard when it has an unescaped `*` or `?` (escapes of `*`, `?` and
/// `\\` then kept, so the store can tell them from wildcards), else the word unescaped.
fn word_value(raw: &str) -> Value {
    let mut literal = String::with_capacity(raw.len());
    let mut pattern = String::with_capacity(raw.len());
    let mut wild = false;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    if matches!(next, '*' | '?' | '\\') {
                        pattern.push('\\');
                    }
                    pattern.push(next);
                    literal.push(next);
                }
            }
            '*' | '?' => {
                wild = true;
                pattern.push(c);
                literal.push(c);
            }
            c => {
                pattern.push(c);
                literal.push(c);
            }
        }
    }
    if wild { Value::Wildcard(pattern) } else { Value::Exact(literal) }
}

fn lex(input: &str) -> Result<Vec<(Token, usize)>, SyntaxError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                tokens.push((Token::Open, start));
                i += 1;
            }
            ')' => {
                tokens.push((Token::Close, start));
                i += 1;
            }
            '"' => {
                let (text, next) = quoted(&chars, i + 1, start)?;
                i = next;
                tokens.push((Token::Term(Term::Text(Value::Phrase(text))), start));
            }
            '-' if chars.get(i + 1).is_some_and(|c| is_word_char(*c) || matches!(c, '(' | '"')) => {
                tokens.push((Token::Minus, start));
                i += 1;
            }
            _ => {
                // A word, possibly `field:value` or `field:"phrase"`.
                let mut word = String::new();
                while i < chars.len() && is_word_char(chars[i]) {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        word.push(chars[i]);
                        word.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    word.push(chars[i]);
                    i += 1;
                    if word.ends_with(':') && word.len() > 1 && !word.starts_with(':') {
                        break;
                    }
                }
                if let Some(field) = word.strip_suffix(':').filter(|f| !f.is_empty()) {
                    let (name, at) = match field.strip_prefix('@') {
                        Some(name) => (name, true),
                        None => (field, false),
                    };
                    if name.is_empty() || name.contains(['\\', '*', '?']) {
                        return Err(SyntaxError {
                            message: format!("'{field}' is not a field name"),
                            position: start,
                        });
                    }
                    let value = if chars.get(i) == Some(&'"') {
                        let (text, next) = quoted(&chars, i + 1, i)?;
                        i = next;
                        Value::Phrase(text)
                    } else {
                        let mut raw = String::new();
                        while i < chars.len() && is_word_char(chars[i]) {
                            if chars[i] == '\\' && i + 1 < chars.len() {
                                raw.push(chars[i]);
                                raw.push(chars[i + 1]);
                                i += 2;
                                continue;
                            }
                            raw.push(chars[i]);
                            i += 1;
                        }
                        if raw.is_empty() {
                            return Err(SyntaxError {
                                message: format!("'{field}:' needs a value"),
                                position: start,
                            });
                        }
                        word_value(&raw)
                    };
                    tokens.push((
                        Token::Term(Term::Field { name: name.to_owned(), at, value }),
                        start,
                    ));
                    continue;
                }
                let token = match word.as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    "NOT" => Token::Not,
                    _ => Token::Term(Term::Text(word_value(&word))),
                };
                tokens.push((token, start));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    at: usize,
    depth: usize,
    /// The input's length in characters: where an error at the end points.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(token, _)| token)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(_, position)| *position)
    }

    fn error<T>(&self, message: &str) -> Result<T, SyntaxError> {
        Err(SyntaxError { message: message.into(), position: self.position() })
    }

    fn or(&mut self) -> Result<Query, SyntaxError> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Query::Or(items) })
    }

    fn and(&mut self) -> Result<Query, SyntaxError> {
        let mut items = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Token::And) => {
                    self.at += 1;
                    items.push(self.unary()?);
                }
                Some(Token::Or | Token::Close) | None => break,
                Some(_) => items.push(self.unary()?),
            }
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Query::And(items) })
    }

    fn unary(&mut self) -> Result<Query, SyntaxError> {
        if self.depth >= MAX_DEPTH {
            return self.error("query nests too deeply");
        }
        let Some(token) = self.peek().cloned() else {
            return self.error("the query ends where a term was expected");
        };
        self.at += 1;
        match token {
            Token::Minus | Token::Not => {
                self.depth += 1;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Query::Not(Box::new(inner)))
            }
            Token::Open => {
                self.depth += 1;
                let inner = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Token::Close) {
                    return self.error("expected ')'");
                }
                self.at += 1;
                Ok(inner)
            }
            Token::Term(term) => Ok(Query::Term(term)),
            Token::Close => {
                self.at -= 1;
                self.error("expected a term before ')'")
            }
            Token::And | Token::Or => {
                self.at -= 1;
                self.error("expected a term before AND/OR")
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Phrase(text) => write!(f, "{text:?}"),
            Value::Exact(text) | Value::Wildcard(text) => f.write_str(text),
        }
    }
}

/// Why a time bound does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a time: use RFC 3339 (2024-05-01T12:00:00Z), epoch milliseconds, or now, now-15m, now-2h, now-7d"
)]
pub struct TimeError(pub String);

/// A time bound in nanoseconds since the Unix epoch: `now`, `now-N{s,m,h,d,w}`, an RFC 3339
/// timestamp (`2024-05-01T12:00:00Z`, offset or `Z` required), or epoch milliseconds.
/// `now_ns` is what `now` means.
pub fn parse_time(text: &str, now_ns: i64) -> Result<i64, TimeError> {
    let bad = || TimeError(text.to_owned());
    let text_trim = text.trim();
    if let Some(rest) = text_trim.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now_ns);
        }
        let (sign, rest) = match rest.as_bytes()[0] {
            b'-' => (-1i64, &rest[1..]),
            b'+' => (1i64, &rest[1..]),
            _ => return Err(bad()),
        };
        let unit_at = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let amount: i64 = rest[..unit_at].parse().map_err(|_| bad())?;
        let unit: i64 = match &rest[unit_at..] {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(bad()),
        };
        let offset =
            amount.checked_mul(unit).and_then(|s| s.checked_mul(1_000_000_000)).ok_or_else(bad)?;
        return now_ns.checked_add(sign * offset).ok_or_else(bad);
    }
    if !text_trim.is_empty() && text_trim.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = text_trim.parse().map_err(|_| bad())?;
        return ms.checked_mul(1_000_000).ok_or_else(bad);
    }
    rfc3339_ns(text_trim).ok_or_else(bad)
}

/// Nanoseconds since the epoch of an RFC 3339 timestamp (`T` or space, fraction optional,
/// `Z` or `±hh:mm`).
fn rfc3339_ns(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || !text.is_ascii() {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &text[range];
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &text[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut scaled = String::from(&digits[..digits.len().min(9)]);
        while scaled.len() < 9 {
            scaled.push('0');
        }
        nanos = scaled.parse().ok()?;
    }
    let offset_s = match &text[i..] {
        "Z" | "z" => 0,
        zone if zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':' =>
        {
            let hours = num(i + 1..i + 3)?;
            let minutes = num(i + 4..i + 6)?;
            let sign = if zone.as_bytes()[0] == b'-' { -1 } else { 1 };
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, value: Value) -> Query {
        Query::Term(Term::Field { name: name.into(), at: true, value })
    }
    fn tag(name: &str, value: &str) -> Query {
        Query::Term(Term::Field { name: name.into(), at: false, value: Value::Exact(value.into()) })
    }
    fn text(value: &str) -> Query {
        Query::Term(Term::Text(Value::Exact(value.into())))
    }

    #[test]
    fn blank_is_all() {
        assert_eq!(parse("").unwrap(), Query::All);
        assert_eq!(parse("   ").unwrap(), Query::All);
    }

    #[test]
    fn adjacent_terms_and_explicit_operators() {
        assert_eq!(
            parse("@ml_app:shop env:prod").unwrap(),
            Query::And(vec![field("ml_app", Value::Exact("shop".into())), tag("env", "prod")])
        );
        assert_eq!(parse("a AND b").unwrap(), parse("a b").unwrap());
        assert_eq!(
            parse("a OR b c").unwrap(),
            Query::Or(vec![text("a"), Query::And(vec![text("b"), text("c")])])
        );
        assert_eq!(
            parse("(a OR b) c").unwrap(),
            Query::And(vec![Query::Or(vec![text("a"), text("b")]), text("c")])
        );
    }

    #[test]
    fn negation_phrases_and_wildcards() {
        assert_eq!(parse("-a").unwrap(), Query::Not(Box::new(text("a"))));
        assert_eq!(parse("NOT a").unwrap(), Query::Not(Box::new(text("a"))));
        assert_eq!(
            parse("-(a OR b)").unwrap(),
            Query::Not(Box::new(Query::Or(vec![text("a"), text("b")])))
        );
        assert_eq!(
            parse("\"hello world\"").unwrap(),
            Query::Term(Term::Text(Value::Phrase("hello world".into())))
        );
        assert_eq!(
            parse("@name:\"my span\"").unwrap(),
            field("name", Value::Phrase("my span".into()))
        );
        assert_eq!(parse("@name:chat*").unwrap(), field("name", Value::Wildcard("chat*".into())));
        assert_eq!(
            parse("weath?r").unwrap(),
            Query::Term(Term::Text(Value::Wildcard("weath?r".into())))
        );
        assert_eq!(parse("@name:a\\*b").unwrap(), field("name", Value::Exact("a*b".into())));
        let odd = "a \"b\" \\ c* OR d";
        assert_eq!(
            parse(&exact_term("name", odd)).unwrap(),
            field("name", Value::Phrase(odd.into()))
        );
        assert_eq!(parse("@name:a\\*b*").unwrap(), field("name", Value::Wildcard("a\\*b*".into())));
        // A hyphen inside a word is part of it.
        assert_eq!(
            parse("@ml_app:my-app").unwrap(),
            field("ml_app", Value::Exact("my-app".into()))
        );
        // A value may hold a colon (tags such as `a:b:c`).
        assert_eq!(
            parse("@meta.span.kind:llm").unwrap(),
            field("meta.span.kind", Value::Exact("llm".into()))
        );
        assert_eq!(parse("url:http://x").unwrap(), tag("url", "http://x"));
    }

    #[test]
    fn errors_say_where() {
        for (query, position) in [
            ("(a", 2),
            ("a)", 1),
            ("\"open", 0),
            ("@name:", 0),
            ("a OR", 4),
            ("AND a", 0),
            ("()", 1),
        ] {
            let err = parse(query).unwrap_err();
            assert_eq!(err.position, position, "{query}: {err}");
        }
        assert!(parse(&"(".repeat(100)).unwrap_err().message.contains("deeply"));
        assert!(parse(&"a ".repeat(3000)).is_err());
    }

    #[test]
    fn time_bounds() {
        let now = 1_700_000_000_000_000_000;
        assert_eq!(parse_time("now", now).unwrap(), now);
        assert_eq!(parse_time("now-15m", now).unwrap(), now - 900_000_000_000);
        assert_eq!(parse_time("now-2d", now).unwrap(), now - 2 * 86_400_000_000_000);
        assert_eq!(parse_time("2023-11-14T22:13:20Z", now).unwrap(), now);
        assert_eq!(parse_time("2023-11-14T23:13:20.5+01:00", now).unwrap(), now + 500_000_000);
        assert_eq!(parse_time("1700000000000", now).unwrap(), now);
        for bad in [
            "",
            "yesterday",
            "now-15",
            "now-x",
            "2023-13-01T00:00:00Z",
            "2023-02-30T00:00:00Z",
            "now-99999999999999999w",
        ] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(input in "\\PC{0,80}") {
            let _ = parse(&input);
            let _ = parse_time(&input, 0);
        }

        #[test]
        fn parsing_syntax_soup_never_panics(input in "[-()\"@:*?\\\\ a-cAORNDT]{0,60}") {
            let _ = parse(&input);
        }
    }
}
