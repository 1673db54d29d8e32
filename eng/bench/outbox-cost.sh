#!/usr/bin/env bash
# What the outbox relay costs MariaDB, apart from everything else: a scratch MariaDB (the bench's settings, a Unix socket,
# no TCP) and one mariadb client write orders as placement does (groups of 16: orders, lines, history, outbox, one
# transaction each) with one relay batch in the shape of each variant after every second group (32 rows); mariadbd's
# CPU time per order (utime+stime from /proc) over 24,000 orders, after 24,000 of warm-up. The variants are described in
# outbox_sql.py. Each variant runs ROUNDS times (default 3), interleaved; prints one line per run, nothing is recorded.
# Usage: eng/bench/outbox-cost.sh [rounds] [variant...]      (default: all variants)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap bench_cleanup EXIT
bench_require mariadbd mariadb-server
bench_require python3 python3
rounds="${1:-3}"
shift || true
variants=("$@")
(( ${#variants[@]} )) || variants=(inserts locked plain plaindel cursor marks)
hz=$(getconf CLK_TCK)
migrations=("$BENCH_REPO/Services/Order/Bazaar.Order.Api/Migrations/"*.sql "$BENCH_REPO/Services/Shared/Bazaar.Messaging/Migrations/"*.sql)

run() { # variant
  local dir pid client t0 t1
  dir="$(mktemp -d /tmp/bazaar-outbox-cost.XXXXXX)"
  mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
  mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/sock" --skip-networking --user=root --skip-name-resolve \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci >"$dir/server.log" 2>&1 &
  pid=$!
  bench_pids+=("$pid")
  client=(mariadb --socket="$dir/sock" -uroot)
  bench_wait_for "the scratch MariaDB" "${client[@]}" -e "SELECT 1"
  "${client[@]}" -e "CREATE DATABASE o"
  cat "${migrations[@]}" | "${client[@]}" o
  "${client[@]}" o -e "CREATE TABLE relay_position (seq BIGINT NOT NULL); INSERT INTO relay_position VALUES (0);
    CREATE TABLE outbox_sent (seq BIGINT PRIMARY KEY)"
  python3 "$BENCH_DIR/outbox_sql.py" 1500 16 "$1" 1 1 2 >"$dir/warm.sql"
  python3 "$BENCH_DIR/outbox_sql.py" 1500 16 "$1" 2 24001 2 >"$dir/measured.sql"
  "${client[@]}" o <"$dir/warm.sql" >/dev/null
  sleep 2
  t0=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')
  "${client[@]}" o <"$dir/measured.sql" >/dev/null
  t1=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  awk -v v="$1" -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%-9s %6.1f us of MariaDB CPU per order\n", v, (b - a) / hz / 24000 * 1e6 }'
}

for (( r = 1; r <= rounds; r++ )); do
  for variant in "${variants[@]}"; do run "$variant"; done
done
