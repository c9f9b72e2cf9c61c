#!/usr/bin/env bash
# A three-master Redis Cluster on loopback ports, started with the installed redis-server.
#
#   scripts/redis_cluster.sh start   # start (idempotent: a cluster that answers is left alone)
#   scripts/redis_cluster.sh stop    # shut the nodes down and remove their folders
#
# Ports come from REDIS_CLUSTER_PORTS (default "7100 7101 7102"); the nodes keep nothing on disk
# (no RDB, no AOF) and their cluster files live under REDIS_CLUSTER_DIR (default a temp folder).
# SKYPROPHET_REDIS_CLUSTER_NODES=127.0.0.1:7100,127.0.0.1:7101,127.0.0.1:7102 points the project at it.
set -euo pipefail

PORTS=(${REDIS_CLUSTER_PORTS:-7100 7101 7102})
DIR="${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/skyprophet-redis-cluster}"
HOST=127.0.0.1

answers() { redis-cli -h "$HOST" -p "$1" ping 2>/dev/null | grep -q PONG; }
healthy() { redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info 2>/dev/null | grep -q "cluster_state:ok"; }

start() {
  if healthy; then
    echo "redis cluster: already up on ports ${PORTS[*]}"
    return
  fi
  for port in "${PORTS[@]}"; do
    if answers "$port"; then
      # a node left from an earlier run but no working cluster: start it afresh
      redis-cli -h "$HOST" -p "$port" shutdown nosave >/dev/null 2>&1 || true
      for _ in $(seq 1 50); do answers "$port" || break; sleep 0.1; done
    fi
    mkdir -p "$DIR/$port"
    rm -f "$DIR/$port/nodes.conf"
    redis-server --port "$port" --bind "$HOST" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 5000 --dir "$DIR/$port" --save "" --appendonly no --daemonize yes \
      --logfile "$DIR/$port/redis.log"
  done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 1 100); do answers "$port" && break; sleep 0.1; done
    answers "$port" || { echo "redis cluster: node $port did not start (see $DIR/$port/redis.log)" >&2; exit 1; }
  done
  nodes=()
  for port in "${PORTS[@]}"; do nodes+=("$HOST:$port"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
  for _ in $(seq 1 100); do healthy && break; sleep 0.1; done
  healthy || { echo "redis cluster: not healthy after create" >&2; exit 1; }
  echo "redis cluster: up on ports ${PORTS[*]}"
}

stop() {
  for port in "${PORTS[@]}"; do
    redis-cli -h "$HOST" -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  rm -rf "$DIR"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
