#!/usr/bin/env bash
# The mutation lists still apply to the code (fast, no build): every entry of
# sim/mutations.txt and tests/guards/guards.txt finds its text exactly once (after its
# marker, for "@NAME:" entries) and changes the file; every "// mutant: NAME" marker in
# the code is used by an entry. The long stages (mutants, guards) would fail on drift
# too, but only after minutes of building.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
bad=0
for list in sim/mutations.txt tests/guards/guards.txt; do
  while IFS='|' read -r file old new what; do
    [[ -z "$file" || "$file" == \#* ]] && continue
    cp "$file" "$tmp"
    if ! /usr/bin/python3 ci/lib/mutate.py "$tmp" "$old" "$new"; then
      echo "$list: '$what' no longer applies"
      bad=1
    elif cmp -s "$file" "$tmp"; then
      echo "$list: '$what' changes nothing"
      bad=1
    fi
  done <"$list"
done
for name in $(grep -rhoE '// mutant: [A-Za-z0-9_.-]+' core runtime 2>/dev/null | sed 's|// mutant: ||'); do
  if ! grep -qF "|@$name:" sim/mutations.txt tests/guards/guards.txt; then
    echo "marker '// mutant: $name' is used by no mutation list entry"
    bad=1
  fi
done
[[ $bad -eq 0 ]] && echo "mutation lists: every entry applies, every marker is used"
exit $bad
