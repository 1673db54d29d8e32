#!/usr/bin/env bash
# Runs every test: unit, integration (real Redis, RabbitMQ and MariaDB started by the hosting engine)
# and end-to-end (the whole AppHost model). Installs the backing servers first when they are missing.
set -euo pipefail
cd "$(dirname "$0")"
./eng/bootstrap.sh
dotnet build Aspire.sln -c Release -nologo -clp:ErrorsOnly
dotnet test Aspire.sln -c Release --no-build -nologo "$@"
