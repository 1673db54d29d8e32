#!/usr/bin/env bash
# Benchmarks the order path: (1) order placement (POST /api/orders -> 202) per second with P50/P99 at 64 connections,
# beside the bare /json in the same run; (2) the time from 202 to Paid at light load (one order at a time, watched on
# its SSE stream); (3) the full flash sale: 2,000 buyers (2,000 accounts) ordering one unit of a product with stock 100
# at once, its duration, and the check that exactly 100 were sold and nobody else was charged.
# Starts its own Redis, MariaDB and RabbitMQ (eng/bench/lib.sh) and auth-api, catalog-api, order-api and the worker
# in Release and Production, wired as the AppHost wires them; appends to eng/bench/RESULTS.md (BENCH_NO_RECORD=1 to
# skip) and stops everything it started.
# Usage: eng/bench/order.sh [duration] [buyers]     (default 10s of wrk -t2 -c64 after a 15 s warm-up (BENCH_WARMUP)
# and one to five 3 s second warm-ups (BENCH_SETTLE) until order-api's JIT is quiet, 2000 buyers)
# During the measured placement run it also reads each process's CPU time (/proc/<pid>/stat utime+stime) and the
# number of new orders, and prints CPU milliseconds per new order for order-api, MariaDB, the worker, catalog-api,
# RabbitMQ and Redis. BENCH_SAGA=0 is another mode: the worker stops once it has declared its queues, so the orders
# stay Submitted and nothing but placement (and the outbox relay publishing its events into the worker's queue) runs;
# it measures placement alone, and skips 202 -> Paid and the flash sale. The default (BENCH_SAGA=1) is the mode whose
# figures RESULTS.md compares.
# The worker gets the AppHost's Saga:Yield:PeakPlacements (lib.sh's bench_saga_yield, 500 since session 4: the saga takes
# turns while placement is at its peak, since session 8 one transaction of one message every 250 ms, and catches
# up after it); BENCH_SAGA_YIELD=0 runs the saga flat out throughout, as before session 4. BENCH_WORKER_NICE=N starts
# the worker at nice N (default 0). BENCH_IDLE=S leaves every process idle for S seconds before the measured run (default
# 0), so placement alone meets its peak after a quiet spell, as it does in the default mode after the saga's drain.
# BENCH_REPEAT=N measures placement N more times on the same servers (each in the table and the summary).
# BENCH_RELAY_HOLD=N gives order-api and the worker Orders:RelayHold:PeakPlacements N (lib.sh's bench_relay_hold, 500 as
# the AppHost since session 19: orderdb's relay holds its events back during the peak; 0 publishes them at once).
set -euo pipefail
BENCH_OUT="${BENCH_OUT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.out/order}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap bench_cleanup EXIT

duration="${1:-10s}"
buyers="${2:-2000}"
warmup="${BENCH_WARMUP:-15s}"
settle="${BENCH_SETTLE:-3s}"
saga="${BENCH_SAGA:-1}"
worker_nice="${BENCH_WORKER_NICE:-0}"
idle="${BENCH_IDLE:-0}"
repeat="${BENCH_REPEAT:-0}"
repeat_env=""; (( repeat == 0 )) || repeat_env="BENCH_REPEAT=$repeat "
saga_yield="${BENCH_SAGA_YIELD:-$bench_saga_yield}"
relay_hold="${BENCH_RELAY_HOLD:-$bench_relay_hold}"
bench_require wrk wrk
bench_require python3 python3
bench_start_servers authdb catalogdb orderdb
bench_start_bare
bench_build "$BENCH_REPO/Services/Auth/Bazaar.Auth.Api/Bazaar.Auth.Api.csproj" auth
bench_build "$BENCH_REPO/Services/Catalog/Bazaar.Catalog.Api/Bazaar.Catalog.Api.csproj" catalog
bench_build "$BENCH_REPO/Services/Order/Bazaar.Order.Api/Bazaar.Order.Api.csproj" order
bench_build "$BENCH_REPO/Services/Worker/Bazaar.Worker/Bazaar.Worker.csproj" worker
admin_password="bench-admin-$RANDOM$RANDOM"
worker_secret="bench-worker-$RANDOM$RANDOM$RANDOM"

# Account setup is not what is measured: a tenth of the production hash cost keeps 2,000 registrations short. The
# buyers' tokens are made once and must outlive the whole run: with BENCH_REPEAT each repeat waits for the saga's drain
# (about 7 minutes), and past the default 15 minutes every request of the second repeat and the flash sale got a 401
# (session 12). order-api's token cache still keeps an entry at most 15 minutes, as in production.
bench_start_service auth-api auth/Bazaar.Auth.Api.dll /api/auth/.well-known/jwks.json ConnectionStrings__authdb="$(bench_db authdb)" \
  Auth__AdminPassword="$admin_password" Auth__SecretsDirectory="$bench_work/secrets" Auth__PasswordHashIterations=10000 \
  Auth__LoginRateLimit__PermitLimit=100000000 Auth__Clients__worker__Secret="$worker_secret" Auth__AccessTokenLifetime=02:00:00
bench_start_service catalog-api catalog/Bazaar.Catalog.Api.dll /api/catalog/items/1 ConnectionStrings__catalogdb="$(bench_db catalogdb)" \
  "services__auth-api__http__0=$auth_api_url"
discovery=("services__auth-api__http__0=$auth_api_url" "services__catalog-api__http__0=$catalog_api_url")
bench_start_service order-api order/Bazaar.Order.Api.dll /alive ConnectionStrings__orderdb="$(bench_db orderdb)" "${discovery[@]}" \
  Orders__RelayHold__PeakPlacements="$relay_hold"
bench_service_nice="$worker_nice" \
  bench_start_service worker worker/Bazaar.Worker.dll /alive ConnectionStrings__orderdb="$(bench_db orderdb)" "${discovery[@]}" \
  ServiceAuth__ClientId=worker ServiceAuth__ClientSecret="$worker_secret" Callbacks__SigningSecret="bench-callback-secret-0123456789" \
  Saga__Yield__PeakPlacements="$saga_yield" Orders__RelayHold__PeakPlacements="$relay_hold"
bench_wait_for "worker health" curl -fsS "$worker_url/health"
if [[ "$saga" != 1 ]]; then
  # Placement alone still publishes into a bound queue, as in production: the worker ran long enough to declare its
  # queues and bindings, and stops before the first order; the events wait in its queue. (Before session 10 it never
  # ran in this mode: every event came back unroutable and order-api offered it again every few seconds for a minute,
  # logging a warning each time, work that production does not do.)
  bench_wait_for "the worker's queue bound to order.submitted" bash -c "HOME='$bench_work/rabbit' \
    /usr/lib/rabbitmq/bin/rabbitmqctl -q -n 'bench$amqp_port@localhost' list_bindings routing_key 2>/dev/null | grep -qx order.submitted"
  kill "$worker_pid"
  wait "$worker_pid" 2>/dev/null || true
  worker_pid=""
fi
bench_wait_for "order-api health" curl -fsS "$order_api_url/health"

tokens="$BENCH_OUT/tokens.txt"
echo "Registering $buyers buyers..." >&2
eval "$(python3 "$BENCH_DIR/order_driver.py" setup "$auth_api_url" "$catalog_api_url" "$admin_password" "$buyers" "$tokens")"

# --- placement: 202s per second at 64 connections ------------------------------------------------------------------
sql() { mariadb --socket="$bench_work/mysql/mysqld.sock" -uroot -p"$bench_password" -N -B orderdb -e "$1"; }
drained() { [[ "$(sql "SELECT COUNT(*) FROM orders WHERE status IN ('Submitted','StockReserved')")" == 0 ]]; }
wait_drained() { # sets drain_s: seconds until no order is in flight
  drain_s=0; [[ "$saga" == 1 ]] || return 0
  # With group-commit placement, 10 s of placement can leave 20,000+ orders for the saga (about 70-170 a second here).
  local deadline=$(( SECONDS + 900 ))
  until drained; do (( SECONDS < deadline )) || { echo "the saga did not drain within 900 s" >&2; exit 1; }; sleep 0.5; done
  drain_s=$(( SECONDS - deadline + 900 ))
}
bench_wrk "bare \`/json\` (ceiling)" "$bare_url" -t2 -c64 -d"$duration"
export BENCH_TOKENS="$tokens" BENCH_PRODUCT="$STAPLE"
# Eight processes share two cores here: each JIT-compiles its hot paths for many seconds, so the placement path is
# warmed (and its saga drained) before it is measured.
echo "Warming up placement for $warmup..." >&2
timeout 120 wrk -t2 -c64 -d"$warmup" -s "$BENCH_DIR/order-place.lua" "$order_api_url/api/orders" >/dev/null
wait_drained
# A second, short warm-up after the drain. Without it order-api's tiered-compilation thread, idle at the end of the
# drain, spent about 1.75 s of CPU in the first seconds of the measured run (session 8, its thread's CPU time sampled
# every second): methods of the placement path were still being promoted to optimised code, which a service that has
# run for a while has long finished. Probably because the runtime begins counting a method's calls for promotion only
# after a spell without new methods to compile (DOTNET_TC_CallCountingDelayMs, 100 ms), which a busy warm-up hardly leaves.
# One such run is not always enough: in session 10 the thread still spent 1.7 s of CPU in one measured run of ten
# (17 percent of order-api's CPU in the window, and that run's order-api cost 0.36 ms per order instead of 0.22-0.24).
# On two busy cores the thread gets little time while placement runs, so each round is a short run and then a wait
# (up to 20 s) until the thread has been idle for a second; rounds repeat, up to five, until one costs it under 50 ms.
jit_ticks() { # "tid:ticks" of order-api's tiered-compilation thread (the runtime ends it when idle and starts a new one)
  local t
  for t in /proc/"$order_api_pid"/task/*; do
    [[ "$(cat "$t/comm" 2>/dev/null)" == ".NET Tiered Com"* ]] && printf '%s:%s ' "${t##*/}" "$(sed 's/.*) //' "$t/stat" | awk '{ print $12 + $13 }')"
  done
  echo
}
jit_ms_since() { # CPU ms the thread(s) spent since the "tid:ticks" list $1 (a thread that ended meanwhile loses its last ticks)
  awk -v before="$1" -v now="$(jit_ticks)" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    n = split(before, b, " "); for (i = 1; i <= n; i++) { split(b[i], kv, ":"); was[kv[1]] = kv[2] }
    n = split(now, c, " "); for (i = 1; i <= n; i++) { split(c[i], kv, ":"); d += kv[2] - (kv[1] in was ? was[kv[1]] : 0) }
    printf "%d", d * 1000 / hz }'
}
for (( round = 1; round <= 5; round++ )); do
  jit_before=$(jit_ticks)
  echo "Settling placement for $settle ($round)..." >&2
  timeout 60 wrk -t2 -c64 -d"$settle" -s "$BENCH_DIR/order-place.lua" "$order_api_url/api/orders" >/dev/null
  wait_drained
  jit_idle_deadline=$(( SECONDS + 20 ))
  jit_last=$(jit_ticks); sleep 1
  while [[ "$(jit_ticks)" != "$jit_last" ]] && (( SECONDS < jit_idle_deadline )); do jit_last=$(jit_ticks); sleep 1; done
  jit_ms=$(jit_ms_since "$jit_before")
  echo "order-api's tiered compilation during it: $jit_ms ms of CPU" >&2
  (( jit_ms >= 50 )) || break
done
# CPU per new order: clock ticks (utime + stime) of each process over the measured run, divided by the orders it added.
mariadb_pid=$(cat "$(sql "SELECT @@pid_file")")
rabbit_pid=$(cat "$bench_work/rabbit/pid" 2>/dev/null || echo "")
redis_pid=$(pgrep -f "redis-server 127.0.0.1:$redis_port" | head -1 || true)
cpu_names=(order-api mariadb worker catalog-api rabbitmq redis)
cpu_pids=("$order_api_pid" "$mariadb_pid" "$worker_pid" "$catalog_api_pid" "$rabbit_pid" "$redis_pid")
ticks() { local pid t; for pid in "${cpu_pids[@]}"; do t=0; [[ -n "$pid" && -r /proc/$pid/stat ]] && t=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }'); printf '%s ' "$t"; done; echo; }
place_label="order-api POST /api/orders (202, saga running behind it, yield at $saga_yield, worker nice $worker_nice)"
[[ "$saga" == 1 ]] || place_label="order-api POST /api/orders (202, placement only: worker stopped, BENCH_SAGA=0)"
# The window is wrk's run itself: CPU ticks and the order count are read just before it starts and just after it ends,
# and nothing else starts during it. bench_wrk's own warm-up (2 s of GETs, a 405 here) is skipped: placement is warm.
# (Until session 10 a poller waited for the run's first order instead, starting the mariadb client every 50 ms, and then
# counted the whole table: its last client starts and two COUNT(*) scans of some 100,000 rows fell in the run's first
# 100 ms, when 64 connections open at once.)
# One measured run: wrk for $duration, with each process's CPU ticks and the order count read just before and after it.
# Sets new_orders and cpu_line (CPU ms per new order for each process) besides bench_wrk's rps, p50, p99 and errors.
measure_placement() { # label
  local before after i ms total=0 hz; hz=$(getconf CLK_TCK)
  local -a start end
  before=$(sql "SELECT COUNT(*) FROM orders")
  read -r -a start <<<"$(ticks)"
  bench_wrk_warm=0 bench_wrk "$1" "$order_api_url/api/orders" -t2 -c64 -d"$duration" -s "$BENCH_DIR/order-place.lua"
  read -r -a end <<<"$(ticks)"
  after=$(sql "SELECT COUNT(*) FROM orders")
  new_orders=$(( after - before ))
  cpu_line="CPU per new order over the measured run ($new_orders orders): "
  for i in "${!cpu_names[@]}"; do
    ms=$(awk -v a="${start[i]}" -v b="${end[i]}" -v n="$new_orders" -v hz="$hz" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) * 1000 / hz / n : 0) }')
    total=$(awk -v t="$total" -v m="$ms" 'BEGIN { print t + m }')
    cpu_line+="${cpu_names[i]} $ms ms, "
  done
  cpu_line+="total $total ms."
}
sleep "$idle"
# BENCH_REPEAT=N: N more measured runs on the same servers, 3 s apart, each after the saga's drain in the default mode,
# since one run decides little: P99 spreads by 5-10 ms from run to run, and the machine's speed varies between runs
# (session 12). Placement alone never drains, so its orders pile up from one repeat to the next. Each drain also lets the
# saga finish the orders just placed, so the 202 -> Paid latency below is measured at light load.
repeats=""
for (( r = 0; r <= repeat; r++ )); do
  label="$place_label"
  (( r == 0 )) || { sleep 3; label+=", repeat $r"; }
  measure_placement "$label"
  echo "$cpu_line" >&2
  wait_drained
  if (( r == 0 )); then
    rps_place=$rps; p50_place=$p50; p99_place=$p99; errors_place=$errors; new_orders_place=$new_orders; cpu_place=$cpu_line
    drain_place=$drain_s
  else
    repeats+=$'\n'"Repeat $r: $rps orders/s, P50 $p50 ms, P99 $p99 ms, $errors errors"
    [[ "$saga" != 1 ]] || repeats+=", the saga's drain $drain_s s"
    repeats+=". ${cpu_line/CPU per new order over the measured run/CPU per new order}"
  fi
done
table=$(bench_table)

if [[ "$saga" != 1 ]]; then
  summary="Placement alone (the worker stopped once its queues were declared; orders stay Submitted): **$rps_place orders/s** (202), P50 $p50_place ms, P99 $p99_place ms at 64 connections, $errors_place errors ($new_orders_place new orders in the measured run: only 202s that made a new order count as placements).
$cpu_place$repeats"
  echo; echo "$table"; echo; echo "$summary"
  bench_record "order: placement alone, BENCH_SAGA=0 (Release, Production)" "BENCH_SAGA=0 ${repeat_env}eng/bench/order.sh $duration $buyers" "$table

$summary"
  exit 0
fi

# --- 202 -> Paid at light load ---------------------------------------------------------------------------------------
eval "$(python3 "$BENCH_DIR/order_driver.py" latency "$order_api_url" "$STAPLE" "$tokens" 50)"

# --- the flash sale --------------------------------------------------------------------------------------------------
eval "$(python3 "$BENCH_DIR/order_driver.py" flash "$order_api_url" "$catalog_api_url" "$FLASH" "$tokens" "$buyers" "$ADMIN_TOKEN" \
  "$bench_work/mysql/mysqld.sock" "$bench_password")"
sold=$(( 100 - FLASH_AVAILABLE - FLASH_RESERVED ))
verdict="FAILED"
[[ "$FLASH_PAID" == 100 && "$sold" == 100 && "$FLASH_PENDING" == 0 && "$FLASH_CHARGED" == 100 && "$FLASH_CHARGED_NOT_PAID" == 0 ]] && verdict="passed"
flash_rps=$(awk -v n="$buyers" -v s="$FLASH_ACCEPT_S" 'BEGIN { printf "%.0f", n / s }')

summary="Placement: **$rps_place orders/s** (202), P50 $p50_place ms, P99 $p99_place ms at 64 connections, $errors_place errors, $new_orders_place new orders in the measured run (goal: 3,000/s, P99 < 50 ms); the saga then took about $drain_place s to finish the backlog.
$cpu_place (Saga:Yield:PeakPlacements $saga_yield, Orders:RelayHold:PeakPlacements $relay_hold, worker nice $worker_nice)$repeats
202 -> Paid at light load ($LAT_N orders one at a time, seen on the SSE stream): median **$LAT_P50 ms**, P90 $LAT_P90 ms, max $LAT_MAX ms (goal: median < 100 ms).
Flash sale, $buyers buyers (each its own account) for 100 units: all $FLASH_ACCEPTED orders accepted in $FLASH_ACCEPT_S s ($flash_rps orders/s, clients retrying 429/503 after Retry-After), every order final after **$FLASH_TOTAL_S s**: $FLASH_PAID Paid, $FLASH_REJECTED Rejected, $FLASH_CANCELLED Cancelled, $FLASH_PENDING pending; stock available $FLASH_AVAILABLE + reserved $FLASH_RESERVED, sold $sold; charges held $FLASH_CHARGED, on orders not Paid $FLASH_CHARGED_NOT_PAID. Exactly-100-sold check: **$verdict**."
echo; echo "$table"; echo; echo "$summary"
bench_record "order: placement, 202 -> Paid, flash sale (Release, Production)" "BENCH_SAGA_YIELD=$saga_yield BENCH_RELAY_HOLD=$relay_hold BENCH_WORKER_NICE=$worker_nice ${repeat_env}eng/bench/order.sh $duration $buyers" "$table

$summary"
