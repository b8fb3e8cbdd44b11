#!/usr/bin/env bash
# Stage tsan (opt-in, WITH_TSAN=1): the gateway's threads (event loop, spawner, store,
# stdio) under ThreadSanitizer, driven by the integration tests. A report fails a test.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset tsan >/dev/null
cmake --build build/tsan -j "$(nproc)" --target lifeline-gateway lifeline-slash-worker
TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1 LIFELINE_BUILD="$PWD/build/tsan" \
  /usr/bin/python3 -m unittest discover -s tests/integration -p 'test_*.py'
