#!/usr/bin/env bash
# Stage mutants: each bug of sim/mutations.txt, reintroduced, must be found by a sweep.
exec bash "$(dirname "$0")/../sim/mutation-study.sh"
