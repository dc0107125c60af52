#!/usr/bin/python3
"""Interop: build/wsedge-client against wsedge, python3-websockets, Node's ws and stubs that
misbehave on purpose.

    /usr/bin/python3 tests/interop/test_client.py [-k WORD] [-v]

The client is $WSEDGE_CLIENT_BIN, else the `wsedge-client` beside $WSEDGE_BIN (default
build/wsedge). It is driven non-interactively (--send / --expect) and through stdin (lines
and slash commands, then EOF, which closes with 1000). Against wsedge: echo, binary, ping,
fragments, close code, /raw frames that break a rule (the server's 1002 shown), --deflate,
--subprotocol, --origin, --trace and --trace=hex (the accept key recomputed here, the masking
checked byte by byte), wss:// with --ca / --insecure. Against python3-websockets and Node ws:
echo, subprotocol, deflate. Against raw-socket stubs: a masked frame, invalid UTF-8, a bad
accept key, a refused upgrade, an unoffered subprotocol or extension, a close without a close
frame, a ping (answered with the same data), fresh masking keys; TLS stubs that end the stream
without close_notify, before and after the close handshake. Ctrl-C (SIGINT sent to the client):
the close handshake with 1001, exit 130, and a second one that quits at once; an --expect that
times out closes with 1001 and waits for the answer. Bad command lines: exit 2.
Every server listens on a free port. Last line: "N passed, N failed"; exit 1 if any failed.
"""
import asyncio
import base64
import contextlib
import hashlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from support.server import ROOT, server_binary, wait_until, wsedge_server  # noqa: E402
from support.tls import make_pki  # noqa: E402
from support.wsload import check, free_port, main, test  # noqa: E402

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def client_binary():
    path = os.environ.get("WSEDGE_CLIENT_BIN")
    if path:
        return os.path.abspath(path)
    return os.path.join(os.path.dirname(server_binary()), "wsedge-client")


def run_client(args, stdin=None, timeout=20):
    """Runs the client; returns (exit status, stdout, stderr). stdin: text, or None (empty)."""
    p = subprocess.run([client_binary()] + args, input=stdin if stdin is not None else "",
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def _sigint_default():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class LiveClient:
    """The client as a running child, for signals: stdin held open (so it stays interactive
    unless args script it), stderr read as it comes. Killed on the way out if still running."""

    def __init__(self, args):
        # A SIGINT ignored here (a suite run with `&` from a script) would be inherited, and
        # the client keeps an inherited "ignore" on purpose: give the child the default back.
        restore = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        self.p = subprocess.Popen([client_binary()] + args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  preexec_fn=_sigint_default if restore else None)
        self.got = {"stdout": b"", "stderr": b""}

    def send_line(self, line):
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()

    def wait_for(self, text, stream="stderr", timeout=5):
        """Reads stdout or stderr until what it has printed holds `text`."""
        pipe = getattr(self.p, stream)
        end = time.monotonic() + timeout
        while text.encode() not in self.got[stream]:
            left = end - time.monotonic()
            check(left > 0, f"no {text!r} on {stream} within {timeout} s: {self.got}")
            if select.select([pipe], [], [], left)[0]:
                chunk = os.read(pipe.fileno(), 65536)
                check(chunk, f"{stream} ended before {text!r}: {self.got}")
                self.got[stream] += chunk

    def interrupt(self):
        self.p.send_signal(signal.SIGINT)

    def finish(self, timeout):
        """Waits for the exit; returns (status, stdout, stderr, seconds it took)."""
        t = time.monotonic()
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the client still runs after {timeout} s: {self.got}")
        return (self.p.returncode, (self.got["stdout"] + out).decode(),
                (self.got["stderr"] + err).decode(), time.monotonic() - t)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.p.poll() is None:
            self.p.kill()
        self.p.communicate()


def accept_of(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class Env:
    srv = None  # wsedge with a subprotocol and deflate on every message
    pki = None


def url(path="/echo"):
    return Env.srv.url(path)


# ----- against wsedge ----------------------------------------------------------------------
@test("wsedge: --send/--expect echo, exit 0 after a clean close")
def _(v):
    rc, out, err = run_client(["--send", "hello", "--send", "wörld", "--expect", "hello",
                               "--expect", "wörld", url()])
    check(rc == 0, f"exit {rc}: {err}")
    check(out.splitlines() == ["hello", "wörld", "[close 1000 normal closure]"], repr(out))


@test("wsedge: stdin lines and commands: text, binary, ping, fragments, //, empty line")
def _(v):
    rc, out, err = run_client([url()], stdin="plain\n/binary 01 02 ff\n/ping yo\n"
                              "/fragment 3 abcdefg\n//slash\n\n")
    check(rc == 0, f"exit {rc}: {err}")
    check(out.splitlines() == ["plain", "[binary 3 bytes] 01 02 ff", "[pong] yo", "abcdefg",
                               "/slash", "", "[close 1000 normal closure]"], repr(out))


@test("wsedge: /close with a code and a reason; the server echoes the code")
def _(v):
    rc, out, err = run_client(["--trace", url()], stdin="/close 4000 bye now\n")
    check(rc == 0, f"exit {rc}: {err}")
    check("[close 4000 private use]" in out, repr(out))
    check('c1 >   close code 4000 (private use), reason "bye now"' in err, err)
    check("c1 <   close code 4000 (private use)" in err, err)


@test("wsedge: /raw with RSV1 and no extension: the server's 1002 is shown, exit 1")
def _(v):
    rc, out, err = run_client(["--trace", url()], stdin="/raw RSV1=1 PAYLOAD=4142\n")
    check(rc == 1, f"exit {rc}: {err}")
    check("[close 1002 protocol error] reserved bit set without a negotiated extension" in out,
          repr(out))
    check("c1 > frame FIN=1 RSV1=1 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=1 length=2" in err, err)
    check("the server closed with 1002 (protocol error)" in err, err)


@test("wsedge: /raw reserved opcode, unmasked frame, non-minimal length: 1002 each")
def _(v):
    for raw, reason in [("OP=0x3", "reserved opcode"), ("MASK=0 PAYLOAD=41", "client frame not masked"),
                        ("FORM=16 PAYLOAD=41", "payload length not minimally encoded"),
                        ("OP=0x9 FIN=0", "fragmented control frame")]:
        rc, out, err = run_client([url()], stdin=f"/raw {raw}\n")
        check(rc == 1, f"{raw}: exit {rc}: {err}")
        check(f"[close 1002 protocol error] {reason}" in out, f"{raw}: {out!r}")


@test("wsedge: --trace shows the accept key step by step, recomputed here")
def _(v):
    rc, out, err = run_client(["--trace", "--send", "hi", url()])
    check(rc == 0, f"exit {rc}: {err}")
    key = re.search(r"^c1 > Sec-WebSocket-Key: (\S+)$", err, re.M).group(1)
    digest = hashlib.sha1((key + GUID).encode()).digest()
    for line in [f'c1 < accept key: Sec-WebSocket-Key "{key}"',
                 f'c1 <   + GUID "{GUID}" (RFC 6455 §1.3)',
                 f"c1 <   SHA-1 = {digest.hex()}",
                 f'c1 <   base64 = "{base64.b64encode(digest).decode()}" (Sec-WebSocket-Accept)',
                 f"c1 < Sec-WebSocket-Accept: {accept_of(key)}",
                 "c1 < Sec-WebSocket-Accept matches (RFC 6455 §4.1)",
                 "c1 > GET /echo HTTP/1.1", "c1 > Sec-WebSocket-Version: 13",
                 "c1 < HTTP/1.1 101 Switching Protocols"]:
        check(line in err.splitlines(), f"missing {line!r} in:\n{err}")


@test("wsedge: --trace frame fields; the masked bytes are the payload XOR the key shown")
def _(v):
    rc, out, err = run_client(["--trace", "--send", "masked text", url()])
    check(rc == 0, f"exit {rc}: {err}")
    lines = err.splitlines()
    i = lines.index("c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=1 length=11 "
                    "(7-bit field)")
    key = bytes.fromhex(lines[i + 1].split("masking key: ")[1])
    masked = bytes.fromhex(lines[i + 2].split("payload masked:   ")[1])
    check(lines[i + 3] == 'c1 >   payload unmasked: "masked text"', lines[i + 3])
    check(bytes(b ^ key[j % 4] for j, b in enumerate(masked)) == b"masked text", "mask math")
    check(lines[i + 4] == "c1 >   message 1: whole (one frame)", lines[i + 4])
    check("c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=0 length=11 (7-bit field)"
          in lines, err)
    check('c1 <   payload: "masked text"' in lines, err)


@test("wsedge: length forms 7+16 and 7+64 in the trace; large echoes intact")
def _(v):
    big = "x" * 70000
    rc, out, err = run_client(["--trace", "--send", "y" * 300, "--send", big, "--expect",
                               "y" * 300, "--expect", big, url()])
    check(rc == 0, f"exit {rc}: {err[-500:]}")
    check(out.splitlines()[:2] == ["y" * 300, big], "echoes differ")
    check("length=300 (7+16 bits: 126, then 2 bytes)" in err, "no 16-bit form")
    check("length=70000 (7+64 bits: 127, then 8 bytes)" in err, "no 64-bit form")
    check("... (first 32 of 70000 bytes)" in err, "no cut preview")


@test("wsedge: --trace=hex dumps each frame")
def _(v):
    rc, out, err = run_client(["--trace=hex", "--send", "hex", url()])
    check(rc == 0, f"exit {rc}: {err}")
    check("c1 <   0000  81 03 68 65 78" in err, err)
    check(re.search(r"^c1 >   0000  81 83 ", err, re.M), err)


@test("wsedge: /fragment in the trace: first, middle and last of message 1")
def _(v):
    rc, out, err = run_client(["--trace", url()], stdin="/fragment 3 abcdef\n")
    check(rc == 0, f"exit {rc}: {err}")
    for pos in ["first", "middle", "last"]:
        check(f"c1 >   message 1: {pos} fragment" in err, f"{pos}: {err}")
    check("c1 > frame FIN=0 RSV1=0 RSV2=0 RSV3=0 opcode=0x0 (continuation)" in err, err)
    check(out.splitlines()[0] == "abcdef", repr(out))


@test("wsedge: --deflate agreed, both directions compressed, sizes in the trace")
def _(v):
    text = "deflate me " * 20
    rc, out, err = run_client(["--deflate", "--trace", "--send", text, "--expect", text, url()])
    check(rc == 0, f"exit {rc}: {err}")
    check(out.splitlines()[0] == text, repr(out))
    check("permessage-deflate" in err.splitlines()[-1] or ", permessage-deflate" in err, err)
    check(re.search(r"^c1 > frame FIN=1 RSV1=1 .* opcode=0x1 \(text\) MASK=1", err, re.M), err)
    check(re.search(r"^c1 < frame FIN=1 RSV1=1 .* opcode=0x1 \(text\) MASK=0", err, re.M), err)
    check(re.search(rf"^c1 >   permessage-deflate: \d+ bytes compressed, {len(text)} inflated$",
                    err, re.M), err)
    check(re.search(rf"^c1 <   permessage-deflate: \d+ bytes compressed, {len(text)} inflated$",
                    err, re.M), err)
    check('c1 < extensions: offered "permessage-deflate; client_max_window_bits"; agreed '
          '"permessage-deflate' in err, err)


@test("wsedge: --deflate with fragments: the server inflates the fragmented message")
def _(v):
    text = "fragmented and compressed " * 10
    rc, out, err = run_client(["--deflate", url()], stdin=f"/fragment 4 {text}\n")
    check(rc == 0, f"exit {rc}: {err}")
    check(out.splitlines()[0] == text, repr(out))


@test("wsedge: --subprotocol: the one the route speaks is chosen")
def _(v):
    rc, out, err = run_client(["--trace", "--subprotocol", "nope", "--subprotocol", "chat2",
                               "--send", "x", url()])
    check(rc == 0, f"exit {rc}: {err}")
    check("c1 > Sec-WebSocket-Protocol: nope, chat2" in err, err)
    check('c1 < subprotocol: offered "nope, chat2"; chosen "chat2"' in err, err)
    check("connected to " in err and ", subprotocol chat2" in err, err)


@test("wsedge: --origin against --allow-origin: 403 is a failed handshake, exit 1")
def _(v):
    with wsedge_server(["--allow-origin", "http://good.example"]) as srv:
        rc, out, err = run_client(["--origin", "http://evil.example", "--send", "x", srv.url("/")])
        check(rc == 1, f"exit {rc}: {err}")
        check("handshake failed: the status is not 101" in err and "[HTTP 403" in err, err)
        rc, out, err = run_client(["--origin", "http://good.example", "--send", "x", "--expect",
                                   "x", srv.url("/")])
        check(rc == 0, f"exit {rc}: {err}")


@test("wsedge: --expect that never comes: exit 1 within the timeout")
def _(v):
    t = time.monotonic()
    rc, out, err = run_client(["--expect", "never", "--timeout", "0.5", url()])
    check(rc == 1, f"exit {rc}: {err}")
    check('--expect: no message "never" within 0.5 s' in err, err)
    check(time.monotonic() - t < 5, "took too long")


@test("wss: wsedge over TLS with --ca, and with --insecure; without either, exit 1")
def _(v):
    pki = Env.pki
    with wsedge_server(["--tls-cert", pki.server_cert, "--tls-key", pki.server_key]) as srv:
        u = f"wss://localhost:{srv.port}/echo"
        rc, out, err = run_client(["--ca", pki.ca_cert, "--send", "secure", "--expect", "secure", u])
        check(rc == 0, f"--ca: exit {rc}: {err}")
        check(out.splitlines()[0] == "secure", repr(out))
        rc, out, err = run_client(["--insecure", "--send", "s", f"wss://127.0.0.1:{srv.port}/"])
        check(rc == 0, f"--insecure: exit {rc}: {err}")
        rc, out, err = run_client(["--send", "s", u])
        check(rc == 1 and "TLS handshake failed" in err, f"no CA: exit {rc}: {err}")


@test("wss: SNI names the host; an IP literal is never sent as SNI (RFC 6066 §3)")
def _(v):
    import ssl
    pki = Env.pki
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server_cert, pki.server_key)
    snis = []
    ctx.sni_callback = lambda sslobj, name, _ctx: snis.append(name)
    for host, args, want in [("localhost", ["--ca", pki.ca_cert], ["localhost"]),
                             ("127.0.0.1", ["--insecure"], [None])]:
        snis.clear()
        port, t = tls_stub(close_then_notify, ctx)
        rc, out, err = run_client(args + ["--timeout", "3", f"wss://{host}:{port}/"])
        t.join(10)
        check(rc == 0, f"{host}: exit {rc}: {err}")
        check("close_notify" not in err, f"{host}: {err}")
        # Python calls the SNI callback with None when the ClientHello names no server.
        check(snis == want, f"{host}: the server saw SNI {snis}")


@test("connection refused: exit 1 with the reason")
def _(v):
    rc, out, err = run_client(["--send", "x", f"ws://127.0.0.1:{free_port()}/"])
    check(rc == 1 and "cannot connect" in err and "refused" in err, f"exit {rc}: {err}")


@test("bad command lines: exit 2 with one clear line")
def _(v):
    cases = [([], "no URL given"), (["http://x/"], "must start with ws://"),
             (["ws://h/#frag"], "no #fragment"), (["ws://h:99999/"], "port"),
             (["--bogus", "ws://h/"], "unknown option --bogus"),
             (["--timeout", "soon", "ws://h/"], "--timeout"),
             (["--header", "no colon", "ws://h/"], "--header"),
             (["--subprotocol", "a b", "ws://h/"], "not a token"),
             (["--trace=all", "ws://h/"], "--trace"), (["--insecure", "ws://h/"], "wss://"),
             (["ws://a/", "ws://b/"], "one URL only"), (["--send"], "needs a value")]
    for args, words in cases:
        rc, out, err = run_client(args)
        check(rc == 2, f"{args}: exit {rc}: {err}")
        check(words in err and len(err.strip().splitlines()) == 1, f"{args}: {err!r}")
    rc, out, err = run_client(["--help"])
    check(rc == 0 and "usage: wsedge-client" in out, f"--help: {rc} {out!r}")


@test("stdin: a bad command is refused and nothing is sent")
def _(v):
    rc, out, err = run_client([url()], stdin="/binary zz\n/nope\n/close abc\nok\n")
    check(rc == 0, f"exit {rc}: {err}")
    check(out.splitlines() == ["ok", "[close 1000 normal closure]"], repr(out))
    for words in ["/binary HEX: not hex", "unknown command /nope", "/close: the code"]:
        check(words in err, f"{words}: {err}")


# ----- against python3-websockets -------------------------------------------------------------
@contextlib.contextmanager
def websockets_server(closes=None, **kwargs):
    """A python3-websockets echo server in a thread, on a free port; yields the port. With
    `closes` (a list), each connection appends the (code, reason) of the Close it received."""
    import websockets  # python3-websockets (10.x)

    async def echo(ws, path=None):
        try:
            async for m in ws:
                await ws.send(m)
        finally:
            if closes is not None:
                closes.append((ws.close_code, ws.close_reason))

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state = {}

    async def serve():
        async with websockets.serve(echo, "127.0.0.1", 0, **kwargs) as server:
            state["port"] = server.sockets[0].getsockname()[1]
            state["stop"] = loop.create_future()
            ready.set()
            await state["stop"]

    t = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    t.start()
    check(ready.wait(10), "websockets server did not start")
    try:
        yield state["port"]
    finally:
        loop.call_soon_threadsafe(state["stop"].set_result, None)
        t.join(5)


@test("python3-websockets: echo, subprotocol, permessage-deflate")
def _(v):
    with websockets_server(subprotocols=["b"]) as port:
        u = f"ws://127.0.0.1:{port}/"
        rc, out, err = run_client(["--subprotocol", "a", "--subprotocol", "b", "--send", "py",
                                   "--expect", "py", u])
        check(rc == 0, f"exit {rc}: {err}")
        check(out.splitlines()[0] == "py" and ", subprotocol b" in err, f"{out!r} {err}")
        text = "squeeze " * 30
        rc, out, err = run_client(["--deflate", "--trace", "--subprotocol", "b", "--send", text,
                                   "--expect", text, u])
        check(rc == 0, f"deflate: exit {rc}: {err}")
        check(out.splitlines()[0] == text, repr(out))
        check(re.search(r"^c1 < frame FIN=1 RSV1=1 ", err, re.M), err)


@test("Ctrl-C: the client closes with 1001 (going away), the server's answer ends it, exit 130")
def _(v):
    closes = []
    with websockets_server(closes=closes) as port:
        with LiveClient([f"ws://127.0.0.1:{port}/"]) as c:
            c.wait_for("connected to ")
            c.send_line("before ctrl-c")
            c.wait_for("before ctrl-c\n", "stdout")
            c.interrupt()
            rc, out, err, secs = c.finish(10)
        check(rc == 130, f"exit {rc}: {err}")
        check(wait_until(lambda: closes, 5), "the server saw no close")
    check(closes == [(1001, "")], f"the server saw {closes}")
    # The echo came back before the Close, and the server's Close was awaited and printed.
    check(out.splitlines() == ["before ctrl-c", "[close 1001 going away]"], repr(out))
    check("interrupted: closing with 1001 (going away)" in err, err)
    check("interrupted: the close handshake completed" in err, err)
    check(secs < 3, f"took {secs:.1f} s: the answer was not what ended the wait")


@test("--expect that never comes: the close handshake with 1001, the server's answer awaited, exit 1")
def _(v):
    closes = []
    with websockets_server(closes=closes) as port:
        rc, out, err = run_client(["--trace", "--expect", "never", "--timeout", "0.5",
                                   f"ws://127.0.0.1:{port}/"])
        check(wait_until(lambda: closes, 5), "the server saw no close")
    check(rc == 1, f"exit {rc}: {err}")
    check(closes == [(1001, "--expect timed out")], f"the server saw {closes}")
    # The server's answering Close was read, not cut off by a dropped connection.
    check(out.splitlines() == ["[close 1001 going away] --expect timed out"], repr(out))
    check('--expect: no message "never" within 0.5 s' in err, err)
    check("TCP closed by the server (FIN), after the close handshake" in err, err)
    check("1006" not in err, err)


# ----- against Node's ws ----------------------------------------------------------------------
NODE_SERVER = r"""
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0,
                                  perMessageDeflate: { threshold: 0 } });
wss.on('listening', () => console.log(wss.address().port));
wss.on('connection', (ws) => ws.on('message', (m, binary) => ws.send(m, { binary })));
"""


@test("Node ws: echo of text and binary, and with permessage-deflate")
def _(v):
    proc = subprocess.Popen(["node", "-e", NODE_SERVER], cwd=os.path.join(ROOT, "tests"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().strip() or 0)
        check(port > 0, f"node server did not start: {proc.stderr.read() if proc.poll() else ''}")
        u = f"ws://127.0.0.1:{port}/"
        rc, out, err = run_client([u], stdin="from node\n/binary 00 01\n")
        check(rc == 0, f"exit {rc}: {err}")
        check(out.splitlines()[:2] == ["from node", "[binary 2 bytes] 00 01"], repr(out))
        text = "node deflate " * 20
        rc, out, err = run_client(["--deflate", "--trace", "--send", text, "--expect", text, u])
        check(rc == 0, f"deflate: exit {rc}: {err}")
        check(re.search(r"^c1 < frame FIN=1 RSV1=1 ", err, re.M), err)
    finally:
        proc.kill()
        proc.wait(5)


# ----- against stubs that misbehave -----------------------------------------------------------
def read_upgrade(conn):
    """Reads the client's request head from conn (a socket or an SSLSocket); returns it as
    text with its Sec-WebSocket-Key, or ("", None) when the client left before the end."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            return "", None
        head += chunk
    text = head.decode()
    return text, re.search(r"Sec-WebSocket-Key: (\S+)", text).group(1)


class Stub:
    """One-connection raw-socket server on a free port: answers the upgrade with `response`
    (a function of the key), then runs `after(conn)`; keeps what the client sent."""

    def __init__(self, response, after=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.response, self.after = response, after
        self.request = ""
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        conn.settimeout(5)
        with conn:
            self.request, key = read_upgrade(conn)
            if key is None:
                return
            conn.sendall(self.response(key).encode())
            if self.after:
                self.after(conn)
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    self.received += chunk
            except OSError:
                pass

    def url(self):
        return f"ws://127.0.0.1:{self.port}/stub"

    def close(self):
        self.thread.join(10)
        self.sock.close()


def ok_response(extra=""):
    return lambda key: ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept_of(key)}\r\n"
                        f"{extra}\r\n")


def client_frames(data):
    """Unmasks the client's frames: [(opcode, fin, key, payload)]."""
    frames, i = [], 0
    while i + 2 <= len(data):
        b0, b1 = data[i], data[i + 1]
        n, j = b1 & 0x7F, i + 2
        if n == 126:
            n, j = int.from_bytes(data[j:j + 2], "big"), j + 2
        elif n == 127:
            n, j = int.from_bytes(data[j:j + 8], "big"), j + 8
        key = data[j:j + 4] if b1 & 0x80 else b""
        j += len(key)
        p = data[j:j + n]
        if key:
            p = bytes(b ^ key[k % 4] for k, b in enumerate(p))
        frames.append((b0 & 0x0F, bool(b0 & 0x80), key, p))
        i = j + n
    return frames


def stub_case(response, after, args, stdin=None):
    stub = Stub(response, after)
    try:
        rc, out, err = run_client(args + [stub.url()], stdin=stdin)
    finally:
        stub.close()
    return rc, out, err, stub


@test("stub: a masked server frame fails the connection with 1002 (RFC 6455 §5.1), exit 1")
def _(v):
    rc, out, err, stub = stub_case(ok_response(), lambda c: c.sendall(
        bytes([0x81, 0x82, 1, 2, 3, 4, ord("h") ^ 1, ord("i") ^ 2])),
        ["--trace", "--expect", "hi", "--timeout", "3"])
    check(rc == 1, f"exit {rc}: {err}")
    check("the server broke RFC 6455 §5.1: server frame masked (kMaskedFrame, at byte 1); "
          "closing with 1002" in err, err)
    check("c1 < protocol error: kMaskedFrame (RFC 6455 §5.1)" in err, err)
    frames = client_frames(stub.received)
    check(frames and frames[-1][0] == 8 and frames[-1][3][:2] == (1002).to_bytes(2, "big"),
          f"client's close: {frames}")


@test("stub: invalid UTF-8 in a text message fails with 1007 (RFC 6455 §8.1), exit 1")
def _(v):
    rc, out, err, stub = stub_case(ok_response(), lambda c: c.sendall(b"\x81\x03a\xffb"),
                                   ["--expect", "x", "--timeout", "3"])
    check(rc == 1, f"exit {rc}: {err}")
    check("invalid UTF-8 (kInvalidUtf8" in err and "closing with 1007" in err, err)
    frames = client_frames(stub.received)
    check(frames and frames[-1][0] == 8 and frames[-1][3][:2] == (1007).to_bytes(2, "big"),
          f"client's close: {frames}")


@test("stub: invalid UTF-8 split across fragments is caught too")
def _(v):
    rc, out, err, stub = stub_case(ok_response(), lambda c: c.sendall(
        b"\x01\x02a\xc3" + b"\x80\x01(z"), ["--expect", "x", "--timeout", "3"])
    check(rc == 1 and "kInvalidUtf8" in err, f"exit {rc}: {err}")


@test("stub: a wrong Sec-WebSocket-Accept fails the handshake (RFC 6455 §4.1), exit 1")
def _(v):
    bad = lambda key: ok_response()("x" + key[1:])  # noqa: E731 - the accept of another key
    rc, out, err, stub = stub_case(bad, None, ["--trace", "--send", "x"])
    check(rc == 1 and "Sec-WebSocket-Accept is missing or wrong" in err, f"exit {rc}: {err}")
    check("does not match: RFC 6455 §4.1 says fail" in err, err)
    check(stub.received == b"", f"frames sent after a failed handshake: {stub.received!r}")


@test("stub: refusals and unoffered choices fail the handshake, exit 1")
def _(v):
    cases = [
        (lambda k: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "[HTTP 404 Not Found]"),
        (lambda k: ok_response()(k).replace("Upgrade: websocket", "Upgrade: h2c"),
         "Upgrade is missing"),
        (lambda k: ok_response()(k).replace("Connection: Upgrade", "Connection: close"),
         "Connection lacks"),
        (ok_response("Sec-WebSocket-Protocol: other\r\n"), "subprotocol that was not offered"),
        (ok_response("Sec-WebSocket-Extensions: x-unknown\r\n"), "extension that was not offered"),
        (lambda k: "garbage\r\n\r\n", "not an HTTP/1.1 head"),
    ]
    for response, words in cases:
        rc, out, err, stub = stub_case(response, None, ["--subprotocol", "mine", "--send", "x"])
        check(rc == 1 and words in err, f"{words}: exit {rc}: {err}")


@test("stub: a deflate answer with a parameter RFC 7692 §7 forbids fails, exit 1")
def _(v):
    rc, out, err, stub = stub_case(
        ok_response("Sec-WebSocket-Extensions: permessage-deflate; bogus=1\r\n"), None,
        ["--deflate", "--send", "x"])
    check(rc == 1 and "RFC 7692 §7: a parameter that is not defined" in err, f"{rc}: {err}")


@test("stub: TCP closed without a close frame: 1006, exit 1")
def _(v):
    def hang_up(conn):
        conn.shutdown(socket.SHUT_RDWR)
    rc, out, err, stub = stub_case(ok_response(), hang_up, ["--expect", "x", "--timeout", "3"])
    check(rc == 1 and "without a Close frame (1006" in err, f"exit {rc}: {err}")


@test("stub: a clean close before an --expect arrived is still a failure, exit 1")
def _(v):
    def close_at_once(conn):
        conn.sendall(b"\x88\x02\x03\xe8")
        time.sleep(0.2)
        conn.shutdown(socket.SHUT_WR)
    rc, out, err, stub = stub_case(ok_response(), close_at_once, ["--expect", "x", "--timeout", "3"])
    check(rc == 1 and 'the connection closed before "x"' in err, f"exit {rc}: {err}")
    check(out.splitlines() == ["[close 1000 normal closure]"], repr(out))


@test("stub: after the close handshake the client waits for the server to close TCP (RFC 6455 §7.1.1)")
def _(v):
    seen = {}

    def close_then_hold(conn):
        conn.sendall(b"\x81\x02hi" + b"\x88\x02\x03\xe8")
        got, eof, end = b"", False, time.monotonic() + 1.0
        conn.settimeout(0.1)
        while time.monotonic() < end and not eof:
            try:
                chunk = conn.recv(4096)
            except socket.timeout:
                continue
            eof = not chunk
            got += chunk
        seen["eof_first"], seen["got"] = eof, got
        conn.settimeout(5)
        conn.shutdown(socket.SHUT_WR)  # the server closes first (§7.1.1); then the client
    rc, out, err, stub = stub_case(ok_response(), close_then_hold,
                                   ["--trace", "--expect", "hi", "--timeout", "3"])
    check(rc == 0, f"exit {rc}: {err}")
    check(not seen["eof_first"], "the client closed TCP before the server did")
    frames = client_frames(seen["got"])
    check(frames and frames[-1][0] == 8 and frames[-1][3] == b"\x03\xe8", f"{frames}")
    check("TCP closed by the server (FIN), after the close handshake" in err, err)


@test("stub: a server ping gets a pong with the same data; the request is RFC 6455 §4.1's")
def _(v):
    def ping_then_close(conn):
        conn.sendall(b"\x89\x04ping" + b"\x81\x02ok")
        time.sleep(0.3)
        conn.sendall(b"\x88\x02\x03\xe8")
    rc, out, err, stub = stub_case(ok_response(), ping_then_close,
                                   ["--origin", "http://o.example", "--header", "X-Test: 1",
                                    "--expect", "ok", "--timeout", "3"])
    check(rc == 0, f"exit {rc}: {err}")
    check(out.splitlines()[:2] == ["[ping] ping", "ok"], repr(out))
    frames = client_frames(stub.received)
    check(frames and frames[0][:2] == (0xA, True) and frames[0][3] == b"ping", f"{frames}")
    check(frames[-1][0] == 8 and frames[-1][3] == b"\x03\xe8", f"close echo: {frames}")
    req = stub.request
    check(req.startswith("GET /stub HTTP/1.1\r\n"), req)
    for line in [f"Host: 127.0.0.1:{stub.port}", "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Version: 13", "Origin: http://o.example", "X-Test: 1"]:
        check(f"\r\n{line}\r\n" in req, f"{line}: {req}")
    key = re.search(r"Sec-WebSocket-Key: (\S+)", req).group(1)
    check(len(base64.b64decode(key)) == 16, key)


@test("stub: every frame the client sends is masked, each with its own key (RFC 6455 §5.3)")
def _(v):
    def close_late(conn):
        time.sleep(0.5)
        conn.sendall(b"\x88\x02\x03\xe8")
    lines = "".join(f"m{i}\n" for i in range(20))
    rc, out, err, stub = stub_case(ok_response(), close_late, ["--timeout", "3"], stdin=lines)
    frames = client_frames(stub.received)
    texts = [f for f in frames if f[0] == 1]
    check([f[3] for f in texts] == [f"m{i}".encode() for i in range(20)], f"{frames}")
    keys = [f[2] for f in frames]
    check(all(len(k) == 4 for k in keys), f"unmasked frame among {keys}")
    check(len(set(keys)) == len(keys), f"a key repeats: {keys}")


def ctrl_c_silent_stub(timeout, then=None):
    """Ctrl-C to a client whose server (a stub) never answers the Close; then(client) runs
    after the first one. Checks that the client's only frame was a Close 1001; returns
    (status, stdout, stderr, seconds from the last step to the exit)."""
    stub = Stub(ok_response())
    try:
        with LiveClient(["--timeout", str(timeout), stub.url()]) as c:
            c.wait_for("connected to ")
            c.interrupt()
            c.wait_for("interrupted: closing with 1001")
            if then:
                then(c)
            result = c.finish(10)
    finally:
        stub.close()
    frames = client_frames(stub.received)
    check([f[0] for f in frames] == [8] and frames[0][3] == (1001).to_bytes(2, "big"),
          f"the client sent {frames}")
    return result


@test("stub: Ctrl-C while the server never answers the Close: exit 130 once --timeout has passed")
def _(v):
    rc, out, err, secs = ctrl_c_silent_stub(1)
    check(rc == 130, f"exit {rc}: {err}")
    check(0.7 < secs < 4, f"exit after {secs:.1f} s, not after the 1 s close wait")
    check("no Close frame from the server within the timeout" in err, err)


@test("stub: a second Ctrl-C quits at once, without waiting for the server's Close")
def _(v):
    def again(c):
        time.sleep(0.3)
        check(c.p.poll() is None, "the first Ctrl-C did not wait for the server's Close")
        c.interrupt()
    rc, out, err, secs = ctrl_c_silent_stub(10, again)
    check(rc == 130, f"exit {rc}: {err}")
    check(secs < 1.5, f"the second Ctrl-C took {secs:.1f} s")
    check("interrupted again: quitting without waiting for the server" in err, err)


@test("stub: --expect times out and the server never answers the Close: exit 1, both said")
def _(v):
    t = time.monotonic()
    rc, out, err, stub = stub_case(ok_response(), None, ["--expect", "x", "--timeout", "0.5"])
    secs = time.monotonic() - t
    check(rc == 1, f"exit {rc}: {err}")
    check('--expect: no message "x" within 0.5 s' in err, err)
    check("no Close frame from the server within the timeout" in err, err)
    check(0.9 < secs < 4, f"{secs:.1f} s: not the --expect wait and then the close wait")
    frames = client_frames(stub.received)
    check(len(frames) == 1 and frames[0][0] == 8 and
          frames[0][3] == (1001).to_bytes(2, "big") + b"--expect timed out", f"{frames}")


def tls_stub(after, ctx=None):
    """A one-connection TLS server on a free port (ctx, else one with the suite's
    certificate): answers the upgrade, then runs after(tls). Returns (port, thread)."""
    import ssl
    if ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(Env.pki.server_cert, Env.pki.server_key)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)

    def serve():
        with sock:
            conn, _ = sock.accept()
            tls = ctx.wrap_socket(conn, server_side=True)
            tls.settimeout(5)
            key = read_upgrade(tls)[1]
            if key is None:
                return
            tls.sendall(ok_response()(key).encode())
            try:
                after(tls)
            except OSError:
                pass
            tls.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return sock.getsockname()[1], t


def cut_tcp(tls):
    """Ends the TCP connection under TLS without close_notify: a truncation (RFC 8446 §6.1).
    SSLSocket.shutdown() shuts the socket itself; only unwrap() would send close_notify."""
    tls.shutdown(socket.SHUT_RDWR)


@test("wss stub: TLS cut without close_notify before any Close: exit 1, truncation said")
def _(v):
    def cut_soon(tls):
        time.sleep(0.2)
        cut_tcp(tls)
    port, t = tls_stub(cut_soon)
    rc, out, err = run_client(["--ca", Env.pki.ca_cert, "--trace", "--expect", "x", "--timeout",
                               "3", f"wss://localhost:{port}/"])
    t.join(10)
    check(rc == 1, f"exit {rc}: {err}")
    check("wsedge-client: TLS stream ended without close_notify (truncation) before the close "
          "handshake completed (RFC 8446 §6.1)" in err, err)
    check("c1 < TLS stream ended without close_notify (truncation), without a close handshake"
          in err, err)
    check("read failed" not in err, err)


@test("wss stub: TLS cut without close_notify after the close handshake: a warning, exit 0")
def _(v):
    def close_then_cut(tls):
        tls.sendall(b"\x88\x02\x03\xe8")
        tls.recv(4096)  # the client's answering Close
        cut_tcp(tls)
    port, t = tls_stub(close_then_cut)
    rc, out, err = run_client(["--ca", Env.pki.ca_cert, "--timeout", "3",
                               f"wss://localhost:{port}/"], stdin=None)
    t.join(10)
    check(rc == 0, f"exit {rc}: {err}")
    check(out.splitlines() == ["[close 1000 normal closure]"], repr(out))
    check("wsedge-client: warning: TLS stream ended without close_notify (truncation, "
          "RFC 8446 §6.1) after the close handshake" in err, err)


def close_then_notify(tls):
    """A Close 1000, the client's answer read, then TLS's close_notify and the TCP close."""
    tls.sendall(b"\x88\x02\x03\xe8")
    tls.recv(4096)
    tls.unwrap()


@test("wss stub: the same close with close_notify: no warning, exit 0")
def _(v):
    port, t = tls_stub(close_then_notify)
    rc, out, err = run_client(["--ca", Env.pki.ca_cert, "--timeout", "3",
                               f"wss://localhost:{port}/"])
    t.join(10)
    check(rc == 0, f"exit {rc}: {err}")
    check("close_notify" not in err, err)


# ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def servers():
    if not os.path.exists(client_binary()):
        raise RuntimeError(f"{client_binary()} not built (make)")
    Env.pki = make_pki()
    with wsedge_server(["--subprotocol", "chat2", "--deflate-min-size", "1"]) as srv:
        Env.srv = srv
        yield


if __name__ == "__main__":
    sys.exit(main(servers))
