//! A dataset's pages: `/llm/datasets/{dataset_id}` (its records at any version, paged and
//! searched, its versions, and the forms to compare and download them),
//! `/llm/datasets/{dataset_id}/diff` (the records inserted, updated and deleted between two
//! versions, side by side) and `/llm/datasets/{dataset_id}/download` (a version as CSV or
//! JSON lines, in the API export's format, streamed a chunk of records at a time).

use axum::extract::{RawQuery, State};
use axum::http::HeaderValue;
use axum::http::header::CONTENT_DISPOSITION;
use axum::response::{Html, Response};
use llmobs_core::public::ExportFormat;
use llmobs_store::{Owned, RawRecord, RecordQuery};
use minijinja::{Value, context};

use super::{
    ListQuery, PAGE, PageError, Place, Viewer, page, parse, project_crumb, render, text, urlencode,
    when,
};
use crate::error::ApiError;
use crate::extract::Segments;
use crate::state::AppState;

/// Versions listed on a dataset's page (the newest).
const VERSIONS_SHOWN: usize = 50;

/// A dataset page's cursor: a record position.
fn position(cursor: &str) -> Result<i64, ApiError> {
    cursor.parse().map_err(|_| {
        ApiError::bad_request(
            format!("cursor: '{cursor}' is not a record position"),
            "follow the page's \"Next page\" link",
        )
    })
}

/// A version number from the query.
fn version(field: &str, text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().map_err(|_| {
        ApiError::bad_request(
            format!("{field}: '{text}' is not a version number"),
            "pick a version from the dataset's page (1, 2, 3…)",
        )
    })
}

/// A record's cells for a page.
fn record_cells(id: &str, r: &RawRecord) -> Value {
    context! {
        id,
        input => text(Some(&parse(&r.input))),
        expected => text(r.expected_output.as_deref().map(parse).as_ref()),
        metadata => text(r.metadata.as_deref().map(parse).as_ref()),
        tags => r.tags.clone(),
    }
}

/// `/llm/datasets/{dataset_id}`: the records at `version` (the current one by default)
/// whose text contains `search`, paged; the versions; the compare and download forms.
#[utoipa::path(get, path = "/llm/datasets/{dataset_id}", tag = "pages",
    params(("dataset_id" = String, Path), ("version" = Option<i64>, Query),
           ("search" = Option<String>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, content_type = "text/html")))]
pub(crate) async fn dataset(
    State(state): State<AppState>,
    viewer: Viewer,
    Segments(id): Segments<String>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.owner(&state, Owned::Dataset, &id).await?;
    let (_, d) = state.store.dataset(&shown.org, None, &id).await?;
    let viewed = query.get("version").map(|v| version("version", v)).transpose()?;
    let viewed = viewed.filter(|v| *v != 0).unwrap_or(d.current_version);
    let records_query = RecordQuery {
        version: Some(viewed),
        text: query.get("search").map(str::to_owned),
        limit: PAGE,
        after: query.cursor().map(position).transpose()?.unwrap_or(0),
        ..RecordQuery::default()
    };
    let (found, next) = state.store.records(&shown.org, &d.project_id, &id, &records_query).await?;
    let records: Vec<Value> = found.iter().map(|(rid, r)| record_cells(rid, r)).collect();
    let versions = state.store.dataset_versions(&shown.org, &d.project_id, &id).await?;
    let older = versions.len().saturating_sub(VERSIONS_SHOWN);
    let versions: Vec<Value> = (versions.iter().take(VERSIONS_SHOWN))
        .map(|v| {
            context! {
                number => v.version_number, viewed => v.version_number == viewed,
                last_used => v.last_used.as_deref().map(when).unwrap_or_default(),
            }
        })
        .collect();
    let crumb = project_crumb(&state, &shown.org, &d.project_id).await?;
    let path = format!("/llm/datasets/{}", urlencode(&id));
    let numbers: Vec<i64> = (1..=d.current_version).rev().take(VERSIONS_SHOWN).collect();
    let body = render(
        "dataset",
        context! {
            name => d.name.clone(), current => d.current_version, viewed, description => d.description,
            path => path.clone(), records, versions, older, numbers,
            search => query.get("search").unwrap_or_default(),
            diff_from => if viewed > 1 { viewed - 1 } else { viewed }, diff_to => viewed,
            next => query.next(&path, &["version", "search"], next.map(|n| n.to_string())),
        },
    )?;
    let crumbs = vec![
        ("Projects", Some("/".into())),
        (crumb.0.as_str(), crumb.1),
        ("Datasets", Some(format!("/llm/datasets?project={}", urlencode(&d.project_id)))),
        (d.name.as_str(), None),
    ];
    Ok(page(&d.name, &shown, Place { section: "Datasets", crumbs }, body)?)
}

/// `/llm/datasets/{dataset_id}/diff?from=A&to=B`: the records that differ between two
/// versions (by default the one before the current, and the current), by record id,
/// paged.
#[utoipa::path(get, path = "/llm/datasets/{dataset_id}/diff", tag = "pages",
    params(("dataset_id" = String, Path), ("from" = Option<i64>, Query),
           ("to" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, content_type = "text/html"), (status = 400, content_type = "text/html")))]
pub(crate) async fn diff(
    State(state): State<AppState>,
    viewer: Viewer,
    Segments(id): Segments<String>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.owner(&state, Owned::Dataset, &id).await?;
    let (_, d) = state.store.dataset(&shown.org, None, &id).await?;
    let to = query.get("to").map(|v| version("to", v)).transpose()?.unwrap_or(d.current_version);
    let from = query.get("from").map(|v| version("from", v)).transpose()?;
    let from = from.unwrap_or(if to > 1 { to - 1 } else { to });
    let (changes, next) = state
        .store
        .dataset_changes(&shown.org, &d.project_id, &id, (from, to), query.cursor(), PAGE)
        .await?;
    let count = |kind: &str| changes.iter().filter(|c| c.kind() == kind).count();
    let (inserted, updated, deleted) = (count("inserted"), count("updated"), count("deleted"));
    let changes: Vec<Value> = (changes.iter())
        .map(|c| {
            context! {
                id => c.id.clone(), kind => c.kind(),
                before => c.before.as_ref().map(|r| record_cells(&c.id, r)),
                after => c.after.as_ref().map(|r| record_cells(&c.id, r)),
            }
        })
        .collect();
    let crumb = project_crumb(&state, &shown.org, &d.project_id).await?;
    let path = format!("/llm/datasets/{}", urlencode(&id));
    let numbers: Vec<i64> = (1..=d.current_version).rev().take(VERSIONS_SHOWN).collect();
    let diff_path = format!("{path}/diff");
    let body = render(
        "dataset_diff",
        context! {
            name => d.name.clone(), path, from, to, changes, inserted, updated, deleted, numbers,
            next => query.next(&diff_path, &["from", "to"], next),
        },
    )?;
    let crumbs = vec![
        ("Projects", Some("/".into())),
        (crumb.0.as_str(), crumb.1),
        ("Datasets", Some(format!("/llm/datasets?project={}", urlencode(&d.project_id)))),
        (d.name.as_str(), Some(format!("/llm/datasets/{}", urlencode(&id)))),
        ("Diff", None),
    ];
    let title = format!("{}: v{from} → v{to}", d.name);
    Ok(page(&title, &shown, Place { section: "Datasets", crumbs }, body)?)
}

/// A file name for a download: the dataset's name with only letters, digits, `-`, `_`
/// and `.` kept.
fn file_name(name: &str, version: i64, format: ExportFormat) -> String {
    let safe: String = (name.chars())
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect();
    let extension = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::Jsonl => "jsonl",
    };
    format!("{safe}-v{version}.{extension}")
}

/// `/llm/datasets/{dataset_id}/download?version=N&format=csv|jsonl`: the records of a
/// version (the current one by default) in the API export's format, as an attachment,
/// streamed a chunk of records at a time.
#[utoipa::path(get, path = "/llm/datasets/{dataset_id}/download", tag = "pages",
    params(("dataset_id" = String, Path), ("version" = Option<i64>, Query),
           ("format" = Option<String>, Query, description = "csv (default) or jsonl")),
    responses((status = 200, content_type = "text/csv"), (status = 400, content_type = "text/html")))]
pub(crate) async fn download(
    State(state): State<AppState>,
    viewer: Viewer,
    Segments(id): Segments<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let format = ExportFormat::parse(query.get("format"))
        .map_err(|err| ApiError::invalid(err.to_string()))?;
    let shown = viewer.owner(&state, Owned::Dataset, &id).await?;
    let (_, d) = state.store.dataset(&shown.org, None, &id).await?;
    let viewed = query.get("version").map(|v| version("version", v)).transpose()?;
    let viewed = viewed.filter(|v| *v != 0).unwrap_or(d.current_version);
    let version = crate::export::Version {
        org: shown.org.clone(),
        project_id: d.project_id.clone(),
        dataset_id: id,
        version: viewed,
    };
    let mut response = crate::export::stream(state, version, format).await?;
    let headers = response.headers_mut();
    let disposition = format!("attachment; filename=\"{}\"", file_name(&d.name, viewed, format));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
