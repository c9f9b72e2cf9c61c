#!/usr/bin/env bash
# make stress-test: load Redis, start `make serve` on the Redis profile, run locust headless for
# 60 s with 50 users, write reports/stress/index.html, stop the server. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
export SKYPROPHET_ONLINE_STORE=redis
FROM=${SKYPROPHET_STRESS_FROM:-2013-12-30T12:00:00+00:00}
.venv/bin/skyprophet features materialize --online redis --replace --start 2013-12-29T12:00:00+00:00 --end "$FROM" > /dev/null
mkdir -p reports/stress
setsid make --no-print-directory serve PORT=8000 > reports/stress/server.log 2>&1 &
SERVER=$!
trap 'kill -TERM -- -$SERVER 2>/dev/null || kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  if curl -fsS http://127.0.0.1:8000/ready > /dev/null 2>&1; then break; fi
  sleep 0.5
done
curl -fsS http://127.0.0.1:8000/ready > /dev/null
.venv/bin/locust -f tests/stress/locustfile.py --headless -u 50 -r 10 -t 60s --host http://127.0.0.1:8000 \
  --html reports/stress/index.html --csv reports/stress/locust --only-summary
