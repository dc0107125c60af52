"""--message-memory-budget BYTES (default 128M): a server-wide bound on bytes held in
incomplete messages, compressed or not; past it the largest holders are closed with 1013
(issue 11 §1). Also: a failed session frees its message buffers the moment it fails, not when
its close grace ends. Gated: runs once `wsedge --help` lists the flag.
"""
import time

from harness import BINARY, CONT, MiB, bomb, case, check, frame

F = "--message-memory-budget"


def holders(ctx, n, first_frame, wait=1.0, deflate=True):
    """n connections each send first_frame (a started, unfinished message). Returns
    (clients, close codes seen within `wait` s: None for still open)."""
    clients = [ctx.ws(deflate=deflate) for _ in range(n)]
    for c in clients:
        c.send(first_frame)
        time.sleep(0.05)
    codes = []
    end = time.monotonic() + wait
    for c in clients:
        try:
            code, _, _ = c.close_frame(max(end, time.monotonic() + 0.05))
        except Exception:  # noqa: BLE001 — no close frame: still open
            code = None
        codes.append(code)
    return clients, codes


@case("the issue's repro, scaled: 8 connections each one RSV1 FIN=0 fragment of ~12 KB that "
      "inflates to 12 MiB, --message-memory-budget 32M", "the largest holders get close 1013 "
      "until ≤ 32 MiB is held: ≥ 5 of 8 closed 1013 ≤ 1 s, the rest open; peak RSS ≤ +44 MiB",
      server=[F, "32M", "--max-message-size", "16M"], needs=[F], peak_mib=44, settle_mib=2)
def _(ctx):
    clients, codes = holders(ctx, 8, frame(BINARY, bomb(12 * MiB), fin=False, rsv=4))
    closed = codes.count(1013)
    check(closed >= 5 and set(codes) <= {1013, None}, f"close codes {codes}")
    ctx.figure("closed", f"1013 × {closed}, open × {codes.count(None)}")
    for c in clients:
        c.close()


@case("uncompressed: 8 connections each send 12 MiB of a 16 MiB frame and stop, "
      "--message-memory-budget 32M", "≥ 5 of 8 closed 1013 ≤ 1 s; peak RSS ≤ +44 MiB",
      server=[F, "32M", "--max-message-size", "16M"], needs=[F], peak_mib=44, settle_mib=2)
def _(ctx):
    part = frame(BINARY, b"u" * (16 * MiB))[:12 * MiB]
    clients, codes = holders(ctx, 8, part, deflate=False)
    closed = codes.count(1013)
    check(closed >= 5 and set(codes) <= {1013, None}, f"close codes {codes}")
    ctx.figure("closed", f"1013 × {closed}, open × {codes.count(None)}")
    for c in clients:
        c.close()


@case("after the 1013s, a surviving holder completes its message", "its echo arrives ≤ 2 s",
      server=[F, "32M", "--max-message-size", "16M"], needs=[F], peak_mib=44, settle_mib=2)
def _(ctx):
    first = b"a" * (12 * MiB)
    clients, codes = holders(ctx, 4, frame(BINARY, first, fin=False), deflate=False)
    alive = [c for c, code in zip(clients, codes) if code is None]
    check(alive, f"no holder survived: {codes}")
    c = alive[0]
    c.send(frame(CONT, b"end"))
    op, got = c.message(time.monotonic() + 2, "the completed message")
    check(got == first + b"end", f"echo of {len(got)} B differs")
    ctx.figure("closed", f"{codes}")
    for c in clients:
        c.close()


@case("the default budget: 12 connections each hold one fragment inflating to 15 MiB, no flags",
      "the default 128M budget (with the 16M inflated default): RSS held ≤ +150 MiB, ≥ 1 closed "
      "1013", needs=[F, "--max-inflated-size"], peak_mib=150, settle_mib=2, timeout=60)
def _(ctx):
    clients, codes = holders(ctx, 12, frame(BINARY, bomb(15 * MiB), fin=False, rsv=4), wait=2)
    check(codes.count(1013) >= 1 and set(codes) <= {1013, None}, f"close codes {codes}")
    ctx.figure("closed", f"1013 × {codes.count(1013)}")
    for c in clients:
        c.close()
