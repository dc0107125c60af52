"""Sections 9-10 (limits and performance, auto-fragmentation) and 20-22, wsedge's own
server-behaviour cases beyond autobahn: --max-message-size (20), keepalive and timeouts
(21), graceful shutdown (22). Cases in 20-22 depend on the server options named in their
description; the runner starts one server instance per option set (see run.py SERVERS).

Section 9 times each case (first byte sent to last echo byte read) and prints it; the
times are information, never asserted.
"""
import socket
import struct
import threading
import time

from harness import (add, clean_close, expect_close, expect_events, expect_tcp_close,
                     memory_returned, violation_case)
from wire import BINARY, TEXT, Fail, TcpClosed, Timeout, build_frame, fragments, opname

F = build_frame
KiB, MiB = 1 << 10, 1 << 20


def payload_of(op, n):
    if op == TEXT:
        return (b"wsedge-" * (n // 7 + 1))[:n]
    return (bytes(range(256)) * (n // 256 + 1))[:n]


def send_in_thread(c, data, chunk=None):
    """Writes from a second thread (its own socket object, so its own timeout) while the
    caller reads: pipelined sends can never deadlock against the server's echoes."""
    errors = []
    sock = c.sock.dup()
    sock.settimeout(60)
    # Over TLS the records are made here, before the thread starts, so the TLS state is
    # never used by two threads at once; the thread only writes bytes.
    view = memoryview(data)
    pieces = [c.wire(view[i:i + chunk]) for i in range(0, len(data), chunk)] if chunk \
        else [c.wire(data)]

    def run():
        try:
            for piece in pieces:
                sock.sendall(piece)
        except OSError as exc:
            errors.append(exc)
        finally:
            sock.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, errors


def timed_echo(wanted, frames, chunk=None):
    """Sends the frames (concatenated) in a writer thread, expects `wanted` echoes, then
    a clean close; records the time."""
    def run(ctx):
        c = ctx.client()
        data = b"".join(frames)
        c.log.append(f"> {len(frames)} frame(s), {len(data)} bytes"
                     + (f" in {chunk}-byte writes" if chunk else ""))
        t0 = time.monotonic()
        t, errors = send_in_thread(c, data, chunk)
        expect_events(ctx, c, [(opname(op), p) for op, p in wanted])
        elapsed = time.monotonic() - t0
        t.join(5)
        if errors:
            raise Fail(f"write failed: {errors[0]}")
        clean_close(ctx, c)
        total = sum(len(p) for _, p in wanted)
        ctx.info["time"] = f"{elapsed * 1000:.1f} ms"
        ctx.info["rate"] = f"{total / MiB / max(elapsed, 1e-9):.1f} MiB/s echoed"
    return run


def round_trips(op, size, count):
    """`count` messages, each sent only after the previous echo arrived."""
    def run(ctx):
        c = ctx.client()
        payload = payload_of(op, size)
        frame = F(op, payload)
        t0 = time.monotonic()
        deadline = ctx.deadline()
        for i in range(count):
            c.send(frame)
            ev = c.recv_event(deadline, f"echo #{i + 1}")
            if ev != (opname(op), payload):
                raise Fail(f"round trip #{i + 1}: got {ev[0]} {len(ev[1])}B")
        elapsed = time.monotonic() - t0
        del c.log[:]  # the transcript of 1000 echoes is of no use
        clean_close(ctx, c)
        ctx.info["time"] = f"{elapsed * 1000:.1f} ms"
        ctx.info["rtt"] = f"{elapsed / count * 1e6:.0f} us/round trip"
    return run


# ----- 9 limits and performance ---------------------------------------------------------
BIG = [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB]
for grp, op in (("9.1", TEXT), ("9.2", BINARY)):
    for i, n in enumerate(BIG, 1):
        add(f"{grp}.{i}", f"{opname(op)} message of {n // KiB} KiB in one frame", "§5.2",
            timed_echo([(op, payload_of(op, n))], [F(op, payload_of(op, n))]), timeout=30)
FRAG = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB]
for grp, op in (("9.3", TEXT), ("9.4", BINARY)):
    msg = payload_of(op, 4 * MiB)
    for i, size in enumerate(FRAG, 1):
        add(f"{grp}.{i}", f"{opname(op)} 4 MiB in fragments of {size} bytes", "§5.4",
            (lambda m, s, o: lambda ctx: timed_echo([(o, m)], fragments(o, m, s))(ctx))
            (msg, size, op), timeout=30)
CHOP = [64, 128, 256, 512, 1024, 2048]
for grp, op in (("9.5", TEXT), ("9.6", BINARY)):
    msg = payload_of(op, MiB)
    for i, size in enumerate(CHOP, 1):
        add(f"{grp}.{i}", f"{opname(op)} 1 MiB in one frame, written in {size}-byte chunks",
            "§5.2", timed_echo([(op, msg)], [F(op, msg)], chunk=size), timeout=30)
SMALL = [0, 16, 64, 256, 1024, 4096]
for grp, op in (("9.7", TEXT), ("9.8", BINARY)):
    for i, size in enumerate(SMALL, 1):
        add(f"{grp}.{i}", f"1000 {opname(op)} round trips of {size} bytes", "§5.2",
            round_trips(op, size, 1000), timeout=30)
PIPE = [(TEXT, payload_of(TEXT, KiB))] * 1000
for i, chunk in enumerate([None, 1000, 4096], 1):
    how = "in one write" if chunk is None else f"in {chunk}-byte writes"
    add(f"9.9.{i}", f"1000 pipelined 1 KiB texts {how}", "§5.2",
        timed_echo(PIPE, [F(op, p) for op, p in PIPE], chunk=chunk), timeout=30)

# ----- 10 auto-fragmentation ------------------------------------------------------------
add("10.1.1", "text 64 KiB in 1300-byte fragments echoes as one message", "§5.4",
    timed_echo([(TEXT, payload_of(TEXT, 64 * KiB))],
               fragments(TEXT, payload_of(TEXT, 64 * KiB), 1300)))
add("10.1.2", "binary 1 MiB in 4000-byte fragments echoes as one message", "§5.4",
    timed_echo([(BINARY, payload_of(BINARY, MiB))],
               fragments(BINARY, payload_of(BINARY, MiB), 4000)), timeout=15)

# ----- 20 --max-message-size 65536 ------------------------------------------------------
LIMIT = 65536
OPT = " [needs --max-message-size 65536]"
add("20.1", "text of exactly the limit is echoed" + OPT, "§10.4",
    timed_echo([(TEXT, payload_of(TEXT, LIMIT))], [F(TEXT, payload_of(TEXT, LIMIT))]),
    server="limit")
add("20.2", "text one byte over the limit -> close 1009" + OPT, "§7.4.1",
    violation_case(1009, [], F(TEXT, payload_of(TEXT, LIMIT + 1))), server="limit")
add("20.3", "binary of 1 MiB -> close 1009" + OPT, "§7.4.1",
    violation_case(1009, [], F(BINARY, payload_of(BINARY, MiB))), server="limit")
add("20.4", "3 fragments of 30000 bytes (sum over the limit) -> close 1009" + OPT, "§7.4.1",
    violation_case(1009, [], b"".join(fragments(BINARY, payload_of(BINARY, 90000), 30000))),
    server="limit")
add("20.5", "1000 text fragments of 100 bytes -> close 1009" + OPT, "§7.4.1",
    violation_case(1009, [], b"".join(fragments(TEXT, payload_of(TEXT, 100000), 100))),
    server="limit")


def _huge_header(ctx):
    # A 1 GiB length is refused from the header alone: the server must not wait for
    # (or buffer) the payload.
    c = ctx.client()
    head = struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 30) + b"\x01\x02\x03\x04"
    c.send(head + b"\x00" * 1000, note="binary header announcing 1 GiB + 1000 bytes")
    expect_close(ctx, c, 1009)


add("20.6", "header announcing 1 GiB -> close 1009 without the payload" + OPT, "§7.4.1",
    _huge_header, server="limit")
add("20.7", "after the 1009s, a new connection still echoes" + OPT, "§7.4.1",
    timed_echo([(TEXT, b"alive")], [F(TEXT, b"alive")]), server="limit")
add("20.8", "a message under the limit, then one over it -> echo, close 1009" + OPT,
    "§7.4.1", violation_case(1009, [F(TEXT, b"small")], F(TEXT, payload_of(TEXT, LIMIT + 10)),
                             before=[("text", b"small")]), server="limit")

# ----- 21 keepalive and timeouts --------------------------------------------------------
KA = " [needs --ping-interval 1 --idle-timeout 2 --close-grace 1]"
HT = " [needs --handshake-timeout 2]"


def _server_pings(ctx):
    c = ctx.client()
    t0 = time.monotonic()
    ev = c.recv_event(ctx.deadline(3.0), "a ping from the server")
    if ev[0] != "ping":
        raise Fail(f"expected a ping from the server, got {ev[0]}")
    ctx.info["first_ping_after"] = f"{time.monotonic() - t0:.2f}s"
    c.send_frame(0xA, ev[1])
    clean_close(ctx, c)


add("21.1", "the server pings an idle connection within 3 s" + KA, "§5.5.2", _server_pings,
    server="keepalive", timeout=6)


def _pong_keeps_alive(ctx):
    c = ctx.client()
    stay = 4.5  # more than twice the idle timeout
    end = time.monotonic() + stay
    pings = 0
    while True:
        try:
            ev = c.recv_event(end, "pings")
        except Timeout:
            break
        except TcpClosed as exc:
            raise Fail(f"closed (TCP {exc.how}) after {pings} answered pings") from None
        if ev[0] != "ping":
            raise Fail(f"expected only pings while idle, got {ev[0]} {ev[1]!r}")
        pings += 1
        c.send_frame(0xA, ev[1])
    if pings < 2:
        raise Fail(f"only {pings} ping(s) in {stay}s with --ping-interval 1")
    c.send_frame(TEXT, b"still here")
    expect_events(ctx, c, [("text", b"still here")])
    clean_close(ctx, c)
    ctx.info["pings"] = pings


add("21.2", "a client that answers pings stays connected past the idle timeout" + KA,
    "§5.5.2", _pong_keeps_alive, server="keepalive", timeout=10)


def _silent_client_closed(ctx):
    c = ctx.client()
    t0 = time.monotonic()
    bound = 2 + 1 + 1 + 2.5  # idle + ping interval + close grace + slack
    deadline = t0 + bound
    code = None
    try:
        while True:  # never answer, never send
            f = c.recv_frame(deadline, "the server to drop a silent client")
            if f.opcode == 0x8:
                code = f.close_code()
    except Timeout:
        raise Fail(f"a client that never answers pings was still connected after {bound}s")\
            from None
    except TcpClosed as exc:
        how = exc.how
    ctx.note(f"closed after {time.monotonic() - t0:.1f}s, close frame "
             f"{code if code is not None else 'none'}, TCP {how}")


add("21.3", "a client that never answers nor sends is closed within 6.5 s" + KA, "§5.5.2",
    _silent_client_closed, server="keepalive", timeout=10)


def _slow_handshake(request):
    def run(ctx):
        c = ctx.client(connect=False)
        c.open()  # TCP (and TLS): the timeout under test is the HTTP head's
        if request:
            c.send(request)
        t0 = time.monotonic()
        deadline = t0 + 7
        try:
            while True:
                c._fill(deadline, "the server to close the connection")
        except Timeout:
            raise Fail("the server kept a connection without a complete request for 7s") \
                from None
        except TcpClosed:
            pass
        got = bytes(c.buf)
        first = got.split(b"\r\n")[0].decode("latin-1")
        ctx.note(f"closed after {time.monotonic() - t0:.1f}s"
                 + (f", answered {first!r}" if got else ""))
    return run


add("21.4", "connection that sends nothing is closed (handshake timeout)" + HT, "§4.1",
    _slow_handshake(b""), server="keepalive", timeout=8)
add("21.5", "half a request head, then silence -> closed (handshake timeout)" + HT, "§4.1",
    _slow_handshake(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"),
    server="keepalive", timeout=8)


# ----- 22 graceful shutdown ---------------------------------------------------------------
def _graceful(ctx):
    polite, silent = ctx.client(), ctx.client()
    polite.send_frame(TEXT, b"before")
    expect_events(ctx, polite, [("text", b"before")])
    silent.send(F(TEXT, b"half a message", fin=False))
    srv = ctx.server
    t0 = time.monotonic()
    srv.proc.send_signal(15)  # SIGTERM
    expect_close(ctx, polite, 1001)
    ev = silent.recv_event(ctx.deadline(), "close 1001 on the second connection")
    if ev[0] != "close" or ev[1].close_code() != 1001:
        raise Fail(f"second connection: expected close 1001, got {ev!r}")
    # The silent client never answers; the server must still go within its close grace.
    problem = srv.stop(already_signalled=True)
    if problem:
        raise Fail(problem)
    ctx.info["exit_after"] = f"{time.monotonic() - t0:.2f}s"
    expect_tcp_close(ctx, silent)


add("22.1", "SIGTERM: close 1001 on every connection, exit 0 [--close-grace 1]", "§7.4.1",
    _graceful, server="shutdown", timeout=8)


def _stop(name):
    def run(ctx):
        srv = ctx.servers.started(name)
        if srv is None:
            ctx.note("instance not started in this run")
            return
        returned, line = memory_returned(name, srv)
        ctx.note(line)
        problem = srv.stop()
        if problem:
            raise Fail(problem)
        if returned is False:
            raise Fail(line)
    return run


for i, name in enumerate(["main", "limit", "keepalive"], 2):
    add(f"22.{i}", f"'{name}' server instance: RSS back to ≤ +2 MiB of its idle start after "
        "the run, then SIGTERM -> exit 0", "",
        _stop(name), server=name, timeout=15)

