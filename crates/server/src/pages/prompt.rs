//! A prompt's pages: `/llm/prompts/{prompt_id}` (its versions with their labels, which
//! environment and label resolve to which version, one version's template with a render
//! preview, the label and deployment forms), `/llm/prompts/{prompt_id}/diff` (a line diff of
//! two versions' templates), and the writes, each one store call (the same steps as the
//! API's version update, under the prompt's lock) behind the UI's write checks: `POST /llm/prompts/{prompt_id}/labels` (moves a label onto a version),
//! `POST /llm/prompts/{prompt_id}/labels/remove` (takes a label off the prompt) and
//! `POST /llm/prompts/{prompt_id}/environments` (deploys a version to an environment).
//!
//! The preview renders with [`llmobs_core::render::render`], the SDK's renderer: a text
//! variable takes the form's text as a string, a chat placeholder a JSON list of messages.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use llmobs_core::diff::{Change, diff_lines, template_text};
use llmobs_core::prompts::{ChatItem, Template, check_environment, normalize_labels};
use llmobs_core::render::{Vars, placeholder_names, render as render_template, variables};
use llmobs_store::{Error as StoreError, NotFound};
use minijinja::{Value, context};

use super::access::{Access, FormFields, form_writer};
use super::{ListQuery, PageError, Place, Viewer, page, render, urlencode, when};
use crate::error::ApiError;
use crate::extract::Segments;
use crate::state::AppState;

/// The link to a prompt's page.
fn prompt_path(prompt_id: &str) -> String {
    format!("/llm/prompts/{}", llmobs_core::encoding::path_segment(prompt_id))
}

/// A version number from a form or query field.
fn number(field: &str, text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
        ApiError::bad_request(
            format!("{field}: '{text}' is not a version number"),
            "pick a version from the prompt's page (1, 2, 3…)",
        )
    })
}

/// A template's messages for the page: role and content (a placeholder shows its name).
fn messages(template: &Template) -> Vec<Value> {
    match template {
        Template::Text(_) => Vec::new(),
        Template::Chat(items) => (items.iter())
            .map(|item| match item {
                ChatItem::Message { role, content } => {
                    context! { role, content, placeholder => false }
                }
                ChatItem::Placeholder(_) => context! {
                    role => "placeholder", content => item.placeholder_name().unwrap_or_default(),
                    placeholder => true,
                },
            })
            .collect(),
    }
}

/// `/llm/prompts/{prompt_id}`: the prompt's versions, labels and environments, and one
/// version (`version`, the newest by default) with a render preview from `var.NAME` fields.
#[utoipa::path(get, path = "/llm/prompts/{prompt_id}", tag = "pages",
    params(("prompt_id" = String, Path), ("version" = Option<i64>, Query),
           ("var.NAME" = Option<String>, Query, description = "a variable of the preview")),
    responses((status = 200, content_type = "text/html"), (status = 404, content_type = "text/html")))]
pub(crate) async fn prompt(
    State(state): State<AppState>,
    viewer: Viewer,
    Segments(prompt_id): Segments<String>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.org(&state).await?;
    let not_found = || ApiError::NotFound(format!("prompt '{prompt_id}' not found"));
    let record = (state.store.list_prompts(&shown.org, Some(&prompt_id)).await?.into_iter())
        .next()
        .ok_or_else(not_found)?;
    let versions = state.store.list_live_versions(&shown.org, &prompt_id).await?;
    let environments = state.store.prompt_environments(&shown.org, &prompt_id).await?;
    let latest = versions.first().map(|v| v.version).ok_or_else(not_found)?;
    let selected = query.get("version").map(|v| number("version", v)).transpose()?;
    let selected = selected.unwrap_or(latest);
    let version = state.store.prompt_version(&shown.org, &prompt_id, selected).await?;
    let template = version.template.clone().ok_or_else(not_found)?;

    // The preview: every variable the template uses, filled from `var.NAME`.
    let placeholders = placeholder_names(&template);
    let mut vars = Vars::new();
    let mut filled = false;
    let mut fields = Vec::new();
    let mut problem = String::new();
    for name in variables(&template) {
        let is_placeholder = placeholders.contains(&name.as_str());
        let given = query.query.get(&format!("var.{name}")).unwrap_or("");
        filled |= !given.is_empty();
        if is_placeholder {
            match given {
                "" => {}
                text => match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(list) => vars.insert(name.clone(), list),
                    Err(err) => {
                        problem =
                            format!("placeholder '{name}' needs a JSON list of messages: {err}")
                    }
                },
            }
        } else if !given.is_empty() {
            vars.insert(name.clone(), given);
        }
        fields.push(context! { name, value => given, placeholder => is_placeholder });
    }
    let preview = match (filled, problem.is_empty()) {
        (false, _) => String::new(),
        (true, false) => String::new(),
        (true, true) => match render_template(&template, &vars) {
            Ok(rendered) => rendered.to_string(),
            Err(err) => {
                problem = err.to_string();
                String::new()
            }
        },
    };

    let labels: Vec<Value> = (versions.iter())
        .flat_map(|v| v.labels.iter().map(move |label| context! { label, version => v.version }))
        .collect();
    let rows: Vec<Value> = (versions.iter())
        .map(|v| {
            let envs: Vec<String> = (environments.iter())
                .filter(|(_, n)| *n == v.version)
                .map(|(name, _)| name.clone())
                .collect();
            context! {
                version => v.version, user_version => v.user_version.clone().unwrap_or_default(),
                labels => v.labels.clone(), environments => envs,
                description => v.description.clone().unwrap_or_default(),
                created_at => when(&v.created_at), selected => v.version == selected,
            }
        })
        .collect();
    let deployments: Vec<Value> =
        (environments.iter()).map(|(name, version)| context! { name, version }).collect();
    let path = prompt_path(&prompt_id);
    let can_write = matches!(&shown.access, Access::Session(s) if s.app_key.is_some());
    let body = render(
        "prompt",
        context! {
            prompt_id => prompt_id.clone(), path, title => record.title.unwrap_or_default(),
            description => record.description.unwrap_or_default(), latest, selected,
            versions => rows, labels, environments => deployments,
            text => match &template { Template::Text(text) => text.as_str(), Template::Chat(_) => "" }, messages => messages(&template),
            fields, preview, problem, csrf => shown.access.csrf(), can_write,
            signed_in => matches!(shown.access, Access::Session(_)),
            moved => query.get("moved").unwrap_or_default(),
            removed => query.get("removed").unwrap_or_default(),
            deployed => query.get("deployed").unwrap_or_default(),
            environment_names => environments.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>(),
            diff_from => if selected > 1 { selected - 1 } else { selected }, diff_to => selected,
            version_numbers => versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            version_count => versions.len(),
        },
    )?;
    let place = Place {
        section: "Prompts",
        crumbs: vec![
            ("Projects", Some("/".into())),
            ("Prompts", Some("/llm/prompts".into())),
            (prompt_id.as_str(), None),
        ],
    };
    Ok(page(&prompt_id, &shown, place, body)?)
}

/// `/llm/prompts/{prompt_id}/diff?from=A&to=B`: the line diff of two versions' templates
/// (by default the one before the newest, and the newest).
#[utoipa::path(get, path = "/llm/prompts/{prompt_id}/diff", tag = "pages",
    params(("prompt_id" = String, Path), ("from" = Option<i64>, Query), ("to" = Option<i64>, Query)),
    responses((status = 200, content_type = "text/html"), (status = 404, content_type = "text/html")))]
pub(crate) async fn diff(
    State(state): State<AppState>,
    viewer: Viewer,
    Segments(prompt_id): Segments<String>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.org(&state).await?;
    let versions = state.store.list_live_versions(&shown.org, &prompt_id).await?;
    let latest = versions.first().map(|v| v.version).unwrap_or(1);
    let to = query.get("to").map(|v| number("to", v)).transpose()?.unwrap_or(latest);
    let from = query.get("from").map(|v| number("from", v)).transpose()?;
    let from = from.unwrap_or(if to > 1 { to - 1 } else { to });
    let old = state.store.prompt_version(&shown.org, &prompt_id, from).await?;
    let new = state.store.prompt_version(&shown.org, &prompt_id, to).await?;
    let text = |v: &llmobs_core::prompts::Version| {
        v.template.as_ref().map(template_text).unwrap_or_default()
    };
    let lines = diff_lines(&text(&old), &text(&new));
    let count = |change: Change| lines.iter().filter(|l| l.change == change).count();
    let (added, removed) = (count(Change::Added), count(Change::Removed));
    let lines: Vec<Value> = (lines.iter())
        .map(|l| {
            context! {
                change => l.change.as_str(), old => l.old, new => l.new, text => l.text.clone(),
            }
        })
        .collect();
    let path = prompt_path(&prompt_id);
    let body = render(
        "prompt_diff",
        context! {
            prompt_id => prompt_id.clone(), path, from, to, lines, added, removed,
            from_labels => old.labels, to_labels => new.labels,
            from_at => when(&old.created_at), to_at => when(&new.created_at),
            version_numbers => versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        },
    )?;
    let place = Place {
        section: "Prompts",
        crumbs: vec![
            ("Projects", Some("/".into())),
            ("Prompts", Some("/llm/prompts".into())),
            (prompt_id.as_str(), Some(prompt_path(&prompt_id))),
            ("Diff", None),
        ],
    };
    Ok(page(&format!("{prompt_id}: v{from} → v{to}"), &shown, place, body)?)
}

/// `POST /llm/prompts/{prompt_id}/labels`: moves `label` onto `version` (keeping that
/// version's other labels), through `Store::add_label`; then back
/// to the prompt's page. Needs a session with an application key and its CSRF token.
#[utoipa::path(post, path = "/llm/prompts/{prompt_id}/labels", tag = "pages",
    params(("prompt_id" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "label, version, csrf"),
    responses((status = 303), (status = 400, content_type = "text/html"),
              (status = 401, content_type = "text/html"), (status = 403, content_type = "text/html")))]
pub(crate) async fn move_label(
    State(state): State<AppState>,
    headers: HeaderMap,
    Segments(prompt_id): Segments<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormFields::parse(&body)?;
    let caller = form_writer(&state, &headers, &form).await?;
    let label = form.get("label").ok_or_else(|| {
        ApiError::bad_request("label: missing", "type the label to move, such as production")
    })?;
    let version = number("version", form.get("version").unwrap_or(""))?;
    let moved = normalize_labels(&[label.to_owned()], state.config.strict_labels)
        .map_err(|err| ApiError::invalid(err.to_string()))?;
    for label in &moved {
        state.store.add_label(&caller.org, &prompt_id, version, label).await.map_err(|err| {
            match err {
                StoreError::NotFound(_) => {
                    ApiError::NotFound(format!("prompt '{prompt_id}' has no version {version}"))
                }
                other => other.into(),
            }
        })?;
    }
    state.reads.invalidate(&caller.org.0, &prompt_id);
    see_other(&format!("{}?moved={}", prompt_path(&prompt_id), urlencode(label)))
}

/// `POST /llm/prompts/{prompt_id}/labels/remove`: takes `label` off the version that
/// carries it (keeping that version's other labels), through `Store::remove_label`; then
/// back to the prompt's page. Needs a session with an application key
/// and its CSRF token.
#[utoipa::path(post, path = "/llm/prompts/{prompt_id}/labels/remove", tag = "pages",
    params(("prompt_id" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "label, csrf"),
    responses((status = 303), (status = 400, content_type = "text/html"),
              (status = 401, content_type = "text/html"), (status = 403, content_type = "text/html"),
              (status = 404, content_type = "text/html")))]
pub(crate) async fn remove_label(
    State(state): State<AppState>,
    headers: HeaderMap,
    Segments(prompt_id): Segments<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormFields::parse(&body)?;
    let caller = form_writer(&state, &headers, &form).await?;
    let label = form.get("label").unwrap_or("");
    let removed = state.store.remove_label(&caller.org, &prompt_id, label).await;
    match removed.map_err(|err| not_found_prompt(err, &prompt_id))? {
        Some(_) => {}
        None => {
            return Err(ApiError::bad_request(
                format!("label: prompt '{prompt_id}' has no label '{label}'"),
                "pick one of the labels listed on the prompt's page; it may have been removed \
                 already",
            )
            .into());
        }
    }
    state.reads.invalidate(&caller.org.0, &prompt_id);
    see_other(&format!("{}?removed={}", prompt_path(&prompt_id), urlencode(label)))
}

/// `POST /llm/prompts/{prompt_id}/environments`: makes `version` the one `environment`
/// serves (moving the environment off any other version; the version keeps the
/// environments it already served; an unknown name is created), through
/// `Store::add_environment`; then back to the prompt's page showing that version. Needs a
/// session with an application key and its CSRF token.
#[utoipa::path(post, path = "/llm/prompts/{prompt_id}/environments", tag = "pages",
    params(("prompt_id" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "environment, version, csrf"),
    responses((status = 303), (status = 400, content_type = "text/html"),
              (status = 401, content_type = "text/html"), (status = 403, content_type = "text/html"),
              (status = 404, content_type = "text/html")))]
pub(crate) async fn deploy(
    State(state): State<AppState>,
    headers: HeaderMap,
    Segments(prompt_id): Segments<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormFields::parse(&body)?;
    let caller = form_writer(&state, &headers, &form).await?;
    let environment = form.get("environment").unwrap_or("");
    check_environment(environment).map_err(|err| {
        ApiError::bad_request(
            format!("environment: {err}"),
            "type the environment's name as DD_ENV holds it, such as staging or production",
        )
    })?;
    let version = number("version", form.get("version").unwrap_or(""))?;
    let deployed = state.store.add_environment(&caller.org, &prompt_id, version, environment);
    deployed.await.map_err(|err| match err {
        StoreError::NotFound(NotFound::Version) => ApiError::bad_request(
            format!("version: prompt '{prompt_id}' has no version {version}"),
            "pick a version listed on the prompt's page",
        ),
        other => not_found_prompt(other, &prompt_id),
    })?;
    state.reads.invalidate(&caller.org.0, &prompt_id);
    let path = prompt_path(&prompt_id);
    see_other(&format!("{path}?version={version}&deployed={}", urlencode(environment)))
}

/// A store error as a page answers it: an unknown prompt is a 404 that names it.
fn not_found_prompt(err: StoreError, prompt_id: &str) -> ApiError {
    match err {
        StoreError::NotFound(NotFound::Prompt) => {
            ApiError::NotFound(format!("prompt '{prompt_id}' not found"))
        }
        other => other.into(),
    }
}

/// A 303 to `to` (the page to show after a form's write).
fn see_other(to: &str) -> Result<Response, PageError> {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let location = HeaderValue::from_str(to).map_err(|err| ApiError::Internal(err.to_string()))?;
    response.headers_mut().insert(LOCATION, location);
    Ok(response)
}
