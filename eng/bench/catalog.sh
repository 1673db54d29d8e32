#!/usr/bin/env bash
# Benchmarks catalog-api's hot reads with eng/bench/bench.sh (wrk, the bare endpoint measured in the same run):
#   GET /api/catalog/items/{id} and GET /api/catalog/items?pageSize=20, warm, with the two-level cache on and off.
# Starts its own Redis, MariaDB and RabbitMQ on free loopback ports in a temporary directory (eng/bench/lib.sh), runs
# catalog-api in Release and Production against them, appends every figure to eng/bench/RESULTS.md, and stops
# everything it started.
# Usage: eng/bench/catalog.sh [wrk args...]      (default: -t2 -c64 -d10s --latency)
set -euo pipefail
BENCH_OUT="${BENCH_OUT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.out/catalog}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap bench_cleanup EXIT

bench_start_servers catalogdb
bench_build "$BENCH_REPO/Services/Catalog/Bazaar.Catalog.Api/Bazaar.Catalog.Api.csproj" catalog

run_catalog() { # cache on|off -> sets catalog_pid, catalog_url
  local port; port=$(bench_free_port)
  catalog_url="http://127.0.0.1:$port"
  ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning ASPNETCORE_URLS="$catalog_url" \
    ConnectionStrings__catalogdb="$(bench_db catalogdb)" ConnectionStrings__cache="$cache_cs" \
    ConnectionStrings__messaging="$messaging_cs" Caching__Enabled="$1" \
    dotnet "$BENCH_OUT/catalog/Bazaar.Catalog.Api.dll" >"$BENCH_OUT/catalog-cache-$1.log" 2>&1 &
  catalog_pid=$!
  bench_pids+=("$catalog_pid")
  bench_wait_for "catalog-api" curl -fsS "$catalog_url/api/catalog/items/1"
}

for cache in true false; do
  run_catalog "$cache"
  state=$([[ $cache == true ]] && echo "cache on" || echo "cache off")
  BENCH_LABEL="catalog-api GET /api/catalog/items/{id}, $state (Release, Production, one replica, warm)" \
    "$BENCH_DIR/bench.sh" "$catalog_url/api/catalog/items/42" "$@"
  BENCH_LABEL="catalog-api GET /api/catalog/items?pageSize=20, $state (Release, Production, one replica, warm)" \
    "$BENCH_DIR/bench.sh" "$catalog_url/api/catalog/items?pageSize=20" "$@"
  kill "$catalog_pid"; wait "$catalog_pid" 2>/dev/null || true
done
