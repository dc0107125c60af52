#!/usr/bin/python3
"""The /exec demo route: a command per connection, its stdio as messages.

    /usr/bin/python3 tests/interop/test_exec.py [-k WORD] [-v]

cat round trips, the token (401 before the upgrade), the same-origin check (403), the exit
status as the close reason, SIGINT then SIGKILL after 1 s, the 8 KiB read limit, long and
invalid-UTF-8 output lines, and no zombies or leaked fds in the server afterwards.
Last line: "N passed, N failed".
"""
import asyncio
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_common import (check, close_info, connect, make_registry, recv, run,  # noqa: E402
                         server_binary, wsedge_server)

import websockets  # noqa: E402

TESTS, test = make_registry()
TOKEN = "s3cret-t0ken"


class Env:
    cat = None     # --exec cat
    token = None   # --exec cat --exec-token TOKEN
    script = None  # --exec "sh -c ..." driven by its first input line
    plain = None   # no --exec


def generated_token(srv, timeout=5):
    """The token wsedge made at start and printed on its own stdout line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in srv.stdout_lines:
            m = re.match(r"wsedge /exec token: ([0-9a-f]{32}) http://127\.0\.0\.1:\d+/exec\.html"
                         r"\?token=\1$", line)
            if m:
                return m.group(1)
        time.sleep(0.01)
    raise AssertionError(f"no generated token in {srv.stdout_lines!r}")


def exec_path(srv):
    return f"/exec?token={generated_token(srv)}"


# The script server's command: its first input line says what to do, so one server covers
# every child behaviour (exit codes, ignoring SIGINT, long or invalid output, its fds).
SCRIPT = r"""read what
case "$what" in
  exit3) echo "about to exit"; exit 3 ;;
  stubborn) trap '' INT; echo "ignoring SIGINT"; while :; do sleep 0.05; done ;;
  sleep) echo "sleeping"; exec sleep 30 ;;
  long) head -c 20000 /dev/zero | tr '\0' a; echo ;;
  invalid) printf 'bad \377 byte\n' ;;
  fds) ls /proc/$$/fd ;;
  stderr) echo "to stderr" >&2 ;;
esac
"""


def children(pid):
    """Live children of pid (pid, state), from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append((int(entry), fields[0]))
    return out


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def wait_for(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        await asyncio.sleep(step)
    return pred()


# ----- running a command ----------------------------------------------------------------
@test("cat: each text message comes back as a line; several lines in one message too")
async def _():
    async with connect(Env.cat, exec_path(Env.cat)) as ws:
        await ws.send("hello cat")
        check(await recv(ws) == "hello cat", "first line")
        await ws.send("two\nlines")
        check([await recv(ws), await recv(ws)] == ["two", "lines"], "two lines")
        await ws.send("caf\u00e9 \u2713")
        check(await recv(ws) == "caf\u00e9 \u2713", "UTF-8 line")


@test("the command's exit closes the session: 1000, 'exit status 3', output first")
async def _():
    async with connect(Env.script, exec_path(Env.script)) as ws:
        await ws.send("exit3")
        check(await recv(ws) == "about to exit", "output before the exit")
        code, reason = await close_info(ws)
        check((code, reason) == (1000, "exit status 3"), f"close {code} {reason!r}")


@test("stderr lines come back too")
async def _():
    async with connect(Env.script, exec_path(Env.script)) as ws:
        await ws.send("stderr")
        check(await recv(ws) == "to stderr", "stderr line")


@test("an output line over 8 KiB arrives in 8 KiB pieces")
async def _():
    async with connect(Env.script, exec_path(Env.script)) as ws:
        await ws.send("long")
        got = [await recv(ws) for _ in range(3)]
        check([len(g) for g in got] == [8192, 8192, 20000 - 16384], f"{[len(g) for g in got]}")
        check(set("".join(got)) == {"a"}, "content")


@test("invalid UTF-8 output is repaired (U+FFFD), so the text frame stays valid")
async def _():
    async with connect(Env.script, exec_path(Env.script)) as ws:
        await ws.send("invalid")
        check(await recv(ws) == "bad \ufffd byte", "repaired line")


@test("the command inherits only stdin, stdout and stderr (no server fds)")
async def _():
    async with connect(Env.script, exec_path(Env.script)) as ws:
        await ws.send("fds")
        fds = []
        try:
            while True:
                fds.append(await recv(ws, 5))
        except websockets.ConnectionClosed:
            pass
        # ls itself holds one more: the directory it lists (opened after the shell's exec).
        check(fds[:3] == ["0", "1", "2"] and len(fds) <= 4, f"fds in the child: {fds}")


@test("a message over the 8 KiB read limit -> close 1009")
async def _():
    async with connect(Env.cat, exec_path(Env.cat)) as ws:
        await ws.send("x" * (8 * 1024 + 1))
        code, _ = await close_info(ws)
        check(code == 1009, f"code {code}")


@test("a binary message -> close 1003")
async def _():
    async with connect(Env.cat, exec_path(Env.cat)) as ws:
        await ws.send(b"\x01\x02")
        code, _ = await close_info(ws)
        check(code == 1003, f"code {code}")


# ----- ending the command ---------------------------------------------------------------
@test("client closes: SIGINT ends a command that honours it at once")
async def _():
    pid = Env.script.proc.pid
    async with connect(Env.script, exec_path(Env.script)) as ws:
        await ws.send("sleep")
        check(await recv(ws) == "sleeping", "started")
        check(len(children(pid)) == 1, f"children {children(pid)}")
        t0 = time.monotonic()
    check(await wait_for(lambda: not children(pid), 3), f"still there: {children(pid)}")
    check(time.monotonic() - t0 < 0.8, f"took {time.monotonic() - t0:.2f}s")


@test("client closes: a command ignoring SIGINT gets SIGKILL after 1 s", timeout=15)
async def _():
    pid = Env.script.proc.pid
    async with connect(Env.script, exec_path(Env.script)) as ws:
        await ws.send("stubborn")
        check(await recv(ws) == "ignoring SIGINT", "started")
        t0 = time.monotonic()
    check(await wait_for(lambda: not children(pid), 5), f"still there: {children(pid)}")
    took = time.monotonic() - t0
    check(0.8 <= took < 2.5, f"gone after {took:.2f}s, expected about 1s")
    check("SIGKILL" in Env.script._stderr_tail(20), "no log line for the SIGKILL")


@test("20 sessions later: no zombie, no leaked fd in the server", timeout=30)
async def _():
    pid = Env.cat.proc.pid
    check(await wait_for(lambda: not children(pid), 3), "children left from earlier tests")
    before = fd_count(pid)

    async def one(i):
        async with connect(Env.cat, exec_path(Env.cat)) as ws:
            await ws.send(f"session {i}")
            check(await recv(ws) == f"session {i}", "echo")
    await asyncio.gather(*(one(i) for i in range(10)))
    for i in range(10, 20):
        await one(i)
    check(await wait_for(lambda: not children(pid), 5), f"children left: {children(pid)}")
    check(await wait_for(lambda: fd_count(pid) == before, 5),
          f"server fds {before} before, {fd_count(pid)} after")


# ----- who may connect ------------------------------------------------------------------
async def status_of(srv, path, headers=None):
    try:
        async with connect(srv, path, extra_headers=headers or {}):
            return 101
    except websockets.InvalidStatusCode as exc:
        return exc.status_code


@test("token: missing or wrong -> 401 before the upgrade; ?token= or Bearer -> 101")
async def _():
    pid = Env.token.proc.pid
    check(await status_of(Env.token, "/exec") == 401, "no token")
    check(await status_of(Env.token, "/exec?token=wrong") == 401, "wrong token")
    check(await status_of(Env.token, "/exec", {"Authorization": "Bearer nope"}) == 401,
          "wrong bearer")
    check(not children(pid), "a refused client started a command")
    check(await status_of(Env.token, f"/exec?token={TOKEN}") == 101, "query token")
    check(await status_of(Env.token, "/exec", {"Authorization": f"Bearer {TOKEN}"}) == 101,
          "bearer token")


@test("a page from another origin -> 403; the same origin -> 101")
async def _():
    srv = Env.cat
    same = f"http://127.0.0.1:{srv.port}"
    check(await status_of(srv, exec_path(srv), {"Origin": "http://evil.example"}) == 403,
          "evil")
    async with connect(srv, exec_path(srv), origin=same) as ws:
        await ws.send("same origin")
        check(await recv(ws) == "same origin", "echo")


@test("no --exec-token: a random one is made, printed, and required (401 without it)")
async def _():
    pid = Env.cat.proc.pid
    token = generated_token(Env.cat)
    check(token != generated_token(Env.script), "two servers made the same token")
    check(await status_of(Env.cat, "/exec") == 401, "no token")
    check(await status_of(Env.cat, "/exec?token=" + "0" * 32) == 401, "wrong token")
    check(not children(pid), "a refused client started a command")
    check(await status_of(Env.cat, f"/exec?token={token}") == 101, "the printed token")


def raw_upgrade(srv, host, origin, path):
    """Status line of a hand-made upgrade with this Host and Origin (a rebound page's)."""
    with socket.create_connection((srv.host, srv.port), timeout=5) as s:
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        return s.recv(4096).split(b"\r\n", 1)[0].decode()


@test("DNS rebinding: Host and Origin rebind.example:PORT -> 421, no command runs")
async def _():
    for srv in (Env.cat, Env.token):
        # Earlier tests' commands may still be exiting (SIGINT, then reaped): wait them out,
        # so a child seen below can only be one this test's requests started.
        check(await wait_for(lambda s=srv: not children(s.proc.pid), 5), "earlier commands")
        port = srv.port
        rebound = f"rebind.example:{port}"
        # Even with the right token: the name is not ours, whoever holds the secret.
        path = exec_path(srv) if srv is Env.cat else f"/exec?token={TOKEN}"
        for host in (rebound, f"127.0.0.1.rebind.example:{port}", f"127.0.0.1:{port + 1}"):
            line = raw_upgrade(srv, host, f"http://{host}", path)
            check(line.startswith("HTTP/1.1 421"), f"{host}: {line}")
        check(not children(srv.proc.pid), "a rebound page started a command")
        line = raw_upgrade(srv, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}", path)
        check(line.startswith("HTTP/1.1 101"), f"our own name: {line}")


@test("--allow-host NAME lets a proxied name in; the token is still required")
async def _():
    with wsedge_server(["--log-level", "warn", "--web", "", "--exec", "cat",
                        "--allow-host", "ws.example"]) as srv:
        tok = exec_path(srv)
        host = f"ws.example:{srv.port}"
        check(raw_upgrade(srv, host, f"http://{host}", tok).startswith("HTTP/1.1 101"), "listed")
        check(raw_upgrade(srv, host, f"http://{host}", "/exec").startswith("HTTP/1.1 401"),
              "listed name, no token")
        check(raw_upgrade(srv, "other.example", "http://other.example", tok)
              .startswith("HTTP/1.1 421"), "unlisted name")


@test("without --exec no command ever runs (/exec is just the echo route)")
async def _():
    pid = Env.plain.proc.pid
    async with connect(Env.plain, "/exec") as ws:
        await ws.send("exit3")
        check(await recv(ws) == "exit3", "echo")
        check(not children(pid), "a command ran")


def cli(args):
    r = subprocess.run([server_binary()] + args, capture_output=True, text=True, timeout=5)
    return r.returncode, r.stderr


@test("--exec on a non-loopback host without --exec-token refuses to start (exit 2)")
async def _():
    rc, err = cli(["--host", "0.0.0.0", "--port", "0", "--exec", "cat"])
    check(rc == 2 and "requires --exec-token" in err, f"rc {rc} {err!r}")
    rc, err = cli(["--exec", "sh -c 'unterminated"])
    check(rc == 2 and "unterminated quote" in err, f"rc {rc} {err!r}")
    rc, err = cli(["--exec-token", "x"])
    check(rc == 2 and "without --exec" in err, f"rc {rc} {err!r}")


@test("SIGTERM with a command running: the server reaps it and exits 0", timeout=15)
async def _():
    with wsedge_server(["--log-level", "warn", "--web", "", "--exec",
                        "sh -c \"trap '' INT; echo up; while :; do sleep 0.05; done\""]) as srv:
        async with connect(srv, exec_path(srv)) as ws:
            check(await recv(ws) == "up", "started")
            kids = [p for p, _ in children(srv.proc.pid)]
            check(len(kids) == 1, f"children {kids}")
            problem = srv.stop()
            check(problem is None, f"stop: {problem}")
        check(all(not os.path.exists(f"/proc/{k}") for k in kids), "the command outlived it")


if __name__ == "__main__":
    common = ["--log-level", "info", "--web", ""]
    sys.exit(run(TESTS, {"cat": common + ["--exec", "cat"],
                         "token": common + ["--exec", "cat", "--exec-token", TOKEN],
                         "script": common + ["--exec", "sh -c '" + SCRIPT.replace("'", "'\\''")
                                             + "'"],
                         "plain": common}, Env))
