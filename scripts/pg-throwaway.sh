#!/usr/bin/env bash
# scripts/pg-throwaway.sh
#   eval "$(scripts/pg-throwaway.sh start [port])"   -> exports PGTEST_DIR, DATABASE_URL
#   scripts/pg-throwaway.sh stop "$PGTEST_DIR"
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
RUNAS=(); [ "$(id -u)" -eq 0 ] && RUNAS=(runuser -u postgres --)
case "${1:-}" in
start)
  PORT=${2:-55432}
  DIR=$(mktemp -d /tmp/pgtest.XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DIR"
  "${RUNAS[@]}" "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$DIR/initdb.log"
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 -o \
    "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  psql -h 127.0.0.1 -p "$PORT" -U postgres -qAt -c 'CREATE DATABASE registry' >/dev/null
  echo "export PGTEST_DIR=$DIR DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/registry"
  ;;
stop)
  DIR=${2:?usage: stop PGTEST_DIR}
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null   # signals the pid in postmaster.pid
  rm -rf "$DIR"
  ;;
*) echo "usage: $0 start [port] | stop DIR" >&2; exit 2 ;;
esac
