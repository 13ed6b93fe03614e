"""LLM provider integrations through the official client: the accounts configured on the
server (keys never shown), their models from the provider's list or the file, and inference
through OpenAI-compatible and Anthropic accounts, against the stub provider."""

from __future__ import annotations

import pytest
from datadog_api_client.exceptions import ApiException, NotFoundException
from datadog_api_client.v2.model.llm_obs_inference_message import LLMObsInferenceMessage
from datadog_api_client.v2.model.llm_obs_integration_inference_request import LLMObsIntegrationInferenceRequest
from datadog_api_client.v2.model.llm_obs_integration_name import LLMObsIntegrationName

from conftest import client_for
from harness import Server
from stub_provider import CLAUDE_KEY, STUB_KEY


@pytest.fixture(scope="module")
def api(provider_server):
    return client_for(provider_server)


def test_accounts_are_listed_per_integration_without_keys(api, provider_server):
    openai = api.list_llm_obs_integration_accounts(LLMObsIntegrationName.OPENAI)
    assert [(a.id, a.account_id, a.account_name, a.integration, a.account_region) for a in openai] == [
        ("stub", "stub", "Stub OpenAI", "openai", "local")]
    claude = api.list_llm_obs_integration_accounts(LLMObsIntegrationName.ANTHROPIC)
    assert [(a.id, a.account_name) for a in claude] == [("claude", "Claude")]
    assert [a.id for a in api.list_llm_obs_integration_accounts(LLMObsIntegrationName.LLMPROXY)] == ["fixed"]
    assert api.list_llm_obs_integration_accounts(LLMObsIntegrationName.VERTEX_AI) == []
    for integration in ("openai", "anthropic", "llmproxy"):
        raw = provider_server.x("GET", f"/api/v2/llm-obs/v1/integrations/{integration}/accounts")
        assert raw.status == 200
        assert STUB_KEY.encode() not in raw.body and CLAUDE_KEY.encode() not in raw.body
    bad = provider_server.x("GET", "/api/v2/llm-obs/v1/integrations/cohere/accounts")
    assert bad.status == 400 and b"unknown integration 'cohere'" in bad.body


def test_models_come_from_the_provider_or_the_file(api, stub):
    models = api.list_llm_obs_integration_models(LLMObsIntegrationName.OPENAI, "stub")
    assert [(m.model_id, m.id, m.has_access, m.json_schema, m.integration_display_name) for m in models] == [
        ("stub-chat", "stub/stub-chat", True, True, "OpenAI"), ("stub-embed", "stub/stub-embed", True, True, "OpenAI")]
    listed = [r for r in stub.requests if r["path"] == "/v1/models"]
    assert listed and listed[-1]["headers"]["authorization"] == f"Bearer {STUB_KEY}"
    fixed = api.list_llm_obs_integration_models(LLMObsIntegrationName.LLMPROXY, "fixed")
    assert [m.model_id for m in fixed] == ["b-model", "a-model"]
    claude = api.list_llm_obs_integration_models(LLMObsIntegrationName.ANTHROPIC, "claude")
    assert [(m.model_id, m.model_display_name, m.json_schema) for m in claude] == [("claude-stub", "Claude Stub", False)]
    with pytest.raises(NotFoundException):
        api.list_llm_obs_integration_models(LLMObsIntegrationName.OPENAI, "claude")


def test_inference_runs_through_openai_compatible_and_anthropic_accounts(api, stub, provider_server):
    request = LLMObsIntegrationInferenceRequest(
        model_id="stub-chat", temperature=0.2, max_tokens=50,
        messages=[LLMObsInferenceMessage(role="system", content="Be brief."),
                  LLMObsInferenceMessage(role="user", content="What is 2+2?")])
    answer = api.create_llm_obs_integration_inference(LLMObsIntegrationName.OPENAI, "stub", request)
    assert answer.response.content == "reply:What is 2+2?"
    assert (answer.response.input_tokens, answer.response.output_tokens, answer.response.total_tokens) == (7, 3, 10)
    assert answer.response.finish_reason == "stop" and answer.model_id == "stub-chat"
    sent = [r for r in stub.requests if r["path"] == "/v1/chat/completions"][-1]
    assert sent["body"] == {"model": "stub-chat", "temperature": 0.2, "max_tokens": 50, "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]}
    assert sent["headers"]["authorization"] == f"Bearer {STUB_KEY}"

    claude = api.create_llm_obs_integration_inference(LLMObsIntegrationName.ANTHROPIC, "claude",
        LLMObsIntegrationInferenceRequest(model_id="claude-stub", messages=[
            LLMObsInferenceMessage(role="system", content="Be brief."), LLMObsInferenceMessage(role="user", content="Hi")]))
    assert claude.response.content == "claude:Hi" and claude.response.finish_reason == "end_turn"
    sent = [r for r in stub.requests if r["path"] == "/anthropic/v1/messages"][-1]
    assert sent["headers"]["x-api-key"] == CLAUDE_KEY and sent["headers"]["anthropic-version"]
    assert sent["body"]["system"] == "Be brief." and sent["body"]["max_tokens"] == 1024

    # A provider failure is reported in error_response, and the key appears nowhere.
    failed = api.create_llm_obs_integration_inference(LLMObsIntegrationName.OPENAI, "stub",
        LLMObsIntegrationInferenceRequest(model_id="fail", messages=[LLMObsInferenceMessage(role="user", content="x")]))
    assert failed.error_response.type == "provider_error"
    assert "500" in failed.error_response.message and "fails on purpose" in failed.error_response.message
    assert failed.response.content == ""
    assert STUB_KEY not in provider_server.stderr_text() and CLAUDE_KEY not in provider_server.stderr_text()

    with pytest.raises(ApiException) as bad:
        api.create_llm_obs_integration_inference(LLMObsIntegrationName.OPENAI, "stub",
                                                 LLMObsIntegrationInferenceRequest(model_id="stub-chat", messages=[]))
    assert bad.value.status == 400 and "at least one message" in str(bad.value.body)


def test_judge_url_is_an_account(tmp_path, stub):
    srv = Server(tmp_path, extra_args=["--judge-url", stub.openai_url]).start()
    try:
        api = client_for(srv)
        assert [(a.id, a.integration) for a in api.list_llm_obs_integration_accounts(LLMObsIntegrationName.OPENAI)] == [
            ("judge", "openai")]
        answer = api.create_llm_obs_integration_inference(LLMObsIntegrationName.OPENAI, "judge",
            LLMObsIntegrationInferenceRequest(model_id="stub-chat", messages=[LLMObsInferenceMessage(content="ping")]))
        assert answer.response.content == "reply:ping"
    finally:
        srv.stop()


def test_a_bad_integrations_file_stops_the_server_with_the_reason(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"accounts": [{"integration": "openai", "id": "a", "base_url": "ftp://x"}]}')
    srv = Server(tmp_path, extra_args=["--integrations", str(path)])
    with pytest.raises(RuntimeError):
        srv.start(timeout=10)
    assert "base_url must start with http://" in srv.stderr_text()
