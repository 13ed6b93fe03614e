"""Server rules of the experiments API on the wire (spec experiments.md §1.2, §1.6, §2, §3.4, §7).

Raw HTTP, no client: both path families for every route, keys, exact names, version
rules, deduplication, bad bodies answered 400 with a ``detail`` and no partial write,
large intake bodies, evaluator upsert, the events-by-name read and the OpenAPI document.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from harness import V1, V2, unique
from llmobs_common import stored


def new_dataset(server, name=None):
    pid = server.project(unique("rules-proj"))
    name = name or unique("rules")
    r = server.x("POST", f"{V1}/{pid}/datasets",
                 json_body={"data": {"type": "datasets", "attributes": {"name": name, "description": ""}}})
    assert r.status == 200, r
    return pid, r.json()["data"]["id"], name


def batch(server, pid, did, family=V2, **attributes):
    body = {"insert_records": [], "update_records": [], "delete_records": [], "deduplicate": True,
            "create_new_version": True}
    body.update(attributes)
    return server.x("POST", f"{family}/{pid}/datasets/{did}/batch_update",
                    json_body={"data": {"type": "datasets", "id": did, "attributes": body}})


def rec(rid, **fields):
    return {"input": fields.pop("input", {"q": rid}), "expected_output": fields.pop("expected_output", None),
            "metadata": fields.pop("metadata", None), "id": rid, **fields}


def version_of(server, pid, name):
    return server.dataset_named(pid, name)["attributes"]["current_version"]


def upload(server, did, rows, deduplicate=True):
    buf = io.StringIO()
    csv.writer(buf).writerows([["input", "expected_output", "metadata", "id"]] + rows)
    body = ("------------boundary------\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n" + buf.getvalue() + "\r\n------------boundary--------\r\n").encode()
    return server.x("POST", f"{V1}/datasets/{did}/records/upload?deduplicate={deduplicate}", body=body,
                    content_type="multipart/form-data; boundary=----------boundary------")


def test_every_route_under_both_families(server):
    """§1.6: the server SHOULD serve every route under both prefixes; the client's prefixes have moved."""
    name = unique("fam")
    for family in (V1, V2):
        r = server.x("POST", f"{family}/projects",
                     json_body={"data": {"type": "projects", "attributes": {"name": name, "description": ""}}})
        assert r.status == 200, (family, r)
    pid = r.json()["data"]["id"]
    dids = []
    for family in (V1, V2):
        r = server.x("POST", f"{family}/{pid}/datasets", json_body={"data": {"type": "datasets", "attributes": {
            "name": f"{name}-{len(dids)}", "description": ""}}})
        assert r.status == 200, (family, r)
        dids.append(r.json()["data"]["id"])
    for family in (V1, V2):
        r = server.x("GET", f"{family}/{pid}/datasets?filter[name]={name}-0")
        assert r.status == 200 and [d["id"] for d in r.json()["data"]] == [dids[0]], (family, r)
        assert r.headers["content-type"].startswith("application/vnd.api+json"), r.headers  # §1.2
        r = batch(server, pid, dids[0], family=family, insert_records=[rec(f"r-{family[-2:]}")])
        assert r.status == 200, (family, r)
        r = server.x("GET", f"{family}/{pid}/datasets/{dids[0]}/records")
        assert r.status == 200 and r.json()["data"], (family, r)
    r = server.x("POST", f"{V2}/datasets/{dids[1]}/records/upload?deduplicate=False", body=b"")
    assert r.status == 400, r  # reached the upload route (empty multipart body)
    exps = []
    for family in (V1, V2):
        r = server.x("POST", f"{family}/experiments", json_body={"data": {"type": "experiments", "attributes": {
            "name": "fam", "dataset_id": dids[0], "project_id": pid, "metadata": {"tags": []}}}})
        assert r.status == 200, (family, r)
        exps.append(r.json()["data"]["id"])
    for family, eid in zip((V1, V2), exps):
        r = server.x("PATCH", f"{family}/experiments/{eid}",
                     json_body={"data": {"type": "experiments", "attributes": {"status": "running"}}})
        assert r.status in (200, 202, 204), (family, r)
        r = server.x("POST", f"{family}/experiments/{eid}/events", json_body={"data": {"type": "experiments",
                     "attributes": {"scope": "experiments", "metrics": [], "tags": []}}})
        assert r.status in (200, 202), (family, r)
        r = server.x("GET", f"{family}/experiments/{eid}/events?include[eval_metrics]=true")
        assert r.status == 200, (family, r)
        r = server.x("GET", f"{family}/experiments?filter[id]={eid}")
        assert r.status == 200 and [e["id"] for e in r.json()["data"]] == [eid], (family, r)
        r = server.x("POST", f"{family}/evaluators/{unique('none')}/infer",
                     json_body={"data": {"type": "evaluator_inference", "attributes": {"context": {}}}})
        assert r.status == 404 and r.json()["data"]["attributes"]["error"]["type"] == "evaluator_not_found", r
        r = server.x("PUT", f"{family}/config/evaluators/custom", json_body={"data": {"type": "evaluator_config",
                     "attributes": {"evaluation": {"eval_name": unique("fam-judge"), "applications": [{
                         "application_name": "app", "model_name": "m", "byop_config": {
                             "prompt_template": [{"role": "user", "content": "{{output_data}}"}]}}]}}}})
        assert r.status == 200, (family, r)
    r = server.x("POST", f"{V2}/datasets/delete", json_body={"data": {"type": "datasets", "attributes": {
        "type": "soft", "dataset_ids": [dids[1]]}}})
    assert r.status == 200, r
    assert server.x("GET", f"{V1}/{pid}/datasets?filter[name]={name}-1").json()["data"] == []


def test_keys(server):
    """Reads need DD-API-KEY; writes need both keys (403 with errors[].detail otherwise)."""
    pid, did, name = new_dataset(server)
    r = server.x("GET", f"{V2}/{pid}/datasets?filter[name]={name}", api_key=None, app_key=None)
    assert r.status in (401, 403), r
    r = server.x("GET", f"{V2}/{pid}/datasets?filter[name]={name}", app_key=None)
    assert r.status == 200, r
    r = server.x("GET", f"{V2}/{pid}/datasets?filter[name]={name}", api_key="wrong" * 8, app_key=None)
    assert r.status in (401, 403), r
    r = server.x("POST", f"{V1}/{pid}/datasets", app_key=None,
                 json_body={"data": {"type": "datasets", "attributes": {"name": unique("x"), "description": ""}}})
    assert r.status in (401, 403) and r.json()["errors"][0]["detail"], r
    r = server.x("POST", f"{V2}/{pid}/datasets/{did}/batch_update", app_key="wrong" * 8,
                 json_body={"data": {"type": "datasets", "id": did, "attributes": {"insert_records": [rec("a")]}}})
    assert r.status in (401, 403), r
    assert server.records(pid, did) == []


def test_dataset_names_are_exact(server):
    """E3: exact, case-sensitive match; names with reserved URL characters (client uses quote())."""
    pid = server.project(unique("names-proj"))
    odd = "Odd/Name with space&amp+plus%pct?q#frag=é"
    ids = {}
    for name in ("CaseName", odd):
        r = server.x("POST", f"{V1}/{pid}/datasets",
                     json_body={"data": {"type": "datasets", "attributes": {"name": name, "description": ""}}})
        assert r.status == 200, r
        ids[name] = r.json()["data"]["id"]
    assert server.datasets_named(pid, "casename") == []
    assert server.datasets_named(pid, "CaseNam") == []
    assert [d["id"] for d in server.datasets_named(pid, "CaseName")] == [ids["CaseName"]]
    from urllib.parse import quote
    r = server.x("GET", f"{V2}/{pid}/datasets?filter[name]={quote(odd)}")  # '/' stays raw, like the client
    assert r.status == 200 and [d["id"] for d in r.json()["data"]] == [ids[odd]], r
    assert r.json()["data"][0]["attributes"]["name"] == odd
    # an existing name answers the existing dataset, on both families
    for family in (V1, V2):
        r = server.x("POST", f"{family}/{pid}/datasets",
                     json_body={"data": {"type": "datasets", "attributes": {"name": "CaseName", "description": ""}}})
        assert r.status == 200 and r.json()["data"]["id"] == ids["CaseName"], r
        assert r.json()["data"]["attributes"]["current_version"] == 0, r
    assert [d["id"] for d in server.datasets_named(pid, "CaseName")] == [ids["CaseName"]]


def test_version_rules(server):
    """§3.4: first change of a version-0 dataset makes version 1 even with create_new_version=false;
    metadata-only updates bump; deduplicated inserts change nothing; create_new_version=false keeps it."""
    pid, did, name = new_dataset(server)
    r = batch(server, pid, did, insert_records=[rec("a", expected_output="A", metadata={"m": 1})],
              create_new_version=False)
    assert r.status == 200 and r.json()["data"][0]["attributes"]["version"] == 1, r
    assert version_of(server, pid, name) == 1
    r = batch(server, pid, did, insert_records=[rec("b")], create_new_version=False)
    assert r.status == 200 and version_of(server, pid, name) == 1
    assert set(stored(server, pid, did, version=1)) == {"a", "b"}
    r = batch(server, pid, did, update_records=[{"input": None, "expected_output": None, "metadata": {"m": 2},
                                                 "id": "a"}])
    assert r.status == 200 and r.json()["data"][0]["attributes"]["version"] == 2, r
    assert stored(server, pid, did, version=1)["a"]["metadata"] == {"m": 1}
    assert stored(server, pid, did)["a"]["metadata"] == {"m": 2}
    # deduplicate: an insert whose content equals a live record is skipped and not returned; no version
    r = batch(server, pid, did, insert_records=[rec("a-copy", input={"q": "a"}, expected_output="A",
                                                    metadata={"m": 2})])
    assert r.status == 200 and r.json()["data"] == [], r
    assert version_of(server, pid, name) == 2 and "a-copy" not in stored(server, pid, did)
    r = batch(server, pid, did, deduplicate=False,
              insert_records=[rec("a-copy", input={"q": "a"}, expected_output="A", metadata={"m": 2})])
    assert r.status == 200 and [d["id"] for d in r.json()["data"]] == ["a-copy"], r
    assert version_of(server, pid, name) == 3
    # deletes are versioned: the record stays visible in older versions
    r = batch(server, pid, did, delete_records=["b"])
    assert r.status == 200 and version_of(server, pid, name) == 4
    assert "b" not in stored(server, pid, did) and "b" in stored(server, pid, did, version=3)


def test_upload_dedupes_and_upserts(server):
    """E6: deduplicate=True drops content duplicates within the upload; an existing id is replaced."""
    pid, did, name = new_dataset(server)
    r = upload(server, did, [['{"q": 1}', '"x"', '{}', "u1"], ['{"q": 1}', '"x"', '{}', "u2"],
                             ['{"q": 2}', '""', '""', "u3"]])
    assert r.status == 200, r
    data = r.json()["data"]
    assert data["type"] == "dataset_version" and data["attributes"]["dataset_id"] == did
    assert data["attributes"]["version_number"] == 1
    got = stored(server, pid, did)
    assert len(got) == 2 and "u3" in got and len({"u1", "u2"} & set(got)) == 1, got
    r = upload(server, did, [['{"q": 3}', '"new"', '{"k": "v"}', "u3"]], deduplicate=False)
    assert r.status == 200 and version_of(server, pid, name) == 2
    got = stored(server, pid, did)
    assert got["u3"]["input"] == {"q": 3} and got["u3"]["expected_output"] == "new" and len(got) == 2
    r = upload(server, did, [['{"q": 5}', '"y"', '{}', "d1"], ['{"q": 5}', '"y"', '{}', "d2"]], deduplicate=False)
    assert r.status == 200 and {"d1", "d2"} <= set(stored(server, pid, did))


BAD_BODIES = [
    ("POST", V1 + "/projects", {"data": {"type": "projects", "attributes": {}}}),
    ("POST", V1 + "/projects", [1, 2]),
    ("POST", V1 + "/{pid}/datasets", {"data": {"type": "datasets", "attributes": {"description": "no name"}}}),
    ("POST", V2 + "/{pid}/datasets/{did}/batch_update", {"data": {"type": "datasets", "attributes": {
        "insert_records": "not a list"}}}),
    ("POST", V1 + "/datasets/delete", {"data": {"type": "datasets", "attributes": {"dataset_ids": "x"}}}),
    ("POST", V1 + "/experiments", {"data": {"type": "experiments", "attributes": {"name": "x"}}}),
    ("PATCH", V1 + "/experiments/{eid}", {"data": {"type": "experiments", "attributes": {"status": 5}}}),
    ("POST", V1 + "/experiments/{eid}/events", {"data": {"type": "experiments", "attributes": {
        "metrics": [{"label": "x"}, "not an object"]}}}),
    ("POST", V1 + "/evaluators/exact/infer", {"data": {"attributes": {}}}),
    ("PUT", V1 + "/config/evaluators/custom", {"data": {"type": "evaluator_config", "attributes": {}}}),
    ("POST", "/api/v2/llmobs", {"not": "a list"}),
    ("POST", "/api/intake/llm-obs/v2/eval-metric", {"data": {"attributes": {"metrics": "x"}}}),
]


@pytest.mark.parametrize("method,template,body", BAD_BODIES, ids=[f"{m} {p}" for m, p, _ in BAD_BODIES])
def test_bad_bodies_answer_400_with_detail(exp_server, method, template, body):
    server = exp_server
    pid, did, name = new_dataset(server)
    r = server.x("POST", f"{V1}/experiments", json_body={"data": {"type": "experiments", "attributes": {
        "name": "bad", "dataset_id": did, "project_id": pid, "metadata": {"tags": []}}}})
    eid = r.json()["data"]["id"]
    path = template.format(pid=pid, did=did, eid=eid)
    for raw in (json.dumps(body).encode(), b"{truncated"):
        r = server.x(method, path, body=raw, content_type="application/json")
        assert r.status == 400, (path, raw[:40], r)
        data = r.json()
        detail = data.get("detail") or (data.get("errors") or [{}])[0].get("detail")
        assert isinstance(detail, str) and detail, (path, data)
    # nothing was written
    assert version_of(server, pid, name) == 0 and server.records(pid, did) == []
    got = server.experiment_get(eid)
    assert got["status"] is None
    assert server.experiment_events(eid) == {"spans": [], "summary_metrics": []}


def test_metrics_with_old_timestamps_and_events_by_name(exp_server):
    """E11 must not enforce the 24 h rule (reruns replay old timestamps); E12 by name reads the newest run."""
    server = exp_server
    project = unique("byname-proj")
    pid = server.project(project)
    r = server.x("POST", f"{V1}/{pid}/datasets",
                 json_body={"data": {"type": "datasets", "attributes": {"name": unique("byname"), "description": ""}}})
    did = r.json()["data"]["id"]
    ids = []
    for _ in range(2):
        r = server.x("POST", f"{V1}/experiments", json_body={"data": {"type": "experiments", "attributes": {
            "name": "by-name", "dataset_id": did, "project_id": pid, "metadata": {"tags": []}}}})
        assert r.status == 200, r
        ids.append(r.json()["data"]["id"])
    metric = {"metric_source": "summary", "span_id": "", "trace_id": "", "timestamp_ms": 1577836800000,
              "metric_type": "score", "label": "old", "score_value": 0.1, "error": None, "tags": [],
              "experiment_id": ids[1]}
    r = server.x("POST", f"{V1}/experiments/{ids[1]}/events", json_body={"data": {"type": "experiments",
                 "attributes": {"scope": "experiments", "metrics": [metric], "tags": []}}})
    assert r.status in (200, 202), r
    assert [m["timestamp_ms"] for m in server.experiment_events(ids[1])["summary_metrics"]] == [1577836800000]
    r = server.x("GET", f"{V1}/experiments/events?filter[project_name]={project}"
                        f"&filter[experiment_name]=by-name&include[eval_metrics]=true")
    assert r.status == 200, r
    data = r.json()["data"]
    assert data["id"] == ids[1] and [m["label"] for m in data["attributes"]["summary_metrics"]] == ["old"]


def test_large_intake_and_proxy_eval_metrics(exp_server):
    """Span batches of several MiB (the client flushes at 5 MiB); E16 through /evp_proxy/v2 without a key."""
    server = exp_server
    pid, did, _ = new_dataset(server)
    r = server.x("POST", f"{V1}/experiments", json_body={"data": {"type": "experiments", "attributes": {
        "name": "big", "dataset_id": did, "project_id": pid, "metadata": {"tags": []}}}})
    eid = r.json()["data"]["id"]
    spans = [{"trace_id": f"{n:032x}", "span_id": str(5000 + n), "parent_id": "undefined", "name": "big",
              "start_ns": 1795234552385000000 + n, "duration": 1, "status": "ok",
              "meta": {"input": {"blob": "b" * 180_000}, "output": n}, "metrics": {},
              "tags": [f"experiment_id:{eid}"]} for n in range(36)]
    body = json.dumps([{"_dd.scope": "experiments", "event_type": "span", "spans": [s]} for s in spans]).encode()
    assert len(body) > 6 * 1024 * 1024
    r = server.x("POST", "/api/v2/llmobs", body=body, content_type="application/json", app_key=None)
    assert 200 <= r.status < 300, r
    assert len(server.experiment_events(eid)["spans"]) == 36
    label = "proxied_" + unique("m").replace("-", "_")
    r = server.x("POST", "/evp_proxy/v2/api/intake/llm-obs/v2/eval-metric", api_key=None, app_key=None,
                 headers={"X-Datadog-EVP-Subdomain": "api"}, json_body={"data": {"type": "evaluation_metric",
                 "attributes": {"metrics": [{"event_kind": "evaluation", "join_on": {"tag": {"key": "k", "value": "v"}},
                                             "label": label, "metric_type": "categorical",
                                             "categorical_value": "good", "timestamp_ms": 1795234588209,
                                             "ml_app": "compat"}]}}})
    assert 200 <= r.status < 300, r
    assert len(server.db_rows("SELECT 1 FROM eval_metrics WHERE label = ?", (label,))) == 1


def test_evaluator_publish_is_an_upsert(exp_server, judge):
    """E14 upsert by eval_name: the second publish's model is the one E13 then uses."""
    server = exp_server
    name = unique("upsert-judge")

    def publish(model):
        r = server.x("PUT", f"{V1}/config/evaluators/custom", json_body={"data": {"type": "evaluator_config",
                     "attributes": {"evaluation": {"eval_name": name, "applications": [{
                         "application_name": "app", "enabled": False, "integration_provider": "openai",
                         "model_provider": "openai", "model_name": model, "byop_config": {
                             "inference_params": {}, "prompt_template": [
                                 {"role": "user", "content": "Rate {{output_data}} for {{input_data.q}}"}],
                             "parsing_type": "structured_output",
                             "assessment_criteria": {"pass_when": True}}}]}}}})
        assert r.status == 200, r

    publish("first-model")
    publish("second-model")
    before = len(judge.requests)
    r = server.x("POST", f"{V1}/evaluators/{name}/infer", json_body={"data": {"type": "evaluator_inference",
                 "attributes": {"context": {"span_input": {"q": "Q?"}, "span_output": "A", "meta": {}}}}})
    assert r.status == 200, r
    attrs = r.json()["data"]["attributes"]
    assert (attrs["value"], attrs["assessment"], attrs["reasoning"], attrs["status"]) == (True, "pass", "ok", "OK")
    sent = judge.requests[before:]
    assert [s["body"]["model"] for s in sent] == ["second-model"]
    assert sent[0]["body"]["messages"] == [{"role": "user", "content": "Rate A for Q?"}]


def test_openapi_lists_the_experiment_routes(server):
    r = server.request("GET", "/openapi.json", api_key=None, app_key=None)
    assert r.status == 200, r
    paths = {re.sub(r"\{[^}]+\}", "{}", p) for p in r.json()["paths"]}
    wanted = [f"{fam}{rest}" for fam in (V1, V2) for rest in (
        "/projects", "/{}/datasets", "/{}/datasets/{}/records", "/{}/datasets/{}/batch_update",
        "/datasets/{}/records/upload", "/datasets/delete", "/experiments", "/experiments/{}",
        "/experiments/{}/events", "/evaluators/{}/infer", "/config/evaluators/custom")]
    wanted += ["/api/v2/llmobs", "/api/intake/llm-obs/v2/eval-metric"]
    missing = [w for w in wanted if w not in paths]
    assert missing == [], missing


def test_unknown_ids_answer_404(server):
    """§7.3: 404 for unknown ids, with a detail; a dataset is not reachable through another project."""
    pid, did, _ = new_dataset(server)
    other = server.project(unique("other-proj"))
    nobody = "00000000-0000-4000-8000-000000000000"
    upload_body = ("------------boundary------\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.csv\"\r\n"
                   "Content-Type: text/csv\r\n\r\ninput,expected_output,metadata,id\r\n1,2,{},a\r\n\r\n"
                   "------------boundary--------\r\n").encode()
    cases = [
        ("POST", f"{V1}/{nobody}/datasets", {"data": {"type": "datasets", "attributes": {"name": "d"}}}),
        ("GET", f"{V2}/{pid}/datasets/{nobody}/records", None),
        ("GET", f"{V2}/{other}/datasets/{did}/records", None),
        ("POST", f"{V2}/{pid}/datasets/{nobody}/batch_update",
         {"data": {"type": "datasets", "attributes": {"insert_records": [{"input": 1, "id": "a"}]}}}),
        ("POST", f"{V1}/experiments", {"data": {"type": "experiments", "attributes": {
            "name": "x", "dataset_id": nobody, "project_id": pid}}}),
        ("PATCH", f"{V1}/experiments/{nobody}", {"data": {"type": "experiments", "attributes": {"status": "running"}}}),
        ("POST", f"{V1}/experiments/{nobody}/events", {"data": {"type": "experiments", "attributes": {"metrics": []}}}),
        ("GET", f"{V1}/experiments/{nobody}/events?include[eval_metrics]=true", None),
    ]
    for method, path, body in cases:
        kw = {"json_body": body} if body is not None else {}
        r = server.x(method, path, **kw)
        assert r.status == 404 and r.json()["errors"][0]["detail"], (method, path, r)
    r = server.x("POST", f"{V1}/datasets/{nobody}/records/upload?deduplicate=True", body=upload_body,
                 content_type="multipart/form-data; boundary=----------boundary------")
    assert r.status == 404, r
    assert server.records(pid, did) == []
