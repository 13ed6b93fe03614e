"""Interop between the official client and real ddtrace 4.16.0 on one server: a dataset made
with the official client is pulled by ddtrace, and an experiment run by ddtrace is read back
through the official client's experiment and events calls. (The SDK pulls an official-client
dataset in ``crates/sdk/tests/official.rs``.)"""

from __future__ import annotations

import models as m
from harness import run_llmobs, unique

RECORDS = [
    {"input": {"country": "France"}, "expected_output": "Paris", "metadata": {"continent": "Europe"}},
    {"input": {"country": "Japan"}, "expected_output": "Tokyo", "metadata": {"continent": "Asia"}},
    {"input": {"country": "Peru"}, "expected_output": "Lima", "metadata": {"continent": "America"}},
]

PULL = r'''
enable()
ds = call("pull", lambda: LLMObs.pull_dataset(dataset_name=ARGS["dataset"], project_name=ARGS["project"]))
R["ds"] = ds_info(ds)
'''

RUN = r'''
enable()
def capital(input_data, config):
    return {"France": "Paris", "Japan": "Tokyo"}.get(input_data["country"], "Cusco")
def exact(input_data, output_data, expected_output):
    return output_data == expected_output
ds = call("pull", lambda: LLMObs.pull_dataset(dataset_name=ARGS["dataset"], project_name=ARGS["project"]))
exp = LLMObs.experiment(name=ARGS["name"], task=capital, dataset=ds, evaluators=[exact],
                        description="ddtrace run", config={"model": "rules"})
res = call("run", lambda: exp.run(jobs=1))
R["id"] = exp._id
R["rows"] = [{"input": r["input"], "output": r["output"]} for r in res["rows"]]
'''


def make_dataset(api, project_name):
    from datadog_api_client.v2.model.llm_obs_project_data_attributes_request import (
        LLMObsProjectDataAttributesRequest,
    )
    from datadog_api_client.v2.model.llm_obs_project_data_request import LLMObsProjectDataRequest
    from datadog_api_client.v2.model.llm_obs_project_request import LLMObsProjectRequest
    from datadog_api_client.v2.model.llm_obs_project_type import LLMObsProjectType

    project = api.create_llm_obs_project(LLMObsProjectRequest(data=LLMObsProjectDataRequest(
        type=LLMObsProjectType.PROJECTS, attributes=LLMObsProjectDataAttributesRequest(name=project_name)))).data
    name = unique("capitals")
    dataset = api.create_llm_obs_dataset(project.id, m.dataset_create(name, "made by the official client")).data
    api.create_llm_obs_dataset_records(project.id, dataset.id, m.records_create(RECORDS))
    return project, dataset, name


def test_ddtrace_pulls_a_dataset_made_by_the_official_client(api, server):
    project_name = unique("interop")
    project, dataset, name = make_dataset(api, project_name)
    run = run_llmobs(server, PULL, args={"project": project_name, "dataset": name})
    ds = run.ok("pull") and run.values["ds"]
    assert ds["id"] == dataset.id and ds["name"] == name
    assert ds["version"] == 1 and ds["len"] == 3
    assert [(r["input_data"], r["expected_output"], r["metadata"]) for r in ds["records"]] == [
        (r["input"], r["expected_output"], r["metadata"]) for r in RECORDS
    ]


def test_an_experiment_run_by_ddtrace_is_read_by_the_official_client(api, server):
    project_name = unique("interop-exp")
    project, dataset, name = make_dataset(api, project_name)
    exp_name = unique("capital-rules")
    run = run_llmobs(server, RUN, args={"project": project_name, "dataset": name, "name": exp_name})
    run.ok("run")
    exp_id = run.values["id"]

    listed = api.list_llm_obs_experiments(filter_project_id=project.id).data
    assert [e.id for e in listed] == [exp_id]
    exp = listed[0].attributes
    assert exp.dataset_id == dataset.id and exp.description == "ddtrace run"
    assert m.plain(exp.config) == {"model": "rules"} and str(exp.status) == "completed"

    v1 = api.list_llm_obs_experiment_events_v1(exp_id).data
    # ddtrace's expected outputs are strings where the client's model wants an object, so the
    # client hands those span attributes back as plain dicts: read them as such.
    spans = [m.plain(s.attributes) for s in v1]
    assert [s.id for s in v1] == [s["span_id"] for s in spans]
    outputs = sorted(s["meta"]["output"] for s in spans)
    assert outputs == sorted(r["output"] for r in run.values["rows"]) == ["Cusco", "Paris", "Tokyo"]
    assert sorted(s["meta"]["expected_output"] for s in spans) == ["Lima", "Paris", "Tokyo"]
    metrics = {s["meta"]["output"]: [(e["label"], e["boolean_value"]) for e in s["eval_metrics"]] for s in spans}
    assert metrics == {"Paris": [("exact", True)], "Tokyo": [("exact", True)], "Cusco": [("exact", False)]}

    v2 = m.plain(api.list_llm_obs_experiment_events_v2(exp_id).data)
    assert v2["id"] == exp_id
    assert sorted(s["span_id"] for s in v2["attributes"]["spans"]) == sorted(s.id for s in v1)
    first = api.list_llm_obs_experiment_events(exp_id, page_limit=2)
    second = api.list_llm_obs_experiment_events(exp_id, page_limit=2, page_cursor=first.meta.after)
    pages = [m.plain(p.data)["attributes"]["spans"] for p in (first, second)]
    assert [len(p) for p in pages] == [2, 1]
    paged = [s["span_id"] for p in pages for s in p]
    assert sorted(paged) == sorted(s.id for s in v1) and not second.meta.after
