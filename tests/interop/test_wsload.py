#!/usr/bin/python3
"""Interop: bench/wsload against the real server, and against stubs that misbehave.

    /usr/bin/python3 tests/interop/test_wsload.py [-k WORD] [-v]

wsload is $WSLOAD_BIN, else the `wsload` beside $WSEDGE_BIN (default build/wsedge).
Each mode runs briefly against wsedge and its --json object is checked; then wsload must
catch what a broken server does (a flipped echo byte, a close mid-run, a refused port) with
exit status 1, and bad command lines with exit status 2. --raw runs against an asyncio
TCP echo server. --deflate runs against wsedge's permessage-deflate (several server
settings) and against Python stubs that compress with zlib, agree unusual parameters, send a
corrupt compressed echo or answer the offer with something RFC 7692 forbids.
Last line: "N passed, N failed"; exit 1 if any failed.
"""
import asyncio
import base64
import contextlib
import hashlib
import os
import re
import select
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from support import wsload  # noqa: E402
from support.server import server_binary, wsedge_server  # noqa: E402
from support.wsload import BRIEF, check, free_port, main, test  # noqa: E402

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def run_wsload(args, timeout=30):
    """Runs wsload; returns (exit status, parsed JSON or None, stdout, stderr)."""
    return wsload.run_wsload(args, timeout)[:4]


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


@test("echo: --send-mode single --read-size 512K, 64 KiB binary, 4 in flight, echoes intact")
def _(v):
    # Each frame in a send() of its own (4 sends per read instead of one writev), echoes read
    # into a 512 KiB buffer: every echo is still verified byte for byte against what was sent.
    rc, d, _, err = run_wsload(["echo", "--url", Env.srv.url("/"), "--connections", "3",
                                "--inflight", "4", "--binary", "--size", "64K",
                                "--send-mode", "single", "--read-size", "512K",
                                "--json", "--quiet"] + BRIEF)
    check_ok(rc, d, err, "single sends")
    check(d["send_mode"] == "single" and d["read_size"] == 524288, str(d))
    check(d["messages"] > 0 and d["size"] == 65536, str(d))


@test("echo: --send-mode single with a 1 KiB read buffer (echoes split across reads)")
def _(v):
    rc, d, _, err = run_wsload(["echo", "--url", Env.srv.url("/"), "--connections", "2",
                                "--size", "3000", "--send-mode", "single", "--read-size", "1K",
                                "--json", "--quiet"] + BRIEF)
    check_ok(rc, d, err, "1 KiB reads")
    check(d["read_size"] == 1024 and d["messages"] > 0, str(d))


@test("echo: the default is one writev per batch and a 256 KiB read buffer")
def _(v):
    rc, d, _, err = run_wsload(["echo", "--url", Env.srv.url("/"), "--connections", "2",
                                "--json", "--quiet", "--duration", "0.3", "--warmup", "0"])
    check_ok(rc, d, err, "defaults")
    check(d["send_mode"] == "gather" and d["read_size"] == 262144, str(d))


# ----- permessage-deflate against wsedge ------------------------------------------------
DEFLATE_BRIEF = ["--json", "--quiet", "--duration", "0.5", "--warmup", "0"]


def run_deflate(srv, size, extra=(), connections=3):
    """wsload --deflate against srv; checks a clean run that agreed on every connection."""
    rc, d, _, err = run_wsload(["echo", "--url", srv.url("/"), "--connections",
                                str(connections), "--deflate", "--size", str(size)]
                               + list(extra) + DEFLATE_BRIEF)
    what = f"deflate size {size} {' '.join(extra)}"
    check_ok(rc, d, err, what)
    check(d["messages"] > 0, f"{what}: no messages: {d}")
    z = d.get("deflate")
    check(z is not None, f"{what}: JSON lacks deflate: {d}")
    check(z["agreed"] == connections, f"{what}: agreed on {z['agreed']}/{connections}")
    # Every message went out compressed, and every echo was counted once.
    check(z["sent"] >= d["messages"] and z["echoes"] >= d["messages"], f"{what}: {z}")
    check(z["sent_bytes"] == z["sent"] * size, f"{what}: sent_bytes {z}")
    check(z["echo_bytes"] == z["echoes"] * size, f"{what}: echo_bytes {z}")
    return d, z


@test("deflate: wsedge defaults, text below and above --deflate-min-size, inflight 4")
def _(v):
    # Below the server's default min size (64) echoes come back plain, above compressed.
    _, z = run_deflate(Env.srv, 16, ["--inflight", "4"])
    check(z["echoes_compressed"] == 0, f"16 B echoes were compressed: {z}")
    check(z["echo_wire_bytes"] == z["echo_bytes"], f"plain echoes: wire != payload: {z}")
    _, z = run_deflate(Env.srv, 2000, ["--inflight", "4"])
    check(z["echoes_compressed"] == z["echoes"], f"2000 B echoes not all compressed: {z}")
    # Random printable ASCII carries ~6.6 bits per byte: it must shrink, in both directions.
    check(0.5 < z["sent_ratio"] < 0.95 and 0.5 < z["echo_ratio"] < 0.95, f"ratios: {z}")


@test("deflate: wsedge defaults, binary 64 KiB (compressed frames split across reads)")
def _(v):
    _, z = run_deflate(Env.srv, 65536, ["--binary", "--inflight", "2"], connections=2)
    check(z["echoes_compressed"] == z["echoes"] > 0, f"not compressed: {z}")
    # Random bytes do not compress: DEFLATE stores them, a few bytes per block more.
    check(1.0 <= z["echo_ratio"] < 1.01, f"echo_ratio: {z}")


@test("deflate: wsedge --deflate-min-size 0 --deflate-no-context-takeover --window-bits 9")
def _(v):
    with wsedge_server(["--log-level", "warn", "--deflate-min-size", "0",
                        "--deflate-no-context-takeover", "--deflate-window-bits", "9"]) as srv:
        for size, extra in [(0, []), (16, ["--inflight", "8"]),
                            (3000, ["--binary", "--inflight", "4"]),
                            (3000, ["--inflight", "4", "--threads", "2"])]:
            _, z = run_deflate(srv, size, extra, connections=4)
            check(z["echoes_compressed"] == z["echoes"] > 0, f"size {size}: {z}")


@test("deflate: wsedge --deflate-window-bits 8; wsload --deflate-no-context-takeover (cache)")
def _(v):
    with wsedge_server(["--log-level", "warn", "--deflate-min-size", "32",
                        "--deflate-window-bits", "8"]) as srv:
        for size, extra in [(16, ["--inflight", "2"]), (1000, ["--inflight", "4"]),
                            (5000, ["--binary", "--inflight", "3"])]:
            _, z = run_deflate(srv, size, ["--deflate-no-context-takeover"] + extra)
            want = 0 if size < 32 else z["echoes"]
            check(z["echoes_compressed"] == want, f"size {size}: {z}")
        # The human summary says it too.
        rc, _, out, err = run_wsload(["echo", "--url", srv.url("/"), "--connections", "2",
                                      "--deflate", "--size", "100", "--quiet",
                                      "--duration", "0.3", "--warmup", "0"])
        check(rc == 0, f"exit {rc}: {err}")
        check(re.search(r"deflate +agreed on 2 connections; sent \d+ msgs", out),
              f"summary: {out!r}")


@test("deflate: offered, declined by wsedge --deflate off, the run is clean and plain")
def _(v):
    with wsedge_server(["--log-level", "warn", "--deflate", "off"]) as srv:
        rc, d, _, err = run_wsload(["echo", "--url", srv.url("/"), "--connections", "2",
                                    "--deflate", "--size", "1000"] + DEFLATE_BRIEF)
    check_ok(rc, d, err, "deflate declined")
    check(d["messages"] > 0, str(d))
    check(d["deflate"]["agreed"] == 0 and d["deflate"]["sent"] == 0, str(d["deflate"]))


@test("deflate: no --deflate, no deflate object in the JSON (unchanged output)")
def _(v):
    rc, d, _, err = run_wsload(["echo", "--url", Env.srv.url("/"), "--connections", "2",
                                "--size", "1000"] + DEFLATE_BRIEF)
    check_ok(rc, d, err, "plain")
    check("deflate" not in d, str(d))


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


def time_wait_on(port):
    """Sockets in TIME-WAIT whose local port is `port` (the server's side)."""
    out = subprocess.run(["ss", "-Htan", "state", "time-wait", f"( sport = :{port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    return len([ln for ln in out.splitlines() if ln.strip()])


@test("connect --reset-after-close: clean cycles, and the server keeps no TIME_WAIT")
def _(v):
    counts = {}
    for flags in ([], ["--reset-after-close"]):
        with wsedge_server(["--log-level", "warn"]) as fresh:  # a port of its own
            rc, d, _, err = run_wsload(["connect", "--url", fresh.url("/"), "--connections",
                                        "4", "--json", "--quiet"] + flags + BRIEF)
            check_ok(rc, d, err, "connect " + " ".join(flags))
            check(d["messages"] > 0, str(d))
            counts[bool(flags)] = time_wait_on(urllib.parse.urlsplit(fresh.url("/")).port)
    # The server closes first (RFC 6455 §7.1.1), so a FIN from the client leaves its side
    # in TIME_WAIT; a reset after the EOF releases it.
    check(counts[False] > 0, f"graceful close left no TIME_WAIT ({counts})")
    check(counts[True] == 0, f"{counts[True]} TIME_WAIT sockets after --reset-after-close")


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


def accept_101(sock, extensions=None):
    """Answers the upgrade; extensions: a Sec-WebSocket-Extensions value to answer with."""
    head, rest = read_head(sock)
    if head is None:
        return None
    key = re.search(r"(?im)^sec-websocket-key:\s*(\S+)", head).group(1)
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    ext = f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions is not None else ""
    sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{ext}\r\n")
                 .encode())
    return rest


def read_exact(sock, buf, n):
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(sock, buf, with_rsv1=False):
    """One masked client frame -> (opcode, payload, rest) or None at EOF;
    with_rsv1: (opcode, rsv1, payload, rest)."""
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
    if with_rsv1:
        return buf[0] & 0x0F, bool(buf[0] & 0x40), payload, buf[hl + 4 + n:]
    return buf[0] & 0x0F, payload, buf[hl + 4 + n:]


def server_frame(opcode, payload, rsv1=False, fin=True):
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + n.to_bytes(2, "big")
    else:
        head += bytes([127]) + n.to_bytes(8, "big")
    return head + payload


CLOSE_REASON = b"internal detail: not for end users"


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
                # 1001 going away, with a reason a client must not show its user
                sock.sendall(server_frame(0x8, b"\x03\xe9" + CLOSE_REASON))
                # RFC 6455 §5.5.1: the client answers with a Close (echoes in flight may
                # come first); §7.1.1: then it waits for our TCP close, not closing first.
                while True:
                    frame = read_frame(sock, buf)
                    if frame is None:
                        self.server.pongs.append(("eof before a close", b""))
                        return
                    opcode, payload, buf = frame
                    if opcode == 0x8:
                        break
                sock.settimeout(0.5)
                try:
                    waited = sock.recv(1) == b"" and "closed first" or "sent more"
                except socket.timeout:
                    waited = "waited"
                self.server.pongs.append((opcode, payload, waited))
                return
            if self.server.behaviour == "ping" and count == 3:
                # RFC 6455 §5.5.2: the ping goes out before the echo, so the client's next
                # frame must be its pong (it sends nothing new before the echo arrives).
                sock.sendall(server_frame(0x9, b"are you there"))
                sock.sendall(server_frame(opcode, payload))
                pong = read_frame(sock, buf)
                if pong is None:
                    return
                self.server.pongs.append(pong[:2])
                buf = pong[2]
                continue
            if self.server.behaviour == "withhold" and count >= 3:
                continue  # reads on, never echoes again
            if self.server.behaviour == "hasty_close":
                # The echo waits 50 ms in a queue; a close frame that is already here is
                # answered first and the queued echo dropped (RFC 6455 §5.5.1 allows it;
                # libwebsockets and Python websockets do it). One message in flight: any
                # frame that is here now is a close.
                time.sleep(0.05)
                if buf or select.select([sock], [], [], 0)[0]:
                    nxt = read_frame(sock, buf)
                    if nxt is not None and nxt[0] == 0x8:
                        sock.sendall(server_frame(0x8, nxt[1]))
                    return
            sock.sendall(server_frame(opcode, payload))


class Stub(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour):
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.behaviour = behaviour
        self.pongs = []  # (opcode, payload) of what answered the "ping" behaviour's ping
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self):
        return f"ws://127.0.0.1:{self.server_address[1]}/"


def run_against_stub(behaviour, extra=(), mode="echo", seen=None):
    stub = Stub(behaviour)
    try:
        return run_wsload([mode, "--url", stub.url(), "--connections", "2", "--json",
                           "--quiet", "--duration", "0.5", "--warmup", "0"] + list(extra))
    finally:
        stub.shutdown()
        stub.server_close()
        if seen is not None:
            seen.extend(stub.pongs)


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


@test("error: server close frame mid-run -> answered with its code, unexpected_close, exit 1")
def _(v):
    answers = []
    rc, d, out, err = run_against_stub("close", seen=answers)
    check(rc == 1, f"exit {rc}, expected 1")
    check(d["error_kinds"].get("unexpected_close", 0) == 2, f"error_kinds {d['error_kinds']}")
    # Each connection's answer: a Close with the same code, and no TCP close of its own.
    check(answers == [(0x8, b"\x03\xe9", "waited")] * 2, f"answers to the close: {answers}")
    # RFC 6455 §5.5.1: a client does not show the close reason to its user.
    check(CLOSE_REASON.decode() not in err + out, f"the reason was shown: {err!r}")


@test("ping: a server's ping mid-run is answered with a pong of the same data")
def _(v):
    pongs = []
    rc, d, _, err = run_against_stub("ping", seen=pongs)
    check_ok(rc, d, err, "ping stub")
    check(pongs == [(0xA, b"are you there")] * 2, f"answers to the pings: {pongs}")


@test("end of run: echoes in flight are awaited before the close (a hasty close drops none)")
def _(v):
    t0 = time.monotonic()
    rc, d, _, err = run_against_stub("hasty_close")
    # Had wsload closed with the last message in flight, the stub would have dropped its
    # echo and every connection would count it lost (unexpected_close).
    check_ok(rc, d, err, "hasty_close")
    check(d["messages"] >= 5, f"{d['messages']} messages: 50 ms each, 2 connections, 0.5 s")
    check(time.monotonic() - t0 < 5, "the drain should end with the last echo, not time out")


@test("end of run: an echo still owed after the 2 s drain is counted lost, exit 1")
def _(v):
    t0 = time.monotonic()
    rc, d, _, err = run_against_stub("withhold")
    elapsed = time.monotonic() - t0
    check(rc == 1, f"exit {rc}, expected 1")
    check(d["error_kinds"] == {"unexpected_close": 2}, f"error_kinds {d['error_kinds']}")
    check("EOF with 1 echoes outstanding" in err, f"stderr: {err!r}")
    check(2.0 <= elapsed < 8, f"{elapsed:.1f} s: the drain waits 2 s, then closes")


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



def serve_once(handler_fn):
    """A threaded TCP server running handler_fn(sock) per connection; returns it started."""
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            handler_fn(self.request)

    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def answer_101(sock, head, extra=""):
    key = re.search(r"(?im)^sec-websocket-key:\s*(\S+)", head).group(1)
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{extra}\r\n")
                 .encode())


@test("handshake: wsload sends no frame before the 101 arrives (RFC 6455 §4.1)")
def _(v):
    early = []

    def late_101(sock):
        head, rest = read_head(sock)
        if head is None:
            return
        # 300 ms with the request answered by nothing: a client that did not wait would
        # have sent its first frames by now.
        readable = select.select([sock], [], [], 0.3)[0]
        early.append(len(rest) + (len(sock.recv(65536)) if readable else 0))
        answer_101(sock, head)
        buf = b""
        while True:  # then a plain echo until the client's close
            frame = read_frame(sock, buf)
            if frame is None:
                return
            opcode, payload, buf = frame
            sock.sendall(server_frame(opcode, payload))
            if opcode == 0x8:
                return

    srv = serve_once(late_101)
    try:
        rc, d, _, err = run_wsload(["echo", "--url", f"ws://127.0.0.1:{srv.server_address[1]}/",
                                    "--connections", "2", "--json", "--quiet", "--duration",
                                    "0.5", "--warmup", "0"])
    finally:
        srv.shutdown()
        srv.server_close()
    check_ok(rc, d, err, "late 101")
    check(len(early) == 2 and early == [0, 0], f"bytes before the 101: {early}")
    check(d["messages"] > 0, str(d))


@test("handshake: a 101 naming a subprotocol wsload did not offer -> handshake error, exit 1")
def _(v):
    def with_protocol(sock):
        head, _ = read_head(sock)
        if head is not None:
            answer_101(sock, head, "Sec-WebSocket-Protocol: chat\r\n")

    srv = serve_once(with_protocol)
    try:
        rc, d, _, err = run_wsload(["echo", "--url", f"ws://127.0.0.1:{srv.server_address[1]}/",
                                    "--connections", "2", "--json", "--quiet"] + BRIEF)
    finally:
        srv.shutdown()
        srv.server_close()
    check(rc == 1, f"exit {rc}")
    check(d["error_kinds"] == {"handshake": 2}, f"error_kinds {d['error_kinds']}")
    check("subprotocol not offered" in err, f"stderr: {err!r}")

# ----- permessage-deflate stubs ----------------------------------------------------------
TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1: removed by the sender, restored by the receiver


class DeflateStubHandler(socketserver.BaseRequestHandler):
    """Agrees permessage-deflate with the server's `answer`, inflates each client message
    with zlib under the agreed client window (so a client that ignores the agreement fails
    here), and echoes it compressed under the server's, or as `behaviour` says."""

    def handle(self):
        try:
            self.serve()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass  # wsload hangs up on an echo it has refused: expected in the error cases

    def serve(self):
        srv = self.server
        sock = self.request
        buf = accept_101(sock, srv.answer)
        if buf is None:
            return
        inflater = zlib.decompressobj(-srv.client_bits)
        deflater = zlib.compressobj(6, zlib.DEFLATED, -srv.server_bits)
        count = 0
        while True:
            frame = read_frame(sock, buf, with_rsv1=True)
            if frame is None:
                return
            opcode, rsv1, payload, buf = frame
            if opcode == 0x8:
                sock.sendall(server_frame(0x8, payload))
                # A pong to a ping sent just before may still be on its way: closing with
                # it unread would send a RST, and wsload would count a reset. Drain to EOF.
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(3)
                while sock.recv(65536):
                    pass
                return
            if opcode == 0xA:  # the answer to the "fragment" behaviour's ping
                if payload != b"mid-message ping":
                    srv.problems.append(f"pong with {payload!r}")
                continue
            if rsv1:
                try:
                    if srv.client_no_context_takeover:
                        inflater = zlib.decompressobj(-srv.client_bits)
                    message = inflater.decompress(payload + TAIL)
                except zlib.error as exc:
                    srv.problems.append(f"client message does not inflate: {exc}")
                    return
            elif srv.answer is None:
                message = payload  # not agreed: plain in, but compressed out all the same
            else:
                srv.problems.append("an uncompressed client message")
                return
            count += 1
            if srv.behaviour == "corrupt" and count == 5:
                # BFINAL=1, BTYPE=11: a reserved block type (RFC 1951 §3.2.3), never valid.
                sock.sendall(server_frame(opcode, b"\xff\xff\xff\xff", rsv1=True))
                continue
            data = deflater.compress(message) + deflater.flush(zlib.Z_SYNC_FLUSH)
            # "keep": claims server_no_context_takeover but lets later echoes refer to earlier
            # ones, which wsload's inflater (reset per message) must refuse.
            if srv.server_no_context_takeover and srv.behaviour != "keep":
                deflater = zlib.compressobj(6, zlib.DEFLATED, -srv.server_bits)
            body = data[:-4]  # RFC 7692 §7.2.1: without the 00 00 ff ff tail
            if srv.behaviour == "fragment" and len(body) > 1:
                # RFC 7692 §6.1: RSV1 on the first frame of the message only.
                half = len(body) // 2
                sock.sendall(server_frame(opcode, body[:half], rsv1=True, fin=False)
                             + server_frame(0x9, b"mid-message ping")
                             + server_frame(0x0, body[half:]))
            else:
                sock.sendall(server_frame(opcode, body, rsv1=True))


class DeflateStub(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, answer, behaviour="good"):
        super().__init__(("127.0.0.1", 0), DeflateStubHandler)
        self.answer = answer
        self.behaviour = behaviour
        self.problems = []
        params = dict(re.findall(r';\s*([a-z_]+)(?:="?(\d+)"?)?', answer or ""))
        # Clamped: the answers that wsload must refuse have values zlib refuses too.
        self.client_bits = min(15, max(8, int(params.get("client_max_window_bits") or 15)))
        # zlib compresses with 9 at least; its distances still fit 8 (see ws/deflate.cpp).
        self.server_bits = min(15, max(9, int(params.get("server_max_window_bits") or 15)))
        self.client_no_context_takeover = "client_no_context_takeover" in params
        self.server_no_context_takeover = "server_no_context_takeover" in params
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self):
        return f"ws://127.0.0.1:{self.server_address[1]}/"


def run_against_deflate_stub(answer, behaviour="good", extra=()):
    stub = DeflateStub(answer, behaviour)
    try:
        result = run_wsload(["echo", "--url", stub.url(), "--connections", "2", "--deflate",
                             "--size", "3000", "--inflight", "3"] + DEFLATE_BRIEF
                            + list(extra))
    finally:
        stub.shutdown()
        stub.server_close()
    return result + (stub.problems,)


@test("deflate stub: client window 9, client_no_context_takeover, fragmented echoes")
def _(v):
    answer = ("permessage-deflate; client_no_context_takeover; server_max_window_bits=10; "
              "client_max_window_bits=9")
    for behaviour, extra in [("good", []), ("fragment", ["--binary"])]:
        rc, d, _, err, problems = run_against_deflate_stub(answer, behaviour, extra)
        check(not problems, f"{behaviour}: the stub saw {problems[:3]}")
        check_ok(rc, d, err, behaviour)
        z = d["deflate"]
        check(z["agreed"] == 2 and z["echoes_compressed"] == z["echoes"] > 0, str(z))


@test("deflate stub: client window 9 with context takeover (per-connection deflater)")
def _(v):
    rc, d, _, err, problems = run_against_deflate_stub(
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=9")
    check(not problems, f"the stub saw {problems[:3]}")
    check_ok(rc, d, err, "window 9")
    check(d["deflate"]["echoes_compressed"] > 0, str(d["deflate"]))


@test("deflate stub: a corrupt compressed echo -> protocol error, exit 1")
def _(v):
    rc, d, _, err, _ = run_against_deflate_stub("permessage-deflate", "corrupt")
    check(rc == 1, f"exit {rc}, expected 1")
    check(d["error_kinds"] == {"protocol": 2}, f"error_kinds {d['error_kinds']}")
    check("does not inflate" in err, f"stderr: {err!r}")


@test("deflate stub: echoes that break server_no_context_takeover are caught")
def _(v):
    rc, d, _, err, _ = run_against_deflate_stub(
        "permessage-deflate; server_no_context_takeover", "keep", ["--size", "20000"])
    check(rc == 1, f"exit {rc}, expected 1")
    check(d["errors"] >= 1 and set(d["error_kinds"]) <= {"protocol", "mismatch"},
          f"error_kinds {d['error_kinds']}")


@test("deflate stub: RSV1 on an echo when deflate was not agreed -> protocol error")
def _(v):
    rc, d, _, err, _ = run_against_deflate_stub(None)
    check(rc == 1, f"exit {rc}, expected 1")
    check(d["error_kinds"] == {"protocol": 2}, f"error_kinds {d['error_kinds']}")
    check(d["deflate"]["agreed"] == 0, str(d["deflate"]))


# RFC 7692 §7 (and RFC 6455 §4.1 item 5): answers a client MUST fail the connection on.
BAD_ANSWERS = [
    ("a parameter that was not offered", "permessage-deflate; mystery_param"),
    ("server_max_window_bits=7", "permessage-deflate; server_max_window_bits=7"),
    ("server_max_window_bits=08 (leading zero)", "permessage-deflate; server_max_window_bits=08"),
    ("server_max_window_bits without a value", "permessage-deflate; server_max_window_bits"),
    ("client_max_window_bits without a value", "permessage-deflate; client_max_window_bits"),
    ("client_max_window_bits=16", "permessage-deflate; client_max_window_bits=16"),
    ("server_no_context_takeover with a value",
     "permessage-deflate; server_no_context_takeover=1"),
    ("the same parameter twice",
     "permessage-deflate; client_no_context_takeover; client_no_context_takeover"),
    ("permessage-deflate twice", "permessage-deflate, permessage-deflate"),
    ("an extension that was not offered", "x-webkit-deflate-frame"),
    ("a malformed list", "permessage-deflate; ="),
]

for name, answer in BAD_ANSWERS:
    @test(f"deflate stub: answer with {name} -> handshake error, exit 1")
    def _(v, answer=answer):
        rc, d, _, err, _ = run_against_deflate_stub(answer)
        check(rc == 1, f"exit {rc}, expected 1")
        check(d["error_kinds"] == {"handshake": 2}, f"error_kinds {d['error_kinds']}")
        check(d["messages"] == 0 and d["deflate"]["agreed"] == 0, str(d))


@test("deflate stub: quoted values and unasked server parameters are accepted")
def _(v):
    rc, d, _, err, problems = run_against_deflate_stub(
        'permessage-deflate; server_max_window_bits="12"; client_max_window_bits=10; '
        "server_no_context_takeover")
    check(not problems, f"the stub saw {problems[:3]}")
    check_ok(rc, d, err, "quoted")
    check(d["deflate"]["agreed"] == 2, str(d["deflate"]))


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
    ("a scheme other than ws:// or wss://", ["echo", "--url", "http://127.0.0.1:1/"]),
    ("host name instead of a literal", ["echo", "--url", "ws://example.com:1/"]),
    ("bad size", ["echo", "--url", "ws://127.0.0.1:1/", "--size", "many"]),
    ("zero connections", ["echo", "--url", "ws://127.0.0.1:1/", "--connections", "0"]),
    ("rate mode without --rate", ["rate", "--url", "ws://127.0.0.1:1/"]),
    ("--rate outside rate mode", ["echo", "--url", "ws://127.0.0.1:1/", "--rate", "10"]),
    ("unknown flag", ["echo", "--url", "ws://127.0.0.1:1/", "--fast"]),
    ("flag without value", ["echo", "--url"]),
    ("more threads than connections", ["echo", "--url", "ws://127.0.0.1:1/",
                                       "--connections", "2", "--threads", "3"]),
    ("--deflate-no-context-takeover without --deflate",
     ["echo", "--url", "ws://127.0.0.1:1/", "--deflate-no-context-takeover"]),
    ("--send-mode other than gather or single",
     ["echo", "--url", "ws://127.0.0.1:1/", "--send-mode", "batch"]),
    ("--send-mode without a value", ["echo", "--url", "ws://127.0.0.1:1/", "--send-mode"]),
    ("--send-mode single with --deflate",
     ["echo", "--url", "ws://127.0.0.1:1/", "--send-mode", "single", "--deflate"]),
    ("--read-size below 1K", ["echo", "--url", "ws://127.0.0.1:1/", "--read-size", "512"]),
    ("--read-size above 64M", ["echo", "--url", "ws://127.0.0.1:1/", "--read-size", "65M"]),
    ("--read-size not a number", ["echo", "--url", "ws://127.0.0.1:1/", "--read-size", "big"]),
    ("--reset-after-close outside connect mode",
     ["echo", "--url", "ws://127.0.0.1:1/", "--reset-after-close"]),
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
                 "--warmup", "--threads", "--rate", "--deflate", "--deflate-no-context-takeover",
                 "--raw", "--reset-after-close", "--send-mode", "--read-size", "--server-pid",
                 "--json", "--quiet"]:
        check(flag in out, f"--help lacks {flag}")


@contextlib.contextmanager
def servers():
    """The wsedge instance most tests share (Env.srv)."""
    with wsedge_server(["--log-level", "warn"]) as srv:
        Env.srv = srv
        yield


if __name__ == "__main__":
    sys.exit(main(servers))
