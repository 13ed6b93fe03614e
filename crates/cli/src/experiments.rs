//! `llmobs experiments list|show|export|compare|delete`.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use llmobs::wire::Resource;
use llmobs::{ExperimentInfo, ListExperiments};

use crate::compare::{self, CompareArgs};
use crate::datasets::RecordFormat;
use crate::output::Table;
use crate::projects::confirm;
use crate::{Ctx, block_on, usage};

/// Experiment commands.
#[derive(Debug, Subcommand)]
pub enum ExperimentsCommand {
    /// List experiments, newest first: the project's when one is set (`--project`,
    /// `DD_LLMOBS_PROJECT_NAME` or the profile), else every project's.
    List {
        /// Only runs of this experiment name.
        #[arg(long)]
        name: Option<String>,
        /// Only experiments with this KEY:VALUE tag (repeatable: all of them).
        #[arg(long = "tag", value_name = "KEY:VALUE")]
        tags: Vec<String>,
        /// At most this many.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show an experiment and its summary (id, name for its latest run, or tag).
    Show {
        /// The experiment.
        experiment: String,
    },
    /// Write an experiment's rows (record, output, evaluations) as JSON lines or CSV.
    Export {
        /// The experiment.
        experiment: String,
        /// The file to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The format (default: jsonl, or from the output's extension).
        #[arg(long, value_enum)]
        format: Option<RecordFormat>,
    },
    /// Compare a candidate with a baseline; a CI gate with --fail-on.
    Compare(CompareArgs),
    /// Delete experiments (all or nothing).
    Delete {
        /// Experiment ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
}

fn resource(info: &ExperimentInfo) -> Resource<&llmobs::wire::ExperimentRecord> {
    Resource::new(info.id.clone(), "experiments", &info.attributes)
}

/// The experiments' table; with a PROJECT column when they come from several projects
/// (`projects` maps ids to names).
fn table(experiments: &[ExperimentInfo], projects: Option<&HashMap<String, String>>) -> Table {
    let mut header = vec!["ID", "RUN", "EXPERIMENT", "STATUS", "DATASET_VERSION", "CREATED"];
    if projects.is_some() {
        header.insert(1, "PROJECT");
    }
    let mut table = Table::new(header);
    for e in experiments {
        let a = &e.attributes;
        let mut row = vec![
            e.id.clone(),
            a.name.clone(),
            a.experiment.clone(),
            a.status.clone().unwrap_or_default(),
            a.dataset_version.to_string(),
            a.created_at.clone(),
        ];
        if let Some(projects) = projects {
            row.insert(1, projects.get(&a.project_id).cloned().unwrap_or_default());
        }
        table.row(row);
    }
    table
}

/// Every project's experiments matching `filter`, newest first, at most `limit`.
async fn list_everywhere(
    ctx: &Ctx,
    filter: ListExperiments,
    limit: Option<usize>,
) -> anyhow::Result<(Vec<ExperimentInfo>, HashMap<String, String>)> {
    let projects = ctx.client.list_projects().await?;
    let mut found = Vec::new();
    for project in &projects {
        let filter = ListExperiments {
            project_name: Some(project.attributes.name.clone()),
            ..filter.clone()
        };
        found.extend(ctx.client.list_experiments(filter).await?);
    }
    // Timestamps of one format sort as text; ties keep the id order stable.
    found.sort_by(|a, b| (&b.attributes.created_at, &b.id).cmp(&(&a.attributes.created_at, &a.id)));
    found.truncate(limit.unwrap_or(usize::MAX));
    let names = projects.into_iter().map(|p| (p.id, p.attributes.name)).collect();
    Ok((found, names))
}

/// Runs an experiment command.
pub fn run(command: ExperimentsCommand, ctx: Ctx) -> anyhow::Result<()> {
    block_on(async move {
        match command {
            ExperimentsCommand::List { name, tags, limit } => {
                if limit == Some(0) {
                    return Err(usage("--limit must be at least 1"));
                }
                let filter = ListExperiments {
                    experiment_name: name,
                    tags,
                    max_results: limit,
                    ..ListExperiments::default()
                };
                let Some(project) = ctx.settings.get("project") else {
                    let (found, projects) = list_everywhere(&ctx, filter, limit).await?;
                    let wire: Vec<_> = found.iter().map(resource).collect();
                    return ctx.out.list(&wire, || table(&found, Some(&projects)));
                };
                if ctx.client.find_project(project).await?.is_none() {
                    anyhow::bail!("no project '{project}': `llmobs projects list` shows them");
                }
                let filter = ListExperiments { project_name: Some(project.to_owned()), ..filter };
                let found = ctx.client.list_experiments(filter).await?;
                let wire: Vec<_> = found.iter().map(resource).collect();
                ctx.out.list(&wire, || table(&found, None))
            }
            ExperimentsCommand::Show { experiment } => {
                let info = compare::resolve(&ctx, &experiment).await?;
                let a = &info.attributes;
                ctx.out.one(&resource(&info), || {
                    Table::pairs([
                        ("id", info.id.clone()),
                        ("run", a.name.clone()),
                        ("experiment", a.experiment.clone()),
                        ("status", a.status.clone().unwrap_or_default()),
                        ("dataset", format!("{} v{}", a.dataset_id, a.dataset_version)),
                        ("description", a.description.clone()),
                        ("tags", info.tags().join(", ")),
                        ("created", a.created_at.clone()),
                    ])
                })?;
                if ctx.out.is_table() {
                    let pulled = ctx.client.pull_experiment(&info.id).await?;
                    ctx.out.text(&format!("\n{}", pulled.results))?;
                }
                Ok(())
            }
            ExperimentsCommand::Export { experiment, output, format } => {
                let info = compare::resolve(&ctx, &experiment).await?;
                let pulled = ctx.client.pull_experiment(&info.id).await?;
                let format =
                    format.unwrap_or_else(|| match output.as_ref().and_then(|p| p.extension()) {
                        Some(e) if e == "csv" => RecordFormat::Csv,
                        _ => RecordFormat::Jsonl,
                    });
                let write = |out: &mut dyn Write| -> anyhow::Result<()> {
                    match format {
                        RecordFormat::Csv => pulled.results.write_csv(&mut *out)?,
                        RecordFormat::Jsonl => pulled.results.write_jsonl(&mut *out)?,
                    }
                    out.flush()?;
                    Ok(())
                };
                match output {
                    None => write(&mut std::io::stdout().lock()),
                    Some(path) => {
                        let mut file =
                            std::io::BufWriter::new(std::fs::File::create(&path).map_err(
                                |err| usage(format!("cannot write {}: {err}", path.display())),
                            )?);
                        write(&mut file)?;
                        ctx.out.note(&format!("wrote {}", path.display()));
                        Ok(())
                    }
                }
            }
            ExperimentsCommand::Compare(args) => compare::run(&ctx, args).await,
            ExperimentsCommand::Delete { ids, yes } => {
                for id in &ids {
                    ctx.client.get_experiment(id).await?;
                }
                confirm(yes, &format!("delete experiment(s) {}", ids.join(", ")))?;
                ctx.client.delete_experiments(&ids).await?;
                ctx.out.note(&format!("deleted {}", ids.join(", ")));
                Ok(())
            }
        }
    })
}
