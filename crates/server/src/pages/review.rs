//! The review pages of annotation queues: `/llm/annotations` (the org's queues with their
//! progress), `/llm/annotations/{queue_id}?item=N` (one interaction at a time: its input,
//! output and spans or display blocks, a form generated from the queue's label schema,
//! keyboard shortcuts, progress through the queue, and the export form), `POST
//! /llm/annotations/{queue_id}/items/{interaction_id}` (saves the form's labels and opens the
//! next interaction) and `POST /llm/annotations/{queue_id}/export` (the queue's annotations
//! to a dataset).
//!
//! Writes go through the same store calls as the API ([`llmobs_store::Store::upsert_annotations`],
//! [`llmobs_store::Store::export_queue`]) behind the UI's write checks
//! ([`super::access::form_writer`]), as the signed-in key's user. An interaction counts as
//! reviewed once one annotation sets every required label (any label when none is
//! required). The page's small script is ours: it maps keys to the form (`1`…`9`, then
//! letters, for each categorical and boolean value; `n`/`→` next, `p`/`←` previous, `Enter`
//! saves and moves on; `Esc` leaves a text field).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use llmobs_core::annotations::{
    AnnotatedInteraction, AnnotationSchema, Content, ExportRequest, InteractionType, LabelSchema,
    LabelType, LabelValue, LabelsAs, UpsertAnnotation,
};
use llmobs_core::spans::SpanAttributes;
use minijinja::{Value, context};
use serde_json::Value as Json;

use super::access::{Access, FormFields, form_writer};
use super::{ListQuery, PageError, Place, Viewer, page, render, urlencode, when};
use crate::error::ApiError;
use crate::extract::Segments;
use crate::state::AppState;

/// The keys given to categorical and boolean values, in schema order (`n` and `p` move).
const VALUE_KEYS: &str = "1234567890qwertyuioasdfghjklzxcvbm";

/// Spans shown for one interaction.
const SPANS_SHOWN: usize = 50;

/// The review routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/llm/annotations", get(queues))
        .route("/llm/annotations/{queue_id}", get(review))
        .route("/llm/annotations/{queue_id}/items/{interaction_id}", post(save))
        .route("/llm/annotations/{queue_id}/export", post(export))
}

fn queue_path(queue_id: &str) -> String {
    format!("/llm/annotations/{}", llmobs_core::encoding::path_segment(queue_id))
}

/// Whether an interaction counts as reviewed under `schema`.
fn reviewed(item: &AnnotatedInteraction, schema: &AnnotationSchema) -> bool {
    let required: Vec<&str> = (schema.label_schemas.iter())
        .filter(|l| l.is_required == Some(true))
        .map(|l| l.name.as_str())
        .collect();
    item.annotations.iter().any(|a| {
        !a.label_values.is_empty() && required.iter().all(|name| a.label_values.contains_key(*name))
    })
}

fn see_other(to: &str) -> Result<Response, ApiError> {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let location = HeaderValue::from_str(to).map_err(|err| ApiError::Internal(err.to_string()))?;
    response.headers_mut().insert(LOCATION, location);
    Ok(response)
}

/// The user whose annotation the form shows: the signed-in application key's.
async fn form_user(state: &AppState, access: &Access) -> Result<Option<String>, ApiError> {
    let Access::Session(session) = access else { return Ok(None) };
    let Some(app_key) = &session.app_key else { return Ok(None) };
    let found = state.keys.check(state, llmobs_store::KeyKind::App, app_key).await?;
    Ok(found.map(|caller| caller.user))
}

/// `/llm/annotations`: the org's queues, with how far each is reviewed.
#[utoipa::path(get, path = "/llm/annotations", tag = "pages",
    responses((status = 200, content_type = "text/html")))]
pub(crate) async fn queues(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Html<String>, PageError> {
    let shown = viewer.org(&state).await?;
    let mut rows = Vec::new();
    for (id, queue) in state.store.list_queues(&shown.org, None, &[]).await? {
        let items = state.store.annotated_interactions(&shown.org, &id).await?;
        let schema = queue.annotation_schema.clone().unwrap_or_default();
        let done = items.iter().filter(|i| reviewed(i, &schema)).count();
        let project = match state.store.project(&shown.org, &queue.project_id).await {
            Ok((_, p)) => p.name,
            Err(_) => queue.project_id.clone(),
        };
        rows.push(context! {
            href => queue_path(&id), name => queue.name, description => queue.description,
            project, labels => schema.label_schemas.len(), total => items.len(), done,
            created_at => when(&queue.created_at),
        });
    }
    let body = render("review_queues", context! { queues => rows })?;
    let place = Place { section: "Annotations", crumbs: vec![("Annotation queues", None)] };
    Ok(page("Annotation queues", &shown, place, body)?)
}

/// One label of the form: its inputs, the saved value and the keys of its values.
fn form_label(label: &LabelSchema, saved: Option<&Json>, keys: &mut std::str::Chars<'_>) -> Value {
    let id = label.id.clone().unwrap_or_default();
    let value = saved.and_then(|s| s.get("value"));
    let current = match value {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let choices: Vec<Value> = match label.kind {
        LabelType::Categorical => (label.values.iter().flatten())
            .map(|v| {
                let chosen = match value {
                    Some(Json::Array(items)) => items.iter().any(|i| i.as_str() == Some(v)),
                    _ => current == *v,
                };
                context! { value => v, key => keys.next().map(String::from), chosen }
            })
            .collect(),
        LabelType::Boolean => ["true", "false"]
            .into_iter()
            .map(|v| context! { value => v, key => keys.next().map(String::from), chosen => current == v })
            .collect(),
        _ => Vec::new(),
    };
    let text =
        |key: &str| saved.and_then(|s| s.get(key)).and_then(Json::as_str).unwrap_or("").to_owned();
    context! {
        id, name => label.name.clone(), kind => label.kind.as_str(),
        description => label.description.clone().unwrap_or_default(),
        required => label.is_required == Some(true), current, choices,
        min => label.min, max => label.max,
        range => match (label.min, label.max) {
            (None, None) => String::new(),
            (min, max) => format!("{} to {}", bound(min), bound(max)),
        },
        step => if label.is_integer == Some(true) { "1" } else { "any" },
        has_reasoning => label.has_reasoning == Some(true), reasoning => text("reasoning"),
        has_assessment => label.has_assessment == Some(true), assessment => text("assessment"),
    }
}

/// A score bound as people write it: `1`, `2.5`, `…` when open.
fn bound(value: Option<f64>) -> String {
    value.map_or("…".into(), |v| Json::from(v).to_string().trim_end_matches(".0").to_owned())
}

/// A JSON value as the page shows it: text as it is, other JSON pretty-printed.
fn shown_json(value: Option<&Json>) -> String {
    match value {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// A display block as the page shows it (never as HTML: `frontend` code is shown as text).
fn block(value: &Json) -> Value {
    let kind = value.get("type").and_then(Json::as_str).unwrap_or("text");
    let body = match kind {
        "image" => value.get("url").and_then(Json::as_str).unwrap_or("").to_owned(),
        "llmobs_trace" => (value.get("traceId").or_else(|| value.get("trace_id")))
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_owned(),
        "frontend" => value.get("code").and_then(Json::as_str).unwrap_or("").to_owned(),
        "widget" => shown_json(value.get("tileDef").or_else(|| value.get("tile_def"))),
        _ => shown_json(value.get("content")),
    };
    context! { kind, body }
}

/// `/llm/annotations/{queue_id}?item=N`: one interaction of the queue to review.
#[utoipa::path(get, path = "/llm/annotations/{queue_id}", tag = "pages",
    params(("queue_id" = String, Path), ("item" = Option<i64>, Query)),
    responses((status = 200, content_type = "text/html"), (status = 404, content_type = "text/html")))]
pub(crate) async fn review(
    State(state): State<AppState>,
    viewer: Viewer,
    Segments(queue_id): Segments<String>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.org(&state).await?;
    let (_, queue) = state.store.queue(&shown.org, &queue_id).await?;
    let schema = queue.annotation_schema.clone().unwrap_or_default();
    let items = state.store.annotated_interactions(&shown.org, &queue_id).await?;
    let total = items.len();
    let done = items.iter().filter(|i| reviewed(i, &schema)).count();
    let position = match query.get("item") {
        // Past the end (the last item was saved) stays on the last item.
        Some(text) => text.parse::<usize>().map(|n| n.clamp(1, total.max(1))).map_err(|_| {
            ApiError::bad_request(
                format!("item: '{text}' is not an item number"),
                format!("pick a number from 1 to {total}"),
            )
        })?,
        None => items.iter().position(|i| !reviewed(i, &schema)).map_or(1, |at| at + 1),
    };
    let user = form_user(&state, &shown.access).await?;
    let path = queue_path(&queue_id);
    let link = |n: usize| format!("{path}?item={n}");
    let current = match items.get(position - 1) {
        None => Value::from(()),
        Some(item) => {
            let interaction = &item.interaction;
            let content = match &interaction.display_block {
                Some(blocks) => Content::of_blocks(blocks),
                None => state.store.interaction_content(&shown.org, interaction).await?,
            };
            let (spans, more) =
                state.store.interaction_spans(&shown.org, interaction, 0, SPANS_SHOWN).await?;
            let spans: Vec<Value> = (spans.iter())
                .map(|event| {
                    let span = SpanAttributes::from_event(event);
                    let io = |io: &Option<llmobs_core::spans::SpanIo>| {
                        io.as_ref().map_or(String::new(), |io| match (&io.value, &io.messages) {
                            (Some(value), _) => value.clone(),
                            (None, Some(messages)) => {
                                serde_json::to_string_pretty(messages).unwrap_or_default()
                            }
                            (None, None) => String::new(),
                        })
                    };
                    context! {
                        name => span.name, kind => span.span_kind, status => span.status,
                        root => span.parent_id.as_deref().is_none_or(|p| p == "undefined" || p == "0"),
                        input => io(&span.input), output => io(&span.output),
                        ms => format!("{:.1}", span.duration / 1e6),
                    }
                })
                .collect();
            let mine = item
                .annotations
                .iter()
                .find(|a| user.as_deref().is_some_and(|u| a.created_by == u));
            let mut keys = VALUE_KEYS.chars();
            let labels: Vec<Value> = (schema.label_schemas.iter())
                .map(|label| {
                    form_label(label, mine.and_then(|a| a.label_values.get(&label.name)), &mut keys)
                })
                .collect();
            let others: Vec<Value> = (item.annotations.iter())
                .map(|a| {
                    let values: Vec<String> = (a.label_values.iter())
                        .map(|(name, v)| format!("{name}: {}", shown_json(v.get("value"))))
                        .collect();
                    context! {
                        by => a.created_by.clone(), when => when(&a.modified_at), values => values.join(" · "),
                        mine => user.as_deref().is_some_and(|u| a.created_by == u),
                    }
                })
                .collect();
            context! {
                id => interaction.id.clone(), kind => interaction.kind.as_str(),
                content_id => interaction.content_id.clone(),
                trace_link => match interaction.kind {
                    InteractionType::DisplayBlock => None,
                    InteractionType::Session => Some(format!(
                        "/llm/traces?query={}",
                        urlencode(&format!("session_id:{}", interaction.content_id))
                    )),
                    _ => Some(format!("/llm/traces/{}", urlencode(&interaction.content_id))),
                },
                input => shown_json(content.input.as_ref()),
                output => shown_json(content.output.as_ref()),
                blocks => interaction.display_block.iter().flatten().map(block).collect::<Vec<_>>(),
                spans, more_spans => more, labels, others,
                reviewed => reviewed(item, &schema),
                save => format!("{path}/items/{}", llmobs_core::encoding::path_segment(&interaction.id)),
            }
        }
    };
    let body = render(
        "review",
        context! {
            queue_id, name => queue.name.clone(), description => queue.description,
            position, total, done,
            percent => (done * 100).checked_div(total).unwrap_or(0),
            previous => (position > 1).then(|| link(position - 1)),
            next => (position < total).then(|| link(position + 1)),
            current, has_schema => !schema.label_schemas.is_empty(),
            label_names => schema.label_schemas.iter().map(|l| l.name.clone()).collect::<Vec<_>>(),
            csrf => shown.access.csrf(), can_write => matches!(shown.access, Access::Session(_)),
            export => format!("{path}/export"),
            saved => query.get("saved").is_some(),
        },
    )?;
    let place = Place {
        section: "Annotations",
        crumbs: vec![("Annotation queues", Some("/llm/annotations".into())), (&queue.name, None)],
    };
    Ok(page(&format!("Review · {}", queue.name), &shown, place, body)?)
}

/// A label's value from its form field: a number for scores, `true`/`false` for
/// booleans, the text otherwise; `None` when the field is empty.
fn field_value(label: &LabelSchema, text: &str) -> Result<Json, ApiError> {
    match label.kind {
        LabelType::Score => {
            let number: f64 = text.parse().map_err(|_| {
                ApiError::invalid(format!("label '{}': '{text}' is not a number", label.name))
            })?;
            Ok(if number.fract() == 0.0 && number.abs() < 9e15 {
                Json::from(number as i64)
            } else {
                Json::from(number)
            })
        }
        LabelType::Boolean => match text {
            "true" => Ok(Json::Bool(true)),
            "false" => Ok(Json::Bool(false)),
            other => Err(ApiError::invalid(format!(
                "label '{}': '{other}' is not true or false",
                label.name
            ))),
        },
        LabelType::Categorical | LabelType::Text => Ok(Json::String(text.to_owned())),
    }
}

/// Saves the form's labels as the signed-in user's annotation and opens the next item; a
/// form with no label filled in just moves on.
#[utoipa::path(post, path = "/llm/annotations/{queue_id}/items/{interaction_id}", tag = "pages",
    params(("queue_id" = String, Path), ("interaction_id" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "csrf, item, label.<label id>, reasoning.<label id>, assessment.<label id>"),
    responses((status = 303), (status = 400, content_type = "text/html"),
              (status = 401, content_type = "text/html"), (status = 404, content_type = "text/html")))]
pub(crate) async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    Segments((queue_id, interaction_id)): Segments<(String, String)>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormFields::parse(&body)?;
    let caller = form_writer(&state, &headers, &form).await?;
    let (_, queue) = state.store.queue(&caller.org, &queue_id).await?;
    let schema = queue.annotation_schema.unwrap_or_default();
    let mut label_values = Vec::new();
    for label in &schema.label_schemas {
        let id = label.id.clone().unwrap_or_default();
        let Some(text) = form.get(&format!("label.{id}")) else { continue };
        let assessment = match form.get(&format!("assessment.{id}")) {
            None => None,
            Some(text) => {
                Some(serde_json::from_value(Json::String(text.to_owned())).map_err(|_| {
                    ApiError::invalid(format!("label '{}': assessment is pass or fail", label.name))
                })?)
            }
        };
        label_values.push(LabelValue {
            label_schema_id: id.clone(),
            value: field_value(label, text)?,
            reasoning: form.get(&format!("reasoning.{id}")).map(str::to_owned),
            assessment,
        });
    }
    if !label_values.is_empty() {
        let item = UpsertAnnotation { interaction_id, label_values };
        state.store.upsert_annotations(&caller.org, &caller.user, &queue_id, vec![item]).await?;
    }
    let position = form.get("item").and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
    see_other(&format!("{}?item={}&saved=1", queue_path(&queue_id), position + 1))
        .map_err(PageError::from)
}

/// Writes the queue's annotations to a dataset and opens the dataset's page.
#[utoipa::path(post, path = "/llm/annotations/{queue_id}/export", tag = "pages",
    params(("queue_id" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "csrf, dataset_name, labels_as (expected_output or metadata), label"),
    responses((status = 303), (status = 400, content_type = "text/html"),
              (status = 401, content_type = "text/html"), (status = 404, content_type = "text/html")))]
pub(crate) async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Segments(queue_id): Segments<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormFields::parse(&body)?;
    let caller = form_writer(&state, &headers, &form).await?;
    let dataset_name = form.get("dataset_name").ok_or_else(|| {
        ApiError::bad_request("dataset_name: missing", "type the name of the dataset to write")
    })?;
    let labels_as = match form.get("labels_as").unwrap_or("expected_output") {
        "metadata" => LabelsAs::Metadata,
        _ => LabelsAs::ExpectedOutput,
    };
    let request = ExportRequest {
        dataset_name: dataset_name.to_owned(),
        labels_as,
        label: form.get("label").map(str::to_owned),
        description: None,
    };
    let outcome = state.store.export_queue(&caller.org, &caller.user, &queue_id, &request).await?;
    see_other(&format!(
        "/llm/datasets/{}",
        llmobs_core::encoding::path_segment(&outcome.dataset_id)
    ))
    .map_err(PageError::from)
}
