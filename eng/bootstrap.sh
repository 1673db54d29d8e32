#!/usr/bin/env bash
# Installs what Bazaar needs on a Debian machine: the backing servers (run as local processes by the
# AppHost), wrk for benchmarks and chromium for browser tests. Safe to run again: it installs only what is missing.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "Bazaar needs these Debian packages: ${need[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${need[*]}" >&2
  echo "or run the backing servers as containers: ./run.sh --runtime container" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "No apt-get here. Install: ${need[*]} (or use ./run.sh --runtime container)" >&2
  exit 1
fi
echo "Installing ${need[*]} ..."
$sudo apt-get update -qq
# Debian's packages try to start their own system services; Bazaar runs its own instances instead.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
