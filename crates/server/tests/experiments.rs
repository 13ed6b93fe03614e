//! Experiments, events, intake and remote evaluators (E8–E16).

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use llmobs_server::{Config, EvaluatorSpec, JudgeProvider};
use serde_json::{Value, json};

use crate::util::{App, Keys, V1, V2, detail};

fn doc(kind: &str, attributes: Value) -> Option<Value> {
    Some(json!({"data": {"type": kind, "attributes": attributes}}))
}

/// A project, a dataset with one record, and an experiment over it.
async fn setup(app: &App) -> (String, String, String) {
    let project =
        app.ok("POST", &format!("{V1}/projects"), doc("projects", json!({"name": "p"}))).await;
    let p = project["data"]["id"].as_str().unwrap().to_owned();
    let dataset =
        app.ok("POST", &format!("{V1}/{p}/datasets"), doc("datasets", json!({"name": "d"}))).await;
    let d = dataset["data"]["id"].as_str().unwrap().to_owned();
    app.ok(
        "POST",
        &format!("{V2}/{p}/datasets/{d}/batch_update"),
        doc(
            "datasets",
            json!({
        "insert_records": [{"id": "r1", "input": {"q": "France?"}, "expected_output": "Paris"}]}),
        ),
    )
    .await;
    let e = create(app, &p, &d, "exp", json!({"tags": ["team:ml", "k:v"]}), None).await;
    (p, d, e)
}

async fn create(
    app: &App,
    p: &str,
    d: &str,
    name: &str,
    metadata: Value,
    parent: Option<&str>,
) -> String {
    let created = app
        .ok(
            "POST",
            &format!("{V1}/experiments"),
            doc(
                "experiments",
                json!({
            "name": name, "dataset_id": d, "project_id": p, "dataset_version": 1,
            "config": {"model": "m"}, "metadata": metadata, "ensure_unique": true, "run_count": 1,
            "parent_experiment_id": parent}),
            ),
        )
        .await;
    let attributes = &created["data"]["attributes"];
    assert_eq!(attributes["experiment"], name);
    let run = attributes["name"].as_str().unwrap();
    let millis = run.strip_prefix(&format!("{name}-")).unwrap();
    assert!(millis.len() == 13 && millis.chars().all(|c| c.is_ascii_digit()), "{run}");
    assert!(attributes["status"].is_null());
    created["data"]["id"].as_str().unwrap().to_owned()
}

fn metric(span: &str, label: &str, ts: i64, value: Value) -> Value {
    json!({"metric_source": "custom", "span_id": span, "trace_id": "t1", "timestamp_ms": ts,
           "metric_type": "score", "label": label, "score_value": value, "error": null, "tags": [],
           "experiment_id": "x", "status": "OK"})
}

fn span(e: &str, id: &str, start: i64) -> Value {
    json!({"trace_id": "t1", "span_id": id, "parent_id": "undefined", "name": "task", "start_ns": start,
           "duration": 5, "status": "ok", "meta": {"span": {"kind": "experiment"}, "input": {"q": 1}, "output": "Paris"},
           "tags": [format!("experiment_id:{e}"), "dataset_record_id:r1"]})
}

#[tokio::test]
async fn metrics_join_spans_that_arrive_later_and_retries_store_once() {
    let app = App::new().await;
    let (_, _, e) = setup(&app).await;
    let events = doc(
        "experiments",
        json!({"scope": "experiments", "tags": ["run_id:r", "run_iteration:1"],
        "metrics": [metric("s1", "acc", 10, json!(0.5)), metric("s2", "acc", 11, json!(1.0)),
                    {"metric_source": "summary", "span_id": "", "trace_id": "", "timestamp_ms": 11,
                     "metric_type": "score", "label": "mean", "score_value": 0.75}]}),
    );
    for _ in 0..2 {
        let (status, _) = app
            .call("POST", &format!("{V1}/experiments/{e}/events"), Keys::Both, events.clone())
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    // The spans arrive after their metrics, gzip-compressed, through the agent-proxy path
    // without a key.
    let body = json!([{"_dd.stage": "raw", "event_type": "span", "_dd.scope": "experiments",
                       "spans": [span(&e, "s2", 200), span(&e, "s1", 100)]}]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body.to_string().as_bytes()).unwrap();
    let headers = [("Content-Encoding", "gzip"), ("X-Datadog-EVP-Subdomain", "llmobs-intake")];
    let (status, answer) = app
        .send(
            "POST",
            "/evp_proxy/v2/api/v2/llmobs",
            Keys::None,
            &headers,
            Some(gz.finish().unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (_, events) = app
        .call(
            "GET",
            &format!("{V1}/experiments/{e}/events?include[eval_metrics]=true"),
            Keys::Api,
            None,
        )
        .await;
    let attributes = &events["data"]["attributes"];
    let spans = attributes["spans"].as_array().unwrap();
    assert_eq!(
        spans.iter().map(|s| s["span_id"].clone()).collect::<Vec<_>>(),
        vec![json!("s1"), json!("s2")]
    );
    assert_eq!(spans[0]["eval_metrics"].as_array().unwrap().len(), 1, "stored once: {events}");
    assert_eq!(spans[0]["eval_metrics"][0]["score_value"], 0.5);
    assert_eq!(spans[0]["meta"]["error"], json!({}));
    assert_eq!(attributes["summary_metrics"][0]["label"], "mean");

    let (status, body) = app
        .call(
            "POST",
            &format!("{V1}/experiments/{e}/events"),
            Keys::Both,
            doc("experiments", json!({"metrics": [{"label": "x", "metric_type": "score"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        detail(&body).contains("metrics[0]") && detail(&body).contains("timestamp_ms"),
        "{body}"
    );
    let (status, _) =
        app.send("POST", "/api/v2/llmobs", Keys::None, &[], Some(b"[]".to_vec())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn status_updates_and_listing_filters() {
    let app = App::new().await;
    let (p, d, e) = setup(&app).await;
    let child = create(&app, &p, &d, "exp", json!({"tags": ["team:ml"]}), Some(&e)).await;
    create(&app, &p, &d, "other", json!({}), None).await;
    let updated = app
        .ok(
            "PATCH",
            &format!("{V1}/experiments/{e}"),
            doc("experiments", json!({"status": "failed", "error": "boom"})),
        )
        .await;
    assert_eq!(
        (
            updated["data"]["attributes"]["status"].clone(),
            updated["data"]["attributes"]["error"].clone()
        ),
        (json!("failed"), json!("boom"))
    );
    let (status, body) = app
        .call(
            "PATCH",
            &format!("{V1}/experiments/{e}"),
            Keys::Both,
            doc("experiments", json!({"status": "done"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).contains("'done'"));

    let list = |query: String| {
        let app = &app;
        async move {
            let (status, page) =
                app.call("GET", &format!("{V2}/experiments?{query}"), Keys::Api, None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page
        }
    };
    let all = list(format!("filter[project_id]={p}")).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 3);
    let named = list(format!("filter[experiment]=exp&filter[project_id]={p}")).await;
    assert_eq!(named["data"].as_array().unwrap().len(), 2);
    assert_eq!(named["data"][0]["id"], child.as_str(), "newest first");
    let tagged = list(format!(
        "filter[metadata]=%7B%22tags%22%3A%5B%22k%3Av%22%5D%7D&filter[project_id]={p}"
    ))
    .await;
    assert_eq!(
        tagged["data"].as_array().unwrap().iter().map(|x| x["id"].clone()).collect::<Vec<_>>(),
        vec![json!(e)]
    );
    let children = list(format!("filter[parent_experiment_id]={e}")).await;
    assert_eq!(children["data"][0]["id"], child.as_str());
    let by_id = list(format!("filter[id]={e}")).await;
    assert_eq!(by_id["data"][0]["attributes"]["dataset_version"], 1);
    // Paging: one per page, following meta.after, visits all three once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut query = format!("page[limit]=1&filter[project_id]={p}");
        if !cursor.is_empty() {
            query.push_str(&format!("&page[cursor]={}", cursor.replace(':', "%3A")));
        }
        let page = list(query).await;
        seen.extend(page["data"].as_array().unwrap().iter().map(|x| x["id"].clone()));
        cursor = page["meta"]["after"].as_str().unwrap().to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

/// A stand-in for an OpenAI-compatible endpoint; remembers the last request and replies
/// `answer(request)`.
async fn mock_judge(
    answer: impl Fn(&Value) -> String + Clone + Send + Sync + 'static,
) -> (String, Arc<Mutex<Option<Value>>>) {
    let seen = Arc::new(Mutex::new(None));
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let (store, answer) = (store.clone(), answer.clone());
            async move {
                let content = answer(&body);
                *store.lock().unwrap() = Some(body);
                axum::Json(
                    json!({"choices": [{"message": {"role": "assistant", "content": content}}]}),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn infer_body() -> Option<Value> {
    doc(
        "evaluator_inference",
        json!({"context": {"span_input": {"q": "France?"}, "span_output": "Paris",
        "meta": {"expected_output": "Paris", "metadata": {"experiment_config": {}}}}}),
    )
}

#[tokio::test]
async fn remote_evaluators_run_configured_kinds_and_llm_judges() {
    let (url, seen) =
        mock_judge(|_| r#"{"verdict": true, "reasoning": "correct capital"}"#.to_owned()).await;
    let specs = EvaluatorSpec::parse_file(r#"{"evaluators": [
        {"name": "exact", "kind": "exact_match"},
        {"name": "judge", "kind": "llm_judge", "model_name": "m-1",
         "prompt_template": [{"role": "user", "content": "Is {{output_data}} right for {{input_data.q}}?"}],
         "assessment_criteria": {"pass_when": true}}]}"#)
    .unwrap();
    let config = Config {
        evaluators: specs,
        judge: Some(JudgeProvider { url, api_key: Some("k".into()) }),
        ..Config::default()
    };
    let app = App::with_config(config).await;

    let exact = app.ok("POST", &format!("{V1}/evaluators/exact/infer"), infer_body()).await;
    assert_eq!(exact["data"]["attributes"]["value"], true);
    assert_eq!(exact["data"]["attributes"]["assessment"], "pass");
    assert_eq!(exact["data"]["attributes"]["status"], "OK");

    let judged = app.ok("POST", &format!("{V1}/evaluators/judge/infer"), infer_body()).await;
    assert_eq!(judged["data"]["attributes"]["value"], true);
    assert_eq!(judged["data"]["attributes"]["reasoning"], "correct capital");
    assert_eq!(judged["data"]["attributes"]["assessment"], "pass");
    let request = seen.lock().unwrap().clone().unwrap();
    assert_eq!(request["model"], "m-1");
    assert_eq!(request["messages"][0]["content"], "Is Paris right for France??");

    let (status, missing) =
        app.call("POST", &format!("{V1}/evaluators/nope/infer"), Keys::Both, infer_body()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["data"]["attributes"]["status"], "ERROR");
    assert_eq!(missing["data"]["attributes"]["error"]["type"], "evaluator_not_found");
    assert!(missing["data"]["attributes"]["error"]["recommended_resolution"].is_string());

    // A published judge (E14) is found by name too.
    let published = app
        .ok(
            "PUT",
            &format!("{V1}/config/evaluators/custom"),
            doc(
                "evaluator_config",
                json!({"evaluation": {
            "eval_name": "pub", "applications": [{"application_name": "a", "model_name": "m-2",
            "byop_config": {"prompt_template": [{"role": "user", "content": "{{output_data}}"}],
                            "assessment_criteria": {"pass_when": true}}}]}}),
            ),
        )
        .await;
    assert_eq!(published["data"]["id"], "pub");
    app.ok("POST", &format!("{V1}/evaluators/pub/infer"), infer_body()).await;
    assert_eq!(seen.lock().unwrap().as_ref().unwrap()["model"], "m-2");
}

/// Publishes (E14) a judge of `ml_app` whose user prompt is `{{output_data}}`, with the
/// output schema and criteria `ddtrace` publishes for an Anthropic judge.
async fn publish_judge(app: &App, name: &str, label: &str, criteria: Value) {
    let schema = json!({"type": "object", "additionalProperties": false,
        "required": [label, "reasoning"],
        "properties": {label: {}, "reasoning": {"type": "string"}}});
    let evaluation = json!({"eval_name": name, "applications": [{
        "application_name": "app", "enabled": false, "integration_provider": "anthropic",
        "model_provider": "anthropic", "model_name": "claude",
        "byop_config": {"inference_params": {},
            "prompt_template": [{"role": "system", "content": ""},
                                {"role": "user", "content": "{{output_data}}"}],
            "output_schema": schema, "parsing_type": "structured_output",
            "assessment_criteria": criteria}}]});
    let path = format!("{V1}/config/evaluators/custom");
    app.ok("PUT", &path, doc("evaluator_config", json!({"evaluation": evaluation}))).await;
}

#[tokio::test]
async fn published_judges_assess_scores_and_categories_by_their_criteria() {
    // The mock model replies with the rendered user prompt: the task's output, an object
    // inserted as indented JSON, is the verdict.
    let (url, seen) = mock_judge(|body| {
        body["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_owned()
    })
    .await;
    let config = Config { judge: Some(JudgeProvider { url, api_key: None }), ..Config::default() };
    let app = App::with_config(config).await;
    let judges = [
        ("outside", "score_eval", json!({"min_threshold": 7, "max_threshold": 3})),
        ("inside", "score_eval", json!({"min_threshold": 3, "max_threshold": 7.5})),
        ("at-least", "score_eval", json!({"min_threshold": 0.5})),
        ("tone", "categorical_eval", json!({"pass_values": ["positive", "neutral"]})),
        ("none-pass", "categorical_eval", json!({"pass_values": []})),
    ];
    for (name, label, criteria) in &judges {
        publish_judge(&app, name, label, criteria.clone()).await;
    }

    let infer = |name: &'static str, verdict: Value| {
        let app = &app;
        let label = judges.iter().find(|j| j.0 == name).unwrap().1;
        async move {
            let output = json!({label: verdict, "reasoning": "because"});
            let context = json!({"span_input": {"q": "?"}, "span_output": output, "meta": {}});
            let body = doc("evaluator_inference", json!({"context": context}));
            let answer = app.ok("POST", &format!("{V1}/evaluators/{name}/infer"), body).await;
            let attrs = &answer["data"]["attributes"];
            assert_eq!((&attrs["value"], &attrs["reasoning"]), (&verdict, &json!("because")));
            assert_eq!(attrs["status"], "OK");
            attrs["assessment"].as_str().map(str::to_owned)
        }
    };
    let cases = [
        // max < min: pass outside (3, 7)
        ("outside", json!(8), "pass"),
        ("outside", json!(2.5), "pass"),
        ("outside", json!(5), "fail"),
        ("outside", json!(3), "fail"),
        ("outside", json!(7.0), "fail"),
        // max >= min: pass inside [3, 7.5]
        ("inside", json!(3), "pass"),
        ("inside", json!(7.5), "pass"),
        ("inside", json!(8), "fail"),
        ("at-least", json!(0.5), "pass"),
        ("at-least", json!(0.4), "fail"),
        ("tone", json!("neutral"), "pass"),
        ("tone", json!("negative"), "fail"),
        ("none-pass", json!("positive"), "fail"),
    ];
    for (name, verdict, expected) in cases {
        let assessment = infer(name, verdict.clone()).await;
        assert_eq!(assessment.as_deref(), Some(expected), "{name} {verdict}");
    }
    // A score that is not a number gets no assessment.
    assert_eq!(infer("outside", json!("high")).await, None);
    // What the model was asked: the empty system prompt left out, the object indented.
    let request = seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        request["messages"],
        json!([{"role": "user", "content": "{\n  \"score_eval\": \"high\",\n  \"reasoning\": \"because\"\n}"}])
    );
    assert_eq!(request["response_format"]["json_schema"]["required"][0], "score_eval");

    // Criteria the rules cannot read are refused when published.
    let evaluation = json!({"eval_name": "bad", "applications": [{"application_name": "app",
        "model_name": "m", "byop_config": {
            "prompt_template": [{"role": "user", "content": "{{output_data}}"}],
            "assessment_criteria": {"min_threshold": "7"}}}]});
    let (status, error) = app
        .call(
            "PUT",
            &format!("{V1}/config/evaluators/custom"),
            Keys::Both,
            doc("evaluator_config", json!({"evaluation": evaluation})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&error).contains("assessment_criteria"), "{error}");
}

#[tokio::test]
async fn pages_show_experiments_and_datasets_escaped() {
    let app = App::new().await;
    let (p, d, e) = setup(&app).await;
    app.ok(
        "POST",
        &format!("{V2}/{p}/datasets/{d}/batch_update"),
        doc(
            "datasets",
            json!({
        "insert_records": [{"id": "<script>", "input": "<b>x</b>"}]}),
        ),
    )
    .await;
    let (status, html) = app.call("GET", &format!("/llm/datasets/{d}"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::OK);
    let html = html.as_str().unwrap();
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "{html}");
    let (status, html) = app.call("GET", &format!("/llm/experiments/{e}"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.as_str().unwrap().contains("exp-"));
    let (status, _) = app.call("GET", &format!("/llm/experiments/{e}"), Keys::None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "only loopback visitors need no key");
}

#[tokio::test]
async fn bodies_of_the_wrong_shape_get_the_same_answers_as_ever() {
    let app = App::new().await;
    let (_, _, e) = setup(&app).await;
    let events = format!("{V1}/experiments/{e}/events");
    for (metrics, spans, expected) in [
        (
            json!([5]),
            json!([]),
            "invalid request body: data.attributes.metrics[0]: invalid type: integer `5`, \
             expected a map at line 1 column 56",
        ),
        (
            json!([metric("s1", "acc", 1, json!(1))]),
            json!([{"span_id": "s"}, "x"]),
            "invalid request body: data.attributes.spans[1]: invalid type: string \"x\", \
             expected a map at line 1 column",
        ),
        (
            json!([{"metric_type": "score", "timestamp_ms": 1}]),
            json!([]),
            "metrics[0]: needs a non-empty string \"label\"",
        ),
        (
            json!([{"label": "l", "timestamp_ms": 1}]),
            json!([]),
            "metrics[0]: needs a string \"metric_type\"",
        ),
        (
            json!([{"label": "l", "metric_type": "score", "timestamp_ms": 1.5}]),
            json!([]),
            "metrics[0]: needs an integer \"timestamp_ms\"",
        ),
        (json!([]), json!([{"span_id": 7}]), "spans[0]: needs a string \"span_id\""),
    ] {
        let body = doc("experiments", json!({"metrics": metrics, "spans": spans}));
        let (status, answer) = app.call("POST", &events, Keys::Both, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(detail(&answer).starts_with(expected), "{answer} vs {expected}");
    }

    for (body, expected) in [
        ("{not json", "malformed JSON body: key must be a string"),
        ("\"a string\"", "span intake takes a list of events, each with a 'spans' list"),
        ("[5]", "event 0 is not an object"),
        ("[{\"spans\": [{}]}, {\"no_spans\": 1}]", "event 1 has no 'spans' list"),
        ("[{\"spans\": null}]", "event 0 has no 'spans' list"),
        ("{\"spans\": [{}, 3]}", "event 0: span 1 is not an object"),
        ("[{\"spans\": [{}]}, 7]", "event 1 is not an object"),
        // The last of a repeated key counts, as for any JSON object here.
        ("[{\"spans\": [{}], \"spans\": 5}]", "event 0 has no 'spans' list"),
        ("[{\"spans\": [{}], \"x\": [1, {\"a\": }]}]", "malformed JSON body: "),
        ("[{\"spans\": [{\"span_id\": \"a\", \"x\": 1e400}]}]", "malformed JSON body: "),
        ("[{\"spans\": []}] x", "malformed JSON body: trailing characters"),
    ] {
        let (status, answer) =
            app.raw("POST", "/api/v2/llmobs", Keys::Api, Some(body.into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(detail(&answer).starts_with(expected), "{body}: {answer}");
    }
    let (status, answer) = app
        .raw("POST", "/api/v2/llmobs", Keys::Api, Some(r#"{"spans": [{"span_id": "a"}]}"#.into()))
        .await;
    assert_eq!((status, &answer), (StatusCode::ACCEPTED, &json!({"stored": 1})));

    let eval = "/api/intake/llm-obs/v2/eval-metric";
    let shape = "expected {\"data\": {\"attributes\": {\"metrics\": [...]}}}";
    for (body, expected) in [
        ("[]", shape),
        ("{\"data\": [1]}", shape),
        ("{\"data\": {\"attributes\": {\"metrics\": {}}}}", shape),
        ("{\"data\": {\"attributes\": {\"metrics\": [{}, 2]}}}", "metrics[1] is not an object"),
        ("{\"data\": 1", "malformed JSON body: "),
    ] {
        let (status, answer) = app.raw("POST", eval, Keys::Api, Some(body.into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(detail(&answer).starts_with(expected), "{body}: {answer}");
    }
    let body = r#"{"data": {"attributes": {"metrics": [{"label": "a"}]}, "attributes": {"metrics": [{"label": "b"}, {"label": "c"}]}}}"#;
    let (status, answer) = app.raw("POST", eval, Keys::Api, Some(body.into())).await;
    assert_eq!((status, &answer), (StatusCode::ACCEPTED, &json!({"stored": 2})), "last key wins");
    // Keyless (agent proxy) metrics need a default org; this server has none.
    let proxy = [("x-datadog-evp-subdomain", "llmobs-intake")];
    let (status, answer) =
        app.send("POST", eval, Keys::None, &proxy, Some(body.as_bytes().to_vec())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(detail(&answer), "API key required: send it in the DD-API-KEY header");
}
