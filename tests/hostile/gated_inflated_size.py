"""--max-inflated-size BYTES (default 16M): the per-message limit after inflating, for
compressed messages (issue 11 §1: a conservative default for what a few KB can become).
Gated: runs once `wsedge --help` lists the flag.
"""
import time

from harness import (BINARY, CLOSE, CONT, MiB, bomb, case, check, close_body, expect_close,
                     frame)

F = "--max-inflated-size"


@case("--max-inflated-size 1M beside --max-message-size 64M: a 256 MiB bomb in one frame",
      "close 1009 ≤ 1 s; peak RSS ≤ +6 MiB (the inflated limit, not the message limit)",
      server=[F, "1M", "--max-message-size", "64M"], needs=[F], peak_mib=6, settle_mib=2)
def _(ctx):
    data = frame(BINARY, bomb(256 * MiB), rsv=4)
    c = ctx.ws(deflate=True)
    t0 = time.monotonic()
    c.send(data)
    ctx.figure("close", f"1009 after {expect_close(c, 1009, 1.0, t0) * 1000:.0f} ms")


@case("--max-inflated-size 1M: the bomb cut into 500 fragments",
      "close 1009 ≤ 1 s after the fragment that inflates past 1M; peak RSS ≤ +6 MiB",
      server=[F, "1M", "--max-message-size", "64M"], needs=[F], peak_mib=6, settle_mib=2)
def _(ctx):
    body = bomb(256 * MiB)
    step = len(body) // 500 + 1
    parts = [body[i:i + step] for i in range(0, len(body), step)]
    data = b"".join(frame(BINARY if i == 0 else CONT, p, fin=i == len(parts) - 1,
                          rsv=4 if i == 0 else 0) for i, p in enumerate(parts))
    c = ctx.ws(deflate=True)
    t0 = time.monotonic()
    try:
        c.send(data)
    except Exception:  # noqa: BLE001 — the server stops reading once it failed
        pass
    ctx.figure("close", f"1009 after {expect_close(c, 1009, 1.0, t0) * 1000:.0f} ms")


@case("--max-inflated-size 1M applies to compressed messages only: 4 MiB uncompressed echoes",
      "the 4 MiB binary message comes back ≤ 3 s", server=[F, "1M", "--max-message-size", "64M"],
      needs=[F], peak_mib=24, settle_mib=2)
def _(ctx):
    payload = bytes(range(256)) * (16 * 1024)
    c = ctx.ws(deflate=True)
    t0 = time.monotonic()
    c.send(frame(BINARY, payload))
    f = c.frame(t0 + 3, "the echo")
    from harness import inflate_message
    got = inflate_message(f.payload) if f.rsv & 4 else f.payload
    check(got == payload, f"echo {len(got)} B differs")
    c.send(frame(CLOSE, close_body(1000)))
    ctx.figure("echo", f"{len(got) >> 20} MiB in {time.monotonic() - t0:.2f} s")


@case("the default: a 1 GiB bomb against a server started without any size flag",
      "close 1009 ≤ 2 s at the 16M default; peak RSS ≤ +40 MiB (16 MiB inflated, growth slack)",
      needs=[F], peak_mib=40, settle_mib=2, timeout=60)
def _(ctx):
    data = frame(BINARY, bomb(1024 * MiB), rsv=4)
    c = ctx.ws(deflate=True)
    t0 = time.monotonic()
    c.send(data)
    ctx.figure("close", f"1009 after {expect_close(c, 1009, 2.0, t0) * 1000:.0f} ms")
