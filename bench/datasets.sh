#!/usr/bin/env bash
# Dataset writes: one `batch_update` of RECORDS records (ddtrace's push: new ids,
# deduplicate on, one version) on one server on SQLite and one on PostgreSQL, side by side.
# Each round posts one batch to each server (alternating which goes first) into a dataset
# that grows by RECORDS records a round, so later rounds also pay for the records already
# stored. Prints each backend's median seconds per request, records/s and the ratio
# PostgreSQL / SQLite. PostgreSQL is a throwaway one (scripts/postgres.sh), removed at exit
# with the servers.
#
#   bash bench/datasets.sh        # ROUNDS=15 RECORDS=1000
#   LLMOBS_BIN=path/to/llmobs bash bench/datasets.sh   # another build (no cargo build)
#   TIMES=1 bash bench/datasets.sh                      # also print every round's time
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-15}"
RECORDS="${RECORDS:-1000}"
if [ -z "${LLMOBS_BIN:-}" ]; then
    cargo build --release --quiet -p llmobs-cli
    LLMOBS_BIN=target/release/llmobs
fi

source bench/lib.sh
with_postgres
start() { start_server "$@"; } # name, store args... (sets $url)
psql "$LLMOBS_TEST_DATABASE_URL" -X -q -c "CREATE DATABASE bench_datasets" >/dev/null
start sqlite --data-dir "$work/sqlite"; sqlite=$url
start postgres --database-url "${LLMOBS_TEST_DATABASE_URL%/*}/bench_datasets"; postgres=$url

python3 - "$sqlite" "$postgres" "$API" "$APP" "$ROUNDS" "$RECORDS" <<'PY'
import http.client, json, os, statistics, sys, time, urllib.parse

urls, api, app, rounds, size = sys.argv[1:3], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
names = ["sqlite", "postgres"]
headers = {"DD-API-KEY": api, "DD-APPLICATION-KEY": app, "Content-Type": "application/json"}

def post(url, path, body):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    data = json.dumps(body).encode()
    t0 = time.perf_counter()
    conn.request("POST", path, data, headers)
    resp = conn.getresponse()
    answer = resp.read()
    elapsed = time.perf_counter() - t0
    if resp.status != 200:
        sys.exit(f"{url}{path} answered {resp.status}: {answer[:300]!r}")
    return json.loads(answer), elapsed

v1 = "/api/v2/llm-obs/v1"
datasets = {}
for name, url in zip(names, urls):
    project = post(url, f"{v1}/projects", {"data": {"type": "projects", "attributes": {"name": "bench"}}})[0]
    pid = project["data"]["id"]
    ds = post(url, f"{v1}/{pid}/datasets",
              {"data": {"type": "datasets", "attributes": {"name": "bench", "description": ""}}})[0]
    datasets[name] = (url, pid, ds["data"]["id"])

def batch(r):
    records = [{"input": {"round": r, "i": n, "q": "question %d" % n}, "expected_output": "answer %d" % n,
                "metadata": {"bucket": n % 10}, "tags": ["bucket:%d" % (n % 10)], "id": "rec-%d-%06d" % (r, n)}
               for n in range(size)]
    return {"data": {"type": "datasets", "attributes": {
        "insert_records": records, "update_records": [], "delete_records": [],
        "deduplicate": True, "create_new_version": r == 0}}}

times = {name: [] for name in names}
for r in range(rounds):
    order = names if r % 2 == 0 else names[::-1]
    body = batch(r)
    for name in order:
        url, pid, did = datasets[name]
        answer, elapsed = post(url, f"{v1}/{pid}/datasets/{did}/batch_update", body)
        if len(answer["data"]) != size:
            sys.exit(f"{name}: {len(answer['data'])} records touched, expected {size}: {str(answer)[:500]}")
        times[name].append(elapsed)

print(f"batch_update of {size} records, {rounds} rounds (dataset grows to {size * rounds} records)")
med = {name: statistics.median(times[name]) for name in names}
for name in names:
    t = sorted(times[name])
    print(f"  {name:9} median {med[name]:.3f} s  ({size / med[name]:,.0f} records/s; min {t[0]:.3f}, max {t[-1]:.3f})")
print(f"  postgres / sqlite: {med['postgres'] / med['sqlite']:.2f}")
if os.environ.get("TIMES"):
    for name in names:
        print(f"  {name} rounds: " + " ".join(f"{t:.3f}" for t in times[name]))
PY
