"""Sections 1-5: framing, ping/pong, reserved bits, opcodes, fragmentation.

Modelled on autobahn-testsuite's sections of the same numbers (own cases, own payloads).
"""
import time

from harness import (add, clean_close, echo_case, expect_close, expect_events,
                     violation_case)
from wire import (BINARY, CLOSE, CONT, PING, PONG, TEXT, TcpClosed, build_frame,
                  close_payload, fragments)

F = build_frame
MiB = 1 << 20


def text_of(n):
    return (b"*" * n)


def binary_of(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(min(n, 4096))) * (n // 4096 + 1) if n else b""


def _b(n):
    return binary_of(n)[:n]


# ----- 1 framing ------------------------------------------------------------------------
SIZES = [0, 125, 126, 127, 128, 65535, 65536]
for i, n in enumerate(SIZES, 1):
    add(f"1.1.{i}", f"text message, payload {n} bytes", "§5.2", echo_case([(TEXT, text_of(n))]))
    add(f"1.2.{i}", f"binary message, payload {n} bytes", "§5.2",
        echo_case([(BINARY, _b(n))]))
add("1.1.8", "text 65536 bytes, written in 997-byte chunks", "§5.2",
    echo_case([(TEXT, text_of(65536))], chunk=997))
add("1.2.8", "binary 65536 bytes, written in 997-byte chunks", "§5.2",
    echo_case([(BINARY, _b(65536))], chunk=997))
add("1.3.1", "text 1 MiB in one frame (64-bit length)", "§5.2",
    echo_case([(TEXT, text_of(MiB))]), timeout=15)
add("1.3.2", "text 8 MiB in one frame", "§5.2", echo_case([(TEXT, text_of(8 * MiB))]),
    timeout=30)
add("1.3.3", "text 130 bytes (16-bit length) in 1-byte writes", "§5.2",
    echo_case([(TEXT, text_of(130))], chunk=1))
add("1.3.4", "binary 300 bytes in 1-byte writes", "§5.2", echo_case([(BINARY, _b(300))], chunk=1))
add("1.3.5", "binary 65536 bytes (64-bit length) in 7-byte writes", "§5.2",
    echo_case([(BINARY, _b(65536))], chunk=7), timeout=15)
add("1.3.6", "binary 1 MiB in 4093-byte writes", "§5.2",
    echo_case([(BINARY, _b(MiB))], chunk=4093), timeout=15)
add("1.3.7", "three messages in one write", "§5.2",
    echo_case([(TEXT, b"a"), (BINARY, b"\x00\x01"), (TEXT, b"c" * 200)],
              frames=[F(TEXT, b"a"), F(BINARY, b"\x00\x01"), F(TEXT, b"c" * 200)]))
add("1.3.8", "unmasked client frame -> close 1002", "§5.1",
    violation_case(1002, [], F(TEXT, b"Hello", mask=False)))
add("1.3.9", "unmasked client frame after a valid one -> echo, then close 1002", "§5.1",
    violation_case(1002, [F(TEXT, b"valid")], F(BINARY, b"\x01", mask=False),
                   before=[("text", b"valid")]))

# ----- 2 ping/pong ----------------------------------------------------------------------
PINGS = [("2.1", "ping without payload -> pong without payload", b"", None),
         ("2.2", "ping with a small text payload -> same pong", b"Hello, wsedge!", None),
         ("2.3", "ping with a small binary payload -> same pong", bytes(range(0xF8, 0x100)),
          None),
         ("2.4", "ping with 125-byte payload -> same pong", _b(125), None),
         ("2.6", "ping with 125-byte payload in 1-byte writes -> same pong", _b(125), 1)]


def _ping_pong(ctx, payloads, chunk=None):
    c = ctx.client()
    data = b"".join(F(PING, p) for p in payloads)
    c.send(data, chunk, note=f"{len(payloads)} ping(s)")
    expect_events(ctx, c, [("pong", p) for p in payloads])
    clean_close(ctx, c)


for cid, desc, payload, chunk in PINGS:
    add(cid, desc, "§5.5.2", (lambda p, ch: lambda ctx: _ping_pong(ctx, [p], ch))(payload, chunk))


add("2.5", "ping with 126-byte payload -> close 1002", "§5.5",
    violation_case(1002, [], F(PING, _b(126))))


def _unsolicited(pong_payload, then_ping):
    def run(ctx):
        c = ctx.client()
        c.send_frame(PONG, pong_payload)
        # The marker ping proves the pong was ignored: its pong must be the next frame.
        marker = then_ping or b"marker"
        c.send_frame(PING, marker)
        expect_events(ctx, c, [("pong", marker)])
        clean_close(ctx, c)
    return run


add("2.7", "unsolicited pong without payload is ignored", "§5.5.3", _unsolicited(b"", None))
add("2.8", "unsolicited pong with payload is ignored", "§5.5.3",
    _unsolicited(b"unsolicited pong payload", None))
add("2.9", "unsolicited pong, then ping -> one pong for the ping", "§5.5.3",
    _unsolicited(b"unsolicited", b"ping payload"))
TEN = [f"payload-{i}".encode() for i in range(10)]
add("2.10", "10 pings in one write -> 10 pongs in order", "§5.5.3",
    lambda ctx: _ping_pong(ctx, TEN))
add("2.11", "10 pings in 1-byte writes -> 10 pongs in order", "§5.5.3",
    lambda ctx: _ping_pong(ctx, TEN, chunk=1))
add("2.12", "ping with FIN=0 -> close 1002", "§5.5",
    violation_case(1002, [], F(PING, b"frag", fin=False)))

# ----- 3 reserved bits ------------------------------------------------------------------
RSV = [("3.1", "RSV1 on a small text frame", [], F(TEXT, b"Hello", rsv=4), [], None, b""),
       ("3.2", "RSV2 on text after a valid text", [F(TEXT, b"Hello")],
        F(TEXT, b"Hello", rsv=2), [("text", b"Hello")], None, b""),
       ("3.3", "RSV3 on text between valid texts (the second is not echoed)",
        [F(TEXT, b"Hello")], F(TEXT, b"Hello", rsv=1), [("text", b"Hello")], None,
        F(TEXT, b"Hello")),
       ("3.4", "RSV1+RSV3 on text between valid texts, 1-byte writes", [F(TEXT, b"Hello")],
        F(TEXT, b"Hello", rsv=5), [("text", b"Hello")], 1, F(TEXT, b"Hello")),
       ("3.5", "RSV1+RSV3 on a binary frame", [], F(BINARY, _b(8), rsv=5), [], None, b""),
       ("3.6", "RSV1+RSV2 on a ping", [], F(PING, b"Hello", rsv=6), [], None, b""),
       ("3.7", "RSV1+RSV2+RSV3 on a close", [], F(CLOSE, close_payload(1000), rsv=7), [], None,
        b"")]
for cid, desc, pre, bad, before, chunk, after in RSV:
    add(cid, desc + " -> close 1002", "§5.2",
        violation_case(1002, pre, bad, before=before, chunk=chunk, after=after))

# ----- 4 opcodes ------------------------------------------------------------------------
for group, ops in (("4.1", [3, 4, 5, 6, 7]), ("4.2", [0xB, 0xC, 0xD, 0xE, 0xF])):
    kind = "data" if group == "4.1" else "control"
    for i, op in enumerate(ops, 1):
        if i == 1:
            pre, before, after, what = [], [], b"", ""
        elif i == 2:
            pre, before, after, what = [], [], b"", " with payload"
        else:
            pre, before = [F(TEXT, b"Hello")], [("text", b"Hello")]
            after = F(PING, b"never answered") if i == 5 else b""
            what = " after a valid text" + (", then a ping" if i == 5 else "")
        payload = b"" if i in (1, 3) else b"reserved"
        add(f"{group}.{i}", f"reserved {kind} opcode {op:#x}{what} -> close 1002", "§5.2",
            violation_case(1002, pre, F(op, payload), before=before, after=after))

# ----- 5 fragmentation ------------------------------------------------------------------
add("5.1", "ping fragmented into 2 frames -> close 1002", "§5.5",
    violation_case(1002, [], F(PING, b"frag1", fin=False) + F(CONT, b"frag2")))
add("5.2", "pong fragmented into 2 frames -> close 1002", "§5.5",
    violation_case(1002, [], F(PONG, b"frag1", fin=False) + F(CONT, b"frag2")))
TWO = [F(TEXT, b"fragment1", fin=False), F(CONT, b"fragment2")]
add("5.3", "text in 2 fragments -> one message", "§5.4",
    echo_case([(TEXT, b"fragment1fragment2")], frames=TWO))


def _frames_apart(frames, wanted, chunk=None, delay=0.05):
    def run(ctx):
        c = ctx.client()
        for f in frames:
            c.send(f, chunk, note=f"frame {f[:1].hex()}.. {len(f)}B")
            time.sleep(delay)
        expect_events(ctx, c, wanted)
        clean_close(ctx, c)
    return run


add("5.4", "text in 2 fragments, written 50 ms apart", "§5.4",
    _frames_apart(TWO, [("text", b"fragment1fragment2")]))
add("5.5", "text in 2 fragments, 1-byte writes", "§5.4",
    echo_case([(TEXT, b"fragment1fragment2")], frames=TWO, chunk=1))
PINGMID = [F(TEXT, b"fragment1", fin=False), F(PING, b"ping payload"), F(CONT, b"fragment2")]
WANT_PM = [("pong", b"ping payload"), ("text", b"fragment1fragment2")]
add("5.6", "ping between 2 text fragments -> pong before the echo", "§5.4",
    _frames_apart(PINGMID, WANT_PM, delay=0))
add("5.7", "ping between fragments, frames written 50 ms apart", "§5.4",
    _frames_apart(PINGMID, WANT_PM))
add("5.8", "ping between fragments, 1-byte writes", "§5.4",
    _frames_apart(PINGMID, WANT_PM, chunk=1, delay=0))
NOSTART = [("5.9", "continuation (FIN=1) with no message open", [F(CONT, b"non-continuation")],
            None),
           ("5.10", "continuation (FIN=1) with no message open, 1-byte writes",
            [F(CONT, b"non-continuation")], 1),
           ("5.11", "continuation (FIN=0) with no message open",
            [F(CONT, b"frag1", fin=False), F(CONT, b"frag2")], None),
           ("5.12", "continuation (FIN=0) with no message open, 1-byte writes",
            [F(CONT, b"frag1", fin=False), F(CONT, b"frag2")], 1)]
for cid, desc, frames, chunk in NOSTART:
    add(cid, desc + " -> close 1002", "§5.4",
        violation_case(1002, [], b"".join(frames), chunk=chunk))
add("5.13", "valid text, then continuation with no message open -> echo, close 1002", "§5.4",
    violation_case(1002, [F(TEXT, b"Hello")], F(CONT, b"orphan"), before=[("text", b"Hello")]))
add("5.14", "text frame (FIN=1) inside a fragmented message -> close 1002", "§5.4",
    violation_case(1002, [], F(TEXT, b"frag1", fin=False) + F(TEXT, b"not a continuation")))
add("5.15", "text (FIN=0) inside a fragmented message -> close 1002", "§5.4",
    violation_case(1002, [], F(TEXT, b"frag1", fin=False) + F(TEXT, b"frag2", fin=False)
                   + F(CONT, b"frag3")))
add("5.16", "binary frame inside a fragmented text -> close 1002", "§5.4",
    violation_case(1002, [], F(TEXT, b"frag1", fin=False) + F(BINARY, b"\x01\x02")))
add("5.17", "close frame with FIN=0 -> close 1002", "§5.5",
    violation_case(1002, [], F(CLOSE, close_payload(1000), fin=False)))
add("5.18", "fragmented text, then a second message's start -> close 1002", "§5.4",
    violation_case(1002, [], F(TEXT, b"a", fin=False) + F(CONT, b"b", fin=False)
                   + F(BINARY, b"c", fin=False)))
FIVE = [F(TEXT, b"fragment1", fin=False), F(PING, b"p1"), F(CONT, b"fragment2", fin=False),
        F(PING, b"p2"), F(CONT, b"fragment3", fin=False), F(PING, b"p3"),
        F(CONT, b"fragment4", fin=False), F(CONT, b"fragment5")]
WANT5 = [("pong", b"p1"), ("pong", b"p2"), ("pong", b"p3"),
         ("text", b"fragment1fragment2fragment3fragment4fragment5")]
add("5.19", "text in 5 fragments with 3 pings between -> 3 pongs, then the echo", "§5.4",
    _frames_apart(FIVE, WANT5, delay=0.02))
add("5.20", "text in 5 fragments with pings between, 1-byte writes", "§5.4",
    _frames_apart(FIVE, WANT5, chunk=1, delay=0))
MANY = fragments(TEXT, b"0123456789" * 100, 1)
add("5.21", "text of 1000 one-byte fragments -> one message", "§5.4",
    echo_case([(TEXT, b"0123456789" * 100)], frames=MANY))
add("5.22", "binary of 1000 one-byte fragments in 1-byte writes", "§5.4",
    echo_case([(BINARY, _b(1000))], frames=fragments(BINARY, _b(1000), 1), chunk=1), timeout=10)
ZERO = [F(TEXT, b"", fin=False), F(CONT, b"", fin=False), F(CONT, b"Hello", fin=False),
        F(CONT, b"", fin=False), F(CONT, b"")]
add("5.23", "text with empty fragments around a non-empty one", "§5.4",
    echo_case([(TEXT, b"Hello")], frames=ZERO))
add("5.24", "text of only empty fragments -> empty text", "§5.4",
    echo_case([(TEXT, b"")], frames=[F(TEXT, b"", fin=False), F(CONT, b"", fin=False),
                                     F(CONT, b"")]))
add("5.25", "binary in 2 fragments, pong between (ignored)", "§5.4",
    echo_case([(BINARY, b"\x00\x01\x02\x03")], frames=[F(BINARY, b"\x00\x01", fin=False),
                                                      F(PONG, b"x"), F(CONT, b"\x02\x03")]))


def _two_messages_fragmented(ctx):
    c = ctx.client()
    frames = fragments(TEXT, b"first message", 4) + fragments(BINARY, b"\xff" * 10, 3)
    c.send(b"".join(frames), note="text in 4-byte fragments + binary in 3-byte fragments")
    expect_events(ctx, c, [("text", b"first message"), ("binary", b"\xff" * 10)])
    clean_close(ctx, c)


add("5.26", "two fragmented messages back to back", "§5.4", _two_messages_fragmented)


def _close_mid_message(ctx):
    # RFC 6455 §5.4: control frames may be injected in the middle of a fragmented message.
    c = ctx.client()
    c.send(F(TEXT, b"never", fin=False) + F(CLOSE, close_payload(1000)),
           note="text fin=0, then close 1000")
    try:
        c.send(F(CONT, b" completed"), note="continuation after the close")
    except TcpClosed:
        pass
    expect_close(ctx, c, 1000, reply=False)


add("5.27", "close between fragments -> close 1000, the message is not echoed", "§5.4",
    _close_mid_message)
