#!/usr/bin/env bash
# Stage build: the default preset (RelWithDebInfo, _GLIBCXX_ASSERTIONS, -Werror).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)"
