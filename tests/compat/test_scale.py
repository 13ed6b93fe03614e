"""100,000 records pushed and pulled back complete through the real ddtrace 4.16.0 client and the raw API.

The client creates the dataset with ``create_dataset(records=…)`` (batched E5 calls of 1000
records, one version), then ``pull_dataset`` pages through E4. The test then pages
through E4 itself. Both reads must return every record exactly once with its content:
the count, the set of ids, a digest of all records and a few records spot-checked field
by field (first, last, random ones).
"""

from __future__ import annotations

import hashlib
import json
import random
import time

from harness import run_llmobs, unique

N = 100_000

# The records are built by the same formula in the client process and here.
MAKE = r'''
def make_record(n):
    return {"input_data": {"i": n, "q": "question %d é" % n}, "expected_output": "answer %d" % n,
            "metadata": {"bucket": n % 10}, "tags": ["bucket:%d" % (n % 10)], "id": "rec-%06d" % n}

def canonical(record_id, input_data, expected_output, metadata, tags):
    return json.dumps([record_id, input_data, expected_output, metadata or {}, sorted(tags or [])],
                      sort_keys=True, ensure_ascii=False)
'''

SCENARIO = MAKE + r'''
import hashlib
enable()
N = ARGS["n"]
records = [make_record(n) for n in range(N)]
t0 = time.time()
ds = call("create", lambda: LLMObs.create_dataset(dataset_name=ARGS["name"], records=records))
R["create_seconds"] = time.time() - t0
R["created"] = ds_info(ds, records=False)
t0 = time.time()
pulled = call("pull", lambda: LLMObs.pull_dataset(dataset_name=ARGS["name"]))
R["pull_seconds"] = time.time() - t0
R["pulled"] = ds_info(pulled, records=False)
lines = sorted(canonical(r["record_id"], r["input_data"], r.get("expected_output"), r.get("metadata"), r.get("tags"))
               for r in pulled)
R["digest"] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
R["ids_unique"] = len({r["record_id"] for r in pulled})
by_id = {r["record_id"]: r for r in pulled}
R["samples"] = {rid: _plain(dict(by_id[rid])) for rid in ARGS["sample_ids"] if rid in by_id}
R["first_last"] = [_plain(dict(pulled[0])), _plain(dict(pulled[len(pulled) - 1]))]
'''


def _namespace() -> dict:
    ns: dict = {"json": json}
    exec(MAKE, ns)  # noqa: S102 (our own constant)
    return ns


def test_100k_records_round_trip(server):
    ns = _namespace()
    make_record, canonical = ns["make_record"], ns["canonical"]
    rng = random.Random(20260101)
    sample_ids = ["rec-000000", f"rec-{N - 1:06d}"] + [f"rec-{rng.randrange(N):06d}" for _ in range(8)]
    name = unique("scale-100k")

    started = time.time()
    run = run_llmobs(server, SCENARIO, args={"project": unique("scale-proj"), "name": name, "n": N,
                                             "sample_ids": sample_ids},
                     record_bodies=False, timeout=600)
    client_seconds = time.time() - started
    run.ok("create")
    run.ok("pull")

    want_lines = sorted(canonical(r["id"], r["input_data"], r["expected_output"], r["metadata"], r["tags"])
                        for r in map(make_record, range(N)))
    want_digest = hashlib.sha256("\n".join(want_lines).encode()).hexdigest()

    # the push: 100 batched E5 calls of 1000 records, all 200, one version
    e5 = [r for r in run.requests("create") if r["path"].endswith("/batch_update")]
    assert len(e5) == 100 and all(r["status"] == 200 for r in e5), (len(e5), {r.get("status") for r in e5})
    created = run.values["created"]
    assert (created["version"], created["latest_version"], created["len"]) == (1, 1, N)

    # the client's pull: complete, exact content
    pulled = run.values["pulled"]
    assert (pulled["len"], pulled["version"], pulled["latest_version"]) == (N, 1, 1)
    assert run.values["ids_unique"] == N
    assert run.values["digest"] == want_digest
    for rid in sample_ids:
        n = int(rid[4:])
        rec = run.values["samples"][rid]
        want = make_record(n)
        assert (rec["record_id"], rec["input_data"], rec["expected_output"], rec["metadata"], rec["tags"]) == \
               (want["id"], want["input_data"], want["expected_output"], want["metadata"], want["tags"]), rid
    e4 = [r for r in run.requests("pull") if "/records" in r["path"]]
    assert all(r["status"] == 200 for r in e4) and len(e4) >= 2, len(e4)
    assert "page[cursor]=" in e4[-1]["path"]

    # the raw API: E4 pages until meta.after is empty
    pid, did = created["project"]["_id"], created["id"]
    assert server.dataset_named(pid, name)["attributes"]["current_version"] == 1
    t0 = time.time()
    pages = server.records_pages(pid, did)
    raw_seconds = time.time() - t0
    records = [{"id": item["id"], **item["attributes"]} for page in pages for item in page.json()["data"]]
    assert len(records) == N and len({r["id"] for r in records}) == N
    got_lines = sorted(canonical(r["id"], r["input"], r.get("expected_output"), r.get("metadata"), r.get("tags"))
                       for r in records)
    assert hashlib.sha256("\n".join(got_lines).encode()).hexdigest() == want_digest
    raw_by_id = {r["id"]: r for r in records}
    for rid in sample_ids:
        want = make_record(int(rid[4:]))
        got = raw_by_id[rid]
        assert (got["input"], got["expected_output"], got["metadata"], sorted(got["tags"])) == \
               (want["input_data"], want["expected_output"], want["metadata"], want["tags"]), rid
    # a limit of 1000 gives 100 pages
    assert len(server.records_pages(pid, did, limit=1000)) == 100

    print(f"\n100k: client create {run.values['create_seconds']:.1f}s, client pull {run.values['pull_seconds']:.1f}s "
          f"({len(e4)} pages), raw pull {raw_seconds:.1f}s ({len(pages)} pages), client process {client_seconds:.1f}s")
