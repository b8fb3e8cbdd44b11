#!/usr/bin/env bash
# Stage soak (issues 13 and 26): a 2-minute soak with faults and a gateway kill every
# 20 s; a 1-minute soak through nginx; and a 2-minute fleet soak: two gateways sharing a
# throwaway PostgreSQL (tests/integration/postgres.py), kills alternating between them,
# the database restarted every 30 s, the store audit reading PostgreSQL directly. Each
# writes its series and plot to build/soak-*/ (kept as the run's record) and fails the
# stage on FAIL. Knobs: SOAK_SECONDS, NGINX_SOAK_SECONDS, FLEET_SOAK_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
soak=build/default/runtime/lifeline-soak
seed=${SOAK_SEED:-$(( $(date +%s) % 100000 ))}
echo "soak seed $seed (replay: SOAK_SEED=$seed bash ci/test.sh soak)"
"$soak" --duration "${SOAK_SECONDS:-120}" --clients 6 --seed "$seed" --kill-every 20 --faults 0.5 \
  --out build/soak-faults
"$soak" --duration "${NGINX_SOAK_SECONDS:-60}" --clients 6 --seed "$seed" --kill-every 20 --faults 0.3 \
  --via-nginx --out build/soak-nginx
/usr/bin/python3 tests/integration/postgres.py run -- sh -c \
  '"$0" --duration "$1" --clients 6 --seed "$2" --kill-every 20 --faults 0.3 \
     --store "$LIFELINE_TEST_PG_URL" --gateways 2 --db-restart-every 30 --out build/soak-fleet' \
  "$soak" "${FLEET_SOAK_SECONDS:-120}" "$seed"
