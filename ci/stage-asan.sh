#!/usr/bin/env bash
# Stage asan: every test again under AddressSanitizer + UBSan (the simulator's shorter
# sweep, the real gateway under the integration tests).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$(nproc)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan -j "$(nproc)" -LE package
