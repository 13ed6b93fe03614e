"""Fixtures: llmobs servers started from ``LLMOBS_BIN`` by the compat suite's ``harness``.

``server`` is one SQLite server shared by a module; ``backend`` parametrizes a test over
SQLite and PostgreSQL (the PostgreSQL case runs when ``LLMOBS_TEST_DATABASE_URL`` names a
server, as ``scripts/test.sh`` sets it, and is skipped otherwise).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "compat"))

from harness import Server, pg_admin_url, pg_database_url  # noqa: E402


def rss_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (resident now), ``VmHWM`` (the peak), and ``RssAnon`` and ``RssFile`` (resident
    heap and mapped files, such as SQLite's memory-mapped database) of a process, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0])
    return out


def postgres_url() -> Optional[str]:
    return os.environ.get("LLMOBS_TEST_DATABASE_URL") or None


class Backend:
    """Where a server keeps its data: a SQLite file in its data directory, or a database
    of its own on the test PostgreSQL server (created on first start, dropped by
    ``Server.discard``)."""

    def __init__(self, name: str):
        self.name = name

    def server(self, workdir: Path, **kw) -> Server:
        srv = Server(workdir, **kw)
        srv.database_url = None
        if self.name == "postgres":
            srv.database_url = pg_database_url(pg_admin_url(), "reliability_" + secrets.token_hex(6))
        return srv


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request) -> Backend:
    if request.param == "postgres" and not postgres_url():
        pytest.skip("LLMOBS_TEST_DATABASE_URL is not set (scripts/postgres.sh sets it)")
    return Backend(request.param)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("server")).start()
    yield srv
    srv.stop()


@pytest.fixture
def make_server(tmp_path_factory):
    """Starts servers with extra arguments; each is stopped, by its own process, at the end."""
    started: list[Server] = []

    def make(name: str = "fresh", **kw) -> Server:
        srv = Server(tmp_path_factory.mktemp(name), **kw).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
