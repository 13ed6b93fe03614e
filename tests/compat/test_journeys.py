"""The 13 e2e journeys of dd-trace-py PR #18186 (spec §7.10 table), as one ddtrace flow.

Journey → case: 1→1, 2→2, 3→3, 4→4, 5→5, 6→74, 7→27, 8→6, 9→27, 10→19, 11→35, 12→36, 13→37.
"""

from harness import PROMPTS, RFC3339_RE, UUID_RE, pct, run_client, unique

TEMPLATE_V1 = [
    {"role": "system", "content": "You are a helpful assistant specializing in {{topic}}."},
    {"role": "user", "content": "{{question}}"},
]
TEMPLATE_V2 = [
    {"role": "system", "content": "You are an expert in {{topic}}. Be concise."},
    {"role": "user", "content": "{{question}}"},
]

FLOW = r'''
pid = ARGS["pid"]
call("j1_create", lambda: LLMObs.create_prompt(pid, ARGS["t1"], title="E2E Test Prompt",
                                                 description="Prompt created by the e2e journey"))
call("j2_duplicate", lambda: LLMObs.create_prompt(pid, ARGS["t1"], title="E2E Test Prompt"))
call("j3_list", lambda: LLMObs.list_prompts())
call("j4_create_version", lambda: LLMObs.create_prompt_version(pid, ARGS["t2"], description="Second version",
                                                                 user_version="v2"))
versions = call("j5_list_versions", lambda: LLMObs.list_prompt_versions(pid))
call("j6_update_prompt", lambda: LLMObs.update_prompt(pid, title="Updated E2E Prompt",
                                                       description="Updated description"))
oldest = versions[-1]["version"]
call("j7_update_version", lambda: LLMObs.update_prompt_version(pid, oldest, labels=["development"]))
call("j8_get", lambda: LLMObs.get_prompt(pid))
call("j9_get_label", lambda: LLMObs.get_prompt(pid, label="development"))
call("j10_update_nothing", lambda: LLMObs.update_prompt(pid))
call("j11_delete", lambda: LLMObs.delete_prompt(pid))
call("j12_get_deleted", lambda: LLMObs.get_prompt(pid))
call("j13_delete_unknown", lambda: LLMObs.delete_prompt(ARGS["unknown"]))
'''


def test_pr_18186_e2e_journeys(server):
    pid = unique("sdk-test")
    unknown = unique("never-existed")
    run = run_client(server, FLOW, args={"pid": pid, "t1": TEMPLATE_V1, "t2": TEMPLATE_V2, "unknown": unknown})

    # 1 create (case 1)
    created = run.ok("j1_create")
    assert created["prompt_id"] == pid
    assert UUID_RE.match(created["id"]), created
    assert created["title"] == "E2E Test Prompt"
    assert created["description"] == "Prompt created by the e2e journey"
    assert created["num_versions"] == 1
    assert created["in_registry"] is True
    assert created["source"] == "registry"
    assert created["created_from"] == "sdk-registry"
    assert created["author"]
    assert RFC3339_RE.match(created["created_at"])
    assert "labels" not in created
    req = run.requests("j1_create")[0]
    assert (req["method"], req["path"]) == ("POST", PROMPTS)

    # 2 duplicate (case 2)
    dup = run.err("j2_duplicate")
    assert dup["exc"] == "PromptConflictError"
    assert dup["status"] == 409
    assert dup["detail"] == "prompt template already exists"

    # 3 list (case 3)
    listed = run.ok("j3_list")
    mine = [p for p in listed if p["prompt_id"] == pid]
    assert len(mine) == 1 and mine[0]["id"] == created["id"]
    assert all("id" in p for p in listed)

    # 4 create version (case 4)
    v2 = run.ok("j4_create_version")
    assert v2["version"] == 2
    assert v2["prompt_uuid"] == created["id"]
    assert v2["user_version"] == "v2"
    assert v2["template"] == TEMPLATE_V2
    assert "labels" not in v2

    # 5 list versions (case 5): newest first
    versions = run.ok("j5_list_versions")
    assert [v["version"] for v in versions] == [2, 1]

    # 6 update prompt (case 74)
    updated = run.ok("j6_update_prompt")
    assert updated["title"] == "Updated E2E Prompt"
    assert updated["description"] == "Updated description"
    assert updated["id"] == created["id"] and updated["prompt_id"] == pid
    assert updated["num_versions"] == 2

    # 7 update the oldest version's labels (case 27)
    labelled = run.ok("j7_update_version")
    assert labelled["version"] == 1
    assert labelled["labels"] == ["development"]
    assert labelled["template"] == TEMPLATE_V1
    req = run.requests("j7_update_version")[0]
    assert (req["method"], req["path"]) == ("PATCH", f"{PROMPTS}/{pct(pid)}/versions/1")

    # 8 get latest (case 6): registry, v2 although v1 carries a label
    got = run.ok("j8_get")
    assert got["source"] == "registry"
    assert got["version"] == "v2"
    assert got["template"] == TEMPLATE_V2

    # 9 get by label (case 27)
    by_label = run.ok("j9_get_label")
    assert by_label["version"] == "1"
    assert by_label["label"] == "development"
    assert by_label["template"] == TEMPLATE_V1
    assert by_label["source"] == "registry"

    # 10 update with no fields (case 19): client side, status 0, no request
    nothing = run.err("j10_update_nothing")
    assert nothing["exc"] == "PromptValidationError" and nothing["status"] == 0
    assert run.requests("j10_update_nothing") == []

    # 11 delete (case 35)
    deleted = run.ok("j11_delete")
    assert set(deleted) == {"prompt_id", "deleted_at", "id"}
    assert deleted["prompt_id"] == pid and deleted["id"] == created["id"]
    assert RFC3339_RE.match(deleted["deleted_at"])

    # 12 get deleted (case 36)
    gone = run.err("j12_get_deleted")
    assert gone["exc"] == "ValueError"
    assert "could not be fetched" in gone["msg"]
    assert gone["msg"] == (
        f"Prompt '{pid}' could not be fetched and no fallback was provided: prompt with id '{pid}' not found"
    )

    # 13 delete unknown (case 37)
    missing = run.err("j13_delete_unknown")
    assert missing["exc"] == "PromptNotFoundError" and missing["status"] == 404
    assert missing["detail"] == "prompt template not found"

    # What the server stored at the end.
    r = server.api("GET", f"/{pct(pid)}")
    assert r.status == 404 and r.detail == f"prompt with id '{pid}' not found"
    assert server.versions(pid) == []
    assert pid not in [p["prompt_id"] for p in server.api("GET").json()]
