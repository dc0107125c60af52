"""DNS rebinding and cross-site WebSocket hijacking against a loopback server (RFC 9110
§7.2, §15.5.20; RFC 6455 §10.2).

A page on rebind.example re-points its name at 127.0.0.1: the browser then sends that page's
requests to wsedge with Host and Origin both naming rebind.example, so comparing them proves
nothing. The server on a loopback --host must answer only Hosts that name this machine and
its port (421 otherwise, on every route), and /exec — a command per connection — must also
need its token (401) and a same-origin Origin (403). Each refused request must start no
command: the server's children are counted from /proc.
"""
import re
import time

from harness import TEXT, case, check, frame, request, wait_until

EXEC = ["--exec", "cat"]


def token(ctx):
    """The random /exec token the server printed at start."""
    def find():
        for line in ctx.srv.stdout_lines:
            m = re.match(r"wsedge /exec token: ([0-9a-f]{32}) ", line)
            if m:
                return m.group(1)
        return None
    t = wait_until(find, 5)
    check(t, f"no /exec token line in {ctx.srv.stdout_lines!r}")
    return t


def children(pid):
    """Child processes of pid (every thread's list, from /proc/PID/task/TID/children)."""
    import os
    kids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            kids += f.read().split()
    return kids


def statuses(ctx, rows):
    """rows: (what, request bytes, expected status). Asserts each status and that TCP is
    closed after a refusal within 1 s; returns the list of statuses seen."""
    seen = []
    for what, data, want in rows:
        c = ctx.raw()
        t0 = time.monotonic()
        c.send(data)
        r = c.response(t0 + 2)
        check(r.status == want, f"{what}: expected {want}, got {r.status} {r.reason}")
        if want != 101:
            check(c.eof(t0 + 1.0) is not None, f"{what}: TCP open 1 s after the {want}")
        seen.append(r.status)
        c.close()
    return seen


@case("rebinding: Host and Origin both rebind.example:PORT, on the echo route and on /",
      "421 for the upgrade and for the plain GET of the page (before any route runs)")
def _(ctx):
    host = f"rebind.example:{ctx.port}"
    origin = [f"Origin: http://{host}"]
    seen = statuses(ctx, [
        ("upgrade /echo", request(ctx.port, host=host, headers=origin), 421),
        ("GET /", request(ctx.port, path="/", host=host, upgrade=False, headers=origin), 421),
        ("GET /index.html", request(ctx.port, path="/index.html", host=host, upgrade=False),
         421),
    ])
    ctx.figure("statuses", " ".join(map(str, seen)))


@case("rebinding through an absolute-form target: GET http://rebind.example:PORT/echo with "
      "Host: 127.0.0.1:PORT", "421: the target's authority stands for Host (RFC 9112 §3.2.2), "
      "so a loopback Host line cannot vouch for a rebound name; the reverse gets its 101 and "
      "an echo, and a target that is no form at all gets 400")
def _(ctx):
    p = ctx.port
    rebound = f"http://rebind.example:{p}/echo"
    seen = statuses(ctx, [
        ("absolute-form rebind.example, Host loopback", request(p, path=rebound), 421),
        ("absolute-form ws://rebind.example", request(p, path=f"ws://rebind.example:{p}/"), 421),
        ("absolute-form with userinfo", request(p, path=f"http://127.0.0.1:{p}@rebind.example/"),
         400),
        ("neither origin- nor absolute-form", request(p, path="echo"), 400),
    ])
    c = ctx.raw()
    c.send(request(p, path=f"http://localhost:{p}/echo", host=f"rebind.example:{p}"))
    r = c.response(time.monotonic() + 2)
    check(r.status == 101, f"absolute-form localhost with a foreign Host: {r.status} {r.reason}")
    c.send(frame(TEXT, b"via absolute-form"))
    op, got = c.message(time.monotonic() + 2, "the echo")
    check(got == b"via absolute-form", f"echo {got!r}")
    c.close()
    ctx.figure("statuses", " ".join(map(str, seen + [r.status])))


@case("rebinding: look-alike Hosts (127.0.0.1.rebind.example, localhost.rebind.example, "
      "other port, no port, 0x7f.0.0.1, 127.1, octal, decimal and invalid IPv4 forms, empty)",
      "421 for each name that is not a loopback literal or localhost with our port; 400 for a "
      "request without Host")
def _(ctx):
    p = ctx.port
    rows = [(h, request(p, host=h), 421) for h in (
        f"127.0.0.1.rebind.example:{p}", f"localhost.rebind.example:{p}", f"127.0.0.1:{p + 1}",
        "127.0.0.1", f"0x7f.0.0.1:{p}", f"127.1:{p}", f"[::2]:{p}", f"127.0.0.1:{p}:{p}",
        # Node.js CVE-2022-32212 / CVE-2022-43548: invalid and octal IPv4 forms passed a
        # loopback check, yet browsers resolve them as names (or as other addresses).
        f"127.0.0.01:{p}", f"0177.0.0.1:{p}", f"2130706433:{p}", f"10.0.2.555:{p}")]
    rows.append(("empty Host", request(p, host=" "), 421))
    no_host = request(p).replace(f"Host: 127.0.0.1:{p}\r\n".encode(), b"")
    rows.append(("no Host header", no_host, 400))  # RFC 9112 §3.2: a 1.1 request without Host
    seen = statuses(ctx, rows)
    ctx.figure("statuses", f"421 × {seen.count(421)}, 400 × {seen.count(400)}")


@case("rebinding drives /exec: rebound Host with the right token, Origin same as Host",
      "421, and the server starts no child process", server=EXEC)
def _(ctx):
    t = token(ctx)
    host = f"rebind.example:{ctx.port}"
    statuses(ctx, [("rebound /exec", request(ctx.port, f"/exec?token={t}", host=host,
                                              headers=[f"Origin: http://{host}"]), 421)])
    time.sleep(0.1)
    kids = children(ctx.pid)
    check(not kids, f"a refused /exec started processes {kids}")
    ctx.figure("children", "0")


@case("/exec without its token: none, wrong, empty, Bearer wrong, token in another parameter",
      "401 for each before the upgrade; no child process", server=EXEC)
def _(ctx):
    p = ctx.port
    rows = [(what, request(p, path, headers=hdrs), 401) for what, path, hdrs in (
        ("no token", "/exec", ()), ("wrong token", "/exec?token=" + "0" * 32, ()),
        ("empty token", "/exec?token=", ()), ("Bearer wrong", "/exec", ["Authorization: Bearer x"]),
        ("other param", f"/exec?tok={token(ctx)}", ()))]
    statuses(ctx, rows)
    time.sleep(0.1)
    check(not children(ctx.pid), "a refused /exec started a process")
    ctx.figure("401", f"{len(rows)} of {len(rows)}")


@case("cross-site WebSocket hijacking of /exec: right token and Host, Origin of another site",
      "403, no child process; 'null' Origin (sandboxed iframe) 403 as well", server=EXEC)
def _(ctx):
    t = token(ctx)
    rows = [(o, request(ctx.port, f"/exec?token={t}", headers=[f"Origin: {o}"]), 403)
            for o in ("http://evil.example", f"http://127.0.0.1:{ctx.port}.evil.example", "null")]
    statuses(ctx, rows)
    time.sleep(0.1)
    check(not children(ctx.pid), "a refused /exec started a process")
    ctx.figure("403", f"{len(rows)} of {len(rows)}")


@case("cross-site hijacking with --allow-origin: another site's Origin on the echo route",
      "403 for http://evil.example; 101 for the listed origin",
      server=["--allow-origin", "http://app.example"])
def _(ctx):
    statuses(ctx, [
        ("evil origin", request(ctx.port, headers=["Origin: http://evil.example"]), 403),
        ("listed origin", request(ctx.port, headers=["Origin: http://app.example"]), 101),
    ])
    ctx.figure("statuses", "403 101")


@case("control: /exec with token, loopback Host and same Origin runs cat; its echo comes back",
      "101, the line comes back through cat ≤ 2 s, exactly one child while open", server=EXEC)
def _(ctx):
    t = token(ctx)
    c = ctx.ws(f"/exec?token={t}", headers=[f"Origin: http://127.0.0.1:{ctx.port}"])
    t0 = time.monotonic()
    c.send(frame(TEXT, b"hello cat"))
    op, got = c.message(t0 + 2, "cat's line")
    check((op, got) == (TEXT, b"hello cat"), f"got {op} {got!r}")
    check(len(children(ctx.pid)) == 1, f"children {children(ctx.pid)}")
    c.close()
    check(wait_until(lambda: not children(ctx.pid), 3), "cat not reaped 3 s after the client left")
    ctx.figure("round trip", f"{(time.monotonic() - t0) * 1000:.0f} ms")
