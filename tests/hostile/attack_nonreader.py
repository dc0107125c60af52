"""Peers that never read while the server sends: the echo route (the client's own messages
come back), /push (the server speaks on a timer) and /chat (other members' messages).

What the server must not do is queue without bound for a reader that does not read: the
echo route stops reading past --high-water (backpressure), /push skips ticks instead of
queueing them, /chat drops a member whose queue passes --high-water (close 1008) and tells
the room. A cap on a single connection's queue is --max-send-queue (gated_send_queue.py).
"""
import json
import select
import time

from harness import BINARY, CLOSE, TEXT, KiB, case, check, close_body, frame

HW = ["--high-water", "256K"]


@case("echo route: 400 messages of 32 KiB (13 MB) from a client that reads nothing for 2 s",
      "reading stops past --high-water 256K: peak RSS ≤ +4 MiB; then all 400 echoes, in order",
      server=HW, timeout=60)
def _(ctx):
    n, size = 400, 32 * KiB
    key = b"\x05\x06\x07\x08"
    msgs = [i.to_bytes(4, "big") + bytes([i % 251]) * (size - 4) for i in range(n)]
    data = b"".join(frame(BINARY, m, key=key) for m in msgs)
    c = ctx.ws(rcvbuf=32 * KiB)
    s = c.sock
    s.setblocking(False)
    view, off = memoryview(data), 0
    t0 = time.monotonic()
    last = t0
    while time.monotonic() < t0 + 2 and off < len(data) and time.monotonic() - last < 0.5:
        if select.select([], [s], [], 0.05)[1]:
            try:
                off += s.send(view[off:off + 65536])
                last = time.monotonic()
            except BlockingIOError:
                pass
    stalled = off
    got = 0
    deadline = time.monotonic() + 30
    while got < n and time.monotonic() < deadline:  # phase 2: read, and write the rest
        if off < len(data) and select.select([], [s], [], 0)[1]:
            try:
                off += s.send(view[off:off + 65536])
            except BlockingIOError:
                pass
        if select.select([s], [], [], 0.05)[0]:
            chunk = s.recv(1 << 20)
            check(chunk, f"the server closed after {got} echoes")
            c.buf += chunk
        while c.has_frame():
            f = c.frame(time.monotonic() + 1)
            check(f.opcode == BINARY and f.payload == msgs[got],
                  f"echo #{got}: opcode {f.opcode:#x}, {len(f.payload)} B, differs or out of order")
            got += 1
    check(got == n, f"{got} of {n} echoes")
    ctx.figure("stalled after", f"{stalled / 1e6:.1f} of {len(data) / 1e6:.1f} MB")
    ctx.figure("echoes", f"{n} of {n}, in order, in {time.monotonic() - t0:.1f} s")
    c.close()


@case("echo route: one 8 MiB message from a client that never reads its echo",
      "the echo waits in the queue (bounded by --max-message-size 8M): peak RSS ≤ +26 MiB; "
      "the connection stays usable once the client reads", server=HW + ["--max-message-size",
                                                                      "8M"],
      peak_mib=26, settle_mib=2, timeout=60)
def _(ctx):
    payload = bytes(range(256)) * (32 * 1024)
    c = ctx.ws(rcvbuf=32 * KiB)
    t0 = time.monotonic()
    c.send(frame(BINARY, payload))
    time.sleep(1.0)
    held = ctx.rss_over_mib()
    op, got = c.message(time.monotonic() + 20, "the 8 MiB echo")
    check(op == BINARY and got == payload, "the echo differs")
    ctx.figure("RSS while unread", f"+{held:.1f} MiB")
    ctx.figure("echo", f"{len(got) >> 20} MiB in {time.monotonic() - t0:.1f} s")
    c.close()


@case("/push every 10 ms to a client that reads nothing for 3 s",
      "nothing piles up in the server: RSS ≤ +1 MiB while unread (the kernel's socket buffer, "
      "~4 MB on loopback, takes the ticks; past it they are skipped, never queued); reading "
      "again, every seq from 1 arrives once, and seq + skipped is between half the ticks and "
      "the ticks + 5",
      server=["--high-water", "1K", "--push-interval", "0.01"], peak_mib=2)
def _(ctx):
    c = ctx.ws("/push", rcvbuf=4 * KiB)
    t0 = time.monotonic()
    time.sleep(3.0)
    held = ctx.rss_over_mib()
    check(held <= 1.0, f"RSS +{held:.1f} MiB while the client did not read")
    seqs, m = [], {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(seqs) < 320:
        op, payload = c.message(deadline, "a push")
        m = json.loads(payload)
        seqs.append(m["seq"])
    ticks = (time.monotonic() - t0) / 0.01
    check(seqs == list(range(1, len(seqs) + 1)), f"seq not 1..N: {seqs[:5]} ... {seqs[-5:]}")
    # Never more pushes than ticks (no burst of queued ones), and the timer kept running
    # while the client did not read (a loaded machine may delay ticks, hence only half).
    pushed = seqs[-1] + m["skipped"]
    check(0.5 * ticks <= pushed <= ticks + 5, f"seq {seqs[-1]} + skipped {m['skipped']} vs "
          f"~{ticks:.0f} ticks")
    ctx.figure("RSS while unread", f"+{held:.2f} MiB")
    ctx.figure("pushes", f"seq 1..{seqs[-1]} in order, skipped {m['skipped']}, ~{ticks:.0f} ticks")
    c.close()


@case("/chat: a member that never reads while another sends 2,000 messages of 4 KiB",
      "the reader-less member is dropped (its queue passed --high-water 256K) and the room "
      "told '… was dropped' ≤ 5 s; the sender gets all its own messages; peak RSS ≤ +4 MiB",
      server=HW, timeout=60)
def _(ctx):
    slow = ctx.ws("/chat?room=r&name=slow", rcvbuf=4 * KiB,
                  headers=["Sec-WebSocket-Protocol: chat"])
    talker = ctx.ws("/chat?room=r&name=talker", headers=["Sec-WebSocket-Protocol: chat"])
    n = 2000
    line = b"x" * 4000
    t0 = time.monotonic()
    dropped_at, own = None, 0
    key = b"\x09\x08\x07\x06"
    sent = 0
    deadline = t0 + 20
    while time.monotonic() < deadline and (own < n or dropped_at is None):
        if sent < n:
            talker.send(b"".join(frame(TEXT, line, key=key) for _ in range(50)))
            sent += 50
        try:
            op, payload = talker.message(time.monotonic() + (0.01 if sent < n else 1.0))
        except Exception:  # noqa: BLE001 — nothing yet: keep sending
            continue
        if payload.startswith(b"talker: "):
            own += 1
        elif b"slow was dropped" in payload:
            dropped_at = time.monotonic() - t0
        while True:
            try:
                op, payload = talker.message(time.monotonic() + 0.001)
            except Exception:  # noqa: BLE001
                break
            if payload.startswith(b"talker: "):
                own += 1
            elif b"slow was dropped" in payload:
                dropped_at = time.monotonic() - t0
    check(dropped_at is not None and dropped_at <= 5, f"drop notice after {dropped_at} s")
    check(own == n, f"the talker got {own} of its {n} messages")
    how = slow.eof(time.monotonic() + 3)  # its backlog and close 1008 queued, then the grace
    check(how is not None, "the dropped member's TCP connection still open 3 s later")
    ctx.figure("dropped member", f"TCP {how}")
    ctx.figure("dropped", f"after {dropped_at:.2f} s")
    ctx.figure("talker's own", f"{own} of {n}")
    talker.send(frame(CLOSE, close_body(1000)))
    talker.close()
    slow.close()
