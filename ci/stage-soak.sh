#!/usr/bin/env bash
# Stage soak (issue 13): a 2-minute soak with faults and a gateway kill every 20 s, then
# a 1-minute soak through nginx. Each writes its series and plot to build/soak-*/ (kept
# as the run's record) and fails the stage on FAIL. Knobs: SOAK_SECONDS, NGINX_SOAK_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
soak=build/default/runtime/lifeline-soak
seed=${SOAK_SEED:-$(( $(date +%s) % 100000 ))}
echo "soak seed $seed (replay: SOAK_SEED=$seed bash ci/test.sh soak)"
"$soak" --duration "${SOAK_SECONDS:-120}" --clients 6 --seed "$seed" --kill-every 20 --faults 0.5 \
  --out build/soak-faults
"$soak" --duration "${NGINX_SOAK_SECONDS:-60}" --clients 6 --seed "$seed" --kill-every 20 --faults 0.3 \
  --via-nginx --out build/soak-nginx
