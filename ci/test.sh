#!/usr/bin/env bash
# The one test command (README). Runs named stages, each a script ci/stage-<name>.sh, in
# order, and prints the time each took. With no arguments it runs every default stage;
# `bash ci/test.sh unit sim` runs just those (the build stages they need are the
# caller's business: `bash ci/test.sh deps build unit`).
#
# Budget: the whole default run must stay under 45 minutes on the 2-core CI machine
# (90 is the hard limit). When a stage grows, shorten it (fuzz seconds, sweep sizes)
# rather than go over. Knobs: FUZZ_SECONDS, SIM_FUZZ_SECONDS, PROC_STAT_FUZZ_SECONDS,
# SKIP_GUARDS=1, SKIP_MUTANTS=1, WITH_TSAN=1 (adds the tsan stage). ccache (installed by
# stage deps) serves the repeated builds; `ccache -s` at the end says how well.
set -uo pipefail
cd "$(dirname "$0")/.."

default_stages=(deps lint format build unit sim integration browser package soak asan fuzz tidy guards mutants)
[[ "${WITH_TSAN:-0}" == 1 ]] && default_stages+=(tsan)
default_stages+=(leftovers) # last: nothing of the project may be left on the host
if (($# > 0)); then stages=("$@"); else stages=("${default_stages[@]}"); fi

for s in "${stages[@]}"; do
  [[ -f "ci/stage-$s.sh" ]] || { echo "ci/test.sh: no stage '$s' (ci/stage-$s.sh)"; exit 2; }
done

# What was on the host before any stage ran, for the leftovers stage.
mkdir -p build
[[ " ${stages[*]} " == *" leftovers "* && " ${stages[*]} " == *" deps "* ]] &&
  /usr/bin/python3 ci/lib/leftovers.py --snapshot build/leftovers-before.json

summary=()
failed=0
failed_stages=()
t_all=$SECONDS
for s in "${stages[@]}"; do
  if [[ "$s" == guards && "${SKIP_GUARDS:-0}" == 1 ]] || [[ "$s" == mutants && "${SKIP_MUTANTS:-0}" == 1 ]]; then
    summary+=("$(printf '%-12s skipped (SKIP_%s=1)' "$s" "${s^^}")"); continue
  fi
  echo; echo "==== stage $s ===="
  t0=$SECONDS
  # Each stage's output is kept, so that a failure can be repeated below the summary:
  # a CI report that shows only its last screen still says why.
  mkdir -p build/stage-logs
  bash "ci/stage-$s.sh" 2>&1 | tee "build/stage-logs/$s.log"
  rc=${PIPESTATUS[0]}
  dt=$((SECONDS - t0))
  if ((rc == 0)); then
    summary+=("$(printf '%-12s passed  %4d s' "$s" "$dt")")
  else
    summary+=("$(printf '%-12s FAILED  %4d s (exit %d)' "$s" "$dt" "$rc")")
    failed=$((failed + 1))
    failed_stages+=("$s")
    # Later stages build on earlier ones; a broken build makes the rest noise.
    [[ "$s" == deps || "$s" == build ]] && break
  fi
done

command -v ccache >/dev/null && { echo; ccache -s 2>/dev/null | grep -iE "hits|misses" | head -4; }
for s in "${failed_stages[@]}"; do
  echo; echo "==== why $s failed: the last lines of its output ===="
  tail -n 30 "build/stage-logs/$s.log"
done
echo; echo "==== summary ===="
printf '%s\n' "${summary[@]}"
echo "total $((SECONDS - t_all)) s, $failed stage(s) failed"
((failed == 0))
