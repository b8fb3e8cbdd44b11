#!/usr/bin/env bash
# README's run command: installs dependencies, builds, and runs lifeline-gateway with
# its SQLite store under the state dir (default ~/.local/state/lifeline). Extra
# arguments go to the gateway (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" --target lifeline-gateway lifeline-slash-worker
exec ./build/default/runtime/lifeline-gateway "$@"
