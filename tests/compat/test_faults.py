"""Server faults seen by the real client (spec experiments.md §1.3, §4.3, §8 cases 36–38).

A ``FaultProxy`` on 127.0.0.1 sits between ddtrace and the server and answers chosen
requests with an error (optionally after forwarding them, so the server did act on them).
The tests check what the server ends up storing: nothing for a failed create, each metric
once although the client re-posted it, and an ``interrupted`` status after a rejected
summary post.
"""

from __future__ import annotations

import re

import pytest

from harness import V1, FaultProxy, run_llmobs, unique
from llmobs_common import COMMON, RECORDS, by_label

SCENARIO = COMMON + r'''
enable()
A = ARGS
ds = call("dataset", lambda: LLMObs.create_dataset(dataset_name=A["ds_name"], records=A["records"][:3]))
exp = LLMObs.experiment(name=A["name"], task=qa_task, dataset=ds, evaluators=[exact_match],
                        summary_evaluators=[PassRate()] if A.get("summary") else None)
call("run", lambda: exp.run(jobs=1))
R["id"] = getattr(exp, "_id", None)
'''


@pytest.fixture
def proxy_for(exp_server):
    started: list[FaultProxy] = []

    def make(rule) -> FaultProxy:
        proxy = FaultProxy(exp_server, rule)
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


def _run(exp_server, proxy, **args):
    name = unique("fault")
    run = run_llmobs(exp_server, SCENARIO, origin=proxy.origin, args={
        "project": unique("fault-proj"), "ds_name": unique("fault-ds"), "name": name, "records": RECORDS, **args})
    return run, name


def test_create_experiment_500_three_times(exp_server, proxy_for):
    """Case 36: E8 answered 500 on all three attempts ⇒ run() raises, nothing else is sent."""
    proxy = proxy_for(lambda method, path, body, seen:
                      ("fail", 500) if method == "POST" and path == f"{V1}/experiments" else None)
    run, name = _run(exp_server, proxy)
    res = run.err("run")
    assert res["exc"] == "ValueError", res
    e8 = [i for i, entry in enumerate(proxy.log) if entry[:2] == ("POST", f"{V1}/experiments")]
    assert len(e8) == 3 and all(proxy.log[i][2:] == ("fail", 500) for i in e8), proxy.log
    after = proxy.log[e8[-1] + 1:]
    assert [e for e in after if "/experiments" in e[1] or e[1].endswith("/api/v2/llmobs")] == [], after
    r = exp_server.x("GET", f"/api/v2/llm-obs/v1/experiments?filter[experiment]={name}")
    assert r.status == 200 and r.json()["data"] == [], r


def test_metrics_post_failing_is_reposted_and_stored_once(exp_server, proxy_for):
    """Case 38: the first per-record post reaches the server but the client sees 500 three times;
    the client re-posts those metrics with the next batch; the server keeps each once."""
    def rule(method, path, body, seen):
        if method == "POST" and re.fullmatch(rf"{V1}/experiments/[^/]+/events", path) and seen < 3:
            return ("forward_fail", 500)
        return None

    proxy = proxy_for(rule)
    run, name = _run(exp_server, proxy)
    run.ok("run")
    eid = run.values["id"]
    posts = [e for e in proxy.log if e[1] == f"{V1}/experiments/{eid}/events"]
    assert [e[2:] for e in posts[:3]] == [("forward_fail", 500)] * 3 and len(posts) >= 4, posts
    sent = [r for r in run.all_requests if r["path"] == f"{V1}/experiments/{eid}/events"]
    first = {(m["span_id"], m["label"]) for m in sent[0]["body"]["data"]["attributes"]["metrics"]}
    reposted = {(m["span_id"], m["label"]) for r in sent[3:] for m in r["body"]["data"]["attributes"]["metrics"]}
    assert first and first <= reposted, (first, reposted)
    events = exp_server.experiment_events(eid)
    assert len(events["spans"]) == 3
    for span in events["spans"]:
        assert list(by_label(span)) == ["exact_match"], span["eval_metrics"]
    assert exp_server.experiment_get(eid)["status"] == "completed"


def test_summary_post_rejected_interrupts(exp_server, proxy_for):
    """Case 37: a 4xx on the summary post ⇒ the client raises and the status ends ``interrupted``."""
    def rule(method, path, body, seen):
        if method == "POST" and path.endswith("/events") and body:
            metrics = body["data"]["attributes"].get("metrics") or []
            if any(m.get("metric_source") == "summary" for m in metrics):
                return ("fail", 400)
        return None

    proxy = proxy_for(rule)
    run, name = _run(exp_server, proxy, summary=True)
    res = run.err("run")
    assert res["exc"] in ("ValueError", "RuntimeError"), res
    eid = run.values["id"]
    assert any(e[2:] == ("fail", 400) for e in proxy.log), proxy.log
    stored = exp_server.experiment_get(eid)
    assert stored["status"] == "interrupted", stored
    events = exp_server.experiment_events(eid)
    assert events["summary_metrics"] == [] and len(events["spans"]) == 3
    assert all(list(by_label(s)) == ["exact_match"] for s in events["spans"])
