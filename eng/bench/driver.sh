#!/usr/bin/env bash
# The MySQL driver's own cost per operation (pooled open, one round trip, a transaction through BeginTransaction/Commit
# and the same as one batch), on one thread against a MariaDB of its own; appended to eng/bench/RESULTS.md
# (BENCH_NO_RECORD=1 to skip). The services' throughput is bounded by these figures: read them before swapping drivers
# or batching statements. Usage: eng/bench/driver.sh [operations per shape]   (default 3000)
set -euo pipefail
BENCH_OUT="${BENCH_OUT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.out/driver}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap bench_cleanup EXIT

operations="${1:-3000}"
bench_start_servers benchdb
bench_build "$BENCH_DIR/driver/Bazaar.Bench.Driver.csproj" driver
table=$(timeout 600 dotnet "$BENCH_OUT/driver/Bazaar.Bench.Driver.dll" "$(bench_db benchdb)" "$operations")
echo "$table"
bench_record "MySQL driver cost per operation (MySqlConnector, one thread, Release)" "eng/bench/driver.sh $operations" \
  "$table

Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
