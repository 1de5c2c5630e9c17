#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the store tests, on 127.0.0.1 only.
#   scripts/postgres-for-tests.sh start      install Debian's postgresql if missing, start a new cluster in
#                                            /tmp/rehabtrack-pg.* on a free port, print its SQLAlchemy URL
#                                            (the only line on stdout)
#   scripts/postgres-for-tests.sh stop URL   stop the cluster of that URL and delete its directory
#   scripts/postgres-for-tests.sh stop all   stop every cluster this script started
# The tests read the URL from REHABTRACK_TEST_POSTGRES_URL:
#   pg_url=$(scripts/postgres-for-tests.sh start) && export REHABTRACK_TEST_POSTGRES_URL=$pg_url
#   trap 'scripts/postgres-for-tests.sh stop "$pg_url"' EXIT
# Each start makes its own cluster, so two test runs at once do not disturb each other.
# The cluster listens on 127.0.0.1 only, with a random password (scram-sha-256) for its one role.
set -euo pipefail
log() { echo "postgres-for-tests: $*" >&2; }

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  done
  return 1
}

stop_dir() {  # stop_dir DIR: stop the cluster recorded in DIR/state and delete DIR
  local dir=$1 PORT BINDIR OWNER
  [ -f "$dir/state" ] || return 0
  # shellcheck disable=SC1091
  . "$dir/state"
  as_owner "$BINDIR/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  log "stopped the cluster on port $PORT"
}

stop() {
  local which=${1:-} dir port
  [ -n "$which" ] || { echo "usage: $0 stop URL|all" >&2; exit 2; }
  port=""
  [ "$which" != all ] && port=$(printf '%s\n' "$which" | sed -n 's#.*@127\.0\.0\.1:\([0-9][0-9]*\)/.*#\1#p')
  for dir in /tmp/rehabtrack-pg.*; do
    [ -f "$dir/state" ] || continue
    if [ "$which" = all ] || grep -qx "PORT=$port" "$dir/state"; then stop_dir "$dir"; fi
  done
}

as_owner() {
  # from /: the caller's folder may be private to its owner (.ci/run works in a 0700 temp folder)
  if [ "$OWNER" != "$(id -un)" ]; then (cd / && runuser -u "$OWNER" -- "$@"); else "$@"; fi
}

start() {
  local bindir
  if ! bindir=$(find_bindir); then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      log "installing Debian's postgresql..."
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends postgresql >&2
      # Debian's package starts a system cluster on port 5432; the tests use their own.
      bindir=$(find_bindir) || { log "postgresql installed but initdb not found"; exit 1; }
    else
      log "PostgreSQL is not installed (Debian: sudo apt-get install postgresql)"; exit 1
    fi
  fi
  # PostgreSQL refuses to run as root: as root, run the cluster as Debian's postgres user.
  OWNER=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/false postgres
    OWNER=postgres
  fi
  PGDIR=$(mktemp -d /tmp/rehabtrack-pg.XXXXXX)
  chmod 700 "$PGDIR"
  local password port
  password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  printf 'PORT=%s\nBINDIR=%q\nOWNER=%q\n' "$port" "$bindir" "$OWNER" > "$PGDIR/state"
  printf '%s\n' "$password" > "$PGDIR/pw"
  if [ "$OWNER" != "$(id -un)" ]; then chown -R "$OWNER" "$PGDIR"; fi
  # On any failure below: say why, and leave nothing running or behind.
  trap 'log "failed; server log:"; tail -n 20 "$PGDIR/log" >&2 2>/dev/null || true; stop_dir "$PGDIR"' ERR
  as_owner "$bindir/initdb" -D "$PGDIR/data" -U rehabtrack --pwfile="$PGDIR/pw" --auth=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$PGDIR/pw"
  as_owner "$bindir/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PGDIR -c fsync=off -c max_connections=100" start >/dev/null
  PGPASSWORD=$password "$bindir/psql" -h 127.0.0.1 -p "$port" -U rehabtrack -d postgres -q \
    -c "CREATE DATABASE rehabtrack" >/dev/null
  trap - ERR
  log "cluster in $PGDIR on 127.0.0.1:$port"
  echo "postgresql+psycopg://rehabtrack:$password@127.0.0.1:$port/rehabtrack"
}

case "${1:-start}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop URL | stop all" >&2; exit 2 ;;
esac
