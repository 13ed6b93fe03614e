"""Several servers, one PostgreSQL database, driven at once through raw HTTP and the real
ddtrace: numbering, label and deployment moves, dataset pushes and experiment ingest stay
whole across servers, and a write on one server reaches reads on another within
``--read-cache-ms``. Each write is spread over the servers (request ``i`` goes to server
``i % SERVERS``) and each result is read back from a server other than the writer."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import POOL_SIZE, READ_CACHE_MS, SERVERS
from harness import V1, V2, pct, run_client, run_llmobs, unique

CHAT = [{"role": "user", "content": "base"}]
MIGRATIONS = Path(__file__).resolve().parents[2] / "crates" / "store" / "migrations"


def barrier_map(n, fn):
    """``fn(0..n)`` in ``n`` threads released together; the results in order."""
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def test_started_together_on_an_empty_database(cluster):
    """The fixture started every server at once on an empty database: each is up and takes
    the shared keys; the schema was migrated once and there is one first key pair."""
    numbers = {int(m.group(1)) for p in MIGRATIONS.glob("*.sql") if (m := re.match(r"^(\d+)_", p.name))}
    assert cluster.rows("SELECT version FROM llmobs_migrations ORDER BY version") == [str(n) for n in sorted(numbers)]
    assert cluster.rows("SELECT count(*) FROM api_keys") == ["2"]
    assert cluster.rows("SELECT name FROM orgs") == ["default"]
    for srv in cluster.servers:
        assert srv.request("GET", "/healthz", api_key=None, app_key=None).status == 200
        r = srv.request("GET", "/readyz", api_key=None, app_key=None)
        assert (r.status, r.text) == (200, "ready"), r
        assert srv.api("GET").status == 200
    # Each server keeps at most --db-pool-size connections (the psql session is one more).
    connections = int(cluster.rows("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")[0])
    assert 1 < connections <= SERVERS * POOL_SIZE + 1, connections


def test_version_creates_across_servers_raw(cluster):
    servers = cluster.servers
    pid = unique("multi-raw")
    assert servers[0].create_prompt(pid, CHAT).status == 200
    n = 16 * SERVERS

    def create(i):
        return servers[i % SERVERS].api("POST", f"/{pct(pid)}/versions",
                                        json_body={"template": [{"role": "user", "content": f"t{i}"}]})

    results = barrier_map(n, create)
    assert [r.status for r in results] == [200] * n, [r for r in results if r.status != 200]
    assert sorted(r.json()["version"] for r in results) == list(range(2, n + 2))
    for srv in servers:
        assert [v["version"] for v in srv.versions(pid)] == list(range(n + 1, 0, -1))
    reader = servers[1]
    for i, r in enumerate(results):
        stored = reader.api("GET", f"/{pct(pid)}/versions/{r.json()['version']}").json()
        assert stored["template"] == [{"role": "user", "content": f"t{i}"}]


DD_VERSIONS = r'''
import threading
from concurrent.futures import ThreadPoolExecutor
pid, tag = ARGS
barrier = threading.Barrier(12)
def one(i):
    barrier.wait()
    try:
        return LLMObs.create_prompt_version(pid, [{"role": "user", "content": f"{tag}-{i}"}])["version"]
    except Exception as e:
        return repr(e)
with ThreadPoolExecutor(max_workers=12) as pool:
    R["numbers"] = list(pool.map(one, range(12)))
'''


def test_version_creates_across_servers_ddtrace(cluster):
    """One ddtrace process per server, 12 threads each, all creating versions of one prompt."""
    servers = cluster.servers
    pid = unique("multi-dd")
    assert servers[0].create_prompt(pid, CHAT).status == 200
    with ThreadPoolExecutor(max_workers=SERVERS) as pool:
        runs = list(pool.map(lambda i: run_client(servers[i], DD_VERSIONS, args=[pid, f"s{i}"]), range(SERVERS)))
    numbers = [n for run in runs for n in run.values["numbers"]]
    assert all(isinstance(n, int) for n in numbers), numbers
    total = 12 * SERVERS
    assert sorted(numbers) == list(range(2, total + 2))
    listed = servers[-1].versions(pid)
    assert [v["version"] for v in listed] == list(range(total + 1, 0, -1))
    reader = servers[1]
    for i, run in enumerate(runs):
        for k, n in enumerate(run.values["numbers"]):
            stored = reader.api("GET", f"/{pct(pid)}/versions/{n}").json()
            assert stored["template"] == [{"role": "user", "content": f"s{i}-{k}"}]


def test_label_and_deployment_moves_across_servers(cluster):
    """Concurrent label moves and deployments (each round to an environment no prompt has
    used yet) leave each label and each environment on exactly one version."""
    servers = cluster.servers
    pid = unique("multi-label")
    assert servers[0].create_prompt(pid, CHAT).status == 200
    for i in range(7):
        assert servers[i % SERVERS].api("POST", f"/{pct(pid)}/versions", json_body={"template": CHAT}).status == 200
    for round_ in range(4):
        env = unique(f"env{round_}")

        def move(i):
            return servers[i % SERVERS].api("PATCH", f"/{pct(pid)}/versions/{i % 8 + 1}",
                                            json_body={"labels": ["production", "development"], "env_ids": [env]})

        results = barrier_map(8 * SERVERS, move)
        assert [r.status for r in results] == [200] * len(results), [r for r in results if r.status != 200]
        for srv in servers:
            versions = srv.versions(pid)
            holders = {label: [v["version"] for v in versions if label in v.get("labels", [])]
                       for label in ("production", "development")}
            assert len(holders["production"]) == 1, (round_, holders)
            assert holders["production"] == holders["development"], holders
        body = {"data": {"type": "prompt_resolve_requests", "attributes": {"env": env}}}
        seen = {srv.api("POST", f"/{pct(pid)}/resolve", json_body=body).json()["version"] for srv in servers}
        assert len(seen) == 1, seen
    assert cluster.rows(f"SELECT count(*) FROM environments WHERE name LIKE 'env%'") == ["4"]


def test_dataset_pushes_across_servers_lose_nothing(cluster):
    """Clients push record batches into one dataset through every server at once; every
    acknowledged record is read back, and each batch got its own version, 1..N."""
    servers = cluster.servers
    writer = servers[0]
    pid, name = writer.project(unique("multi-ds-proj")), unique("multi-ds")
    r = writer.x("POST", f"{V1}/{pid}/datasets",
                 json_body={"data": {"type": "datasets", "attributes": {"name": name, "description": ""}}})
    assert r.status == 200, r
    did = r.json()["data"]["id"]
    clients, batches, per_batch = 4 * SERVERS, 6, 5

    def push(c):
        srv = servers[c % SERVERS]
        acked = []
        for b in range(batches):
            recs = [{"input": {"q": f"c{c}-b{b}-r{k}"}, "expected_output": k, "metadata": None}
                    for k in range(per_batch)]
            body = {"data": {"type": "datasets", "id": did, "attributes": {
                "insert_records": recs, "update_records": [], "delete_records": [],
                "deduplicate": False, "create_new_version": True}}}
            r = srv.x("POST", f"{V2}/{pid}/datasets/{did}/batch_update", json_body=body)
            if r.status == 200:
                acked += [rec["input"]["q"] for rec in recs]
        return acked

    acked = [q for got in barrier_map(clients, push) for q in got]
    assert len(acked) == clients * batches * per_batch
    stored = servers[-1].records(pid, did)
    assert sorted(rec["input"]["q"] for rec in stored) == sorted(acked)
    assert servers[1].dataset_named(pid, name)["attributes"]["current_version"] == clients * batches


DD_EXPERIMENT = r'''
from ddtrace.llmobs import LLMObs
enable()
A = ARGS
def task(input_data, config):
    return input_data["q"].upper()
def exact(input_data, output_data, expected_output):
    return output_data == expected_output
ds = call("dataset", lambda: LLMObs.create_dataset(dataset_name=A["ds_name"], records=A["records"]))
exp = call("construct", lambda: LLMObs.experiment(name=A["name"], task=task, dataset=ds, evaluators=[exact]))
call("run", lambda: exp.run(jobs=4))
R["dataset_id"] = ds._id
R["experiment_id"] = exp._id
'''


def test_ddtrace_experiments_across_servers_lose_nothing(cluster):
    """One ddtrace process per server pushes a dataset and runs an experiment over it, all
    at once; another server reads every record, span and evaluation back."""
    servers = cluster.servers
    project = unique("multi-exp-proj")
    count = 30

    def client(i):
        records = [{"input_data": {"q": f"s{i}-q{k}"}, "expected_output": f"S{i}-Q{k}"} for k in range(count)]
        return run_llmobs(servers[i], DD_EXPERIMENT, args={"project": project, "ds_name": unique(f"ds{i}"),
                                                           "name": unique(f"exp{i}"), "records": records})

    with ThreadPoolExecutor(max_workers=SERVERS) as pool:
        runs = list(pool.map(client, range(SERVERS)))
    project_id = servers[0].project(project)
    for i, run in enumerate(runs):
        run.ok("run")
        reader = servers[(i + 1) % SERVERS]
        records = reader.records(project_id, run.values["dataset_id"])
        assert sorted(r["input"]["q"] for r in records) == sorted(f"s{i}-q{k}" for k in range(count))
        spans = reader.experiment_events(run.values["experiment_id"])["spans"]
        assert len(spans) == count, len(spans)
        metrics = [m for s in spans for m in s.get("eval_metrics", [])]
        assert len(metrics) == count and all(m["label"] == "exact" for m in metrics), metrics[:3]


def test_raw_experiment_ingest_across_servers_loses_nothing(cluster):
    """Span and metric batches for one experiment arrive through every server at once;
    every acknowledged span and metric is read back from each server."""
    servers = cluster.servers
    writer = servers[0]
    pid = writer.project(unique("multi-ingest-proj"))
    r = writer.x("POST", f"{V1}/{pid}/datasets",
                 json_body={"data": {"type": "datasets", "attributes": {"name": unique("ing"), "description": ""}}})
    did = r.json()["data"]["id"]
    r = writer.x("POST", f"{V1}/experiments", json_body={"data": {"type": "experiments", "attributes": {
        "name": unique("ingest"), "dataset_id": did, "project_id": pid, "dataset_version": 0, "config": {},
        "metadata": {"tags": []}, "ensure_unique": True, "run_count": 1}}})
    assert r.status == 200, r
    eid = r.json()["data"]["id"]
    clients, batches, per_batch = 3 * SERVERS, 5, 20
    trace_id = "6b011af80000000055617504a9c8ca26"

    def ingest(c):
        srv = servers[c % SERVERS]
        spans_acked, metrics_acked = [], []
        for b in range(batches):
            ids = [str(10**12 + c * 10**6 + b * 10**3 + k) for k in range(per_batch)]
            spans = [{"trace_id": trace_id, "span_id": sid, "parent_id": "undefined", "name": "t",
                      "start_ns": 1795234552385000000, "duration": 5, "status": "ok",
                      "meta": {"span": {"kind": "experiment"}, "input": {"q": sid}, "output": "x"}, "metrics": {},
                      "tags": [f"experiment_id:{eid}", f"dataset_id:{did}", f"dataset_record_id:r{sid}"],
                      "_dd": {"scope": "experiments", "span_id": sid, "trace_id": trace_id}} for sid in ids]
            r = srv.request("POST", "/api/v2/llmobs", app_key=None, json_body=[
                {"_dd.stage": "raw", "event_type": "span", "_dd.scope": "experiments", "spans": spans}])
            if 200 <= r.status < 300:
                spans_acked += ids
            metrics = [{"metric_source": "custom", "span_id": sid, "trace_id": trace_id,
                        "timestamp_ms": 1795234552385, "metric_type": "score", "label": "m", "score_value": 0.5,
                        "error": None, "tags": [], "experiment_id": eid, "status": "OK"} for sid in ids]
            r = srv.x("POST", f"{V1}/experiments/{eid}/events", json_body={"data": {"type": "experiments",
                      "attributes": {"scope": "experiments", "metrics": metrics, "tags": []}}})
            if 200 <= r.status < 300:
                metrics_acked += ids
        return spans_acked, metrics_acked

    results = barrier_map(clients, ingest)
    spans_acked = sorted(s for got, _ in results for s in got)
    metrics_acked = sorted(s for _, got in results for s in got)
    assert len(spans_acked) == len(metrics_acked) == clients * batches * per_batch
    for srv in servers:
        spans = srv.experiment_events(eid)["spans"]
        assert sorted(s["span_id"] for s in spans) == spans_acked
        joined = sorted(s["span_id"] for s in spans for m in s.get("eval_metrics", []) if m["label"] == "m")
        assert joined == metrics_acked


def poll(fn, want, bound_s):
    """Calls ``fn`` until it returns ``want`` or ``bound_s`` seconds pass; the seconds it took
    (None when it never did) and the last value."""
    start = time.monotonic()
    while True:
        got = fn()
        if got == want:
            return time.monotonic() - start, got
        if time.monotonic() - start > bound_s:
            return None, got
        time.sleep(0.02)


def test_write_on_one_server_is_read_on_another_within_the_cache_bound(cluster):
    """Servers cache prompt reads for at most --read-cache-ms; a write through one server
    reaches reads through the others within that bound (checked with slack for a loaded
    machine: the claim is the bound, not a speed)."""
    a, others = cluster.servers[0], cluster.servers[1:]
    pid = unique("multi-cache")
    assert a.create_prompt(pid, CHAT, labels=["production"]).status == 200
    latest = lambda srv: lambda: srv.api("GET", f"/{pct(pid)}").json()["version"]  # noqa: E731
    labelled = lambda srv: lambda: srv.api("GET", f"/{pct(pid)}?label=production").json()["version"]  # noqa: E731
    for srv in others:  # warm each server's cache with version 1
        assert latest(srv)() == "1" and labelled(srv)() == "1"
    r = a.api("POST", f"/{pct(pid)}/versions", json_body={"template": CHAT, "labels": ["production"]})
    assert r.status == 200 and r.json()["version"] == 2
    bound = READ_CACHE_MS / 1000 + 2.0
    for srv in others:
        for read in (latest(srv), labelled(srv)):
            took, got = poll(read, "2", bound)
            assert took is not None, f"server {srv.port} still answers version {got} after {bound} s"
    # The writer itself drops its cache at once.
    assert latest(a)() == "2" and labelled(a)() == "2"
