#!/usr/bin/env bash
# Stage lint: the layering and purity rules of docs/DESIGN.md, checked on the sources (the
# compiler checks the include roots; this catches what an include root cannot: real time,
# threads or processes in core/, and relative includes that climb out of a layer).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/check-core-purity.sh
# Mutation lists are "file|text|replacement|what": a '|' inside a text would shift the
# fields silently, so every line must have exactly four.
bad=$(awk -F'|' '!/^#/ && NF > 0 && NF != 4 {print FILENAME ":" FNR}' tests/guards/guards.txt sim/mutations.txt)
if [[ -n "$bad" ]]; then echo "lint: mutation lines without exactly 4 fields: $bad"; exit 1; fi
bash ci/check-protocol-doc.sh
