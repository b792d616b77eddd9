#!/usr/bin/env bash
# `make up`: install what is missing, then run every TestFleet process in the foreground
# under honcho. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/install.sh

# Development defaults; every one can be overridden from the environment.
export ENVIRONMENT=${ENVIRONMENT:-development}
export VAR_DIR=${VAR_DIR:-$ROOT/var}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export GATEWAY_PORT=${GATEWAY_PORT:-8080}
export WEB_TEST_PORT=${WEB_TEST_PORT:-5001}
export PERF_TEST_PORT=${PERF_TEST_PORT:-5002}
export SCHEDULER_PORT=${SCHEDULER_PORT:-5003}
export CONSOLE_PORT=${CONSOLE_PORT:-5004}
export FLOWER_PORT=${FLOWER_PORT:-5555}
# Where the scheduler reaches the services (schedule firing, /status).
export WEB_TEST_URL=${WEB_TEST_URL:-http://127.0.0.1:$WEB_TEST_PORT}
export PERF_TEST_URL=${PERF_TEST_URL:-http://127.0.0.1:$PERF_TEST_PORT}
export SCHEDULER_URL=${SCHEDULER_URL:-http://127.0.0.1:$SCHEDULER_PORT}
export WEB_WORKER_CONCURRENCY=${WEB_WORKER_CONCURRENCY:-2}
export PERF_WORKER_CONCURRENCY=${PERF_WORKER_CONCURRENCY:-2}
export FLOWER_BASIC_AUTH=${FLOWER_BASIC_AUTH:-admin:testfleet}
export FLOWER_COOKIE_SECRET=${FLOWER_COOKIE_SECRET:-testfleet-dev-cookie-secret}
# Hosts a web run's browser may reach (docs/security.md): development sites run on this machine, and loopback
# is admitted only when named. The platform's own listeners are refused to every test whatever is allowed
# (Redis and the database are taken from their URLs).
export WEB_ALLOWED_HOSTS=${WEB_ALLOWED_HOSTS:-*,127.0.0.1,localhost,::1}
export PLATFORM_ENDPOINTS=${PLATFORM_ENDPOINTS:-127.0.0.1:$GATEWAY_PORT,127.0.0.1:$FLOWER_PORT,127.0.0.1:$WEB_TEST_PORT,127.0.0.1:$PERF_TEST_PORT,127.0.0.1:$SCHEDULER_PORT,127.0.0.1:$CONSOLE_PORT}
export PATH=$ROOT/.venv/bin:$PATH:/usr/sbin
auth_note=""
export TESTFLEET_ADMIN_USER=${TESTFLEET_ADMIN_USER:-admin}
admin_note="password from TESTFLEET_ADMIN_PASSWORD"
if [[ -z ${TESTFLEET_ADMIN_PASSWORD:-} ]]; then
  admin_note="password testfleet-admin (development default; set TESTFLEET_ADMIN_PASSWORD)"
fi
if [[ -z ${AUTH_SECRET:-} ]]; then
  auth_note=" (development default; set AUTH_SECRET for anything shared)"
fi

mkdir -p "$VAR_DIR"/{redis,state,gateway,heartbeat}

processes=(web-test-api web-test-worker perf-test-api perf-test-worker scheduler-api
           maintenance-worker beat console flower gateway)
# What is printed of REDIS_URL: never its password.
shown_redis_url=${REDIS_URL/:\/\/*@/://***@}
if python -m shared redis-answers --wait 0.5; then
  echo "up: using the Redis that answers at $shown_redis_url"
else
  hostport=${REDIS_URL#redis://}; hostport=${hostport%%/*}
  credentials=""; [[ $hostport == *@* ]] && credentials=${hostport%@*}
  hostport=${hostport##*@}
  host=${hostport%%:*}; port=${hostport##*:}; [[ $port == "$hostport" ]] && port=6379
  if [[ $host != 127.0.0.1 && $host != localhost ]]; then
    echo "up: no Redis answers at $shown_redis_url and it is not local; start it or unset REDIS_URL" >&2
    exit 1
  fi
  export REDIS_PORT=$port
  # A password in REDIS_URL (redis://:PASSWORD@...) is the one the Redis started here asks for (Procfile).
  export REDIS_REQUIREPASS=${credentials#*:}
  processes=(redis "${processes[@]}")
  echo "up: starting redis-server on port $REDIS_PORT (AOF in $VAR_DIR/redis)"
fi

python gateway/render.py "$VAR_DIR/gateway" >/dev/null
nginx -t -q -p "$VAR_DIR/gateway" -c "$VAR_DIR/gateway/nginx.conf"

for pkg in web_test_service perf_test_service scheduler_service console_service; do
  python -m shared migrate "$pkg"
done

GW="http://127.0.0.1:$GATEWAY_PORT"
# Never print a password that is not the development default: this output is the platform's log.
if [ "$FLOWER_BASIC_AUTH" = "admin:testfleet" ]; then flower_note="admin:testfleet"
else flower_note="user ${FLOWER_BASIC_AUTH%%:*}, password from FLOWER_BASIC_AUTH"; fi
cat <<MSG

TestFleet is starting (Ctrl-C stops everything):
  gateway       $GW
  console       $GW/  (log in as $TESTFLEET_ADMIN_USER, $admin_note)
  web-test API  $GW/api/v1/web-test/   (ready: $GW/api/v1/web-test/ready)
  perf-test API $GW/api/v1/perf-test/  (ready: $GW/api/v1/perf-test/ready)
  scheduler API $GW/api/v1/scheduler/  and $GW/api/v1/schedules
  Flower        $GW/flower/  (basic auth: $flower_note)
  AUTH_SECRET   ${AUTH_SECRET:+set from the environment}${auth_note}
  token         make token USER=alice ROLE=tester

MSG
exec honcho start -f Procfile -d "$ROOT" "${processes[@]}"
