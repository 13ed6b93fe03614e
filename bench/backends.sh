#!/usr/bin/env bash
# Prompt reads and experiment ingest on three deployments, side by side in one run:
#   sqlite  one server on the embedded SQLite store;
#   pg1     one server on PostgreSQL;
#   pg2     two servers on one PostgreSQL database, the load split evenly between them.
# Prompt reads: wrk GETs one prompt (the read cache is off, --read-cache-ms 0, so every read
# goes to the database). Ingest: wrk posts batches of SPANS experiment spans with fresh ids
# to the span intake (bench/backends.lua). The deployments take turns, ROUNDS rounds each;
# it prints each one's median requests/s (spans/s for ingest) and its ratio to sqlite.
# PostgreSQL is a throwaway one (scripts/postgres.sh), removed at exit with everything
# else this script started.
#
#   bash bench/backends.sh        # ROUNDS=3 DURATION=5s CONNECTIONS=32 SPANS=50
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-32}"
export SPANS="${SPANS:-50}"
command -v wrk >/dev/null || { echo "bench/backends.sh needs wrk (apt-get install wrk)" >&2; exit 1; }

cargo build --release --quiet -p llmobs-cli
source bench/lib.sh
with_postgres
start() { start_server "$@" --read-cache-ms 0; } # name, store args... (sets $url)
createdb() { psql "$LLMOBS_TEST_DATABASE_URL" -X -q -c "CREATE DATABASE $1" >/dev/null; echo "${LLMOBS_TEST_DATABASE_URL%/*}/$1"; }

start sqlite --data-dir "$work/sqlite"; sqlite=$url
pg1_db=$(createdb bench_pg1); start pg1 --database-url "$pg1_db"; pg1=$url
pg2_db=$(createdb bench_pg2); start pg2a --database-url "$pg2_db"; pg2a=$url
start pg2b --database-url "$pg2_db"; pg2b=$url

auth=(-H "DD-API-KEY: $API" -H "DD-APPLICATION-KEY: $APP" -H "Content-Type: application/json")
data_id() { python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["id"])'; }
prepare() { # url -> "experiment_id dataset_id" after creating the prompt, a dataset, an experiment
    local u="$1" v1="$1/api/unstable/llm-obs/v1" project dataset
    curl -sf -o /dev/null "${auth[@]}" -X POST "$v1/prompts" \
        -d '{"prompt_id":"bench","template":[{"role":"system","content":"You are {{persona}}."},{"role":"user","content":"{{question}}"}]}'
    project=$(curl -sf "${auth[@]}" -X POST "$v1/projects" \
        -d '{"data":{"type":"projects","attributes":{"name":"bench","description":""}}}' | data_id)
    dataset=$(curl -sf "${auth[@]}" -X POST "$v1/$project/datasets" \
        -d '{"data":{"type":"datasets","attributes":{"name":"bench","description":""}}}' | data_id)
    curl -sf "${auth[@]}" -X POST "$v1/experiments" -d "{\"data\":{\"type\":\"experiments\",\"attributes\":{\"name\":\"bench\",\"dataset_id\":\"$dataset\",\"project_id\":\"$project\",\"dataset_version\":0,\"config\":{},\"metadata\":{\"tags\":[]},\"ensure_unique\":false,\"run_count\":1}}}" \
        | data_id | tr '\n' ' '
    echo "$dataset"
}
declare -A EXP DS
for name in sqlite pg1 pg2a; do
    read -r e d < <(prepare "${!name}")
    EXP[$name]=$e DS[$name]=$d
done

# requests/s; a run with answers other than 2xx stops the benchmark (it would measure errors).
rps() { awk '/Non-2xx/ { bad = $NF } /Requests\/sec/ { r = $2 } END { if (bad) { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 } print r }'; }
reads() { # url connections -> requests/s
    wrk -t1 -c"$2" -d"$DURATION" -H "DD-API-KEY: $API" "$1/api/unstable/llm-obs/v1/prompts/bench" | rps
}
ingest() { # url connections experiment dataset tag -> spans/s
    EXPERIMENT_ID="$3" DATASET_ID="$4" RUN_TAG="$5" wrk -t1 -c"$2" -d"$DURATION" -s bench/backends.lua \
        -H "DD-API-KEY: $API" -H "Content-Type: application/json" "$1/api/v2/llmobs" | rps | awk -v s="$SPANS" '{ print $1 * s }'
}
for round in $(seq "$ROUNDS"); do
    for kind in reads ingest; do
        for name in sqlite pg1; do
            if [ "$kind" = reads ]; then v=$(reads "${!name}" "$CONNECTIONS")
            else v=$(ingest "${!name}" "$CONNECTIONS" "${EXP[$name]}" "${DS[$name]}" "$round$((RANDOM % 9 + 1))"); fi
            echo "$v" >>"$work/$kind.$name"
        done
        # pg2: both servers at once, half the connections each; the sum of their rates.
        if [ "$kind" = reads ]; then
            reads "$pg2a" $((CONNECTIONS / 2)) >"$work/a" & other=$!
            reads "$pg2b" $((CONNECTIONS / 2)) >"$work/b"; wait "$other"
        else
            ingest "$pg2a" $((CONNECTIONS / 2)) "${EXP[pg2a]}" "${DS[pg2a]}" "${round}1" >"$work/a" & other=$!
            ingest "$pg2b" $((CONNECTIONS / 2)) "${EXP[pg2a]}" "${DS[pg2a]}" "${round}2" >"$work/b"; wait "$other"
        fi
        echo "$(cat "$work/a") $(cat "$work/b")" | awk '{ print $1 + $2 }' >>"$work/$kind.pg2"
        echo "round $round $kind: sqlite $(tail -1 "$work/$kind.sqlite")  pg1 $(tail -1 "$work/$kind.pg1")  pg2 $(tail -1 "$work/$kind.pg2")" >&2
    done
done

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
printf '\n%-34s %12s %12s %12s\n' "median of $ROUNDS rounds ($(nproc) cores)" sqlite pg1 pg2
for kind in reads ingest; do
    s=$(median <"$work/$kind.sqlite") p1=$(median <"$work/$kind.pg1") p2=$(median <"$work/$kind.pg2")
    unit=$([ "$kind" = reads ] && echo "prompt reads/s" || echo "ingested spans/s")
    printf '%-34s %12.0f %12.0f %12.0f\n' "$unit" "$s" "$p1" "$p2"
    printf '%-34s %12s %12.2f %12.2f\n' "  ratio to sqlite" "1.00" "$(echo "$p1 $s" | awk '{ print $1 / $2 }')" "$(echo "$p2 $s" | awk '{ print $1 / $2 }')"
done
