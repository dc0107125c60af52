"""Hostile bytes on the TLS listener: random garbage, plain HTTP, record headers with absurd
lengths, SSLv2-style hellos, half a ClientHello held open (a TLS slowloris), and garbage
records after a good handshake.

The server runs with a throwaway certificate made by the openssl command (tests/support/
tls.py), plain ws:// on --port and wss:// on --tls-port. Each connection must end within
--tls-handshake-timeout (1 s here) or at once, without a crash, a 101 or held memory, and a
normal wss:// client must still get its echo after every case.
"""
import os
import socket
import time

from harness import (BINARY, CLOSE, Raw, case, check, client_hello, close_body, echo_ok,
                     expect_close, frame, request, upgrade)

TLS = ["--tls-handshake-timeout", "1"]


def ends(ctx, data, within, what, hold=False, plain_http=False):
    """Sends data on the TLS port; the server must end TCP within `within` s and never
    answer with HTTP — except, with plain_http, with the one clear-text 400 that tells a
    plain-HTTP client to use https/wss. Returns (seconds, first reply bytes, how)."""
    c = Raw(ctx.tls_port)
    t0 = time.monotonic()
    try:
        c.send(data)
    except Exception:  # noqa: BLE001 — the server may already have cut it
        pass
    how = c.eof(t0 + within + 1)
    cut = time.monotonic() - t0
    check(how is not None, f"{what}: still open {within + 1} s later")
    check(cut <= within, f"{what}: ended after {cut:.2f} s, expected ≤ {within} s")
    if plain_http:
        check(bytes(c.buf).startswith(b"HTTP/1.1 400 Bad Request\r\n") and b" 101 " not in c.buf
              and b"https://" in c.buf, f"{what}: not the clear-text 400: {bytes(c.buf[:80])!r}")
    else:
        check(b"HTTP/1.1" not in c.buf, f"{what}: the TLS port answered in plain HTTP")
    c.close()
    return cut, bytes(c.buf[:8]), how


def wss_echo(ctx):
    echo_ok(ctx.tls_port, b"wss still serving", tls_context=ctx.tls_context)


@case("4 KiB of random bytes, 100 times, on the TLS port", "each connection ended ≤ 1.5 s "
      "(an alert or a close at once, or the 1 s handshake timeout), no plain HTTP; wss:// echo "
      "afterwards", server=TLS, tls=True)
def _(ctx):
    # Random bytes can be the start of a record that announces more than 4 KiB (a first
    # byte ≥ 0x80 reads as an SSLv2-style header of up to 32 KiB): OpenSSL then waits for
    # the rest, and only the handshake timeout ends it — at 1.0 s, so the bound is 1.5 s.
    worst = 0.0
    for i in range(100):
        worst = max(worst, ends(ctx, os.urandom(4096), 1.5, f"garbage #{i}")[0])
    wss_echo(ctx)
    ctx.figure("ended", f"100 of 100, slowest {worst * 1000:.0f} ms")


@case("a plain HTTP upgrade request on the TLS port", "ended ≤ 1 s with no 101, only a "
      "clear-text 400 saying to use https/wss; the same request on the plain port still gets 101",
      server=TLS, tls=True)
def _(ctx):
    cut, first, how = ends(ctx, request(ctx.tls_port), 1.0, "plain HTTP", plain_http=True)
    c = ctx.raw()
    c.send(request(ctx.port))
    check(c.response().status == 101, "the plain port refused a good upgrade")
    c.close()
    wss_echo(ctx)
    ctx.figure("ended", f"after {cut * 1000:.0f} ms ({how}), first bytes {first.hex(' ') or '-'}")


@case("TLS record headers announcing 65,535 bytes (over the 16 KiB + 2 KiB maximum) and "
      "SSLv2-style hellos", "each ended ≤ 1.5 s (at once, or by the 1 s handshake timeout)",
      server=TLS, tls=True)
def _(ctx):
    rows = [("handshake record 0xFFFF", b"\x16\x03\x01\xff\xff" + os.urandom(200)),
            ("alert record 0xFFFF", b"\x15\x03\x03\xff\xff"),
            ("application data before hello", b"\x17\x03\x03\x00\x10" + os.urandom(16)),
            ("SSLv2 hello", bytes.fromhex("802e0100020015000000100700c0") + os.urandom(32)),
            ("record version 0x0000", b"\x16\x00\x00\x00\x05hello")]
    worst = 0.0
    for what, data in rows:
        worst = max(worst, ends(ctx, data, 1.5, what)[0])
    wss_echo(ctx)
    ctx.figure("ended", f"{len(rows)} of {len(rows)}, slowest {worst * 1000:.0f} ms")


@case("200 connections each holding half a real ClientHello (TLS slowloris)",
      "each ended at the 1 s TLS handshake timeout (0.9–2.5 s); peak RSS ≤ +16 MiB (OpenSSL's "
      "handshake state, ~50 KB each); wss:// echo during the flood ≤ 1 s",
      server=TLS, tls=True, peak_mib=16, settle_mib=2)
def _(ctx):
    hello = client_hello()
    half = hello[:len(hello) // 2]
    socks = []
    t0 = time.monotonic()
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", ctx.tls_port), timeout=5)
        s.sendall(half)
        socks.append(s)
    e0 = time.monotonic()
    wss_echo(ctx)
    echo_s = time.monotonic() - e0
    cuts = []
    for s in socks:
        s.settimeout(max(0.01, t0 + 4 - time.monotonic()))
        try:
            while s.recv(4096):
                pass
            cuts.append(time.monotonic() - t0)
        except socket.timeout:
            pass
        except OSError:
            cuts.append(time.monotonic() - t0)
        s.close()
    check(len(cuts) == 200, f"{200 - len(cuts)} of 200 still open 4 s later")
    check(min(cuts) >= 0.9 and max(cuts) <= 2.5, f"cuts {min(cuts):.2f}–{max(cuts):.2f} s")
    check(echo_s <= 1.0, f"wss echo during the flood took {echo_s:.2f} s")
    ctx.figure("time to cut", f"{min(cuts):.2f}–{max(cuts):.2f} s")
    ctx.figure("wss echo during", f"{echo_s * 1000:.0f} ms")


@case("a good TLS handshake and upgrade, then garbage instead of a TLS record",
      "the connection ended ≤ 1 s (bad record MAC or alert); no crash; wss:// echo afterwards",
      server=TLS, tls=True)
def _(ctx):
    c = upgrade(ctx.tls_port, tls_context=ctx.tls_context)
    fd_sock = socket.socket(fileno=os.dup(c.sock.fileno()))
    t0 = time.monotonic()
    fd_sock.sendall(b"\x17\x03\x03\x00\x40" + os.urandom(64))
    fd_sock.settimeout(2)
    try:
        while fd_sock.recv(4096):
            pass
        how = "FIN"
    except OSError:
        how = "reset"
    cut = time.monotonic() - t0
    fd_sock.close()
    c.close()
    check(cut <= 1.0, f"ended after {cut:.2f} s")
    wss_echo(ctx)
    ctx.figure("ended", f"after {cut * 1000:.0f} ms ({how})")


@case("hostile frames over wss://: a 2^63 length and a zip bomb",
      "close 1002 and close 1009 ≤ 1 s, as on ws://", server=TLS + ["--max-message-size", "1M"],
      tls=True)
def _(ctx):
    from harness import MiB, bomb
    c = upgrade(ctx.tls_port, tls_context=ctx.tls_context)
    t0 = time.monotonic()
    c.send(frame(BINARY, b"", length=2**63, form=64))
    expect_close(c, 1002, 1.0, t0)
    c.close()
    body = frame(BINARY, bomb(64 * MiB), rsv=4)
    c = upgrade(ctx.tls_port, tls_context=ctx.tls_context, deflate=True)
    t0 = time.monotonic()
    c.send(body)
    expect_close(c, 1009, 1.0, t0)
    c.close()
    c = upgrade(ctx.tls_port, tls_context=ctx.tls_context)
    c.send(frame(CLOSE, close_body(1000)))
    check(c.close_frame(time.monotonic() + 1)[0] == 1000, "clean close over wss")
    c.close()
    ctx.figure("close", "1002, 1009 over TLS")
