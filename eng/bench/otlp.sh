#!/usr/bin/env bash
# The dashboard's OTLP benchmark, in one run:
#  1. ingest: spans/s the receiver (http/protobuf) stores in SQLite (bounded at 200,000 spans, so trimming is
#     included), from a sender in its own process posting 512-span ExportTraceServiceRequests for 10 s at fixed
#     offered rates and then as fast as the receiver answers. Counts what reached SQLite and what was shed.
#  2. added latency: a ServiceDefaults service's GET /json at a fixed moderate rate (open loop, latency from each
#     request's issue), without OTLP and with it (traces, metrics and logs exported to the receiver,
#     storage on), alternating twice; P50, P90, P99.
#  3. saturation: the same services under wrk; requests/s, P50, P99.
# Steps 2 and 3 also run a third copy exporting to a sink that stores nothing: the exporter's own cost, apart from
# the receiver's, which shares these CPUs.
# Usage: eng/bench/otlp.sh [wrk args]   (default -t2 -c64 -d10s --latency). Environment: RATE (fixed-rate step,
# default 2000 requests/s), INGEST_RATES (default "25000 50000 0"; 0 = as fast as it answers).
# Appends to eng/bench/RESULTS.md (BENCH_NO_RECORD=1 to skip).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap bench_cleanup EXIT

wrk_args=("$@")
[[ ${#wrk_args[@]} -eq 0 ]] && wrk_args=(-t2 -c64 -d10s --latency)
rate="${RATE:-2000}"
read -r -a ingest_rates <<<"${INGEST_RATES:-25000 50000 0}"
bench_require wrk wrk
bench_require curl curl
bench_work="$(mktemp -d)"

bench_build "$BENCH_DIR/otlp/Bazaar.Bench.Otlp.csproj" otlp
bench=(dotnet "$BENCH_OUT/otlp/Bazaar.Bench.Otlp.dll")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# The receiver as the AppHost runs it: workstation GC (the AppHost is not a web-SDK project), default limits.
# Started again on other ports if one was taken meanwhile.
for attempt in 1 2 3; do
  otlp_port=$(bench_free_port); api_port=$(bench_free_port)
  DOTNET_gcServer=0 ASPNETCORE_ENVIRONMENT=Production "${bench[@]}" receiver --otlp "http://127.0.0.1:$otlp_port" --api "http://127.0.0.1:$api_port" --data "$bench_work/receiver-$attempt" >"$BENCH_OUT/otlp-receiver.log" 2>&1 &
  receiver_pid=$!
  bench_pids+=("$receiver_pid")
  deadline=$(( SECONDS + 60 ))
  until curl -fsS -o /dev/null "http://127.0.0.1:$api_port/api/telemetry/stats" 2>/dev/null && curl -sS -o /dev/null -X POST "http://127.0.0.1:$otlp_port/v1/traces" 2>/dev/null; do
    kill -0 "$receiver_pid" 2>/dev/null || continue 2
    (( SECONDS < deadline )) || { echo "the receiver did not come up within 60 s" >&2; exit 1; }
    sleep 0.2
  done
  break
done
kill -0 "$receiver_pid" 2>/dev/null || { echo "the receiver could not start:" >&2; tail -5 "$BENCH_OUT/otlp-receiver.log" >&2; exit 1; }
sink_port=$(bench_free_port)
"${bench[@]}" sink --url "http://127.0.0.1:$sink_port" >"$BENCH_OUT/otlp-sink.log" 2>&1 &
bench_pids+=($!)
bench_wait_for "the sink" curl -sS -o /dev/null -X POST "http://127.0.0.1:$sink_port/v1/traces"

ingest_rows=()
for offered in "${ingest_rates[@]}"; do
  echo "Ingest: 4 senders x 512 spans/request for 10 s, offered ${offered/#0/max} spans/s..." >&2
  line=$(timeout 120 "${bench[@]}" send --otlp "http://127.0.0.1:$otlp_port/" --api "http://127.0.0.1:$api_port/" --seconds 10 --senders 4 --spans-per-request 512 --rate "$offered")
  echo "$line" >&2
  field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$line"; }
  ingest_rows+=("| $(field offered) | $(field spans_sent) | $(field spans_stored) | $(field spans_dropped) | $(field stored_seconds) | **$(field spans_per_second)** |")
done

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
# What the AppHost gives every project (Bazaar.Hosting's ProcessEnvironment).
exporting=(OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_SERVICE_NAME=bench-service OTEL_RESOURCE_ATTRIBUTES=service.instance.id=bench-service-0
  OTEL_BSP_SCHEDULE_DELAY=1000 OTEL_BLRP_SCHEDULE_DELAY=1000 OTEL_METRIC_EXPORT_INTERVAL=1000 OTEL_TRACES_SAMPLER=always_on)
start_service plain; plain_port=$service_port
start_service exported OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$otlp_port" "${exporting[@]}"; exported_port=$service_port
start_service sink OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" "${exporting[@]}"; sink_service_port=$service_port
labels=("without OTLP" "with OTLP to the receiver" "with OTLP to a sink")
ports=("$plain_port" "$exported_port" "$sink_service_port")

# A first load warms more than the JIT: the exporter's batches, the receiver's queue and a growing SQLite file.
for port in "${ports[@]}"; do timeout 30 wrk -t2 -c64 -d5s "http://127.0.0.1:$port/json" >/dev/null 2>&1 || true; done

# Alternating, so a change in the machine's other load does not favour one side.
latency_rows=()
declare -A p50s p99s
for round in 1 2; do
  for i in 0 1 2; do
    echo "Fixed rate $rate/s for 10 s: ${labels[i]} ($round)" >&2
    line=$(timeout 60 "${bench[@]}" load --url "http://127.0.0.1:${ports[i]}/json" --rate "$rate" --seconds 10 --connections 16)
    field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$line"; }
    latency_rows+=("| ${labels[i]} ($round) | $(field requests) | $(field errors) | $(field p50_ms) | $(field p90_ms) | $(field p99_ms) |")
    p50s[$i]+="$(field p50_ms) "; p99s[$i]+="$(field p99_ms) "
  done
done
declare -A rpss
for round in 1 2; do
  for i in 0 1 2; do
    bench_wrk "${labels[i]} ($round)" "http://127.0.0.1:${ports[i]}/json" "${wrk_args[@]}"; rpss[$i]+="$rps "
  done
done
sleep 2   # the exporter's last batch (1 s schedule delay)
stats=$(curl -fsS "http://127.0.0.1:$api_port/api/telemetry/stats")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

mean() { awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.3f", s / NF }' <<<"$1"; }
change() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (b / a - 1) * 100 }'; }
summary() { # index of the exporting side
  local i="$1"
  echo "P50 $(mean "${p50s[0]}") -> $(mean "${p50s[$i]}") ms ($(change "$(mean "${p50s[0]}")" "$(mean "${p50s[$i]}")")), P99 $(mean "${p99s[0]}") -> $(mean "${p99s[$i]}") ms ($(change "$(mean "${p99s[0]}")" "$(mean "${p99s[$i]}")")) at $rate requests/s; requests/s at saturation $(mean "${rpss[0]}") -> $(mean "${rpss[$i]}") ($(change "$(mean "${rpss[0]}")" "$(mean "${rpss[$i]}")"))"
}
body=$(cat <<BODY
Load average before / after: $load_before / $load_after.

Ingest with storage on (receiver bounded at 200,000 spans; a sender process, 4 connections, 512 spans per request, 10 s per row; "max" posts as fast as the receiver answers):

| offered spans/s | sent | stored | dropped (queue full) | seconds until stored | stored spans/s |
|---|---:|---:|---:|---:|---:|
$(printf '%s\n' "${ingest_rows[@]}")

Fixed rate (open loop at $rate requests/s, latency from each request's issue, driver: HttpClient with 16 connections):

| ServiceDefaults GET /json | requests | errors | P50 (ms) | P90 (ms) | P99 (ms) |
|---|---:|---:|---:|---:|---:|
$(printf '%s\n' "${latency_rows[@]}")

Saturation:

$(bench_table | sed '1s/endpoint/ServiceDefaults GET \/json/')

Exporter to the receiver, mean of both rounds: $(summary 1).
Exporter to a sink (the exporter alone): $(summary 2).
Receiver after the run: \`$stats\`
BODY
)
echo; echo "$body"
bench_record "dashboard OTLP receiver: ingest rate and exporter overhead" "eng/bench/otlp.sh${*:+ $*} (RATE=$rate, wrk ${wrk_args[*]})" "$body"
