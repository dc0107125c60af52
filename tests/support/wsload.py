"""Run bench/wsload (build/wsload) for the Python suites, and the small runner its two interop
suites (tests/interop/test_wsload.py, test_wsload_tls.py) share.

    @test("echo: 10 connections")
    def _(v):
        rc, d, out, err, secs = run_wsload(["echo", "--url", url, "--json", "--quiet"] + BRIEF)
        check(rc == 0, f"exit {rc}: {err}")

    sys.exit(main(servers))   # servers(): a context manager that starts what the tests share

wsload is $WSLOAD_BIN, else the `wsload` beside $WSEDGE_BIN (support/server.py). main() takes
-k WORD (only tests whose name holds WORD) and -v (tracebacks), prints a PASS or FAIL line a
test and last "N passed, N failed", and returns the exit status (1 if any failed). A failure
to start or stop the shared servers counts as one failed test, "setup".
"""
import argparse
import json
import os
import socket
import subprocess
import time
import traceback

from support.server import server_binary

TESTS = []
BRIEF = ["--duration", "1", "--warmup", "0.2"]


def test(name):
    def register(fn):
        TESTS.append((name, fn))
        return fn
    return register


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def wsload_binary():
    path = os.environ.get("WSLOAD_BIN")
    if path:
        return os.path.abspath(path)
    return os.path.join(os.path.dirname(server_binary()), "wsload")


def run_wsload(args, timeout=30):
    """Runs wsload; returns (exit status, parsed JSON or None, stdout, stderr, seconds)."""
    t0 = time.monotonic()
    p = subprocess.run([wsload_binary()] + args, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    data = None
    if "--json" in args and p.stdout.strip():
        try:
            data = json.loads(p.stdout)
        except ValueError as exc:
            raise AssertionError(f"stdout is not one JSON object ({exc}): {p.stdout!r}")
    return p.returncode, data, p.stdout, p.stderr, time.monotonic() - t0


def free_port():
    """A loopback port nothing listens on (it was free a moment ago)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


def main(servers):
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    passed = failed = 0
    started = time.monotonic()
    try:
        with servers():
            for name, fn in TESTS:
                if args.k and args.k not in name:
                    continue
                t = time.monotonic()
                try:
                    fn(args.v)
                    passed += 1
                    print(f"PASS {name} ({time.monotonic() - t:.1f}s)", flush=True)
                except Exception as exc:  # noqa: BLE001 - every failure is reported
                    failed += 1
                    print(f"FAIL {name}: {exc}", flush=True)
                    if args.v:
                        traceback.print_exc()
    except Exception as exc:  # noqa: BLE001 - setup failed: a server or the CA
        failed += 1
        print(f"FAIL setup: {exc.__class__.__name__}: {exc}")
        traceback.print_exc()
    print(f"({time.monotonic() - started:.1f}s)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
