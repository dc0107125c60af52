"""Invalid UTF-8 in text messages and close reasons (RFC 6455 §8.1, §5.5.1; RFC 3629).

Every text message and close reason must be valid UTF-8, checked as the bytes arrive: an
invalid sequence fails the connection with 1007 at once, even in the first KiB of a 4 MiB
frame whose rest never comes. Valid edge cases, cut at every byte across fragments, echo.
"""
import time

from harness import CLOSE, CONT, TEXT, case, check, close_body, expect_close, frame

BAD = {
    "0xFF": b"ok\xff", "overlong NUL C0 80": b"\xc0\x80", "overlong / E0 80 AF": b"\xe0\x80\xaf",
    "surrogate ED A0 80": b"\xed\xa0\x80", "above U+10FFFF F4 90 80 80": b"\xf4\x90\x80\x80",
    "5-byte form F8 88 80 80 80": b"\xf8\x88\x80\x80\x80", "lone continuation 80": b"a\x80",
    "truncated at FIN E2 82": b"\xe2\x82",
}


def all_close(ctx, rows, code, within=0.5):
    worst = 0.0
    for what, data in rows:
        c = ctx.ws()
        t0 = time.monotonic()
        c.send(data)
        worst = max(worst, expect_close(c, code, within, t0, what))
        c.close()
    ctx.figure("close", f"{code} × {len(rows)}, slowest {worst * 1000:.0f} ms")


@case("text messages with invalid UTF-8: 0xFF, overlongs, a surrogate, > U+10FFFF, 5-byte form, "
      "lone continuation, truncated at FIN", "close 1007 for each ≤ 0.5 s")
def _(ctx):
    all_close(ctx, [(k, frame(TEXT, v)) for k, v in BAD.items()], 1007)


@case("an invalid byte 10 bytes into a 4 MiB text frame whose rest never comes",
      "close 1007 ≤ 0.5 s after the first KiB (validated as it arrives, not at the end)")
def _(ctx):
    payload = b"0123456789\xff" + b"a" * (4 * 1024 * 1024 - 11)
    c = ctx.ws()
    t0 = time.monotonic()
    c.send(frame(TEXT, payload)[:1024])
    ctx.figure("close", f"1007 after {expect_close(c, 1007, 0.5, t0) * 1000:.0f} ms")


@case("invalid UTF-8 split across fragments: E2 in one, 28 A1 in the next; a valid E2 82 then "
      "an invalid continuation in a third", "close 1007 for each ≤ 0.5 s")
def _(ctx):
    all_close(ctx, [
        ("E2 | 28 A1", frame(TEXT, b"\xe2", fin=False) + frame(CONT, b"\x28\xa1")),
        ("E2 82 | 28", frame(TEXT, b"\xe2\x82", fin=False) + frame(CONT, b"\x28", fin=False)),
    ], 1007)


@case("close frames whose reason is invalid UTF-8 (0xFF, surrogate, truncated)",
      "close 1007 for each ≤ 0.5 s (RFC 6455 §5.5.1: the reason is UTF-8)")
def _(ctx):
    all_close(ctx, [(k, frame(CLOSE, close_body(1000, v))) for k, v in
                    (("FF", b"\xff"), ("surrogate", b"\xed\xb0\x80"), ("truncated", b"ab\xe2"))],
              1007)


@case("control: U+0000, U+007F, U+0800, U+FFFF, U+10000, U+10FFFF, split at every byte across "
      "fragments", "echoed byte for byte ≤ 1 s")
def _(ctx):
    text = "\u0000\u007f\u0800\uffff\U00010000\U0010ffff é€𝄞".encode()
    c = ctx.ws()
    t0 = time.monotonic()
    c.send(b"".join(frame(TEXT if i == 0 else CONT, text[i:i + 1], fin=i == len(text) - 1)
                    for i in range(len(text))))
    op, got = c.message(t0 + 1, "the echo")
    check((op, got) == (TEXT, text), f"echo {got!r}")
    c.send(frame(CLOSE, close_body(1000, "fin ✓")))
    check(c.close_frame(t0 + 1)[0] == 1000, "close reply")
    ctx.figure("echo", f"{len(text)} bytes from {len(text)} fragments")
