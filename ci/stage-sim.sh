#!/usr/bin/env bash
# Stage sim: simrun's scenarios, swarm sweep, determinism check and saved regressions.
exec bash "$(dirname "$0")/ctest-label.sh" default sim
