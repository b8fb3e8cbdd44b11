#!/usr/bin/env bash
# Stage tidy: clang-tidy (.clang-tidy: bugprone, concurrency, performance and a readability
# subset, warnings as errors) over every C++ file of core/, sim/, runtime/ and fuzz/, using
# the default build's compile_commands.json (run after the build stage). About 3 minutes
# on 2 cores; TIDY_FILES='regex' narrows it.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f build/default/compile_commands.json ]] || { cmake --preset default >/dev/null; }
log=$(mktemp)
set +e
run-clang-tidy -p build/default -quiet -j "$(nproc)" "${TIDY_FILES:-$PWD/(core|sim|runtime|fuzz)/}" >"$log" 2>&1
rc=$?
set -e
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '(warning|error):' | sort -u || true
rm -f "$log"
if ((rc != 0)); then echo "tidy: findings above (exit $rc)"; exit 1; fi
echo "tidy: clean"
