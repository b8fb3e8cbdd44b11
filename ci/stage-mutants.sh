#!/usr/bin/env bash
# Stage mutants: each bug of sim/mutations.txt, reintroduced, must be found by a sweep.
# 1000 seeds per mutant: the issue's bar (a mutant that survives 1000 seeds fails CI).
# The results table (build/mutation-study.md) is what sim/README.md's table is pasted from.
mkdir -p "$(dirname "$0")/../build"
SEEDS=${SEEDS:-1000} TABLE=${TABLE:-$(cd "$(dirname "$0")/.." && pwd)/build/mutation-study.md} \
  exec bash "$(dirname "$0")/../sim/mutation-study.sh"
