//! Prompts kept as files: one TOML file per prompt (its id, template, variables, labels
//! and version) and a lockfile pinning the version each file was pulled from or pushed
//! as. `llmobs prompts pull|push|diff DIR` write and read them; [`PromptDir`] loads
//! them, and [`ClientBuilder::prompt_dir`](crate::ClientBuilder::prompt_dir) makes them
//! the fallback of `get_prompt`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llmobs_core::prompts::Template;
use serde::{Deserialize, Serialize};

use crate::{Error, Fallback, Result};

/// The lockfile's name in a prompt directory.
pub const LOCKFILE: &str = "prompts.lock";

/// One prompt as a file.
///
/// ```toml
/// prompt_id = "greeting"
/// version = 3
/// labels = ["production"]
/// variables = ["name"]
/// template = "Hello {name}"
/// ```
///
/// A chat template is a list of messages: `template = [{ role = "system", content = "…" }]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptFile {
    /// The prompt's id.
    pub prompt_id: String,
    /// The registry version this file holds; `None` for a prompt not pushed yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The prompt's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The version's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Labels on that version (informational: `push --label` moves labels).
    #[serde(default)]
    pub labels: Vec<String>,
    /// The variables the template uses (informational; recomputed on write).
    #[serde(default)]
    pub variables: Vec<String>,
    /// The template: text, or a list of chat messages.
    pub template: Template,
}

impl PromptFile {
    /// Parses a prompt file's text.
    pub fn parse(text: &str) -> std::result::Result<PromptFile, String> {
        let file: PromptFile = toml::from_str(text).map_err(|err| err.to_string())?;
        llmobs_core::prompts::validate_prompt_id(&file.prompt_id)
            .map_err(|err| format!("prompt_id: {err}"))?;
        Ok(file)
    }

    /// The file's text, with `variables` computed from the template.
    pub fn to_text(&self) -> String {
        let mut file = self.clone();
        file.variables = llmobs_core::render::variables(&file.template);
        toml::to_string(&file).unwrap_or_default()
    }

    /// The file name of a prompt id: characters other than ASCII letters, digits, `-`,
    /// `_` and `.` are written `%XX`; a leading `.` too.
    pub fn file_name(prompt_id: &str) -> String {
        let mut name = String::new();
        for (i, byte) in prompt_id.bytes().enumerate() {
            let keep =
                byte.is_ascii_alphanumeric() || b"-_".contains(&byte) || (byte == b'.' && i > 0);
            if keep {
                name.push(byte as char);
            } else {
                name.push_str(&format!("%{byte:02X}"));
            }
        }
        name.push_str(".toml");
        name
    }
}

/// The lockfile: the version each prompt file pins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lockfile {
    /// Pinned versions by prompt id.
    #[serde(default)]
    pub prompts: BTreeMap<String, Pin>,
}

/// One pinned version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pin {
    /// The version number.
    pub version: u64,
    /// The version's UUID.
    pub uuid: String,
}

impl Lockfile {
    /// The lockfile's text.
    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# Written by `llmobs prompts pull|push`: the registry version of each prompt file.\n{body}"
        )
    }
}

/// A directory of prompt files and its lockfile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptDir {
    /// The directory.
    pub path: PathBuf,
    /// Prompt files by prompt id, with the path each came from.
    pub files: BTreeMap<String, (PathBuf, PromptFile)>,
    /// The lockfile (empty when there is none).
    pub lock: Lockfile,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), source }
}

impl PromptDir {
    /// Reads every `*.toml` file of `dir` and its lockfile.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory or a file cannot be read; [`Error::Config`] naming
    /// the file when one is not a prompt file, or when two files hold the same prompt id.
    pub fn load(dir: impl AsRef<Path>) -> Result<PromptDir> {
        let dir = dir.as_ref();
        let mut out = PromptDir { path: dir.to_owned(), ..PromptDir::default() };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        entries.sort();
        for path in entries {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            let file = PromptFile::parse(&text).map_err(|err| {
                Error::Config(format!("{} is not a prompt file: {err}", path.display()))
            })?;
            if let Some((other, _)) = out.files.get(&file.prompt_id) {
                return Err(Error::Config(format!(
                    "{} and {} both hold prompt '{}'",
                    other.display(),
                    path.display(),
                    file.prompt_id
                )));
            }
            out.files.insert(file.prompt_id.clone(), (path, file));
        }
        let lock_path = dir.join(LOCKFILE);
        match std::fs::read_to_string(&lock_path) {
            Ok(text) => {
                out.lock = toml::from_str(&text).map_err(|err| {
                    Error::Config(format!(
                        "{} is not a prompt lockfile: {err}",
                        lock_path.display()
                    ))
                })?;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(io(&lock_path)(err)),
        }
        Ok(out)
    }

    /// The fallback for `prompt_id`: its file's template, shown as the pinned version.
    pub fn fallback(&self, prompt_id: &str) -> Option<Fallback> {
        let (_, file) = self.files.get(prompt_id)?;
        let version = self
            .lock
            .prompts
            .get(prompt_id)
            .map(|pin| pin.version)
            .or(file.version)
            .map(|v| v.to_string());
        Some(Fallback::prompt(file.template.clone(), version, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmobs_core::prompts::ChatItem;

    #[test]
    fn prompt_files_read_back_what_they_wrote() {
        let file = PromptFile {
            prompt_id: "greet/ing".into(),
            version: Some(3),
            title: None,
            description: Some("friendly".into()),
            labels: vec!["production".into()],
            variables: vec![],
            template: Template::Text("Hello {name}\nBye".into()),
        };
        let text = file.to_text();
        let back = PromptFile::parse(&text).unwrap();
        assert_eq!(back.variables, vec!["name".to_owned()]);
        assert_eq!(back.template, file.template);
        assert_eq!(PromptFile::file_name("greet/ing"), "greet%2Fing.toml");
        let chat = PromptFile {
            template: Template::Chat(vec![ChatItem::message("system", "Be {tone}")]),
            ..file
        };
        assert_eq!(PromptFile::parse(&chat.to_text()).unwrap().template, chat.template);
    }

    #[test]
    fn a_file_without_a_template_is_refused_by_name() {
        let err = PromptFile::parse("prompt_id = \"x\"").unwrap_err();
        assert!(err.contains("template"), "{err}");
    }
}
