//! The warm tier: prompts on disk, shared by every process with the same directory.
//!
//! Layout: `<root>/<scope>/<pct(prompt_id)>/<suffix>.json`, where `scope` names the
//! origin and the organisation ([`scope`](super::cache_key::scope)), `pct` is the
//! path-segment percent-encoding (so `a/b` and `a_b` never collide) and `suffix` the key
//! hash of [`Key::suffix`](super::cache_key::Key). Below the scope directory the layout
//! and the files are ddtrace's (spec §4.3): ddtrace pointed at `<root>/<scope>` reads them. Each file holds
//! `{"prompt": {...}, "timestamp": <epoch seconds>}`.
//!
//! Directories are created with mode 0700, files with 0600, each file atomically (a
//! temporary file in the same directory, then a rename, so a reader never sees half a
//! file; no fsync: after a crash a torn file is simply a miss). Every failure is swallowed: a
//! file that cannot be written leaves the prompt in memory only, and a file that cannot
//! be read or parsed is a miss.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use llmobs_core::encoding::path_segment;
use llmobs_core::prompts::Template;
use serde_json::{Map, Value, json};

use super::cache_key::KeyRef;
use super::prompt::{Prompt, Source};

#[derive(Debug, Clone)]
pub(crate) struct DiskCache {
    root: PathBuf,
}

/// The prefix of temporary files, so `clear` can remove leftovers of a crash.
const TEMP_PREFIX: &str = ".tmp-";

impl DiskCache {
    /// The disk cache a client with `config` uses.
    pub(crate) fn of(config: &crate::config::Config) -> Self {
        let scope = super::cache_key::scope(&config.base_url, config.api_key.as_deref());
        DiskCache::new(config.cache_dir.clone(), &scope)
    }

    /// The cache of one scope (origin and organisation) under `root`.
    pub(crate) fn new(root: PathBuf, scope: &str) -> Self {
        DiskCache { root: root.join(scope) }
    }

    /// This scope's directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn prompt_dir(&self, id: &str) -> PathBuf {
        self.root.join(path_segment(id))
    }

    fn file(&self, key: KeyRef<'_>) -> PathBuf {
        self.prompt_dir(key.id).join(format!("{}.json", key.suffix()))
    }

    /// The cached prompt for `key`, with source `cache` and its original fetch time.
    pub(crate) fn read(&self, key: KeyRef<'_>) -> Option<Prompt> {
        let path = self.file(key);
        let bytes = fs::read(&path).ok()?;
        let parsed = parse_file(&bytes);
        if parsed.is_none() {
            tracing::debug!(path = %path.display(), "ignoring an unreadable prompt cache file");
        }
        parsed
    }

    /// Writes `prompt` for `key`; failures are logged at debug level and ignored.
    pub(crate) fn write(&self, key: KeyRef<'_>, prompt: &Prompt) {
        let path = self.file(key);
        if let Err(err) = self.try_write(&path, prompt) {
            tracing::debug!(path = %path.display(), error = %err, "could not write a prompt cache file");
        }
    }

    fn try_write(&self, path: &Path, prompt: &Prompt) -> std::io::Result<()> {
        let dir = path.parent().expect("cache files live in a prompt directory");
        if let Some(parent) = self.root.parent() {
            create_private_dir(parent)?;
        }
        create_private_dir(&self.root)?;
        create_private_dir(dir)?;
        let mut file =
            tempfile::Builder::new().prefix(TEMP_PREFIX).suffix(".json").tempfile_in(dir)?;
        file.write_all(&serialize(prompt))?;
        file.persist(path).map_err(|err| err.error)?;
        Ok(())
    }

    /// Removes the file of one key.
    pub(crate) fn evict_key(&self, key: KeyRef<'_>) {
        let _ = fs::remove_file(self.file(key));
    }

    /// Removes every file of one prompt id (all selectors), and its directory.
    pub(crate) fn evict_prompt(&self, id: &str) {
        let dir = self.prompt_dir(id);
        remove_owned_files(&dir);
        let _ = fs::remove_dir(&dir);
    }

    /// Removes this scope's cache files: `*.json` (and temporary files) in each prompt
    /// directory, then the directories left empty. Other files and other scopes are
    /// kept, and nothing is created.
    pub(crate) fn clear(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_owned_files(&path);
                let _ = fs::remove_dir(&path);
            }
        }
        let _ = fs::remove_dir(&self.root);
    }
}

fn remove_owned_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".json") || name.starts_with(TEMP_PREFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

fn serialize(prompt: &Prompt) -> Vec<u8> {
    let timestamp = prompt.fetched_at.unwrap_or_default() as f64 / 1e9;
    let body = json!({
        "prompt": {
            "id": prompt.id,
            "version": prompt.version,
            "label": prompt.label,
            "source": "cache",
            "template": prompt.template.to_value(),
            "_uuid": prompt.prompt_uuid,
            "_version_uuid": prompt.version_uuid,
            "config": prompt.config,
        },
        "timestamp": timestamp,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn optional_string(map: &Map<String, Value>, key: &str) -> Option<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(text)) => Some(Some(text.clone())),
        Some(_) => None,
    }
}

/// Parses a cache file; anything unexpected is a miss.
pub(crate) fn parse_file(bytes: &[u8]) -> Option<Prompt> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let file = value.as_object()?;
    let timestamp = file.get("timestamp")?.as_f64()?;
    if !timestamp.is_finite() || timestamp < 0.0 {
        return None;
    }
    let prompt = file.get("prompt")?.as_object()?;
    let id = prompt.get("id")?.as_str()?.to_owned();
    let version = match prompt.get("version")? {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    if !prompt.contains_key("label") {
        return None;
    }
    let label = optional_string(prompt, "label")?;
    let template = match prompt.get("template")? {
        value @ (Value::String(_) | Value::Array(_)) => Template::from_value_lenient(value),
        _ => return None,
    };
    let config = match prompt.get("config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return None,
    };
    // Whatever `source` was stored, a copy read back from disk is a cache hit.
    Some(Prompt {
        id,
        version,
        label,
        source: Source::Cache,
        template,
        prompt_uuid: optional_string(prompt, "_uuid")?,
        version_uuid: optional_string(prompt, "_version_uuid")?,
        config,
        // Float seconds carry about a quarter of a microsecond: keep whole microseconds.
        fetched_at: Some((timestamp * 1e6).round() as u64 * 1000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_python_files_parse() {
        let python = br#"{"prompt": {"id": "p", "version": "v2", "label": null, "source": "cache",
            "template": [{"role": "user", "content": "Hi {{name}}"}], "_uuid": "u",
            "_version_uuid": "vu"}, "timestamp": 1760000000.25}"#;
        let prompt = parse_file(python).unwrap();
        assert_eq!((prompt.id(), prompt.version(), prompt.source()), ("p", "v2", Source::Cache));
        assert!(prompt.config().is_empty());
        let again = parse_file(&serialize(&prompt)).unwrap();
        assert_eq!(again, prompt);
    }

    #[test]
    fn broken_files_are_misses() {
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"prompt": {"id": "p", "version": "1", "template": "t"}, "timestamp": 1}"#,
            br#"{"prompt": {"id": "p", "version": "1", "label": null, "template": "t"}}"#,
            br#"{"prompt": {"id": "p", "label": null, "template": "t"}, "timestamp": 1}"#,
            br#"{"prompt": {"id": "p", "version": "1", "label": null, "template": "t",
                "config": [1]}, "timestamp": 1}"#,
        ] {
            assert!(parse_file(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
