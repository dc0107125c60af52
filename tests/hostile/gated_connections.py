"""--max-connections N: past it new sockets are accepted and closed at once (or get 503
during HTTP), the log line about it rate-limited (issue 11 §3). Gated.
"""
import socket
import time

from harness import case, check, echo_ok, open_fds, request, wait_until

F = "--max-connections"


@case("--max-connections 50: 300 idle connections opened at once",
      "the server holds ≤ 50 (fds ≤ baseline + 50); the other ≥ 250 end (or get 503) ≤ 1 s; "
      "fewer than 20 log lines about it", server=[F, "50", "--handshake-timeout", "5"],
      needs=[F])
def _(ctx):
    before = open_fds(ctx.pid)
    socks = [socket.create_connection(("127.0.0.1", ctx.port), timeout=5) for _ in range(300)]
    time.sleep(1.0)
    held = open_fds(ctx.pid) - before
    ended = 0
    for s in socks:
        s.settimeout(0.01)
        try:
            data = s.recv(64)
            if not data or data.startswith(b"HTTP/1.1 503"):
                ended += 1
        except socket.timeout:
            pass
        except OSError:
            ended += 1
    log_lines = sum(1 for line in ctx.srv.stderr_text().splitlines() if "connection" in line)
    for s in socks:
        s.close()
    check(held <= 50, f"server holds {held} connections over its baseline")
    check(ended >= 250, f"only {ended} of the 250 over the cap ended within 1 s")
    check(log_lines < 20, f"{log_lines} log lines about the refused connections")
    ctx.figure("held", f"{held} (≤ 50); ended {ended}; log lines {log_lines}")
    check(wait_until(lambda: open_fds(ctx.pid) <= before, 3), "fds not back after the flood")


@case("--max-connections 20: at the cap, a normal client is refused; after the flood it is served",
      "503 or a close ≤ 1 s at the cap; 101 and an echo once the 20 leave",
      server=[F, "20", "--handshake-timeout", "5"], needs=[F])
def _(ctx):
    socks = [socket.create_connection(("127.0.0.1", ctx.port), timeout=5) for _ in range(20)]
    time.sleep(0.3)
    c = ctx.raw()
    c.send(request(ctx.port))
    st = c.status(time.monotonic() + 1)
    check(st in (None, 503), f"status {st} at the cap")
    for s in socks:
        s.close()
    time.sleep(0.3)
    echo_ok(ctx.port)
    ctx.figure("at the cap", f"{st or 'closed'}; after: echo")
