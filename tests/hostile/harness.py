"""The shared harness of the hostile suite: a server per case, its memory and CPU from /proc,
and a raw client that can put any byte on the wire.

A case is a function registered with @case(...). The runner (run.py) gives each case a fresh
server started with the case's flags, measures the idle baseline (VmRSS after one warm-up
echo), resets the peak (VmHWM, via /proc/PID/clear_refs) and runs the case. Afterwards it
asserts, for every case: the peak RSS stayed within the case's `peak_mib` of the baseline;
RSS came back to within `settle_mib` of the baseline within SETTLE_SECONDS; a new client still
gets a normal echo; the server is alive and exits 0 on SIGTERM. The case itself asserts its
own figures (time to cut, close code, HTTP status, CPU time) with check() and records them
with ctx.figure() so that every line of output carries the numbers it was judged on.

Raw bytes: frame() builds any frame header (any FIN/RSV/opcode/mask bit, any length value in
any length form, whatever the payload really is); request() builds any request head.
deflate_message()/bomb() make permessage-deflate payloads with zlib. The frame and handshake
pieces the conformance suite uses too live in tests/support/raw_ws.py and are re-exported
here. Standard library only.
"""
import os
import select
import socket
import ssl
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from support.raw_ws import (BINARY, CLOSE, CONT, GUID, PING, PONG, TEXT,  # noqa: E402,F401
                            Frame, Reader, TcpClosed, accept_for, close_body, frame,
                            mask_bytes, parse_head, recv_some, ws_key)
from support.server import Server, server_binary, wait_until  # noqa: E402,F401

KiB, MiB = 1 << 10, 1 << 20
SETTLE_SECONDS = 3.0
# Every server gets these unless the case overrides them: a short close grace keeps the
# lingering closes of failed connections from dominating the suite's wall time.
BASE_ARGS = ["--log-level", "warn", "--close-grace", "0.5"]


class Fail(AssertionError):
    """An expectation of a case was not met."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


# ----- the server's figures, from /proc ---------------------------------------------------

def proc_status_kib(pid, field):
    """A kB field of /proc/PID/status (VmRSS, VmHWM, ...) as an int."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise Fail(f"no {field} in /proc/{pid}/status")


def rss_kib(pid):
    return proc_status_kib(pid, "VmRSS")


def hwm_kib(pid):
    return proc_status_kib(pid, "VmHWM")


def reset_hwm(pid):
    """Resets VmHWM to the current RSS (proc(5): clear_refs "5"); False when not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the process (/proc/PID/stat fields 14 and 15), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class RssSampler:
    """Samples VmRSS every `period` s in a thread: a second witness of the peak beside VmHWM
    (which the kernel updates lazily), and the curve's maximum when clear_refs is refused."""

    def __init__(self, pid, period=0.005):
        self.pid, self.period = pid, period
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except (OSError, Fail):
                return
            self._stop.wait(self.period)

    def stop(self):
        self._stop.set()
        self._thread.join(2)
        return self.peak


# ----- frames and payloads -----------------------------------------------------------------

def deflate_message(data, wbits=15, level=9):
    """One permessage-deflate message body (RFC 7692 §7.2.1: raw deflate, sync-flushed, the
    final 00 00 ff ff removed)."""
    c = zlib.compressobj(level, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate_message(payload):
    return zlib.decompressobj(-15).decompress(bytes(payload) + b"\x00\x00\xff\xff")


_BOMBS = {}


def client_hello():
    """The bytes of a real ClientHello (TLS 1.2-1.3), made with ssl.MemoryBIO."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def bomb(inflated_bytes, byte=b"\0"):
    """A permessage-deflate body that inflates to `inflated_bytes` copies of `byte` (about
    1000:1, deflate's limit), cached. Whole MiBs are one compressed MiB repeated: a fresh
    compressor's output up to a full flush is a run of byte-aligned, non-final blocks that
    refer to nothing before them, so copies of it concatenate into one valid stream (a
    1 GiB bomb costs one MiB of compression)."""
    key = (inflated_bytes, byte)
    if key not in _BOMBS:
        whole, rest = divmod(inflated_bytes, MiB)
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        unit = c.compress(byte * MiB) + c.flush(zlib.Z_FULL_FLUSH) if whole else b""
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        tail = c.compress(byte * rest) + c.flush(zlib.Z_SYNC_FLUSH) if rest else b""
        out = unit * whole + tail
        assert out.endswith(b"\x00\x00\xff\xff")
        _BOMBS[key] = out[:-4]
    return _BOMBS[key]


# ----- request heads -----------------------------------------------------------------------

def request(port, path="/echo", host=None, upgrade=True, headers=(), key=None, method="GET",
            body=b"", deflate=False):
    """A request head (and body) as bytes. `headers` are extra lines, sent verbatim after the
    standard ones (a str line or a (name, value) pair)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host or f'127.0.0.1:{port}'}"]
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade",
                  f"Sec-WebSocket-Key: {key or ws_key()}", "Sec-WebSocket-Version: 13"]
    if deflate:
        lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    for h in headers:
        lines.append(h if isinstance(h, str) else f"{h[0]}: {h[1]}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Response:
    def __init__(self, status, reason, headers, head):
        self.status, self.reason, self.headers, self.head = status, reason, headers, head

    def header(self, name):
        return self.headers.get(name.lower())


class Closed(TcpClosed):
    """The server ended TCP: how is 'FIN' or 'reset'."""


ServerFrame = Frame


class Raw(Reader):
    """One TCP connection to the server, spoken to byte by byte. Every read has a deadline."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, tls_context=None, nodelay=True,
                 rcvbuf=None):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connect, so the window the server sees is small from the start
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname="localhost")
        self.timeout = timeout
        self.buf = bytearray()
        self.closed = None  # 'FIN' or 'reset' once the server ended TCP

    # -- writing
    def send(self, data):
        """Writes all of data; Closed if the server reset or closed the connection."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as exc:
            self.closed = self.closed or "reset"
            raise Closed("reset") from exc

    def send_slowly(self, data, chunk=1, delay=0.05, until=None):
        """Writes `chunk` bytes every `delay` s; stops (returning bytes written) as soon as the
        server answers or closes, or `until` (a monotonic time) passes. Stopping at the first
        answer matters: writing on after the server closed draws a RST, which would discard
        its answer before we read it."""
        sent = 0
        for i in range(0, len(data), chunk):
            if until is not None and time.monotonic() >= until:
                break
            try:
                self.sock.sendall(data[i:i + chunk])
            except OSError:
                self.closed = self.closed or "reset"
                break
            sent += len(data[i:i + chunk])
            if select.select([self.sock], [], [], delay)[0]:
                break
        return sent

    # -- reading
    def fill(self, deadline, what="bytes"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Fail(f"timed out waiting for {what}")
        if self.closed:
            raise Closed(self.closed)
        try:
            data = recv_some(self.sock, remaining, what, Fail)
        except ssl.SSLError as exc:
            self.closed = "reset"
            raise Closed(f"TLS error {exc.reason}") from None
        except TcpClosed as exc:
            self.closed = exc.how
            raise Closed(exc.how) from None
        self.buf += data

    def response(self, deadline=None, what="the response head"):
        """Reads one HTTP response head."""
        deadline = deadline or time.monotonic() + self.timeout
        head = self.read_head(deadline, what)
        status_line, headers = parse_head(head)
        parts = status_line.split(" ", 2)
        check(len(parts) >= 2 and parts[0].startswith("HTTP/1.") and parts[1].isdigit(),
              f"malformed status line {status_line!r}")
        resp = Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, head)
        length = int(headers.get("content-length", "0") or 0)
        while len(self.buf) < length:
            self.fill(deadline, "the response body")
        resp.body = bytes(self.buf[:length])
        del self.buf[:length]
        return resp

    def head_overflow(self):
        check(len(self.buf) < 65536, "response head larger than 64 KiB")

    def status(self, deadline=None):
        """The status of the next response, or None when the server closed without one."""
        try:
            return self.response(deadline).status
        except Closed:
            return None

    def has_frame(self):
        """True when buf holds a whole server frame (frame() will not need to read)."""
        if len(self.buf) < 2:
            return False
        n = self.buf[1] & 0x7F
        hlen = 2 + (2 if n == 126 else 8 if n == 127 else 0)
        if len(self.buf) < hlen:
            return False
        if n >= 126:
            n = int.from_bytes(self.buf[2:hlen], "big")
        return len(self.buf) >= hlen + n

    def frame(self, deadline, what="a frame"):
        """Next server frame (server frames are never masked)."""
        return self.read_frame(deadline, what)

    def frame_header(self, fin, rsv, opcode, masked, code, length):
        check(not masked, "the server sent a masked frame (RFC 6455 §5.1)")

    def message(self, deadline, what="a message"):
        """Next data message (opcode, payload), control frames skipped; a close frame raises
        Fail naming its code."""
        parts, op = [], None
        while True:
            f = self.frame(deadline, what)
            if f.opcode == CLOSE:
                raise Fail(f"close {f.close_code()} {f.close_reason()!r} while waiting for {what}")
            if f.opcode in (PING, PONG):
                continue
            if op is None:
                op = f.opcode
            parts.append(f.payload)
            if f.fin:
                return op, b"".join(parts)

    def close_frame(self, deadline, what="the close frame"):
        """Reads frames until a close frame; returns (code, reason, frames before it).
        Closed if TCP ends first."""
        before = 0
        while True:
            f = self.frame(deadline, what)
            if f.opcode == CLOSE:
                return f.close_code(), f.close_reason(), before
            before += 1

    def eof(self, deadline):
        """Waits for the server to end TCP; returns 'FIN'/'reset', or None at the deadline.
        Bytes that arrive meanwhile are kept in buf."""
        while not self.closed:
            try:
                self.fill(deadline, "EOF")
            except Closed:
                break
            except Fail:
                return None
        return self.closed

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def upgrade(port, path="/echo", deflate=False, headers=(), timeout=5.0, tls_context=None,
            rcvbuf=None):
    """A Raw client after a 101 (checked, with its Sec-WebSocket-Accept)."""
    c = Raw(port, timeout=timeout, tls_context=tls_context, rcvbuf=rcvbuf)
    key = ws_key()
    c.send(request(port, path, key=key, deflate=deflate, headers=headers))
    r = c.response()
    check(r.status == 101, f"handshake: expected 101, got {r.status} {r.reason}")
    check(r.header("sec-websocket-accept") == accept_for(key), "bad Sec-WebSocket-Accept")
    if deflate:
        check("permessage-deflate" in (r.header("sec-websocket-extensions") or ""),
              "permessage-deflate was not agreed")
    c.response_head = r
    return c


def expect_close(c, code, within, t0=None, what=""):
    """Reads until the server's close frame; asserts its code and that it came within
    `within` s of t0 (default now), then that TCP ends within a further 2 s. Returns the
    time to the close frame."""
    t0 = t0 if t0 is not None else time.monotonic()
    deadline = t0 + within + 1.0
    try:
        got, reason, _ = c.close_frame(deadline, f"close {code}{' ' + what if what else ''}")
    except Closed as exc:
        raise Fail(f"expected close {code}, TCP ended ({exc.how}) without a close frame") from None
    elapsed = time.monotonic() - t0
    check(got == code, f"expected close {code}, got {got} {reason!r}")
    check(elapsed <= within, f"close {code} after {elapsed:.2f} s, expected within {within} s")
    check(c.eof(time.monotonic() + 2.0) is not None, "TCP still open 2 s after the close frame")
    return elapsed


def echo_ok(port, payload=b"still serving", tls_context=None, timeout=5.0, opcode=TEXT):
    """A normal client: handshake, one masked message, its echo, a clean close."""
    c = upgrade(port, tls_context=tls_context, timeout=timeout)
    try:
        deadline = time.monotonic() + timeout
        c.send(frame(opcode, payload))
        op, got = c.message(deadline, "the echo")
        check(op == opcode and got == payload, f"echo: got opcode {op} {got[:40]!r}")
        c.send(frame(CLOSE, close_body(1000)))
        code, _, _ = c.close_frame(deadline, "the close reply")
        check(code == 1000, f"close reply {code}")
    finally:
        c.close()


# ----- cases --------------------------------------------------------------------------------

class Case:
    def __init__(self, fn, name, expect, server, needs, peak_mib, settle_mib, timeout, tls,
                 pending_reason):
        self.fn, self.name, self.expect = fn, name, expect
        self.server = list(server)
        self.needs = list(needs)
        self.peak_mib, self.settle_mib, self.timeout = peak_mib, settle_mib, timeout
        self.tls = tls
        self.pending_reason = pending_reason  # a known bug: gated until `needs` exist
        self.module = fn.__module__


CASES = []


def case(name, expect, server=(), needs=(), peak_mib=4.0, settle_mib=2.0, timeout=30, tls=False,
         pending=None):
    """Registers a case. `expect` states the expectation in numbers; `server` are the extra
    flags of its server; `needs` are flags the case depends on (gated when --help lacks
    them); `peak_mib` bounds peak RSS over the idle baseline; `settle_mib` how close to the
    baseline RSS must come back; `tls` starts the server with a throwaway certificate on
    --tls-port; `pending` names a known bug in this build that the case shows (it is then
    run only once `needs` are all in the build, and reported as pending until then)."""
    def register(fn):
        CASES.append(Case(fn, name, expect, server, needs, peak_mib, settle_mib, timeout, tls,
                          pending))
        return fn
    return register


class Ctx:
    """What a case gets: the running server, its figures, and helpers bound to it."""

    def __init__(self, srv, tls_context=None):
        self.srv = srv
        self.pid = srv.proc.pid
        self.port = srv.port
        self.tls_port = srv.tls_port
        self.tls_context = tls_context
        self.baseline_kib = 0
        self.figures = []  # (name, text) in the order recorded

    def figure(self, name, value):
        self.figures.append((name, value))

    def raw(self, **kw):
        return Raw(self.port, **kw)

    def ws(self, path="/echo", **kw):
        return upgrade(self.port, path, **kw)

    def cpu(self):
        return cpu_seconds(self.pid)

    def rss_over_mib(self):
        return (rss_kib(self.pid) - self.baseline_kib) / 1024

    def alive(self):
        return self.srv.alive()

    def echo(self, **kw):
        echo_ok(self.port, **kw)
