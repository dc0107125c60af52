#!/usr/bin/python3
"""wsedge conformance suite: raw-socket RFC 6455 cases modelled on autobahn-testsuite.

    /usr/bin/python3 tests/conformance/run.py            # every case against $WSEDGE_BIN
    /usr/bin/python3 tests/conformance/run.py -k 5       # section 5 (id prefix)
    /usr/bin/python3 tests/conformance/run.py -k 6.4,7.9 -v
    /usr/bin/python3 tests/conformance/run.py -k ping    # words match the description
    /usr/bin/python3 tests/conformance/run.py --list
    /usr/bin/python3 tests/conformance/run.py --tls      # every case again, over wss://

The binary is $WSEDGE_BIN (default build/wsedge); each server option set the cases need
is one instance on a free port (SERVERS below), started on first use. Output: one line per
case, section totals, and last "N passed, N failed"; exit status 1 if any case failed.
Standard library only; see docs/conformance.md.
"""
import argparse
import os
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from support.server import Server, ServerStartError  # noqa: E402
from support.tls import client_context, make_pki, tls_args  # noqa: E402

import harness  # noqa: E402
import cases_framing  # noqa: E402,F401  (registers sections 1-5)
import cases_utf8  # noqa: E402,F401  (section 6)
import cases_close  # noqa: E402,F401  (section 7)
import cases_limits  # noqa: E402,F401  (sections 9, 10, 20-22)
import cases_deflate  # noqa: E402,F401  (section 12: permessage-deflate)
import cases_deflate_params  # noqa: E402,F401  (section 13)
import cases_deflate_negotiation  # noqa: E402,F401  (section 14)
import cases_deflate_bad  # noqa: E402,F401  (section 15)
import wire  # noqa: E402
from wire import Fail  # noqa: E402

MiB = 1 << 20
GIVE_UP_AFTER = 25  # a server that fails this many cases in a row is not waited on further
SERVERS = {  # --ping-interval 0: no server ping may interleave with timed round trips
    "main": ["--max-message-size", str(64 * MiB), "--ping-interval", "0"],
    "limit": ["--max-message-size", "65536", "--ping-interval", "0"],
    "keepalive": ["--ping-interval", "1", "--idle-timeout", "2", "--handshake-timeout", "2",
                  "--close-grace", "1"],
    "shutdown": ["--close-grace", "1", "--ping-interval", "0"],
    # permessage-deflate (12-15): the defaults, a tight policy, a small limit, and off
    "deflate": ["--deflate", "on", "--max-message-size", str(64 * MiB), "--ping-interval", "0"],
    "deflate-tight": ["--deflate-window-bits", "10", "--deflate-no-context-takeover",
                      "--deflate-min-size", "0", "--deflate-mem-level", "1",
                      "--ping-interval", "0"],
    "deflate-limit": ["--max-message-size", str(MiB), "--ping-interval", "0"],
    "deflate-off": ["--deflate", "off", "--ping-interval", "0"],
}


class Servers:
    """Server instances by name, started on first use; a start failure is remembered so
    every case that needs the instance fails fast with the same message."""

    def __init__(self, web_dir, extra_args=()):
        self.web_dir = web_dir
        self.extra_args = list(extra_args)  # --tls: the certificate flags for every instance
        self.running = {}
        self.errors = {}

    def __getitem__(self, name):
        if name in self.errors:
            raise Fail(f"server '{name}' did not start: {self.errors[name]}")
        if name not in self.running:
            args = SERVERS[name] + ["--web", self.web_dir, "--log-level", "warn"] + \
                self.extra_args
            try:
                srv = Server(args, stop_timeout=10)
                srv.wait_ready()
            except ServerStartError as exc:
                self.errors[name] = str(exc)
                raise Fail(f"server '{name}' did not start: {exc}") from None
            srv.baseline_kib = harness.rss_kib(srv.proc.pid)
            self.running[name] = srv
        srv = self.running[name]
        if not srv.stopped and not srv.alive():
            raise Fail(f"server '{name}' died (exit {srv.proc.returncode})")
        return srv

    def started(self, name):
        return self.running.get(name)


def selected(case, patterns):
    if not patterns:
        return True
    for p in patterns:
        if p.replace(".", "").isdigit():
            if case.id == p or case.id.startswith(p + "."):
                return True
        elif p.lower() in case.title().lower():
            return True
    return False


def run_case(case, servers, verbose, strict=False):
    """Runs one case under a watchdog. Returns (passed, line, detail_lines)."""
    ctx = harness.Ctx(servers, case, verbose)
    outcome = {}

    def body():
        try:
            case.fn(ctx)
            problems = ctx.problems()
            if problems:
                raise Fail("malformed server frame(s): " + "; ".join(dict.fromkeys(problems)))
            if strict and ctx.non_strict:
                raise Fail(f"NON-STRICT under --strict: {ctx.non_strict}")
            outcome["ok"] = True
        except Fail as exc:
            outcome["fail"] = str(exc)
        except Exception as exc:  # a bug in a case, or an OS error: still a clear failure
            outcome["fail"] = f"{exc.__class__.__name__}: {exc}"
            outcome["trace"] = traceback.format_exc()

    t0 = time.monotonic()
    t = threading.Thread(target=body, daemon=True)
    t.start()
    limit = case.timeout * 3 + 10
    t.join(limit)
    if t.is_alive():
        outcome = {"fail": f"case hung for {limit:g}s (no timeout fired); aborted"}
        ctx.close_all()
        t.join(2)
    ctx.close_all()
    elapsed = time.monotonic() - t0
    extras = list(ctx.notes)
    if ctx.non_strict:
        extras.append(f"NON-STRICT: {ctx.non_strict}")
    extras += [f"{k}={v}" for k, v in ctx.info.items()]
    if elapsed > 1.0:
        extras.append(f"{elapsed:.1f}s")
    suffix = f" ({'; '.join(str(e) for e in extras)})" if extras else ""
    if outcome.get("ok"):
        detail = ctx.log[-40:] if verbose else []
        return True, f"ok {case.title()}{suffix}", detail
    detail = ["transcript (last lines):"] + ctx.log[-30:]
    if "trace" in outcome:
        detail += outcome["trace"].rstrip().splitlines()
    return False, f"FAIL {case.title()}: {outcome['fail']}{suffix}", detail


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-k", action="append", default=[], metavar="PATTERN",
                    help="run cases whose id starts with PATTERN (e.g. 6.4) or whose "
                         "description contains it; repeatable, or comma-separated")
    ap.add_argument("-v", action="store_true", help="print the transcript of every case")
    ap.add_argument("--strict", action="store_true",
                    help="count NON-STRICT verdicts as failures")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--tls", action="store_true",
                    help="run every case over TLS (wss://) with a throwaway CA")
    args = ap.parse_args(argv)
    patterns = [p.strip() for k in args.k for p in k.split(",") if p.strip()]
    ordered = sorted(harness.CASES, key=lambda c: tuple(int(x) for x in c.id.split(".")))
    cases = [c for c in ordered if selected(c, patterns)]
    if args.list:
        for c in cases:
            print(c.title())
        print(f"{len(cases)} cases")
        return 0
    if not cases:
        print(f"no case matches {patterns}")
        print("0 passed, 1 failed")
        return 1

    t_start = time.monotonic()
    totals = {}
    web_dir = tempfile.mkdtemp(prefix="wsedge-conf-web-")  # empty: nothing is static
    extra = []
    if args.tls:
        pki = make_pki()
        wire.use_tls(client_context(pki))
        extra = tls_args(pki)
        print(f"over TLS: CA {pki.ca_cert}")
    servers = Servers(web_dir, extra)
    passed = failed = 0
    streak = {}  # consecutive failures per server instance: bounds the run's time
    try:
        for case in cases:
            if streak.get(case.server, 0) >= GIVE_UP_AFTER:
                ok, line, detail = False, (f"FAIL {case.title()}: not run, server "
                                           f"'{case.server}' failed {GIVE_UP_AFTER} cases "
                                           "in a row"), []
            else:
                ok, line, detail = run_case(case, servers, args.v, args.strict)
            streak[case.server] = 0 if ok else streak.get(case.server, 0) + 1
            print(line, flush=True)
            for d in detail:
                print("    " + d)
            sec = totals.setdefault(case.section, [0, 0])
            sec[0 if ok else 1] += 1
            passed, failed = passed + ok, failed + (not ok)
        for name, srv in servers.running.items():
            # Instances no 22.x case stops (those check it before their SIGTERM).
            if not srv.stopped and srv.alive():
                ok, line = harness.memory_returned(name, srv)
                print(line, flush=True)
                if ok is not None:  # None: not checked in this build, counted neither way
                    passed, failed = passed + ok, failed + (not ok)
    finally:
        for name, srv in servers.running.items():
            if not srv.stopped:
                problem = srv.stop()
                if problem:
                    print(f"FAIL server '{name}' on SIGTERM at the end: {problem}")
                    failed += 1
        os.rmdir(web_dir)
    print()
    for sec in sorted(totals, key=lambda s: int(s)):
        p, f = totals[sec]
        print(f"section {sec:>2}: {p} passed, {f} failed")
    print(f"suite time {time.monotonic() - t_start:.1f}s against "
          f"{os.environ.get('WSEDGE_BIN', 'build/wsedge')}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
