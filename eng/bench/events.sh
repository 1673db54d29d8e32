#!/usr/bin/env bash
# End-to-end integration-event benchmark (outbox commit -> consumer effect committed), appended to eng/bench/RESULTS.md.
# Usage: eng/bench/events.sh [--events N] [--rate R] [--seconds S] [--writers W] [--producer transaction|group] [--group-size G] [--group-writers L] [--handler execute|append] [--concurrency C (4)] [--prefetch P (256)] [--batch B (128)]
#                            [--relay-batch R] [--bundle E (events per message, 64; 1 = one each)] [--warmup N] [--per-transaction K] [--only backlog|saturation|fixed] [--flush-at-commit 1|2]
# Starts its own MariaDB and RabbitMQ on free ports through the hosting engine (or uses BENCH_MYSQL / BENCH_AMQP),
# and stops them at the end; also reports MariaDB's and RabbitMQ's CPU and MariaDB's statements per event, and, after the warm-up, the bare ceiling in the same run (RabbitMQ alone: persistent messages published with confirms, then consumed; MariaDB alone: autocommit one-row INSERTs on 16 connections for 2 s). Bounded: every phase gives up 2 minutes after its last write. Not a test.
#
# The .NET thread pool spins (sched_yield) before it parks an idle worker. With MySql.Data's blocking calls the benchmark
# needs many pool threads, and on 2 cores their spinning took about 30% of the process's CPU (perf) and starved the relay
# and the consumer: P50 latency 519 ms with spinning, 9 ms without, in back-to-back runs. Every executable now sets the
# limit to 0 in its runtimeconfig (Directory.Build.targets); the environment variable overrides it, so a caller can set
# DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=70 (the runtime's default) to compare. The value is recorded in the results.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_ThreadPool_UnfairSemaphoreSpinLimit="${DOTNET_ThreadPool_UnfairSemaphoreSpinLimit:-0}"
dotnet build eng/bench/events/Bazaar.Bench.Events.csproj -c Release -nologo -clp:ErrorsOnly
# BENCH_NO_RECORD=1: print only, for exploratory runs.
record=(--append eng/bench/RESULTS.md); [[ "${BENCH_NO_RECORD:-}" == 1 ]] && record=()
timeout 900 dotnet eng/bench/events/bin/Release/net10.0/Bazaar.Bench.Events.dll "$@" "${record[@]}"
