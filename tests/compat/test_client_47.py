"""The main flow against ddtrace 4.7.0, the oldest client the ``bootstrap`` generator targets.

The interpreter comes from ``DDTRACE_47_PYTHON`` (a python with ddtrace==4.7.0, see
``requirements-4.7.txt``). Without it these tests FAIL: CI must prove 4.7.0 works.

Flow: create a dataset, modify and push, pull by name and by an older version, run an
experiment with function, class, summary and remote evaluators (``runs=1`` and ``runs=2``),
then read it back: 4.7.0 has no ``list_experiments``/``pull_experiment``, so the listing
is checked on the raw API and the get-by-id through the client's own ``experiment_get``.
"""

from __future__ import annotations

import os
import re

import pytest

from harness import V2, ddtrace_47_python, run_llmobs, span_tag, unique
from llmobs_common import COMMON, RECORDS, api_sequence, by_id, check_joined, check_main_spans, client_view, \
    kind_of, posted_metrics, record_q, stored

FLOW_47 = COMMON + r'''
enable()
A = ARGS
R["version"] = ddtrace.__version__
ds = call("create", lambda: LLMObs.create_dataset(dataset_name=A["ds_name"], description="4.7 flow",
                                                 records=A["records"]))
R["v1"] = ds_info(ds)
def change():
    ds.update(0, {"expected_output": "Paris, France"})
    ds.append({"input_data": {"q": "What is the capital of Italy?"}, "expected_output": "Rome", "id": "italy"})
    ds.delete(2)
    ds.push()
call("push", change)
R["v2"] = ds_info(ds)
R["latest"] = ds_info(call("pull_latest", lambda: LLMObs.pull_dataset(dataset_name=A["ds_name"])))
old = call("pull_v1", lambda: LLMObs.pull_dataset(dataset_name=A["ds_name"], version=1))
R["old"] = ds_info(old)
exp = LLMObs.experiment(name=A["name"], task=qa_task, dataset=old,
                        evaluators=[exact_match, answer_quality, LengthScore(), RemoteEvaluator(eval_name="has")],
                        summary_evaluators=[PassRate()], config={"model": "m47"}, tags={"team": "ml"})
call("run", lambda: exp.run(jobs=4))
R["exp"] = exp_info(exp)
exp2 = LLMObs.experiment(name=A["name"] + "-runs2", task=qa_task, dataset=old,
                         evaluators=[exact_match, answer_quality, LengthScore(), RemoteEvaluator(eval_name="has")],
                         summary_evaluators=[PassRate()], runs=2)
call("run2", lambda: exp2.run(jobs=2))
R["exp2"] = exp_info(exp2)
def get():
    got = LLMObs._instance._dne_client.experiment_get(R["exp"]["id"])
    return {"name": got.name, "run_name": getattr(got, "_run_name", None), "id": got._id}
call("get", get)
'''


@pytest.fixture(scope="module")
def run_47(exp_server):
    if not os.environ.get("DDTRACE_47_PYTHON"):
        return None  # each test then fails through ddtrace_47_python()
    python = ddtrace_47_python()
    project, name = unique("v47-proj"), unique("v47")
    run = run_llmobs(exp_server, FLOW_47, python=python, args={
        "project": project, "ds_name": unique("v47-ds"), "name": name, "records": RECORDS})
    assert run["_ddtrace_version"] == "4.7.0", run["_ddtrace_version"]
    return run, project, name


def test_47_datasets(exp_server, run_47):
    ddtrace_47_python()
    run, project, name = run_47
    v1, v2 = run.values["v1"], run.values["v2"]
    pid, did = v1["project"]["_id"], v1["id"]
    assert (v1["version"], v1["latest_version"], v1["len"]) == (1, 1, 4)
    e5 = [r for r in run.requests("create") if r["path"].endswith("/batch_update")]
    assert len(e5) == 1 and len(e5[0]["body"]["data"]["attributes"]["insert_records"]) == 4
    assert stored(exp_server, pid, did, version=1) == by_id([client_view(r) for r in v1["records"]])
    assert [r["record_id"] for r in v1["records"]][3] == "planet-record"

    e5 = [r for r in run.requests("push") if r["path"].endswith("/batch_update")]
    assert len(e5) == 1 and e5[0]["status"] == 200
    a = e5[0]["body"]["data"]["attributes"]
    assert (len(a["insert_records"]), len(a["update_records"]), len(a["delete_records"])) == (1, 1, 1)
    assert (v2["version"], v2["latest_version"], v2["len"]) == (2, 2, 4)
    latest = stored(exp_server, pid, did)
    assert latest == by_id([client_view(r) for r in v2["records"]])
    assert latest["italy"]["expected_output"] == "Rome"
    assert exp_server.dataset_named(pid, v1["name"])["attributes"]["current_version"] == 2

    pulled = run.values["latest"]
    assert (pulled["version"], pulled["latest_version"]) == (2, 2)
    assert by_id([client_view(r) for r in pulled["records"]]) == latest
    old = run.values["old"]
    assert (old["version"], old["latest_version"]) == (1, 2)
    assert by_id([client_view(r) for r in old["records"]]) == by_id([client_view(r) for r in v1["records"]])
    assert all("filter[version]=1" in r["path"] for r in run.requests("pull_v1") if "/records" in r["path"])


def test_47_experiments(exp_server, run_47):
    ddtrace_47_python()
    run, project, name = run_47
    old = run.values["old"]
    pid, did = old["project"]["_id"], old["id"]
    qs = record_q(old["records"])
    run.ok("run")
    eid = run.values["exp"]["id"]
    reqs = run.requests("run")
    seq = api_sequence(reqs)
    assert seq[:3] == ["E1", "E8", "E9:running"] and seq[-2:] == ["E11:summary", "E9:completed"], seq
    e8 = next(r for r in reqs if kind_of(r) == "E8")["body"]["data"]["attributes"]
    assert (e8["name"], e8["dataset_id"], e8["project_id"], e8["dataset_version"]) == (name, did, pid, 1)

    stored_exp = exp_server.experiment_get(eid)
    assert (stored_exp["status"], stored_exp["error"], stored_exp["experiment"]) == ("completed", None, name)
    assert re.fullmatch(re.escape(name) + r"-\d{13}", stored_exp["name"])
    assert {"team:ml", "ddtrace.version:4.7.0", f"project_name:{project}"} <= set(stored_exp["metadata"]["tags"])
    events = exp_server.experiment_events(eid)
    assert len(events["spans"]) == 4
    check_main_spans(events["spans"], qs, eid, did)
    check_joined(events, posted_metrics(reqs, eid))
    assert [m["score_value"] for m in events["summary_metrics"]] == [pytest.approx(0.75)]

    run.ok("run2")
    eid2 = run.values["exp2"]["id"]
    stored2 = exp_server.experiment_get(eid2)
    assert (stored2["status"], stored2["run_count"]) == ("completed", 2)
    spans = exp_server.experiment_events(eid2)["spans"]
    assert len(spans) == 8 and sorted({span_tag(s, "run_iteration") for s in spans}) == ["1", "2"]
    check_main_spans(spans, qs, eid2, did)

    # list (raw E10, as 4.16's list_experiments sends it) and get through the 4.7 client
    r = exp_server.x("GET", f"{V2}/experiments?page[limit]=100&filter[project_id]={pid}")
    assert r.status == 200 and [e["id"] for e in r.json()["data"]] == [eid2, eid], r
    got = run.ok("get")
    assert got["id"] == eid and got["name"] == name and got["run_name"] == stored_exp["name"]
    # 4.7.0 sends the experiments API with an absolute-form request target (``GET http://host:port/api/…``)
    assert [r["path"] for r in run.requests("get")] == [f"{exp_server.root}{V2}/experiments?filter[id]={eid}"]
