#!/usr/bin/env bash
# Starts (or reuses) a throwaway PostgreSQL server for the store tests and prints
# its URL on stdout, nothing else:
#
#   export BOTFLEET_TEST_POSTGRES_URL="$(scripts/start-test-postgres.sh)"
#   scripts/start-test-postgres.sh --stop      # stop it
#
# Idempotent: a running server is reused; a stopped one is started again. Installs
# Debian's `postgresql` when initdb/pg_ctl are missing. The cluster listens on
# 127.0.0.1 only (port 55432, or the next free one), password auth (a random
# password generated at initdb), and trades durability for speed (fsync=off):
# it holds nothing but test databases. The URL is also written to
# target/test-postgres.url.
#
# Where: $BOTFLEET_PG_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/botfleet/postgres;
# as root, /tmp/botfleet-test-postgres (the server runs as the `postgres` user,
# since initdb refuses root, and that user cannot enter /root).
set -euo pipefail

log() { echo "start-test-postgres: $*" >&2; }
die() { log "error: $*"; exit 1; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd / # the server's user may not be able to enter the caller's directory
superuser=botfleet
database=botfleet_test

if [[ $(id -u) == 0 ]]; then
    base="${BOTFLEET_PG_DIR:-/tmp/botfleet-test-postgres}"
else
    base="${BOTFLEET_PG_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/botfleet/postgres}"
fi
data="$base/data"
sockets="$base/run"

find_pg_bin() {
    local dir
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    # Debian keeps the server binaries out of PATH.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
            echo "$dir"
            return
        fi
    done
    return 1
}

if ! bin="$(find_pg_bin)"; then
    [[ $(id -u) == 0 ]] || die "PostgreSQL is not installed; run: sudo apt-get install -y postgresql"
    log "installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bin="$(find_pg_bin)" || die "postgresql installed but initdb/pg_ctl not found"
fi

# Run server commands as an unprivileged user when we are root.
run_as=()
if [[ $(id -u) == 0 ]]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --home-dir "$base" --shell /usr/sbin/nologin postgres
    run_as=(runuser -u postgres --)
fi
pg() { "${run_as[@]}" "$@"; }

if [[ ${1:-} == --stop ]]; then
    if [[ -f $data/PG_VERSION ]]; then
        pg "$bin/pg_ctl" -D "$data" -m fast stop >&2 || true
    fi
    exit 0
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

mkdir -p "$base" "$sockets"
[[ ${#run_as[@]} == 0 ]] || chown postgres: "$base" "$sockets"
chmod 700 "$base"

if [[ ! -f $data/PG_VERSION ]]; then
    log "creating a cluster in $data"
    rm -rf "$data"
    password="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
    printf '%s\n' "$password" >"$base/password"
    [[ ${#run_as[@]} == 0 ]] || chown postgres: "$base/password"
    chmod 600 "$base/password"
    pg "$bin/initdb" -D "$data" -U "$superuser" --pwfile="$base/password" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$base/initdb.log" 2>&1 \
        || { tail -n 20 "$base/initdb.log" >&2; die "initdb failed (log: $base/initdb.log)"; }
fi
password="$(cat "$base/password")"

running=false
if pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    running=true
    port="$(cat "$base/port")"
fi

if ! $running; then
    port=55432
    while ! port_free "$port"; do
        port=$((port + 1))
        ((port < 55532)) || die "no free port in 55432-55531"
    done
    echo "$port" >"$base/port"
    log "starting PostgreSQL on 127.0.0.1:$port"
    pg "$bin/pg_ctl" -D "$data" -l "$base/server.log" -w -t 60 start \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $sockets -c max_connections=300 \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2 \
        || { tail -n 20 "$base/server.log" >&2; die "the server did not start (log: $base/server.log)"; }
fi

# The database the URL names (tests create one more database each from it).
psql="$bin/psql"
[[ -x $psql ]] || psql="$(command -v psql)" || die "psql not found"
exists="$(pg "$psql" -h "$sockets" -p "$port" -U "$superuser" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$database'" 2>/dev/null || true)"
if [[ $exists != 1 ]]; then
    pg "$psql" -h "$sockets" -p "$port" -U "$superuser" -d postgres -qc "CREATE DATABASE $database" >&2
fi

url="postgres://$superuser:$password@127.0.0.1:$port/$database"
mkdir -p "$repo/target"
printf '%s\n' "$url" >"$repo/target/test-postgres.url"
printf '%s\n' "$url"
