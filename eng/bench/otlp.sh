#!/usr/bin/env bash
# The dashboard's OTLP benchmark, in one run:
#  1. ingest: spans/s the receiver (http/protobuf) takes in AND stores in SQLite (bounded at 200,000 spans, so
#     trimming is included); 4 senders post 512-span ExportTraceServiceRequests for 10 s, and the rate counts until
#     the last span is in SQLite.
#  2. latency: a ServiceDefaults service's GET /json under wrk, without OTLP (no OTEL_EXPORTER_OTLP_ENDPOINT) and with
#     it (traces, metrics and logs exported to the receiver, storage on), alternating twice; requests/s, P50, P99.
# Usage: eng/bench/otlp.sh [wrk args]   (default -t2 -c64 -d10s --latency). Appends to eng/bench/RESULTS.md
# (BENCH_NO_RECORD=1 to skip).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap bench_cleanup EXIT

wrk_args=("$@")
[[ ${#wrk_args[@]} -eq 0 ]] && wrk_args=(-t2 -c64 -d10s --latency)
bench_require wrk wrk
bench_require curl curl
bench_work="$(mktemp -d)"

bench_build "$BENCH_DIR/otlp/Bazaar.Bench.Otlp.csproj" otlp
bench=(dotnet "$BENCH_OUT/otlp/Bazaar.Bench.Otlp.dll")

echo "Ingest: 4 senders x 512 spans/request for 10 s into the receiver with SQLite storage..." >&2
load_before=$(cut -d' ' -f1 /proc/loadavg)
ingest=$(timeout 180 "${bench[@]}" ingest --seconds 10 --senders 4 --spans-per-request 512 --data "$bench_work/ingest")
echo "$ingest" >&2
spans_per_second=$(sed -n 's/.*spans_per_second=\([0-9]*\).*/\1/p' <<<"$ingest")

otlp_port=$(bench_free_port); api_port=$(bench_free_port)
ASPNETCORE_ENVIRONMENT=Production "${bench[@]}" receiver --otlp "http://127.0.0.1:$otlp_port" --api "http://127.0.0.1:$api_port" --data "$bench_work/receiver" >"$BENCH_OUT/otlp-receiver.log" 2>&1 &
bench_pids+=($!)

# Starts the service on a free port, again on another one if that port was taken meanwhile; sets service_port.
start_service() { # name [env...]
  local name="$1" attempt pid; shift
  for attempt in 1 2 3; do
    service_port=$(bench_free_port)
    env ASPNETCORE_ENVIRONMENT=Production ASPNETCORE_URLS="http://127.0.0.1:$service_port" "$@" "${bench[@]}" service >"$BENCH_OUT/otlp-$name.log" 2>&1 &
    pid=$!
    bench_pids+=("$pid")
    local deadline=$(( SECONDS + 60 ))
    until curl -fsS -o /dev/null "http://127.0.0.1:$service_port/json" 2>/dev/null; do
      kill -0 "$pid" 2>/dev/null || continue 2
      (( SECONDS < deadline )) || { echo "the service ($name) did not come up within 60 s" >&2; exit 1; }
      sleep 0.2
    done
    return 0
  done
  echo "the service ($name) could not start:" >&2; tail -5 "$BENCH_OUT/otlp-$name.log" >&2; exit 1
}
start_service plain; plain_port=$service_port
start_service exported OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$otlp_port" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
  OTEL_SERVICE_NAME=bench-service OTEL_RESOURCE_ATTRIBUTES=service.instance.id=bench-service-0 \
  OTEL_BSP_SCHEDULE_DELAY=1000 OTEL_BLRP_SCHEDULE_DELAY=1000 OTEL_METRIC_EXPORT_INTERVAL=1000
exported_port=$service_port
bench_wait_for "the receiver" curl -fsS -o /dev/null "http://127.0.0.1:$api_port/api/telemetry/stats"

# A first load warms more than the JIT: the exporter's batches, the receiver's queue and a growing SQLite file.
# Not measured; without it the first exporting round measured the start-up of the whole pipeline.
for port in "$plain_port" "$exported_port"; do timeout 30 wrk -t2 -c64 -d5s "http://127.0.0.1:$port/json" >/dev/null 2>&1 || true; done

# Alternating, so a change in the machine's other load does not favour one side.
without=(); with=()
for round in 1 2; do
  bench_wrk "without OTLP ($round)" "http://127.0.0.1:$plain_port/json" "${wrk_args[@]}"; without+=("$rps $p50 $p99")
  bench_wrk "with OTLP ($round)" "http://127.0.0.1:$exported_port/json" "${wrk_args[@]}"; with+=("$rps $p50 $p99")
done
sleep 2   # the exporter's last batch (1 s schedule delay)
stats=$(curl -fsS "http://127.0.0.1:$api_port/api/telemetry/stats")
load_after=$(cut -d' ' -f1 /proc/loadavg)

mean() { printf '%s\n' "$@" | awk -v c="$COLUMN" '{ s += $c; n++ } END { printf "%.3f", s / n }'; }
change() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (b / a - 1) * 100 }'; }
summary=""
for column in 1 2 3; do
  a=$(COLUMN=$column mean "${without[@]}"); b=$(COLUMN=$column mean "${with[@]}")
  summary+="$( [[ $column == 1 ]] && echo "requests/s" || { [[ $column == 2 ]] && echo "; P50 (ms)" || echo "; P99 (ms)"; } ) $a -> $b ($(change "$a" "$b"))"
done
body=$(cat <<BODY
Ingest with storage on: **${spans_per_second} spans/s** (\`$ingest\`). Load average before/after: $load_before / $load_after.

$(bench_table | sed '1s/endpoint/ServiceDefaults GET \/json/')

Without -> with the exporter, mean of both rounds: $summary.
Receiver after the run: \`$stats\`
BODY
)
echo; echo "$body"
bench_record "dashboard OTLP receiver: ingest rate and exporter overhead" "eng/bench/otlp.sh${*:+ $*} (wrk ${wrk_args[*]})" "$body"
