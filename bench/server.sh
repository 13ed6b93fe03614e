#!/usr/bin/env bash
# Prompt read throughput of `llmobs serve` against a bare axum "hello" server, side by side
# in one run on this machine, with wrk on loopback. Prints the median requests/s and p99 of
# each over ROUNDS interleaved rounds, and the ratio. Both servers are pinned to CPU 0 and
# wrk to CPU 1 (when taskset is there), so that they don't fight over one core by chance.
#
#   bash bench/server.sh            # ROUNDS=5 DURATION=5s CONNECTIONS=32
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-5}"
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-32}"
command -v wrk >/dev/null || { echo "bench/server.sh needs wrk (apt-get install wrk)" >&2; exit 1; }

cargo build --release --quiet -p llmobs-cli
cargo build --release --quiet -p llmobs-server --example hello
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

SERVER_CPU=() LOAD_CPU=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then SERVER_CPU=(taskset -c 0) LOAD_CPU=(taskset -c 1); fi

start() { # name, command... (sets $url)
    local name="$1"; shift
    "${SERVER_CPU[@]}" "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=("$!")
    for _ in $(seq 200); do grep -q '^listening on ' "$work/$name.out" 2>/dev/null && break; sleep 0.05; done
    url=$(sed -n 's/^listening on //p' "$work/$name.out")
    [ -n "$url" ] || { echo "$name did not start:" >&2; cat "$work/$name.err" >&2; exit 1; }
}

API=bench-api-key-0001 APP=bench-app-key-0001
LLMOBS_INITIAL_API_KEY=$API LLMOBS_INITIAL_APP_KEY=$APP \
    start llmobs target/release/llmobs serve --listen 127.0.0.1:0 --data-dir "$work/data"
llmobs=$url
start hello target/release/examples/hello 127.0.0.1:0
hello=$url
prompts="$llmobs/api/unstable/llm-obs/v1/prompts"
curl -sf -o /dev/null -H "DD-API-KEY: $API" -H "DD-APPLICATION-KEY: $APP" -X POST "$prompts" \
    -d '{"prompt_id":"bench","template":[{"role":"system","content":"You are {{persona}}."},{"role":"user","content":"{{question}}"}]}'
curl -sf -o /dev/null -H "DD-API-KEY: $API" "$prompts/bench"

run() { # url, extra wrk args... -> "rps p99_ms"
    local url="$1"; shift
    "${LOAD_CPU[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" | awk '
        /Requests\/sec/ { rps = $2 }
        /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }; p99 = v }
        END { printf "%s %s\n", rps, p99 }'
}

: >"$work/hello.txt"; : >"$work/prompt.txt"
for round in $(seq "$ROUNDS"); do
    run "$hello/" >>"$work/hello.txt"
    run "$prompts/bench" -H "DD-API-KEY: $API" >>"$work/prompt.txt"
    echo "round $round: hello $(tail -1 "$work/hello.txt")  prompt $(tail -1 "$work/prompt.txt")" >&2
done

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
h_rps=$(cut -d' ' -f1 "$work/hello.txt" | median); h_p99=$(cut -d' ' -f2 "$work/hello.txt" | median)
p_rps=$(cut -d' ' -f1 "$work/prompt.txt" | median); p_p99=$(cut -d' ' -f2 "$work/prompt.txt" | median)
echo
echo "wrk -t1 -c$CONNECTIONS -d$DURATION, $ROUNDS interleaved rounds, medians ($(nproc) cores)"
printf '%-28s %12s %10s\n' "target" "req/s" "p99 ms"
printf '%-28s %12.0f %10.2f\n' "axum hello (ceiling)" "$h_rps" "$h_p99"
printf '%-28s %12.0f %10.2f\n' "GET /prompts/{id} (latest)" "$p_rps" "$p_p99"
awk -v p="$p_rps" -v h="$h_rps" 'BEGIN { printf "throughput ratio, median prompt / median hello: %.2f\n", p / h }'
# Each round runs both back to back, so its ratio cancels drift between rounds.
ratio=$(paste -d' ' "$work/prompt.txt" "$work/hello.txt" | awk '{ print $1 / $3 }' | median)
printf 'throughput ratio, median of per-round ratios: %.2f\n' "$ratio"
