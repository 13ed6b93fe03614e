"""Soak: mixed traffic at one llmobs server for a while, its memory sampled every 10 s.

Run through ``scripts/soak.sh [SECONDS]``. Starts ``LLMOBS_BIN`` (default
``target/release/llmobs``) on 127.0.0.1 with a fresh data directory, drives it from a few
threads with prompt writes and reads, dataset batch updates and record pages, span intake and
span searches, and writes ``elapsed_s,rss_kib,rss_anon_kib,requests,errors`` every 10 s to a
CSV. Exits 1 when the server answered any 5xx, stopped, or no request succeeded.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "compat"))

from harness import PROMPTS, V1, V2, Server  # noqa: E402

THREADS = 4


class Driver(threading.Thread):
    def __init__(self, srv: Server, ids: dict, n: int, stop: threading.Event, counts: dict, lock: threading.Lock):
        super().__init__(daemon=True)
        self.srv, self.ids, self.n, self.stop, self.counts, self.lock = srv, ids, n, stop, counts, lock
        self.conn = None
        self.rng = random.Random(n)

    def send(self, method: str, path: str, body=None) -> int:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=60)
        headers = {"DD-API-KEY": self.srv.api_key, "DD-APPLICATION-KEY": self.srv.app_key}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            status = 0
        with self.lock:
            self.counts["requests"] += 1
            if status == 0 or status >= 500:
                self.counts["errors"] += 1
        return status

    def step(self, i: int) -> None:
        kind = self.rng.randrange(8)
        pid = f"soak-{self.n}-{i % 50}"
        if kind == 0:
            text = "Answer {{question}} " + "x" * self.rng.randrange(2000)
            self.send("POST", PROMPTS, {"prompt_id": pid, "template": text})
            self.send("POST", f"{PROMPTS}/{pid}/versions", {"template": text + " v"})
        elif kind in (1, 2):
            self.send("GET", f"{PROMPTS}/{pid}")
        elif kind == 3:
            recs = [{"id": f"r{self.n}-{i}-{k}", "input": {"q": "y" * self.rng.randrange(500)},
                     "tags": ["soak:yes"]} for k in range(20)]
            attrs = {"insert_records": recs, "deduplicate": False, "create_new_version": i % 10 == 0}
            self.send("POST", f"{V2}/{self.ids['project']}/datasets/{self.ids['dataset']}/batch_update",
                      {"data": {"type": "datasets", "attributes": attrs}})
        elif kind == 4:
            self.send("GET", f"{V2}/{self.ids['project']}/datasets/{self.ids['dataset']}/records?page[limit]=200")
        elif kind == 5:
            spans = [{"trace_id": f"t{self.n}-{i}", "span_id": f"s{self.n}-{i}-{k}", "parent_id": "undefined",
                      "name": "soak", "start_ns": time.time_ns(), "duration": 1000, "status": "ok",
                      "meta": {"span": {"kind": "llm"}, "input": {"value": "z" * 300}}, "metrics": {},
                      "tags": ["ml_app:soak"], "ml_app": "soak"} for k in range(10)]
            self.send("POST", "/api/v2/llmobs", [{"spans": spans}])
        elif kind == 6:
            self.send("GET", f"{V2}/spans/events?filter[ml_app]=soak&filter[from]=now-15m&page[limit]=50")
        else:
            self.send("GET", f"{V2}/{self.ids['project']}/datasets")

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            self.step(i)
            i += 1


def rss(pid: int) -> tuple[int, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon"):
            fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["RssAnon"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", type=int, nargs="?", default=600)
    parser.add_argument("--csv", default=os.environ.get("SOAK_CSV", "target/soak-rss.csv"))
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    args = parser.parse_args()
    os.environ.setdefault("LLMOBS_BIN", "target/release/llmobs")
    work = tempfile.TemporaryDirectory(prefix="llmobs-soak-")
    srv = Server(Path(work.name)).start()
    stop = threading.Event()
    counts = {"requests": 0, "errors": 0}
    lock = threading.Lock()
    try:
        ids = {"project": srv.project("soak")}
        r = srv.x("POST", f"{V1}/{ids['project']}/datasets",
                  json_body={"data": {"type": "datasets", "attributes": {"name": "soak"}}})
        assert r.status == 200, r
        ids["dataset"] = r.json()["data"]["id"]
        drivers = [Driver(srv, ids, n, stop, counts, lock) for n in range(THREADS)]
        for d in drivers:
            d.start()
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        samples = []
        start = time.monotonic()
        with open(args.csv, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["elapsed_s", "rss_kib", "rss_anon_kib", "requests", "errors"])
            while True:
                elapsed = time.monotonic() - start
                if srv.proc.poll() is not None:
                    print(f"the server stopped after {elapsed:.0f} s", file=sys.stderr)
                    return 1
                total, anon = rss(srv.proc.pid)
                with lock:
                    row = [round(elapsed), total, anon, counts["requests"], counts["errors"]]
                out.writerow(row)
                f.flush()
                samples.append(row)
                if elapsed >= args.seconds:
                    break
                time.sleep(min(args.every, max(0.0, args.seconds - elapsed)) or args.every)
        stop.set()
        for d in drivers:
            d.join(60)
    finally:
        stop.set()
        srv.stop()
        work.cleanup()
    values = [s[1] for s in samples]
    print(f"soak: {args.seconds} s, {counts['requests']} requests, {counts['errors']} errors; "
          f"RSS KiB min {min(values)} max {max(values)} last {values[-1]} "
          f"({len(samples)} samples in {args.csv})")
    if counts["errors"] or not counts["requests"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
