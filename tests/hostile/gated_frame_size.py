"""--max-frame-size BYTES: the largest single frame, refused from its header (1009) before
any payload is buffered, whatever the message limit. Gated.
"""
import time

from harness import BINARY, CONT, KiB, MiB, case, check, expect_close, frame

F = "--max-frame-size"
FS = [F, "64K", "--max-message-size", "16M"]


@case("--max-frame-size 64K: a header announcing 64 KiB + 1, its payload never sent",
      "close 1009 ≤ 0.5 s from the header alone", server=FS, needs=[F])
def _(ctx):
    c = ctx.ws()
    t0 = time.monotonic()
    c.send(frame(BINARY, b"", length=64 * KiB + 1))
    ctx.figure("close", f"1009 after {expect_close(c, 1009, 0.5, t0) * 1000:.0f} ms")


@case("--max-frame-size 64K: a continuation frame of 1 MiB inside a message",
      "close 1009 ≤ 0.5 s after its header", server=FS, needs=[F])
def _(ctx):
    c = ctx.ws()
    c.send(frame(BINARY, b"a" * 100, fin=False))
    t0 = time.monotonic()
    c.send(frame(CONT, b"", length=MiB))
    ctx.figure("close", f"1009 after {expect_close(c, 1009, 0.5, t0) * 1000:.0f} ms")


@case("--max-frame-size 64K: a 1 MiB message in 64 KiB frames, and one frame of exactly 64 KiB",
      "both echo ≤ 2 s (the limit is per frame)", server=FS, needs=[F], peak_mib=8)
def _(ctx):
    msg = bytes(range(256)) * 4096
    parts = [msg[i:i + 64 * KiB] for i in range(0, len(msg), 64 * KiB)]
    c = ctx.ws()
    c.send(b"".join(frame(BINARY if i == 0 else CONT, p, fin=i == len(parts) - 1)
                    for i, p in enumerate(parts)) + frame(BINARY, msg[:64 * KiB]))
    t0 = time.monotonic()
    op, got = c.message(t0 + 2, "the 1 MiB echo")
    check(got == msg, "the 1 MiB echo differs")
    op, got = c.message(t0 + 2, "the 64 KiB echo")
    check(got == msg[:64 * KiB], "the 64 KiB echo differs")
    ctx.figure("echoes", "1 MiB in 16 frames, 64 KiB in one")
