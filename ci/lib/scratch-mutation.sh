# Sourced by tests/guards/check-guards.sh and sim/mutation-study.sh: a scratch copy of the
# tracked tree, and one mutation at a time applied to it (never to the tree itself).
# Mutation lists are lines "file|text|replacement|what it means" (\n for newlines). The
# text is matched by ci/lib/mutate.py: whitespace-insensitively, after a "// mutant: NAME"
# marker comment when it starts with "@NAME:", else where it occurs exactly once; a list
# that drifted from the code fails loudly.

# scratch_snapshot ROOT SCRATCH: copies ROOT's tracked files to SCRATCH/src, and keeps a
# pristine copy in SCRATCH/orig that every mutation starts from (editing ROOT while a
# study runs changes nothing in it).
scratch_snapshot() {
  local root=$1 scratch=$2
  mkdir -p "$scratch/src" "$scratch/orig"
  (cd "$root" && git ls-files -z | xargs -0 -I{} cp --parents {} "$scratch/src/")
  cp -a "$scratch/src/." "$scratch/orig/"
}

# scratch_mutate SCRATCH FILE OLD NEW: FILE (relative) from the pristine copy, OLD -> NEW.
scratch_mutate() {
  local scratch=$1 file=$2
  cp "$scratch/orig/$file" "$scratch/src/$file"
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/mutate.py" "$scratch/src/$file" "$3" "$4"
}

# scratch_restore SCRATCH FILE: undoes the mutation.
scratch_restore() {
  cp "$1/orig/$2" "$1/src/$2"
}
