#!/usr/bin/env bash
# get_prompt side by side: the llmobs Rust SDK and ddtrace 4.16.0, against one llmobs
# server on 127.0.0.1 and one prompt. Prints medians (and p90) for:
#   hot   memory hit (fresh entry)
#   warm  disk hit with the memory tier emptied before each call
#   cold  one HTTP request per call (caching off), pooled connection
#
# Usage: bench/prompts.sh
#   DDTRACE_PYTHON  a Python with ddtrace==4.16.0 installed (default: python3). To make
#                   one: python3 -m venv VENV && VENV/bin/pip install ddtrace==4.16.0
#   BENCH_SCALE     multiply the sample counts (default 1)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${DDTRACE_PYTHON:-python3}"
SCALE="${BENCH_SCALE:-1}"
PROMPT="bench-assistant"

if ! "$PYTHON" -c 'import ddtrace, sys; sys.exit(ddtrace.__version__ != "4.16.0")' 2>/dev/null; then
    echo "bench/prompts.sh: $PYTHON has no ddtrace 4.16.0; set DDTRACE_PYTHON" >&2
    exit 2
fi

cd "$ROOT"
echo "building (release)..." >&2
cargo build --release --quiet -p llmobs-cli -p llmobs --example bench_prompts

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

API_KEY="bench-api-$RANDOM$RANDOM$RANDOM"
APP_KEY="bench-app-$RANDOM$RANDOM$RANDOM"
LLMOBS_INITIAL_API_KEY="$API_KEY" LLMOBS_INITIAL_APP_KEY="$APP_KEY" \
    target/release/llmobs serve --listen 127.0.0.1:0 --data-dir "$WORK/data" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

ORIGIN=""
for _ in $(seq 100); do
    ORIGIN="$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$WORK/server.log" | head -n1)"
    [ -n "$ORIGIN" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$ORIGIN" ]; then
    echo "bench/prompts.sh: the server did not start:" >&2
    cat "$WORK/server.log" >&2
    exit 1
fi
echo "server $ORIGIN (pid $SERVER_PID)" >&2

BENCH=target/release/examples/bench_prompts
"$BENCH" setup --origin "$ORIGIN" --api-key "$API_KEY" --app-key "$APP_KEY" --prompt "$PROMPT" >&2
RESULTS="$WORK/results.jsonl"
echo "measuring llmobs..." >&2
"$BENCH" run --origin "$ORIGIN" --api-key "$API_KEY" --app-key "$APP_KEY" --prompt "$PROMPT" \
    --cache-dir "$WORK/llmobs-cache" --scale "$SCALE" >>"$RESULTS"

mkdir -p "$WORK/py"
for mode in hot warm cold; do
    echo "measuring ddtrace ($mode)..." >&2
    ttl=3600
    [ "$mode" = cold ] && ttl=0
    (
        cd "$WORK/py"
        env DD_LLMOBS_OVERRIDE_ORIGIN="$ORIGIN" DD_API_KEY="$API_KEY" DD_APP_KEY="$APP_KEY" \
            DD_SITE=datadoghq.com DD_ENV= DD_TRACE_ENABLED=false \
            DD_INSTRUMENTATION_TELEMETRY_ENABLED=false DD_REMOTE_CONFIGURATION_ENABLED=false \
            DD_LLMOBS_AGENTLESS_ENABLED=true DD_LLMOBS_PROMPTS_CACHE_TTL="$ttl" \
            DD_LLMOBS_PROMPTS_FILE_CACHE_ENABLED=true \
            DD_LLMOBS_PROMPTS_CACHE_DIR="$WORK/ddtrace-cache-$mode" HOME="$WORK/py" \
            "$PYTHON" "$ROOT/bench/prompts_ddtrace.py" "$mode" "$PROMPT" "$SCALE" >>"$RESULTS"
    )
done

echo
"$PYTHON" "$ROOT/bench/prompts_ddtrace.py" table "$RESULTS"
