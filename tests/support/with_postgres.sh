#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL server:
#   tests/support/with_postgres.sh <command> [args...]
# The server lives in a temporary folder (data, log, unix socket), listens on 127.0.0.1 on a free
# port with trust authentication, and has one database; the command gets its URL in
# SY_TEST_POSTGRES_URL (postgres://USER@127.0.0.1:PORT/DB). The server is stopped and the folder
# removed when the command ends, fails or is interrupted. The exit status is the command's.
#
# PostgreSQL refuses to run as root: as root (CI), the server runs as the `postgres` system user.
# Without PostgreSQL's binaries this fails (scripts/install-deps.sh --test installs them): a store
# test that silently skips is a store test that does not run.
set -euo pipefail

if (($# == 0)); then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi

bin=""
for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then bin="$dir"; break; fi
done
if [[ -z "$bin" ]] && command -v pg_config >/dev/null; then
  dir="$(pg_config --bindir)"
  [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && bin="$dir"
fi
if [[ -z "$bin" ]]; then
  echo "with_postgres.sh: no PostgreSQL server binaries (initdb, pg_ctl) in" \
    "/usr/lib/postgresql/*/bin; install them with scripts/install-deps.sh --test" \
    "(Debian package postgresql)" >&2
  exit 1
fi

as_server=()
if [[ $(id -u) -eq 0 ]]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "with_postgres.sh: running as root and there is no 'postgres' user to run the server" >&2
    exit 1
  fi
  as_server=(runuser -u postgres --)
fi

user=switchyard
db=switchyard_test
tmp="$(mktemp -d /tmp/sy-pg.XXXXXX)"
data="$tmp/data"
server_started=0
child=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$child" ]]; then kill "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  if ((server_started)); then
    (cd "$tmp" && "${as_server[@]}" "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1) || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ((${#as_server[@]})); then chown postgres: "$tmp"; fi
cd "$tmp"  # the server user may not be able to read the caller's folder

if ! "${as_server[@]}" "$bin/initdb" -D "$data" -U "$user" -A trust -E UTF8 --locale=C \
  --no-sync >"$tmp/initdb.log" 2>&1; then
  echo "with_postgres.sh: initdb failed:" >&2
  cat "$tmp/initdb.log" >&2
  exit 1
fi

# A free port: one nobody answers on, then the server's own bind decides (another process may
# take it in between: try again with another).
port=""
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  candidate=$((20000 + RANDOM % 40000))
  if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then continue; fi
  if "${as_server[@]}" "$bin/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 60 -s \
    -o "-c listen_addresses=127.0.0.1 -p $candidate -k $tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null 2>&1; then
    port="$candidate"
    server_started=1
    break
  fi
  if ! grep -q "could not bind\|could not create any TCP/IP sockets" "$tmp/server.log" 2>/dev/null; then
    break  # not a port clash
  fi
done
if [[ -z "$port" ]]; then
  echo "with_postgres.sh: the PostgreSQL server did not start:" >&2
  cat "$tmp/server.log" >&2 2>/dev/null || true
  exit 1
fi

"$bin/createdb" -h 127.0.0.1 -p "$port" -U "$user" "$db"

export SY_TEST_POSTGRES_URL="postgres://$user@127.0.0.1:$port/$db"
cd "$OLDPWD"
# In the background, so that an interrupt stops the server now, not when the command ends.
"$@" &
child=$!
set +e
wait "$child"
rc=$?
set -e
child=""
exit "$rc"
