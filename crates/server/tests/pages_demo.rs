//! `llmobs serve --demo`: the demo project fills an empty store, refuses a store with data,
//! and every page shows it.

use axum::http::StatusCode;
use llmobs_server::demo::{self, DemoError};

use crate::util::App;

#[tokio::test]
async fn the_demo_fills_an_empty_store_and_every_page_shows_it() {
    let app = App::new().await;
    assert!(matches!(demo::fill(app.store()).await, Err(DemoError::NoDefaultOrg)));
    app.store().create_org_keys("default", "default-api-key", "default-app-key").await.unwrap();
    let written = demo::fill(app.store()).await.unwrap();
    // A second run leaves the store as it is.
    assert!(matches!(demo::fill(app.store()).await, Err(DemoError::NotEmpty)));

    let app = &app;
    let get = |path: String| async move {
        let (status, page) = app.loopback(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        page
    };
    let home = get("/".into()).await;
    assert!(home.contains(">demo</a>") && home.contains("capital-improved"), "{home}");
    let [baseline, improved] = &written.experiment_ids;
    // Exact match: 4 of 6 for the baseline, 5 of 6 improved; every record has children.
    let page = get(format!("/llm/experiments/{baseline}")).await;
    assert!(page.contains("4 of 6 true") && page.contains(">66.7%<"), "{page}");
    assert!(
        page.contains("data-summary=\"similarity\"")
            && page.contains("data-summary=\"confidence\"")
    );
    let page = get(format!("/llm/experiments/{improved}")).await;
    assert!(page.contains("5 of 6 true") && page.contains(">83.3%<"), "{page}");
    let traces = get("/llm/traces?query=%40ml_app%3Ademo-app".into()).await;
    for name in ["lookup_country_facts", "normalize_country", "answer"] {
        // Each span's name links to its trace.
        assert_eq!(traces.matches(&format!("\">{name}</a></td>")).count(), 12, "{name}: {traces}");
    }
    // The dataset's two versions: one updated, one deleted, two inserted.
    let diff = get(format!("/llm/datasets/{}/diff?from=1&to=2", written.dataset_id)).await;
    assert!(
        diff.contains(">2 inserted<")
            && diff.contains(">1 updated<")
            && diff.contains(">1 deleted<"),
        "{diff}"
    );
    // The prompts: labels, an environment, a diff.
    let prompt = get("/llm/prompts/capital-qa".into()).await;
    assert!(
        prompt.contains("label <b>production</b>") && prompt.contains("environment <b>staging</b>")
    );
    let prompt_diff = get("/llm/prompts/capital-qa/diff?from=2&to=3".into()).await;
    assert!(
        prompt_diff.contains(">1 added<") && prompt_diff.contains(">0 removed<"),
        "{prompt_diff}"
    );
    let chat = get("/llm/prompts/support-chat".into()).await;
    assert!(
        chat.contains("name=\"var.history\"") && chat.contains("name=\"var.product\""),
        "{chat}"
    );
}
