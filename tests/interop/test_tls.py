#!/usr/bin/python3
"""TLS (wss:// and https://) against real clients: Python websockets, the `openssl s_client`
command, http.client; and the TLS flags of the command line.

A throwaway CA and server certificate are made with `openssl` at test time (under
$WSEDGE_TEST_OUT). Run with Debian's interpreter:
    /usr/bin/python3 tests/interop/test_tls.py [-k WORD] [-v]
Last line: "N passed, N failed"; exit 1 if any failed.
"""
import argparse
import asyncio
import http.client
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from support.server import server_binary, wsedge_server  # noqa: E402
from support.tls import client_context, make_pki, tls_args  # noqa: E402

import websockets  # noqa: E402

MiB = 1 << 20
TESTS = []


def test(name, timeout=30):
    def register(fn):
        TESTS.append((name, fn, timeout))
        return fn
    return register


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Env:
    pki = None
    tls = None    # TLS on --port
    both = None   # plain on --port, TLS on --tls-port
    short = None  # --tls-handshake-timeout 0.3


def connect(srv, path="/echo", **kw):
    kw.setdefault("compression", None)
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 10)
    kw.setdefault("max_size", 64 * MiB)
    if srv.url().startswith("wss:") or kw.pop("tls_port", False):
        url = srv.url(path, tls_port=srv.scheme == "ws")
        return websockets.connect(url, ssl=client_context(Env.pki), **kw)
    return websockets.connect(srv.url(path), **kw)


# ---- wss:// with Python websockets -------------------------------------------------

@test("the first line says wss://")
async def _(v):
    check(Env.tls.scheme == "wss", Env.tls.stdout_lines[:1])


@test("wss: text and binary echo, the certificate verified against the test CA")
async def _(v):
    async with connect(Env.tls) as ws:
        await ws.send("hello over TLS")
        check(await asyncio.wait_for(ws.recv(), 10) == "hello over TLS", "text echo")
        await ws.send(b"\x00\x01\xfe\xff" * 100)
        check(await asyncio.wait_for(ws.recv(), 10) == b"\x00\x01\xfe\xff" * 100, "binary")
        sslobj = ws.transport.get_extra_info("ssl_object")
        check(sslobj.version() in ("TLSv1.2", "TLSv1.3"), sslobj.version())
        check(sslobj.selected_alpn_protocol() is None, "no ALPN offered, none chosen")


@test("wss: a 16 MiB binary message and a 4 MiB text message come back intact")
async def _(v):
    big = os.urandom(16 * MiB)
    text = ("äöü-€-" * (4 * MiB // 12))
    async with connect(Env.tls) as ws:
        await ws.send(big)
        got = await asyncio.wait_for(ws.recv(), 60)
        check(got == big, f"16 MiB echo differs (got {len(got)} bytes)")
        await ws.send(text)
        check(await asyncio.wait_for(ws.recv(), 60) == text, "4 MiB text echo")


@test("wss: permessage-deflate negotiated and compressed messages echo")
async def _(v):
    async with connect(Env.tls, compression="deflate") as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        check("permessage-deflate" in ext, ext)
        for msg in ["compress me " * 1000, "x" * (2 * MiB), "short"]:
            await ws.send(msg)
            check(await asyncio.wait_for(ws.recv(), 30) == msg, f"deflate echo {len(msg)}")


@test("wss: 200 small messages pipelined arrive in order")
async def _(v):
    async with connect(Env.tls) as ws:
        for i in range(200):
            await ws.send(f"m{i}")
        for i in range(200):
            check(await asyncio.wait_for(ws.recv(), 10) == f"m{i}", f"message {i}")


@test("wss: 20 connections at once each echo")
async def _(v):
    async def one(i):
        async with connect(Env.tls) as ws:
            for j in range(20):
                await ws.send(f"{i}:{j}")
                check(await asyncio.wait_for(ws.recv(), 10) == f"{i}:{j}", "echo")
    await asyncio.gather(*(one(i) for i in range(20)))


@test("wss: a client that trusts another CA is refused by its own check")
async def _(v):
    other = make_pki()
    try:
        async with websockets.connect(Env.tls.url("/"), ssl=client_context(other),
                                      open_timeout=10):
            pass
    except ssl.SSLCertVerificationError:
        return
    raise AssertionError("a certificate from an untrusted CA was accepted")


# ---- https:// pages --------------------------------------------------------------

def https_get(srv, path, port=None):
    conn = http.client.HTTPSConnection(srv.host, port or srv.port, timeout=10,
                                       context=client_context(Env.pki))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@test("https: the echo page and its script are served over TLS")
async def _(v):
    status, body = await asyncio.to_thread(https_get, Env.tls, "/")
    check(status == 200 and b"<html" in body.lower(), (status, body[:80]))
    status, body = await asyncio.to_thread(https_get, Env.tls, "/echo.js")
    check(status == 200 and b"WebSocket" in body, (status, body[:80]))


@test("https: keep-alive serves two requests on one TLS connection")
async def _(v):
    def two():
        conn = http.client.HTTPSConnection(Env.tls.host, Env.tls.port, timeout=10,
                                           context=client_context(Env.pki))
        out = []
        for path in ("/", "/style.css"):
            conn.request("GET", path)
            r = conn.getresponse()
            out.append((r.status, len(r.read())))
        conn.close()
        return out
    got = await asyncio.to_thread(two)
    check([s for s, _ in got] == [200, 200] and all(n > 0 for _, n in got), got)


# ---- openssl s_client: versions, ALPN, resumption -----------------------------------

def s_client(port, *args, stdin=b""):
    # OPENSSL_CONF=/dev/null: Debian's openssl.cnf would stop the *client* from offering
    # TLS 1.0/1.1 at all; without it, and at SECLEVEL 0, the refusal must be the server's.
    env = dict(os.environ, OPENSSL_CONF="/dev/null")
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-CAfile", Env.pki.ca_cert, "-cipher", "DEFAULT@SECLEVEL=0", *args],
                       input=stdin, capture_output=True, timeout=20, env=env)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


@test("s_client: TLS 1.0 and 1.1 are refused with a protocol_version alert")
async def _(v):
    for flag, name in (("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1")):
        rc, out = await asyncio.to_thread(s_client, Env.tls.port, flag)
        check(rc != 0, f"{flag}: handshake succeeded")
        check("alert protocol version" in out, f"{flag}: no protocol_version alert:\n{out}")
        check(f"Protocol  : {name}\n" in out, f"{flag}: the client did not offer {name}")


@test("s_client: TLS 1.2 and 1.3 work; TLS 1.2 uses ECDHE with an AEAD cipher")
async def _(v):
    for flag, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        rc, out = await asyncio.to_thread(s_client, Env.tls.port, flag)
        check(rc == 0, f"{flag} failed:\n{out}")
        check(f"New, {name}, Cipher is " in out, out)
        check("Verify return code: 0 (ok)" in out, "certificate not verified")
        cipher = out.split(f"New, {name}, Cipher is ")[1].split()[0]
        if name == "TLSv1.2":
            check(cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA" in cipher), cipher)


@test("s_client: TLS 1.2 with RSA key exchange or CBC only is refused")
async def _(v):
    for suite in ("AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"):
        rc, out = await asyncio.to_thread(s_client, Env.tls.port, "-tls1_2", "-cipher", suite)
        check(rc != 0 and "handshake failure" in out, f"{suite} was accepted:\n{out}")


@test("s_client: ALPN http/1.1 is answered; a client offering only h2 gets the alert")
async def _(v):
    rc, out = await asyncio.to_thread(s_client, Env.tls.port, "-alpn", "h2,http/1.1")
    check(rc == 0 and "ALPN protocol: http/1.1" in out, out)
    rc, out = await asyncio.to_thread(s_client, Env.tls.port, "-alpn", "h2")
    check(rc != 0 and "no application protocol" in out, out)


@test("s_client: a session ticket resumes the session (TLS 1.3 and 1.2)")
async def _(v):
    # A request with Connection: close keeps s_client reading until the server closes, so
    # the TLS 1.3 tickets (sent after the handshake) are in before it saves the session.
    req = b"GET / HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n" % Env.tls.port
    for flag in ("-tls1_3", "-tls1_2"):
        sess = os.path.join(Env.pki.dir, f"session{flag}.pem")
        rc, out = await asyncio.to_thread(s_client, Env.tls.port, flag, "-ign_eof",
                                          "-sess_out", sess, stdin=req)
        check(rc == 0 and "New, TLSv1." in out, out)
        rc, out = await asyncio.to_thread(s_client, Env.tls.port, flag, "-sess_in", sess)
        check(rc == 0 and "Reused, TLSv1." in out, f"{flag}: not resumed:\n{out}")


@test("s_client: an HTTP request answered, then close_notify (not just a FIN)")
async def _(v):
    req = (b"GET /nothing-here HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n"
           % Env.tls.port)
    rc, out = await asyncio.to_thread(s_client, Env.tls.port, "-ign_eof", stdin=req)
    check("HTTP/1.1 404" in out, out[-800:])
    # s_client prints "closed" for SSL_ERROR_ZERO_RETURN (a close_notify) and
    # "read:errno=0" for a bare TCP EOF.
    check("\nclosed\n" in out and "read:errno" not in out, out[-400:])


def plain_request_to(port, request):
    """Sends clear-text bytes to a TLS port; returns everything read until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        got = b""
        while chunk := s.recv(4096):
            got += chunk
        return got


@test("plain HTTP on the TLS port: a clear-text 400 that says to use https, then EOF")
async def _(v):
    # Several KiB of headers behind the request line: input the server never reads,
    # which a bare close() would turn into a RST that could destroy the answer.
    filler = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 100) for i in range(40))
    for method in (b"GET", b"POST", b"HEAD", b"PUT"):
        req = (method + b" / HTTP/1.1\r\nHost: localhost:%d\r\n" % Env.tls.port + filler
               + b"\r\n")
        got = await asyncio.to_thread(plain_request_to, Env.tls.port, req)
        check(got.startswith(b"HTTP/1.1 400 Bad Request\r\n"), f"{method}: {got[:200]!r}")
        head, _, body = got.partition(b"\r\n\r\n")
        check(b"Connection: close" in head and b"https://" in body, got)
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        check(length == len(body), f"Content-Length {length}, body {len(body)}")
    # Not HTTP and not TLS: closed without a clear-text answer (we cannot know the protocol).
    got = await asyncio.to_thread(plain_request_to, Env.tls.port, b"\x00\x01garbage\r\n\r\n")
    check(not got.startswith(b"HTTP/"), got)
    # And the TLS port still serves TLS.
    status, _ = await asyncio.to_thread(https_get, Env.tls, "/")
    check(status == 200, status)


# ---- --tls-port: plain and TLS at once ----------------------------------------------

@test("--tls-port: ws:// on --port and wss:// on the TLS port, both echo")
async def _(v):
    check(Env.both.scheme == "ws" and Env.both.tls_port, Env.both.stdout_lines[:2])
    check(Env.both.stdout_lines[1] ==
          f"wsedge listening on wss://127.0.0.1:{Env.both.tls_port}/", Env.both.stdout_lines)
    async with connect(Env.both) as plain, connect(Env.both, tls_port=True) as secure:
        await plain.send("plain")
        await secure.send("secure")
        check(await asyncio.wait_for(plain.recv(), 10) == "plain", "plain echo")
        check(await asyncio.wait_for(secure.recv(), 10) == "secure", "TLS echo")
        check(plain.transport.get_extra_info("ssl_object") is None, "plain is plain")
        check(secure.transport.get_extra_info("ssl_object") is not None, "TLS is TLS")


@test("--tls-port: a TLS ClientHello on the plain port fails at once, not a hang")
async def _(v):
    def attempt():
        with socket.create_connection((Env.both.host, Env.both.port), timeout=10) as s:
            ctx = client_context(Env.pki)
            try:
                ctx.wrap_socket(s, server_hostname="localhost")
            except (ssl.SSLError, OSError):
                return "refused"
            return "accepted"
    check(await asyncio.to_thread(attempt) == "refused", "TLS worked on the plain port")


# ---- handshake timeout and garbage ---------------------------------------------------

def closed_within(port, seconds, send=b""):
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=seconds + 5) as s:
        if send:
            s.sendall(send)
        while True:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                break
            if not data:
                break
    return time.monotonic() - t0


@test("a TCP client that never sends a ClientHello is cut at --tls-handshake-timeout")
async def _(v):
    took = await asyncio.to_thread(closed_within, Env.short.port, 0.3)
    check(0.2 <= took < 4, f"closed after {took:.2f}s (timeout 0.3 s)")


@test("a ClientHello that stops half-way is cut at the timeout too")
async def _(v):
    hello = bytes.fromhex("160301020001000200fc")  # record header, then a truncated hello
    took = await asyncio.to_thread(closed_within, Env.short.port, 0.3, hello)
    check(0.2 <= took < 4, f"closed after {took:.2f}s")


@test("garbage and plain HTTP on the TLS port are closed at once, the server stays up")
async def _(v):
    for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(3000), b"\x16\x03\x01\xff\xff"):
        took = await asyncio.to_thread(closed_within, Env.tls.port, 8, junk)
        check(took < 8, f"{junk[:10]!r}: not closed within 8 s")
    async with connect(Env.tls) as ws:
        await ws.send("still here")
        check(await asyncio.wait_for(ws.recv(), 10) == "still here", "echo after garbage")


# ---- command line --------------------------------------------------------------------

def run_cli(*args):
    return subprocess.run([server_binary(), "--port", "0", *args], capture_output=True,
                          text=True, timeout=10, stdin=subprocess.DEVNULL)


@test("bad certificate or key at start-up: one line on stderr, exit status 2")
async def _(v):
    pki = Env.pki
    other_cert, other_key = pki.issue("mismatch", serial=99, cn="other")
    junk = os.path.join(pki.dir, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a PEM file\n")
    cases = [
        (["--tls-cert", os.path.join(pki.dir, "missing.pem"), "--tls-key", pki.server_key],
         "missing.pem"),
        (["--tls-cert", pki.server_cert, "--tls-key", os.path.join(pki.dir, "nokey.pem")],
         "nokey.pem"),
        (["--tls-cert", pki.server_cert, "--tls-key", other_key], "mismatch-key.pem"),
        (["--tls-cert", junk, "--tls-key", pki.server_key], "junk.pem"),
        (["--tls-cert", pki.server_cert, "--tls-key", junk], "junk.pem"),
        (["--tls-cert", pki.server_key, "--tls-key", pki.server_key], "server-key.pem"),
        (["--tls-cert", pki.server_cert], "--tls-cert without --tls-key"),
        (["--tls-key", pki.server_key], "--tls-key without --tls-cert"),
        (["--tls-port", "0"], "--tls-port"),
        (["--tls-handshake-timeout", "0", *tls_args(pki)], "--tls-handshake-timeout"),
    ]
    for args, needle in cases:
        r = await asyncio.to_thread(run_cli, *args)
        check(r.returncode == 2, f"{args}: exit {r.returncode}, stderr {r.stderr!r}")
        lines = r.stderr.strip().splitlines()
        check(len(lines) == 1 and lines[0].startswith("wsedge: ") and needle in lines[0],
              f"{args}: stderr {r.stderr!r}")
        check(r.stdout == "", f"{args}: printed {r.stdout!r}")


@test("an encrypted private key is refused at start-up without asking for a pass phrase")
async def _(v):
    enc = os.path.join(Env.pki.dir, "encrypted-key.pem")
    subprocess.run(["openssl", "pkey", "-in", Env.pki.server_key, "-aes256", "-passout",
                    "pass:secret", "-out", enc], check=True, capture_output=True)
    r = await asyncio.to_thread(run_cli, "--tls-cert", Env.pki.server_cert, "--tls-key", enc)
    check(r.returncode == 2 and "encrypted-key.pem" in r.stderr, r.stderr)


@test("an RSA certificate works too (ECDHE-RSA in TLS 1.2)")
async def _(v):
    cert, key = Env.pki.issue("rsa", serial=5, cn="wsedge rsa", key_type="rsa")
    with wsedge_server(["--log-level", "warn", "--tls-cert", cert, "--tls-key", key]) as srv:
        rc, out = await asyncio.to_thread(s_client, srv.port, "-tls1_2")
        check(rc == 0 and "New, TLSv1.2, Cipher is ECDHE-RSA-" in out, out[-600:])
        async with connect(srv) as ws:
            await ws.send("rsa")
            check(await asyncio.wait_for(ws.recv(), 10) == "rsa", "echo")


@test("--help lists the TLS flags")
async def _(v):
    r = await asyncio.to_thread(run_cli, "--help")
    for flag in ("--tls-cert", "--tls-key", "--tls-port", "--tls-handshake-timeout"):
        check(flag in r.stdout, flag)


async def run_all(selected, verbose):
    passed = failed = 0
    for name, fn, timeout in selected:
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(fn(verbose), timeout)
            print(f"ok {name} ({time.monotonic() - t0:.2f}s)", flush=True)
            passed += 1
        except Exception as exc:  # every failure is reported, none ends the run
            msg = "timed out" if isinstance(exc, asyncio.TimeoutError) else \
                f"{exc.__class__.__name__}: {exc}"
            print(f"FAIL {name}: {msg}", flush=True)
            if verbose:
                traceback.print_exc()
            failed += 1
    return passed, failed


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="", help="run tests whose name contains this")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args(argv)
    selected = [t for t in TESTS if args.k.lower() in t[0].lower()]
    t0 = time.monotonic()
    passed = failed = 0
    try:
        Env.pki = make_pki()
        common = ["--log-level", "warn", "--max-message-size", str(64 * MiB)]
        with wsedge_server(common + tls_args(Env.pki)) as tls_srv, \
                wsedge_server(common + tls_args(Env.pki) + ["--tls-port", "0"]) as both, \
                wsedge_server(common + tls_args(Env.pki) +
                              ["--tls-handshake-timeout", "0.3"]) as short:
            Env.tls, Env.both, Env.short = tls_srv, both, short
            passed, failed = asyncio.run(run_all(selected, args.v))
            for label, srv in (("tls", tls_srv), ("both", both), ("short", short)):
                problem = srv.stop()
                if problem:
                    print(f"FAIL server '{label}' exits 0 on SIGTERM: {problem}")
                    failed += 1
                else:
                    print(f"ok server '{label}' exits 0 on SIGTERM")
                    passed += 1
    except Exception as exc:  # the server did not start, or died
        print(f"FAIL setup: {exc.__class__.__name__}: {exc}")
        traceback.print_exc()
        failed += 1
    print(f"suite time {time.monotonic() - t0:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
