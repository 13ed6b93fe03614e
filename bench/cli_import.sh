#!/usr/bin/env bash
# `llmobs datasets import` of a ROWS-row CSV side by side with the raw bulk upload API
# (curl posting the same file to /api/v2/llm-obs/v2/{project}/datasets/{id}/records/upload),
# against one release server on SQLite. The CLI is timed end to end (process start, project
# and dataset lookup, dataset creation, upload, answer); the raw side times the upload only,
# into a dataset made beforehand. Rounds alternate which goes first. Prints medians and the
# ratio (the goal: at most 1.2).
#
#   bash bench/cli_import.sh          (ROWS=100000 ROUNDS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-100000}"
ROUNDS="${ROUNDS:-5}"
source bench/lib.sh

cargo build --release --quiet -p llmobs-cli
start_llmobs
bin="$PWD/target/release/llmobs"
export DD_API_KEY=$API DD_APP_KEY=$APP DD_LLMOBS_OVERRIDE_ORIGIN=$origin LLMOBS_CONFIG="$work/config.toml"

python3 - "$work/data.csv" "$ROWS" <<'PY'
import csv, json, sys
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["input", "expected_output", "metadata", "tags"])
    for i in range(rows):
        w.writerow([json.dumps({"question": f"What is {i} plus {i}?", "context": "arithmetic " * 4}),
                    json.dumps({"answer": 2 * i}), json.dumps({"row": i}), json.dumps([f"batch:{i % 10}"])])
PY

project=$("$bin" --json projects create default-project | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
now() { python3 -c 'import time; print(time.perf_counter())'; }
cli_times=() raw_times=()
time_cli() {
    local t0 t1
    t0=$(now)
    "$bin" datasets import "cli-$1" "$work/data.csv" >/dev/null 2>"$work/cli.err" || { cat "$work/cli.err" >&2; exit 1; }
    t1=$(now)
    cli_times+=("$(python3 -c "print($t1 - $t0)")")
}
time_raw() {
    local id t0 t1 status
    id=$("$bin" --json datasets create "raw-$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    t0=$(now)
    status=$(curl -s -o "$work/raw.out" -w '%{http_code}' -H "DD-API-KEY: $API" -H "DD-APPLICATION-KEY: $APP" \
        -F "file=@$work/data.csv;type=text/csv" "$origin/api/v2/llm-obs/v2/$project/datasets/$id/records/upload")
    t1=$(now)
    [ "$status" = 200 ] || { echo "raw upload answered $status: $(cat "$work/raw.out")" >&2; exit 1; }
    raw_times+=("$(python3 -c "print($t1 - $t0)")")
}
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then time_cli "$round"; time_raw "$round"; else time_raw "$round"; time_cli "$round"; fi
done

python3 - "$ROWS" "$(stat -c %s "$work/data.csv")" "$(nproc)" "${cli_times[*]}" "${raw_times[*]}" <<'PY'
import statistics, sys
rows, size, cores = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
cli = [float(x) for x in sys.argv[4].split()]
raw = [float(x) for x in sys.argv[5].split()]
med = statistics.median
print(f"SQLite, {cores} cores, {rows:,} rows ({size / 1e6:.1f} MB CSV), {len(cli)} rounds, medians")
print(f"raw bulk upload API (curl): {med(raw):.2f} s   (rounds: {', '.join(f'{x:.2f}' for x in raw)})")
print(f"llmobs datasets import:     {med(cli):.2f} s   (rounds: {', '.join(f'{x:.2f}' for x in cli)})")
print(f"import / raw: {med(cli) / med(raw):.2f}x (goal: <= 1.2)")
PY
