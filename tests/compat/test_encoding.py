"""Spec §1.4 and §7.5 (cases 40–42): identifiers that need encoding, the colon pair, the
empty id; §1.1 origin with a path prefix (server started with ``--base-path``)."""

import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from harness import PROMPTS, pct, run_client, unique

CHAT = [{"role": "user", "content": "hi {{name}}"}]
CHAT_2 = [{"role": "user", "content": "bye {{name}}"}]

# The shared table of ids that need encoding, also read by the Rust tests.
_TABLE = json.loads((Path(__file__).resolve().parents[1] / "shared" / "encoding.json").read_text("utf-8"))
ODD_IDS = [case["raw"] for case in _TABLE["ids"]] + ["x" * _TABLE["long_id_length"]]
EXPECTED_SEGMENTS = {case["raw"]: case["segment"] for case in _TABLE["ids"]}

LIFECYCLE = r'''
for i, pid in enumerate(ARGS["ids"]):
    call(f"create{i}", lambda: LLMObs.create_prompt(pid, ARGS["chat"], title="t"))
call("list", lambda: LLMObs.list_prompts())
for i, pid in enumerate(ARGS["ids"]):
    call(f"get{i}", lambda: LLMObs.get_prompt(pid))
    call(f"getv{i}", lambda: LLMObs.get_prompt(pid, version=1))
    call(f"update{i}", lambda: LLMObs.update_prompt(pid, title="renamed"))
    call(f"newver{i}", lambda: LLMObs.create_prompt_version(pid, ARGS["chat2"]))
    call(f"patchver{i}", lambda: LLMObs.update_prompt_version(pid, 2, labels=["production"]))
    call(f"getlabel{i}", lambda: LLMObs.get_prompt(pid, label="production"))
    call(f"versions{i}", lambda: LLMObs.list_prompt_versions(pid))
'''

DELETE = r'''
for i, pid in enumerate(ARGS["ids"]):
    call(f"delete{i}", lambda: LLMObs.delete_prompt(pid))
call("list", lambda: LLMObs.list_prompts())
'''


def test_expected_segments_match_spec():
    assert len(EXPECTED_SEGMENTS) >= 10
    for raw, seg in EXPECTED_SEGMENTS.items():
        assert pct(raw) == seg
    # The labels' query encoding is Python's, as the Rust tests assume.
    for case in _TABLE["labels"]:
        assert quote_plus(case["raw"]) == case["query"]


@pytest.fixture(scope="module")
def lifecycle(server):
    return run_client(server, LIFECYCLE, args={"ids": ODD_IDS, "chat": CHAT, "chat2": CHAT_2})


@pytest.mark.parametrize("i", range(len(ODD_IDS)), ids=[f"id{i}" for i in range(len(ODD_IDS))])
def test_case40_odd_ids(lifecycle, server, i):
    pid = ODD_IDS[i]
    seg = pct(pid)
    created = lifecycle.ok(f"create{i}")
    assert created["prompt_id"] == pid
    assert lifecycle.requests(f"create{i}")[0]["path"] == PROMPTS

    g = lifecycle.ok(f"get{i}")
    assert g["id"] == pid and g["version"] == "1" and g["template"] == CHAT
    assert lifecycle.requests(f"get{i}")[0]["path"] == f"{PROMPTS}/{seg}"
    gv = lifecycle.ok(f"getv{i}")
    assert gv["id"] == pid and gv["version"] == "1"
    assert lifecycle.requests(f"getv{i}")[0]["path"] == f"{PROMPTS}/{seg}/versions/1"

    u = lifecycle.ok(f"update{i}")
    assert u["prompt_id"] == pid and u["title"] == "renamed"
    assert lifecycle.requests(f"update{i}")[0]["path"] == f"{PROMPTS}/{seg}"

    nv = lifecycle.ok(f"newver{i}")
    assert nv["version"] == 2 and nv["prompt_id"] == pid
    assert lifecycle.requests(f"newver{i}")[0]["path"] == f"{PROMPTS}/{seg}/versions"
    pv = lifecycle.ok(f"patchver{i}")
    assert pv["labels"] == ["production"]
    assert lifecycle.requests(f"patchver{i}")[0]["path"] == f"{PROMPTS}/{seg}/versions/2"
    gl = lifecycle.ok(f"getlabel{i}")
    assert gl["version"] == "2" and gl["template"] == CHAT_2

    vs = lifecycle.ok(f"versions{i}")
    assert [v["version"] for v in vs] == [2, 1]
    assert all(v["prompt_id"] == pid for v in vs)
    assert lifecycle.requests(f"versions{i}")[0]["path"] == f"{PROMPTS}/{seg}/versions"

    assert [p["prompt_id"] for p in lifecycle.ok("list")].count(pid) == 1

    # Server side: the decoded id is what was stored.
    raw = server.api("GET", f"/{seg}")
    assert raw.status == 200 and raw.json()["prompt_id"] == pid


def test_case40_delete_odd_ids(lifecycle, server):
    run = run_client(server, DELETE, args={"ids": ODD_IDS})
    for i, pid in enumerate(ODD_IDS):
        d = run.ok(f"delete{i}")
        assert d["prompt_id"] == pid
        assert run.requests(f"delete{i}")[0]["path"] == f"{PROMPTS}/{pct(pid)}"
        assert server.api("GET", f"/{pct(pid)}").status == 404
    listed = [p["prompt_id"] for p in run.ok("list")]
    assert not set(ODD_IDS) & set(listed)


def test_encoded_slash_never_splits(server):
    """%2F inside the id segment is data, not a separator."""
    a = unique("a")
    ab = f"{a}/versions"
    assert server.create_prompt(a, CHAT).status == 200
    assert server.create_prompt(ab, CHAT_2).status == 200
    assert server.api("GET", f"/{pct(ab)}").json()["prompt_id"] == ab
    assert server.api("GET", f"/{pct(a)}").json()["prompt_id"] == a
    # /prompts/<a>%2Fversions is the prompt "<a>/versions", not the versions list of <a>.
    r = server.api("GET", f"/{pct(ab)}")
    assert isinstance(r.json(), dict)
    assert isinstance(server.api("GET", f"/{pct(a)}/versions").json(), list)


def test_dot_ids_not_normalised(server):
    for seg in (".", ".."):
        r = server.api("GET", f"/{seg}")
        assert r.status == 404, (seg, r)
        assert isinstance(r.detail, str)


def test_case41_colon_pair(server):
    g = unique("g")
    gx = f"{g}:x"
    assert server.create_prompt(g, CHAT).status == 200
    assert server.create_prompt(gx, CHAT_2).status == 200
    code = r'''
g, gx = ARGS
call("g1", lambda: LLMObs.get_prompt(g))
call("gx1", lambda: LLMObs.get_prompt(gx))
call("write", lambda: LLMObs.update_prompt(g, title="t2"))
call("gx2", lambda: LLMObs.get_prompt(gx))
call("g2", lambda: LLMObs.get_prompt(g))
'''
    run = run_client(server, code, args=[g, gx])
    assert run.ok("g1")["template"] == CHAT and run.ok("gx1")["template"] == CHAT_2
    assert run.ok("gx1")["id"] == gx
    assert run.ok("write")["title"] == "t2"
    assert run.ok("gx2")["source"] == "cache" and run.requests("gx2") == []
    assert run.ok("g2")["source"] == "registry" and len(run.requests("g2")) == 1
    assert run.requests("gx1")[0]["path"] == f"{PROMPTS}/{pct(gx)}"


def test_case42_empty_id(server):
    r = server.request("GET", f"{PROMPTS}/")
    assert r.status in (200, 404), r
    if r.status == 200:
        assert isinstance(r.json(), list)
    else:
        assert isinstance(r.detail, str)
    code = r'''
call("fb", lambda: LLMObs.get_prompt("", fallback="fb"))
call("nofb", lambda: LLMObs.get_prompt(""))
'''
    run = run_client(server, code)
    fb = run.ok("fb")
    assert fb["source"] == "fallback" and fb["template"] == "fb"
    assert run.requests("fb")[0]["path"] == f"{PROMPTS}/"
    e = run.err("nofb")
    assert e["exc"] == "ValueError" and "could not be fetched" in e["msg"]


# -- origin with a path prefix ---------------------------------------------------------------


@pytest.fixture(scope="module")
def prefixed(module_servers):
    return module_servers("prefixed", base_path="/proxy/sub")


PREFIXED_FLOW = r'''
pid = ARGS["pid"]
call("create", lambda: LLMObs.create_prompt(pid, ARGS["chat"]))
call("version", lambda: LLMObs.create_prompt_version(pid, ARGS["chat2"]))
call("get", lambda: LLMObs.get_prompt(pid))
call("getv", lambda: LLMObs.get_prompt(pid, version=1))
call("patchv", lambda: LLMObs.update_prompt_version(pid, 1, labels=["development"]))
call("getl", lambda: LLMObs.get_prompt(pid, label="development"))
call("update", lambda: LLMObs.update_prompt(pid, title="T"))
call("list", lambda: LLMObs.list_prompts())
call("versions", lambda: LLMObs.list_prompt_versions(pid))
call("delete", lambda: LLMObs.delete_prompt(pid))
call("gone", lambda: LLMObs.get_prompt(pid))
'''


def test_path_prefixed_origin(prefixed):
    pid = unique("pre/fixed id")
    assert prefixed.origin == f"http://127.0.0.1:{prefixed.port}/proxy/sub/"
    run = run_client(prefixed, PREFIXED_FLOW, args={"pid": pid, "chat": CHAT, "chat2": CHAT_2})
    assert run.ok("create")["prompt_id"] == pid
    assert run.ok("version")["version"] == 2
    assert run.ok("get")["version"] == "2" and run.ok("get")["template"] == CHAT_2
    assert run.ok("getv")["template"] == CHAT
    assert run.ok("patchv")["labels"] == ["development"]
    assert run.ok("getl")["version"] == "1"
    assert run.ok("update")["title"] == "T"
    assert pid in [p["prompt_id"] for p in run.ok("list")]
    assert [v["version"] for v in run.ok("versions")] == [2, 1]
    assert run.ok("delete")["prompt_id"] == pid
    assert "could not be fetched" in run.err("gone")["msg"]
    seg = pct(pid)
    expected = {
        "create": "/proxy/sub" + PROMPTS,
        "get": f"/proxy/sub{PROMPTS}/{seg}",
        "getv": f"/proxy/sub{PROMPTS}/{seg}/versions/1",
        "getl": f"/proxy/sub{PROMPTS}/{seg}?label=development",
        "versions": f"/proxy/sub{PROMPTS}/{seg}/versions",
        "delete": f"/proxy/sub{PROMPTS}/{seg}",
    }
    for step, path in expected.items():
        assert run.requests(step)[0]["path"] == path


def test_path_prefixed_resolve_and_raw(prefixed):
    pid = unique("pre-resolve")
    r = prefixed.request("POST", f"/proxy/sub{PROMPTS}", json_body={"prompt_id": pid, "template": CHAT})
    assert r.status == 200, r
    r = prefixed.request("GET", f"/proxy/sub{PROMPTS}/{pct(pid)}", api_key=None)
    assert r.status == 401 and isinstance(r.detail, str)
    run = run_client(prefixed, r'''
call("resolve", lambda: LLMObs.get_prompt(ARGS))
''', args=pid, env_extra={"DD_ENV": "production"})
    g = run.ok("resolve")
    assert g["source"] == "resolve" and g["version"] == "1"
    assert run.requests("resolve")[0]["path"] == f"/proxy/sub{PROMPTS}/{pct(pid)}/resolve"
    r = prefixed.request("GET", f"/proxy/sub/no/such/route")
    assert r.status == 404 and isinstance(r.detail, str)
