//! The registry's answers as this crate shows them: [`PromptInfo`] and [`PromptVersion`],
//! with version numbers as `u64` like every version in this crate.

use std::fmt;

use llmobs_core::prompts::{PromptRecord as WirePrompt, Template, Version as WireVersion};
use serde_json::{Map, Value};

use crate::datasets::wire_version;

/// A prompt in the registry: what `create_prompt`, `update_prompt` and `list_prompts`
/// answer. Displays as `greeting (3 versions)`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PromptInfo {
    /// The prompt's UUID.
    pub uuid: String,
    /// The identifier chosen at creation, what `get_prompt` takes.
    pub prompt_id: String,
    /// The title, when set.
    pub title: Option<String>,
    /// The description, when set.
    pub description: Option<String>,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When its newest version was created (RFC 3339, UTC).
    pub last_version_created_at: String,
    /// How many versions it has: the newest version's number.
    pub num_versions: u64,
    /// The UUID of the user whose application key created it.
    pub author: String,
    /// The registry's answer as it was sent.
    wire: WirePrompt,
}

impl PromptInfo {
    /// The registry's answer as it was sent (for printing the API's own data).
    pub fn wire(&self) -> &WirePrompt {
        &self.wire
    }
}

impl From<WirePrompt> for PromptInfo {
    fn from(prompt: WirePrompt) -> Self {
        let wire = prompt.clone();
        PromptInfo {
            wire,
            uuid: prompt.id,
            prompt_id: prompt.prompt_id,
            title: prompt.title,
            description: prompt.description,
            created_at: prompt.created_at,
            last_version_created_at: prompt.last_version_created_at,
            num_versions: wire_version(prompt.num_versions),
            author: prompt.author,
        }
    }
}

impl fmt::Display for PromptInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.num_versions == 1 { "" } else { "s" };
        write!(f, "{} ({} version{plural})", self.prompt_id, self.num_versions)
    }
}

/// One version of a prompt: what `create_prompt_version`, `update_prompt_version`,
/// `set_label` and `list_prompt_versions` answer. Displays as `greeting v3` followed by
/// its labels, such as `greeting v3 [production, staging]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PromptVersion {
    /// The version's UUID.
    pub uuid: String,
    /// The prompt's UUID.
    pub prompt_uuid: String,
    /// The prompt's identifier.
    pub prompt_id: String,
    /// The version number, from 1 (what [`GetPrompt::version`](crate::GetPrompt::version)
    /// selects).
    pub version: u64,
    /// A free-text name for the version, when set (shown by
    /// [`Prompt::version`](crate::Prompt::version) instead of the number).
    pub user_version: Option<String>,
    /// The labels on this version.
    pub labels: Vec<String>,
    /// The template (lists may omit it).
    pub template: Option<Template>,
    /// When the version was created (RFC 3339, UTC).
    pub created_at: String,
    /// The UUID of the user who created it.
    pub author: String,
    /// The description, when set.
    pub description: Option<String>,
    /// Application configuration stored with the version (empty when none).
    pub config: Map<String, Value>,
    /// The registry's answer as it was sent.
    wire: WireVersion,
}

impl PromptVersion {
    /// The registry's answer as it was sent (for printing the API's own data).
    pub fn wire(&self) -> &WireVersion {
        &self.wire
    }
}

impl From<WireVersion> for PromptVersion {
    fn from(version: WireVersion) -> Self {
        let wire = version.clone();
        PromptVersion {
            wire,
            uuid: version.id,
            prompt_uuid: version.prompt_uuid,
            prompt_id: version.prompt_id,
            version: wire_version(version.version),
            user_version: version.user_version,
            labels: version.labels,
            template: version.template,
            created_at: version.created_at,
            author: version.author,
            description: version.description,
            config: version.config.unwrap_or_default(),
        }
    }
}

impl fmt::Display for PromptVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} v{}", self.prompt_id, self.version)?;
        if !self.labels.is_empty() {
            write!(f, " [{}]", self.labels.join(", "))?;
        }
        Ok(())
    }
}
