#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy, the Rust tests, doctests, the
# compatibility suite that drives the real Python ddtrace client against a release build
# of the server, and the suite that drives Datadog's official datadog-api-client against it.
# Installs what it needs (cargo-nextest, a Python venv with ddtrace and the API client) on
# the first run.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${LLMOBS_TEST_VENV:-.ci/venv}"
# ddtrace 4.7.0, the oldest client the bootstrap generator targets, in a venv of its own.
VENV47="${LLMOBS_TEST_VENV47:-.ci/venv47}"
PYTHON="${PYTHON:-python3}"

step() { printf '\n==> %s\n' "$*"; }

if ! cargo nextest --version >/dev/null 2>&1; then
    step "installing cargo-nextest"
    cargo install cargo-nextest --locked
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

# The SDK's interop tests drive ddtrace 4.16.0 and the official datadog-api-client from this
# venv (DDTRACE_PYTHON).
if [ ! -x "$VENV/bin/python" ]; then
    step "creating the ddtrace venv in $VENV"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
    -r tests/compat/requirements.txt -r tests/bootstrap_e2e/requirements.txt \
    -r tests/api_client/requirements.txt -r tests/ui/requirements.txt \
    -r tests/reliability/requirements.txt
export DDTRACE_PYTHON="$(cd "$VENV" && pwd)/bin/python"

# The CLI's terminal test draws `datasets import`'s progress bar in a tmux pane.
if ! command -v tmux >/dev/null 2>&1; then
    step "installing tmux"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq tmux >/dev/null
fi

step "Rust tests"
cargo nextest run --workspace --profile ci
cargo test --workspace --doc --quiet

step "store and server tests on PostgreSQL"
# A throwaway PostgreSQL (installed when missing), stopped when this script exits; each
# test creates its own database on it (LLMOBS_TEST_DATABASE_URL).
source scripts/postgres.sh
cargo nextest run --workspace --profile ci -E 'package(llmobs-store) | package(llmobs-server)'

step "release build"
cargo build --release -p llmobs-cli

if [ ! -x "$VENV47/bin/python" ]; then
    step "creating the ddtrace 4.7.0 venv in $VENV47"
    "$PYTHON" -m venv "$VENV47"
fi
"$VENV47/bin/pip" install --quiet --disable-pip-version-check -r tests/compat/requirements-4.7.txt

export LLMOBS_BIN="$PWD/target/release/llmobs"
export DDTRACE_47_PYTHON="$(cd "$VENV47" && pwd)/bin/python"
export PYTHONDONTWRITEBYTECODE=1

step "compat suite (real ddtrace against target/release/llmobs)"
"$VENV/bin/python" -m pytest tests/compat -q -p no:cacheprovider

step "compat suite on PostgreSQL (each server on a fresh database of the throwaway PostgreSQL)"
LLMOBS_COMPAT_BACKEND=postgres "$VENV/bin/python" -m pytest tests/compat -q -p no:cacheprovider

step "several servers on one PostgreSQL database (tests/multiserver)"
"$VENV/bin/python" -m pytest tests/multiserver -q -p no:cacheprovider

step "official API client suite (datadog-api-client against target/release/llmobs)"
"$VENV/bin/python" -m pytest tests/api_client -q -p no:cacheprovider

step "bootstrap end to end (generated experiments run by real ddtrace)"
"$VENV/bin/python" -m pytest tests/bootstrap_e2e -q -p no:cacheprovider

# Bombs, slow clients, oversized fields, the auth sweep over /openapi.json, kill -9 under
# writes on SQLite and on the PostgreSQL of scripts/postgres.sh, schemathesis conformance
# (bounded: LLMOBS_SCHEMATHESIS_EXAMPLES per operation), then a 60 s soak of the release build.
step "reliability suite (tests/reliability)"
"$VENV/bin/python" -m pytest tests/reliability -q -p no:cacheprovider -rs
step "soak (60 s, RSS every 10 s in target/soak-rss.csv)"
PYTHON="$VENV/bin/python" scripts/soak.sh 60

# The browser tests drive the system's Chromium through Playwright (never a browser that
# Playwright downloads).
if [ ! -x /usr/bin/chromium ]; then
    step "installing Debian's chromium"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
export LLMOBS_UI_SCREENSHOTS="$PWD/target/ui-screenshots"
step "web UI in Chromium (screenshots in $LLMOBS_UI_SCREENSHOTS)"
"$VENV/bin/python" -m pytest tests/ui -q -p no:cacheprovider
ls -1 "$LLMOBS_UI_SCREENSHOTS"
