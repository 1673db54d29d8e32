#!/usr/bin/env bash
# Benchmarks catalog-api's hot reads with eng/bench/bench.sh (wrk, the bare endpoint measured in the same run):
#   GET /api/catalog/items/{id} and GET /api/catalog/items?pageSize=20, warm, with the two-level cache on and off.
# Starts its own Redis, MariaDB and RabbitMQ on free loopback ports in a temporary directory, runs catalog-api in
# Release and Production against them, appends every figure to eng/bench/RESULTS.md, and stops everything it started.
# Usage: eng/bench/catalog.sh [wrk args...]      (default: -t2 -c64 -d10s --latency)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$(mktemp -d /tmp/bazaar-bench-catalog.XXXXXX)"
out="$here/.out/catalog"
mkdir -p "$out"
pids=()

cleanup() {
  # The broker's start script forks the Erlang VM: stop the VM by its own pid file too.
  [[ -s "$work/rabbit/pid" ]] && pids+=("$(cat "$work/rabbit/pid")")
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 40000 ))
    ss -Htln "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
  done
  echo "no free port found" >&2; exit 1
}

wait_for() { # what, command...
  local what="$1"; shift
  local deadline=$(( SECONDS + 60 ))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { echo "$what did not come up within 60 s" >&2; exit 1; }
    sleep 0.2
  done
}

password="bench$RANDOM$RANDOM"

echo "Starting Redis, MariaDB and RabbitMQ in $work ..." >&2
redis_port=$(free_port)
mkdir -p "$work/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --save '' --appendonly no --requirepass "$password" \
  >"$out/redis.log" 2>&1 &
pids+=($!)

mysql_port=$(free_port)
mariadb-install-db --no-defaults --datadir="$work/mysql" --auth-root-authentication-method=normal --skip-test-db >"$out/mysql-install.log" 2>&1
mariadbd --no-defaults --datadir="$work/mysql" --port="$mysql_port" --socket="$work/mysql/mysqld.sock" \
  --bind-address=127.0.0.1 --user=root --max-connections=500 >"$out/mysql.log" 2>&1 &
pids+=($!)

amqp_port=$(free_port); dist_port=$(free_port)
mkdir -p "$work/rabbit"
echo "listeners.tcp.default = 127.0.0.1:$amqp_port" >"$work/rabbit/rabbitmq.conf"
echo "[]." >"$work/rabbit/enabled_plugins"
HOME="$work/rabbit" RABBITMQ_NODENAME="bench$amqp_port@localhost" RABBITMQ_NODE_PORT="$amqp_port" RABBITMQ_DIST_PORT="$dist_port" \
  RABBITMQ_MNESIA_BASE="$work/rabbit/mnesia" RABBITMQ_LOG_BASE="$work/rabbit/log" RABBITMQ_CONFIG_FILE="$work/rabbit/rabbitmq" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$work/rabbit/enabled_plugins" RABBITMQ_PID_FILE="$work/rabbit/pid" \
  /usr/lib/rabbitmq/bin/rabbitmq-server >"$out/rabbitmq.log" 2>&1 &
pids+=($!)

wait_for "Redis" redis-cli -p "$redis_port" -a "$password" --no-auth-warning ping
wait_for "MariaDB" mariadb --socket="$work/mysql/mysqld.sock" -uroot -e "SELECT 1"
mariadb --socket="$work/mysql/mysqld.sock" -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$password'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; CREATE DATABASE catalogdb; ALTER USER 'root'@'localhost' IDENTIFIED BY '$password';"
wait_for "RabbitMQ" bash -c "exec 3<>/dev/tcp/127.0.0.1/$amqp_port"
# The broker's default guest user may log in from loopback only, which is where the catalog is.
messaging="amqp://guest:guest@127.0.0.1:$amqp_port"

echo "Building catalog-api (Release)..." >&2
dotnet build "$repo/Services/Catalog/Bazaar.Catalog.Api/Bazaar.Catalog.Api.csproj" -c Release -o "$out/catalog" -nologo -v q \
  >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }

run_catalog() { # cache on|off -> sets catalog_pid, catalog_url
  local port; port=$(free_port)
  catalog_url="http://127.0.0.1:$port"
  ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning ASPNETCORE_URLS="$catalog_url" \
    ConnectionStrings__catalogdb="Server=127.0.0.1;Port=$mysql_port;User ID=root;Password=$password;Database=catalogdb;SslMode=None" \
    ConnectionStrings__cache="127.0.0.1:$redis_port,password=$password" \
    ConnectionStrings__messaging="$messaging" \
    Caching__Enabled="$1" \
    dotnet "$out/catalog/Bazaar.Catalog.Api.dll" >"$out/catalog-cache-$1.log" 2>&1 &
  catalog_pid=$!
  pids+=("$catalog_pid")
  wait_for "catalog-api" curl -fsS "$catalog_url/api/catalog/items/1"
}


for cache in true false; do
  run_catalog "$cache"
  state=$([[ $cache == true ]] && echo "cache on" || echo "cache off")
  BENCH_LABEL="catalog-api GET /api/catalog/items/{id}, $state (Release, Production, one replica, warm)" \
    "$here/bench.sh" "$catalog_url/api/catalog/items/42" "$@"
  BENCH_LABEL="catalog-api GET /api/catalog/items?pageSize=20, $state (Release, Production, one replica, warm)" \
    "$here/bench.sh" "$catalog_url/api/catalog/items?pageSize=20" "$@"
  kill "$catalog_pid"; wait "$catalog_pid" 2>/dev/null || true
done
