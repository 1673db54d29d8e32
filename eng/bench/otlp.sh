#!/usr/bin/env bash
# The dashboard's OTLP benchmark, in one run:
#  1. ingest: spans/s the receiver (http/protobuf) stores in SQLite (bounded at 200,000 spans, so trimming is
#     included), from a sender in its own process posting 512-span ExportTraceServiceRequests for 10 s at fixed
#     offered rates and then as fast as the receiver answers. Counts what reached SQLite and what was shed.
#  2. added latency: a ServiceDefaults service's GET /json at a fixed moderate rate (open loop, latency from each
#     request's issue), without OTLP and with it (traces, metrics and logs exported to the receiver, storage on);
#     P50, P90, P99.
#  3. paired: every side at once, requests taking turns (PAIRED_RATE per side, default 1000, PAIRED_SECONDS long,
#     default 20), so the machine's other load meets every side alike.
#  4. saturation: the same services under wrk; requests/s, P50, P99.
# Steps 2 and 3 also read each service's CPU time (user + system, /proc) per request: the exporter's cost inside the
# service, which a latency at a moderate rate cannot resolve on a shared 2-CPU machine.
# Every side is warmed first: 5 s under wrk, then WARM_SECONDS (default 120) at 200 requests/s each.
# Steps 2-4 also run a copy exporting to a sink that stores nothing (the exporter's own cost, apart from the
# receiver's, which shares these CPUs) and a second identical copy without OTLP (the noise between identical
# services). They run in ROUNDS interleaved rounds, each side once per round in a rotating order; the summary gives
# medians over rounds and each side's per-round change against that round's two "without" runs.
# Usage: eng/bench/otlp.sh [wrk args]   (default -t2 -c64 -d10s --latency). Environment: RATE (fixed-rate step,
# default 2000 requests/s, LOAD_SECONDS long, default 10), ROUNDS (default 5; the session-2 version ran 2), INGEST_RATES (default "25000 50000 0";
# 0 = as fast as it answers), BASELINE (a directory holding another build of Bazaar.Bench.Otlp, e.g. built from an
# earlier commit: its receiver runs beside this one, in the ingest step and with a service of its own built from the
# same commit, so a change to the receiver or to ServiceDefaults is measured against the old one in the same run).
# Appends to eng/bench/RESULTS.md (BENCH_NO_RECORD=1 to skip).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap bench_cleanup EXIT

wrk_args=("$@")
[[ ${#wrk_args[@]} -eq 0 ]] && wrk_args=(-t2 -c64 -d10s --latency)
rate="${RATE:-2000}"
rounds="${ROUNDS:-5}"
load_seconds="${LOAD_SECONDS:-10}"
paired_rate="${PAIRED_RATE:-1000}"
paired_seconds="${PAIRED_SECONDS:-20}"
read -r -a ingest_rates <<<"${INGEST_RATES:-25000 50000 0}"
bench_require wrk wrk
bench_require curl curl
bench_work="$(mktemp -d)"

bench_build "$BENCH_DIR/otlp/Bazaar.Bench.Otlp.csproj" otlp
bench=(dotnet "$BENCH_OUT/otlp/Bazaar.Bench.Otlp.dll")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# Starts a process on freshly chosen ports, again on others (3 tries) if one was taken between the choice and the bind,
# and waits up to 60 s for it to answer. choose (given the attempt) picks the ports and sets cmd; ready tests it. Sets
# started_pid.
start_on_free_ports() { # name choose ready
  local name="$1" choose="$2" ready="$3" attempt deadline
  for attempt in 1 2 3; do
    "$choose" "$attempt"
    "${cmd[@]}" >"$BENCH_OUT/otlp-$name.log" 2>&1 &
    started_pid=$!
    bench_pids+=("$started_pid")
    deadline=$(( SECONDS + 60 ))
    until "$ready" 2>/dev/null; do
      kill -0 "$started_pid" 2>/dev/null || continue 2
      (( SECONDS < deadline )) || { echo "$name did not come up within 60 s" >&2; exit 1; }
      sleep 0.2
    done
    return 0
  done
  echo "$name could not start:" >&2; tail -5 "$BENCH_OUT/otlp-$name.log" >&2; exit 1
}

# The receiver as the AppHost runs it: workstation GC (the AppHost is not a web-SDK project), default limits.
# Sets otlp_port and api_port.
start_receiver() { # name dll
  receiver_name="$1" receiver_dll="$2"
  start_on_free_ports "$1" choose_receiver_ports receiver_ready
}
choose_receiver_ports() { # attempt
  otlp_port=$(bench_free_port); api_port=$(bench_free_port)
  cmd=(env DOTNET_gcServer=0 ASPNETCORE_ENVIRONMENT=Production dotnet "$receiver_dll" receiver --otlp "http://127.0.0.1:$otlp_port"
    --api "http://127.0.0.1:$api_port" --data "$bench_work/$receiver_name-$1")
}
receiver_ready() {
  curl -fsS -o /dev/null "http://127.0.0.1:$api_port/api/telemetry/stats" && curl -sS -o /dev/null -X POST "http://127.0.0.1:$otlp_port/v1/traces"
}
baseline_port=""; baseline_api_port=""; baseline_note=""
if [[ -n "${BASELINE:-}" ]]; then
  [[ -f "$BASELINE/Bazaar.Bench.Otlp.dll" ]] || { echo "BASELINE=$BASELINE holds no Bazaar.Bench.Otlp.dll" >&2; exit 2; }
  start_receiver baseline-receiver "$BASELINE/Bazaar.Bench.Otlp.dll"; baseline_port=$otlp_port; baseline_api_port=$api_port
  baseline_note=" Baseline receiver: the build in $BASELINE ($(cat "$BASELINE/commit.txt" 2>/dev/null || echo "commit unknown"))."
fi
start_receiver receiver "$BENCH_OUT/otlp/Bazaar.Bench.Otlp.dll"
sink_port=$(bench_free_port)
"${bench[@]}" sink --url "http://127.0.0.1:$sink_port" >"$BENCH_OUT/otlp-sink.log" 2>&1 &
bench_pids+=($!)
bench_wait_for "the sink" curl -sS -o /dev/null -X POST "http://127.0.0.1:$sink_port/v1/traces"

ingest_rows=()
ingest() { # label otlp-port api-port offered
  echo "Ingest ($1): 4 senders x 512 spans/request for 10 s, offered ${4/#0/max} spans/s..." >&2
  line=$(timeout 120 "${bench[@]}" send --otlp "http://127.0.0.1:$2/" --api "http://127.0.0.1:$3/" --seconds 10 --senders 4 --spans-per-request 512 --rate "$4")
  echo "$line" >&2
  field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$line"; }
  ingest_rows+=("| $(field offered)$5 | $(field spans_sent) | $(field spans_stored) | $(field spans_dropped) | $(field stored_seconds) | **$(field spans_per_second)** |")
}
for offered in "${ingest_rates[@]}"; do
  ingest receiver "$otlp_port" "$api_port" "$offered" ""
  [[ -n "$baseline_port" ]] && ingest baseline "$baseline_port" "$baseline_api_port" "$offered" " (baseline receiver)"
done

# Starts the service (from this build, or the dll given) on a free port; sets service_port and service_pid.
start_service() { # name [env...]
  local name="$1"; shift
  service_env=("$@")
  service_run_dll="${service_dll:-$BENCH_OUT/otlp/Bazaar.Bench.Otlp.dll}"
  start_on_free_ports "$name" choose_service_port service_ready
  service_pid=$started_pid
}
choose_service_port() {
  service_port=$(bench_free_port)
  cmd=(env ASPNETCORE_ENVIRONMENT=Production ASPNETCORE_URLS="http://127.0.0.1:$service_port" "${service_env[@]}" dotnet "$service_run_dll" service)
}
service_ready() { curl -fsS -o /dev/null "http://127.0.0.1:$service_port/json"; }
# What the AppHost gives every project (Bazaar.Hosting's ProcessEnvironment).
exporting=(OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_SERVICE_NAME=bench-service OTEL_RESOURCE_ATTRIBUTES=service.instance.id=bench-service-0
  OTEL_BSP_SCHEDULE_DELAY=1000 OTEL_BLRP_SCHEDULE_DELAY=1000 OTEL_METRIC_EXPORT_INTERVAL=1000 OTEL_TRACES_SAMPLER=always_on)
start_service plain; plain_port=$service_port; plain_pid=$service_pid
start_service plain2; plain2_port=$service_port; plain2_pid=$service_pid
start_service exported OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$otlp_port" "${exporting[@]}"; exported_port=$service_port; exported_pid=$service_pid
start_service sink OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" "${exporting[@]}"; sink_service_port=$service_port; sink_service_pid=$service_pid
# Two identical services without OTLP: the difference between them is the noise every other figure is read against.
labels=("without OTLP" "with OTLP to the receiver" "with OTLP to a sink" "without OTLP, second copy")
ports=("$plain_port" "$exported_port" "$sink_service_port" "$plain2_port")
service_pids=("$plain_pid" "$exported_pid" "$sink_service_pid" "$plain2_pid")
if [[ -n "$baseline_port" ]]; then
  # The baseline's own service, so its ServiceDefaults (the exporter's setup inside the service) is measured too.
  service_dll="$BASELINE/Bazaar.Bench.Otlp.dll" start_service baseline OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$baseline_port" "${exporting[@]}"
  labels+=("with OTLP to the baseline receiver"); ports+=("$service_port"); service_pids+=("$service_pid")
fi
sides=${#ports[@]}

# A first load warms more than the JIT: the exporter's batches, the receiver's queue and a growing SQLite file.
for port in "${ports[@]}"; do timeout 30 wrk -t2 -c64 -d5s "http://127.0.0.1:$port/json" >/dev/null 2>&1 || true; done
# Then every side at a low rate for WARM_SECONDS (default 120): the exporter's own code runs about once a second (a
# metric collection and export, a span batch), so .NET's tiered JIT recompiles it only after some 30 calls each; until
# then the tiering thread's compiling shows up as the exporting services' CPU (measured idle: 9-11 ms per second in
# the first minute, against 1.3 for the same service after 150 s and 0.7 without an exporter).
all_urls=""; for port in "${ports[@]}"; do all_urls+="${all_urls:+,}http://127.0.0.1:$port/json"; done
echo "Warming every side at 200/s for ${WARM_SECONDS:-120} s (the exporters' once-a-second paths)" >&2
timeout $(( ${WARM_SECONDS:-120} + 60 )) "${bench[@]}" paired --urls "$all_urls" --rate 200 --seconds "${WARM_SECONDS:-120}" --connections 4 >/dev/null

# Interleaved: each round runs every side once, starting one side later than the round before, so neither a drift
# in the machine's other load nor a position in the round favours one side.
order() { local round=$1 k; for (( k = 0; k < sides; k++ )); do echo $(( (k + round - 1) % sides )); done; }
latency_rows=()
declare -A p50s p99s cpus
clk_tck=$(getconf CLK_TCK)
for (( round = 1; round <= rounds; round++ )); do
  for i in $(order "$round"); do
    echo "Fixed rate $rate/s for $load_seconds s: ${labels[i]} ($round/$rounds)" >&2
    ticks_before=$(bench_cpu_ticks "${service_pids[i]}")
    line=$(timeout 60 "${bench[@]}" load --url "http://127.0.0.1:${ports[i]}/json" --rate "$rate" --seconds "$load_seconds" --connections 16)
    ticks_after=$(bench_cpu_ticks "${service_pids[i]}")
    field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$line"; }
    # The service's own CPU (user + system) per request: what the exporter costs inside it, read from the kernel's
    # count rather than from a latency that every other process on the machine moves. 1 tick = 1/clk_tck s.
    cpu_us=$(awk -v t=$(( ticks_after - ticks_before )) -v hz="$clk_tck" -v n="$(field requests)" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
    latency_rows+=("| ${labels[i]} ($round) | $(field requests) | $(field errors) | $(field p50_ms) | $(field p90_ms) | $(field p99_ms) | $cpu_us |")
    p50s[$i]+="$(field p50_ms) "; p99s[$i]+="$(field p99_ms) "; cpus[$i]+="$cpu_us "
  done
done
# Paired: every side at once, requests taking turns (PAIRED_RATE per side), so a burst of other work on the machine
# lands on every side alike; each service's CPU per request from the kernel's count. The exporting services' background
# work (serializing, posting) shares the CPUs with the other sides here, so the paired latency shows the per-request
# cost inside a service more than that background work; the sequential step above shows both.
declare -A pp50s pp99s pcpus
paired_rows=()
for (( round = 1; round <= rounds; round++ )); do
  mapfile -t turn < <(order "$round")
  urls=""; for i in "${turn[@]}"; do urls+="${urls:+,}http://127.0.0.1:${ports[i]}/json"; done
  echo "Paired, $paired_rate/s per side for $paired_seconds s, all $sides sides at once ($round/$rounds)" >&2
  before=($(bench_cpu_ticks "${service_pids[@]}"))
  mapfile -t lines < <(timeout 120 "${bench[@]}" paired --urls "$urls" --rate "$paired_rate" --seconds "$paired_seconds" --connections 8)
  after=($(bench_cpu_ticks "${service_pids[@]}"))
  for k in "${!turn[@]}"; do
    i=${turn[k]}; line=${lines[k]}
    field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$line"; }
    cpu_us=$(awk -v t=$(( after[i] - before[i] )) -v hz="$clk_tck" -v n="$(field requests)" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
    paired_rows+=("| ${labels[i]} ($round) | $(field requests) | $(field errors) | $(field p50_ms) | $(field p90_ms) | $(field p99_ms) | $cpu_us |")
    pp50s[$i]+="$(field p50_ms) "; pp99s[$i]+="$(field p99_ms) "; pcpus[$i]+="$cpu_us "
  done
done
declare -A rpss wp50s wp99s
for (( round = 1; round <= rounds; round++ )); do
  for i in $(order "$round"); do
    bench_wrk "${labels[i]} ($round)" "http://127.0.0.1:${ports[i]}/json" "${wrk_args[@]}"
    rpss[$i]+="$rps "; wp50s[$i]+="$p50 "; wp99s[$i]+="$p99 "
  done
done
sleep 2   # the exporter's last batch (1 s schedule delay)
stats=$(curl -fsS "http://127.0.0.1:$api_port/api/telemetry/stats")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

median() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Per round: side i against the mean of that round's two "without" runs, in percent; then the median over rounds.
changes() { # values-of-side values-without-a values-without-b
  paste -d' ' <(tr ' ' '\n' <<<"$1" | awk 'NF') <(tr ' ' '\n' <<<"$2" | awk 'NF') <(tr ' ' '\n' <<<"$3" | awk 'NF') |
    awk '{ printf "%.1f ", ($1 / (($2 + $3) / 2) - 1) * 100 }'
}
# The noise: per round, the second "without" copy against the first, as a size; median and largest over rounds.
noise() { # values-without-a values-without-b
  paste -d' ' <(tr ' ' '\n' <<<"$1" | awk 'NF') <(tr ' ' '\n' <<<"$2" | awk 'NF') |
    awk '{ d = ($2 / $1 - 1) * 100; printf "%.1f ", d < 0 ? -d : d }'
}
signed() { awk '{ for (i = 1; i <= NF; i++) printf "%s%+.1f%%", (i > 1 ? " " : ""), $i }' <<<"$1"; }
figure() { # label values-by-side-array-name
  local -n values=$2
  local row="| $1 | $(median "${values[0]}") | $(median "${values[3]}") | ±$(printf '%.1f' "$(median "$(noise "${values[0]}" "${values[3]}")")")%"
  local i
  for (( i = 1; i < sides; i++ )); do
    [[ $i -eq 3 ]] && continue
    local c; c=$(changes "${values[$i]}" "${values[0]}" "${values[3]}")
    row+=" | $(median "${values[$i]}") ($(signed "$(median "$c")"))"
  done
  echo "$row |"
}
headers="| median of $rounds rounds | without OTLP | without, second copy | noise (median per-round difference of the two) | to the receiver | to a sink |"
rules="|---|---:|---:|---:|---:|---:|"
[[ -n "$baseline_port" ]] && { headers+=" to the baseline receiver |"; rules+="---:|"; }
# Kept from the two-round version, so that older entries stay comparable: the mean over every round.
mean() { awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.3f", s / NF }' <<<"$1"; }
change() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (b / a - 1) * 100 }'; }
summary() { # index of the exporting side
  local i="$1"
  echo "P50 $(mean "${p50s[0]}") -> $(mean "${p50s[$i]}") ms ($(change "$(mean "${p50s[0]}")" "$(mean "${p50s[$i]}")")), P99 $(mean "${p99s[0]}") -> $(mean "${p99s[$i]}") ms ($(change "$(mean "${p99s[0]}")" "$(mean "${p99s[$i]}")")) at $rate requests/s; requests/s at saturation $(mean "${rpss[0]}") -> $(mean "${rpss[$i]}") ($(change "$(mean "${rpss[0]}")" "$(mean "${rpss[$i]}")"))"
}
body=$(cat <<BODY
Load average before / after: $load_before / $load_after.${baseline_note}

Ingest with storage on (receiver bounded at 200,000 spans; a sender process, 4 connections, 512 spans per request, 10 s per row; "max" posts as fast as the receiver answers):

| offered spans/s | sent | stored | dropped (queue full) | seconds until stored | stored spans/s |
|---|---:|---:|---:|---:|---:|
$(printf '%s\n' "${ingest_rows[@]}")

Medians of $rounds interleaved rounds; in brackets the median over rounds of each round's change against the mean of
that round's two "without" runs. The noise column is what two identical services differ by in the same round.

$headers
$rules
$(figure "P50 at $rate requests/s (ms)" p50s)
$(figure "P99 at $rate requests/s (ms)" p99s)
$(figure "service CPU per request at $rate requests/s (µs)" cpus)
$(figure "paired: P50 at $paired_rate requests/s per side (ms)" pp50s)
$(figure "paired: P99 at $paired_rate requests/s per side (ms)" pp99s)
$(figure "paired: service CPU per request (µs)" pcpus)
$(figure "requests/s at saturation" rpss)
$(figure "P50 at saturation (ms)" wp50s)
$(figure "P99 at saturation (ms)" wp99s)

Fixed rate (open loop at $rate requests/s for $load_seconds s, latency from each request's issue, driver: HttpClient with 16 connections), every round:

| ServiceDefaults GET /json | requests | errors | P50 (ms) | P90 (ms) | P99 (ms) | service CPU per request (µs) |
|---|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${latency_rows[@]}")

Paired (every side at once, requests taking turns, $paired_rate requests/s per side for $paired_seconds s), every round:

| ServiceDefaults GET /json | requests | errors | P50 (ms) | P90 (ms) | P99 (ms) | service CPU per request (µs) |
|---|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${paired_rows[@]}")

Saturation, every round:

$(bench_table | sed '1s/endpoint/ServiceDefaults GET \/json/')

Exporter to the receiver, mean of every round (as the two-round version reported): $(summary 1).
Exporter to a sink (the exporter alone): $(summary 2).
Receiver after the run: \`$stats\`
BODY
)
echo; echo "$body"
bench_record "dashboard OTLP receiver: ingest rate and exporter overhead" "eng/bench/otlp.sh${*:+ $*} (RATE=$rate, ROUNDS=$rounds${BASELINE:+, BASELINE=$BASELINE}, wrk ${wrk_args[*]})" "$body"
