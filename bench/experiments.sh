#!/usr/bin/env bash
# Experiments on SQLite: ingest throughput of experiment events (spans through the span
# intake plus metrics through the events endpoint, 4 concurrent clients) and the time to
# pull every record of a RECORDS-record dataset, our raw API pull side by side with
# ddtrace 4.16.0's pull_dataset of the same dataset from the same server.
#
#   DDTRACE_PYTHON=path/to/venv/bin/python bash bench/experiments.sh
#   (RECORDS=100000 SPANS=20000 ROUNDS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS="${RECORDS:-100000}"
SPANS="${SPANS:-20000}"
ROUNDS="${ROUNDS:-3}"
source bench/lib.sh
find_ddtrace_python

cargo build --release --quiet -p llmobs-cli
cargo build --release --quiet -p llmobs-server --example bench_experiments
start_llmobs

ours=$(target/release/examples/bench_experiments "$origin" "$API" "$APP" "$RECORDS" "$SPANS" "$ROUNDS")
theirs=$(run_ddtrace bench/experiments_ddtrace.py "$RECORDS" "$ROUNDS")

python3 - "$ours" "$theirs" "$(nproc)" <<'PY'
import json, statistics, sys
ours, theirs, cores = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
med = statistics.median
print(f"SQLite, {cores} cores, {len(ours['pull_s'])} rounds, medians")
print(f"dataset push: {ours['records']} records in batches of 1000: {ours['push_s']:.2f} s")
print(f"event ingest: {ours['events']} events per round (spans + 3 metrics each): "
      f"{med(ours['events_per_s']):,.0f} events/s   (rounds: {', '.join(f'{x:,.0f}' for x in ours['events_per_s'])})")
print(f"pull {ours['records']} records, raw API:        {med(ours['pull_s']):.2f} s")
print(f"pull {ours['records']} records, ddtrace 4.16.0: {med(theirs['pull_s']):.2f} s")
print(f"ddtrace / raw API pull time: {med(theirs['pull_s']) / med(ours['pull_s']):.1f}x")
PY
