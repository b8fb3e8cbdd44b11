#!/usr/bin/env bash
# Proves the tests can fail: removes each guard listed in guards.txt, one at a time, in a
# scratch copy of the tree, rebuilds (-O1, no debug info: only pass or fail matters, and
# 22 rebuilds must fit CI's time), and expects the core tests to go red. Prints one
# line per guard and exits non-zero if any removal went unnoticed.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
scratch=${GUARDS_SCRATCH:-$(mktemp -d /tmp/lifeline-guards.XXXXXX)}
source "$here/ci/lib/scratch-mutation.sh"
scratch_snapshot "$here" "$scratch"
cmake -S "$scratch/src" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1" -DLIFELINE_WERROR=OFF -DLIFELINE_RUNTIME=OFF >/dev/null
unnoticed=0
while IFS='|' read -r file old new what; do
  [[ -z "$file" || "$file" == \#* ]] && continue
  scratch_mutate "$scratch" "$file" "$old" "$new"
  if ! cmake --build "$scratch/build" --target core_unit_tests core_property_tests >"$scratch/build.log" 2>&1; then
    echo "BUILD FAILED for mutation: $what"; cat "$scratch/build.log" | tail -20; exit 2
  fi
  failed=""
  if ! "$scratch/build/tests/core_unit_tests" --gtest_brief=1 >"$scratch/unit.log" 2>&1; then
    failed=$(grep -E '^\[  FAILED  \] [A-Za-z]' "$scratch/unit.log" | sed 's/\[  FAILED  \] //; s/ (.*//' | sort -u | tr '\n' ' ' || true)
    [[ -z "$failed" ]] && failed="(unit tests crashed: $(grep -m1 -E 'Assertion|invariant broken|Sanitizer|terminate' "$scratch/unit.log" || echo abort)) "
  fi
  if ! RC_PARAMS="max_success=300 max_size=60" "$scratch/build/tests/core_property_tests" >"$scratch/prop.log" 2>&1; then
    failed+="CoreModel(property) "
  fi
  if [[ -z "$failed" ]]; then
    echo "UNNOTICED  $what"
    unnoticed=$((unnoticed + 1))
  else
    echo "caught     $what  <- $failed"
  fi
  scratch_restore "$scratch" "$file"
done < "$here/tests/guards/guards.txt"
[[ -z "${GUARDS_SCRATCH:-}" ]] && rm -rf "$scratch"
echo "$unnoticed guard removal(s) went unnoticed"
[[ $unnoticed -eq 0 ]]
