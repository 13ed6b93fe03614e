//! The prompt registry's wire types and validation rules.
//!
//! Every response on `/api/unstable/llm-obs/v1/prompts` is plain JSON (no JSON:API
//! envelope). Three resource shapes come back:
//!
//! - [`PromptRecord`]: the prompt itself (create, update, list).
//! - [`Version`]: one version with its template (create version, get by version, update
//!   version, list versions).
//! - [`SdkPrompt`]: the flattened view of one version that `get_prompt` reads (latest,
//!   by label, resolve).
//!
//! Resource UUIDs are written under the key `ID`, as Datadog does; `id` is accepted when
//! reading.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The path of the prompt registry, relative to the origin (and any path prefix).
pub const PROMPTS_PATH: &str = "/api/unstable/llm-obs/v1/prompts";

/// The longest `prompt_id` the server accepts, in UTF-8 bytes.
pub const MAX_PROMPT_ID_BYTES: usize = 512;

/// The `detail` of a 400 for a template that fails [`Template::from_value`].
pub const INVALID_TEMPLATE: &str = "invalid prompt template";

/// A prompt template: text, or a list of chat items.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// A text template such as `"Hello {name}"`.
    Text(String),
    /// A chat template: messages and message placeholders, in order.
    Chat(Vec<ChatItem>),
}

/// One item of a chat template.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatItem {
    /// A message; only `role` and `content` are kept.
    Message {
        /// Who speaks, such as `system` or `user`. Never substituted when rendering.
        role: String,
        /// The text, with `{name}` / `{{name}}` placeholders.
        content: String,
    },
    /// A message placeholder (`{"type": "placeholder", "name": …}`), kept verbatim with
    /// every key it was created with. Rendering replaces it with a list of messages.
    Placeholder(Map<String, Value>),
}

impl ChatItem {
    /// A message item.
    pub fn message(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatItem::Message { role: role.into(), content: content.into() }
    }

    /// A placeholder item named `name`.
    pub fn placeholder(name: impl Into<String>) -> Self {
        let mut map = Map::new();
        map.insert("type".into(), Value::from("placeholder"));
        map.insert("name".into(), Value::from(name.into()));
        ChatItem::Placeholder(map)
    }

    /// The placeholder's name, if this is a placeholder with a string name.
    pub fn placeholder_name(&self) -> Option<&str> {
        match self {
            ChatItem::Placeholder(map) => map.get("name").and_then(Value::as_str),
            ChatItem::Message { .. } => None,
        }
    }

    /// This item as JSON.
    pub fn to_value(&self) -> Value {
        match self {
            ChatItem::Message { role, content } => {
                let mut map = Map::new();
                map.insert("role".into(), Value::from(role.as_str()));
                map.insert("content".into(), Value::from(content.as_str()));
                Value::Object(map)
            }
            ChatItem::Placeholder(map) => Value::Object(map.clone()),
        }
    }

    /// Reads an item without validating it, the way a client reads a stored template:
    /// a non-string role or content becomes `""`, other keys of a message are dropped.
    pub fn from_value_lenient(value: &Value) -> Self {
        let empty = Map::new();
        let map = value.as_object().unwrap_or(&empty);
        if is_placeholder(map) {
            return ChatItem::Placeholder(map.clone());
        }
        let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
        ChatItem::Message { role: text("role"), content: text("content") }
    }
}

fn is_placeholder(map: &Map<String, Value>) -> bool {
    map.get("type").and_then(Value::as_str) == Some("placeholder")
}

/// Why a template was refused. The server answers each with 400 and the detail
/// [`INVALID_TEMPLATE`]; the reason goes into the error's hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template is missing or `null`.
    #[error("the template is missing")]
    Missing,
    /// A text template that is empty or only whitespace.
    #[error("a text template must contain at least one non-whitespace character")]
    BlankText,
    /// An empty chat list.
    #[error("a chat template must hold at least one message")]
    EmptyChat,
    /// A list of one-character strings: what a Python string becomes after `list()`.
    #[error(
        "a chat template must be a list of {{\"role\", \"content\"}} messages, not a list of \
         strings (a text template passed through Python's list() looks like this); \
         send text templates as a JSON string"
    )]
    ListOfStrings,
    /// A chat item that is neither a valid message nor a valid placeholder.
    #[error(
        "chat item {index} must be a message with a non-empty string \"role\" and a string \
         \"content\", or a placeholder {{\"type\": \"placeholder\", \"name\": <non-empty string>}}"
    )]
    BadItem {
        /// Zero-based position of the item.
        index: usize,
    },
    /// Neither a string nor a list.
    #[error("a template must be a string or a list of chat messages, not {0}")]
    WrongType(&'static str),
}

impl Template {
    /// Validates a template as the server stores it, and returns it in canonical form.
    ///
    /// A template is a string with at least one non-whitespace character, or a non-empty
    /// list whose items are messages `{role: non-empty string, content: string}` or
    /// placeholders `{type: "placeholder", name: non-empty string}`. Messages keep only
    /// `role` and `content`; placeholders keep every key.
    pub fn from_value(value: &Value) -> Result<Self, TemplateError> {
        match value {
            Value::Null => Err(TemplateError::Missing),
            Value::String(text) if text.trim().is_empty() => Err(TemplateError::BlankText),
            Value::String(text) => Ok(Template::Text(text.clone())),
            Value::Array(items) if items.is_empty() => Err(TemplateError::EmptyChat),
            Value::Array(items) if items.iter().all(Value::is_string) => {
                Err(TemplateError::ListOfStrings)
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| chat_item(item).ok_or(TemplateError::BadItem { index }))
                .collect::<Result<Vec<_>, _>>()
                .map(Template::Chat),
            Value::Bool(_) => Err(TemplateError::WrongType("a boolean")),
            Value::Number(_) => Err(TemplateError::WrongType("a number")),
            Value::Object(_) => Err(TemplateError::WrongType("an object")),
        }
    }

    /// Reads a stored or received template without validating it (see
    /// [`ChatItem::from_value_lenient`]); anything but a string or list reads as `Text("")`.
    pub fn from_value_lenient(value: &Value) -> Self {
        match value {
            Value::String(text) => Template::Text(text.clone()),
            Value::Array(items) => {
                Template::Chat(items.iter().map(ChatItem::from_value_lenient).collect())
            }
            _ => Template::Text(String::new()),
        }
    }

    /// This template as JSON: a string, or a list of objects.
    pub fn to_value(&self) -> Value {
        match self {
            Template::Text(text) => Value::from(text.as_str()),
            Template::Chat(items) => Value::Array(items.iter().map(ChatItem::to_value).collect()),
        }
    }

    /// Whether this is a chat template.
    pub fn is_chat(&self) -> bool {
        matches!(self, Template::Chat(_))
    }
}

fn chat_item(value: &Value) -> Option<ChatItem> {
    let map = value.as_object()?;
    if is_placeholder(map) {
        let name = map.get("name")?.as_str()?;
        return (!name.is_empty()).then(|| ChatItem::Placeholder(map.clone()));
    }
    let role = map.get("role")?.as_str()?;
    let content = map.get("content")?.as_str()?;
    (!role.is_empty()).then(|| ChatItem::message(role, content))
}

impl From<&str> for Template {
    fn from(text: &str) -> Self {
        Template::Text(text.to_owned())
    }
}

impl From<String> for Template {
    fn from(text: String) -> Self {
        Template::Text(text)
    }
}

impl From<Vec<ChatItem>> for Template {
    fn from(items: Vec<ChatItem>) -> Self {
        Template::Chat(items)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Template::Text(text) => serializer.serialize_str(text),
            Template::Chat(items) => serializer.collect_seq(items),
        }
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        match value {
            Value::String(_) | Value::Array(_) => Ok(Template::from_value_lenient(&value)),
            _ => Err(D::Error::custom("a template must be a string or a list")),
        }
    }
}

impl Serialize for ChatItem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ChatItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(ChatItem::from_value_lenient(&Value::deserialize(deserializer)?))
    }
}

/// Why a `prompt_id` was refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptIdError {
    /// Empty or whitespace only.
    #[error("prompt_id must not be empty or whitespace")]
    Blank,
    /// `.` or `..`, which proxies normalise away.
    #[error("prompt_id must not be '.' or '..': proxies rewrite such path segments")]
    DotSegment,
    /// Longer than [`MAX_PROMPT_ID_BYTES`].
    #[error("prompt_id is {0} bytes long; the limit is {MAX_PROMPT_ID_BYTES} bytes")]
    TooLong(usize),
    /// Holds a control character (U+0000–U+001F, U+007F–U+009F).
    #[error("prompt_id must not contain control characters (found {0}); remove it")]
    ControlCharacter(String),
}

/// The first control character of `text` (U+0000–U+001F, U+007F–U+009F: tabs and line
/// breaks too), written as `U+XXXX at byte N`; `None` when there is none. Ids, names,
/// labels and tags clients choose must have none.
pub fn control_character(text: &str) -> Option<String> {
    text.char_indices()
        .find(|(_, c)| c.is_control())
        .map(|(at, c)| format!("U+{:04X} at byte {at}", c as u32))
}

/// Checks a customer-chosen `prompt_id`. Any other Unicode (slashes, spaces, `%`, emoji)
/// is allowed: a `/` is kept and percent-encoded as `%2F` in every path.
pub fn validate_prompt_id(id: &str) -> Result<(), PromptIdError> {
    if let Some(found) = control_character(id) {
        Err(PromptIdError::ControlCharacter(found))
    } else if id.trim().is_empty() {
        Err(PromptIdError::Blank)
    } else if id == "." || id == ".." {
        Err(PromptIdError::DotSegment)
    } else if id.len() > MAX_PROMPT_ID_BYTES {
        Err(PromptIdError::TooLong(id.len()))
    } else {
        Ok(())
    }
}

/// The label values strict mode allows (Datadog's documented enum).
pub const STRICT_LABELS: [&str; 2] = ["production", "development"];

/// Why a label was refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// The empty string.
    #[error("labels must be non-empty strings")]
    Empty,
    /// Strict mode and a value other than `production` / `development`.
    #[error("label '{0}' is not allowed: this server accepts only 'production' and 'development'")]
    NotAllowed(String),
    /// Holds a control character.
    #[error("labels must not contain control characters (found {0}); remove it")]
    ControlCharacter(String),
}

/// Checks labels and returns them de-duplicated, in first-seen order.
pub fn normalize_labels(labels: &[String], strict: bool) -> Result<Vec<String>, LabelError> {
    let mut out: Vec<String> = Vec::with_capacity(labels.len());
    for label in labels {
        if label.is_empty() {
            return Err(LabelError::Empty);
        }
        if let Some(found) = control_character(label) {
            return Err(LabelError::ControlCharacter(found));
        }
        if strict && !STRICT_LABELS.contains(&label.as_str()) {
            return Err(LabelError::NotAllowed(label.clone()));
        }
        if !out.contains(label) {
            out.push(label.clone());
        }
    }
    Ok(out)
}

/// Why an environment name (or id) was refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvironmentError {
    /// Empty or whitespace only.
    #[error("env_ids must be non-empty strings")]
    Blank,
    /// Holds a control character.
    #[error("environment names must not contain control characters (found {0}); remove it")]
    ControlCharacter(String),
}

/// Checks an environment given by name or UUID (an `env_ids` entry): not blank, and no
/// control character (an environment is named by a `DD_ENV` value).
pub fn check_environment(name: &str) -> Result<(), EnvironmentError> {
    if let Some(found) = control_character(name) {
        Err(EnvironmentError::ControlCharacter(found))
    } else if name.trim().is_empty() {
        Err(EnvironmentError::Blank)
    } else {
        Ok(())
    }
}

fn is_empty_str(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(str::is_empty)
}

fn is_empty_map(value: &Option<Map<String, Value>>) -> bool {
    value.as_ref().is_none_or(Map::is_empty)
}

/// A prompt (E5 create, E7 update, E10 list items).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Prompt))]
pub struct PromptRecord {
    /// The prompt's UUID, written as `ID`.
    #[serde(rename = "ID", alias = "id")]
    pub id: String,
    /// The customer-chosen identifier.
    pub prompt_id: String,
    /// Title; omitted when empty.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub title: Option<String>,
    /// Description; omitted when empty.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub description: Option<String>,
    /// `registry` for prompts managed through this API.
    #[serde(default)]
    pub source: String,
    /// When the prompt was created (RFC 3339, UTC).
    #[serde(default)]
    pub created_at: String,
    /// When its newest version was created (RFC 3339, UTC).
    #[serde(default)]
    pub last_version_created_at: String,
    /// How many versions it has.
    #[serde(default)]
    pub num_versions: i64,
    /// `true` for registry prompts.
    #[serde(default)]
    pub in_registry: bool,
    /// `sdk-registry` for prompts created through the API.
    #[serde(default)]
    pub created_from: String,
    /// The UUID of the user whose application key created it.
    #[serde(default)]
    pub author: String,
}

/// One version of a prompt (E3, E6, E8, E11 items).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Version {
    /// The version's UUID, written as `ID`.
    #[serde(rename = "ID", alias = "id")]
    pub id: String,
    /// The parent prompt's UUID.
    pub prompt_uuid: String,
    /// The parent prompt's identifier.
    pub prompt_id: String,
    /// The template; lists of versions may omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub template: Option<Template>,
    /// Sequential number, from 1.
    pub version: i64,
    /// A free-text version name; omitted when not set.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub user_version: Option<String>,
    /// Labels on this version; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// When the version was created.
    #[serde(default)]
    pub created_at: String,
    /// Same as `created_at`.
    #[serde(default)]
    pub version_created_at: String,
    /// The UUID of the user who created it.
    #[serde(default)]
    pub author: String,
    /// Description; omitted when empty.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub description: Option<String>,
    /// Application configuration stored with the version; omitted when empty.
    #[serde(default, skip_serializing_if = "is_empty_map")]
    pub config: Option<Map<String, Value>>,
}

/// The view of one version that `get_prompt` reads (E1 latest, E2 by label, E4 resolve).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SdkPrompt {
    /// The prompt's identifier.
    pub prompt_id: String,
    /// The prompt's UUID.
    pub prompt_uuid: String,
    /// The version's UUID.
    pub prompt_version_uuid: String,
    /// The display version: the `user_version` if set, else the number as a string.
    pub version: String,
    /// A text template; exactly one of `template` and `chat_template` is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// A chat template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
    pub chat_template: Option<Vec<ChatItem>>,
    /// Labels of this version; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Application configuration; omitted when empty.
    #[serde(default, skip_serializing_if = "is_empty_map")]
    pub config: Option<Map<String, Value>>,
}

impl SdkPrompt {
    /// The template, whichever field carries it.
    pub fn template(&self) -> Template {
        match (&self.template, &self.chat_template) {
            (Some(text), _) if !text.is_empty() => Template::Text(text.clone()),
            (_, Some(items)) => Template::Chat(items.clone()),
            _ => Template::Chat(Vec::new()),
        }
    }
}

/// The answer to a delete (E9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deleted {
    /// The prompt's UUID, written as `ID`.
    #[serde(rename = "ID", alias = "id")]
    pub id: String,
    /// The prompt's identifier.
    pub prompt_id: String,
    /// When it was deleted (RFC 3339, UTC).
    pub deleted_at: String,
}

/// Body of E5, `POST /prompts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatePromptRequest {
    /// The identifier to create.
    pub prompt_id: String,
    /// The first version's template: a string or a list of chat items.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub template: Value,
    /// Optional title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Optional description (of the prompt and of version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Optional name for version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_version: Option<String>,
    /// Labels to put on version 1 (moved from any other version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// Environments (UUIDs or names) that should serve version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_ids: Option<Vec<String>>,
    /// Application configuration stored with version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
}

/// Body of E6, `POST /prompts/{prompt_id}/versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateVersionRequest {
    /// The template: a string or a list of chat items.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub template: Value,
    /// Optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Optional name for the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_version: Option<String>,
    /// Labels to put on this version (moved from any other version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// Environments that should serve this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_ids: Option<Vec<String>>,
    /// Application configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
}

/// Body of E7, `PATCH /prompts/{prompt_id}`. At least one field must be present; an
/// empty string clears the field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdatePromptRequest {
    /// New title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Body of E8, `PATCH /prompts/{prompt_id}/versions/{version}`. At least one field must
/// be present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateVersionRequest {
    /// Replaces the version's labels; `[]` clears them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Replaces the environments this version is the default for; `[]` clears them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_ids: Option<Vec<String>>,
}

/// Body of E4, `POST /prompts/{prompt_id}/resolve` (the one JSON:API document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolveRequest {
    /// The JSON:API resource.
    pub data: ResolveData,
}

/// `data` of a [`ResolveRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolveData {
    /// Always `prompt_resolve_requests`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What to resolve for.
    pub attributes: ResolveAttributes,
}

/// `attributes` of a resolve request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolveAttributes {
    /// The environment (`DD_ENV`).
    pub env: String,
    /// The subject being served, when the caller named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targeting_key: Option<String>,
    /// Extra attributes of the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

/// The JSON:API type of a resolve request.
pub const RESOLVE_TYPE: &str = "prompt_resolve_requests";

impl ResolveRequest {
    /// A resolve request for `env`.
    pub fn new(
        env: impl Into<String>,
        targeting_key: Option<String>,
        context: Option<Map<String, Value>>,
    ) -> Self {
        ResolveRequest {
            data: ResolveData {
                kind: RESOLVE_TYPE.to_owned(),
                attributes: ResolveAttributes { env: env.into(), targeting_key, context },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn environment_names_are_refused_when_blank_or_holding_a_control_character() {
        assert_eq!(check_environment("staging"), Ok(()));
        assert_eq!(check_environment("prod eu/1 ✓"), Ok(()));
        assert_eq!(
            check_environment(" \t"),
            Err(EnvironmentError::ControlCharacter("U+0009 at byte 1".into()))
        );
        assert_eq!(check_environment("  "), Err(EnvironmentError::Blank));
        assert_eq!(check_environment(""), Err(EnvironmentError::Blank));
        let found = EnvironmentError::ControlCharacter("U+000A at byte 4".into());
        assert_eq!(check_environment("prod\nx"), Err(found));
    }

    #[test]
    fn templates_are_validated_as_the_spec_says() {
        assert_eq!(Template::from_value(&json!("   \n")), Err(TemplateError::BlankText));
        assert_eq!(Template::from_value(&json!([])), Err(TemplateError::EmptyChat));
        assert_eq!(Template::from_value(&json!(["h", "i"])), Err(TemplateError::ListOfStrings));
        assert_eq!(Template::from_value(&json!(null)), Err(TemplateError::Missing));
        assert_eq!(
            Template::from_value(&json!([{"role": "user", "content": "a"}, {"role": ""}])),
            Err(TemplateError::BadItem { index: 1 })
        );
        assert_eq!(
            Template::from_value(&json!([{"type": "placeholder", "name": ""}])),
            Err(TemplateError::BadItem { index: 0 })
        );
        assert_eq!(Template::from_value(&json!(3)), Err(TemplateError::WrongType("a number")));
        let ok = Template::from_value(&json!([
            {"role": "user", "content": "", "extra": 1},
            {"type": "placeholder", "name": "history", "role": "user"}
        ]))
        .unwrap();
        assert_eq!(
            ok.to_value(),
            json!([{"role": "user", "content": ""},
                   {"type": "placeholder", "name": "history", "role": "user"}])
        );
    }

    #[test]
    fn ids_are_written_upper_case_and_read_either_way() {
        let deleted = Deleted { id: "u".into(), prompt_id: "p".into(), deleted_at: "t".into() };
        let text = serde_json::to_string(&deleted).unwrap();
        assert_eq!(text, r#"{"ID":"u","prompt_id":"p","deleted_at":"t"}"#);
        let back: Deleted =
            serde_json::from_str(r#"{"id":"u","prompt_id":"p","deleted_at":"t"}"#).unwrap();
        assert_eq!(back, deleted);
    }

    #[test]
    fn empty_optional_fields_are_omitted() {
        let version = Version {
            id: "v".into(),
            prompt_uuid: "p".into(),
            prompt_id: "id".into(),
            template: Some(Template::Text("hi".into())),
            version: 1,
            user_version: Some(String::new()),
            labels: vec![],
            created_at: "t".into(),
            version_created_at: "t".into(),
            author: "a".into(),
            description: None,
            config: Some(Map::new()),
        };
        let value = serde_json::to_value(&version).unwrap();
        for key in ["user_version", "labels", "description", "config"] {
            assert!(value.get(key).is_none(), "{key} should be omitted: {value}");
        }
    }

    #[test]
    fn prompt_ids_and_labels() {
        assert_eq!(validate_prompt_id(" "), Err(PromptIdError::Blank));
        assert_eq!(validate_prompt_id(".."), Err(PromptIdError::DotSegment));
        assert!(validate_prompt_id("a/b c:ü😀").is_ok());
        let control = PromptIdError::ControlCharacter("U+0000 at byte 1".into());
        assert_eq!(validate_prompt_id("a\u{0}b"), Err(control));
        assert!(validate_prompt_id("a\nb").is_err() && validate_prompt_id("\u{85}").is_err());
        assert!(matches!(
            normalize_labels(&["prod\t".to_owned()], false),
            Err(LabelError::ControlCharacter(_))
        ));
        assert_eq!(validate_prompt_id(&"x".repeat(513)), Err(PromptIdError::TooLong(513)));
        let labels = vec!["b".to_owned(), "a".to_owned(), "b".to_owned()];
        assert_eq!(normalize_labels(&labels, false).unwrap(), vec!["b", "a"]);
        assert!(normalize_labels(&labels, true).is_err());
        assert_eq!(normalize_labels(&["".to_owned()], false), Err(LabelError::Empty));
    }

    #[test]
    fn the_resolve_body_matches_the_reference_client() {
        let body = ResolveRequest::new("production", None, None);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"data":{"type":"prompt_resolve_requests","attributes":{"env":"production"}}}"#
        );
    }
}
