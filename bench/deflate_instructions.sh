#!/usr/bin/env bash
# User-space instructions per compressed echo (permessage-deflate), against zlib's own work
# on the same kind of message: issue 12's target is the server within 1.15x of that floor.
#
#   bench/deflate_instructions.sh [SIZE]          (default 256 bytes)
#
# Server: callgrind on build/wsedge (--deflate on, context takeover both ways, zlib level 6,
# window 15, memLevel 8: the defaults), `wsload rate --deflate --connections 10 --rate 500`
# for a short and a long window (6 s and 14 s), (Ir_long - Ir_short) / (messages_long - messages_short), as
# bench/instructions.sh does for plain echoes. wsload's text is random printable ASCII.
# Floor: bench/micro_deflate's BM_ZlibEcho, the server's side of one echo (inflate the
# client's message, deflate the answer) with zlib called directly, counted by callgrind inside
# zlib_echo() alone. Both include libc and zlib; neither includes the kernel.
# RUNS pairs (default 3), median (min-max). Needs valgrind, `make` and build/micro_deflate.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-256}
SHORT=${SHORT:-6}
LONG=${LONG:-14}
RUNS=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# server SECONDS -> "MESSAGES INSTRUCTIONS"
server() {
  local out="$work/out" cg="$work/cg" pid url messages
  taskset -c 1 valgrind --tool=callgrind --quiet --callgrind-out-file="$cg" \
    build/wsedge --port 0 --log-level warn --web "" --ping-interval 0 --deflate on \
    >"$out" 2>/dev/null &
  pid=$!
  for _ in $(seq 200); do grep -qs listening "$out" && break; sleep 0.1; done
  url=$(grep -o 'ws://[0-9.]*:[0-9]*/' "$out" | head -n 1)
  [ -n "$url" ] || { echo "deflate_instructions.sh: wsedge did not start" >&2; kill "$pid"; exit 2; }
  messages=$(taskset -c 0 build/wsload rate --url "$url" --connections 10 --rate 500 \
    --size "$SIZE" --deflate --duration "$1" --warmup 0 --json --quiet |
    python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["errors"]==0, j; print(j["messages"])')
  kill -TERM "$pid"
  wait "$pid" || true
  echo "$messages $(grep -E '^(summary|totals):' "$cg" | head -n 1 | awk '{print $2}')"
}

# floor MIN_TIME -> "CALLS INSTRUCTIONS" inside zlib_echo (callgrind counts nothing else)
floor() {
  local cg="$work/floor" calls
  valgrind --tool=callgrind --quiet --callgrind-out-file="$cg" --compress-strings=no \
    --toggle-collect='*zlib_echo*' build/micro_deflate \
    --benchmark_filter="BM_ZlibEcho/size:$SIZE\$" --benchmark_min_time="$1" >/dev/null 2>&1
  calls=$(grep -A1 -E '^cfn=.*zlib_echo' "$cg" | grep -oE '^calls=[0-9]+' | cut -d= -f2 |
    awk '{s += $1} END {print s}')
  echo "$calls $(grep -E '^(summary|totals):' "$cg" | head -n 1 | awk '{print $2}')"
}

# per A1 B1 A2 B2 -> (B2 - B1) / (A2 - A1)
per() {
  python3 -c "import sys; a1,b1,a2,b2=map(int,sys.argv[1:]); print(f'{(b2-b1)/(a2-a1):.0f}')" "$@"
}

# Both sides are differenced, and both short runs are already past the warm-up: a stream's
# cost per message grows until its 32 KiB window is full (128 messages of 256 B), and each of
# the 10 connections sends ~300 messages in SHORT seconds (callgrind slows the server, not
# wsload's schedule); the floor's short run makes ~1,000 echoes.
figures=()
floors=()
for _ in $(seq "$RUNS"); do
  read -r m1 i1 < <(server "$SHORT")
  read -r m2 i2 < <(server "$LONG")
  figures+=("$(per "$m1" "$i1" "$m2" "$i2")")
  read -r c1 j1 < <(floor 0.3)
  read -r c2 j2 < <(floor 1.5)
  floors+=("$(per "$c1" "$j1" "$c2" "$j2")")
done
python3 -c '
import statistics, sys
size = sys.argv[1]
server = sorted(map(float, sys.argv[2].split()))
zlib = sorted(map(float, sys.argv[3].split()))
s, z = statistics.median(server), statistics.median(zlib)
print(f"wsedge --deflate: {s:,.0f} Ir per {size} B compressed echo "
      f"({server[0]:,.0f}-{server[-1]:,.0f}, {len(server)} runs)")
print(f"zlib alone (micro_deflate BM_ZlibEcho): {z:,.0f} Ir ({zlib[0]:,.0f}-{zlib[-1]:,.0f})")
print(f"ratio {s / z:.3f} (issue 12: at most 1.15)")
' "$SIZE" "${figures[*]}" "${floors[*]}"
