#!/usr/bin/env bash
# Runs one ctest label of one preset's build: ci/ctest-label.sh PRESET LABEL [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=$1 label=$2
shift 2
ctest --preset "$preset" -L "^$label\$" -j "$(nproc)" "$@"
