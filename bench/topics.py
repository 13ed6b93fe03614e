"""Times one topic discovery run (see bench/topics.sh): creates a config over every span,
triggers a run, polls its status every 50 ms and prints the wall time of the run and of each
step, from the progress the API reports."""

import json
import sys
import time
import urllib.request
from datetime import datetime

origin, api_key, app_key, count, depth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
V1 = origin + "/api/v2/llm-obs/v1"


def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read() or b"null")


config = call("PUT", V1 + "/topic-discovery-configs", {"data": {"type": "topic_discovery_configs", "attributes": {
    "name": "bench", "evp_query": "", "sampling_ratio": 1.0, "num_records": count, "hierarchy_depth": depth}}})
config_id = config["data"]["id"]
started = time.monotonic()
call("POST", V1 + "/topic-discovery-runs", {"data": {"type": "topic_discovery", "attributes": {"config_id": config_id}}})
while True:
    status = call("GET", V1 + f"/topic-discovery-runs/status?config_id={config_id}")["data"]["attributes"]
    if status["status"] in ("completed", "failed"):
        break
    time.sleep(0.05)
elapsed = time.monotonic() - started
if status["status"] != "completed":
    sys.exit(f"the run failed: {status['step']}")
topics = call("GET", V1 + f"/topic-discovery-topics?config_id={config_id}")["data"]["attributes"]["topics"]
points = sum(t["point_count"] for t in topics if t["parent_topic_id"] == "")
print(f"topic discovery: {points} span inputs, depth {depth}, {len(topics)} topics "
      f"({sum(1 for t in topics if t['parent_topic_id'] == '')} top), local method: {elapsed:.1f} s")
steps = status["progress"]
times = [datetime.fromisoformat(s["started_at"].replace("Z", "+00:00")) for s in steps]
for step, at, following in zip(steps, times, times[1:] + [None]):
    took = f"{(following - at).total_seconds():.1f} s" if following else "(to the end)"
    print(f"  {step['name']:<11} {took}")
for t in topics:
    if t["parent_topic_id"] == "":
        print(f"  {t['point_count']:>7}  {t['name']}")
