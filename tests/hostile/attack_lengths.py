"""Hostile payload lengths (RFC 6455 §5.2): 2^63 and 2^64-1, lengths with the most
significant bit set, 32-bit truncation traps, non-minimal encodings, and lengths just past
--max-message-size.

A server that trusts a 64-bit length may allocate it, overflow a size computation (so a read
limit is bypassed) or loop; one that stores it in 32 bits reads 2^32+5 as 5 and runs the
rest of the payload as frames. Each must be refused from the header alone, before any
payload byte is buffered: 1002 for what §5.2 forbids, 1009 for a legal length over the limit.
"""
import time

from harness import (BINARY, CLOSE, CONT, MiB, PING, TEXT, case, check, close_body,
                     expect_close, frame)

LIMIT = ["--max-message-size", "1M"]
CUT = 0.5  # seconds from the header to the close frame: immediate, on a loaded machine


def refuse_all(ctx, rows, code):
    """rows: (what, bytes). Each on its own connection: close `code` within CUT s."""
    worst = 0.0
    for what, data in rows:
        c = ctx.ws()
        t0 = time.monotonic()
        c.send(data)
        worst = max(worst, expect_close(c, code, CUT, t0, what))
        c.close()
    ctx.figure("close", f"{code} × {len(rows)}")
    ctx.figure("slowest cut", f"{worst * 1000:.0f} ms")


@case("binary frame announcing 2^63 bytes (64-bit length, MSB set)",
      "close 1002 ≤ 0.5 s from the header alone; peak RSS ≤ +4 MiB", server=LIMIT)
def _(ctx):
    refuse_all(ctx, [("2^63", frame(BINARY, b"", length=2**63, form=64))], 1002)


@case("2^64-1 and other lengths with the MSB set, on text, binary and a continuation",
      "close 1002 for each ≤ 0.5 s (RFC 6455 §5.2: the most significant bit MUST be 0)",
      server=LIMIT)
def _(ctx):
    rows = [(f"{op:#x} {n:#x}", frame(op, b"abc", length=n, form=64))
            for op in (TEXT, BINARY) for n in (2**64 - 1, 2**63 + 1, 0x8000000000010000)]
    rows.append(("continuation 2^63", frame(BINARY, b"ab", fin=False)
                 + frame(CONT, b"", length=2**63, form=64)))
    refuse_all(ctx, rows, 1002)


@case("2^63-1, the largest legal length, and 2^40", "close 1009 ≤ 0.5 s, before any payload "
      "is buffered; peak RSS ≤ +4 MiB", server=LIMIT)
def _(ctx):
    refuse_all(ctx, [("2^63-1", frame(BINARY, b"", length=2**63 - 1, form=64)),
                     ("2^40", frame(BINARY, b"x" * 1000, length=2**40, form=64))], 1009)


@case("32-bit truncation traps: 2^32+5 with 5 payload bytes and a valid frame after them",
      "close 1009 ≤ 0.5 s and no echo of the trailing frame (it never runs as a frame)",
      server=LIMIT)
def _(ctx):
    trap = frame(BINARY, b"12345", length=2**32 + 5, form=64) + frame(TEXT, b"smuggled")
    c = ctx.ws()
    t0 = time.monotonic()
    c.send(trap)
    code, reason, before = c.close_frame(t0 + CUT + 1)
    check(before == 0, f"{before} frames before the close: the trailing frame ran")
    check(code == 1009, f"expected 1009, got {code} {reason!r}")
    refuse_all(ctx, [("2^32", frame(BINARY, b"", length=2**32, form=64)),
                     ("2^32+125", frame(TEXT, b"a", length=2**32 + 125, form=64))], 1009)


@case("non-minimal length encodings: 16-bit form for 0/5/125, 64-bit form for 0/125/126/65535",
      "close 1002 for each ≤ 0.5 s (RFC 6455 §5.2: the minimal number of bytes MUST be used)",
      server=LIMIT)
def _(ctx):
    rows = [(f"16-bit {n}", frame(BINARY, b"x" * n, form=16)) for n in (0, 5, 125)]
    rows += [(f"64-bit {n}", frame(BINARY, b"x" * n, form=64)) for n in (0, 125, 126, 65535)]
    refuse_all(ctx, rows, 1002)


@case("control frames with extended lengths: ping in the 16-bit form (3 bytes), close in the "
      "64-bit form, ping announcing 2^63", "close 1002 for each ≤ 0.5 s (§5.5: ≤ 125, 7-bit form)",
      server=LIMIT)
def _(ctx):
    refuse_all(ctx, [("ping 16-bit", frame(PING, b"abc", form=16)),
                     ("close 64-bit", frame(CLOSE, close_body(1000), form=64)),
                     ("ping 2^63", frame(PING, b"", length=2**63, form=64))], 1002)


@case("one byte over --max-message-size 1M: in one frame, and as 512K + 512K + 1 fragments",
      "close 1009 ≤ 0.5 s after the header that crosses the limit; peak RSS ≤ +4 MiB",
      server=LIMIT)
def _(ctx):
    half = b"h" * (512 * 1024)
    refuse_all(ctx, [
        ("1M+1 header only", frame(BINARY, b"", length=MiB + 1)),
        ("fragments", frame(BINARY, half, fin=False) + frame(CONT, half, fin=False)
         + frame(CONT, b"1")),
    ], 1009)


@case("control: a message of exactly 1M, at --max-message-size 1M", "echoed intact ≤ 2 s; peak "
      "RSS ≤ +8 MiB (the message, its echo in the kernel's buffers)", server=LIMIT, peak_mib=8)
def _(ctx):
    payload = bytes(range(256)) * 4096
    c = ctx.ws()
    t0 = time.monotonic()
    c.send(frame(BINARY, payload))
    op, got = c.message(t0 + 2, "the 1 MiB echo")
    check(op == BINARY and got == payload, f"echo of {len(got)} bytes differs")
    ctx.figure("echo", f"{len(got)} B in {(time.monotonic() - t0) * 1000:.0f} ms")
    c.close()
