//! Builders for the registry's create requests.

use llmobs_core::prompts::{CreatePromptRequest, CreateVersionRequest, Template};
use serde_json::{Map, Value};

/// A prompt to create with [`Client::create_prompt`](crate::Client::create_prompt):
/// an id, the template of version 1 and optional fields. Converts into the wire type
/// [`CreatePromptRequest`].
///
/// ```
/// use llmobs::{NewPrompt, Template};
///
/// let request = NewPrompt::new("greeting", Template::Text("Hello {name}".into()))
///     .title("Greeting")
///     .labels(["production"]);
/// # let _ = request;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NewPrompt {
    prompt_id: String,
    title: Option<String>,
    version: NewVersion,
}

impl NewPrompt {
    /// A prompt with id `prompt_id` whose version 1 has `template`.
    pub fn new(prompt_id: impl Into<String>, template: Template) -> Self {
        NewPrompt { prompt_id: prompt_id.into(), title: None, version: NewVersion::new(template) }
    }

    /// The title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The description (of the prompt and of version 1).
    pub fn description(self, description: impl Into<String>) -> Self {
        self.with_version(|v| v.description(description))
    }

    /// A name for version 1, shown as its version.
    pub fn user_version(self, user_version: impl Into<String>) -> Self {
        self.with_version(|v| v.user_version(user_version))
    }

    /// Labels to put on version 1 (moved from other versions).
    pub fn labels<S: Into<String>>(self, labels: impl IntoIterator<Item = S>) -> Self {
        self.with_version(|v| v.labels(labels))
    }

    /// Environments (UUIDs or names) that should serve version 1.
    pub fn env_ids<S: Into<String>>(self, env_ids: impl IntoIterator<Item = S>) -> Self {
        self.with_version(|v| v.env_ids(env_ids))
    }

    /// Application configuration stored with version 1.
    pub fn config(self, config: Map<String, Value>) -> Self {
        self.with_version(|v| v.config(config))
    }

    /// Version 1 as `change` leaves it.
    fn with_version(mut self, change: impl FnOnce(NewVersion) -> NewVersion) -> Self {
        self.version = change(self.version);
        self
    }
}

impl From<NewPrompt> for CreatePromptRequest {
    fn from(request: NewPrompt) -> Self {
        let CreateVersionRequest { template, description, user_version, labels, env_ids, config } =
            request.version.0;
        CreatePromptRequest {
            prompt_id: request.prompt_id,
            template,
            title: request.title,
            description,
            user_version,
            labels,
            env_ids,
            config,
        }
    }
}

/// A version to add with
/// [`Client::create_prompt_version`](crate::Client::create_prompt_version). Converts
/// into the wire type [`CreateVersionRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion(CreateVersionRequest);

impl NewVersion {
    /// A version with `template`.
    pub fn new(template: Template) -> Self {
        NewVersion(CreateVersionRequest {
            template: template.to_value(),
            description: None,
            user_version: None,
            labels: None,
            env_ids: None,
            config: None,
        })
    }

    /// The description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.0.description = Some(description.into());
        self
    }

    /// A name for the version, shown as its version.
    pub fn user_version(mut self, user_version: impl Into<String>) -> Self {
        self.0.user_version = Some(user_version.into());
        self
    }

    /// Labels to put on this version (moved from other versions).
    pub fn labels<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.0.labels = Some(labels.into_iter().map(Into::into).collect());
        self
    }

    /// Environments (UUIDs or names) that should serve this version.
    pub fn env_ids<S: Into<String>>(mut self, env_ids: impl IntoIterator<Item = S>) -> Self {
        self.0.env_ids = Some(env_ids.into_iter().map(Into::into).collect());
        self
    }

    /// Application configuration.
    pub fn config(mut self, config: Map<String, Value>) -> Self {
        self.0.config = Some(config);
        self
    }
}

impl From<NewVersion> for CreateVersionRequest {
    fn from(request: NewVersion) -> Self {
        request.0
    }
}
