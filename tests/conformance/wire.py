"""A raw RFC 6455 client that controls every byte: the conformance suite's only peer.

build_frame() makes any frame, legal or not (FIN/RSV/opcode/mask/length encoding chosen
freely). RawClient does the opening handshake itself, writes bytes whole or chopped, and
reads server frames back while checking that each is well formed (RFC 6455 §5.1-§5.2:
no mask bit, RSV clear, minimal length encoding; §5.5: control frames <= 125 bytes and
never fragmented). With permessage-deflate agreed, a case allows RSV1 (rsv_allowed) on the
first frame of a data message only (RFC 7692 §6.1) and inflates those messages (inflate). Every read takes a deadline; nothing here blocks without one.
With TLS set (use_tls(context)), the same bytes travel inside TLS: the client keeps the raw
TCP socket (so shutdown, timeouts and FIN/RST stay visible) and runs TLS over memory BIOs
(ssl.SSLObject): wire(data) is what goes on the socket for data.
The pieces the hostile suite uses too (frame bytes, masking, the accept key, reading heads
and frames out of a buffer) live in tests/support/raw_ws.py; their names are re-exported
here. Standard library only.
"""
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from support.raw_ws import (BINARY, CLOSE, CONT, GUID, OPNAMES, PING, PONG,  # noqa: E402,F401
                            TEXT, Frame, Reader, TcpClosed, accept_for, close_body, frame,
                            mask_bytes, opname, parse_head, recv_some, show, ws_key)

TLS = None  # an ssl.SSLContext when the suite runs over TLS (run.py --tls)


def use_tls(context):
    global TLS
    TLS = context


class Fail(Exception):
    """A case's expectation was not met; the message says what was expected and seen."""


class Timeout(Fail):
    pass


mask_payload = mask_bytes
close_payload = close_body


def build_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None, length_bits=None):
    """One frame. rsv is 0..7 (RSV1=4, RSV2=2, RSV3=1); length_bits forces 7/16/64."""
    return frame(opcode, payload, fin=fin, rsv=rsv, mask=mask, key=key, form=length_bits)


def fragments(opcode, payload, size):
    """Splits a message into frames of `size` payload bytes (first frame carries opcode)."""
    payload = bytes(payload)
    parts = [payload[i:i + size] for i in range(0, len(payload), size)] or [b""]
    out = []
    for i, part in enumerate(parts):
        out.append(build_frame(opcode if i == 0 else CONT, part, fin=i == len(parts) - 1))
    return out


class RawClient(Reader):
    """One TCP connection to the server under test, spoken to byte by byte."""

    def __init__(self, host, port, path="/echo", timeout=5.0, log=None):
        self.host, self.port, self.path = host, port, path
        self.timeout = timeout
        self.log = log if log is not None else []  # transcript shown on failure
        self.problems = []  # malformed server frames seen (a case fails on any)
        self.buf = bytearray()
        self.sock = None
        self.tcp_closed = None  # how the server ended TCP, once it has
        self.response_head = None
        # RFC 7692: once permessage-deflate is agreed, the cases set rsv_allowed = 4 (RSV1)
        # and inflate(payload) -> bytes, called on each whole message that came with RSV1.
        # last_rsv1 says whether the last message recv_event returned was compressed.
        self.rsv_allowed = 0
        self.inflate = None
        self.last_rsv1 = False
        self.tls = None  # ssl.SSLObject over tls_in/tls_out when TLS is on
        self.tls_in = self.tls_out = None

    # ----- connection ------------------------------------------------------------------
    def open(self):
        """TCP, and the TLS handshake when TLS is on; no HTTP yet."""
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if TLS is not None:
            self._tls_handshake(time.monotonic() + self.timeout)

    def _tls_handshake(self, deadline):
        self.tls_in, self.tls_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = TLS.wrap_bio(self.tls_in, self.tls_out, server_hostname="localhost")
        while True:  # self.tls stays None meanwhile, so fill hands over raw bytes
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self.tls_out.read())
                self.fill(deadline, "the TLS handshake")
                self.tls_in.write(bytes(self.buf))
                self.buf.clear()
            except ssl.SSLError as exc:
                raise Fail(f"TLS handshake failed: {exc}") from None
        self.sock.sendall(self.tls_out.read())
        self.tls = tls
        self.log.append(f"  TLS ok ({self.tls.version()})")

    def wire(self, data):
        """The bytes that go on the socket for `data`: itself, or its TLS records."""
        if self.tls is None:
            return bytes(data)
        self.tls.write(data)
        return self.tls_out.read()

    def connect(self, extra_headers=(), protocols=None):
        self.open()
        key = ws_key()
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        lines += list(extra_headers)
        self.sock.sendall(self.wire(("\r\n".join(lines) + "\r\n\r\n").encode()))
        head = self.read_head(time.monotonic() + self.timeout, "the handshake response")
        self.response_head = head
        status_line, headers = parse_head(head)
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[1] != "101":
            raise Fail(f"handshake: expected 101, got {status_line!r}")
        expect = accept_for(key)
        if headers.get("sec-websocket-accept") != expect:
            raise Fail(f"handshake: Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}"
                       f" != {expect!r} (RFC 6455 §4.2.2)")
        if headers.get("upgrade", "").lower() != "websocket":
            raise Fail(f"handshake: Upgrade header {headers.get('upgrade')!r}")
        if "upgrade" not in headers.get("connection", "").lower():
            raise Fail(f"handshake: Connection header {headers.get('connection')!r}")
        self.log.append(f"  handshake ok ({self.path})")
        return headers

    def head_overflow(self):
        if len(self.buf) > 65536:
            raise Fail("handshake: response head larger than 64 KiB")

    def close_socket(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    # ----- writing ---------------------------------------------------------------------
    def send(self, data, chunk=None, delay=0.0, note=None):
        """Writes bytes whole, or in `chunk`-byte writes (`delay` s apart). TcpClosed if
        the server has reset the connection."""
        data = bytes(data)
        if note:
            self.log.append(f"> {note}" + (f" (in {chunk}-byte writes)" if chunk else ""))
        try:
            if not chunk:
                self.sock.sendall(self.wire(data))
                return
            for i in range(0, len(data), chunk):
                self.sock.sendall(self.wire(data[i:i + chunk]))
                if delay:
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError) as exc:
            self.log.append(f"  write failed: {exc.__class__.__name__}")
            raise TcpClosed(exc.__class__.__name__) from None
        except socket.timeout:
            raise Timeout("write blocked for the whole timeout (server not reading?)") from None

    def send_frame(self, opcode, payload=b"", chunk=None, delay=0.0, **kw):
        frame = build_frame(opcode, payload, **kw)
        desc = f"{opname(opcode)}"
        if not kw.get("fin", True):
            desc += " fin=0"
        if kw.get("rsv"):
            desc += f" rsv={kw['rsv']}"
        if kw.get("mask") is False:
            desc += " unmasked"
        self.send(frame, chunk, delay, note=f"{desc} {show(payload)}")

    def send_close(self, code=None, reason=b"", **kw):
        self.send_frame(CLOSE, close_payload(code, reason), **kw)

    # ----- reading ---------------------------------------------------------------------
    def fill(self, deadline, what):
        if self.tcp_closed:
            raise TcpClosed(self.tcp_closed)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout(f"timed out waiting for {what}")
        try:
            data = recv_some(self.sock, remaining, what, Timeout)
        except TcpClosed as exc:
            self.tcp_closed = exc.how
            raise
        if self.tls is None:
            self.buf += data
            return
        self.tls_in.write(data)
        try:
            while True:
                chunk = self.tls.read(1 << 20)
                if not chunk:  # close_notify: the TLS stream ended (TCP may follow)
                    break
                self.buf += chunk
        except ssl.SSLWantReadError:
            pass  # a partial record: the next fill brings the rest
        except ssl.SSLZeroReturnError:
            pass  # close_notify
        except ssl.SSLError as exc:
            raise Fail(f"TLS error from the server's bytes: {exc}") from None
        out = self.tls_out.read()  # e.g. the answer to a KeyUpdate
        if out:
            self.sock.sendall(out)

    _fill = fill  # the name cases_limits.py reads with

    def recv_frame(self, deadline, what="a frame"):
        """Next server frame; checks its framing. Raises Timeout or TcpClosed."""
        frame = self.read_frame(deadline, what)
        if frame.opcode == CLOSE:
            self._check_close(frame)
        self.log.append(f"< {frame!r}")
        return frame

    def frame_header(self, fin, rsv, op, masked, code, n):
        if code == 126 and n < 126:
            self.problems.append(f"non-minimal 16-bit length for {n} bytes (RFC 6455 §5.2)")
        elif code == 127:
            if n <= 0xFFFF:
                self.problems.append(f"non-minimal 64-bit length for {n} bytes (RFC 6455 §5.2)")
            if n >> 63:
                self.problems.append("64-bit length with the most significant bit set")
        if masked:
            self.problems.append("server frame is masked (RFC 6455 §5.1: it must not be)")
        if rsv & ~self.rsv_allowed:
            self.problems.append(f"server frame has RSV bits {rsv:#o} set without an extension")
        elif rsv and (op >= 8 or op == CONT):
            self.problems.append(f"server sent RSV1 on a {opname(op)} frame (RFC 7692 §6.1: "
                                 "only the first frame of a data message)")
        if op not in OPNAMES:
            self.problems.append(f"server frame uses reserved opcode {op:#x} (RFC 6455 §5.2)")
        if op >= 8 and (n > 125 or not fin):
            self.problems.append(f"server control frame {opname(op)} len={n} fin={fin} "
                                 "(RFC 6455 §5.5)")

    def _check_close(self, frame):
        p = frame.payload
        if len(p) == 1:
            self.problems.append("server close frame with a 1-byte payload (RFC 6455 §5.5.1)")
        if len(p) >= 2:
            code = frame.close_code()
            if not valid_close_code(code):
                self.problems.append(f"server sent invalid close code {code} (RFC 6455 §7.4)")
            try:
                p[2:].decode("utf-8")
            except UnicodeDecodeError:
                self.problems.append("server close reason is not UTF-8 (RFC 6455 §5.5.1)")

    def recv_event(self, deadline, what="a message"):
        """Next message-level event: ('text'|'binary', payload), ('ping'|'pong', payload),
        ('close', Frame). Fragmented server messages are assembled; a broken server
        fragment sequence is recorded as a problem."""
        parts, first, rsv1 = [], None, False
        while True:
            f = self.recv_frame(deadline, what)
            if f.opcode in (PING, PONG):
                return (opname(f.opcode), f.payload)
            if f.opcode == CLOSE:
                if first is not None:
                    self.log.append("  (close arrived inside a fragmented message)")
                return ("close", f)
            if f.opcode == CONT and first is None:
                self.problems.append("server sent a continuation frame with no message open")
                continue
            if f.opcode in (TEXT, BINARY) and first is not None:
                self.problems.append("server started a new message inside a fragmented one")
                parts = []
            if f.opcode in (TEXT, BINARY):
                first, rsv1 = f.opcode, bool(f.rsv & 4)
            parts.append(f.payload)
            if f.fin:
                payload = b"".join(parts)
                self.last_rsv1 = rsv1
                if rsv1 and self.inflate is not None:
                    payload = self.inflate(payload)
                    self.log.append(f"  (inflated to {show(payload)})")
                if first == TEXT:
                    try:
                        payload.decode("utf-8")
                    except UnicodeDecodeError:
                        self.problems.append("server sent a text message that is not UTF-8")
                return (opname(first), payload)

    def wait_tcp_close(self, deadline):
        """Reads until the server ends TCP; any frame in between is logged. Returns how."""
        try:
            while True:
                f = self.recv_frame(deadline, "the server to close TCP")
                self.log.append(f"  (frame after close: {f!r})")
        except TcpClosed as exc:
            self.log.append(f"< TCP {exc.how}")
            return exc.how


def valid_close_code(code):
    """RFC 6455 §7.4.1/§7.4.2 and the IANA registry: codes an endpoint may put on the wire."""
    if code is None:
        return False
    if 1000 <= code <= 1003 or 1007 <= code <= 1014:
        return True
    return 3000 <= code <= 4999
