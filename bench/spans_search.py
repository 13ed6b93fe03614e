"""Times span searches over HTTP against a running llmobs server (standard library only).

Usage: python3 bench/spans_search.py ORIGIN API_KEY [RUNS]

Each query runs RUNS times (after one warm-up); prints the median and p90 in
milliseconds, and how many spans the first page held.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import urllib.parse
import urllib.request

origin, api_key = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 50
WINDOW = {"from": "now-8d", "to": "now"}
TRACE = "%032x" % (123_456 * 0x9E3779B9 + 7)

# (label, kind, GET params or POST filter)
QUERIES = [
    ("selective: filter[trace_id]", "get", {"filter[trace_id]": TRACE}),
    ("selective: filter[span_id]", "get", {"filter[span_id]": "777777"}),
    ("selective: @ml_app:app-7 @span_kind:llm @status:error", "post", {"query": "@ml_app:app-7 @span_kind:llm @status:error"}),
    ("unindexed field: @session_id:session-1234 -@span_kind:tool", "post", {"query": "@session_id:session-1234 -@span_kind:tool"}),
    ("field filter, newest 10: filter[ml_app]=app-3", "get", {"filter[ml_app]": "app-3"}),
    ("free text, rare word: zephyrine", "post", {"query": "zephyrine"}),
    ("free text, common word: refund", "post", {"query": "refund"}),
    ("free text, phrase: \"mortgage interest\"", "post", {"query": '"mortgage interest"'}),
    ("free text, phrase of two top words: \"refund shipping\"", "post", {"query": '"refund shipping"'}),
    ("free text + field: @ml_app:app-3 warranty", "post", {"query": "@ml_app:app-3 warranty"}),
    ("free text, prefix: mortga*", "post", {"query": "mortga*"}),
]


def call(kind: str, spec: dict) -> int:
    headers = {"DD-API-KEY": api_key, "Content-Type": "application/json"}
    if kind == "get":
        params = {"filter[from]": WINDOW["from"], "filter[to]": WINDOW["to"], "page[limit]": "10", **spec}
        url = f"{origin}/api/v2/llm-obs/v1/spans/events?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers=headers)
    else:
        body = {"data": {"type": "spans", "attributes": {
            "filter": {**WINDOW, **spec}, "page": {"limit": 10}}}}
        request = urllib.request.Request(f"{origin}/api/v2/llm-obs/v1/spans/events/search",
                                         data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request) as response:
        return len(json.load(response)["data"])


print(f"{'query':58} {'p50 ms':>8} {'p90 ms':>8} {'spans':>6}")
for label, kind, spec in QUERIES:
    found = call(kind, spec)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call(kind, spec)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p50 = statistics.median(times)
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    print(f"{label:58} {p50:8.1f} {p90:8.1f} {found:6d}")
