#!/usr/bin/env bash
# Web UI benchmark: fills a SQLite store with two experiments of RECORDS records each (default
# 100,000; with their child spans, 1,000,000 spans) through the store's own write paths (no
# HTTP), starts the release server on it and requests every page RUNS times (default 30):
# the lists, the experiment page with and without filters and deep in its records, the
# compare page without a filter and with each change (changed, regressed, improved), a
# trace and the traces search. Prints p50 and p99 per page; the target is p50 < 50 ms and
# p99 < 200 ms, and the time of the first request of each (which computes an experiment's
# summary, then kept). A request that takes over TIMEOUT seconds (default 10) marks its page as
# timed out, and the run goes on with the next page.
#
#   bash bench/ui.sh [RECORDS] [RUNS]
#   KEEP=DIR bash bench/ui.sh [RECORDS] [RUNS]   # fill DIR once, reuse it on later runs
#
# With KEEP, the filled store stays in DIR (filled only if DIR has none yet, for the
# RECORDS it was filled with); delete DIR to fill again. Needs cargo and python3 (standard
# library only). Run from the repository root.
set -euo pipefail
records="${1:-100000}"
runs="${2:-30}"
timeout="${TIMEOUT:-10}"
cargo build --release -q -p llmobs-cli
work="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
API=bench-api-key-0001 APP=bench-app-key-0001
store="${KEEP:-$work/store}"
mkdir -p "$store/data"
if [ ! -s "$store/filled" ] || ! grep -qx "records=$records" "$store/filled"; then
    [ -z "${KEEP:-}" ] || [ ! -e "$store/data/llmobs.db" ] || {
        echo "$store holds a store of other records or an unfinished fill: delete it first" >&2
        exit 1
    }
    cargo build --release -q -p llmobs-store --example fill_ui
    target/release/examples/fill_ui "$store/data/llmobs.db" "$records" "$API" "$APP" \
        | tee "$store/filling"
    echo "records=$records" >>"$store/filling"
    mv "$store/filling" "$store/filled"
else
    echo "reusing the store filled in $store ($records records)"
fi
echo "store: $(du -sh "$store/data" | cut -f1) on disk"
RUST_LOG=warn target/release/llmobs serve --listen 127.0.0.1:0 --data-dir "$store/data" \
    >"$work/out" 2>"$work/err" &
server=$!
# The first start on a store may migrate it (a minute or more at 100,000 records).
for _ in $(seq 6000); do grep -q '^listening on ' "$work/out" 2>/dev/null && break; sleep 0.05; done
origin=$(sed -n 's/^listening on //p' "$work/out")
[ -n "$origin" ] || { cat "$work/err" >&2; exit 1; }
python3 bench/ui.py "$origin" "$API" "$runs" "$store/filled" "$timeout"
