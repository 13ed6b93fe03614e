//! A prompt's pages: versions, labels, environments, the diff, the render preview and
//! moving and removing a label and deploying a version from the UI, with hostile text escaped.

use axum::http::StatusCode;
use serde_json::json;

use crate::pages_access::{Browser, csrf_of, sign_in};
use crate::util::{API, APP, App, Keys, PROMPTS, path};

const HOSTILE: &str = "<script>alert(1)</script>";
const ID: &str = "<script>p/1";

/// A prompt whose id and texts are hostile: v1 (text, labelled `production`), v2 (chat,
/// deployed to `staging`), v3 (chat, one line more, with a placeholder).
async fn hostile_prompt(app: &App) -> String {
    app.ok(
        "POST",
        PROMPTS,
        Some(
            json!({"prompt_id": ID, "title": HOSTILE, "template": format!("Hi {{name}} {HOSTILE}"),
                    "labels": ["production"]}),
        ),
    )
    .await;
    let versions = format!("{}/versions", path(ID));
    app.ok(
        "POST",
        &versions,
        Some(json!({"template": [{"role": "system", "content": HOSTILE},
                                 {"role": "user", "content": "Capital of {{country}}?"}],
                    "env_ids": ["staging"]})),
    )
    .await;
    app.ok(
        "POST",
        &versions,
        Some(json!({"template": [{"role": "system", "content": format!("{HOSTILE}\nBe brief.")},
                                 {"type": "placeholder", "name": "history"},
                                 {"role": "user", "content": "Capital of {{country}}?"}]})),
    )
    .await;
    format!("/llm/prompts/{}", llmobs_core::encoding::path_segment(ID))
}

async fn page(app: &App, path: &str) -> String {
    let (status, body) = app.call("GET", path, Keys::Api, None).await;
    let text = body.as_str().map(str::to_owned).unwrap_or_else(|| body.to_string());
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    assert!(!text.contains("<script"), "{path} lets a script through:\n{text}");
    text
}

#[tokio::test]
async fn the_prompt_page_shows_versions_labels_and_environments_escaped() {
    let app = App::new().await;
    let at = hostile_prompt(&app).await;
    let list = page(&app, "/llm/prompts").await;
    assert!(list.contains(&format!("href=\"{at}\"")), "the list links the prompt: {list}");
    let shown = page(&app, &at).await;
    assert!(shown.contains("&lt;script&gt;p&#x2f;1"), "the id: {shown}");
    assert_eq!(shown.matches("<tr class=\"version").count(), 3, "{shown}");
    // Label production sits on v1; staging is deployed to v2; the newest is v3 (selected).
    assert!(shown.contains("<tr data-label=\"production\"><td>label <b>production</b></td>"));
    let resolves = &shown[shown.find("class=\"resolves\"").unwrap()..];
    assert!(
        resolves.contains("environment <b>staging</b> (deployed)</td><td><a href=\""),
        "{resolves}"
    );
    assert!(resolves.contains(">v2</a>") && resolves.contains(">v1</a>"), "{resolves}");
    assert!(shown.contains("<tr class=\"version selected\" data-version=\"3\">"), "{shown}");
    // v3's template and its variables: one text variable, one placeholder.
    assert!(shown.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;\nBe brief."), "{shown}");
    assert!(shown.contains("name=\"var.country\"") && shown.contains("name=\"var.history\""));
    // Not signed in with an application key: no label form, a sign-in link.
    assert!(!shown.contains("Move label") && shown.contains("href=\"/sign-in\""), "{shown}");
}

#[tokio::test]
async fn the_preview_renders_with_the_sdks_renderer() {
    let app = App::new().await;
    let at = hostile_prompt(&app).await;
    let text = page(&app, &format!("{at}?version=1&var.name=%3Cscript%3EAda")).await;
    let rendered = &text[text.find("class=\"rendered\"").expect("no preview")..];
    assert!(
        rendered.starts_with("class=\"rendered\">Hi &lt;script&gt;Ada &lt;script&gt;"),
        "{rendered}"
    );
    let history = r#"[{"role":"assistant","content":"earlier"}]"#;
    let query = serde_urlencoded::to_string([("var.country", "France"), ("var.history", history)]);
    let chat = page(&app, &format!("{at}?version=3&{}", query.unwrap())).await;
    let rendered = &chat[chat.find("class=\"rendered\"").expect("no preview")..];
    assert!(rendered.contains("assistant: earlier\nuser: Capital of France?"), "{rendered}");
    // A placeholder that is not a list of messages: the renderer's message.
    let bad = page(&app, &format!("{at}?version=3&var.country=x&var.history=%7B%7D")).await;
    assert!(bad.contains("class=\"error\" role=\"alert\">Message placeholder"), "{bad}");
    let bad = page(&app, &format!("{at}?version=3&var.history=nope")).await;
    assert!(bad.contains("needs a JSON list of messages"), "{bad}");
}

#[tokio::test]
async fn the_diff_shows_added_and_removed_lines() {
    let app = App::new().await;
    let at = hostile_prompt(&app).await;
    let diff = page(&app, &format!("{at}/diff?from=2&to=3")).await;
    assert!(diff.contains(">2 added<") && diff.contains(">0 removed<"), "{diff}");
    assert_eq!(diff.matches("<tr class=\"added\">").count(), 2, "Be brief. and the placeholder");
    assert_eq!(diff.matches("<tr class=\"removed\">").count(), 0, "{diff}");
    assert!(diff.contains("+ [placeholder: history]") && diff.contains("+ Be brief."), "{diff}");
    // Text against chat: every line of v1 removed.
    let text_to_chat = page(&app, &format!("{at}/diff?from=1&to=2")).await;
    assert!(text_to_chat.contains("- Hi {name} &lt;script&gt;"), "{text_to_chat}");
    let (status, _) = app.call("GET", &format!("{at}/diff?from=9"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call("GET", &format!("{at}/diff?from=x"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn moving_a_label_needs_the_application_key_and_the_csrf_token() {
    let app = App::new().await;
    let at = hostile_prompt(&app).await;
    let labels = format!("{at}/labels");
    let production = || async {
        let (_, body) =
            app.call("GET", &format!("{}?label=production", path(ID)), Keys::Api, None).await;
        body["version"].as_str().map(|v| v.parse::<i64>().unwrap())
    };
    assert_eq!(production().await, Some(1));

    // Only the API key: the page has no label form, and a post is refused.
    let reader = sign_in(&app, API, None).await;
    let (_, _, shown) = Browser::get(&at).cookie(&reader).send(&app).await;
    assert!(shown.contains("this session has no application key"), "{shown}");
    let csrf = csrf_of(&shown);
    let form = |csrf: String| {
        vec![("label", "production".to_owned()), ("version", "2".into()), ("csrf", csrf)]
    };
    let owned = |f: Vec<(&'static str, String)>| f;
    let post = |cookie: String, f: Vec<(&'static str, String)>| {
        let labels = labels.clone();
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Browser::post(&labels, form).cookie(&cookie).send(app).await
        }
    };
    let (status, _, body) = post(reader.clone(), owned(form(csrf))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("application key"), "{body}");

    let writer = sign_in(&app, API, Some(APP)).await;
    let (_, _, shown) = Browser::get(&at).cookie(&writer).send(&app).await;
    assert!(shown.contains("Move label"), "{shown}");
    let csrf = csrf_of(&shown);
    // A wrong token, or none: refused, nothing moved.
    let (status, _, _) = post(writer.clone(), form("x".repeat(csrf.len()))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) =
        post(writer.clone(), vec![("label", "production".into()), ("version", "2".into())]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(production().await, Some(1));
    // A bad version number and a version that does not exist.
    let (status, _, body) = post(
        writer.clone(),
        vec![("label", "production".into()), ("version", "two".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, _) = post(
        writer.clone(),
        vec![("label", "production".into()), ("version", "9".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, headers, body) = post(writer.clone(), form(csrf.clone())).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let to = headers["location"].to_str().unwrap();
    assert!(to.ends_with("?moved=production"), "{to}");
    // The API now serves v2 for production (the read cache was dropped).
    assert_eq!(production().await, Some(2));
    let (_, _, shown) = Browser::get(to).cookie(&writer).send(&app).await;
    assert!(shown.contains("Label <b>production</b> moved."), "{shown}");
    // A hostile label is escaped where it shows.
    let (status, _, _) = post(
        writer.clone(),
        vec![("label", HOSTILE.into()), ("version", "3".into()), ("csrf", csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, shown) = Browser::get(&at).cookie(&writer).send(&app).await;
    assert!(!shown.contains("<script>") && shown.contains("label <b>&lt;script&gt;"), "{shown}");
}

/// Posts a form to `to` with `cookie`.
async fn post_form(
    app: &App,
    to: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let (status, headers, body) = Browser::post(to, form.to_vec()).cookie(cookie).send(app).await;
    let location = headers.get("location").map(|l| l.to_str().unwrap().to_owned());
    (status, location.unwrap_or_default(), body)
}

/// The version the API serves for `label`, `None` when it serves the newest without it.
async fn labelled(app: &App, label: &str) -> Vec<String> {
    let (_, body) = app.call("GET", &format!("{}/versions", path(ID)), Keys::Api, None).await;
    let items =
        body.as_array().cloned().unwrap_or_else(|| body["data"].as_array().unwrap().clone());
    (items.iter())
        .filter(|v| v["labels"].as_array().is_some_and(|ls| ls.iter().any(|l| l == label)))
        .map(|v| v["version"].to_string())
        .collect()
}

/// The version the API resolves for environment `env`.
async fn resolved(app: &App, env: &str) -> String {
    let body = json!({"data": {"type": "prompt_resolve_requests", "attributes": {"env": env}}});
    let (status, body) =
        app.call("POST", &format!("{}/resolve", path(ID)), Keys::Both, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["version"].as_str().map(str::to_owned).unwrap_or_else(|| body["version"].to_string())
}

#[tokio::test]
async fn removing_a_label_needs_the_application_key_and_the_csrf_token() {
    let app = App::new().await;
    let at = hostile_prompt(&app).await;
    let remove = format!("{at}/labels/remove");
    // Two labels on v1, so that removing one keeps the other.
    let v1 = format!("{}/versions/1", path(ID));
    app.ok("PATCH", &v1, Some(json!({"labels": ["production", HOSTILE]}))).await;
    assert_eq!(labelled(&app, "production").await, ["1"]);

    // Only the API key: no remove button, and a post is refused.
    let reader = sign_in(&app, API, None).await;
    let (_, _, shown) = Browser::get(&at).cookie(&reader).send(&app).await;
    assert!(!shown.contains("Remove label") && shown.contains("href=\"/sign-in\""), "{shown}");
    let csrf = csrf_of(&shown);
    let (status, _, body) =
        post_form(&app, &remove, &reader, &[("label", "production"), ("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("application key"), "{body}");
    // No session at all: 401.
    let (status, _, _) = Browser::post(&remove, vec![("label", "production")]).send(&app).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let writer = sign_in(&app, API, Some(APP)).await;
    let (_, _, shown) = Browser::get(&at).cookie(&writer).send(&app).await;
    // One remove form per label, the hostile one escaped.
    assert_eq!(shown.matches(">Remove label</button>").count(), 2, "{shown}");
    assert!(shown.contains("name=\"label\" value=\"&lt;script&gt;alert(1)&lt;&#x2f;script&gt;\""));
    let csrf = csrf_of(&shown);
    // A wrong token, or none: refused, nothing removed.
    let wrong = "x".repeat(csrf.len());
    let (status, _, _) =
        post_form(&app, &remove, &writer, &[("label", "production"), ("csrf", &wrong)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = post_form(&app, &remove, &writer, &[("label", "production")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(labelled(&app, "production").await, ["1"]);
    // A label the prompt does not have: 400 saying what to do, nothing changed.
    for label in ["staging", "", "<b>nope</b>"] {
        let (status, _, body) =
            post_form(&app, &remove, &writer, &[("label", label), ("csrf", &csrf)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{label}: {body}");
        assert!(body.contains("pick one of the labels listed"), "{body}");
        assert!(!body.contains("<b>nope"), "{body}");
    }
    assert_eq!(labelled(&app, "production").await, ["1"]);
    assert_eq!(labelled(&app, HOSTILE).await, ["1"]);
    // A prompt that does not exist: 404.
    let (status, _, _) = post_form(
        &app,
        "/llm/prompts/nope/labels/remove",
        &writer,
        &[("label", "production"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, to, body) =
        post_form(&app, &remove, &writer, &[("label", "production"), ("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert!(to.ends_with("?removed=production"), "{to}");
    // The API no longer has the label (the read cache was dropped); v1 keeps its other one.
    assert_eq!(labelled(&app, "production").await, Vec::<String>::new());
    assert_eq!(labelled(&app, HOSTILE).await, ["1"]);
    let (status, body) =
        app.call("GET", &format!("{}?label=production", path(ID)), Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("label 'production' was not found"));
    let (_, _, shown) = Browser::get(&to).cookie(&writer).send(&app).await;
    assert!(shown.contains("Label <b>production</b> removed."), "{shown}");
    assert!(!shown.contains("data-label=\"production\""), "{shown}");
    // The hostile label goes the same way, and its name is escaped in the notice.
    let (status, to, _) =
        post_form(&app, &remove, &writer, &[("label", HOSTILE), ("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, shown) = Browser::get(&to).cookie(&writer).send(&app).await;
    assert!(!shown.contains("<script") && shown.contains("Label <b>&lt;script&gt;"), "{shown}");
    assert_eq!(labelled(&app, HOSTILE).await, Vec::<String>::new());
}

#[tokio::test]
async fn deploying_a_version_to_an_environment_moves_only_that_environment() {
    let app = App::new().await;
    let at = hostile_prompt(&app).await;
    let deploy = format!("{at}/environments");
    // v2 serves staging and qa.
    let v2 = format!("{}/versions/2", path(ID));
    app.ok("PATCH", &v2, Some(json!({"env_ids": ["staging", "qa"]}))).await;
    assert_eq!(
        (resolved(&app, "staging").await, resolved(&app, "qa").await),
        ("2".into(), "2".into())
    );

    let reader = sign_in(&app, API, None).await;
    let (_, _, shown) = Browser::get(&at).cookie(&reader).send(&app).await;
    assert!(!shown.contains(">Deploy</button>"), "{shown}");
    let csrf = csrf_of(&shown);
    fn form(csrf: &str) -> Vec<(&'static str, &str)> {
        vec![("environment", "staging"), ("version", "3"), ("csrf", csrf)]
    }
    let (status, _, body) = post_form(&app, &deploy, &reader, &form(&csrf)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("application key"), "{body}");

    let writer = sign_in(&app, API, Some(APP)).await;
    let (_, _, shown) = Browser::get(&at).cookie(&writer).send(&app).await;
    assert!(shown.contains(">Deploy</button>") && shown.contains("<option value=\"qa\">"));
    let csrf = csrf_of(&shown);
    let (status, _, _) = post_form(&app, &deploy, &writer, &form(&"x".repeat(csrf.len()))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let no_token = [("environment", "staging"), ("version", "3")];
    let (status, _, _) = post_form(&app, &deploy, &writer, &no_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(resolved(&app, "staging").await, "2");

    // Bad input: 400 saying what to do, nothing deployed.
    let bad: [(&str, &str, &str); 6] = [
        ("", "3", "env_ids must be non-empty strings"),
        ("  ", "3", "env_ids must be non-empty strings"),
        ("prod\nuction", "3", "control characters (found U+000A at byte 4)"),
        ("staging", "9", "has no version 9"),
        ("staging", "three", "three&#x27; is not a version number"),
        ("staging", "0", "0&#x27; is not a version number"),
    ];
    for (environment, version, says) in bad {
        let form = [("environment", environment), ("version", version), ("csrf", &csrf)];
        let (status, _, body) = post_form(&app, &deploy, &writer, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{environment:?} v{version}: {body}");
        assert!(body.contains(says), "{says}: {body}");
    }
    assert_eq!(
        (resolved(&app, "staging").await, resolved(&app, "qa").await),
        ("2".into(), "2".into())
    );
    assert_eq!(resolved(&app, "prod\nuction").await, "3", "not deployed: the newest");
    let (_, _, shown) = Browser::get(&at).cookie(&writer).send(&app).await;
    assert!(!shown.contains("data-environment=\"prod"), "no environment was created: {shown}");
    assert_eq!(shown.matches("data-environment=").count(), 2, "staging and qa: {shown}");

    // Staging moves to v3; qa stays on v2.
    let (status, to, body) = post_form(&app, &deploy, &writer, &form(&csrf)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert!(to.ends_with("?version=3&deployed=staging"), "{to}");
    assert_eq!(
        (resolved(&app, "staging").await, resolved(&app, "qa").await),
        ("3".into(), "2".into())
    );
    let (_, _, shown) = Browser::get(&to).cookie(&writer).send(&app).await;
    assert!(shown.contains("Environment <b>staging</b> now serves v3."), "{shown}");
    let staging = &shown[shown.find("data-environment=\"staging\"").unwrap()..];
    assert!(staging.contains(">v3</a>") && !staging[..200].contains(">v2</a>"), "{staging}");
    // A new, hostile environment on v1 (v1 keeps serving nothing else); escaped everywhere.
    let hostile = [("environment", HOSTILE), ("version", "1"), ("csrf", &csrf)];
    let (status, to, _) = post_form(&app, &deploy, &writer, &hostile).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(resolved(&app, HOSTILE).await, "1");
    assert_eq!(
        (resolved(&app, "staging").await, resolved(&app, "qa").await),
        ("3".into(), "2".into())
    );
    let (_, _, shown) = Browser::get(&to).cookie(&writer).send(&app).await;
    assert!(!shown.contains("<script"), "{shown}");
    assert!(
        shown.contains(
            "Environment <b>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</b> now serves v1."
        )
    );
    // Deploying again where it already is changes nothing.
    let (status, _, _) = post_form(&app, &deploy, &writer, &form(&csrf)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        (resolved(&app, "staging").await, resolved(&app, "qa").await),
        ("3".into(), "2".into())
    );
}
