//! Where the API commands find the server and their keys: the variables ddtrace reads
//! (`DD_API_KEY`, `DD_APP_KEY`, `DD_SITE`, `DD_LLMOBS_OVERRIDE_ORIGIN`,
//! `DD_LLMOBS_PROJECT_NAME`) and named profiles in a TOML config file, managed by
//! `llmobs config set|get|list|path`.
//!
//! Precedence, first wins: a profile named explicitly (`--profile` or `LLMOBS_PROFILE`),
//! then the environment, then the `default` profile, then the SDK's defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

use crate::output::{Out, Table};
use crate::usage;

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// The settings a profile may hold, with the variable each stands for.
pub const KEYS: [(&str, &str); 5] = [
    ("api_key", "DD_API_KEY"),
    ("app_key", "DD_APP_KEY"),
    ("site", "DD_SITE"),
    ("origin", "DD_LLMOBS_OVERRIDE_ORIGIN"),
    ("project", "DD_LLMOBS_PROJECT_NAME"),
];

/// The config file: named profiles of settings.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ConfigFile {
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, BTreeMap<String, String>>,
}

/// The config file's path: `LLMOBS_CONFIG`, else `llmobs/config.toml` in the user's
/// config directory.
pub fn config_path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("LLMOBS_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let dir = dirs::config_dir().ok_or_else(|| {
        usage("no config directory is known for this user: set LLMOBS_CONFIG to a file path")
    })?;
    Ok(dir.join("llmobs").join("config.toml"))
}

impl ConfigFile {
    /// Reads the config file; a missing file is an empty one.
    pub fn load() -> anyhow::Result<(PathBuf, ConfigFile)> {
        let path = config_path()?;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok((path, Self::default()));
            }
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        let file = toml::from_str(&text).map_err(|err| {
            usage(format!(
                "{} is not a valid llmobs config file: {err}fix or remove it",
                path.display()
            ))
        })?;
        Ok((path, file))
    }

    /// Writes the config file, readable by the user only (it holds keys).
    pub fn save(&self, path: &std::path::Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text = toml::to_string(self).context("cannot encode the config file")?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file =
            options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The options every API command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Settings profile from the config file (see `llmobs config`).
    #[arg(long, global = true, env = "LLMOBS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// Project of datasets and experiments (default: the profile's, DD_LLMOBS_PROJECT_NAME,
    /// else default-project).
    #[arg(long, global = true, value_name = "NAME")]
    pub project: Option<String>,
    /// Print the API's data as JSON instead of a table.
    #[arg(long, global = true, conflicts_with = "jsonl")]
    pub json: bool,
    /// Print one JSON object per line (lists and streams).
    #[arg(long, global = true)]
    pub jsonl: bool,
}

/// The resolved settings of one command.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: BTreeMap<&'static str, String>,
    /// Where each value came from (`DD_API_KEY`, `profile 'ci'`).
    sources: BTreeMap<&'static str, String>,
}

impl Settings {
    /// Resolves the settings of `global` (see the module's precedence).
    pub fn resolve(global: &GlobalArgs) -> anyhow::Result<Settings> {
        let (path, file) = ConfigFile::load()?;
        let named = global.profile.as_deref().filter(|p| !p.is_empty());
        let profile = match named {
            Some(name) => Some((
                name,
                file.profiles.get(name).ok_or_else(|| {
                    usage(format!(
                        "profile '{name}' is not in {}: create it with \
                         `llmobs config set --profile {name} origin URL` (profiles: {})",
                        path.display(),
                        list_or_none(file.profiles.keys())
                    ))
                })?,
            )),
            None => None,
        };
        let default = file.profiles.get(DEFAULT_PROFILE);
        let mut settings = Settings::default();
        for (key, var) in KEYS {
            let from_env = || {
                std::env::var(var)
                    .ok()
                    .or_else(|| {
                        (key == "app_key")
                            .then(|| std::env::var("DD_APPLICATION_KEY").ok())
                            .flatten()
                    })
                    .filter(|v| !v.is_empty())
                    .map(|v| (v, var.to_owned()))
            };
            let from = |name: &str, profile: Option<&BTreeMap<String, String>>| {
                profile
                    .and_then(|p| p.get(key))
                    .filter(|v| !v.is_empty())
                    .map(|v| (v.clone(), format!("profile '{name}'")))
            };
            let found = profile
                .and_then(|(name, p)| from(name, Some(p)))
                .or_else(from_env)
                .or_else(|| from(DEFAULT_PROFILE, default));
            if let Some((value, source)) = found {
                settings.values.insert(key, value);
                settings.sources.insert(key, source);
            }
        }
        if let Some(project) = global.project.as_deref().filter(|p| !p.is_empty()) {
            settings.values.insert("project", project.to_owned());
            settings.sources.insert("project", "--project".to_owned());
        }
        Ok(settings)
    }

    /// A setting's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The project of datasets and experiments.
    pub fn project(&self) -> &str {
        self.get("project").unwrap_or("default-project")
    }

    /// Where the API is: the origin, else `https://api.{site}`.
    pub fn base_url(&self) -> String {
        match self.get("origin") {
            Some(origin) => origin.trim_end_matches('/').to_owned(),
            None => format!("https://api.{}", self.get("site").unwrap_or("datadoghq.com")),
        }
    }

    /// An SDK client for these settings: no prompt cache (every read asks the server),
    /// straight to the API (no agent), generous timeouts.
    pub fn client(&self) -> anyhow::Result<llmobs::Client> {
        if self.get("api_key").is_none() {
            return Err(usage(
                "no API key: set DD_API_KEY, or store one with `llmobs config set api_key KEY`",
            ));
        }
        let mut builder = llmobs::Client::builder()
            .cache_ttl(Duration::ZERO)
            .file_cache(false)
            .agentless(true)
            .timeout(Duration::from_secs(120))
            .project_name(self.project());
        for (key, value) in &self.values {
            builder = match *key {
                "api_key" => builder.api_key(value),
                "app_key" => builder.app_key(value),
                "site" => builder.site(value),
                "origin" => builder.origin(value),
                _ => builder,
            };
        }
        builder.build().map_err(|err| usage(format!("the settings cannot be used: {err}")))
    }
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() { "none yet".to_owned() } else { names.join(", ") }
}

/// `llmobs config`: profiles in the config file.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Store a setting in a profile (`--profile`, else `default`).
    Set {
        /// api_key, app_key, site, origin or project.
        key: String,
        /// The value.
        value: String,
    },
    /// Print one setting as the commands resolve it (profile, environment, default).
    Get {
        /// api_key, app_key, site, origin or project.
        key: String,
    },
    /// List the resolved settings and where each comes from; keys are masked.
    List,
    /// Remove a setting from a profile.
    Unset {
        /// api_key, app_key, site, origin or project.
        key: String,
    },
    /// Print the config file's path.
    Path,
}

fn check_key(key: &str) -> anyhow::Result<&'static str> {
    KEYS.iter().map(|(k, _)| *k).find(|k| *k == key).ok_or_else(|| {
        let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
        usage(format!("unknown setting '{key}': use one of {}", known.join(", ")))
    })
}

/// The last four characters of a key, the rest hidden.
fn mask(key: &str, value: &str) -> String {
    if !key.ends_with("_key") {
        return value.to_owned();
    }
    let tail: String = value.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("****{tail}")
}

/// Runs a config command.
pub fn run(command: ConfigCommand, global: &GlobalArgs, out: &Out) -> anyhow::Result<()> {
    let profile = global.profile.clone().unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
    match command {
        ConfigCommand::Set { key, value } => {
            let key = check_key(&key)?;
            if value.trim().is_empty() {
                return Err(usage(format!(
                    "an empty value for '{key}': use `llmobs config unset {key}` to remove it"
                )));
            }
            if key == "origin" && !(value.starts_with("http://") || value.starts_with("https://")) {
                return Err(usage(format!(
                    "origin must be a URL starting with http:// or https://, not '{value}'"
                )));
            }
            let (path, mut file) = ConfigFile::load()?;
            file.profiles.entry(profile.clone()).or_default().insert(key.to_owned(), value);
            file.save(&path)?;
            out.note(&format!("set {key} in profile '{profile}' ({})", path.display()));
        }
        ConfigCommand::Unset { key } => {
            let key = check_key(&key)?;
            let (path, mut file) = ConfigFile::load()?;
            let removed = file.profiles.get_mut(&profile).and_then(|p| p.remove(key));
            if removed.is_none() {
                return Err(usage(format!("profile '{profile}' has no '{key}' to remove")));
            }
            file.save(&path)?;
            out.note(&format!("removed {key} from profile '{profile}'"));
        }
        ConfigCommand::Get { key } => {
            let key = check_key(&key)?;
            let settings = Settings::resolve(global)?;
            match settings.get(key) {
                Some(value) => println!("{value}"),
                None => {
                    return Err(anyhow::anyhow!(
                        "'{key}' is not set: `llmobs config set {key} VALUE` stores it"
                    ));
                }
            }
        }
        ConfigCommand::List => {
            let settings = Settings::resolve(global)?;
            let rows: Vec<(String, String, String)> = KEYS
                .iter()
                .map(|(key, var)| {
                    let value = settings.get(key).map(|v| mask(key, v)).unwrap_or_default();
                    let source = settings.sources.get(key).cloned().unwrap_or_default();
                    (
                        key.to_string(),
                        value,
                        if source.is_empty() { format!("unset ({var})") } else { source },
                    )
                })
                .collect();
            let json: BTreeMap<&str, &str> = rows
                .iter()
                .filter(|r| !r.1.is_empty())
                .map(|r| (r.0.as_str(), r.1.as_str()))
                .collect();
            out.one(&json, || {
                let mut table = Table::new(["SETTING", "VALUE", "FROM"]);
                for (key, value, source) in &rows {
                    table.row([key.clone(), value.clone(), source.clone()]);
                }
                table
            })?;
        }
        ConfigCommand::Path => println!("{}", config_path()?.display()),
    }
    Ok(())
}
