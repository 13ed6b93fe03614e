//! `LLMJudge` against a mock OpenAI-compatible endpoint, inside an experiment run by the
//! real server, and published to the server (E14) then run remotely (E13).

use std::time::Duration;

use llmobs::{
    Assessment, BooleanStructuredOutput, CallError, DatasetRecord, Error, Evaluation, Evaluator,
    EvaluatorContext, LLMJudge, OpenAiClient, PublishEvaluator, RemoteEvaluator, RunOptions,
    ScoreStructuredOutput, Status,
};
use llmobs_server::test_support::TestServer;
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::datasets::client;

/// A chat-completions answer whose first choice says `content`.
fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
    }))
}

fn params(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn context(input: Value, output: Value) -> EvaluatorContext {
    EvaluatorContext {
        input,
        output,
        expected_output: Some(json!("Paris")),
        metadata: json!({"experiment_config": {}}),
        span_id: "1".into(),
        trace_id: "t".into(),
        task_error: None,
    }
}

async fn llm_requests(mock: &MockServer) -> Vec<Request> {
    mock.received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/chat/completions")
        .collect()
}

#[tokio::test]
async fn the_openai_client_sends_the_reference_request() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(r#"{"score_eval": 8, "reasoning": "close enough"}"#))
        .mount(&mock)
        .await;
    let judge = LLMJudge::builder("Rate {{output_data}} for {{input_data}}")
        .system_prompt("You grade answers.")
        .structured_output(
            ScoreStructuredOutput::new("How good", 0, 10).reasoning(true).min_threshold(7),
        )
        .provider("openai")
        .model("gpt-4o-mini")
        .model_params(params(json!({"temperature": 0, "seed": 7})))
        .client(OpenAiClient::new("sk-test").base_url(format!("{}/v1/", mock.uri())))
        .name("quality")
        .build()
        .unwrap();
    let ctx = context(json!({"q": "Capitale de la France ?"}), json!("Paris"));
    let Evaluation::Result(result) = judge.evaluate(&ctx).await.unwrap() else {
        panic!("expected an EvaluatorResult")
    };
    assert_eq!(result.value, json!(8));
    assert_eq!(result.reasoning.as_deref(), Some("close enough"));
    assert_eq!(result.assessment, Some(Assessment::Pass));
    assert_eq!(
        result.metadata["raw_response"],
        json!({"score_eval": 8, "reasoning": "close enough"})
    );

    let requests = llm_requests(&mock).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.headers.get("authorization").unwrap(), "Bearer sk-test");
    assert_eq!(request.headers.get("content-type").unwrap(), "application/json");
    let schema = judge.structured_output().unwrap().to_json_schema();
    let expected = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You grade answers."},
            {"role": "user", "content": "Rate Paris for {\n  \"q\": \"Capitale de la France ?\"\n}"},
        ],
        "temperature": 0,
        "seed": 7,
        "response_format": {"type": "json_schema",
                            "json_schema": {"name": "evaluation", "strict": true, "schema": schema}},
    });
    // The exact bytes: same members, same order, as the reference adapter builds them.
    assert_eq!(std::str::from_utf8(&request.body).unwrap(), expected.to_string());
    assert_eq!(
        schema,
        json!({"type": "object",
               "properties": {"score_eval": {"type": "number", "description": "How good",
                                             "minimum": 0, "maximum": 10},
                              "reasoning": {"type": "string",
                                            "description": "Explanation for the evaluation result"}},
               "required": ["score_eval", "reasoning"], "additionalProperties": false})
    );
}

#[tokio::test]
async fn the_openai_client_retries_and_reports_openai_error_classes() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion("Fine"))
        .with_priority(2)
        .mount(&mock)
        .await;
    let judge = |client: OpenAiClient| {
        LLMJudge::builder("Is {{output_data}} fine?").model("m").client(client).build().unwrap()
    };
    let base = format!("{}/v1", mock.uri());
    let ctx = context(json!({}), json!("x"));
    // Without a structured output the reply text is the value; one 500 was retried.
    let result = judge(OpenAiClient::new("k").base_url(&base)).evaluate(&ctx).await.unwrap();
    assert_eq!(result, Evaluation::Value(json!("Fine")));
    assert_eq!(llm_requests(&mock).await.len(), 2);

    let failing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429).insert_header("Retry-After", "1").set_body_string("slow"),
        )
        .mount(&failing)
        .await;
    let client = OpenAiClient::new("k").base_url(format!("{}/v1", failing.uri())).max_retries(0);
    let err = judge(client).evaluate(&ctx).await.unwrap_err();
    assert_eq!(err.kind, "RateLimitError");
    assert_eq!(err.message, "Error code: 429 - slow");
    assert_eq!(err.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(failing.received_requests().await.unwrap().len(), 1);

    let denied = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string("{}"))
        .mount(&denied)
        .await;
    let client = OpenAiClient::new("bad").base_url(format!("{}/v1", denied.uri()));
    assert_eq!(judge(client).evaluate(&ctx).await.unwrap_err().kind, "AuthenticationError");
    assert_eq!(denied.received_requests().await.unwrap().len(), 1, "401 is not retried");

    // An answer without content is empty text, which a structured judge refuses.
    let empty = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"choices": []})))
        .mount(&empty)
        .await;
    let structured = LLMJudge::builder("p")
        .model("m")
        .structured_output(BooleanStructuredOutput::new("ok"))
        .client(OpenAiClient::new("k").base_url(format!("{}/v1", empty.uri())))
        .build()
        .unwrap();
    let err = structured.evaluate(&ctx).await.unwrap_err();
    assert_eq!(
        (err.kind.as_str(), err.message.as_str()),
        ("ValueError", "Invalid response: expected non-empty string")
    );
}

fn capitals() -> Vec<DatasetRecord> {
    [("France", "Paris"), ("Italy", "Rome")]
        .iter()
        .map(|(country, capital)| {
            DatasetRecord::new(json!({"country": country})).expected_output(json!(capital))
        })
        .collect()
}

fn metric<'a>(span: &'a Value, label: &str) -> &'a Value {
    span["eval_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["label"] == json!(label))
        .unwrap_or_else(|| panic!("no metric {label} in {span}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judge_scores_an_experiment() {
    let server = TestServer::start().await;
    let client = client(&server);
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(r#"{"score_eval": 2, "reasoning": "wrong"}"#))
        .mount(&mock)
        .await;
    let judge = LLMJudge::builder(
        "Country {{input_data.country}}, answer {{output_data}}, expected {{expected_output}}",
    )
    .structured_output(
        ScoreStructuredOutput::new("correctness", 1, 5)
            .reasoning(true)
            .min_threshold(4)
            .max_threshold(1),
    )
    .provider("openai")
    .model("judge-model")
    .client(OpenAiClient::new("k").base_url(format!("{}/v1", mock.uri())))
    .name("judge")
    .build()
    .unwrap();
    let ds = client.create_dataset("judged", capitals()).await.unwrap();
    let results = client
        .experiment("judged", &ds, |input: Value, _| async move {
            Ok::<_, CallError>(json!(if input["country"] == "France" { "Paris" } else { "Milan" }))
        })
        .evaluator_impl(judge)
        .build()
        .unwrap()
        .run(RunOptions::default())
        .await
        .unwrap();
    assert_eq!(results.status, Status::Completed, "{:?}", results.error);

    let mut prompts: Vec<String> = llm_requests(&mock)
        .await
        .iter()
        .map(|r| r.body_json::<Value>().unwrap()["messages"][0]["content"].as_str().unwrap().into())
        .collect();
    prompts.sort();
    assert_eq!(
        prompts,
        [
            "Country France, answer Paris, expected Paris",
            "Country Italy, answer Milan, expected Rome"
        ]
    );
    let events = client.experiment_events(&results.experiment_id).await.unwrap();
    assert_eq!(events.spans.len(), 2);
    for span in &events.spans {
        let m = metric(span, "judge");
        assert_eq!(m["metric_type"], json!("score"));
        assert_eq!(m["score_value"], json!(2));
        // thresholds inverted (max 1 < min 4): 2 lies in (1, 4), so it fails
        assert_eq!(m["assessment"], json!("fail"));
        assert_eq!(m["reasoning"], json!("wrong"));
        assert_eq!(m["metadata"], json!({"raw_response": {"score_eval": 2, "reasoning": "wrong"}}));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_judge_runs_remotely() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(r#"{"boolean_eval": true, "reasoning": "right"}"#))
        .mount(&mock)
        .await;
    let server = TestServer::start_with(llmobs_server::Config {
        judge: Some(llmobs_server::JudgeProvider {
            url: format!("{}/v1", mock.uri()),
            api_key: Some("server-key".into()),
        }),
        ..Default::default()
    })
    .await;
    let client = client(&server);
    let judge = LLMJudge::builder("Is {{ answer }} the capital of {{input_data.country}}?")
        .system_prompt("You are a strict grader.")
        .structured_output(BooleanStructuredOutput::new("correct?").reasoning(true).pass_when(true))
        .provider("openai")
        .model("gpt-4o-mini")
        .client(|_req| async { Err::<String, _>(CallError::new("not called locally")) })
        .build()
        .unwrap();
    let options = PublishEvaluator::new()
        .eval_name("capital_judge")
        .variable_mapping([("answer", "output_data")]);
    let ui_url = client.publish_evaluator_with(&judge, "geo app", &options).await.unwrap();
    assert_eq!(
        ui_url,
        format!(
            "{}/llm/evaluations/custom?evalName=capital_judge&applicationName=geo+app",
            server.origin()
        )
    );

    let ds = client.create_dataset("remote-judged", capitals()).await.unwrap();
    let results = client
        .experiment("remote-judged", &ds, |input: Value, _| async move {
            Ok::<_, CallError>(json!(if input["country"] == "France" { "Paris" } else { "Milan" }))
        })
        .remote_evaluator(RemoteEvaluator::new("capital_judge"))
        .build()
        .unwrap()
        .run(RunOptions::default())
        .await
        .unwrap();
    assert_eq!(results.status, Status::Completed, "{:?}", results.error);

    let requests = llm_requests(&mock).await;
    assert_eq!(requests.len(), 2);
    let mut users = Vec::new();
    for request in &requests {
        assert_eq!(request.headers.get("authorization").unwrap(), "Bearer server-key");
        let body: Value = request.body_json().unwrap();
        assert_eq!(body["model"], json!("gpt-4o-mini"));
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "You are a strict grader."})
        );
        assert_eq!(
            body["response_format"]["json_schema"],
            json!({"name": "boolean_eval", "strict": true,
                   "schema": judge.structured_output().unwrap().to_json_schema()})
        );
        users.push(body["messages"][1]["content"].as_str().unwrap().to_owned());
    }
    users.sort();
    assert_eq!(users, ["Is Milan the capital of Italy?", "Is Paris the capital of France?"]);
    let events = client.experiment_events(&results.experiment_id).await.unwrap();
    for span in &events.spans {
        let m = metric(span, "capital_judge");
        assert_eq!(
            (&m["metric_type"], &m["boolean_value"], &m["assessment"], &m["reasoning"]),
            (&json!("boolean"), &json!(true), &json!("pass"), &json!("right"))
        );
    }
}

#[tokio::test]
async fn publishing_sends_the_payload_and_needs_exactly_200() {
    let stub = MockServer::start().await;
    let put = "/api/unstable/llm-obs/v1/config/evaluators/custom";
    Mock::given(method("PUT"))
        .and(path(put))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&stub)
        .await;
    Mock::given(method("PUT"))
        .and(path(put))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&stub)
        .await;
    Mock::given(method("PUT"))
        .and(path(put))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"errors": [{"detail": "bad schema"}]})),
        )
        .with_priority(3)
        .mount(&stub)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let client = crate::util::builder(&stub.uri(), dir.path()).build().unwrap();
    let judge = LLMJudge::builder("Grade {{output_data}}")
        .structured_output(BooleanStructuredOutput::new("ok").pass_when(false))
        .provider("bedrock")
        .model("anthropic.claude")
        .name("b-judge")
        .build()
        .unwrap();
    let url = client.publish_evaluator(&judge, "svc").await.unwrap();
    assert_eq!(
        url,
        format!("{}/llm/evaluations/custom?evalName=b-judge&applicationName=svc", stub.uri())
    );
    let received = stub.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].headers.get("dd-api-key").unwrap(), "api");
    assert_eq!(received[0].headers.get("dd-application-key").unwrap(), "app");
    let evaluation = judge.publish_payload("svc", PublishEvaluator::new()).unwrap();
    assert_eq!(
        received[0].body_json::<Value>().unwrap(),
        json!({"data": {"type": "evaluator_config", "attributes": {"evaluation": evaluation}}})
    );
    assert_eq!(evaluation["applications"][0]["model_provider"], json!("amazon_bedrock"));

    let err = client.publish_evaluator(&judge, "svc").await.unwrap_err();
    assert_eq!(err.status(), 201);
    assert!(err.detail().starts_with("Failed to publish evaluator b-judge: 201"), "{err}");
    let err = client.publish_evaluator(&judge, "svc").await.unwrap_err();
    assert!(matches!(err, Error::Validation { status: 400, .. }), "{err}");
    assert_eq!(err.detail(), "Failed to publish evaluator b-judge: 400: bad schema");

    // Refused before anything is sent.
    let before = stub.received_requests().await.unwrap().len();
    let err = client.publish_evaluator(&judge, " ").await.unwrap_err();
    assert_eq!(err.detail(), "`agent_service` must be provided as a non-empty string.");
    let no_output = LLMJudge::builder("p").provider("anthropic").model("c").build().unwrap();
    let err = client.publish_evaluator(&no_output, "svc").await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
    assert_eq!(stub.received_requests().await.unwrap().len(), before);
}
