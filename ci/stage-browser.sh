#!/usr/bin/env bash
# Stage browser: the gateway's page in Debian's headless Chromium (tests/browser/).
exec bash "$(dirname "$0")/ctest-label.sh" default browser --output-on-failure
