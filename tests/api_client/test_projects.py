"""Projects through the official client: create, list (filters, cursor paging), update, delete."""

from __future__ import annotations

import pytest
from datadog_api_client.exceptions import ApiException, NotFoundException
from datadog_api_client.v2.model.llm_obs_delete_projects_data_attributes_request import (
    LLMObsDeleteProjectsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_delete_projects_data_request import LLMObsDeleteProjectsDataRequest
from datadog_api_client.v2.model.llm_obs_delete_projects_request import LLMObsDeleteProjectsRequest
from datadog_api_client.v2.model.llm_obs_project_data_attributes_request import LLMObsProjectDataAttributesRequest
from datadog_api_client.v2.model.llm_obs_project_data_request import LLMObsProjectDataRequest
from datadog_api_client.v2.model.llm_obs_project_request import LLMObsProjectRequest
from datadog_api_client.v2.model.llm_obs_project_type import LLMObsProjectType
from datadog_api_client.v2.model.llm_obs_project_update_data_attributes_request import (
    LLMObsProjectUpdateDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_project_update_data_request import LLMObsProjectUpdateDataRequest
from datadog_api_client.v2.model.llm_obs_project_update_request import LLMObsProjectUpdateRequest

from harness import unique


def create(api, name, description=None):
    attrs = LLMObsProjectDataAttributesRequest(name=name)
    if description is not None:
        attrs.description = description
    body = LLMObsProjectRequest(data=LLMObsProjectDataRequest(type=LLMObsProjectType.PROJECTS, attributes=attrs))
    return api.create_llm_obs_project(body).data


def delete(api, ids):
    body = LLMObsDeleteProjectsRequest(
        data=LLMObsDeleteProjectsDataRequest(
            type=LLMObsProjectType.PROJECTS, attributes=LLMObsDeleteProjectsDataAttributesRequest(project_ids=ids)
        )
    )
    api.delete_llm_obs_projects(body)


def update_body(**attributes) -> LLMObsProjectUpdateRequest:
    """The official client's update request setting ``attributes`` (name, description)."""
    return LLMObsProjectUpdateRequest(
        data=LLMObsProjectUpdateDataRequest(
            type=LLMObsProjectType.PROJECTS, attributes=LLMObsProjectUpdateDataAttributesRequest(**attributes)
        )
    )


def test_create_answers_what_was_sent(api):
    name = unique("support-bot")
    created = create(api, name, "answers support tickets")
    assert str(created.type) == "projects"
    assert created.attributes.name == name
    assert created.attributes.description == "answers support tickets"
    assert created.attributes.created_at == created.attributes.updated_at
    # Creating the same name again returns the same project.
    again = create(api, name)
    assert again.id == created.id


def test_list_filters_and_pages(api):
    prefix = unique("paged")
    made = [create(api, f"{prefix}-{i}") for i in range(5)]
    by_id = api.list_llm_obs_projects(filter_id=made[2].id)
    assert [p.id for p in by_id.data] == [made[2].id]
    assert by_id.data[0].attributes.name == f"{prefix}-2"
    by_name = api.list_llm_obs_projects(filter_name=f"{prefix}-4")
    assert [p.id for p in by_name.data] == [made[4].id]
    seen, cursor = [], None
    while True:
        kw = {"page_limit": 2}
        if cursor:
            kw["page_cursor"] = cursor
        page = api.list_llm_obs_projects(**kw)
        assert len(page.data) <= 2
        seen += [p.id for p in page.data]
        cursor = page.meta.after if "meta" in page else None
        if not cursor:
            break
    assert all(p.id in seen for p in made)
    assert len(seen) == len(set(seen))


def test_update_changes_name_and_description(api):
    created = create(api, unique("before"), "old words")
    new_name = unique("after")
    updated = api.update_llm_obs_project(created.id, update_body(name=new_name, description="new words")).data
    assert updated.id == created.id
    assert (updated.attributes.name, updated.attributes.description) == (new_name, "new words")
    assert updated.attributes.updated_at >= created.attributes.updated_at
    listed = api.list_llm_obs_projects(filter_id=created.id).data[0]
    assert (listed.attributes.name, listed.attributes.description) == (new_name, "new words")
    # Only the description: the name stays.
    again = api.update_llm_obs_project(created.id, update_body(description="third")).data
    assert (again.attributes.name, again.attributes.description) == (new_name, "third")


def test_delete_removes_from_lists(api):
    keep, gone = create(api, unique("keep")), create(api, unique("gone"))
    delete(api, [gone.id])
    assert api.list_llm_obs_projects(filter_id=gone.id).data == []
    assert [p.id for p in api.list_llm_obs_projects(filter_id=keep.id).data] == [keep.id]
    with pytest.raises(NotFoundException):
        api.update_llm_obs_project(gone.id, update_body(name="x"))


def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(api, server):
    before = server.x("GET", "/api/v2/llm-obs/v1/projects?page[limit]=1000").json()["data"]
    r = server.x("POST", "/api/v2/llm-obs/v1/projects", json_body={"data": {"type": "projects", "attributes": {"name": ""}}})
    assert r.status == 400 and "name" in r.detail, r
    r = server.x("PATCH", f"/api/v2/llm-obs/v1/projects/{before[0]['id']}",
                 json_body={"data": {"type": "projects", "attributes": {"name": 7}}})
    assert r.status == 400 and "name" in r.detail, r
    r = server.x("GET", "/api/v2/llm-obs/v1/projects?page[limit]=zero")
    assert r.status == 400 and "page[limit]" in r.detail, r
    r = server.x("POST", "/api/v2/llm-obs/v1/projects/delete", json_body={"data": {"type": "projects", "attributes": {}}})
    assert r.status == 400 and "project_ids" in r.detail, r
    after = server.x("GET", "/api/v2/llm-obs/v1/projects?page[limit]=1000").json()["data"]
    assert after == before
    with pytest.raises(ApiException) as err:
        api.list_llm_obs_projects(page_cursor="not-a-cursor")
    assert err.value.status == 400


def test_other_org_sees_a_404(api, other_org_api):
    created = create(api, unique("private"))
    assert other_org_api.list_llm_obs_projects(filter_id=created.id).data == []
    with pytest.raises(NotFoundException):
        other_org_api.update_llm_obs_project(created.id, update_body(name="stolen"))
    assert api.list_llm_obs_projects(filter_id=created.id).data[0].attributes.name == created.attributes.name
