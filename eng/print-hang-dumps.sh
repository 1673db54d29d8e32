#!/usr/bin/env bash
# Prints what each hung test host was waiting on, from the dumps `dotnet test --blame-hang-dump-type full` left
# under the results directory given as $1: the async call chains (dumpasync) and every managed thread's stack.
# Installs dotnet-dump (a .NET global tool from the package source) into eng/.tools when a dump is found.
set -euo pipefail
results="$1"
mapfile -t dumps < <(find "$results" -name '*hangdump*.dmp' 2>/dev/null)
(( ${#dumps[@]} > 0 )) || exit 0
tools="$(cd "$(dirname "$0")" && pwd)/.tools"
if [[ ! -x "$tools/dotnet-dump" ]]; then
  dotnet tool install --tool-path "$tools" dotnet-dump --version 10.0.750501 >/dev/null
fi
for dump in "${dumps[@]}"; do
  echo "=== hang dump $(basename "$dump"): async call chains, then managed threads ==="
  # A chain of only framework frames is the runtime's own waiting; the ones that matter name a test or Bazaar.
  "$tools/dotnet-dump" analyze "$dump" -c "dumpasync" -c "exit" 2>&1 | head -n 1500 || true
  "$tools/dotnet-dump" analyze "$dump" -c "clrstack -all" -c "exit" 2>&1 | head -n 1500 || true
  rm -f "$dump"
done
