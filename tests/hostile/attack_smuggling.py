"""Request smuggling into the WebSocket stream (RFC 9112 §6.1-§6.3, §5.2; RFC 6455 §4.2.1).

A proxy in front of wsedge that reads a body where wsedge reads frames would let bytes it
never inspected run as WebSocket frames. Every upgrade request with body framing, every
ambiguous framing and every obsolete line folding must be refused before any 101, with the
status below, and the connection closed: no byte after the refusal may be read as a frame.
"""
import time

from harness import BINARY, CLOSE, TEXT, case, check, close_body, frame, request

SMUGGLED = frame(TEXT, b"", key=b"\0\0\0\0")  # 81 80 00 00 00 00: an empty text frame
CUT_S = 1.0  # the refusal and the TCP close come at once; 1 s allows for a loaded machine


def refused(ctx, data, status, what):
    """Sends `data`; asserts one response with `status`, nothing after it (no frame came back
    for the smuggled bytes), and TCP closed within CUT_S. Records the figures."""
    c = ctx.raw()
    t0 = time.monotonic()
    c.send(data)
    r = c.response(t0 + CUT_S + 1)
    check(r.status == status, f"{what}: expected {status}, got {r.status} {r.reason}")
    how = c.eof(t0 + CUT_S + 1)
    elapsed = time.monotonic() - t0
    check(how is not None, f"{what}: TCP still open {CUT_S} s after the {status}")
    check(not c.buf, f"{what}: {len(c.buf)} bytes after the {status} response: "
          f"{bytes(c.buf[:16]).hex(' ')} (the body ran as frames)")
    check(elapsed <= CUT_S, f"{what}: closed after {elapsed:.2f} s, expected ≤ {CUT_S} s")
    c.close()
    return elapsed


def all_refused(ctx, variants, status):
    worst = 0.0
    for what, data in variants:
        worst = max(worst, refused(ctx, data, status, what))
    ctx.figure("status", f"{status} × {len(variants)}")
    ctx.figure("slowest cut", f"{worst * 1000:.0f} ms")


@case("Content-Length: 6 on an upgrade, an empty text frame as its body",
      "400 (not 101), no echo frame, TCP closed ≤ 1 s")
def _(ctx):
    all_refused(ctx, [("CL 6", request(ctx.port, headers=["Content-Length: 6"], body=SMUGGLED))],
                400)


@case("Transfer-Encoding on an upgrade: chunked, CHUNKED, gzip+chunked, identity",
      "400 for each (RFC 9112 §6.1: any TE is a body), no echo, TCP closed ≤ 1 s")
def _(ctx):
    body = b"0\r\n\r\n" + SMUGGLED
    all_refused(ctx, [(f"TE {te}", request(ctx.port, headers=[f"Transfer-Encoding: {te}"],
                                             body=body))
                      for te in ("chunked", "CHUNKED", "gzip, chunked", "identity")], 400)


@case("Content-Length and Transfer-Encoding together, on an upgrade and on a plain GET",
      "400 for both (RFC 9112 §6.1: the classic CL.TE desync), TCP closed ≤ 1 s")
def _(ctx):
    both = ["Content-Length: 5", "Transfer-Encoding: chunked"]
    all_refused(ctx, [
        ("upgrade CL+TE", request(ctx.port, headers=both, body=b"0\r\n\r\n" + SMUGGLED)),
        ("upgrade TE+CL", request(ctx.port, headers=both[::-1], body=b"0\r\n\r\n" + SMUGGLED)),
        ("GET CL+TE", request(ctx.port, path="/", upgrade=False, headers=both,
                              body=b"0\r\n\r\n")),
    ], 400)


@case("duplicate Content-Length that disagree (0 then 6, 6 then 0, '0, 6')",
      "400 for each (RFC 9112 §6.3 item 5: invalid framing), TCP closed ≤ 1 s")
def _(ctx):
    all_refused(ctx, [
        ("CL 0 + CL 6", request(ctx.port, headers=["Content-Length: 0", "Content-Length: 6"],
                                body=SMUGGLED)),
        ("CL 6 + CL 0", request(ctx.port, headers=["Content-Length: 6", "Content-Length: 0"],
                                body=SMUGGLED)),
        ("CL '0, 6'", request(ctx.port, headers=["Content-Length: 0, 6"], body=SMUGGLED)),
    ], 400)


@case("Content-Length spelled to confuse: '+6', '-1', ' 6 6', 2^64+6, 'Content-Length : 0'",
      "400 for each (RFC 9110 §8.6: 1*DIGIT; RFC 9112 §5.1: no space before the colon)")
def _(ctx):
    all_refused(ctx, [
        (f"CL {v!r}", request(ctx.port, headers=[f"Content-Length: {v}"], body=SMUGGLED))
        for v in ("+6", "-1", "6 6", str(2**64 + 6), "0x6")
    ] + [("space before colon", request(ctx.port, headers=["Content-Length : 0"]))], 400)


@case("obs-fold: a folded header line, and a Content-Length value folded onto its own line",
      "400 for both (RFC 9112 §5.2: a server MUST reject obs-fold or replace it), no echo")
def _(ctx):
    all_refused(ctx, [
        ("folded X-A", request(ctx.port, headers=["X-A: b", " folded"])),
        ("folded CL", request(ctx.port, headers=["Content-Length:", " 6"], body=SMUGGLED)),
        ("tab fold", request(ctx.port, headers=["X-A: b", "\tfolded"])),
    ], 400)


@case("bare LF line ends and a bare CR in a value",
      "400 for both (RFC 9112 §2.2: a bare CR MUST be refused); no 101")
def _(ctx):
    all_refused(ctx, [
        ("bare LF", request(ctx.port).replace(b"\r\n", b"\n")),
        ("bare CR", request(ctx.port, headers=["X-A: a\rb"])),
    ], 400)


@case("a plain GET with Content-Length whose body is a whole upgrade request and a frame",
      "413 for the GET, the smuggled upgrade never answered (no 101), TCP closed ≤ 1 s")
def _(ctx):
    inner = request(ctx.port) + SMUGGLED
    outer = request(ctx.port, path="/", upgrade=False,
                    headers=[f"Content-Length: {len(inner)}"], body=inner)
    all_refused(ctx, [("GET with body", outer)], 413)


@case("control: Content-Length: 0 is no body and upgrades; its first frame echoes",
      "101, then the binary frame sent right after the head is echoed ≤ 1 s")
def _(ctx):
    c = ctx.raw()
    t0 = time.monotonic()
    c.send(request(ctx.port, headers=["Content-Length: 0"]) + frame(BINARY, b"after-head"))
    r = c.response(t0 + 2)
    check(r.status == 101, f"expected 101, got {r.status}")
    op, got = c.message(t0 + 2, "the echo")
    check((op, got) == (BINARY, b"after-head"), f"echo {op} {got!r}")
    c.send(frame(CLOSE, close_body(1000)))
    check(c.close_frame(t0 + 2)[0] == 1000, "close reply")
    ctx.figure("status", "101 + echo")
    ctx.figure("round trip", f"{(time.monotonic() - t0) * 1000:.0f} ms")
