"""Case registry and the verdicts every conformance case is judged by.

A case is a function of a Ctx. It passes by returning, fails by raising wire.Fail (the
message says what was expected and what came back), and may pass with a remark (ctx.note)
or as NON-STRICT (ctx.non_strict, autobahn's word for "allowed, but not the best
behaviour"). Verdicts follow autobahn-testsuite's model: an echo must match byte for byte
and opcode for opcode; a protocol violation must be answered with a close frame carrying
the expected code, after which the server closes TCP (RFC 6455 §7.1.7).
"""
import os
import time

from wire import (CLOSE, PING, PONG, Fail, RawClient, TcpClosed, Timeout, close_payload,
                  opname, show)

CASES = []


class Case:
    def __init__(self, cid, desc, rfc, fn, server="main", timeout=5.0):
        self.id, self.desc, self.rfc, self.fn = cid, desc, rfc, fn
        self.server, self.timeout = server, timeout

    @property
    def section(self):
        return self.id.split(".")[0]

    def title(self):
        if self.rfc.startswith("RFC "):  # another RFC named in full, e.g. "RFC 7692 §7.2"
            return f"{self.id} {self.desc} [{self.rfc}]"
        return f"{self.id} {self.desc} [RFC 6455 {self.rfc}]" if self.rfc else \
            f"{self.id} {self.desc}"


def add(cid, desc, rfc, fn, server="main", timeout=5.0):
    if any(c.id == cid for c in CASES):
        raise ValueError(f"duplicate case id {cid}")
    CASES.append(Case(cid, desc, rfc, fn, server, timeout))


def case(cid, desc, rfc, server="main", timeout=5.0):
    def register(fn):
        add(cid, desc, rfc, fn, server, timeout)
        return fn
    return register


class Ctx:
    """What a running case sees: its server(s), timeout, transcript, and verdict notes."""

    def __init__(self, servers, case, verbose=False):
        self.servers = servers
        self.case = case
        self.timeout = case.timeout
        self.verbose = verbose
        self.log = []
        self.notes = []
        self.non_strict = None
        self.clients = []
        self.info = {}  # measurements printed with the verdict

    @property
    def server(self):
        return self.servers[self.case.server]

    def client(self, path="/echo", server=None, connect=True):
        srv = self.servers[server or self.case.server]
        c = RawClient(srv.host, srv.port, path, self.timeout, self.log)
        self.clients.append(c)
        if connect:
            c.connect()
        return c

    def note(self, text):
        self.notes.append(text)

    def deadline(self, timeout=None):
        return time.monotonic() + (timeout if timeout is not None else self.timeout)

    def close_all(self):
        for c in self.clients:
            c.close_socket()

    def problems(self):
        return [p for c in self.clients for p in c.problems]


def describe(ev):
    kind = ev[0]
    if kind == "close":
        return repr(ev[1])
    if kind in ("text", "binary"):
        return f"echo {kind} {show(ev[1])}"
    return f"{kind} {show(ev[1])}"


def same(ev, want):
    return ev[0] == want[0] and bytes(ev[1]) == bytes(want[1])


def next_event(ctx, c, deadline, what):
    """Next event, answering server pings (keepalive) transparently."""
    while True:
        try:
            ev = c.recv_event(deadline, what)
        except Timeout:
            raise Timeout(f"expected {what} within {ctx.timeout:g}s, got nothing") from None
        except TcpClosed as exc:
            raise Fail(f"expected {what}, but the server closed TCP ({exc.how}) "
                       "without a close frame") from None
        if ev[0] == "ping":
            c.send_frame(PONG, ev[1])
            continue
        return ev


def expect_events(ctx, c, wanted, timeout=None):
    """The server must send exactly `wanted` next, in order ((kind, payload) tuples)."""
    deadline = ctx.deadline(timeout)
    for i, want in enumerate(wanted):
        what = f"{describe(want)} (#{i + 1} of {len(wanted)})"
        ev = next_event(ctx, c, deadline, what)
        if not same(ev, want):
            raise Fail(f"expected {describe(want)}, got {describe(ev)}")


def expect_close(ctx, c, code, before=(), timeout=None, reply=True):
    """`before` events, then a close frame with `code` (None: empty payload allowed), then
    the server closes TCP. Returns the close frame."""
    deadline = ctx.deadline(timeout)
    want = f"close {code}" if code is not None else "close"
    ev = None
    for i, wanted in enumerate(before):
        ev = next_event(ctx, c, deadline, f"{describe(wanted)} (#{i + 1} of {len(before)})")
        if ev[0] == "close" and (code is None or ev[1].close_code() == code):
            # autobahn's NON-STRICT: the violation was noticed before the preceding valid
            # messages were echoed (allowed by the RFC, not the best behaviour).
            ctx.non_strict = (f"close came before {len(before) - i} expected echo(es), "
                              f"first missing: {describe(wanted)}")
            break
        if not same(ev, wanted):
            raise Fail(f"expected {describe(wanted)}, got {describe(ev)}")
        ev = None
    if ev is None:
        ev = next_event(ctx, c, deadline, want)
    if ev[0] != "close":
        raise Fail(f"expected {want} within {ctx.timeout:g}s, got {describe(ev)}")
    got = ev[1].close_code()
    if code is not None and got != code:
        raise Fail(f"expected {want}, got {describe(ev)}")
    if reply:
        # RFC 6455 §5.5.1: the endpoint that receives a close answers with one. The
        # server may already have dropped TCP (failing the connection), so a reset is fine.
        try:
            c.send_close(got if got is not None and got not in (1005, 1006) else None)
        except (TcpClosed, Timeout):
            pass
    expect_tcp_close(ctx, c, deadline)
    return ev[1]


def expect_tcp_close(ctx, c, deadline=None):
    try:
        return c.wait_tcp_close(deadline or ctx.deadline())
    except Timeout:
        raise Fail(f"the server did not close TCP within {ctx.timeout:g}s after the close "
                   "handshake (RFC 6455 §7.1.1)") from None


def clean_close(ctx, c, code=1000, reason=b""):
    """Client-initiated close: the server must echo the code and close TCP cleanly."""
    c.send_close(code, reason)
    expect_close(ctx, c, code, reply=False)
    # RFC 6455 §7.1.1: the server closes TCP first; with nothing unread from a client that
    # finished properly, that close must be a FIN, never a reset.
    if c.tcp_closed != "FIN":
        raise Fail(f"the server ended TCP with a {c.tcp_closed} after a clean close handshake, "
                   "not a FIN (RFC 6455 §7.1.1)")


def echo_case(messages, chunk=None, delay=0.0, frames=None):
    """A case body: send `messages` ((opcode, payload) or prebuilt frames), expect each
    echoed with its opcode, then a clean close."""
    def run(ctx):
        c = ctx.client()
        wanted = []
        for op, payload in messages:
            wanted.append((opname(op), payload))
        data = b"".join(frames) if frames is not None else None
        if data is not None:
            c.send(data, chunk, delay, note=f"{len(frames)} frames, {show(data)}")
        else:
            for op, payload in messages:
                c.send_frame(op, payload, chunk=chunk, delay=delay)
        expect_events(ctx, c, wanted)
        clean_close(ctx, c)
    return run


def violation_case(code, frames_before, bad, before=(), chunk=None, after=b""):
    """A case body: send `frames_before` + `bad` (+ `after`), expect `before` echoes, then
    close `code`."""
    def run(ctx):
        c = ctx.client()
        for f in frames_before:
            c.send(f, note=f"frame {show(f, 8)}")
        try:
            c.send(bad + after, chunk, note=f"violating frame(s) {show(bad, 12)}")
        except TcpClosed:
            pass
        expect_close(ctx, c, code, before=before)
    return run


__all__ = ["CASES", "Case", "Ctx", "add", "case", "expect_events", "expect_close",
           "clean_close", "echo_case", "violation_case", "describe", "next_event",
           "expect_tcp_close", "Fail", "Timeout", "TcpClosed", "close_payload", "PING",
           "PONG", "CLOSE"]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory_returned(name, srv, within_s=5.0, slack_kib=2048):
    """Issue 11: once the run is over and nothing is open, the server's RSS comes back to
    within 2 MiB of what it was idle at start (its large buffers go back to the system).
    Returns (True/False, line), or (None, line) when RSS is not checked in this build."""
    if os.environ.get("WSEDGE_NO_RSS"):
        return None, (f"skip server '{name}': RSS not checked (WSEDGE_NO_RSS: a sanitizer "
                      "build, whose quarantine keeps freed memory)")
    deadline = time.monotonic() + within_s
    while True:
        now = rss_kib(srv.proc.pid)
        if now <= srv.baseline_kib + slack_kib:
            return True, (f"ok   server '{name}': RSS back to {now / 1024:.1f} MiB after the run "
                          f"(idle at start {srv.baseline_kib / 1024:.1f} MiB)")
        if time.monotonic() > deadline:
            return False, (f"FAIL server '{name}': RSS {now / 1024:.1f} MiB {within_s:.0f} s after "
                           f"the run, idle at start {srv.baseline_kib / 1024:.1f} MiB (> +2 MiB)")
        time.sleep(0.2)
