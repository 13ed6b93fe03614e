//! The prompt template renderer. The SDK renders fetched prompts with it (`Prompt::format`
//! and the prompt-tracking annotation); the server and the CLI store templates but never
//! render them.
//!
//! It reproduces the reference client's semantics (spec §3.3–§3.5):
//!
//! - **Text.** The template is scanned left to right for `{{ name }}` (tried first) or
//!   `{ name }`, where the name is one or more word characters (letters, digits, `_`, in
//!   any script) and whitespace may surround it. A supplied variable replaces the whole
//!   match; a missing one leaves the match exactly as written. Substituted values are
//!   never scanned again. [`render_text`] is lenient, [`try_render_text`] names the first
//!   missing variable.
//! - **Chat.** Each message keeps its role (never substituted) and has its content
//!   rendered as text. A placeholder item (`{"type": "placeholder", "name": …}`) is
//!   replaced by the list of messages passed under its name, validated and copied
//!   verbatim; see [`RenderError`] for the exact messages.
//! - **Annotation.** [`annotation`] builds the prompt-tracking object attached to LLM
//!   spans.
//!
//! ```
//! use llmobs_core::render::{render_text, Vars};
//!
//! let vars = Vars::from([("name", "Ada")]);
//! assert_eq!(render_text("Hi {name}, {{missing}}", &vars), "Hi Ada, {{missing}}");
//! ```
//!
//! Differences from Python, by design: variable values are JSON values. Strings render
//! as themselves and numbers in decimal, like Python's `str()`; `null`, `true` and
//! `false` render as `None`, `True` and `False`; lists and objects render as compact
//! JSON (Python would print its own `repr`). A "word character" is
//! [`char::is_alphanumeric`] or `_`, and whitespace is [`char::is_whitespace`] plus the
//! four ASCII separators `\x1c`–`\x1f`; Python's `\w` and `\s` differ from these only on
//! rare combining marks.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::prompts::{ChatItem, Template};
use crate::pyjson::is_space;

/// Variables for rendering: names mapped to JSON values, in insertion order.
///
/// Text variables are usually strings or numbers; a chat placeholder's variable is a
/// list of message objects.
///
/// ```
/// use llmobs_core::render::Vars;
/// use serde_json::json;
///
/// let vars = Vars::new()
///     .with("name", "Ada")
///     .with("n", 3)
///     .with("history", json!([{"role": "user", "content": "hi"}]));
/// assert_eq!(vars.len(), 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vars {
    map: Map<String, Value>,
}

impl Vars {
    /// No variables.
    pub fn new() -> Self {
        Vars::default()
    }

    /// Adds (or replaces) a variable and returns `self`.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds (or replaces) a variable.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.map.insert(name.into(), value.into());
    }

    /// The value of `name`, if supplied.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    /// How many variables there are.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The variables in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The variables as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// The variables as a JSON object, by value.
    pub fn into_map(self) -> Map<String, Value> {
        self.map
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Vars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Vars { map: iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
}

impl<K: Into<String>, V: Into<Value>, const N: usize> From<[(K, V); N]> for Vars {
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl From<Map<String, Value>> for Vars {
    fn from(map: Map<String, Value>) -> Self {
        Vars { map }
    }
}

impl From<&Vars> for Vars {
    fn from(vars: &Vars) -> Self {
        vars.clone()
    }
}

/// Why rendering failed. The messages of the placeholder errors are the reference
/// client's, word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// [`try_render_text`] (or a strict render) met a variable that was not supplied.
    #[error("Missing value for variable '{0}'")]
    MissingVariable(String),
    /// A placeholder item without a non-empty string `name`.
    #[error("Message placeholder must have a non-empty string name")]
    PlaceholderName,
    /// No variable was supplied for a placeholder.
    #[error("Missing value for message placeholder '{0}'")]
    MissingPlaceholder(String),
    /// The placeholder's variable is not a list.
    #[error("Message placeholder '{0}' must be a list of messages")]
    PlaceholderNotList(String),
    /// An element of the placeholder's list is not a valid message.
    #[error(
        "Message placeholder '{0}' must contain messages with a string role and text or tool content"
    )]
    PlaceholderBadMessage(String),
}

/// The result of rendering a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    /// A rendered text template.
    Text(String),
    /// Rendered chat messages: `{"role", "content"}` objects, plus the messages a
    /// placeholder expanded to, copied verbatim (extra keys and `content: null` kept).
    Chat(Vec<Map<String, Value>>),
}

/// The text as is; chat messages one per line as `role: content` (a content that is
/// not a string is written as JSON).
impl std::fmt::Display for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rendered::Text(text) => f.write_str(text),
            Rendered::Chat(messages) => {
                for (i, message) in messages.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    let role = message.get("role").and_then(Value::as_str).unwrap_or("");
                    match message.get("content") {
                        Some(Value::String(content)) => write!(f, "{role}: {content}")?,
                        Some(Value::Null) | None => write!(f, "{role}:")?,
                        Some(other) => write!(f, "{role}: {other}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

impl Rendered {
    /// The text, if this was a text template.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Rendered::Text(text) => Some(text),
            Rendered::Chat(_) => None,
        }
    }

    /// The messages, if this was a chat template.
    pub fn as_chat(&self) -> Option<&[Map<String, Value>]> {
        match self {
            Rendered::Chat(messages) => Some(messages),
            Rendered::Text(_) => None,
        }
    }

    /// As JSON: a string or a list of objects.
    pub fn to_value(&self) -> Value {
        match self {
            Rendered::Text(text) => Value::from(text.as_str()),
            Rendered::Chat(messages) => {
                Value::Array(messages.iter().cloned().map(Value::Object).collect())
            }
        }
    }
}

/// A piece of a scanned text template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text copied as is.
    Literal(&'a str),
    /// A placeholder: `name` inside `raw` (the match exactly as written).
    Variable {
        /// The variable name.
        name: &'a str,
        /// The whole match, such as `{{ name }}`.
        raw: &'a str,
    },
}

/// Splits a text template into literals and placeholders, left to right.
///
/// ```
/// use llmobs_core::render::{pieces, Piece};
///
/// let all: Vec<_> = pieces("{{{a}}}").collect();
/// assert_eq!(all, [Piece::Literal("{"), Piece::Variable { name: "a", raw: "{{a}}" },
///                  Piece::Literal("}")]);
/// ```
pub fn pieces(template: &str) -> Pieces<'_> {
    Pieces { text: template, pos: 0, pending: None }
}

/// Iterator returned by [`pieces`].
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    text: &'a str,
    pos: usize,
    pending: Option<(usize, usize, usize, usize)>,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        if let Some((start, end, name_start, name_end)) = self.pending.take() {
            self.pos = end;
            return Some(Piece::Variable {
                name: &self.text[name_start..name_end],
                raw: &self.text[start..end],
            });
        }
        if self.pos >= self.text.len() {
            return None;
        }
        let bytes = self.text.as_bytes();
        let mut at = self.pos;
        while let Some(offset) = memchr_brace(&bytes[at..]) {
            let start = at + offset;
            if let Some(found) = match_at(self.text, start) {
                let literal = &self.text[self.pos..start];
                if literal.is_empty() {
                    self.pos = found.1;
                    return Some(Piece::Variable {
                        name: &self.text[found.2..found.3],
                        raw: &self.text[start..found.1],
                    });
                }
                self.pending = Some((start, found.1, found.2, found.3));
                self.pos = start;
                return Some(Piece::Literal(literal));
            }
            at = start + 1;
        }
        let literal = &self.text[self.pos..];
        self.pos = self.text.len();
        Some(Piece::Literal(literal))
    }
}

fn memchr_brace(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'{')
}

/// A word character as Python's `\w` sees it (see the module docs).
fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Tries `{{ name }}` then `{ name }` at byte `start` (which holds `{`). Returns
/// `(start, end, name_start, name_end)`.
fn match_at(text: &str, start: usize) -> Option<(usize, usize, usize, usize)> {
    let rest = &text[start..];
    if rest.starts_with("{{")
        && let Some((len, ns, ne)) = match_body(&rest[2..], 2)
    {
        return Some((start, start + len, start + ns, start + ne));
    }
    match_body(&rest[1..], 1).map(|(len, ns, ne)| (start, start + len, start + ns, start + ne))
}

/// Matches `\s*\w+\s*` followed by `braces` closing braces. Offsets are relative to the
/// opening brace; `open` is the number of opening braces.
fn match_body(body: &str, open: usize) -> Option<(usize, usize, usize)> {
    let mut chars = body.char_indices().peekable();
    let mut name_start = None;
    let mut name_end = None;
    while let Some(&(i, c)) = chars.peek() {
        if is_space(c) {
            chars.next();
        } else {
            name_start = Some(i);
            break;
        }
    }
    let name_start = name_start?;
    while let Some(&(i, c)) = chars.peek() {
        if is_word(c) {
            chars.next();
        } else {
            name_end = Some(i);
            break;
        }
    }
    let name_end = name_end?;
    if name_end == name_start {
        return None;
    }
    let mut close_at = None;
    for (i, c) in chars {
        if is_space(c) {
            continue;
        }
        close_at = Some(i);
        break;
    }
    let close_at = close_at?;
    let closing = &body[close_at..];
    let needed = open;
    if closing.len() >= needed && closing.as_bytes()[..needed].iter().all(|&b| b == b'}') {
        Some((open + close_at + needed, open + name_start, open + name_end))
    } else {
        None
    }
}

/// How a value is written into text (Python's `str()` for strings and numbers).
pub fn value_text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(text) => Cow::Borrowed(text),
        Value::Number(number) => Cow::Owned(number.to_string()),
        Value::Null => Cow::Borrowed("None"),
        Value::Bool(true) => Cow::Borrowed("True"),
        Value::Bool(false) => Cow::Borrowed("False"),
        other => Cow::Owned(other.to_string()),
    }
}

fn render_text_inner(template: &str, vars: &Vars, strict: bool) -> Result<String, RenderError> {
    let mut out = String::with_capacity(template.len());
    for piece in pieces(template) {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Variable { name, raw } => match vars.get(name) {
                Some(value) => out.push_str(&value_text(value)),
                None if strict => return Err(RenderError::MissingVariable(name.to_owned())),
                None => out.push_str(raw),
            },
        }
    }
    Ok(out)
}

/// Renders a text template; missing variables are left exactly as written.
pub fn render_text(template: &str, vars: &Vars) -> String {
    render_text_inner(template, vars, false).unwrap_or_default()
}

/// Renders a text template, failing on the first variable that was not supplied.
pub fn try_render_text(template: &str, vars: &Vars) -> Result<String, RenderError> {
    render_text_inner(template, vars, true)
}

/// Renders a text or chat template. Missing text variables are left in place; chat
/// placeholders must be supplied and valid.
pub fn render(template: &Template, vars: &Vars) -> Result<Rendered, RenderError> {
    render_inner(template, vars, false)
}

/// Like [`render`], but a missing text variable is an error too.
pub fn try_render(template: &Template, vars: &Vars) -> Result<Rendered, RenderError> {
    render_inner(template, vars, true)
}

fn render_inner(template: &Template, vars: &Vars, strict: bool) -> Result<Rendered, RenderError> {
    match template {
        Template::Text(text) => render_text_inner(text, vars, strict).map(Rendered::Text),
        Template::Chat(items) => render_chat(items, vars, strict).map(Rendered::Chat),
    }
}

fn render_chat(
    items: &[ChatItem],
    vars: &Vars,
    strict: bool,
) -> Result<Vec<Map<String, Value>>, RenderError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            ChatItem::Message { role, content } => {
                let mut message = Map::new();
                message.insert("role".into(), Value::from(role.as_str()));
                message.insert(
                    "content".into(),
                    Value::from(render_text_inner(content, vars, strict)?),
                );
                out.push(message);
            }
            ChatItem::Placeholder(map) => {
                let name = match map.get("name") {
                    Some(Value::String(name)) if !name.is_empty() => name,
                    _ => return Err(RenderError::PlaceholderName),
                };
                let value =
                    vars.get(name).ok_or_else(|| RenderError::MissingPlaceholder(name.clone()))?;
                let list = value
                    .as_array()
                    .ok_or_else(|| RenderError::PlaceholderNotList(name.clone()))?;
                for element in list {
                    match element {
                        Value::Object(message) if is_message(message) => out.push(message.clone()),
                        _ => return Err(RenderError::PlaceholderBadMessage(name.clone())),
                    }
                }
            }
        }
    }
    Ok(out)
}

fn is_null_or_absent(value: Option<&Value>) -> bool {
    matches!(value, None | Some(Value::Null))
}

fn is_tool_item(item: &Value, tool_calls: bool) -> bool {
    let Some(map) = item.as_object() else { return false };
    if !tool_calls {
        return true;
    }
    if !is_null_or_absent(map.get("id")) && !map["id"].is_string() {
        return false;
    }
    match map.get("function") {
        None | Some(Value::Null) => true,
        Some(Value::Object(function)) => {
            function.get("name").is_some_and(Value::is_string)
                && function.get("arguments").is_some_and(Value::is_string)
        }
        Some(_) => false,
    }
}

/// Whether a placeholder element is a message the reference client accepts: a string
/// `role`, not a placeholder, `tool_call_id` null or a string, `tool_calls` /
/// `tool_results` null or lists of objects, and string content or, with null content,
/// at least one tool item.
pub fn is_message(message: &Map<String, Value>) -> bool {
    if !message.get("role").is_some_and(Value::is_string) {
        return false;
    }
    if message.get("type").and_then(Value::as_str) == Some("placeholder") {
        return false;
    }
    if !is_null_or_absent(message.get("tool_call_id")) && !message["tool_call_id"].is_string() {
        return false;
    }
    let mut has_tools = false;
    for field in ["tool_calls", "tool_results"] {
        match message.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                if !items.iter().all(|item| is_tool_item(item, field == "tool_calls")) {
                    return false;
                }
                has_tools |= !items.is_empty();
            }
            Some(_) => return false,
        }
    }
    match message.get("content") {
        None | Some(Value::Null) => has_tools,
        Some(content) => content.is_string(),
    }
}

/// The names a template uses, in order of first appearance, without duplicates: text
/// variables, and for chat templates the content variables and placeholder names.
pub fn variables(template: &Template) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut push = |name: &str| {
        if !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    };
    let scan = |text: &str, push: &mut dyn FnMut(&str)| {
        for piece in pieces(text) {
            if let Piece::Variable { name, .. } = piece {
                push(name);
            }
        }
    };
    match template {
        Template::Text(text) => scan(text, &mut push),
        Template::Chat(items) => {
            for item in items {
                match item {
                    ChatItem::Message { content, .. } => scan(content, &mut push),
                    ChatItem::Placeholder(_) => {
                        if let Some(name) = item.placeholder_name().filter(|n| !n.is_empty()) {
                            push(name);
                        }
                    }
                }
            }
        }
    }
    names
}

/// The names of a chat template's message placeholders (empty for text).
pub fn placeholder_names(template: &Template) -> Vec<&str> {
    match template {
        Template::Text(_) => Vec::new(),
        Template::Chat(items) => items.iter().filter_map(ChatItem::placeholder_name).collect(),
    }
}

/// What identifies a prompt in an annotation (spec §3.5).
#[derive(Debug, Clone, Copy)]
pub struct AnnotationSource<'a> {
    /// The prompt id.
    pub id: &'a str,
    /// The display version.
    pub version: &'a str,
    /// The label that was requested, if any.
    pub label: Option<&'a str>,
    /// The prompt UUID, if known.
    pub prompt_uuid: Option<&'a str>,
    /// The version UUID, if known.
    pub prompt_version_uuid: Option<&'a str>,
    /// The template.
    pub template: &'a Template,
}

/// The prompt-tracking object attached to LLM spans: `id` and `version`, then
/// `variables` (the supplied ones minus chat placeholders, omitted if none are left),
/// `label` (if non-empty), `prompt_uuid`, `prompt_version_uuid` (if known) and exactly one
/// of `template` / `chat_template`. `config` is never included.
pub fn annotation(source: &AnnotationSource<'_>, vars: &Vars) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), Value::from(source.id));
    out.insert("version".into(), Value::from(source.version));
    let placeholders = placeholder_names(source.template);
    let scalars: Map<String, Value> = vars
        .iter()
        .filter(|(name, _)| !placeholders.contains(name))
        .map(|(name, value)| (name.to_owned(), value.clone()))
        .collect();
    if !scalars.is_empty() {
        out.insert("variables".into(), Value::Object(scalars));
    }
    if let Some(label) = source.label.filter(|label| !label.is_empty()) {
        out.insert("label".into(), Value::from(label));
    }
    if let Some(uuid) = source.prompt_uuid.filter(|uuid| !uuid.is_empty()) {
        out.insert("prompt_uuid".into(), Value::from(uuid));
    }
    if let Some(uuid) = source.prompt_version_uuid.filter(|uuid| !uuid.is_empty()) {
        out.insert("prompt_version_uuid".into(), Value::from(uuid));
    }
    match source.template {
        Template::Text(text) => out.insert("template".into(), Value::from(text.as_str())),
        Template::Chat(_) => out.insert("chat_template".into(), source.template.to_value()),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn a() -> Vars {
        Vars::from([("name", "A")])
    }

    #[test]
    fn the_observed_text_table() {
        let cases = [
            ("{name}", "A"),
            ("{{name}}", "A"),
            ("{{ name }}", "A"),
            ("{ name }", "A"),
            ("{\tname\n}", "A"),
            ("{{name}", "{A"),
            ("{name}}", "A}"),
            ("{{{name}}}", "{A}"),
            ("{{{{name}}}}", "{{A}}"),
            ("Hi {name}, {missing} and {{missing2}}", "Hi A, {missing} and {{missing2}}"),
            ("{not-a-var}", "{not-a-var}"),
            ("{na me}", "{na me}"),
            ("{}", "{}"),
            ("{{}}", "{{}}"),
            ("{{name|upper}}", "{{name|upper}}"),
            ("{{name.attr}}", "{{name.attr}}"),
            ("$name", "$name"),
            ("%(name)s", "%(name)s"),
            ("", ""),
            ("{", "{"),
            ("{name", "{name"),
        ];
        for (template, expected) in cases {
            assert_eq!(render_text(template, &a()), expected, "template {template:?}");
        }
        assert_eq!(render_text(r#"{"age": {age}}"#, &Vars::from([("age", 3)])), r#"{"age": 3}"#);
        assert_eq!(render_text("{a}", &Vars::from([("a", "{b}"), ("b", "B")])), "{b}");
        assert_eq!(render_text("{n}", &Vars::new().with("n", 5)), "5");
        assert_eq!(render_text("{n}", &Vars::new().with("n", Value::Null)), "None");
        assert_eq!(
            render_text("{0}{ñame}{日本}", &Vars::from([("0", "z"), ("ñame", "ñ"), ("日本", "j")])),
            "zñj"
        );
    }

    #[test]
    fn strict_rendering_names_the_missing_variable() {
        assert_eq!(
            try_render_text("Hi {name} {who}", &a()),
            Err(RenderError::MissingVariable("who".into()))
        );
        assert_eq!(try_render_text("Hi {name}", &a()).unwrap(), "Hi A");
    }

    #[test]
    fn chat_rendering() {
        let template = Template::from_value_lenient(&json!([
            {"role": "system", "content": "You are {persona} {x}", "extra": 1},
            {"role": 3, "content": ["no"]},
            {"role": "{persona}", "content": "r"},
            {"type": "placeholder", "name": "h", "role": "user"},
        ]));
        let vars = Vars::new().with("persona", "P").with(
            "h",
            json!([
                {"role": "user", "content": "hey", "extra": true},
                {"role": "assistant", "content": null,
                 "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "content": "r", "tool_call_id": "c"},
            ]),
        );
        let out = render(&template, &vars).unwrap().to_value();
        assert_eq!(
            out,
            json!([
                {"role": "system", "content": "You are P {x}"},
                {"role": "", "content": ""},
                {"role": "{persona}", "content": "r"},
                {"role": "user", "content": "hey", "extra": true},
                {"role": "assistant", "content": null,
                 "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "content": "r", "tool_call_id": "c"},
            ])
        );
        assert_eq!(try_render(&template, &vars), Err(RenderError::MissingVariable("x".into())));
        let empty = Vars::new().with("persona", "P").with("h", json!([]));
        assert_eq!(render(&template, &empty).unwrap().as_chat().unwrap().len(), 3);
    }

    #[test]
    fn placeholder_errors_match_the_reference_messages() {
        let named = |name: Value| {
            Template::Chat(vec![ChatItem::Placeholder(
                json!({"type": "placeholder", "name": name}).as_object().unwrap().clone(),
            )])
        };
        let h = named(json!("h"));
        let err =
            |template: &Template, vars: Vars| render(template, &vars).unwrap_err().to_string();
        assert_eq!(
            err(&named(json!("")), Vars::new()),
            "Message placeholder must have a non-empty string name"
        );
        assert_eq!(
            err(&named(json!(3)), Vars::new()),
            "Message placeholder must have a non-empty string name"
        );
        assert_eq!(err(&h, Vars::new()), "Missing value for message placeholder 'h'");
        assert_eq!(
            err(&h, Vars::new().with("h", "x")),
            "Message placeholder 'h' must be a list of messages"
        );
        let bad_message = "Message placeholder 'h' must contain messages with a string role and \
                           text or tool content";
        for bad in [
            json!([1]),
            json!([{"content": "x"}]),
            json!([{"role": 1, "content": "x"}]),
            json!([{"role": "u"}]),
            json!([{"role": "u", "content": 3}]),
            json!([{"role": "u", "content": null, "tool_calls": []}]),
            json!([{"role": "u", "content": "x", "tool_call_id": 3}]),
            json!([{"role": "u", "content": "x", "tool_calls": [1]}]),
            json!([{"role": "u", "content": "x", "tool_calls": [{"id": 3}]}]),
            json!([{"role": "u", "content": "x", "tool_calls": [{"function": {"name": "f"}}]}]),
            json!([{"role": "u", "content": "x", "tool_results": "no"}]),
            json!([{"type": "placeholder", "role": "u", "content": "x"}]),
        ] {
            assert_eq!(err(&h, Vars::new().with("h", bad.clone())), bad_message, "{bad}");
        }
        let ok = json!([{"role": "u", "tool_results": [{"x": 1}]}]);
        assert!(render(&h, &Vars::new().with("h", ok)).is_ok());
    }

    #[test]
    fn variables_are_listed_once_in_order() {
        let text = Template::Text("{b} {a} {{b}} {c d}".into());
        assert_eq!(variables(&text), ["b", "a"]);
        let chat = Template::from_value_lenient(&json!([
            {"role": "s", "content": "{x}"},
            {"type": "placeholder", "name": "h"},
            {"role": "u", "content": "{{x}} {y}"},
        ]));
        assert_eq!(variables(&chat), ["x", "h", "y"]);
    }

    #[test]
    fn annotation_shape() {
        let chat = Template::from_value_lenient(&json!([
            {"role": "s", "content": "{x}"},
            {"type": "placeholder", "name": "h"},
        ]));
        let source = AnnotationSource {
            id: "p",
            version: "1",
            label: None,
            prompt_uuid: Some("u"),
            prompt_version_uuid: Some("v"),
            template: &chat,
        };
        let vars = Vars::new().with("x", "X").with("h", json!([]));
        assert_eq!(
            Value::Object(annotation(&source, &vars)),
            json!({"id": "p", "version": "1", "variables": {"x": "X"}, "prompt_uuid": "u",
                   "prompt_version_uuid": "v", "chat_template": chat.to_value()})
        );
        let text = Template::Text("t".into());
        let source = AnnotationSource {
            label: Some("prod"),
            prompt_uuid: None,
            prompt_version_uuid: None,
            template: &text,
            ..source
        };
        assert_eq!(
            Value::Object(annotation(&source, &Vars::new())),
            json!({"id": "p", "version": "1", "label": "prod", "template": "t"})
        );
    }

    /// A slow, obviously correct model of the grammar: at each position try the double
    /// form, then the single form, by brute force over every possible end.
    fn model(template: &str, vars: &Vars) -> String {
        let chars: Vec<char> = template.chars().collect();
        let parse = |inner: &[char]| -> Option<String> {
            let s: String = inner.iter().collect();
            let trimmed = s.trim_matches(is_space);
            let ok = !trimmed.is_empty() && trimmed.chars().all(is_word);
            let lead = s.len() - s.trim_start_matches(is_space).len();
            let inner_ok = ok && s[lead..lead + trimmed.len()] == *trimmed;
            inner_ok.then(|| trimmed.to_owned())
        };
        let mut out = String::new();
        let mut i = 0;
        'outer: while i < chars.len() {
            if chars[i] == '{' {
                for open in [2usize, 1] {
                    if chars[i..].len() < open || chars[i..i + open].iter().any(|&c| c != '{') {
                        continue;
                    }
                    for end in (i + open)..chars.len() {
                        if chars.len() < end + open
                            || chars[end..end + open].iter().any(|&c| c != '}')
                        {
                            continue;
                        }
                        if let Some(name) = parse(&chars[i + open..end]) {
                            match vars.get(&name) {
                                Some(v) => out.push_str(&value_text(v)),
                                None => out.extend(&chars[i..end + open]),
                            }
                            i = end + open;
                            continue 'outer;
                        }
                    }
                }
            }
            out.push(chars[i]);
            i += 1;
        }
        out
    }

    proptest! {
        #[test]
        fn the_scanner_matches_the_model(
            template in "[{}a b_\\tñ日-]{0,24}",
            value in "[{}a-z]{0,4}",
        ) {
            let vars = Vars::from([("a", value.as_str()), ("ñ", "N"), ("a_b", "AB")]);
            prop_assert_eq!(render_text(&template, &vars), model(&template, &vars));
        }

        #[test]
        fn text_without_braces_is_unchanged(template in "[^{]*") {
            prop_assert_eq!(render_text(&template, &a()), template);
        }

        #[test]
        fn no_variables_means_identity(template in "\\PC*") {
            prop_assert_eq!(render_text(&template, &Vars::new()), template.clone());
            let joined: String = pieces(&template)
                .map(|piece| match piece { Piece::Literal(t) => t, Piece::Variable { raw, .. } => raw })
                .collect();
            prop_assert_eq!(joined, template);
        }

        #[test]
        fn strict_agrees_with_lenient_when_everything_is_supplied(template in "[{}a b]{0,20}") {
            let names = variables(&Template::Text(template.clone()));
            let all: Vars = names.iter().map(|n| (n.clone(), "X")).collect();
            prop_assert_eq!(try_render_text(&template, &all).unwrap(), render_text(&template, &all));
            if let Some(first) = names.first() {
                let missing: Vars = names.iter().skip(1).map(|n| (n.clone(), "X")).collect();
                prop_assert_eq!(
                    try_render_text(&template, &missing),
                    Err(RenderError::MissingVariable(first.clone()))
                );
            }
        }
    }
}
