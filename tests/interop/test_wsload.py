#!/usr/bin/python3
"""Interop: bench/wsload against the real server, and against stubs that misbehave.

    /usr/bin/python3 tests/interop/test_wsload.py [-k WORD] [-v]

wsload is $WSLOAD_BIN, else the `wsload` beside $WSEDGE_BIN (default build/wsedge).
Each mode runs briefly against wsedge and its --json object is checked; then wsload must
catch what a broken server does (a flipped echo byte, a close mid-run, a refused port) with
exit status 1, and bad command lines with exit status 2. --raw runs against an asyncio
TCP echo server. Last line: "N passed, N failed"; exit 1 if any failed.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import socket
import socketserver
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from support.server import server_binary, wsedge_server  # noqa: E402

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TESTS = []
BRIEF = ["--duration", "1", "--warmup", "0.2"]


def test(name):
    def register(fn):
        TESTS.append((name, fn))
        return fn
    return register


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def wsload_binary():
    path = os.environ.get("WSLOAD_BIN")
    if path:
        return os.path.abspath(path)
    return os.path.join(os.path.dirname(server_binary()), "wsload")


def run_wsload(args, timeout=30):
    """Runs wsload; returns (exit status, parsed JSON or None, stdout, stderr)."""
    p = subprocess.run([wsload_binary()] + args, capture_output=True, text=True,
                       timeout=timeout)
    data = None
    if "--json" in args and p.stdout.strip():
        try:
            data = json.loads(p.stdout)
        except ValueError as exc:
            raise AssertionError(f"stdout is not one JSON object ({exc}): {p.stdout!r}")
    return p.returncode, data, p.stdout, p.stderr


def check_ok(rc, data, err, what):
    check(rc == 0, f"{what}: exit {rc}, stderr: {err.strip()[-400:]}")
    check(data["errors"] == 0, f"{what}: errors {data['errors']} {data['error_kinds']}")
    check(data["error_kinds"] == {}, f"{what}: error_kinds {data['error_kinds']}")


def check_percentiles(data):
    lat = data["latency_us"]
    order = [lat["p50"], lat["p90"], lat["p99"], lat["p999"], lat["max"]]
    check(all(a <= b for a, b in zip(order, order[1:])), f"percentiles out of order: {lat}")
    check(lat["p50"] > 0, f"p50 is {lat['p50']}")
    check(lat["mean"] <= lat["max"], f"mean above max: {lat}")


FIELDS = ["mode", "url", "connections", "inflight", "size", "binary", "threads", "duration_s",
          "messages", "msgs_per_s", "mb_per_s", "errors", "error_kinds", "latency_us",
          "client_cpu_us_per_msg"]


class Env:
    srv = None  # a shared wsedge instance


# ----- the modes against wsedge ----------------------------------------------------------
@test("echo: 10 connections, JSON fields, no errors, ordered percentiles")
def _(v):
    rc, d, _, err = run_wsload(["echo", "--url", Env.srv.url("/echo"), "--connections", "10",
                                "--json", "--quiet", "--server-pid", str(Env.srv.proc.pid)]
                               + BRIEF)
    check_ok(rc, d, err, "echo")
    for f in FIELDS + ["server_cpu_us_per_msg"]:
        check(f in d, f"JSON lacks {f}: {d}")
    check(d["mode"] == "echo" and d["connections"] == 10 and d["size"] == 16, str(d))
    check(d["messages"] > 0, f"no messages: {d}")
    check(abs(d["msgs_per_s"] - d["messages"] / d["duration_s"]) < 1, "msgs_per_s != n/dur")
    check_percentiles(d)
    cpu = d["client_cpu_us_per_msg"]
    check(cpu["user"] + cpu["sys"] > 0, f"client CPU not measured: {cpu}")


@test("echo: pipelined, --inflight 8, 2 threads")
def _(v):
    rc, d, _, err = run_wsload(["echo", "--url", Env.srv.url("/"), "--connections", "10",
                                "--inflight", "8", "--threads", "2", "--json", "--quiet"]
                               + BRIEF)
    check_ok(rc, d, err, "pipelined")
    check(d["inflight"] == 8 and d["threads"] == 2 and d["messages"] > 0, str(d))
    check_percentiles(d)


@test("echo: --binary --size 65536 (frames split across reads)")
def _(v):
    rc, d, _, err = run_wsload(["echo", "--url", Env.srv.url("/"), "--connections", "4",
                                "--binary", "--size", "65536", "--json", "--quiet"] + BRIEF)
    check_ok(rc, d, err, "binary 64 KiB")
    check(d["binary"] is True and d["size"] == 65536 and d["messages"] > 0, str(d))
    check(abs(d["mb_per_s"] - d["msgs_per_s"] * 65536 / 1e6) < 0.01, "MB/s != msgs/s * size")


@test("echo: --deflate is offered, declined by wsedge, and the run is clean")
def _(v):
    rc, d, _, err = run_wsload(["echo", "--url", Env.srv.url("/"), "--connections", "2",
                                "--deflate", "--json", "--quiet", "--duration", "0.5",
                                "--warmup", "0"])
    check_ok(rc, d, err, "deflate offer")
    check(d["messages"] > 0, str(d))


@test("echo: progress lines on stderr, human summary on stdout")
def _(v):
    rc, _, out, err = run_wsload(["echo", "--url", Env.srv.url("/"), "--connections", "2",
                                  "--duration", "1.2", "--warmup", "0"])
    check(rc == 0, f"exit {rc}: {err}")
    check(re.search(r"^\[\s*1s\] msgs/s \d+ .*p99 .*errors 0$", err, re.M),
          f"no progress line: {err!r}")
    check("client CPU per msg" in out and "p99.9" in out, f"summary: {out!r}")


@test("rate: 2000 msgs/s achieved within 5%")
def _(v):
    rc, d, _, err = run_wsload(["rate", "--url", Env.srv.url("/"), "--connections", "10",
                                "--rate", "2000", "--json", "--quiet", "--duration", "1.5",
                                "--warmup", "0.3"])
    check_ok(rc, d, err, "rate")
    check(d["target_rate"] == 2000, str(d))
    check(abs(d["achieved_rate"] - 2000) <= 100, f"achieved {d['achieved_rate']}")
    check_percentiles(d)


@test("connect: handshakes per second, close handshake completes")
def _(v):
    rc, d, _, err = run_wsload(["connect", "--url", Env.srv.url("/"), "--connections", "4",
                                "--json", "--quiet"] + BRIEF)
    check_ok(rc, d, err, "connect")
    check(d["handshakes_per_s"] > 0 and d["messages"] > 0, str(d))
    check_percentiles(d)


@test("idle: 200 connections, --server-pid gives RSS per connection")
def _(v):
    with wsedge_server(["--log-level", "warn"]) as fresh:  # a heap with no freed memory
        rc, d, _, err = run_wsload(["idle", "--url", fresh.url("/"), "--connections", "200",
                                    "--json", "--quiet", "--server-pid", str(fresh.proc.pid),
                                    "--duration", "0.5", "--warmup", "0.2"])
    check_ok(rc, d, err, "idle")
    check(d["connected"] == 200, f"connected {d.get('connected')}")
    check(d.get("rss_per_conn_bytes", 0) > 0, f"rss_per_conn_bytes: {d}")


@test("ipv6: ws://[::1]:PORT/ when the server listens on ::1")
def _(v):
    if not socket.has_ipv6:
        return
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        return  # no IPv6 loopback here: nothing to test
    proc = subprocess.Popen([server_binary(), "--host", "::1", "--port", "0", "--log-level",
                             "warn"], stdout=subprocess.PIPE, text=True)
    try:
        port = re.search(r":(\d+)/$", proc.stdout.readline().strip()).group(1)
        rc, d, _, err = run_wsload(["echo", "--url", f"ws://[::1]:{port}/", "--connections",
                                    "2", "--json", "--quiet", "--duration", "0.5",
                                    "--warmup", "0"])
        check_ok(rc, d, err, "ipv6")
        check(d["messages"] > 0, str(d))
    finally:
        proc.terminate()
        proc.wait(10)


# ----- stubs that misbehave --------------------------------------------------------------
def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def accept_101(sock):
    head, rest = read_head(sock)
    if head is None:
        return None
    key = re.search(r"(?im)^sec-websocket-key:\s*(\S+)", head).group(1)
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
    return rest


def read_exact(sock, buf, n):
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(sock, buf):
    """One masked client frame -> (opcode, payload, rest) or None at EOF."""
    buf = read_exact(sock, buf, 2)
    if buf is None:
        return None
    n, hl = buf[1] & 0x7F, 2
    if n == 126:
        buf = read_exact(sock, buf, 4)
        n, hl = int.from_bytes(buf[2:4], "big"), 4
    elif n == 127:
        buf = read_exact(sock, buf, 10)
        n, hl = int.from_bytes(buf[2:10], "big"), 10
    buf = read_exact(sock, buf, hl + 4 + n)
    if buf is None:
        return None
    key = buf[hl:hl + 4]
    payload = bytes(b ^ key[i % 4] for i, b in enumerate(buf[hl + 4:hl + 4 + n]))
    return buf[0] & 0x0F, payload, buf[hl + 4 + n:]


def server_frame(opcode, payload):
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + n.to_bytes(2, "big")
    else:
        head += bytes([127]) + n.to_bytes(8, "big")
    return head + payload


class StubHandler(socketserver.BaseRequestHandler):
    """Handshakes, then misbehaves as self.server.behaviour says."""

    def handle(self):
        sock = self.request
        buf = accept_101(sock)
        if buf is None:
            return
        count = 0
        while True:
            frame = read_frame(sock, buf)
            if frame is None:
                return
            opcode, payload, buf = frame
            if opcode == 0x8:
                sock.sendall(server_frame(0x8, payload))
                return
            count += 1
            if self.server.behaviour == "flip" and count == 5 and payload:
                payload = bytes([payload[0] ^ 0x01]) + payload[1:]
            if self.server.behaviour == "stall" and count == 200:
                time.sleep(0.3)  # the client keeps sending into the socket buffers
            if self.server.behaviour == "close" and count == 5:
                sock.sendall(server_frame(0x8, b"\x03\xe9"))  # 1001 going away
                return
            sock.sendall(server_frame(opcode, payload))


class Stub(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour):
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.behaviour = behaviour
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self):
        return f"ws://127.0.0.1:{self.server_address[1]}/"


def run_against_stub(behaviour, extra=(), mode="echo"):
    stub = Stub(behaviour)
    try:
        return run_wsload([mode, "--url", stub.url(), "--connections", "2", "--json",
                           "--quiet", "--duration", "0.5", "--warmup", "0"] + list(extra))
    finally:
        stub.shutdown()
        stub.server_close()


@test("stub: the stub itself echoes correctly (control for the next cases)")
def _(v):
    rc, d, _, err = run_against_stub("good")
    check_ok(rc, d, err, "good stub")
    check(d["messages"] > 0, str(d))


@test("rate: a 300 ms server stall shows in p99 (latency from the intended send time)")
def _(v):
    rc, d, _, err = run_against_stub("stall", ["--rate", "1000", "--duration", "1"], "rate")
    check_ok(rc, d, err, "stall")
    lat = d["latency_us"]
    # ~1/4 of the window's messages were due during the stall: a closed loop would have
    # shown one slow message per connection; an open loop shows all of them.
    check(lat["p90"] >= 100_000 and lat["max"] >= 250_000, f"stall hidden: {lat}")
    check(lat["p50"] < 100_000, f"p50 {lat['p50']}: the stall should not dominate")


@test("error: one flipped echo byte -> mismatch counted, exit 1")
def _(v):
    rc, d, _, err = run_against_stub("flip")
    check(rc == 1, f"exit {rc}, expected 1")
    check(d["error_kinds"].get("mismatch", 0) >= 1, f"error_kinds {d['error_kinds']}")
    check(d["errors"] >= 1, str(d))
    check("mismatch" in err and "differs at byte 0" in err, f"stderr: {err!r}")


@test("error: server close frame mid-run -> unexpected_close, exit 1")
def _(v):
    rc, d, _, err = run_against_stub("close")
    check(rc == 1, f"exit {rc}, expected 1")
    check(d["error_kinds"].get("unexpected_close", 0) == 2, f"error_kinds {d['error_kinds']}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


@test("error: refused connection -> connect error, exit 1")
def _(v):
    rc, d, _, err = run_wsload(["echo", "--url", f"ws://127.0.0.1:{free_port()}/",
                                "--connections", "3", "--json", "--quiet"] + BRIEF)
    check(rc == 1, f"exit {rc}, expected 1")
    check(d["error_kinds"] == {"connect": 3}, f"error_kinds {d['error_kinds']}")
    check(d["messages"] == 0, str(d))


@test("error: a plain HTTP server (no 101) -> handshake error, exit 1")
def _(v):
    class NotWs(socketserver.BaseRequestHandler):
        def handle(self):
            read_head(self.request)
            self.request.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), NotWs)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        rc, d, _, err = run_wsload(["echo", "--url", f"ws://127.0.0.1:{srv.server_address[1]}/",
                                    "--connections", "2", "--json", "--quiet"] + BRIEF)
    finally:
        srv.shutdown()
        srv.server_close()
    check(rc == 1, f"exit {rc}")
    check(d["error_kinds"] == {"handshake": 2}, f"error_kinds {d['error_kinds']}")


# ----- raw TCP ---------------------------------------------------------------------------
class RawEcho:
    """An asyncio TCP echo server on its own thread; flip=True corrupts one byte."""

    def __init__(self, flip=False):
        self.flip = flip
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(5)

    async def _handle(self, reader, writer):
        seen = 0
        while data := await reader.read(65536):
            if self.flip and seen <= 100 < seen + len(data):
                i = 100 - seen
                data = data[:i] + bytes([data[i] ^ 0x80]) + data[i + 1:]
            seen += len(data)
            writer.write(data)
            await writer.drain()
        writer.close()

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@test("raw: frames echoed verbatim by a TCP echo server, clean EOF at the end")
def _(v):
    srv = RawEcho()
    try:
        rc, d, _, err = run_wsload(["echo", "--raw", "--url", f"ws://127.0.0.1:{srv.port}/",
                                    "--connections", "4", "--inflight", "4", "--json",
                                    "--quiet"] + BRIEF)
    finally:
        srv.stop()
    check_ok(rc, d, err, "raw")
    check(d["messages"] > 0, str(d))


@test("raw: one corrupted byte in the stream -> mismatch, exit 1")
def _(v):
    srv = RawEcho(flip=True)
    try:
        rc, d, _, err = run_wsload(["echo", "--raw", "--url", f"ws://127.0.0.1:{srv.port}/",
                                    "--connections", "1", "--json", "--quiet",
                                    "--duration", "0.5", "--warmup", "0"])
    finally:
        srv.stop()
    check(rc == 1, f"exit {rc}")
    check(d["error_kinds"] == {"mismatch": 1}, f"error_kinds {d['error_kinds']}")


# ----- the command line ------------------------------------------------------------------
USAGE_CASES = [
    ("no arguments", []),
    ("unknown mode", ["flood", "--url", "ws://127.0.0.1:1/"]),
    ("missing --url", ["echo"]),
    ("wss is not supported", ["echo", "--url", "wss://127.0.0.1:1/"]),
    ("host name instead of a literal", ["echo", "--url", "ws://example.com:1/"]),
    ("bad size", ["echo", "--url", "ws://127.0.0.1:1/", "--size", "many"]),
    ("zero connections", ["echo", "--url", "ws://127.0.0.1:1/", "--connections", "0"]),
    ("rate mode without --rate", ["rate", "--url", "ws://127.0.0.1:1/"]),
    ("--rate outside rate mode", ["echo", "--url", "ws://127.0.0.1:1/", "--rate", "10"]),
    ("unknown flag", ["echo", "--url", "ws://127.0.0.1:1/", "--fast"]),
    ("flag without value", ["echo", "--url"]),
    ("more threads than connections", ["echo", "--url", "ws://127.0.0.1:1/",
                                       "--connections", "2", "--threads", "3"]),
]

for name, args in USAGE_CASES:
    @test(f"usage: {name} -> exit 2, one line")
    def _(v, args=args):
        rc, _, out, err = run_wsload(args)
        check(rc == 2, f"exit {rc}, expected 2")
        check(err.count("\n") == 1 and err.startswith("wsload: "), f"stderr: {err!r}")
        check(out == "", f"stdout: {out!r}")


@test("usage: --help prints every flag, exit 0")
def _(v):
    rc, _, out, _ = run_wsload(["--help"])
    check(rc == 0, f"exit {rc}")
    for flag in ["--url", "--connections", "--inflight", "--size", "--binary", "--duration",
                 "--warmup", "--threads", "--rate", "--deflate", "--raw", "--server-pid",
                 "--json", "--quiet"]:
        check(flag in out, f"--help lacks {flag}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    passed = failed = 0
    started = time.monotonic()
    with wsedge_server(["--log-level", "warn"]) as srv:
        Env.srv = srv
        for name, fn in TESTS:
            if args.k and args.k not in name:
                continue
            t = time.monotonic()
            try:
                fn(args.v)
                passed += 1
                print(f"PASS {name} ({time.monotonic() - t:.1f}s)")
            except Exception as exc:  # noqa: BLE001 - every failure is reported
                failed += 1
                print(f"FAIL {name}: {exc}")
                if args.v:
                    traceback.print_exc()
    print(f"({time.monotonic() - started:.1f}s)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
