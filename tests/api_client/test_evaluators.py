"""Custom evaluator configs through the official client: put, get, list, delete, sharing the
store with ddtrace's publish_evaluator and run by remote inference (what RemoteEvaluator calls)."""

from __future__ import annotations

import pytest
from datadog_api_client.exceptions import ApiException, NotFoundException
from datadog_api_client.v2.model.llm_obs_custom_eval_config_assessment_criteria import (
    LLMObsCustomEvalConfigAssessmentCriteria,
)
from datadog_api_client.v2.model.llm_obs_custom_eval_config_inference_params import (
    LLMObsCustomEvalConfigInferenceParams,
)
from datadog_api_client.v2.model.llm_obs_custom_eval_config_llm_judge_config import (
    LLMObsCustomEvalConfigLLMJudgeConfig,
)
from datadog_api_client.v2.model.llm_obs_custom_eval_config_llm_provider import LLMObsCustomEvalConfigLLMProvider
from datadog_api_client.v2.model.llm_obs_custom_eval_config_prompt_message import (
    LLMObsCustomEvalConfigPromptMessage,
)
from datadog_api_client.v2.model.llm_obs_custom_eval_config_target import LLMObsCustomEvalConfigTarget
from datadog_api_client.v2.model.llm_obs_custom_eval_config_type import LLMObsCustomEvalConfigType
from datadog_api_client.v2.model.llm_obs_custom_eval_config_update_attributes import (
    LLMObsCustomEvalConfigUpdateAttributes,
)
from datadog_api_client.v2.model.llm_obs_custom_eval_config_update_data import LLMObsCustomEvalConfigUpdateData
from datadog_api_client.v2.model.llm_obs_custom_eval_config_update_request import (
    LLMObsCustomEvalConfigUpdateRequest,
)

from conftest import client_for
from harness import Server, judge, unique  # noqa: F401 (judge: a fixture)

SCHEMA = {"type": "object", "properties": {"verdict": {"type": "boolean"}, "reasoning": {"type": "string"}},
          "required": ["verdict", "reasoning"]}


@pytest.fixture(scope="module")
def judge_server(tmp_path_factory, judge):
    srv = Server(tmp_path_factory.mktemp("judge"), extra_args=["--judge-url", judge.url]).start()
    yield srv
    srv.stop()


def body(name, app="support-bot", model="gpt-4o-mini"):
    attrs = LLMObsCustomEvalConfigUpdateAttributes(
        eval_name=name,
        category="quality",
        target=LLMObsCustomEvalConfigTarget(application_name=app, enabled=True),
        llm_provider=LLMObsCustomEvalConfigLLMProvider(model_name=model),
        llm_judge_config=LLMObsCustomEvalConfigLLMJudgeConfig(
            inference_params=LLMObsCustomEvalConfigInferenceParams(temperature=0.0, max_tokens=200),
            prompt_template=[
                LLMObsCustomEvalConfigPromptMessage(role="system", content="You grade answers."),
                LLMObsCustomEvalConfigPromptMessage(role="user", content="Is {{output_data}} right for {{input_data}}?"),
            ],
            output_schema=SCHEMA,
            assessment_criteria=LLMObsCustomEvalConfigAssessmentCriteria(pass_when=True),
        ),
    )
    return LLMObsCustomEvalConfigUpdateRequest(
        data=LLMObsCustomEvalConfigUpdateData(type=LLMObsCustomEvalConfigType.EVALUATOR_CONFIG, attributes=attrs)
    )


def test_put_get_list_delete(api):
    name = unique("helpfulness")
    api.update_llm_obs_custom_eval_config(name, body(name))
    got = api.get_llm_obs_custom_eval_config(name).data
    assert got.id == name and got.attributes.eval_name == name
    assert got.attributes.category == "quality"
    assert got.attributes.target.application_name == "support-bot" and got.attributes.target.enabled is True
    assert got.attributes.llm_provider.model_name == "gpt-4o-mini"
    judge = got.attributes.llm_judge_config
    assert [(m.role, m.content) for m in judge.prompt_template] == [
        ("system", "You grade answers."), ("user", "Is {{output_data}} right for {{input_data}}?")]
    assert judge.inference_params.max_tokens == 200
    assert judge.assessment_criteria.pass_when is True
    first_update = got.attributes.updated_at
    api.update_llm_obs_custom_eval_config(name, body(name, app="billing-bot"))
    again = api.get_llm_obs_custom_eval_config(name).data.attributes
    assert again.target.application_name == "billing-bot" and again.updated_at >= first_update
    assert name in [c.id for c in api.list_llm_obs_custom_eval_configs().data]
    api.delete_llm_obs_custom_eval_config(name)
    with pytest.raises(NotFoundException):
        api.get_llm_obs_custom_eval_config(name)
    assert name not in [c.id for c in api.list_llm_obs_custom_eval_configs().data]


def test_one_store_with_ddtrace_publish_and_run_by_inference(judge_server, judge):
    api = client_for(judge_server)
    # Published the way ddtrace's publish_evaluator does, listed by the official client.
    published = unique("ddtrace-judge")
    evaluation = {"eval_name": published, "applications": [{"model_name": "gpt-4o", "byop_config": {
        "prompt_template": [{"role": "user", "content": "Grade {{output_data}}"}],
        "output_schema": SCHEMA, "assessment_criteria": {"pass_when": True}}}]}
    r = judge_server.x("PUT", "/api/unstable/llm-obs/v1/config/evaluators/custom",
                       json_body={"data": {"type": "evaluator_config", "attributes": {"evaluation": evaluation}}})
    assert r.status == 200, r
    seen = api.get_llm_obs_custom_eval_config(published).data.attributes
    assert seen.llm_provider.model_name == "gpt-4o"
    assert [(m.role, m.content) for m in seen.llm_judge_config.prompt_template] == [("user", "Grade {{output_data}}")]
    assert published in [c.id for c in api.list_llm_obs_custom_eval_configs().data]

    # Put by the official client, run by remote inference as RemoteEvaluator calls it.
    name = unique("correctness")
    api.update_llm_obs_custom_eval_config(name, body(name))
    before = len(judge.requests)
    r = judge_server.x("POST", f"/api/unstable/llm-obs/v1/evaluators/{name}/infer",
                       json_body={"data": {"type": "evaluator_inference", "attributes": {"context": {
                           "span_input": "2+2", "span_output": "4", "span_id": "1", "trace_id": "2"}}}})
    assert r.status == 200, r
    result = r.json()["data"]["attributes"]
    assert result["value"] is True and result["assessment"] == "pass" and result["reasoning"] == "ok"
    sent = judge.requests[before]["body"]
    assert sent["model"] == "gpt-4o-mini" and sent["max_tokens"] == 200
    assert sent["messages"][1] == {"role": "user", "content": "Is 4 right for 2+2?"}


def test_bad_input_names_the_field_and_stores_nothing(api, server):
    name = unique("broken")
    path = f"/api/unstable/llm-obs/config/evaluators/custom/{name}"
    cases = [
        ({"data": {"type": "evaluator_config", "attributes": {"eval_name": name}}}, "target"),
        ({"data": {"type": "evaluator_config", "attributes": {"eval_name": "other", "target": {
            "application_name": "a", "enabled": True}}}}, "eval_name"),
        ({"data": {"type": "evaluator_config", "attributes": {"target": {"application_name": "a", "enabled": True},
                                                              "llm_judge_config": {"inference_params": {}}}}},
         "prompt_template"),
        ({"data": {"type": "evaluator_config"}}, "attributes"),
    ]
    for payload, field in cases:
        r = server.x("PUT", path, json_body=payload, headers={"Accept": "application/json"})
        assert r.status == 400, (payload, r)
        assert field in r.detail, (field, r.detail)
    with pytest.raises(NotFoundException):
        api.get_llm_obs_custom_eval_config(name)


def test_other_org_gets_404(api, other_org_api):
    name = unique("private-judge")
    api.update_llm_obs_custom_eval_config(name, body(name))
    with pytest.raises(NotFoundException):
        other_org_api.get_llm_obs_custom_eval_config(name)
    with pytest.raises(NotFoundException):
        other_org_api.delete_llm_obs_custom_eval_config(name)
    assert name not in [c.id for c in other_org_api.list_llm_obs_custom_eval_configs().data]
    assert api.get_llm_obs_custom_eval_config(name).data.attributes.eval_name == name
