"""Several ``llmobs serve`` processes on one PostgreSQL database.

``cluster`` starts ``SERVERS`` servers at the same moment on one fresh, empty database (so
they race to migrate it and to create the first keys), all with the same keys and
``--read-cache-ms READ_CACHE_MS`` and ``--db-pool-size POOL_SIZE``. The PostgreSQL server is the one
``LLMOBS_TEST_DATABASE_URL`` names (``scripts/postgres.sh`` starts a throwaway one); the
database is dropped at the end of the module. The server processes and ddtrace come from
the compat suite's harness.
"""

from __future__ import annotations

import secrets
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "compat"))

from harness import Server, pg_admin_url, pg_database_url, psql  # noqa: E402

SERVERS = 3
READ_CACHE_MS = 1000
POOL_SIZE = 8


class Cluster:
    def __init__(self, url: str, servers: list[Server]):
        self.database_url = url
        self.servers = servers

    def rows(self, sql: str) -> list[str]:
        """``sql``'s rows on the shared database, one output line each."""
        return [ln for ln in psql(self.database_url, sql).splitlines() if ln]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    admin = pg_admin_url()
    name = "multi_" + secrets.token_hex(6)
    url = pg_database_url(admin, name)
    psql(admin, f'CREATE DATABASE "{name}";')
    api, app = "api" + secrets.token_hex(16), "app" + secrets.token_hex(16)
    servers = []
    for i in range(SERVERS):
        srv = Server(tmp_path_factory.mktemp(f"server{i}"), database_url=url,
                     extra_args=["--read-cache-ms", str(READ_CACHE_MS), "--db-pool-size", str(POOL_SIZE)])
        srv.api_key, srv.app_key = api, app
        servers.append(srv)
    errors: list[BaseException] = []
    barrier = threading.Barrier(SERVERS)

    def start(srv: Server) -> None:
        barrier.wait()
        try:
            srv.start()
        except BaseException as e:  # noqa: BLE001 (reported below with the server's stderr)
            errors.append(RuntimeError(f"{e}\nstderr:\n{srv.stderr_text()[-3000:]}"))

    threads = [threading.Thread(target=start, args=(srv,)) for srv in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        yield Cluster(url, servers)
    finally:
        for srv in servers:
            srv.stop()
        psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')
