#!/usr/bin/env bash
# Stage leftovers (last): the test suite leaves nothing on the host. No process or zombie
# of lifeline's programs is still there, and no lifeline-* cgroup that was not there when
# ci/test.sh began (its snapshot: build/leftovers-before.json).
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 ci/lib/leftovers.py --check build/leftovers-before.json
