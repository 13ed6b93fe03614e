# Shared by the benchmark scripts that drive ddtrace against a local server; source it
# from the repository root. It provides:
#   find_ddtrace_python   sets PYTHON (absolute) from DDTRACE_PYTHON, or .ci/venv
#   start_llmobs          starts target/release/llmobs on 127.0.0.1:0 with a fresh data
#                         directory; sets API, APP, origin and work; stops it on exit
#   run_ddtrace SCRIPT…   runs a Python script with ddtrace pointed at the server

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
