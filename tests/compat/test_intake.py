"""Intake, origins and pages (spec experiments.md §1.1, E15, E16, §8 cases 50–52).

* An override origin with a path prefix (the server runs with ``--base-path``): every
  request arrives under the prefix (read from the server's request log) and the flow
  completes.
* ``agentless_enabled=False``: spans arrive at ``/evp_proxy/v2/api/v2/llmobs`` without a key.
* ``submit_evaluation``: E16 accepted and stored.
* Raw: gzip span intake, malformed intake bodies, the HTML pages.
"""

from __future__ import annotations

import gzip
import json
import re

from harness import V1, V2, run_llmobs, span_tag, unique
from llmobs_common import COMMON, EXPECT, RECORDS, by_label, check_joined, posted_metrics, record_q

FLOW = COMMON + r'''
enable(**ARGS.get("enable", {}))
A = ARGS
ds = call("create", lambda: LLMObs.create_dataset(dataset_name=A["ds_name"], records=A["records"]))
def change():
    ds.update(0, {"metadata": {"topic": "geography"}})
    ds.append({"input_data": {"q": "What is the capital of Italy?"}, "expected_output": "Rome", "id": "extra"})
    ds.push()
call("push", change)
pulled = call("pull", lambda: LLMObs.pull_dataset(dataset_name=A["ds_name"], version=1))
R["pulled"] = ds_info(pulled)
evaluators = [exact_match, LengthScore()] + ([RemoteEvaluator(eval_name="has")] if A.get("remote") else [])
exp = LLMObs.experiment(name=A["name"], task=qa_task, dataset=pulled, evaluators=evaluators,
                        summary_evaluators=[PassRate()])
call("run", lambda: exp.run(jobs=2))
R["exp"] = exp_info(exp)
call("list", lambda: LLMObs.list_experiments(experiment_name=A["name"]))
'''


def check_flow(server, run, labels: set[str]) -> str:
    """The stored state of FLOW: dataset version 1 pulled, experiment completed, spans and metrics."""
    pulled = run.values["pulled"]
    assert (pulled["version"], pulled["latest_version"], pulled["len"]) == (1, 2, 4)
    pid = pulled["project"]["_id"]
    assert len(server.records(pid, pulled["id"])) == 5 and len(server.records(pid, pulled["id"], version=1)) == 4
    eid = run.values["exp"]["id"]
    run.ok("run")
    stored = server.experiment_get(eid)
    assert (stored["status"], stored["error"], stored["dataset_version"]) == ("completed", None, 1)
    events = server.experiment_events(eid)
    assert len(events["spans"]) == 4
    qs = record_q(pulled["records"])
    for s in events["spans"]:
        m = by_label(s)
        assert set(m) == labels
        want = EXPECT[qs[span_tag(s, "dataset_record_id")]]
        for label in labels:
            assert m[label][f"{m[label]['metric_type']}_value"] == want[label], (label, m[label])
    check_joined(events, posted_metrics(run.requests("run"), eid))
    assert [x["score_value"] for x in events["summary_metrics"]] == [0.75]
    assert [e["id"] for e in run.ok("list")] == [eid]
    return eid


def test_origin_with_path_prefix(make_server, tmp_path_factory, judge):
    """Case 50: ``DD_LLMOBS_OVERRIDE_ORIGIN=http://127.0.0.1:PORT/llmobs-base``."""
    from harness import evaluator_server

    server = evaluator_server(make_server, tmp_path_factory.mktemp("ev"), None, name="prefixed",
                              base_path="/llmobs-base")
    origin = f"{server.root}/llmobs-base"
    run = run_llmobs(server, FLOW, origin=origin, args={
        "project": unique("prefix-proj"), "ds_name": unique("prefix-ds"), "name": unique("prefix"),
        "records": RECORDS, "remote": True})
    check_flow(server, run, {"exact_match", "length_score", "has"})
    assert all(r["base"] == origin for r in run.all_requests), {r["base"] for r in run.all_requests}
    n_client = len(run.all_requests)
    server.stop()
    paths = re.findall(r'path="([^"]+)"', server.stderr_text())
    assert paths, "the server logged no request paths"
    outside = [p for p in paths if p != "/healthz" and not p.startswith("/llmobs-base/")]
    assert outside == [], f"requests outside the prefix: {outside}"
    inside = [p for p in paths if p.startswith("/llmobs-base/")]
    assert len(inside) >= n_client
    for wanted in ("/llmobs-base/api/unstable/llm-obs/v1/projects", "/llmobs-base/api/v2/llmobs",
                   "/llmobs-base/api/unstable/llm-obs/v1/evaluators/has/infer"):
        assert wanted in inside, wanted
    assert any(p.startswith("/llmobs-base/api/v2/llm-obs/v1/") and p.endswith("/records") for p in inside)


def test_agent_proxy_mode(exp_server):
    """Case 51: spans to /evp_proxy/v2/api/v2/llmobs with the EVP subdomain header and no key."""
    run = run_llmobs(exp_server, FLOW, env_extra={"DD_LLMOBS_AGENTLESS_ENABLED": None}, args={
        "project": unique("proxy-proj"), "ds_name": unique("proxy-ds"), "name": unique("proxy"),
        "records": RECORDS, "enable": {"agentless_enabled": False}})
    eid = check_flow(exp_server, run, {"exact_match", "length_score"})
    intake = [r for r in run.all_requests if r["path"].endswith("/api/v2/llmobs")]
    assert intake and all(r["path"] == "/evp_proxy/v2/api/v2/llmobs" for r in intake), [r["path"] for r in intake]
    for r in intake:
        assert r["headers"].get("x-datadog-evp-subdomain") == "llmobs-intake"
        assert "dd-api-key" not in r["headers"] and 200 <= r["status"] < 300, r["headers"]
    api = [r for r in run.all_requests if "/llm-obs/" in r["path"]]
    assert api and all(r["headers"].get("dd-api-key") == exp_server.api_key and
                       r["headers"].get("dd-application-key") == exp_server.app_key for r in api)
    sent = sum(1 for r in intake for w in r["body"] for s in w["spans"] if span_tag(s, "experiment_id") == eid)
    assert sent == 4


def test_proxy_intake_needs_the_evp_header(exp_server):
    body = [{"event_type": "span", "spans": [{"trace_id": "1", "span_id": "2", "name": "n", "tags": []}]}]
    r = exp_server.x("POST", "/evp_proxy/v2/api/v2/llmobs", json_body=body, api_key=None, app_key=None)
    assert r.status in (401, 403), r
    r = exp_server.x("POST", "/evp_proxy/v2/api/v2/llmobs", json_body=body, api_key=None, app_key=None,
                     headers={"X-Datadog-EVP-Subdomain": "llmobs-intake"})
    assert 200 <= r.status < 300, r


SUBMIT = r'''
enable()
with LLMObs.workflow(name="compat-wf") as span:
    LLMObs.annotate(span, input_data="hi", output_data="there")
    exported = LLMObs.export_span(span)
R["exported"] = _plain(exported)
call("submit", lambda: LLMObs.submit_evaluation(
    label=ARGS["label"], metric_type="score", value=0.5, span=exported, tags={"k": "v"},
    assessment="pass", reasoning="ok", metadata={"m": 1}))
LLMObs.flush()
'''


def test_submit_evaluation(exp_server):
    """Case 52: E16 accepted (2xx) and stored; the workflow span goes through E15."""
    label = "helpful_" + unique("x").replace("-", "_")
    run = run_llmobs(exp_server, SUBMIT, args={"project": unique("submit-proj"), "label": label})
    run.ok("submit")
    exported = run.values["exported"]
    e16 = [r for r in run.all_requests if r["path"].endswith("/api/intake/llm-obs/v2/eval-metric")]
    assert len(e16) == 1 and 200 <= e16[0]["status"] < 300, e16
    assert "dd-application-key" not in e16[0]["headers"] and e16[0]["headers"]["dd-api-key"] == exp_server.api_key
    metric = e16[0]["body"]["data"]["attributes"]["metrics"][0]
    assert metric["join_on"]["span"] == {"span_id": exported["span_id"], "trace_id": exported["trace_id"]}
    e15 = [r for r in run.all_requests if r["path"].endswith("/api/v2/llmobs")]
    assert e15 and all(200 <= r["status"] < 300 for r in e15)
    rows = exp_server.db_rows("SELECT body FROM eval_metrics WHERE label = ?", (label,))
    assert len(rows) == 1, rows
    stored = json.loads(rows[0][0])
    assert {k: stored.get(k) for k in ("label", "metric_type", "score_value", "assessment", "reasoning", "metadata")} \
        == {"label": label, "metric_type": "score", "score_value": 0.5, "assessment": "pass", "reasoning": "ok",
            "metadata": {"m": 1}}
    assert stored["join_on"] == metric["join_on"] and "k:v" in stored["tags"]
    spans = exp_server.db_rows("SELECT body FROM llmobs_spans WHERE span_id = ?", (exported["span_id"],))
    assert len(spans) == 1 and json.loads(spans[0][0])["name"] == "compat-wf"


def test_gzip_and_malformed_intake(exp_server):
    pid = exp_server.project(unique("gz-proj"))
    r = exp_server.x("POST", f"{V1}/{pid}/datasets",
                     json_body={"data": {"type": "datasets", "attributes": {"name": unique("gz"), "description": ""}}})
    did = r.json()["data"]["id"]
    r = exp_server.x("POST", f"{V1}/experiments", json_body={"data": {"type": "experiments", "attributes": {
        "name": "gz", "dataset_id": did, "project_id": pid, "dataset_version": 0, "metadata": {"tags": []}}}})
    eid = r.json()["data"]["id"]
    spans = [{"trace_id": f"{n:032x}", "span_id": str(1000 + n), "parent_id": "undefined", "name": "gz_task",
              "start_ns": 1795234552385000000 + n, "duration": 7, "status": "ok",
              "meta": {"span": {"kind": "experiment"}, "input": {"i": n, "pad": "p" * 2000}, "output": n},
              "metrics": {}, "tags": [f"experiment_id:{eid}", f"dataset_record_id:r{n}"],
              "_dd": {"scope": "experiments"}} for n in range(50)]
    body = gzip.compress(json.dumps([{"_dd.scope": "experiments", "event_type": "span", "spans": [s]}
                                     for s in spans]).encode())
    r = exp_server.x("POST", "/api/v2/llmobs", body=body, content_type="application/json", app_key=None,
                     headers={"Content-Encoding": "gzip"})
    assert 200 <= r.status < 300, r
    got = exp_server.experiment_events(eid)["spans"]
    assert sorted(int(s["span_id"]) for s in got) == list(range(1000, 1050))
    assert all(s["meta"]["input"]["pad"] == "p" * 2000 for s in got)
    for bad in (b"{not json", b'"a string"', json.dumps([{"no_spans": 1}]).encode()):
        r = exp_server.x("POST", "/api/v2/llmobs", body=bad, content_type="application/json", app_key=None)
        assert r.status == 400 and r.detail, (bad, r)
    r = exp_server.x("POST", "/api/intake/llm-obs/v2/eval-metric", body=b"[]", content_type="application/json",
                     app_key=None)
    assert r.status == 400 and r.detail, r
    r = exp_server.x("POST", "/api/v2/llmobs", body=b"\x1f\x8bnot gzip", content_type="application/json",
                     app_key=None, headers={"Content-Encoding": "gzip"})
    assert r.status == 400, r


def test_html_pages(exp_server):
    pid = exp_server.project(unique("page-proj"))
    name = unique("page-ds")
    r = exp_server.x("POST", f"{V1}/{pid}/datasets",
                     json_body={"data": {"type": "datasets", "attributes": {"name": name, "description": ""}}})
    did = r.json()["data"]["id"]
    exp_server.x("POST", f"{V2}/{pid}/datasets/{did}/batch_update", json_body={"data": {
        "type": "datasets", "id": did, "attributes": {"insert_records": [{"input": {"q": "page-record-q"}, "id": "p1"}],
                                                      "update_records": [], "delete_records": []}}})
    r = exp_server.x("POST", f"{V1}/experiments", json_body={"data": {"type": "experiments", "attributes": {
        "name": "page-exp-name", "dataset_id": did, "project_id": pid, "metadata": {"tags": []}}}})
    eid = r.json()["data"]["id"]
    for path, needle in ((f"/llm/experiments/{eid}", "page-exp-name"), (f"/llm/datasets/{did}", name)):
        r = exp_server.x("GET", path, api_key=None, app_key=None)
        assert r.status == 200 and r.headers["content-type"].startswith("text/html"), r
        assert needle in r.text
    assert "page-record-q" in exp_server.x("GET", f"/llm/datasets/{did}", api_key=None, app_key=None).text
    r = exp_server.x("GET", "/llm/experiments/00000000-0000-4000-8000-000000000000", api_key=None, app_key=None)
    assert r.status == 404, r
