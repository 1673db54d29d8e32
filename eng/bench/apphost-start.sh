#!/usr/bin/env bash
# Measures the AppHost: seconds from launch until GET /api/resources shows every resource Running (or Finished) and
# Healthy, N times on one data directory (the first run of a new directory includes mariadb-install-db), then the
# CPU and memory at idle of the orchestration (the AppHost, DCP and the dashboard) and of the whole tree, and what is left after
# SIGTERM. Usage: eng/bench/apphost-start.sh [runs=3] [idle-seconds=30]. Build first (./run.sh builds; or
# dotnet build AppHost/Bazaar.AppHost -c Release). Prints; records nothing.
# BENCH_APPHOST_ROOT=DIR measures the AppHost of another checkout (an older tree, for before/after), and
# BENCH_STATE_URL where that one serves /api/resources (before the move to Aspire: http://127.0.0.1:18888).
set -euo pipefail
cd "${BENCH_APPHOST_ROOT:-$(dirname "$0")/../..}"
runs="${1:-3}"
idle="${2:-30}"
data="$(mktemp -d "${TMPDIR:-/tmp}/bazaar-start.XXXXXX")"
state="${BENCH_STATE_URL:-http://127.0.0.1:18887}"
# The orchestration: the AppHost process itself, DCP and the dashboard (before Aspire, engine and dashboard were the AppHost).
orchestration='Bazaar.AppHost|tools/dcp|Aspire.Dashboard'

trap 'rm -rf "$data"' EXIT

all_healthy() {
  curl -sf "$state/api/resources" | python3 -c '
import json, sys
d = json.load(sys.stdin)
ok = len(d) > 10 and all((r["state"] == "Running" and r["health"] == "Healthy") or (r["state"] == "Finished" and r["exitCode"] == 0) for r in d)
sys.exit(0 if ok else 1)' 2>/dev/null
}

# Sum of utime+stime ticks and RSS (kB) over the processes whose command line matches $1.
usage() {
  local ticks=0 rss=0
  for pid in $(pgrep -f "$1" || true); do
    read -r -a f < "/proc/$pid/stat" 2>/dev/null || continue
    ticks=$(( ticks + f[13] + f[14] ))
    rss=$(( rss + $(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0) ))
  done
  echo "$ticks $rss"
}

times=()
for i in $(seq 1 "$runs"); do
  start=$(date +%s.%N)
  dotnet AppHost/Bazaar.AppHost/bin/Release/net10.0/Bazaar.AppHost.dll --data-dir "$data" > "$data.log" 2>&1 &
  apphost=$!
  until all_healthy; do
    sleep 0.2
    if ! kill -0 "$apphost" 2>/dev/null; then echo "the AppHost exited; its log: $data.log" >&2; exit 1; fi
    if (( $(echo "$(date +%s.%N) - $start > 180" | bc) )); then echo "not healthy within 180 s; log: $data.log" >&2; kill -TERM "$apphost"; exit 1; fi
  done
  t=$(echo "$(date +%s.%N) - $start" | bc)
  times+=("$t")
  printf 'run %d: every resource healthy after %.1f s\n' "$i" "$t"
  if (( i == runs )); then
    hz=$(getconf CLK_TCK)
    read -r o1 _ <<<"$(usage "$orchestration")"
    read -r a1 _ <<<"$(usage "Bazaar|tools/dcp|Aspire.Dashboard|redis-server|mariadbd|beam.smp")"
    sleep "$idle"
    read -r o2 orss <<<"$(usage "$orchestration")"
    read -r a2 arss <<<"$(usage "Bazaar|tools/dcp|Aspire.Dashboard|redis-server|mariadbd|beam.smp")"
    printf 'idle %d s: AppHost + DCP + dashboard %.1f%% of one core, RSS %d MB; everything %.1f%%, RSS %d MB\n' "$idle" \
      "$(echo "($o2 - $o1) * 100 / $hz / $idle" | bc -l)" $(( orss / 1024 )) \
      "$(echo "($a2 - $a1) * 100 / $hz / $idle" | bc -l)" $(( arss / 1024 ))
  fi
  # This run's processes: every resource's pid, the services' own (children of dotnet run), DCP's (it watches the AppHost).
  pids=$(curl -sf "$state/api/resources" | python3 -c 'import json,sys; print(" ".join(str(r["pid"]) for r in json.load(sys.stdin) if r["pid"]))')
  pids="$pids $( (pgrep -f "tools/dcp.*--monitor $apphost" || true) | tr '\n' ' ')"
  kill -TERM "$apphost"
  wait "$apphost" || true
  left=""
  for _ in $(seq 1 30); do
    left=$(for p in $pids; do [ -d "/proc/$p" ] && tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-120 | sed "s/^/$p /"; done || true)
    [ -z "$left" ] && break
    sleep 1
  done
  [ -z "$left" ] && echo "  stopped: none of its processes left" || { echo "  left after SIGTERM + 30 s:"; echo "$left"; }
done
printf 'median of %d: %.1f s\n' "$runs" "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')"
