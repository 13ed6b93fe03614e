"""Test harness: run the llmobs server binary and drive it with raw HTTP or the real ddtrace.

Nothing here hard-codes a machine path: the binary comes from ``LLMOBS_BIN`` (default:
``target/debug/llmobs`` of this repository, found relative to this file) and the ddtrace
scenarios run under the same Python interpreter as pytest (``sys.executable``).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
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
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.base_path = base_path or ""
        self.strict_labels = strict_labels
        self.max_body_bytes = max_body_bytes
        self.api_key = "api" + secrets.token_hex(16)
        self.app_key = "app" + secrets.token_hex(16)
        self.stderr_path = self.workdir / "server.stderr"
        self.stdout_lines: list[str] = []
        self.proc: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self.returncode: Optional[int] = None

    # -- lifecycle -------------------------------------------------------------------------

    def server_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LLMOBS_BOOTSTRAP_API_KEY"] = self.api_key
        env["LLMOBS_BOOTSTRAP_APP_KEY"] = self.app_key
        return env

    def start(self, timeout: float = 30.0) -> "Server":
        binary = server_binary()
        if not os.path.exists(binary):
            raise RuntimeError(f"llmobs binary not found at {binary}; set LLMOBS_BIN or build llmobs-cli")
        args = [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir)]
        if self.base_path:
            args += ["--base-path", self.base_path]
        if self.strict_labels:
            args.append("--strict-labels")
        if self.max_body_bytes is not None:
            args += ["--max-body-bytes", str(self.max_body_bytes)]
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
            [server_binary(), "keys", "create", "--org", name, "--data-dir", str(self.data_dir)],
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
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    marker = "__COMPAT_RESULT__"
    lines = [ln for ln in stdout.splitlines() if ln.startswith(marker)]
    if proc.returncode != 0 or not lines:
        raise AssertionError(
            f"ddtrace scenario failed (exit {proc.returncode})\nstdout:\n{stdout[-3000:]}\nstderr:\n{stderr[-5000:]}"
        )
    run = ClientRun(json.loads(lines[-1][len(marker):]))
    run.stdout = stdout
    run.stderr = stderr
    return run


def only_request(run: ClientRun, name: str) -> dict:
    reqs = run.requests(name)
    assert len(reqs) == 1, f"step {name!r}: expected exactly one request, got {reqs}"
    return reqs[0]
