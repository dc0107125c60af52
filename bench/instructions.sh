#!/usr/bin/env bash
# User-space instructions per echoed message, the way issue 12 measures them: callgrind on a
# server, `wsload rate --connections 50 --rate 1000` (16-byte text) for a short and a long
# window, and (Ir_long - Ir_short) / (messages_long - messages_short), so start-up, the
# handshakes and the ragged edges of each window cancel. libc is included (callgrind counts
# every user-space instruction of the process); the kernel is not. Steadier than any time:
# the work per message is fixed, but how many events one epoll_wait returns depends on
# timing, so the loop's own share moves a little (on the shared 2-core VM, ±3%). Hence
# RUNS pairs per server (default 3), reported as median (min-max).
#
#   bench/instructions.sh [SERVER...]     (default: wsedge and the raw TCP echo)
#
# SERVER is `wsedge`, `raw` (bench/peers/raw_echo, a TCP echo with no WebSocket: the floor)
# or a path to a wsedge binary (to compare two builds). Needs valgrind and `make` (and
# `make test-bins` for raw). Pins the server to CPU 1 and wsload to CPU 0. About 30 s per
# server per run. Prints one line per server. EXTRA_ARGS (split on spaces) is added to every
# wsedge command line, e.g. EXTRA_ARGS="--metrics 127.0.0.1:0" to measure with metrics on.
#
# MEASURE=wsload counts the load generator's instructions instead (the server runs natively,
# wsload under callgrind), the same way: its own cost per echo, decoding and verifying
# included. WSLOAD=PATH names the wsload binary (default build/wsload), to compare two builds.
set -euo pipefail
cd "$(dirname "$0")/.."
SHORT=${SHORT:-2}
LONG=${LONG:-6}
MEASURE=${MEASURE:-server}
WSLOAD=${WSLOAD:-build/wsload}
servers=("$@")
[ ${#servers[@]} -gt 0 ] || servers=(wsedge raw)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run SERVER SECONDS -> prints "MESSAGES INSTRUCTIONS"
run() {
  local argv raw="" out="$work/out" cg="$work/cg" pid url messages
  case $1 in
    wsedge) argv=(build/wsedge --port 0 --log-level warn --web "" --ping-interval 0 ${EXTRA_ARGS:-}) ;;
    raw) argv=(build/peers/raw_echo --port 0); raw=--raw ;;
    *) argv=("$1" --port 0 --log-level warn --web "" --ping-interval 0 ${EXTRA_ARGS:-}) ;;
  esac
  local server=(valgrind --tool=callgrind --quiet --callgrind-out-file="$cg") client=()
  if [ "$MEASURE" = wsload ]; then client=("${server[@]}"); server=(); fi
  taskset -c 1 "${server[@]}" "${argv[@]}" >"$out" 2>/dev/null &
  pid=$!
  for _ in $(seq 200); do grep -qs listening "$out" && break; sleep 0.1; done
  url=$(grep -o 'ws://[0-9.]*:[0-9]*/' "$out" | head -n 1)
  [ -n "$url" ] || { echo "instructions.sh: $1 did not start" >&2; kill "$pid"; exit 2; }
  messages=$(taskset -c 0 "${client[@]}" "$WSLOAD" rate --url "$url" --connections 50 --rate 1000 \
    --size 16 --duration "$2" --warmup 0 --json --quiet $raw |
    python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["errors"]==0, j; print(j["messages"])')
  kill -TERM "$pid"
  wait "$pid" || true
  echo "$messages $(grep -E '^(summary|totals):' "$cg" | head -n 1 | awk '{print $2}')"
}

RUNS=${RUNS:-3}
for s in "${servers[@]}"; do
  figures=()
  for _ in $(seq "$RUNS"); do
    read -r m1 i1 < <(run "$s" "$SHORT")
    read -r m2 i2 < <(run "$s" "$LONG")
    figures+=("$(python3 -c "import sys; m1,i1,m2,i2=map(int,sys.argv[1:]); print(f'{(i2-i1)/(m2-m1):.1f}')" \
      "$m1" "$i1" "$m2" "$i2")")
  done
  python3 -c "import statistics,sys; f=sorted(map(float,sys.argv[3:])); \
print(f'{sys.argv[1]:>10}: {statistics.median(f):7.1f} Ir ({sys.argv[2]}) per echoed 16 B message ({f[0]:.1f}-{f[-1]:.1f}, {len(f)} runs)')" \
    "$s" "$MEASURE" "${figures[@]}"
done
