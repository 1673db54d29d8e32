#!/usr/bin/env bash
# Starts Bazaar on .NET Aspire: Redis, RabbitMQ, MySQL (MariaDB) and every service, wired and healthy, with the Aspire
# dashboard. Arguments pass through to the AppHost: --data-dir DIR, --fresh, --runtime process|container,
# --dashboard-url URL, --otlp-url URL, --state-url URL. The same as `dotnet run --project AppHost/Bazaar.AppHost`.
set -euo pipefail
cd "$(dirname "$0")"
containers=false
previous=""
for a in "$@"; do
  if [ "$previous" = "--runtime" ] && [ "$a" != "process" ]; then containers=true; fi
  previous="$a"
done
[ "${BAZAAR_RUNTIME:-process}" != "process" ] && containers=true
if [ "$containers" = false ]; then
  ./eng/bootstrap.sh
fi
dotnet build AppHost/Bazaar.AppHost/Bazaar.AppHost.csproj -c Release -nologo -clp:ErrorsOnly
exec dotnet AppHost/Bazaar.AppHost/bin/Release/net10.0/Bazaar.AppHost.dll "$@"
