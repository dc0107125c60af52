#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/<target>/ (committed; re-run after editing).

Each seed is a small file named for what it holds. The layout of every target's input (its
first bytes pick options) is documented at the top of tests/fuzz/fuzz_<target>.cpp; the
helpers below build inputs in that layout. Deflate streams come from Python's zlib (the same
C zlib the server links), compressed the way RFC 7692 §7.2.1 says: raw DEFLATE, a sync
flush, the trailing 00 00 ff ff removed. Usage: tests/fuzz/make_corpus.py [--check]
(--check: exit 1 if the committed seeds differ from what this script writes).
"""
import os
import random
import struct
import sys
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KEY = b"\x37\xfa\x21\x3d"
SEEDS = {}  # (target, name) -> bytes


def seed(target, name, data):
    SEEDS[(target, name)] = bytes(data)


# --- HTTP request heads --------------------------------------------------------------------

def head(lines):
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


CHROME = head([
    "GET /chat?room=1 HTTP/1.1", "Host: 127.0.0.1:9001", "Connection: Upgrade",
    "Pragma: no-cache", "Cache-Control: no-cache",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Upgrade: websocket", "Origin: http://127.0.0.1:9001", "Sec-WebSocket-Version: 13",
    "Accept-Encoding: gzip, deflate, br", "Accept-Language: en-US,en;q=0.9",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])
FIREFOX = head([
    "GET / HTTP/1.1", "Host: localhost:9001",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Accept: */*", "Accept-Language: en-US,en;q=0.5", "Accept-Encoding: gzip, deflate, br",
    "Sec-WebSocket-Version: 13", "Origin: http://localhost:9001",
    "Sec-WebSocket-Protocol: chat, superchat",
    "Sec-WebSocket-Extensions: permessage-deflate",
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==", "DNT: 1", "Connection: keep-alive, Upgrade",
    "Sec-Fetch-Dest: websocket", "Sec-Fetch-Mode: websocket", "Sec-Fetch-Site: same-origin",
    "Pragma: no-cache", "Cache-Control: no-cache", "Upgrade: websocket"])
SAFARI = head([
    "GET /echo HTTP/1.1", "Host: example.com", "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==", "Upgrade: websocket",
    "Origin: http://example.com", "Connection: Upgrade",
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15; "
    "server_max_window_bits=10, permessage-deflate",
    "User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Safari/605.1.15"])
PYTHON_WS = head([
    "GET / HTTP/1.1", "Host: 127.0.0.1:9001", "Upgrade: websocket", "Connection: Upgrade",
    "Sec-WebSocket-Key: 8Cp6bLjQv2mDcU5Tt2J0xg==", "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    "User-Agent: Python/3.11 websockets/10.4"])
CURL = head(["GET /index.html HTTP/1.1", "Host: 127.0.0.1:9001", "User-Agent: curl/7.88.1",
             "Accept: */*"])
HTTP10 = head(["GET / HTTP/1.0", "Connection: keep-alive"])

REQUESTS = {
    "chrome-upgrade": CHROME, "firefox-upgrade": FIREFOX, "safari-upgrade": SAFARI,
    "python-websockets-upgrade": PYTHON_WS, "curl-get": CURL, "http10-get": HTTP10,
    "post-content-length": head(["POST /x HTTP/1.1", "Host: h", "Content-Length: 5"]) + b"hello",
    "post-chunked": head(["POST /x HTTP/1.1", "Host: h", "Transfer-Encoding: gzip, chunked"])
    + b"5\r\nhello\r\n0\r\n\r\n",
    "pipelined": CURL + CURL,
    "leading-crlf": b"\r\n\r\n" + CURL,
    "obs-fold": head(["GET / HTTP/1.1", "Host: h", "X-A: one", " two"]),
    "bare-lf": b"GET / HTTP/1.1\nHost: h\n\n",
    "bare-cr": b"GET / HTTP/1.1\rHost: h\r\r",
    "no-host": head(["GET / HTTP/1.1", "Accept: */*"]),
    "two-hosts": head(["GET / HTTP/1.1", "Host: a", "Host: b"]),
    "bad-host": head(["GET / HTTP/1.1", "Host: a b@c"]),
    "te-and-cl": head(["POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked",
                       "Content-Length: 3"]),
    "cl-list": head(["POST / HTTP/1.1", "Host: h", "Content-Length: 5, 5"]) + b"hello",
    "cl-conflict": head(["POST / HTTP/1.1", "Host: h", "Content-Length: 5", "Content-Length: 6"]),
    "cl-huge": head(["POST / HTTP/1.1", "Host: h", "Content-Length: 99999999999999999999"]),
    "http2": head(["GET / HTTP/2.0", "Host: h"]),
    "http12": head(["GET / HTTP/1.2", "Host: h"]),
    "lowercase-version": head(["GET / http/1.1", "Host: h"]),
    "space-before-colon": head(["GET / HTTP/1.1", "Host : h"]),
    "ctl-in-value": head(["GET / HTTP/1.1", "Host: h", "X: a\x01b", "Y: tab\there"]),
    "obs-text": b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\nX: \xff\xfe\r\n\r\n",
    "many-headers": head(["GET / HTTP/1.1", "Host: h"] + ["X-%d: v" % i for i in range(110)]),
    "te-http10": head(["POST / HTTP/1.0", "Transfer-Encoding: chunked"]),
    "upgrade-with-body": CHROME[:-2] + b"Content-Length: 6\r\n\r\n\x81\x80\x00\x00\x00\x00",
    # RFC 9112 §3.2.2: absolute-form targets, their authority standing for Host
    "absolute-form": head(["GET http://localhost:9001/chat?room=1 HTTP/1.1", "Host: rebind.example",
                           "Upgrade: websocket", "Connection: Upgrade"]),
    "absolute-form-no-path": head(["GET ws://127.0.0.1:80 HTTP/1.1", "Host: a"]),
    # Regression (tests/unit/test_http_parser.cpp): the long run found that a '#' after the
    # host became the path; it is refused now.
    "regress-absolute-form-fragment": b"E t://H# HTTP/1.1\r\nHost:\r\n\r\n",
}


def http_seeds():
    for name, req in REQUESTS.items():
        seed("http_parser", name, b"\x00" + req)
    # Tight limits (byte 0 odd): head 16+b/2 bytes, line 8+b/8, 1+(b/2&7) headers.
    seed("http_parser", "tight-line-414", b"\x41" + CURL)
    seed("http_parser", "tight-head-431", b"\xff" + CHROME)
    seed("http_parser", "tight-headers-431", b"\x03" + head(["GET / HTTP/1.1", "Host: h", "A: 1"]))


def handshake_seeds():
    upgrades = {k: v for k, v in REQUESTS.items() if k.endswith("upgrade")}
    for name, req in upgrades.items():
        for opt in (0x00, 0x03, 0x04, 0x0C):  # no options; 3 subprotocols; origins; required
            seed("handshake", "%s-opt%02x" % (name, opt), bytes([opt]) + req)
    base = ["GET / HTTP/1.1", "Host: example.com", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]

    def variant(name, drop=(), add=(), first=None, opt=0):
        lines = [l for l in base if not any(l.startswith(d) for d in drop)] + list(add)
        if first:
            lines[0] = first
        seed("handshake", name, bytes([opt]) + head(lines))

    variant("post", first="POST / HTTP/1.1")
    variant("http10", first="GET / HTTP/1.0")
    variant("no-key", drop=["Sec-WebSocket-Key"])
    variant("short-key", drop=["Sec-WebSocket-Key"], add=["Sec-WebSocket-Key: dGhlIHNhbXBsZQ=="])
    variant("two-keys", add=["Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw=="])
    variant("version-8", drop=["Sec-WebSocket-Version"], add=["Sec-WebSocket-Version: 8"])
    variant("no-upgrade", drop=["Upgrade"])
    variant("connection-keep-alive", drop=["Connection"], add=["Connection: keep-alive"])
    variant("case-tokens", drop=["Upgrade", "Connection"],
            add=["upgrade: WebSocket", "connection: keep-alive, UPGRADE"])
    variant("protocols", add=["Sec-WebSocket-Protocol: superchat", "Sec-WebSocket-Protocol: chat"],
            opt=0x03)
    variant("origin-allowed", add=["Origin: http://example.com"], opt=0x04)
    variant("origin-refused", add=["Origin: http://evil.example"], opt=0x04)
    variant("two-origins", add=["Origin: http://example.com", "Origin: http://example.com"],
            opt=0x04)
    variant("two-extension-headers", add=["Sec-WebSocket-Extensions: foo",
                                          "Sec-WebSocket-Extensions: permessage-deflate"])


def extensions_seeds():
    values = {
        "chrome": "permessage-deflate; client_max_window_bits",
        "firefox": "permessage-deflate",
        "safari-two-offers": "permessage-deflate; client_max_window_bits=15; "
                             "server_max_window_bits=10, permessage-deflate",
        "all-params": "permessage-deflate; server_no_context_takeover; "
                      "client_no_context_takeover; server_max_window_bits=9; "
                      "client_max_window_bits=8",
        "quoted": 'permessage-deflate; client_max_window_bits="10"; server_max_window_bits="1\\2"',
        "webkit-first": "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=15",
        "leading-zero": "permessage-deflate; server_max_window_bits=08, permessage-deflate",
        "duplicate": "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "unknown-param": "permessage-deflate; foo=bar, permessage-deflate; client_max_window_bits",
        "value-on-flag": "permessage-deflate; server_no_context_takeover=1",
        "unterminated-quote": 'permessage-deflate; a="x, permessage-deflate',
        "empty-elements": " , ,permessage-deflate ;  client_max_window_bits , ,",
        "nine-params": "permessage-deflate" + "; a" * 9,
        "two-headers": "foo; bar\npermessage-deflate; server_max_window_bits=12",
        "four-headers": "a\nb, c\npermessage-deflate; client_no_context_takeover\nd",
    }
    for name, v in values.items():
        for policy in (0x07, 0x08 | 0x02, 0x80):  # defaults; small window + reset; disabled
            seed("extensions", "%s-p%02x" % (name, policy), bytes([policy]) + v.encode())


# --- frames --------------------------------------------------------------------------------

def frame(op, payload=b"", fin=True, rsv1=False, mask=KEY, length=None):
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op
    m = 0x80 if mask is not None else 0
    if n < 126:
        h = bytes([b0, m | n])
    elif n <= 0xFFFF:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask is None:
        return h + payload
    return h + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def close(code, reason=b""):
    return frame(8, struct.pack(">H", code) + reason)


def frame_seeds():
    server, client, deflate = 0x00, 0x01, 0x02
    for op in (0, 1, 2, 3, 8, 9, 10, 11, 15):
        seed("frame", "op%x-masked" % op, [server] + list(frame(op, b"abc")))
        seed("frame", "op%x-unmasked" % op, [client] + list(frame(op, b"abc", mask=None)))
    for n in (0, 1, 125, 126, 127, 65535, 65536, 2**32, 2**63 - 1):
        # Long payloads are announced, not sent: the header is what is being tested.
        seed("frame", "len-%d" % n, [server] + list(frame(2, b"x" * min(n, 64), length=n)))
    seed("frame", "len-top-bit", [server, 0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0] + list(KEY))
    seed("frame", "len16-non-minimal", [server, 0x82, 0xFE, 0x00, 0x7D] + list(KEY))
    seed("frame", "len64-non-minimal", [server, 0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]
         + list(KEY))
    seed("frame", "limit-125", [0x08] + list(frame(2, b"y" * 126)))
    seed("frame", "rsv1-deflate", [deflate] + list(frame(1, b"\xf2\x48\x05\x00", rsv1=True)))
    seed("frame", "rsv1-refused", [server] + list(frame(1, b"abc", rsv1=True)))
    seed("frame", "rsv2", [server, 0xA1, 0x80] + list(KEY))
    seed("frame", "fragments", [server] + list(
        frame(1, b"Hel", fin=False) + frame(9, b"mid") + frame(0, b"lo", fin=False)
        + frame(0, b"!") + close(1000, b"bye")))
    seed("frame", "compressed-fragments", [deflate] + list(
        frame(1, b"\xf2\x48", fin=False, rsv1=True) + frame(0, b"\x05\x00")
        + frame(0, b"x", rsv1=True)))
    seed("frame", "continuation-first", [server] + list(frame(0, b"x")))
    seed("frame", "interleaved", [server] + list(frame(1, b"a", fin=False) + frame(2, b"b")))
    seed("frame", "ping-fragmented", [server] + list(frame(9, b"p", fin=False)))
    seed("frame", "ping-126", [server] + list(frame(9, b"p" * 126)))
    for code in (1000, 1001, 1004, 1005, 1006, 1015, 1016, 2999, 3000, 4999, 5000):
        seed("frame", "close-%d" % code, [server] + list(close(code, b"reason")))
    seed("frame", "close-1-byte", [server] + list(frame(8, b"\x03")))
    seed("frame", "close-empty", [server] + list(frame(8)))
    seed("frame", "close-123-utf8", [server] + list(close(1000, "é".encode() * 61 + b"x")))


# --- UTF-8 ---------------------------------------------------------------------------------

def utf8_seeds():
    texts = {
        "ascii": b"Hello, world",
        "two-byte": "¡Hola! ÷ ß".encode(),
        "three-byte": "€ 中文 \ufffd".encode(),
        "four-byte": "😀 𝄞 \U0010ffff".encode(),
        "boundaries": "\x7f\x80\u07ff\u0800\uffff\U00010000\U0010ffff".encode(),
        "surrogate": b"a\xed\xa0\x80b",
        "ed-ok": b"\xed\x9f\xbf",
        "overlong-2": b"\xc0\xaf",
        "overlong-c1": b"\xc1\xbf",
        "overlong-3": b"\xe0\x80\xaf",
        "overlong-4": b"\xf0\x80\x80\xaf",
        "above-max": b"\xf4\x90\x80\x80",
        "f5": b"\xf5\x80\x80\x80",
        "ff": b"ok\xff",
        "lone-tail": b"\x80",
        "cut-3": b"ab\xe2\x82",
        "cut-4": b"\xf0\x9f\x98",
        "ascii-then-tail": b"a\xc3",
        "missing-tail": b"\xc3a",
        "long-valid": ("a" * 61 + "€" + "b" * 30 + "😀" + "ü" * 40).encode(),
        "long-bad-at-63": b"a" * 63 + b"\xc3\x28" + b"z" * 70,
        "long-cut-at-64": b"a" * 62 + "😀".encode() + b"z" * 64,
        "long-bad-at-end": b"x" * 127 + b"\xe0",
        "block-boundary-surrogate": b"q" * 31 + b"\xed\xa0\x80" + b"r" * 40,
    }
    for name, t in texts.items():
        n = len(t)
        cuts = [n // 3, 2 * n // 3]
        seed("utf8", name, struct.pack("<HH", *cuts) + t)


# --- deflate -------------------------------------------------------------------------------

def deflate(data, bits=15, level=6, final=False):
    c = zlib.compressobj(level, zlib.DEFLATED, -max(bits, 9))
    out = c.compress(data) + c.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)
    if not final:
        assert out.endswith(b"\x00\x00\xff\xff")
        out = out[:-4]
    return out


TEXT = b"The quick brown fox jumps over the lazy dog. " * 8


def inflate_seeds():
    def hostile(name, data, bits=15, reset=False, limit_kib=64, cut=128):
        b0 = (bits - 8) | (0x08 if reset else 0)
        seed("inflate", name, bytes([b0, limit_kib, cut]) + data)

    hostile("text", deflate(TEXT))
    hostile("text-level0-stored", deflate(TEXT, level=0))
    hostile("text-level1", deflate(TEXT, level=1))
    hostile("text-level9", deflate(TEXT, level=9))
    hostile("text-window9", deflate(TEXT, bits=9), bits=9)
    hostile("text-window9-as-8", deflate(TEXT, bits=9), bits=8)
    hostile("bfinal", deflate(TEXT, final=True))
    hostile("bfinal-and-tail", deflate(TEXT, final=True) + b"\x00")
    hostile("empty-message", b"\x00")
    hostile("empty-payload", b"")
    hostile("hello-rfc7692", b"\xf2\x48\xcd\xc9\xc9\x07\x00")
    hostile("bomb-1mib", deflate(b"\x00" * (1 << 20), level=9), limit_kib=16)
    hostile("bomb-at-limit", deflate(b"A" * 4096), limit_kib=4)
    hostile("garbage", b"\xff\xff\xff\xff garbage")
    hostile("truncated", deflate(TEXT)[:-3])
    hostile("far-distance", deflate(b"abcdefgh" + bytes(range(256)) * 4 + b"abcdefgh", bits=15),
            bits=8)
    hostile("limit-zero", deflate(b"x"), limit_kib=0)

    def trip(name, data, bits=15, reset=False, mem=7, level=6, cut=128):
        b0 = (bits - 8) | (0x08 if reset else 0) | 0x10 | ((mem - 1) << 5)
        seed("inflate", name, bytes([b0, level, cut]) + data)

    trip("trip-text", TEXT)
    trip("trip-window8", TEXT + bytes(range(256)) * 2, bits=8)
    trip("trip-reset", TEXT, reset=True)
    trip("trip-binary", bytes(range(256)) * 3, level=9, mem=1)
    trip("trip-empty", b"")


# --- session -------------------------------------------------------------------------------

def session_tail(flags, chunks):
    # FuzzedDataProvider takes integers from the end, most significant byte last-first:
    # flags (2 bytes), the chunk count (1 byte, 1 + b % 8), then 2 bytes per chunk size.
    reads = [flags >> 8, flags & 0xFF, len(chunks) - 1]
    for c in chunks:
        v = c - 1
        reads += [v >> 8, v & 0xFF]
    return bytes(reversed(reads))


def session_seeds():
    plain = 0x1800          # no deflate, limit 1 MiB
    dfl = 0x1800 | 1 | (7 << 3) | (7 << 6)  # deflate, windows 15/15, limit 1 MiB
    z = deflate("héllo wörld, compressed ".encode() * 4)
    z2 = deflate(b"second message, same context " * 3)
    wires = {
        "text": (plain, frame(1, b"hello")),
        "binary-ping-close": (plain, frame(2, bytes(range(200))) + frame(9, b"ping")
                              + close(1000, b"bye")),
        "fragments": (plain, frame(1, b"frag", fin=False) + frame(10, b"pong")
                      + frame(0, b"ment", fin=False) + frame(0, b"ed")),
        "bad-utf8": (plain, frame(1, b"ok \xc0\xaf bad")),
        "unmasked": (plain, frame(1, b"hello", mask=None)),
        "reserved-opcode": (plain, frame(3, b"x")),
        "len64": (plain, frame(2, b"z" * 10, length=1 << 40)),
        "data-after-close": (plain, close(1001) + frame(1, b"late")),
        "close-empty": (plain, frame(8)),
        "close-bad-code": (plain, close(1005)),
        "app-closes": (plain | 0x400, frame(1, b"one") + frame(1, b"two") + close(1000)),
        "too-big-125": (0x0000, frame(2, b"q" * 126)),
        "deflate-text": (dfl, frame(1, z, rsv1=True) + frame(1, z2, rsv1=True)),
        "deflate-fragmented": (dfl, frame(1, z[:5], fin=False, rsv1=True) + frame(9, b"p")
                               + frame(0, z[5:])),
        "deflate-plain-message": (dfl, frame(2, b"uncompressed")),
        "deflate-bomb": ((dfl & ~0x1800) | 0x0800, frame(2, deflate(b"\0" * 100000), rsv1=True)),
        "deflate-garbage": (dfl, frame(2, b"\xff\xff\xff", rsv1=True)),
        "deflate-memlevel8": (dfl | 0x2000, frame(1, z, rsv1=True) + frame(2, bytes(range(256)))),
        "deflate-reset": (dfl | 2 | 4, frame(1, z, rsv1=True) + frame(1, z, rsv1=True)),
        "deflate-window9": (1 | (1 << 3) | (1 << 6) | 0x1800,
                            frame(1, deflate(TEXT, bits=9), rsv1=True)),
        "deflate-min-size": (dfl | 0x200, frame(1, deflate(b"tiny"), rsv1=True)),
    }
    # Regression (tests/unit/test_fuzz_regressions.cpp): a client that agreed to a 9-bit
    # window but refers 600 bytes back; the verdict must not depend on the read sizes.
    half = random.Random(11).randbytes(600)
    wires["regress-window9-far-distance"] = (1 | (1 << 6) | 0x1800,
                                             frame(2, deflate(half + half), rsv1=True))
    # Regression: inflated invalid UTF-8 followed by corrupt data, or by more than the limit.
    wires["regress-utf8-then-corrupt"] = (dfl, bytes.fromhex(
        "418537fa213dfdc29d0f10898137fa213d47809b37fa213d10a580c19f515f4d3dc74c83a123e7a4d9cb26"
        "a39fe318c3e9237f2d97fdfa21"))
    wires["regress-utf8-then-too-big"] = ((dfl & ~0x1800) | 0x0800,
                                          frame(1, deflate(b"\xff" + b"a" * 5000), rsv1=True))
    for name, (flags, wire) in wires.items():
        seed("session", name + "-whole", wire + session_tail(flags, [300]))
        seed("session", name + "-bytes", wire + session_tail(flags, [1]))
        seed("session", name + "-mixed", wire + session_tail(flags, [3, 1, 7, 2, 40]))


def main():
    http_seeds()
    handshake_seeds()
    extensions_seeds()
    frame_seeds()
    utf8_seeds()
    inflate_seeds()
    session_seeds()
    check = "--check" in sys.argv[1:]
    stale = 0
    for (target, name), data in sorted(SEEDS.items()):
        path = os.path.join(ROOT, target, name)
        if check:
            if not os.path.exists(path) or open(path, "rb").read() != data:
                print("differs:", path)
                stale += 1
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    if check:
        sys.exit(1 if stale else 0)
    print("%d seeds in %s" % (len(SEEDS), ROOT))


if __name__ == "__main__":
    main()
