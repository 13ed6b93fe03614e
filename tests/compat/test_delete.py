"""Spec §7.4 (cases 35–39) and §6.5 soft delete."""

from harness import RFC3339_RE, UUID_RE, parse_ts, pct, run_client, unique

CHAT_1 = [{"role": "user", "content": "first {{x}}"}]
CHAT_2 = [{"role": "user", "content": "second {{x}}"}]

FLOW = r'''
A = ARGS
p1 = A["p1"]
call("warm_latest", lambda: LLMObs.get_prompt(p1))
call("warm_v1", lambda: LLMObs.get_prompt(p1, version=1))
call("c35", lambda: LLMObs.delete_prompt(p1))
LLMObs.clear_prompt_cache()
call("c36_get", lambda: LLMObs.get_prompt(p1))
call("c36_get_version_fb", lambda: LLMObs.get_prompt(p1, version=1, fallback="f"))
call("c36_list_versions", lambda: LLMObs.list_prompt_versions(p1))
call("c36_create_version", lambda: LLMObs.create_prompt_version(p1, A["chat2"]))
call("c36_update", lambda: LLMObs.update_prompt(p1, title="x"))
call("c36_update_version", lambda: LLMObs.update_prompt_version(p1, 1, description="x"))
call("c36_list", lambda: LLMObs.list_prompts())
call("c37", lambda: LLMObs.delete_prompt(A["never"]))
call("c38", lambda: LLMObs.delete_prompt(p1))
call("c39_create", lambda: LLMObs.create_prompt(p1, A["chat1"]))
call("c39_get", lambda: LLMObs.get_prompt(p1))
call("c39_versions", lambda: LLMObs.list_prompt_versions(p1))
'''


def test_delete_flow(server):
    p1 = unique("del-p1")
    never = unique("never-existed")
    created = server.create_prompt(p1, CHAT_1)
    assert created.status == 200
    prompt_uuid = created.json().get("ID") or created.json().get("id")
    r = server.api("POST", f"/{pct(p1)}/versions", json_body={"template": CHAT_2, "labels": ["production"]})
    assert r.status == 200

    run = run_client(server, FLOW, args={"p1": p1, "never": never, "chat1": CHAT_1, "chat2": CHAT_2})
    assert run.ok("warm_latest")["version"] == "2"

    # 35
    d = run.ok("c35")
    assert set(d) == {"prompt_id", "deleted_at", "id"}
    assert d["prompt_id"] == p1 and d["id"] == prompt_uuid
    assert RFC3339_RE.match(d["deleted_at"])

    # 36
    e = run.err("c36_get")
    assert e["exc"] == "ValueError" and "could not be fetched" in e["msg"]
    fb = run.ok("c36_get_version_fb")
    assert fb["source"] == "fallback" and fb["template"] == "f"
    assert run.ok("c36_list_versions") == []
    e = run.err("c36_create_version")
    assert e["exc"] == "PromptNotFoundError" and e["status"] == 404
    assert e["detail"] == "prompt template not found"
    e = run.err("c36_update")
    assert e["exc"] == "PromptNotFoundError" and e["status"] == 404
    e = run.err("c36_update_version")
    assert e["exc"] == "PromptNotFoundError" and e["status"] == 404
    assert p1 not in [p["prompt_id"] for p in run.ok("c36_list")]

    # 37
    e = run.err("c37")
    assert e["exc"] == "PromptNotFoundError" and e["status"] == 404
    assert e["detail"] == "prompt template not found"

    # 38: deleting again ⇒ 200 with a new deleted_at
    d2 = run.ok("c38")
    assert d2["prompt_id"] == p1 and RFC3339_RE.match(d2["deleted_at"])
    assert parse_ts(d2["deleted_at"]) > parse_ts(d["deleted_at"])

    # 39: re-create ⇒ a new prompt starting at version 1
    c = run.ok("c39_create")
    assert c["num_versions"] == 1 and c["prompt_id"] == p1
    assert UUID_RE.match(c["id"])
    g = run.ok("c39_get")
    assert g["version"] == "1" and g["template"] == CHAT_1 and g["source"] == "registry"
    assert [v["version"] for v in run.ok("c39_versions")] == [1]


def test_deleted_prompt_raw_routes(server):
    """§6.5: after DELETE, E1–E4 and E6–E8 answer 404, E10 omits it, E11 returns []."""
    pid = unique("del-raw")
    assert server.create_prompt(pid, CHAT_1, labels=["production"]).status == 200
    r = server.api("DELETE", f"/{pct(pid)}")
    assert r.status == 200
    body = r.json()
    assert body["prompt_id"] == pid and RFC3339_RE.match(body["deleted_at"])
    assert "ID" in body or "id" in body
    seg = f"/{pct(pid)}"
    resolve = {"data": {"type": "prompt_resolve_requests", "attributes": {"env": "production"}}}
    cases = [
        ("GET", seg, None, f"prompt with id '{pid}' not found"),
        ("GET", f"{seg}?label=production", None, None),
        ("GET", f"{seg}/versions/1", None, None),
        ("POST", f"{seg}/resolve", resolve, f"prompt with id '{pid}' not found"),
        ("POST", f"{seg}/versions", {"template": CHAT_2}, "prompt template not found"),
        ("PATCH", seg, {"title": "t"}, "prompt template not found"),
        ("PATCH", f"{seg}/versions/1", {"description": "d"}, None),
    ]
    for method, rel, body, detail in cases:
        kw = {"json_body": body} if body is not None else {}
        r = server.api(method, rel, **kw)
        assert r.status == 404, (method, rel, r)
        if detail is not None:
            assert r.detail == detail, (method, rel, r)
    assert server.versions(pid) == []
    assert pid not in [p["prompt_id"] for p in server.api("GET").json()]
