"""Spec §7.6 (cases 43–49, 51; case 50 is client-only) and §6.9 resolve semantics:
env deployment via ``env_ids`` (by name), else a label equal to the env name, else latest."""

import json

import pytest

from harness import PROMPTS, pct, run_client, unique

V1 = [{"role": "user", "content": "v1 {{x}}"}]
V2 = [{"role": "user", "content": "v2 {{x}}"}]
V3 = [{"role": "user", "content": "v3 {{x}}"}]


def resolve_body(env, **attrs):
    return {"data": {"type": "prompt_resolve_requests", "attributes": {"env": env, **attrs}}}


def make_prompt(server, pid, *templates, **create_fields):
    assert server.create_prompt(pid, templates[0], **create_fields).status == 200
    for t in templates[1:]:
        assert server.api("POST", f"/{pct(pid)}/versions", json_body={"template": t}).status == 200


def resolve(server, pid, env, **attrs):
    return server.api("POST", f"/{pct(pid)}/resolve", json_body=resolve_body(env, **attrs))


FLOW = r'''
p4 = ARGS["p4"]
call("c43_a", lambda: LLMObs.get_prompt(p4))
call("c43_b", lambda: LLMObs.get_prompt(p4))
call("c44_a", lambda: LLMObs.get_prompt(p4, targeting_key="user-1", tier="gold", n=3, nested={"a": [1, 2]}))
call("c44_b", lambda: LLMObs.get_prompt(p4, targeting_key="user-1", tier="gold", n=3, nested={"a": [1, 2]}))
call("c44_c", lambda: LLMObs.get_prompt(p4, targeting_key="user-1", tier="silver", n=3, nested={"a": [1, 2]}))
call("c45_a", lambda: LLMObs.get_prompt(p4, targeting_key=""))
call("c45_b", lambda: LLMObs.get_prompt(p4, tier="gold"))
call("c48_version", lambda: LLMObs.get_prompt(p4, version=1))
call("c48_label", lambda: LLMObs.get_prompt(p4, label="production", targeting_key="u"))
call("c49_missing", lambda: LLMObs.get_prompt(ARGS["missing"]))
call("c49_missing_fb", lambda: LLMObs.get_prompt(ARGS["missing"], fallback="fb"))
call("c51", lambda: LLMObs.refresh_prompt(p4))
'''


@pytest.fixture(scope="module")
def flow(server):
    ids = {"p4": unique("res-p4"), "missing": unique("res-missing")}
    make_prompt(server, ids["p4"], V1, V2)
    run = run_client(server, FLOW, args=ids, env_extra={"DD_ENV": "production"})
    run.ids = ids
    return run


def _only(run, name):
    reqs = run.requests(name)
    assert len(reqs) == 1, reqs
    return reqs[0]


def test_case43_resolve_then_cache(flow, server):
    p4 = flow.ids["p4"]
    g = flow.ok("c43_a")
    assert g["source"] == "resolve" and g["version"] == "2" and g["template"] == V2
    assert g["id"] == p4 and g["uuid"] and g["version_uuid"]
    req = _only(flow, "c43_a")
    assert req["method"] == "POST" and req["path"] == f"{PROMPTS}/{pct(p4)}/resolve"
    assert req["headers"]["dd-application-key"] == server.app_key
    assert req["headers"]["content-type"] == "application/json"
    assert json.loads(req["body"]) == resolve_body("production")
    g2 = flow.ok("c43_b")
    assert g2["source"] == "cache" and flow.requests("c43_b") == []


def test_case44_targeting_attributes(flow):
    req = _only(flow, "c44_a")
    assert json.loads(req["body"]) == resolve_body(
        "production", targeting_key="user-1", context={"tier": "gold", "n": 3, "nested": {"a": [1, 2]}}
    )
    assert flow.ok("c44_a")["source"] == "resolve"
    assert flow.ok("c44_a")["version"] == "2"
    assert flow.requests("c44_b") == [] and flow.ok("c44_b")["source"] == "cache"
    req = _only(flow, "c44_c")
    assert json.loads(req["body"])["data"]["attributes"]["context"]["tier"] == "silver"


def test_case45_empty_targeting_key_and_context_only(flow):
    assert json.loads(_only(flow, "c45_a")["body"]) == resolve_body("production", targeting_key="")
    assert flow.ok("c45_a")["version"] == "2"
    assert json.loads(_only(flow, "c45_b")["body"]) == resolve_body("production", context={"tier": "gold"})
    assert flow.ok("c45_b")["version"] == "2"


def test_case48_version_and_label_bypass_resolve(flow):
    p4 = flow.ids["p4"]
    req = _only(flow, "c48_version")
    assert req["method"] == "GET" and req["path"] == f"{PROMPTS}/{pct(p4)}/versions/1"
    assert "dd-application-key" not in req["headers"]
    assert flow.ok("c48_version")["version"] == "1"
    req = _only(flow, "c48_label")
    assert req["method"] == "GET" and req["path"] == f"{PROMPTS}/{pct(p4)}?label=production"
    assert any(w["category"] == "UserWarning" for w in flow["c48_label"]["warnings"])
    # No version of p4 has labels ⇒ latest.
    assert flow.ok("c48_label")["version"] == "2"


def test_case49_unknown_prompt_resolve(flow):
    m = flow.ids["missing"]
    e = flow.err("c49_missing")
    assert e["exc"] == "ValueError"
    assert e["msg"] == f"Prompt '{m}' could not be fetched and no fallback was provided: prompt with id '{m}' not found"
    assert _only(flow, "c49_missing")["path"].endswith("/resolve")
    assert flow.ok("c49_missing_fb")["source"] == "fallback"


def test_case51_refresh_with_env(flow):
    g = flow.ok("c51")
    assert g["source"] == "resolve" and g["version"] == "2"
    assert json.loads(_only(flow, "c51")["body"]) == resolve_body("production")


def test_case46_deploy_with_env_ids(server):
    pid = unique("res-deploy")
    make_prompt(server, pid, V1, V2)
    code = r'''
pid = ARGS
call("before", lambda: LLMObs.get_prompt(pid))
call("deploy", lambda: LLMObs.update_prompt_version(pid, 1, env_ids=["production"]))
call("after", lambda: LLMObs.get_prompt(pid))
'''
    run = run_client(server, code, args=pid, env_extra={"DD_ENV": "production"})
    assert run.ok("before")["version"] == "2"
    assert run.ok("deploy")["version"] == 1
    assert run["deploy"]["requests"][0]["body"] and json.loads(run["deploy"]["requests"][0]["body"]) == {
        "env_ids": ["production"]
    }
    after = run.ok("after")
    assert after["source"] == "resolve" and after["version"] == "1" and after["template"] == V1
    # Another environment without a deployment resolves to latest.
    other = run_client(server, r'''
call("g", lambda: LLMObs.get_prompt(ARGS))
''', args=pid, env_extra={"DD_ENV": "staging"})
    assert other.ok("g")["version"] == "2" and other.ok("g")["template"] == V2


def test_case47_resolve_without_app_key(server):
    pid = unique("res-noapp")
    make_prompt(server, pid, V1)
    code = r'''
call("nofb", lambda: LLMObs.get_prompt(ARGS))
call("fb", lambda: LLMObs.get_prompt(ARGS, fallback="fb"))
'''
    run = run_client(server, code, args=pid, env_extra={"DD_ENV": "production", "DD_APP_KEY": None})
    e = run.err("nofb")
    assert e["exc"] == "ValueError"
    assert e["msg"].endswith("an app key or Service Access Token is required to resolve prompts for an environment")
    assert run.requests("nofb") == [] and run.requests("fb") == []
    assert run.ok("fb")["source"] == "fallback"


def test_case49_deleted_prompt_resolve(server):
    pid = unique("res-deleted")
    make_prompt(server, pid, V1)
    assert server.api("DELETE", f"/{pct(pid)}").status == 200
    r = resolve(server, pid, "production")
    assert r.status == 404 and r.detail == f"prompt with id '{pid}' not found"
    run = run_client(server, r'''
call("fb", lambda: LLMObs.get_prompt(ARGS, fallback="fb"))
''', args=pid, env_extra={"DD_ENV": "production"})
    assert run.ok("fb")["source"] == "fallback"


# -- raw §6.9 semantics ----------------------------------------------------------------------


def _version(resp):
    assert resp.status == 200, resp
    body = resp.json()
    return body["version"]


def test_resolve_response_shape(server):
    pid = unique("res-shape")
    make_prompt(server, pid, V1, "Text {{x}}")
    r = resolve(server, pid, "production")
    assert r.status == 200
    assert r.headers.get("content-type", "").startswith("application/json")
    body = r.json()
    assert "data" not in body
    assert body["prompt_id"] == pid and body["version"] == "2"
    assert body["template"] == "Text {{x}}"
    assert body["prompt_uuid"] and body["prompt_version_uuid"]
    versions = server.versions(pid)
    assert body["prompt_version_uuid"] == (versions[0].get("ID") or versions[0].get("id"))


def test_resolve_precedence(server):
    pid = unique("res-prec")
    make_prompt(server, pid, V1, V2, V3)
    # No deployment, no label ⇒ latest.
    assert _version(resolve(server, pid, "production")) == "3"
    # A label equal to the env name ⇒ that version.
    assert server.api("PATCH", f"/{pct(pid)}/versions/1", json_body={"labels": ["production"]}).status == 200
    assert _version(resolve(server, pid, "production")) == "1"
    assert _version(resolve(server, pid, "development")) == "3"
    # A deployment by name beats the label.
    assert server.api("PATCH", f"/{pct(pid)}/versions/2", json_body={"env_ids": ["production"]}).status == 200
    assert _version(resolve(server, pid, "production")) == "2"
    # Moving the deployment.
    assert server.api("PATCH", f"/{pct(pid)}/versions/3", json_body={"env_ids": ["production", "qa"]}).status == 200
    assert _version(resolve(server, pid, "production")) == "3"
    assert _version(resolve(server, pid, "qa")) == "3"
    assert server.api("PATCH", f"/{pct(pid)}/versions/2", json_body={"env_ids": ["production"]}).status == 200
    assert _version(resolve(server, pid, "production")) == "2"
    assert _version(resolve(server, pid, "qa")) == "3"
    # [] removes this version from every environment: back to the label.
    assert server.api("PATCH", f"/{pct(pid)}/versions/2", json_body={"env_ids": []}).status == 200
    assert _version(resolve(server, pid, "production")) == "1"
    # Empty env ⇒ latest; targeting data is accepted and ignored.
    assert _version(resolve(server, pid, "")) == "3"
    assert _version(resolve(server, pid, "production", targeting_key="u", context={"a": {"b": [1]}})) == "1"


def test_env_ids_on_create_and_create_version(server):
    pid = unique("res-create")
    make_prompt(server, pid, V1, env_ids=["production"])
    assert server.api("POST", f"/{pct(pid)}/versions", json_body={"template": V2}).status == 200
    assert _version(resolve(server, pid, "production")) == "1"
    r = server.api("POST", f"/{pct(pid)}/versions", json_body={"template": V3, "env_ids": ["staging"]})
    assert r.status == 200
    assert _version(resolve(server, pid, "staging")) == "3"
    assert _version(resolve(server, pid, "production")) == "1"
    r = server.api("POST", f"/{pct(pid)}/versions", json_body={"template": V1, "env_ids": ["production"]})
    assert r.status == 200 and r.json()["version"] == 4
    assert _version(resolve(server, pid, "production")) == "4"
    # Deployments are per prompt.
    other = unique("res-other")
    make_prompt(server, other, V1, V2)
    assert _version(resolve(server, other, "production")) == "2"


def test_deployment_via_ddtrace_create(server):
    pid = unique("res-dd-create")
    code = r'''
pid = ARGS["pid"]
call("create", lambda: LLMObs.create_prompt(pid, ARGS["v1"], env_ids=["production"]))
call("v2", lambda: LLMObs.create_prompt_version(pid, ARGS["v2"]))
call("get", lambda: LLMObs.get_prompt(pid))
'''
    run = run_client(server, code, args={"pid": pid, "v1": V1, "v2": V2}, env_extra={"DD_ENV": "production"})
    assert json.loads(run.requests("create")[0]["body"])["env_ids"] == ["production"]
    assert run.ok("v2")["version"] == 2
    assert run.ok("get")["version"] == "1" and run.ok("get")["source"] == "resolve"
