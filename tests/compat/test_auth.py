"""Spec §2.3 authentication (401 missing / 403 wrong), reads ignore the app key, org isolation
on every prompt route (second org from ``llmobs keys create``), and cases 22–25 with ddtrace."""

import pytest

from harness import pct, run_client, unique

CHAT = [{"role": "user", "content": "secret {{x}}"}]
CHAT_B = [{"role": "user", "content": "org b {{x}}"}]
RESOLVE = {"data": {"type": "prompt_resolve_requests", "attributes": {"env": "production"}}}


def routes(pid):
    """(name, method, rel, body, needs_app_key) for E1–E11 on prompt ``pid``."""
    seg = f"/{pct(pid)}"
    return [
        ("E1", "GET", seg, None, False),
        ("E2", "GET", f"{seg}?label=production", None, False),
        ("E3", "GET", f"{seg}/versions/1", None, False),
        ("E4", "POST", f"{seg}/resolve", RESOLVE, True),
        ("E5", "POST", "", {"prompt_id": unique("auth-new"), "template": CHAT}, True),
        ("E6", "POST", f"{seg}/versions", {"template": CHAT}, True),
        ("E7", "PATCH", seg, {"title": "hijacked"}, True),
        ("E8", "PATCH", f"{seg}/versions/1", {"description": "hijacked"}, True),
        ("E9", "DELETE", seg, None, True),
        ("E10", "GET", "", None, False),
        ("E11", "GET", f"{seg}/versions", None, False),
    ]


def _send(server, method, rel, body, **kw):
    if body is not None:
        kw["json_body"] = body
    return server.api(method, rel, **kw)


def _assert_error_body(r):
    body = r.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], list) and body["errors"]
    assert isinstance(body["errors"][0]["title"], str)
    assert isinstance(body["errors"][0]["detail"], str)


@pytest.fixture(scope="module")
def victim(server):
    pid = unique("auth-victim")
    r = server.create_prompt(pid, CHAT, title="orig", labels=["production"])
    assert r.status == 200
    return pid


def _assert_untouched(server, pid):
    r = server.api("GET", f"/{pct(pid)}")
    assert r.status == 200, r
    versions = server.versions(pid)
    assert [v["version"] for v in versions] == [1]
    assert "description" not in versions[0]
    listed = next(p for p in server.api("GET").json() if p["prompt_id"] == pid)
    assert listed["title"] == "orig"


@pytest.mark.parametrize("route", range(11), ids=[f"E{i + 1}" for i in range(11)])
def test_api_key_missing_401_wrong_403(server, victim, route):
    name, method, rel, body, _ = routes(victim)[route]
    r = _send(server, method, rel, body, api_key=None)
    assert r.status == 401, (name, r)
    _assert_error_body(r)
    r = _send(server, method, rel, body, api_key="wrong-api-key-0000")
    assert r.status == 403, (name, r)
    _assert_error_body(r)
    # The app key is not an API key.
    r = _send(server, method, rel, body, api_key=server.app_key)
    assert r.status == 403, (name, r)
    _assert_untouched(server, victim)


@pytest.mark.parametrize("route", [3, 4, 5, 6, 7, 8], ids=["E4", "E5", "E6", "E7", "E8", "E9"])
def test_app_key_missing_401_wrong_403(server, victim, route):
    name, method, rel, body, needs_app = routes(victim)[route]
    assert needs_app
    r = _send(server, method, rel, body, app_key=None)
    assert r.status == 401, (name, r)
    _assert_error_body(r)
    r = _send(server, method, rel, body, app_key="wrong-app-key-0000")
    assert r.status == 403, (name, r)
    _assert_error_body(r)
    r = _send(server, method, rel, body, app_key=server.api_key)
    assert r.status == 403, (name, r)
    _assert_untouched(server, victim)
    if name == "E5":
        assert server.api("GET", f"/{pct(body['prompt_id'])}").status == 404


@pytest.mark.parametrize("route", [0, 1, 2, 9, 10], ids=["E1", "E2", "E3", "E10", "E11"])
def test_reads_ignore_app_key(server, victim, route):
    name, method, rel, body, needs_app = routes(victim)[route]
    assert not needs_app
    for app_key in (None, "wrong-app-key-0000"):
        r = _send(server, method, rel, body, app_key=app_key)
        assert r.status == 200, (name, app_key, r)


def test_healthz_needs_no_key(server):
    assert server.request("GET", "/healthz", api_key=None, app_key=None).status == 200


# -- org isolation ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def org_b(server):
    return server.create_org("org-b")


def test_org_keys_are_new(server, org_b):
    api_b, app_b = org_b
    assert len({api_b, app_b, server.api_key, server.app_key}) == 4


@pytest.mark.parametrize("route", range(11), ids=[f"E{i + 1}" for i in range(11)])
def test_cross_org_isolation(server, victim, org_b, route):
    api_b, app_b = org_b
    name, method, rel, body, _ = routes(victim)[route]
    r = _send(server, method, rel, body, api_key=api_b, app_key=app_b)
    if name == "E10":
        assert r.status == 200
        assert victim not in [p["prompt_id"] for p in r.json()]
    elif name == "E11":
        assert r.status in (200, 403, 404), r
        if r.status == 200:
            assert r.json() == []
    elif name == "E5":
        assert r.status == 200  # B creates in its own org
        assert server.api("GET", f"/{pct(body['prompt_id'])}").status == 404
    else:
        assert r.status in (403, 404), (name, r)
        assert "secret" not in r.text
    _assert_untouched(server, victim)


def test_mixed_org_key_pair_rejected(server, victim, org_b):
    """An API key of org A with an application key of org B must not write into either org."""
    _, app_b = org_b
    r = server.api("PATCH", f"/{pct(victim)}", json_body={"title": "mixed"}, app_key=app_b)
    assert r.status in (401, 403, 404), r
    _assert_untouched(server, victim)


def test_same_prompt_id_in_two_orgs(server, org_b):
    api_b, app_b = org_b
    pid = unique("auth-shared")
    assert server.create_prompt(pid, CHAT).status == 200
    r = server.api("POST", "", json_body={"prompt_id": pid, "template": CHAT_B}, api_key=api_b, app_key=app_b)
    assert r.status == 200, r
    a = server.api("GET", f"/{pct(pid)}").json()
    b = server.api("GET", f"/{pct(pid)}", api_key=api_b, app_key=app_b).json()
    assert (a.get("chat_template") or a.get("template")) == CHAT
    assert (b.get("chat_template") or b.get("template")) == CHAT_B
    assert a["prompt_uuid"] != b["prompt_uuid"]
    a_meta = next(p for p in server.api("GET").json() if p["prompt_id"] == pid)
    b_meta = next(p for p in server.api("GET", api_key=api_b).json() if p["prompt_id"] == pid)
    assert a_meta["author"] != b_meta["author"]
    assert server.api("DELETE", f"/{pct(pid)}", api_key=api_b, app_key=app_b).status == 200
    assert server.api("GET", f"/{pct(pid)}").status == 200
    assert server.api("GET", f"/{pct(pid)}", api_key=api_b).status == 404


def test_cross_org_with_ddtrace(server, victim, org_b):
    api_b, app_b = org_b
    code = r'''
call("get", lambda: LLMObs.get_prompt(ARGS))
call("list", lambda: LLMObs.list_prompts())
call("delete", lambda: LLMObs.delete_prompt(ARGS))
'''
    run = run_client(server, code, args=victim, env_extra={"DD_API_KEY": api_b, "DD_APP_KEY": app_b})
    e = run.err("get")
    assert e["exc"] == "ValueError" and "could not be fetched" in e["msg"]
    assert victim not in [p["prompt_id"] for p in run.ok("list")]
    assert run.err("delete")["status"] in (403, 404)
    _assert_untouched(server, victim)


# -- ddtrace cases 22–25 -----------------------------------------------------------------------


def test_case22_no_app_key(server, victim):
    pid = unique("auth-noapp")
    code = r'''
call("create", lambda: LLMObs.create_prompt(ARGS["pid"], ARGS["chat"]))
call("delete", lambda: LLMObs.delete_prompt(ARGS["victim"]))
call("list", lambda: LLMObs.list_prompts())
call("versions", lambda: LLMObs.list_prompt_versions(ARGS["victim"]))
call("get", lambda: LLMObs.get_prompt(ARGS["victim"]))
'''
    run = run_client(server, code, args={"pid": pid, "victim": victim, "chat": CHAT}, env_extra={"DD_APP_KEY": None})
    for step in ("create", "delete"):
        e = run.err(step)
        assert e["exc"] == "PromptAuthError" and e["status"] == 0
        assert e["detail"] == "DD_APP_KEY is required for prompt write operations"
        assert run.requests(step) == []
    assert victim in [p["prompt_id"] for p in run.ok("list")]
    assert "dd-application-key" not in run.requests("list")[0]["headers"]
    assert [v["version"] for v in run.ok("versions")] == [1]
    g = run.ok("get")
    assert g["source"] == "registry" and g["template"] == CHAT
    assert server.api("GET", f"/{pct(pid)}").status == 404
    _assert_untouched(server, victim)


def test_case23_wrong_app_key(server, victim):
    pid = unique("auth-wrongapp")
    code = r'''
call("create", lambda: LLMObs.create_prompt(ARGS["pid"], ARGS["chat"]))
call("update", lambda: LLMObs.update_prompt(ARGS["victim"], title="x"))
call("get", lambda: LLMObs.get_prompt(ARGS["victim"]))
'''
    run = run_client(server, code, args={"pid": pid, "victim": victim, "chat": CHAT},
                     env_extra={"DD_APP_KEY": "wrong-app-key-0000"})
    for step in ("create", "update"):
        e = run.err(step)
        assert e["exc"] == "PromptAuthError" and e["status"] == 403, e
        assert len(run.requests(step)) == 1
    assert run.ok("get")["template"] == CHAT  # reads ignore the app key
    assert server.api("GET", f"/{pct(pid)}").status == 404
    _assert_untouched(server, victim)


def test_case24_wrong_api_key(server, victim):
    code = r'''
call("list", lambda: LLMObs.list_prompts())
call("fb", lambda: LLMObs.get_prompt(ARGS, fallback="x"))
call("nofb", lambda: LLMObs.get_prompt(ARGS))
'''
    run = run_client(server, code, args=victim, env_extra={"DD_API_KEY": "wrong-api-key-0000"})
    e = run.err("list")
    assert e["exc"] == "PromptAuthError" and e["status"] == 403
    fb = run.ok("fb")
    assert fb["source"] == "fallback" and fb["template"] == "x"
    e = run.err("nofb")
    assert e["exc"] == "ValueError" and "could not be fetched" in e["msg"]
    assert e["msg"].startswith(f"Prompt '{victim}' could not be fetched and no fallback was provided: ")


def test_case25_empty_api_key(server, victim):
    code = r'''
call("fb", lambda: LLMObs.get_prompt(ARGS, fallback="x"))
'''
    run = run_client(server, code, args=victim, env_extra={"DD_API_KEY": ""})
    e = run.err("fb")
    assert e["exc"] == "PromptAuthError" and e["status"] == 0
    assert run.requests("fb") == []
