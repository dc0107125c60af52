"""The test-case runner the Python interop suites share.

    from support.cases import case, finish

    @case("what the case checks")
    def _():
        assert ...

    finish()   # last: prints "N passed, N failed" (what tests/run_all.sh reads), exit 1 on a failure

A case runs when it is defined, in file order, timed; an exception of any kind fails it (its repr is
printed) and the suite goes on with the next. Standard library only.
"""
import sys
import time

results = []


def case(name):
    def wrap(fn):
        t0 = time.monotonic()
        try:
            fn()
            results.append((name, None))
            print(f"ok {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 - any failure is a failed case
            results.append((name, e))
            print(f"FAIL {name}: {e!r}", flush=True)
        return fn
    return wrap


def finish():
    failed = sum(1 for _, e in results if e is not None)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
