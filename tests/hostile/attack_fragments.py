"""Fragment floods (RFC 6455 §5.4): messages cut into as many tiny or empty frames as the
attacker likes, control frames interleaved with them, and sequence violations inside floods.

Per-frame costs (a buffer append, a UTF-8 resume, a syscall) are what such floods multiply;
a server that allocates per frame, re-scans the message per frame, or spins on empty frames
is found out by its CPU time. The message limit counts every fragment. A message that never
finishes is the message timeout's job (gated_message_timeout.py).
"""
import time

from harness import (BINARY, CLOSE, CONT, PING, PONG, TEXT, case, check, close_body,
                     expect_close, frame)

KEY = b"\x0a\x0b\x0c\x0d"  # one mask key: building 10^5 frames stays fast in Python


def fragmented(opcode, parts):
    """A message of the given fragment payloads (first carries the opcode, last FIN)."""
    out = []
    for i, p in enumerate(parts):
        out.append(frame(opcode if i == 0 else CONT, p, fin=i == len(parts) - 1, key=KEY))
    return b"".join(out)


def send_and_echo(ctx, data, opcode, payload, within):
    c = ctx.ws()
    cpu0 = ctx.cpu()
    t0 = time.monotonic()
    c.send(data)
    op, got = c.message(t0 + within, "the echo")
    elapsed = time.monotonic() - t0
    cpu = ctx.cpu() - cpu0
    check(op == opcode and got == payload, f"echo: opcode {op}, {len(got)} B, differs")
    c.send(frame(CLOSE, close_body(1000)))
    check(c.close_frame(time.monotonic() + 2)[0] == 1000, "close reply")
    c.close()
    return elapsed, cpu


@case("a 100,000-byte text message in 100,000 one-byte fragments (700 KB on the wire)",
      "one echo, byte for byte, ≤ 10 s; server CPU ≤ 1.5 s; peak RSS ≤ +4 MiB", timeout=60)
def _(ctx):
    payload = (b"fragment-" * 11112)[:100_000]
    data = fragmented(TEXT, [payload[i:i + 1] for i in range(len(payload))])
    elapsed, cpu = send_and_echo(ctx, data, TEXT, payload, 10)
    check(cpu <= 1.5, f"server CPU {cpu:.2f} s")
    ctx.figure("echo", f"{len(payload)} B from 100,000 frames in {elapsed:.2f} s")
    ctx.figure("CPU for the flood", f"{cpu:.2f} s")


@case("200,000 empty continuation frames between a 'start' and an 'end' fragment",
      "one echo 'startend' ≤ 10 s; server CPU ≤ 1.5 s (empty frames make no loop spin)",
      timeout=60)
def _(ctx):
    data = fragmented(BINARY, [b"start"] + [b""] * 200_000 + [b"end"])
    elapsed, cpu = send_and_echo(ctx, data, BINARY, b"startend", 10)
    check(cpu <= 1.5, f"server CPU {cpu:.2f} s")
    ctx.figure("echo", f"8 B from 200,002 frames in {elapsed:.2f} s")
    ctx.figure("CPU for the flood", f"{cpu:.2f} s")


@case("100,000 empty binary messages", "100,000 empty echoes, in order, ≤ 10 s; CPU ≤ 2 s",
      timeout=60)
def _(ctx):
    n = 100_000
    c = ctx.ws()
    cpu0 = ctx.cpu()
    t0 = time.monotonic()
    c.send(frame(BINARY, b"", key=KEY) * n + frame(CLOSE, close_body(1000), key=KEY))
    code, _, before = c.close_frame(t0 + 10)
    cpu = ctx.cpu() - cpu0
    check(before == n and code == 1000, f"{before} echoes before close {code}")
    check(cpu <= 2.0, f"server CPU {cpu:.2f} s")
    ctx.figure("echoes", f"{n} in {time.monotonic() - t0:.2f} s")
    ctx.figure("CPU", f"{cpu:.2f} s")
    c.close()


@case("10,000 fragments, each followed by a ping (RFC 6455 §5.4: control frames may interleave)",
      "9,999 pongs in order, the one echo of the whole message, the last pong, ≤ 10 s; CPU ≤ 1.5 s",
      timeout=60)
def _(ctx):
    n = 10_000
    parts = [i.to_bytes(4, "big") for i in range(n)]
    out = []
    for i, p in enumerate(parts):
        out.append(frame(BINARY if i == 0 else CONT, p, fin=i == n - 1, key=KEY))
        out.append(frame(PING, b"%d" % i, key=KEY))
    c = ctx.ws()
    cpu0 = ctx.cpu()
    t0 = time.monotonic()
    c.send(b"".join(out))
    pongs = 0
    while True:
        f = c.frame(t0 + 10, "pongs and the echo")
        if f.opcode == PONG:
            check(f.payload == b"%d" % pongs, f"pong {f.payload!r} where {pongs} was due")
            pongs += 1
            continue
        check(f.opcode == BINARY and f.payload == b"".join(parts),
              f"after {pongs} pongs: opcode {f.opcode:#x}, {len(f.payload)} B")
        break
    check(pongs == n - 1, f"{pongs} of {n - 1} pongs before the echo")
    f = c.frame(t0 + 10, "the last pong")  # the last ping follows the final fragment
    check(f.opcode == PONG and f.payload == b"%d" % (n - 1), f"last frame {f.opcode:#x}")
    cpu = ctx.cpu() - cpu0
    check(cpu <= 1.5, f"server CPU {cpu:.2f} s")
    ctx.figure("pongs", f"{n} in order around the {len(parts) * 4}-byte echo, "
               f"{time.monotonic() - t0:.2f} s")
    ctx.figure("CPU", f"{cpu:.2f} s")
    c.close()


@case("one-byte fragments until one past --max-message-size 64K",
      "close 1009 ≤ 0.5 s after the fragment that crosses 65,536 bytes; no echo",
      server=["--max-message-size", "64K"])
def _(ctx):
    c = ctx.ws()
    c.send(fragmented(BINARY, [b"z"] * 65536 + [b"z"])[:-7] + frame(CONT, b"z", fin=False,
                                                                     key=KEY))
    t0 = time.monotonic()
    ctx.figure("close", f"1009 after {expect_close(c, 1009, 0.5, t0) * 1000:.0f} ms")
    c.close()


@case("invalid UTF-8 in fragment 5,000 of a 10,000-fragment text message",
      "close 1007 ≤ 0.5 s after fragment 5,000, before the rest is sent (checked as it arrives)")
def _(ctx):
    good = ["é".encode()[:1], "é".encode()[1:]] * 2499 + [b"ok"]  # a sequence split across frames
    c = ctx.ws()
    c.send(b"".join(frame(TEXT if i == 0 else CONT, p, fin=False, key=KEY)
                    for i, p in enumerate(good)))
    t0 = time.monotonic()
    c.send(frame(CONT, b"\xc3\x28", fin=False, key=KEY))  # a lead byte and no continuation
    ctx.figure("close", f"1007 after {expect_close(c, 1007, 0.5, t0) * 1000:.0f} ms")
    c.close()


@case("sequence violations inside floods: a new text frame after 1,000 fragments; a "
      "continuation with no message; a fragmented ping", "close 1002 for each ≤ 0.5 s")
def _(ctx):
    rows = [
        ("new message mid-fragments", b"".join(frame(TEXT if i == 0 else CONT, b"a", fin=False,
                                                     key=KEY) for i in range(1000))
         + frame(TEXT, b"b", key=KEY)),
        ("lone continuation", frame(CONT, b"x" * 100, key=KEY)),
        ("fragmented ping", frame(PING, b"a", fin=False, key=KEY) + frame(CONT, b"b", key=KEY)),
    ]
    worst = 0.0
    for what, data in rows:
        c = ctx.ws()
        t0 = time.monotonic()
        c.send(data)
        worst = max(worst, expect_close(c, 1002, 0.5, t0, what))
        c.close()
    ctx.figure("close", f"1002 × {len(rows)}, slowest {worst * 1000:.0f} ms")
