#!/usr/bin/env bash
# End-to-end integration-event benchmark (outbox commit -> consumer effect committed), appended to eng/bench/RESULTS.md.
# Usage: eng/bench/events.sh [--events N] [--rate R] [--seconds S] [--writers W] [--concurrency C] [--prefetch P] [--batch B] [--flush-at-commit 1|2]
# Starts its own MariaDB and RabbitMQ on free ports through the hosting engine (or uses BENCH_MYSQL / BENCH_AMQP),
# and stops them at the end. Bounded: every phase gives up 2 minutes after its last write. Not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build eng/bench/events/Bazaar.Bench.Events.csproj -c Release -nologo -clp:ErrorsOnly
timeout 900 dotnet eng/bench/events/bin/Release/net10.0/Bazaar.Bench.Events.dll "$@" --append eng/bench/RESULTS.md
