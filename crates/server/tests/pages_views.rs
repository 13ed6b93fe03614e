//! The experiment page's record filters, reruns and config; the compare page; the trace
//! page and the traces list's filters: status, what each shows, and hostile text escaped.

use axum::http::StatusCode;
use llmobs_store::Owned;
use serde_json::{Value, json};

use crate::pages::{HOSTILE, assert_escaped, doc, hostile_data, html};
use crate::util::{App, Keys, V1};

/// `HOSTILE`, as a query parameter.
fn q(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).unwrap()[1..].to_owned()
}

/// A page with its links' escapes undone (`/` and `&`), to look for a link.
fn links(page: &str) -> String {
    page.replace("&#x2f;", "/").replace("&amp;", "&")
}

fn rows(page: &str, marker: &str) -> usize {
    page.matches(marker).count()
}

/// A second experiment on `first`'s dataset, rerun of it, with its config holding hostile
/// text: spans `u000`… for the same dataset records, with `exact` and `quality` values.
async fn rerun(app: &App, first: &str, exact: [bool; 3], quality: [f64; 3]) -> String {
    let org = app.store().owner_of(Owned::Experiment, first).await.unwrap();
    let (_, e) = app.store().experiment(&org, first).await.unwrap();
    let created = app
        .ok(
            "POST",
            &format!("{V1}/experiments"),
            doc(
                "experiments",
                json!({"name": "second", "dataset_id": e.dataset_id, "project_id": e.project_id,
                "dataset_version": 1, "config": {"model": HOSTILE}, "metadata": {"note": HOSTILE},
                "parent_experiment_id": first, "ensure_unique": true}),
            ),
        )
        .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let spans: Vec<Value> = (0..3)
        .map(|i| {
            json!({"trace_id": format!("v{i}"), "span_id": format!("u{i:03}"), "parent_id": "undefined",
                "name": "task", "start_ns": 1_000 + i, "duration": 2_000_000, "status": "ok",
                "meta": {"span": {"kind": "experiment"}, "input": {"q": i}, "output": format!("out{i}")},
                "tags": [format!("experiment_id:{id}"), format!("dataset_record_id:{HOSTILE}{i:03}")]})
        })
        .collect();
    let body = json!([{"_dd.stage": "raw", "event_type": "span", "spans": spans}]);
    let (status, answer) = app.call("POST", "/api/v2/llmobs", Keys::Api, Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let mut metrics = Vec::new();
    for i in 0..3 {
        let span = format!("u{i:03}");
        metrics.push(json!({"span_id": span, "timestamp_ms": 1, "label": "exact",
            "metric_type": "boolean", "boolean_value": exact[i]}));
        metrics.push(json!({"span_id": span, "timestamp_ms": 1, "label": "quality",
            "metric_type": "score", "score_value": quality[i]}));
    }
    let (status, answer) = app
        .call(
            "POST",
            &format!("{V1}/experiments/{id}/events"),
            Keys::Both,
            doc(
                "experiments",
                json!({"scope": "experiments", "tags": ["run_id:r"], "metrics": metrics}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    id
}

#[tokio::test]
async fn the_experiment_page_filters_records_by_evaluation_and_error() {
    let app = App::new().await;
    // exact: true, true, false; quality: 0.2, 0.4, 0.9; the first record failed.
    let (_, e) = hostile_data(&app, 3).await;
    let path = format!("/llm/experiments/{e}");
    let count = |query: String| {
        let (app, path) = (&app, &path);
        async move {
            let page = html(app, &format!("{path}?{query}"), Keys::Api, StatusCode::OK).await;
            assert_escaped(&page, &query);
            rows(&page, "<tr class=\"record\">")
        }
    };
    assert_eq!(count("eval=exact&value=false".into()).await, 1);
    assert_eq!(count("eval=exact&value=true".into()).await, 2);
    assert_eq!(count("eval=quality&min=0.3".into()).await, 2);
    assert_eq!(count("eval=quality&min=0.3&max=0.5".into()).await, 1);
    assert_eq!(count("errors=only".into()).await, 1);
    assert_eq!(count("eval=exact&value=true&errors=none".into()).await, 1);
    assert_eq!(count(format!("eval={}&value={}", q(HOSTILE), q(HOSTILE))).await, 2);
    assert_eq!(count("eval=exact&value=error".into()).await, 0);
    // The page offers each value as a facet, with its count, and says what is filtered.
    let page =
        html(&app, &format!("{path}?eval=exact&value=false"), Keys::Api, StatusCode::OK).await;
    let facet = &page[page.find("data-facet=\"exact\"").unwrap()..];
    let facet = &facet[..facet.find("</div>").unwrap()];
    assert!(facet.contains("true <span class=\"count\">2</span>"), "{facet}");
    assert!(facet.contains("class=\"on\">false <span class=\"count\">1</span>"), "{facet}");
    assert!(page.contains("Records where exact is false"), "{page}");
    // Reasoning opens from the evaluation.
    assert!(page.contains("<details class=\"eval\"><summary>exact: <b>false</b></summary><div class=\"reasoning\">&lt;script&gt;"), "{page}");
    // A record links to its trace.
    assert!(links(&page).contains("href=\"/llm/traces/t2?span=s002\""), "{page}");
    // A filter that cannot apply is a 400 page that says what to send.
    for (query, says) in [
        ("eval=exact", "needs value"),
        ("value=true", "needs eval"),
        ("eval=quality&min=x", "not a number"),
        ("eval=quality&min=2&max=1", "above max"),
        ("errors=maybe", "only, none"),
    ] {
        let page = html(&app, &format!("{path}?{query}"), Keys::Api, StatusCode::BAD_REQUEST).await;
        assert!(page.starts_with("<!doctype html>") && page.contains(says), "{query}: {page}");
    }
}

#[tokio::test]
async fn a_filtered_experiment_pages_with_its_filter() {
    let app = App::new().await;
    let (_, e) = hostile_data(&app, 53).await;
    let path = format!("/llm/experiments/{e}?errors=none");
    let first = html(&app, &path, Keys::Api, StatusCode::OK).await;
    assert_eq!(rows(&first, "<tr class=\"record\">"), 50);
    let next = first.split("href=\"").find(|s| s.contains("cursor=")).unwrap();
    let next = next[..next.find('"').unwrap()].replace("&amp;", "&").replace("&#x2f;", "/");
    assert!(next.contains("errors=none"), "{next}");
    let second = html(&app, &next, Keys::Api, StatusCode::OK).await;
    assert_eq!(rows(&second, "<tr class=\"record\">"), 2, "53 records, one failed");
}

#[tokio::test]
async fn an_experiment_links_its_parent_and_reruns_and_shows_config_and_metadata() {
    let app = App::new().await;
    let (_, e) = hostile_data(&app, 3).await;
    let second = rerun(&app, &e, [false; 3], [0.0; 3]).await;
    let parent = html(&app, &format!("/llm/experiments/{e}"), Keys::Api, StatusCode::OK).await;
    let reruns = &parent[parent.find("data-related=\"reruns\"").expect("reruns listed")..];
    assert!(
        links(reruns).contains(&format!("href=\"/llm/experiments/{second}\">second</a>")),
        "{reruns}"
    );
    let child = html(&app, &format!("/llm/experiments/{second}"), Keys::Api, StatusCode::OK).await;
    assert_escaped(&child, "rerun");
    let up = &child[child.find("data-related=\"parent\"").expect("parent linked")..];
    assert!(links(up).contains(&format!("href=\"/llm/experiments/{e}\"")), "{up}");
    for json in ["config", "metadata"] {
        let part = &child[child.find(&format!("data-json=\"{json}\"")).expect(json)..];
        assert!(part.contains("&lt;script&gt;"), "{json}: {part}");
    }
}

#[tokio::test]
async fn compare_shows_deltas_a_chart_and_the_records_that_moved() {
    let app = App::new().await;
    // Baseline: exact true, true, false; quality 0.2, 0.4, 0.9.
    let (_, e) = hostile_data(&app, 3).await;
    // Then: exact false, false, true (two regressed, one improved); quality 0.2, 0.5, 0.1.
    let other = rerun(&app, &e, [false, false, true], [0.2, 0.5, 0.1]).await;
    let base = format!("/llm/experiments/compare?experiment={e}&experiment={other}");
    let page = html(&app, &base, Keys::Api, StatusCode::OK).await;
    assert_escaped(&page, &base);
    let row = |label: &str| {
        let start = page
            .find(&format!("<tr data-label=\"{label}\">"))
            .unwrap_or_else(|| panic!("{label}: {page}"));
        let end = page[start..].find("</tr>").unwrap() + start;
        page[start..end].to_owned()
    };
    // 66.7% → 33.3%: −33.3 points; mean 0.5 → 0.267: −0.233.
    assert!(row("exact").contains("66.7%") && row("exact").contains("33.3%"), "{}", row("exact"));
    assert!(row("exact").contains("class=\"delta down\">−33.3 pp<"), "{}", row("exact"));
    assert!(row("quality").contains("class=\"delta down\">−0.233<"), "{}", row("quality"));
    // One chart per boolean or score evaluation, a bar per experiment.
    assert_eq!(rows(&page, "<svg class=\"chart\""), 2, "{page}");
    assert_eq!(rows(&page, "<g data-bar="), 4);
    // The records joined by dataset record, and the filters.
    assert_eq!(rows(&page, "class=\"joined-record\""), 3);
    let moved = |change: &str, label: &str| {
        let path = format!("{base}&eval={label}&change={change}");
        let app = &app;
        async move {
            let page = html(app, &path, Keys::Api, StatusCode::OK).await;
            assert_escaped(&page, &path);
            rows(&page, "class=\"joined-record\"")
        }
    };
    assert_eq!(moved("regressed", "exact").await, 2);
    assert_eq!(moved("improved", "exact").await, 1);
    assert_eq!(moved("changed", "exact").await, 3);
    assert_eq!(moved("improved", "quality").await, 1);
    assert_eq!(moved("regressed", "quality").await, 1);
    let regressed =
        html(&app, &format!("{base}&eval=exact&change=regressed"), Keys::Api, StatusCode::OK).await;
    assert!(regressed.contains("<span class=\"moved\">regressed</span>"), "{regressed}");
    // What cannot be compared is a 400 page saying what to pick.
    for (path, says) in [
        (format!("/llm/experiments/compare?experiment={e}"), "at least two"),
        (format!("/llm/experiments/compare?experiment={e}&experiment={e}"), "chosen twice"),
        (format!("{base}&eval=exact&change=worse"), "changed, regressed, improved"),
        ("/llm/experiments/compare".to_owned(), "at least two"),
    ] {
        let page = html(&app, &path, Keys::Api, StatusCode::BAD_REQUEST).await;
        assert!(page.contains(says), "{path}: {page}");
    }
    // Another org cannot compare them.
    let other_org = Keys::Custom(Some(crate::util::OTHER_API), None);
    html(&app, &base, other_org, StatusCode::NOT_FOUND).await;
    // The experiments list offers the boxes to tick.
    let list = html(&app, "/llm/experiments", Keys::Api, StatusCode::OK).await;
    assert_eq!(rows(&list, "name=\"experiment\""), 2, "{list}");
    let with =
        html(&app, &format!("/llm/experiments?compare_with={e}"), Keys::Api, StatusCode::OK).await;
    assert!(
        with.contains(&format!("value=\"{e}\" aria-label")) && with.contains(" checked>"),
        "{with}"
    );
}

#[tokio::test]
async fn a_trace_page_shows_the_span_tree_and_the_traces_list_filters() {
    let app = App::new().await;
    let (_, e) = hostile_data(&app, 3).await;
    let page = html(&app, "/llm/traces/t0?span=s000", Keys::Api, StatusCode::OK).await;
    assert_escaped(&page, "trace t0");
    assert!(page.contains("data-span=\"s000\" data-depth=\"0\""), "{page}");
    assert!(page.contains("data-span=\"child\" data-depth=\"1\""), "{page}");
    assert!(page.contains("class=\"span marked\""), "the record's span is marked: {page}");
    assert!(links(&page).contains(&format!("href=\"/llm/experiments/{e}\"")), "{page}");
    let missing = html(&app, "/llm/traces/nope", Keys::Api, StatusCode::NOT_FOUND).await;
    assert!(missing.contains("nope"), "{missing}");
    let other_org = Keys::Custom(Some(crate::util::OTHER_API), None);
    html(&app, "/llm/traces/t0", other_org, StatusCode::NOT_FOUND).await;
    // The list's filters, each exact; a span links to its trace.
    let list = |query: String| {
        let app = &app;
        async move {
            let path = format!("/llm/traces?{query}");
            let page = html(app, &path, Keys::Api, StatusCode::OK).await;
            (rows(&page, "<tr><td class=\"when\">"), page)
        }
    };
    let (n, page) = list("kind=llm".into()).await;
    assert_eq!(n, 1, "{page}");
    assert!(links(&page).contains("href=\"/llm/traces/t0?span=child\""), "{page}");
    assert_eq!(list("ml_app=app".into()).await.0, 1);
    assert_eq!(list("status=error".into()).await.0, 1);
    assert_eq!(list(format!("name={}", q(HOSTILE))).await.0, 4);
    assert_eq!(list(format!("name={}&kind=experiment", q(HOSTILE))).await.0, 3);
    assert_eq!(list("name=alert".into()).await.0, 0);
    let bad = html(&app, "/llm/traces?query=%28", Keys::Api, StatusCode::BAD_REQUEST).await;
    assert!(bad.starts_with("<!doctype html>"), "{bad}");
}
