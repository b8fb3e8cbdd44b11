#!/usr/bin/env bash
# Stage unit: the core's unit and property tests, and the layering probes.
exec bash "$(dirname "$0")/ctest-label.sh" default unit
