#!/usr/bin/env bash
# Runs every test suite against the binaries in build dir $1 and sums their results.
# Each suite reports "N passed, N failed" (doctest's summary is translated); the last
# line of this script's output is the grand total in the same form. Exit 1 on any failure
# or on a suite that reported nothing (a suite that ran no test is a failure, not a pass).
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export WSEDGE_BIN="$ROOT/$BUILD/wsedge"
OUT="$ROOT/$BUILD/test-output"
mkdir -p "$OUT"
export WSEDGE_TEST_OUT="$OUT"   # TLS suites write their throwaway CA and keys here

total_pass=0
total_fail=0
any_missing=0

record() {  # record NAME PASS FAIL
  printf '  %-28s %5d passed, %d failed\n' "$1" "$2" "$3"
  total_pass=$((total_pass + $2))
  total_fail=$((total_fail + $3))
}

run_suite() {  # run_suite NAME COMMAND...
  local name=$1; shift
  local log="$OUT/$name.log"
  echo "== $name"
  "$@" >"$log" 2>&1
  local rc=$?
  local line pass fail
  line=$(grep -E '^\[doctest\] test cases:' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    pass=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$line")
    fail=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$line")
  else
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    pass=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
    fail=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  fi
  if [ -z "$line" ]; then
    echo "  $name reported no result (exit $rc); log follows:"
    tail -n 40 "$log" | sed 's/^/    /'
    any_missing=1
    record "$name" 0 1
    return
  fi
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi  # crashed after its summary
  if [ "$fail" -ne 0 ]; then
    grep -E 'FAIL|ERROR|Error|error' "$log" | head -n 40 | sed 's/^/    /'
  fi
  record "$name" "$pass" "$fail"
}

PY=/usr/bin/python3   # Debian's python3, which has python3-websockets

run_suite unit "$BUILD/unit_tests" --no-colors=true
# docs/RFC-COVERAGE.md against the tree (files, functions, tests, totals, cited sections),
# then the checker's own tests (tests/docs): neither needs a binary.
if [ -e tests/docs/check_rfc_coverage.py ]; then
  run_suite rfc-coverage "$PY" tests/docs/check_rfc_coverage.py
  run_suite rfc-coverage-selftest "$PY" tests/docs/test_check_rfc_coverage.py
fi
# The --trace output quoted in docs/GUIDE.md and docs/trace.md, captured again from the server.
run_suite doc-traces "$PY" tests/docs/check_traces.py
for t in tests/interop/test_*.py; do
  [ -e "$t" ] || continue
  run_suite "interop-$(basename "$t" .py)" "$PY" "$t"
done
for t in tests/interop/test_*.mjs; do
  [ -e "$t" ] || continue
  run_suite "interop-$(basename "$t" .mjs)" node "$t"
done
for t in tests/browser/test_*.mjs; do
  [ -e "$t" ] || continue
  WSEDGE_SCREENSHOTS="$OUT/screenshots" run_suite "browser-$(basename "$t" .mjs)" node "$t"
done
# Under `make asan` the conformance run does not check that each server's RSS comes back to
# its idle start (ASan's quarantine keeps freed memory): those checks print a skip line and
# count as neither passed nor failed.
if [ "$BUILD" = build-asan ]; then export WSEDGE_NO_RSS=1; fi
for t in tests/conformance/run.py; do
  [ -e "$t" ] || continue
  run_suite conformance "$PY" "$t"
  run_suite conformance-tls "$PY" "$t" --tls   # the same cases over wss:// (~45 s)
done

# --- hostile (tests/hostile/run.py, docs/SECURITY.md) ---------------------------------------
# Attacking clients, each case asserting its figures, peak and settled server RSS among them.
# Under `make asan` those figures do not hold (ASan's quarantine keeps freed memory, up to
# 256 MiB, and its shadow memory adds to RSS), so the suite is skipped there: the skip is
# printed and counts as neither passed nor failed. Cases that need flags this build lacks,
# and known bugs, are reported as pending (never as passed): their lines are shown here.
if [ "$BUILD" = build-asan ]; then
  echo "== hostile: skipped under $BUILD (ASan's quarantine and shadow memory make RSS figures meaningless)"
else
  run_suite hostile "$PY" tests/hostile/run.py
  sed -n '/^pending:/,$p' "$OUT/hostile.log" | grep -Ev '^[0-9]+ passed, [0-9]+ failed' | sed 's/^/  /'
fi

# --- fuzz (tests/fuzz/run.sh, docs/fuzzing.md) ---------------------------------------------
# A short run of every libFuzzer target, one case each (FUZZ_SECONDS, default 10 s per
# target). The targets are ASan + UBSan builds of their own (build-fuzz/), so under
# `make asan` (build-asan) the suite is skipped, not run twice: the skip is printed and
# counts as neither passed nor failed.
if [ "$BUILD" = build-asan ]; then
  echo "== fuzz: skipped under $BUILD (the fuzz targets are ASan + UBSan builds; make test runs them)"
else
  run_suite fuzz bash tests/fuzz/run.sh --build --seconds "${FUZZ_SECONDS:-10}" --out "$OUT/fuzz"
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$any_missing" -eq 0 ]
