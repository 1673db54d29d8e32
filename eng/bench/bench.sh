#!/usr/bin/env bash
# Measures an HTTP endpoint with wrk beside the bare minimal-API JSON endpoint (eng/bench/Bazaar.Bench.Bare),
# in the same run on the same machine, and reports requests/s, P50, P99 and the ratio of the two.
# Usage: eng/bench/bench.sh URL [wrk args...]     (default wrk args: -t2 -c64 -d10s --latency)
# Appends the figures, the machine size and the exact command to eng/bench/RESULTS.md (BENCH_NO_RECORD=1 to skip;
# BENCH_LABEL="what is behind the URL" to say what was measured).
set -euo pipefail

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi

target_url="$1"; shift
wrk_args=("$@")
[[ ${#wrk_args[@]} -eq 0 ]] && wrk_args=(-t2 -c64 -d10s --latency)
[[ " ${wrk_args[*]} " == *" --latency "* ]] || wrk_args+=(--latency)   # P50/P99 come from the latency distribution

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$here/.out"
results="$here/RESULTS.md"
mkdir -p "$out"

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed: apt-get install -y curl" >&2; exit 1; }

# A run may never outlast its -d by much: wrk is stopped after the duration plus this margin.
duration_seconds() {
  local d="10s" prev=""
  for a in "${wrk_args[@]}"; do
    case "$prev" in -d|--duration) d="$a" ;; esac
    case "$a" in -d?*) d="${a#-d}" ;; --duration=*) d="${a#--duration=}" ;; esac
    prev="$a"
  done
  case "$d" in *ms) echo 1 ;; *s) echo "${d%s}" ;; *m) echo $(( ${d%m} * 60 )) ;; *h) echo $(( ${d%h} * 3600 )) ;; *) echo "$d" ;; esac
}
limit=$(( $(duration_seconds) + 30 ))
if (( limit > 330 )); then echo "A benchmark run is bounded to 5 minutes; shorten -d." >&2; exit 2; fi

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 40000 ))
    ss -Htln "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
  done
  echo "no free port found" >&2; exit 1
}

echo "Building the bare endpoint (Release)..." >&2
dotnet build "$here/Bazaar.Bench.Bare/Bazaar.Bench.Bare.csproj" -c Release -o "$out/bare" -nologo -v q >"$out/build.log" 2>&1 \
  || { cat "$out/build.log" >&2; exit 1; }

bare_port=$(free_port)
bare_url="http://127.0.0.1:$bare_port/json"
ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=None ASPNETCORE_URLS="http://127.0.0.1:$bare_port" \
  dotnet "$out/bare/Bazaar.Bench.Bare.dll" >"$out/bare.log" 2>&1 &
bare_pid=$!
trap 'kill "$bare_pid" 2>/dev/null || true; wait "$bare_pid" 2>/dev/null || true' EXIT

deadline=$(( SECONDS + 30 ))
until curl -fsS -o /dev/null "$bare_url" 2>/dev/null; do
  kill -0 "$bare_pid" 2>/dev/null || { echo "The bare endpoint exited:" >&2; cat "$out/bare.log" >&2; exit 1; }
  (( SECONDS < deadline )) || { echo "The bare endpoint did not answer within 30 s." >&2; exit 1; }
  sleep 0.2
done
curl -fsS -o /dev/null "$target_url" || { echo "The target $target_url does not answer 2xx; start it first." >&2; exit 1; }

# wrk reports latency as 635.00us / 1.03ms / 2.10s; everything is reported in ms.
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v/1000; else if (v ~ /ms$/) printf "%.3f", v+0; else if (v ~ /m$/) printf "%.3f", v*60000; else printf "%.3f", v*1000 }'; }

run_wrk() { # name url -> sets rps p50 p99 errors
  local name="$1" url="$2" file="$out/wrk-$1.txt"
  # A short warm-up lets the JIT settle so the measured run compares steady states.
  timeout 20 wrk -t1 -c8 -d2s "$url" >/dev/null 2>&1 || true
  echo "wrk ${wrk_args[*]} $url" >&2
  timeout "$limit" wrk "${wrk_args[@]}" "$url" >"$file" 2>&1 || { cat "$file" >&2; echo "wrk failed against $url" >&2; exit 1; }
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$file")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$file")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$file")")
  errors=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$file")
  printf -v "rps_$name" '%s' "$rps"; printf -v "p50_$name" '%s' "$p50"
  printf -v "p99_$name" '%s' "$p99"; printf -v "errors_$name" '%s' "$errors"
}

run_wrk bare "$bare_url"
run_wrk target "$target_url"

ratio=$(awk -v a="$rps_target" -v b="$rps_bare" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
table=$(cat <<TABLE
| endpoint | requests/s | P50 (ms) | P99 (ms) | errors |
|---|---:|---:|---:|---:|
| bare \`/json\` (ceiling) | $rps_bare | $p50_bare | $p99_bare | $errors_bare |
| \`$target_url\` | $rps_target | $p50_target | $p99_target | $errors_target |

Ratio (target / bare requests/s): **$ratio**
TABLE
)
echo
echo "$table"

if [[ "${BENCH_NO_RECORD:-}" != "1" ]]; then
  mem_gib=$(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
  cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') · ${BENCH_LABEL:-$target_url}"
    echo
    echo "Machine: $(nproc) CPUs (${cpu_model:-unknown}), ${mem_gib} GiB RAM, $(uname -sr), .NET SDK $(dotnet --version); wrk and both servers share these CPUs."
    echo "Command: \`${BENCH_LABEL:+BENCH_LABEL=\"$BENCH_LABEL\" }eng/bench/bench.sh $target_url${*:+ $*}\` (wrk ${wrk_args[*]}; commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo
    echo "$table"
  } >>"$results"
  echo
  echo "Appended to ${results#"$repo"/}." >&2
fi
