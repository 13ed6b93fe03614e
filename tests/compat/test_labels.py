"""Spec §7.3 (cases 27–33) and §6.4 label semantics: uniqueness per prompt, move, replace,
permissive vs strict values, query decoding of odd labels."""

from urllib.parse import urlencode

import pytest

from harness import PROMPTS, pct, run_client, unique

CHAT_1 = [{"role": "system", "content": "one"}]
CHAT_2 = [{"role": "user", "content": "two"}]
CHAT_3 = [{"role": "user", "content": "three"}]

ODD_LABELS = ["with space", "a&b=c", "a/b", "ü", "+plus", "%"]

FLOW = r'''
A = ARGS
p1, p2, p3 = A["p1"], A["p2"], A["p3"]
call("c27_patch", lambda: LLMObs.update_prompt_version(p1, 1, labels=["development"]))
call("c27_get", lambda: LLMObs.get_prompt(p1, label="development"))
call("c28", lambda: LLMObs.get_prompt(p1, label="production"))
call("c29", lambda: LLMObs.get_prompt(p2, label="production"))
call("c30_patch", lambda: LLMObs.update_prompt_version(p1, 2, labels=["development"]))
call("c30_list", lambda: LLMObs.list_prompt_versions(p1))
call("c30_get", lambda: LLMObs.get_prompt(p1, label="development"))
call("c31", lambda: LLMObs.update_prompt_version(p1, 2, labels=[]))
call("c31_list", lambda: LLMObs.list_prompt_versions(p1))
call("c31_get", lambda: LLMObs.get_prompt(p1, label="development"))
call("c32_create", lambda: LLMObs.create_prompt(p3, A["chat1"], labels=["production"]))
call("c32_version", lambda: LLMObs.create_prompt_version(p3, A["chat2"], labels=["production"]))
call("c32_list", lambda: LLMObs.list_prompt_versions(p3))
call("c32_get", lambda: LLMObs.get_prompt(p3, label="production"))
'''


def _labels_by_version(versions):
    return {v["version"]: sorted(v.get("labels", [])) for v in versions}


@pytest.fixture(scope="module")
def flow(server):
    ids = {"p1": unique("lab-p1"), "p2": unique("lab-p2"), "p3": unique("lab-p3")}
    assert server.create_prompt(ids["p1"], CHAT_1).status == 200
    r = server.api("POST", f"/{pct(ids['p1'])}/versions", json_body={"template": CHAT_2, "user_version": "v2"})
    assert r.status == 200 and r.json()["version"] == 2
    assert server.create_prompt(ids["p2"], CHAT_1).status == 200
    assert server.api("POST", f"/{pct(ids['p2'])}/versions", json_body={"template": CHAT_2}).status == 200
    run = run_client(server, FLOW, args=dict(ids, chat1=CHAT_1, chat2=CHAT_2))
    run.ids = ids
    return run


def test_case27_label_then_get_by_label(flow):
    v = flow.ok("c27_patch")
    assert v["version"] == 1 and v["labels"] == ["development"]
    assert v["template"] == CHAT_1
    g = flow.ok("c27_get")
    assert g["version"] == "1" and g["label"] == "development" and g["template"] == CHAT_1
    assert any(w["category"] == "DDTraceDeprecationWarning" for w in flow["c27_get"]["warnings"])
    req = flow.requests("c27_get")[0]
    assert req["path"] == f"{PROMPTS}/{pct(flow.ids['p1'])}?label=development"


def test_case28_unknown_label_on_labelled_prompt(flow):
    p1 = flow.ids["p1"]
    e = flow.err("c28")
    assert e["exc"] == "ValueError"
    assert e["msg"].endswith(f"exists but label 'production' was not found")
    assert e["msg"] == (
        f"Prompt '{p1}' could not be fetched and no fallback was provided: "
        f"prompt '{p1}' exists but label 'production' was not found"
    )


def test_case29_label_on_unlabelled_prompt_gives_latest(flow):
    g = flow.ok("c29")
    assert g["version"] == "2" and g["template"] == CHAT_2 and g["source"] == "registry"


def test_case30_move(flow, server):
    assert flow.ok("c30_patch")["labels"] == ["development"]
    assert _labels_by_version(flow.ok("c30_list")) == {2: ["development"], 1: []}
    g = flow.ok("c30_get")
    assert g["version"] == "v2" and g["source"] == "registry"
    assert len(flow.requests("c30_get")) == 1


def test_case31_replace_with_empty(flow):
    v = flow.ok("c31")
    assert v["version"] == 2 and "labels" not in v
    assert all("labels" not in x for x in flow.ok("c31_list"))
    # No version has a label any more ⇒ E2 falls back to latest.
    assert flow.ok("c31_get")["version"] == "v2"


def test_case32_create_with_labels_moves(flow, server):
    assert "labels" not in flow.ok("c32_create")
    v2 = flow.ok("c32_version")
    assert v2["version"] == 2 and v2["labels"] == ["production"]
    assert _labels_by_version(flow.ok("c32_list")) == {2: ["production"], 1: []}
    assert flow.ok("c32_get")["version"] == "2"
    raw = server.api("GET", f"/{pct(flow.ids['p3'])}?label=production").json()
    assert raw["version"] == "2"


def test_patch_replaces_and_collapses(server):
    pid = unique("lab-replace")
    assert server.create_prompt(pid, CHAT_1, labels=["development", "production"]).status == 200
    assert server.api("POST", f"/{pct(pid)}/versions", json_body={"template": CHAT_2}).status == 200
    assert _labels_by_version(server.versions(pid)) == {2: [], 1: ["development", "production"]}
    # Move only one of two labels.
    r = server.api("PATCH", f"/{pct(pid)}/versions/2", json_body={"labels": ["production", "production"]})
    assert r.status == 200 and r.json()["labels"] == ["production"]
    assert _labels_by_version(server.versions(pid)) == {2: ["production"], 1: ["development"]}
    # Replace the full set.
    r = server.api("PATCH", f"/{pct(pid)}/versions/1", json_body={"labels": ["production"]})
    assert r.status == 200 and r.json()["labels"] == ["production"]
    assert _labels_by_version(server.versions(pid)) == {2: [], 1: ["production"]}
    assert server.api("GET", f"/{pct(pid)}?label=production").json()["version"] == "1"
    assert server.api("GET", f"/{pct(pid)}?label=development").status == 404
    # Empty label query is a latest fetch.
    assert server.api("GET", f"/{pct(pid)}?label=").json()["version"] == "2"
    # Description-only PATCH leaves labels alone.
    r = server.api("PATCH", f"/{pct(pid)}/versions/1", json_body={"description": "x"})
    assert r.status == 200 and r.json()["labels"] == ["production"]


def test_label_not_found_detail_raw(server):
    pid = unique("lab-404")
    assert server.create_prompt(pid, CHAT_1, labels=["development"]).status == 200
    r = server.api("GET", f"/{pct(pid)}?label=production")
    assert r.status == 404
    assert r.detail == f"prompt '{pid}' exists but label 'production' was not found"


def test_case33_odd_labels_permissive(server):
    pid = unique("lab-odd")
    assert server.create_prompt(pid, CHAT_1).status == 200
    for _ in ODD_LABELS:
        assert server.api("POST", f"/{pct(pid)}/versions", json_body={"template": CHAT_3}).status == 200
    # label ODD_LABELS[i] goes on version i+2; version 1 keeps no label.
    code = r'''
pid = ARGS["pid"]
for i, label in enumerate(ARGS["labels"]):
    call(f"patch{i}", lambda: LLMObs.update_prompt_version(pid, i + 2, labels=[label]))
for i, label in enumerate(ARGS["labels"]):
    call(f"get{i}", lambda: LLMObs.get_prompt(pid, label=label))
'''
    run = run_client(server, code, args={"pid": pid, "labels": ODD_LABELS})
    for i, label in enumerate(ODD_LABELS):
        assert run.ok(f"patch{i}")["labels"] == [label]
        g = run.ok(f"get{i}")
        assert g["version"] == str(i + 2), (label, g)
        req = run.requests(f"get{i}")[0]
        assert req["path"] == f"{PROMPTS}/{pct(pid)}?{urlencode({'label': label})}"
    assert _labels_by_version(server.versions(pid)) == {
        **{i + 2: [label] for i, label in enumerate(ODD_LABELS)},
        1: [],
    }
    # %20 for a space decodes the same as '+'.
    assert server.api("GET", f"/{pct(pid)}?label=with%20space").json()["version"] == "2"
    # A literal '+' decodes as a space, so '+plus' must be sent as %2Bplus.
    assert server.api("GET", f"/{pct(pid)}?label=%2Bplus").json()["version"] == str(ODD_LABELS.index("+plus") + 2)


@pytest.fixture(scope="module")
def strict(module_servers):
    return module_servers("strict", strict_labels=True)


def test_case33_strict_mode_rejects(strict):
    pid = unique("strict")
    assert strict.create_prompt(pid, CHAT_1).status == 200
    for label in ODD_LABELS + ["staging", "Production"]:
        r = strict.api("PATCH", f"/{pct(pid)}/versions/1", json_body={"labels": [label]})
        assert r.status == 400, (label, r)
        assert isinstance(r.detail, str) and r.detail
    assert "labels" not in strict.versions(pid)[0]
    for label in ("production", "development"):
        r = strict.api("PATCH", f"/{pct(pid)}/versions/1", json_body={"labels": [label]})
        assert r.status == 200 and r.json()["labels"] == [label]


def test_strict_mode_failed_writes_leave_nothing(strict):
    pid = unique("strict-atomic")
    r = strict.create_prompt(pid, CHAT_1, labels=["staging"])
    assert r.status == 400, r
    assert strict.api("GET", f"/{pct(pid)}").status == 404
    assert pid not in [p["prompt_id"] for p in strict.api("GET").json()]
    assert strict.create_prompt(pid, CHAT_1, labels=["production"]).status == 200
    r = strict.api("POST", f"/{pct(pid)}/versions", json_body={"template": CHAT_2, "labels": ["qa"]})
    assert r.status == 400, r
    assert [v["version"] for v in strict.versions(pid)] == [1]
    assert strict.versions(pid)[0]["labels"] == ["production"]
    # ddtrace sees the strict 400 as a validation error.
    run = run_client(strict, r'''
call("bad", lambda: LLMObs.update_prompt_version(ARGS, 1, labels=["staging"]))
''', args=pid)
    e = run.err("bad")
    assert e["exc"] == "PromptValidationError" and e["status"] == 400
