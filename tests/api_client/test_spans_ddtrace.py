"""Spans written by the real ddtrace 4.16.0, read back through the official client's spans
calls: an application's traces (workflow, llm, tool) and an experiment run (interop).
"""

from __future__ import annotations

import pytest

from datadog_api_client.v2.model.llm_obs_search_spans_request import LLMObsSearchSpansRequest
from datadog_api_client.v2.model.llm_obs_search_spans_request_attributes import (
    LLMObsSearchSpansRequestAttributes,
)
from datadog_api_client.v2.model.llm_obs_search_spans_request_data import LLMObsSearchSpansRequestData
from datadog_api_client.v2.model.llm_obs_search_spans_request_type import LLMObsSearchSpansRequestType
from datadog_api_client.v2.model.llm_obs_span_filter import LLMObsSpanFilter
from datadog_api_client.v2.model.llm_obs_span_page_query import LLMObsSpanPageQuery
from query_support import query_api, query_server, run_llmobs, unique  # noqa: F401

APP = r'''
enable(ml_app=ARGS["ml_app"])
traces = []
for question, answer in ARGS["qa"]:
    with LLMObs.workflow(name="answer_question", session_id=ARGS["session"]) as wf:
        LLMObs.annotate(span=wf, input_data=question, output_data=answer, tags={"team": "search"})
        with LLMObs.llm(model_name="gpt-4o-mini", model_provider="openai", name="chat") as llm:
            LLMObs.annotate(span=llm, input_data=[{"role": "user", "content": question}],
                            output_data=[{"role": "assistant", "content": answer}],
                            metrics={"input_tokens": 11, "output_tokens": 3})
        with LLMObs.tool(name="lookup") as tool:
            LLMObs.annotate(span=tool, input_data=question.split()[-1], output_data="found")
        exported = LLMObs.export_span(wf)
        traces.append({"trace_id": exported["trace_id"], "span_id": exported["span_id"],
                       "llm": LLMObs.export_span(llm)["span_id"], "tool": LLMObs.export_span(tool)["span_id"]})
R["traces"] = traces
'''

QA = [["Which river flows through Vienna?", "The Danube."],
      ["Who painted the Sistine Chapel ceiling?", "Michelangelo painted it."]]


def search(api, query, limit=100, **kw):
    attributes = LLMObsSearchSpansRequestAttributes(
        filter=LLMObsSpanFilter(query=query, _from="now-1h", **kw), page=LLMObsSpanPageQuery(limit=limit))
    return api.search_llm_obs_spans(body=LLMObsSearchSpansRequest(data=LLMObsSearchSpansRequestData(
        attributes=attributes, type=LLMObsSearchSpansRequestType.SPANS)))


@pytest.fixture(scope="module")
def app_run(query_server):
    ml_app = unique("ddtrace-app")
    run = run_llmobs(query_server, APP, args={"ml_app": ml_app, "qa": QA, "session": "sess-42"})
    assert run.values.get("traces"), run
    return ml_app, run.values["traces"]


def test_ddtrace_traces_read_back_field_by_field(query_api, app_run):
    ml_app, traces = app_run
    for (question, answer), trace in zip(QA, traces):
        got = query_api.list_llm_obs_spans(filter_trace_id=trace["trace_id"], filter_from="now-1h")
        by_kind = {d.attributes.span_kind: d.attributes for d in got.data}
        assert sorted(by_kind) == ["llm", "tool", "workflow"]
        wf, llm, tool = by_kind["workflow"], by_kind["llm"], by_kind["tool"]
        assert (wf.span_id, llm.span_id, tool.span_id) == (trace["span_id"], trace["llm"], trace["tool"])
        assert {a.ml_app for a in by_kind.values()} == {ml_app}
        assert {a.trace_id for a in by_kind.values()} == {trace["trace_id"]}
        assert (wf.name, llm.name, tool.name) == ("answer_question", "chat", "lookup")
        assert (wf.input.value, wf.output.value) == (question, answer)
        assert wf.parent_id == "undefined" and llm.parent_id == wf.span_id and tool.parent_id == wf.span_id
        assert [(m.role, m.content) for m in llm.input.messages] == [("user", question)]
        assert [(m.role, m.content) for m in llm.output.messages] == [("assistant", answer)]
        assert (llm.model_name, llm.model_provider) == ("gpt-4o-mini", "openai")
        assert llm.metrics["input_tokens"] == 11 and llm.metrics["output_tokens"] == 3
        assert tool.input.value == question.split()[-1]
        assert "team:search" in wf.tags and all(a.status == "ok" for a in by_kind.values())
        assert all(a.duration > 0 and a.start_ns > 0 for a in by_kind.values())


def test_ddtrace_spans_by_query(query_api, app_run):
    ml_app, traces = app_run
    every = {t[k] for t in traces for k in ("span_id", "llm", "tool")}
    assert {d.id for d in search(query_api, f"@ml_app:{ml_app}").data} == every
    got = search(query_api, f"@ml_app:{ml_app} Danube")
    assert {d.id for d in got.data} == {traces[0]["span_id"], traces[0]["llm"]}
    got = search(query_api, f'@ml_app:{ml_app} "Sistine Chapel" -@span_kind:workflow')
    assert {d.id for d in got.data} == {traces[1]["llm"]}
    got = search(query_api, f"@ml_app:{ml_app} @session_id:sess-42 @span_kind:workflow")
    assert {d.id for d in got.data} == {t["span_id"] for t in traces}
    got = search(query_api, f"@ml_app:{ml_app} team:search")
    assert {d.id for d in got.data} == {t["span_id"] for t in traces}


EXPERIMENT = r'''
enable(ml_app=ARGS["ml_app"])
ds = LLMObs.create_dataset(dataset_name=ARGS["ds"], records=ARGS["records"])
def task(input_data, config):
    with LLMObs.tool(name="capital_lookup") as t:
        LLMObs.annotate(span=t, input_data=input_data["country"], output_data=ARGS["capitals"][input_data["country"]])
    return ARGS["capitals"][input_data["country"]]
def exact(input_data, output_data, expected_output):
    return output_data == expected_output
exp = LLMObs.experiment(name=ARGS["name"], task=task, dataset=ds, evaluators=[exact])
exp.run(jobs=1)
R["exp"] = exp_info(exp)
'''


def test_an_experiment_run_by_ddtrace_reads_back_through_the_spans_calls(query_server, query_api):
    from llmobs_common import COMMON

    capitals = {"France": "Paris", "Japan": "Tokyo", "Peru": "Lima"}
    records = [{"input_data": {"country": c}, "expected_output": cap} for c, cap in capitals.items()]
    run = run_llmobs(query_server, COMMON + EXPERIMENT, args={
        "ml_app": unique("exp-app"), "ds": unique("capitals"), "name": unique("capitals-exp"),
        "records": records, "capitals": capitals, "project": unique("query-proj")})
    eid = run.values["exp"]["id"]
    got = query_api.list_llm_obs_spans(filter_query=f"@experiment_id:{eid}", filter_from="now-1h", page_limit=100)
    kinds = sorted(d.attributes.span_kind for d in got.data)
    assert kinds == ["experiment"] * 3 + ["tool"] * 3, kinds
    roots = [d.attributes for d in got.data if d.attributes.span_kind == "experiment"]
    tools = [d.attributes for d in got.data if d.attributes.span_kind == "tool"]
    assert sorted(a.output.value for a in roots) == sorted(capitals.values())
    assert sorted((a.input.value, a.output.value) for a in tools) == sorted(capitals.items())
    # Every tool span is a child of one of the record spans, in its trace.
    root_by_trace = {a.trace_id: a.span_id for a in roots}
    assert all(root_by_trace[t.trace_id] == t.parent_id for t in tools)
    # The experiment's spans are found by free text and by span kind too.
    found = search(query_api, f"@experiment_id:{eid} Lima")
    assert sorted(d.attributes.span_kind for d in found.data) == ["experiment", "tool"]
    found = search(query_api, "@span_kind:experiment Tokyo")
    assert [d.attributes.output.value for d in found.data] == ["Tokyo"]
