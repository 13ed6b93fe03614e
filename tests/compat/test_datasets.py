"""Datasets through the real ddtrace 4.16.0 client (spec experiments.md §3, §8 cases 1–22, 53–55).

Every test drives ``LLMObs`` in a subprocess (``run_llmobs``), then reads what the server
stored through the raw API (E3 find by name, E4 records, by version) and compares it with
the client's own objects and with what it sent.
"""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import quote

from harness import EXACT_VERSION_DETAIL, UUID_RE, V1, V2, run_llmobs, unique
from llmobs_common import by_id, client_view, server_view, stored

HEX32 = re.compile(r"^[0-9a-f]{32}$")


# -- helpers -----------------------------------------------------------------------------


def batch_updates(reqs: list[dict]) -> list[dict]:
    return [r for r in reqs if r["path"].split("?")[0].endswith("/batch_update")]


def uploads(reqs: list[dict]) -> list[dict]:
    return [r for r in reqs if "/records/upload" in r["path"]]


def attrs(req: dict) -> dict:
    return req["body"]["data"]["attributes"]


def multipart_csv(req: dict) -> list[list[str]]:
    """The CSV rows of a recorded multipart E6 body."""
    body = req["body"]
    assert isinstance(body, str), f"E6 body is not text: {type(body)}"
    assert req["headers"]["content-type"] == "multipart/form-data; boundary=----------boundary------"
    start = body.index("\r\n\r\n") + 4
    end = body.rindex("------------boundary--------")
    return list(csv.reader(io.StringIO(body[start:end].rstrip("\r\n"))))


# -- cases 1–10: create, modify, push --------------------------------------------------


R0 = {"input_data": {"question": "What is the capital of France?"}, "expected_output": "Paris",
      "metadata": {"difficulty": "easy"}, "tags": ["env:test", "topic:geo"]}
R1 = {"input_data": {"question": "What is 2+2?"}, "expected_output": "4", "metadata": {"difficulty": "easy"},
      "tags": ["env:test", "topic:math"], "id": "user-chosen-id-1"}
R2 = {"input_data": {"question": "What is the capital of Japan?"}, "expected_output": "Tokyo"}
R3 = {"input_data": {"question": "Which planet is the largest?"}, "expected_output": "Jupiter",
      "metadata": {"difficulty": "medium"}, "tags": ["env:test"]}

MODIFY_SCENARIO = r'''
enable()
A = ARGS
ds0 = call("create_empty", lambda: LLMObs.create_dataset(dataset_name=A["empty"], description="empty one"))
R["empty"] = ds_info(ds0)
ds = call("create", lambda: LLMObs.create_dataset(dataset_name=A["name"], description="cases 1-10",
                                                 records=A["records"]))
R["v1"] = ds_info(ds)
call("bare_tag", lambda: ds.append({"input_data": {"q": "x"}, "tags": ["malformed"]}))
R["after_bare"] = len(ds)

def modify():
    ds.append(A["r3"])
    ds.update(0, {"expected_output": "Paris, France", "metadata": {"difficulty": "trivial"}})
    ds.delete(1)
    ds.add_tags(1, ["reviewed:yes"])
    ds.remove_tags(0, ["topic:geo"])
    ds.push()
call("modify", modify)
R["v2"] = ds_info(ds)

def erase():
    ds.update(0, {"expected_output": None})
    ds.update(2, {"metadata": None})
    ds.push()
call("erase", erase)
R["v3"] = ds_info(ds)

def replace():
    ds.replace_tags(1, ["x:1", "y:2"])
    ds.push()
call("replace", replace)
R["v4"] = ds_info(ds)
call("noop", lambda: ds.push())
R["v4b"] = ds_info(ds)
R["dup"] = ds_info(call("duplicate_name",
                       lambda: LLMObs.create_dataset(dataset_name=A["name"], description="again")))
'''


def test_create_modify_push_versions(server):
    project, name, empty = unique("ds-proj"), unique("ds-main"), unique("ds-empty")
    run = run_llmobs(server, MODIFY_SCENARIO, args={
        "project": project, "name": name, "empty": empty, "records": [R0, R1, R2], "r3": R3})

    # case 1: E1 then E2 only; version 0 on both sides
    reqs = run.requests("create_empty")
    assert [(r["method"], r["path"]) for r in reqs] == [
        ("POST", f"{V1}/projects"), ("POST", f"{V1}/{run.values['empty']['project']['_id']}/datasets")]
    assert all(r["status"] == 200 for r in reqs), reqs
    e = run.values["empty"]
    assert (e["version"], e["latest_version"], e["len"]) == (0, 0, 0)
    pid = e["project"]["_id"]
    assert UUID_RE.match(pid) and UUID_RE.match(e["id"])
    got = server.dataset_named(pid, empty)
    assert got["id"] == e["id"] and got["attributes"]["current_version"] == 0
    assert got["attributes"]["description"] == "empty one"
    assert server.records(pid, e["id"]) == []

    # case 2: E1 is create-or-get by name
    assert server.project(project) == pid and server.project(project) == pid

    # case 3: one E5 with 3 inserts, create_new_version true; version 1; canonical ids
    v1 = run.values["v1"]
    e5 = batch_updates(run.requests("create"))
    assert len(e5) == 1, [r["path"] for r in run.requests("create")]
    a = attrs(e5[0])
    assert len(a["insert_records"]) == 3 and a["update_records"] == [] and a["delete_records"] == []
    assert a["create_new_version"] is True
    assert (v1["version"], v1["latest_version"], v1["len"]) == (1, 1, 3)
    assert e5[0]["status"] == 200 and e5[0]["response"]["data"][0]["attributes"]["version"] == 1
    ds_id = v1["id"]
    # case 4: client-chosen ids come back unchanged
    ids = [r["record_id"] for r in v1["records"]]
    assert ids[1] == "user-chosen-id-1" and HEX32.match(ids[0]) and HEX32.match(ids[2])
    assert [r["id"] for r in e5[0]["response"]["data"]] and {r["id"] for r in e5[0]["response"]["data"]} == set(ids)
    # case 5: tags only on inserts that have them
    sent = {r["id"]: r for r in a["insert_records"]}
    assert sent[ids[0]]["tags"] == ["env:test", "topic:geo"] and "tags" not in sent[ids[2]]
    # E4 at version 1 == what the client holds, incl. canonical ids
    v1_server = server.records(pid, ds_id, version=1)
    assert by_id([server_view(r) for r in v1_server]) == by_id([client_view(r) for r in v1["records"]])
    canon = {r["id"]: r.get("canonical_id") for r in v1_server}
    for rec in v1["records"]:
        assert rec.get("canonical_id") and rec["canonical_id"] == canon[rec["record_id"]], rec

    # case 6: malformed tag → ValueError locally, nothing sent
    bad = run.err("bare_tag")
    assert bad["exc"] == "ValueError" and "malformed" in bad["msg"]
    assert bad["requests"] == [] and run.values["after_bare"] == 3

    # case 7: exactly one E5 with insert/update/delete/tag operations; version 2
    e5 = batch_updates(run.requests("modify"))
    assert len(e5) == 1 and len(run.requests("modify")) == 1, run.requests("modify")
    a = attrs(e5[0])
    assert a["create_new_version"] is True and a["delete_records"] == ["user-chosen-id-1"]
    assert len(a["insert_records"]) == 1 and a["insert_records"][0]["input"] == R3["input_data"]
    r3_id = a["insert_records"][0]["id"]
    upd = {u["id"]: u for u in a["update_records"]}
    assert upd[ids[0]] == {"input": None, "expected_output": "Paris, France", "metadata": {"difficulty": "trivial"},
                           "id": ids[0], "tag_operations": {"remove": ["topic:geo"]}}
    assert upd[ids[2]] == {"input": None, "expected_output": None, "metadata": None, "id": ids[2],
                           "tag_operations": {"add": ["reviewed:yes"]}}
    resp = e5[0]["response"]["data"]
    assert resp[0]["attributes"]["version"] == 2
    deleted = [r for r in resp if r["id"] == "user-chosen-id-1"]
    assert len(deleted) == 1 and deleted[0]["attributes"].get("deleted_at"), resp
    assert {r["id"] for r in resp} == {ids[0], ids[2], r3_id, "user-chosen-id-1"}
    v2 = run.values["v2"]
    assert (v2["version"], v2["latest_version"], v2["len"]) == (2, 2, 3)
    expect_v2 = {
        ids[0]: {"id": ids[0], "input": R0["input_data"], "expected_output": "Paris, France",
                 "metadata": {"difficulty": "trivial"}, "tags": ["env:test"]},
        ids[2]: {"id": ids[2], "input": R2["input_data"], "expected_output": "Tokyo", "metadata": {},
                 "tags": ["reviewed:yes"]},
        r3_id: {"id": r3_id, "input": R3["input_data"], "expected_output": "Jupiter",
                "metadata": {"difficulty": "medium"}, "tags": ["env:test"]},
    }
    assert stored(server, pid, ds_id, version=2) == expect_v2
    assert by_id([client_view(r) for r in v2["records"]]) == expect_v2

    # case 8: None erases: wire "" / {}; stored "" / {}
    e5 = batch_updates(run.requests("erase"))
    assert len(e5) == 1
    upd = {u["id"]: u for u in attrs(e5[0])["update_records"]}
    assert upd[ids[0]]["expected_output"] == "" and upd[ids[0]]["metadata"] is None
    assert upd[r3_id]["metadata"] == {} and upd[r3_id]["expected_output"] is None
    v3_raw = {r["id"]: r for r in server.records(pid, ds_id, version=3)}
    assert v3_raw[ids[0]].get("expected_output") == "", v3_raw[ids[0]]
    assert v3_raw[r3_id].get("metadata") in ({}, None) and v3_raw[r3_id].get("expected_output") == "Jupiter"
    assert run.values["v3"]["version"] == 3

    # case 9: replace_tags → tag_operations.set
    e5 = batch_updates(run.requests("replace"))
    assert len(e5) == 1
    upd = attrs(e5[0])["update_records"]
    assert upd == [{"input": None, "expected_output": None, "metadata": None, "id": ids[2],
                    "tag_operations": {"set": ["x:1", "y:2"]}}]
    assert run.values["v4"]["version"] == 4

    # case 10: push without changes: one empty E5, answer {"data": []}, no version
    reqs = run.requests("noop")
    assert len(reqs) == 1
    a = attrs(reqs[0])
    assert (a["insert_records"], a["update_records"], a["delete_records"]) == ([], [], [])
    assert reqs[0]["status"] == 200 and reqs[0]["response"]["data"] == []
    assert run.values["v4b"]["version"] == 4 and run.values["v4b"]["latest_version"] == 4
    assert server.dataset_named(pid, name)["attributes"]["current_version"] == 4

    # latest on the server: every change applied; older versions unchanged
    expect_v4 = json.loads(json.dumps(expect_v2))
    expect_v4[ids[0]]["expected_output"] = ""
    expect_v4[r3_id]["metadata"] = {}
    expect_v4[ids[2]]["tags"] = ["x:1", "y:2"]
    assert stored(server, pid, ds_id) == expect_v4
    assert stored(server, pid, ds_id, version=4) == expect_v4
    assert set(by_id([client_view(r) for r in run.values["v4b"]["records"]])) == set(expect_v4)
    assert stored(server, pid, ds_id, version=2) == expect_v2
    assert set(stored(server, pid, ds_id, version=1)) == set(ids)

    # a second create with a live name: 200 with the existing dataset, nothing duplicated
    run.ok("duplicate_name")
    e2 = [r for r in run.requests("duplicate_name") if r["path"].endswith("/datasets")]
    assert len(e2) == 1 and e2[0]["status"] == 200, e2
    assert e2[0]["response"]["data"]["id"] == ds_id
    assert (run.values["dup"]["id"], run.values["dup"]["version"]) == (ds_id, 4)
    assert [d["id"] for d in server.datasets_named(pid, name)] == [ds_id]
    assert stored(server, pid, ds_id) == expect_v4


RERUN_SCENARIO = r'''
enable()
ds = call("create", lambda: LLMObs.create_dataset(dataset_name=ARGS["name"], records=ARGS["records"]))
R["ds"] = ds_info(ds)
'''


def test_create_dataset_twice_adds_only_new_records(server):
    """A script that creates its dataset runs again: the same records leave one dataset and no
    duplicates (no new version); one changed record makes exactly one new version."""
    project, name = unique("rerun-proj"), unique("rerun")
    records = [R0, R2, R3]

    def create(recs):
        run = run_llmobs(server, RERUN_SCENARIO, args={"project": project, "name": name, "records": recs})
        run.ok("create")
        return run

    first = create(records)
    pid = server.project(project)
    ds_id = server.dataset_named(pid, name)["id"]
    assert first.values["ds"]["id"] == ds_id and first.values["ds"]["version"] == 1
    v1 = stored(server, pid, ds_id)
    assert len(v1) == 3

    again = create(records)
    e2 = [r for r in again.requests("create") if r["path"].endswith("/datasets")]
    assert [r["status"] for r in e2] == [200], e2
    assert again.values["ds"]["id"] == ds_id and again.values["ds"]["version"] == 1
    assert [d["id"] for d in server.datasets_named(pid, name)] == [ds_id]
    assert server.dataset_named(pid, name)["attributes"]["current_version"] == 1
    assert stored(server, pid, ds_id) == v1

    changed = [R0, {**R2, "expected_output": "Tokyo, Japan"}, R3]
    third = create(changed)
    assert third.values["ds"]["version"] == 2
    assert [d["id"] for d in server.datasets_named(pid, name)] == [ds_id]
    assert server.dataset_named(pid, name)["attributes"]["current_version"] == 2
    v2 = stored(server, pid, ds_id)
    added = [v for k, v in v2.items() if k not in v1]
    assert len(v2) == 4 and [a["expected_output"] for a in added] == ["Tokyo, Japan"], v2
    assert stored(server, pid, ds_id, version=1) == v1


def test_batch_update_server_rules(server):
    """Tag operations remove → add → set; empty batch keeps the version; bad batch is all or nothing."""
    pid, name = server.project(unique("raw-proj")), unique("raw")
    r = server.x("POST", f"{V1}/{pid}/datasets",
                 json_body={"data": {"type": "datasets", "attributes": {"name": name, "description": ""}}})
    assert r.status == 200, r
    did = r.json()["data"]["id"]
    path = f"{V2}/{pid}/datasets/{did}/batch_update"

    def batch(**attributes):
        body = {"insert_records": [], "update_records": [], "delete_records": [], "deduplicate": True,
                "create_new_version": True}
        body.update(attributes)
        return server.x("POST", path, json_body={"data": {"type": "datasets", "id": did, "attributes": body}})

    r = batch(insert_records=[{"input": {"q": 1}, "expected_output": None, "metadata": None, "id": "a", "tags": ["t:1"]},
                              {"input": {"q": 2}, "expected_output": None, "metadata": None, "id": "b", "tags": ["t:1"]}])
    assert r.status == 200 and r.json()["data"][0]["attributes"]["version"] == 1, r
    r = batch(update_records=[
        {"input": None, "expected_output": None, "metadata": None, "id": "a",
         "tag_operations": {"remove": ["t:1"], "add": ["t:1", "u:2"]}},
        {"input": None, "expected_output": None, "metadata": None, "id": "b",
         "tag_operations": {"remove": ["t:1"], "add": ["v:3"], "set": ["w:4"]}}])
    assert r.status == 200, r
    got = stored(server, pid, did)
    assert got["a"]["tags"] == ["t:1", "u:2"] and got["b"]["tags"] == ["w:4"]
    assert server.dataset_named(pid, name)["attributes"]["current_version"] == 2

    # empty batch: 200 {"data": []}, no new version
    r = batch()
    assert r.status == 200 and r.json()["data"] == [], r
    # one bad update among good inserts: 400 with a detail, nothing applied
    r = batch(insert_records=[{"input": {"q": 3}, "expected_output": None, "metadata": None, "id": "c"}],
              update_records=[{"input": None, "expected_output": None, "metadata": None, "id": 7}])
    assert r.status == 400 and r.detail, r
    r = batch(insert_records=[{"input": {"q": 3}, "id": "c"}, {"id": "d"}])  # "d" has no input
    assert r.status == 400 and r.detail, r
    assert set(stored(server, pid, did)) == {"a", "b"}
    assert server.dataset_named(pid, name)["attributes"]["current_version"] == 2
    # a version that does not exist yet, and a negative one: 400 with the documented detail
    for bad in (3, -1):
        r = server.x("GET", f"{V2}/{pid}/datasets/{did}/records?filter[version]={bad}")
        assert r.status == 400, r
        assert r.json()["errors"][0]["detail"] == EXACT_VERSION_DETAIL, r


def test_upload_with_a_broken_row_stores_nothing(server):
    pid, name = server.project(unique("raw-proj")), unique("up")
    r = server.x("POST", f"{V1}/{pid}/datasets",
                 json_body={"data": {"type": "datasets", "attributes": {"name": name, "description": ""}}})
    did = r.json()["data"]["id"]
    rows = [["input", "expected_output", "metadata", "id"],
            ['{"q": 1}', '"a"', '{}', "r1"],
            ['{"q": 2}', '"b"', '{}', "r2"],
            ['{"q": 3', '"c"', '{}', "r3"]]  # third data row: broken JSON
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    body = ("------------boundary------\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n" + buf.getvalue() + "\r\n------------boundary--------\r\n").encode()
    r = server.x("POST", f"{V1}/datasets/{did}/records/upload?deduplicate=True", body=body,
                 content_type="multipart/form-data; boundary=----------boundary------")
    assert r.status == 400, r
    detail = str(r.json().get("detail") or r.json()["errors"][0]["detail"])
    assert re.search(r"row", detail, re.I) and re.search(r"\b(3|4)\b", detail), detail
    assert server.records(pid, did) == []
    assert server.dataset_named(pid, name)["attributes"]["current_version"] == 0


# -- cases 11, 12: batched create_dataset -------------------------------------------------


CREATE_MANY = r'''
enable()
def make():
    return LLMObs.create_dataset(dataset_name=ARGS["name"], records=ARGS["records"])
ds = call("create", make)
R["ds"] = ds_info(ds, records=ARGS.get("local", True))
'''


def test_create_dataset_2500_records_in_three_batches(server):
    project, name = unique("ds-proj"), unique("ds-2500")
    records = [{"input_data": {"i": n, "text": f"record {n}"}, "expected_output": f"out {n}",
                "metadata": {"n": n}} for n in range(2500)]
    run = run_llmobs(server, CREATE_MANY, args={"project": project, "name": name, "records": records},
                     record_bodies=True)
    e5 = batch_updates(run.requests("create"))
    assert [len(attrs(r)["insert_records"]) for r in e5] == [1000, 1000, 500]
    assert [attrs(r)["create_new_version"] for r in e5] == [True, False, False]
    assert all(r["status"] == 200 for r in e5)
    ds = run.values["ds"]
    assert (ds["version"], ds["latest_version"], ds["len"]) == (1, 1, 2500)
    pid = ds["project"]["_id"]
    assert server.dataset_named(pid, name)["attributes"]["current_version"] == 1
    got = stored(server, pid, ds["id"])
    assert got == by_id([client_view(r) for r in ds["records"]])
    assert stored(server, pid, ds["id"], version=1) == got
    assert sorted(v["input"]["i"] for v in got.values()) == list(range(2500))


def test_create_dataset_over_5_mib_in_equal_batches(server):
    project, name = unique("ds-proj"), unique("ds-big")
    blob = "x" * 250_000
    records = [{"input_data": {"i": n, "blob": f"{n}:{blob}"}, "expected_output": {"n": n}} for n in range(24)]
    total = len(json.dumps(records))
    assert total > 5 * 1024 * 1024
    run = run_llmobs(server, CREATE_MANY, args={"project": project, "name": name, "records": records,
                                                 "local": False})
    e5 = batch_updates(run.requests("create"))
    assert len(e5) == 2 and all(r["status"] == 200 for r in e5), [r["status"] for r in e5]
    assert [len(attrs(r)["insert_records"]) for r in e5] == [12, 12]  # ceil(size / 5 MiB) equal batches
    assert [attrs(r)["create_new_version"] for r in e5] == [True, False]
    ds = run.values["ds"]
    assert (ds["version"], ds["latest_version"], ds["len"]) == (1, 1, 24)
    pid = ds["project"]["_id"]
    assert server.dataset_named(pid, name)["attributes"]["current_version"] == 1
    got = server.records(pid, ds["id"])
    assert len(got) == 24
    assert sorted(r["input"]["i"] for r in got) == list(range(24))
    for r in got:
        assert r["input"]["blob"] == f"{r['input']['i']}:{blob}"
        assert r["expected_output"] == {"n": r["input"]["i"]}


# -- cases 13, 14: the bulk path ----------------------------------------------------------


BULK = r'''
enable()
A = ARGS
ds = call("create", lambda: LLMObs.create_dataset(dataset_name=A["name"], records=A["records"]))
R["v1"] = ds_info(ds)
def bulk():
    ds.append(A["extra"])
    ds.push(bulk_upload=True)
call("bulk", bulk)
R["after_bulk"] = ds_info(ds)
def big():
    ds.extend(A["big"])
    ds.push()
call("big", big)
R["after_big"] = ds_info(ds, records=False)
'''


def test_bulk_push_and_big_delta(server):
    project, name = unique("ds-proj"), unique("ds-bulk")
    records = [{"input_data": {"q": "Ça va? 🎉"}, "expected_output": "oui", "metadata": {"k": "é"}},
               {"input_data": {"q": "2"}, "expected_output": {"a": [1, 2]}},
               {"input_data": "plain string input", "expected_output": None, "tags": ["t:1"]}]
    extra = {"input_data": {"q": "bulk?"}, "expected_output": "yes", "tags": ["env:bulk"], "id": "bulk-extra"}
    big = [{"input_data": {"i": n, "blob": "y" * 200_000}, "id": f"big-{n:02d}"} for n in range(28)]
    run = run_llmobs(server, BULK, args={"project": project, "name": name, "records": records, "extra": extra,
                                         "big": big})
    v1 = run.values["v1"]
    pid, did = v1["project"]["_id"], v1["id"]

    # case 13: one multipart E6 with all 4 local records; local version unchanged; server +1
    reqs = run.requests("bulk")
    assert len(reqs) == 1 and uploads(reqs) == reqs, [r["path"] for r in reqs]
    assert reqs[0]["path"] == f"{V1}/datasets/{did}/records/upload?deduplicate=True"
    assert reqs[0]["status"] == 200, reqs[0]
    rows = multipart_csv(reqs[0])
    assert rows[0] == ["input", "expected_output", "metadata", "id"] and len(rows) == 5
    assert all(ord(c) < 128 for c in reqs[0]["body"]), "E6 cells are ASCII-escaped JSON"
    after = run.values["after_bulk"]
    assert (after["version"], after["latest_version"]) == (1, 1)
    got = stored(server, pid, did, version=2)  # the version the upload created
    want = by_id([client_view(r) for r in after["records"]])
    assert set(got) == set(want) and "bulk-extra" in got
    for rid, w in want.items():  # tags are not sent on the bulk path (§E6)
        assert {k: got[rid][k] for k in ("input", "expected_output", "metadata")} == \
               {k: w[k] for k in ("input", "expected_output", "metadata")}, rid
    assert got[[r["record_id"] for r in v1["records"]][0]]["input"] == {"q": "Ça va? 🎉"}
    assert len(server.records(pid, did, version=1)) == 3

    # case 14: a pending delta over 5 MiB goes through E6, not E5
    reqs = run.requests("big")
    assert [r["path"].split("?")[0] for r in reqs] == [f"{V1}/datasets/{did}/records/upload"], reqs
    assert reqs[0]["status"] == 200 and reqs[0]["size"] > 5 * 1024 * 1024
    assert server.dataset_named(pid, name)["attributes"]["current_version"] == 3
    got = server.records(pid, did)
    ids = {r["id"] for r in got}
    assert {f"big-{n:02d}" for n in range(28)} <= ids and len(got) == 4 + 28
    blob = {r["id"]: r["input"] for r in got if r["id"].startswith("big-")}
    assert all(v == {"i": int(k[4:]), "blob": "y" * 200_000} for k, v in blob.items())
    assert len(server.records(pid, did, version=2)) == 4


# -- cases 15–17: CSV ---------------------------------------------------------------------


CSV_SCENARIO = r'''
import os
enable()
A = ARGS
d = os.getcwd()
def write(name, text):
    p = os.path.join(d, name)
    with open(p, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return p
pipe = write("pipe.csv", A["pipe_csv"])
ds = call("pipe", lambda: LLMObs.create_dataset_from_csv(
    csv_path=pipe, dataset_name=A["pipe_name"], input_data_columns=["question", "context"],
    expected_output_columns=["answer"], metadata_columns=["category"], csv_delimiter="|", id_column="id",
    description="from csv"))
R["pipe"] = ds_info(ds)
plain = write("plain.csv", A["plain_csv"])
ds2 = call("plain", lambda: LLMObs.create_dataset_from_csv(
    csv_path=plain, dataset_name=A["plain_name"], input_data_columns=["question"]))
R["plain"] = ds_info(ds2)
call("missing_column", lambda: LLMObs.create_dataset_from_csv(
    csv_path=plain, dataset_name=A["bad_name"], input_data_columns=["question", "nope"]))
call("missing_id_column", lambda: LLMObs.create_dataset_from_csv(
    csv_path=plain, dataset_name=A["bad_name"], input_data_columns=["question"], id_column="nope"))
empty = write("empty.csv", "")
call("empty_file", lambda: LLMObs.create_dataset_from_csv(
    csv_path=empty, dataset_name=A["bad_name"], input_data_columns=["question"]))
'''

PIPE_CSV = ("id|question|context|answer|category|source\r\n"
            "row-é-1|What is the capital of Italy?|Europe|Rome|geo|atlas\r\n"
            "row-2|Qu'est-ce que «ça»? 🎉|français|ça, c'est ça|langue|book\r\n"
            "row-3|What is 3*3?|arithmetic|9|math|book\r\n")
PLAIN_CSV = "question,other\r\nq1,x\r\nq2,y\r\n"


def test_create_dataset_from_csv(server):
    project = unique("csv-proj")
    names = {"pipe_name": unique("csv-pipe"), "plain_name": unique("csv-plain"), "bad_name": unique("csv-bad")}
    run = run_llmobs(server, CSV_SCENARIO, args={"project": project, "pipe_csv": PIPE_CSV,
                                                  "plain_csv": PLAIN_CSV, **names})
    # case 15/16: E2 + one E6, never E5; ids from id_column; cells are strings
    reqs = run.requests("pipe")
    pipe = run.values["pipe"]
    pid, did = pipe["project"]["_id"], pipe["id"]
    assert [r["path"] for r in reqs if r["path"] != f"{V1}/projects"] == [
        f"{V1}/{pid}/datasets", f"{V1}/datasets/{did}/records/upload?deduplicate=True"]
    assert all(r["status"] == 200 for r in reqs)
    cells = multipart_csv(reqs[-1])
    assert cells[0] == ["input", "expected_output", "metadata", "id"] and len(cells) == 4
    assert all(ord(c) < 128 for row in cells for c in "".join(row[:3])), "JSON cells are ASCII-escaped"
    assert pipe["version"] == 0 and pipe["len"] == 3
    assert server.dataset_named(pid, names["pipe_name"])["attributes"]["current_version"] == 1
    got = stored(server, pid, did)
    assert got == {
        "row-é-1": {"id": "row-é-1", "input": {"question": "What is the capital of Italy?", "context": "Europe"},
                    "expected_output": {"answer": "Rome"}, "metadata": {"category": "geo"}, "tags": []},
        "row-2": {"id": "row-2", "input": {"question": "Qu'est-ce que «ça»? 🎉", "context": "français"},
                  "expected_output": {"answer": "ça, c'est ça"}, "metadata": {"category": "langue"}, "tags": []},
        "row-3": {"id": "row-3", "input": {"question": "What is 3*3?", "context": "arithmetic"},
                  "expected_output": {"answer": "9"}, "metadata": {"category": "math"}, "tags": []},
    }
    assert got == by_id([client_view(r) for r in pipe["records"]])

    # no expected-output columns: expected_output is {} (never None)
    plain = run.values["plain"]
    got = [server_view(r) for r in server.records(plain["project"]["_id"], plain["id"])]
    assert sorted((g["input"]["question"], json.dumps(g["expected_output"]), json.dumps(g["metadata"]))
                  for g in got) == [("q1", "{}", "{}"), ("q2", "{}", "{}")]

    # case 17: parse errors raise before any request, nothing created
    for step in ("missing_column", "missing_id_column", "empty_file"):
        res = run.err(step)
        assert res["exc"] == "ValueError" and res["requests"] == [], (step, res)
    assert server.datasets_named(pid, names["bad_name"]) == []


# -- cases 18–22: pull_dataset (server page size 2) --------------------------------------


PULL_SCENARIO = r'''
enable()
A = ARGS
ds = call("create", lambda: LLMObs.create_dataset(dataset_name=A["name"], records=A["records"]))
R["v1"] = ds_info(ds)
def change():
    ds.update(0, {"expected_output": "changed"})
    ds.append({"input_data": {"q": "four"}, "expected_output": "4", "tags": ["b:2"]})
    ds.push()
call("change", change)
R["v2"] = ds_info(ds)
R["latest"] = ds_info(call("latest", lambda: LLMObs.pull_dataset(dataset_name=A["name"])))
R["old"] = ds_info(call("old", lambda: LLMObs.pull_dataset(dataset_name=A["name"], version=1)))
R["zero"] = ds_info(call("zero", lambda: LLMObs.pull_dataset(dataset_name=A["name"], version=0)))
call("too_new", lambda: LLMObs.pull_dataset(dataset_name=A["name"], version=3))
tagged = call("tagged", lambda: LLMObs.pull_dataset(dataset_name=A["name"], tags=["a:1", "b:2"]))
R["tagged"] = ds_info(tagged)
call("missing", lambda: LLMObs.pull_dataset(dataset_name=A["name"] + "-missing"))
def task(input_data, config):
    return "x"
def ev(input_data, output_data, expected_output):
    return True
exp = LLMObs.experiment(name="tagged-exp", task=task, dataset=tagged, evaluators=[ev], config={"k": 1})
call("exp", lambda: exp.run())
R["exp_id"] = exp._id
'''


def test_pull_dataset(module_servers):
    server = module_servers("pages2", extra_args=["--records-page-size", "2"])
    project, name = unique("pull-proj"), unique("pull")
    records = [{"input_data": {"q": "one"}, "expected_output": "1", "tags": ["a:1"]},
               {"input_data": {"q": "two"}, "expected_output": "2", "tags": ["c:3"]},
               {"input_data": {"q": "three"}, "expected_output": "3", "tags": ["a:1", "c:3"]}]
    run = run_llmobs(server, PULL_SCENARIO, args={"project": project, "name": name, "records": records})
    v1, v2 = run.values["v1"], run.values["v2"]
    pid, did = v1["project"]["_id"], v1["id"]
    rec_path = f"{V2}/{pid}/datasets/{did}/records"

    # case 18: E1, E3, then E4 pages until meta.after is empty (4 records, 2 per page)
    reqs = run.requests("latest")
    assert [r["method"] + " " + r["path"] for r in reqs[:2]] == [
        f"POST {V1}/projects", f"GET {V2}/{pid}/datasets?filter[name]={name}"]
    e4 = reqs[2:]
    assert len(e4) == 2 and all(r["status"] == 200 for r in e4), [r["path"] for r in e4]
    assert e4[0]["path"] == rec_path + "?" and e4[1]["path"].startswith(rec_path + "?page[cursor]=")
    assert e4[0]["response"]["meta"]["after"] and not e4[1]["response"]["meta"].get("after")
    latest = run.values["latest"]
    assert (latest["version"], latest["latest_version"], latest["len"]) == (2, 2, 4)
    assert by_id([client_view(r) for r in latest["records"]]) == by_id([client_view(r) for r in v2["records"]])

    # page size 2 with 3 records: exactly two pages
    pages = server.records_pages(pid, did, version=1)
    assert [len(p.json()["data"]) for p in pages] == [2, 1]

    # case 19: an older version: its content exactly; version 1, latest 2
    old = run.values["old"]
    assert (old["version"], old["latest_version"]) == (1, 2)
    assert by_id([client_view(r) for r in old["records"]]) == by_id([client_view(r) for r in v1["records"]])
    assert all("filter[version]=1" in r["path"] for r in run.requests("old")[2:])
    assert "page[cursor]=" in run.requests("old")[-1]["path"]
    zero = run.values["zero"]  # version=0 means latest
    assert (zero["version"], zero["len"]) == (2, 4)

    # case 20: too new: 400 with the documented detail; the client raises ValueError
    res = run.err("too_new")
    assert res["exc"] == "ValueError"
    e4 = res["requests"][-1]
    assert e4["status"] == 400 and e4["response"]["errors"][0]["detail"] == EXACT_VERSION_DETAIL, e4

    # case 21: repeated raw filter[tags], OR semantics; config gets filtered_record_tags
    e4 = [r for r in run.requests("tagged") if "/records" in r["path"]]
    assert e4[0]["path"] == rec_path + "?&filter[tags]=a:1&filter[tags]=b:2", e4[0]["path"]
    tagged = run.values["tagged"]
    assert tagged["filter_tags"] == ["a:1", "b:2"]
    assert sorted(r["input_data"]["q"] for r in tagged["records"]) == ["four", "one", "three"]
    assert sorted(r["input"]["q"] for r in server.records(pid, did, tags=["c:3"])) == ["three", "two"]
    run.ok("exp")
    exp = server.experiment_get(run.values["exp_id"])
    assert exp["config"] == {"k": 1, "filtered_record_tags": ["a:1", "b:2"]}, exp["config"]
    assert len(server.experiment_events(run.values["exp_id"])["spans"]) == 3

    # case 22: missing name → E3 answers an empty list → ValueError
    res = run.err("missing")
    assert res["exc"] == "ValueError" and "not found" in res["msg"]
    assert [r["method"] for r in res["requests"]] == ["POST", "GET"]
    assert res["requests"][1]["response"]["data"] == []


# -- cases 54, 55: unicode and non-dict inputs -----------------------------------------


UNICODE_SCENARIO = r'''
enable()
A = ARGS
ds = call("create", lambda: LLMObs.create_dataset(dataset_name=A["name"], description="déscription ✓",
                                                 records=A["records"]))
R["created"] = ds_info(ds)
pulled = call("pull", lambda: LLMObs.pull_dataset(dataset_name=A["name"]))
R["pulled"] = ds_info(pulled)
df = pulled.as_dataframe()
R["columns"] = sorted([list(c) for c in df.columns])
R["rows"] = len(df)
bulk = call("bulk", lambda: LLMObs.create_dataset(dataset_name=A["bulk_name"], records=A["records"],
                                                 bulk_upload=True))
R["bulk"] = ds_info(bulk)
'''


def test_unicode_and_non_dict_inputs(server):
    project = unique("uni-proj")
    name, bulk_name = unique("ds/é 🎉&a+b%c?d#e"), unique("bulk-日本")  # E3 gets quote(name): '/' raw
    records = [
        {"input_data": "héllo wörld 🌍", "expected_output": "Ünïcode 😀"},
        {"input_data": ["é", 1, None, {"k": "ß"}], "expected_output": ["x"]},
        {"input_data": 42, "expected_output": 42.5},
        {"input_data": 3.25, "expected_output": True},
        {"input_data": {"q": "日本語のテキスト", "emoji": "👩‍💻"}, "expected_output": {"a": "çà"},
         "metadata": {"lang": "ja", "ñ": "ü"}, "tags": ["lang:日本"]},
        # ids: any non-empty string up to at least 128 characters (§3.2); tags: only a ':' is required
        {"input_data": {"q": "odd id"}, "id": "id/with?odd#chars é%20&x=1",
         "tags": ["url:http://example.com:8080/x", ":empty-key", "empty-value:", "a:b:c"]},
        {"input_data": {"q": "long id"}, "id": "L" * 128},
    ]
    run = run_llmobs(server, UNICODE_SCENARIO, args={"project": project, "name": name, "bulk_name": bulk_name,
                                                      "records": records})
    created = run.values["created"]
    pid = created["project"]["_id"]
    assert server.dataset_named(pid, name)["attributes"]["description"] == "déscription ✓"
    e3 = [r for r in run.requests("pull") if "filter[name]=" in r["path"]]
    assert e3 and e3[0]["path"].endswith("filter[name]=" + quote(name)) and "/" in e3[0]["path"].split("=", 1)[1]
    want = by_id([client_view(r) for r in created["records"]])
    assert stored(server, pid, created["id"]) == want
    pulled = run.values["pulled"]
    assert by_id([client_view(r) for r in pulled["records"]]) == want
    assert sorted(json.dumps(v["input"]) for v in want.values()) == sorted(json.dumps(r["input_data"]) for r in records)
    # case 55: a non-dict input shows as ("input_data", "")
    assert ["input_data", ""] in run.values["columns"] and ["input_data", "q"] in run.values["columns"]
    assert run.values["rows"] == 7
    assert want["id/with?odd#chars é%20&x=1"]["tags"] == sorted(
        ["url:http://example.com:8080/x", ":empty-key", "empty-value:", "a:b:c"])
    assert "L" * 128 in want

    # the bulk path: ASCII-escaped JSON cells, unicode stored
    e6 = uploads(run.requests("bulk"))
    assert len(e6) == 1 and e6[0]["status"] == 200
    cells = multipart_csv(e6[0])
    assert len(cells) == 8 and all(ord(c) < 128 for row in cells[1:] for c in "".join(row[:3]))
    assert "\\u00e9" in e6[0]["body"] and "id/with?odd#chars é%20&x=1" in [row[3] for row in cells]
    bulk = run.values["bulk"]
    got = stored(server, pid, bulk["id"])
    assert {k: (v["input"], v["expected_output"], v["metadata"]) for k, v in got.items()} == \
           {k: (v["input"], v["expected_output"], v["metadata"]) for k, v in
            by_id([client_view(r) for r in bulk["records"]]).items()}


# -- case 53: delete ----------------------------------------------------------------------


DELETE_SCENARIO = r'''
enable()
ds = call("create", lambda: LLMObs.create_dataset(dataset_name=ARGS["name"], records=[{"input_data": {"q": 1}}]))
R["ds"] = ds_info(ds)
call("delete", lambda: LLMObs._delete_dataset(ds._id))
call("pull", lambda: LLMObs.pull_dataset(dataset_name=ARGS["name"]))
again = call("recreate", lambda: LLMObs.create_dataset(dataset_name=ARGS["name"]))
R["again"] = ds_info(again)
'''


def test_delete_dataset(server):
    project, name = unique("del-proj"), unique("del")
    run = run_llmobs(server, DELETE_SCENARIO, args={"project": project, "name": name})
    ds = run.values["ds"]
    pid = ds["project"]["_id"]
    reqs = run.requests("delete")
    assert len(reqs) == 1 and reqs[0]["path"] == f"{V1}/datasets/delete" and reqs[0]["status"] == 200
    assert reqs[0]["body"] == {"data": {"type": "datasets", "attributes": {"type": "soft", "dataset_ids": [ds["id"]]}}}
    gone = reqs[0]["response"]["data"]
    assert [d["id"] for d in gone] == [ds["id"]] and gone[0]["attributes"].get("deleted_at")
    assert run.err("pull")["exc"] == "ValueError"
    # the name is free again once the dataset is deleted; E3 shows only the new one
    again = run.values["again"]
    assert again["id"] != ds["id"]
    found = server.datasets_named(pid, name)
    assert [d["id"] for d in found] == [again["id"]]


# -- deduplication through the client ([A] §2 E5) ---------------------------------------


DEDUP_SCENARIO = r'''
enable()
A = ARGS
ds = call("create", lambda: LLMObs.create_dataset(dataset_name=A["name"], records=A["records"]))
pulled = LLMObs.pull_dataset(dataset_name=A["name"])
def same_again():
    pulled.extend([{k: v for k, v in r.items() if k != "tags"} for r in A["records"]])
    pulled.push()
call("same_again", same_again)
R["after_dedup"] = ds_info(pulled, records=False)
def forced():
    pulled.append({"input_data": A["records"][0]["input_data"], "expected_output": A["records"][0]["expected_output"],
                   "metadata": A["records"][0]["metadata"], "id": "forced-copy"})
    pulled.push(deduplicate=False)
call("forced", forced)
R["after_forced"] = ds_info(pulled, records=False)
'''


def test_push_deduplicates(server):
    """Re-pushing records whose content is already live inserts nothing and makes no version."""
    project, name = unique("dedup-proj"), unique("dedup")
    records = [{"input_data": {"q": n}, "expected_output": f"a{n}", "metadata": {"n": n}} for n in range(3)]
    run = run_llmobs(server, DEDUP_SCENARIO, args={"project": project, "name": name, "records": records})
    e5 = batch_updates(run.requests("same_again"))
    assert len(e5) == 1 and len(attrs(e5[0])["insert_records"]) == 3 and attrs(e5[0])["deduplicate"] is True
    assert e5[0]["status"] == 200 and e5[0]["response"]["data"] == [], e5[0]["response"]
    after = run.values["after_dedup"]
    assert (after["version"], after["latest_version"]) == (1, 1)
    pid, did = after["project"]["_id"], after["id"]
    assert len(server.records(pid, did, version=1)) == 3
    skipped = {r["id"] for r in attrs(batch_updates(run.requests("same_again"))[0])["insert_records"]}
    # deduplicate=False inserts the copy and makes a version. The skipped inserts were not echoed, so
    # the client still holds them as pending (§E5 "what the client does with the answer") and sends
    # them again: without deduplication they are stored this time.
    e5 = batch_updates(run.requests("forced"))
    assert attrs(e5[0])["deduplicate"] is False
    assert {r["id"] for r in attrs(e5[0])["insert_records"]} == skipped | {"forced-copy"}
    assert {r["id"] for r in e5[0]["response"]["data"]} == skipped | {"forced-copy"}
    assert run.values["after_forced"]["version"] == 2
    assert server.dataset_named(pid, name)["attributes"]["current_version"] == 2  # the deduplicated push made none
    assert set(stored(server, pid, did)) == \
        {r["id"] for r in server.records(pid, did, version=1)} | skipped | {"forced-copy"}
