//! `llmobs datasets …`: list, show, create and delete datasets of a project; import and
//! export CSV or JSON lines (streamed, with a progress bar on a terminal); pull a dataset
//! to a JSON lines file and push the file back as one new version; list versions and
//! diff two of them.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Subcommand, ValueEnum};
use llmobs::wire::{DatasetAttributes, ExportFormat, Resource};
use llmobs::{DatasetRecord, FileUpload, PullDataset, RecordUpdate};
use llmobs_core::datasets::{ColumnMap, ColumnRole};
use serde_json::{Value, json};

use crate::output::{Table, progress_bar};
use crate::projects::confirm;
use crate::{Ctx, block_on, usage};

/// A file format of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecordFormat {
    /// Comma-separated values: `input` and optional `id`, `expected_output`, `metadata`,
    /// `tags` columns; JSON cells are read as JSON.
    Csv,
    /// One JSON object per line with the same keys.
    Jsonl,
}

/// How a CSV file of any header becomes records (as ddtrace's `create_dataset_from_csv`
/// reads one): without `--input-columns`, the file has the upload's own columns.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CsvColumns {
    /// The columns that make a record's input, an object of their text (comma-separated).
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    input_columns: Vec<String>,
    /// The columns that make its expected output.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',', requires = "input_columns")]
    expected_output_columns: Vec<String>,
    /// The columns that make its metadata.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',', requires = "input_columns")]
    metadata_columns: Vec<String>,
    /// The column holding its id (default: the server makes one).
    #[arg(long, value_name = "COLUMN", requires = "input_columns")]
    id_column: Option<String>,
}

/// Dataset commands. Datasets are named within the project (`--project`).
#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// List the project's datasets.
    List,
    /// Show a dataset and its first records.
    Show {
        /// The dataset's name.
        name: String,
        /// A version (default: the current one).
        #[arg(long)]
        version: Option<u64>,
        /// How many records to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Create an empty dataset.
    Create {
        /// The dataset's name.
        name: String,
        /// A description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Add the records of a CSV or JSON lines file as one new version (the dataset is
    /// created when missing).
    Import {
        /// The dataset's name.
        name: String,
        /// The file (CSV or JSON lines; the extension decides unless --format).
        file: PathBuf,
        /// The file's format.
        #[arg(long, value_enum)]
        format: Option<RecordFormat>,
        /// Skip rows equal to a record the dataset holds.
        #[arg(long)]
        deduplicate: bool,
        /// A `key:value` tag for every record (repeatable).
        #[arg(long = "tag", value_name = "KEY:VALUE")]
        tags: Vec<String>,
        #[command(flatten)]
        columns: CsvColumns,
    },
    /// Write a dataset's records as CSV or JSON lines (to a file or standard output).
    Export {
        /// The dataset's name.
        name: String,
        /// The file to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The format (default: from the output's extension, else csv).
        #[arg(long, value_enum)]
        format: Option<RecordFormat>,
        /// A version (default: the current one).
        #[arg(long)]
        version: Option<u64>,
    },
    /// Write a dataset to a JSON lines file to edit and `push` back.
    Pull {
        /// The dataset's name.
        name: String,
        /// The file (default: NAME.jsonl).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// A version (default: the current one).
        #[arg(long)]
        version: Option<u64>,
    },
    /// Make a dataset hold exactly the records of a JSON lines file, as one new version:
    /// records are matched by id; new ones are added, changed ones updated, missing
    /// ones deleted.
    Push {
        /// The dataset's name.
        name: String,
        /// The file written by `pull` (then edited).
        file: PathBuf,
    },
    /// List a dataset's versions.
    Versions {
        /// The dataset's name.
        name: String,
    },
    /// Compare two versions of a dataset record by record.
    Diff {
        /// The dataset's name.
        name: String,
        /// The older version.
        from: u64,
        /// The newer version (default: the current one).
        to: Option<u64>,
    },
    /// Delete a dataset.
    Delete {
        /// The dataset's name.
        name: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
}

/// The project's id, which must exist.
async fn project_id(ctx: &Ctx) -> anyhow::Result<String> {
    let name = ctx.settings.project();
    match ctx.client.find_project(name).await? {
        Some(project) => Ok(project.id),
        None => anyhow::bail!(
            "no project '{name}': `llmobs projects list` shows them, `--project NAME` picks one"
        ),
    }
}

/// The dataset `name` of the project, with the project's id.
pub async fn find(ctx: &Ctx, name: &str) -> anyhow::Result<(String, Resource<DatasetAttributes>)> {
    let project_id = project_id(ctx).await?;
    let found = ctx.client.list_datasets(&project_id, Some(name)).await?.into_iter().next();
    match found {
        Some(dataset) => Ok((project_id, dataset)),
        None => anyhow::bail!(
            "no dataset '{name}' in project '{}': `llmobs datasets list` shows them",
            ctx.settings.project()
        ),
    }
}

fn datasets_table(datasets: &[Resource<DatasetAttributes>]) -> Table {
    let mut table = Table::new(["NAME", "VERSION", "DESCRIPTION", "UPDATED", "ID"]);
    for d in datasets {
        let a = &d.attributes;
        table.row([
            a.name.clone(),
            a.current_version.to_string(),
            a.description.clone(),
            a.updated_at.clone(),
            d.id.clone(),
        ]);
    }
    table
}

/// A value as one table cell: strings as they are, anything else as JSON.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

fn records_table(records: &[DatasetRecord]) -> Table {
    let mut table = Table::new(["ID", "INPUT", "EXPECTED_OUTPUT", "TAGS"]);
    for r in records {
        table.row([
            r.id.clone(),
            cell(Some(&r.input)),
            cell(r.expected_output.as_ref()),
            r.tags.join(","),
        ]);
    }
    table
}

fn format_of(path: &Path, given: Option<RecordFormat>) -> RecordFormat {
    given.unwrap_or_else(|| match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "ndjson" | "json") => RecordFormat::Jsonl,
        _ => RecordFormat::Csv,
    })
}

/// Checks a CSV file's header before anything is sent: it needs an `input` column.
fn check_csv(path: &Path) -> anyhow::Result<()> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|err| usage(format!("cannot read {}: {err}", path.display())))?;
    let headers =
        reader.headers().map_err(|err| usage(format!("{} is not CSV: {err}", path.display())))?;
    if !headers.iter().any(|h| h == "input") {
        let found: Vec<&str> = headers.iter().collect();
        return Err(usage(format!(
            "{} has no 'input' column (found: {}); name the columns input, and optionally \
             id, expected_output, metadata, tags, or map yours with --input-columns (and \
             --expected-output-columns, --metadata-columns, --id-column)",
            path.display(),
            found.join(", ")
        )));
    }
    Ok(())
}

/// One JSON lines record as the upload's CSV cells: `id,input,expected_output,metadata,tags`.
fn jsonl_row(line: &str, number: usize, path: &Path) -> anyhow::Result<[String; 5]> {
    let at = || format!("{} line {number}", path.display());
    let value: Value =
        serde_json::from_str(line).map_err(|err| usage(format!("{}: not JSON: {err}", at())))?;
    let Value::Object(object) = value else {
        return Err(usage(format!("{}: a record must be a JSON object", at())));
    };
    for key in object.keys() {
        if !["id", "input", "expected_output", "metadata", "tags"].contains(&key.as_str()) {
            return Err(usage(format!(
                "{}: unknown key '{key}' (keys: id, input, expected_output, metadata, tags)",
                at()
            )));
        }
    }
    let input = match object.get("input") {
        None | Some(Value::Null) => {
            return Err(usage(format!("{}: a record needs an 'input'", at())));
        }
        Some(input) => input.to_string(),
    };
    let id = match object.get("id") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(id)) => id.clone(),
        Some(_) => return Err(usage(format!("{}: 'id' must be a string", at()))),
    };
    let optional = |key: &str| match object.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(value) => value.to_string(),
    };
    let tags = match object.get("tags") {
        None | Some(Value::Null) => String::new(),
        Some(Value::Array(tags)) if tags.iter().all(Value::is_string) => {
            Value::from(tags.clone()).to_string()
        }
        Some(_) => {
            return Err(usage(format!("{}: 'tags' must be a list of \"key:value\" strings", at())));
        }
    };
    Ok([id, input, optional("expected_output"), optional("metadata"), tags])
}

/// Converts a CSV file of any header into the upload's CSV, in a temporary file: each
/// record's input, expected output and metadata are objects of their columns' text.
/// Every row is read before anything is sent.
fn mapped_csv(path: &Path, columns: &CsvColumns) -> anyhow::Result<tempfile::NamedTempFile> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|err| usage(format!("cannot read {}: {err}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|err| usage(format!("{} is not CSV: {err}", path.display())))?
        .clone();
    let map = ColumnMap::new(
        &headers,
        &columns.input_columns,
        &columns.expected_output_columns,
        &columns.metadata_columns,
        columns.id_column.as_deref(),
    )
    .map_err(|missing| {
        let option = match missing.role {
            ColumnRole::Input => "--input-columns",
            ColumnRole::ExpectedOutput => "--expected-output-columns",
            ColumnRole::Metadata => "--metadata-columns",
            ColumnRole::Id => "--id-column",
        };
        let found: Vec<&str> = headers.iter().collect();
        usage(format!(
            "{option}: '{}' is not a column of {} (columns: {})",
            missing.column,
            path.display(),
            found.join(", ")
        ))
    })?;
    let out = tempfile::NamedTempFile::new()?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(out.reopen()?));
    writer.write_record(["id", "input", "expected_output", "metadata", "tags"])?;
    let mut rows = 0;
    for (index, row) in reader.records().enumerate() {
        let row = row.map_err(|err| {
            usage(format!("{} row {}: not CSV: {err}", path.display(), index + 1))
        })?;
        let cell = |i: usize| row.get(i);
        let object = |role| match map.has(role) {
            true => Value::Object(map.object(role, cell)).to_string(),
            false => String::new(),
        };
        writer.write_record([
            map.id(cell).unwrap_or("").to_owned(),
            object(ColumnRole::Input),
            object(ColumnRole::ExpectedOutput),
            object(ColumnRole::Metadata),
            String::new(),
        ])?;
        rows += 1;
    }
    if rows == 0 {
        return Err(usage(format!("{} holds no records", path.display())));
    }
    writer.flush()?;
    Ok(out)
}

/// Converts a JSON lines file into the upload's CSV, in a temporary file; every line is
/// checked before anything is sent.
fn jsonl_to_csv(path: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let file = std::fs::File::open(path)
        .map_err(|err| usage(format!("cannot read {}: {err}", path.display())))?;
    let out = tempfile::NamedTempFile::new()?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(out.reopen()?));
    writer.write_record(["id", "input", "expected_output", "metadata", "tags"])?;
    let mut rows = 0;
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|err| usage(format!("cannot read {}: {err}", path.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        writer.write_record(jsonl_row(&line, index + 1, path)?)?;
        rows += 1;
    }
    if rows == 0 {
        return Err(usage(format!("{} holds no records", path.display())));
    }
    writer.flush()?;
    Ok(out)
}

/// Runs a dataset command.
pub fn run(command: DatasetsCommand, ctx: Ctx) -> anyhow::Result<()> {
    block_on(async move {
        match command {
            DatasetsCommand::List => {
                let project_id = project_id(&ctx).await?;
                let datasets = ctx.client.list_datasets(&project_id, None).await?;
                ctx.out.list(&datasets, || datasets_table(&datasets))
            }
            DatasetsCommand::Show { name, version, limit } => {
                let (_, dataset) = find(&ctx, &name).await?;
                if !ctx.out.is_table() {
                    return ctx.out.one(&dataset, Table::default);
                }
                let a = &dataset.attributes;
                ctx.out.one(&dataset, || {
                    Table::pairs([
                        ("name", a.name.clone()),
                        ("id", dataset.id.clone()),
                        ("version", a.current_version.to_string()),
                        ("description", a.description.clone()),
                        ("created", a.created_at.clone()),
                        ("updated", a.updated_at.clone()),
                    ])
                })?;
                let pulled = ctx
                    .client
                    .pull_dataset_with(
                        &name,
                        PullDataset {
                            project_name: Some(ctx.settings.project().to_owned()),
                            version,
                            tags: Vec::new(),
                        },
                    )
                    .await?;
                let shown: Vec<DatasetRecord> =
                    pulled.records().iter().take(limit).cloned().collect();
                ctx.out.text(&format!(
                    "\n{} record(s){}",
                    pulled.len(),
                    if pulled.len() > shown.len() {
                        format!(", first {}", shown.len())
                    } else {
                        String::new()
                    }
                ))?;
                records_table(&shown)
                    .write(&mut std::io::stdout().lock(), crate::output::terminal_width())?;
                Ok(())
            }
            DatasetsCommand::Create { name, description } => {
                if name.trim().is_empty() {
                    return Err(usage("a dataset needs a non-empty name"));
                }
                let project = ctx.client.create_project(ctx.settings.project(), "").await?;
                if ctx
                    .client
                    .list_datasets(&project.id, Some(&name))
                    .await?
                    .into_iter()
                    .next()
                    .is_some()
                {
                    anyhow::bail!(
                        "dataset '{name}' already exists in project '{}'",
                        ctx.settings.project()
                    );
                }
                let options = llmobs::CreateDataset {
                    name: name.clone(),
                    description,
                    project_name: Some(ctx.settings.project().to_owned()),
                    bulk_upload: false,
                };
                ctx.client.create_dataset_with(&options, Vec::<DatasetRecord>::new()).await?;
                let (_, dataset) = find(&ctx, &name).await?;
                ctx.out.note(&format!("created dataset '{name}'"));
                ctx.out.one(&dataset, || datasets_table(std::slice::from_ref(&dataset)))
            }
            DatasetsCommand::Import { name, file, format, deduplicate, tags, columns } => {
                import(&ctx, &name, &file, format, deduplicate, tags, columns).await
            }
            DatasetsCommand::Export { name, output, format, version } => {
                let format = match (format, &output) {
                    (Some(f), _) => f,
                    (None, Some(path)) => format_of(path, None),
                    (None, None) => RecordFormat::Csv,
                };
                export(&ctx, &name, output.as_deref(), format, version).await
            }
            DatasetsCommand::Pull { name, output, version } => {
                let path = output.unwrap_or_else(|| PathBuf::from(format!("{name}.jsonl")));
                export(&ctx, &name, Some(&path), RecordFormat::Jsonl, version).await
            }
            DatasetsCommand::Push { name, file } => push(&ctx, &name, &file).await,
            DatasetsCommand::Versions { name } => {
                let (project_id, dataset) = find(&ctx, &name).await?;
                let versions = ctx.client.dataset_versions(&project_id, &dataset.id).await?;
                ctx.out.list(&versions, || {
                    let mut table = Table::new(["VERSION", "LAST_USED"]);
                    for v in &versions {
                        table.row([
                            v.attributes.version_number.to_string(),
                            v.attributes.last_used.clone().unwrap_or_default(),
                        ]);
                    }
                    table
                })
            }
            DatasetsCommand::Diff { name, from, to } => diff(&ctx, &name, from, to).await,
            DatasetsCommand::Delete { name, yes } => {
                let (project_id, dataset) = find(&ctx, &name).await?;
                confirm(
                    yes,
                    &format!(
                        "delete dataset '{name}' ({} version(s))",
                        dataset.attributes.current_version
                    ),
                )?;
                ctx.client.delete_datasets(&project_id, std::slice::from_ref(&dataset.id)).await?;
                ctx.out.note(&format!("deleted dataset '{name}'"));
                Ok(())
            }
        }
    })
}

async fn import(
    ctx: &Ctx,
    name: &str,
    file: &Path,
    format: Option<RecordFormat>,
    deduplicate: bool,
    tags: Vec<String>,
    columns: CsvColumns,
) -> anyhow::Result<()> {
    for tag in &tags {
        if !tag.contains(':') {
            return Err(usage(format!("--tag takes KEY:VALUE, not '{tag}'")));
        }
    }
    // Check the file before anything is created or sent.
    let converted;
    let upload_path = match format_of(file, format) {
        RecordFormat::Csv if !columns.input_columns.is_empty() => {
            converted = mapped_csv(file, &columns)?;
            converted.path().to_owned()
        }
        RecordFormat::Jsonl if !columns.input_columns.is_empty() => {
            return Err(usage("--input-columns and the other column options read CSV files"));
        }
        RecordFormat::Csv => {
            check_csv(file)?;
            file.to_owned()
        }
        RecordFormat::Jsonl => {
            converted = jsonl_to_csv(file)?;
            converted.path().to_owned()
        }
    };
    let size = std::fs::metadata(&upload_path)?.len();
    let project = ctx.client.create_project(ctx.settings.project(), "").await?;
    let existing = ctx.client.list_datasets(&project.id, Some(name)).await?.into_iter().next();
    let (dataset_id, created) = match existing {
        Some(dataset) => (dataset.id, false),
        None => {
            let options = llmobs::CreateDataset {
                name: name.to_owned(),
                description: String::new(),
                project_name: Some(ctx.settings.project().to_owned()),
                bulk_upload: false,
            };
            let made =
                ctx.client.create_dataset_with(&options, Vec::<DatasetRecord>::new()).await?;
            (made.id().to_owned(), true)
        }
    };
    let bar = progress_bar(size, &format!("importing {name}"));
    let mut upload = FileUpload::new(&upload_path);
    upload.deduplicate = deduplicate;
    upload.tags = tags;
    if let Some(bar) = &bar {
        let bar = bar.clone();
        upload.progress = Some(Arc::new(move |sent| bar.set_position(sent)));
    }
    let result = ctx.client.upload_dataset_file(&project.id, &dataset_id, &upload).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let result = match result {
        Ok(result) => result,
        Err(err) => {
            if created {
                // Leave nothing behind: the dataset was made for this import.
                let _ = ctx
                    .client
                    .delete_datasets(&project.id, std::slice::from_ref(&dataset_id))
                    .await;
            }
            return Err(anyhow::Error::new(err)
                .context(format!("{} was not imported; nothing was stored", file.display())));
        }
    };
    ctx.out.note(&format!(
        "imported {} into '{name}' as version {}",
        file.display(),
        result.attributes.version_number
    ));
    ctx.out.one(&result, || {
        Table::pairs([
            ("dataset", name.to_owned()),
            ("version", result.attributes.version_number.to_string()),
        ])
    })
}

async fn export(
    ctx: &Ctx,
    name: &str,
    output: Option<&Path>,
    format: RecordFormat,
    version: Option<u64>,
) -> anyhow::Result<()> {
    let (project_id, dataset) = find(ctx, name).await?;
    let format = match format {
        RecordFormat::Csv => ExportFormat::Csv,
        RecordFormat::Jsonl => ExportFormat::Jsonl,
    };
    match output {
        None => {
            let mut stdout = std::io::stdout();
            ctx.client
                .export_dataset(&project_id, &dataset.id, format, version, &mut stdout, None)
                .await?;
        }
        Some(path) => {
            // Written beside the target, then renamed: a failed export leaves no half file.
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let temp = tempfile::NamedTempFile::new_in(dir)
                .map_err(|err| usage(format!("cannot write in {}: {err}", dir.display())))?;
            let mut writer = std::io::BufWriter::new(temp.reopen()?);
            let bar = progress_bar(0, &format!("exporting {name}"));
            let progress: Option<llmobs::Progress> = bar.clone().map(|bar| {
                bar.set_length(0);
                Arc::new(move |n| bar.set_position(n)) as llmobs::Progress
            });
            let written = ctx
                .client
                .export_dataset(&project_id, &dataset.id, format, version, &mut writer, progress)
                .await?;
            writer.flush()?;
            drop(writer);
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            temp.persist(path)
                .map_err(|err| anyhow::anyhow!("cannot write {}: {}", path.display(), err.error))?;
            ctx.out.note(&format!("wrote {} ({written} bytes)", path.display()));
        }
    }
    Ok(())
}

/// A record of a pull file.
fn file_record(line: &str, number: usize, path: &Path) -> anyhow::Result<DatasetRecord> {
    let [id, ..] = jsonl_row(line, number, path)?;
    let value: Value = serde_json::from_str(line)?;
    let mut record = DatasetRecord::new(value["input"].clone());
    record.id = id;
    record.expected_output = value.get("expected_output").cloned().filter(|v| !v.is_null());
    record.metadata = value.get("metadata").cloned().filter(|v| !v.is_null());
    record.tags = value
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(record)
}

fn empty_as_none(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty()))
}

async fn push(ctx: &Ctx, name: &str, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| usage(format!("cannot read {}: {err}", path.display())))?;
    let mut wanted = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if !line.trim().is_empty() {
            wanted.push(file_record(line, index + 1, path)?);
        }
    }
    if wanted.is_empty() {
        return Err(usage(format!(
            "{} holds no records: a push would delete every record of '{name}' \
             (use `llmobs datasets delete {name}` for that)",
            path.display()
        )));
    }
    find(ctx, name).await?;
    let mut dataset = ctx
        .client
        .pull_dataset_with(
            name,
            PullDataset {
                project_name: Some(ctx.settings.project().to_owned()),
                version: None,
                tags: Vec::new(),
            },
        )
        .await?;
    let mut by_id: HashMap<String, DatasetRecord> = HashMap::new();
    for record in dataset.records() {
        by_id.insert(record.id.clone(), record.clone());
        if let Some(canonical) = &record.canonical_id {
            by_id.insert(canonical.clone(), record.clone());
        }
    }
    let (mut added, mut updated, mut deleted) = (0, 0, 0);
    let mut kept = std::collections::HashSet::new();
    for record in wanted {
        match by_id.get(&record.id).filter(|_| !record.id.is_empty()) {
            Some(current) => {
                kept.insert(current.id.clone());
                let same = current.input == record.input
                    && current.expected_output == record.expected_output
                    && empty_as_none(current.metadata.as_ref())
                        == empty_as_none(record.metadata.as_ref())
                    && current.tags == record.tags;
                if !same {
                    let update = RecordUpdate {
                        input: Some(record.input.clone()),
                        expected_output: Some(
                            record.expected_output.clone().unwrap_or(Value::Null),
                        ),
                        metadata: Some(record.metadata.clone().unwrap_or(Value::Null)),
                        tags: Some(record.tags.clone()),
                    };
                    dataset.update(current.id.as_str(), update)?;
                    updated += 1;
                }
            }
            None => {
                // A record without a known id that equals one the dataset holds is that
                // record: pushing the same file twice changes nothing.
                let twin = dataset.records().iter().find(|r| {
                    !kept.contains(&r.id)
                        && r.input == record.input
                        && r.expected_output == record.expected_output
                        && empty_as_none(r.metadata.as_ref())
                            == empty_as_none(record.metadata.as_ref())
                        && r.tags == record.tags
                });
                if let Some(twin) = twin {
                    kept.insert(twin.id.clone());
                    continue;
                }
                let mut new = record.clone();
                new.id = String::new();
                dataset.append(new)?;
                added += 1;
            }
        }
    }
    let gone: Vec<String> = dataset
        .records()
        .iter()
        .filter(|r| !r.id.is_empty() && !kept.contains(&r.id) && by_id.contains_key(&r.id))
        .map(|r| r.id.clone())
        .collect();
    for id in gone {
        dataset.delete(id.as_str())?;
        deleted += 1;
    }
    if added + updated + deleted > 0 {
        ctx.client.push_dataset(&mut dataset).await?;
    }
    let summary = json!({"dataset": name, "added": added, "updated": updated, "deleted": deleted, "version": dataset.version()});
    ctx.out.one(&summary, || {
        Table::pairs([
            ("dataset", name.to_owned()),
            ("added", added.to_string()),
            ("updated", updated.to_string()),
            ("deleted", deleted.to_string()),
            ("version", dataset.version().to_string()),
        ])
    })
}

async fn diff(ctx: &Ctx, name: &str, from: u64, to: Option<u64>) -> anyhow::Result<()> {
    let (_, dataset) = find(ctx, name).await?;
    let current = u64::try_from(dataset.attributes.current_version).unwrap_or(0);
    let to = to.unwrap_or(current);
    for v in [from, to] {
        if v == 0 || v > current {
            return Err(usage(format!("dataset '{name}' has versions 1 to {current}, not {v}")));
        }
    }
    let pull = |version| PullDataset {
        project_name: Some(ctx.settings.project().to_owned()),
        version: Some(version),
        tags: Vec::new(),
    };
    let old = ctx.client.pull_dataset_with(name, pull(from)).await?;
    let new = ctx.client.pull_dataset_with(name, pull(to)).await?;
    let key = |r: &DatasetRecord| r.canonical_id.clone().unwrap_or_else(|| r.id.clone());
    let old_map: BTreeMap<String, &DatasetRecord> =
        old.records().iter().map(|r| (key(r), r)).collect();
    let new_map: BTreeMap<String, &DatasetRecord> =
        new.records().iter().map(|r| (key(r), r)).collect();
    let mut changes = Vec::new();
    let as_json = |r: &DatasetRecord| json!({"input": r.input, "expected_output": r.expected_output, "metadata": r.metadata, "tags": r.tags});
    for (id, r) in &old_map {
        match new_map.get(id) {
            None => {
                changes.push(json!({"id": id, "change": "removed", "from": as_json(r), "to": null}))
            }
            Some(n) if as_json(r) != as_json(n) => {
                changes.push(
                    json!({"id": id, "change": "changed", "from": as_json(r), "to": as_json(n)}),
                );
            }
            Some(_) => {}
        }
    }
    for (id, n) in &new_map {
        if !old_map.contains_key(id) {
            changes.push(json!({"id": id, "change": "added", "from": null, "to": as_json(n)}));
        }
    }
    ctx.out.list(&changes, || {
        let mut table = Table::new(["ID", "CHANGE", "INPUT", "EXPECTED_OUTPUT"]);
        for c in &changes {
            let side = if c["change"] == "removed" { &c["from"] } else { &c["to"] };
            table.row([
                cell(c.get("id")),
                cell(c.get("change")),
                cell(side.get("input")),
                cell(side.get("expected_output")),
            ]);
        }
        table
    })?;
    if ctx.out.is_table() {
        ctx.out.note(&format!("v{from} → v{to}: {} change(s)", changes.len()));
    }
    Ok(())
}
