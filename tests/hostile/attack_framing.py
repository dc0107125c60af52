"""Frame-header violations (RFC 6455 §5.1, §5.2, §5.5; RFC 7692 §6): reserved opcodes, RSV
bits without an extension (and in the wrong frames with one), unmasked client frames and
oversized control frames. Each must fail the connection with 1002 from the header alone.
"""
import time

from harness import (BINARY, CLOSE, CONT, PING, PONG, TEXT, case, check, close_body,
                     deflate_message, expect_close, frame)


def all_1002(ctx, rows, deflate=False):
    worst = 0.0
    for what, data in rows:
        c = ctx.ws(deflate=deflate)
        t0 = time.monotonic()
        c.send(data)
        worst = max(worst, expect_close(c, 1002, 0.5, t0, what))
        c.close()
    ctx.figure("close", f"1002 × {len(rows)}, slowest {worst * 1000:.0f} ms")


@case("reserved opcodes 0x3-0x7 and 0xB-0xF", "close 1002 for each ≤ 0.5 s")
def _(ctx):
    all_1002(ctx, [(f"opcode {op:#x}", frame(op, b"x")) for op in
                   (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF)])


@case("RSV bits without an extension: RSV1, RSV2, RSV3, all three; on text, ping and close",
      "close 1002 for each ≤ 0.5 s", server=["--deflate", "off"])
def _(ctx):
    all_1002(ctx, [(f"rsv {rsv} op {op:#x}", frame(op, b"x", rsv=rsv))
                   for rsv in (4, 2, 1, 7) for op in (TEXT, PING)]
             + [("rsv1 close", frame(CLOSE, close_body(1000), rsv=4))])


@case("with permessage-deflate agreed: RSV1 on a continuation, a ping, a close; RSV2 and RSV3 "
      "on a compressed message", "close 1002 for each ≤ 0.5 s (RFC 7692 §6: RSV1 on the first "
      "frame of a data message only)")
def _(ctx):
    body = deflate_message(b"hello hello hello")
    all_1002(ctx, [
        ("rsv1 continuation", frame(TEXT, body[:3], fin=False, rsv=4)
         + frame(CONT, body[3:], rsv=4)),
        ("rsv1 ping", frame(PING, b"p", rsv=4)),
        ("rsv1 close", frame(CLOSE, close_body(1000), rsv=4)),
        ("rsv2 data", frame(TEXT, body, rsv=6)),
        ("rsv3 data", frame(TEXT, body, rsv=5)),
    ], deflate=True)


@case("unmasked client frames: text, binary, ping, close, a continuation", "close 1002 for each "
      "≤ 0.5 s (RFC 6455 §5.1: a server MUST close on an unmasked frame)")
def _(ctx):
    all_1002(ctx, [
        ("text", frame(TEXT, b"plain", mask=False)),
        ("binary", frame(BINARY, b"\x00" * 200, mask=False)),
        ("ping", frame(PING, b"p", mask=False)),
        ("close", frame(CLOSE, close_body(1000), mask=False)),
        ("continuation", frame(TEXT, b"a", fin=False) + frame(CONT, b"b", mask=False)),
    ])


@case("oversized control frames: ping and pong of 126 bytes, close of 126, ping of 64 KiB "
      "(its payload never sent)", "close 1002 for each ≤ 0.5 s (RFC 6455 §5.5: ≤ 125 bytes)")
def _(ctx):
    all_1002(ctx, [
        ("ping 126", frame(PING, b"p" * 126)), ("pong 126", frame(PONG, b"p" * 126)),
        ("close 126", frame(CLOSE, close_body(1000, "c" * 124))),
        ("ping 64 KiB", frame(PING, b"", length=65535, form=16)),
    ])


@case("control: an all-zero mask key and a 125-byte ping", "echo and a pong of 125 bytes ≤ 0.5 s")
def _(ctx):
    c = ctx.ws()
    t0 = time.monotonic()
    c.send(frame(TEXT, b"zero key", key=b"\0\0\0\0") + frame(PING, b"q" * 125))
    op, got = c.message(t0 + 0.5, "the echo")
    check((op, got) == (TEXT, b"zero key"), f"echo {got!r}")
    f = c.frame(t0 + 0.5, "the pong")
    check(f.opcode == PONG and f.payload == b"q" * 125, f"pong {f.opcode:#x} {len(f.payload)}")
    ctx.figure("replies", "echo + 125-byte pong")
    c.close()
