"""Section 7: the closing handshake (RFC 6455 §5.5.1, §7.1, §7.4).

The server must answer a client close with a close (echoing the code), ignore data that
follows the close, and then close TCP itself (§7.1.1: the server closes first).
"""
import time

from harness import (add, clean_close, describe, expect_close, expect_events,
                     expect_tcp_close, next_event, violation_case)
from wire import (BINARY, CLOSE, CONT, PING, TEXT, Fail, TcpClosed, build_frame,
                  close_payload)

F = build_frame


def _then_close(first, extra, wanted, code=1000):
    """Sends `first` frames, a close 1000, then `extra` frames that must be ignored."""
    def run(ctx):
        c = ctx.client()
        c.send(b"".join(first) + F(CLOSE, close_payload(code)) + b"".join(extra),
               note=f"{len(first)} frame(s), close {code}, {len(extra)} frame(s) after")
        expect_close(ctx, c, code, before=wanted, reply=False)
    return run


add("7.1.1", "echo a text, then close 1000 -> echo, close 1000", "§7.1.2",
    _then_close([F(TEXT, b"Hello")], [], [("text", b"Hello")]))
add("7.1.2", "close twice -> one close back, then TCP close", "§5.5.1",
    _then_close([], [F(CLOSE, close_payload(1000))], []))
add("7.1.3", "ping after the close is not answered", "§5.5.1",
    _then_close([], [F(PING, b"after close")], []))
add("7.1.4", "text after the close is not echoed", "§5.5.1",
    _then_close([], [F(TEXT, b"after close")], []))
add("7.1.5", "fragment, close, continuation: nothing echoed", "§5.5.1",
    _then_close([F(TEXT, b"frag1", fin=False)], [F(CONT, b"frag2")], []))
BIG = b"x" * (256 * 1024)


def _big_ping_close(ctx):
    # RFC 6455 §5.5.2 lets the pong overtake the echo ("as soon as is practical"). Whether
    # the echo of a message received just before the close is still sent is the server's
    # choice (autobahn marks 7.1.6 INFORMATIONAL): recorded, not judged. The pong is due
    # (the ping came before the close) and the close must come last.
    c = ctx.client()
    c.send(F(TEXT, BIG) + F(PING, b"p") + F(CLOSE, close_payload(1000)),
           note="256 KiB text, ping, close 1000")
    deadline = ctx.deadline()
    seen = []
    while True:
        ev = next_event(ctx, c, deadline, "echo, pong and close")
        if ev[0] == "close":
            break
        if not ((ev[0] == "text" and ev[1] == BIG) or (ev[0] == "pong" and ev[1] == b"p")) \
                or ev[0] in seen:
            raise Fail(f"unexpected {describe(ev)} after {seen}")
        seen.append(ev[0])
    if "pong" not in seen:
        raise Fail(f"close came without the pong owed for the ping (got {seen})")
    if ev[1].close_code() != 1000:
        raise Fail(f"expected close 1000, got {describe(ev)}")
    expect_tcp_close(ctx, c)
    ctx.note("INFORMATIONAL: " + " then ".join(seen + ["close"])
             + ("" if "text" in seen else " (the echo was dropped)"))


add("7.1.6", "256 KiB text, ping, close -> pong (echo optional), then close", "§5.5.2",
    _big_ping_close, timeout=10)


def _close_empty(ctx):
    c = ctx.client()
    c.send_close()  # no payload: no status code (RFC 6455 §5.5.1 allows it)
    frame = expect_close(ctx, c, None, reply=False)
    code = frame.close_code()
    if code not in (None, 1000):
        raise Fail(f"expected an empty close or 1000 in reply to an empty close, got {code}")
    ctx.note("server answered with " + ("an empty close" if code is None else "close 1000"))


add("7.3.1", "close without payload -> close (empty or 1000; recorded)", "§5.5.1", _close_empty)
add("7.3.2", "close with a 1-byte payload -> close 1002", "§5.5.1",
    violation_case(1002, [], F(CLOSE, b"\x03")))
add("7.3.3", "close 1000 without reason -> close 1000", "§5.5.1",
    lambda ctx: clean_close(ctx, ctx.client()))
add("7.3.4", "close 1000 with a reason -> close 1000", "§5.5.1",
    lambda ctx: clean_close(ctx, ctx.client(), 1000, b"Hello World!"))
add("7.3.5", "close 1000 with a 123-byte reason (payload 125) -> close 1000", "§5.5",
    lambda ctx: clean_close(ctx, ctx.client(), 1000, b"*" * 123))
add("7.3.6", "close with a 124-byte reason (payload 126) -> close 1002", "§5.5",
    violation_case(1002, [], F(CLOSE, close_payload(1000, b"*" * 124))))
add("7.3.7", "close 1000 with a multibyte UTF-8 reason -> close 1000", "§5.5.1",
    lambda ctx: clean_close(ctx, ctx.client(), 1000, "κόσμε 𝄞".encode()))
add("7.5.1", "close reason with invalid UTF-8 -> close 1007", "§5.5.1, §8.1",
    violation_case(1007, [], F(CLOSE, close_payload(1000, "κόσμε".encode() + b"\xed\xa0\x80"))
                   ))
add("7.5.2", "close reason truncated mid code point -> close 1007", "§5.5.1, §8.1",
    violation_case(1007, [], F(CLOSE, close_payload(1000, "€".encode()[:2]))))

VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
         4000, 4999]
for i, code in enumerate(VALID, 1):
    add(f"7.7.{i}", f"close with valid code {code} -> close {code} echoed", "§7.4",
        (lambda k: lambda ctx: clean_close(ctx, ctx.client(), k))(code))
INVALID = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
for i, code in enumerate(INVALID, 1):
    add(f"7.9.{i}", f"close with invalid code {code} -> close 1002", "§7.4",
        violation_case(1002, [], F(CLOSE, close_payload(code))))


def _server_closes_tcp(ctx):
    c = ctx.client()
    c.send_close(1000)
    t0 = time.monotonic()
    expect_close(ctx, c, 1000, reply=False)  # waits for TCP close, socket kept open
    ctx.info["tcp_close_ms"] = f"{(time.monotonic() - t0) * 1000:.1f}"


add("7.10.1", "server closes TCP after the handshake while the client keeps it open",
    "§7.1.1", _server_closes_tcp)


def _abort_mid_message(ctx):
    # A peer that vanishes mid-message must not take the server down: next connection works.
    c = ctx.client()
    c.send(F(BINARY, b"x" * 1000)[:500], note="half a frame, then TCP close")
    c.close_socket()
    time.sleep(0.1)
    d = ctx.client()
    d.send_frame(TEXT, b"still alive")
    expect_events(ctx, d, [("text", b"still alive")])
    clean_close(ctx, d)


add("7.10.2", "client drops TCP mid-frame; the server keeps serving", "§7.1.7", _abort_mid_message)


def _client_half_close(ctx):
    # The client sends its close and shuts down its write side at once.
    c = ctx.client()
    c.send_close(1000)
    try:
        c.sock.shutdown(1)
    except OSError:
        pass
    try:
        expect_close(ctx, c, 1000, reply=False)
    except TcpClosed as exc:
        raise Fail(f"no close frame before TCP {exc.how}") from None
    expect_tcp_close(ctx, c)


add("7.10.3", "close, then client half-closes TCP -> close 1000 still arrives", "§7.1.1",
    _client_half_close)
