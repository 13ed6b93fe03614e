"""Fixtures of the query-plane tests: a server, the official client pointed at it (built by
``conftest.client_for``), and helpers that store spans through the intake (raw HTTP) the
way ddtrace sends them.

The server comes from ``LLMOBS_BIN`` and is run by the compat suite's ``harness.Server``.
Each test module gets its own server (fresh data), so its assertions see exactly the spans
it stored. To run a module on PostgreSQL, set ``LLMOBS_DATABASE_URL`` to a fresh, empty
database (the server and ``llmobs keys create`` both read it); one database per module.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "compat"))

from harness import Server, run_llmobs, unique  # noqa: E402,F401

from datadog_api_client.exceptions import ApiException  # noqa: E402,F401
from datadog_api_client.v2.api.agent_observability_api import AgentObservabilityApi  # noqa: E402

from conftest import client_for, serving  # noqa: E402

QUERY_OPERATIONS = (
    "list_llm_obs_spans",
    "search_llm_obs_spans",
    "search_llm_obs_experimentation",
    "simple_search_llm_obs_experimentation",
    "aggregate_llm_obs_experimentation",
)


@pytest.fixture(scope="module")
def query_server(tmp_path_factory):
    yield from serving(tmp_path_factory, "query_server")


@pytest.fixture(scope="module")
def query_api(query_server) -> AgentObservabilityApi:
    return client_for(query_server)


def now_ns() -> int:
    return time.time_ns()


def span_event(trace_id: str, span_id: str, *, name: str, kind: str, ml_app: str, start_ns: int,
               duration: int = 1_000_000, status: str = "ok", parent_id: str = "undefined",
               input_value: str | None = None, output_value: str | None = None,
               messages: list[dict[str, Any]] | None = None, tags: list[str] | None = None,
               session_id: str | None = None) -> dict[str, Any]:
    """A span event shaped as ddtrace 4.16 sends it to ``/api/v2/llmobs``."""
    meta: dict[str, Any] = {"span": {"kind": kind}, "metadata": {"temperature": 0.2}}
    if input_value is not None:
        meta["input"] = {"value": input_value}
    if messages is not None:
        meta["input"] = {"messages": messages}
    if output_value is not None:
        meta["output"] = {"value": output_value}
    if kind == "llm":
        meta["model_name"] = "gpt-4o-mini"
        meta["model_provider"] = "openai"
    event = {
        "trace_id": trace_id, "span_id": span_id, "parent_id": parent_id, "name": name,
        "start_ns": start_ns, "duration": duration, "status": status, "meta": meta,
        "metrics": {"input_tokens": 12, "output_tokens": 34} if kind == "llm" else {},
        "tags": sorted([f"ml_app:{ml_app}", "env:test", "language:python", *(tags or [])]),
        "_dd": {"span_id": span_id, "trace_id": trace_id},
    }
    if session_id:
        event["session_id"] = session_id
    return event


def post_spans(server: Server, spans: list[dict[str, Any]], api_key: str | None = None) -> None:
    """Stores spans through the span intake, as ddtrace's writer posts them."""
    body = [{"_dd.stage": "raw", "event_type": "span", "spans": spans}]
    resp = server.request("POST", "/api/v2/llmobs", json_body=body,
                          api_key=api_key or server.api_key, app_key=None)
    assert resp.status == 202, resp
