//! Prompts as code: `prompts pull DIR` writes prompt files and a lockfile,
//! `prompts diff DIR` shows what `prompts push DIR` would do, and `push` creates new
//! versions for the files that changed (nothing for the others), optionally moving a
//! label onto them. The file format is the SDK's ([`llmobs::PromptFile`]), so an
//! application can load the same directory as its fallback.

use std::path::{Path, PathBuf};

use clap::Args;
use llmobs::{
    LOCKFILE, Lockfile, NewPrompt, NewVersion, Pin, PromptDir, PromptFile, PromptVersion,
};
use serde::Serialize;

use crate::output::Table;
use crate::prompts::{template_text, unified_diff};
use crate::{Ctx, usage};

/// Options of `prompts pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The directory to write (created when missing).
    pub dir: PathBuf,
    /// Only these prompts (default: every prompt of the registry).
    pub prompt_ids: Vec<String>,
    /// Pull the version with this label instead of the newest (prompts without it are
    /// skipped).
    #[arg(long)]
    pub label: Option<String>,
    /// Overwrite files edited since they were pulled.
    #[arg(long)]
    pub force: bool,
}

/// Options of `prompts push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// A directory written by `prompts pull`.
    pub dir: PathBuf,
    /// Move this label onto every version the push creates.
    #[arg(long)]
    pub label: Option<String>,
}

/// What a push does for one file.
#[derive(Debug, Clone, Serialize)]
struct Step {
    prompt_id: String,
    /// `create` (a new prompt), `version` (a new version) or `unchanged`.
    action: &'static str,
    /// The registry version the file is compared with.
    base_version: Option<u64>,
    diff: String,
    #[serde(skip)]
    file: PathBuf,
    #[serde(skip)]
    prompt: PromptFile,
}

/// The version a file is compared with: the lockfile's pin, else the file's `version`,
/// else the newest.
fn base<'a>(
    versions: &'a [PromptVersion],
    lock: &Lockfile,
    file: &PromptFile,
) -> Option<&'a PromptVersion> {
    let pinned = lock.prompts.get(&file.prompt_id).map(|p| p.version).or(file.version);
    match pinned {
        Some(n) => versions.iter().find(|v| v.version == n),
        None => versions.iter().max_by_key(|v| v.version),
    }
}

/// `version` with its template (lists of versions may leave it out).
async fn with_template(ctx: &Ctx, version: &PromptVersion) -> anyhow::Result<PromptVersion> {
    if version.template.is_some() {
        return Ok(version.clone());
    }
    Ok(ctx.client.get_prompt_version(&version.prompt_id, version.version).await?)
}

fn load(dir: &Path) -> anyhow::Result<PromptDir> {
    if !dir.is_dir() {
        return Err(usage(format!(
            "{} is not a directory: `llmobs prompts pull {}` writes one",
            dir.display(),
            dir.display()
        )));
    }
    PromptDir::load(dir).map_err(|err| usage(err.to_string()))
}

async fn plan(ctx: &Ctx, dir: &PromptDir) -> anyhow::Result<Vec<Step>> {
    let mut steps = Vec::new();
    for (prompt_id, (path, file)) in &dir.files {
        let versions = ctx.client.list_prompt_versions(prompt_id).await?;
        let new_text = template_text(&file.template);
        let step = |action, base_version, diff| Step {
            prompt_id: prompt_id.clone(),
            action,
            base_version,
            diff,
            file: path.clone(),
            prompt: file.clone(),
        };
        if versions.is_empty() {
            steps.push(step(
                "create",
                None,
                unified_diff("", &new_text, "/dev/null", &path.display().to_string()),
            ));
            continue;
        }
        let Some(base) = base(&versions, &dir.lock, file) else {
            anyhow::bail!(
                "{} pins version {:?} of '{prompt_id}', which the registry does not have",
                path.display(),
                dir.lock.prompts.get(prompt_id).map(|p| p.version).or(file.version)
            );
        };
        let base = with_template(ctx, base).await?;
        let old_text = base.template.as_ref().map(template_text).unwrap_or_default();
        if base.template.as_ref() == Some(&file.template) {
            steps.push(step("unchanged", Some(base.version), String::new()));
        } else {
            let old_name = format!("{prompt_id} v{}", base.version);
            steps.push(step(
                "version",
                Some(base.version),
                unified_diff(&old_text, &new_text, &old_name, &path.display().to_string()),
            ));
        }
    }
    Ok(steps)
}

fn steps_table(steps: &[Step]) -> Table {
    let mut table = Table::new(["PROMPT", "ACTION", "BASE", "FILE"]);
    for s in steps {
        table.row([
            s.prompt_id.clone(),
            s.action.to_owned(),
            s.base_version.map(|v| format!("v{v}")).unwrap_or_default(),
            s.file.display().to_string(),
        ]);
    }
    table
}

/// `prompts diff DIR`.
pub async fn diff_dir(ctx: &Ctx, dir: &Path) -> anyhow::Result<()> {
    let dir = load(dir)?;
    let steps = plan(ctx, &dir).await?;
    ctx.out.list(&steps, || steps_table(&steps))?;
    if ctx.out.is_table() {
        for step in steps.iter().filter(|s| !s.diff.is_empty()) {
            ctx.out.text(&format!("\n{}", step.diff))?;
        }
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text)
        .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))
}

/// The file of a pulled version.
fn file_of(version: &PromptVersion, title: Option<String>) -> PromptFile {
    PromptFile {
        prompt_id: version.prompt_id.clone(),
        version: Some(version.version),
        title,
        description: version.description.clone(),
        labels: version.labels.clone(),
        variables: Vec::new(),
        template: version.template.clone().unwrap_or(llmobs::Template::Text(String::new())),
    }
}

/// `prompts pull DIR`.
pub async fn pull(ctx: &Ctx, args: PullArgs) -> anyhow::Result<()> {
    if args.dir.exists() && !args.dir.is_dir() {
        return Err(usage(format!("{} exists and is not a directory", args.dir.display())));
    }
    let existing = if args.dir.is_dir() { load(&args.dir)? } else { PromptDir::default() };
    let prompts = ctx.client.list_prompts().await?;
    for wanted in &args.prompt_ids {
        if !prompts.iter().any(|p| &p.prompt_id == wanted) {
            anyhow::bail!("no prompt '{wanted}' in the registry: `llmobs prompts list` shows them");
        }
    }
    let mut pulled = Vec::new();
    let mut edited = Vec::new();
    for prompt in &prompts {
        if !args.prompt_ids.is_empty() && !args.prompt_ids.contains(&prompt.prompt_id) {
            continue;
        }
        let versions = ctx.client.list_prompt_versions(&prompt.prompt_id).await?;
        let chosen = match &args.label {
            Some(label) => versions.iter().find(|v| v.labels.contains(label)),
            None => versions.iter().max_by_key(|v| v.version),
        };
        let Some(chosen) = chosen else { continue };
        if let Some((path, file)) = existing.files.get(&prompt.prompt_id)
            && let Some(base) = base(&versions, &existing.lock, file)
            && with_template(ctx, base).await?.template.as_ref() != Some(&file.template)
        {
            edited.push(path.display().to_string());
        }
        pulled.push((with_template(ctx, chosen).await?, prompt.title.clone()));
    }
    if !edited.is_empty() && !args.force {
        anyhow::bail!(
            "these files were edited since they were pulled and would be overwritten: {} \
             (push them first, or pull with --force); nothing was written",
            edited.join(", ")
        );
    }
    std::fs::create_dir_all(&args.dir)
        .map_err(|err| anyhow::anyhow!("cannot create {}: {err}", args.dir.display()))?;
    let mut lock = existing.lock.clone();
    let mut rows = Vec::new();
    for (version, title) in &pulled {
        let path = existing
            .files
            .get(&version.prompt_id)
            .map(|(p, _)| p.clone())
            .unwrap_or_else(|| args.dir.join(PromptFile::file_name(&version.prompt_id)));
        write(&path, &file_of(version, title.clone()).to_text())?;
        lock.prompts.insert(
            version.prompt_id.clone(),
            Pin { version: version.version, uuid: version.uuid.clone() },
        );
        rows.push(serde_json::json!({"prompt_id": version.prompt_id, "version": version.version, "file": path.display().to_string()}));
    }
    write(&args.dir.join(LOCKFILE), &lock.to_text())?;
    ctx.out.list(&rows, || {
        let mut table = Table::new(["PROMPT", "VERSION", "FILE"]);
        for row in &rows {
            table.row([
                row["prompt_id"].as_str().unwrap_or("").to_owned(),
                format!("v{}", row["version"]),
                row["file"].as_str().unwrap_or("").to_owned(),
            ]);
        }
        table
    })
}

/// `prompts push DIR`.
pub async fn push(ctx: &Ctx, args: PushArgs) -> anyhow::Result<()> {
    let dir = load(&args.dir)?;
    let steps = plan(ctx, &dir).await?;
    let mut lock = dir.lock.clone();
    let labels: Vec<String> = args.label.iter().cloned().collect();
    let mut done = Vec::new();
    for step in steps {
        let file = &step.prompt;
        let made: Option<PromptVersion> = match step.action {
            "create" => {
                let mut new =
                    NewPrompt::new(&file.prompt_id, file.template.clone()).labels(labels.clone());
                if let Some(title) = &file.title {
                    new = new.title(title);
                }
                if let Some(description) = &file.description {
                    new = new.description(description);
                }
                ctx.client.create_prompt(new).await?;
                let versions = ctx.client.list_prompt_versions(&file.prompt_id).await?;
                versions.into_iter().max_by_key(|v| v.version)
            }
            "version" => {
                let mut new = NewVersion::new(file.template.clone()).labels(labels.clone());
                if let Some(description) = &file.description {
                    new = new.description(description);
                }
                Some(ctx.client.create_prompt_version(&file.prompt_id, new).await?)
            }
            _ => None,
        };
        if let Some(version) = &made {
            let mut written = file.clone();
            written.version = Some(version.version);
            written.labels = version.labels.clone();
            write(&step.file, &written.to_text())?;
            lock.prompts.insert(
                file.prompt_id.clone(),
                Pin { version: version.version, uuid: version.uuid.clone() },
            );
            // Keep the lockfile true after every write, so a failure later loses nothing.
            write(&args.dir.join(LOCKFILE), &lock.to_text())?;
        }
        done.push(serde_json::json!({
            "prompt_id": file.prompt_id,
            "action": step.action,
            "version": made.as_ref().map(|v| v.version).or(step.base_version),
        }));
    }
    write(&args.dir.join(LOCKFILE), &lock.to_text())?;
    ctx.out.list(&done, || {
        let mut table = Table::new(["PROMPT", "ACTION", "VERSION"]);
        for row in &done {
            table.row([
                row["prompt_id"].as_str().unwrap_or("").to_owned(),
                row["action"].as_str().unwrap_or("").to_owned(),
                row["version"].as_u64().map(|v| format!("v{v}")).unwrap_or_default(),
            ]);
        }
        table
    })
}
