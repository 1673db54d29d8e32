#!/usr/bin/env bash
# Runs every test: unit, integration (real Redis, RabbitMQ and MariaDB started by the hosting engine)
# and end-to-end (the whole AppHost model). Installs the backing servers first when they are missing.
set -euo pipefail
cd "$(dirname "$0")"
./eng/bootstrap.sh
dotnet build Aspire.sln -c Release -nologo -clp:ErrorsOnly
# A test that hangs fails its run after 10 minutes instead of holding CI to its limit; the hung test host is
# dumped first, and the dump's async call stacks are printed below (eng/print-hang-dumps.sh).
# The assemblies run one after another, not side by side as `dotnet test Aspire.sln` would: on two cores the
# integration tests' servers and the end-to-end tests' whole model starving each other made cold first requests
# time out (CI of 2026-12-01: order-api's first catalog call took over its 2 s).
results="$(mktemp -d "${TMPDIR:-/tmp}/bazaar-test-results.XXXXXX")"
status=0
for project in tests/Bazaar.UnitTests tests/Bazaar.IntegrationTests tests/Bazaar.EndToEndTests; do
  dotnet test "$project" -c Release --no-build -nologo --results-directory "$results" \
    --blame-hang-timeout 10m --blame-hang-dump-type full "$@" || status=$?
done
if (( status != 0 )); then ./eng/print-hang-dumps.sh "$results" || true; fi
rm -rf "$results"
exit "$status"
