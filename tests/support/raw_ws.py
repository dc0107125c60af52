"""The raw-socket WebSocket pieces the conformance and hostile suites share: frames built byte
by byte, masking, the handshake key and its accept value, and reading HTTP response heads and
server frames out of a byte buffer.

    data = frame(TEXT, b"hi")                          # masked with a random key
    data = frame(BINARY, b"", length=1 << 20, form=64)  # a header that promises what never comes
    class Client(Reader):
        def fill(self, deadline, what): ...            # append to self.buf, or raise
    status_line, headers = parse_head(client.read_head(deadline, "the response head"))
    f = client.read_frame(deadline)                    # a Frame: fin, rsv, opcode, payload

Each suite's client brings fill() (a plain or a TLS socket, its deadlines, its exceptions;
recv_some() does the read itself) and its own judgement of what the server sent (the hooks
head_overflow() and frame_header()), so each suite keeps its errors and messages.
Standard library only.
"""
import base64
import errno
import hashlib
import os
import socket
import struct

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPNAMES = {CONT: "cont", TEXT: "text", BINARY: "binary", CLOSE: "close", PING: "ping",
           PONG: "pong"}
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def opname(op):
    return OPNAMES.get(op, f"op{op:#x}")


def show(data, n=24):
    """Short printable description of a payload for transcripts."""
    data = bytes(data)
    if len(data) <= n:
        try:
            text = data.decode("utf-8")
            if text.isprintable():
                return f"{len(data)}B {text!r}"
        except UnicodeDecodeError:
            pass
        return f"{len(data)}B {data.hex(' ')}"
    return f"{len(data)}B {data[:n].hex(' ')} ..."


# ----- writing ------------------------------------------------------------------------------

def mask_bytes(key, data):
    """XOR with the 4-byte key (RFC 6455 §5.3); big-int XOR keeps 16 MiB fast in Python."""
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None, length=None, form=None):
    """Any frame. `length` is the value written in the header (default: the payload's real
    length, which need not match); `form` forces the 7-, 16- or 64-bit length encoding
    (default: the minimal one); rsv is 0..7 (RSV1=4, RSV2=2, RSV3=1); `key` defaults to
    4 random bytes."""
    payload = bytes(payload)
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    mbit = 0x80 if mask else 0
    form = form or (7 if n <= 125 else 16 if n <= 0xFFFF else 64)
    if form == 7:
        head = struct.pack("!BB", b0, mbit | n)
    elif form == 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = key if key is not None else os.urandom(4)
    return head + key + mask_bytes(key, payload)


def close_body(code=None, reason=b""):
    """A close frame's payload: nothing without a code, else the code and the reason."""
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


def ws_key():
    """A fresh Sec-WebSocket-Key (RFC 6455 §4.1: 16 random bytes, base64)."""
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key):
    """The Sec-WebSocket-Accept a server must answer `key` with (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


# ----- reading ------------------------------------------------------------------------------

class TcpClosed(Exception):
    """The server ended TCP: how is 'FIN' or 'reset' (or what broke the TLS stream)."""

    def __init__(self, how):
        super().__init__(how)
        self.how = how


class Frame:
    """A frame the server sent, its payload unmasked."""
    __slots__ = ("fin", "rsv", "opcode", "payload")

    def __init__(self, fin, rsv, opcode, payload):
        self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

    def close_code(self):
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    def close_reason(self):
        return self.payload[2:].decode("utf-8", "replace")

    def __repr__(self):
        if self.opcode == CLOSE:
            code = self.close_code()
            reason = self.payload[2:]
            return f"close {code if code is not None else '(empty)'} {show(reason)}"
        fin = ("" if self.fin else " fin=0") + (f" rsv={self.rsv}" if self.rsv else "")
        return f"{opname(self.opcode)}{fin} {show(self.payload)}"


def recv_some(sock, remaining, what, timeout_error):
    """One recv of up to 1 MiB, waiting `remaining` (> 0) s at the most: the bytes. Raises
    timeout_error("timed out waiting for WHAT") when none came, TcpClosed("FIN") at the
    peer's EOF and TcpClosed("reset") when it reset the connection; other errors (an
    ssl.SSLError among them) go to the caller."""
    sock.settimeout(remaining)
    try:
        data = sock.recv(1 << 20)
    except socket.timeout:
        raise timeout_error(f"timed out waiting for {what}") from None
    except OSError as exc:
        if exc.errno in (errno.ECONNRESET, errno.EPIPE):
            raise TcpClosed("reset") from None
        raise
    if not data:
        raise TcpClosed("FIN")
    return data


def parse_head(head):
    """(status line, headers) of a response head; header names lower-cased, the first of a
    repeated name kept."""
    status_line, *lines = head.split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return status_line, headers


class Reader:
    """What the server sent, read out of self.buf (a bytearray of bytes received and not yet
    consumed). A subclass sets self.buf and brings fill(deadline, what), which appends at
    least one byte or raises (a timeout naming `what`, the end of TCP)."""

    def fill(self, deadline, what):
        raise NotImplementedError

    def head_overflow(self):
        """Called before each read while no whole head is in: raises when self.buf is too
        large for a head still unfinished."""

    def frame_header(self, fin, rsv, opcode, masked, code, length):
        """Called once a server frame's header is in, before its payload is read (`code`: the
        7-bit length field, whose 126 and 127 announce the 16- and 64-bit forms): raises, or
        records a problem, when the frame breaks a rule the suite checks."""

    def read_head(self, deadline, what):
        """The next HTTP head (up to the blank line, which is consumed too), as str."""
        while b"\r\n\r\n" not in self.buf:
            self.head_overflow()
            self.fill(deadline, what)
        idx = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:idx]).decode("latin-1")
        del self.buf[:idx + 4]
        return head

    def read_frame(self, deadline, what="a frame"):
        """The next server frame, its payload unmasked should the server have masked it."""
        while len(self.buf) < 2:
            self.fill(deadline, what)
        b0, b1 = self.buf[0], self.buf[1]
        code = b1 & 0x7F
        hlen = 2 + (2 if code == 126 else 8 if code == 127 else 0)
        while len(self.buf) < hlen:
            self.fill(deadline, what)
        n = code
        if code == 126:
            n = struct.unpack_from("!H", self.buf, 2)[0]
        elif code == 127:
            n = struct.unpack_from("!Q", self.buf, 2)[0]
        fin, rsv, op, masked = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, bool(b1 & 0x80)
        self.frame_header(fin, rsv, op, masked, code, n)
        if masked:
            hlen += 4
        while len(self.buf) < hlen + n:
            self.fill(deadline, what)
        payload = bytes(self.buf[hlen:hlen + n])
        if masked:
            payload = mask_bytes(bytes(self.buf[hlen - 4:hlen]), payload)
        del self.buf[:hlen + n]
        return Frame(fin, rsv, op, payload)
