"""Bad close frames (RFC 6455 §5.5.1, §7.4): codes that may not appear on the wire, a
one-byte body, a reason too long for a control frame, data after the close, close floods,
and a peer that never answers the server's close.
"""
import time

from harness import BINARY, CLOSE, TEXT, case, check, close_body, expect_close, frame

BAD_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
GOOD_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]


@case("close codes not allowed on the wire: 0, 1, 999, 1004-1006, 1015, 1016, 1100, 2000, "
      "2999, 5000, 65535", "close 1002 for each ≤ 0.5 s")
def _(ctx):
    worst = 0.0
    for code in BAD_CODES:
        c = ctx.ws()
        t0 = time.monotonic()
        c.send(frame(CLOSE, close_body(code, "x")))
        worst = max(worst, expect_close(c, 1002, 0.5, t0, f"for code {code}"))
        c.close()
    ctx.figure("close", f"1002 × {len(BAD_CODES)}, slowest {worst * 1000:.0f} ms")


@case("a close frame with a one-byte body; one with a 124-byte reason (126-byte payload)",
      "close 1002 for both ≤ 0.5 s")
def _(ctx):
    for what, data in (("1-byte body", frame(CLOSE, b"\x03")),
                       ("126-byte payload", frame(CLOSE, close_body(1000, "r" * 124)))):
        c = ctx.ws()
        t0 = time.monotonic()
        c.send(data)
        expect_close(c, 1002, 0.5, t0, what)
        c.close()
    ctx.figure("close", "1002 × 2")


@case("allowed codes 1000-1003, 1007-1014, 3000, 4999 with a 123-byte reason",
      "the server's close echoes each code ≤ 0.5 s")
def _(ctx):
    for code in GOOD_CODES:
        c = ctx.ws()
        t0 = time.monotonic()
        c.send(frame(CLOSE, close_body(code, "r" * 123)))
        expect_close(c, code, 0.5, t0)
        c.close()
    ctx.figure("close", f"{len(GOOD_CODES)} codes echoed")


@case("data after the close frame: a text frame, and 1,000 more close frames",
      "one close 1000 back and nothing else (RFC 6455 §5.5.1: after a close, no more data); "
      "TCP closed ≤ 1 s")
def _(ctx):
    for what, tail in (("text after close", frame(TEXT, b"after")),
                       ("1,000 closes", frame(CLOSE, close_body(1000)) * 1000)):
        c = ctx.ws()
        t0 = time.monotonic()
        c.send(frame(CLOSE, close_body(1000)) + tail)
        code, _, before = c.close_frame(t0 + 1)
        check(code == 1000 and before == 0, f"{what}: close {code} after {before} frames")
        check(c.eof(t0 + 1) is not None, f"{what}: TCP open 1 s after the close")
        check(not c.buf, f"{what}: {len(c.buf)} bytes after the close frame")
        c.close()
    ctx.figure("close", "1000 × 2, nothing after")


@case("a peer that never answers the server's close (/chat without a subprotocol → 1008)",
      "close 1008 at once, then TCP cut at --close-grace 0.5 s (0.4–1.5 s)")
def _(ctx):
    c = ctx.ws("/chat")
    t0 = time.monotonic()
    code, reason, _ = c.close_frame(t0 + 1)
    check(code == 1008, f"close {code} {reason!r}")
    how = c.eof(t0 + 3)
    cut = time.monotonic() - t0
    check(how is not None and 0.4 <= cut <= 1.5, f"TCP {how} after {cut:.2f} s")
    ctx.figure("close", f"1008 {reason!r}")
    ctx.figure("time to cut", f"{cut:.2f} s ({how})")


@case("a peer that sends data while the server waits for its close answer",
      "its messages are discarded (no echo after the 1008), TCP cut ≤ 1.5 s")
def _(ctx):
    c = ctx.ws("/chat")
    t0 = time.monotonic()
    check(c.close_frame(t0 + 1)[0] == 1008, "close 1008")
    for _ in range(20):
        try:
            c.send(frame(BINARY, b"still talking"))
        except Exception:  # noqa: BLE001 — the server may already have cut TCP
            break
        time.sleep(0.02)
    how = c.eof(t0 + 3)
    check(how is not None and time.monotonic() - t0 <= 1.5, f"TCP {how}")
    check(not c.buf, f"{len(c.buf)} bytes arrived after the close frame")
    ctx.figure("time to cut", f"{time.monotonic() - t0:.2f} s ({how})")
