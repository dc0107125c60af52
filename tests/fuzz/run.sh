#!/usr/bin/env bash
# Runs the libFuzzer targets of build-fuzz/ (make fuzz) for a bounded time or number of runs.
#
#   tests/fuzz/run.sh [--build] [--seconds S | --runs N [--max-seconds S]] [--out DIR] [NAME...]
#
# NAME is a target without its fuzz_ prefix (default: every tests/fuzz/fuzz_*.cpp). Each
# target starts from its committed seeds, tests/fuzz/corpus/NAME/ (read only), and grows a
# scratch corpus in DIR/corpus/NAME/; it gets tests/fuzz/NAME.dict when there is one and the
# libFuzzer flags in tests/fuzz/NAME.options (one per line). A crash, a broken invariant, a
# leak, a timeout or running out of memory fails the target; its input is saved as
# DIR/artifacts/NAME-crash-... (docs/fuzzing.md says how to replay it). One line per target,
# then "N passed, N failed". Exit 1 if any failed. --build runs `make fuzz` first.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
seconds=10
runs=""
max_seconds=""
out="$FUZZ_BUILD/run"
build=0
names=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --max-seconds) max_seconds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build) build=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cpp; do
    n=$(basename "$f" .cpp)
    names+=("${n#fuzz_}")
  done
fi
mkdir -p "$out/artifacts"
if [ "$build" = 1 ]; then
  echo "make fuzz (clang++-14, ASan + UBSan + libFuzzer): log $out/build.log"
  make --no-print-directory fuzz FUZZ_BUILD="$FUZZ_BUILD" >"$out/build.log" 2>&1 || {
    tail -n 30 "$out/build.log"
    echo "0 passed, ${#names[@]} failed"
    exit 1
  }
fi

pass=0
fail=0
for name in "${names[@]}"; do
  bin="$FUZZ_BUILD/fuzz_$name"
  log="$out/$name.log"
  if [ ! -x "$bin" ]; then
    echo "FAIL $name: $bin not built (make fuzz)"
    fail=$((fail + 1))
    continue
  fi
  mkdir -p "$out/corpus/$name"
  args=(-print_final_stats=1 -timeout=10 -rss_limit_mb=2048 "-artifact_prefix=$out/artifacts/$name-")
  if [ -n "$runs" ]; then args+=("-runs=$runs"); else args+=("-max_total_time=$seconds"); fi
  [ -n "$max_seconds" ] && args+=("-max_total_time=$max_seconds")
  [ -f "tests/fuzz/$name.dict" ] && args+=("-dict=tests/fuzz/$name.dict")
  if [ -f "tests/fuzz/$name.options" ]; then
    while read -r flag; do
      [ -n "$flag" ] && [ "${flag#\#}" = "$flag" ] && args+=("$flag")
    done <"tests/fuzz/$name.options"
  fi
  seeds=()
  [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
  start=$(date +%s)
  "$bin" "${args[@]}" "$out/corpus/$name" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  status=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*')
  if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
    echo "ok   $name: ${execs} runs in ${took}s, $status"
    pass=$((pass + 1))
  else
    echo "FAIL $name (exit $rc after ${took}s): log $log"
    grep -m 1 -E 'invariant broken|ERROR: |SUMMARY: |runtime error' "$log" | sed 's/^/     /'
    ls "$out/artifacts/$name-"* 2>/dev/null | sed 's/^/     input: /'
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
