#!/usr/bin/env bash
# Measures an HTTP endpoint with wrk beside the bare minimal-API JSON endpoint (eng/bench/Bazaar.Bench.Bare),
# in the same run on the same machine, and reports requests/s, P50, P99 and the ratio of the two.
# Usage: eng/bench/bench.sh URL [wrk args...]     (default wrk args: -t2 -c64 -d10s --latency)
# Appends the figures, the machine size and the exact command to eng/bench/RESULTS.md (BENCH_NO_RECORD=1 to skip;
# BENCH_LABEL="what is behind the URL" to say what was measured).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap bench_cleanup EXIT

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi

target_url="$1"; shift
wrk_args=("$@")
[[ ${#wrk_args[@]} -eq 0 ]] && wrk_args=(-t2 -c64 -d10s --latency)
bench_require wrk wrk
bench_require curl curl

bench_start_bare
curl -fsS -o /dev/null "$target_url" || { echo "The target $target_url does not answer 2xx; start it first." >&2; exit 1; }

bench_wrk "bare \`/json\` (ceiling)" "$bare_url" "${wrk_args[@]}"
rps_bare=$rps
bench_wrk "\`$target_url\`" "$target_url" "${wrk_args[@]}"
rps_target=$rps

body="$(bench_table)

Ratio (target / bare requests/s): **$(bench_ratio "$rps_target" "$rps_bare")**"
echo; echo "$body"; echo
bench_record "${BENCH_LABEL:-$target_url}" \
  "${BENCH_LABEL:+BENCH_LABEL=\"$BENCH_LABEL\" }eng/bench/bench.sh $target_url${*:+ $*}; wrk ${wrk_args[*]}" "$body"
