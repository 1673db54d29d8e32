#!/usr/bin/env bash
# Starts Bazaar: Redis, RabbitMQ, MySQL (MariaDB) and every service, wired and healthy, with the dashboard.
# Arguments pass through to the AppHost: --data-dir DIR, --fresh, --runtime docker, --dashboard-url URL.
set -euo pipefail
cd "$(dirname "$0")"
runtime_docker=false
for a in "$@"; do [ "$a" = "docker" ] && runtime_docker=true; done
if [ "$runtime_docker" = false ]; then
  ./eng/bootstrap.sh
fi
dotnet build AppHost/Bazaar.AppHost/Bazaar.AppHost.csproj -c Release -nologo -clp:ErrorsOnly
exec dotnet AppHost/Bazaar.AppHost/bin/Release/net10.0/Bazaar.AppHost.dll "$@"
