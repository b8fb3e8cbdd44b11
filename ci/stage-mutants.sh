#!/usr/bin/env bash
# Stage mutants: each bug of sim/mutations.txt, reintroduced, must be found by a sweep.
# 1000 seeds per mutant: the issue's bar (a mutant that survives 1000 seeds fails CI).
SEEDS=${SEEDS:-1000} exec bash "$(dirname "$0")/../sim/mutation-study.sh"
