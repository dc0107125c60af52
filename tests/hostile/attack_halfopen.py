"""Half-open floods: many connections that hold a socket and send nothing, half a request
head, or a finished handshake and then silence; connections reset at once.

Each must be cut by a timeout stated in numbers (--handshake-timeout for heads, --idle-timeout
for WebSockets), the server's descriptors must come back to their count before the flood,
and other clients must be served during it. A cap on the number of connections is
--max-connections (gated_connections.py).
"""
import resource
import selectors
import socket
import struct
import time

from harness import case, check, echo_ok, open_fds, request, wait_until

HS = ["--handshake-timeout", "1"]


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n + 256))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def flood(ctx, n, first=b"", window=4.0, echo_at=0.5, keep=False):
    """Opens n connections, writes `first` on each, and waits until the server ends every
    one. Returns (sorted times to the server's FIN/RST, replies by first 12 bytes, echo time
    measured during the flood)."""
    raise_fd_limit(n)
    sel = selectors.DefaultSelector()
    replies, cut = {}, {}
    t0 = time.monotonic()
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", ctx.port), timeout=5)
        if first:
            s.sendall(first)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        replies[s] = bytearray()
        socks.append(s)
    opened = time.monotonic() - t0
    echoed = None
    while len(cut) < n and time.monotonic() < t0 + window:
        if echoed is None and time.monotonic() >= t0 + echo_at:
            e0 = time.monotonic()
            echo_ok(ctx.port, b"served during the flood")
            echoed = time.monotonic() - e0
        for key, _ in sel.select(0.05):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                replies[s] += data
            else:
                cut[s] = time.monotonic() - t0
                sel.unregister(s)
    for s in socks:
        s.close()
    check(len(cut) == n, f"{n - len(cut)} of {n} connections still open after {window} s")
    kinds = {}
    for r in replies.values():
        k = bytes(r[:12])
        kinds[k] = kinds.get(k, 0) + 1
    ctx.figure("opened", f"{n} in {opened:.2f} s")
    if keep:
        return sorted(cut.values()), kinds, echoed, [bytes(r) for r in replies.values()]
    return sorted(cut.values()), kinds, echoed


def fds_back(ctx, before):
    ok = wait_until(lambda: open_fds(ctx.pid) <= before, 2)
    check(ok, f"server holds {open_fds(ctx.pid)} descriptors after the flood, {before} before")
    ctx.figure("server fds", f"{before} before, {open_fds(ctx.pid)} after")


@case("500 connections that send nothing", "each closed by the server (no reply) 1.0 s after "
      "accept (0.9–2.5 s); the server's fds back to their count; peak RSS ≤ +4 MiB; echo during "
      "the flood ≤ 0.5 s", server=HS)
def _(ctx):
    before = open_fds(ctx.pid)
    cuts, kinds, echoed = flood(ctx, 500)
    check(kinds == {b"": 500}, f"replies {kinds}: expected none")
    check(cuts[0] >= 0.9 and cuts[-1] <= 2.5, f"cuts {cuts[0]:.2f}–{cuts[-1]:.2f} s")
    check(echoed is not None and echoed <= 0.5, f"echo during the flood took {echoed} s")
    ctx.figure("time to cut", f"{cuts[0]:.2f}–{cuts[-1]:.2f} s")
    ctx.figure("echo during flood", f"{echoed * 1000:.0f} ms")
    fds_back(ctx, before)


@case("300 connections that each send half a handshake (no blank line)",
      "408 on each at 1.0 s (0.9–2.5 s), TCP closed; fds back; peak RSS ≤ +4 MiB", server=HS)
def _(ctx):
    before = open_fds(ctx.pid)
    half = request(ctx.port)[:-30]
    cuts, kinds, echoed = flood(ctx, 300, half)
    check(list(kinds) == [b"HTTP/1.1 408"], f"replies {kinds}: expected 408 × 300")
    check(cuts[0] >= 0.9 and cuts[-1] <= 2.5, f"cuts {cuts[0]:.2f}–{cuts[-1]:.2f} s")
    check(echoed is not None and echoed <= 0.5, f"echo during the flood took {echoed} s")
    ctx.figure("status", "408 × 300")
    ctx.figure("time to cut", f"{cuts[0]:.2f}–{cuts[-1]:.2f} s")
    fds_back(ctx, before)


@case("300 finished handshakes that then say nothing, --idle-timeout 1",
      "101 each, then close 1001 at 1.0 s (0.9–2.5 s) and TCP closed; fds back; peak RSS ≤ +4 MiB",
      server=HS + ["--idle-timeout", "1"])
def _(ctx):
    before = open_fds(ctx.pid)
    cuts, kinds, echoed, replies = flood(ctx, 300, request(ctx.port), window=5, keep=True)
    check(list(kinds) == [b"HTTP/1.1 101"], f"replies {kinds}: expected 101 × 300")
    codes = {}
    for r in replies:  # after the head: one close frame, 88 LEN CODE
        tail = r[r.index(b"\r\n\r\n") + 4:]
        code = struct.unpack("!H", tail[2:4])[0] if tail[:1] == b"\x88" and len(tail) >= 4 else None
        codes[code] = codes.get(code, 0) + 1
    check(codes == {1001: 300}, f"close codes {codes}: expected 1001 × 300")
    ctx.figure("close", "1001 × 300")
    check(cuts[0] >= 0.9 and cuts[-1] <= 2.5, f"cuts {cuts[0]:.2f}–{cuts[-1]:.2f} s")
    ctx.figure("time to cut", f"{cuts[0]:.2f}–{cuts[-1]:.2f} s")
    fds_back(ctx, before)


@case("500 connections reset by the client at once (SO_LINGER 0), half of them mid-head",
      "the server notices every reset: fds back within 2 s; peak RSS ≤ +4 MiB; no crash",
      server=HS)
def _(ctx):
    raise_fd_limit(500)
    before = open_fds(ctx.pid)
    head = request(ctx.port)
    t0 = time.monotonic()
    for i in range(500):
        s = socket.create_connection(("127.0.0.1", ctx.port), timeout=5)
        if i % 2:
            s.sendall(head[:40])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    ctx.figure("resets sent", f"500 in {time.monotonic() - t0:.2f} s")
    fds_back(ctx, before)


@case("clients that half-close (FIN) right after a full upgrade head, 100 of them",
      "101 on each, then the server's FIN ≤ 1 s; fds back", server=HS)
def _(ctx):
    raise_fd_limit(100)
    before = open_fds(ctx.pid)
    worst, statuses = 0.0, {}
    for _ in range(100):
        s = socket.create_connection(("127.0.0.1", ctx.port), timeout=3)
        t0 = time.monotonic()
        s.sendall(request(ctx.port))
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        worst = max(worst, time.monotonic() - t0)
        statuses[got[:12]] = statuses.get(got[:12], 0) + 1
        s.close()
    check(list(statuses) == [b"HTTP/1.1 101"], f"replies {statuses}")
    check(worst <= 1.0, f"slowest FIN after {worst:.2f} s")
    ctx.figure("slowest FIN", f"{worst * 1000:.0f} ms")
    fds_back(ctx, before)
