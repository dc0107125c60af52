"""Decompression bombs through permessage-deflate (RFC 7692 §7.2): a few hundred KB that
inflate to hundreds of MB — in one message, in many fragments, on many connections at once —
and compressed data that does not inflate.

The limit must apply to the inflated size as it is produced (never allocating the whole
bomb), the inflater must stop at the limit (1009), and the memory must be given back when
the connection fails — at once, not when its close grace ends. The default for compressed
messages (--max-inflated-size) is tested in gated_inflated_size.py, and the server-wide
budget (--message-memory-budget) in gated_memory_budget.py; here --max-message-size bounds
each message.
"""
import threading
import time

from harness import (BINARY, CLOSE, CONT, TEXT, MiB, bomb, case, check, close_body,
                     deflate_message, expect_close, frame, inflate_message)

LIMIT = ["--max-message-size", "1M"]
BOMB = 256 * MiB  # inflated size; about 250 KB compressed


@case("one message: 250 KB that inflate to 256 MiB, at --max-message-size 1M",
      "close 1009 ≤ 1 s; peak RSS ≤ +6 MiB (never more than the limit inflated)",
      server=LIMIT, peak_mib=6, settle_mib=2)
def _(ctx):
    body = bomb(BOMB)
    c = ctx.ws(deflate=True)
    t0 = time.monotonic()
    c.send(frame(BINARY, body, rsv=4))
    cut = expect_close(c, 1009, 1.0, t0)
    ctx.figure("bomb", f"{len(body) / 1e3:.0f} KB → {BOMB >> 20} MiB")
    ctx.figure("close", f"1009 after {cut * 1000:.0f} ms")
    c.close()


@case("the same bomb cut into 1,000 fragments (RSV1 on the first only)",
      "close 1009 ≤ 1 s after the fragment that inflates past 1M; peak RSS ≤ +6 MiB",
      server=LIMIT, peak_mib=6, settle_mib=2)
def _(ctx):
    body = bomb(BOMB)
    step = len(body) // 1000 + 1
    parts = [body[i:i + step] for i in range(0, len(body), step)]
    data = b"".join(frame(BINARY if i == 0 else CONT, p, fin=i == len(parts) - 1,
                          rsv=4 if i == 0 else 0) for i, p in enumerate(parts))
    c = ctx.ws(deflate=True)
    t0 = time.monotonic()
    try:
        c.send(data)
    except Exception:  # noqa: BLE001 — the server may stop reading once it has failed
        pass
    ctx.figure("close", f"1009 after {expect_close(c, 1009, 1.0, t0) * 1000:.0f} ms")
    c.close()


@case("16 connections, each a 256 MiB bomb at once, at --max-message-size 1M",
      "close 1009 on all 16 ≤ 3 s; peak RSS ≤ +24 MiB (16 × the limit, plus input)",
      server=LIMIT, peak_mib=24, settle_mib=2, timeout=60)
def _(ctx):
    body = frame(BINARY, bomb(BOMB), rsv=4)
    clients = [ctx.ws(deflate=True) for _ in range(16)]
    results = [None] * 16
    t0 = time.monotonic()

    def attack(i):
        try:
            clients[i].send(body)
            results[i] = expect_close(clients[i], 1009, 3.0, t0)
        except Exception as exc:  # noqa: BLE001 — reported below
            results[i] = exc
    threads = [threading.Thread(target=attack, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    bad = [r for r in results if not isinstance(r, float)]
    check(not bad, f"{len(bad)} of 16 not closed 1009 in time: {bad[:2]}")
    ctx.figure("close", f"1009 × 16, slowest {max(results) * 1000:.0f} ms")
    for c in clients:
        c.close()


@case("8 connections each hold one unfinished compressed fragment inflating to 900 KiB",
      "all 8 stay open (the message is legal so far); RSS while held ≤ +16 MiB (8 × the 1M "
      "limit: bounded per connection); RSS back after they close", server=LIMIT, peak_mib=16,
      settle_mib=2)
def _(ctx):
    part = bomb(900 * 1024)
    clients = [ctx.ws(deflate=True) for _ in range(8)]
    for c in clients:
        c.send(frame(BINARY, part, fin=False, rsv=4))
    time.sleep(0.5)
    held = ctx.rss_over_mib()
    for c in clients:
        check(c.eof(time.monotonic() + 0.05) is None, "a connection holding a legal fragment "
              "was closed")
    ctx.figure("RSS held", f"+{held:.1f} MiB for 8 × 900 KiB")
    for c in clients:
        c.close()


@case("a bomb of 0xFF bytes in a text message (invalid UTF-8 once inflated)",
      "close 1007 ≤ 1 s, at the first inflated bytes; peak RSS ≤ +4 MiB", server=LIMIT)
def _(ctx):
    data = frame(TEXT, bomb(64 * MiB, b"\xff"), rsv=4)
    c = ctx.ws(deflate=True)
    t0 = time.monotonic()
    c.send(data)
    ctx.figure("close", f"1007 after {expect_close(c, 1007, 1.0, t0) * 1000:.0f} ms")
    c.close()


@case("compressed data that does not inflate: random bytes, a stored block whose LEN and "
      "NLEN disagree, reserved block type 3", "close 1007 for each ≤ 0.5 s", server=LIMIT)
def _(ctx):
    import os
    rows = [("random", os.urandom(2000)),
            ("stored LEN/NLEN", b"\x00\x05\x00\x05\x00hello"),
            ("block type 3", b"\x07\x00")]
    for what, body in rows:
        c = ctx.ws(deflate=True)
        t0 = time.monotonic()
        c.send(frame(BINARY, body, rsv=4))
        expect_close(c, 1007, 0.5, t0, what)
        c.close()
    ctx.figure("close", f"1007 × {len(rows)}")


@case("control: a compressed message that inflates to exactly 1M echoes",
      "the inflated message comes back ≤ 2 s (compressed again: RSV1), byte for byte",
      server=LIMIT, peak_mib=8, settle_mib=2)
def _(ctx):
    payload = (b"wsedge " * 150_000)[:MiB]
    c = ctx.ws(deflate=True)
    t0 = time.monotonic()
    c.send(frame(BINARY, deflate_message(payload), rsv=4))
    f = c.frame(t0 + 2, "the echo")
    got = inflate_message(f.payload) if f.rsv & 4 else f.payload
    check(f.opcode == BINARY and got == payload, f"echo {len(got)} B differs")
    c.send(frame(CLOSE, close_body(1000)))
    check(c.close_frame(t0 + 3)[0] == 1000, "close reply")
    ctx.figure("echo", f"{len(f.payload)} B compressed → {len(got)} B")
    c.close()


@case("a failed session frees its buffer at once: 16 bombs past --max-message-size 8M with "
      "--close-grace 5 (the failed connections linger)",
      "close 1009 × 16; RSS while they linger ≤ +16 MiB, not 16 × 8 MiB",
      server=["--max-message-size", "8M", "--close-grace", "5"], peak_mib=24, settle_mib=2)
def _(ctx):
    body = frame(BINARY, bomb(64 * MiB), rsv=4)
    clients = [ctx.ws(deflate=True) for _ in range(16)]
    t0 = time.monotonic()
    for c in clients:
        c.send(body)
    codes = [c.close_frame(t0 + 5)[0] for c in clients]
    check(codes == [1009] * 16, f"codes {codes}")
    time.sleep(0.2)
    held = ctx.rss_over_mib()
    check(held <= 16, f"RSS +{held:.1f} MiB while the failed connections linger")
    ctx.figure("held while lingering", f"+{held:.1f} MiB")
    for c in clients:
        c.close()

