#!/usr/bin/env bash
# Benchmarks auth: (1) logins/s of auth-api, bounded by the password hash by design, at the production hash cost and
# at a tenth of it; (2) the cost of token validation (AddDefaultAuthentication: ES256 signature, claims, Redis deny
# list): the same catalog-api GET anonymous and with an admin Bearer token, beside the bare /json, in one run.
# Starts its own Redis, MariaDB and RabbitMQ on free loopback ports in a temporary directory, runs auth-api and
# catalog-api in Release and Production (catalog-api fetches auth-api's JWKS through service discovery), appends the
# figures to eng/bench/RESULTS.md (BENCH_NO_RECORD=1 to skip) and stops everything it started.
# Usage: eng/bench/auth.sh [duration]     (default 10s per measurement; GETs use wrk -t2 -c64, logins wrk -t2 -c8)
set -euo pipefail

duration="${1:-10s}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$(mktemp -d /tmp/bazaar-bench-auth.XXXXXX)"
out="$here/.out/auth"
mkdir -p "$out"
pids=()

cleanup() { # every process this script started, by pid; SIGKILL for any still there after 10 s
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  local deadline=$(( SECONDS + 10 ))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 40000 ))
    ss -Htln "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
  done
  echo "no free port found" >&2; exit 1
}

wait_for() { # what, command...
  local what="$1"; shift
  local deadline=$(( SECONDS + 60 ))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { echo "$what did not come up within 60 s" >&2; exit 1; }
    sleep 0.2
  done
}

password="bench$RANDOM$RANDOM"
admin_password="bench-admin-$RANDOM$RANDOM"

echo "Starting Redis, MariaDB and RabbitMQ in $work ..." >&2
redis_port=$(free_port)
mkdir -p "$work/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --save '' --appendonly no --requirepass "$password" \
  >"$out/redis.log" 2>&1 &
pids+=($!)

mysql_port=$(free_port)
mariadb-install-db --no-defaults --datadir="$work/mysql" --auth-root-authentication-method=normal --skip-test-db >"$out/mysql-install.log" 2>&1
mariadbd --no-defaults --datadir="$work/mysql" --port="$mysql_port" --socket="$work/mysql/mysqld.sock" \
  --bind-address=127.0.0.1 --user=root --max-connections=500 >"$out/mysql.log" 2>&1 &
pids+=($!)

amqp_port=$(free_port); dist_port=$(free_port)
mkdir -p "$work/rabbit"
echo "listeners.tcp.default = 127.0.0.1:$amqp_port" >"$work/rabbit/rabbitmq.conf"
echo "[]." >"$work/rabbit/enabled_plugins"
HOME="$work/rabbit" RABBITMQ_NODENAME="benchauth$amqp_port@localhost" RABBITMQ_NODE_PORT="$amqp_port" RABBITMQ_DIST_PORT="$dist_port" \
  RABBITMQ_MNESIA_BASE="$work/rabbit/mnesia" RABBITMQ_LOG_BASE="$work/rabbit/log" RABBITMQ_CONFIG_FILE="$work/rabbit/rabbitmq" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$work/rabbit/enabled_plugins" \
  /usr/lib/rabbitmq/bin/rabbitmq-server >"$out/rabbitmq.log" 2>&1 &
pids+=($!)

wait_for "Redis" redis-cli -p "$redis_port" -a "$password" --no-auth-warning ping
wait_for "MariaDB" mariadb --socket="$work/mysql/mysqld.sock" -uroot -e "SELECT 1"
mariadb --socket="$work/mysql/mysqld.sock" -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; CREATE DATABASE authdb; CREATE DATABASE authdb_cheap; CREATE DATABASE catalogdb; ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$password'; ALTER USER 'root'@'localhost' IDENTIFIED BY '$password';"
wait_for "RabbitMQ" bash -c "exec 3<>/dev/tcp/127.0.0.1/$amqp_port"

echo "Building bare, auth-api and catalog-api (Release)..." >&2
for project in "eng/bench/Bazaar.Bench.Bare/Bazaar.Bench.Bare.csproj:bare" \
               "Services/Auth/Bazaar.Auth.Api/Bazaar.Auth.Api.csproj:auth" \
               "Services/Catalog/Bazaar.Catalog.Api/Bazaar.Catalog.Api.csproj:catalog"; do
  dotnet build "$repo/${project%%:*}" -c Release -o "$out/${project##*:}" -nologo -v q >"$out/build-${project##*:}.log" 2>&1 \
    || { cat "$out/build-${project##*:}.log" >&2; exit 1; }
done

cache="127.0.0.1:$redis_port,password=$password"
db() { echo "Server=127.0.0.1;Port=$mysql_port;User ID=root;Password=$password;Database=$1;SslMode=None"; }

start_auth() { # database iterations -> sets auth_url
  local port; port=$(free_port)
  auth_url="http://127.0.0.1:$port"
  ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning ASPNETCORE_URLS="$auth_url" \
    ConnectionStrings__authdb="$(db "$1")" ConnectionStrings__cache="$cache" \
    Auth__AdminPassword="$admin_password" Auth__SecretsDirectory="$work/secrets" \
    Auth__PasswordHashIterations="$2" Auth__LoginRateLimit__PermitLimit=100000000 \
    dotnet "$out/auth/Bazaar.Auth.Api.dll" >"$out/auth-$1.log" 2>&1 &
  pids+=($!)
  auth_pid=$!
  wait_for "auth-api" curl -fsS "$auth_url/api/auth/.well-known/jwks.json"
}

bare_port=$(free_port)
bare_url="http://127.0.0.1:$bare_port/json"
ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=None ASPNETCORE_URLS="http://127.0.0.1:$bare_port" \
  dotnet "$out/bare/Bazaar.Bench.Bare.dll" >"$out/bare.log" 2>&1 &
pids+=($!)
wait_for "bare endpoint" curl -fsS "$bare_url"

to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v/1000; else if (v ~ /ms$/) printf "%.3f", v+0; else if (v ~ /m$/) printf "%.3f", v*60000; else printf "%.3f", v*1000 }'; }
rows=()
run_wrk() { # label connections url [wrk args...] -> appends a table row, sets rps
  local label="$1" connections="$2" url="$3"; shift 3
  local file="$out/wrk-$(echo "$label" | tr -c 'a-zA-Z0-9' '_').txt"
  timeout 20 wrk -t1 -c4 -d2s "$@" "$url" >/dev/null 2>&1 || true   # warm-up: JIT, pools, key cache
  echo "wrk -t2 -c$connections -d$duration --latency $url  ($label)" >&2
  timeout 120 wrk -t2 -c"$connections" -d"$duration" --latency "$@" "$url" >"$file" 2>&1 || { cat "$file" >&2; exit 1; }
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$file")
  local p50 p99 errors
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$file")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$file")")
  errors=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$file")
  rows+=("| $label | $rps | $p50 | $p99 | $errors |")
}

# --- logins/s -------------------------------------------------------------------------------------------------------
start_auth authdb 100000
prod_auth_url="$auth_url"
start_auth authdb_cheap 10000
cheap_auth_url="$auth_url"
export BENCH_EMAIL="bench@example.com" BENCH_PASSWORD="a long bench passphrase"
for url in "$prod_auth_url" "$cheap_auth_url"; do
  curl -fsS -o /dev/null -X POST "$url/api/auth/register" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\",\"displayName\":\"Bench\"}"
done
run_wrk "bare \`/json\` (ceiling)" 64 "$bare_url"
run_wrk "auth-api POST /api/auth/login, PBKDF2 100,000 iterations" 8 "$prod_auth_url/api/auth/login" -s "$here/auth-login.lua"
rps_login=$rps
run_wrk "auth-api POST /api/auth/login, PBKDF2 10,000 iterations" 8 "$cheap_auth_url/api/auth/login" -s "$here/auth-login.lua"
rps_login_cheap=$rps

# --- validation cost: the same catalog GET, anonymous and authenticated -------------------------------------------
catalog_port=$(free_port)
catalog_url="http://127.0.0.1:$catalog_port"
ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning ASPNETCORE_URLS="$catalog_url" \
  ConnectionStrings__catalogdb="$(db catalogdb)" ConnectionStrings__cache="$cache" \
  ConnectionStrings__messaging="amqp://guest:guest@127.0.0.1:$amqp_port" \
  env "services__auth-api__http__0=$prod_auth_url" dotnet "$out/catalog/Bazaar.Catalog.Api.dll" >"$out/catalog.log" 2>&1 &
pids+=($!)
wait_for "catalog-api" curl -fsS "$catalog_url/api/catalog/items/42"

token=$(curl -fsS -X POST "$prod_auth_url/api/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"admin@bazaar.local\",\"password\":\"$admin_password\"}" | sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
# The GET below is anonymous, so a bad token would not fail it: prove on an admin route that the token is validated.
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$catalog_url/api/catalog/items/42/stock")
[[ "$status" == 200 ]] || { echo "catalog-api refused the admin token on an admin route ($status)" >&2; exit 1; }
bad=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${token}x" "$catalog_url/api/catalog/items/42/stock")
[[ "$bad" == 401 ]] || { echo "catalog-api accepted a broken token on an admin route ($bad)" >&2; exit 1; }

run_wrk "catalog-api GET /api/catalog/items/42, anonymous" 64 "$catalog_url/api/catalog/items/42"
rps_anonymous=$rps
run_wrk "catalog-api GET /api/catalog/items/42, Bearer admin token" 64 "$catalog_url/api/catalog/items/42" -H "Authorization: Bearer $token"
rps_authenticated=$rps

cost=$(awk -v a="$rps_anonymous" -v b="$rps_authenticated" 'BEGIN { printf "%.1f", (a > 0 ? (1 - b / a) * 100 : 0) }')
table=$(printf '%s\n' "| endpoint | requests/s | P50 (ms) | P99 (ms) | errors |" "|---|---:|---:|---:|---:|" "${rows[@]}")
summary="Logins/s: **$rps_login** at PBKDF2-HMAC-SHA512 100,000 iterations (PasswordHasher IdentityV3, 128-bit salt, 256-bit subkey), $rps_login_cheap at 10,000. Token validation costs **$cost %** of the catalog GET's requests/s (goal: under 15 %)."
echo; echo "$table"; echo; echo "$summary"

if [[ "${BENCH_NO_RECORD:-}" != "1" ]]; then
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') · auth: logins/s and token validation cost"
    echo
    echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo) GiB RAM, $(uname -sr), .NET SDK $(dotnet --version); wrk, the services and their servers share these CPUs."
    echo "Command: \`eng/bench/auth.sh $duration\` (GETs wrk -t2 -c64, logins wrk -t2 -c8 -s eng/bench/auth-login.lua, -d$duration --latency; Release, Production; commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo
    echo "$table"
    echo
    echo "$summary"
  } >>"$here/RESULTS.md"
  echo "Appended to eng/bench/RESULTS.md." >&2
fi
