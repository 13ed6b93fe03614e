//! `llmobs prompts …`: the prompt registry from the shell (list, show, create, version,
//! label, render, diff, delete) and prompts kept as files (`pull`, `push`, `diff DIR`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use llmobs::wire::{ChatItem, Template};
use llmobs::{NewPrompt, NewVersion, PromptVersion, Vars};
use serde_json::{Map, Value};

use crate::output::Table;
use crate::projects::confirm;
use crate::{Ctx, block_on, promptfiles, usage};

/// Prompt commands.
#[derive(Debug, Subcommand)]
pub enum PromptsCommand {
    /// List the prompts of the registry.
    List,
    /// Show one version of a prompt (the newest unless --version or --label).
    Show {
        /// The prompt id.
        prompt_id: String,
        #[command(flatten)]
        select: Select,
    },
    /// Create a prompt with its first version.
    Create {
        /// The prompt id (what applications ask for).
        prompt_id: String,
        #[command(flatten)]
        template: TemplateArgs,
        /// A title.
        #[arg(long)]
        title: Option<String>,
        /// Labels to put on the first version (repeatable).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
    },
    /// Add a version to a prompt.
    Version {
        /// The prompt id.
        prompt_id: String,
        #[command(flatten)]
        template: TemplateArgs,
        /// Labels to move onto the new version (repeatable).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
    },
    /// Put a label on a version (it leaves the version that had it), or take it off.
    Label {
        /// The prompt id.
        prompt_id: String,
        /// The version number.
        version: u64,
        /// The label, such as production.
        label: String,
        /// Take the label off instead.
        #[arg(long)]
        remove: bool,
    },
    /// Fill a version's variables and print the result.
    Render {
        /// The prompt id.
        prompt_id: String,
        #[command(flatten)]
        select: Select,
        /// A variable, NAME=VALUE (repeatable; VALUE is JSON when it parses, else text).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// A JSON file with an object of variables.
        #[arg(long, value_name = "FILE")]
        vars_file: Option<PathBuf>,
        /// Fail when the template uses a variable that was not given.
        #[arg(long)]
        strict: bool,
    },
    /// Diff two versions of a prompt, a file against a version, or a prompt directory
    /// against the registry (what `push` would do).
    Diff {
        /// A prompt id, or a directory written by `prompts pull`.
        target: String,
        /// The older version (default: the newest but one, or the newest with --file).
        from: Option<u64>,
        /// The newer version (default: the newest).
        to: Option<u64>,
        /// Compare this template file (text, or JSON for chat) against version FROM.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Delete a prompt and all its versions.
    Delete {
        /// The prompt id.
        prompt_id: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// Write prompts as files (TOML) plus a lockfile pinning their versions.
    Pull(promptfiles::PullArgs),
    /// Create new versions for prompt files that changed (nothing for the others).
    Push(promptfiles::PushArgs),
}

/// Which version: the newest, a number or a label.
#[derive(Debug, Clone, Args)]
pub struct Select {
    /// A version number.
    #[arg(long, conflicts_with = "label")]
    pub version: Option<u64>,
    /// A label, such as production.
    #[arg(long)]
    pub label: Option<String>,
}

/// Where a new version's template comes from.
#[derive(Debug, Clone, Args)]
pub struct TemplateArgs {
    /// The template text, with {name} variables.
    #[arg(long, conflicts_with = "file", required_unless_present = "file")]
    pub template: Option<String>,
    /// A template file: text, or a JSON list of chat messages when it ends in .json.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A description of this version.
    #[arg(long)]
    pub description: Option<String>,
}

impl TemplateArgs {
    fn template(&self) -> anyhow::Result<Template> {
        match (&self.template, &self.file) {
            (Some(text), _) => Ok(Template::Text(text.clone())),
            (None, Some(path)) => read_template(path),
            (None, None) => Err(usage("give the template with --template TEXT or --file FILE")),
        }
    }
}

/// A template file: a JSON chat list when the name ends in `.json`, else text.
pub fn read_template(path: &std::path::Path) -> anyhow::Result<Template> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| usage(format!("cannot read template file {}: {err}", path.display())))?;
    if path.extension().is_some_and(|e| e == "json") {
        let value: Value = serde_json::from_str(&text).map_err(|err| {
            usage(format!(
                "{} is not JSON: {err} (a .json template is a list of messages)",
                path.display()
            ))
        })?;
        return Template::from_value(&value)
            .map_err(|err| usage(format!("{} is not a chat template: {err}", path.display())));
    }
    Ok(Template::Text(text))
}

/// A template as lines of text, for diffs and tables.
pub fn template_text(template: &Template) -> String {
    match template {
        Template::Text(text) => text.clone(),
        Template::Chat(items) => {
            let mut out = String::new();
            for item in items {
                match item {
                    ChatItem::Message { role, content } => {
                        out.push_str(&format!("[{role}]\n{content}\n"));
                    }
                    ChatItem::Placeholder(map) => {
                        out.push_str(&format!("[placeholder] {}\n", Value::Object(map.clone())));
                    }
                }
            }
            out
        }
    }
}

/// A unified diff of two texts; empty when they are equal.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    let line_ended = |text: &str| {
        if text.is_empty() || text.ends_with('\n') { text.to_owned() } else { format!("{text}\n") }
    };
    let (old, new) = (line_ended(old), line_ended(new));
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// The version `select` names, with its template.
pub async fn select_version(
    ctx: &Ctx,
    prompt_id: &str,
    select: &Select,
) -> anyhow::Result<PromptVersion> {
    let versions = ctx.client.list_prompt_versions(prompt_id).await?;
    if versions.is_empty() {
        anyhow::bail!("no prompt '{prompt_id}': `llmobs prompts list` shows them");
    }
    let found = match (select.version, &select.label) {
        (Some(n), _) => versions.into_iter().find(|v| v.version == n).ok_or_else(|| {
            anyhow::anyhow!("prompt '{prompt_id}' has no version {n}: `llmobs prompts show {prompt_id}` shows the newest")
        })?,
        (None, Some(label)) => versions.into_iter().find(|v| v.labels.contains(label)).ok_or_else(|| {
            anyhow::anyhow!("no version of '{prompt_id}' has label '{label}': add it with `llmobs prompts label {prompt_id} VERSION {label}`")
        })?,
        (None, None) => versions.into_iter().max_by_key(|v| v.version).expect("not empty"),
    };
    if found.template.is_some() {
        return Ok(found);
    }
    Ok(ctx.client.get_prompt_version(prompt_id, found.version).await?)
}

fn version_table(version: &PromptVersion) -> Table {
    let mut pairs = vec![
        ("prompt".to_owned(), version.prompt_id.clone()),
        ("version".to_owned(), version.version.to_string()),
        ("labels".to_owned(), version.labels.join(", ")),
        ("created".to_owned(), version.created_at.clone()),
    ];
    if let Some(description) = &version.description {
        pairs.push(("description".to_owned(), description.clone()));
    }
    if let Some(template) = &version.template {
        let vars = llmobs_core::render::variables(template);
        pairs.push(("variables".to_owned(), vars.join(", ")));
    }
    Table::pairs(pairs)
}

/// Variables from `--var` and `--vars-file`.
fn read_vars(vars: &[String], file: Option<&PathBuf>) -> anyhow::Result<Vars> {
    let mut map = Map::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|err| usage(format!("cannot read {}: {err}", path.display())))?;
        match serde_json::from_str(&text) {
            Ok(Value::Object(object)) => map.extend(object),
            Ok(_) => {
                return Err(usage(format!(
                    "{} must hold a JSON object of variables",
                    path.display()
                )));
            }
            Err(err) => return Err(usage(format!("{} is not JSON: {err}", path.display()))),
        }
    }
    for pair in vars {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| usage(format!("--var takes NAME=VALUE, not '{pair}'")))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
        map.insert(name.to_owned(), value);
    }
    Ok(Vars::from(map))
}

/// Runs a prompt command.
pub fn run(command: PromptsCommand, ctx: Ctx) -> anyhow::Result<()> {
    block_on(async move {
        match command {
            PromptsCommand::List => {
                let prompts = ctx.client.list_prompts().await?;
                let wire: Vec<_> = prompts.iter().map(|p| p.wire()).collect();
                ctx.out.list(&wire, || {
                    let mut table = Table::new(["PROMPT", "VERSIONS", "TITLE", "UPDATED"]);
                    for p in &prompts {
                        table.row([
                            p.prompt_id.clone(),
                            p.num_versions.to_string(),
                            p.title.clone().unwrap_or_default(),
                            p.last_version_created_at.clone(),
                        ]);
                    }
                    table
                })
            }
            PromptsCommand::Show { prompt_id, select } => {
                let version = select_version(&ctx, &prompt_id, &select).await?;
                ctx.out.one(version.wire(), || version_table(&version))?;
                if ctx.out.is_table()
                    && let Some(template) = &version.template
                {
                    ctx.out.text(&format!("\n{}", template_text(template)))?;
                }
                Ok(())
            }
            PromptsCommand::Create { prompt_id, template, title, labels } => {
                let mut new = NewPrompt::new(&prompt_id, template.template()?).labels(labels);
                if let Some(title) = title {
                    new = new.title(title);
                }
                if let Some(description) = &template.description {
                    new = new.description(description);
                }
                let created = ctx.client.create_prompt(new).await?;
                ctx.out.note(&format!("created prompt '{}' version 1", created.prompt_id));
                ctx.out.one(created.wire(), || {
                    Table::pairs([
                        ("prompt", created.prompt_id.clone()),
                        ("uuid", created.uuid.clone()),
                    ])
                })
            }
            PromptsCommand::Version { prompt_id, template, labels } => {
                let mut new = NewVersion::new(template.template()?).labels(labels);
                if let Some(description) = &template.description {
                    new = new.description(description);
                }
                let version = ctx.client.create_prompt_version(&prompt_id, new).await?;
                ctx.out.note(&format!("created {version}"));
                ctx.out.one(version.wire(), || version_table(&version))
            }
            PromptsCommand::Label { prompt_id, version, label, remove } => {
                let changed = if remove {
                    ctx.client.remove_label(&prompt_id, version, &label).await?
                } else {
                    ctx.client.set_label(&prompt_id, version, &label).await?
                };
                ctx.out.note(&format!("{changed}"));
                ctx.out.one(changed.wire(), || version_table(&changed))
            }
            PromptsCommand::Render { prompt_id, select, vars, vars_file, strict } => {
                let vars = read_vars(&vars, vars_file.as_ref())?;
                let version = select_version(&ctx, &prompt_id, &select).await?;
                let template = version.template.clone().ok_or_else(|| {
                    anyhow::anyhow!(
                        "the server sent version {} without its template",
                        version.version
                    )
                })?;
                let rendered = if strict {
                    llmobs_core::render::try_render(&template, &vars)
                } else {
                    llmobs_core::render::render(&template, &vars)
                }
                .map_err(|err| usage(format!("cannot render '{prompt_id}': {err}")))?;
                if ctx.out.is_table() {
                    return ctx.out.text(&rendered.to_string());
                }
                match &rendered {
                    llmobs::Rendered::Text(text) => {
                        ctx.out.one(&Value::from(text.as_str()), Table::default)
                    }
                    llmobs::Rendered::Chat(messages) => ctx.out.one(messages, Table::default),
                }
            }
            PromptsCommand::Diff { target, from, to, file } => {
                if std::path::Path::new(&target).is_dir() {
                    return promptfiles::diff_dir(&ctx, std::path::Path::new(&target)).await;
                }
                let prompt_id = target;
                let versions = ctx.client.list_prompt_versions(&prompt_id).await?;
                let newest = versions.iter().map(|v| v.version).max().ok_or_else(|| {
                    anyhow::anyhow!("no prompt '{prompt_id}' (and no directory of that name)")
                })?;
                let text_of = async |n: u64| -> anyhow::Result<String> {
                    if !versions.iter().any(|v| v.version == n) {
                        return Err(usage(format!(
                            "prompt '{prompt_id}' has no version {n} (newest: {newest})"
                        )));
                    }
                    let version = ctx.client.get_prompt_version(&prompt_id, n).await?;
                    Ok(version.template.as_ref().map(template_text).unwrap_or_default())
                };
                let (old_name, old, new_name, new) = match &file {
                    Some(path) => {
                        let n = from.unwrap_or(newest);
                        let file_text = template_text(&read_template(path)?);
                        (
                            format!("{prompt_id} v{n}"),
                            text_of(n).await?,
                            path.display().to_string(),
                            file_text,
                        )
                    }
                    None => {
                        let to = to.unwrap_or(newest);
                        let from = from.unwrap_or(to.saturating_sub(1).max(1));
                        (
                            format!("{prompt_id} v{from}"),
                            text_of(from).await?,
                            format!("{prompt_id} v{to}"),
                            text_of(to).await?,
                        )
                    }
                };
                let diff = unified_diff(&old, &new, &old_name, &new_name);
                let same = diff.is_empty();
                if ctx.out.is_table() {
                    if same {
                        ctx.out.note(&format!("{old_name} and {new_name} are the same"));
                    } else {
                        ctx.out.text(&diff)?;
                    }
                } else {
                    let value = serde_json::json!({"from": old_name, "to": new_name, "same": same, "diff": diff});
                    ctx.out.one(&value, Table::default)?;
                }
                Ok(())
            }
            PromptsCommand::Delete { prompt_id, yes } => {
                let versions = ctx.client.list_prompt_versions(&prompt_id).await?;
                if versions.is_empty() {
                    anyhow::bail!("no prompt '{prompt_id}': `llmobs prompts list` shows them");
                }
                confirm(
                    yes,
                    &format!("delete prompt '{prompt_id}' and its {} version(s)", versions.len()),
                )?;
                ctx.client.delete_prompt(&prompt_id).await?;
                ctx.out.note(&format!("deleted prompt '{prompt_id}'"));
                Ok(())
            }
            PromptsCommand::Pull(args) => promptfiles::pull(&ctx, args).await,
            PromptsCommand::Push(args) => promptfiles::push(&ctx, args).await,
        }
    })
}
