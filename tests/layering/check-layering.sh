#!/usr/bin/env bash
# Builds each layering probe in the given build tree: every allowed probe must compile;
# every forbidden one must fail, and fail because the header it names cannot be found
# (not for some other reason), which is how a layering break shows up.
set -uo pipefail
build=$1
IFS=';' read -r -a allowed <<<"$2"
IFS=';' read -r -a forbidden <<<"$3"
status=0
for probe in "${allowed[@]}"; do
  if out=$(cmake --build "$build" --target "layering_$probe" 2>&1); then
    echo "ok: $probe compiles"
  else
    echo "FAIL: $probe should compile:"; echo "$out" | tail -20; status=1
  fi
done
for probe in "${forbidden[@]}"; do
  if out=$(cmake --build "$build" --target "layering_$probe" 2>&1); then
    echo "FAIL: $probe compiled: the layering is not enforced"; status=1
  elif grep -qE 'No such file or directory|file not found' <<<"$out"; then
    echo "ok: $probe refused: $(grep -m1 -oE '"[a-z]+/[^"]+"' <<<"$out" || true) not on its include path"
  else
    echo "FAIL: $probe failed for another reason:"; echo "$out" | tail -20; status=1
  fi
done
exit $status
