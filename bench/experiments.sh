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
PYTHON="${DDTRACE_PYTHON:-.ci/venv/bin/python}"
PYTHON="$(cd "$(dirname "$PYTHON")" 2>/dev/null && pwd)/$(basename "$PYTHON")"
"$PYTHON" -c 'import ddtrace' 2>/dev/null || {
    echo "set DDTRACE_PYTHON to a python with ddtrace==4.16.0 (bash scripts/test.sh makes .ci/venv)" >&2; exit 1; }

cargo build --release --quiet -p llmobs-cli
cargo build --release --quiet -p llmobs-server --example bench_experiments
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

API=bench-api-key-0001 APP=bench-app-key-0001
LLMOBS_BOOTSTRAP_API_KEY=$API LLMOBS_BOOTSTRAP_APP_KEY=$APP RUST_LOG=warn \
    target/release/llmobs serve --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/out" 2>"$work/err" &
server=$!
for _ in $(seq 200); do grep -q '^listening on ' "$work/out" 2>/dev/null && break; sleep 0.05; done
origin=$(sed -n 's/^listening on //p' "$work/out")
[ -n "$origin" ] || { cat "$work/err" >&2; exit 1; }

ours=$(target/release/examples/bench_experiments "$origin" "$API" "$APP" "$RECORDS" "$SPANS" "$ROUNDS")
theirs=$(cd "$work" && env -i PATH="$PATH" HOME="$work" DD_LLMOBS_OVERRIDE_ORIGIN="$origin" \
    DD_API_KEY=$API DD_APP_KEY=$APP DD_SITE=datadoghq.com DD_TRACE_ENABLED=false \
    DD_INSTRUMENTATION_TELEMETRY_ENABLED=false DD_REMOTE_CONFIGURATION_ENABLED=false \
    DD_TRACE_AGENT_URL=http://127.0.0.1:9 "$PYTHON" "$OLDPWD/bench/experiments_ddtrace.py" "$RECORDS" "$ROUNDS" \
    2>"$work/ddtrace.err") || { tail -20 "$work/ddtrace.err" >&2; exit 1; }

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
