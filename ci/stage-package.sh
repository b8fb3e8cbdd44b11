#!/usr/bin/env bash
# Stage package: cpack builds the .deb, installed into a scratch root it serves a session;
# the systemd unit passes systemd-analyze verify (tests/package/).
exec bash "$(dirname "$0")/ctest-label.sh" default package --output-on-failure
