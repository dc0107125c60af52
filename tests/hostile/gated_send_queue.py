"""--max-send-queue BYTES (default 64M): a per-connection cap on queued output; a peer that
does not read cannot make the server hold more. Gated.
"""
import time

from harness import BINARY, KiB, case, check, frame

F = "--max-send-queue"


@case("--max-send-queue 1M: an 8 MiB echo to a client that never reads",
      "the connection ends ≤ 2 s (a close frame, if any gets through, is 1008 or 1009); peak "
      "RSS ≤ +20 MiB; RSS after ≤ +16 MiB",
      server=[F, "1M", "--max-message-size", "8M"], needs=[F], peak_mib=20, settle_mib=2)
def _(ctx):
    c = ctx.ws(rcvbuf=16 * KiB)
    payload = b"q" * (8 << 20)
    t0 = time.monotonic()
    c.send(frame(BINARY, payload))
    time.sleep(0.5)
    how = c.eof(t0 + 2.5)  # reading now also drains what the kernel holds
    cut = time.monotonic() - t0
    check(how is not None and cut <= 2.5, f"connection still open after {cut:.1f} s")
    codes = []
    while len(c.buf) >= 2:
        try:
            f = c.frame(time.monotonic() + 0.1)
        except Exception:  # noqa: BLE001 — a cut frame at the end
            break
        if f.opcode == 8:
            codes.append(f.close_code())
    check(set(codes) <= {1008, 1009}, f"close codes {codes}")
    ctx.figure("ended", f"after {cut:.2f} s ({how}), close {codes or 'none'}")
