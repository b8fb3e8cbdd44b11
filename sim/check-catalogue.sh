#!/usr/bin/env bash
# Every invariant the simulator can report is an entry of its catalogue
# (sim/catalogue.cpp): checks each violate("...") name in sim/ against
# `simrun --catalogue`, and that no two entries share a name.
# Usage: check-catalogue.sh SIMRUN SIM_SOURCE_DIR
set -euo pipefail
simrun=$1
src=$2
names=$("$simrun" --catalogue | cut -f1)
dupes=$(sort <<<"$names" | uniq -d)
[[ -z "$dupes" ]] || { echo "catalogue entries named twice: $dupes"; exit 1; }
missing=0
used=0
while IFS= read -r name; do
  used=$((used + 1))
  if ! grep -qxF -- "$name" <<<"$names"; then
    echo "violate(\"$name\") in sim/ names no catalogue entry"
    missing=$((missing + 1))
  fi
done < <(grep -ohE 'violate\("[^"]+"' "$src"/*.cpp | sed -E 's/^violate\("//; s/"$//' | sort -u)
(( used > 10 )) || { echo "found only $used violate() names: the pattern is stale"; exit 1; }
echo "$used invariant names used in sim/, all in the catalogue of $(wc -l <<<"$names")"
(( missing == 0 ))
