#!/usr/bin/env bash
# PostgreSQL 15 doing comity-bench's lifecycle, beside comityd, in one run on this machine.
#
# Starts a throwaway PostgreSQL (Debian's postgresql-15, installed if missing) in a temporary
# directory with durable settings (fsync, synchronous_commit and full_page_writes on), loads
# schema.sql, and runs lifecycle.sql through pgbench: one plpgsql call per transition, each its
# own commit. Then starts comityd on a fresh data directory and runs comity-bench at the same
# client counts. Prints transitions per second for both and their ratio; repeats ROUNDS times,
# alternating. Run from anywhere after ./deploy/build.sh:
#
#   clients/bench/postgres/run.sh                     # 1, 16 and 64 clients, 10 s each
#   CLIENTS=64 SECONDS_PER_RUN=10 ROUNDS=3 clients/bench/postgres/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
clients="${CLIENTS:-1,16,64}"
seconds="${SECONDS_PER_RUN:-10}"
rounds="${ROUNDS:-1}"
pgbin=/usr/lib/postgresql/15/bin

if [ ! -x "$pgbin/postgres" ] || ! command -v pgbench > /dev/null; then
  echo "installing postgresql-15 (the baseline's server and pgbench)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 postgresql-client-15
fi
comityd="$root/build/services/server/comityd"
bench="$root/build/clients/bench/comity-bench"
for bin in "$comityd" "$bench"; do
  [ -x "$bin" ] || { echo "error: $bin is missing; run ./deploy/build.sh first" >&2; exit 1; }
done

work="$(mktemp -d /tmp/comity-pg.XXXXXX)"
chmod 755 "$work"
# PostgreSQL refuses to run as root: then it runs as the postgres user Debian's package makes.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$work"
  as_pg=(runuser -u postgres --)
fi
pg_pid=""
comityd_pid=""
cleanup() {
  [ -n "$comityd_pid" ] && kill "$comityd_pid" 2> /dev/null && wait "$comityd_pid" 2> /dev/null
  [ -n "$pg_pid" ] && "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m fast stop > /dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg" -U bench -A trust --no-instructions > /dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -o \
  "-c listen_addresses='' -k $work -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
   -c shared_buffers=512MB -c max_connections=200 -c max_wal_size=4GB" start > /dev/null
pg_pid=started
psql=(psql -q -X -v ON_ERROR_STOP=1 -h "$work" -U bench -d postgres)
"${psql[@]}" -f "$here/schema.sql"

# comityd on a free port, in development mode on loopback, as comity-bench expects.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/comity"
"$comityd" --listen="127.0.0.1:$port" --insecure_dev --data_dir="$work/comity/data" \
  --profiles_dir="$root/deploy/profiles" --directory="$root/deploy/dev/directory.textproto" \
  --metrics_address= > "$work/comity/comityd.log" 2>&1 &
comityd_pid=$!
for _ in $(seq 100); do
  grep -q "listening on port" "$work/comity/comityd.log" 2> /dev/null && break
  sleep 0.1
done

cores=$(nproc)
echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') and comityd, ${seconds} s per run, ${cores} cores, ${rounds} round(s)"
echo "lifecycle: create, submit, acknowledge, accept, deliver (final), confirm_receipt"
echo
printf "%6s %8s  %20s  %20s  %9s\n" round clients "comityd trans/s p99" "PostgreSQL trans/s" ratio
IFS=',' read -ra levels <<< "$clients"
for round in $(seq "$rounds"); do
  for c in "${levels[@]}"; do
    # PostgreSQL: pgbench's tps counts runs of the six-statement script.
    out=$(PGHOST="$work" pgbench -U bench -n -c "$c" -j "$(( c < cores ? c : cores ))" -T "$seconds" \
            -f "$here/lifecycle.sql" postgres 2>&1)
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<< "$out" | tail -1)
    if [ -z "$tps" ] || grep -q "aborted" <<< "$out"; then
      echo "error: pgbench failed:" >&2
      echo "$out" >&2
      exit 1
    fi
    pg=$(awk -v t="$tps" 'BEGIN { printf "%.0f", t * 6 }')
    row=$("$bench" --addr "127.0.0.1:$port" --clients "$c" --seconds "$seconds" --ceiling=false |
          awk -v c="$c" '$1 == c && $2 == "plaintext" { print $3, $5 }')
    read -r comity p99 <<< "$row"
    ratio=$(awk -v a="$comity" -v b="$pg" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    printf "%6s %8s  %13s %6s  %20s  %9s\n" "$round" "$c" "$comity" "$p99" "$pg" "$ratio"
  done
done
# Every lifecycle PostgreSQL ran wrote its six entries, chained.
"${psql[@]}" -t -A -F ' ' -c "SELECT count(*),
    (SELECT count(*) FROM audit WHERE request_id IN (SELECT id FROM requests WHERE state = 'CLOSED')),
    (SELECT count(*) FROM audit a JOIN audit b ON b.request_id = a.request_id
       AND b.sequence = a.sequence + 1 WHERE b.previous_hash <> a.hash)
  FROM requests WHERE state = 'CLOSED'" |
  awk '{ printf "\nPostgreSQL wrote %d closed lifecycles, %d audit entries, %d broken links\n", $1, $2, $3 }'
