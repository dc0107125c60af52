"""--message-timeout SECONDS (default 60): a started message must complete within it, else
close 1008 (issue 11 §3: an unfinished fragmented or compressed message must not pin memory
forever). Unlike --idle-timeout, a trickle of bytes does not reset it. Gated.
"""
import time

from harness import BINARY, CONT, PING, TEXT, case, check, expect_close, frame

F = "--message-timeout"
MT = [F, "1"]


@case("a fragmented message started and never continued, --message-timeout 1",
      "close 1008 at 1.0 s (0.9–2.0 s)", server=MT, needs=[F])
def _(ctx):
    c = ctx.ws()
    c.send(frame(TEXT, b"started", fin=False))
    t0 = time.monotonic()
    cut = expect_close(c, 1008, 2.0, t0)
    check(cut >= 0.9, f"closed after {cut:.2f} s, before the timeout")
    ctx.figure("time to cut", f"{cut:.2f} s")


@case("slowloris inside a frame: a 1,000-byte frame sent a byte every 100 ms (the idle timer "
      "sees activity), --message-timeout 1 --idle-timeout 5",
      "close 1008 at 1.0 s (0.9–2.0 s) after the first byte", server=MT + ["--idle-timeout", "5"],
      needs=[F])
def _(ctx):
    c = ctx.ws()
    data = frame(BINARY, b"t" * 1000)
    t0 = time.monotonic()
    c.send_slowly(data, 1, 0.1, until=t0 + 3)
    cut = expect_close(c, 1008, 2.0, t0)
    check(cut >= 0.9, f"closed after {cut:.2f} s")
    ctx.figure("time to cut", f"{cut:.2f} s")


@case("an endless fragment flood: a continuation every 50 ms, never FIN, --message-timeout 1",
      "close 1008 at 1.0 s (0.9–2.0 s)", server=MT, needs=[F])
def _(ctx):
    c = ctx.ws()
    c.send(frame(BINARY, b"f", fin=False))
    t0 = time.monotonic()
    while time.monotonic() < t0 + 2.5:
        try:
            c.send(frame(CONT, b"f", fin=False))
        except Exception:  # noqa: BLE001 — cut
            break
        import select
        if select.select([c.sock], [], [], 0.05)[0]:
            break
    cut = expect_close(c, 1008, 2.0, t0)
    check(cut >= 0.9, f"closed after {cut:.2f} s")
    ctx.figure("time to cut", f"{cut:.2f} s")


@case("control: messages that each complete in 0.3 s, for 3 s, with pings between",
      "the connection stays open; every message echoes", server=MT, needs=[F])
def _(ctx):
    c = ctx.ws()
    for i in range(8):
        c.send(frame(TEXT, b"part-", fin=False))
        c.send(frame(PING, b"between"))
        time.sleep(0.3)
        c.send(frame(CONT, b"%d" % i))
        op, got = c.message(time.monotonic() + 1, f"echo {i}")
        check(got == b"part-%d" % i, f"echo {got!r}")
        time.sleep(0.05)
    ctx.figure("echoes", "8 of 8 over 3 s")
