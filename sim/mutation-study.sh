#!/usr/bin/env bash
# Shows that simrun finds bugs: reintroduces each historical failure mode listed in
# sim/mutations.txt into a scratch copy of the core (never into the tree), rebuilds
# simrun, sweeps seeds until the first failure, then minimizes it. Prints one line per
# mutation: seeds needed, sweep wall time, the invariant, the minimized schedule length.
# Exits non-zero if a mutation survives the sweep. SEEDS (default 1000: CI fails if a mutant survives that many), JOBS (nproc).
# TABLE=FILE also writes the results as the markdown table sim/README.md shows (the
# README's table is pasted from it, never edited by hand), with the per-invariant list.
# MUTATIONS=FILE studies another list (a few lines of sim/mutations.txt, while writing them).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
seeds=${SEEDS:-1000}
jobs=${JOBS:-$(nproc)}
scratch=$(mktemp -d /tmp/lifeline-mutants.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
source "$here/ci/lib/scratch-mutation.sh"
scratch_snapshot "$here" "$scratch"
cmake -S "$scratch/src" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2" -DLIFELINE_WERROR=OFF \
  -DLIFELINE_RUNTIME=OFF -DLIFELINE_TESTS=OFF >/dev/null
survived=0
total=0
rows=()
caught_by=() # the invariant that found each killed mutant
caught_what=() # and that mutant
printf '%-70s %8s %8s %s\n' "mutation" "seeds" "sweep s" "invariant -> minimized steps"
while IFS='|' read -r file old new what; do
  [[ -z "$file" || "$file" == \#* ]] && continue
  total=$((total + 1))
  scratch_mutate "$scratch" "$file" "$old" "$new"
  cmake --build "$scratch/build" --target simrun >"$scratch/build.log" 2>&1 || { tail -20 "$scratch/build.log"; exit 2; }
  start=$(date +%s%N)
  out=$("$scratch/build/sim/simrun" --seeds "1..$seeds" --jobs "$jobs" --quiet 2>&1 || true)
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  secs=$(printf "%d.%03d" $((ms / 1000)) $((ms % 1000)))
  seed=$(sed -nE 's/^sweep .*: seed ([0-9]+) fails.*/\1/p' <<<"$out" | head -1)
  if [[ -z "$seed" ]]; then # a crash names the seeds in flight: find the one that crashes
    for s in $(sed -nE 's/^simrun: crashed .* seed (.*)$/\1/p' <<<"$out"); do
      # Through sh, so that the abort is reported (to /dev/null) by that shell, not ours.
      if ! sh -c '"$0" --seed "$1" >/dev/null 2>&1; exit $?' "$scratch/build/sim/simrun" "$s" 2>/dev/null; then
        seed=$s
        break
      fi
    done
  fi
  if [[ -z "$seed" ]]; then
    printf '%-70s %8s %8s %s\n' "$what" "-" "$secs" "SURVIVED $seeds seeds"
    survived=$((survived + 1))
  else
    invariant=$(sed -nE 's/^FAIL invariant "([^"]+)".*/\1/p; s/^simrun: (crashed) .*/core assertion (\1)/p' <<<"$out" | head -1)
    min=$(cd "$scratch" && "$scratch/build/sim/simrun" --minimize --seed "$seed" --quiet --out "$scratch/m.json" || true)
    steps=$(sed -nE 's/^minimized ([0-9]+) -> ([0-9]+) steps.*/\1 -> \2/p' <<<"$min")
    printf '%-70s %8s %8s %s\n' "$what" "$seed" "$secs" "$invariant -> $steps steps"
    caught_by+=("$invariant")
    caught_what+=("$what")
    rows+=("| $what | $seed | $invariant | $steps |")
  fi
  scratch_restore "$scratch" "$file"
done <"${MUTATIONS:-$here/sim/mutations.txt}"
# The catalogue's side: which entries this study shows catching a mutant (docs/DESIGN.md asks
# it of every entry; the rest are listed, not hidden).
shown=0
entries=0
not_shown=()
while IFS=$'\t' read -r name rule when site; do
  [[ "$when" == "by construction" || "$name" == scenario* ]] && continue
  entries=$((entries + 1))
  if printf '%s\n' "${caught_by[@]}" | grep -qxF -- "$name"; then
    shown=$((shown + 1))
  else
    not_shown+=("$name")
  fi
done < <("$scratch/build/sim/simrun" --catalogue)
echo "catalogue: $shown of $entries entries caught a mutant here; not (yet) shown by this study:"
printf '  - %s\n' "${not_shown[@]}"
if [[ -n "${TABLE:-}" ]]; then
  {
    echo "| mutation | seeds to the first failure | invariant | minimized steps |"
    echo "|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Mutants caught, per invariant:"
    echo
    while IFS= read -r inv; do
      echo "- **$inv**"
      for i in "${!caught_by[@]}"; do
        [[ "${caught_by[$i]}" == "$inv" ]] && echo "  - ${caught_what[$i]}"
      done
    done < <(printf '%s\n' "${caught_by[@]}" | sort | uniq -c | sort -k1,1rn -k2 | sed -E 's/^ *[0-9]+ //')
  } >"$TABLE"
  echo "table written to $TABLE"
fi
echo "$survived mutation(s) survived; killed $((total - survived)) of $total ($(( (total - survived) * 100 / (total > 0 ? total : 1) ))%) within $seeds seeds"
[[ $survived -eq 0 ]]
