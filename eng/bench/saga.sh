#!/usr/bin/env bash
# Benchmarks the order saga: what each order costs after its 202 (worker, catalog-api, order-api's status
# announcements, MariaDB, RabbitMQ), in three parts:
#   1. backlog rounds (ROUNDS, default 3): with the worker paused (SIGSTOP), ORDERS orders are placed and their
#      order.submitted events published; then the worker resumes (SIGCONT) and the saga drains them. Reported per round:
#      the rate at which orders reach a final state (all N / time from resume to the last one final), CPU ms per order
#      per process (utime+stime from /proc/<pid>/stat, from resume until every event the orders caused is published and
#      consumed), MariaDB statements per order (SHOW GLOBAL STATUS Questions, Com_*), outbox events per order; median of
#      the rounds. Placement is outside the window, so order-api's share is only what the saga makes it do.
#   2. light load: PACED orders at RATE/s with everything running; 202 -> Paid P50/P99 from the database (the order's
#      created_at, written just before its 202, to its Paid history entry), and CPU per order for the whole path
#      including placement, less each process's idle CPU (measured over a quiet window of the same length just before).
# Starts its own servers and services (eng/bench/lib.sh), in Release and Production as the AppHost wires them. The
# catalog's Bazaar:Messaging:UnroutableGiveUpAfter is 5 s instead of 1 min so the rounds see the steady state of a shop
# that has run for more than a minute (events no queue takes are published once). Appends to eng/bench/RESULTS.md
# (BENCH_NO_RECORD=1 to skip) and stops everything it started.
# Usage: eng/bench/saga.sh [orders per round] [paced orders] [rate]     (defaults 2000, 200, 20)
set -euo pipefail
BENCH_OUT="${BENCH_OUT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.out/saga}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'kill -CONT "${worker_pid:-0}" 2>/dev/null || true; bench_cleanup' EXIT

orders="${1:-2000}"
paced="${2:-200}"
rate="${3:-20}"
rounds="${ROUNDS:-3}"
buyers=400
(( orders <= 20000 && paced <= 5000 )) || { echo "Bounded: at most 20,000 orders per round and 5,000 paced." >&2; exit 2; }
bench_require python3 python3
bench_start_servers authdb catalogdb orderdb
export Bazaar__Messaging__UnroutableGiveUpAfter=00:00:05
bench_start_shop
unset Bazaar__Messaging__UnroutableGiveUpAfter

sql() { mariadb --socket="$bench_work/mysql/mysqld.sock" -uroot -p"$bench_password" -N -B "$1" -e "$2"; }
tokens="$BENCH_OUT/tokens.txt"
echo "Registering $buyers buyers..." >&2
eval "$(python3 "$BENCH_DIR/order_driver.py" setup "$auth_api_url" "$catalog_api_url" "$admin_password" "$buyers" "$tokens")"
place() { # count threads rate
  eval "$(cd "$BENCH_DIR" && python3 saga_driver.py place "$order_api_url" "$STAPLE" "$tokens" "$1" "$2" "$3")"
  (( PLACED == $1 )) || { echo "placed $PLACED of $1 orders" >&2; exit 1; }
}

names=(worker catalog-api order-api mariadb rabbitmq)
mariadb_pid=$(cat "$(sql orderdb "SELECT @@pid_file")")
rabbit_pid=$(cat "$bench_work/rabbit/pid")
pids=("$worker_pid" "$catalog_api_pid" "$order_api_pid" "$mariadb_pid" "$rabbit_pid")
hz=$(getconf CLK_TCK)
status_vars="'Questions','Com_select','Com_insert','Com_update','Com_delete','Com_commit'"
db_status() { sql orderdb "SHOW GLOBAL STATUS WHERE Variable_name IN ($status_vars)" | sort | awk '{ printf "%s ", $2 }'; }
events() { echo $(( $(sql orderdb "SELECT COUNT(*) FROM outbox") + $(sql catalogdb "SELECT COUNT(*) FROM outbox") )); }
in_flight() { sql orderdb "SELECT COUNT(*) FROM orders WHERE status IN ('Submitted','StockReserved')"; }
drained() { [[ "$(in_flight)" == 0 ]]; }
# Everything the orders caused is done: none in flight, every event published, and (each orderdb event has one
# consumer) consumed. The catalog's events have no consumer: published is enough.
settled() { [[ "$(in_flight)" == 0 \
  && "$(sql orderdb "SELECT (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL) + ABS((SELECT COUNT(*) FROM outbox) - (SELECT COUNT(*) FROM inbox))")" == 0 \
  && "$(sql catalogdb "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")" == 0 ]]; }
wait_until() { # what seconds command...
  local what="$1" limit="$2"; shift 2
  local deadline=$(( SECONDS + limit ))
  until "$@"; do (( SECONDS < deadline )) || { echo "$what: not within $limit s" >&2; exit 1; }; sleep 0.2; done
}
# Placed while the worker is paused: their order.submitted events are published and wait in the worker's queue, and
# order-api has consumed what placement announced.
placed_and_waiting() { # expected unconsumed
  [[ "$(sql orderdb "SELECT (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL) * 1000000 + (SELECT COUNT(*) FROM outbox) - (SELECT COUNT(*) FROM inbox)")" == "$1" ]]
}
per_order() { awk -v a="$1" -v b="$2" -v n="$3" -v f="${4:-1}" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) * f / n : 0) }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "Warming up (JIT, pools; the catalog's unbound event types reach their steady state)..." >&2
place 600 16 0
# Settled includes the catalog's unbound events marked sent, which happens once UnroutableGiveUpAfter has passed.
wait_until "warm-up drain" 300 settled
place 300 16 0
wait_until "warm-up drain" 300 settled

# --- 1. backlog rounds --------------------------------------------------------------------------------------------
declare -A col
rows=()
for (( r = 1; r <= rounds; r++ )); do
  echo "Round $r: placing $orders orders with the worker paused..." >&2
  kill -STOP "$worker_pid"
  place "$orders" 32 0
  wait_until "order.submitted published" 120 placed_and_waiting "$orders"
  read -r -a t0 <<<"$(bench_cpu_ticks "${pids[@]}")"
  read -r -a s0 <<<"$(db_status)"; e0=$(events)
  start_ns=$(date +%s%N)
  kill -CONT "$worker_pid"
  wait_until "saga drain" 600 drained
  final_ns=$(date +%s%N)
  wait_until "events settled" 120 settled
  read -r -a t1 <<<"$(bench_cpu_ticks "${pids[@]}")"
  read -r -a s1 <<<"$(db_status)"; e1=$(events)
  rate_r=$(awk -v n="$orders" -v ns=$(( final_ns - start_ns )) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
  row="| $r | $rate_r"; col[rate]+="$rate_r "
  total=0
  for i in "${!names[@]}"; do
    ms=$(per_order "${t0[i]}" "${t1[i]}" "$orders" "$(( 1000 / hz ))")
    row+=" | $ms"; col[${names[i]}]+="$ms "; total=$(awk -v t="$total" -v m="$ms" 'BEGIN { print t + m }')
  done
  # db_status is sorted by name: Com_commit Com_delete Com_insert Com_select Com_update Questions
  q=$(per_order "${s0[5]}" "${s1[5]}" "$orders"); c=$(per_order "${s0[0]}" "${s1[0]}" "$orders")
  sel=$(per_order "${s0[3]}" "${s1[3]}" "$orders"); ins=$(per_order "${s0[2]}" "${s1[2]}" "$orders")
  upd=$(per_order "${s0[4]}" "${s1[4]}" "$orders"); ev=$(per_order "$e0" "$e1" "$orders")
  row+=" | $total | $q | $sel / $ins / $upd / $c | $ev |"
  col[total]+="$total "; col[q]+="$q "; col[sel]+="$sel "; col[ins]+="$ins "; col[upd]+="$upd "; col[commit]+="$c "; col[ev]+="$ev "
  rows+=("$row"); echo "$row" >&2
done
paid=$(sql orderdb "SELECT COUNT(*) FROM orders WHERE status = 'Paid'"); all=$(sql orderdb "SELECT COUNT(*) FROM orders")
m() { median ${col[$1]}; }
median_row="| **median** | **$(m rate)** | $(m worker) | $(m catalog-api) | $(m order-api) | $(m mariadb) | $(m rabbitmq) | **$(m total)** | $(m q) | $(m sel) / $(m ins) / $(m upd) / $(m commit) | $(m ev) |"

# --- 2. light load: 202 -> Paid, and CPU for the whole path -------------------------------------------------------
echo "Light load: $paced orders at $rate/s..." >&2
first=$(sql orderdb "SELECT COALESCE(MAX(created_at), '1970-01-01') FROM orders")
# Each process also works while idle (relay polls, health checks); that is measured over a quiet window of the same
# length just before, and taken off, so the figure is what the orders added.
window_s=$(awk -v n="$paced" -v r="$rate" 'BEGIN { printf "%.1f", n / r + 2 }')
read -r -a i0 <<<"$(bench_cpu_ticks "${pids[@]}")"; idle_start_ns=$(date +%s%N)
sleep "$window_s"
read -r -a i1 <<<"$(bench_cpu_ticks "${pids[@]}")"; idle_ns=$(( $(date +%s%N) - idle_start_ns ))
read -r -a t0 <<<"$(bench_cpu_ticks "${pids[@]}")"; busy_start_ns=$(date +%s%N)
place "$paced" 8 "$rate"
wait_until "light-load drain" 300 settled
read -r -a t1 <<<"$(bench_cpu_ticks "${pids[@]}")"; busy_ns=$(( $(date +%s%N) - busy_start_ns ))
latencies=$(sql orderdb "SELECT TIMESTAMPDIFF(MICROSECOND, o.created_at, h.occurred_at) / 1000 FROM orders o
  JOIN order_history h ON h.order_id = o.id AND h.status = 'Paid' WHERE o.created_at > '$first' ORDER BY 1")
read -r lat_n lat_p50 lat_p99 < <(echo "$latencies" | awk '{ v[NR] = $1 } END { printf "%d %.1f %.1f\n", NR, v[int(NR * 0.5 + 0.5)], v[int(NR * 0.99 + 0.5)] }')
light="202 -> Paid at $rate orders/s ($lat_n of $paced Paid): P50 **$lat_p50 ms**, P99 $lat_p99 ms. CPU per order, placement included, idle work taken off:"
for i in "${!names[@]}"; do
  light+=" ${names[i]} $(awk -v a="${t0[i]}" -v b="${t1[i]}" -v ia="${i0[i]}" -v ib="${i1[i]}" -v bn="$busy_ns" -v in_="$idle_ns" -v n="$paced" -v f="$(( 1000 / hz ))" \
    'BEGIN { printf "%.2f", ((b - a) - (ib - ia) * bn / in_) * f / n }') ms,"
done
light="${light%,}."

table="| round | orders/s to final | worker | catalog-api | order-api | MariaDB | RabbitMQ | CPU ms/order | statements/order | SELECT / INSERT / UPDATE / COMMIT | events/order |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|
$(printf '%s\n' "${rows[@]}")
$median_row"
summary="Backlog rounds of $orders orders each (worker paused while they were placed, then resumed): $paid of $all orders ever placed are Paid.
$light
Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
echo; echo "$table"; echo; echo "$summary"
bench_record "saga: cost per order after the 202 (Release, Production)" "eng/bench/saga.sh $orders $paced $rate" "$table

$summary"
