#!/usr/bin/python3
"""Interop: Python's `websockets` (Debian's 10.4, asyncio client) against wsedge.

Run with Debian's interpreter, which has python3-websockets:
    /usr/bin/python3 tests/interop/test_python_websockets.py [-k WORD] [-v]
The server is $WSEDGE_BIN (default build/wsedge), started on a free port. Malformed
opening handshakes go through raw sockets, since no client library sends them.
Last line: "N passed, N failed"; exit 1 if any failed.
"""
import argparse
import asyncio
import base64
import os
import socket
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from support.server import wsedge_server  # noqa: E402

import websockets  # noqa: E402
import websockets.extensions.permessage_deflate  # noqa: E402

MiB = 1 << 20
TESTS = []


def test(name, timeout=10):
    def register(fn):
        TESTS.append((name, fn, timeout))
        return fn
    return register


class Env:
    main = None    # --subprotocol chat --subprotocol superchat
    origin = None  # --allow-origin http://good.example


def connect(path="/echo", srv=None, **kw):
    srv = srv or Env.main
    kw.setdefault("compression", None)  # the deflate tests below ask for it explicitly
    kw.setdefault("open_timeout", 5)
    kw.setdefault("close_timeout", 5)
    return websockets.connect(srv.url(path), **kw)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


# ----- handshake and subprotocols ------------------------------------------------------
@test("handshake: 101, open connection, no subprotocol or extension by default")
async def _(v):
    async with connect() as ws:
        check(ws.open, "connection not open after the handshake")
        check(ws.subprotocol is None, f"unexpected subprotocol {ws.subprotocol!r}")
        check(ws.response_headers.get("Sec-WebSocket-Extensions") is None,
              f"extension accepted that was not offered: "
              f"{ws.response_headers.get('Sec-WebSocket-Extensions')}")


for offer, want in ((["superchat", "chat"], "chat"), (["superchat"], "superchat"),
                    (["other"], None), (["chat"], "chat")):
    @test(f"subprotocol: client offers {offer} -> {want} (server preference order)")
    async def _(v, offer=offer, want=want):
        async with connect(subprotocols=offer) as ws:
            check(ws.subprotocol == want, f"got {ws.subprotocol!r}, expected {want!r}")
            await ws.send("hi")
            check(await asyncio.wait_for(ws.recv(), 5) == "hi", "echo after subprotocol")


# ----- malformed opening handshakes (raw sockets) --------------------------------------
def raw_request(srv, head_lines, method="GET", path="/echo", timeout=5):
    """Sends a request head; returns (status, headers dict, raw head)."""
    lines = [f"{method} {path} HTTP/1.1"] + head_lines
    s = socket.create_connection((srv.host, srv.port), timeout=timeout)
    try:
        try:
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except (BrokenPipeError, ConnectionResetError):
            pass  # a server may answer and close before reading it all
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head = data.split(b"\r\n\r\n")[0].decode("latin-1")
    if not head.startswith("HTTP/1.1 "):
        raise AssertionError(f"no HTTP response (got {data[:80]!r})")
    status = int(head.split(" ")[1])
    headers = {}
    for line in head.split("\r\n")[1:]:
        k, _, val = line.partition(":")
        headers[k.strip().lower()] = val.strip()
    return status, headers, head


def upgrade_headers(srv, key=None, version="13", host=True, extra=()):
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    h = [f"Host: {srv.host}:{srv.port}"] if host else []
    h += ["Upgrade: websocket", "Connection: Upgrade"]
    if key != "":
        h.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        h.append(f"Sec-WebSocket-Version: {version}")
    return h + list(extra)


BAD = [
    ("wrong version 8 -> 426 with Sec-WebSocket-Version: 13", dict(version="8"), 426),
    ("missing Sec-WebSocket-Version -> 426", dict(version=None), 426),
    ("missing Sec-WebSocket-Key -> 400", dict(key=""), 400),
    ("key of 15 bytes -> 400", dict(key=base64.b64encode(b"k" * 15).decode()), 400),
    ("key of 17 bytes -> 400", dict(key=base64.b64encode(b"k" * 17).decode()), 400),
    ("key that is not base64 -> 400", dict(key="not base64 at all!!!!!!="), 400),
    ("missing Host -> 400", dict(host=False), 400),
]
for name, kw, status in BAD:
    @test("bad request: " + name)
    async def _(v, kw=kw, status=status):
        got, headers, head = await asyncio.to_thread(raw_request, Env.main,
                                                     upgrade_headers(Env.main, **kw))
        check(got == status, f"expected {status}, got {head.splitlines()[0]!r}")
        if status == 426:
            check(headers.get("sec-websocket-version") == "13",
                  f"426 without 'Sec-WebSocket-Version: 13' (RFC 6455 §4.4): {head!r}")


@test("bad request: POST with upgrade headers -> 405")
async def _(v):
    got, headers, head = await asyncio.to_thread(raw_request, Env.main,
                                                 upgrade_headers(Env.main), "POST")
    check(got == 405, f"expected 405, got {head.splitlines()[0]!r}")


@test("bad request: request head over 8 KiB -> 431")
async def _(v):
    h = upgrade_headers(Env.main, extra=[f"X-Big: {'a' * 9000}"])
    got, _, head = await asyncio.to_thread(raw_request, Env.main, h)
    check(got == 431, f"expected 431, got {head.splitlines()[0]!r}")


@test("bad request: 500 headers (head under 8 KiB) -> 431")
async def _(v):
    h = upgrade_headers(Env.main, extra=[f"X{i}: 1" for i in range(500)])
    check(len("\r\n".join(h)) < 8192, "test bug: head must stay under 8 KiB")
    got, _, head = await asyncio.to_thread(raw_request, Env.main, h)
    check(got == 431, f"expected 431, got {head.splitlines()[0]!r}")


@test("origin: Origin not in --allow-origin -> 403")
async def _(v):
    h = upgrade_headers(Env.origin, extra=["Origin: http://evil.example"])
    got, _, head = await asyncio.to_thread(raw_request, Env.origin, h)
    check(got == 403, f"expected 403, got {head.splitlines()[0]!r}")


@test("origin: allowed Origin -> connection opens and echoes")
async def _(v):
    async with connect(srv=Env.origin, origin="http://good.example") as ws:
        await ws.send("from a good origin")
        check(await asyncio.wait_for(ws.recv(), 5) == "from a good origin", "echo")


@test("origin: websockets refuses the connection with InvalidStatusCode 403")
async def _(v):
    try:
        async with connect(srv=Env.origin, origin="http://evil.example"):
            raise AssertionError("connection opened for a forbidden origin")
    except websockets.exceptions.InvalidStatusCode as exc:
        check(exc.status_code == 403, f"status {exc.status_code}")


# ----- echo ------------------------------------------------------------------------------
SIZES = [0, 1, 125, 126, 65535, 65536, MiB, 16 * MiB]
for size in SIZES:
    @test(f"echo: text of {size} bytes, byte-identical", timeout=60)
    async def _(v, size=size):
        text = ("wsedge\u00e9"[:1] * size) if size < 3 else ("abcdefghé" * (size // 10 + 1))
        text = text.encode()[:size].decode("utf-8", "ignore")
        text += "x" * (size - len(text.encode()))
        check(len(text.encode()) == size, "test bug: wrong size")
        async with connect(max_size=None) as ws:
            await ws.send(text)
            got = await asyncio.wait_for(ws.recv(), 30)
            check(isinstance(got, str), f"text came back as {type(got).__name__}")
            check(got == text, f"echo differs ({len(got.encode())} vs {size} bytes)")

    @test(f"echo: binary of {size} bytes, byte-identical", timeout=60)
    async def _(v, size=size):
        data = os.urandom(size)
        async with connect(max_size=None) as ws:
            await ws.send(data)
            got = await asyncio.wait_for(ws.recv(), 30)
            check(isinstance(got, bytes), f"binary came back as {type(got).__name__}")
            check(got == data, f"echo differs ({len(got)} vs {size} bytes)")


@test("echo: fragmented send (async iterator of 100 fragments) returns one message")
async def _(v):
    parts = [f"part{i:03d}-" for i in range(100)]
    async with connect() as ws:
        await ws.send(iter(parts))
        got = await asyncio.wait_for(ws.recv(), 5)
        check(got == "".join(parts), f"got {got[:40]!r}...")


@test("echo: 1000 pipelined messages come back in order")
async def _(v):
    async with connect(max_queue=None) as ws:
        msgs = [f"m{i}" if i % 2 else os.urandom(i % 300) for i in range(1000)]
        for m in msgs:
            await ws.send(m)
        for i, m in enumerate(msgs):
            got = await asyncio.wait_for(ws.recv(), 5)
            check(got == m, f"message {i} differs")


# ----- ping, close, compression offer -------------------------------------------------------
@test("ping: 3 pings are answered (await pong)")
async def _(v):
    async with connect() as ws:
        for payload in (b"", b"ping-1", os.urandom(125)):
            waiter = await ws.ping(payload)
            await asyncio.wait_for(waiter, 5)


@test("close: code 4000 with a reason -> server echoes 4000")
async def _(v):
    async with connect() as ws:
        await ws.close(4000, "done here")
        check(ws.close_code == 4000, f"server answered close {ws.close_code}")
        if v:
            print(f"    server close reason: {ws.close_reason!r}")


@test("close: normal close 1000 -> 1000 back")
async def _(v):
    async with connect() as ws:
        await ws.send("x")
        await asyncio.wait_for(ws.recv(), 5)
    check(ws.close_code == 1000, f"server answered close {ws.close_code}")


@test("compression: default permessage-deflate offer still connects and echoes")
async def _(v):
    async with connect(compression="deflate") as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions")
        for m in ("compressible " * 1000, os.urandom(5000)):
            await ws.send(m)
            check(await asyncio.wait_for(ws.recv(), 5) == m, "echo with the offer")
        if v:
            print(f"    negotiated extensions: {ext!r}")


# ----- permessage-deflate (RFC 7692) -------------------------------------------------------
PMD_SIZES = [0, 1, 1024, 65536, MiB, 16 * MiB]


def pmd_factory(**kw):
    return websockets.extensions.permessage_deflate.ClientPerMessageDeflateFactory(**kw)


# name: (client factory kwargs or None for websockets' default offer, expected answer params)
PMD_CONFIGS = {
    "default offer": (None, {}),
    "server_max_window_bits=10, client_max_window_bits=12":
        (dict(server_max_window_bits=10, client_max_window_bits=12),
         {"server_max_window_bits": "10", "client_max_window_bits": "12"}),
    "both no_context_takeover, server_max_window_bits=9":
        (dict(server_no_context_takeover=True, client_no_context_takeover=True,
              server_max_window_bits=9, client_max_window_bits=None),
         {"server_no_context_takeover": None, "client_no_context_takeover": None,
          "server_max_window_bits": "9"}),
}


def pmd_payload(kind, size):
    if kind == "binary":
        return os.urandom(size // 2) + bytes(size - size // 2)  # half random, half zeros
    words = ("wsedge", "deflate", "κόσμε", "😀", "{\"px\":101.25}")
    text, n = [], 0
    while n < size:
        w = words[(n * 7) % len(words)] + " "
        text.append(w)
        n += len(w.encode())
    out = "".join(text).encode()[:size].decode("utf-8", "ignore")
    return out + "x" * (size - len(out.encode()))


for cfg_name, (factory_kw, want) in PMD_CONFIGS.items():
    for kind in ("text", "binary"):
        @test(f"deflate ({cfg_name}): {kind} of 0 B .. 16 MiB byte-identical", timeout=90)
        async def _(v, factory_kw=factory_kw, want=want, kind=kind):
            kw = {} if factory_kw is None else {"extensions": [pmd_factory(**factory_kw)]}
            async with connect(compression="deflate", max_size=None, **kw) as ws:
                header = ws.response_headers.get("Sec-WebSocket-Extensions") or ""
                params = {}
                for p in header.split(";")[1:]:
                    k, eq, val = p.strip().partition("=")
                    params[k] = val if eq else None
                check(header.split(";")[0].strip() == "permessage-deflate",
                      f"not negotiated: Sec-WebSocket-Extensions {header!r}")
                for k, val in want.items():
                    check(params.get(k, "absent") == val, f"answer {header!r} lacks {k}={val}")
                check(len(ws.extensions) == 1 and
                      ws.extensions[0].name == "permessage-deflate",
                      f"websockets' extensions: {ws.extensions!r}")
                for size in PMD_SIZES:
                    data = pmd_payload(kind, size)
                    await ws.send(data)
                    got = await asyncio.wait_for(ws.recv(), 30)
                    check(type(got) is type(data), f"{size}: came back as {type(got).__name__}")
                    check(got == data, f"{kind} of {size} bytes differs")
                    if size <= 65536:  # again: with context takeover, a back-reference
                        await ws.send(data)
                        check(await asyncio.wait_for(ws.recv(), 30) == data,
                              f"second {kind} of {size} bytes differs")
                if v:
                    print(f"    negotiated: {header!r}")


@test("deflate: 200 pipelined small compressed messages come back in order")
async def _(v):
    async with connect(compression="deflate", max_queue=None) as ws:
        msgs = [f'{{"seq":{i},"pad":"{"ab" * (i % 50)}"}}' if i % 3 else os.urandom(i)
                for i in range(200)]
        for m in msgs:
            await ws.send(m)
        for i, m in enumerate(msgs):
            check(await asyncio.wait_for(ws.recv(), 5) == m, f"message {i} differs")


@test("http: GET of a path with no file and no upgrade -> 404")
async def _(v):
    got, _, head = await asyncio.to_thread(raw_request, Env.main, [
        f"Host: {Env.main.host}:{Env.main.port}"], "GET", "/no-such-file.txt")
    check(got == 404, f"expected 404, got {head.splitlines()[0]!r}")


# ----- runner ------------------------------------------------------------------------------
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
    web = tempfile.mkdtemp(prefix="wsedge-py-web-")
    common = ["--web", web, "--log-level", "warn", "--max-message-size", str(64 * MiB)]
    try:
        with wsedge_server(common + ["--subprotocol", "chat", "--subprotocol", "superchat"]) \
                as main_srv, \
                wsedge_server(common + ["--allow-origin", "http://good.example"]) as origin:
            Env.main, Env.origin = main_srv, origin
            passed, failed = asyncio.run(run_all(selected, args.v))
            for label, srv in (("main", main_srv), ("origin", origin)):
                problem = srv.stop()
                if problem:
                    print(f"FAIL server '{label}' exits 0 on SIGTERM: {problem}")
                    failed += 1
                else:
                    print(f"ok server '{label}' exits 0 on SIGTERM")
                    passed += 1
    except Exception as exc:  # the server did not start, or died
        print(f"FAIL setup: {exc.__class__.__name__}: {exc}")
        failed += 1
    finally:
        os.rmdir(web)
    print(f"suite time {time.monotonic() - t0:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
