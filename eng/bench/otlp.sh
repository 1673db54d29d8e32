#!/usr/bin/env bash
# The dashboard's OTLP benchmark, in one run:
#  1. ingest: spans/s the receiver (http/protobuf) takes in AND stores in SQLite (bounded at 200,000 spans, so
#     trimming is included); 4 senders post 512-span ExportTraceServiceRequests for 10 s, the rate counts until the
#     last span is in SQLite.
#  2. latency: a ServiceDefaults service's GET /json under wrk, without OTLP (no OTEL_EXPORTER_OTLP_ENDPOINT) and with
#     it (traces, metrics and logs exported to the receiver, storage on), alternating twice; requests/s, P50, P99.
# Usage: eng/bench/otlp.sh [wrk args]   (default -t2 -c64 -d10s --latency). Appends to eng/bench/RESULTS.md
# (BENCH_NO_RECORD=1 to skip).
set -euo pipefail

wrk_args=("$@")
[[ ${#wrk_args[@]} -eq 0 ]] && wrk_args=(-t2 -c64 -d10s --latency)
[[ " ${wrk_args[*]} " == *" --latency "* ]] || wrk_args+=(--latency)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$here/.out/otlp"
results="$here/RESULTS.md"
mkdir -p "$out"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed: apt-get install -y curl" >&2; exit 1; }

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 40000 ))
    ss -Htln "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
  done
  echo "no free port found" >&2; exit 1
}

echo "Building eng/bench/otlp (Release)..." >&2
dotnet build "$here/otlp/Bazaar.Bench.Otlp.csproj" -c Release -o "$out/bin" -nologo -v q >"$out/build.log" 2>&1 \
  || { cat "$out/build.log" >&2; exit 1; }
bench=(dotnet "$out/bin/Bazaar.Bench.Otlp.dll")

pids=()
data="$(mktemp -d)"
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$data"
}
trap cleanup EXIT

echo "Ingest: 4 senders x 512 spans/request for 10 s into the receiver with SQLite storage..." >&2
load_before=$(cut -d' ' -f1 /proc/loadavg)
ingest=$(timeout 180 "${bench[@]}" ingest --seconds 10 --senders 4 --spans-per-request 512 --data "$data/ingest")
echo "$ingest" >&2
spans_per_second=$(sed -n 's/.*spans_per_second=\([0-9]*\).*/\1/p' <<<"$ingest")

otlp_port=$(free_port); api_port=$(free_port)
ASPNETCORE_ENVIRONMENT=Production "${bench[@]}" receiver --otlp "http://127.0.0.1:$otlp_port" --api "http://127.0.0.1:$api_port" --data "$data/receiver" >"$out/receiver.log" 2>&1 &
pids+=($!)

start_service() { # name port [env...]
  local name="$1" port="$2"; shift 2
  env ASPNETCORE_ENVIRONMENT=Production ASPNETCORE_URLS="http://127.0.0.1:$port" "$@" "${bench[@]}" service >"$out/$name.log" 2>&1 &
  pids+=($!)
}
plain_port=$(free_port); exported_port=$(free_port)
start_service plain "$plain_port"
start_service exported "$exported_port" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$otlp_port" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
  OTEL_SERVICE_NAME=bench-service OTEL_RESOURCE_ATTRIBUTES=service.instance.id=bench-service-0 \
  OTEL_BSP_SCHEDULE_DELAY=1000 OTEL_BLRP_SCHEDULE_DELAY=1000 OTEL_METRIC_EXPORT_INTERVAL=1000

deadline=$(( SECONDS + 60 ))
for url in "http://127.0.0.1:$plain_port/json" "http://127.0.0.1:$exported_port/json" "http://127.0.0.1:$api_port/api/telemetry/stats"; do
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    (( SECONDS < deadline )) || { echo "$url did not answer within 60 s" >&2; tail -20 "$out"/*.log >&2; exit 1; }
    sleep 0.2
  done
done

to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v/1000; else if (v ~ /ms$/) printf "%.3f", v+0; else if (v ~ /m$/) printf "%.3f", v*60000; else printf "%.3f", v*1000 }'; }
rows=""
run_wrk() { # label url
  local label="$1" url="$2" file="$out/wrk-$1.txt"
  timeout 20 wrk -t1 -c8 -d2s "$url" >/dev/null 2>&1 || true
  echo "wrk ${wrk_args[*]} $url  ($label)" >&2
  timeout 60 wrk "${wrk_args[@]}" "$url" >"$file" 2>&1 || { cat "$file" >&2; exit 1; }
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$file")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$file")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$file")")
  errors=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$file")
  rows+="| $label | $rps | $p50 | $p99 | $errors |"$'\n'
  printf '%s %s %s\n' "$rps" "$p50" "$p99" >>"$out/series-${label%% *}.txt"
}
rm -f "$out"/series-*.txt
run_wrk "without OTLP (1)" "http://127.0.0.1:$plain_port/json"
run_wrk "with OTLP (1)" "http://127.0.0.1:$exported_port/json"
run_wrk "without OTLP (2)" "http://127.0.0.1:$plain_port/json"
run_wrk "with OTLP (2)" "http://127.0.0.1:$exported_port/json"
sleep 2   # the exporter's last batch (1 s schedule delay)
stats=$(curl -fsS "http://127.0.0.1:$api_port/api/telemetry/stats")
load_after=$(cut -d' ' -f1 /proc/loadavg)

mean() { awk -v c="$2" '{ s += $c; n++ } END { printf "%.3f", (n ? s / n : 0) }' "$out/series-$1.txt"; }
summary=$(awk -v r0="$(mean without 1)" -v r1="$(mean with 1)" -v a0="$(mean without 2)" -v a1="$(mean with 2)" -v b0="$(mean without 3)" -v b1="$(mean with 3)" 'BEGIN {
  printf "Mean of both rounds: requests/s %.0f without, %.0f with (%+.1f%%); P50 %.3f -> %.3f ms (%+.1f%%); P99 %.3f -> %.3f ms (%+.1f%%).",
    r0, r1, (r1 / r0 - 1) * 100, a0, a1, (a1 / a0 - 1) * 100, b0, b1, (b1 / b0 - 1) * 100 }')
table=$(cat <<TABLE
Ingest with storage on: **${spans_per_second} spans/s** (\`$ingest\`).

| ServiceDefaults GET /json | requests/s | P50 (ms) | P99 (ms) | errors |
|---|---:|---:|---:|---:|
${rows%$'\n'}

$summary
Receiver after the run: \`$stats\`
TABLE
)
echo; echo "$table"

if [[ "${BENCH_NO_RECORD:-}" != "1" ]]; then
  mem_gib=$(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
  cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') · dashboard OTLP receiver: ingest rate and exporter overhead"
    echo
    echo "Machine: $(nproc) CPUs (${cpu_model:-unknown}), ${mem_gib} GiB RAM, $(uname -sr), .NET SDK $(dotnet --version); senders, receiver, services and wrk share these CPUs. Load average before/after: $load_before / $load_after."
    echo "Command: \`eng/bench/otlp.sh${*:+ $*}\` (wrk ${wrk_args[*]}; commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo
    echo "$table"
  } >>"$results"
  echo; echo "Appended to ${results#"$repo"/}." >&2
fi
