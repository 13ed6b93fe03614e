"""Concurrency and atomicity through the API: version numbering under 32 concurrent creates
(raw HTTP and ddtrace threads), concurrent label moves, concurrent duplicate creates, and
failed writes that leave nothing half-written."""

import threading
from concurrent.futures import ThreadPoolExecutor

from harness import pct, run_client, unique

CHAT = [{"role": "user", "content": "base"}]


def _barrier_map(n, fn):
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def test_32_concurrent_versions_raw(server):
    pid = unique("conc-raw")
    assert server.create_prompt(pid, CHAT).status == 200

    def create(i):
        return server.api("POST", f"/{pct(pid)}/versions",
                          json_body={"template": [{"role": "user", "content": f"t{i}"}]})

    results = _barrier_map(32, create)
    assert [r.status for r in results] == [200] * 32, [r for r in results if r.status != 200]
    numbers = sorted(r.json()["version"] for r in results)
    assert numbers == list(range(2, 34))
    versions = server.versions(pid)
    assert [v["version"] for v in versions] == list(range(33, 0, -1))
    # Each returned number holds the template its request sent.
    for r in results:
        body = r.json()
        stored = server.api("GET", f"/{pct(pid)}/versions/{body['version']}").json()
        assert stored["template"] == body["template"]
    listed = next(p for p in server.api("GET").json() if p["prompt_id"] == pid)
    assert listed["num_versions"] == 33
    assert server.api("GET", f"/{pct(pid)}").json()["version"] == "33"


def test_32_concurrent_versions_ddtrace(server):
    pid = unique("conc-dd")
    assert server.create_prompt(pid, CHAT).status == 200
    code = r'''
import threading
from concurrent.futures import ThreadPoolExecutor
pid = ARGS
barrier = threading.Barrier(32)
def one(i):
    barrier.wait()
    try:
        return LLMObs.create_prompt_version(pid, [{"role": "user", "content": f"dd{i}"}])["version"]
    except Exception as e:
        return repr(e)
with ThreadPoolExecutor(max_workers=32) as pool:
    R["numbers"] = list(pool.map(one, range(32)))
'''
    run = run_client(server, code, args=pid)
    numbers = run.values["numbers"]
    assert all(isinstance(n, int) for n in numbers), numbers
    assert sorted(numbers) == list(range(2, 34))
    assert [v["version"] for v in server.versions(pid)] == list(range(33, 0, -1))


def test_concurrent_label_moves(server):
    pid = unique("conc-label")
    assert server.create_prompt(pid, CHAT).status == 200
    for i in range(7):
        assert server.api("POST", f"/{pct(pid)}/versions", json_body={"template": CHAT}).status == 200
    for round_ in range(3):
        def move(i):
            return server.api("PATCH", f"/{pct(pid)}/versions/{i % 8 + 1}",
                              json_body={"labels": ["production", "development"]})

        results = _barrier_map(32, move)
        assert [r.status for r in results] == [200] * 32
        holders = {
            label: [v["version"] for v in server.versions(pid) if label in v.get("labels", [])]
            for label in ("production", "development")
        }
        assert len(holders["production"]) == 1, (round_, holders)
        assert holders["production"] == holders["development"], holders
        by_label = server.api("GET", f"/{pct(pid)}?label=production").json()
        assert by_label["version"] == str(holders["production"][0])


def test_concurrent_env_moves(server):
    pid = unique("conc-env")
    assert server.create_prompt(pid, CHAT).status == 200
    for i in range(7):
        assert server.api("POST", f"/{pct(pid)}/versions", json_body={"template": CHAT}).status == 200

    def deploy(i):
        return server.api("PATCH", f"/{pct(pid)}/versions/{i % 8 + 1}", json_body={"env_ids": ["production"]})

    results = _barrier_map(32, deploy)
    assert [r.status for r in results] == [200] * 32
    body = {"data": {"type": "prompt_resolve_requests", "attributes": {"env": "production"}}}
    seen = {server.api("POST", f"/{pct(pid)}/resolve", json_body=body).json()["version"] for _ in range(5)}
    assert len(seen) == 1


def test_concurrent_duplicate_creates(server):
    pid = unique("conc-dup")

    def create(i):
        return server.api("POST", "", json_body={"prompt_id": pid, "template": [{"role": "user", "content": f"c{i}"}]})

    results = _barrier_map(16, create)
    statuses = sorted(r.status for r in results)
    assert statuses == [200] + [409] * 15, statuses
    assert all(r.detail == "prompt template already exists" for r in results if r.status == 409)
    winner = next(r for r in results if r.status == 200).json()
    assert [p["prompt_id"] for p in server.api("GET").json()].count(pid) == 1
    versions = server.versions(pid)
    assert [v["version"] for v in versions] == [1]
    stored = server.api("GET", f"/{pct(pid)}/versions/1").json()["template"]
    assert stored in [[{"role": "user", "content": f"c{i}"}] for i in range(16)]
    assert winner["num_versions"] == 1


def test_failed_writes_leave_nothing(server):
    # Create with an invalid template: no prompt.
    pid = unique("atomic")
    for bad in ({"template": "   "}, {"template": ["h", "i"]}, {"template": CHAT, "labels": "production"},
                {"template": CHAT, "config": [1]}, {"template": CHAT, "env_ids": [5]}):
        r = server.api("POST", "", json_body={"prompt_id": pid, **bad})
        assert r.status == 400, (bad, r)
        assert server.api("GET", f"/{pct(pid)}").status == 404
        assert pid not in [p["prompt_id"] for p in server.api("GET").json()]
        assert server.versions(pid) == []
    # The id is still free.
    assert server.create_prompt(pid, CHAT, labels=["production"], env_ids=["production"]).status == 200
    # A failed create-version neither adds a version nor moves labels/deployments.
    for bad in ({"template": []}, {"template": CHAT, "labels": ["production", 3]},
                {"template": CHAT, "config": "x"}):
        r = server.api("POST", f"/{pct(pid)}/versions", json_body={**bad})
        assert r.status == 400, (bad, r)
    versions = server.versions(pid)
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["labels"] == ["production"]
    # A failed PATCH changes nothing, even in the valid fields it carried.
    r = server.api("PATCH", f"/{pct(pid)}/versions/1", json_body={"description": "new", "labels": [7]})
    assert r.status == 400, r
    r = server.api("PATCH", f"/{pct(pid)}", json_body={"title": "new", "description": 5})
    assert r.status == 400, r
    v1 = server.versions(pid)[0]
    assert "description" not in v1 and v1["labels"] == ["production"]
    listed = next(p for p in server.api("GET").json() if p["prompt_id"] == pid)
    assert "title" not in listed
    body = {"data": {"type": "prompt_resolve_requests", "attributes": {"env": "production"}}}
    assert server.api("POST", f"/{pct(pid)}/resolve", json_body=body).json()["version"] == "1"


def test_failed_ddtrace_create_leaves_nothing(server):
    pid = unique("atomic-dd")
    code = r'''
call("bad", lambda: LLMObs.create_prompt(ARGS, "plain text"))
call("get", lambda: LLMObs.get_prompt(ARGS, fallback="fb"))
'''
    run = run_client(server, code, args=pid)
    e = run.err("bad")
    assert e["exc"] == "PromptValidationError" and e["status"] == 400
    assert run.ok("get")["source"] == "fallback"
    assert server.api("GET", f"/{pct(pid)}").status == 404
