"""Times every web UI page over HTTP (see bench/ui.sh): RUNS requests each, one at a time,
after one warm-up request (its time printed as "first": an experiment's first view computes
its summary); prints p50 and p99 (nearest rank) in milliseconds and whether each meets the
target (p50 < 50 ms, p99 < 200 ms). A request over TIMEOUT seconds (the warm-up: 300 s)
marks its page as timed out and the run goes on with the next page."""

import math
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

origin, api_key, runs, filled = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 10.0
FIRST_LIMIT = 300.0
ids = dict(line.strip().split("=", 1) for line in open(filled) if "=" in line)
base, cand = ids["baseline"], ids["candidate"]
q = urllib.parse.quote
compare = f"/llm/experiments/compare?experiment={base}&experiment={cand}"
PAGES = [
    ("projects", "/"),
    ("experiments list", "/llm/experiments"),
    ("datasets list", "/llm/datasets"),
    ("prompts list", "/llm/prompts"),
    ("traces list", "/llm/traces"),
    ("experiment", f"/llm/experiments/{base}"),
    ("experiment, deep page", f"/llm/experiments/{base}?cursor={q(ids['deep_cursor'])}"),
    ("experiment, exact=false", f"/llm/experiments/{base}?eval=exact&value=false"),
    ("experiment, quality>=0.99", f"/llm/experiments/{base}?eval=quality&min=0.99"),
    ("experiment, quality>=0.999", f"/llm/experiments/{base}?eval=quality&min=0.999"),
    ("experiment, tone=curt", f"/llm/experiments/{base}?eval=tone&value=curt"),
    ("experiment, errors", f"/llm/experiments/{base}?errors=only"),
    ("compare", compare),
    ("compare, exact changed", compare + "&eval=exact&change=changed"),
    ("compare, exact regressed", compare + "&eval=exact&change=regressed"),
    ("compare, quality improved", compare + "&eval=quality&change=improved"),
    ("compare, tone changed", compare + "&eval=tone&change=changed"),
    ("compare, quality regressed", compare + "&eval=quality&change=regressed"),
    ("trace", f"/llm/traces/{ids['trace']}"),
    ("traces, kind=llm", "/llm/traces?kind=llm&from=now-1d"),
    ("traces, free text", "/llm/traces?query=answered&from=now-1d"),
    ("traces, ml_app + name", "/llm/traces?ml_app=ui-bench&name=tool_step&from=now-1d"),
]


def get(path, limit=None):
    request = urllib.request.Request(origin + path, headers={"DD-API-KEY": api_key})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=limit or timeout) as response:
        body = response.read()
        assert response.status == 200, (path, response.status)
    return (time.perf_counter() - started) * 1000, len(body)


def rank(values, p):
    values = sorted(values)
    return values[max(1, math.ceil(p / 100 * len(values))) - 1]


print(f"{'page':<30} {'first ms':>9} {'p50 ms':>8} {'p99 ms':>8} {'KiB':>6}  target")
missed = 0
for name, path in PAGES:
    times, size = [], 0
    try:
        # The first view of an experiment computes its summary, which the store keeps:
        # timed apart ("first"), with a longer limit.
        first, _ = get(path, max(timeout, FIRST_LIMIT))
        for _ in range(runs):
            ms, size = get(path)
            times.append(ms)
    except (socket.timeout, TimeoutError, urllib.error.URLError) as err:
        if isinstance(err, urllib.error.URLError) and not isinstance(err.reason, TimeoutError):
            raise
        missed += 1
        print(f"{name:<30} {'timed out (over ' + str(timeout) + ' s)':>27}          MISSED")
        continue
    p50, p99 = rank(times, 50), rank(times, 99)
    ok = p50 < 50 and p99 < 200
    missed += not ok
    print(f"{name:<30} {first:9.1f} {p50:8.1f} {p99:8.1f} {size / 1024:6.0f}  {'ok' if ok else 'MISSED'}")
print(f"{len(PAGES) - missed} of {len(PAGES)} pages meet p50 < 50 ms and p99 < 200 ms ({runs} runs each)")
