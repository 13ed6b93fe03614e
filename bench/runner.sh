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
source bench/lib.sh
find_ddtrace_python

cargo build --release --quiet -p llmobs-cli
cargo build --release --quiet -p llmobs --example bench_runner
start_llmobs

ours() { target/release/examples/bench_runner "$origin" "$API" "$APP" "$@"; }
theirs() { run_ddtrace bench/runner_ddtrace.py "$@"; }

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
