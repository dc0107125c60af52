"""The server's --trace (docs/trace.md): what wsedge prints on stderr for a traced connection.

Drives wsedge over raw sockets (so every byte and masking key is known and the expected
lines can be computed here) and with python3-websockets (a real client's handshake and
compressed frames), then reads the trace lines of stderr: the handshake step by step (the
accept key recomputed here), a text frame field by field, a fragmented message with a ping
in the middle, a compressed message's sizes, the close handshake, a protocol error (the
rule, its byte offset, 1002), --trace=hex dumps, and --trace-filter choosing one of two
connections. Bad --trace / --trace-filter values exit 2. Every server listens on a free
port. Run with Debian's /usr/bin/python3; prints "N passed, N failed" last.
"""
import asyncio
import base64
import hashlib
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support.raw_ws import GUID, close_body, frame, mask_bytes, ws_key  # noqa: E402
from support.server import server_binary, wsedge_server  # noqa: E402
from support.cases import case, finish  # noqa: E402



def wait_for(srv, pattern, timeout=5.0):
    """The server's stderr once `pattern` (a regex) appears in it."""
    deadline = time.monotonic() + timeout
    while True:
        text = srv.stderr_text()
        if re.search(pattern, text, re.M):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"no line matching {pattern!r} in stderr:\n{text[-3000:]}")
        time.sleep(0.02)


def lines_of(text, conn):
    """The trace lines of connection `conn` ("c1"), without their prefix "c1 X "."""
    return [ln for ln in text.splitlines() if ln.startswith(conn + " ")]


def expect_lines(text, expected):
    """Each expected line appears in `text`, in this order."""
    all_lines = text.splitlines()
    at = 0
    for want in expected:
        try:
            at = all_lines.index(want, at) + 1
        except ValueError:
            raise AssertionError(f"missing (in order) {want!r} in:\n" + "\n".join(all_lines[-80:]))


def hexs(b):
    return " ".join(f"{x:02x}" for x in b)


class Raw:
    """One raw-socket WebSocket client: the upgrade, then frames as bytes."""

    def __init__(self, srv, path="/echo", extra=b"", source=None, cuts=()):
        """`cuts`: offsets in the head where it is sent in separate pieces (a pause each)."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source:
            self.sock.bind((source, 0))
        self.sock.settimeout(5)
        self.sock.connect((srv.host, srv.port))
        self.key = ws_key()
        head = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n"
                f"Sec-WebSocket-Version: 13\r\n".encode() + extra + b"\r\n")
        self.head_sent = head
        at = 0
        for cut in list(cuts) + [len(head)]:
            self.sock.sendall(head[at:cut])
            at = cut
            if at < len(head):
                time.sleep(0.15)  # the server reads each piece on its own
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        self.head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert self.head.startswith(b"HTTP/1.1 101"), self.head

    def send(self, data):
        self.sock.sendall(data)

    def recv_bytes(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def close(self):
        self.sock.close()


KEY = bytes([0x01, 0x02, 0x03, 0x04])


@case("the handshake: the head as received, each check, the accept key step by step, the 101")
def _():
    with wsedge_server(["--trace", "--subprotocol", "chat"]) as srv:
        c = Raw(srv, extra=b"Sec-WebSocket-Protocol: superchat, chat\r\n")
        text = wait_for(srv, r"^c1 \* 101 sent")
        c.close()
        mine = lines_of(text, "c1")
        assert mine[0].startswith("c1 * connection from 127.0.0.1:"), mine[0]
        digest = hashlib.sha1(c.key.encode() + GUID).digest()
        accept = base64.b64encode(digest).decode()
        expect_lines(text, [
            "c1 > GET /echo HTTP/1.1",
            f"c1 > Sec-WebSocket-Key: {c.key}",
            "c1 * check RFC 6455 §4.2.1 item 1: method GET: GET - ok",
            "c1 * check RFC 6455 §4.2.1 item 3: Upgrade holds \"websocket\": yes - ok",
            f"c1 * check RFC 6455 §4.2.1 item 5: the key is 16 bytes in base64: key {c.key} - ok",
            "c1 * check RFC 6455 §4.2.1 item 6: Sec-WebSocket-Version 13: version 13 - ok",
            f"c1 * accept key: Sec-WebSocket-Key \"{c.key}\"",
            "c1 *   + GUID \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\" (RFC 6455 §1.3)",
            f"c1 *   SHA-1 = {digest.hex()}",
            f"c1 *   base64 = \"{accept}\" (Sec-WebSocket-Accept)",
            "c1 * subprotocol: offered \"superchat, chat\"; chosen \"chat\"",
            "c1 * extensions: none offered",
            "c1 < HTTP/1.1 101 Switching Protocols",
            f"c1 < Sec-WebSocket-Accept: {accept}",
            "c1 < Sec-WebSocket-Protocol: chat",
        ])
        assert f"Sec-WebSocket-Accept: {accept}".encode() in c.head


@case("a refused handshake: the failed check with its status, no WebSocket")
def _():
    with wsedge_server(["--trace"]) as srv:
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        s.sendall(f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {ws_key()}\r\n"
                  f"Sec-WebSocket-Version: 8\r\n\r\n".encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 426"), "426 expected"
        s.close()
        text = wait_for(srv, r"^c1 \* handshake refused")
        assert re.search(r"^c1 \* check RFC 6455 §4\.2\.1 item 6: Sec-WebSocket-Version 13: "
                         r"version 8 - FAILED: 426 ", text, re.M), text
        assert "c1 < HTTP/1.1 426" in text
        assert "Origin accepted" not in text  # nothing is checked after the first failure


@case("a text frame, field by field, both ways")
def _():
    with wsedge_server(["--trace"]) as srv:
        c = Raw(srv)
        c.send(frame(0x1, b"Hello", key=KEY))
        assert c.recv_bytes(7) == b"\x81\x05Hello"
        text = wait_for(srv, r"^c1 <   message 1: whole")
        c.close()
        expect_lines(text, [
            "c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=1 length=5 (7-bit field)",
            "c1 >   masking key: 01 02 03 04",
            "c1 >   payload masked:   " + hexs(mask_bytes(KEY, b"Hello")),
            "c1 >   payload unmasked: \"Hello\"",
            "c1 >   message 1: whole (one frame)",
            "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=0 length=5 (7-bit field)",
            "c1 <   payload: \"Hello\"",
            "c1 <   message 1: whole (one frame)",
        ])


@case("a 200-byte binary frame in two reads: the 7+16-bit form, the wire bytes, a cut preview")
def _():
    with wsedge_server(["--trace", "--deflate", "off"]) as srv:
        c = Raw(srv)
        payload = bytes(range(200))
        wire = frame(0x2, payload, key=KEY)
        # The server unmasks the first 50 payload bytes in place when they arrive; the trace
        # must still show them as they came.
        c.send(wire[:58])
        time.sleep(0.2)
        c.send(wire[58:])
        assert len(c.recv_bytes(204)) == 204
        text = wait_for(srv, r"^c1 <   message 1: whole")
        c.close()
        expect_lines(text, [
            "c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x2 (binary) MASK=1 length=200 "
            "(7+16 bits: 126, then 2 bytes)",
            "c1 >   payload masked:   " + hexs(wire[8:40]),
            "c1 >   payload unmasked: " + hexs(payload[:32]) + " ... (first 32 of 200 bytes)",
        ])


@case("a fragmented message with a ping in the middle: first/middle/last of message 2")
def _():
    with wsedge_server(["--trace"]) as srv:
        c = Raw(srv)
        c.send(frame(0x1, b"one", key=KEY))
        c.send(frame(0x1, b"spl", fin=False, key=KEY) + frame(0x9, b"ping!", key=KEY)
               + frame(0x0, b"it", fin=False, key=KEY) + frame(0x0, b" me", key=KEY))
        assert c.recv_bytes(5) == b"\x81\x03one"
        assert c.recv_bytes(7) == b"\x8a\x05ping!"
        assert c.recv_bytes(10) == b"\x81\x08split me"
        text = wait_for(srv, r"^c1 <   message 2: whole")
        c.close()
        expect_lines(text, [
            "c1 > frame FIN=0 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=1 length=3 (7-bit field)",
            "c1 >   message 2: first fragment",
            "c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x9 (ping) MASK=1 length=5 (7-bit field)",
            "c1 >   payload unmasked: \"ping!\"",
            "c1 >   control frame, between fragments of message 2",
            "c1 > frame FIN=0 RSV1=0 RSV2=0 RSV3=0 opcode=0x0 (continuation) MASK=1 length=2 "
            "(7-bit field)",
            "c1 >   payload unmasked: \"it\"",
            "c1 >   message 2: middle fragment",
            "c1 >   message 2: last fragment",
            # The answers come after the whole read is shown: the pong, then the echo.
            "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0xa (pong) MASK=0 length=5 (7-bit field)",
            "c1 <   payload: \"ping!\"",
            "c1 <   payload: \"split me\"",
            "c1 <   message 2: whole (one frame)",
        ])


@case("a compressed message (python3-websockets, permessage-deflate): both sizes each way")
def _():
    import websockets  # Debian 12's 10.4: the asyncio client

    async def echo(url, msg):
        async with websockets.connect(url, compression="deflate") as ws:
            await ws.send(msg)
            return await asyncio.wait_for(ws.recv(), 5)

    with wsedge_server(["--trace", "--deflate-min-size", "1"]) as srv:
        msg = "hello deflate " * 15
        assert asyncio.run(echo(srv.url("/echo"), msg)) == msg
        text = wait_for(srv, r"^c1 \* closed:")
        assert re.search(r"^c1 \* extensions: offered \"permessage-deflate[^\"]*\"; agreed "
                         r"\"permessage-deflate[^\"]*\"$", text, re.M), text
        ins = re.findall(r"^c1 >   message 1 permessage-deflate: (\d+) bytes compressed, (\d+) "
                         r"inflated \(RFC 7692 §6\.2\)$", text, re.M)
        outs = re.findall(r"^c1 <   permessage-deflate: (\d+) bytes compressed, (\d+) inflated$",
                          text, re.M)
        assert ins and int(ins[0][1]) == len(msg) and int(ins[0][0]) < len(msg), ins
        assert outs and int(outs[0][1]) == len(msg), outs
        assert re.search(r"^c1 > frame FIN=1 RSV1=1 .* opcode=0x1 \(text\) MASK=1", text, re.M)
        assert re.search(r"^c1 < frame FIN=1 RSV1=1 .* opcode=0x1 \(text\) MASK=0", text, re.M)


@case("the close handshake: who started, both codes, how TCP closed")
def _():
    with wsedge_server(["--trace"]) as srv:
        c = Raw(srv)
        c.send(frame(0x8, close_body(1000, b"bye"), key=KEY))
        assert c.recv_bytes(4) == b"\x88\x02\x03\xe8"
        text = wait_for(srv, r"^c1 \* closed:")
        c.close()
        expect_lines(text, [
            "c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x8 (close) MASK=1 length=5 (7-bit field)",
            "c1 >   close code 1000 (normal closure), reason \"bye\"",
            "c1 * close handshake: the client starts it with 1000 (normal closure); the server "
            "answers with the same code (RFC 6455 §5.5.1)",
            "c1 <   close code 1000 (normal closure), no reason",
        ])
        assert re.search(r"^c1 \* TCP: the server closes first \(RFC 6455 §7\.1\.1\).*FIN", text,
                         re.M), text
        assert re.search(r"^c1 \* closed: the client started the close handshake; server sent "
                         r"1000 \(normal closure\), client sent 1000 \(normal closure\); TCP: "
                         r"the server closed first: its last bytes, then FIN at once", text,
                         re.M), text


@case("a close the server starts (graceful stop): 1001, then the client's answer")
def _():
    with wsedge_server(["--trace"]) as srv:
        c = Raw(srv)
        wait_for(srv, r"^c1 \* 101 sent")
        got = []

        def answer():  # the client's side while the server stops
            got.append(c.recv_bytes(24))
            c.send(frame(0x8, close_body(1001), key=KEY))

        t = threading.Thread(target=answer)
        t.start()
        problem = srv.stop()  # SIGTERM: close 1001 to every WebSocket, exit 0 once closed
        t.join(5)
        c.close()
        assert problem is None, problem
        assert got and got[0][:2] == b"\x88\x16" and got[0][2:4] == b"\x03\xe9", got
        text = srv.stderr_text()
        assert re.search(r"^c1 \* close handshake: the server starts it with 1001 \(going away\)",
                         text, re.M), text
        assert re.search(r"^c1 \* close handshake complete: the server started it with 1001 "
                         r"\(going away\), the client answered with 1001 \(going away\)", text,
                         re.M), text
        # The client's answer was its last byte: nothing unread can turn a close into a RST.
        assert re.search(r"^c1 \* closed: the server started the close handshake; .*; TCP: the "
                         r"server closed first: its last bytes, then FIN at once", text, re.M), text


def closed_line(text, conn="c1"):
    m = re.search(rf"^{conn} \* closed: .*$", text, re.M)
    assert m, text
    return m.group(0)


@case("how TCP ended: the client goes without a close frame (EOF) -> 1006, the client's FIN")
def _():
    with wsedge_server(["--trace"]) as srv:
        c = Raw(srv)
        wait_for(srv, r"^c1 \* 101 sent")
        c.sock.shutdown(socket.SHUT_WR)
        line = closed_line(wait_for(srv, r"^c1 \* closed:"))
        c.close()
        assert "TCP ended with no close handshake (RFC 6455 §7.1.5: 1006)" in line, line
        assert line.endswith("TCP: the client closed first (its FIN arrived while the server "
                             "was not closing)"), line


@case("how TCP ended: the client resets the connection (SO_LINGER 0) -> a reset")
def _():
    with wsedge_server(["--trace"]) as srv:
        c = Raw(srv)
        wait_for(srv, r"^c1 \* 101 sent")
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # RST, not FIN
        line = closed_line(wait_for(srv, r"^c1 \* closed:"))
        assert line.endswith("TCP: the client reset the connection (RST) or the socket failed"), \
            line


@case("how TCP ended: the client never sends its FIN after a failure -> the linger expires")
def _():
    with wsedge_server(["--trace", "--close-grace", "0.3"]) as srv:
        c = Raw(srv)
        c.send(frame(0x1, b"hi", mask=False))  # §5.1: 1002, then the server half-closes
        assert c.recv_bytes(4)[:2] == b"\x88\x19"
        assert c.sock.recv(100) == b""  # the server's FIN, and we keep our side open
        line = closed_line(wait_for(srv, r"^c1 \* closed:", timeout=5))
        c.close()
        assert line.startswith("c1 * closed: the server failed the connection; server sent 1002"), \
            line
        assert line.endswith("the client's FIN did not come within the linger, so the server "
                             "closed"), line


def shown(b):
    """Bytes as the trace escapes them: CR and LF as \\r and \\n."""
    return b.decode().replace("\r", "\\r").replace("\n", "\\n")


@case("the head in pieces: each read of an incomplete head, then the head whole")
def _():
    with wsedge_server(["--trace"]) as srv:
        c = Raw(srv, cuts=(10, 40))
        text = wait_for(srv, r"^c1 \* 101 sent")
        c.close()
        head = c.head_sent
        expect_lines(text, [
            "c1 * the head came in 3 reads; HttpSession::on_data kept each incomplete part and "
            "parsed again when more arrived (RFC 9112 §2.2)",
            'c1 *   read 1: bytes 0-9 "GET /echo "',
            'c1 *   read 2: bytes 10-39 "' + shown(head[10:40]) + '"',
            f'c1 *   read 3: bytes 40-{len(head) - 1} "' + shown(head[40:80]) +
            '"...: the blank line, the head is whole',
            "c1 > GET /echo HTTP/1.1",
        ])


@case("a head in one read has no read lines")
def _():
    with wsedge_server(["--trace"]) as srv:
        c = Raw(srv)
        text = wait_for(srv, r"^c1 \* 101 sent")
        c.close()
        assert "the head came in" not in text, text


@case("a protocol error: an unmasked frame -> the rule, its byte offset, close 1002")
def _():
    with wsedge_server(["--trace"]) as srv:
        c = Raw(srv)
        first = frame(0x1, b"ok", key=KEY)  # 8 bytes: the bad frame starts at byte 8
        c.send(first + frame(0x1, b"hi", mask=False))
        assert c.recv_bytes(4) == b"\x81\x02ok"
        got = c.recv_bytes(27)
        assert got[:4] == b"\x88\x19\x03\xea", got
        text = wait_for(srv, r"^c1 \* the server fails")
        c.close()
        offset = len(first) + 1  # the MASK bit is in the frame's second byte
        expect_lines(text, [
            "c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=0 length=2 (7-bit field)",
            f"c1 > protocol error: kUnmaskedFrame (RFC 6455 §5.1): client frame not masked, at "
            f"byte {offset}; close 1002 (protocol error) sent",
            "c1 <   close code 1002 (protocol error), reason \"client frame not masked\"",
        ])
        assert re.search(r"^c1 \* TCP: the server half-closes", text, re.M), text
        # The client's FIN (c.close()) ends the linger: the clean close of §7.1.1.
        assert closed_line(wait_for(srv, r"^c1 \* closed:")).endswith(
            "TCP: the server closed first: its last bytes, a half-close (FIN), the client's FIN "
            "in answer, then the close"), srv.stderr_text()


@case("a protocol error mid-payload: invalid UTF-8 -> the byte it is at, 1007")
def _():
    with wsedge_server(["--trace"]) as srv:
        c = Raw(srv)
        c.send(frame(0x1, b"ab\xff", key=KEY))
        got = c.recv_bytes(4)
        assert got[:4] == b"\x88\x0f\x03\xef", got
        text = wait_for(srv, r"^c1 > protocol error")
        c.close()
        # The header (6 bytes) then "ab": the invalid byte is byte 8 of the stream.
        assert "c1 > protocol error: kInvalidUtf8 (RFC 6455 §8.1): invalid UTF-8, at byte 8; " \
               "close 1007 (invalid payload data) sent" in text, text


@case("--trace=hex: each frame's bytes dumped")
def _():
    with wsedge_server(["--trace=hex"]) as srv:
        c = Raw(srv)
        wire = frame(0x1, b"Hello", key=KEY)
        c.send(wire)
        assert c.recv_bytes(7) == b"\x81\x05Hello"
        text = wait_for(srv, r"^c1 <   0000  81 05")
        c.close()
        # 16 bytes a row, a gap after the eighth, then the printable ASCII.
        assert re.search(r"^c1 >   0000  81 85 01 02 03 04 49 67  6f 68 6e +\.{6}Igohn$",
                         text, re.M), text
        assert wire[6:] == b"Igohn"
        assert re.search(r"^c1 <   0000  81 05 48 65 6c 6c 6f +\.\.Hello$", text, re.M), text


@case("--trace-filter path=/traced: one connection of two is traced")
def _():
    with wsedge_server(["--trace-filter", "path=/traced"]) as srv:
        a = Raw(srv, path="/other")
        b = Raw(srv, path="/traced")
        for c in (a, b):
            c.send(frame(0x1, b"x", key=KEY))
            assert c.recv_bytes(3) == b"\x81\x01x"
        text = wait_for(srv, r"^c2 <   message 1")
        a.close()
        b.close()
        assert not lines_of(text, "c1"), lines_of(text, "c1")
        assert "c2 > GET /traced HTTP/1.1" in text


@case("--trace-filter peer=127.0.0.2: only the connection from that address")
def _():
    with wsedge_server(["--trace-filter", "peer=127.0.0.2"]) as srv:
        a = Raw(srv)
        b = Raw(srv, source="127.0.0.2")
        for c in (a, b):
            c.send(frame(0x1, b"x", key=KEY))
            assert c.recv_bytes(3) == b"\x81\x01x"
        text = wait_for(srv, r"^c2 <   message 1")
        a.close()
        b.close()
        assert not lines_of(text, "c1"), lines_of(text, "c1")
        assert re.search(r"^c2 \* connection from 127\.0\.0\.2:\d+", text, re.M), text


@case("no --trace: no trace lines at all")
def _():
    with wsedge_server([]) as srv:
        c = Raw(srv)
        c.send(frame(0x1, b"x", key=KEY))
        assert c.recv_bytes(3) == b"\x81\x01x"
        c.close()
        time.sleep(0.1)
        assert not re.search(r"^c\d+ ", srv.stderr_text(), re.M)


BAD = [
    (["--trace=loud"], "--trace"),
    (["--trace="], "--trace"),
    (["--trace-filter"], "--trace-filter: missing value"),
    (["--trace-filter", ""], "--trace-filter"),
    (["--trace-filter", "host=x"], "--trace-filter: unknown key"),
    (["--trace-filter", "path"], "--trace-filter"),
    (["--trace-filter", "path=echo"], "--trace-filter: path"),
    (["--trace-filter", "peer="], "--trace-filter"),
    (["--trace-filter", "path=/a,"], "--trace-filter"),
]


@case("bad --trace and --trace-filter values exit 2 with one line naming the flag")
def _():
    for args, needle in BAD:
        r = subprocess.run([server_binary(), "--port", "0", *args], capture_output=True,
                           text=True, timeout=10, stdin=subprocess.DEVNULL)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert needle in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)


@case("--help lists --trace, --trace=hex and --trace-filter")
def _():
    r = subprocess.run([server_binary(), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    for flag in ["--trace ", "--trace=hex", "--trace-filter"]:
        assert flag in r.stdout, flag


finish()
