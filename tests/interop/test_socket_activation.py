"""systemd socket activation (LISTEN_PID / LISTEN_FDS, sd_listen_fds(3)) without systemd.

The test plays the service manager: it binds and listens on a free port itself, starts
wsedge with that socket at fd 3 and LISTEN_PID set to wsedge's own pid (a shell moves the fd
and execs wsedge, so its pid is known before the exec, as systemd's is), and checks that wsedge serves WebSockets on it
without binding anything, names it on its first line, and hides the variables from the
commands it runs (/exec). LISTEN_PID naming another process is ignored (wsedge binds as
usual); two sockets, a bad count and an fd 3 that is not a listening TCP socket are
refused with one line and exit 2. Run with Debian's /usr/bin/python3; prints
"N passed, N failed" last.
"""
import os
import re
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support.raw_ws import accept_for, frame, ws_key  # noqa: E402
from support.server import server_binary  # noqa: E402
from support.cases import case, finish  # noqa: E402



def activated(fd3, args=(), pid="self", fds="1"):
    """wsedge with `fd3` (a file descriptor, or None: fd 3 closed) at fd 3 and the
    activation variables. A shell moves the fd to 3, exports the variables and execs wsedge,
    so `$$` is wsedge's own pid: pid "self" means that, else the text given."""
    move = f"exec 3<&{fd3}; " if fd3 is not None else "exec 3<&-; "
    who = "$$" if pid == "self" else pid
    script = move + f'export LISTEN_PID={who} LISTEN_FDS={fds}; exec "$0" "$@"'
    return subprocess.Popen(["/bin/sh", "-c", script, server_binary(), *args],
                            pass_fds=[] if fd3 is None else [fd3], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()


def echo_once(port, text=b"hello"):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = ws_key()
    c.sendall(f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
              f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += c.recv(4096)
    head, buf = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    assert f"Sec-WebSocket-Accept: {accept_for(key)}".encode() in head, head
    c.sendall(frame(0x1, text))
    want = 2 + len(text)
    while len(buf) < want:
        buf += c.recv(4096)
    c.close()
    return buf[2:want]


@case("wsedge serves WebSockets on the socket it was handed, and names it first")
def _():
    s = listening_socket()
    port = s.getsockname()[1]
    p = activated(s.fileno(), ["--port", "1"])  # --port says nothing when activated
    try:
        line = p.stdout.readline()
        assert line == f"wsedge listening on ws://127.0.0.1:{port}/\n", line
        s.close()  # ours is closed: wsedge's copy listens on
        assert echo_once(port) == b"hello"
    finally:
        rc = stop(p)
    assert rc == 0, (rc, p.stderr.read())


@case("the variables are gone for the commands wsedge runs (/exec)")
def _():
    s = listening_socket()
    port = s.getsockname()[1]
    p = activated(s.fileno(), ["--exec", "env", "--exec-token", "t0ken"])
    try:
        p.stdout.readline()
        s.close()
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = ws_key()
        c.sendall(f"GET /exec?token=t0ken HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        data = b""
        while True:  # env prints and exits; the session then closes with 1000
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\x88" in data and b"exit status" in data:
                break
        c.close()
        assert data.startswith(b"HTTP/1.1 101"), data[:200]
        assert b"PATH=" in data, data[:2000]  # the command ran and printed its environment
        assert b"LISTEN_PID" not in data and b"LISTEN_FDS" not in data, data
    finally:
        stop(p)


@case("LISTEN_PID of another process: not for us, wsedge binds --port as usual")
def _():
    s = listening_socket()
    port = s.getsockname()[1]
    p = activated(s.fileno(), ["--port", "0"], pid="1")
    try:
        line = p.stdout.readline()
        m = re.match(r"^wsedge listening on ws://127\.0\.0\.1:(\d+)/$", line)
        assert m and int(m.group(1)) != port, line
    finally:
        rc = stop(p)
        s.close()
    assert rc == 0, rc


BAD = [
    ("two sockets", "2", "exactly one listening socket (LISTEN_FDS=2)"),
    ("no number", "x", "LISTEN_FDS is not a number"),
    ("zero", "0", "exactly one listening socket (LISTEN_FDS=0)"),
]


@case("LISTEN_FDS other than 1 is refused: one line, exit 2")
def _():
    for what, fds, needle in BAD:
        s = listening_socket()
        p = activated(s.fileno(), fds=fds)
        out, err = p.communicate(timeout=10)
        s.close()
        assert p.returncode == 2, (what, p.returncode, err)
        assert needle in err and err.count("\n") == 1, (what, err)
        assert out == "", (what, out)


@case("fd 3 that is not a listening TCP socket is refused: one line, exit 2")
def _():
    r, w = os.pipe()
    unbound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # not listening
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    for what, fd, needle in [("a pipe", r, "fd 3"), ("an unbound TCP socket", unbound.fileno(),
                                                      "not a listening stream socket"),
                             ("a UDP socket", udp.fileno(), "not a listening stream socket"),
                             ("nothing at fd 3", None, "fd 3")]:
        p = activated(fd)
        out, err = p.communicate(timeout=10)
        assert p.returncode == 2, (what, p.returncode, err)
        assert needle in err and err.count("\n") == 1, (what, err)
    os.close(r)
    os.close(w)
    unbound.close()
    udp.close()


finish()
