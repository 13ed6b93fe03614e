"""Remote evaluators through the real ddtrace 4.16.0 client (spec experiments.md §5, §7.4, §8 cases 41–45).

The server runs with every deterministic evaluator kind and an ``llm_judge`` whose
provider is ``MockJudge``, a chat-completions endpoint on 127.0.0.1 started by the test:
the tests check the request the judge sent (model, rendered messages, key) and the metric
the server stored.
"""

from __future__ import annotations

import pytest

from harness import V1, run_llmobs, span_tag, unique
from llmobs_common import COMMON, by_label, check_joined, posted_metrics, record_q

RECORDS = [
    {"input_data": {"q": "What is the capital of France?"}, "expected_output": "Paris"},
    {"input_data": {"q": "Largest planet?"}, "expected_output": "Saturn"},
]
OUTPUTS = {"What is the capital of France?": "Paris", "Largest planet?": "Jupiter"}

REMOTE = COMMON + r'''
from ddtrace.llmobs import LLMJudge, BooleanStructuredOutput
enable()
A = ARGS
OUTS = A["outputs"]
ds = call("dataset", lambda: LLMObs.create_dataset(dataset_name=A["ds_name"], records=A["records"]))
R["ds"] = ds_info(ds)
def task(input_data, config):
    return OUTS[input_data["q"]]

LOCAL_CALLS = []
def fake_llm(provider, messages, json_schema, model, model_params):
    LOCAL_CALLS.append({"provider": provider, "messages": messages, "model": model})
    return '{"boolean_eval": true, "reasoning": "fine"}'
local_judge = LLMJudge(user_prompt="Is {{output_data}} a correct answer to {{input_data.q}}?",
                       structured_output=BooleanStructuredOutput(description="correct?", reasoning=True, pass_when=True),
                       provider="openai", model="gpt-4o-mini", client=fake_llm, name="local_judge")

remote = [RemoteEvaluator(eval_name=n) for n in ("exact", "has", "re", "json", "len", "fixed", "judge")]
exp = LLMObs.experiment(name=A["name"], task=task, dataset=ds, evaluators=remote + [local_judge])
call("run", lambda: exp.run(jobs=2))
R["exp"] = exp_info(exp)
R["local_calls"] = LOCAL_CALLS

published = LLMJudge(user_prompt="Is {{output_data}} a correct answer to {{input_data.q}}?",
                     system_prompt="You are a strict grader.",
                     structured_output=BooleanStructuredOutput(description="correct?", reasoning=True, pass_when=True),
                     provider="openai", model="gpt-4o-mini", client=fake_llm, name="pub_judge")
call("publish", lambda: LLMObs.publish_evaluator(published, agent_service="compat-app", eval_name=A["pub_name"]))
exp2 = LLMObs.experiment(name=A["name"] + "-published", task=task, dataset=ds,
                         evaluators=[RemoteEvaluator(eval_name=A["pub_name"])])
call("run_published", lambda: exp2.run())
R["exp2"] = exp_info(exp2)
'''

# q → {evaluator: (value, assessment)}
REMOTE_EXPECT = {
    "What is the capital of France?": {"exact": (True, "pass"), "has": (True, "pass"), "re": (True, "pass"),
                                       "json": (False, "fail"), "len": (True, "pass"), "fixed": (0.7, "pass"),
                                       "judge": (True, "pass")},
    "Largest planet?": {"exact": (False, "fail"), "has": (False, "fail"), "re": (False, "fail"),
                        "json": (False, "fail"), "len": (False, "fail"), "fixed": (0.7, "pass"),
                        "judge": (True, "pass")},
}


@pytest.fixture(scope="module")
def remote_run(exp_server, judge):
    before = len(judge.requests)
    run = run_llmobs(exp_server, REMOTE, args={
        "project": unique("remote-proj"), "ds_name": unique("remote-ds"), "name": unique("remote"),
        "records": RECORDS, "outputs": OUTPUTS, "pub_name": unique("pub-judge")})
    return run, judge.requests[before:]


def test_remote_deterministic_kinds_and_llm_judge(exp_server, remote_run):
    run, judged = remote_run
    run.ok("run")
    eid = run.values["exp"]["id"]
    reqs = run.requests("run")
    qs = record_q(run.values["ds"]["records"])
    events = exp_server.experiment_events(eid)
    assert len(events["spans"]) == 2
    check_joined(events, posted_metrics(reqs, eid))
    for span in events["spans"]:
        q = qs[span_tag(span, "dataset_record_id")]
        metrics = by_label(span)
        assert set(metrics) == set(REMOTE_EXPECT[q]) | {"local_judge"}, sorted(metrics)
        for label, (value, assessment) in REMOTE_EXPECT[q].items():
            m = metrics[label]
            got = m[f"{m['metric_type']}_value"]
            assert got == pytest.approx(value) and type(got) is type(value), (q, label, m)
            assert m["metric_type"] == ("score" if label == "fixed" else "boolean")
            assert m["assessment"] == assessment and m["status"] == "OK" and m["error"] is None, (label, m)
            assert m["eval_source_type"] == "managed", m
        assert metrics["fixed"]["reasoning"] == "r"
        assert metrics["judge"]["reasoning"] == "ok"
        # case 44: LLMJudge with a fake client: raw response in metadata, assessment from pass_when
        local = metrics["local_judge"]
        assert (local["metric_type"], local["boolean_value"], local["assessment"], local["reasoning"]) == \
               ("boolean", True, "pass", "fine")
        assert local["metadata"] == {"raw_response": {"boolean_eval": True, "reasoning": "fine"}}
        assert "eval_source_type" not in local
    assert len(run.values["local_calls"]) == 2
    assert exp_server.experiment_get(eid)["status"] == "completed"

    # the server's llm_judge asked the mock once per record, with the rendered prompt
    chat = [j for j in judged if j["body"].get("model") == "m"]
    assert len(chat) == 2, judged
    for j in chat:
        assert j["path"] == "/v1/chat/completions"
        assert j["headers"].get("authorization") == "Bearer judge-key"
    assert sorted(j["body"]["messages"][0]["content"] for j in chat) == sorted(
        f"Is {OUTPUTS[q]} right for {q}?" for q in OUTPUTS)
    assert all([m["role"] for m in j["body"]["messages"]] == ["user"] for j in chat)
    fmt = chat[0]["body"].get("response_format")
    assert fmt and fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "verdict_eval", fmt


def test_publish_then_use_remotely(exp_server, remote_run):
    """Case 45: E14 body and exactly 200; the published judge then runs on the server (case 41)."""
    run, judged = remote_run
    pub_name = run["publish"]["requests"][0]["body"]["data"]["attributes"]["evaluation"]["eval_name"]
    value = run.ok("publish")
    assert value == {"ui_url": f"https://app.datadoghq.com/llm/evaluations/custom?evalName={pub_name}"
                               f"&applicationName=compat-app"}
    reqs = run.requests("publish")
    assert len(reqs) == 1 and reqs[0]["method"] == "PUT"
    assert reqs[0]["path"] == f"{V1}/config/evaluators/custom" and reqs[0]["status"] == 200
    evaluation = reqs[0]["body"]["data"]["attributes"]["evaluation"]
    app = evaluation["applications"][0]
    assert (app["application_name"], app["model_provider"], app["model_name"]) == ("compat-app", "openai", "gpt-4o-mini")
    assert app["byop_config"]["prompt_template"] == [
        {"role": "system", "content": "You are a strict grader."},
        {"role": "user", "content": "Is {{output_data}} a correct answer to {{input_data.q}}?"}]
    assert app["byop_config"]["assessment_criteria"] == {"pass_when": True}

    run.ok("run_published")
    eid = run.values["exp2"]["id"]
    infers = [r for r in run.requests("run_published") if r["path"].endswith("/infer")]
    assert len(infers) == 2 and all(r["path"] == f"{V1}/evaluators/{pub_name}/infer" and r["status"] == 200
                                    for r in infers), infers
    chat = [j for j in judged if j["body"].get("model") == "gpt-4o-mini"]
    assert len(chat) == 2, judged
    for j in chat:
        msgs = j["body"]["messages"]
        assert msgs[0] == {"role": "system", "content": "You are a strict grader."}
        assert msgs[1]["role"] == "user"
    assert sorted(j["body"]["messages"][1]["content"] for j in chat) == sorted(
        f"Is {OUTPUTS[q]} a correct answer to {q}?" for q in OUTPUTS)
    assert chat[0]["body"]["response_format"]["json_schema"]["name"] == "boolean_eval"
    spans = exp_server.experiment_events(eid)["spans"]
    assert len(spans) == 2
    for s in spans:
        m = by_label(s)[pub_name]
        assert (m["metric_type"], m["boolean_value"], m["assessment"], m["reasoning"], m["status"]) == \
               ("boolean", True, "pass", "ok", "OK")
        assert m["eval_source_type"] == "managed"
    assert exp_server.experiment_get(eid)["status"] == "completed"


def test_infer_and_publish_on_the_wire(exp_server):
    """E13 for an unknown name: 404 with the structured error (§7.4); E14 exactly 200; bad bodies 400."""
    ctx = {"span_input": {"q": "x"}, "span_output": "Paris", "meta": {"expected_output": "Paris"}}
    body = {"data": {"type": "evaluator_inference", "attributes": {"context": ctx}}}
    r = exp_server.x("POST", f"{V1}/evaluators/{unique('nope')}/infer", json_body=body)
    assert r.status == 404, r
    attrs = r.json()["data"]["attributes"]
    assert attrs["status"] == "ERROR" and attrs["error"]["type"] == "evaluator_not_found"
    assert attrs["error"]["message"] and attrs["error"]["recommended_resolution"]
    r = exp_server.x("POST", f"{V1}/evaluators/exact/infer", json_body=body)
    assert r.status == 200, r
    assert {k: r.json()["data"]["attributes"][k] for k in ("value", "assessment", "status")} == \
           {"value": True, "assessment": "pass", "status": "OK"}
    r = exp_server.x("POST", f"{V1}/evaluators/exact/infer", json_body={"data": {"type": "evaluator_inference"}})
    assert r.status == 400 and r.detail, r
    r = exp_server.x("PUT", f"{V1}/config/evaluators/custom",
                     json_body={"data": {"type": "evaluator_config", "attributes": {"evaluation": {"eval_name": ""}}}})
    assert r.status == 400 and r.detail, r
