//! `/openapi.json`: the OpenAPI description of every route.

use axum::Json;
use axum::response::IntoResponse;
use utoipa::OpenApi;

use crate::jsonapi::FAMILIES;
use crate::{
    datasets, evaluators, experimentation, experiments, intake, pages, prompts, public, spans,
};

/// The document, built from the route annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "llmobs", description = "Self-hosted LLM Observability API, wire-compatible \
        with Datadog's for prompts, datasets and experiments."),
    paths(
        healthz,
        readyz,
        openapi_json,
        prompts::list_prompts,
        prompts::create_prompt,
        prompts::get_prompt,
        prompts::update_prompt,
        prompts::delete_prompt,
        prompts::resolve_prompt,
        prompts::list_versions,
        prompts::create_version,
        prompts::get_version,
        prompts::update_version,
        datasets::create_project,
        datasets::create_dataset,
        datasets::find_datasets,
        datasets::list_records,
        datasets::batch_update,
        datasets::upload_records,
        datasets::delete_datasets,
        experiments::create_experiment,
        experiments::update_experiment,
        experiments::list_experiments,
        experiments::post_events,
        experiments::get_events,
        experiments::events_by_name,
        evaluators::infer,
        evaluators::publish,
        intake::spans,
        intake::eval_metrics,
        public::projects::list_projects,
        public::projects::update_project,
        public::projects::delete_projects,
        public::datasets::update_dataset,
        public::datasets::delete_datasets,
        public::datasets::list_versions,
        public::datasets::restore_version,
        public::datasets::clone_dataset,
        public::datasets::export_dataset,
        public::datasets::draft_state,
        public::datasets::lock_draft,
        public::datasets::unlock_draft,
        public::datasets::upload_file,
        public::records::create_records,
        public::records::update_records,
        public::records::delete_records,
        public::experiments::delete_experiments,
        public::experiments::events_v2,
        public::experiments::events_v3,
        public::evaluators::list_configs,
        public::evaluators::get_config,
        public::evaluators::put_config,
        public::evaluators::delete_config,
        public::integrations::list_accounts,
        public::integrations::list_models,
        public::integrations::inference,
        public::topics::upsert_config,
        public::topics::list_configs,
        public::topics::latest_config,
        public::topics::delete_config,
        public::topics::trigger_run,
        public::topics::list_runs,
        public::topics::run_status,
        public::topics::list_topics,
        public::topics::topics_with_points,
        public::topics::clustered_points,
        public::prompts::list_prompts,
        public::prompts::create_prompt,
        public::prompts::get_prompt,
        public::prompts::update_prompt,
        public::prompts::delete_prompt,
        public::prompts::list_versions,
        public::prompts::create_version,
        public::prompts::get_version,
        public::prompts::update_version,
        public::annotations::create_queue,
        public::annotations::list_queues,
        public::annotations::update_queue,
        public::annotations::delete_queue,
        public::annotations::label_schema,
        public::annotations::put_label_schema,
        public::annotations::add_interactions,
        public::annotations::delete_interactions,
        public::annotations::upsert_annotations,
        public::annotations::delete_annotations,
        public::annotations::annotated_interactions,
        public::annotations::annotated_interaction,
        public::annotations::annotated_by_content,
        public::annotations::export_queue,
        pages::home,
        pages::experiments,
        pages::datasets,
        pages::prompts,
        pages::traces,
        pages::experiment,
        pages::compare,
        pages::trace,
        pages::dataset::dataset,
        pages::dataset::diff,
        pages::dataset::download,
        pages::access::sign_in_form,
        pages::access::sign_in,
        pages::access::sign_out,
        pages::prompt::prompt,
        pages::prompt::diff,
        pages::prompt::move_label,
        pages::prompt::remove_label,
        pages::prompt::deploy,
        pages::review::queues,
        pages::topics::topics,
        pages::review::review,
        pages::review::save,
        pages::review::export,
    ),
    components(schemas(
        llmobs_core::error::ErrorBody,
        llmobs_core::error::ErrorItem,
        llmobs_core::prompts::ResolveData,
        llmobs_core::prompts::ResolveAttributes,
    )),
    tags(
        (name = "prompts", description = "The prompt registry"),
        (name = "datasets", description = "Projects, datasets and versioned records"),
        (name = "experiments", description = "Experiments and their events"),
        (name = "evaluators", description = "Remote evaluators"),
        (name = "intake", description = "Span and eval-metric intake"),
        (name = "pages", description = "HTML pages"),
        (name = "public", description = "Datadog's public LLM Observability API (the official client's management routes)"),
    )
)]
struct ApiDoc;

/// Liveness: 200 with `ok`, no key needed.
#[utoipa::path(get, path = "/healthz", tag = "server", responses((status = 200, body = String)))]
#[allow(dead_code)]
async fn healthz() {}

/// Readiness: 200 with `ready` when the database answers, 503 when it does not; no key
/// needed.
#[utoipa::path(get, path = "/readyz", tag = "server", responses(
    (status = 200, body = String),
    (status = 503, description = "The database does not answer")))]
#[allow(dead_code)]
async fn readyz() {}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "server", responses((status = 200)))]
#[allow(dead_code)]
async fn openapi_json() {}

/// The document, with every datasets and experiments path under both path families.
fn build() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let [first, second] = FAMILIES;
    let copies: Vec<_> = doc
        .paths
        .paths
        .iter()
        .filter(|(path, _)| {
            path.starts_with(first) && !path.starts_with(llmobs_core::prompts::PROMPTS_PATH)
        })
        .map(|(path, item)| (path.replacen(first, second, 1), item.clone()))
        .collect();
    // A path documented under both families (the public API's routes added to ddtrace's)
    // keeps the operations of each.
    for (path, item) in copies {
        match doc.paths.paths.get_mut(&path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                doc.paths.paths.insert(path, item);
            }
        }
    }
    doc.merge(QueryDoc::openapi());
    document_errors(&mut doc);
    doc
}

/// The error answers a route gives whatever its annotation says, added to every operation
/// that does not name them itself: 400 (bad query, path or body), 401 and 403 (missing or
/// wrong key), 404 (a route naming an object, in its path or its body, or a page other than
/// signing in and out), and for routes with a body 408 (too slow), 413 (too large) and 503
/// (too many large bodies at once). API routes answer them as JSON
/// [`ErrorBody`](llmobs_core::error::ErrorBody), pages (the operations tagged `pages`) as
/// HTML. `/healthz` and `/openapi.json` answer only 200.
fn document_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
    for (path, item) in doc.paths.paths.iter_mut() {
        if matches!(path.as_str(), "/healthz" | "/openapi.json") {
            continue;
        }
        let intake = path.ends_with("/llmobs") || path.ends_with("/eval-metric");
        let session = matches!(path.as_str(), "/sign-in" | "/sign-out");
        let operations =
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let page = operation.tags.iter().flatten().any(|tag| tag == "pages");
            let body = operation.request_body.is_some();
            let mut errors = vec![
                ("400", "Bad request: the detail names what is wrong"),
                ("401", "No key: send DD-API-KEY (and DD-APPLICATION-KEY for writes)"),
                ("403", "A wrong key"),
            ];
            if (page && !session) || (!page && !intake && (path.contains('{') || body)) {
                errors.push(("404", "Not found (or another org's)"));
            }
            if body {
                errors.push(("408", "The body did not arrive within the body timeout"));
                errors.push(("413", "The body, or one of its fields, is over its limit"));
                errors.push(("503", "Too many large bodies are being read: retry later"));
            }
            for (status, description) in errors {
                let responses = &mut operation.responses.responses;
                if responses.contains_key(status) {
                    continue;
                }
                let response = if page {
                    ResponseBuilder::new()
                        .description(description)
                        .content("text/html", Content::new(None::<RefOr<utoipa::openapi::Schema>>))
                } else {
                    ResponseBuilder::new().description(description).content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                    )
                };
                responses.insert(status.to_owned(), RefOr::T(response.build()));
            }
        }
    }
}

/// The query plane's routes (their paths are the client's, not copied across families).
#[derive(OpenApi)]
#[openapi(
    paths(
        spans::list_spans,
        spans::search_spans,
        experimentation::search,
        experimentation::simple_search,
        experimentation::analytics,
    ),
    tags(
        (name = "spans", description = "Search every stored span"),
        (name = "experimentation", description = "Search and aggregate experimentation data"),
    ),
)]
struct QueryDoc;

/// Serves the document.
pub(crate) async fn document() -> impl IntoResponse {
    Json(build())
}
