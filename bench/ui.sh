#!/usr/bin/env bash
# Web UI benchmark: fills a SQLite store with two experiments of RECORDS records each (default
# 100,000; with their child spans, 1,000,000 spans) through the store's own write paths (no
# HTTP), starts the release server on it and requests every page RUNS times (default 30):
# the lists, the experiment page with and without filters and deep in its records, the
# compare page with and without a filter, a trace and the traces search. Prints p50 and p99
# per page; the target is p50 < 50 ms and p99 < 200 ms.
#
#   bash bench/ui.sh [RECORDS] [RUNS]
#
# Needs cargo and python3 (standard library only). Run from the repository root.
set -euo pipefail
records="${1:-100000}"
runs="${2:-30}"
cargo build --release -q -p llmobs-cli
cargo build --release -q -p llmobs-store --example fill_ui
work="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
API=bench-api-key-0001 APP=bench-app-key-0001
mkdir -p "$work/data"
target/release/examples/fill_ui "$work/data/llmobs.db" "$records" "$API" "$APP" | tee "$work/filled"
echo "store: $(du -sh "$work/data" | cut -f1) on disk"
RUST_LOG=warn target/release/llmobs serve --listen 127.0.0.1:0 --data-dir "$work/data" \
    >"$work/out" 2>"$work/err" &
server=$!
for _ in $(seq 200); do grep -q '^listening on ' "$work/out" 2>/dev/null && break; sleep 0.05; done
origin=$(sed -n 's/^listening on //p' "$work/out")
[ -n "$origin" ] || { cat "$work/err" >&2; exit 1; }
python3 bench/ui.py "$origin" "$API" "$runs" "$work/filled"
