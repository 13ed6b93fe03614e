"""Test harness: run the llmobs server binary and drive it with raw HTTP or the real ddtrace.

Nothing here hard-codes a machine path: the binary comes from ``LLMOBS_BIN`` (default:
``target/debug/llmobs`` of this repository, found relative to this file) and the ddtrace
scenarios run under the same Python interpreter as pytest (``sys.executable``).

Backends: by default each server gets a fresh SQLite data directory. With
``LLMOBS_COMPAT_BACKEND=postgres`` each server gets a fresh database, created on the
PostgreSQL server that ``LLMOBS_TEST_DATABASE_URL`` names (``scripts/postgres.sh`` starts a
throwaway one and exports it) and dropped by ``Server.discard``. The few tests that read
stored state no API returns do so through ``Server.db_rows``, on either backend (PostgreSQL
through the ``psql`` client, which comes with the server package).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

PROMPTS = "/api/unstable/llm-obs/v1/prompts"

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
LISTENING_RE = re.compile(r"^listening on http://127\.0\.0\.1:(\d+)$")

_DEFAULT = object()


def server_binary() -> str:
    configured = os.environ.get("LLMOBS_BIN")
    if configured:
        path = Path(configured)
        if not path.is_absolute() and not path.exists() and (REPO / path).exists():
            path = REPO / path  # e.g. LLMOBS_BIN=target/release/llmobs with another cwd
        return str(path.resolve())
    return str(REPO / "target" / "debug" / "llmobs")


def compat_backend() -> str:
    """``"postgres"`` when ``LLMOBS_COMPAT_BACKEND=postgres``, else ``"sqlite"``."""
    backend = os.environ.get("LLMOBS_COMPAT_BACKEND", "sqlite").strip().lower() or "sqlite"
    if backend not in ("sqlite", "postgres"):
        raise RuntimeError(f"LLMOBS_COMPAT_BACKEND={backend!r}: use 'sqlite' or 'postgres'")
    return backend


def pg_admin_url() -> str:
    """The PostgreSQL URL tests create their databases from (``LLMOBS_TEST_DATABASE_URL``)."""
    url = os.environ.get("LLMOBS_TEST_DATABASE_URL")
    if not url:
        raise RuntimeError(
            "LLMOBS_COMPAT_BACKEND=postgres needs LLMOBS_TEST_DATABASE_URL=postgres://USER@HOST:PORT/DB "
            "(`source scripts/postgres.sh` starts a throwaway PostgreSQL and sets it)"
        )
    return url


def pg_database_url(admin_url: str, name: str) -> str:
    """``admin_url`` with its database replaced by ``name``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def psql(url: str, sql: str, variables: Optional[dict[str, str]] = None) -> str:
    """Runs ``sql`` (read from stdin, so ``:'name'`` quotes ``variables`` as literals) with
    ``psql`` against ``url``; the unaligned, tuples-only output."""
    args = ["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    for k, v in (variables or {}).items():
        args += ["-v", f"{k}={v}"]
    out = subprocess.run(args, input=sql, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed ({out.returncode}): {out.stderr.strip()}\nSQL: {sql}")
    return out.stdout


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(prompt_id: str) -> str:
    """The path-segment encoding of spec §1.4 (Python ``quote(id, safe="")``)."""
    return quote(prompt_id, safe="")


def parse_ts(value: str):
    """An RFC 3339 timestamp (any fractional precision) as an aware datetime."""
    from datetime import datetime

    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$", value)
    assert m, f"not RFC 3339: {value!r}"
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}.{frac}{tz}")


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def detail(self) -> Any:
        try:
            data = self.json()
        except ValueError:
            return None
        return data.get("detail") if isinstance(data, dict) else None

    def __repr__(self) -> str:
        body = self.body[:500]
        return f"<Response {self.status} {body!r}>"


class Server:
    """One ``llmobs serve`` process on 127.0.0.1 with a fresh data directory."""

    def __init__(
        self,
        workdir: Path,
        *,
        base_path: Optional[str] = None,
        strict_labels: bool = False,
        max_body_bytes: Optional[int] = None,
        extra_args: Optional[list[str]] = None,
        extra_env: Optional[dict[str, str]] = None,
        database_url: Optional[str] = None,
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.base_path = base_path or ""
        self.strict_labels = strict_labels
        self.max_body_bytes = max_body_bytes
        self.extra_args = list(extra_args or [])
        self.extra_env = dict(extra_env or {})
        self.api_key = "api" + secrets.token_hex(16)
        self.app_key = "app" + secrets.token_hex(16)
        self.stderr_path = self.workdir / "server.stderr"
        self.stdout_lines: list[str] = []
        self.proc: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self.returncode: Optional[int] = None
        # The PostgreSQL database of this server, or None on SQLite. A given ``database_url``
        # (shared with other servers) is the caller's to create and drop; otherwise, on the
        # PostgreSQL backend, it is created on first start and dropped by ``discard``.
        self.database_url: Optional[str] = database_url
        self._database_created = database_url is not None
        self._owns_database = False
        if database_url is None and compat_backend() == "postgres":
            self.database_url = pg_database_url(pg_admin_url(), "compat_" + secrets.token_hex(6))
            self._owns_database = True

    # -- lifecycle -------------------------------------------------------------------------

    def server_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LLMOBS_INITIAL_API_KEY"] = self.api_key
        env["LLMOBS_INITIAL_APP_KEY"] = self.app_key
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 30.0) -> "Server":
        binary = server_binary()
        if not os.path.exists(binary):
            raise RuntimeError(f"llmobs binary not found at {binary}; set LLMOBS_BIN or build llmobs-cli")
        self._create_database()
        args = [binary, "serve", "--listen", "127.0.0.1:0", *self.store_args()]
        if self.base_path:
            args += ["--base-path", self.base_path]
        if self.strict_labels:
            args.append("--strict-labels")
        if self.max_body_bytes is not None:
            args += ["--max-body-bytes", str(self.max_body_bytes)]
        args += self.extra_args
        self._stderr_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            env=self.server_env(),
            cwd=str(self.workdir),
        )
        first_line: list[str] = []
        got_line = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.stdout_lines.append(line)
                if not first_line:
                    first_line.append(line)
                    got_line.set()
            got_line.set()

        threading.Thread(target=pump, daemon=True).start()
        if not got_line.wait(timeout) or not first_line:
            self.stop()
            raise RuntimeError(f"server printed no 'listening on' line; stderr:\n{self.stderr_text()[-4000:]}")
        m = LISTENING_RE.match(first_line[0])
        if not m:
            self.stop()
            raise RuntimeError(f"unexpected first stdout line {first_line[0]!r}")
        self.port = int(m.group(1))
        deadline = time.time() + timeout
        while True:
            try:
                if self.request("GET", "/healthz", api_key=None, app_key=None).status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("server never became healthy")
            time.sleep(0.05)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> Optional[int]:
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        self._stderr_file.close()
        self.proc = None
        return self.returncode

    def store_args(self) -> list[str]:
        """The ``llmobs`` options naming this server's store."""
        if self.database_url:
            return ["--database-url", self.database_url]
        return ["--data-dir", str(self.data_dir)]

    def _create_database(self) -> None:
        if self.database_url and not self._database_created:
            name = self.database_url.rsplit("/", 1)[1]
            psql(pg_admin_url(), f'CREATE DATABASE "{name}";')
            self._database_created = True

    def discard(self) -> None:
        """Stops the server and drops its PostgreSQL database (its data directory goes with
        pytest's temporary directories)."""
        self.stop()
        if self._owns_database and self._database_created:
            name = self.database_url.rsplit("/", 1)[1]
            psql(pg_admin_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')
            self._database_created = False

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    # -- addresses -------------------------------------------------------------------------

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        """What ddtrace gets as DD_LLMOBS_OVERRIDE_ORIGIN (with a trailing slash under a prefix)."""
        return f"{self.root}{self.base_path}/" if self.base_path else self.root

    def path(self, rel: str = "") -> str:
        """Absolute request path of a prompts route (``rel`` is relative to the collection)."""
        return f"{self.base_path}{PROMPTS}{rel}"

    # -- raw HTTP --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = _DEFAULT,
        body: Optional[bytes] = None,
        headers: Optional[dict[str, str]] = None,
        api_key: Any = _DEFAULT,
        app_key: Any = _DEFAULT,
        content_type: Any = _DEFAULT,
        timeout: float = 60.0,
    ) -> Response:
        """Send one request. ``api_key``/``app_key``: default = this server's keys, None = omit."""
        hdrs: dict[str, str] = {}
        if api_key is _DEFAULT:
            api_key = self.api_key
        if app_key is _DEFAULT:
            app_key = self.app_key
        if api_key is not None:
            hdrs["DD-API-KEY"] = api_key
        if app_key is not None:
            hdrs["DD-APPLICATION-KEY"] = app_key
        if json_body is not _DEFAULT:
            body = json.dumps(json_body).encode("utf-8")
            if content_type is _DEFAULT:
                content_type = "application/json"
        if content_type not in (_DEFAULT, None):
            hdrs["Content-Type"] = content_type
        if headers:
            hdrs.update(headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (e.g. 413) and close before the whole body is sent.
                pass
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def api(self, method: str, rel: str = "", **kw: Any) -> Response:
        return self.request(method, self.path(rel), **kw)

    # -- keys ------------------------------------------------------------------------------

    def create_org(self, name: str) -> tuple[str, str]:
        """``llmobs keys create --org NAME`` → (api_key, app_key) of the new org."""
        out = subprocess.run(
            [server_binary(), "keys", "create", "--org", name, *self.store_args()],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 0, f"keys create failed ({out.returncode}): {out.stderr}"
        found: dict[str, str] = {}
        for line in out.stdout.splitlines():
            m = re.match(r"^export (DD_API_KEY|DD_APP_KEY)=([0-9a-fA-F]+)$", line.strip())
            if m:
                found[m.group(1)] = m.group(2)
        assert set(found) == {"DD_API_KEY", "DD_APP_KEY"}, f"unexpected keys create output: {out.stdout!r}"
        return found["DD_API_KEY"], found["DD_APP_KEY"]

    # -- convenience -----------------------------------------------------------------------

    def create_prompt(self, prompt_id: str, template: Any = None, **fields: Any) -> Response:
        body = {"prompt_id": prompt_id, "template": template if template is not None else CHAT_1}
        body.update(fields)
        return self.api("POST", "", json_body=body)

    def versions(self, prompt_id: str) -> list[dict]:
        r = self.api("GET", f"/{pct(prompt_id)}/versions")
        assert r.status == 200, r
        return r.json()


CHAT_1 = [{"role": "user", "content": "Hello {{name}}"}]


# -- ddtrace subprocess -------------------------------------------------------------------

_PRELUDE = r'''
import json, sys, warnings
REQUESTS = []
from ddtrace.llmobs._prompts import manager as _manager
_orig_get_connection = _manager.get_connection

class _RecordingConnection:
    """Wraps the real transport connection, only noting what is sent through it."""
    def __init__(self, conn):
        self._conn = conn
    def request(self, method, url, body=None, headers=None, *a, **kw):
        if isinstance(body, (bytes, bytearray)):
            shown = bytes(body).decode("utf-8", "replace")
        else:
            shown = body
        REQUESTS.append({"method": method, "path": url,
                         "headers": {str(k).lower(): v for k, v in (headers or {}).items()},
                         "body": shown})
        return self._conn.request(method, url, body=body, headers=headers, *a, **kw)
    def __getattr__(self, name):
        return getattr(self._conn, name)

def _recording_get_connection(*a, **kw):
    return _RecordingConnection(_orig_get_connection(*a, **kw))

_manager.get_connection = _recording_get_connection

from ddtrace.llmobs import LLMObs
from ddtrace.llmobs._prompts.prompt import ManagedPrompt

OUT = {}
try:
    LLMObs.enable(ml_app="compat", agentless_enabled=True, integrations_enabled=False)
except ValueError as e:  # e.g. no DD_API_KEY: prompt calls must still report their own errors
    OUT["_enable_error"] = str(e)

R = OUT.setdefault("_values", {})

def _plain(v):
    if isinstance(v, ManagedPrompt):
        return {"id": v.id, "version": v.version, "label": object.__getattribute__(v, "label"),
                "source": v.source, "template": _plain(v.template), "uuid": v._uuid,
                "version_uuid": v._version_uuid, "config": v.config}
    if isinstance(v, str):
        return str(v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if v is None or isinstance(v, (bool, int, float)):
        return v
    return repr(v)

def call(name, fn):
    """Run fn(), record its value or exception, the requests it made and its warnings."""
    start = len(REQUESTS)
    value = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
            res = {"ok": True, "value": _plain(value)}
        except Exception as e:
            res = {"ok": False, "exc": type(e).__name__,
                   "mro": [c.__name__ for c in type(e).__mro__],
                   "status": getattr(e, "status", None),
                   "detail": _plain(getattr(e, "detail", None)), "msg": str(e)}
    res["requests"] = REQUESTS[start:]
    res["warnings"] = [{"category": w.category.__name__, "msg": str(w.message)} for w in caught]
    OUT[name] = res
    return value
'''

_EPILOGUE = r'''
sys.stdout.write("\n__COMPAT_RESULT__" + json.dumps(OUT) + "\n")
sys.stdout.flush()
'''


def client_env(server: Server, scratch: Path, env_extra: Optional[dict[str, Optional[str]]] = None,
               origin: Optional[str] = None) -> dict[str, str]:
    home = scratch / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DD_LLMOBS_OVERRIDE_ORIGIN": origin or server.origin,
        "DD_API_KEY": server.api_key,
        "DD_APP_KEY": server.app_key,
        "DD_SITE": "datadoghq.com",
        "DD_LLMOBS_AGENTLESS_ENABLED": "1",
        "DD_TRACE_ENABLED": "false",
        "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
        "DD_REMOTE_CONFIGURATION_ENABLED": "false",
        "DD_TRACE_AGENT_URL": f"http://127.0.0.1:{closed_port()}",
    }
    for k, v in (env_extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


class ClientRun(dict):
    """The recorded outcome of a ddtrace scenario: name → {ok, value | exc, status, detail, msg, requests}."""

    stdout: str = ""
    stderr: str = ""

    def ok(self, name: str) -> Any:
        res = self[name]
        assert res["ok"], f"step {name!r} raised {res.get('exc')}: {res.get('msg')}\nclient stderr:\n{self.stderr[-3000:]}"
        return res["value"]

    def err(self, name: str) -> dict:
        res = self[name]
        assert not res["ok"], f"step {name!r} was expected to raise but returned {res.get('value')!r}"
        return res

    def requests(self, name: str) -> list[dict]:
        return self[name]["requests"]

    @property
    def values(self) -> dict:
        return self.get("_values", {})


def _scenario_result(proc: subprocess.CompletedProcess, kind: type) -> Any:
    """The JSON a scenario printed after its result marker, as a ``kind`` with the
    process output attached; fails with that output when the scenario failed."""
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    marker = "__COMPAT_RESULT__"
    lines = [ln for ln in stdout.splitlines() if ln.startswith(marker)]
    if proc.returncode != 0 or not lines:
        raise AssertionError(
            f"ddtrace scenario failed (exit {proc.returncode})\nstdout:\n{stdout[-3000:]}\nstderr:\n{stderr[-5000:]}"
        )
    run = kind(json.loads(lines[-1][len(marker):]))
    run.stdout = stdout
    run.stderr = stderr
    return run


def run_client(server: Server, code: str, *, env_extra: Optional[dict[str, Optional[str]]] = None,
               args: Any = None, origin: Optional[str] = None, timeout: float = 120.0) -> ClientRun:
    """Run ``code`` in a fresh Python process with ddtrace pointed at ``server``.

    ``code`` may use ``LLMObs``, ``call(name, fn)``, ``R`` (a dict of free results) and ``ARGS``
    (``args`` round-tripped through JSON).
    """
    scratch = Path(tempfile.mkdtemp(prefix="compat-client-"))
    cwd = scratch / "cwd"
    cwd.mkdir()
    script = (
        _PRELUDE
        + f"\nARGS = json.loads({json.dumps(json.dumps(args))})\n"
        + textwrap.dedent(code)
        + _EPILOGUE
    )
    script_path = scratch / "scenario.py"
    script_path.write_text(script, "utf-8")
    proc = subprocess.run(
        [sys.executable, str(script_path)],
        cwd=str(cwd),
        env=client_env(server, scratch, env_extra, origin),
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return _scenario_result(proc, ClientRun)


def only_request(run: ClientRun, name: str) -> dict:
    reqs = run.requests(name)
    assert len(reqs) == 1, f"step {name!r}: expected exactly one request, got {reqs}"
    return reqs[0]


# == datasets and experiments ============================================================
#
# The experiments/datasets API, the span writer and the eval-metric writer of ddtrace all
# open their connections through ``ddtrace.llmobs._writer`` (``HTTPConnection(url, ...)``
# in 4.16, ``get_connection(url, ...)`` in 4.7). ``run_llmobs`` wraps that factory, the same
# non-invasive way ``run_client`` wraps the prompt transport, and records every request
# with its answer.

V1 = "/api/unstable/llm-obs/v1"
V2 = "/api/v2/llm-obs/v1"

EXACT_VERSION_DETAIL = "invalid version: version is greater than the current version or negative"


def _server_api_helpers() -> None:
    """Raw helpers for the experiments API, attached to ``Server`` (reads go to E1/E3/E4/E10/E12)."""

    def x(self: Server, method: str, path: str, **kw: Any) -> Response:
        """A request to an absolute API path (the base path is prepended)."""
        return self.request(method, f"{self.base_path}{path}", **kw)

    def project(self: Server, name: str) -> str:
        r = self.x("POST", f"{V1}/projects",
                   json_body={"data": {"type": "projects", "attributes": {"name": name, "description": ""}}})
        assert r.status == 200, r
        return r.json()["data"]["id"]

    def datasets_named(self: Server, project_id: str, name: str) -> list[dict]:
        r = self.x("GET", f"{V2}/{project_id}/datasets?filter[name]={quote(name)}")
        assert r.status == 200, r
        return r.json()["data"]

    def dataset_named(self: Server, project_id: str, name: str) -> dict:
        found = self.datasets_named(project_id, name)
        assert len(found) == 1, f"E3 filter[name]={name!r}: expected one dataset, got {found}"
        return found[0]

    def records_pages(self: Server, project_id: str, dataset_id: str, *, version: Optional[int] = None,
                      tags: Optional[list[str]] = None, limit: Optional[int] = None) -> list[Response]:
        """Every page of E4, following ``meta.after`` (each answer must be 200)."""
        opts = ""
        if version is not None:
            opts += f"&filter[version]={version}"
        if limit is not None:
            opts += f"&page[limit]={limit}"
        for tag in tags or []:
            opts += f"&filter[tags]={tag}"
        pages: list[Response] = []
        cursor = None
        while True:
            query = (f"page[cursor]={quote(cursor, safe='[]')}" if cursor else "") + opts
            r = self.x("GET", f"{V2}/{project_id}/datasets/{dataset_id}/records?{query}", timeout=120)
            assert r.status == 200, r
            pages.append(r)
            after = (r.json().get("meta") or {}).get("after")
            if not after:
                return pages
            assert after != cursor, f"E4 cursor does not advance: {after!r}"
            cursor = after
            assert len(pages) < 100_000, "E4 pagination does not end"

    def records(self: Server, project_id: str, dataset_id: str, **kw: Any) -> list[dict]:
        """All records of E4 as ``{"id", **attributes}`` dicts, in listing order."""
        out = []
        for page in self.records_pages(project_id, dataset_id, **kw):
            for item in page.json()["data"]:
                out.append({"id": item["id"], **item["attributes"]})
        return out

    def experiment_get(self: Server, experiment_id: str) -> dict:
        r = self.x("GET", f"{V2}/experiments?filter[id]={experiment_id}")
        assert r.status == 200, r
        data = r.json()["data"]
        assert len(data) == 1, f"E10 filter[id]={experiment_id}: {data}"
        return {"id": data[0]["id"], **data[0]["attributes"]}

    def experiment_events(self: Server, experiment_id: str) -> dict:
        r = self.x("GET", f"{V1}/experiments/{experiment_id}/events?include[eval_metrics]=true")
        assert r.status == 200, r
        return r.json()["data"]["attributes"]

    def db_rows(self: Server, sql: str, params: tuple = ()) -> list[tuple]:
        """Read-only query of the server's database (for state no API reads back), on either
        backend. ``sql`` uses ``?`` placeholders (never inside a string literal); values come
        back as SQLite gives them (PostgreSQL's through JSON: text, numbers, null)."""
        if self.database_url:
            parts = sql.split("?")
            assert len(parts) == len(params) + 1, f"{len(params)} params for {sql!r}"
            text = parts[0] + "".join(f":'p{i}'" + rest for i, rest in enumerate(parts[1:]))
            wrapped = f"SELECT coalesce(json_agg(row_to_json(q)), '[]') FROM ({text}) q;\n"
            out = psql(self.database_url, "BEGIN READ ONLY;\n" + wrapped + "COMMIT;\n",
                       {f"p{i}": str(v) for i, v in enumerate(params)})
            # Pairs, not dicts: unnamed columns all share the name ``?column?``.
            rows = json.loads(out.strip(), object_pairs_hook=lambda pairs: pairs)
            return [tuple(value for _, value in row) for row in rows]
        import sqlite3

        conn = sqlite3.connect(f"file:{self.data_dir / 'llmobs.db'}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    for fn in (x, project, datasets_named, dataset_named, records_pages, records, experiment_get,
               experiment_events, db_rows):
        setattr(Server, fn.__name__, fn)


_server_api_helpers()


def span_tags(span: dict) -> dict[str, list[str]]:
    """A span's ``key:value`` tags as key → values."""
    out: dict[str, list[str]] = {}
    for tag in span.get("tags") or []:
        k, _, v = tag.partition(":")
        out.setdefault(k, []).append(v)
    return out


def span_tag(span: dict, key: str) -> Optional[str]:
    values = span_tags(span).get(key)
    return values[0] if values else None


_LLMOBS_PRELUDE = r'''
import json, os, sys, threading, time, warnings
REQUESTS = []
_REC_LOCK = threading.Lock()
RECORD_BODIES = ARGS_RECORD_BODIES

import ddtrace
import ddtrace.llmobs._writer as _w

def _decode(body):
    if body is None:
        return None
    if isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"_binary": len(raw)}
    else:
        text = str(body)
    try:
        return json.loads(text)
    except ValueError:
        return text

def _size(body):
    if body is None:
        return 0
    return len(body) if isinstance(body, (bytes, bytearray, str)) else len(bytes(body))

class _RecordedResponse:
    def __init__(self, resp, data):
        self._resp = resp
        self._data = data
        self.status = resp.status
        self.reason = getattr(resp, "reason", None)
        self.msg = getattr(resp, "msg", None)
    def read(self, *a, **kw):
        data, self._data = self._data, b""
        return data
    def __getattr__(self, name):
        return getattr(self._resp, name)

class _RecordingConnection:
    """Wraps the real connection, only noting what goes through it."""
    def __init__(self, conn, base):
        self._conn = conn
        self._base = base
        self._entry = None
    def request(self, method, url, body=None, headers=None, *a, **kw):
        entry = {"method": method, "path": url, "base": self._base,
                 "headers": {str(k).lower(): v for k, v in (headers or {}).items()},
                 "size": _size(body), "t": time.time()}
        if RECORD_BODIES:
            entry["body"] = _decode(body)
        with _REC_LOCK:
            REQUESTS.append(entry)
        self._entry = entry
        return self._conn.request(method, url, body, headers, *a, **kw)
    def getresponse(self, *a, **kw):
        resp = self._conn.getresponse(*a, **kw)
        data = resp.read()
        if self._entry is not None:
            self._entry["status"] = resp.status
            self._entry["response_size"] = len(data or b"")
            if RECORD_BODIES:
                self._entry["response"] = _decode(data)
        return _RecordedResponse(resp, data)
    def __getattr__(self, name):
        return getattr(self._conn, name)

if hasattr(_w, "HTTPConnection"):
    _orig_conn = _w.HTTPConnection
    def _recording_conn(url, *a, **kw):
        return _RecordingConnection(_orig_conn(url, *a, **kw), url)
    _w.HTTPConnection = _recording_conn
if hasattr(_w, "get_connection"):
    _orig_get = _w.get_connection
    def _recording_get(*a, **kw):
        url = kw.get("url", a[0] if a else None)
        return _RecordingConnection(_orig_get(*a, **kw), url)
    _w.get_connection = _recording_get

from ddtrace.llmobs import LLMObs

_COMPAT_OUT = {"_ddtrace_version": ddtrace.__version__}
R = _COMPAT_OUT.setdefault("_values", {})

def enable(**kw):
    opts = dict(ml_app="compat", project_name=ARGS.get("project", "compat-project"),
                agentless_enabled=True, integrations_enabled=False)
    opts.update(kw)
    LLMObs.enable(**opts)

def _plain(v):
    if isinstance(v, str):
        return str(v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_plain(x) for x in v]
    if v is None or isinstance(v, (bool, int, float)):
        return v
    return repr(v)

def ds_info(ds, records=True):
    info = {"id": ds._id, "name": ds.name, "version": ds.version, "latest_version": ds.latest_version,
            "len": len(ds), "url": getattr(ds, "url", None),
            "filter_tags": _plain(getattr(ds, "filter_tags", None)),
            "project": _plain(dict(ds.project)) if isinstance(ds.project, dict) else _plain(ds.project)}
    if records:
        info["records"] = [_plain(dict(r)) for r in ds]
    return info

def call(name, fn):
    """Run fn(), record its value or exception, the requests it made and its warnings."""
    start = len(REQUESTS)
    value = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.time()
        try:
            value = fn()
            res = {"ok": True, "value": _plain(value)}
        except BaseException as e:
            import traceback
            res = {"ok": False, "exc": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__],
                   "msg": str(e), "trace": traceback.format_exc()[-3000:]}
        res["seconds"] = time.time() - t0
    with _REC_LOCK:
        res["requests"] = REQUESTS[start:]
    res["warnings"] = [{"category": w.category.__name__, "msg": str(w.message)} for w in caught]
    _COMPAT_OUT[name] = res
    return value
'''

_LLMOBS_EPILOGUE = r'''
try:
    if LLMObs.enabled:
        LLMObs.flush()
except Exception as e:
    _COMPAT_OUT["_flush_error"] = repr(e)
with _REC_LOCK:
    _COMPAT_OUT["_requests"] = list(REQUESTS)
sys.stdout.write("\n__COMPAT_RESULT__" + json.dumps(_COMPAT_OUT) + "\n")
sys.stdout.flush()
'''


class LLMObsRun(ClientRun):
    """A ``ClientRun`` whose ``all_requests`` holds every request ddtrace's LLMObs senders made."""

    @property
    def all_requests(self) -> list[dict]:
        return self.get("_requests", [])

    def matching(self, method: Optional[str] = None, contains: str = "", reqs: Optional[list[dict]] = None,
                 endswith: Optional[str] = None) -> list[dict]:
        out = []
        for r in self.all_requests if reqs is None else reqs:
            path = r["path"].split("?", 1)[0]
            if method and r["method"] != method:
                continue
            if contains and contains not in r["path"]:
                continue
            if endswith is not None and not path.endswith(endswith):
                continue
            out.append(r)
        return out


def ddtrace_47_python() -> str:
    """The interpreter with ddtrace 4.7.0 (``DDTRACE_47_PYTHON``); a missing one fails the test."""
    import pytest

    path = os.environ.get("DDTRACE_47_PYTHON")
    if not path:
        pytest.fail(
            "DDTRACE_47_PYTHON is not set: point it at a python with ddtrace==4.7.0 "
            "(pip install -r tests/compat/requirements-4.7.txt); the 4.7.0 compat tests must run, not skip",
            pytrace=False,
        )
    if not os.path.exists(path):
        pytest.fail(f"DDTRACE_47_PYTHON={path!r} does not exist", pytrace=False)
    return path


def run_llmobs(server: Server, code: str, *, python: Optional[str] = None,
               env_extra: Optional[dict[str, Optional[str]]] = None, args: Any = None,
               origin: Optional[str] = None, timeout: float = 240.0, record_bodies: bool = True) -> LLMObsRun:
    """Run ``code`` in a fresh Python process with ddtrace's LLMObs pointed at ``server``.

    ``code`` may use ``LLMObs``, ``enable(**kw)`` (agentless, project ``ARGS["project"]``),
    ``call(name, fn)``, ``ds_info(ds)``, ``R`` (free results) and ``ARGS``. ``python`` is the
    interpreter (default: the one running pytest, i.e. ddtrace 4.16.0).
    """
    scratch = Path(tempfile.mkdtemp(prefix="compat-llmobs-"))
    cwd = scratch / "cwd"
    cwd.mkdir()
    script = (
        f"import json\nARGS = json.loads({json.dumps(json.dumps(args or {}))})\n"
        + _LLMOBS_PRELUDE.replace("ARGS_RECORD_BODIES", "True" if record_bodies else "False")
        + "\n"
        + textwrap.dedent(code)
        + _LLMOBS_EPILOGUE
    )
    script_path = scratch / "scenario.py"
    script_path.write_text(script, "utf-8")
    env = client_env(server, scratch, {"DD_TRACE_GIT_METADATA_ENABLED": "false", **(env_extra or {})},
                     origin or server.root + server.base_path)
    try:
        proc = subprocess.run(
            [python or sys.executable, str(script_path)],
            cwd=str(cwd),
            env=env,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _scenario_result(proc, LLMObsRun)


class MockJudge:
    """An OpenAI-compatible chat-completions endpoint on 127.0.0.1 for the server's LLM judge.

    Every ``POST …/chat/completions`` is recorded (path, headers, JSON body) and answered
    with one choice whose content is ``content`` (by default a boolean verdict with reasoning),
    or ``content(body)`` when ``content`` is callable.
    """

    DEFAULT_CONTENT = json.dumps({"verdict": True, "reasoning": "ok"})

    def __init__(self, content: Optional[str] = None):
        import http.server

        self.content = content or self.DEFAULT_CONTENT
        self.requests: list[dict] = []
        judge = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                judge.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                       "body": body})
                if not self.path.endswith("/chat/completions"):
                    self.send_response(404)
                    self.end_headers()
                    return
                reply = judge.content(body) if callable(judge.content) else judge.content
                answer = json.dumps({
                    "id": "chatcmpl-mock", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model") if isinstance(body, dict) else None,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": reply}}],
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The base URL to give ``--judge-url`` (the judge appends ``/chat/completions``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


EVALUATORS_CONFIG = {
    "evaluators": [
        {"name": "exact", "kind": "exact_match"},
        {"name": "has", "kind": "contains", "value": "Paris", "case_sensitive": False},
        {"name": "re", "kind": "regex", "pattern": "^P"},
        {"name": "json", "kind": "json_valid"},
        {"name": "len", "kind": "length", "min": 1, "max": 5},
        {"name": "fixed", "kind": "fixed", "value": 0.7, "assessment": "pass", "reasoning": "r"},
        {"name": "judge", "kind": "llm_judge", "model_name": "m",
         "prompt_template": [{"role": "user", "content": "Is {{output_data}} right for {{input_data.q}}?"}],
         "output_schema": {"name": "verdict_eval", "strict": True, "schema": {
             "type": "object", "additionalProperties": False, "required": ["verdict", "reasoning"],
             "properties": {"verdict": {"type": "boolean"}, "reasoning": {"type": "string"}}}},
         "assessment_criteria": {"pass_when": True}},
    ]
}


@pytest.fixture(scope="module")
def judge():
    """A mock OpenAI-compatible chat-completions endpoint on 127.0.0.1 (see ``MockJudge``),
    shared by the tests of one module. A conftest or test module imports it to use it."""
    mock = MockJudge()
    yield mock
    mock.stop()


def evaluator_server(make, workdir: Path, judge: Optional[MockJudge] = None, name: str = "exp", **kw: Any) -> Server:
    """A server with ``EVALUATORS_CONFIG`` (and the mock judge, if given) from a ``make_server``-style factory."""
    path = Path(workdir) / f"evaluators-{secrets.token_hex(3)}.json"
    path.write_text(json.dumps(EVALUATORS_CONFIG), "utf-8")
    args = ["--evaluators", str(path)] + list(kw.pop("extra_args", []))
    env = dict(kw.pop("extra_env", {}))
    if judge is not None:
        args += ["--judge-url", judge.url]
        env["LLMOBS_JUDGE_API_KEY"] = "judge-key"
    return make(name, extra_args=args, extra_env=env, **kw)


class FaultProxy:
    """A forwarding HTTP proxy on 127.0.0.1 in front of a ``Server`` that can fake failures.

    ``rule(method, path, body_json, seen)`` decides per request: ``None`` forwards it
    unchanged; ``("fail", status)`` answers ``status`` without forwarding; ``("forward_fail",
    status)`` forwards it (the server acts on it) but answers ``status`` to the client.
    ``seen`` counts earlier requests with the same method and path. Every request is
    recorded in ``log`` as ``(method, path, action, status)``.
    """

    def __init__(self, server: Server, rule):
        import http.server

        self.server = server
        self.rule = rule
        self.log: list[tuple[str, str, str, int]] = []
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path
                if path.startswith("http://") or path.startswith("https://"):
                    path = "/" + path.split("://", 1)[1].split("/", 1)[1]
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                key = (self.command, path.split("?")[0])
                with proxy._lock:
                    seen = proxy._seen.get(key, 0)
                    proxy._seen[key] = seen + 1
                decision = proxy.rule(self.command, path, body, seen)
                status, data, ctype = 0, b"", "application/json"
                if decision is None or decision[0] == "forward_fail":
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("host", "content-length", "connection")}
                    conn = http.client.HTTPConnection("127.0.0.1", proxy.server.port, timeout=60)
                    try:
                        conn.request(self.command, path, body=raw or None, headers=headers)
                        resp = conn.getresponse()
                        status, data = resp.status, resp.read()
                        ctype = resp.getheader("Content-Type") or ctype
                    finally:
                        conn.close()
                action = "forward" if decision is None else decision[0]
                if decision is not None:
                    status = decision[1]
                    data = json.dumps({"errors": [{"title": "Injected", "detail": "injected by the test"}]}).encode()
                    ctype = "application/json"
                proxy.log.append((self.command, path, action, status))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
