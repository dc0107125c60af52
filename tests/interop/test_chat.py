#!/usr/bin/python3
"""The /chat demo route against Python's `websockets` (Debian's 10.4) and raw sockets.

    /usr/bin/python3 tests/interop/test_chat.py [-k WORD] [-v]

Rooms, the chat/superchat subprotocols, join/leave notices, fan-out to 50 members (each
gets every message exactly once, in the same order), and a member that stops reading:
it is dropped with 1008 while the others go on. Last line: "N passed, N failed".
"""
import asyncio
import base64
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_common import check, close_info, connect, make_registry, recv, run  # noqa: E402

import websockets  # noqa: E402

TESTS, test = make_registry()


class Env:
    main = None  # defaults
    slow = None  # --high-water 64K: a member that stops reading is dropped soon


def chat(path, proto="chat", srv=None, **kw):
    return connect(srv or Env.main, path, subprotocols=[proto] if proto else None, **kw)


async def until(ws, pred, timeout=5):
    """Receives until pred(message) holds; returns that message."""
    while True:
        m = await recv(ws, timeout)
        if pred(m):
            return m


# ----- subprotocols ---------------------------------------------------------------------
@test("subprotocol chat: plain text lines, the sender gets its own message")
async def _():
    async with chat("/chat?room=t1&name=ann") as ws:
        check(ws.subprotocol == "chat", f"subprotocol {ws.subprotocol!r}")
        check(await recv(ws) == "* ann joined t1 (1 here)", "join notice")
        await ws.send("hello")
        check(await recv(ws) == "ann: hello", "own message")


@test("subprotocol superchat: JSON {from, text, ts}; \\u escapes and surrogate pairs decode")
async def _():
    async with chat("/chat?room=t2&name=bob", "superchat") as ws:
        check(ws.subprotocol == "superchat", f"subprotocol {ws.subprotocol!r}")
        j = json.loads(await recv(ws))
        check(j["event"] == "join" and j["from"] == "bob" and j["here"] == 1, f"join {j}")
        await ws.send(json.dumps({"text": "caf\u00e9 \U0001F600 \"q\"", "from": "mallory"}))
        j = json.loads(await recv(ws))
        check(set(j) == {"from", "text", "ts"}, f"keys {sorted(j)}")
        check(j["from"] == "bob", "the server, not the client, says who spoke")
        check(j["text"] == "caf\u00e9 \U0001F600 \"q\"", f"text {j['text']!r}")
        check(isinstance(j["ts"], int) and j["ts"] > 1_600_000_000_000, f"ts {j['ts']}")


@test("subprotocol preference: a client offering both gets chat; each member reads its own")
async def _():
    async with connect(Env.main, "/chat?room=t3&name=x", subprotocols=["superchat", "chat"]) as ws:
        check(ws.subprotocol == "chat", f"subprotocol {ws.subprotocol!r}")


@test("superchat: a message that is not {\"text\": ...} gets an error to the sender only")
async def _():
    async with chat("/chat?room=t4&name=a", "superchat") as a, chat("/chat?room=t4&name=b") as b:
        await until(b, lambda m: m.startswith("* b joined"))
        await a.send("not json")
        j = json.loads(await until(a, lambda m: '"error"' in m))
        check(j["event"] == "error", f"{j}")
        await b.send("after")
        check(await recv(b) == "b: after", "b saw something of a's bad message")


@test("no subprotocol offered -> close 1008 'no supported subprotocol offered'")
async def _():
    for offer in (None, ["graphql-ws"]):
        async with connect(Env.main, "/chat", subprotocols=offer) as ws:
            code, reason = await close_info(ws)
            check(code == 1008, f"offer {offer}: code {code}")
            check(reason == "no supported subprotocol offered", f"reason {reason!r}")


@test("binary message -> close 1003")
async def _():
    async with chat("/chat?room=t5") as ws:
        await ws.send(b"\x00\x01")
        code, _ = await close_info(ws)
        check(code == 1003, f"code {code}")


# ----- rooms, names, notices ------------------------------------------------------------
@test("rooms are separate; default room lobby; default names guest-N; leave notice")
async def _():
    async with chat("/chat?room=red&name=r1") as red, chat("/chat?room=blue&name=b1") as blue:
        async with chat("/chat") as guest:
            first = await recv(guest)
            check(first.startswith("* guest-") and first.endswith(" joined lobby (1 here)"), first)
        await red.send("only red")
        check(await recv(red) == "* r1 joined red (1 here)", "red join")
        check(await recv(red) == "r1: only red", "red message")
        check(await recv(blue) == "* b1 joined blue (1 here)", "blue join")
        try:
            extra = await recv(blue, 0.3)
            raise AssertionError(f"blue received {extra!r} from red")
        except asyncio.TimeoutError:
            pass
        async with chat("/chat?room=red&name=r2") as r2:
            await until(red, lambda m: m == "* r2 joined red (2 here)")
            await r2.close()
        check(await recv(red) == "* r2 left (1 here)", "leave notice")


@test("names and rooms from the query are percent-decoded and cleaned of control characters")
async def _():
    async with chat("/chat?room=caf%C3%A9+corner&name=%E2%9C%93%0Aeve") as ws:
        check(await recv(ws) == "* \u2713eve joined caf\u00e9 corner (1 here)", "notice")


@test("a message with several lines is several chat lines", timeout=10)
async def _():
    async with chat("/chat?room=t6&name=m") as ws:
        await recv(ws)
        await ws.send("one\r\ntwo\n\nthree")
        got = [await recv(ws) for _ in range(3)]
        check(got == ["m: one", "m: two", "m: three"], f"{got}")


# ----- fan-out ----------------------------------------------------------------------------
@test("50 members in one room: every message exactly once, in one order for all", timeout=60)
async def _():
    n, per = 50, 10
    room = "fifty"
    members = []
    try:
        for i in range(n):
            members.append(await chat(f"/chat?room={room}&name=c{i}"))
        # Everyone is in once the last join notice reached the last member.
        await until(members[-1], lambda m: m.startswith(f"* c{n - 1} joined"))

        async def talk(i, ws):
            for k in range(per):
                await ws.send(f"m{k}")

        async def listen(ws):
            lines = []
            while len(lines) < n * per:
                m = await recv(ws, 20)
                if not m.startswith("* "):
                    lines.append(m)
            return lines

        listeners = [asyncio.create_task(listen(ws)) for ws in members]
        await asyncio.gather(*(talk(i, ws) for i, ws in enumerate(members)))
        seen = await asyncio.gather(*listeners)
        for i, lines in enumerate(seen):
            check(len(set(lines)) == n * per, f"c{i}: {len(set(lines))} distinct of {n * per}")
            for s in range(n):
                mine = [line for line in lines if line.startswith(f"c{s}: ")]
                check(mine == [f"c{s}: m{k}" for k in range(per)], f"c{i} saw c{s} as {mine}")
            check(lines == seen[0], f"c{i} saw another order than c0")
    finally:
        await asyncio.gather(*(ws.close() for ws in members))


def raw_member(srv, path):
    """A chat member that completes the handshake and then never reads again."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # no autotuning: fills fast
    s.settimeout(5)
    s.connect((srv.host, srv.port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: {srv.host}:{srv.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)  # byte by byte: nothing behind the head is taken
    check(head.startswith(b"HTTP/1.1 101"), f"handshake {head[:40]!r}")
    return s


@test("a member that stops reading is dropped (1008, log line) while the others go on",
      timeout=40)
async def _():
    srv = Env.slow
    room, count, size = "slow", 600, 16 * 1024
    async with chat(f"/chat?room={room}&name=reader", srv=srv) as reader, \
            chat(f"/chat?room={room}&name=writer", srv=srv) as writer:
        stuck = raw_member(srv, f"/chat?room={room}&name=stuck")
        try:
            await until(reader, lambda m: m.startswith("* stuck joined"))
            got = {"reader": [], "writer": []}
            dropped = []

            async def drain(name, ws):
                while len(got[name]) < count:
                    m = await recv(ws, 20)
                    if m.startswith("writer: "):
                        got[name].append(int(m[8:16]))
                    elif m.startswith("* stuck was dropped"):
                        dropped.append(name)

            tasks = [asyncio.create_task(drain(n, ws)) for n, ws in (("reader", reader),
                                                                     ("writer", writer))]
            # The writer keeps at most `window` messages ahead of what both readers took,
            # so they stay under the high-water mark: only the stuck member falls behind.
            window = 2  # 2 x 16 KiB in flight: under the 64 KiB mark even if the kernel took none
            for k in range(count):
                while k - min(len(got["reader"]), len(got["writer"])) >= window:
                    await asyncio.sleep(0.001)
                    check(not any(t.done() and t.exception() for t in tasks), "a reader failed")
                await writer.send(f"{k:08d}" + "x" * (size - 8))
            await asyncio.gather(*tasks)
            for name in got:
                check(got[name] == list(range(count)), f"{name} lost or reordered messages")
            check(sorted(dropped) == ["reader", "writer"], f"drop notice seen by {dropped}")
        finally:
            stuck.close()
        await writer.send("still here")
        await until(reader, lambda m: m == "writer: still here")
    log = srv._stderr_tail(200)
    check("chat: dropping stuck from slow" in log, "no log line for the drop")


if __name__ == "__main__":
    sys.exit(run(TESTS, {"main": ["--log-level", "warn", "--web", ""],
                         "slow": ["--log-level", "warn", "--web", "", "--high-water", "64K"]},
                 Env))
