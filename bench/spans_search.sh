#!/usr/bin/env bash
# Spans search benchmark: fills a SQLite store with COUNT realistic spans (default
# 1,000,000) through the store's span intake (no HTTP), starts the release server on it and
# times searches over HTTP: selective field queries and free-text queries.
#
#   bash bench/spans_search.sh [COUNT] [RUNS]
#
# Needs cargo and python3 (standard library only). Run from the repository root.
set -euo pipefail
count="${1:-1000000}"
runs="${2:-50}"
cargo build --release -q -p llmobs-cli
cargo build --release -q -p llmobs-store --example fill_spans
work="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
API=bench-api-key-0001 APP=bench-app-key-0001
mkdir -p "$work/data"
target/release/examples/fill_spans "$work/data/llmobs.db" "$count" "$API" "$APP"
echo "store: $(du -sh "$work/data" | cut -f1) on disk"
RUST_LOG=warn target/release/llmobs serve --listen 127.0.0.1:0 --data-dir "$work/data" \
    >"$work/out" 2>"$work/err" &
server=$!
for _ in $(seq 200); do grep -q '^listening on ' "$work/out" 2>/dev/null && break; sleep 0.05; done
origin=$(sed -n 's/^listening on //p' "$work/out")
[ -n "$origin" ] || { cat "$work/err" >&2; exit 1; }
python3 bench/spans_search.py "$origin" "$API" "$runs"
