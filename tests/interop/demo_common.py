"""Shared bits of the demo-route suites (test_chat.py, test_push.py, test_exec.py).

A test is an async function registered with @test(name, timeout); run(tests, setup) runs
them in order under asyncio and prints "ok NAME" / "FAIL NAME: why" and, last,
"N passed, N failed". Every server is started by support.server on 127.0.0.1, port 0.
"""
import argparse
import asyncio
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from support.server import wsedge_server, server_binary  # noqa: E402,F401

import websockets  # noqa: E402


def make_registry():
    tests = []

    def test(name, timeout=10):
        def register(fn):
            tests.append((name, fn, timeout))
            return fn
        return register
    return tests, test


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def connect(srv, path, **kw):
    kw.setdefault("compression", None)
    kw.setdefault("open_timeout", 5)
    kw.setdefault("close_timeout", 5)
    return websockets.connect(srv.url(path), **kw)


async def recv(ws, timeout=5):
    return await asyncio.wait_for(ws.recv(), timeout)


async def close_info(ws, timeout=5):
    """Waits for the connection to end; returns (code, reason) of the server's close."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed:
        pass
    await asyncio.wait_for(ws.wait_closed(), timeout)
    return ws.close_code, ws.close_reason


async def _run_all(selected, verbose):
    passed = failed = 0
    for name, fn, timeout in selected:
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(fn(), timeout)
            print(f"ok {name} ({time.monotonic() - t0:.2f}s)", flush=True)
            passed += 1
        except Exception as exc:  # every failure is reported, none ends the run
            msg = "timed out" if isinstance(exc, asyncio.TimeoutError) else \
                f"{exc.__class__.__name__}: {exc}"
            print(f"FAIL {name}: {msg}", flush=True)
            if verbose:
                traceback.print_exc()
            failed += 1
    return passed, failed


def run(tests, servers, env):
    """servers: {label: [args]}; each is started, stored as env.<label>, and must exit 0
    on SIGTERM at the end (counted as one test per server)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="", help="run tests whose name contains this")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    selected = [t for t in tests if args.k.lower() in t[0].lower()]
    t0 = time.monotonic()
    passed = failed = 0
    import contextlib
    try:
        with contextlib.ExitStack() as stack:
            for label, srv_args in servers.items():
                setattr(env, label, stack.enter_context(wsedge_server(srv_args)))
            passed, failed = asyncio.run(_run_all(selected, args.v))
            for label in servers:
                problem = getattr(env, label).stop()
                if problem:
                    print(f"FAIL server '{label}' exits 0 on SIGTERM: {problem}")
                    failed += 1
                else:
                    print(f"ok server '{label}' exits 0 on SIGTERM")
                    passed += 1
    except Exception as exc:  # a server did not start, or died
        print(f"FAIL setup: {exc.__class__.__name__}: {exc}")
        failed += 1
    print(f"suite time {time.monotonic() - t0:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
