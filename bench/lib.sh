# Shared by the benchmark scripts that drive ddtrace against a local server; source it
# from the repository root. It provides:
#   find_ddtrace_python   sets PYTHON (absolute) from DDTRACE_PYTHON, or .ci/venv
#   start_llmobs          starts target/release/llmobs on 127.0.0.1:0 with a fresh data
#                         directory; sets API, APP, origin and work; stops it on exit
#   run_ddtrace SCRIPT…   runs a Python script with ddtrace pointed at the server
#   with_postgres         starts a throwaway PostgreSQL (scripts/postgres.sh) and a work
#                         directory; on exit stops every server started by start_server,
#                         then PostgreSQL, and removes the directory
#   start_server NAME ARGS…  starts $LLMOBS_BIN (default target/release/llmobs) serve on
#                         127.0.0.1:0 with ARGS; sets url

find_ddtrace_python() {
    PYTHON="${DDTRACE_PYTHON:-.ci/venv/bin/python}"
    PYTHON="$(cd "$(dirname "$PYTHON")" 2>/dev/null && pwd)/$(basename "$PYTHON")"
    "$PYTHON" -c 'import ddtrace' 2>/dev/null || {
        echo "set DDTRACE_PYTHON to a python with ddtrace==4.16.0 (bash scripts/test.sh makes .ci/venv)" >&2
        exit 1
    }
}

start_llmobs() {
    work="$(mktemp -d)"
    server=""
    trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
    API=bench-api-key-0001 APP=bench-app-key-0001
    LLMOBS_INITIAL_API_KEY=$API LLMOBS_INITIAL_APP_KEY=$APP RUST_LOG=warn \
        target/release/llmobs serve --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/out" 2>"$work/err" &
    server=$!
    for _ in $(seq 200); do grep -q '^listening on ' "$work/out" 2>/dev/null && break; sleep 0.05; done
    origin=$(sed -n 's/^listening on //p' "$work/out")
    [ -n "$origin" ] || { cat "$work/err" >&2; exit 1; }
}

run_ddtrace() {
    local repo="$PWD"
    (cd "$work" && env -i PATH="$PATH" HOME="$work" DD_LLMOBS_OVERRIDE_ORIGIN="$origin" \
        DD_API_KEY=$API DD_APP_KEY=$APP DD_SITE=datadoghq.com DD_TRACE_ENABLED=false \
        DD_INSTRUMENTATION_TELEMETRY_ENABLED=false DD_REMOTE_CONFIGURATION_ENABLED=false \
        DD_TRACE_AGENT_URL=http://127.0.0.1:9 "$PYTHON" "$repo/$1" "${@:2}" 2>>"$work/ddtrace.err") \
        || { tail -20 "$work/ddtrace.err" >&2; exit 1; }
}

with_postgres() {
    source scripts/postgres.sh
    work="$(mktemp -d)"
    pids=()
    API=bench-api-key-0001 APP=bench-app-key-0001
    trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
          for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
          rm -rf "$work"; stop_postgres' EXIT
}

start_server() {
    local name="$1"; shift
    LLMOBS_INITIAL_API_KEY=$API LLMOBS_INITIAL_APP_KEY=$APP RUST_LOG=warn \
        "${LLMOBS_BIN:-target/release/llmobs}" serve --listen 127.0.0.1:0 "$@" \
        >"$work/$name.out" 2>"$work/$name.err" &
    pids+=("$!")
    for _ in $(seq 200); do grep -q '^listening on ' "$work/$name.out" 2>/dev/null && break; sleep 0.05; done
    url=$(sed -n 's/^listening on //p' "$work/$name.out")
    [ -n "$url" ] || { echo "$name did not start:" >&2; cat "$work/$name.err" >&2; exit 1; }
}
