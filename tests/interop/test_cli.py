"""The wsedge command line: help, version, and bad input answered with one line and exit 2.

Also the hijack seen from a raw socket: frame bytes sent in the same packet as the
upgrade request must not be lost, and plain HTTP keep-alive serves several requests on
one connection. Run with Debian's /usr/bin/python3; prints "N passed, N failed" last.
"""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support.server import server_binary, wsedge_server  # noqa: E402
from support.cases import case, finish  # noqa: E402



def run(*args, timeout=10):
    return subprocess.run([server_binary(), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@case("--help prints the usage and exits 0")
def _():
    r = run("--help")
    assert r.returncode == 0, r
    assert r.stdout.startswith("usage: wsedge"), r.stdout
    for flag in ["--host", "--port", "--web", "--max-message-size", "--subprotocol",
                 "--allow-origin", "--ping-interval", "--deflate"]:
        assert flag in r.stdout, flag


@case("--version prints one line and exits 0")
def _():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("wsedge ") and r.stdout.count("\n") == 1


BAD = [
    (["--bogus"], "unknown argument"),
    (["stray"], "unknown argument"),
    (["--port"], "missing value"),
    (["--port", "70000"], "--port"),
    (["--port", "12ab"], "--port"),
    (["--port", "-1"], "--port"),
    (["--log-level", "loud"], "--log-level"),
    (["--max-message-size", "0"], "--max-message-size"),
    (["--max-message-size", "12Q"], "--max-message-size"),
    (["--ping-interval", "soon"], "--ping-interval"),
    (["--ping-interval", "-3"], "--ping-interval"),
    (["--handshake-timeout", "0"], "--handshake-timeout"),
    (["--deflate", "maybe"], "--deflate"),
    (["--deflate-window-bits", "16"], "--deflate-window-bits"),
    (["--deflate-window-bits", "7"], "--deflate-window-bits"),
    (["--web", "/nonexistent/wsedge-web"], "--web"),
    (["--subprotocol", ""], "--subprotocol"),
    (["--max-message-size", "99999999999999G"], "--max-message-size"),  # would wrap
    (["--message-memory-budget", "lots"], "--message-memory-budget"),
    (["--max-frame-size", "4G"], "--max-frame-size"),  # above ws::kMaxFrameSize
    (["--message-memory-budget", "32M"], "at least --max-message-size"),  # default 64M
    (["--max-message-size", "1G", "--message-memory-budget", "512M"], "at least"),
    (["--message-memory-budget", "8M", "--max-message-size", "16M"], "at least"),
]
for args, needle in BAD:
    @case(f"bad input {' '.join(args) or '(empty)'} -> one line, exit 2")
    def _(args=args, needle=needle):
        r = run(*args)
        assert r.returncode == 2, (r.returncode, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith("wsedge: ") and needle in lines[0], lines[0]
        assert r.stdout == "", r.stdout


@case("a port already in use is reported and exits non-zero")
def _():
    with wsedge_server() as srv:
        r = run("--host", "127.0.0.1", "--port", str(srv.port))
        assert r.returncode == 1, r
        assert "cannot listen" in r.stderr, r.stderr


@case("--port 0 prints the URL with the bound port first; IPv6 literal in brackets")
def _():
    with wsedge_server() as srv:
        assert srv.port > 0
    if socket.has_ipv6:
        p = subprocess.Popen([server_binary(), "--host", "::1", "--port", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline().strip()
            assert line.startswith("wsedge listening on ws://[::1]:"), line
        finally:
            p.terminate()
            assert p.wait(timeout=10) == 0


def recv_until(sock, marker, limit=1 << 20):
    data = b""
    while marker not in data and len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def upgrade(srv, extra=b""):
    return (b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n%s\r\n" % (srv.port, extra))


def masked_text(payload):
    key = b"\x11\x22\x33\x44"
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + key + body


@case("frames sent in the same packet as the upgrade request are not lost (hijack)")
def _():
    with wsedge_server() as srv:
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        s.sendall(upgrade(srv) + masked_text(b"first") + masked_text(b"second"))
        data = recv_until(s, b"second")
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, head
        assert rest == b"\x81\x05first\x81\x06second", rest
        s.close()


@case("plain HTTP keep-alive: pipelined GETs answered in order on one connection")
def _():
    with wsedge_server(["--web", os.path.join(os.path.dirname(__file__), "..", "..", "apps",
                                              "web")]) as srv:
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        host = b"Host: 127.0.0.1:%d\r\n" % srv.port
        req = b"GET /missing HTTP/1.1\r\n" + host + b"\r\n"
        s.sendall(req + req + b"GET / HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data.count(b"HTTP/1.1 404") == 2, data[:300]
        assert data.count(b"HTTP/1.1 200") == 1, data[:300]
        assert data.index(b"HTTP/1.1 200") > data.rindex(b"HTTP/1.1 404")
        s.close()


@case("a request with a body is refused with 413 and the connection closed")
def _():
    with wsedge_server() as srv:
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 5\r\n\r\nhello"
                  % srv.port)
        data = recv_until(s, b"\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 413"), data[:100]
        s.close()


def read_all(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


@case("request smuggling: an upgrade with a body gets 400, no 101, and no frame runs")
def _():
    empty_text = b"\x81\x80\x00\x00\x00\x00"  # a masked empty text frame, if it ran
    with wsedge_server() as srv:
        for framing, body in [(b"Content-Length: 6\r\n", empty_text),
                              (b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n" + empty_text)]:
            s = socket.create_connection((srv.host, srv.port), timeout=5)
            s.sendall(upgrade(srv, framing) + body)
            data = read_all(s)
            s.close()
            assert data.startswith(b"HTTP/1.1 400"), (framing, data[:100])
            assert b"101" not in data.split(b"\r\n")[0] and b"\x81\x00" not in data, data
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        s.sendall(upgrade(srv, b"Content-Length: 0\r\n") + masked_text(b"ok"))
        assert recv_until(s, b"\x81\x02ok").startswith(b"HTTP/1.1 101")
        s.close()


@case("DNS rebinding: on loopback a foreign Host gets 421 on every path; --allow-host admits it")
def _():
    with wsedge_server(["--allow-host", "ws.example"]) as srv:
        for host in (b"rebind.example:%d" % srv.port, b"127.0.0.1:%d" % (srv.port + 1),
                     b"127.0.0.1.rebind.example:%d" % srv.port):
            for req in (b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n",
                        upgrade(srv).replace(b"127.0.0.1:%d" % srv.port, host)):
                s = socket.create_connection((srv.host, srv.port), timeout=5)
                s.sendall(req)
                data = read_all(s)
                s.close()
                assert data.startswith(b"HTTP/1.1 421"), (host, data[:80])
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        s.sendall(upgrade(srv).replace(b"127.0.0.1:%d" % srv.port, b"ws.example:443"))
        assert recv_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 101")
        s.close()
    with wsedge_server(["--allow-host", "any"]) as srv:
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        s.sendall(upgrade(srv).replace(b"127.0.0.1:%d" % srv.port, b"rebind.example"))
        assert recv_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 101")
        s.close()


finish()
