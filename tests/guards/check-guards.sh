#!/usr/bin/env bash
# Proves the tests can fail: removes each guard listed in guards.txt, one at a time, in a
# scratch copy of the tree, rebuilds, and expects the core tests to go red. Prints one
# line per guard and exits non-zero if any removal went unnoticed.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
scratch=${GUARDS_SCRATCH:-$(mktemp -d /tmp/lifeline-guards.XXXXXX)}
mkdir -p "$scratch/src"
(cd "$here" && git ls-files -z | xargs -0 -I{} cp --parents {} "$scratch/src/")
cmake -S "$scratch/src" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" -DLIFELINE_WERROR=OFF -DLIFELINE_RUNTIME=OFF >/dev/null
unnoticed=0
while IFS='|' read -r file old new what; do
  [[ -z "$file" || "$file" == \#* ]] && continue
  cp "$here/$file" "$scratch/src/$file"
  /usr/bin/python3 - "$scratch/src/$file" "$old" "$new" <<'PY'
import sys
path, old, new = sys.argv[1], sys.argv[2].replace('\\n', '\n'), sys.argv[3].replace('\\n', '\n')
text = open(path).read()
if text.count(old) != 1:
    sys.exit(f"guard text not found exactly once in {path}: {old!r}")
open(path, 'w').write(text.replace(old, new))
PY
  if ! cmake --build "$scratch/build" --target core_unit_tests core_property_tests >"$scratch/build.log" 2>&1; then
    echo "BUILD FAILED for mutation: $what"; cat "$scratch/build.log" | tail -20; exit 2
  fi
  failed=""
  if ! "$scratch/build/tests/core_unit_tests" --gtest_brief=1 >"$scratch/unit.log" 2>&1; then
    failed=$(grep -E '^\[  FAILED  \] [A-Za-z]' "$scratch/unit.log" | sed 's/\[  FAILED  \] //; s/ (.*//' | sort -u | tr '\n' ' ' || true)
    [[ -z "$failed" ]] && failed="(unit tests crashed: $(grep -m1 -E 'Assertion|Sanitizer|terminate' "$scratch/unit.log" || echo abort)) "
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
  cp "$here/$file" "$scratch/src/$file"
done < "$here/tests/guards/guards.txt"
[[ -z "${GUARDS_SCRATCH:-}" ]] && rm -rf "$scratch"
echo "$unnoticed guard removal(s) went unnoticed"
[[ $unnoticed -eq 0 ]]
