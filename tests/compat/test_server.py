"""Process and HTTP hygiene: the ``listening on`` line, /healthz, SIGTERM, JSON 404/405,
/openapi.json, body limits (413), tolerated requests (§6.10, §1.3) and the request log on
stderr (one line per request, never a key)."""

import json
import re
import signal

import pytest

from harness import LISTENING_RE, PROMPTS, pct, run_client, unique

CHAT = [{"role": "user", "content": "hello"}]


def test_listening_line_and_healthz(server):
    assert LISTENING_RE.match(server.stdout_lines[0])
    assert server.port and server.port > 0
    r = server.request("GET", "/healthz", api_key=None, app_key=None)
    assert r.status == 200


def test_sigterm_graceful_exit(make_server):
    srv = make_server("sigterm")
    pid = unique("sig")
    assert srv.create_prompt(pid, CHAT).status == 200
    assert srv.stop(signal.SIGTERM) == 0
    assert len([ln for ln in srv.stdout_lines if ln.startswith("listening on")]) == 1


def test_data_survives_restart(make_server, tmp_path):
    """The data dir is the store: a restart on the same dir with the same keys sees the prompt."""
    srv = make_server("restart")
    pid = unique("persist")
    assert srv.create_prompt(pid, CHAT).status == 200
    assert srv.stop() == 0
    srv.start()
    r = srv.api("GET", f"/{pct(pid)}")
    assert r.status == 200 and r.json()["prompt_id"] == pid


@pytest.mark.parametrize("path", ["/nope", "/api/v2/llm-obs/v1/nothing", f"{PROMPTS}/x/y/z/w"])
def test_unknown_route_json_404(server, path):
    r = server.request("GET", path)
    assert r.status == 404, r
    assert r.headers.get("content-type", "").startswith("application/json")
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]


def test_unsupported_method_405(server):
    pid = unique("m405")
    assert server.create_prompt(pid, CHAT).status == 200
    for method, rel in (("PUT", f"/{pct(pid)}"), ("DELETE", f"/{pct(pid)}/versions/1"), ("PUT", "")):
        r = server.api(method, rel, json_body={})
        assert r.status == 405, (method, rel, r)
        assert isinstance(r.json()["detail"], str)
    assert server.api("GET", f"/{pct(pid)}").status == 200


def _shape(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_openapi_lists_prompt_paths(server):
    r = server.request("GET", "/openapi.json")
    assert r.status == 200, r
    doc = r.json()
    assert "openapi" in doc
    paths = {_shape(p) for p in doc["paths"]}
    for expected in (PROMPTS, f"{PROMPTS}/{{}}", f"{PROMPTS}/{{}}/versions", f"{PROMPTS}/{{}}/versions/{{}}",
                     f"{PROMPTS}/{{}}/resolve"):
        assert expected in paths, (expected, sorted(paths))
    methods = {m.lower() for m in doc["paths"][next(p for p in doc["paths"] if _shape(p) == f"{PROMPTS}/{{}}")]}
    assert {"get", "patch", "delete"} <= methods


def test_json_content_type_and_plain_bodies(server):
    pid = unique("ctype")
    r = server.create_prompt(pid, CHAT)
    assert r.status == 200
    for resp in (r, server.api("GET", f"/{pct(pid)}"), server.api("GET"), server.api("GET", f"/{pct(pid)}/versions")):
        assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
        assert not (isinstance(resp.json(), dict) and "data" in resp.json())
    assert isinstance(server.api("GET").json(), list)


def test_tolerated_requests(server):
    """§6.10/§1.3: bodies on GET/DELETE, missing Content-Type, extra headers are all fine."""
    pid = unique("tolerate")
    r = server.api("POST", "", body=json.dumps({"prompt_id": pid, "template": CHAT}).encode(), content_type=None)
    assert r.status == 200, r
    extra = {"X-Datadog-SDK-Language": "rust", "Datadog-Entity-ID": "in-123", "Datadog-Container-ID": "c",
             "User-Agent": "something/1.0"}
    r = server.api("GET", f"/{pct(pid)}", body=b"{}", content_type="application/json", headers=extra)
    assert r.status == 200, r
    r = server.api("GET", "", content_type=None)
    assert r.status == 200
    r = server.api("GET", "", content_type="application/json")
    assert r.status == 200
    r = server.api("DELETE", f"/{pct(pid)}", body=b"{}", content_type="application/json")
    assert r.status == 200, r


def test_body_limit_default_10mib(server):
    pid = unique("big")
    # Just under 10 MiB of JSON is accepted …
    content = "x" * (10 * 1024 * 1024 - 4096)
    r = server.api("POST", "", json_body={"prompt_id": pid, "template": [{"role": "user", "content": content}]})
    assert r.status == 200, r
    # … and over 10 MiB is 413, nothing stored.
    pid2 = unique("too-big")
    content = "x" * (10 * 1024 * 1024 + 1024)
    r = server.api("POST", "", json_body={"prompt_id": pid2, "template": [{"role": "user", "content": content}]})
    assert r.status == 413, r
    assert server.api("GET", f"/{pct(pid2)}").status == 404


def test_body_limit_flag_and_ddtrace_413(make_server):
    srv = make_server("small-body", max_body_bytes=4096)
    ok = unique("small-ok")
    r = srv.api("POST", "", json_body={"prompt_id": ok, "template": [{"role": "user", "content": "y" * 3000}]})
    assert r.status == 200, r
    big = unique("small-big")
    r = srv.api("POST", "", json_body={"prompt_id": big, "template": [{"role": "user", "content": "y" * 5000}]})
    assert r.status == 413, r
    run = run_client(srv, r'''
call("big", lambda: LLMObs.create_prompt(ARGS, [{"role": "user", "content": "z" * 8000}]))
''', args=big)
    e = run.err("big")
    assert e["exc"] == "PromptAPIError" and e["status"] == 413
    assert srv.api("GET", f"/{pct(big)}").status == 404


def test_request_log_never_contains_keys(server):
    """Runs last in this module: every request above, plus ddtrace and a second org, is in the log."""
    api_b, app_b = server.create_org("log-org")
    marker = unique("logmarker")
    assert server.api("GET", f"/{marker}").status == 404
    server.api("GET", "", api_key="wrong-api-key-secret-1")
    server.api("POST", "", json_body={"prompt_id": unique("x"), "template": CHAT}, app_key="wrong-app-key-secret-2")
    assert server.api("GET", "", api_key=api_b, app_key=app_b).status == 200
    pid = unique("logdd")
    run_client(server, r'''
call("c", lambda: LLMObs.create_prompt(ARGS, [{"role": "user", "content": "x"}]))
call("g", lambda: LLMObs.get_prompt(ARGS))
''', args=pid)
    log = server.stderr_text()
    lines_with_marker = [ln for ln in log.splitlines() if marker in ln]
    assert len(lines_with_marker) == 1, lines_with_marker
    for secret in (server.api_key, server.app_key, api_b, app_b, "wrong-api-key-secret-1", "wrong-app-key-secret-2"):
        assert secret not in log


def test_store_is_on_the_chosen_backend(server):
    """LLMOBS_COMPAT_BACKEND picks the store: on PostgreSQL nothing is written to the data
    directory and ``db_rows`` reads the server's own database; on SQLite it reads the file."""
    from harness import compat_backend

    pid = unique("backend")
    assert server.create_prompt(pid, CHAT).status == 200
    rows = server.db_rows("SELECT prompt_id, ? FROM prompts WHERE prompt_id = ?", ("x", pid))
    assert rows == [(pid, "x")], rows
    files = {p.name for p in server.data_dir.iterdir()}
    if compat_backend() == "postgres":
        assert server.database_url and not files, files
    else:
        assert server.database_url is None and "llmobs.db" in files, files
