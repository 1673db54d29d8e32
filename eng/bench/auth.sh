#!/usr/bin/env bash
# Benchmarks auth: (1) logins/s of auth-api, bounded by the password hash by design, at the production hash cost and
# at a tenth of it; (2) the cost of token validation (AddDefaultAuthentication: ES256 signature, claims, Redis deny
# list): the same catalog-api GET anonymous and with an admin Bearer token, beside the bare /json, in one run.
# Starts its own Redis, MariaDB and RabbitMQ (eng/bench/lib.sh), runs auth-api and catalog-api in Release and
# Production (catalog-api fetches auth-api's JWKS through service discovery), appends the figures to
# eng/bench/RESULTS.md (BENCH_NO_RECORD=1 to skip) and stops everything it started.
# Usage: eng/bench/auth.sh [duration]     (default 10s per measurement; GETs wrk -t2 -c64, logins wrk -t2 -c8)
set -euo pipefail
BENCH_OUT="${BENCH_OUT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.out/auth}"   # logs apart from other benchmarks
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap bench_cleanup EXIT

duration="${1:-10s}"
bench_require wrk wrk
bench_start_servers authdb authdb_cheap catalogdb
bench_start_bare
bench_build "$BENCH_REPO/Services/Auth/Bazaar.Auth.Api/Bazaar.Auth.Api.csproj" auth
bench_build "$BENCH_REPO/Services/Catalog/Bazaar.Catalog.Api/Bazaar.Catalog.Api.csproj" catalog
admin_password="bench-admin-$RANDOM$RANDOM"

start_auth() { # database iterations -> sets auth_url
  local port; port=$(bench_free_port)
  auth_url="http://127.0.0.1:$port"
  ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning ASPNETCORE_URLS="$auth_url" \
    ConnectionStrings__authdb="$(bench_db "$1")" ConnectionStrings__cache="$cache_cs" \
    Auth__AdminPassword="$admin_password" Auth__SecretsDirectory="$bench_work/secrets" \
    Auth__PasswordHashIterations="$2" Auth__LoginRateLimit__PermitLimit=100000000 \
    dotnet "$BENCH_OUT/auth/Bazaar.Auth.Api.dll" >"$BENCH_OUT/auth-$1.log" 2>&1 &
  bench_pids+=($!)
  bench_wait_for "auth-api" curl -fsS "$auth_url/api/auth/.well-known/jwks.json"
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
bench_wrk "bare \`/json\` (ceiling)" "$bare_url" -t2 -c64 -d"$duration"
# 8 connections: logins are seconds long at full hash cost on 2 shared cores; wrk's 2 s timeout would count more as errors.
bench_wrk "auth-api POST /api/auth/login, PBKDF2 100,000 iterations" "$prod_auth_url/api/auth/login" \
  -t2 -c8 -d"$duration" --timeout 10s -s "$BENCH_DIR/auth-login.lua"
rps_login=$rps
bench_wrk "auth-api POST /api/auth/login, PBKDF2 10,000 iterations" "$cheap_auth_url/api/auth/login" \
  -t2 -c8 -d"$duration" --timeout 10s -s "$BENCH_DIR/auth-login.lua"
rps_login_cheap=$rps

# --- validation cost: the same catalog GET, anonymous and authenticated -------------------------------------------
catalog_port=$(bench_free_port)
catalog_url="http://127.0.0.1:$catalog_port"
ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning ASPNETCORE_URLS="$catalog_url" \
  ConnectionStrings__catalogdb="$(bench_db catalogdb)" ConnectionStrings__cache="$cache_cs" ConnectionStrings__messaging="$messaging_cs" \
  env "services__auth-api__http__0=$prod_auth_url" dotnet "$BENCH_OUT/catalog/Bazaar.Catalog.Api.dll" >"$BENCH_OUT/catalog.log" 2>&1 &
bench_pids+=($!)
bench_wait_for "catalog-api" curl -fsS "$catalog_url/api/catalog/items/42"

token=$(curl -fsS -X POST "$prod_auth_url/api/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"admin@bazaar.local\",\"password\":\"$admin_password\"}" | sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
# The GET below is anonymous, so a bad token would not fail it: prove on an admin route that the token is validated.
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$catalog_url/api/catalog/items/42/stock")
[[ "$status" == 200 ]] || { echo "catalog-api refused the admin token on an admin route ($status)" >&2; exit 1; }
bad=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${token}x" "$catalog_url/api/catalog/items/42/stock")
[[ "$bad" == 401 ]] || { echo "catalog-api accepted a broken token on an admin route ($bad)" >&2; exit 1; }

bench_wrk "catalog-api GET /api/catalog/items/42, anonymous" "$catalog_url/api/catalog/items/42" -t2 -c64 -d"$duration"
rps_anonymous=$rps
bench_wrk "catalog-api GET /api/catalog/items/42, Bearer admin token" "$catalog_url/api/catalog/items/42" \
  -t2 -c64 -d"$duration" -H "Authorization: Bearer $token"
rps_authenticated=$rps

cost=$(awk -v a="$rps_anonymous" -v b="$rps_authenticated" 'BEGIN { printf "%.1f", (a > 0 ? (1 - b / a) * 100 : 0) }')
table=$(bench_table)
summary="Logins/s: **$rps_login** at PBKDF2-HMAC-SHA512 100,000 iterations (PasswordHasher IdentityV3, 128-bit salt, 256-bit subkey), $rps_login_cheap at 10,000. Token validation costs **$cost %** of the catalog GET's requests/s (goal: under 15 %; negative means the authenticated run was faster, i.e. noise)."
echo; echo "$table"; echo; echo "$summary"
bench_record "auth: logins/s and token validation cost (Release, Production)" "eng/bench/auth.sh $duration" "$table

$summary"
