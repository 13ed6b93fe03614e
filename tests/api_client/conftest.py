"""Fixtures: an llmobs server on 127.0.0.1 and the official ``datadog-api-client`` pointed at it.

The server comes from ``LLMOBS_BIN`` and is started by the compat suite's ``harness.Server``
(a fresh data directory, a bootstrap org with random keys). ``api`` is the client's
``AgentObservabilityApi`` with every unstable operation enabled, as a user would configure it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "compat"))

from harness import Server, unique  # noqa: E402

from datadog_api_client import ApiClient, Configuration  # noqa: E402
from datadog_api_client.v2.api.agent_observability_api import AgentObservabilityApi  # noqa: E402


def configuration(server: Server, api_key: str | None = None, app_key: str | None = None) -> Configuration:
    """A client configuration for ``server``, with every unstable operation turned on."""
    config = Configuration(host=server.root)
    config.api_key = {"apiKeyAuth": api_key or server.api_key, "appKeyAuth": app_key or server.app_key}
    for name in list(config.unstable_operations.values):
        if "llm_obs" in name:
            config.unstable_operations[name.split(".", 1)[1]] = True
    # No retries: a test must see the first answer.
    config.enable_retry = False
    return config


def client_for(server: Server, api_key: str | None = None, app_key: str | None = None) -> AgentObservabilityApi:
    return AgentObservabilityApi(ApiClient(configuration(server, api_key, app_key)))


def serving(tmp_path_factory, name: str):
    """For a fixture to ``yield from``: a server started in a fresh directory ``name``,
    stopped when the fixture ends."""
    srv = Server(tmp_path_factory.mktemp(name)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    yield from serving(tmp_path_factory, "api_server")


@pytest.fixture(scope="session")
def api(server) -> AgentObservabilityApi:
    return client_for(server)


@pytest.fixture(scope="session")
def other_org_api(server) -> AgentObservabilityApi:
    """The same client with the keys of a second org: its reads of the first org's ids must 404."""
    api_key, app_key = server.create_org(unique("other-org"))
    return client_for(server, api_key, app_key)


@pytest.fixture
def project(api):
    """A fresh project, as the official client creates one."""
    from datadog_api_client.v2.model.llm_obs_project_data_attributes_request import (
        LLMObsProjectDataAttributesRequest,
    )
    from datadog_api_client.v2.model.llm_obs_project_data_request import LLMObsProjectDataRequest
    from datadog_api_client.v2.model.llm_obs_project_request import LLMObsProjectRequest
    from datadog_api_client.v2.model.llm_obs_project_type import LLMObsProjectType

    body = LLMObsProjectRequest(
        data=LLMObsProjectDataRequest(
            type=LLMObsProjectType.PROJECTS,
            attributes=LLMObsProjectDataAttributesRequest(name=unique("proj"), description="a test project"),
        )
    )
    return api.create_llm_obs_project(body).data


@pytest.fixture(scope="session")
def stub():
    """The stub LLM provider (``stub_provider.StubProvider``)."""
    from stub_provider import StubProvider

    provider = StubProvider()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def provider_server(tmp_path_factory, stub):
    """A server with the stub provider's accounts (``stub_provider.accounts_file``)."""
    from stub_provider import STUB_KEY, accounts_file

    workdir = tmp_path_factory.mktemp("provider_server")
    srv = Server(workdir, extra_args=["--integrations", accounts_file(stub, workdir)],
                 extra_env={"STUB_KEY": STUB_KEY}).start()
    yield srv
    srv.stop()
