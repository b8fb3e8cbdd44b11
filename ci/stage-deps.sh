#!/usr/bin/env bash
# Stage deps: every Debian package the build and the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
