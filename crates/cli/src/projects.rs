//! `llmobs projects list|create|delete`.

use clap::Subcommand;
use llmobs::wire::{Project, Resource};

use crate::output::Table;
use crate::{Ctx, block_on, usage};

/// Project commands.
#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// List the org's projects, oldest first.
    List,
    /// Create a project (or show the existing one of that name).
    Create {
        /// The project's name.
        name: String,
        /// A description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete projects, with their datasets and experiments (all or nothing).
    Delete {
        /// Names or ids of the projects.
        #[arg(required = true)]
        projects: Vec<String>,
        /// Do not ask; required when standard input is not a terminal.
        #[arg(long, short)]
        yes: bool,
    },
}

/// The table of projects.
pub fn table(projects: &[Resource<Project>]) -> Table {
    let mut table = Table::new(["ID", "NAME", "DESCRIPTION", "CREATED"]);
    for p in projects {
        let a = &p.attributes;
        table.row([p.id.clone(), a.name.clone(), a.description.clone(), a.created_at.clone()]);
    }
    table
}

/// The project named or identified by `key`.
pub async fn resolve(ctx: &Ctx, key: &str) -> anyhow::Result<Resource<Project>> {
    let projects = ctx.client.list_projects().await?;
    projects.into_iter().find(|p| p.attributes.name == key || p.id == key).ok_or_else(|| {
        anyhow::anyhow!("no project named or with id '{key}': `llmobs projects list` shows them")
    })
}

/// Runs a project command.
pub fn run(command: ProjectsCommand, ctx: Ctx) -> anyhow::Result<()> {
    block_on(async move {
        match command {
            ProjectsCommand::List => {
                let projects = ctx.client.list_projects().await?;
                ctx.out.list(&projects, || table(&projects))
            }
            ProjectsCommand::Create { name, description } => {
                if name.trim().is_empty() {
                    return Err(usage("a project needs a non-empty name"));
                }
                let project = ctx.client.create_project(&name, &description).await?;
                ctx.out.one(&project, || table(std::slice::from_ref(&project)))
            }
            ProjectsCommand::Delete { projects, yes } => {
                let mut found = Vec::new();
                for key in &projects {
                    found.push(resolve(&ctx, key).await?);
                }
                let names: Vec<&str> = found.iter().map(|p| p.attributes.name.as_str()).collect();
                confirm(
                    yes,
                    &format!(
                        "delete project(s) {} with their datasets and experiments",
                        names.join(", ")
                    ),
                )?;
                let ids: Vec<String> = found.iter().map(|p| p.id.clone()).collect();
                ctx.client.delete_projects(&ids).await?;
                ctx.out.note(&format!("deleted {}", names.join(", ")));
                Ok(())
            }
        }
    })
}

/// Asks before a delete unless `yes`; refuses without a terminal to ask on.
pub fn confirm(yes: bool, what: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(format!("refusing to {what} without confirmation: add --yes")));
    }
    eprint!("{what}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(anyhow::anyhow!("cancelled: nothing was deleted"))
    }
}
