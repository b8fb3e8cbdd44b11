#!/usr/bin/env bash
# The one test command (README): installs dependencies, checks the core's purity,
# builds and runs every test in the default build, the core and simulator tests under
# AddressSanitizer + UBSan (the simulator's scenarios, sweep and determinism check
# included), the dispatch and schedule fuzzers for a bounded time, the guard-removal
# check that proves the lifecycle tests can fail, and the simulator's mutation study.
# Environment: FUZZ_SECONDS (default 60), SIM_FUZZ_SECONDS (45), SKIP_GUARDS=1 to skip the
# guard check, SKIP_MUTANTS=1 to skip the simulator's mutation study, WITH_TSAN=1 to add
# a ThreadSanitizer run of the real gateway under the integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
summary=()
total_pass=0
total_fail=0

step() { echo; echo "==== $* ===="; }

run_ctest() { # preset
  local log
  log=$(mktemp)
  set +e
  ctest --preset "$1" -j "$jobs" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
  if [[ -n "$line" ]]; then
    local failed total
    failed=$(sed -E 's/.*tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.*tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    total_pass=$((total_pass + total - failed))
    total_fail=$((total_fail + failed))
    summary+=("ctest $1: $line")
  fi
  rm -f "$log"
  return "$rc"
}

step "dependencies"
bash ci/install-deps.sh

step "core purity"
bash ci/check-core-purity.sh

step "default build"
cmake --preset default >/dev/null
cmake --build --preset default -j "$jobs"
run_ctest default

step "ASan + UBSan build (core and simulator tests)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest asan

if [[ "${WITH_TSAN:-0}" == 1 ]]; then
  # Opt-in (about 5 minutes more): the gateway's threads (event loop, store, stdio)
  # under ThreadSanitizer, driven by the integration tests. A report fails the test.
  step "ThreadSanitizer: the real gateway under the integration tests"
  cmake --preset tsan >/dev/null
  cmake --build build/tsan -j "$jobs" --target lifeline-gateway lifeline-slash-worker
  if TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1 LIFELINE_BUILD="$PWD/build/tsan" \
    /usr/bin/python3 -m unittest discover -s tests/integration -p 'test_*.py'; then
    summary+=("ThreadSanitizer integration run: passed")
    total_pass=$((total_pass + 1))
  else
    summary+=("ThreadSanitizer integration run: FAILED")
    total_fail=$((total_fail + 1))
  fi
fi

step "fuzz: JSON-RPC decode + dispatch (${FUZZ_SECONDS:-60} s)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
work=$(mktemp -d)
./build/fuzz/fuzz/jsonrpc_dispatch_fuzzer -max_total_time="${FUZZ_SECONDS:-60}" -max_len=4096 \
  -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "$work" fuzz/corpus/jsonrpc_dispatch 2>&1 |
  grep -E '^(Done|stat::number_of_executed_units|INFO: Seed)|ERROR|SUMMARY|invariant' || true
status=${PIPESTATUS[0]}
rm -rf "$work"
if [[ $status -ne 0 ]]; then
  echo "fuzzer found a failure (exit $status)"; exit "$status"
fi
summary+=("fuzz: no crash, leak or invariant violation in ${FUZZ_SECONDS:-60} s")

step "fuzz: simulator schedules (${SIM_FUZZ_SECONDS:-45} s)"
work=$(mktemp -d)
./build/fuzz/fuzz/sim_schedule_fuzzer -max_total_time="${SIM_FUZZ_SECONDS:-45}" -max_len=512 \
  -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 "$work" fuzz/corpus/sim_schedule 2>&1 |
  grep -E '^(Done|stat::number_of_executed_units|INFO: Seed)|ERROR|SUMMARY|invariant|reproduction|simrun_reproduction' || true
status=${PIPESTATUS[0]}
rm -rf "$work"
if [[ $status -ne 0 ]]; then
  echo "schedule fuzzer found an invariant violation (exit $status)"; exit "$status"
fi
summary+=("fuzz: no invariant violation in ${SIM_FUZZ_SECONDS:-45} s of simulator schedules")

if [[ "${SKIP_GUARDS:-0}" != 1 ]]; then
  step "guard removal: every guard's absence must turn a test red"
  bash tests/guards/check-guards.sh
  summary+=("guards: every listed guard removal was caught")
fi

if [[ "${SKIP_MUTANTS:-0}" != 1 ]]; then
  step "simulator mutation study: each historical bug, reintroduced, must be found by a sweep"
  bash sim/mutation-study.sh
  summary+=("mutants: the simulator found every reintroduced historical bug (sim/mutations.txt)")
fi

step "summary"
printf '%s\n' "${summary[@]}"
echo "${total_pass} passed, ${total_fail} failed"
[[ $total_fail -eq 0 ]]
