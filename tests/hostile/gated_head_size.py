"""--max-head-size BYTES: the request head limit (default 8 KiB) → 431. Gated.
"""
import time

from harness import case, check, request

F = "--max-head-size"


@case("--max-head-size 1K: heads of 1,000 and 1,100 bytes", "101 for 1,000; 431 ≤ 1 s for 1,100",
      server=[F, "1K"], needs=[F])
def _(ctx):
    base = len(request(ctx.port, headers=[("X-Pad", "")]))
    for size, want in ((1000, 101), (1100, 431)):
        c = ctx.raw()
        c.send(request(ctx.port, headers=[("X-Pad", "p" * (size - base))]))
        st = c.status(time.monotonic() + 1)
        check(st == want, f"{size}-byte head: {st}, expected {want}")
        c.close()
    ctx.figure("statuses", "101, 431")


@case("--max-head-size 64K: a 48 KiB cookie, 100 handshakes", "101 each; server CPU ≤ 1 s",
      server=[F, "64K"], needs=[F])
def _(ctx):
    cpu0 = ctx.cpu()
    for _ in range(100):
        c = ctx.raw()
        c.send(request(ctx.port, headers=[("Cookie", "c=" + "k" * (48 * 1024))]))
        st = c.status(time.monotonic() + 1)
        check(st == 101, f"status {st}")
        c.close()
    cpu = ctx.cpu() - cpu0
    check(cpu <= 1.0, f"server CPU {cpu:.2f} s")
    ctx.figure("CPU", f"{cpu:.2f} s for 100")
