#!/usr/bin/python3
"""Keeps the `--trace` output quoted in the docs true: each quoted trace is captured again from
the server and compared with the page, line by line.

    /usr/bin/python3 tests/docs/check_traces.py            # check (make test runs this)
    /usr/bin/python3 tests/docs/check_traces.py --update   # capture again and rewrite the pages
    /usr/bin/python3 tests/docs/check_traces.py --show NAME  # print one scenario's trace

A quoted trace in docs/GUIDE.md or docs/trace.md is a fenced block between two markers:

    <!-- trace:NAME -->
    ```
    c1 * connection from 127.0.0.1:51000: ...
    ```
    <!-- /trace -->

or an excerpt of one, `<!-- trace:NAME from "TEXT" to "TEXT" -->`: the lines from the first
that contains the first TEXT through the next that contains the second (either may be left
out: from the start, to the end). NAME is one of the scenarios below: a server started with its flags ($WSEDGE_BIN, default
build/wsedge, on a free port), and a raw-socket client whose every byte is fixed (the RFC's
sample Sec-WebSocket-Key, fixed masking keys, DEFLATE data from zlib), so the trace is the same
on every run but for the ports, which are replaced: the server's by 40001, the client's by
51000 (both are 5 digits, as every ephemeral port is, so no length in the trace moves). Only
the trace lines ("c1 ...") are kept, not the log. A client that pauses between pieces cannot
force the server's reads to end where it wants on a loaded machine, so a scenario whose run
does not show the reads it was written for (its `expect` patterns) is run again, up to four
times, before it counts as failed. One case per quoted block, plus one per scenario no page
quotes (a scenario nothing shows is dead code). Standard library only; the last line is
"N passed, N failed", and the exit status is 1 on any failure.
"""
import argparse
import difflib
import os
import re
import socket
import struct
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from support.raw_ws import close_body, frame  # noqa: E402
from support.server import wsedge_server  # noqa: E402

DOCS = ["docs/GUIDE.md", "docs/trace.md"]
BLOCK = re.compile(r'<!-- trace:([a-z0-9-]+)(?: from "([^"]+)")?(?: to "([^"]+)")? -->\n'
                   r"```\n(.*?)```\n<!-- /trace -->", re.S)
SERVER_PORT, CLIENT_PORT = "40001", "51000"
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's sample nonce
PAUSE = 0.2  # between pieces the server must read apart
ATTEMPTS = 4

SCENARIOS = {}


def scenario(name, args, expect=()):
    """Registers `drive(client)` as scenario `name`: the server runs with `args`; a run counts
    only if every regex in `expect` matches its trace."""
    def wrap(drive):
        SCENARIOS[name] = (args, drive, expect)
        return drive
    return wrap


class Client:
    """A raw-socket WebSocket client with every byte fixed."""

    def __init__(self, srv):
        self.srv = srv
        self.sock = socket.create_connection((srv.host, srv.port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port = self.sock.getsockname()[1]
        self.buf = b""

    def send(self, data, pause=False):
        self.sock.sendall(data)
        if pause:
            time.sleep(PAUSE)

    def upgrade(self, extra=b"", cuts=()):
        """The opening handshake, the head sent in pieces ending at `cuts`."""
        head = (f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{self.srv.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n").encode()
        head += extra + b"\r\n"
        at = 0
        for cut in cuts:
            self.send(head[at:cut], pause=True)
            at = cut
        self.send(head[at:])
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        response, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert response.startswith(b"HTTP/1.1 101 "), response

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        self.buf += chunk

    def frame(self):
        """The next server frame: (opcode, payload)."""
        while len(self.buf) < 2:
            self.fill()
        n = self.buf[1] & 0x7F
        at = 2
        if n == 126:
            while len(self.buf) < 4:
                self.fill()
            n, at = struct.unpack("!H", self.buf[2:4])[0], 4
        while len(self.buf) < at + n:
            self.fill()
        op, payload = self.buf[0] & 0x0F, self.buf[at:at + n]
        self.buf = self.buf[at + n:]
        return op, payload

    def end(self):
        """Our FIN, then the server's (its EOF)."""
        self.sock.shutdown(socket.SHUT_WR)
        while self.sock.recv(65536):
            pass
        self.sock.close()


def key(n):
    """The n-th fixed masking key (RFC 6455 §5.3 wants them unpredictable; a page wants them
    the same on every run)."""
    return bytes([(0x37 * n + 0x11) & 0xFF, (0x5B * n + 0x2C) & 0xFF, (0x91 * n + 0x4D) & 0xFF,
                  (0xC3 * n + 0x6E) & 0xFF])


def deflate(data):
    """A message as a permessage-deflate sender writes it (RFC 7692 §7.2.1): raw DEFLATE,
    flushed to a byte boundary, without the final 00 00 ff ff."""
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


FOX = b"the quick brown fox jumps over the lazy dog; " * 5


@scenario("life", ["--trace"], expect=[r"^c1 \* the head came in 3 reads", r"^c1 \* closed:"])
def _(c):
    # The head in three reads, with a permessage-deflate offer.
    c.upgrade(extra=b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
              cuts=(11, 70))
    c.send(frame(0x1, b"Hello", key=key(1)))
    assert c.frame() == (0x1, b"Hello")
    # A text message in two fragments with a ping between them (RFC 6455 §5.4, §5.5).
    c.send(frame(0x1, b"frag", fin=False, key=key(2)), pause=True)
    c.send(frame(0x9, b"still there?", key=key(3)))
    assert c.frame() == (0xA, b"still there?")
    c.send(frame(0x0, b"mented", key=key(4)))
    assert c.frame() == (0x1, b"fragmented")
    # A compressed message (RFC 7692 §6): RSV1 on its frame, DEFLATE data in the payload.
    c.send(frame(0x1, deflate(FOX), rsv=4, key=key(5)))
    op, payload = c.frame()
    assert op == 0x1 and zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") == FOX
    c.send(frame(0x8, close_body(1000, b"done"), key=key(6)))
    assert c.frame() == (0x8, struct.pack("!H", 1000))
    c.end()


@scenario("error", ["--trace"], expect=[r"^c1 \* closed:"])
def _(c):
    c.upgrade()
    # A text message whose second fragment breaks UTF-8 (RFC 6455 §8.1): "caf" then "\xc3("
    # (a two-byte sequence whose second byte is not a continuation byte).
    c.send(frame(0x1, b"caf", fin=False, key=key(7)), pause=True)
    c.send(frame(0x0, b"\xc3(", key=key(8)))
    op, payload = c.frame()
    assert op == 0x8 and payload[:2] == struct.pack("!H", 1007), payload
    c.end()


@scenario("trace-session", ["--trace", "--deflate-min-size", "1"], expect=[r"^c1 \* closed:"])
def _(c):
    c.upgrade(extra=b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
    c.send(frame(0x1, b"Hello", key=key(1)))
    c.frame()
    c.send(frame(0x1, b"spl", fin=False, key=key(2)), pause=True)
    c.send(frame(0x9, b"are you there", key=key(3)))
    assert c.frame() == (0xA, b"are you there")
    c.send(frame(0x0, b"it me", key=key(4)))
    c.frame()
    c.send(frame(0x1, deflate(FOX), rsv=4, key=key(5)))
    c.frame()
    c.send(frame(0x8, close_body(1000, b"done"), key=key(6)))
    assert c.frame()[0] == 0x8
    c.end()


@scenario("trace-error-hex", ["--trace=hex"], expect=[r"^c1 \* closed:"])
def _(c):
    c.upgrade()
    c.send(frame(0x3, b"\x00", key=key(9)))  # a reserved opcode (RFC 6455 §5.2)
    op, _payload = c.frame()
    assert op == 0x8
    c.end()


def capture(name):
    """One run of scenario `name`: its trace lines, ports replaced, and whether it is clean."""
    args, drive, expect = SCENARIOS[name]
    with wsedge_server(args) as srv:
        c = Client(srv)
        client_port = c.port
        drive(c)
        deadline = time.monotonic() + 5
        while not re.search(r"^c1 \* closed:", srv.stderr_text(), re.M):
            if time.monotonic() > deadline:
                raise AssertionError("no 'closed:' line in the trace")
            time.sleep(0.02)
        text = srv.stderr_text()
        port = srv.port
    assert len(str(port)) == 5 and len(str(client_port)) == 5, (port, client_port)
    lines = [ln for ln in text.splitlines() if re.match(r"^c\d+ ", ln)]
    out = "\n".join(lines) + "\n"
    out = out.replace(f"127.0.0.1:{port}", f"127.0.0.1:{SERVER_PORT}")
    out = out.replace(f"127.0.0.1:{client_port}", f"127.0.0.1:{CLIENT_PORT}")
    clean = all(re.search(p, out, re.M) for p in expect)
    return out, clean


def blocks(path):
    """The quoted traces of a page: (name, from, to, body, (start, end)) each."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        text = f.read()
    return text, [(m.group(1), m.group(2), m.group(3), m.group(4), m.span(4))
                  for m in BLOCK.finditer(text)]


def excerpt(trace, first, last):
    """The lines of `trace` from the first containing `first` through the next containing
    `last` (both optional: the whole trace); None when a line is not there."""
    lines = trace.splitlines(keepends=True)
    start = 0
    if first is not None:
        start = next((i for i, ln in enumerate(lines) if first in ln), None)
        if start is None:
            return None
    end = len(lines) - 1
    if last is not None:
        end = next((i for i in range(start, len(lines)) if last in lines[i]), None)
        if end is None:
            return None
    return "".join(lines[start:end + 1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--update", action="store_true", help="capture and rewrite the pages")
    ap.add_argument("--show", metavar="NAME", help="print one scenario's trace")
    a = ap.parse_args()
    if a.show:
        print(capture(a.show)[0], end="")
        return 0
    pages = {path: blocks(path) for path in DOCS}
    quotes = {}  # scenario -> [(page, from, to, body, span)]
    for path, (_text, found) in pages.items():
        for name, first, last, body, span in found:
            quotes.setdefault(name, []).append((path, first, last, body, span))
    passed = failed = 0
    edits = {path: [] for path in DOCS}  # (span, new body)
    for name in sorted(quotes):
        uses = quotes[name]
        if name not in SCENARIOS:
            for path, *_ in uses:
                print(f"FAIL {path} trace:{name}: no such scenario "
                      f"(known: {', '.join(sorted(SCENARIOS))})")
                failed += 1
            continue
        # Captured until one run is clean and, when checking, matches every quote of it.
        got = None
        for _ in range(ATTEMPTS):
            trace, clean = capture(name)
            got = [excerpt(trace, first, last) for _p, first, last, _b, _s in uses]
            if clean and all(g is not None and (a.update or g == use[3])
                             for g, use in zip(got, uses)):
                break
        for g, (path, first, last, body, span) in zip(got, uses):
            label = f"{path} trace:{name}" + (f' from "{first}"' if first else "")
            if g is None:
                print(f"FAIL {label}: the captured trace has no line with "
                      f'"{first}" or, after it, "{last}"')
                failed += 1
            elif g == body or a.update:
                print(f"ok {label}")
                passed += 1
                if g != body:
                    edits[path].append((span, g))
            else:
                diff = difflib.unified_diff(body.splitlines(), g.splitlines(), "page",
                                            "captured", lineterm="", n=1)
                print(f"FAIL {label}: the page and the server differ ({ATTEMPTS} runs; "
                      "rewrite with --update):\n" + "\n".join(diff))
                failed += 1
    for path, changes in edits.items():
        if not changes:
            continue
        text = pages[path][0]
        for (start, end), body in sorted(changes, reverse=True):
            text = text[:start] + body + text[end:]
        with open(os.path.join(ROOT, path), "w", encoding="utf-8") as f:
            f.write(text)
        print(f"rewrote {len(changes)} trace(s) in {path}")
    # GUIDE.md draws the first frame of scenario `life` byte by byte: those must be its bytes.
    wire = frame(0x1, b"Hello", key=key(1)).hex(" ").split(" ")
    drawn = re.compile(r"^ " + r" +".join([wire[0], wire[1], " ".join(wire[2:6]),
                                          " ".join(wire[6:])]) + r"$", re.M)
    if drawn.search(pages["docs/GUIDE.md"][0]):
        print("ok docs/GUIDE.md frame diagram: the bytes of the first frame")
        passed += 1
    else:
        print(f"FAIL docs/GUIDE.md frame diagram: no line drawing {' '.join(wire)}")
        failed += 1
    for name in sorted(set(SCENARIOS) - set(quotes)):
        print(f"FAIL scenario {name}: no page quotes it")
        failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
