#!/usr/bin/env bash
# Stage lint: the layering and purity rules of DESIGN.md, checked on the sources (the
# compiler checks the include roots; this catches what an include root cannot: real time,
# threads or processes in core/, and relative includes that climb out of a layer).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/check-core-purity.sh
