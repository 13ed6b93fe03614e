//! The prompt returned by `get_prompt`, its options and fallbacks.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use llmobs_core::prompts::{ChatItem, Template};
use llmobs_core::render::{self, AnnotationSource, Rendered, Vars};
use serde_json::{Map, Value};

use crate::Result;

/// Where a [`Prompt`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Fetched from the registry by this call (latest, version or label).
    Registry,
    /// Fetched by this call through environment resolution (`DD_ENV`).
    Resolve,
    /// Served from the in-memory or on-disk cache.
    Cache,
    /// The caller's fallback: the registry could not be reached and nothing was cached.
    Fallback,
}

impl Source {
    /// The reference client's name: `registry`, `resolve`, `cache` or `fallback`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Registry => "registry",
            Source::Resolve => "resolve",
            Source::Cache => "cache",
            Source::Fallback => "fallback",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One version of a managed prompt, ready to render.
///
/// Cheap to share: `get_prompt` returns it in an [`Arc`], and a cache hit costs one
/// reference-count increment.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub(crate) id: String,
    pub(crate) version: String,
    pub(crate) label: Option<String>,
    pub(crate) source: Source,
    pub(crate) template: Template,
    pub(crate) prompt_uuid: Option<String>,
    pub(crate) version_uuid: Option<String>,
    pub(crate) config: Map<String, Value>,
    /// When it was fetched, in nanoseconds since the Unix epoch.
    pub(crate) fetched_at: Option<u64>,
}

/// `greeting v3 (cache)`: the id, the display [`version`](Prompt::version) (`v` and the
/// number, or the version's name as it is, such as `fallback`) and the
/// [`source`](Prompt::source). Render the template with [`format`](Prompt::format).
impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let numbered = !self.version.is_empty() && self.version.bytes().all(|b| b.is_ascii_digit());
        let v = if numbered { "v" } else { "" };
        write!(f, "{} {v}{} ({})", self.id, self.version, self.source)
    }
}

impl Prompt {
    /// The prompt id, as the registry answered it (the requested id for fallbacks).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The display version: the version's `user_version` if it has one, else its
    /// number (`"3"`); `"fallback"` for a fallback without a version. This is a name
    /// for people and spans; version *numbers* are `u64` everywhere in this crate
    /// ([`GetPrompt::version`], [`PromptVersion::version`](crate::PromptVersion::version),
    /// [`Dataset::version`](crate::Dataset::version)).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The label this prompt was selected by, if any (labels are deprecated in favour
    /// of environments).
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Where this copy came from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The template: text, or chat items with placeholders.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Whether the template is a chat template.
    pub fn is_chat(&self) -> bool {
        self.template.is_chat()
    }

    /// The prompt's UUID, when the registry sent it.
    pub fn prompt_uuid(&self) -> Option<&str> {
        self.prompt_uuid.as_deref()
    }

    /// The version's UUID, when the registry sent it.
    pub fn prompt_version_uuid(&self) -> Option<&str> {
        self.version_uuid.as_deref()
    }

    /// Application configuration stored with the version (`{}` when none).
    pub fn config(&self) -> &Map<String, Value> {
        &self.config
    }

    /// When this copy was fetched from the registry; `None` for a fallback.
    ///
    /// A copy read from the on-disk cache keeps the time it was originally fetched,
    /// even by another process.
    pub fn fetched_at(&self) -> Option<SystemTime> {
        self.fetched_at.map(|nanos| UNIX_EPOCH + Duration::from_nanos(nanos))
    }

    /// How old this copy is: the time since it was fetched from the registry. `None`
    /// for a fallback. This answers "why is my prompt stale?": a copy older than the
    /// cache TTL is being refreshed in the background, or the registry is unreachable
    /// and the last good copy is being served.
    pub fn age(&self) -> Option<Duration> {
        let fetched_at = self.fetched_at()?;
        Some(SystemTime::now().duration_since(fetched_at).unwrap_or_default())
    }

    /// Renders the template with the reference semantics: `{x}` and `{{x}}` are
    /// replaced, missing variables are left exactly as written, and chat placeholders
    /// are expanded with the message lists passed under their names.
    ///
    /// Fails only for chat placeholders: a placeholder without a value, or a value that
    /// is not a list of messages.
    ///
    /// ```
    /// # use llmobs::{Fallback, Prompt};
    /// let prompt = Prompt::from_fallback("greeting", Fallback::from("Hi {name}, {{mood}}"));
    /// let text = prompt.format([("name", "Ada")])?;
    /// assert_eq!(text.as_text(), Some("Hi Ada, {{mood}}"));
    /// # Ok::<(), llmobs::Error>(())
    /// ```
    pub fn format(&self, vars: impl Into<Vars>) -> Result<Rendered> {
        Ok(render::render(&self.template, &vars.into())?)
    }

    /// Like [`format`](Self::format), but a variable the template uses and `vars`
    /// lacks is an error that names it.
    pub fn try_format(&self, vars: impl Into<Vars>) -> Result<Rendered> {
        Ok(render::try_render(&self.template, &vars.into())?)
    }

    /// The names the template uses, in order of first appearance: text variables and
    /// chat placeholder names.
    pub fn variables(&self) -> Vec<String> {
        render::variables(&self.template)
    }

    /// The prompt-tracking object to attach to an LLM span: `id`, `version`,
    /// `variables` (minus chat placeholders), `label`, the UUIDs and the template.
    pub fn to_annotation(&self, vars: impl Into<Vars>) -> Map<String, Value> {
        let source = AnnotationSource {
            id: &self.id,
            version: &self.version,
            label: self.label.as_deref(),
            prompt_uuid: self.prompt_uuid.as_deref(),
            prompt_version_uuid: self.version_uuid.as_deref(),
            template: &self.template,
        };
        render::annotation(&source, &vars.into())
    }

    /// Builds the prompt a fallback stands for (what `get_prompt` returns when it uses
    /// the fallback).
    pub fn from_fallback(prompt_id: &str, fallback: Fallback) -> Prompt {
        let mut fallback = fallback;
        // A closure may return another closure; stop after a few rounds.
        for _ in 0..8 {
            match fallback {
                Fallback::Lazy(make) => fallback = make(),
                _ => break,
            }
        }
        let (template, version, config) = match fallback {
            Fallback::Text(text) => (Template::Text(text), None, None),
            Fallback::Chat(items) => (Template::Chat(items), None, None),
            Fallback::Prompt { template, version, config } => (template, version, config),
            Fallback::Lazy(_) => (Template::Text(String::new()), None, None),
        };
        Prompt {
            id: prompt_id.to_owned(),
            version: version.filter(|v| !v.is_empty()).unwrap_or_else(|| "fallback".to_owned()),
            label: None,
            source: Source::Fallback,
            template,
            prompt_uuid: None,
            version_uuid: None,
            config: config.unwrap_or_default(),
            fetched_at: None,
        }
    }

    pub(crate) fn with_source(&self, source: Source) -> Prompt {
        Prompt { source, ..self.clone() }
    }
}

/// What `get_prompt` returns when the registry cannot be reached and nothing is cached.
///
/// Build one from text, chat items, a template, or a closure that is called only when
/// the fallback is actually needed:
///
/// ```
/// use llmobs::{ChatItem, Fallback, Template};
///
/// let text = Fallback::from("Hello {name}");
/// let chat = Fallback::from(vec![ChatItem::message("user", "Hello {name}")]);
/// let lazy = Fallback::from_fn(|| Fallback::from("built on demand"));
/// let full = Fallback::prompt(Template::Text("Hello {name}".into()), Some("local-1".into()), None);
/// # let _ = (text, chat, lazy, full);
/// ```
#[derive(Clone)]
pub enum Fallback {
    /// A text template.
    Text(String),
    /// A chat template.
    Chat(Vec<ChatItem>),
    /// A template with an optional display version and configuration.
    Prompt {
        /// The template.
        template: Template,
        /// The display version; `"fallback"` when `None` or empty.
        version: Option<String>,
        /// Configuration; `{}` when `None`.
        config: Option<Map<String, Value>>,
    },
    /// A closure producing the fallback, called at most once per `get_prompt` and only
    /// when needed.
    Lazy(Arc<dyn Fn() -> Fallback + Send + Sync>),
}

impl Fallback {
    /// A fallback computed by `make` when (and only when) it is needed.
    pub fn from_fn(make: impl Fn() -> Fallback + Send + Sync + 'static) -> Self {
        Fallback::Lazy(Arc::new(make))
    }

    /// A template with an optional display version and configuration.
    pub fn prompt(
        template: Template,
        version: Option<String>,
        config: Option<Map<String, Value>>,
    ) -> Self {
        Fallback::Prompt { template, version, config }
    }
}

impl fmt::Debug for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fallback::Text(text) => f.debug_tuple("Text").field(text).finish(),
            Fallback::Chat(items) => f.debug_tuple("Chat").field(items).finish(),
            Fallback::Prompt { template, version, config } => f
                .debug_struct("Prompt")
                .field("template", template)
                .field("version", version)
                .field("config", config)
                .finish(),
            Fallback::Lazy(_) => f.write_str("Lazy(..)"),
        }
    }
}

impl From<&str> for Fallback {
    fn from(text: &str) -> Self {
        Fallback::Text(text.to_owned())
    }
}

impl From<String> for Fallback {
    fn from(text: String) -> Self {
        Fallback::Text(text)
    }
}

impl From<Vec<ChatItem>> for Fallback {
    fn from(items: Vec<ChatItem>) -> Self {
        Fallback::Chat(items)
    }
}

impl From<Template> for Fallback {
    fn from(template: Template) -> Self {
        match template {
            Template::Text(text) => Fallback::Text(text),
            Template::Chat(items) => Fallback::Chat(items),
        }
    }
}

/// Options of `get_prompt_with`: which version to select, and what to fall back on.
///
/// Precedence (spec §5): an exact `version` wins (label and targeting are ignored with
/// a warning); then a `label` (targeting ignored with a warning); then, when the client
/// has an environment (`DD_ENV`), environment resolution with the targeting key and
/// attributes; otherwise the latest version.
///
/// ```
/// use llmobs::GetPrompt;
///
/// let options = GetPrompt::new().targeting_key("user-1").attribute("tier", "gold")
///     .fallback("Hello {name}");
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct GetPrompt {
    pub(crate) version: Option<u64>,
    pub(crate) label: Option<String>,
    pub(crate) targeting_key: Option<String>,
    pub(crate) attributes: Map<String, Value>,
    pub(crate) fallback: Option<Fallback>,
}

impl GetPrompt {
    /// The latest version (or the environment's, with `DD_ENV`), no fallback.
    pub fn new() -> Self {
        GetPrompt::default()
    }

    /// Selects an exact version number.
    pub fn version(mut self, version: u64) -> Self {
        self.version = Some(version);
        self
    }

    /// Selects the version carrying `label`. Deprecated on Datadog in favour of
    /// environments; an empty label selects the latest version (cached separately).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The subject environment resolution targets (`targeting_key`).
    pub fn targeting_key(mut self, key: impl Into<String>) -> Self {
        self.targeting_key = Some(key.into());
        self
    }

    /// An attribute of the subject, sent in the resolve request's `context`.
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }

    /// What to return when the prompt can neither be fetched nor found in a cache.
    pub fn fallback(mut self, fallback: impl Into<Fallback>) -> Self {
        self.fallback = Some(fallback.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn rendering_through_the_prompt() {
        let prompt = Prompt::from_fallback("p", Fallback::from("Hi {name}, {{ day }}"));
        assert_eq!(prompt.variables(), ["name", "day"]);
        let lenient = prompt.format([("name", "A")]).unwrap();
        assert_eq!(lenient.as_text(), Some("Hi A, {{ day }}"));
        let err = prompt.try_format([("name", "A")]).unwrap_err();
        assert_eq!(err.to_string(), "Missing value for variable 'day'");
        let full = prompt.try_format([("name", "A"), ("day", "Monday")]).unwrap();
        assert_eq!(full.as_text(), Some("Hi A, Monday"));
        let annotation = prompt.to_annotation([("name", "A")]);
        assert_eq!(annotation["variables"]["name"], "A");
        assert_eq!(annotation["template"], "Hi {name}, {{ day }}");
    }

    #[test]
    fn fallbacks_follow_the_reference_construction() {
        let prompt = Prompt::from_fallback("p", "x".into());
        assert_eq!((prompt.version(), prompt.source()), ("fallback", Source::Fallback));
        assert_eq!(prompt.age(), None);
        let prompt = Prompt::from_fallback(
            "p",
            Fallback::prompt(Template::Text("t".into()), Some(String::new()), None),
        );
        assert_eq!(prompt.version(), "fallback");
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let lazy = Fallback::from_fn(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Fallback::from(vec![ChatItem::message("user", "hi")])
        });
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let prompt = Prompt::from_fallback("p", lazy);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(prompt.is_chat());
    }
}
