"""Fixtures: llmobs server processes on 127.0.0.1, each with a fresh store (a SQLite data
directory, or a PostgreSQL database with ``LLMOBS_COMPAT_BACKEND=postgres``: see ``harness``).

``server`` is shared by the tests of one module (each test uses its own prompt ids);
``make_server`` starts extra servers (strict labels, base path, small body limit, …) that
are stopped, by their own process, at the end of the test or module that asked for them.
"""

from __future__ import annotations

import pytest

from harness import Server, judge  # noqa: F401 (a fixture)


def _start(tmp_path_factory, name: str, **kw) -> Server:
    return Server(tmp_path_factory.mktemp(name), **kw).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = _start(tmp_path_factory, "server")
    yield srv
    srv.discard()


@pytest.fixture(scope="module")
def module_servers(tmp_path_factory):
    started: list[Server] = []

    def make(name: str = "extra", **kw) -> Server:
        srv = _start(tmp_path_factory, name, **kw)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.discard()


@pytest.fixture
def make_server(tmp_path_factory):
    started: list[Server] = []

    def make(name: str = "fresh", **kw) -> Server:
        srv = _start(tmp_path_factory, name, **kw)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.discard()


@pytest.fixture(scope="module")
def exp_server(module_servers, judge, tmp_path_factory):
    """A server with the deterministic evaluators of ``EVALUATORS_CONFIG`` and the mock judge."""
    from harness import evaluator_server

    return evaluator_server(module_servers, tmp_path_factory.mktemp("evaluators"), judge)
