#!/usr/bin/env bash
# Installs every Debian package lifeline needs to build and test, then the browser
# terminal (xterm.js) from npm at the versions runtime/web/package-lock.json pins, its
# integrity hashes checked. Idempotent: skips apt when everything is already there, and
# npm when node_modules matches the lock. Run as root (or with sudo) for apt.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git python3 ccache
  clang libclang-rt-14-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  libboost1.81-dev libsqlite3-dev libpq-dev postgresql libfiu-dev fiu-utils
  python3-websockets python3-psutil
  chromium systemd dpkg-dev nginx-light websocketd prometheus
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-deps: done"
fi

# npm ci installs exactly the lock, or fails; no install scripts run. npm writes
# node_modules/.package-lock.json as it installs: newer than the lock means up to date.
web="$(dirname "$0")/../runtime/web"
# Node.js and npm, and a vi for the browser terminal's tests: most machines here carry
# them already (Node.js from NodeSource, vim), and a second copy would only conflict.
for tool in npm:npm vi:vim-tiny; do
  if ! command -v "${tool%%:*}" >/dev/null; then
    echo "install-deps: installing ${tool#*:}"
    $([[ $(id -u) -ne 0 ]] && echo sudo) apt-get install -y -qq --no-install-recommends "${tool#*:}" >/dev/null
  fi
done
if [[ -f "$web/node_modules/@xterm/xterm/lib/xterm.js" &&
      "$web/node_modules/.package-lock.json" -nt "$web/package-lock.json" ]]; then
  echo "install-deps: xterm.js present (runtime/web/node_modules)"
else
  echo "install-deps: npm ci in runtime/web"
  (cd "$web" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
