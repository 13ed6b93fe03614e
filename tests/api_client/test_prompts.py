"""The public prompt registry through the official client, over the same store as ddtrace's
``/api/unstable/llm-obs/v1/prompts`` routes."""

from __future__ import annotations

import pytest
from datadog_api_client.exceptions import ApiException, NotFoundException
from datadog_api_client.v2.model.llm_obs_create_prompt_data import LLMObsCreatePromptData
from datadog_api_client.v2.model.llm_obs_create_prompt_data_attributes import LLMObsCreatePromptDataAttributes
from datadog_api_client.v2.model.llm_obs_create_prompt_request import LLMObsCreatePromptRequest
from datadog_api_client.v2.model.llm_obs_create_prompt_version_data import LLMObsCreatePromptVersionData
from datadog_api_client.v2.model.llm_obs_create_prompt_version_data_attributes import (
    LLMObsCreatePromptVersionDataAttributes,
)
from datadog_api_client.v2.model.llm_obs_create_prompt_version_request import LLMObsCreatePromptVersionRequest
from datadog_api_client.v2.model.llm_obs_prompt_type import LLMObsPromptType
from datadog_api_client.v2.model.llm_obs_prompt_version_label import LLMObsPromptVersionLabel
from datadog_api_client.v2.model.llm_obs_prompt_version_type import LLMObsPromptVersionType
from datadog_api_client.v2.model.llm_obs_update_prompt_data import LLMObsUpdatePromptData
from datadog_api_client.v2.model.llm_obs_update_prompt_data_attributes import LLMObsUpdatePromptDataAttributes
from datadog_api_client.v2.model.llm_obs_update_prompt_request import LLMObsUpdatePromptRequest
from datadog_api_client.v2.model.llm_obs_update_prompt_version_data import LLMObsUpdatePromptVersionData
from datadog_api_client.v2.model.llm_obs_update_prompt_version_data_attributes import (
    LLMObsUpdatePromptVersionDataAttributes,
)
from datadog_api_client.v2.model.llm_obs_update_prompt_version_request import LLMObsUpdatePromptVersionRequest

import models as m
from harness import pct, unique

# The client serialises a list of LLMObsPromptChatMessage models as {}: plain dicts work.
CHAT = [{"role": "system", "content": "You answer about {{topic}}."}, {"role": "user", "content": "{{question}}"}]


def create(api, prompt_id, template=CHAT, **kw):
    attrs = LLMObsCreatePromptDataAttributes(prompt_id=prompt_id, template=template, **kw)
    body = LLMObsCreatePromptRequest(data=LLMObsCreatePromptData(type=LLMObsPromptType.PROMPT_TEMPLATES, attributes=attrs))
    return api.create_llm_obs_prompt(body).data


def add_version(api, prompt_id, template, **kw):
    attrs = LLMObsCreatePromptVersionDataAttributes(template=template, **kw)
    body = LLMObsCreatePromptVersionRequest(
        data=LLMObsCreatePromptVersionData(type=LLMObsPromptVersionType.PROMPT_TEMPLATE_VERSIONS, attributes=attrs)
    )
    return api.create_llm_obs_prompt_version(prompt_id, body).data


def test_create_get_list_and_versions(api, server):
    pid = unique("support.answer")
    made = create(api, pid, title="Support answer", description="answers tickets",
                  labels=[LLMObsPromptVersionLabel.DEVELOPMENT], user_version="v1.0")
    assert made.id == pid and made.attributes.prompt_id == pid
    assert made.attributes.num_versions == 1 and made.attributes.title == "Support answer"
    latest = api.get_llm_obs_prompt(pid).data.attributes
    assert latest.prompt_id == pid and latest.version == "v1.0"
    assert [m.plain(x) for x in latest.chat_template] == CHAT

    v2 = add_version(api, pid, {"messages": [{"role": "user", "content": "Short: {{question}}"}]},
                     labels=[LLMObsPromptVersionLabel.PRODUCTION], description="shorter")
    assert v2.attributes.version == 2 and v2.attributes.description == "shorter"
    assert list(v2.attributes.labels) == ["production"]
    by_label = api.get_llm_obs_prompt(pid, label="development").data.attributes
    assert [m.plain(x) for x in by_label.chat_template] == CHAT
    prod = api.get_llm_obs_prompt(pid, label="production").data.attributes
    assert [m.plain(x) for x in prod.chat_template] == [{"role": "user", "content": "Short: {{question}}"}]

    one = api.get_llm_obs_prompt_version(pid, 1).data.attributes
    assert one.version == 1 and one.user_version == "v1.0"
    assert [m.plain(x) for x in one.template] == CHAT
    versions = api.list_llm_obs_prompt_versions(pid).data
    assert [v.attributes.version for v in versions] == [2, 1]
    listed = api.list_llm_obs_prompts(filter_prompt_id=pid).data
    assert [(p.id, p.attributes.num_versions) for p in listed] == [(pid, 2)]


def test_update_prompt_and_version_then_delete(api):
    pid = unique("summarise")
    create(api, pid, template="Summarise: {{text}}")
    up = api.update_llm_obs_prompt(pid, LLMObsUpdatePromptRequest(data=LLMObsUpdatePromptData(
        type=LLMObsPromptType.PROMPT_TEMPLATES,
        attributes=LLMObsUpdatePromptDataAttributes(title="Summaries", description="one paragraph"),
    ))).data
    assert (up.attributes.title, up.attributes.description) == ("Summaries", "one paragraph")
    v = api.update_llm_obs_prompt_version(pid, 1, LLMObsUpdatePromptVersionRequest(data=LLMObsUpdatePromptVersionData(
        type=LLMObsPromptVersionType.PROMPT_TEMPLATE_VERSIONS,
        attributes=LLMObsUpdatePromptVersionDataAttributes(labels=[LLMObsPromptVersionLabel.PRODUCTION],
                                                           description="first cut"),
    ))).data
    assert list(v.attributes.labels) == ["production"] and v.attributes.description == "first cut"
    assert api.get_llm_obs_prompt(pid, label="production").data.attributes.template == "Summarise: {{text}}"
    gone = api.delete_llm_obs_prompt(pid).data
    assert gone.attributes.prompt_id == pid and gone.attributes.deleted_at
    with pytest.raises(NotFoundException):
        api.get_llm_obs_prompt(pid)
    assert api.list_llm_obs_prompts(filter_prompt_id=pid).data == []


def test_one_store_for_both_route_families(api, server):
    # Made by the official client, read where ddtrace reads.
    pid = unique("shared.one")
    create(api, pid, template=CHAT, labels=[LLMObsPromptVersionLabel.PRODUCTION])
    r = server.x("GET", f"/api/unstable/llm-obs/v1/prompts/{pct(pid)}?label=production")
    assert r.status == 200 and r.json()["chat_template"] == CHAT
    # Made where ddtrace writes, read by the official client.
    other = unique("shared.two")
    assert server.create_prompt(other, template="Hello {{name}}").status == 200
    assert api.get_llm_obs_prompt(other).data.attributes.template == "Hello {{name}}"
    assert [p.id for p in api.list_llm_obs_prompts(filter_prompt_id=other).data] == [other]


def test_bad_input_names_the_field_and_stores_nothing(api, server):
    pid = unique("strict")
    create(api, pid, template="ok {{x}}")
    base = "/api/v2/llm-obs/v1/prompts"
    cases = [
        ("POST", base, {"data": {"type": "prompt-templates", "attributes": {"prompt_id": unique("p")}}}, "template"),
        ("POST", base, {"data": {"type": "prompt-templates", "attributes": {"prompt_id": "", "template": "x"}}}, "prompt"),
        ("POST", f"{base}/{pid}/versions", {"data": {"type": "prompt-template-versions", "attributes": {
            "template": {"messages": [{"include": {"prompt_id": "x", "version": 1}}]}}}}, "include"),
        ("PATCH", f"{base}/{pid}/versions/one", {"data": {"type": "prompt-template-versions", "attributes": {"description": "d"}}}, "version"),
        ("PATCH", f"{base}/{pid}", {"data": {"type": "prompt-templates", "attributes": {"title": 5}}}, "title"),
    ]
    for method, path, body, field in cases:
        r = server.x(method, path, json_body=body, headers={"Accept": "application/json"})
        assert r.status == 400, (method, path, r)
        assert field in r.text, (field, r.text)
    assert [v.attributes.version for v in api.list_llm_obs_prompt_versions(pid).data] == [1]
    assert api.get_llm_obs_prompt(pid).data.attributes.template == "ok {{x}}"


def test_other_org_gets_404(api, other_org_api):
    pid = unique("private.prompt")
    create(api, pid, template="secret {{x}}")
    with pytest.raises(NotFoundException):
        other_org_api.get_llm_obs_prompt(pid)
    with pytest.raises(NotFoundException):
        other_org_api.get_llm_obs_prompt_version(pid, 1)
    with pytest.raises(NotFoundException):
        other_org_api.delete_llm_obs_prompt(pid)
    assert other_org_api.list_llm_obs_prompts(filter_prompt_id=pid).data == []
    assert api.get_llm_obs_prompt(pid).data.attributes.template == "secret {{x}}"
