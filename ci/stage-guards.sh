#!/usr/bin/env bash
# Stage guards: every guard's removal (tests/guards/guards.txt) must turn a test red.
exec bash "$(dirname "$0")/../tests/guards/check-guards.sh"
