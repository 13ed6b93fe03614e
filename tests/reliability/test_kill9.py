"""``kill -9`` under concurrent writes, on SQLite and on PostgreSQL: every write the server
acknowledged (a 2xx answer) is there after a restart, and SQLite's integrity check passes.

Writers create prompts, insert dataset records, send spans and post experiment events (which
SQLite acknowledges once they are in its ingest journal, before they reach their tables), on
keep-alive connections, while the server is killed without warning; a write whose answer
never arrived may or may not be stored, and is not counted.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time

from harness import PROMPTS, V1, V2, pct

# Seconds of writes before each kill. The short round ends inside the first second of the
# burst, which SQLite keeps in its ingest journal: events acknowledged then are not yet in
# their tables when the server dies.
ROUND_SECONDS = (2.0, 0.6, 2.0)
WRITERS = 6
ML_APP = "kill9"


class Writer(threading.Thread):
    """Sends one kind of write in a loop and remembers what was acknowledged."""

    def __init__(self, srv, kind: str, name: str, ids: dict):
        super().__init__(daemon=True)
        self.srv, self.kind, self.name, self.ids = srv, kind, name, ids
        self.acked: list[str] = []
        self.stop = threading.Event()
        self.conn = None

    def send(self, method: str, path: str, body: dict) -> int:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10)
        headers = {"DD-API-KEY": self.srv.api_key, "DD-APPLICATION-KEY": self.srv.app_key,
                   "Content-Type": "application/json"}
        try:
            self.conn.request(method, path, body=json.dumps(body), headers=headers)
            resp = self.conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            return 0

    def write(self, i: int) -> tuple[str, int]:
        key = f"{self.name}-{i}"
        if self.kind == "prompt":
            body = {"prompt_id": key, "template": [{"role": "user", "content": f"hi {{{{x}}}} {key}"}]}
            return key, self.send("POST", PROMPTS, body)
        if self.kind == "record":
            attrs = {"insert_records": [{"id": key, "input": {"k": key}}], "deduplicate": False,
                     "create_new_version": i % 2 == 0}
            path = f"{V2}/{self.ids['project']}/datasets/{self.ids['dataset']}/batch_update"
            return key, self.send("POST", path, {"data": {"type": "datasets", "attributes": attrs}})
        if self.kind == "event":
            span = {"trace_id": key, "span_id": key, "parent_id": "undefined", "name": key,
                    "start_ns": time.time_ns(), "duration": 1000, "status": "ok",
                    "meta": {"span": {"kind": "experiment"}, "input": {"k": key}}, "metrics": {},
                    "tags": [f"experiment_id:{self.ids['experiment']}"]}
            metric = {"metric_source": "custom", "span_id": key, "trace_id": key,
                      "timestamp_ms": int(time.time() * 1000), "metric_type": "score", "label": "acc",
                      "score_value": 1.0}
            attrs = {"scope": "experiments", "metrics": [metric], "spans": [span], "tags": ["run_id:kill9"]}
            path = f"{V1}/experiments/{self.ids['experiment']}/events"
            return key, self.send("POST", path, {"data": {"type": "experiments", "attributes": attrs}})
        span = {"trace_id": key, "span_id": key, "parent_id": "undefined", "name": key,
                "start_ns": time.time_ns(), "duration": 1000, "status": "ok",
                "meta": {"span": {"kind": "llm"}}, "metrics": {}, "tags": [f"ml_app:{ML_APP}"],
                "ml_app": ML_APP}
        return key, self.send("POST", "/api/v2/llmobs", [{"spans": [span]}])

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            key, status = self.write(i)
            if 200 <= status < 300:
                self.acked.append(key)
            elif status == 0 and self.srv.proc is not None and self.srv.proc.poll() is not None:
                return  # the server is gone
            i += 1


def stored_records(srv, ids) -> set[str]:
    return {r["id"] for r in srv.records(ids["project"], ids["dataset"], limit=1000)}


def stored_spans(srv) -> set[str]:
    found: set[str] = set()
    path = f"{V2}/spans/events?filter[ml_app]={ML_APP}&filter[from]=now-1h&page[limit]=1000"
    while path:
        r = srv.request("GET", path, app_key=None)
        assert r.status == 200, r
        body = r.json()
        found |= {s["attributes"]["span_id"] for s in body["data"]}
        path = (body.get("links") or {}).get("next")
    return found


def integrity_check(srv) -> None:
    conn = sqlite3.connect(str(srv.data_dir / "llmobs.db"), timeout=30)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def journal_rows(srv) -> int:
    conn = sqlite3.connect(str(srv.data_dir / "llmobs.db"), timeout=30)
    try:
        return conn.execute("SELECT COUNT(*) FROM ingest_journal").fetchone()[0]
    finally:
        conn.close()


def test_acknowledged_writes_survive_kill_9(backend, tmp_path):
    srv = backend.server(tmp_path / "server").start()
    try:
        ids = {"project": srv.project("kill9")}
        r = srv.x("POST", f"{V1}/{ids['project']}/datasets",
                  json_body={"data": {"type": "datasets", "attributes": {"name": "kill9"}}})
        assert r.status == 200, r
        ids["dataset"] = r.json()["data"]["id"]
        r = srv.x("POST", f"{V1}/experiments", json_body={"data": {"type": "experiments", "attributes": {
            "name": "kill9", "dataset_id": ids["dataset"], "project_id": ids["project"]}}})
        assert r.status in (200, 201), r
        ids["experiment"] = r.json()["data"]["id"]
        acked = {"prompt": [], "record": [], "span": [], "event": []}
        kinds = ["prompt", "record", "span", "event"]
        journaled: list[int] = []
        for round_, seconds in enumerate(ROUND_SECONDS):
            writers = [Writer(srv, kinds[n % len(kinds)], f"r{round_}w{n}", ids) for n in range(WRITERS)]
            for w in writers:
                w.start()
            time.sleep(seconds)
            srv.proc.kill()  # SIGKILL, mid-write
            srv.proc.wait()
            for w in writers:
                w.stop.set()
                w.join(30)
                acked[w.kind] += w.acked
            srv.stop()
            if backend.name == "sqlite":
                integrity_check(srv)
                journaled.append(journal_rows(srv))
            srv.start()
        counts = {k: len(v) for k, v in acked.items()}
        print(f"{backend.name}: acknowledged before {len(ROUND_SECONDS)} kill -9 rounds: {counts}; "
              f"ingest journal rows left at each kill: {journaled}")
        if backend.name == "sqlite":
            assert any(journaled), "no kill left acknowledged events in the ingest journal"
        assert all(counts.values()), f"a kind of write was never acknowledged: {counts}"
        missing_prompts = [p for p in acked["prompt"] if srv.api("GET", f"/{pct(p)}", app_key=None).status != 200]
        missing_records = set(acked["record"]) - stored_records(srv, ids)
        missing_spans = set(acked["span"]) - stored_spans(srv)
        stored_events = {s["span_id"] for s in srv.experiment_events(ids["experiment"])["spans"]}
        missing_events = set(acked["event"]) - stored_events
        assert not missing_prompts, f"{len(missing_prompts)} acknowledged prompts lost: {missing_prompts[:5]}"
        assert not missing_records, f"{len(missing_records)} acknowledged records lost: {sorted(missing_records)[:5]}"
        assert not missing_spans, f"{len(missing_spans)} acknowledged spans lost: {sorted(missing_spans)[:5]}"
        assert not missing_events, f"{len(missing_events)} acknowledged events lost: {sorted(missing_events)[:5]}"
        if backend.name == "sqlite":
            srv.stop()
            integrity_check(srv)
    finally:
        srv.discard()
