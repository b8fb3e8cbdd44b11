#!/usr/bin/env bash
# Stage fuzz: each libFuzzer target for a bounded time (clang, ASan + UBSan). Any crash,
# leak, timeout or invariant violation fails the stage.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

run_fuzzer() { # name seconds max_len timeout corpus
  local work status
  work=$(mktemp -d)
  echo "-- $1 for $2 s"
  set +e
  "./build/fuzz/fuzz/$1" -max_total_time="$2" -max_len="$3" -timeout="$4" -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work" "fuzz/corpus/$5" >"$work.log" 2>&1
  status=$?
  set -e
  grep -E '^(Done|stat::number_of_executed_units|INFO: Seed)|ERROR|SUMMARY|invariant|reproduction' "$work.log" || true
  if ((status != 0)); then
    # Everything needed to repeat it: the report's stack and the input itself, in base64
    # (`base64 -d > crash; ./build/fuzz/fuzz/NAME crash`).
    grep -E '^ +#[0-9]+ ' "$work.log" | head -n 25 || true
    for input in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
      [[ -f "$input" ]] && echo "input $(basename "$input"): $(base64 -w0 "$input")"
    done
    echo "$1 found a failure (exit $status)"
  fi
  rm -rf "$work" "$work.log"
  ((status == 0)) || return "$status"
}
run_fuzzer jsonrpc_dispatch_fuzzer "${FUZZ_SECONDS:-45}" 4096 10 jsonrpc_dispatch
run_fuzzer sim_schedule_fuzzer "${SIM_FUZZ_SECONDS:-45}" 512 30 sim_schedule
run_fuzzer proc_stat_fuzzer "${PROC_STAT_FUZZ_SECONDS:-20}" 1024 5 proc_stat
run_fuzzer admission_fuzzer "${ADMISSION_FUZZ_SECONDS:-20}" 2048 5 admission
