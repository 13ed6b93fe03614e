"""Experiments through the official client: create, list with every filter, update every field,
delete, and events posted then read back in the v1, v2 and v3 shapes."""

from __future__ import annotations

import time

import pytest
from datadog_api_client.exceptions import NotFoundException
from datadog_api_client.v2.model.llm_obs_delete_experiments_data_attributes_request import (
    LLMObsDeleteExperimentsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_delete_experiments_data_request import LLMObsDeleteExperimentsDataRequest
from datadog_api_client.v2.model.llm_obs_delete_experiments_request import LLMObsDeleteExperimentsRequest
from datadog_api_client.v2.model.llm_obs_event_type import LLMObsEventType
from datadog_api_client.v2.model.llm_obs_experiment_data_attributes_request import (
    LLMObsExperimentDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_experiment_data_request import LLMObsExperimentDataRequest
from datadog_api_client.v2.model.llm_obs_experiment_events_data_attributes_request import (
    LLMObsExperimentEventsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_experiment_events_data_request import LLMObsExperimentEventsDataRequest
from datadog_api_client.v2.model.llm_obs_experiment_events_request import LLMObsExperimentEventsRequest
from datadog_api_client.v2.model.llm_obs_experiment_metric import LLMObsExperimentMetric
from datadog_api_client.v2.model.llm_obs_experiment_request import LLMObsExperimentRequest
from datadog_api_client.v2.model.llm_obs_experiment_span import LLMObsExperimentSpan
from datadog_api_client.v2.model.llm_obs_experiment_span_meta import LLMObsExperimentSpanMeta
from datadog_api_client.v2.model.llm_obs_experiment_span_status import LLMObsExperimentSpanStatus
from datadog_api_client.v2.model.llm_obs_experiment_status import LLMObsExperimentStatus
from datadog_api_client.v2.model.llm_obs_experiment_type import LLMObsExperimentType
from datadog_api_client.v2.model.llm_obs_experiment_update_data_attributes_request import (
    LLMObsExperimentUpdateDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_experiment_update_data_request import LLMObsExperimentUpdateDataRequest
from datadog_api_client.v2.model.llm_obs_experiment_update_request import LLMObsExperimentUpdateRequest
from datadog_api_client.v2.model.llm_obs_metric_score_type import LLMObsMetricScoreType

import models as m
from harness import unique

EXPERIMENTS = LLMObsExperimentType.EXPERIMENTS


@pytest.fixture
def dataset(api, project):
    return api.create_llm_obs_dataset(project.id, m.dataset_create(unique("eval-set"))).data


def create(api, project, dataset, name, **kw):
    attrs = LLMObsExperimentDataAttributesRequest(name=name, project_id=project.id, dataset_id=dataset.id, **kw)
    return api.create_llm_obs_experiment(
        LLMObsExperimentRequest(data=LLMObsExperimentDataRequest(type=EXPERIMENTS, attributes=attrs))
    ).data


def update(api, experiment_id, **fields):
    body = LLMObsExperimentUpdateRequest(
        data=LLMObsExperimentUpdateDataRequest(
            type=EXPERIMENTS, attributes=LLMObsExperimentUpdateDataAttributesRequest(**fields)
        )
    )
    return api.update_llm_obs_experiment(experiment_id, body).data


def delete(api, ids):
    api.delete_llm_obs_experiments(
        LLMObsDeleteExperimentsRequest(
            data=LLMObsDeleteExperimentsDataRequest(
                type=EXPERIMENTS, attributes=LLMObsDeleteExperimentsDataAttributesRequest(experiment_ids=ids)
            )
        )
    )


def test_create_and_list_with_every_filter(api, project, dataset):
    base = create(api, project, dataset, "baseline", description="first try", config={"model": "gpt-4o"},
                  metadata={"tags": ["team:ml"]}, ensure_unique=False)
    assert base.attributes.name == "baseline" and base.attributes.description == "first try"
    assert m.plain(base.attributes.config) == {"model": "gpt-4o"}
    child = create(api, project, dataset, "tuned", parent_experiment_id=base.id, metadata={"tags": ["team:ml", "v:2"]})
    assert child.attributes.parent_experiment_id == base.id
    other_ds = api.create_llm_obs_dataset(project.id, m.dataset_create(unique("other"))).data
    other = create(api, project, other_ds, "other", ensure_unique=False)

    ids = lambda resp: [e.id for e in resp.data]  # noqa: E731
    assert set(ids(api.list_llm_obs_experiments(filter_project_id=project.id))) == {base.id, child.id, other.id}
    assert ids(api.list_llm_obs_experiments(filter_project_id=project.id, filter_dataset_id=other_ds.id)) == [other.id]
    assert ids(api.list_llm_obs_experiments(filter_id=child.id)) == [child.id]
    assert ids(api.list_llm_obs_experiments(filter_project_id=project.id, filter_name="baseline")) == [base.id]
    assert ids(api.list_llm_obs_experiments(filter_project_id=project.id, filter_experiment="tuned")) == [child.id]
    assert ids(api.list_llm_obs_experiments(filter_parent_experiment_id=base.id)) == [child.id]
    assert ids(api.list_llm_obs_experiments(filter_project_id=project.id,
                                            filter_metadata='{"tags": ["v:2"]}')) == [child.id]
    page = api.list_llm_obs_experiments(filter_project_id=project.id, page_limit=2)
    assert len(page.data) == 2 and page.meta.after
    rest = api.list_llm_obs_experiments(filter_project_id=project.id, page_limit=2, page_cursor=page.meta.after)
    assert len(ids(page) + ids(rest)) == 3 and set(ids(page) + ids(rest)) == {base.id, child.id, other.id}
    assert ids(api.list_llm_obs_experiments(filter_project_id=project.id, filter_is_deleted=True)) == []


def test_update_every_field(api, project, dataset):
    exp = create(api, project, dataset, "to-edit", ensure_unique=False)
    other_ds = api.create_llm_obs_dataset(project.id, m.dataset_create(unique("moved-to"))).data
    up = update(api, exp.id, name="edited", description="now described", metadata={"owner": "ana"},
                status=LLMObsExperimentStatus.COMPLETED, error="none really", dataset_id=other_ds.id)
    assert up.attributes.name == "edited"
    assert up.attributes.description == "now described"
    assert m.plain(up.attributes.metadata) == {"owner": "ana"}
    assert str(up.attributes.status) == "completed"
    assert up.attributes.error == "none really"
    assert up.attributes.dataset_id == other_ds.id
    listed = api.list_llm_obs_experiments(filter_id=exp.id).data[0]
    assert (listed.attributes.name, listed.attributes.description) == ("edited", "now described")
    assert m.plain(listed.attributes.metadata) == {"owner": "ana"}


def test_delete_moves_to_the_deleted_list(api, project, dataset):
    keep, gone = create(api, project, dataset, "keep"), create(api, project, dataset, "gone")
    delete(api, [gone.id])
    live = [e.id for e in api.list_llm_obs_experiments(filter_project_id=project.id).data]
    assert live == [keep.id]
    deleted = [e.id for e in api.list_llm_obs_experiments(filter_project_id=project.id, filter_is_deleted=True).data]
    assert deleted == [gone.id]
    with pytest.raises(NotFoundException):
        update(api, gone.id, name="zombie")
    with pytest.raises(NotFoundException):
        delete(api, [keep.id, gone.id])
    assert [e.id for e in api.list_llm_obs_experiments(filter_project_id=project.id).data] == [keep.id]


def post_events(api, project, dataset, exp, n=3):
    now = time.time_ns()
    spans, metrics = [], []
    for i in range(n):
        span_id, trace_id = f"{1000 + i}", f"trace-{i}"
        spans.append(LLMObsExperimentSpan(
            span_id=span_id, trace_id=trace_id, name="task", project_id=project.id, dataset_id=dataset.id,
            start_ns=now + i, duration=1_000_000 + i, status=LLMObsExperimentSpanStatus.OK,
            meta=LLMObsExperimentSpanMeta(input={"q": f"question {i}"}, output=f"answer {i}"),
            tags=[f"record:{i}"],
        ))
        metrics.append(LLMObsExperimentMetric(
            span_id=span_id, label="accuracy", metric_type=LLMObsMetricScoreType.SCORE,
            score_value=i / 2, timestamp_ms=now // 1_000_000,
        ))
    body = LLMObsExperimentEventsRequest(data=LLMObsExperimentEventsDataRequest(
        type=LLMObsEventType.EVENTS, attributes=LLMObsExperimentEventsDataAttributesRequest(spans=spans, metrics=metrics)
    ))
    api.create_llm_obs_experiment_events(exp.id, body)
    return spans


def test_events_post_and_read_in_three_shapes(api, project, dataset):
    exp = create(api, project, dataset, "with-events")
    sent = post_events(api, project, dataset, exp, n=3)
    v1 = api.list_llm_obs_experiment_events_v1(exp.id).data
    assert sorted(s.id for s in v1) == sorted(s.span_id for s in sent)
    by_id = {s.id: s.attributes for s in v1}
    assert by_id["1001"].trace_id == "trace-1"
    assert by_id["1001"].meta.output == "answer 1"
    assert [(e.label, e.score_value) for e in by_id["1001"].eval_metrics] == [("accuracy", 0.5)]

    v2 = api.list_llm_obs_experiment_events_v2(exp.id).data
    assert v2.id == exp.id
    assert sorted(s.span_id for s in v2.attributes.spans) == ["1000", "1001", "1002"]

    pages, cursor = [], None
    while True:
        kw = {"page_limit": 2}
        if cursor:
            kw["page_cursor"] = cursor
        page = api.list_llm_obs_experiment_events(exp.id, **kw)
        pages.append([s.span_id for s in page.data.attributes.spans])
        cursor = page.meta.after
        if not cursor:
            break
    assert [len(p) for p in pages] == [2, 1]
    assert sorted(sum(pages, [])) == ["1000", "1001", "1002"]


def test_bad_input_names_the_field_and_stores_nothing(api, project, dataset, server):
    exp = create(api, project, dataset, "strict", ensure_unique=False)
    path = f"/api/v2/llm-obs/v1/experiments/{exp.id}"
    cases = [
        ("PATCH", path, {"data": {"type": "experiments", "attributes": {"status": "exploded"}}}, "status"),
        ("PATCH", path, {"data": {"type": "experiments", "attributes": {"metadata": [1]}}}, "metadata"),
        ("PATCH", path, {"data": {"type": "experiments", "attributes": {"name": ""}}}, "name"),
        ("POST", "/api/v2/llm-obs/v1/experiments/delete", {"data": {"type": "experiments", "attributes": {}}}, "experiment_ids"),
        ("GET", f"/api/v2/llm-obs/v3/experiments/{exp.id}/events?page[limit]=-1", None, "page[limit]"),
        ("GET", f"/api/v2/llm-obs/v3/experiments/{exp.id}/events?page[cursor]=x", None, "page[cursor]"),
        ("GET", "/api/v2/llm-obs/v1/experiments?filter[is_deleted]=maybe", None, "filter[is_deleted]"),
    ]
    for method, p, body, field in cases:
        kw = {"json_body": body} if body is not None else {}
        r = server.x(method, p, headers={"Accept": "application/json"}, **kw)
        assert r.status == 400, (method, p, r)
        assert field in r.detail, (field, r.detail)
    got = api.list_llm_obs_experiments(filter_id=exp.id).data[0]
    assert got.attributes.name == "strict"
    assert got.attributes.get("status") is None


def test_other_org_gets_404(api, other_org_api, project, dataset):
    exp = create(api, project, dataset, "mine", ensure_unique=False)
    with pytest.raises(NotFoundException):
        update(other_org_api, exp.id, name="stolen")
    with pytest.raises(NotFoundException):
        delete(other_org_api, [exp.id])
    for call in (other_org_api.list_llm_obs_experiment_events_v1, other_org_api.list_llm_obs_experiment_events_v2,
                 other_org_api.list_llm_obs_experiment_events):
        with pytest.raises(NotFoundException):
            call(exp.id)
    assert other_org_api.list_llm_obs_experiments(filter_id=exp.id).data == []
    assert api.list_llm_obs_experiments(filter_id=exp.id).data[0].attributes.name == "mine"
