#!/usr/bin/env bash
# Installs every Debian package lifeline needs to build and test. Idempotent: skips
# apt entirely when everything is already there. Run as root (or with sudo).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git python3 ccache
  clang libclang-rt-14-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  libboost1.81-dev libsqlite3-dev libfiu-dev fiu-utils
  python3-websockets python3-psutil
  chromium libjs-xterm systemd dpkg-dev nginx-light websocketd prometheus
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
