#!/usr/bin/env bash
# Stage format: every C++ file is as the repo's .clang-format has it.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
clang-format --dry-run -Werror "${files[@]}"
echo "format: ${#files[@]} files clean"
