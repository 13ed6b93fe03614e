#!/usr/bin/env bash
# Topic discovery benchmark: fills a SQLite store with COUNT spans (default 100,000, all with
# an input) through the store's span intake (no HTTP), starts the release server on it and
# times one topic discovery run over every span with the local method (no provider account):
# sampling, embedding, clustering into DEPTH levels (default 2), naming and saving.
#
#   bash bench/topics.sh [COUNT] [DEPTH]
#
# Needs cargo and python3 (standard library only). Run from the repository root.
set -euo pipefail
count="${1:-100000}"
depth="${2:-2}"
cargo build --release -q -p llmobs-cli
cargo build --release -q -p llmobs-store --example fill_spans
work="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
API=bench-api-key-0001 APP=bench-app-key-0001
mkdir -p "$work/data"
target/release/examples/fill_spans "$work/data/llmobs.db" "$count" "$API" "$APP"
RUST_LOG=warn target/release/llmobs serve --listen 127.0.0.1:0 --data-dir "$work/data" \
    >"$work/out" 2>"$work/err" &
server=$!
for _ in $(seq 200); do grep -q '^listening on ' "$work/out" 2>/dev/null && break; sleep 0.05; done
origin=$(sed -n 's/^listening on //p' "$work/out")
[ -n "$origin" ] || { cat "$work/err" >&2; exit 1; }
python3 bench/topics.py "$origin" "$API" "$APP" "$count" "$depth"
