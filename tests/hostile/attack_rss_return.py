"""Memory that returns (issue 11 §1, fourth item): after a large message, or a flood of TLS
handshakes, the server's RSS must come back to within 2 MiB of its idle baseline within a few
seconds once nothing is open. glibc keeps what is freed for reuse, and one large free raises its
thresholds for good; the server gives it back (core/memory_return.h: the loop's kept buffers are
released and the heap trimmed once large messages have stopped for a second).
"""
import os
import socket
import time

from harness import (BINARY, CLOSE, MiB, case, check, client_hello, close_body, frame,
                     inflate_message)


def hold_half_handshakes(ctx, n, hello):
    """n connections each send `hello` (half a ClientHello) and wait out the handshake timeout."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", ctx.tls_port), timeout=5)
        s.sendall(hello)
        socks.append(s)
    time.sleep(1.5)  # past the 1 s handshake timeout: the server ended each one
    for s in socks:
        s.close()


@case("one 48 MiB message echoed, then nothing open",
      "RSS back to ≤ +2 MiB of the baseline within 3 s", peak_mib=160, settle_mib=2, timeout=60)
def _(ctx):
    payload = b"x" * (48 * MiB)
    c = ctx.ws()
    c.send(frame(BINARY, payload))
    op, got = c.message(time.monotonic() + 20, "the echo")
    check(got == payload, "echo differs")
    c.send(frame(CLOSE, close_body(1000)))
    c.close_frame(time.monotonic() + 2)
    c.close()


@case("ten 4 MiB fragmented messages on ten connections, then nothing open",
      "RSS back to ≤ +2 MiB within 3 s", peak_mib=100, settle_mib=2, timeout=60)
def _(ctx):
    half = b"y" * (2 * MiB)
    for _ in range(10):
        c = ctx.ws()
        c.send(frame(BINARY, half, fin=False) + frame(0, half))
        op, got = c.message(time.monotonic() + 10, "the echo")
        check(len(got) == 4 * MiB, "echo length")
        c.close()


@case("200 half ClientHellos on the TLS port, cut by the 1 s handshake timeout",
      "RSS back to ≤ +2 MiB within 3 s of the last one ending", tls=True,
      server=["--tls-handshake-timeout", "1"], peak_mib=16, settle_mib=2)
def _(ctx):
    hello = client_hello()
    hold_half_handshakes(ctx, 200, hello[:len(hello) // 2])


@case("three rounds of 500 half ClientHellos on the TLS port",
      "peak ≤ +48 MiB (OpenSSL state, ~64 KiB each); RSS back to ≤ +2 MiB within 3 s (rounds of "
      "1,000 used to leave +70 MiB in the heap)",
      tls=True, server=["--tls-handshake-timeout", "1"], peak_mib=48, settle_mib=2, timeout=60)
def _(ctx):
    hello = client_hello()
    for _ in range(3):
        hold_half_handshakes(ctx, 500, hello[:len(hello) // 2])


@case("permessage-deflate: one 12 MiB incompressible message echoed compressed, then nothing open",
      "RSS back to ≤ +2 MiB within 3 s: the loop's compression scratch is given back too",
      peak_mib=80, settle_mib=2, timeout=60)
def _(ctx):
    payload = os.urandom(12 * MiB)
    c = ctx.ws(deflate=True)
    c.send(frame(BINARY, payload))
    f = c.frame(time.monotonic() + 20, "the echo")
    check(f.rsv == 4, f"the echo is not compressed (RSV {f.rsv})")
    check(inflate_message(f.payload) == payload, "echo differs")
    c.send(frame(CLOSE, close_body(1000)))
    c.close_frame(time.monotonic() + 2)
    c.close()
