#!/usr/bin/env bash
# Soak test: mixed traffic at a release llmobs server for SECONDS (default 600), its memory
# sampled every 10 s into a CSV (SOAK_CSV, default target/soak-rss.csv). Fails when the
# server answers a 5xx or stops. Needs the server built (LLMOBS_BIN, default
# target/release/llmobs) and a Python with pytest (PYTHON, default python3; the test venv
# of scripts/test.sh has it), whose compat harness starts the server.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-600}"
export LLMOBS_BIN="${LLMOBS_BIN:-$PWD/target/release/llmobs}"
if [ ! -x "$LLMOBS_BIN" ]; then
    echo "no server binary at $LLMOBS_BIN: run cargo build --release -p llmobs-cli first" >&2
    exit 2
fi
exec "${PYTHON:-python3}" tests/reliability/soak.py "$SECONDS_TO_RUN"
