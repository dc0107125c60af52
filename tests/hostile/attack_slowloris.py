"""Slowloris: request heads that arrive a byte at a time, so that each connection is held
open for as long as the client likes (the 2009 attack on Apache).

--handshake-timeout bounds how long a head may take from its first byte (408 at the
deadline); the per-byte re-parse of a growing head costs CPU bounded by the 8 KiB head limit;
other clients are served meanwhile. After the handshake, --idle-timeout cuts a silent
WebSocket (close 1001). A frame trickled a byte at a time after the handshake is the
message timeout's job (gated_message_timeout.py).
"""
import selectors
import socket
import time

from harness import BINARY, Raw, case, check, echo_ok, frame, request

HS = ["--handshake-timeout", "1"]


@case("one head, one byte every 50 ms", "408 Request Timeout 1.0 s after the first byte "
      "(0.9–2.0 s), TCP closed with it", server=HS)
def _(ctx):
    c = ctx.raw()
    data = request(ctx.port)
    t0 = time.monotonic()
    sent = c.send_slowly(data, 1, 0.05, until=t0 + 3)
    status = c.status(time.monotonic() + 3)
    cut = time.monotonic() - t0
    check(sent < len(data), f"the whole {len(data)}-byte head went out in {cut:.2f} s")
    check(status == 408, f"expected 408, got {status}")
    check(0.9 <= cut <= 2.0, f"cut after {cut:.2f} s, expected 0.9–2.0 s")
    ctx.figure("status", "408")
    ctx.figure("time to cut", f"{cut:.2f} s after {sent} of {len(data)} bytes")


@case("60 slowloris connections (a byte per 100 ms each) while a normal client comes and goes",
      "all 60 get 408 between 0.9 and 2.5 s; the normal client's echo ≤ 0.5 s during the attack; "
      "peak RSS ≤ +4 MiB", server=HS)
def _(ctx):
    n = 60
    sel = selectors.DefaultSelector()
    socks = []
    heads = {}
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", ctx.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks.append(s)
        heads[s] = [request(ctx.port), 0, bytearray(), None]  # data, offset, reply, cut time
        sel.register(s, selectors.EVENT_READ)
    t0 = time.monotonic()
    next_write, echoed = t0, None
    while time.monotonic() < t0 + 4 and any(v[3] is None for v in heads.values()):
        now = time.monotonic()
        if now >= next_write:
            for s in socks:
                h = heads[s]
                if h[3] is None and h[1] < len(h[0]):
                    try:
                        s.send(h[0][h[1]:h[1] + 1])
                        h[1] += 1
                    except OSError:
                        pass
            next_write = now + 0.1
        if echoed is None and now >= t0 + 0.5:
            e0 = time.monotonic()
            echo_ok(ctx.port, b"served during the attack")
            echoed = time.monotonic() - e0
        for key, _ in sel.select(0.02):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            h = heads[s]
            h[2] += data
            if not data:
                h[3] = time.monotonic() - t0
                sel.unregister(s)
    statuses = [bytes(v[2][9:12]) for v in heads.values()]
    cuts = sorted(v[3] for v in heads.values() if v[3] is not None)
    for s in socks:
        s.close()
    check(len(cuts) == n, f"{n - len(cuts)} of {n} connections still open after 4 s")
    check(statuses.count(b"408") == n, f"statuses {sorted(set(statuses))}: expected 408 × {n}")
    check(0.9 <= cuts[0] and cuts[-1] <= 2.5, f"cuts {cuts[0]:.2f}–{cuts[-1]:.2f} s")
    check(echoed is not None and echoed <= 0.5, f"normal echo took {echoed} s")
    ctx.figure("status", f"408 × {n}")
    ctx.figure("time to cut", f"{cuts[0]:.2f}–{cuts[-1]:.2f} s (median {cuts[n // 2]:.2f})")
    ctx.figure("echo during attack", f"{echoed * 1000:.0f} ms")


@case("eight 9 KiB heads written one byte per segment (TCP_NODELAY), re-parsed as they grow",
      "431 for each once the 8 KiB head limit passes; server CPU for all eight ≤ 1.5 s",
      server=["--handshake-timeout", "20"], timeout=60)
def _(ctx):
    head = request(ctx.port, headers=[("X-Slow", "a" * 9000)])
    cpu0 = ctx.cpu()
    clients = [Raw(ctx.port) for _ in range(8)]
    sent = [0] * 8
    t0 = time.monotonic()
    for i in range(len(head)):
        for k, c in enumerate(clients):
            if c.closed or sent[k] > i:
                continue
            try:
                c.sock.send(head[i:i + 1])
                sent[k] += 1
            except OSError:
                c.closed = "reset"
        if all(c.closed for c in clients):
            break
    statuses = []
    for c in clients:
        try:
            statuses.append(c.response(time.monotonic() + 5).status)
        except Exception:  # noqa: BLE001 — a reset after the 431 loses the reply
            statuses.append(None)
        c.close()
    cpu = ctx.cpu() - cpu0
    check(statuses.count(431) == 8, f"statuses {statuses}: expected 431 × 8")
    check(cpu <= 1.5, f"server CPU {cpu:.2f} s for eight byte-by-byte heads, expected ≤ 1.5 s")
    ctx.figure("status", "431 × 8")
    ctx.figure("bytes taken", f"{min(sent)}–{max(sent)} of {len(head)}")
    ctx.figure("CPU for the heads", f"{cpu:.2f} s in {time.monotonic() - t0:.1f} s wall")


@case("a WebSocket that sends nothing after its handshake, --idle-timeout 1",
      "close 1001 'idle timeout' at 1.0 s (0.9–2.0 s), then TCP closed",
      server=["--idle-timeout", "1"])
def _(ctx):
    c = ctx.ws()
    t0 = time.monotonic()
    code, reason, _ = c.close_frame(t0 + 3)
    cut = time.monotonic() - t0
    check(code == 1001, f"expected 1001, got {code} {reason!r}")
    check(0.9 <= cut <= 2.0, f"closed after {cut:.2f} s, expected 0.9–2.0 s")
    check(c.eof(time.monotonic() + 2) is not None, "TCP open 2 s after the close frame")
    ctx.figure("close", f"{code} {reason!r}")
    ctx.figure("time to cut", f"{cut:.2f} s")


@case("a WebSocket that sent half a frame header and went silent, --idle-timeout 1",
      "close 1001 at 1.0 s (0.9–2.0 s): half a frame is no activity after it",
      server=["--idle-timeout", "1"])
def _(ctx):
    c = ctx.ws()
    c.send(frame(BINARY, b"x" * 300)[:3])
    t0 = time.monotonic()
    code, reason, _ = c.close_frame(t0 + 3)
    cut = time.monotonic() - t0
    check(code == 1001, f"expected 1001, got {code} {reason!r}")
    check(0.9 <= cut <= 2.0, f"closed after {cut:.2f} s, expected 0.9–2.0 s")
    ctx.figure("close", f"{code}")
    ctx.figure("time to cut", f"{cut:.2f} s")
