"""Shared pieces of the datasets/experiments compat tests: scenario code, expectations, checks.

``COMMON`` is Python source prepended to client scenarios (``run_llmobs``): the task, the
evaluators and small helpers. The functions below compare what the server stored (E4, E12)
with what the client sent and what the evaluators must have produced.
"""

from __future__ import annotations

import re

import pytest

from harness import V1, span_tag

COMMON = r'''
import asyncio, threading, time
from ddtrace.llmobs import (BaseEvaluator, BaseSummaryEvaluator, EvaluatorResult, RemoteEvaluator)
try:
    from ddtrace.llmobs import MultiEvaluatorResult
except ImportError:  # not exported by older clients
    MultiEvaluatorResult = None

ANSWERS = {"What is the capital of France?": "Paris", "What is 2+2?": "4",
           "What is the capital of Japan?": "Kyoto", "Which planet is the largest?": "Jupiter"}

def qa_task(input_data, config):
    return ANSWERS.get(input_data["q"], "unknown")

def exact_match(input_data, output_data, expected_output):
    return output_data == expected_output

def answer_quality(input_data, output_data, expected_output):
    ok = isinstance(output_data, str) and expected_output is not None and expected_output.lower() in output_data.lower()
    return EvaluatorResult(value=ok, reasoning="found" if ok else "missing", assessment="pass" if ok else "fail",
                           metadata={"output_len": len(output_data or "")}, tags={"kind": "rule"})

class LengthScore(BaseEvaluator):
    def __init__(self):
        super().__init__(name="length_score")
    def evaluate(self, context):
        return min(1.0, len(str(context.output_data)) / 10.0)

class PassRate(BaseSummaryEvaluator):
    def __init__(self):
        super().__init__(name="pass_rate")
    def evaluate(self, context):
        vals = context.evaluation_results.get("exact_match", [])
        return sum(1 for v in vals if v) / len(vals) if vals else 0.0

def exp_info(exp):
    inner = getattr(exp, "_experiment", exp)
    return {"id": getattr(exp, "_id", None) or inner._id, "url": getattr(exp, "url", None) or inner.url,
            "run_name": getattr(inner, "_run_name", None)}

def rows_of(result):
    out = []
    for row in (result or {}).get("rows", []):
        out.append({k: _plain(row.get(k)) for k in ("idx", "record_id", "span_id", "trace_id", "output", "error",
                                                       "evaluations")})
    return out
'''

RECORDS = [
    {"input_data": {"q": "What is the capital of France?"}, "expected_output": "Paris", "metadata": {"topic": "geo"}},
    {"input_data": {"q": "What is 2+2?"}, "expected_output": "4", "tags": ["topic:math"]},
    {"input_data": {"q": "What is the capital of Japan?"}, "expected_output": "Tokyo"},
    {"input_data": {"q": "Which planet is the largest?"}, "expected_output": "Jupiter", "id": "planet-record"},
]

# q → task output and the value of each evaluator of the main experiment
EXPECT = {
    "What is the capital of France?": {"out": "Paris", "exact_match": True, "answer_quality": True,
                                       "length_score": 0.5, "has": True},
    "What is 2+2?": {"out": "4", "exact_match": True, "answer_quality": True, "length_score": 0.1, "has": False},
    "What is the capital of Japan?": {"out": "Kyoto", "exact_match": False, "answer_quality": False,
                                      "length_score": 0.5, "has": False},
    "Which planet is the largest?": {"out": "Jupiter", "exact_match": True, "answer_quality": True,
                                     "length_score": 0.7, "has": False},
}
MAIN_LABELS = {"exact_match", "answer_quality", "length_score", "has"}


# -- helpers -----------------------------------------------------------------------------


def kind_of(req: dict) -> str:
    """A short name for a recorded request (E1, E8, E9:<status>, E11:<source>, E13, E15, …)."""
    path, method = req["path"].split("?")[0], req["method"]
    if path.endswith("/projects"):
        return "E1"
    if path.endswith("/experiments") and method == "POST":
        return "E8"
    if re.search(r"/experiments/[^/]+$", path) and method == "PATCH":
        return "E9:" + str(req["body"]["data"]["attributes"].get("status"))
    if path.endswith("/events") and method == "POST":
        a = req["body"]["data"]["attributes"]
        sources = {m["metric_source"] for m in a.get("metrics", [])}
        return "E11:" + ("spans" if a.get("spans") else "/".join(sorted(sources)) or "empty")
    if path.endswith("/infer"):
        return "E13"
    if path.endswith("/api/v2/llmobs"):
        return "E15"
    if path.endswith("/eval-metric"):
        return "E16"
    if "/datasets" in path:
        return "dataset"
    return f"{method} {path}"


def collapse(kinds: list[str]) -> list[str]:
    """Collapse runs of the same kind into one entry (``E11:custom+``)."""
    out: list[str] = []
    for k in kinds:
        if out and out[-1].rstrip("+") == k:
            out[-1] = k + "+"
        else:
            out.append(k)
    return out


def api_sequence(reqs: list[dict]) -> list[str]:
    return collapse([k for k in map(kind_of, reqs) if k not in ("E13", "E15", "dataset")])


def posted_metrics(reqs: list[dict], experiment_id: str) -> list[dict]:
    out = []
    for r in reqs:
        if r["method"] == "POST" and r["path"] == f"{V1}/experiments/{experiment_id}/events":
            assert r["status"] in (200, 202), r
            out.extend(r["body"]["data"]["attributes"]["metrics"])
    return out


def intake_spans(reqs: list[dict], experiment_id: str) -> list[dict]:
    out = []
    for r in reqs:
        if r["path"].endswith("/api/v2/llmobs"):
            assert 200 <= r["status"] < 300, r
            for wrapper in r["body"]:
                for span in wrapper["spans"]:
                    if span_tag(span, "experiment_id") == experiment_id:
                        out.append({"wrapper_scope": wrapper.get("_dd.scope"), **span})
    return out


def value_of(metric: dict):
    key = f"{metric['metric_type']}_value"
    assert key in metric, f"metric without {key}: {metric}"
    return metric[key]


def by_label(span: dict) -> dict[str, dict]:
    labels = [m["label"] for m in span["eval_metrics"]]
    assert len(labels) == len(set(labels)), f"span {span['span_id']}: more than one metric per label: {labels}"
    return {m["label"]: m for m in span["eval_metrics"]}


def contains(stored: dict, sent: dict) -> bool:
    return all(k in stored and stored[k] == v for k, v in sent.items())


def check_joined(events: dict, sent: list[dict]) -> None:
    """Every per-record metric the client sent is stored, unchanged, under the span it names (case 28)."""
    spans = {s["span_id"]: s for s in events["spans"]}
    for m in sent:
        if m["metric_source"] != "custom":
            continue
        span = spans.get(m["span_id"])
        assert span is not None, f"metric {m['label']} names span {m['span_id']} which E12 does not return"
        assert span["trace_id"] == m["trace_id"]
        same = [s for s in span["eval_metrics"] if s["label"] == m["label"] and s["timestamp_ms"] == m["timestamp_ms"]]
        assert len(same) == 1 and contains(same[0], m), f"stored {same} != sent {m}"


def record_q(records: list[dict]) -> dict[str, str]:
    """record id → question of a client dataset object's records."""
    return {r["record_id"]: r["input_data"]["q"] for r in records}


def check_main_spans(spans: list[dict], qs: dict[str, str], experiment_id: str, dataset_id: str) -> None:
    for span in spans:
        rid = span_tag(span, "dataset_record_id")
        q = qs[rid]
        want = EXPECT[q]
        assert span["name"] == "qa_task" and span["status"] == "ok"
        assert span_tag(span, "experiment_id") == experiment_id and span_tag(span, "dataset_id") == dataset_id
        assert span["meta"]["input"] == {"q": q} and span["meta"]["output"] == want["out"]
        metrics = by_label(span)
        assert set(metrics) == MAIN_LABELS, sorted(metrics)
        for label in MAIN_LABELS:
            m = metrics[label]
            assert value_of(m) == pytest.approx(want[label]), (q, label, m)
            assert m["status"] == "OK" and m["metric_source"] == "custom" and m["error"] is None, m
            assert m["span_id"] == span["span_id"] and m["experiment_id"] == experiment_id
        assert metrics["exact_match"]["metric_type"] == "boolean"
        assert metrics["length_score"]["metric_type"] == "score"
        q_m = metrics["answer_quality"]
        assert q_m["metric_type"] == "boolean" and q_m["tags"] == ["kind:rule"]
        assert q_m["reasoning"] == ("found" if want["answer_quality"] else "missing")
        assert q_m["assessment"] == ("pass" if want["answer_quality"] else "fail")
        assert q_m["metadata"] == {"output_len": len(want["out"])}
        has = metrics["has"]
        assert has["metric_type"] == "boolean" and has["eval_source_type"] == "managed"
        assert has["assessment"] == ("pass" if want["has"] else "fail") and has["reasoning"], has


# -- datasets --------------------------------------------------------------------------


def client_view(rec: dict) -> dict:
    """A record of the client's dataset object, in the shape we compare."""
    return {
        "id": rec["record_id"],
        "input": rec["input_data"],
        "expected_output": rec.get("expected_output"),
        "metadata": rec.get("metadata") or {},
        "tags": sorted(rec.get("tags") or []),
    }


def server_view(rec: dict) -> dict:
    """A record of E4 (``{"id", **attributes}``), mapped the way the client maps it (§E4)."""
    assert "input" in rec, f"E4 record without 'input' (the client indexes it): {rec}"
    return {
        "id": rec["id"],
        "input": rec["input"],
        "expected_output": rec.get("expected_output"),
        "metadata": rec.get("metadata") or {},
        "tags": sorted(rec.get("tags") or []),
    }


def by_id(views: list[dict]) -> dict[str, dict]:
    out = {v["id"]: v for v in views}
    assert len(out) == len(views), f"duplicate record ids in {[v['id'] for v in views]}"
    return out


def stored(server, project_id: str, dataset_id: str, **kw) -> dict[str, dict]:
    return by_id([server_view(r) for r in server.records(project_id, dataset_id, **kw)])
