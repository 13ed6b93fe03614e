//! Annotation queues, as Datadog's public API and the official client speak them: queues
//! with a label schema, interactions (traces, experiment traces, sessions or display blocks)
//! added to a queue, and the annotations reviewers write on them, one per reviewer and
//! interaction. Also the rules a label schema and a label value must pass
//! ([`AnnotationSchema::check`], [`AnnotationSchema::check_value`]) and how an annotated
//! interaction becomes a dataset record ([`export_record`]).
//!
//! Bodies are JSON:API documents ([`crate::jsonapi`]); these are their `attributes`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Resource type of annotation queues (and of their label schema).
pub const QUEUES: &str = "queues";
/// Resource type of interaction requests and answers.
pub const INTERACTIONS: &str = "interactions";
/// Resource type of annotation requests and answers.
pub const ANNOTATIONS: &str = "annotations";
/// Resource type of a queue's annotated interactions.
pub const ANNOTATED_INTERACTIONS: &str = "annotated_interactions";
/// Resource type of the cross-queue lookup by content id.
pub const ANNOTATED_BY_TRACE: &str = "annotated_interactions_by_trace";
/// Resource type of a queue export's answer.
pub const EXPORTS: &str = "annotation_exports";

/// Why a label schema, a label value, an interaction or an export request is refused.
/// Each message names the field and what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AnnotationError(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, AnnotationError> {
    Err(AnnotationError(message.into()))
}

/// The type of a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LabelType {
    /// A number, within `min`/`max`, an integer when `is_integer`.
    Score,
    /// One of `values` (or a list of them).
    Categorical,
    /// `true` or `false`.
    Boolean,
    /// Any non-empty text.
    Text,
}

impl LabelType {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelType::Score => "score",
            LabelType::Categorical => "categorical",
            LabelType::Boolean => "boolean",
            LabelType::Text => "text",
        }
    }
}

/// One label of a queue's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabelSchema {
    /// Its id; the server assigns one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its name: letters, digits, `_` and `-`, unique in the queue.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: LabelType,
    /// What it means, for reviewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether a value may carry a pass/fail assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_assessment: Option<bool>,
    /// Whether a value may carry a free-text reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_reasoning: Option<bool>,
    /// Whether a boolean label is itself the assessment (needs `has_assessment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_assessment: Option<bool>,
    /// Whether score values must be integers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_integer: Option<bool>,
    /// Whether an interaction counts as reviewed only once this label is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_required: Option<bool>,
    /// The largest score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The smallest score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The values of a categorical label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

/// A queue's labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnnotationSchema {
    /// The labels, in the order reviewers see them.
    pub label_schemas: Vec<LabelSchema>,
}

fn valid_label_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl AnnotationSchema {
    /// Checks every label and gives each label without an id one from `new_id`. Refuses
    /// bad names, duplicate names or ids, categorical labels without values, a `min` over
    /// `max`, and type-specific settings on a label of another type.
    pub fn check(mut self, mut new_id: impl FnMut() -> String) -> Result<Self, AnnotationError> {
        let mut names = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for (index, label) in self.label_schemas.iter_mut().enumerate() {
            let at = format!("label_schemas[{index}]");
            if !valid_label_name(&label.name) {
                return refuse(format!(
                    "{at}.name '{}' is not a valid label name: use letters, digits, '_' and '-' \
                     (pattern ^[a-zA-Z0-9_-]+$)",
                    label.name
                ));
            }
            if !names.insert(label.name.clone()) {
                return refuse(format!(
                    "{at}.name '{}' is used twice: label names are unique in a queue",
                    label.name
                ));
            }
            let id = label.id.get_or_insert_with(&mut new_id);
            if id.trim().is_empty() {
                return refuse(format!("{at}.id must not be empty: omit it to get one"));
            }
            if !ids.insert(id.clone()) {
                return refuse(format!("{at}.id '{id}' is used twice: label ids are unique"));
            }
            let kind = label.kind.as_str();
            match label.kind {
                LabelType::Categorical => {
                    let values = label.values.as_deref().unwrap_or_default();
                    if values.is_empty() {
                        return refuse(format!(
                            "{at}: categorical label '{}' needs at least one value in 'values'",
                            label.name
                        ));
                    }
                    let mut seen = BTreeSet::new();
                    for value in values {
                        if value.trim().is_empty() || !seen.insert(value) {
                            return refuse(format!(
                                "{at}.values of '{}' must be non-empty and unique; '{value}' is not",
                                label.name
                            ));
                        }
                    }
                }
                _ if label.values.is_some() => {
                    return refuse(format!(
                        "{at}: 'values' is for categorical labels; '{}' is a {kind} label",
                        label.name
                    ));
                }
                _ => {}
            }
            if label.kind != LabelType::Score
                && (label.min.is_some() || label.max.is_some() || label.is_integer == Some(true))
            {
                return refuse(format!(
                    "{at}: 'min', 'max' and 'is_integer' are for score labels; '{}' is a {kind} \
                     label",
                    label.name
                ));
            }
            if let (Some(min), Some(max)) = (label.min, label.max)
                && min > max
            {
                return refuse(format!(
                    "{at}: min ({min}) is over max ({max}) for label '{}'",
                    label.name
                ));
            }
            if label.is_assessment == Some(true)
                && (label.kind != LabelType::Boolean || label.has_assessment != Some(true))
            {
                return refuse(format!(
                    "{at}: 'is_assessment' needs a boolean label with has_assessment true; \
                     '{}' is a {kind} label",
                    label.name
                ));
            }
        }
        Ok(self)
    }

    /// The label with id `id`.
    pub fn label(&self, id: &str) -> Option<&LabelSchema> {
        self.label_schemas.iter().find(|l| l.id.as_deref() == Some(id))
    }

    /// Checks one label value against this schema and answers its label. Refuses an
    /// unknown label id, a value of the wrong type or out of range, and a reasoning or
    /// assessment on a label that takes none.
    pub fn check_value(&self, value: &LabelValue) -> Result<&LabelSchema, AnnotationError> {
        let Some(label) = self.label(&value.label_schema_id) else {
            let known: Vec<String> = (self.label_schemas.iter())
                .map(|l| format!("{} ({})", l.id.as_deref().unwrap_or(""), l.name))
                .collect();
            return refuse(format!(
                "label_schema_id '{}' is not a label of this queue's schema; its labels are: {}",
                value.label_schema_id,
                if known.is_empty() {
                    "none (set a label schema first)".into()
                } else {
                    known.join(", ")
                }
            ));
        };
        let name = &label.name;
        let got = &value.value;
        match label.kind {
            LabelType::Score => {
                let Some(number) = got.as_f64() else {
                    return refuse(format!("label '{name}' is a score: send a number, not {got}"));
                };
                if label.is_integer == Some(true) && number.fract() != 0.0 {
                    return refuse(format!("label '{name}' takes whole numbers, not {number}"));
                }
                if label.min.is_some_and(|min| number < min)
                    || label.max.is_some_and(|max| number > max)
                {
                    return refuse(format!(
                        "label '{name}' takes scores from {} to {}, not {number}",
                        label.min.map_or("any".into(), |m| m.to_string()),
                        label.max.map_or("any".into(), |m| m.to_string())
                    ));
                }
            }
            LabelType::Categorical => {
                let allowed = label.values.as_deref().unwrap_or_default();
                let chosen: Vec<&Value> = match got {
                    Value::Array(items) if !items.is_empty() => items.iter().collect(),
                    Value::String(_) => vec![got],
                    _ => {
                        return refuse(format!(
                            "label '{name}' is categorical: send one of {allowed:?} (or a list of \
                             them), not {got}"
                        ));
                    }
                };
                for item in chosen {
                    if !item.as_str().is_some_and(|s| allowed.iter().any(|a| a == s)) {
                        return refuse(format!(
                            "label '{name}' takes one of {allowed:?}, not {item}"
                        ));
                    }
                }
            }
            LabelType::Boolean => {
                if !got.is_boolean() {
                    return refuse(format!(
                        "label '{name}' is boolean: send true or false, not {got}"
                    ));
                }
            }
            LabelType::Text => {
                if got.as_str().is_none_or(|s| s.trim().is_empty()) {
                    return refuse(format!(
                        "label '{name}' is text: send a non-empty string, not {got}"
                    ));
                }
            }
        }
        if value.reasoning.is_some() && label.has_reasoning != Some(true) {
            return refuse(format!(
                "label '{name}' takes no reasoning (has_reasoning is not true in the schema)"
            ));
        }
        if value.assessment.is_some() && label.has_assessment != Some(true) {
            return refuse(format!(
                "label '{name}' takes no assessment (has_assessment is not true in the schema)"
            ));
        }
        Ok(label)
    }
}

/// A pass/fail assessment attached to a label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Assessment {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
}

/// One label's value in an annotation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabelValue {
    /// The label's id in the queue's schema.
    pub label_schema_id: String,
    /// The value: a number, a string, a list of strings or a boolean, as the label's type
    /// requires.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub value: Value,
    /// Free-text reasoning (labels with `has_reasoning`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Pass or fail (labels with `has_assessment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment: Option<Assessment>,
}

/// A label value as stored and answered: the request's fields plus the label's name and
/// type when it was saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SavedLabelValue {
    /// The label's id in the queue's schema.
    pub label_schema_id: String,
    /// The value.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub value: Value,
    /// Free-text reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Pass or fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment: Option<Assessment>,
    /// The label's name when the value was saved.
    pub name_when_saved: String,
    /// The label's type when the value was saved.
    #[serde(rename = "type")]
    pub kind: LabelType,
}

impl SavedLabelValue {
    /// A checked value with its label.
    pub fn new(value: LabelValue, label: &LabelSchema) -> Self {
        SavedLabelValue {
            label_schema_id: value.label_schema_id,
            value: value.value,
            reasoning: value.reasoning,
            assessment: value.assessment,
            name_when_saved: label.name.clone(),
            kind: label.kind,
        }
    }
}

/// `POST /annotation-queues`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewQueue {
    /// The queue's name.
    pub name: String,
    /// The project it belongs to.
    pub project_id: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Its labels.
    #[serde(default)]
    pub annotation_schema: Option<AnnotationSchema>,
    /// Stored and answered; not enforced (every key of the org may annotate).
    #[serde(default)]
    pub restrict_to_assignees: Option<bool>,
    /// Stored and answered; not enforced.
    #[serde(default)]
    pub restrict_to_reviewers: Option<bool>,
    /// Stored and answered.
    #[serde(default)]
    pub reviewer_emails: Option<Vec<String>>,
}

/// `PATCH /annotation-queues/{queue_id}`: fields to change; absent ones stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QueueUpdate {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// A new description.
    #[serde(default)]
    pub description: Option<String>,
    /// A new label schema, replacing the old.
    #[serde(default)]
    pub annotation_schema: Option<AnnotationSchema>,
    /// A new setting.
    #[serde(default)]
    pub restrict_to_assignees: Option<bool>,
    /// A new setting.
    #[serde(default)]
    pub restrict_to_reviewers: Option<bool>,
    /// New reviewer emails, replacing the old.
    #[serde(default)]
    pub reviewer_emails: Option<Vec<String>>,
}

/// A queue as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Queue {
    /// Its project.
    pub project_id: String,
    /// Its name.
    pub name: String,
    /// Its description (empty when none was given).
    pub description: String,
    /// Its labels; absent when it has none yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_schema: Option<AnnotationSchema>,
    /// Always true: access is not restricted here.
    pub can_manage_access: bool,
    /// As set.
    pub restrict_to_assignees: bool,
    /// As set.
    pub restrict_to_reviewers: bool,
    /// As set.
    pub reviewer_emails: Vec<String>,
    /// The user who created it.
    pub created_by: String,
    /// The user who owns it (its creator).
    pub owned_by: String,
    /// The user who last changed it.
    pub modified_by: String,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub modified_at: String,
}

/// `GET`/`PUT /annotation-queues/{queue_id}/label-schema`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabelSchemaAttributes {
    /// The queue's labels.
    pub annotation_schema: AnnotationSchema,
}

/// What an interaction shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InteractionType {
    /// A trace of the org's trace store, by trace id.
    Trace,
    /// A trace of an experiment, by trace id.
    ExperimentTrace,
    /// The spans of a session, by session id.
    Session,
    /// Content sent with the interaction itself.
    DisplayBlock,
}

impl InteractionType {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionType::Trace => "trace",
            InteractionType::ExperimentTrace => "experiment_trace",
            InteractionType::Session => "session",
            InteractionType::DisplayBlock => "display_block",
        }
    }

    /// The type named `text` on the wire.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Trace, Self::ExperimentTrace, Self::Session, Self::DisplayBlock]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// One interaction to add: a `content_id` for traces, experiment traces and sessions, a
/// `display_block` list for display blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewInteraction {
    /// What it shows.
    #[serde(rename = "type")]
    pub kind: InteractionType,
    /// The trace or session id.
    #[serde(default)]
    pub content_id: Option<String>,
    /// The blocks of a display block interaction.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
    pub display_block: Option<Vec<Value>>,
}

impl NewInteraction {
    /// Checks the fields the type needs; `at` names the item in messages.
    pub fn check(&self, at: &str) -> Result<(), AnnotationError> {
        match self.kind {
            InteractionType::DisplayBlock => {
                let blocks = self.display_block.as_deref().unwrap_or_default();
                if blocks.is_empty() {
                    return refuse(format!(
                        "{at}: a display_block interaction needs a non-empty 'display_block' list"
                    ));
                }
                if self.content_id.is_some() {
                    return refuse(format!(
                        "{at}: omit content_id for a display_block interaction: the server \
                         derives it from the blocks"
                    ));
                }
                for (index, block) in blocks.iter().enumerate() {
                    check_block(block).map_err(|why| {
                        AnnotationError(format!("{at}.display_block[{index}]: {why}"))
                    })?;
                }
            }
            kind => {
                if self.content_id.as_deref().is_none_or(|c| c.trim().is_empty()) {
                    return refuse(format!(
                        "{at}: a {} interaction needs a non-empty content_id (the {} id)",
                        kind.as_str(),
                        if kind == InteractionType::Session { "session" } else { "trace" }
                    ));
                }
                if self.display_block.is_some() {
                    return refuse(format!(
                        "{at}: display_block is only for display_block interactions"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The rules of one display block, by its `type`.
fn check_block(block: &Value) -> Result<(), String> {
    let Some(object) = block.as_object() else {
        return Err("a block is an object with a 'type'".into());
    };
    let kind = object.get("type").and_then(Value::as_str).unwrap_or_default();
    let has = |key: &str| object.get(key).is_some_and(|v| !v.is_null());
    let text = |key: &str| object.get(key).is_some_and(Value::is_string);
    match kind {
        "markdown" | "text" | "header" if !text("content") => {
            Err(format!("a {kind} block needs 'content' as a string"))
        }
        "json" if !has("content") => Err("a json block needs 'content'".into()),
        "image" if !text("url") => Err("an image block needs 'url'".into()),
        "widget" if !has("tileDef") && !has("tile_def") => {
            Err("a widget block needs 'tileDef'".into())
        }
        "llmobs_trace" if !text("traceId") && !text("trace_id") => {
            Err("an llmobs_trace block needs 'traceId'".into())
        }
        "frontend" if object.get("code").and_then(Value::as_str).is_none_or(str::is_empty) => {
            Err("a frontend block needs non-empty 'code'".into())
        }
        "markdown" | "text" | "header" | "json" | "image" | "widget" | "llmobs_trace"
        | "frontend" => Ok(()),
        other => Err(format!(
            "unknown block type '{other}': use markdown, text, header, json, image, widget, \
             llmobs_trace or frontend"
        )),
    }
}

/// `POST /annotation-queues/{queue_id}/interactions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddInteractions {
    /// At least one.
    pub interactions: Vec<NewInteraction>,
}

/// An interaction of a queue as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Interaction {
    /// Its id.
    pub id: String,
    /// What it shows.
    #[serde(rename = "type")]
    pub kind: InteractionType,
    /// The trace or session id, or for display blocks a hash of the blocks.
    pub content_id: String,
    /// The blocks of a display block interaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
    pub display_block: Option<Vec<Value>>,
    /// When it was added.
    pub created_at: String,
    /// When it last changed.
    pub modified_at: String,
}

/// One interaction of an add request's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddedInteraction {
    /// The interaction.
    #[serde(flatten)]
    pub interaction: Interaction,
    /// Whether the queue already held it (then nothing changed).
    pub already_existed: bool,
}

/// `{"interactions": [...]}`: the answer of an add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddedInteractions {
    /// Each interaction sent, in order.
    pub interactions: Vec<AddedInteraction>,
}

/// `POST /annotation-queues/{queue_id}/interactions/delete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteInteractions {
    /// The interactions to delete, with their annotations.
    pub interaction_ids: Vec<String>,
}

/// One annotation to create or update: matched by interaction and the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpsertAnnotation {
    /// The interaction annotated.
    pub interaction_id: String,
    /// The labels set; labels not named keep their value.
    pub label_values: Vec<LabelValue>,
}

/// `POST /annotation-queues/{queue_id}/annotations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpsertAnnotations {
    /// At least one.
    pub annotations: Vec<UpsertAnnotation>,
}

/// An annotation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Annotation {
    /// Its id.
    pub id: String,
    /// The interaction it is on.
    pub interaction_id: String,
    /// Its values, one per label, in the order they were first set.
    pub label_values: Vec<SavedLabelValue>,
    /// Who wrote it.
    pub created_by: String,
    /// Who last changed it (its writer).
    pub modified_by: String,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub modified_at: String,
}

/// An annotation inside an annotated interaction: `label_values` is an object by label
/// name, each entry the saved value (`value`, `label_schema_id`, `type`, and `reasoning`
/// and `assessment` when set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnnotationByName {
    /// Its id.
    pub id: String,
    /// The interaction it is on.
    pub interaction_id: String,
    /// Values by label name.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub label_values: Map<String, Value>,
    /// Who wrote it.
    pub created_by: String,
    /// Who last changed it.
    pub modified_by: String,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub modified_at: String,
}

impl From<Annotation> for AnnotationByName {
    fn from(a: Annotation) -> Self {
        let label_values = (a.label_values.into_iter())
            .map(|v| {
                let name = v.name_when_saved.clone();
                let mut entry = serde_json::to_value(v).unwrap_or_default();
                if let Some(object) = entry.as_object_mut() {
                    object.remove("name_when_saved");
                }
                (name, entry)
            })
            .collect();
        AnnotationByName {
            id: a.id,
            interaction_id: a.interaction_id,
            label_values,
            created_by: a.created_by,
            modified_by: a.modified_by,
            created_at: a.created_at,
            modified_at: a.modified_at,
        }
    }
}

/// A partial failure of an upsert (not used for validation, which refuses the batch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpsertError {
    /// The interaction of the item.
    pub interaction_id: String,
    /// Why.
    pub error: String,
}

/// The answer of an upsert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpsertedAnnotations {
    /// Each annotation as it now is.
    pub annotations: Vec<Annotation>,
    /// Items that could not be written.
    pub errors: Vec<UpsertError>,
}

/// `POST /annotation-queues/{queue_id}/annotations/delete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteAnnotations {
    /// The annotations to delete.
    pub annotation_ids: Vec<String>,
}

/// An id a delete could not act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteError {
    /// The annotation.
    pub annotation_id: String,
    /// Why.
    pub error: String,
}

/// The answer of an annotation delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletedAnnotations {
    /// The annotations deleted.
    pub annotation_ids: Vec<String>,
    /// The ids not deleted, and why.
    pub errors: Vec<DeleteError>,
}

/// An interaction with its annotations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnnotatedInteraction {
    /// The interaction.
    #[serde(flatten)]
    pub interaction: Interaction,
    /// Its annotations, oldest first.
    pub annotations: Vec<AnnotationByName>,
    /// Always true: access is not restricted here.
    pub can_annotate: bool,
}

/// `GET /annotation-queues/{queue_id}/annotated-interactions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnnotatedInteractions {
    /// The queue's interactions in the order they were added.
    pub annotated_interactions: Vec<AnnotatedInteraction>,
}

/// An event of an annotated interaction: one span of its trace or session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InteractionEvent {
    /// The span id.
    pub id: String,
    /// `span`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The span as the spans search answers it.
    pub attributes: crate::spans::SpanAttributes,
}

/// `GET /annotation-queues/{queue_id}/annotated-interactions/{interaction_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnnotatedInteractionPage {
    /// The interaction and its annotations.
    pub annotated_interaction: AnnotatedInteraction,
    /// A page of its spans, oldest first.
    pub events: Vec<InteractionEvent>,
    /// Its type.
    pub interaction_type: InteractionType,
    /// The next page's cursor; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An annotated interaction found by content id, with its queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnnotatedInQueue {
    /// The interaction and its annotations.
    #[serde(flatten)]
    pub annotated: AnnotatedInteraction,
    /// Its queue.
    pub queue_id: String,
    /// Its queue's name.
    pub queue_name: String,
}

/// `GET /annotated-interactions?contentIds=...`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnnotatedByContent {
    /// This page.
    pub annotated_interactions: Vec<AnnotatedInQueue>,
    /// How many match in all.
    pub total_count: i64,
}

/// Where an export puts label values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LabelsAs {
    /// The labels are the record's expected output; the interaction's output goes to
    /// `metadata.output`.
    #[default]
    ExpectedOutput,
    /// The labels go to `metadata.labels`; the interaction's output is the expected output.
    Metadata,
}

/// `POST /annotation-queues/{queue_id}/export`: a queue's annotations into a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// The dataset, in the queue's project: created when the project has none of this
    /// name, else the records are appended to it as a new version.
    pub dataset_name: String,
    /// Where labels go (default `expected_output`).
    #[serde(default)]
    pub labels_as: LabelsAs,
    /// With `labels_as: expected_output`, only this label's value is the expected output
    /// (instead of an object of every label by name).
    #[serde(default)]
    pub label: Option<String>,
    /// A description for a dataset the export creates.
    #[serde(default)]
    pub description: Option<String>,
}

/// The answer of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportOutcome {
    /// The dataset written.
    pub dataset_id: String,
    /// Its project (the queue's).
    pub project_id: String,
    /// Its name.
    pub dataset_name: String,
    /// Its version after the export.
    pub version: i64,
    /// Records written (one per annotation).
    pub records: usize,
    /// Records skipped as equal to a live record of the dataset (an export run twice).
    pub unchanged: usize,
    /// Annotations skipped because `label` was named and they do not set it.
    pub skipped: usize,
}

/// What an interaction shows, read from its spans or blocks: its input and output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Content {
    /// The input of its first root span (or the blocks of a display block interaction).
    pub input: Option<Value>,
    /// The output of its last root span.
    pub output: Option<Value>,
}

/// A span's `meta.input` or `meta.output` as record data: `{"value": text}` as the text,
/// `{"messages": [...]}` as the messages, any other value (an experiment span's record
/// input) as it is.
fn io_value(value: Option<&Value>) -> Option<Value> {
    let value = value.filter(|v| !v.is_null())?;
    if let Some(object) = value.as_object() {
        if let Some(messages) = object.get("messages").filter(|m| m.is_array()) {
            return Some(messages.clone());
        }
        if let Some(text) = object.get("value") {
            return Some(text.clone());
        }
    }
    Some(value.clone())
}

fn is_root(event: &Map<String, Value>) -> bool {
    match event.get("parent_id") {
        None | Some(Value::Null) => true,
        Some(Value::String(p)) => p.is_empty() || p == "undefined" || p == "0",
        Some(_) => false,
    }
}

impl Content {
    /// The content of spans given oldest first: the first root span's input and the last
    /// root span's output (a session has several roots); when no span is a root, the first
    /// and last spans'.
    pub fn of_spans(spans: &[Map<String, Value>]) -> Content {
        let roots: Vec<&Map<String, Value>> = spans.iter().filter(|s| is_root(s)).collect();
        let (first, last) = match (roots.first(), roots.last()) {
            (Some(first), Some(last)) => (*first, *last),
            _ => match (spans.first(), spans.last()) {
                (Some(first), Some(last)) => (first, last),
                _ => return Content::default(),
            },
        };
        let meta =
            |s: &Map<String, Value>, side: &str| io_value(s.get("meta").and_then(|m| m.get(side)));
        Content { input: meta(first, "input"), output: meta(last, "output") }
    }

    /// The content of display blocks: the text of a lone text-like block, else the blocks.
    pub fn of_blocks(blocks: &[Value]) -> Content {
        let input = match blocks {
            [one] if one.get("content").is_some_and(Value::is_string) => {
                one.get("content").cloned()
            }
            _ => Some(Value::Array(blocks.to_vec())),
        };
        Content { input, output: None }
    }
}

/// The dataset record `(input, expected_output, metadata)` of one annotation, or `None`
/// when `request.label` names a label the annotation does not set.
pub fn export_record(
    request: &ExportRequest,
    interaction: &Interaction,
    annotation: &Annotation,
    content: &Content,
) -> Option<(Value, Option<Value>, Map<String, Value>)> {
    let labels: Map<String, Value> = (annotation.label_values.iter())
        .map(|v| (v.name_when_saved.clone(), v.value.clone()))
        .collect();
    let input = content.input.clone().unwrap_or_else(|| {
        serde_json::json!({"content_id": interaction.content_id, "type": interaction.kind.as_str()})
    });
    let mut metadata = Map::new();
    for (key, value) in [
        ("interaction_id", &interaction.id),
        ("content_id", &interaction.content_id),
        ("annotation_id", &annotation.id),
        ("annotator", &annotation.modified_by),
    ] {
        metadata.insert(key.into(), Value::String(value.clone()));
    }
    metadata.insert("interaction_type".into(), interaction.kind.as_str().into());
    let reasons: Map<String, Value> = (annotation.label_values.iter())
        .filter_map(|v| Some((v.name_when_saved.clone(), Value::String(v.reasoning.clone()?))))
        .collect();
    if !reasons.is_empty() {
        metadata.insert("reasoning".into(), Value::Object(reasons));
    }
    let expected = match request.labels_as {
        LabelsAs::ExpectedOutput => {
            if let Some(output) = &content.output {
                metadata.insert("output".into(), output.clone());
            }
            match &request.label {
                Some(name) => Some(labels.get(name)?.clone()),
                None => Some(Value::Object(labels)),
            }
        }
        LabelsAs::Metadata => {
            metadata.insert("labels".into(), Value::Object(labels));
            content.output.clone()
        }
    };
    Some((input, expected, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> AnnotationSchema {
        let raw = json!({"label_schemas": [
            {"name": "quality", "type": "score", "min": 1, "max": 5, "is_integer": true},
            {"name": "topic", "type": "categorical", "values": ["billing", "bug"]},
            {"name": "correct", "type": "boolean", "has_assessment": true},
            {"id": "given", "name": "fix", "type": "text", "has_reasoning": true}
        ]});
        let mut n = 0;
        serde_json::from_value::<AnnotationSchema>(raw)
            .unwrap()
            .check(|| {
                n += 1;
                format!("id{n}")
            })
            .unwrap()
    }

    fn value(id: &str, v: Value) -> LabelValue {
        LabelValue { label_schema_id: id.into(), value: v, reasoning: None, assessment: None }
    }

    #[test]
    fn a_schema_gets_ids_where_it_has_none_and_keeps_given_ones() {
        let ids: Vec<_> = schema().label_schemas.iter().map(|l| l.id.clone().unwrap()).collect();
        assert_eq!(ids, ["id1", "id2", "id3", "given"]);
    }

    #[test]
    fn a_schema_refuses_bad_names_duplicates_and_misplaced_settings() {
        let bad = |raw: Value| {
            serde_json::from_value::<AnnotationSchema>(json!({"label_schemas": raw}))
                .unwrap()
                .check(|| "x".into())
                .unwrap_err()
                .0
        };
        assert!(bad(json!([{"name": "a b", "type": "text"}])).contains("not a valid label name"));
        let twice = bad(json!([{"name": "a", "type": "text"}, {"name": "a", "type": "boolean"}]));
        assert!(twice.contains("used twice"), "{twice}");
        assert!(bad(json!([{"name": "c", "type": "categorical"}])).contains("at least one value"));
        assert!(
            bad(json!([{"name": "s", "type": "score", "min": 3, "max": 1}])).contains("over max")
        );
        assert!(
            bad(json!([{"name": "t", "type": "text", "values": ["x"]}])).contains("categorical")
        );
        assert!(bad(json!([{"name": "t", "type": "text", "max": 2}])).contains("score labels"));
    }

    #[test]
    fn values_must_fit_their_label() {
        let s = schema();
        assert_eq!(s.check_value(&value("id1", json!(4))).unwrap().name, "quality");
        assert!(s.check_value(&value("id1", json!(4.5))).unwrap_err().0.contains("whole"));
        assert!(s.check_value(&value("id1", json!(9))).unwrap_err().0.contains("from 1 to 5"));
        assert!(s.check_value(&value("id1", json!("4"))).unwrap_err().0.contains("a number"));
        assert!(s.check_value(&value("id2", json!("bug"))).is_ok());
        assert!(s.check_value(&value("id2", json!(["bug", "billing"]))).is_ok());
        assert!(s.check_value(&value("id2", json!("other"))).unwrap_err().0.contains("one of"));
        assert!(
            s.check_value(&value("id3", json!("yes"))).unwrap_err().0.contains("true or false")
        );
        assert!(s.check_value(&value("given", json!(" "))).unwrap_err().0.contains("non-empty"));
        let unknown = s.check_value(&value("nope", json!(1))).unwrap_err().0;
        assert!(unknown.contains("'nope'") && unknown.contains("quality"), "{unknown}");
        let mut reasoned = value("id1", json!(3));
        reasoned.reasoning = Some("why".into());
        assert!(s.check_value(&reasoned).unwrap_err().0.contains("no reasoning"));
        reasoned.label_schema_id = "given".into();
        reasoned.value = json!("better answer");
        assert!(s.check_value(&reasoned).is_ok());
    }

    #[test]
    fn interactions_need_the_fields_of_their_type() {
        let trace =
            NewInteraction { kind: InteractionType::Trace, content_id: None, display_block: None };
        assert!(trace.check("interactions[0]").unwrap_err().0.contains("content_id"));
        let blocks = NewInteraction {
            kind: InteractionType::DisplayBlock,
            content_id: None,
            display_block: Some(vec![json!({"type": "image"})]),
        };
        assert!(blocks.check("i").unwrap_err().0.contains("'url'"));
        let ok = NewInteraction {
            display_block: Some(vec![json!({"type": "text", "content": "hi"})]),
            ..blocks
        };
        assert!(ok.check("i").is_ok());
    }

    #[test]
    fn content_comes_from_the_root_spans() {
        let spans: Vec<Map<String, Value>> = [
            json!({"span_id": "1", "parent_id": "undefined", "meta": {"input": {"value": "q"}, "output": {"value": "a"}}}),
            json!({"span_id": "2", "parent_id": "1", "meta": {"input": {"messages": [{"content": "inner"}]}}}),
        ]
        .into_iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect();
        let content = Content::of_spans(&spans);
        assert_eq!(content.input, Some(json!("q")));
        assert_eq!(content.output, Some(json!("a")));
    }

    #[test]
    fn an_export_record_puts_labels_where_asked() {
        let interaction = Interaction {
            id: "i1".into(),
            kind: InteractionType::Trace,
            content_id: "t1".into(),
            display_block: None,
            created_at: "x".into(),
            modified_at: "x".into(),
        };
        let s = schema();
        let annotation = Annotation {
            id: "a1".into(),
            interaction_id: "i1".into(),
            label_values: vec![
                SavedLabelValue::new(value("id1", json!(4)), s.label("id1").unwrap()),
                SavedLabelValue::new(value("id2", json!("bug")), s.label("id2").unwrap()),
            ],
            created_by: "u".into(),
            modified_by: "u".into(),
            created_at: "x".into(),
            modified_at: "x".into(),
        };
        let content = Content { input: Some(json!("q")), output: Some(json!("a")) };
        let mut request = ExportRequest {
            dataset_name: "d".into(),
            labels_as: LabelsAs::ExpectedOutput,
            label: None,
            description: None,
        };
        let (input, expected, metadata) =
            export_record(&request, &interaction, &annotation, &content).unwrap();
        assert_eq!(input, json!("q"));
        assert_eq!(expected, Some(json!({"quality": 4, "topic": "bug"})));
        assert_eq!(metadata["output"], json!("a"));
        request.label = Some("topic".into());
        let (_, expected, _) =
            export_record(&request, &interaction, &annotation, &content).unwrap();
        assert_eq!(expected, Some(json!("bug")));
        request.label = Some("fix".into());
        assert!(export_record(&request, &interaction, &annotation, &content).is_none());
        request.label = None;
        request.labels_as = LabelsAs::Metadata;
        let (_, expected, metadata) =
            export_record(&request, &interaction, &annotation, &content).unwrap();
        assert_eq!(expected, Some(json!("a")));
        assert_eq!(metadata["labels"], json!({"quality": 4, "topic": "bug"}));
    }
}
