#!/usr/bin/env bash
# The experiment runner, ours against ddtrace 4.16.0 on the same work and the same
# local server (release build, SQLite), ROUNDS interleaved rounds, medians:
#   (a) RECORDS_A records, a task that returns at once, 3 local evaluators, jobs=10:
#       our SDK vs ddtrace's experiment (sync) and async_experiment, wall time of run(),
#       and the server's CPU time (user + system) until it is idle again: on SQLite the
#       server indexes an experiment's results just after acknowledging them (its ingest
#       journal), so each command waits for that to finish and counts its CPU, and the
#       time it took after run() returned is reported too;
#   (b) RECORDS_B records, a task that sleeps 50 ms, jobs=50 (ideal: RECORDS_B/50 x 50 ms);
#   (c) peak RSS (VmHWM) of our process running (a) at RECORDS_C records: once creating
#       the dataset in the same process, once pulling it.
#
#   DDTRACE_PYTHON=path/to/venv/bin/python bash bench/runner.sh
#   (ROUNDS=3 RECORDS_A=10000 RECORDS_B=1000 RECORDS_C=100000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
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

# The server's CPU time (user + system, from /proc, in clock ticks) around a command, so
# the figures say what the server spent as well as how long the client waited.
ticks() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }
# Waits until the server is idle (its CPU time stands still for 0.3 s), so that work it
# deferred is done and counted, and the next command starts on a quiet server; prints how
# long that took.
settle() {
    local start last=-1 now
    start=$(date +%s.%N)
    while now=$(ticks); [ "$now" != "$last" ]; do last=$now; sleep 0.3; done
    awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { t = e - s - 0.3; printf "%.2f", t < 0 ? 0 : t }'
}
with_cpu() { # case who command... -> one JSON line with the result and the server's CPU
    local before after r settled
    settle >/dev/null
    before=$(ticks); r=$("${@:3}"); settled=$(settle); after=$(ticks)
    printf '{"case":"%s","who":"%s","r":%s,"server_cpu_s":%s,"settle_s":%s}\n' "$1" "$2" "$r" \
        "$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN { print t / hz }')" "$settled"
}

# Our first run of each size also creates the dataset that ddtrace then pulls.
results="$work/results.jsonl"
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS" >&2
    with_cpu a ours ours "$RECORDS_A" 0 10 >>"$results"
    with_cpu a sync theirs "$RECORDS_A" 0 10 sync >>"$results"
    with_cpu a async theirs "$RECORDS_A" 0 10 async >>"$results"
    printf '{"case":"b","who":"ours","r":%s}\n' "$(ours "$RECORDS_B" 50 50)" >>"$results"
    printf '{"case":"b","who":"sync","r":%s}\n' "$(theirs "$RECORDS_B" 50 50 sync)" >>"$results"
    printf '{"case":"b","who":"async","r":%s}\n' "$(theirs "$RECORDS_B" 50 50 async)" >>"$results"
done
printf '{"case":"c","who":"create","r":%s}\n' "$(ours "$RECORDS_C" 0 10)" >>"$results"
printf '{"case":"c","who":"pull","r":%s}\n' "$(ours "$RECORDS_C" 0 10)" >>"$results"

python3 - "$results" "$RECORDS_B" "$(nproc)" "$ROUNDS" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
records_b, cores, rounds = int(sys.argv[2]), sys.argv[3], sys.argv[4]
def walls(case, who):
    return [r["r"]["wall_s"] for r in rows if r["case"] == case and r["who"] == who]
def med(case, who):
    return statistics.median(walls(case, who))
def fmt(case, who):
    return f"{med(case, who):.2f} s [{', '.join(f'{w:.2f}' for w in walls(case, who))}]"
ideal = records_b / 50 * 0.05
a = med("a", "ours")
records_a = rows[0]["r"]["records"]
print(f"release server on SQLite, {cores} cores, {rounds} rounds, medians [each round]")
print(f"(a) {records_a} records, instant task, 3 evaluators, jobs=10:")
def cpu(case, who):
    return statistics.median(r["server_cpu_s"] for r in rows if r["case"] == case and r["who"] == who)
def settle(case, who):
    return statistics.median(r["settle_s"] for r in rows if r["case"] == case and r["who"] == who)
print(f"    ours {fmt('a', 'ours')}, server CPU {cpu('a', 'ours'):.2f} s, idle {settle('a', 'ours'):.2f} s after run() returned")
print(f"    ddtrace experiment {fmt('a', 'sync')}: {med('a', 'sync') / a:.1f}x ours, server CPU {cpu('a', 'sync'):.2f} s")
print(f"    ddtrace async_experiment {fmt('a', 'async')}: {med('a', 'async') / a:.1f}x ours, server CPU {cpu('a', 'async'):.2f} s   goal >= 25x")
print(f"(b) {records_b} records, 50 ms task, jobs=50, ideal {ideal:.2f} s:")
for who, label in (("ours", "ours"), ("sync", "ddtrace experiment"), ("async", "ddtrace async_experiment")):
    print(f"    {label} {fmt('b', who)}: {med('b', who) / ideal:.2f}x ideal")
print("    goal: ours <= 1.1x ideal")
for r in rows:
    if r["case"] == "c":
        c = r["r"]
        print(f"(c) {c['records']} records as (a), dataset {'created in' if r['who'] == 'create' else 'pulled by'} "
              f"the process: peak RSS {c['peak_rss_kib'] * 1024 / 1e6:.0f} MB "
              f"({c['dataset_peak_rss_kib'] * 1024 / 1e6:.0f} MB before run()), wall {c['wall_s']:.2f} s   goal < 150 MB")
PY
