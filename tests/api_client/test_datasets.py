"""Datasets and records through the official client: every dataset and record operation."""

from __future__ import annotations

import csv
import io
import json

import pytest
from datadog_api_client.exceptions import ApiException, NotFoundException

import models as m
from harness import unique

QUESTIONS = [
    {"input": {"question": "What is the capital of France?"}, "expected_output": "Paris", "metadata": {"difficulty": "easy"}},
    {"input": {"question": "Who wrote Dune?"}, "expected_output": "Frank Herbert", "metadata": {"difficulty": "medium"}},
    {"input": {"question": "2 + 2?"}, "expected_output": 4.0, "metadata": {"difficulty": "easy"}},
]


@pytest.fixture
def dataset(api, project):
    made = api.create_llm_obs_dataset(project.id, m.dataset_create(unique("qa"), "capital questions", {"team": "ml"}))
    return made.data


def add_questions(api, project, dataset, rows=QUESTIONS):
    return api.create_llm_obs_dataset_records(project.id, dataset.id, m.records_create(rows)).data[0].records


def all_records(api, project_id, dataset_id, **kw):
    out, cursor = [], None
    while True:
        if cursor:
            kw["page_cursor"] = cursor
        page = api.list_llm_obs_dataset_records(project_id, dataset_id, **kw)
        out += page.data
        cursor = page.meta.after if "meta" in page else None
        if not cursor:
            return out


def test_create_dataset_answers_name_description_and_metadata(api, project):
    name = unique("support-questions")
    made = api.create_llm_obs_dataset(
        project.id, m.dataset_create(name, "tickets from March", {"source": "zendesk", "rows": 3})
    ).data
    assert str(made.type) == "datasets"
    assert made.attributes.name == name
    assert made.attributes.description == "tickets from March"
    assert m.plain(made.attributes.metadata) == {"source": "zendesk", "rows": 3}
    assert made.attributes.current_version == 0
    bare = api.create_llm_obs_dataset(project.id, m.dataset_create(unique("bare"))).data
    assert bare.attributes.metadata is None


def test_list_datasets_by_name_id_and_pages(api, project):
    made = [api.create_llm_obs_dataset(project.id, m.dataset_create(unique(f"d{i}"))).data for i in range(5)]
    by_name = api.list_llm_obs_datasets(project.id, filter_name=made[1].attributes.name).data
    assert [d.id for d in by_name] == [made[1].id]
    by_id = api.list_llm_obs_datasets(project.id, filter_id=made[3].id).data
    assert [d.attributes.name for d in by_id] == [made[3].attributes.name]
    seen, cursor = [], None
    while True:
        kw = {"page_limit": 2}
        if cursor:
            kw["page_cursor"] = cursor
        page = api.list_llm_obs_datasets(project.id, **kw)
        assert len(page.data) <= 2
        seen += [d.id for d in page.data]
        cursor = page.meta.after
        if not cursor:
            break
    assert seen == [d.id for d in made]


def test_update_dataset_changes_each_field(api, project, dataset):
    new_name = unique("renamed")
    up = api.update_llm_obs_dataset(
        project.id, dataset.id, m.dataset_update(name=new_name, description="new words", metadata={"v": 2})
    ).data
    assert (up.attributes.name, up.attributes.description, m.plain(up.attributes.metadata)) == (
        new_name, "new words", {"v": 2},
    )
    only_desc = api.update_llm_obs_dataset(project.id, dataset.id, m.dataset_update(description="third")).data
    assert (only_desc.attributes.name, only_desc.attributes.description) == (new_name, "third")
    assert m.plain(only_desc.attributes.metadata) == {"v": 2}
    listed = api.list_llm_obs_datasets(project.id, filter_id=dataset.id).data[0]
    assert listed.attributes.name == new_name


def test_delete_datasets_in_project(api, project, dataset):
    keep = api.create_llm_obs_dataset(project.id, m.dataset_create(unique("keep"))).data
    api.delete_llm_obs_datasets(project.id, m.datasets_delete([dataset.id]))
    ids = [d.id for d in api.list_llm_obs_datasets(project.id).data]
    assert dataset.id not in ids and keep.id in ids
    with pytest.raises(NotFoundException):
        api.list_llm_obs_dataset_records(project.id, dataset.id)


def test_records_create_list_update_delete(api, project, dataset):
    created = add_questions(api, project, dataset)
    assert [r.input.to_dict() if hasattr(r.input, "to_dict") else r.input for r in created] == [q["input"] for q in QUESTIONS]
    assert [r.expected_output for r in created] == [q["expected_output"] for q in QUESTIONS]
    assert [m.plain(r.metadata) for r in created] == [q["metadata"] for q in QUESTIONS]
    assert all(r.dataset_id == dataset.id for r in created)
    listed = all_records(api, project.id, dataset.id)
    assert [r.id for r in listed] == [r.id for r in created]
    assert m.plain(listed[1].input) == QUESTIONS[1]["input"]
    assert listed[1].expected_output == "Frank Herbert"
    assert listed[0].created_at == created[0].created_at

    updated = api.update_llm_obs_dataset_records(
        project.id, dataset.id, m.records_update([{"id": created[0].id, "expected_output": "Paris, France"}])
    ).data[0].records
    assert [(r.id, r.expected_output) for r in updated] == [(created[0].id, "Paris, France")]
    assert m.plain(updated[0].input) == QUESTIONS[0]["input"]

    api.delete_llm_obs_dataset_records(project.id, dataset.id, m.records_delete([created[2].id]))
    now = all_records(api, project.id, dataset.id)
    assert [r.id for r in now] == [created[0].id, created[1].id]
    assert now[0].expected_output == "Paris, France"
    # Three writes made three versions; version 1 still has the first state.
    v1 = all_records(api, project.id, dataset.id, filter_version=1)
    assert [(r.id, r.expected_output) for r in v1] == [(r.id, r.expected_output) for r in created]


def test_records_page_with_a_cursor(api, project, dataset):
    rows = [{"input": f"question {i}", "expected_output": f"answer {i}"} for i in range(7)]
    add_questions(api, project, dataset, rows)
    first = api.list_llm_obs_dataset_records(project.id, dataset.id, page_limit=3)
    assert len(first.data) == 3 and first.meta.after
    listed = all_records(api, project.id, dataset.id, page_limit=3)
    assert [r.input for r in listed] == [r["input"] for r in rows]


def test_batch_update_answers_records(api, project, dataset):
    created = add_questions(api, project, dataset)
    answer = api.batch_update_llm_obs_dataset(
        project.id,
        dataset.id,
        m.batch_update(
            dataset.id,
            insert=[{"input": {"question": "Largest planet?"}, "expected_output": "Jupiter", "tags": ["topic:space"]}],
            update=[{"id": created[1].id, "metadata": {"difficulty": "hard"}}],
            delete=[created[2].id],
        ),
    )
    touched = answer.data[0].records
    by_input = {json.dumps(m.plain(r.input), sort_keys=True): r for r in touched}
    assert by_input[json.dumps({"question": "Largest planet?"})].expected_output == "Jupiter"
    assert m.plain(by_input[json.dumps(QUESTIONS[1]["input"], sort_keys=True)].metadata) == {"difficulty": "hard"}
    live = all_records(api, project.id, dataset.id)
    assert len(live) == 3 and created[2].id not in [r.id for r in live]


def test_versions_restore_and_clone(api, project, dataset):
    created = add_questions(api, project, dataset)  # version 1
    api.delete_llm_obs_dataset_records(project.id, dataset.id, m.records_delete([created[0].id]))  # version 2
    versions = api.list_llm_obs_dataset_versions(project.id, dataset.id).data
    assert [v.attributes.version_number for v in versions] == [2, 1]
    assert all(v.attributes.dataset_id == dataset.id for v in versions)
    api.restore_llm_obs_dataset_version(project.id, dataset.id, m.restore(dataset.id, 1))
    restored = all_records(api, project.id, dataset.id)
    assert sorted(r.id for r in restored) == sorted(r.id for r in created)
    assert [v.attributes.version_number for v in api.list_llm_obs_dataset_versions(project.id, dataset.id).data][0] == 3

    copy_name = unique("copy")
    copy = api.clone_llm_obs_dataset(project.id, dataset.id, m.clone(dataset.id, copy_name, "a copy")).data
    assert copy.id != dataset.id
    assert (copy.attributes.name, copy.attributes.description) == (copy_name, "a copy")
    assert m.plain(copy.attributes.metadata) == {"team": "ml"}
    copied = all_records(api, project.id, copy.id)
    assert sorted((m.plain(r.input)["question"], r.expected_output) for r in copied) == sorted(
        (q["input"]["question"], q["expected_output"]) for q in QUESTIONS
    )


def test_export_csv_and_jsonl_by_version(api, project, dataset, server):
    created = add_questions(api, project, dataset)  # version 1
    api.update_llm_obs_dataset_records(
        project.id, dataset.id, m.records_update([{"id": created[0].id, "expected_output": "Paris!"}])
    )
    text = api.export_llm_obs_dataset(project.id, dataset.id, version=1)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["id"] for r in rows] == [r.id for r in created]
    assert json.loads(rows[0]["expected_output"]) == "Paris"
    assert json.loads(rows[1]["input"]) == QUESTIONS[1]["input"]
    assert json.loads(rows[2]["metadata"]) == {"difficulty": "easy"}
    current = list(csv.DictReader(io.StringIO(api.export_llm_obs_dataset(project.id, dataset.id))))
    assert json.loads(current[0]["expected_output"]) == "Paris!"
    r = server.x("GET", f"/api/v2/llm-obs/v1/{project.id}/datasets/{dataset.id}/export?format=jsonl&version=1")
    assert r.status == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [(x["id"], x["input"], x["expected_output"]) for x in lines] == [
        (c.id, q["input"], q["expected_output"]) for c, q in zip(created, QUESTIONS)
    ]


def test_an_export_uploads_back_unchanged(api, project, dataset):
    add_questions(api, project, dataset)
    api.batch_update_llm_obs_dataset(project.id, dataset.id, m.batch_update(
        dataset.id, insert=[{"input": "tagged", "tags": ["lang:en", "src:test"]}]))
    text = api.export_llm_obs_dataset(project.id, dataset.id)
    copy = api.create_llm_obs_dataset(project.id, m.dataset_create(unique("reimport"))).data
    f = io.BytesIO(text.encode())
    f.name = "export.csv"
    api.upload_llm_obs_dataset_records_file(project.id, copy.id, file=f)
    shape = lambda rs: [(r.id, m.plain(r.input), r.get("expected_output"), m.plain(r.metadata), sorted(r.tags))  # noqa: E731
                        for r in rs]
    assert shape(all_records(api, project.id, copy.id)) == shape(all_records(api, project.id, dataset.id))


def test_upload_a_file_on_the_v2_path(api, project, dataset):
    body = "input,expected_output,metadata,id,tags\r\n" \
           "What is 2+2?,4,\"{\"\"k\"\": 1}\",q1,lang:en\r\n" \
           "\"{\"\"question\"\": \"\"Capital of Peru?\"\"}\",Lima,,q2,\r\n"
    f = io.BytesIO(body.encode())
    f.name = "records.csv"
    api.upload_llm_obs_dataset_records_file(project.id, dataset.id, file=f, tags=["source:upload"])
    got = {r.id: r for r in all_records(api, project.id, dataset.id)}
    assert set(got) == {"q1", "q2"}
    assert got["q1"].input == "What is 2+2?" and got["q1"].expected_output == 4.0
    assert m.plain(got["q1"].metadata) == {"k": 1}
    assert m.plain(got["q2"].input) == {"question": "Capital of Peru?"} and got["q2"].metadata is None
    assert api.list_llm_obs_datasets(project.id, filter_id=dataset.id).data[0].attributes.current_version == 1


def test_draft_state_lock_and_unlock(api, project, dataset):
    with pytest.raises(NotFoundException):
        api.get_llm_obs_dataset_draft_state(project.id, dataset.id)
    locked = api.lock_llm_obs_dataset_draft_state(project.id, dataset.id).data
    assert locked.id == dataset.id and locked.attributes.user.id
    got = api.get_llm_obs_dataset_draft_state(project.id, dataset.id).data
    assert got.attributes.drafting_since == locked.attributes.drafting_since
    assert got.attributes.user.id == locked.attributes.user.id
    api.unlock_llm_obs_dataset_draft_state(project.id, dataset.id)
    with pytest.raises(NotFoundException):
        api.get_llm_obs_dataset_draft_state(project.id, dataset.id)


def test_bad_input_names_the_field_and_stores_nothing(api, project, dataset, server):
    add_questions(api, project, dataset)
    base = f"/api/v2/llm-obs/v1/{project.id}/datasets/{dataset.id}"
    before = (server.x("GET", f"{base}/records").json(), api.list_llm_obs_datasets(project.id, filter_id=dataset.id).data[0].to_dict())
    cases = [
        ("PATCH", base, {"data": {"type": "datasets", "attributes": {"metadata": "not an object"}}}, "metadata"),
        ("PATCH", base, {"data": {"type": "datasets", "attributes": {"name": ""}}}, "name"),
        ("POST", f"{base}/records", {"data": {"type": "records", "attributes": {"records": [{"expected_output": 1}]}}}, "input"),
        ("PATCH", f"{base}/records", {"data": {"type": "records", "attributes": {"records": [{"input": 1}]}}}, "id"),
        ("POST", f"{base}/records/delete", {"data": {"type": "records", "attributes": {"record_ids": "r1"}}}, "record_ids"),
        ("POST", f"{base}/restore", {"data": {"type": "datasets", "id": dataset.id, "attributes": {"dataset_version": "one"}}}, "dataset_version"),
        ("POST", f"{base}/restore", {"data": {"type": "datasets", "id": dataset.id, "attributes": {"dataset_version": 9}}}, "version"),
        ("POST", f"{base}/clone", {"data": {"type": "datasets", "id": dataset.id, "attributes": {}}}, "name"),
        ("GET", f"{base}/export?format=xml", None, "format"),
        ("GET", f"{base}/records?filter[version]=99", None, "version"),
        ("GET", f"/api/v2/llm-obs/v1/{project.id}/datasets?page[limit]=0", None, "page[limit]"),
    ]
    for method, path, body, field in cases:
        kw = {"json_body": body} if body is not None else {}
        r = server.x(method, path, headers={"Accept": "application/json"}, **kw)
        assert r.status == 400, (method, path, r)
        assert field in r.detail, (field, r.detail)
    f = io.BytesIO(b"question\r\nx\r\n")
    f.name = "bad.csv"
    with pytest.raises(ApiException) as err:
        api.upload_llm_obs_dataset_records_file(project.id, dataset.id, file=f)
    assert err.value.status == 400 and "input" in err.value.body["detail"]
    after = (server.x("GET", f"{base}/records").json(), api.list_llm_obs_datasets(project.id, filter_id=dataset.id).data[0].to_dict())
    assert after == before


def test_other_org_gets_404_and_changes_nothing(api, other_org_api, project, dataset):
    add_questions(api, project, dataset)
    calls = [
        lambda a: a.list_llm_obs_datasets(project.id),
        lambda a: a.list_llm_obs_dataset_records(project.id, dataset.id),
        lambda a: a.update_llm_obs_dataset(project.id, dataset.id, m.dataset_update(name="stolen")),
        lambda a: a.delete_llm_obs_datasets(project.id, m.datasets_delete([dataset.id])),
        lambda a: a.create_llm_obs_dataset_records(project.id, dataset.id, m.records_create([{"input": "x"}])),
        lambda a: a.list_llm_obs_dataset_versions(project.id, dataset.id),
        lambda a: a.export_llm_obs_dataset(project.id, dataset.id),
        lambda a: a.lock_llm_obs_dataset_draft_state(project.id, dataset.id),
        lambda a: a.clone_llm_obs_dataset(project.id, dataset.id, m.clone(dataset.id, "stolen")),
    ]
    for call in calls:
        with pytest.raises(NotFoundException):
            call(other_org_api)
    mine = api.list_llm_obs_datasets(project.id, filter_id=dataset.id).data[0]
    assert mine.attributes.name == dataset.attributes.name and mine.attributes.current_version == 1
    assert len(all_records(api, project.id, dataset.id)) == 3
