#!/usr/bin/python3
"""wsedge hostile suite: clients that attack the server as an attacker would, each case
stating its expectation in numbers (time to cut, close code, HTTP status, peak RSS, CPU time)
and asserting it.

    /usr/bin/python3 tests/hostile/run.py                 # every case the build can run
    /usr/bin/python3 tests/hostile/run.py -k zip,ping     # cases whose module or name has a word
    /usr/bin/python3 tests/hostile/run.py --list          # cases and their gates
    /usr/bin/python3 tests/hostile/run.py --show-pending  # also run the gated cases without
                                                          # their missing flags (figures only)

Each case runs against a fresh server ($WSEDGE_BIN, default build/wsedge) on a free port, and
the runner checks after every case that the server is alive, its peak RSS stayed within the
case's bound over the idle baseline, its RSS came back near the baseline and that it still
serves a normal echo (harness.py). Cases in GATED_MODULES need flags this build may not have
yet: the runner reads `wsedge --help` and runs them only when every flag they need is there;
the others are reported as pending, never as passed. KNOWN bugs the suite has found are
gated the same way (the flag their fix brings) and named with their figures. The last line is
"N passed, N failed"; exit status 1 if any case failed.
"""
import argparse
import importlib
import os
import re
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import harness  # noqa: E402
from harness import (BASE_ARGS, SETTLE_SECONDS, Fail, RssSampler, Server, cpu_seconds,  # noqa: E402
                     echo_ok, hwm_kib, reset_hwm, rss_kib, server_binary, wait_until)

# Behaviour that exists in this build: run unconditionally.
MODULES = [
    "attack_smuggling", "attack_rebinding", "attack_slowloris", "attack_halfopen",
    "attack_lengths", "attack_pingflood", "attack_nonreader", "attack_fragments",
    "attack_zipbomb", "attack_headers", "attack_utf8", "attack_close", "attack_framing",
    "attack_tls", "attack_rss_return",
]
# Cases that need limits other branches are adding (issue 11 §3): each case names its flags.
GATED_MODULES = [
    "gated_inflated_size", "gated_memory_budget", "gated_message_timeout", "gated_frame_size",
    "gated_connections", "gated_head_size", "gated_send_queue",
]


def build_flags():
    """Every --flag that `wsedge --help` mentions."""
    r = subprocess.run([server_binary(), "--help"], capture_output=True, text=True, timeout=10,
                       stdin=subprocess.DEVNULL)
    return set(re.findall(r"--[a-z0-9][a-z0-9-]*", r.stdout + r.stderr))


def strip_flags(args, missing):
    """args without the flags in `missing` and their values (for --show-pending)."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in missing:
            skip = True
            continue
        out.append(a)
    return out


class Pki:
    pki = None
    context = None

    @classmethod
    def get(cls):
        if cls.pki is None:
            from support.tls import client_context, make_pki
            cls.pki = make_pki()
            cls.context = client_context(cls.pki)
        return cls.pki, cls.context


def mib(kib):
    return kib / 1024


def run_case(c, server_args, verbose):
    """Runs one case on its own server; returns (errors, figures, seconds)."""
    errors, tls_context = [], None
    args = BASE_ARGS + server_args
    if c.tls:
        pki, tls_context = Pki.get()
        args += ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key, "--tls-port", "0"]
    t_start = time.monotonic()
    srv = Server(args, stop_timeout=10)
    try:
        srv.wait_ready()
    except Exception as exc:  # noqa: BLE001 — reported as this case's failure
        return [f"server did not start: {exc}"], [], time.monotonic() - t_start
    ctx = harness.Ctx(srv, tls_context)
    pid = srv.proc.pid
    try:
        echo_ok(srv.port, b"warm-up")  # first-use allocations belong to the baseline
        time.sleep(0.05)
        ctx.baseline_kib = rss_kib(pid)
        hwm_reset = reset_hwm(pid)
        sampler = RssSampler(pid)
        cpu0 = cpu_seconds(pid)
        outcome = {}

        def body():
            try:
                c.fn(ctx)
            except BaseException as exc:  # noqa: BLE001 — carried to the runner thread
                outcome["exc"] = exc
                outcome["tb"] = traceback.format_exc()

        t = threading.Thread(target=body, daemon=True)
        t0 = time.monotonic()
        t.start()
        t.join(c.timeout)
        case_seconds = time.monotonic() - t0
        if t.is_alive():
            errors.append(f"the case did not finish within {c.timeout} s")
        elif "exc" in outcome:
            exc = outcome["exc"]
            errors.append(str(exc) if isinstance(exc, Fail) else
                          f"{exc.__class__.__name__}: {exc}")
            if verbose or not isinstance(exc, Fail):
                errors.append(outcome["tb"].rstrip())
        if not srv.alive():
            rc = srv.proc.returncode
            errors.append(f"the server died during the case (exit {rc}"
                          + (f", signal {-rc}" if rc < 0 else "") + ")"
                          + srv._stderr_tail())
            return errors, ctx.figures, time.monotonic() - t_start
        peak = sampler.stop()
        if hwm_reset:
            peak = max(peak, hwm_kib(pid))
        peak_over = mib(peak - ctx.baseline_kib)
        ctx.figure("peak RSS", f"+{peak_over:.1f} MiB (≤ {c.peak_mib:g})")
        ctx.figure("server CPU", f"{cpu_seconds(pid) - cpu0:.2f} s")
        if peak_over > c.peak_mib:
            errors.append(f"peak RSS {mib(peak):.1f} MiB is {peak_over:.1f} MiB over the "
                          f"baseline {mib(ctx.baseline_kib):.1f} MiB; expected ≤ {c.peak_mib:g}")
        limit = ctx.baseline_kib + c.settle_mib * 1024
        settled = wait_until(lambda: rss_kib(pid) <= limit, SETTLE_SECONDS, step=0.05)
        after = rss_kib(pid)
        ctx.figure("RSS after", f"+{mib(after - ctx.baseline_kib):.1f} MiB (≤ {c.settle_mib:g})")
        if not settled:
            errors.append(f"RSS {mib(after):.1f} MiB did not come back to within "
                          f"{c.settle_mib:g} MiB of the baseline {mib(ctx.baseline_kib):.1f} MiB "
                          f"within {SETTLE_SECONDS:g} s")
        try:
            echo_ok(srv.port, b"echo after " + c.name.encode()[:60])
        except Exception as exc:  # noqa: BLE001
            errors.append(f"no normal echo after the case: {exc}")
        ctx.figure("case", f"{case_seconds:.2f} s")
    except Exception as exc:  # noqa: BLE001 — the harness itself failed: the case fails
        errors.append(f"harness: {exc.__class__.__name__}: {exc}")
    finally:
        problem = srv.stop()
        srv._stderr.close()
    if problem:
        errors.append(f"shutdown: {problem}")
    return errors, ctx.figures, time.monotonic() - t_start


def selected(c, words):
    if not words:
        return True
    hay = (c.module + " " + c.name).lower()
    return any(w.lower() in hay for w in words)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", default="", help="comma-separated words; run matching cases only")
    ap.add_argument("-v", action="store_true", help="tracebacks and every figure")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--show-pending", action="store_true",
                    help="also run gated cases with their missing flags removed (not counted)")
    opts = ap.parse_args()
    for name in MODULES + GATED_MODULES:
        before = len(harness.CASES)
        importlib.import_module(name)
        for c in harness.CASES[before:]:
            c.gated = name in GATED_MODULES
            if not c.gated and (c.needs or c.pending_reason):
                raise SystemExit(f"{name}: '{c.name}' needs flags or is a known bug; such "
                                 "cases belong in a GATED_MODULES module")
            if c.gated and not c.needs and not c.pending_reason:
                raise SystemExit(f"{name}: '{c.name}' is gated but names neither a flag it "
                                 "needs nor a known bug")
    flags = build_flags()
    words = [w for w in opts.k.split(",") if w]
    cases = [c for c in harness.CASES if selected(c, words)]
    if opts.list:
        for c in cases:
            gate = ""
            if c.needs:
                missing = [f for f in c.needs if f not in flags]
                gate = f"  [needs {' '.join(c.needs)}: {'missing ' + ' '.join(missing) if missing else 'present'}]"
            if c.pending_reason:
                gate += f"  [known bug: {c.pending_reason}]"
            print(f"{c.module}: {c.name}{gate}\n    expect: {c.expect}")
        return 0
    passed = failed = 0
    pending_flags, pending_bugs = [], []
    t_suite = time.monotonic()
    for c in cases:
        missing = [f for f in c.needs if f not in flags]
        # A known bug with no flag to wait for stays pending until its mark is removed.
        if missing or (c.pending_reason and not c.needs):
            (pending_bugs if c.pending_reason else pending_flags).append((c, missing))
            if not opts.show_pending:
                continue
            errors, figures, secs = run_case(c, strip_flags(c.server, missing), opts.v)
            verdict = "would pass" if not errors else "fails"
            without = f" without {' '.join(missing)}" if missing else ""
            print(f"PENDING {c.module}: {c.name} ({verdict}{without}; not counted) "
                  f"[{secs:.1f} s]")
            print("    " + "; ".join(f"{k} {v}" for k, v in figures))
            for e in errors:
                print("    " + e.replace("\n", "\n    "))
            sys.stdout.flush()
            continue
        errors, figures, secs = run_case(c, c.server, opts.v)
        shown = "; ".join(f"{k} {v}" for k, v in figures)
        if errors:
            failed += 1
            print(f"FAIL {c.module}: {c.name} [{secs:.1f} s]\n    expected: {c.expect}")
            for e in errors:
                print("    " + e.replace("\n", "\n    "))
            print("    figures: " + shown)
        else:
            passed += 1
            print(f"ok   {c.module}: {c.name} [{secs:.1f} s]")
            print("    " + shown)
        sys.stdout.flush()
    print(f"suite wall time {time.monotonic() - t_suite:.1f} s")
    if pending_flags:
        by_flag = {}
        for c, missing in pending_flags:
            for f in missing:
                by_flag[f] = by_flag.get(f, 0) + 1
        print(f"pending: {len(pending_flags)} cases need flags not in this build ("
              + ", ".join(f"{f}: {n}" for f, n in sorted(by_flag.items())) + "); not run, not "
              "counted as passed")
        if opts.v:
            for c, missing in pending_flags:
                print(f"    {c.module}: {c.name} (needs {' '.join(missing)})")
    if pending_bugs:
        print(f"pending: {len(pending_bugs)} cases show known bugs of this build (gated until "
              "the flag of their fix exists, or until the mark is removed); not counted:")
        for c, missing in pending_bugs:
            gate = f"needs {' '.join(missing)}" if missing else "known bug, no flag"
            print(f"    {c.module}: {c.name} ({gate}): {c.pending_reason}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
