"""Ping floods (RFC 6455 §5.5.2: every ping is answered with a pong) from a client that never
reads the pongs, and pong floods.

A server that queues a pong per ping without bound can be made to hold any amount of memory
by a client that sends pings and leaves the pongs unread. wsedge's queue is bounded by
--high-water: past it the connection stops reading (backpressure), so the flood stalls in
the kernel's buffers, and once the client reads again every ping is answered, in order.
"""
import select
import struct
import time

from harness import CLOSE, PING, PONG, TEXT, KiB, case, check, close_body, frame

HW = ["--high-water", "256K"]


def pings(n, size=125):
    key = b"\x11\x22\x33\x44"  # one key for all: building 100k frames stays fast
    body = b"p" * (size - 6)
    return b"".join(frame(PING, struct.pack("!I", i) + b".." + body, key=key)
                    for i in range(n))


def count_pongs(buf, start):
    """Parses whole pong frames from buf; returns (next expected index, bytes used, other)."""
    pos, nxt, other = 0, start, []
    while len(buf) - pos >= 2:
        b0, b1 = buf[pos], buf[pos + 1]
        n = b1 & 0x7F
        if len(buf) - pos < 2 + n:
            break
        payload = bytes(buf[pos + 2:pos + 2 + n])
        if b0 & 0x0F == PONG:
            idx = struct.unpack("!I", payload[:4])[0]
            check(idx == nxt, f"pong #{idx} arrived where #{nxt} was due (lost or reordered)")
            nxt += 1
        else:
            other.append((b0 & 0x0F, payload))
        pos += 2 + n
    return nxt, pos, other


@case("100,000 pings of 125 bytes (13 MB) from a client that reads nothing for 2 s",
      "server stops reading at --high-water 256K: peak RSS ≤ +3 MiB; then every pong arrives, "
      "in order, and close 1000", server=HW, peak_mib=3, timeout=60)
def _(ctx):
    n = 100_000
    data = pings(n)
    c = ctx.ws(rcvbuf=32 * KiB)
    s = c.sock
    s.setblocking(False)
    view, off = memoryview(data), 0
    t0 = time.monotonic()
    last_progress = t0
    while time.monotonic() < t0 + 2.0 and off < len(data):  # phase 1: write only
        _, w, _ = select.select([], [s], [], 0.05)
        if w:
            try:
                off += s.send(view[off:off + 65536])
                last_progress = time.monotonic()
            except BlockingIOError:
                pass
        if time.monotonic() - last_progress > 0.5:
            break
    stalled_at = off
    rss_stalled = ctx.rss_over_mib()
    buf, nxt = bytearray(), 0
    deadline = time.monotonic() + 40
    closing = False
    while time.monotonic() < deadline:  # phase 2: read and write
        want_w = [s] if off < len(data) or not closing else []
        r, w, _ = select.select([s], want_w, [], 0.5)
        if w:
            if off < len(data):
                try:
                    off += s.send(view[off:off + 65536])
                except BlockingIOError:
                    pass
            elif not closing:
                s.sendall(frame(CLOSE, close_body(1000)))
                closing = True
        if r:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
            nxt, used, other = count_pongs(buf, nxt)
            del buf[:used]
            if other:
                check(nxt == n, f"{other[0][0]:#x} frame after {nxt} of {n} pongs")
                check(other[0][0] == CLOSE and other[0][1][:2] == b"\x03\xe8",
                      f"expected close 1000, got {other[0]}")
                break
    check(nxt == n, f"{nxt} of {n} pongs arrived")
    ctx.figure("stalled after", f"{stalled_at / 1e6:.1f} of {len(data) / 1e6:.1f} MB "
               f"(RSS then +{rss_stalled:.1f} MiB)")
    ctx.figure("pongs", f"{nxt} of {n}, in order, then close 1000")
    ctx.figure("total", f"{time.monotonic() - t0:.1f} s")
    s.close()


@case("50,000 pings to a client that reads", "50,000 pongs in order ≤ 15 s; server CPU ≤ 2 s",
      server=HW, timeout=60)
def _(ctx):
    n = 50_000
    data = pings(n, 16)
    c = ctx.ws()
    cpu0 = ctx.cpu()
    t0 = time.monotonic()
    s = c.sock
    s.setblocking(False)
    view, off, buf, nxt = memoryview(data), 0, bytearray(), 0
    while nxt < n and time.monotonic() < t0 + 15:
        r, w, _ = select.select([s], [s] if off < len(data) else [], [], 0.5)
        if w:
            try:
                off += s.send(view[off:off + 65536])
            except BlockingIOError:
                pass
        if r:
            chunk = s.recv(1 << 20)
            check(chunk, f"server closed after {nxt} pongs")
            buf += chunk
            nxt, used, other = count_pongs(buf, nxt)
            check(not other, f"unexpected frame {other[:1]}")
            del buf[:used]
    cpu = ctx.cpu() - cpu0
    check(nxt == n, f"{nxt} of {n} pongs within 15 s")
    check(cpu <= 2.0, f"server CPU {cpu:.2f} s for {n} pings")
    ctx.figure("pongs", f"{n} in {time.monotonic() - t0:.1f} s")
    ctx.figure("CPU for the pings", f"{cpu:.2f} s (10 ms ticks)")
    s.setblocking(True)
    c.close()


@case("100,000 unsolicited pongs, then one ping and a text message",
      "no reply to any pong (RFC 6455 §5.5.3); exactly one pong and one echo come back ≤ 5 s",
      server=HW, timeout=60)
def _(ctx):
    key = b"\x01\x02\x03\x04"
    c = ctx.ws()
    pong = frame(PONG, b"unsolicited", key=key)
    t0 = time.monotonic()
    c.send(pong * 100_000 + frame(PING, b"last") + frame(TEXT, b"after the pongs"))
    f = c.frame(t0 + 5, "the pong")
    check((f.opcode, f.payload) == (PONG, b"last"), f"first reply {f.opcode:#x} {f.payload!r}")
    f = c.frame(t0 + 5, "the echo")
    check((f.opcode, f.payload) == (TEXT, b"after the pongs"), f"second reply {f.opcode:#x}")
    c.send(frame(CLOSE, close_body(1000)))
    code, _, before = c.close_frame(t0 + 5)
    check(before == 0 and code == 1000, f"{before} extra frames, close {code}")
    ctx.figure("replies", f"1 pong + 1 echo in {(time.monotonic() - t0):.2f} s")
    c.close()
