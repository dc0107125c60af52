#!/usr/bin/env bash
# Server RSS per idle WebSocket connection, with and without permessage-deflate negotiated.
#
#   bench/idle_memory.sh [CONNECTIONS] [RUNS]      (defaults: 10000 connections, 3 runs)
#
# Each run starts a fresh wsedge (pinned to CPU 1) so one run's freed memory cannot
# flatter the next, opens CONNECTIONS WebSockets with build/wsload idle (CPU 0), and takes
# (RSS with them open - RSS before) / CONNECTIONS from /proc. Prints every run and the
# median per variant. Needs `make` first; loopback only, ports chosen by the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
RUNS=${2:-3}
ulimit -n "$(ulimit -Hn)"

one_run() {  # one_run EXTRA_WSLOAD_FLAG -> prints bytes per connection
  local out pid port
  out=$(mktemp)
  taskset -c 1 build/wsedge --port 0 --log-level warn >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.1; done
  port=$(head -n 1 "$out" | sed -E 's/.*:([0-9]+)\/$/\1/')
  taskset -c 0 build/wsload idle --url "ws://127.0.0.1:$port/" --connections "$N" \
    --duration 1 --warmup 0 --server-pid "$pid" --json --quiet $1 |
    python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["errors"]==0, j; print(j["rss_per_conn_bytes"])'
  kill "$pid"
  wait "$pid" || true
  rm -f "$out"
}

for variant in "" "--deflate"; do
  vals=()
  for _ in $(seq "$RUNS"); do vals+=("$(one_run "$variant")"); done
  median=$(printf '%s\n' "${vals[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
  printf '%-22s %s connections: %s B/conn (runs: %s)\n' "${variant:-no compression}" "$N" \
    "$median" "${vals[*]}"
done
