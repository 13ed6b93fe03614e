#!/usr/bin/env bash
# Sourced by scripts/test.sh: starts a throwaway PostgreSQL on a free 127.0.0.1 port with its
# data directory under target/, stops it and removes its data when the calling shell exits, and exports
# LLMOBS_TEST_DATABASE_URL (a database the tests may create other databases from).
# Installs Debian's postgresql package when no PostgreSQL is found. initdb refuses to run as
# root, so the server runs as the postgres user when the script runs as root.

pg_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
    if [ -n "$dir" ]; then echo "$dir"; return; fi
    dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)"
}

PGBIN="$(pg_bin)"
if [ ! -x "$PGBIN/initdb" ]; then
    echo "==> installing postgresql"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    PGBIN="$(pg_bin)"
fi

PGPORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PGDATA="$PWD/target/postgres-$PGPORT"
rm -rf "$PGDATA" && mkdir -p "$PGDATA"
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PGDATA"
    # When the postgres user cannot reach the build directory, use a temporary one.
    if ! as_pg test -w "$PGDATA"; then
        rm -rf "$PGDATA"; PGDATA="$(mktemp -d)"; chown postgres "$PGDATA"
    fi
fi
as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --no-sync >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDATA -c fsync=off -c max_connections=400" start >/dev/null
stop_postgres() {
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PGDATA"
}
trap stop_postgres EXIT
export LLMOBS_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
echo "==> PostgreSQL on 127.0.0.1:$PGPORT (data in $PGDATA)"
