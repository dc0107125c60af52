#!/usr/bin/python3
"""Interop: bench/wsload over wss:// — against wsedge, a Python websockets TLS server that
reports what it saw (SNI, version, resumption), and the raw TLS echo.

    /usr/bin/python3 tests/interop/test_wsload_tls.py [-k WORD] [-v]

A throwaway CA and certificates are made with the `openssl` command (tests/support/tls.py,
as test_tls.py does). wsload is $WSLOAD_BIN, else the `wsload` beside $WSEDGE_BIN; the raw
TLS echo is build/peers/raw_tls_echo (`make test` builds it). Every run is bounded (about a
second, a handful of connections). Last line: "N passed, N failed"; exit 1 if any failed.
"""
import asyncio
import contextlib
import os
import ssl
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from support.server import server_binary, wsedge_server  # noqa: E402
from support.tls import _openssl, make_pki, tls_args  # noqa: E402
from support.wsload import BRIEF, check, free_port, main, run_wsload, test  # noqa: E402

import websockets  # noqa: E402


class Env:
    pki = None    # the CA wsload is told about
    other = None  # a second CA nobody trusts
    srv = None    # wsedge over TLS, certificate from pki (SAN localhost, 127.0.0.1, ::1)
    plain = None  # wsedge, ws:// only
    named = None  # (cert, key) from pki for DNS:wsload.test only


def wss(srv, host="127.0.0.1"):
    return f"wss://{host}:{srv.port}/"


def check_ok(rc, d, err, what):
    check(rc == 0, f"{what}: exit {rc}, stderr: {err.strip()[-400:]}")
    check(d is not None and d["errors"] == 0, f"{what}: errors in {d}")
    check(d["error_kinds"] == {}, f"{what}: {d['error_kinds']}")


def issue_named(pki, name, serial):
    """A server certificate from pki's CA whose only name is DNS:NAME (no IP address)."""
    key, csr = os.path.join(pki.dir, f"{name}-key.pem"), os.path.join(pki.dir, f"{name}.csr")
    cert, ext = os.path.join(pki.dir, f"{name}-cert.pem"), os.path.join(pki.dir, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\n")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    _openssl("x509", "-req", "-in", csr, "-CA", pki.ca_cert, "-CAkey", pki.ca_key,
             "-set_serial", str(serial), "-days", "2", "-extfile", ext, "-out", cert)
    return cert, key


class PeerTls:
    """Python websockets over TLS in a thread: an echo server that records, per TLS
    connection, the SNI the client sent, the version, and whether the session was resumed
    (OpenSSL's own view, on the server side)."""

    def __init__(self, cert, key):
        self.seen = []  # (version, reused) per WebSocket connection
        self.snis = []  # every SNI callback, before any certificate check of the client
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        ctx.sni_callback = lambda sslobj, name, _ctx: self.snis.append(name)
        self.ctx = ctx
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        check(self.ready.wait(10), "the Python TLS server did not start")

    async def _echo(self, ws, _path=None):
        obj = ws.transport.get_extra_info("ssl_object")
        self.seen.append((obj.version(), obj.session_reused))
        try:
            async for msg in ws:
                await ws.send(msg)
        except websockets.ConnectionClosed:
            pass

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def main():
            self.stop_future = self.loop.create_future()
            async with websockets.serve(self._echo, "127.0.0.1", 0, ssl=self.ctx,
                                        compression=None, ping_interval=None) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.ready.set()
                await self.stop_future
        self.loop.run_until_complete(main())

    def stop(self):
        self.loop.call_soon_threadsafe(self.stop_future.set_result, None)
        self.thread.join(10)


# ---- wsedge over TLS ----------------------------------------------------------------------

@test("echo over wss:// with --ca: every message verified, one full handshake per connection")
def _(v):
    rc, d, _, err, _ = run_wsload(["echo", "--url", wss(Env.srv), "--ca", Env.pki.ca_cert,
                                   "--connections", "8", "--json", "--quiet"] + BRIEF)
    check_ok(rc, d, err, "wss echo")
    check(d["messages"] > 0 and d["connected"] == 8, str(d))
    t = d["tls"]
    check(t["version"] in ("TLSv1.2", "TLSv1.3"), t)
    check(t["full"] == 8 and t["resumed"] == 0, f"8 connections, no --tls-resume: {t}")
    check("GCM" in t["cipher"] or "CHACHA" in t["cipher"], f"an AEAD cipher: {t}")


@test("echo over wss:// keeps 16 messages in flight per connection (no ET stall on "
      "records OpenSSL already holds)")
def _(v):
    rc, d, _, err, _ = run_wsload(["echo", "--url", wss(Env.srv), "--ca", Env.pki.ca_cert,
                                   "--connections", "4", "--inflight", "16", "--json",
                                   "--quiet"] + BRIEF)
    check_ok(rc, d, err, "inflight 16")
    check(d["messages"] >= 16 * 4, f"only {d['messages']} echoes in a second")


@test("64 KiB and 1 MiB binary echoes over wss://: partial writes and WANT_WRITE")
def _(v):
    for size, conns, inflight in (("64K", 4, 1), ("1M", 2, 8)):
        rc, d, _, err, _ = run_wsload(["echo", "--url", wss(Env.srv), "--ca", Env.pki.ca_cert,
                                       "--size", size, "--binary", "--connections", str(conns),
                                       "--inflight", str(inflight), "--json", "--quiet"] + BRIEF)
        check_ok(rc, d, err, f"{size} x {conns}")
        check(d["messages"] > 0, f"{size}: no echo came back: {d}")


@test("rate and idle modes over wss://")
def _(v):
    rc, d, _, err, _ = run_wsload(["rate", "--rate", "500", "--url", wss(Env.srv), "--ca",
                                   Env.pki.ca_cert, "--connections", "5", "--json",
                                   "--quiet"] + BRIEF)
    check_ok(rc, d, err, "rate")
    check(400 <= d["messages"] <= 600, f"500/s for 1 s gave {d['messages']}")
    rc, d, _, err, _ = run_wsload(["idle", "--url", wss(Env.srv), "--ca", Env.pki.ca_cert,
                                   "--connections", "20", "--duration", "0.5", "--warmup", "0",
                                   "--json", "--quiet"])
    check_ok(rc, d, err, "idle")
    check(d["connected"] == 20 and d["tls"]["full"] == 20, str(d))


@test("the summary names the TLS version, cipher and handshake counts")
def _(v):
    rc, _, out, err, _ = run_wsload(["echo", "--url", wss(Env.srv), "--ca", Env.pki.ca_cert,
                                     "--connections", "2", "--quiet"] + BRIEF)
    check(rc == 0, f"exit {rc}: {err}")
    line = [ln for ln in out.splitlines() if ln.strip().startswith("tls ")]
    check(len(line) == 1 and "2 handshakes in full, 0 resumed" in line[0], out)


@test("--tls-version 1.2 and 1.3 are what gets negotiated")
def _(v):
    for flag, want in (("1.2", "TLSv1.2"), ("1.3", "TLSv1.3")):
        rc, d, _, err, _ = run_wsload(["echo", "--url", wss(Env.srv), "--ca", Env.pki.ca_cert,
                                       "--tls-version", flag, "--connections", "2", "--json",
                                       "--quiet"] + BRIEF)
        check_ok(rc, d, err, flag)
        check(d["tls"]["version"] == want, f"--tls-version {flag}: {d['tls']}")


@test("connect --tls-resume: after the first handshake every one is resumed; without it none")
def _(v):
    args = ["connect", "--url", wss(Env.srv), "--ca", Env.pki.ca_cert, "--connections", "1",
            "--reset-after-close", "--json", "--quiet"] + BRIEF
    rc, d, _, err, _ = run_wsload(args + ["--tls-resume"])
    check_ok(rc, d, err, "resume")
    t = d["tls"]
    check(t["full"] == 1, f"one connection at a time: only the first is in full: {t}")
    check(t["resumed"] >= 10, f"resumed handshakes in 1.2 s: {t}")
    check(d["messages"] <= t["full"] + t["resumed"], f"cycles {d['messages']} vs {t}")
    rc, d, _, err, _ = run_wsload(args)
    check_ok(rc, d, err, "no resume")
    check(d["tls"]["resumed"] == 0 and d["tls"]["full"] >= 10, d["tls"])


@test("--tls-resume over TLS 1.2 resumes too (tickets inside the handshake)")
def _(v):
    rc, d, _, err, _ = run_wsload(["connect", "--url", wss(Env.srv), "--ca", Env.pki.ca_cert,
                                   "--connections", "2", "--tls-version", "1.2",
                                   "--tls-resume", "--reset-after-close", "--json",
                                   "--quiet"] + BRIEF)
    check_ok(rc, d, err, "1.2 resume")
    check(d["tls"]["full"] == 2 and d["tls"]["resumed"] >= 10, d["tls"])


# ---- certificate checks ---------------------------------------------------------------------

@test("a certificate from a CA not given with --ca: one clear line, exit 2, at once")
def _(v):
    rc, d, out, err, secs = run_wsload(["echo", "--url", wss(Env.srv), "--ca", Env.other.ca_cert,
                                        "--connections", "5", "--duration", "20", "--quiet"])
    check(rc == 2, f"exit {rc}, expected 2; stderr {err!r}")
    check(err.count("\n") == 1 and err.startswith("wsload: TLS: certificate verify failed"), err)
    check("--ca" in err and "--insecure" in err, f"the line says what to do: {err!r}")
    check(out == "", f"no summary for a run that measured nothing: {out!r}")
    check(secs < 5, f"a refused certificate ended a 20 s run after {secs:.1f} s")


@test("no --ca: the system store does not know the test CA -> refused, exit 2")
def _(v):
    rc, _, _, err, _ = run_wsload(["connect", "--url", wss(Env.srv), "--connections", "2",
                                   "--duration", "5", "--quiet"])
    check(rc == 2 and "certificate verify failed" in err, f"exit {rc}: {err!r}")


@test("--insecure accepts a certificate nobody vouches for")
def _(v):
    rc, d, _, err, _ = run_wsload(["echo", "--url", wss(Env.srv), "--insecure",
                                   "--connections", "2", "--json", "--quiet"] + BRIEF)
    check_ok(rc, d, err, "insecure")
    check(d["messages"] > 0, str(d))


@test("--sni: the name checked is the one given (a DNS-only certificate), not the URL's IP")
def _(v):
    cert, key = Env.named
    with wsedge_server(["--log-level", "warn"] + tls_args(Env.pki, cert, key)) as srv:
        rc, _, _, err, _ = run_wsload(["echo", "--url", wss(srv), "--ca", Env.pki.ca_cert,
                                       "--connections", "2", "--quiet"] + BRIEF)
        check(rc == 2 and "IP address mismatch" in err, f"127.0.0.1 is not in the SAN: {rc} {err!r}")
        rc, d, _, err, _ = run_wsload(["echo", "--url", wss(srv), "--ca", Env.pki.ca_cert,
                                       "--sni", "wsload.test", "--connections", "2", "--json",
                                       "--quiet"] + BRIEF)
        check_ok(rc, d, err, "--sni wsload.test")
        rc, _, _, err, _ = run_wsload(["echo", "--url", wss(srv), "--ca", Env.pki.ca_cert,
                                       "--sni", "other.test", "--connections", "1",
                                       "--quiet"] + BRIEF)
        check(rc == 2 and "hostname mismatch" in err, f"other.test: {rc} {err!r}")


@test("--sni is sent as the server name; an IP literal is never sent; localhost is")
def _(v):
    peer = PeerTls(Env.pki.server_cert, Env.pki.server_key)
    try:
        url = f"wss://127.0.0.1:{peer.port}/"
        common = ["--ca", Env.pki.ca_cert, "--connections", "1", "--json", "--quiet"] + BRIEF
        rc, d, _, err, _ = run_wsload(["echo", "--url", url, "--sni", "localhost"] + common)
        check_ok(rc, d, err, "--sni localhost")
        check(peer.snis == ["localhost"], f"server saw SNI {peer.snis}")
        peer.snis.clear()
        rc, d, _, err, _ = run_wsload(["echo", "--url", url] + common)
        check_ok(rc, d, err, "IP literal")
        # Python calls the SNI callback with None when the ClientHello names no server
        check(peer.snis == [None], f"RFC 6066 §3: no IP literal as SNI, saw {peer.snis}")
        peer.snis.clear()
        rc, d, _, err, _ = run_wsload(["echo", "--url", f"wss://localhost:{peer.port}/"] + common)
        check_ok(rc, d, err, "localhost URL")
        check(peer.snis == ["localhost"], f"server saw SNI {peer.snis}")
    finally:
        peer.stop()


@test("another server's view: --tls-version and --tls-resume as OpenSSL in Python saw them")
def _(v):
    peer = PeerTls(Env.pki.server_cert, Env.pki.server_key)
    try:
        url = f"wss://127.0.0.1:{peer.port}/"
        rc, d, _, err, _ = run_wsload(["connect", "--url", url, "--ca", Env.pki.ca_cert,
                                       "--connections", "1", "--tls-version", "1.2",
                                       "--tls-resume", "--json", "--quiet"] + BRIEF)
        check_ok(rc, d, err, "python peer")
        t = d["tls"]
        seen = list(peer.seen)
        check(len(seen) == t["full"] + t["resumed"], f"server saw {len(seen)} connections, "
              f"wsload counted {t}")
        check(all(ver == "TLSv1.2" for ver, _ in seen), {x[0] for x in seen})
        reused = sum(1 for _, r in seen if r)
        check(reused == t["resumed"] and reused >= 5 and not seen[0][1],
              f"server-side resumed {reused}, wsload {t}")
    finally:
        peer.stop()


# ---- other servers and failures -------------------------------------------------------------

@test("raw over wss:// against the raw TLS echo: echo, then bare TLS handshakes, resumed")
def _(v):
    raw = os.path.join(os.path.dirname(server_binary()), "peers", "raw_tls_echo")
    check(os.path.exists(raw), f"{raw} missing: `make test` builds it")
    proc = subprocess.Popen([raw, "--port", "0"] + tls_args(Env.pki), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        check(line.startswith("raw_tls_echo listening on wss://127.0.0.1:"), line)
        url = line.split()[-1]
        rc, d, _, err, _ = run_wsload(["echo", "--raw", "--url", url, "--ca", Env.pki.ca_cert,
                                       "--size", "64K", "--binary", "--connections", "3",
                                       "--json", "--quiet"] + BRIEF)
        check_ok(rc, d, err, "raw tls echo")
        check(d["messages"] > 0, str(d))
        rc, d, _, err, _ = run_wsload(["connect", "--raw", "--url", url, "--ca", Env.pki.ca_cert,
                                       "--connections", "1", "--tls-resume", "--json",
                                       "--quiet"] + BRIEF)
        check_ok(rc, d, err, "raw tls connect")
        check(d["tls"]["full"] == 1 and d["tls"]["resumed"] >= 10, d["tls"])
    finally:
        proc.kill()
        proc.wait(5)


@test("wss:// to a plain ws:// server: every connection fails, counted, exit 1, bounded")
def _(v):
    rc, d, _, err, secs = run_wsload(["echo", "--url", f"wss://127.0.0.1:{Env.plain.port}/",
                                      "--insecure", "--connections", "3", "--json",
                                      "--quiet"] + BRIEF)
    check(rc == 1, f"exit {rc}: {err!r}")
    check(d["connected"] == 0 and d["errors"] == 3, str(d))
    check(set(d["error_kinds"]) <= {"tls", "unexpected_close", "reset"}, d["error_kinds"])
    check(secs < 15, f"took {secs:.1f} s")


@test("wss:// to a closed port: connect errors, exit 1")
def _(v):
    rc, d, _, err, _ = run_wsload(["echo", "--url", f"wss://127.0.0.1:{free_port()}/",
                                   "--insecure", "--connections", "2", "--json", "--quiet"]
                                  + BRIEF)
    check(rc == 1 and d["error_kinds"] == {"connect": 2}, f"{rc} {d}")


USAGE = [
    ("--ca with a ws:// URL", ["echo", "--url", "ws://127.0.0.1:1/", "--ca", "x.pem"]),
    ("--insecure with a ws:// URL", ["echo", "--url", "ws://127.0.0.1:1/", "--insecure"]),
    ("--tls-resume with a ws:// URL", ["connect", "--url", "ws://127.0.0.1:1/",
                                        "--tls-resume"]),
    ("--insecure and --ca together", ["echo", "--url", "wss://127.0.0.1:1/", "--insecure",
                                       "--ca", "x.pem"]),
    ("--tls-version 1.1", ["echo", "--url", "wss://127.0.0.1:1/", "--tls-version", "1.1"]),
    ("--sni with a space", ["echo", "--url", "wss://127.0.0.1:1/", "--sni", "a b"]),
    ("--ca that does not exist", ["echo", "--url", "wss://127.0.0.1:1/", "--ca",
                                  "/nonexistent/ca.pem"]),
    ("--ca that holds no certificate", ["echo", "--url", "wss://127.0.0.1:1/", "--ca",
                                        os.path.abspath(__file__)]),
    ("connect --raw over ws://", ["connect", "--raw", "--url", "ws://127.0.0.1:1/"]),
]

for name, args in USAGE:
    @test(f"usage: {name} -> exit 2, one line")
    def _(v, args=args):
        rc, _, out, err, _ = run_wsload(args)
        check(rc == 2, f"exit {rc}, expected 2")
        check(err.count("\n") == 1 and err.startswith("wsload: "), f"stderr: {err!r}")
        check(out == "", f"stdout: {out!r}")


@test("usage: --help lists the TLS flags")
def _(v):
    rc, _, out, _, _ = run_wsload(["--help"])
    check(rc == 0, f"exit {rc}")
    for flag in ["wss://", "--ca", "--insecure", "--sni", "--tls-version", "--tls-resume"]:
        check(flag in out, f"--help lacks {flag}")


@contextlib.contextmanager
def servers():
    """The CAs and the two servers every test shares: wsedge over TLS, and plain ws://."""
    Env.pki, Env.other = make_pki(), make_pki()
    Env.named = issue_named(Env.pki, "wsload.test", serial=9)
    with wsedge_server(["--log-level", "warn"] + tls_args(Env.pki)) as srv, \
            wsedge_server(["--log-level", "warn"]) as plain:
        Env.srv, Env.plain = srv, plain
        yield


if __name__ == "__main__":
    sys.exit(main(servers))
