"""Publishing LLM judges (E14): the Rust SDK sends what ddtrace 4.16.0 sends (spec §5.7, §6 item 5).

The same judge descriptions (``CASES``) are published twice through a recording proxy in
front of the server: by ddtrace's ``LLMObs.publish_evaluator`` and by the SDK's
``judge_publish`` example (``crates/sdk/examples/judge_publish.rs``). The two request
bodies must be equal, member order and number types included (the proxy keeps JSON
member order); refused publishes must fail on both sides with the same message.

The Rust program is built with ``cargo build -p llmobs --example judge_publish`` unless
``LLMOBS_JUDGE_PUBLISH_BIN`` names a built one. A judge the SDK published is then run by
the server's ``llm_judge`` through E13 against the mock judge endpoint; and judges ddtrace
published must render their prompts and assess their verdicts on the server exactly as
ddtrace's ``LLMJudge`` does locally (§5.7, §7.4).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import REPO, V1, FaultProxy, MockJudge, run_llmobs, unique

SCENARIO = r'''
from ddtrace.llmobs import (LLMJudge, BooleanStructuredOutput, ScoreStructuredOutput,
                            CategoricalStructuredOutput)
enable()

def fake_llm(provider, messages, json_schema, model, model_params):
    raise RuntimeError("publishing never calls the model")

def structured_output(spec):
    if spec is None:
        return None
    kw = {k: v for k, v in spec.items() if k != "kind"}
    kind = spec["kind"]
    if kind == "boolean":
        return BooleanStructuredOutput(**kw)
    if kind == "score":
        return ScoreStructuredOutput(**kw)
    if kind == "categorical":
        return CategoricalStructuredOutput(**kw)
    return spec["schema"]

for case in ARGS["cases"]:
    j = case["judge"]
    judge = LLMJudge(user_prompt=j["user_prompt"], system_prompt=j.get("system_prompt"),
                     structured_output=structured_output(j.get("structured_output")),
                     provider=j.get("provider"), model=j.get("model"), model_params=j.get("model_params"),
                     client=fake_llm, name=j.get("name"))
    call(case["id"], lambda: LLMObs.publish_evaluator(judge, agent_service=case["agent_service"],
                                                      eval_name=case.get("eval_name"),
                                                      variable_mapping=case.get("variable_mapping")))
'''

RAW_SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["safe", "unsafe"]}, "confidence": {"type": "number"},
                   "reasoning": {"type": "string"}},
    "required": ["label", "confidence", "reasoning"],
    "additionalProperties": False,
}


def make_cases(names: dict[str, str]) -> list[dict]:
    boolean = {"kind": "boolean", "description": "Whether the answer is correct", "reasoning": True,
               "pass_when": True}
    return [
        {"id": "boolean-openai", "agent_service": " compat judge/é ", "eval_name": names["boolean"],
         "variable_mapping": {"answer": " output_data ", "question": "input_data.q"},
         "judge": {"user_prompt": "Is {{ answer }} a correct answer to {{question}}? Topic: {{metadata.topic}}",
                   "system_prompt": "You are a strict grader.", "provider": "openai", "model": "gpt-4o-mini",
                   "model_params": {"temperature": 0, "top_p": 0.5, "max_tokens": 200},
                   "structured_output": boolean}},
        {"id": "score-anthropic-inverted", "agent_service": "compat-app", "eval_name": names["score"],
         "judge": {"user_prompt": "Rate {{output_data}} (1-10) for {{input_data}}", "provider": "anthropic",
                   "model": "claude-haiku-4-5",
                   "structured_output": {"kind": "score", "description": "Helpfulness", "min_score": 1,
                                         "max_score": 10, "reasoning": True,
                                         "reasoning_description": "Pourquoi ce score (détails)",
                                         "min_threshold": 7, "max_threshold": 3}}},
        {"id": "score-azure-floats", "agent_service": "compat-app",
         "judge": {"user_prompt": "Score {{output_data}}", "system_prompt": "Grade.", "provider": "azure_openai",
                   "model": "gpt-4o", "name": "float_score",
                   "structured_output": {"kind": "score", "description": "Quality", "min_score": 0.0,
                                         "max_score": 1.0, "min_threshold": 0.5}}},
        {"id": "categorical-vertex", "agent_service": "compat-app", "eval_name": names["categorical"],
         "judge": {"user_prompt": "Classify the sentiment of {{output_data}}", "provider": "vertexai",
                   "model": "gemini-2.0-flash", "model_params": {"max_tokens": 50},
                   "structured_output": {"kind": "categorical",
                                         "categories": {"positive": "Positive sentiment ☺",
                                                        "neutral": "Neither positive nor negative",
                                                        "negative": "Negative sentiment"},
                                         "reasoning": True, "pass_values": ["positive", "neutral"]}}},
        {"id": "categorical-openai-empty-pass", "agent_service": "compat-app",
         "eval_name": names["categorical"] + "-2",
         "judge": {"user_prompt": "Tone of {{output_data}}?", "provider": "openai", "model": "gpt-4o-mini",
                   "structured_output": {"kind": "categorical", "categories": {"formal": "Formal", "casual": "Casual"},
                                         "pass_values": []}}},
        {"id": "boolean-bedrock-false", "agent_service": "compat-app", "eval_name": names["boolean"] + "-bedrock",
         "judge": {"user_prompt": "Is {{output_data}} toxic?", "system_prompt": "", "provider": "bedrock",
                   "model": "  anthropic.claude-3-haiku  ",
                   "structured_output": {"kind": "boolean", "description": "Toxic?", "pass_when": False}}},
        {"id": "boolean-no-model-no-criteria", "agent_service": "compat-app", "eval_name": names["boolean"] + "-nm",
         "judge": {"user_prompt": "{{output_data}}", "provider": "openai",
                   "structured_output": {"kind": "boolean", "description": "ok"}}},
        {"id": "json-openai", "agent_service": "compat-app", "eval_name": names["json"],
         "judge": {"user_prompt": "Is {{output_data}} safe?", "provider": "openai", "model": "gpt-4o-mini",
                   "structured_output": {"kind": "json", "schema": RAW_SCHEMA}}},
        {"id": "json-anthropic", "agent_service": "compat-app", "eval_name": names["json"] + "-a",
         "judge": {"user_prompt": "Is {{output_data}} safe?", "provider": "anthropic", "model": "claude",
                   "structured_output": {"kind": "json", "schema": RAW_SCHEMA}}},
        # refused before anything is sent
        {"id": "err-no-structured-output", "agent_service": "compat-app", "eval_name": "x1",
         "judge": {"user_prompt": "p", "provider": "openai", "model": "m"}},
        {"id": "err-unsupported-provider", "agent_service": "compat-app", "eval_name": "x2",
         "judge": {"user_prompt": "p", "provider": "mistral", "model": "m", "structured_output": boolean}},
        {"id": "err-no-provider", "agent_service": "compat-app", "eval_name": "x3",
         "judge": {"user_prompt": "p", "model": "m", "structured_output": boolean}},
        {"id": "err-invalid-name", "agent_service": "compat-app", "eval_name": "bad name",
         "judge": {"user_prompt": "p", "provider": "openai", "model": "m", "structured_output": boolean}},
        {"id": "err-blank-name", "agent_service": "compat-app", "eval_name": "  ",
         "judge": {"user_prompt": "p", "provider": "openai", "model": "m", "structured_output": boolean}},
        {"id": "err-mapping-key", "agent_service": "compat-app", "eval_name": "x4", "variable_mapping": {" ": "a"},
         "judge": {"user_prompt": "p", "provider": "openai", "model": "m", "structured_output": boolean}},
        {"id": "err-mapping-value", "agent_service": "compat-app", "eval_name": "x5", "variable_mapping": {"a": " "},
         "judge": {"user_prompt": "p", "provider": "openai", "model": "m", "structured_output": boolean}},
        {"id": "err-blank-agent-service", "agent_service": "  ", "eval_name": "x6",
         "judge": {"user_prompt": "p", "provider": "openai", "model": "m", "structured_output": boolean}},
    ]


# -- the Rust side -----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def judge_publish_binary() -> str:
    """The SDK's ``judge_publish`` example: ``LLMOBS_JUDGE_PUBLISH_BIN``, else built with cargo."""
    configured = os.environ.get("LLMOBS_JUDGE_PUBLISH_BIN")
    if configured:
        return configured
    cargo = shutil.which("cargo")
    if not cargo:
        pytest.fail("cargo is not on PATH and LLMOBS_JUDGE_PUBLISH_BIN is not set: the Rust side cannot run",
                    pytrace=False)
    out = subprocess.run(
        [cargo, "build", "-q", "-p", "llmobs", "--example", "judge_publish", "--message-format=json"],
        cwd=str(REPO), capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, f"cargo build failed:\n{out.stderr[-5000:]}"
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "judge_publish" \
                and msg.get("executable"):
            return msg["executable"]
    raise AssertionError(f"cargo built no judge_publish executable:\n{out.stdout[-3000:]}")


def run_rust(server, origin: str, cases: list[dict]) -> list[dict]:
    scratch = Path(tempfile.mkdtemp(prefix="compat-judge-"))
    try:
        spec = scratch / "judges.json"
        spec.write_text(json.dumps(cases), "utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch), "LANG": "C.UTF-8",
               "DD_LLMOBS_OVERRIDE_ORIGIN": origin, "DD_API_KEY": server.api_key, "DD_APP_KEY": server.app_key}
        proc = subprocess.run([judge_publish_binary(), str(spec)], cwd=str(scratch), env=env, capture_output=True,
                              text=True, timeout=300, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert proc.returncode == 0, f"judge_publish failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.strip()]
    assert [ln["id"] for ln in lines] == [c["id"] for c in cases], proc.stdout
    return lines


class Recorder:
    """The rule of a ``FaultProxy`` that forwards everything and keeps every E14 body, per phase."""

    def __init__(self):
        self.phase = "ddtrace"
        self.bodies: dict[str, list] = {"ddtrace": [], "rust": []}

    def __call__(self, method, path, body, seen):
        if method == "PUT" and path.split("?")[0].endswith("/config/evaluators/custom"):
            self.bodies[self.phase].append(body)
        return None


def ordered(value) -> str:
    """JSON text keeping member order and the int/float distinction (``1`` vs ``1.0``)."""
    return json.dumps(value, ensure_ascii=False)


# -- tests -------------------------------------------------------------------------------


def test_publish_bodies_equal_ddtrace(exp_server):
    names = {k: unique(f"pub-{k}") for k in ("boolean", "score", "categorical", "json")}
    cases = make_cases(names)
    recorder = Recorder()
    proxy = FaultProxy(exp_server, recorder)
    try:
        py = run_llmobs(exp_server, SCENARIO, args={"cases": cases}, origin=proxy.origin)
        recorder.phase = "rust"
        rust = run_rust(exp_server, proxy.origin, cases)
    finally:
        proxy.stop()

    published = [c for c in cases if not c["id"].startswith("err-")]
    assert len(published) == 9
    assert len(recorder.bodies["ddtrace"]) == len(published), recorder.bodies["ddtrace"]
    assert len(recorder.bodies["rust"]) == len(published), recorder.bodies["rust"]
    for case, ours, theirs, line in zip(published, recorder.bodies["rust"], recorder.bodies["ddtrace"],
                                        [ln for ln in rust if not ln["id"].startswith("err-")]):
        assert ours == theirs, (case["id"], ours, theirs)
        assert ordered(ours) == ordered(theirs), (case["id"], ordered(ours), ordered(theirs))
        # ddtrace links to the DD_SITE UI; the SDK to its UI base (the override origin here)
        ui_theirs = py.ok(case["id"])["ui_url"]
        assert ui_theirs.startswith("https://app.datadoghq.com/llm/evaluations/custom?"), ui_theirs
        assert line["ok"], line
        assert line["ui_url"] == proxy.origin + ui_theirs[len("https://app.datadoghq.com"):], (line, ui_theirs)

    # the shapes the comparison covered, checked once against the spec (§5.7, E14)
    by_id = {c["id"]: b for c, b in zip(published, recorder.bodies["ddtrace"])}
    app = by_id["boolean-openai"]["data"]["attributes"]["evaluation"]["applications"][0]
    assert app["application_name"] == "compat judge/é"
    assert app["byop_config"]["prompt_template"][1]["content"] == \
        "Is {{output_data}} a correct answer to {{input_data.q}}? Topic: {{metadata.topic}}"
    assert app["byop_config"]["output_schema"]["name"] == "boolean_eval"
    score = by_id["score-anthropic-inverted"]["data"]["attributes"]["evaluation"]["applications"][0]["byop_config"]
    assert "name" not in score["output_schema"] and score["output_schema"]["type"] == "object"
    assert score["assessment_criteria"] == {"min_threshold": 7, "max_threshold": 3}
    floats = by_id["score-azure-floats"]["data"]["attributes"]["evaluation"]
    assert floats["eval_name"] == "float_score"
    assert ordered(floats["applications"][0]["byop_config"]["output_schema"]["schema"]["properties"]
                   ["score_eval"]).endswith('"minimum": 0.0, "maximum": 1.0}')
    assert by_id["json-openai"]["data"]["attributes"]["evaluation"]["applications"][0]["byop_config"][
        "parsing_type"] == "json"
    assert by_id["boolean-bedrock-false"]["data"]["attributes"]["evaluation"]["applications"][0][
        "model_name"] == "anthropic.claude-3-haiku"
    assert "model_name" not in by_id["boolean-no-model-no-criteria"]["data"]["attributes"]["evaluation"][
        "applications"][0]

    refused = [c for c in cases if c["id"].startswith("err-")]
    for case in refused:
        theirs = py.err(case["id"])
        assert theirs["exc"] == "ValueError" and not theirs["requests"], (case["id"], theirs)
        line = next(ln for ln in rust if ln["id"] == case["id"])
        assert not line["ok"] and "stage" not in line, line
        assert line["error"] == theirs["msg"], (case["id"], line["error"], theirs["msg"])


def test_a_judge_published_by_the_sdk_runs_through_e13(exp_server, judge):
    """The server's llm_judge runs what the SDK stored: rendered prompts (an unknown placeholder
    as empty text, as the client renders it), schema, criteria (§7.4)."""
    name = unique("sdk-judge")
    case = {"id": "e13", "agent_service": "compat-app", "eval_name": name,
            "variable_mapping": {"answer": "output_data"},
            "judge": {"user_prompt": "Is {{answer}} the capital asked in {{input_data.q}}? ({{meta_topic}})",
                      "system_prompt": "You are a strict grader.", "provider": "openai",
                      "model": "sdk-judge-model", "model_params": {"temperature": 0},
                      "structured_output": {"kind": "boolean", "description": "correct?", "reasoning": True,
                                            "pass_when": True}}}
    [line] = run_rust(exp_server, exp_server.root, [case])
    assert line["ok"], line
    before = len(judge.requests)
    ctx = {"span_input": {"q": "What is the capital of France?"}, "span_output": "Paris",
           "meta": {"expected_output": "Paris"}}
    r = exp_server.x("POST", f"{V1}/evaluators/{name}/infer",
                     json_body={"data": {"type": "evaluator_inference", "attributes": {"context": ctx}}})
    assert r.status == 200, r
    attrs = r.json()["data"]["attributes"]
    assert (attrs["value"], attrs["assessment"], attrs["reasoning"], attrs["status"]) == (True, "pass", "ok", "OK")
    [sent] = [j for j in judge.requests[before:] if j["body"].get("model") == "sdk-judge-model"]
    body = sent["body"]
    assert body["messages"] == [
        {"role": "system", "content": "You are a strict grader."},
        {"role": "user", "content": "Is Paris the capital asked in What is the capital of France?? ()"},
    ]
    assert body["temperature"] == 0
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "boolean_eval", fmt
    assert fmt["json_schema"]["schema"]["required"] == ["boolean_eval", "reasoning"]


PARITY = r'''
from ddtrace.llmobs import (LLMJudge, BooleanStructuredOutput, ScoreStructuredOutput,
                            CategoricalStructuredOutput, RemoteEvaluator)
from ddtrace.llmobs._experiment import EvaluatorContext
enable()

SEEN = []
def fake_llm(provider, messages, json_schema, model, model_params):
    SEEN.append(messages)
    return ARGS["replies"][model]

KINDS = {"boolean": BooleanStructuredOutput, "score": ScoreStructuredOutput,
         "categorical": CategoricalStructuredOutput}

for case in ARGS["cases"]:
    spec = dict(case["structured_output"])
    output = KINDS[spec.pop("kind")](**spec)
    judge = LLMJudge(user_prompt=ARGS["user_prompt"], system_prompt=case.get("system_prompt"),
                     structured_output=output, provider="openai", model=case["model"], client=fake_llm,
                     name=case["name"])
    call("publish-" + case["name"], lambda: LLMObs.publish_evaluator(judge, agent_service="compat-app"))
    remote = RemoteEvaluator(eval_name=case["name"])
    for i, ctx in enumerate(ARGS["contexts"]):
        context = EvaluatorContext(**ctx)
        local = judge.evaluate(context)
        got = call(f"remote-{case['name']}-{i}", lambda: remote.evaluate(context))
        R[f"{case['name']}/{i}"] = {
            "messages": SEEN[-1],
            "local": [local.value, local.assessment, local.reasoning],
            "remote": [getattr(got, "value", got), getattr(got, "assessment", None),
                       getattr(got, "reasoning", None)],
        }
'''

PARITY_PROMPT = ("Q: {{input_data.question}} | input: {{ input_data }} | tags: {{input_data.tags}} | "
                 "n={{input_data.n}} flag={{input_data.flag}} none=[{{input_data.none}}] | "
                 "output: {{output_data}} | expected: {{expected_output}} | "
                 "config: {{metadata.experiment_config}} | missing: [{{metadata.nope}}][{{nope}}]"
                 "[{{input_data.tags.0}}] | span {{span_id}} trace {{trace_id}} | {{{output_data}}}")

PARITY_CONTEXTS = [
    {"input_data": {"question": "Capitale de la France ?", "tags": ["géo", 1, 2.5, None, True],
                    "n": 1.0, "flag": False, "none": None, "nested": {"deep": {"k": "v"}}},
     "output_data": {"answer": "Paris", "confidence": 0.9},
     "expected_output": {"answer": "Paris", "alts": ["Lutèce"]},
     "metadata": {"difficulty": "easy", "experiment_config": {"model": "stub-2", "temperature": 0}},
     "span_id": "2994000556794804270", "trace_id": "6b011b1b0000000063274df45619adb3"},
    {"input_data": "plain text input", "output_data": "Paris", "expected_output": None, "metadata": {}},
]


def test_the_server_renders_and_assesses_like_ddtrace(exp_server, judge):
    """Judges ddtrace published (E14) and ran through E13 give the prompts ddtrace's LLMJudge
    renders locally, and the verdicts and assessments it computes from the same replies."""
    replies = {}
    cases = []
    for kind, spec, verdict in [
        ("boolean", {"description": "ok?", "reasoning": True, "pass_when": True}, False),
        ("boolean", {"description": "ok?", "reasoning": True, "pass_when": False}, False),
        ("score", {"description": "q", "min_score": 0, "max_score": 10, "reasoning": True,
                   "min_threshold": 7, "max_threshold": 3}, 8),
        ("score", {"description": "q", "min_score": 0, "max_score": 10, "reasoning": True,
                   "min_threshold": 7, "max_threshold": 3}, 5),
        ("score", {"description": "q", "min_score": 0, "max_score": 10, "reasoning": True,
                   "min_threshold": 3, "max_threshold": 7.5}, 7.5),
        ("score", {"description": "q", "min_score": 0.0, "max_score": 1.0, "reasoning": True,
                   "max_threshold": 0.25}, 0.3),
        ("categorical", {"categories": {"positive": "+", "neutral": "=", "negative": "-"}, "reasoning": True,
                         "pass_values": ["positive", "neutral"]}, "neutral"),
        ("categorical", {"categories": {"positive": "+", "negative": "-"}, "reasoning": True,
                         "pass_values": ["positive"]}, "negative"),
        ("categorical", {"categories": {"positive": "+"}, "reasoning": True, "pass_values": []}, "positive"),
    ]:
        name = unique(f"parity-{kind}")
        model = f"parity-model-{len(cases)}"
        replies[model] = json.dumps({f"{kind}_eval": verdict, "reasoning": f"why {len(cases)}"})
        case = {"name": name, "model": model, "structured_output": {"kind": kind, **spec}}
        if len(cases) % 2 == 0:
            case["system_prompt"] = "Grade {{output_data}} strictly."  # sent as written
        cases.append(case)

    before = len(judge.requests)
    judge.content = lambda body: replies.get(body.get("model"), MockJudge.DEFAULT_CONTENT)
    try:
        run = run_llmobs(exp_server, PARITY, args={"cases": cases, "replies": replies,
                                                   "user_prompt": PARITY_PROMPT, "contexts": PARITY_CONTEXTS})
    finally:
        judge.content = MockJudge.DEFAULT_CONTENT
    sent = judge.requests[before:]

    assessments = set()
    for case in cases:
        run.ok("publish-" + case["name"])
        asked = [j["body"] for j in sent if j["body"].get("model") == case["model"]]
        assert len(asked) == len(PARITY_CONTEXTS), (case["name"], asked)
        for i, body in enumerate(asked):
            run.ok(f"remote-{case['name']}-{i}")
            values = run.values[f"{case['name']}/{i}"]
            # ddtrace's messages: optional system prompt (not templated), then the rendered user prompt
            assert body["messages"] == values["messages"], (case["name"], i, body["messages"], values["messages"])
            assert values["remote"] == values["local"], (case["name"], i, values)
            assessments.add(values["local"][1])
    assert assessments == {"pass", "fail"}
    # the renders compared above are the reference's: a spot check of the rules they show
    user = run.values[f"{cases[0]['name']}/0"]["messages"][-1]["content"]
    assert '"tags": [\n    "g\\u00e9o",' in user and "n=1.0 flag=False none=[]" in user, user
    assert "missing: [][][]" in user and "span 2994000556794804270 trace 6b011b1b" in user, user
    sparse = run.values[f"{cases[0]['name']}/1"]["messages"][-1]["content"]
    assert "input: plain text input |" in sparse and "expected:  |" in sparse and "config:  |" in sparse, sparse
