"""Experiments through the real ddtrace 4.16.0 client (spec experiments.md §4, §8 cases 23–43, 46–49).

The server runs with the deterministic evaluators of ``EVALUATORS_CONFIG`` (remote
evaluators resolve against them). After each run the test reads what the server stored:
the experiment (E10), its spans with their joined metrics and the summary metrics (E12),
and compares them with what the evaluators must have produced and with what the client
sent (E8, E9, E11, E15 bodies recorded in the client process).
"""

from __future__ import annotations

import re

import pytest

from harness import UUID_RE, V1, V2, run_llmobs, span_tag, span_tags, unique
from llmobs_common import (COMMON, EXPECT, RECORDS, api_sequence, by_label, check_joined,
                           check_main_spans, contains, intake_spans, kind_of, posted_metrics, record_q,
                           value_of)

# -- cases 23–28, 39, 41: the main flow, then runs=2 -----------------------------------


MAIN = COMMON + r'''
enable()
A = ARGS
ds = call("dataset", lambda: LLMObs.create_dataset(dataset_name=A["ds_name"], records=A["records"]))
R["ds"] = ds_info(ds)
def construct():
    return LLMObs.experiment(name=A["name"], task=qa_task, dataset=ds,
                             evaluators=[exact_match, answer_quality, LengthScore(), RemoteEvaluator(eval_name="has")],
                             summary_evaluators=[PassRate()], description="main flow",
                             config={"model": "m1", "temperature": 0}, tags={"team": "ml"})
exp = call("construct", construct)
R["url_before"] = exp.url
res = call("run", lambda: exp.run(jobs=4))
R["a"] = exp_info(exp)
R["a_rows"] = rows_of(res)
R["a_summary"] = _plain(res and res.get("summary_evaluations"))
exp2 = LLMObs.experiment(name=A["name"] + "-runs2", task=qa_task, dataset=ds,
                         evaluators=[exact_match, answer_quality, LengthScore(), RemoteEvaluator(eval_name="has")],
                         summary_evaluators=[PassRate()], config={"model": "m2"}, runs=2)
call("run2", lambda: exp2.run(jobs=4))
R["b"] = exp_info(exp2)
'''


@pytest.fixture(scope="module")
def main_run(exp_server):
    project, name = unique("exp-proj"), unique("main-exp")
    run = run_llmobs(exp_server, MAIN, args={"project": project, "ds_name": unique("exp-ds"), "name": name,
                                              "records": RECORDS},
                     env_extra={"DD_TRACE_GIT_METADATA_ENABLED": "true",
                                "DD_GIT_REPOSITORY_URL": "https://github.com/example/compat-repo",
                                "DD_GIT_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567"})
    run.ok("run")
    run.ok("run2")
    return run, project, name


def test_main_experiment_stored(exp_server, main_run):
    run, project, name = main_run
    ds = run.values["ds"]
    pid, did = ds["project"]["_id"], ds["id"]
    a = run.values["a"]
    eid = a["id"]

    # case 23: nothing sent at construction; url ends in /None before run()
    assert run.requests("construct") == [] and run.values["url_before"].endswith("/None")
    assert UUID_RE.match(eid) and a["url"] == f"https://app.datadoghq.com/llm/experiments/{eid}"

    # case 24: E1, E8, E9 running, E11 per-record posts, E11 summary, E9 completed
    reqs = run.requests("run")
    assert api_sequence(reqs) in (
        ["E1", "E8", "E9:running", "E11:custom+", "E11:summary", "E9:completed"],
        ["E1", "E8", "E9:running", "E11:custom", "E11:summary", "E9:completed"]), api_sequence(reqs)
    assert all(r["status"] == 200 for r in reqs if kind_of(r) in ("E1", "E8") or kind_of(r).startswith("E9"))
    e8 = next(r for r in reqs if kind_of(r) == "E8")["body"]["data"]["attributes"]
    assert (e8["name"], e8["dataset_id"], e8["project_id"], e8["dataset_version"], e8["run_count"]) == \
           (name, did, pid, 1, 1)
    assert e8["config"] == {"model": "m1", "temperature": 0} and e8["ensure_unique"] is True

    # case 25/26: stored logical name, run name, metadata tags (incl. git)
    stored = exp_server.experiment_get(eid)
    assert stored["experiment"] == name and re.fullmatch(re.escape(name) + r"-\d{13}", stored["name"])
    assert stored["name"] == a["run_name"]
    assert (stored["project_id"], stored["dataset_id"], stored["dataset_version"], stored["run_count"]) == \
           (pid, did, 1, 1)
    assert stored["description"] == "main flow" and stored["config"] == {"model": "m1", "temperature": 0}
    assert (stored["status"], stored["error"]) == ("completed", None)
    tags = set(stored["metadata"]["tags"])
    assert {"team:ml", "ddtrace.version:4.16.0", f"project_name:{project}", f"dataset_name:{ds['name']}",
            f"experiment_name:{name}", f"project_id:{pid}",
            "git.repository_url:https://github.com/example/compat-repo",
            "git.commit.sha:0123456789abcdef0123456789abcdef01234567"} <= tags, tags
    r = exp_server.x("GET", f"{V2}/experiments?filter[experiment]={name}&filter[project_id]={pid}")
    assert r.status == 200 and [e["id"] for e in r.json()["data"]] == [eid], r

    # case 27: spans as sent (E15), and as stored (E12): one per record, linked to record
    sent_spans = intake_spans(run.all_requests, eid)
    assert len(sent_spans) == 4
    for s in sent_spans:
        assert s["wrapper_scope"] == "experiments" and s["_dd"]["scope"] == "experiments"
        assert s["meta"]["span"]["kind"] == "experiment" and s["name"] == "qa_task"
        t = span_tags(s)
        for key in ("experiment_id", "dataset_id", "dataset_record_id", "run_id", "run_iteration"):
            assert key in t, (key, s["tags"])
    events = exp_server.experiment_events(eid)
    spans = events["spans"]
    assert len(spans) == 4
    qs = record_q(ds["records"])
    assert sorted(span_tag(s, "dataset_record_id") for s in spans) == sorted(qs)
    assert {s["span_id"] for s in spans} == {s["span_id"] for s in sent_spans}
    assert {span_tag(s, "run_iteration") for s in spans} == {"1"} and len({span_tag(s, "run_id") for s in spans}) == 1
    planet = next(s for s in spans if span_tag(s, "dataset_record_id") == "planet-record")
    assert planet["meta"]["expected_output"] == "Jupiter"
    math_span = next(s for s in spans if qs[span_tag(s, "dataset_record_id")] == "What is 2+2?")
    assert "topic:math" in math_span["tags"]

    # one metric per (record, evaluator), values and types per §4.5; joined even when posted first (28)
    check_main_spans(spans, qs, eid, did)
    sent = posted_metrics(reqs, eid)
    assert len([m for m in sent if m["metric_source"] == "custom"]) == 16
    check_joined(events, sent)

    # summary metric: one, empty span/trace ids, no status
    assert len(events["summary_metrics"]) == 1, events["summary_metrics"]
    sm = events["summary_metrics"][0]
    assert (sm["label"], sm["metric_type"], sm["metric_source"]) == ("pass_rate", "score", "summary")
    assert sm["score_value"] == pytest.approx(0.75) and sm["span_id"] == "" and "status" not in sm
    assert run.values["a_summary"]["pass_rate"]["value"] == pytest.approx(0.75)

    # case 41: one E13 per record with the default context shape
    infers = [r for r in reqs if kind_of(r) == "E13"]
    assert len(infers) == 4 and all(r["path"] == f"{V1}/evaluators/has/infer" and r["status"] == 200 for r in infers)
    for r in infers:
        ctx = r["body"]["data"]["attributes"]["context"]
        assert set(ctx) == {"span_input", "span_output", "meta", "span_id", "trace_id"}, ctx
        want = EXPECT[ctx["span_input"]["q"]]
        assert ctx["span_output"] == want["out"]
        assert r["response"]["data"]["attributes"]["value"] is want["has"]
        assert r["response"]["data"]["attributes"]["status"] == "OK"


def test_runs_2(exp_server, main_run):
    run, project, name = main_run
    ds = run.values["ds"]
    eid = run.values["b"]["id"]
    reqs = run.requests("run2")
    seq = api_sequence(reqs)
    assert seq[:3] == ["E1", "E8", "E9:running"] and seq[-1] == "E9:completed", seq
    assert [k for k in seq if k.startswith("E9")] == ["E9:running", "E9:completed"]
    assert [k for k in seq if k == "E11:summary"] == ["E11:summary", "E11:summary"], seq
    e8 = next(r for r in reqs if kind_of(r) == "E8")["body"]["data"]["attributes"]
    assert e8["run_count"] == 2

    stored = exp_server.experiment_get(eid)
    assert (stored["run_count"], stored["status"], stored["error"]) == (2, "completed", None)
    events = exp_server.experiment_events(eid)
    spans = events["spans"]
    assert len(spans) == 4 * 2  # records × runs
    runs = {}
    for s in spans:
        runs.setdefault((span_tag(s, "run_id"), span_tag(s, "run_iteration")), []).append(s)
    assert sorted(k[1] for k in runs) == ["1", "2"] and len({k[0] for k in runs}) == 2
    qs = record_q(ds["records"])
    for group in runs.values():
        assert sorted(span_tag(s, "dataset_record_id") for s in group) == sorted(qs)
    check_main_spans(spans, qs, eid, ds["id"])
    check_joined(events, posted_metrics(reqs, eid))
    assert [m["label"] for m in events["summary_metrics"]] == ["pass_rate", "pass_rate"]
    assert all(m["score_value"] == pytest.approx(0.75) for m in events["summary_metrics"])
    # event tags carry the run of each post
    iters = {t for r in reqs if kind_of(r).startswith("E11")
             for t in r["body"]["data"]["attributes"]["tags"] if t.startswith("run_iteration:")}
    assert iters == {"run_iteration:1", "run_iteration:2"}


# -- cases 29–35, 40, 42, 43: typing, failures, retries ---------------------------------


VARIANTS = COMMON + r'''
enable()
A = ARGS
ds = call("dataset", lambda: LLMObs.create_dataset(dataset_name=A["ds_name"], records=A["records"][:3]))
R["ds"] = ds_info(ds)

def flaky_task(input_data, config):
    if "2+2" in input_data["q"]:
        raise RuntimeError("task failed on purpose")
    return ANSWERS[input_data["q"]]
def bool_eval(input_data, output_data, expected_output):
    return True
def score_eval(input_data, output_data, expected_output):
    return 0.5
def label_eval(input_data, output_data, expected_output):
    return "Good"
def json_eval(input_data, output_data, expected_output):
    return {"k": 1}
def none_eval(input_data, output_data, expected_output):
    return None
def rich_eval(input_data, output_data, expected_output):
    return EvaluatorResult(value=0.9, reasoning="because", assessment="pass", metadata={"m": 1},
                           tags={"kind": "rule", "team": "ml"})
def multi_eval(input_data, output_data, expected_output):
    return MultiEvaluatorResult({"precision": 0.5, "recall": EvaluatorResult(value=1.0, reasoning="all found")})
def multi_raw(input_data, output_data, expected_output):
    return MultiEvaluatorResult({"rawkey": True}, prefix=False)
def broken_evaluator(input_data, output_data, expected_output):
    raise ValueError("evaluator failed on purpose")
def transform(ctx):
    return {"span_output": "transformed %s paris" % (ctx.output_data,), "custom": [1, 2], "span_id": ctx.span_id}

exp = LLMObs.experiment(name=A["name"] + "-typing", task=flaky_task, dataset=ds,
    evaluators=[bool_eval, score_eval, label_eval, json_eval, none_eval, rich_eval, multi_eval, multi_raw,
                broken_evaluator, RemoteEvaluator(eval_name="missing-judge"),
                RemoteEvaluator(eval_name="has", transform_fn=transform)])
res = call("typing", lambda: exp.run(jobs=2))
R["typing"] = exp_info(exp)
R["typing_rows"] = rows_of(res)

ATTEMPTS = {}
LOCK = threading.Lock()
def fails_once(input_data, config):
    with LOCK:
        ATTEMPTS[input_data["q"]] = ATTEMPTS.get(input_data["q"], 0) + 1
        n = ATTEMPTS[input_data["q"]]
    if n == 1:
        raise RuntimeError("first attempt fails")
    return "ok"
exp = LLMObs.experiment(name=A["name"] + "-retry", task=fails_once, dataset=ds, evaluators=[bool_eval])
call("retry", lambda: exp.run(jobs=2, max_retries=1, retry_delay=lambda attempt: 0.01))
R["retry"] = exp_info(exp)
R["attempts"] = ATTEMPTS

exp = LLMObs.experiment(name=A["name"] + "-raise", task=flaky_task, dataset=ds, evaluators=[bool_eval])
call("raise", lambda: exp.run(raise_errors=True))
R["raise"] = exp_info(exp)

exp = LLMObs.experiment(name=A["name"] + "-sample", task=qa_task, dataset=ds, evaluators=[bool_eval])
call("sample", lambda: exp.run(sample_size=1))
R["sample"] = exp_info(exp)

def broken_summary(inputs, outputs, expected_outputs, evaluators_results):
    raise ValueError("summary failed on purpose")
exp = LLMObs.experiment(name=A["name"] + "-summary-fails", task=qa_task, dataset=ds, evaluators=[bool_eval],
                        summary_evaluators=[broken_summary])
call("summary_fails", lambda: exp.run())
R["summary_fails"] = exp_info(exp)
'''

TYPING_EXPECT = {
    "bool_eval": ("boolean", True), "score_eval": ("score", 0.5), "label_eval": ("categorical", "good"),
    "json_eval": ("json", {"k": 1}), "none_eval": ("categorical", None), "rich_eval": ("score", 0.9),
    "multi_eval-precision": ("score", 0.5), "multi_eval-recall": ("score", 1.0), "rawkey": ("boolean", True),
    "broken_evaluator": ("categorical", None), "missing-judge": ("categorical", None), "has": ("boolean", True),
}


@pytest.fixture(scope="module")
def variants_run(exp_server):
    project = unique("var-proj")
    run = run_llmobs(exp_server, VARIANTS, args={"project": project, "ds_name": unique("var-ds"),
                                                  "name": unique("var"), "records": RECORDS})
    return run


def test_metric_typing_and_failures(exp_server, variants_run):
    run = variants_run
    run.ok("typing")
    eid = run.values["typing"]["id"]
    reqs = run.requests("typing")
    qs = record_q(run.values["ds"]["records"])
    events = exp_server.experiment_events(eid)
    spans = events["spans"]
    assert len(spans) == 3
    check_joined(events, posted_metrics(reqs, eid))
    unknown = None
    for span in spans:
        q = qs[span_tag(span, "dataset_record_id")]
        metrics = by_label(span)
        assert set(metrics) == set(TYPING_EXPECT), sorted(metrics)
        for label, (mtype, value) in TYPING_EXPECT.items():
            m = metrics[label]
            assert m["metric_type"] == mtype and value_of(m) == value, (label, m)
        # case 30: reasoning, assessment, metadata and tags
        rich = metrics["rich_eval"]
        assert (rich["reasoning"], rich["assessment"], rich["metadata"]) == ("because", "pass", {"m": 1})
        assert sorted(rich["tags"]) == ["kind:rule", "team:ml"]
        assert metrics["multi_eval-recall"]["reasoning"] == "all found"
        # case 32: failing evaluator
        broken = metrics["broken_evaluator"]
        assert broken["status"] == "ERROR" and broken["error"]["type"] == "ValueError"
        assert broken["error"]["message"] == "evaluator failed on purpose"
        # case 42: unknown remote evaluator → the server's error object, status ERROR
        miss = metrics["missing-judge"]
        assert miss["status"] == "ERROR" and miss["error"]["type"] == "evaluator_not_found", miss
        assert set(miss["error"]) >= {"type", "message", "recommended_resolution"}
        unknown = miss["error"]
        assert metrics["has"]["eval_source_type"] == "managed" and metrics["has"]["status"] == "OK"
        # case 33: the failing task
        if "2+2" in q:
            assert span["status"] == "error" and span["meta"]["error"]["type"] == "builtins.RuntimeError"
            assert "task failed on purpose" in span["meta"]["error"]["message"]
            assert "error:1" in span["tags"] and "error_type:builtins.RuntimeError" in span["tags"]
        else:
            assert span["status"] == "ok" and span["meta"]["error"] == {} and "error:0" in span["tags"]
    failed_row = [row for row in run.values["typing_rows"] if row["error"] and row["error"].get("type")]
    assert len(failed_row) == 1

    # E13 for the unknown evaluator: 404 with the structured error, once per record (no HTTP retry)
    miss = [r for r in reqs if r["path"] == f"{V1}/evaluators/missing-judge/infer"]
    assert len(miss) == 3 and all(r["status"] == 404 for r in miss), [r["status"] for r in miss]
    body = miss[0]["response"]["data"]["attributes"]
    assert body["status"] == "ERROR" and body["error"] == unknown
    # case 43: the E13 context is exactly what transform_fn returned
    has = [r for r in reqs if r["path"] == f"{V1}/evaluators/has/infer"]
    assert len(has) == 3
    span_ids = {s["span_id"] for s in spans}
    for r in has:
        ctx = r["body"]["data"]["attributes"]["context"]
        assert set(ctx) == {"span_output", "custom", "span_id"} and ctx["custom"] == [1, 2]
        assert ctx["span_output"].startswith("transformed ") and ctx["span_id"] in span_ids

    # final status failed, error text naming the evaluators and the task error
    stored = exp_server.experiment_get(eid)
    assert stored["status"] == "failed", stored
    for part in ("broken_evaluator (ValueError): evaluator failed on purpose",
                 "missing-judge (evaluator_not_found)", "builtins.RuntimeError: task failed on purpose"):
        assert part in (stored["error"] or ""), (part, stored["error"])
    assert api_sequence(reqs)[-1] == "E9:failed"


def test_max_retries(exp_server, variants_run):
    run = variants_run
    run.ok("retry")
    assert set(run.values["attempts"].values()) == {2}
    eid = run.values["retry"]["id"]
    stored = exp_server.experiment_get(eid)
    assert (stored["status"], stored["error"]) == ("completed", None)
    spans = exp_server.experiment_events(eid)["spans"]
    assert len(spans) == 3
    for s in spans:
        assert span_tag(s, "retries") == "1" and s["status"] == "ok" and s["meta"]["output"] == "ok"
        assert [m["label"] for m in s["eval_metrics"]] == ["bool_eval"]


def test_raise_errors_interrupts(exp_server, variants_run):
    run = variants_run
    res = run.err("raise")
    assert res["exc"] == "RuntimeError" and "task failed on purpose" in res["msg"]
    stored = exp_server.experiment_get(run.values["raise"]["id"])
    assert stored["status"] == "interrupted", stored
    assert [k for k in api_sequence(res["requests"]) if k.startswith("E9")] == ["E9:running", "E9:interrupted"]


def test_sample_size(exp_server, variants_run):
    run = variants_run
    run.ok("sample")
    eid = run.values["sample"]["id"]
    reqs = run.requests("sample")
    posts = [r for r in reqs if kind_of(r).startswith("E11")]
    assert len(posts) == 1 and len(posts[0]["body"]["data"]["attributes"]["metrics"]) == 1
    stored = exp_server.experiment_get(eid)
    assert (stored["status"], stored["error"]) == ("completed", None)
    spans = exp_server.experiment_events(eid)["spans"]
    assert len(spans) == 1 and [m["label"] for m in spans[0]["eval_metrics"]] == ["bool_eval"]
    assert span_tag(spans[0], "dataset_id") == run.values["ds"]["id"]


def test_metric_before_span_is_joined(exp_server):
    """Case 28 on the wire: a metric posted before its span is returned under that span."""
    pid = exp_server.project(unique("join-proj"))
    r = exp_server.x("POST", f"{V1}/{pid}/datasets",
                     json_body={"data": {"type": "datasets", "attributes": {"name": unique("join"), "description": ""}}})
    did = r.json()["data"]["id"]
    r = exp_server.x("POST", f"{V1}/experiments", json_body={"data": {"type": "experiments", "attributes": {
        "name": "join", "dataset_id": did, "project_id": pid, "dataset_version": 0, "config": {},
        "metadata": {"tags": []}, "ensure_unique": False, "run_count": 1}}})
    assert r.status == 200, r
    eid = r.json()["data"]["id"]
    assert r.json()["data"]["attributes"]["name"] == "join"  # ensure_unique false keeps the name
    metric = {"metric_source": "custom", "span_id": "1234567890123", "trace_id": "6b011af80000000055617504a9c8ca26",
              "timestamp_ms": 1795234552385, "metric_type": "score", "label": "early", "score_value": 0.25,
              "error": None, "tags": [], "experiment_id": eid, "status": "OK"}
    r = exp_server.x("POST", f"{V1}/experiments/{eid}/events", json_body={"data": {"type": "experiments", "attributes": {
        "scope": "experiments", "metrics": [metric], "tags": [f"experiment_id:{eid}"]}}})
    assert r.status in (200, 202), r
    span = {"trace_id": metric["trace_id"], "span_id": metric["span_id"], "parent_id": "undefined", "name": "t",
            "start_ns": 1795234552385000000, "duration": 5, "status": "ok",
            "meta": {"span": {"kind": "experiment"}, "input": {"q": 1}, "output": "x"}, "metrics": {},
            "tags": [f"experiment_id:{eid}", f"dataset_id:{did}", "dataset_record_id:r1"],
            "_dd": {"scope": "experiments", "span_id": metric["span_id"], "trace_id": "x"}}
    r = exp_server.request("POST", f"{exp_server.base_path}/api/v2/llmobs",
                           json_body=[{"_dd.stage": "raw", "event_type": "span", "_dd.scope": "experiments",
                                       "spans": [span]}], app_key=None)
    assert 200 <= r.status < 300, r
    events = exp_server.experiment_events(eid)
    assert len(events["spans"]) == 1
    got = events["spans"][0]["eval_metrics"]
    assert len(got) == 1 and contains(got[0], metric), got
    # the same metric posted again (client retry) is kept once
    exp_server.x("POST", f"{V1}/experiments/{eid}/events", json_body={"data": {"type": "experiments", "attributes": {
        "scope": "experiments", "metrics": [metric], "tags": []}}})
    assert len(exp_server.experiment_events(eid)["spans"][0]["eval_metrics"]) == 1


# -- cases 46–48: list, pull, rerun -----------------------------------------------------


LIST = COMMON + r'''
enable()
A = ARGS
ds = LLMObs.create_dataset(dataset_name=A["ds_name"], records=A["records"])
ids = []
for variant in ("a", "b", "c"):
    e = LLMObs.experiment(name=A["name"], task=qa_task, dataset=ds, evaluators=[exact_match, LengthScore()],
                          tags={"variant": variant})
    e.run(jobs=2)
    ids.append(e._id)
    time.sleep(0.01)
R["ids"] = ids
o = LLMObs.experiment(name=A["name"] + "-other", task=qa_task, dataset=ds, evaluators=[exact_match])
o.run()
R["other"] = o._id
R["project_id"] = ds.project["_id"]
call("list", lambda: LLMObs.list_experiments(experiment_name=A["name"]))
call("list_tag", lambda: LLMObs.list_experiments(experiment_name=A["name"], metadata_filter={"tags": ["variant:b"]}))
call("list_paged", lambda: LLMObs.list_experiments(experiment_name=A["name"], page_limit=1))
call("list_max", lambda: LLMObs.list_experiments(experiment_name=A["name"], page_limit=1, max_results=2))
call("list_project", lambda: LLMObs.list_experiments())
'''

PULL = COMMON + r'''
enable()
A = ARGS
pulled = call("pull", lambda: LLMObs.pull_experiment(A["id"]))
df = pulled.as_dataframe()
rows = []
for rec in df.to_dict(orient="records"):
    rows.append({"|".join(str(p) for p in k): _plain(v) for k, v in rec.items()})
R["rows"] = rows
rerun = call("rerun", lambda: pulled.rerun_evaluators([exact_match, LengthScore()]))
R["rerun"] = exp_info(rerun)
call("children", lambda: LLMObs.list_experiments(parent_experiment_ids=[A["id"]]))
'''


def test_list_pull_rerun(exp_server):
    project, name = unique("list-proj"), unique("listed")
    run = run_llmobs(exp_server, LIST, args={"project": project, "ds_name": unique("list-ds"), "name": name,
                                             "records": RECORDS})
    ids, pid = run.values["ids"], run.values["project_id"]

    # case 46: E10 with page[limit]=100, filter[experiment], filter[project_id]; newest first
    listed = run.ok("list")
    assert [e["id"] for e in listed] == ids[::-1]
    e10 = [r for r in run.requests("list") if r["method"] == "GET"]
    assert len(e10) == 1
    path = e10[0]["path"]
    assert path.startswith(f"{V2}/experiments?page[limit]=100&") and f"filter[experiment]={name}" in path
    assert f"filter[project_id]={pid}" in path
    first = listed[0]
    assert (first["experiment"], first["status"], first["project_id"], first["run_count"]) == (name, "completed", pid, 1)
    assert "variant:c" in first["tags"] and re.fullmatch(re.escape(name) + r"-\d{13}", first["name"])
    assert [e["id"] for e in run.ok("list_tag")] == [ids[1]]
    paged = run.requests("list_paged")
    assert [e["id"] for e in run.ok("list_paged")] == ids[::-1]
    e10 = [r for r in paged if r["method"] == "GET"]
    assert len(e10) >= 3 and all("page[limit]=1" in r["path"] for r in e10)
    assert "page[cursor]=" in e10[1]["path"]
    assert [e["id"] for e in run.ok("list_max")] == ids[::-1][:2]
    assert {e["id"] for e in run.ok("list_project")} == set(ids) | {run.values["other"]}

    # a newer metric for the same (span, label) wins in as_dataframe (case 47)
    target = ids[0]
    events = exp_server.experiment_events(target)
    span = events["spans"][0]
    old = by_label(span)["exact_match"]
    newer = dict(old, timestamp_ms=old["timestamp_ms"] + 1000, boolean_value=not old["boolean_value"])
    r = exp_server.x("POST", f"{V1}/experiments/{target}/events", json_body={"data": {"type": "experiments", "attributes": {
        "scope": "experiments", "metrics": [newer], "tags": []}}})
    assert r.status in (200, 202), r
    got = [m for m in exp_server.experiment_events(target)["spans"] if m["span_id"] == span["span_id"]][0]
    assert sorted(m["timestamp_ms"] for m in got["eval_metrics"] if m["label"] == "exact_match") == \
           [old["timestamp_ms"], newer["timestamp_ms"]]

    pull = run_llmobs(exp_server, PULL, args={"project": project, "id": target})
    # case 47: E10 filter[id] + E12; stored outputs and evaluations
    reqs = pull.requests("pull")
    assert [r["method"] + " " + r["path"] for r in reqs] == [
        f"GET {V2}/experiments?filter[id]={target}",
        f"GET {V1}/experiments/{target}/events?include[eval_metrics]=true"]
    rows = pull.values["rows"]
    assert len(rows) == 4
    outs = sorted(str(r.get("output|")) for r in rows)
    assert outs == sorted(v["out"] for v in EXPECT.values())
    by_span = {r["span_id|"]: r for r in rows}
    assert by_span[span["span_id"]]["evaluations|exact_match"]["value"] is newer["boolean_value"]
    for r in rows:
        if r["span_id|"] != span["span_id"]:
            out = r["output|"]
            want = next(v for v in EXPECT.values() if v["out"] == out)
            assert r["evaluations|exact_match"]["value"] is want["exact_match"]
            assert r["evaluations|length_score"]["value"] == pytest.approx(want["length_score"])

    # case 48: rerun: E8 with parent, one E11 with spans and metrics, E9 completed, no running
    reqs = pull.requests("rerun")
    assert api_sequence(reqs) == ["E8", "E11:spans", "E9:completed"], api_sequence(reqs)
    e8 = reqs[0]["body"]["data"]["attributes"]
    assert e8["parent_experiment_id"] == target and e8["name"].startswith(f"{name}-rerun-")
    child = pull.values["rerun"]["id"]
    e11 = next(r for r in reqs if kind_of(r) == "E11:spans")["body"]["data"]["attributes"]
    assert len(e11["spans"]) == 4 and len(e11["metrics"]) == 8
    assert all(s["meta"]["span.kind"] == "experiment" for s in e11["spans"])
    stored = exp_server.experiment_get(child)
    assert (stored["parent_experiment_id"], stored["status"]) == (target, "completed")
    events = exp_server.experiment_events(child)
    assert len(events["spans"]) == 4
    old_ids = {s["span_id"] for s in exp_server.experiment_events(target)["spans"]}
    for s in events["spans"]:
        assert span_tag(s, "parent_experiment_span_id") in old_ids and s["span_id"] not in old_ids
        assert set(by_label(s)) == {"exact_match", "length_score"}
    check_joined(events, e11["metrics"])
    assert [e["id"] for e in pull.ok("children")] == [child]


# -- case 49: async ---------------------------------------------------------------------


ASYNC = COMMON + r'''
from ddtrace.llmobs import BaseAsyncEvaluator
enable()
A = ARGS
ds = LLMObs.create_dataset(dataset_name=A["ds_name"], records=A["records"])
R["ds"] = ds_info(ds)
async def async_task(input_data, config):
    await asyncio.sleep(0.01)
    return ANSWERS[input_data["q"]]
async def async_exact(input_data, output_data, expected_output):
    await asyncio.sleep(0)
    return output_data == expected_output
class AsyncLen(BaseAsyncEvaluator):
    def __init__(self):
        super().__init__(name="async_len")
    async def evaluate(self, context):
        return len(str(context.output_data))
aexp = LLMObs.async_experiment(name=A["name"], task=async_task, dataset=ds,
                               evaluators=[exact_match, async_exact, AsyncLen()], summary_evaluators=[PassRate()])
call("run", lambda: asyncio.run(aexp.run(jobs=2)))
R["id"] = aexp._id
'''


def test_async_experiment(exp_server):
    run = run_llmobs(exp_server, ASYNC, args={"project": unique("async-proj"), "ds_name": unique("async-ds"),
                                              "name": unique("async"), "records": RECORDS})
    run.ok("run")
    eid = run.values["id"]
    seq = api_sequence(run.requests("run"))
    assert seq in (["E1", "E8", "E9:running", "E11:custom+", "E11:summary", "E9:completed"],
                   ["E1", "E8", "E9:running", "E11:custom", "E11:summary", "E9:completed"]), seq
    stored = exp_server.experiment_get(eid)
    assert (stored["status"], stored["error"]) == ("completed", None)
    events = exp_server.experiment_events(eid)
    qs = record_q(run.values["ds"]["records"])
    assert len(events["spans"]) == 4
    for s in events["spans"]:
        want = EXPECT[qs[span_tag(s, "dataset_record_id")]]
        assert s["name"] == "async_task" and s["meta"]["output"] == want["out"]
        m = by_label(s)
        assert set(m) == {"exact_match", "async_exact", "async_len"}
        assert m["exact_match"]["boolean_value"] is want["exact_match"]
        assert m["async_exact"]["boolean_value"] is want["exact_match"]
        assert m["async_len"]["score_value"] == len(want["out"])
    check_joined(events, posted_metrics(run.requests("run"), eid))
    assert [m["score_value"] for m in events["summary_metrics"]] == [pytest.approx(0.75)]


def test_failing_summary_evaluator(exp_server, variants_run):
    """A failing summary evaluator: a summary metric with a null value and an error; status failed."""
    run = variants_run
    run.ok("summary_fails")
    eid = run.values["summary_fails"]["id"]
    events = exp_server.experiment_events(eid)
    assert len(events["summary_metrics"]) == 1
    sm = events["summary_metrics"][0]
    assert (sm["label"], sm["metric_type"], sm["categorical_value"]) == ("broken_summary", "categorical", None)
    assert sm["error"]["type"] == "ValueError" and sm["error"]["message"] == "summary failed on purpose"
    stored = exp_server.experiment_get(eid)
    assert stored["status"] == "failed" and stored["error"], stored
    assert all([m["label"] for m in s["eval_metrics"]] == ["bool_eval"] for s in events["spans"])


CHILDREN = COMMON + r'''
enable()
A = ARGS
ds = LLMObs.create_dataset(dataset_name=A["ds_name"], records=A["records"])
R["ds"] = ds_info(ds)
def nested_task(input_data, config):
    with LLMObs.workflow(name="plan"):
        with LLMObs.llm(model_name="stub", name="answer") as span:
            out = ANSWERS[input_data["q"]]
            LLMObs.annotate(span=span, input_data=input_data["q"], output_data=out)
    return out
exp = LLMObs.experiment(name=A["name"], task=nested_task, dataset=ds, evaluators=[exact_match])
call("run", lambda: (exp.run(jobs=2), LLMObs.flush()) and None)
R["id"] = exp._id
'''


def test_child_spans_of_tasks_are_not_rows(exp_server):
    """Spans a task opens (a workflow and an LLM call per record) reach span intake but
    stay out of the experiment's events: one span per record, as the client expects."""
    run = run_llmobs(exp_server, CHILDREN, args={"project": unique("child-proj"), "ds_name": unique("child-ds"),
                                                 "name": unique("children"), "records": RECORDS})
    run.ok("run")
    eid = run.values["id"]
    sent = [span for r in run.requests("run") if r["path"].endswith("/api/v2/llmobs")
            for wrapper in r["body"] for span in wrapper["spans"]]
    kinds = sorted(s["meta"]["span"]["kind"] for s in sent)
    assert kinds == ["experiment"] * 4 + ["llm"] * 4 + ["workflow"] * 4, kinds
    # The children carry the experiment's id like their record span: only their parent
    # tells them apart.
    children = [s for s in sent if s["meta"]["span"]["kind"] != "experiment"]
    assert all(span_tag(s, "experiment_id") == eid for s in children), children[0]["tags"]
    assert all(s["parent_id"] not in ("undefined", "0", "") for s in children)
    events = exp_server.experiment_events(eid)
    assert len(events["spans"]) == 4
    assert all(s["name"] == "nested_task" for s in events["spans"])
    assert all(s["meta"]["span"]["kind"] == "experiment" for s in events["spans"])
