//! The topics page, `/llm/topics`: the org's topic discovery configs, and for one of them
//! (`config`, else the most recently changed) the hierarchy a run found (`run`, else its
//! latest completed run): each topic with its count, share, description and example inputs
//! (each linked to its trace), and a link to the spans search listing its spans.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{RawQuery, State};
use axum::response::Html;
use llmobs_store::{StoredPoint, StoredTopic, TopicRun};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};

use super::{ListQuery, PageError, Place, Viewer, page, urlencode, when};
use crate::error::ApiError;
use crate::state::AppState;

/// Example inputs shown per topic.
const EXAMPLES: usize = 3;

/// Spans a topic's search link names (the query stays well under its length limit).
const LINKED_SPANS: usize = 30;

/// The longest example shown, in characters.
const EXAMPLE_CHARS: usize = 200;

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_template("topics", include_str!("topics.html"))
            .expect("the topics template does not parse");
        env
    })
}

fn render(ctx: Value) -> Result<Value, ApiError> {
    let html = environment()
        .get_template("topics")
        .and_then(|t| t.render(ctx))
        .map_err(|err| ApiError::Internal(format!("topics template: {err:#}")))?;
    Ok(Value::from_safe_string(html))
}

fn short(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(EXAMPLE_CHARS) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line,
    }
}

/// The points under each topic (a parent's are its leaves'), in run order.
fn points_under<'p>(
    topics: &[StoredTopic],
    points: &'p [StoredPoint],
) -> HashMap<String, Vec<&'p StoredPoint>> {
    let parent: HashMap<&str, &str> =
        topics.iter().map(|t| (t.id.as_str(), t.parent_id.as_str())).collect();
    let mut under: HashMap<String, Vec<&StoredPoint>> = HashMap::new();
    for point in points {
        let mut at = point.topic_id.as_str();
        loop {
            under.entry(at.to_owned()).or_default().push(point);
            match parent.get(at) {
                Some(p) if !p.is_empty() => at = p,
                _ => break,
            }
        }
    }
    under
}

/// The topic and its children as the template's tree.
fn node(
    topic: &StoredTopic,
    topics: &[StoredTopic],
    under: &HashMap<String, Vec<&StoredPoint>>,
    total: i64,
) -> Value {
    let points = under.get(&topic.id).map(Vec::as_slice).unwrap_or(&[]);
    let examples: Vec<Value> = points
        .iter()
        .take(EXAMPLES)
        .map(|p| {
            let href = format!(
                "/llm/traces/{}?span={}",
                llmobs_core::encoding::path_segment(&p.trace_id),
                urlencode(&p.span_id)
            );
            context! { input => short(&p.input), href }
        })
        .collect();
    let ids: Vec<String> = points
        .iter()
        .take(LINKED_SPANS)
        .map(|p| format!("@span_id:\"{}\"", p.span_id.replace('"', "")))
        .collect();
    let spans = format!("/llm/traces?query={}&from=0", urlencode(&ids.join(" OR ")));
    let children: Vec<Value> = topics
        .iter()
        .filter(|t| t.parent_id == topic.id)
        .map(|t| node(t, topics, under, total))
        .collect();
    let percent = if total > 0 { topic.point_count as f64 * 100.0 / total as f64 } else { 0.0 };
    context! {
        name => topic.name.clone(), description => topic.description.clone(),
        level => topic.level, count => topic.point_count, percent => format!("{percent:.1}"),
        examples, spans, children,
    }
}

/// The topics page.
#[utoipa::path(get, path = "/llm/topics", tag = "pages",
    params(("config" = Option<String>, Query, description = "a config id"),
        ("run" = Option<String>, Query, description = "a run id of the config")),
    responses((status = 200, content_type = "text/html")))]
pub(crate) async fn topics(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let shown = viewer.org(&state).await?;
    let configs = state.store.topic_configs(&shown.org).await?;
    let chosen = match query.get("config") {
        Some(id) => Some(configs.iter().find(|c| c.id == id).ok_or_else(|| {
            ApiError::NotFound(format!("no topic discovery config '{id}' in this org"))
        })?),
        None => configs.first(),
    };
    let mut rows = Vec::new();
    for config in &configs {
        let runs = state.store.topic_runs(&shown.org, &config.id).await?;
        let latest = runs.first().map_or_else(
            || "none".to_owned(),
            |r| format!("{} · {}", r.status, when(&r.created_at)),
        );
        rows.push(context! {
            name => config.name.clone(), query => config.settings.evp_query.clone(),
            depth => config.settings.hierarchy_depth, latest, updated => when(&config.updated_at),
            href => format!("/llm/topics?config={}", urlencode(&config.id)),
            selected => chosen.is_some_and(|c| c.id == config.id),
        });
    }
    let (mut config_ctx, mut run_ctx, mut status) =
        (Value::from(()), Value::from(()), String::new());
    let (mut tree, mut total, mut topic_count, mut run_links) = (Vec::new(), 0, 0, Vec::new());
    if let Some(config) = chosen {
        let runs = state.store.topic_runs(&shown.org, &config.id).await?;
        let completed: Vec<&TopicRun> = runs.iter().filter(|r| r.status == "completed").collect();
        let run = match query.get("run") {
            Some(id) => Some(completed.iter().copied().find(|r| r.id == id).ok_or_else(|| {
                ApiError::NotFound(format!("config '{}' has no completed run '{id}'", config.id))
            })?),
            None => completed.first().copied(),
        };
        status = match runs.first() {
            Some(latest) if latest.status == "failed" => format!("failed ({})", latest.step),
            Some(latest) if latest.status != "completed" => {
                format!("{}, at {}", latest.status, latest.step)
            }
            _ => String::new(),
        };
        config_ctx = context! { name => config.name.clone() };
        if let Some(run) = run {
            let topics = state.store.run_topics(&run.id).await?;
            let points = state.store.run_points(&run.id, LINKED_SPANS).await?;
            let under = points_under(&topics, &points);
            total = topics.iter().filter(|t| t.parent_id.is_empty()).map(|t| t.point_count).sum();
            topic_count = topics.len();
            tree = topics
                .iter()
                .filter(|t| t.parent_id.is_empty())
                .map(|t| node(t, &topics, &under, total))
                .collect();
            run_ctx = context! {
                id => run.id.clone(), status => run.status.clone(), created => when(&run.created_at),
                completed => run.completed_at.as_deref().map(when).unwrap_or_default(),
            };
        }
        run_links = completed
            .iter()
            .map(|r| {
                context! {
                    created => when(&r.created_at),
                    selected => run.is_some_and(|chosen| chosen.id == r.id),
                    href => format!(
                        "/llm/topics?config={}&run={}", urlencode(&config.id), urlencode(&r.id)
                    ),
                }
            })
            .collect();
    }
    let ctx = context! {
        configs => rows, config => config_ctx, run => run_ctx, status, tree, total, topic_count,
        other_runs => run_links.len() > 1, runs => run_links,
    };
    let body = render(ctx)?;
    let place = Place { section: "Topics", crumbs: vec![("Topics", None)] };
    Ok(page("Topics", &shown, place, body)?)
}
