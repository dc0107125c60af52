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

results = []


def case(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, None))
            print(f"ok {name}")
        except Exception as e:  # noqa: BLE001 - any failure is a failed case
            results.append((name, e))
            print(f"FAIL {name}: {e!r}")
        return fn
    return wrap


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


UPGRADE = (b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")


def masked_text(payload):
    key = b"\x11\x22\x33\x44"
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + key + body


@case("frames sent in the same packet as the upgrade request are not lost (hijack)")
def _():
    with wsedge_server() as srv:
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        s.sendall(UPGRADE + masked_text(b"first") + masked_text(b"second"))
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
        req = b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
        s.sendall(req + req + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
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
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        data = recv_until(s, b"\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 413"), data[:100]
        s.close()


passed = sum(1 for _, e in results if e is None)
failed = len(results) - passed
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
