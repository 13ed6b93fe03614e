"""Experimentation search, simple-search and analytics through the official
``datadog-api-client==2.62.0``, over projects, datasets, records and experiments made by the
real ddtrace 4.16.0 (datasets pushed, experiments run with evaluators).
"""

from __future__ import annotations

import json

import pytest

from datadog_api_client.exceptions import ApiException
from datadog_api_client.v2.model.llm_obs_experimentation_analytics_aggregate import (
    LLMObsExperimentationAnalyticsAggregate,
)
from datadog_api_client.v2.model.llm_obs_experimentation_analytics_compute import (
    LLMObsExperimentationAnalyticsCompute,
)
from datadog_api_client.v2.model.llm_obs_experimentation_analytics_data_attributes_request import (
    LLMObsExperimentationAnalyticsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_analytics_data_request import (
    LLMObsExperimentationAnalyticsDataRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_analytics_group_by import (
    LLMObsExperimentationAnalyticsGroupBy,
)
from datadog_api_client.v2.model.llm_obs_experimentation_analytics_request import (
    LLMObsExperimentationAnalyticsRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_analytics_search import (
    LLMObsExperimentationAnalyticsSearch,
)
from datadog_api_client.v2.model.llm_obs_experimentation_analytics_time_range import (
    LLMObsExperimentationAnalyticsTimeRange,
)
from datadog_api_client.v2.model.llm_obs_experimentation_content_preview import (
    LLMObsExperimentationContentPreview,
)
from datadog_api_client.v2.model.llm_obs_experimentation_cursor_page import LLMObsExperimentationCursorPage
from datadog_api_client.v2.model.llm_obs_experimentation_filter import LLMObsExperimentationFilter
from datadog_api_client.v2.model.llm_obs_experimentation_number_page import LLMObsExperimentationNumberPage
from datadog_api_client.v2.model.llm_obs_experimentation_search_data_attributes_request import (
    LLMObsExperimentationSearchDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_search_data_request import (
    LLMObsExperimentationSearchDataRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_search_request import (
    LLMObsExperimentationSearchRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_simple_search_data_attributes_request import (
    LLMObsExperimentationSimpleSearchDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_simple_search_data_request import (
    LLMObsExperimentationSimpleSearchDataRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_simple_search_request import (
    LLMObsExperimentationSimpleSearchRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_sort_field import LLMObsExperimentationSortField
from datadog_api_client.v2.model.llm_obs_experimentation_sort_field_direction import (
    LLMObsExperimentationSortFieldDirection,
)
from datadog_api_client.v2.model.llm_obs_experimentation_type import LLMObsExperimentationType
from query_support import client_for, query_api, query_server, run_llmobs, unique  # noqa: F401

RUN = r'''
enable(ml_app=ARGS["ml_app"])
out = {}
for key, spec in ARGS["experiments"].items():
    ds = LLMObs.create_dataset(dataset_name=spec["ds"], description=spec["description"], records=spec["records"])
    answers = spec["answers"]
    def task(input_data, config, answers=answers):
        return answers[input_data["country"]]
    def exact(input_data, output_data, expected_output):
        return output_data == expected_output
    def length(input_data, output_data, expected_output):
        return float(len(output_data))
    exp = LLMObs.experiment(name=spec["name"], task=task, dataset=ds, evaluators=[exact, length],
                            description=spec["description"])
    exp.run(jobs=1)
    out[key] = {"exp": exp_info(exp), "ds": ds_info(ds)}
R["out"] = out
'''

COUNTRIES = {"France": "Paris", "Japan": "Tokyo", "Peru": "Lima", "Kenya": "Nairobi"}
EXPERIMENTS = {
    "quiz": {"answers": {"France": "Paris", "Japan": "Kyoto", "Peru": "Lima", "Kenya": "Nairobi"},
             "description": "capital cities quiz"},
    "atlas": {"answers": dict(COUNTRIES), "description": "world atlas lookup"},
}


@pytest.fixture(scope="module")
def world(query_server):
    from llmobs_common import COMMON

    project = unique("exq-proj")
    experiments = {}
    for key, spec in EXPERIMENTS.items():
        experiments[key] = {**spec, "ds": unique(f"{key}-ds"), "name": unique(f"{key}-exp"),
                            "records": [{"input_data": {"country": c}, "expected_output": cap,
                                         "metadata": {"continent": "x"}} for c, cap in COUNTRIES.items()]}
    run = run_llmobs(query_server, COMMON + RUN, args={"ml_app": unique("exq"), "project": project,
                                                         "experiments": experiments})
    out = run.values["out"]
    for key in experiments:
        experiments[key]["id"] = out[key]["exp"]["id"]
        experiments[key]["dataset_id"] = out[key]["ds"]["id"]
        experiments[key]["project_id"] = out[key]["ds"]["project"]["_id"]
    return experiments


T = LLMObsExperimentationType.EXPERIMENTATION


def search(api, scope, query=None, cursor=None, limit=None, **filter_kw):
    page = LLMObsExperimentationCursorPage(**{k: v for k, v in (("cursor", cursor), ("limit", limit)) if v})
    filt = LLMObsExperimentationFilter(scope=scope, **({"query": query} if query is not None else {}), **filter_kw)
    attributes = LLMObsExperimentationSearchDataAttributesRequest(filter=filt, page=page)
    return api.search_llm_obs_experimentation(body=LLMObsExperimentationSearchRequest(
        data=LLMObsExperimentationSearchDataRequest(attributes=attributes, type=T)))


def simple(api, scope, query=None, number=1, limit=10, sort=None, preview=None):
    filt = LLMObsExperimentationFilter(scope=scope, **({"query": query} if query is not None else {}))
    attributes = LLMObsExperimentationSimpleSearchDataAttributesRequest(
        filter=filt, page=LLMObsExperimentationNumberPage(number=number, limit=limit))
    if sort:
        attributes.sort = [LLMObsExperimentationSortField(field=f, direction=LLMObsExperimentationSortFieldDirection(d))
                           for f, d in sort]
    if preview:
        attributes.content_preview = LLMObsExperimentationContentPreview(limit=preview)
    return api.simple_search_llm_obs_experimentation(body=LLMObsExperimentationSimpleSearchRequest(
        data=LLMObsExperimentationSimpleSearchDataRequest(attributes=attributes, type=T)))


def aggregate(api, compute, query="", group_by=(), **kw):
    agg = LLMObsExperimentationAnalyticsAggregate(
        compute=[LLMObsExperimentationAnalyticsCompute(**c) for c in compute], indexes=kw.pop("indexes", ["experiments"]),
        search=LLMObsExperimentationAnalyticsSearch(query=query),
        group_by=[LLMObsExperimentationAnalyticsGroupBy(field=f) for f in group_by], **kw)
    return api.aggregate_llm_obs_experimentation(body=LLMObsExperimentationAnalyticsRequest(
        data=LLMObsExperimentationAnalyticsDataRequest(
            attributes=LLMObsExperimentationAnalyticsDataAttributesRequest(aggregate=agg), type=T)))


def test_search_finds_every_entity_as_stored(world, query_api):
    got = search(query_api, ["projects", "datasets", "dataset_records", "experiments", "experiment_runs"], limit=100)
    attrs = got.data.attributes
    assert str(got.data.type) == "experimentation"
    project_id = world["quiz"]["project_id"]
    assert [p.id for p in attrs.projects] == [project_id]
    assert {d.id for d in attrs.datasets} == {w["dataset_id"] for w in world.values()}
    for d in attrs.datasets:
        spec = next(w for w in world.values() if w["dataset_id"] == d.id)
        assert (d.attributes.name, d.attributes.description, d.attributes.current_version) == (
            spec["ds"], spec["description"], 1)
    assert len(attrs.dataset_records) == 8
    stored = sorted((r.dataset_id, r.input["country"], r.expected_output) for r in attrs.dataset_records)
    assert stored == sorted((w["dataset_id"], c, cap) for w in world.values() for c, cap in COUNTRIES.items())
    assert {e["id"] for e in attrs.experiments} == {w["id"] for w in world.values()}
    for e in attrs.experiments:
        spec = next(w for w in world.values() if w["id"] == e["id"])
        # ddtrace names the run `<name>-<epoch ms>`; `experiment` keeps the name given.
        assert (e.experiment, e.description, e.dataset_id, e.project_id) == (
            spec["name"], spec["description"], spec["dataset_id"], project_id)
        assert e.name.startswith(spec["name"] + "-")
        assert e.dataset_name == spec["ds"] and str(e.status) == "completed"
    runs = attrs.experiment_runs
    assert sorted(r.experiment_id for r in runs) == sorted(w["id"] for w in world.values())
    assert all(r.run_number == 1 for r in runs)
    assert got.meta.after is None


def test_search_by_text_and_field(world, query_api):
    got = search(query_api, ["datasets", "experiments"], query="atlas")
    assert [d.id for d in got.data.attributes.datasets] == [world["atlas"]["dataset_id"]]
    assert [e["id"] for e in got.data.attributes.experiments] == [world["atlas"]["id"]]
    got = search(query_api, ["dataset_records"], query=f"dataset_id:{world['quiz']['dataset_id']} Kenya")
    assert [(r.dataset_id, r.to_dict()["input"]) for r in got.data.attributes.dataset_records] == [
        (world["quiz"]["dataset_id"], {"country": "Kenya"})]
    got = search(query_api, ["experiments"], query=f"-experiment_id:{world['quiz']['id']}")
    assert [e["id"] for e in got.data.attributes.experiments] == [world["atlas"]["id"]]
    got = search(query_api, ["projects", "datasets"], query="nothing-matches-this")
    assert (got.data.attributes.projects, got.data.attributes.datasets) == ([], [])
    # Scopes not asked for are absent.
    assert "experiments" not in got.data.attributes.to_dict()


def test_search_pages_by_cursor_with_206(world, query_server, query_api):
    seen, cursor, pages = [], None, 0
    while True:
        got = search(query_api, ["dataset_records"], cursor=cursor, limit=3)
        seen += [(r.dataset_id, r.id) for r in got.data.attributes.dataset_records]
        pages += 1
        cursor = got.meta.after
        if not cursor:
            break
    assert pages == 3 and len(seen) == 8 == len(set(seen))
    body = {"data": {"type": "experimentation", "attributes": {
        "filter": {"scope": ["dataset_records"]}, "page": {"limit": 3}}}}
    resp = query_server.request("POST", "/api/v2/llm-obs/v1/experimentation/search", json_body=body)
    assert resp.status == 206 and resp.json()["meta"]["after"]
    body["data"]["attributes"]["page"]["limit"] = 100
    resp = query_server.request("POST", "/api/v2/llm-obs/v1/experimentation/search", json_body=body)
    assert resp.status == 200 and resp.json()["meta"]["after"] is None


def test_simple_search_pages_sorts_and_previews(world, query_api):
    got = simple(query_api, ["datasets"], sort=[("name", "asc")], limit=1, number=2)
    names = sorted(w["ds"] for w in world.values())
    assert [d.attributes.name for d in got.data.attributes.datasets] == [names[1]]
    assert got.meta.page.to_dict() == {"current": 2, "limit": 1, "total_count": 2, "total_pages": 2}
    got = simple(query_api, ["dataset_records"], query="Kenya", preview=3, limit=10)
    records = got.data.attributes.dataset_records
    assert len(records) == 2 and all((r.to_dict()["input"], r.expected_output) == ({"country": "Ken"}, "Nai") for r in records)
    assert got.meta.page.total_count == 2


def test_analytics_aggregates_evaluations(world, query_api):
    quiz, atlas = world["quiz"]["id"], world["atlas"]["id"]
    got = aggregate(query_api, [{"metric": "count"}, {"metric": "avg(@boolean_value)", "name": "pass_rate"}],
                    query="label:exact", group_by=["experiment_id"])
    values = {v.by["experiment_id"]: v.metrics for v in got.data.attributes.result.values}
    assert values == {quiz: {"count": 4, "pass_rate": 0.75}, atlas: {"count": 4, "pass_rate": 1.0}}
    assert got.data.attributes.hit_count == 8
    got = aggregate(query_api, [{"metric": "avg:@score_value", "name": "mean"}, {"metric": "max:@score_value"}],
                    query=f"label:length experiment_id:{quiz}")
    lengths = [float(len(a)) for a in EXPERIMENTS["quiz"]["answers"].values()]
    [bucket] = got.data.attributes.result.values
    assert bucket.by == {} and bucket.metrics == {"mean": sum(lengths) / 4, "max:@score_value": max(lengths)}
    got = aggregate(query_api, [{"metric": "count"}, {"metric": "cardinality:@experiment_id", "name": "experiments"}],
                    group_by=["label"])
    assert [(v.by["label"], v.metrics["count"], v.metrics["experiments"])
            for v in got.data.attributes.result.values] == [("exact", 8, 2), ("length", 8, 2)]
    # A time range before any evaluation matches nothing.
    got = aggregate(query_api, [{"metric": "count"}], time=LLMObsExperimentationAnalyticsTimeRange(_from=0, to=1000))
    assert got.data.attributes.hit_count == 0


def detail(exc: ApiException) -> str:
    body = exc.body if isinstance(exc.body, dict) else json.loads(exc.body)
    return body["errors"][0]["detail"]


@pytest.mark.parametrize("call, field", [
    (lambda api: search(api, ["spans"]), "data.attributes.filter.scope"),
    (lambda api: search(api, ["datasets"], query="(open"), "data.attributes.filter.query"),
    (lambda api: search(api, ["datasets"], query="color:blue"), "data.attributes.filter.query"),
    (lambda api: search(api, ["datasets"], cursor="page-two"), "data.attributes.page.cursor"),
    (lambda api: search(api, ["datasets"], limit=100000), "data.attributes.page.limit"),
    (lambda api: simple(api, ["datasets"], sort=[("size", "asc")]), "data.attributes.sort"),
    (lambda api: aggregate(api, [{"metric": "count"}], indexes=["spans"]), "data.attributes.aggregate.indexes"),
    (lambda api: aggregate(api, [{"metric": "median:@score_value"}]), "data.attributes.aggregate.compute"),
    (lambda api: aggregate(api, [{"metric": "count"}], query="free words"), "data.attributes.aggregate.search.query"),
    (lambda api: aggregate(api, [{"metric": "count"}], group_by=["color"]), "data.attributes.aggregate.group_by"),
])
def test_bad_input_is_a_400_naming_the_field(world, query_api, call, field):
    with pytest.raises(ApiException) as info:
        call(query_api)
    assert info.value.status == 400 and detail(info.value).startswith(field), info.value.body


def test_other_orgs_see_none_of_it(world, query_server):
    other = client_for(query_server, *query_server.create_org(unique("exq-other")))
    got = search(other, ["projects", "datasets", "dataset_records", "experiments", "experiment_runs"])
    assert all(v == [] for v in got.data.attributes.to_dict().values())
    got = aggregate(other, [{"metric": "count"}])
    assert got.data.attributes.hit_count == 0
