"""Header floods and hostile header values: many fields, one huge field, multi-megabyte heads,
long Sec-WebSocket-Protocol/Extensions lists and the value shapes that made other servers'
parsers go quadratic or exponential (ReDoS).

Limits (http/parser.h): a head ≤ 8 KiB, ≤ 100 fields, a request line ≤ 4 KiB; past them
431/414 and close, having read no more than the limit. Server CPU is read from
/proc/PID/stat (utime + stime, 10 ms ticks) around a batch of requests, so a value that costs
even 5 ms of parsing shows up as seconds. --max-head-size is gated (gated_head_size.py).
"""
import time

from harness import Raw, case, check, request

SUB = ["--subprotocol", "chat", "--subprotocol", "superchat"]


def answers(ctx, make, n, allowed, cpu_limit, what):
    """Sends n requests made by make(i), one connection each; every answer must be in
    `allowed` within 1 s; the server's CPU for all n must be ≤ cpu_limit. Returns statuses."""
    cpu0 = ctx.cpu()
    t0 = time.monotonic()
    seen = {}
    for i in range(n):
        c = ctx.raw()
        data = make(i)
        s0 = time.monotonic()
        sent = c.send_slowly(data, chunk=16384, delay=0)
        st = c.status(s0 + 1.0)
        check(st in allowed, f"{what} #{i}: status {st}, expected one of {sorted(allowed)} "
              f"(sent {sent} of {len(data)} bytes)")
        seen[st] = seen.get(st, 0) + 1
        c.close()
    cpu = ctx.cpu() - cpu0
    check(cpu <= cpu_limit, f"{what}: server CPU {cpu:.2f} s for {n} requests, expected ≤ "
          f"{cpu_limit} s")
    ctx.figure(what, ", ".join(f"{k} × {v}" for k, v in sorted(seen.items())) +
               f"; CPU {cpu:.2f} s for {n} ({cpu / n * 1000:.2f} ms each), "
               f"{time.monotonic() - t0:.1f} s wall")
    return seen


@case("header count: 100 fields, 101 fields, 10,000 fields (140 KB)",
      "101 for 100 fields; 431 for 101 and for 10,000, having read ≤ 8 KiB; CPU ≤ 0.5 s for 100 "
      "requests of each")
def _(ctx):
    # The standard five (Host, Upgrade, Connection, Key, Version) + 95 = 100 fields.
    answers(ctx, lambda i: request(ctx.port, headers=[("X-F%d" % k, "v") for k in range(95)]),
            100, {101}, 0.5, "100 fields")
    answers(ctx, lambda i: request(ctx.port, headers=[("X-F%d" % k, "v") for k in range(96)]),
            100, {431}, 0.5, "101 fields")
    answers(ctx, lambda i: request(ctx.port, headers=[("X-F%d" % k, "v")
                                                      for k in range(10_000)]),
            100, {431}, 0.5, "10,000 fields")


@case("one 1 MiB header value, and a 64 MiB one written as fast as the server takes it",
      "431 as soon as 8 KiB are in (≤ 1 s), the rest never read; CPU ≤ 0.2 s")
def _(ctx):
    answers(ctx, lambda i: request(ctx.port, headers=[("X-Huge", "h" * (1 << 20))]), 20, {431},
            0.2, "1 MiB value")
    c = ctx.raw()
    cpu0 = ctx.cpu()
    t0 = time.monotonic()
    huge = request(ctx.port, headers=[("X-Huge", "h" * (64 << 20))])
    sent = c.send_slowly(huge, chunk=1 << 20, delay=0)
    st = c.status(time.monotonic() + 1)
    check(st == 431, f"status {st}")
    check(sent < 16 << 20, f"{sent >> 20} MiB written before the server answered")
    ctx.figure("64 MiB value", f"431 after {sent >> 20} MiB written, "
               f"{time.monotonic() - t0:.2f} s, CPU {ctx.cpu() - cpu0:.2f} s")


@case("multi-megabyte heads in small segments: 20 connections × 4 MiB in 1,460-byte writes",
      "431 on each; server CPU for all ≤ 0.5 s (a head is never re-scanned past 8 KiB)",
      timeout=60)
def _(ctx):
    clients = [Raw(ctx.port) for _ in range(20)]
    head = request(ctx.port, headers=[("X-Slow", "s" * (4 << 20))])
    cpu0 = ctx.cpu()
    offs = [0] * 20
    t0 = time.monotonic()
    while time.monotonic() < t0 + 20:
        busy = False
        for k, c in enumerate(clients):
            if c.closed or offs[k] >= len(head):
                continue
            try:
                c.sock.settimeout(0.5)
                offs[k] += c.sock.send(head[offs[k]:offs[k] + 1460])
                busy = True
            except OSError:
                c.closed = "stopped"  # the server answered and closed, or stopped reading
        if not busy:
            break
    statuses = []
    for c in clients:
        c.closed = None
        statuses.append(c.status(time.monotonic() + 1))
        c.close()
    cpu = ctx.cpu() - cpu0
    check(statuses.count(431) == 20, f"statuses {statuses}")
    check(cpu <= 0.5, f"server CPU {cpu:.2f} s")
    ctx.figure("status", "431 × 20")
    ctx.figure("written", f"{min(offs) / 1e3:.0f}–{max(offs) / 1e3:.0f} KB of "
               f"{len(head) / 1e6:.1f} MB each")
    ctx.figure("CPU", f"{cpu:.2f} s")


@case("Sec-WebSocket-Protocol lists of ~4,000 entries in 8 KiB ('a,a,…', 'x, x, …', the "
      "match last), 200 handshakes each", "101 each (the match chosen when present); CPU "
      "≤ 1 s per 200", server=SUB)
def _(ctx):
    long_a = ",".join(["a"] * 3900)
    long_x = ", ".join(["x"] * 2600) + ", chat"
    answers(ctx, lambda i: request(ctx.port, headers=[("Sec-WebSocket-Protocol", long_a)]), 200,
            {101}, 1.0, "'a,a,…'")
    answers(ctx, lambda i: request(ctx.port, headers=[("Sec-WebSocket-Protocol", long_x)]), 200,
            {101}, 1.0, "'x, x, … chat'")
    c = ctx.raw()
    c.send(request(ctx.port, headers=[("Sec-WebSocket-Protocol", long_x)]))
    r = c.response()
    check(r.header("sec-websocket-protocol") == "chat", f"chose {r.header('sec-websocket-protocol')}")


@case("ReDoS shapes in Sec-WebSocket-Protocol (ws CVE-2021-32640: 'b' + 7,000 spaces + 'x'; "
      "tabs; 4,000 commas; alternating ', '; bytes 0x80-0xFF), 200 handshakes each",
      "101 or 400 on each ≤ 1 s; CPU ≤ 1 s per 200", server=SUB)
def _(ctx):
    shapes = {"spaces": "b" + " " * 7000 + "x", "tabs": "b" + "\t" * 7000 + "x",
              "commas": "," * 7000, "comma-space": ", " * 3500 + "chat",
              "tokens and spaces": "a " * 3500,
              # Granian GHSA-vrg7-482j-p6f6: bytes 0x80-0xFF in the value aborted a worker.
              "non-ASCII bytes": "ch\xe4t, \xff\xfe, " * 400 + "chat"}
    for name, value in shapes.items():
        answers(ctx, lambda i: request(ctx.port, headers=[("Sec-WebSocket-Protocol", value)]),
                200, {101, 400}, 1.0, name)


@case("ReDoS shapes in Sec-WebSocket-Extensions: 2,000 ';' params, 400 repeated offers, a "
      "7,000-byte quoted string of backslashes, an unterminated quote, prototype names, bytes "
      "0x80-0xFF, 90 extension lines",
      "101 or 400 on each ≤ 1 s; CPU ≤ 1 s per 200")
def _(ctx):
    shapes = {
        "2,000 params": "permessage-deflate" + "; x" * 2000,
        "400 offers": ", ".join(["permessage-deflate"] * 400),
        "bits repeated": "permessage-deflate" + "; client_max_window_bits" * 300,
        "backslashes": 'permessage-deflate; x="' + "\\" * 7000 + '"',
        "unterminated": 'permessage-deflate; x="' + "a" * 7000,
        "= runs": "permessage-deflate; x" + "=" * 7000,
        "spaces": "permessage-deflate" + " " * 7000 + ";x",
        # ws GHSA-5v72-xg48-5rpm: names of Object.prototype properties crashed a JS parser.
        "prototype names": "__proto__; constructor=1; hasOwnProperty, toString; __proto__=x, "
                           "permessage-deflate; __proto__",
        "non-ASCII bytes": "permessage-deflate; x=\xe9\xff" * 300,
    }
    for name, value in shapes.items():
        answers(ctx, lambda i: request(ctx.port, headers=[("Sec-WebSocket-Extensions", value)]),
                200, {101, 400}, 1.0, name)
    lines = [("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover")] * 90
    answers(ctx, lambda i: request(ctx.port, headers=lines), 200, {101, 400}, 1.0, "90 lines")


@case("a 4,097-byte request target and a 4,000-byte method",
      "414 for the target; 405 or 501 for the unknown method; each ≤ 1 s, CPU ≤ 0.2 s per 100")
def _(ctx):
    answers(ctx, lambda i: request(ctx.port, path="/" + "p" * 4096), 100, {414}, 0.2, "target")
    answers(ctx, lambda i: request(ctx.port, method="G" * 4000, upgrade=False), 100, {405, 501},
            0.2, "method")
