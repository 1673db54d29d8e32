# Shared pieces of the benchmark scripts in eng/bench. Source it, then call what you need:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"; trap bench_cleanup EXIT
# Everything a script starts through these functions is stopped by bench_cleanup (by pid, never by name).
# shellcheck shell=bash

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_REPO="$(cd "$BENCH_DIR/../.." && pwd)"
BENCH_OUT="${BENCH_OUT:-$BENCH_DIR/.out}"
BENCH_RESULTS="$BENCH_DIR/RESULTS.md"
bench_pids=()
bench_rows=()
mkdir -p "$BENCH_OUT"

bench_require() { # command package
  command -v "$1" >/dev/null || { echo "$1 is not installed: apt-get install -y $2" >&2; exit 1; }
}

# Stops what was started, newest first: politely, then by force after 10 s.
bench_cleanup() {
  local pid deadline i
  for (( i = ${#bench_pids[@]} - 1; i >= 0; i-- )); do kill "${bench_pids[i]}" 2>/dev/null || true; done
  deadline=$(( SECONDS + 10 ))
  for pid in "${bench_pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
  [[ -n "${bench_work:-}" ]] && rm -rf "$bench_work"
  return 0
}

# Below the kernel's ephemeral range (32768-60999 here): a port picked inside it can be taken by any outgoing connection
# before the server binds it (Redis failed "Address already in use" that way while tests and wrk were running).
bench_free_port() {
  local port low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  (( low > 21000 )) || low=60000
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % (low - 20000) ))
    ss -Htln "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
  done
  echo "no free port found" >&2; exit 1
}

bench_wait_for() { # what command... : polls the command until it succeeds, for 60 s at most
  local what="$1"; shift
  local deadline=$(( SECONDS + 60 ))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { echo "$what did not come up within 60 s" >&2; exit 1; }
    sleep 0.2
  done
}

bench_build() { # project.csproj name : Release build into $BENCH_OUT/name
  echo "Building $2 (Release)..." >&2
  dotnet build "$1" -c Release -o "$BENCH_OUT/$2" -nologo -v q >"$BENCH_OUT/build-$2.log" 2>&1 \
    || { cat "$BENCH_OUT/build-$2.log" >&2; exit 1; }
}

# Builds and starts the bare minimal-API endpoint (the ceiling) on a free loopback port: sets bare_url.
bench_start_bare() {
  bench_build "$BENCH_DIR/Bazaar.Bench.Bare/Bazaar.Bench.Bare.csproj" bare
  local port; port=$(bench_free_port)
  bare_url="http://127.0.0.1:$port/json"
  ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=None ASPNETCORE_URLS="http://127.0.0.1:$port" \
    dotnet "$BENCH_OUT/bare/Bazaar.Bench.Bare.dll" >"$BENCH_OUT/bare.log" 2>&1 &
  bench_pids+=($!)
  bench_wait_for "the bare endpoint" curl -fsS "$bare_url"
}

# Starts Redis, MariaDB and RabbitMQ on free loopback ports in a temporary directory, with the given databases.
# Sets bench_work, bench_password, redis_port, mysql_port, amqp_port and the connection strings cache_cs and
# messaging_cs; bench_db NAME prints a database's connection string, in the engine's format.
bench_start_servers() { # database...
  bench_require redis-server redis-server; bench_require mariadbd mariadb-server
  [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || { echo "rabbitmq-server is not installed: apt-get install -y rabbitmq-server" >&2; exit 1; }
  bench_work="$(mktemp -d /tmp/bazaar-bench.XXXXXX)"
  bench_password="bench$RANDOM$RANDOM"
  echo "Starting Redis, MariaDB and RabbitMQ in $bench_work ..." >&2

  redis_port=$(bench_free_port)
  mkdir -p "$bench_work/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$bench_work/redis" --save '' --appendonly no \
    --requirepass "$bench_password" >"$BENCH_OUT/redis.log" 2>&1 &
  bench_pids+=($!)

  mysql_port=$(bench_free_port)
  mariadb-install-db --no-defaults --datadir="$bench_work/mysql" --auth-root-authentication-method=normal --skip-test-db \
    >"$BENCH_OUT/mysql-install.log" 2>&1
  # The AppHost's server settings (MySqlServerResource). Before session 8 this server defaulted to latin1, the AppHost's
  # to utf8mb4, and MariaDB spent part of its time converting strings between the two (my_convert_fix in perf). Until
  # session 12 both ran with InnoDB's default 128 MB buffer pool and 96 MB redo log, which placement's peak filled in
  # seconds: InnoDB then flushed about 1,000 pages a second beside the commits, and P99 grew with the data.
  # BENCH_MARIADB_ARGS adds server options for an experiment (word-split), e.g. --thread-handling=pool-of-threads.
  # shellcheck disable=SC2086
  mariadbd --no-defaults --datadir="$bench_work/mysql" --port="$mysql_port" --socket="$bench_work/mysql/mysqld.sock" \
    --bind-address=127.0.0.1 --user=root --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --max-connections=2000 --innodb-buffer-pool-size=1G --innodb-log-file-size=1G ${BENCH_MARIADB_ARGS:-} >"$BENCH_OUT/mysql.log" 2>&1 &
  bench_pids+=($!)

  # As the AppHost starts it (RabbitMQServerResource): Erlang schedulers that sleep instead of spinning for work.
  amqp_port=$(bench_free_port)
  local dist_port; dist_port=$(bench_free_port)
  mkdir -p "$bench_work/rabbit"
  echo "listeners.tcp.default = 127.0.0.1:$amqp_port" >"$bench_work/rabbit/rabbitmq.conf"
  echo "[]." >"$bench_work/rabbit/enabled_plugins"
  HOME="$bench_work/rabbit" RABBITMQ_NODENAME="bench$amqp_port@localhost" RABBITMQ_NODE_PORT="$amqp_port" \
    RABBITMQ_DIST_PORT="$dist_port" RABBITMQ_MNESIA_BASE="$bench_work/rabbit/mnesia" RABBITMQ_LOG_BASE="$bench_work/rabbit/log" \
    RABBITMQ_CONFIG_FILE="$bench_work/rabbit/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$bench_work/rabbit/enabled_plugins" \
    RABBITMQ_PID_FILE="$bench_work/rabbit/pid" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+sbwt none +sbwtdcpu none +sbwtdio none" \
    /usr/lib/rabbitmq/bin/rabbitmq-server >"$BENCH_OUT/rabbitmq.log" 2>&1 &
  bench_pids+=($!)

  bench_wait_for "Redis" redis-cli -p "$redis_port" -a "$bench_password" --no-auth-warning ping
  bench_wait_for "MariaDB" mariadb --socket="$bench_work/mysql/mysqld.sock" -uroot -e "SELECT 1"
  local create="" name
  for name in "$@"; do create+="CREATE DATABASE \`$name\`; "; done
  mariadb --socket="$bench_work/mysql/mysqld.sock" -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$bench_password'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; ${create}ALTER USER 'root'@'localhost' IDENTIFIED BY '$bench_password';"
  bench_wait_for "RabbitMQ" bash -c "exec 3<>/dev/tcp/127.0.0.1/$amqp_port"
  # The Erlang VM is a child of the start script: stop it by its own pid as well.
  [[ -s "$bench_work/rabbit/pid" ]] && bench_pids+=("$(cat "$bench_work/rabbit/pid")")

  cache_cs="127.0.0.1:$redis_port,password=$bench_password"
  # The broker's default guest user may log in from loopback only, which is where the services are.
  messaging_cs="amqp://guest:guest@127.0.0.1:$amqp_port"
}

bench_db() { echo "Server=127.0.0.1;Port=$mysql_port;User ID=root;Password=$bench_password;Database=$1;SslMode=None"; }

# wrk reports latency as 635.00us / 1.03ms / 2.10s; everything here is in ms.
bench_to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v/1000; else if (v ~ /ms$/) printf "%.3f", v+0; else if (v ~ /m$/) printf "%.3f", v*60000; else printf "%.3f", v*1000 }'; }

# Runs wrk after a 2-second warm-up (JIT, pools), bounded by its duration plus 30 s (5 minutes at most).
# Sets rps, p50, p99 (ms) and errors (non-2xx/3xx plus socket errors) and adds a row to bench_rows.
bench_wrk() { # label url wrk-args...
  local label="$1" url="$2"; shift 2
  local args=("$@") file limit
  [[ " ${args[*]} " == *" --latency "* ]] || args+=(--latency)
  limit=$(( $(bench_duration_seconds "${args[@]}") + 30 ))
  (( limit <= 330 )) || { echo "A benchmark run is bounded to 5 minutes; shorten -d." >&2; exit 2; }
  file="$BENCH_OUT/wrk-$(echo "$label" | tr -c 'a-zA-Z0-9' '_').txt"
  # Its own warm-up: 2 s of GETs (bench_wrk_warm=0 skips it, for a URL warmed otherwise).
  [[ "${bench_wrk_warm:-1}" == 0 ]] || timeout 20 wrk -t1 -c8 -d2s "$url" >/dev/null 2>&1 || true
  echo "wrk ${args[*]} $url  ($label)" >&2
  timeout "$limit" wrk "${args[@]}" "$url" >"$file" 2>&1 || { cat "$file" >&2; echo "wrk failed against $url" >&2; exit 1; }
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$file")
  p50=$(bench_to_ms "$(awk '$1 == "50%" { print $2 }' "$file")")
  p99=$(bench_to_ms "$(awk '$1 == "99%" { print $2 }' "$file")")
  errors=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$file")
  bench_rows+=("| $label | $rps | $p50 | $p99 | $errors |")
}

bench_duration_seconds() { # wrk-args... : the -d of a wrk command line, in seconds (wrk's default is 10 s)
  local d="10s" prev="" a
  for a in "$@"; do
    case "$prev" in -d|--duration) d="$a" ;; esac
    case "$a" in -d?*) d="${a#-d}" ;; --duration=*) d="${a#--duration=}" ;; esac
    prev="$a"
  done
  case "$d" in *ms) echo 1 ;; *s) echo "${d%s}" ;; *m) echo $(( ${d%m} * 60 )) ;; *h) echo $(( ${d%h} * 3600 )) ;; *) echo "$d" ;; esac
}

bench_table() { printf '%s\n' "| endpoint | requests/s | P50 (ms) | P99 (ms) | errors |" "|---|---:|---:|---:|---:|" "${bench_rows[@]}"; }

bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }

bench_machine() {
  echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo) GiB RAM, $(uname -sr), .NET SDK $(dotnet --version); wrk and the servers share these CPUs."
}

bench_commit() { git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo unknown; }

# Appends an entry to RESULTS.md unless BENCH_NO_RECORD=1: title, the exact command, then the body (markdown).
bench_record() { # title command body
  [[ "${BENCH_NO_RECORD:-}" == "1" ]] && return 0
  { echo; echo "## $(date -u '+%Y-%m-%d %H:%M UTC') · $1"; echo; bench_machine; echo "Command: \`$2\` (commit $(bench_commit))"; echo; echo "$3"; } >>"$BENCH_RESULTS"
  echo "Appended to eng/bench/RESULTS.md." >&2
}

# Starts one .NET service built by bench_build on a free loopback port, in Production, with the shared cache and
# messaging connection strings; waits for health-path. Sets <name>_url and <name>_pid (dashes become underscores).
# bench_service_nice=N before the call starts the service with nice value N (as the AppHost's WithCpuPriority does).
bench_start_service() { # name dll health-path env...
  local name="$1" dll="$2" health="$3"; shift 3
  local port; port=$(bench_free_port)
  local url="http://127.0.0.1:$port"
  env ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning ASPNETCORE_URLS="$url" OTEL_SERVICE_NAME="$name" \
    ConnectionStrings__cache="$cache_cs" ConnectionStrings__messaging="$messaging_cs" "$@" \
    nice -n "${bench_service_nice:-0}" dotnet "$BENCH_OUT/$dll" >"$BENCH_OUT/$name.log" 2>&1 &
  bench_pids+=($!)
  printf -v "${name//-/_}_pid" '%s' "$!"
  bench_wait_for "$name" curl -fsS "$url$health"
  printf -v "${name//-/_}_url" '%s' "$url"
}

# The settings the AppHost gives (BazaarModel): the saga yields while placement is at a peak of 500 orders in 1-2 s
# (BENCH_SAGA_YIELD=0: never yields), and orderdb's outbox relay holds its events back meanwhile, in order-api and the
# worker (BENCH_RELAY_HOLD=0: never holds; since session 19). BENCH_WORKER_NICE=N starts the worker at nice N (the
# AppHost's WithCpuPriority; the AppHost does not use it for the worker: measured without effect, eng/bench/RESULTS.md).
bench_saga_yield=500
bench_relay_hold=500

# Builds and starts auth-api, catalog-api, order-api and the worker as the AppHost wires them (after
# bench_start_servers authdb catalogdb orderdb). Sets admin_password and <service>_url / <service>_pid.
bench_start_shop() {
  bench_build "$BENCH_REPO/Services/Auth/Bazaar.Auth.Api/Bazaar.Auth.Api.csproj" auth
  bench_build "$BENCH_REPO/Services/Catalog/Bazaar.Catalog.Api/Bazaar.Catalog.Api.csproj" catalog
  bench_build "$BENCH_REPO/Services/Order/Bazaar.Order.Api/Bazaar.Order.Api.csproj" order
  bench_build "$BENCH_REPO/Services/Worker/Bazaar.Worker/Bazaar.Worker.csproj" worker
  admin_password="bench-admin-$RANDOM$RANDOM"
  local worker_secret="bench-worker-$RANDOM$RANDOM$RANDOM"
  # Account setup is not what is measured: a tenth of the production hash cost keeps thousands of registrations short.
  bench_start_service auth-api auth/Bazaar.Auth.Api.dll /api/auth/.well-known/jwks.json ConnectionStrings__authdb="$(bench_db authdb)" \
    Auth__AdminPassword="$admin_password" Auth__SecretsDirectory="$bench_work/secrets" Auth__PasswordHashIterations=10000 \
    Auth__LoginRateLimit__PermitLimit=100000000 Auth__Clients__worker__Secret="$worker_secret"
  bench_start_service catalog-api catalog/Bazaar.Catalog.Api.dll /api/catalog/items/1 ConnectionStrings__catalogdb="$(bench_db catalogdb)" \
    "services__auth-api__http__0=$auth_api_url"
  local discovery=("services__auth-api__http__0=$auth_api_url" "services__catalog-api__http__0=$catalog_api_url")
  local relay_hold="Orders__RelayHold__PeakPlacements=${BENCH_RELAY_HOLD:-$bench_relay_hold}"
  bench_start_service order-api order/Bazaar.Order.Api.dll /alive ConnectionStrings__orderdb="$(bench_db orderdb)" "${discovery[@]}" "$relay_hold"
  bench_service_nice="${BENCH_WORKER_NICE:-0}" \
    bench_start_service worker worker/Bazaar.Worker.dll /alive ConnectionStrings__orderdb="$(bench_db orderdb)" "${discovery[@]}" \
    ServiceAuth__ClientId=worker ServiceAuth__ClientSecret="$worker_secret" Callbacks__SigningSecret="bench-callback-secret-0123456789" \
    Saga__Yield__PeakPlacements="${BENCH_SAGA_YIELD:-$bench_saga_yield}" "$relay_hold"
  bench_wait_for "order-api health" curl -fsS "$order_api_url/health"
  bench_wait_for "worker health" curl -fsS "$worker_url/health"
}

# CPU time (utime + stime) of each pid in clock ticks, space-separated; 0 for a pid that is gone.
bench_cpu_ticks() { # pid...
  local pid
  for pid in "$@"; do
    if [[ -n "$pid" && -r /proc/$pid/stat ]]; then sed 's/.*) //' "/proc/$pid/stat" | awk '{ printf "%s ", $12 + $13 }'; else printf '0 '; fi
  done
}
