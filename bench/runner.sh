#!/usr/bin/env bash
# The experiment runner, ours against ddtrace 4.16.0 on the same work and the same
# local server (release build, SQLite):
#   (a) RECORDS_A records, a task that returns at once, 3 local evaluators, jobs=10:
#       our SDK vs ddtrace's experiment (sync) and async_experiment, wall time of run();
#   (b) RECORDS_B records, a task that sleeps 50 ms, jobs=50 (ideal: RECORDS_B/50 x 50 ms);
#   (c) peak RSS (VmHWM) of our process during (a) at RECORDS_C records.
#
#   DDTRACE_PYTHON=path/to/venv/bin/python bash bench/runner.sh
#   (RECORDS_A=10000 RECORDS_B=1000 RECORDS_C=100000)
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS_A="${RECORDS_A:-10000}"
RECORDS_B="${RECORDS_B:-1000}"
RECORDS_C="${RECORDS_C:-100000}"
PYTHON="${DDTRACE_PYTHON:-.ci/venv/bin/python}"
PYTHON="$(cd "$(dirname "$PYTHON")" 2>/dev/null && pwd)/$(basename "$PYTHON")"
"$PYTHON" -c 'import ddtrace' 2>/dev/null || {
    echo "set DDTRACE_PYTHON to a python with ddtrace==4.16.0 (bash scripts/test.sh makes .ci/venv)" >&2; exit 1; }

cargo build --release --quiet -p llmobs-cli
cargo build --release --quiet -p llmobs --example bench_runner
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

ours() { target/release/examples/bench_runner "$origin" "$API" "$APP" "$@"; }
theirs() {
    (cd "$work" && env -i PATH="$PATH" HOME="$work" DD_LLMOBS_OVERRIDE_ORIGIN="$origin" \
        DD_API_KEY=$API DD_APP_KEY=$APP DD_SITE=datadoghq.com DD_TRACE_ENABLED=false \
        DD_INSTRUMENTATION_TELEMETRY_ENABLED=false DD_REMOTE_CONFIGURATION_ENABLED=false \
        DD_TRACE_AGENT_URL=http://127.0.0.1:9 "$PYTHON" "$OLDPWD/bench/runner_ddtrace.py" "$@" \
        2>>"$work/ddtrace.err") || { tail -20 "$work/ddtrace.err" >&2; exit 1; }
}

# Our run first: it also creates each dataset that ddtrace then pulls.
a_ours=$(ours "$RECORDS_A" 0 10)
a_sync=$(theirs "$RECORDS_A" 0 10 sync)
a_async=$(theirs "$RECORDS_A" 0 10 async)
b_ours=$(ours "$RECORDS_B" 50 50)
b_sync=$(theirs "$RECORDS_B" 50 50 sync)
b_async=$(theirs "$RECORDS_B" 50 50 async)
c_ours=$(ours "$RECORDS_C" 0 10)

python3 - "$a_ours" "$a_sync" "$a_async" "$b_ours" "$b_sync" "$b_async" "$c_ours" "$RECORDS_B" "$(nproc)" <<'PY'
import json, sys
a, a_sync, a_async, b, b_sync, b_async, c = (json.loads(x) for x in sys.argv[1:8])
records_b, cores = int(sys.argv[8]), sys.argv[9]
ideal = records_b / 50 * 0.05
print(f"release server on SQLite, {cores} cores, one run each")
print(f"(a) {a['records']} records, instant task, 3 evaluators, jobs=10:")
print(f"    ours {a['wall_s']:.2f} s | ddtrace experiment {a_sync['wall_s']:.2f} s "
      f"({a_sync['wall_s'] / a['wall_s']:.1f}x) | ddtrace async_experiment {a_async['wall_s']:.2f} s "
      f"({a_async['wall_s'] / a['wall_s']:.1f}x)   goal >= 20x")
print(f"(b) {b['records']} records, 50 ms task, jobs=50, ideal {ideal:.2f} s:")
print(f"    ours {b['wall_s']:.2f} s ({b['wall_s'] / ideal:.2f}x ideal) | ddtrace experiment "
      f"{b_sync['wall_s']:.2f} s ({b_sync['wall_s'] / ideal:.2f}x) | ddtrace async_experiment "
      f"{b_async['wall_s']:.2f} s ({b_async['wall_s'] / ideal:.2f}x)   goal <= 1.1x")
print(f"(c) {c['records']} records as (a): peak RSS {c['peak_rss_kib'] / 1024:.0f} MiB "
      f"({c['dataset_peak_rss_kib'] / 1024:.0f} MiB with the dataset loaded, before run()), "
      f"wall {c['wall_s']:.2f} s   goal < 150 MB")
PY
