"""Spec §7.1, §7.2 and §7.10: create/read round trips, validation and errors, update successes.

One ddtrace process runs the order-dependent flow of cases 1–10, 12–14, 16–17, 19–21, 26 and
74–76 (``flow`` fixture); each test checks its case on the recorded outcome and on what the
server stored (raw HTTP). Raw-only cases (9, 11, 15, 17, 18, 19, 20) talk to the server directly.
"""

import pytest

from harness import PROMPTS, RFC3339_RE, UUID_RE, parse_ts, pct, run_client, unique

CHAT_1 = [
    {"role": "system", "content": "You are a {{persona}}."},
    {"role": "user", "content": "{{question}}"},
]
CHAT_2 = [{"role": "user", "content": "Please answer: {{question}}"}]
PLACEHOLDER_T = [{"role": "system", "content": "s"}, {"type": "placeholder", "name": "history"}]

FLOW = r'''
A = ARGS
p1 = A["p1"]
call("c1", lambda: LLMObs.create_prompt(p1, A["chat1"], title="T", description="D"))
call("c2", lambda: LLMObs.create_prompt(p1, A["chat1"], title="T", description="D"))
call("c3", lambda: LLMObs.list_prompts())
call("c4", lambda: LLMObs.create_prompt_version(p1, A["chat2"], description="v2", user_version="v2"))
call("c5", lambda: LLMObs.list_prompt_versions(p1))
call("c6", lambda: LLMObs.get_prompt(p1))
call("c7", lambda: LLMObs.get_prompt(p1))
call("c8", lambda: LLMObs.get_prompt(p1, version=1))
call("c8_v2", lambda: LLMObs.get_prompt(p1, version=2))
call("c10", lambda: LLMObs.get_prompt(p1, version=999, fallback="fb"))
call("c12", lambda: LLMObs.get_prompt(p1, version=1).format(persona="x", question="y"))

call("c13_create", lambda: LLMObs.create_prompt(A["pcfg"], A["chat1"], config={"model": "m", "temperature": 0.2}))
call("c13_get", lambda: LLMObs.get_prompt(A["pcfg"]))
call("c13_none", lambda: LLMObs.create_prompt(A["pcfg_none"], A["chat1"], config=None))
call("c13_v2", lambda: LLMObs.create_prompt_version(A["pcfg"], A["chat2"], config={"model": "m2", "nested": {"k": [1, 2]}}))
call("c13_get_v2", lambda: LLMObs.get_prompt(A["pcfg"], version=2))
call("c13_get_v1", lambda: LLMObs.get_prompt(A["pcfg"], version=1))

call("c14_create", lambda: LLMObs.create_prompt(A["pph"], A["placeholder"]))
call("c14_get", lambda: LLMObs.get_prompt(A["pph"]))
call("c14_format", lambda: LLMObs.get_prompt(A["pph"]).format(history=[{"role": "user", "content": "hey"}]))

call("c16", lambda: LLMObs.create_prompt(A["pbad"], "text"))
call("c17", lambda: LLMObs.create_prompt(A["pempty"], []))

call("c19", lambda: LLMObs.update_prompt(p1))
call("c20", lambda: LLMObs.update_prompt_version(p1, 1))
call("c21_prompt", lambda: LLMObs.update_prompt(A["nope"], title="x"))
call("c21_version", lambda: LLMObs.update_prompt_version(p1, 99, description="x"))
call("c21_create_version", lambda: LLMObs.create_prompt_version(A["nope"], A["chat2"]))
call("c26", lambda: LLMObs.get_prompt(A["missing"]))

call("c74", lambda: LLMObs.update_prompt(p1, title="Updated", description="U"))
call("c75_label", lambda: LLMObs.update_prompt_version(p1, 1, labels=["development"]))
call("c75", lambda: LLMObs.update_prompt_version(p1, 1, description="d1"))
call("c76", lambda: LLMObs.update_prompt(p1, description=""))
'''


@pytest.fixture(scope="module")
def ids():
    return {
        "p1": unique("p1"),
        "pcfg": unique("p-cfg"),
        "pcfg_none": unique("p-cfg-none"),
        "pph": unique("p-ph"),
        "pbad": unique("p-bad"),
        "pempty": unique("p-empty"),
        "nope": unique("nope"),
        "missing": unique("missing"),
    }


@pytest.fixture(scope="module")
def flow(server, ids):
    args = dict(ids, chat1=CHAT_1, chat2=CHAT_2, placeholder=PLACEHOLDER_T)
    return run_client(server, FLOW, args=args)


def _one(run, name):
    reqs = run.requests(name)
    assert len(reqs) == 1, reqs
    return reqs[0]


# -- §7.1 -----------------------------------------------------------------------------------


def test_case01_create_prompt(flow, ids, server):
    p = flow.ok("c1")
    assert p["prompt_id"] == ids["p1"]
    assert UUID_RE.match(p["id"]), p
    assert p["num_versions"] == 1
    assert p["in_registry"] is True
    assert p["source"] == "registry"
    assert p["created_from"] == "sdk-registry"
    assert isinstance(p["author"], str) and p["author"]
    assert p["title"] == "T" and p["description"] == "D"
    assert RFC3339_RE.match(p["created_at"]), p["created_at"]
    assert "labels" not in p
    req = _one(flow, "c1")
    assert req["method"] == "POST" and req["path"] == PROMPTS


def test_case02_duplicate_conflict(flow):
    e = flow.err("c2")
    assert e["exc"] == "PromptConflictError"
    assert e["status"] == 409
    assert e["detail"] == "prompt template already exists"


def test_case03_list_prompts(flow, ids):
    items = flow.ok("c3")
    assert isinstance(items, list)
    assert [p["prompt_id"] for p in items].count(ids["p1"]) == 1
    assert all("id" in p for p in items)
    assert next(p for p in items if p["prompt_id"] == ids["p1"])["id"] == flow.ok("c1")["id"]


def test_case04_create_version(flow):
    v = flow.ok("c4")
    assert v["version"] == 2 and isinstance(v["version"], int)
    assert v["prompt_uuid"] == flow.ok("c1")["id"]
    assert v["user_version"] == "v2"
    assert v["template"] == CHAT_2
    assert v["description"] == "v2"
    assert "labels" not in v
    assert UUID_RE.match(v["id"])


def test_case05_list_versions_newest_first(flow):
    vs = flow.ok("c5")
    assert len(vs) == 2
    assert vs[0]["version"] == 2 and vs[1]["version"] == 1
    assert vs[0]["id"] == flow.ok("c4")["id"]


def test_case06_get_latest(flow, ids):
    g = flow.ok("c6")
    assert g["id"] == ids["p1"]
    assert g["version"] == "v2"
    assert g["source"] == "registry"
    assert g["template"] == CHAT_2
    assert g["uuid"] == flow.ok("c1")["id"]
    assert g["version_uuid"] == flow.ok("c4")["id"]
    req = _one(flow, "c6")
    assert req["method"] == "GET"
    assert req["path"] == f"{PROMPTS}/{pct(ids['p1'])}"
    assert "dd-application-key" not in req["headers"]


def test_case07_second_get_from_cache(flow):
    g = flow.ok("c7")
    assert g["source"] == "cache"
    assert g["version"] == "v2"
    assert flow.requests("c7") == []


def test_case08_get_version(flow, ids):
    g = flow.ok("c8")
    assert g["version"] == "1"
    assert g["template"] == CHAT_1
    assert g["source"] == "registry"
    req = _one(flow, "c8")
    assert req["path"] == f"{PROMPTS}/{pct(ids['p1'])}/versions/1"
    assert "dd-application-key" not in req["headers"]


def test_case08_exact_version_shows_user_version(flow, ids):
    g = flow.ok("c8_v2")
    assert g["version"] == "v2" and g["template"] == CHAT_2
    assert g["version_uuid"] == flow.ok("c4")["id"]
    assert flow.requests("c8_v2")[0]["path"] == f"{PROMPTS}/{pct(ids['p1'])}/versions/2"


def test_case09_raw_version_segment(server):
    pid = unique("p-raw-ver")
    assert server.create_prompt(pid).status == 200
    base = f"/{pct(pid)}/versions"
    r = server.api("GET", f"{base}/abc")
    assert r.status == 400, r
    assert isinstance(r.detail, str) and r.detail
    assert server.api("GET", f"{base}/999").status == 404
    assert server.api("GET", f"{base}/0").status == 404
    assert server.api("GET", f"{base}/-1").status == 404
    assert server.api("GET", f"{base}/100000000000000000000").status == 400
    assert server.api("GET", f"{base}/9223372036854775807").status == 404
    assert server.api("GET", f"{base}/9223372036854775808").status == 400
    assert server.api("GET", f"{base}/1.0").status == 400
    ok = server.api("GET", f"{base}/1")
    assert ok.status == 200
    body = ok.json()
    assert body["version"] == 1 and body["prompt_id"] == pid
    assert body["template"] == [{"role": "user", "content": "Hello {{name}}"}]


def test_case10_version_fallback(flow):
    g = flow.ok("c10")
    assert g["source"] == "fallback"
    assert g["version"] == "fallback"
    assert g["template"] == "fb"
    assert len(flow.requests("c10")) == 1


def test_case11_text_template(server):
    pid = unique("p-text")
    r = server.api("POST", "", json_body={"prompt_id": pid, "template": "Hello {name}"})
    assert r.status == 200, r
    raw = server.api("GET", f"/{pct(pid)}")
    assert raw.status == 200
    assert raw.json()["template"] == "Hello {name}"
    assert raw.json()["version"] == "1"
    v1 = server.api("GET", f"/{pct(pid)}/versions/1").json()
    assert v1["template"] == "Hello {name}"
    run = run_client(
        server,
        r'''
call("get", lambda: LLMObs.get_prompt(ARGS))
call("fmt", lambda: LLMObs.get_prompt(ARGS).format(name="A"))
call("v1", lambda: LLMObs.get_prompt(ARGS, version=1).format(name="B"))
''',
        args=pid,
    )
    assert run.ok("get")["template"] == "Hello {name}"
    assert run.ok("get")["version"] == "1"
    assert run.ok("fmt") == "Hello A"
    assert run.ok("v1") == "Hello B"


def test_case12_chat_template(flow, server, ids):
    assert flow.ok("c12") == [
        {"role": "system", "content": "You are a x."},
        {"role": "user", "content": "y"},
    ]
    assert flow.ok("c8")["template"] == CHAT_1
    raw = server.api("GET", f"/{pct(ids['p1'])}/versions/1").json()
    assert raw["template"] == CHAT_1
    latest = server.api("GET", f"/{pct(ids['p1'])}").json()
    chat = latest.get("chat_template") or latest.get("template")
    assert chat == CHAT_2
    assert isinstance(latest["version"], str)
    assert latest["prompt_id"] == ids["p1"]


def test_case13_config(flow, server, ids):
    assert flow.ok("c13_create")["prompt_id"] == ids["pcfg"]
    assert flow.ok("c13_get")["config"] == {"model": "m", "temperature": 0.2}
    e = flow.err("c13_none")
    assert e["exc"] == "PromptValidationError" and e["status"] == 0
    assert flow.requests("c13_none") == []
    assert server.api("GET", f"/{pct(ids['pcfg_none'])}").status == 404
    v2 = flow.ok("c13_v2")
    assert v2["config"] == {"model": "m2", "nested": {"k": [1, 2]}}
    assert flow.ok("c13_get_v2")["config"] == {"model": "m2", "nested": {"k": [1, 2]}}
    assert flow.ok("c13_get_v1")["config"] == {"model": "m", "temperature": 0.2}


def test_case14_placeholder(flow, server, ids):
    g = flow.ok("c14_get")
    assert g["template"] == PLACEHOLDER_T
    assert flow.ok("c14_format") == [{"role": "system", "content": "s"}, {"role": "user", "content": "hey"}]
    raw = server.api("GET", f"/{pct(ids['pph'])}/versions/1").json()
    assert raw["template"] == PLACEHOLDER_T


def test_case15_three_mib_template(server):
    pid = unique("p-huge")
    content = ("0123456789abcdef" * 65536 * 3)[: 3 * 1024 * 1024]
    template = [{"role": "user", "content": content}]
    run = run_client(
        server,
        r'''
call("create", lambda: LLMObs.create_prompt(ARGS["pid"], ARGS["t"]))
call("get", lambda: LLMObs.get_prompt(ARGS["pid"]))
''',
        args={"pid": pid, "t": template},
    )
    assert run.ok("create")["num_versions"] == 1
    got = run.ok("get")
    assert got["source"] == "registry"
    assert got["template"] == template
    raw = server.api("GET", f"/{pct(pid)}/versions/1")
    assert raw.status == 200 and raw.json()["template"] == template


# -- §7.2 -----------------------------------------------------------------------------------


def test_case16_string_template_is_rejected(flow, server, ids):
    e = flow.err("c16")
    assert e["exc"] == "PromptValidationError" and e["status"] == 400
    assert e["detail"] == "invalid prompt template"
    assert server.api("GET", f"/{pct(ids['pbad'])}").status == 404


def test_case17_empty_templates(flow, server, ids):
    e = flow.err("c17")
    assert e["exc"] == "PromptValidationError" and e["status"] == 400
    assert e["detail"] == "invalid prompt template"
    assert server.api("GET", f"/{pct(ids['pempty'])}").status == 404
    for template in ("   ", "", " \n\t "):
        pid = unique("p-ws")
        r = server.api("POST", "", json_body={"prompt_id": pid, "template": template})
        assert r.status == 400, (template, r)
        assert r.detail == "invalid prompt template"
        assert server.api("GET", f"/{pct(pid)}").status == 404


@pytest.mark.parametrize(
    "template",
    [
        [{"role": "", "content": "x"}],
        [{"content": "x"}],
        [{"role": "user"}],
        [{"role": "user", "content": 5}],
        [{"type": "placeholder"}],
        [{"type": "placeholder", "name": ""}],
        ["h", "i"],
        [None],
        {"role": "user", "content": "x"},
        42,
        None,
    ],
    ids=["empty-role", "no-role", "no-content", "int-content", "placeholder-no-name",
         "placeholder-empty-name", "chars", "null-item", "object", "int", "null"],
)
def test_invalid_templates_rejected(server, template):
    """§6.3: invalid templates ⇒ 400 `invalid prompt template`, nothing stored."""
    pid = unique("p-inv")
    r = server.api("POST", "", json_body={"prompt_id": pid, "template": template})
    assert r.status == 400, r
    if template is not None:
        assert r.detail == "invalid prompt template"
    assert server.api("GET", f"/{pct(pid)}").status == 404
    # Same rule on create-version; the prompt keeps exactly one version.
    good = unique("p-inv-ver")
    assert server.create_prompt(good).status == 200
    r = server.api("POST", f"/{pct(good)}/versions", json_body={"template": template})
    assert r.status == 400, r
    assert [v["version"] for v in server.versions(good)] == [1]


def test_message_items_canonicalised(server):
    """§6.3 [ASSUMPTION]: messages keep only role/content; empty content allowed;
    placeholders keep type/name(/role)."""
    pid = unique("p-canon")
    template = [
        {"role": "system", "content": "", "extra": 1},
        {"type": "placeholder", "name": "history", "role": "user"},
    ]
    r = server.api("POST", "", json_body={"prompt_id": pid, "template": template})
    assert r.status == 200, r
    stored = server.api("GET", f"/{pct(pid)}/versions/1").json()["template"]
    assert stored == [
        {"role": "system", "content": ""},
        {"type": "placeholder", "name": "history", "role": "user"},
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"template": [{"role": "user", "content": "x"}]},
        {"prompt_id": "", "template": [{"role": "user", "content": "x"}]},
        {"prompt_id": "   ", "template": [{"role": "user", "content": "x"}]},
        {"prompt_id": ".", "template": [{"role": "user", "content": "x"}]},
        {"prompt_id": "..", "template": [{"role": "user", "content": "x"}]},
        {"prompt_id": 5, "template": [{"role": "user", "content": "x"}]},
        {"prompt_id": "x" * 513, "template": [{"role": "user", "content": "x"}]},
    ],
    ids=["missing", "empty", "whitespace", "dot", "dotdot", "int", "too-long"],
)
def test_case18_bad_prompt_ids(server, body):
    r = server.api("POST", "", json_body=body)
    assert r.status == 400, r
    assert isinstance(r.detail, str) and r.detail


@pytest.mark.parametrize(
    "extra",
    [
        {"labels": "production"},
        {"labels": [1]},
        {"config": [1]},
        {"config": "x"},
        {"title": 5},
        {"description": ["d"]},
        {"user_version": 3},
        {"env_ids": "production"},
    ],
    ids=["labels-str", "labels-int", "config-array", "config-str", "title-int", "description-list",
         "user-version-int", "env-ids-str"],
)
def test_wrong_json_types_rejected(server, extra):
    """§6.3: wrong JSON types ⇒ 400 and nothing is stored."""
    pid = unique("p-types")
    body = {"prompt_id": pid, "template": [{"role": "user", "content": "x"}], **extra}
    r = server.api("POST", "", json_body=body)
    assert r.status == 400, r
    assert server.api("GET", f"/{pct(pid)}").status == 404


def test_malformed_json_and_unknown_keys(server):
    pid = unique("p-json")
    r = server.api("POST", "", body=b'{"prompt_id": "x", "template": [', content_type="application/json")
    assert r.status == 400, r
    assert isinstance(r.detail, str)
    r = server.api("POST", "", body=b"[]", content_type="application/json")
    assert r.status == 400, r
    r = server.api("POST", "", json_body={"prompt_id": pid, "template": CHAT_2, "surprise": {"a": 1}})
    assert r.status == 200, r
    assert r.json()["prompt_id"] == pid


def test_case19_update_prompt_nothing(flow, server, ids):
    e = flow.err("c19")
    assert e["exc"] == "PromptValidationError" and e["status"] == 0
    assert e["msg"] == "Prompt API error (0): At least one of title or description must be provided"
    assert flow.requests("c19") == []
    r = server.api("PATCH", f"/{pct(ids['p1'])}", json_body={})
    assert r.status == 400, r
    assert r.detail == "at least one of title or description must be provided"


def test_case20_update_version_nothing(flow, server, ids):
    e = flow.err("c20")
    assert e["exc"] == "PromptValidationError" and e["status"] == 0
    assert flow.requests("c20") == []
    r = server.api("PATCH", f"/{pct(ids['p1'])}/versions/1", json_body={})
    assert r.status == 400, r
    assert r.detail == "at least one of labels, description, or env_ids must be provided"
    assert server.api("PATCH", f"/{pct(ids['p1'])}/versions/abc", json_body={"description": "x"}).status == 400


def test_case21_not_found_writes(flow, ids):
    e = flow.err("c21_prompt")
    assert e["exc"] == "PromptNotFoundError" and e["status"] == 404
    assert e["detail"] == "prompt template not found"
    e = flow.err("c21_version")
    assert e["exc"] == "PromptNotFoundError" and e["status"] == 404
    assert e["detail"] == "prompt template version not found"
    e = flow.err("c21_create_version")
    assert e["exc"] == "PromptNotFoundError" and e["status"] == 404
    assert e["detail"] == "prompt template not found"
    assert _one(flow, "c21_create_version")["path"] == f"{PROMPTS}/{pct(ids['nope'])}/versions"


def test_case26_error_detail_surfaces(flow, ids):
    e = flow.err("c26")
    m = ids["missing"]
    assert e["exc"] == "ValueError"
    assert e["msg"] == f"Prompt '{m}' could not be fetched and no fallback was provided: prompt with id '{m}' not found"


def test_unknown_prompt_list_versions_is_empty(server):
    """E11: unknown prompt ⇒ 200 []."""
    r = server.api("GET", f"/{pct(unique('never'))}/versions")
    assert r.status == 200 and r.json() == []


# -- §7.10 ----------------------------------------------------------------------------------


def test_case74_update_prompt(flow, server, ids):
    p = flow.ok("c74")
    assert p["title"] == "Updated" and p["description"] == "U"
    assert p["id"] == flow.ok("c1")["id"] and p["prompt_id"] == ids["p1"]
    assert p["num_versions"] == 2
    assert p["last_version_created_at"] != "0001-01-01T00:00:00Z"
    assert RFC3339_RE.match(p["last_version_created_at"])
    assert p["last_version_created_at"].startswith(flow.ok("c4")["created_at"][:19])


def test_case75_update_version_description(flow):
    v = flow.ok("c75")
    assert v["version"] == 1
    assert v["description"] == "d1"
    assert v["template"] == CHAT_1
    assert v["labels"] == ["development"]


def test_case76_clear_description(flow, server, ids):
    p = flow.ok("c76")
    assert "description" not in p
    assert p["title"] == "Updated"
    listed = next(x for x in server.api("GET").json() if x["prompt_id"] == ids["p1"])
    assert "description" not in listed
    assert listed["title"] == "Updated"


# -- response shapes (§2.1) ---------------------------------------------------------------------


def test_sdk_prompt_shape(server):
    """E1/E2/E4 answer the flattened SdkPrompt: string version (user_version first), both UUIDs,
    chat under chat_template or template, labels of that version, config only as an object,
    and no `label` key (ddtrace would copy it into ManagedPrompt.label)."""
    pid = unique("shape")
    created = server.create_prompt(pid, CHAT_1)
    assert created.status == 200
    prompt_uuid = created.json().get("ID") or created.json().get("id")
    r = server.api("POST", f"/{pct(pid)}/versions", json_body={
        "template": CHAT_2, "user_version": "1.2.3", "labels": ["production"], "config": {"m": 1}})
    assert r.status == 200
    version_uuid = r.json().get("ID") or r.json().get("id")
    resolve = {"data": {"type": "prompt_resolve_requests", "attributes": {"env": "production"}}}
    for resp in (server.api("GET", f"/{pct(pid)}"), server.api("GET", f"/{pct(pid)}?label=production"),
                 server.api("POST", f"/{pct(pid)}/resolve", json_body=resolve)):
        assert resp.status == 200, resp
        body = resp.json()
        assert body["prompt_id"] == pid
        assert body["version"] == "1.2.3"
        assert body["prompt_uuid"] == prompt_uuid
        assert body["prompt_version_uuid"] == version_uuid
        assert (body.get("chat_template") or body.get("template")) == CHAT_2
        assert body.get("labels", ["production"]) == ["production"]
        assert body["config"] == {"m": 1}
        assert "label" not in body
        assert "data" not in body
    v1 = server.api("GET", f"/{pct(pid)}/versions/1").json()
    assert "config" not in v1 or isinstance(v1["config"], dict)
    # Without user_version the decimal number is the display version.
    assert server.api("GET", f"/{pct(pid)}?label=").json()["version"] == "1.2.3"
    other = unique("shape-plain")
    assert server.create_prompt(other, CHAT_1).status == 200
    body = server.api("GET", f"/{pct(other)}").json()
    assert body["version"] == "1"
    assert "config" not in body or body["config"] == {}


def test_version_and_prompt_shapes(server):
    pid = unique("vshape")
    created = server.create_prompt(pid, CHAT_1, title="T")
    p = created.json()
    prompt_uuid = p.get("ID") or p.get("id")
    assert UUID_RE.match(prompt_uuid)
    r = server.api("POST", f"/{pct(pid)}/versions", json_body={"template": CHAT_2, "description": "second"})
    v = r.json()
    assert v["version"] == 2 and v["prompt_uuid"] == prompt_uuid and v["prompt_id"] == pid
    assert UUID_RE.match(v.get("ID") or v.get("id"))
    assert v["template"] == CHAT_2 and v["description"] == "second"
    assert RFC3339_RE.match(v["created_at"]) and RFC3339_RE.match(v["version_created_at"])
    assert v["author"] == p["author"]
    assert "user_version" not in v and "labels" not in v
    listed = next(x for x in server.api("GET").json() if x["prompt_id"] == pid)
    assert (listed.get("ID") or listed.get("id")) == prompt_uuid
    assert listed["num_versions"] == 2 and listed["title"] == "T"
    assert listed["in_registry"] is True and listed["source"] == "registry"
    assert parse_ts(listed["last_version_created_at"]) == parse_ts(v["created_at"])
    assert parse_ts(listed["created_at"]) == parse_ts(p["created_at"])


def test_list_order_and_filter(server):
    """§6.7 / E10: created_at descending, then prompt_id ascending; filter[prompt_id] supported."""
    import time

    ids = [unique("order")]
    for _ in range(3):
        time.sleep(0.01)
        ids.append(unique("order"))
    for pid in ids:
        assert server.create_prompt(pid, CHAT_1).status == 200
        time.sleep(0.01)
    listed = [p["prompt_id"] for p in server.api("GET").json() if p["prompt_id"] in ids]
    assert listed == list(reversed(ids))
    for query in ("?filter%5Bprompt_id%5D=", "?filter[prompt_id]="):
        r = server.api("GET", f"{query}{pct(ids[1])}")
        assert r.status == 200 and [p["prompt_id"] for p in r.json()] == [ids[1]]
    assert server.api("GET", "?unknown=1").status == 200


def test_prompt_id_length_limit_is_bytes(server):
    """§6.2 [ASSUMPTION]: ids up to 512 bytes are accepted, longer ones 400."""
    for pid, status in (("x" * 512, 200), ("y" * 513, 400), ("ü" * 256, 200), ("é" * 257, 400)):
        r = server.create_prompt(pid, CHAT_1)
        assert r.status == status, (len(pid.encode()), r)


def test_empty_label_rejected_and_title_cleared(server):
    pid = unique("clear")
    assert server.create_prompt(pid, CHAT_1, title="T", description="D").status == 200
    r = server.api("PATCH", f"/{pct(pid)}/versions/1", json_body={"labels": [""]})
    assert r.status == 400, r
    r = server.api("PATCH", f"/{pct(pid)}", json_body={"title": ""})
    assert r.status == 200 and "title" not in r.json() and r.json()["description"] == "D"
