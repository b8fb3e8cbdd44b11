#!/usr/bin/env bash
# Stage integration: the real gateway and worker, real processes, PTYs and SQLite.
exec bash "$(dirname "$0")/ctest-label.sh" default integration
