"""Section 15: bad permessage-deflate data (RFC 7692 §6, §7.2, §8).

RSV1 where it may not be (continuation and control frames, or no extension agreed) is a
protocol error: close 1002. A compressed message that does not inflate is close 1007 (RFC
7692 names no code; RFC 6455 §7.4.1's 1007 is "data not consistent with the type of the
message"), as is compressed text that inflates to invalid UTF-8. A message whose inflated
size passes --max-message-size is close 1009, promptly, and without the server's memory
growing with the bomb (RFC 7692 §8.1): its VmHWM is read from /proc before and after.

Every corrupt payload is checked against Python's zlib when this module loads, so a case
can never send data that happens to be valid.
"""
import os
import random
import time
import zlib

from cases_deflate import (PMD, R7692, TAIL, compressed_frames, expect_echo, json_like,
                           multibyte, pmd_client, random_bytes, send_compressed)
from cases_limits import send_in_thread
from harness import add, clean_close, expect_close
from wire import BINARY, CLOSE, CONT, PING, PONG, TEXT, Fail, TcpClosed, Timeout, \
    build_frame, close_payload

F = build_frame
KiB, MiB = 1 << 10, 1 << 20


def raw_deflate(data, bits=15):
    co = zlib.compressobj(6, zlib.DEFLATED, -bits)
    return (co.compress(data) + co.flush(zlib.Z_SYNC_FLUSH))[:-4]


def inflates(z):
    """True if z is a complete, valid message payload: it inflates with the tail appended
    and stops on a block boundary (a final empty block after it then ends the stream)."""
    d = zlib.decompressobj(-15)
    try:
        d.decompress(z + TAIL + b"\x03\x00")
    except zlib.error:
        return False
    return d.eof


def corrupt_random(seed=7):
    rnd = random.Random(seed)
    while True:
        z = rnd.randbytes(200)
        if not inflates(z):
            return z
        seed += 1  # pragma: no cover (random bytes that inflate are very unlikely)


def corrupt_truncated():
    z = raw_deflate(json_like(4000, 31))
    for cut in range(len(z) // 2, len(z)):
        if not inflates(z[:cut]):
            return z[:cut]
    raise AssertionError("test bug: no truncation of the message is invalid")


def corrupt_bitflip():
    z = raw_deflate(json_like(4000, 32))
    mid = len(z) // 2
    for off in range(0, len(z) // 2):
        for pos in (mid + off, mid - off):
            for bit in range(8):
                b = bytearray(z)
                b[pos] ^= 1 << bit
                d = zlib.decompressobj(-15)
                try:
                    d.decompress(bytes(b) + TAIL)
                except zlib.error:
                    return bytes(b), pos, bit
    raise AssertionError("test bug: no single bit flip makes zlib fail")


TRUNCATED = corrupt_truncated()
FLIPPED, FLIP_POS, FLIP_BIT = corrupt_bitflip()
CORRUPT = [
    ("200 random bytes", corrupt_random()),
    (f"a 4000-byte text's compressed form cut to {len(TRUNCATED)} bytes", TRUNCATED),
    (f"bit {FLIP_BIT} of byte {FLIP_POS} flipped in a compressed 4000-byte text", FLIPPED),
    ("a block of the reserved type BTYPE=11", b"\x06\x00\x00\x00"),
    ("a stored block whose NLEN is not ~LEN", b"\x00\x05\x00\x00\x00hello"),
    ("a back-reference before the start of the stream (RFC example's 2nd message first)",
     bytes.fromhex("f200110000")),
]
for _what, _z in CORRUPT:
    assert not inflates(_z), f"test bug: corrupt payload '{_what}' inflates"


def connect(ctx, server="deflate", offer=PMD):
    return pmd_client(ctx, offer, server=server)


def bad_frames(make, code, before=(), server="deflate", offer=PMD):
    """make(pmd) -> (frames to send, echoes expected first); then close `code`."""
    def run(ctx):
        c, pmd = connect(ctx, server, offer)
        data, echoes = make(pmd)
        try:
            c.send(data, note=f"{len(data)} bytes of frames")
        except TcpClosed:
            pass
        expect_close(ctx, c, code, before=echoes)
    return run


def rsv1_on_continuation(compressed_first):
    def make(pmd):
        m = json_like(3000, 33)
        if compressed_first:
            z = pmd.compress(m)
            return F(TEXT, z[:100], fin=False, rsv=4) + F(CONT, z[100:], rsv=4), []
        return F(TEXT, m[:100], fin=False) + F(CONT, m[100:], rsv=4), []
    return make


def with_ok_first(make):
    """A valid compressed echo first, then `make`'s frames."""
    def wrapped(pmd):
        ok = json_like(500, 34)
        first = F(TEXT, pmd.compress(ok), rsv=4)  # before make(): the context is shared
        data, echoes = make(pmd)
        return first + data, [("text", ok)] + echoes
    return wrapped


add("15.1.1", "RSV1 on the continuation of a compressed message -> close 1002",
    R7692("§6.1"), bad_frames(rsv1_on_continuation(True), 1002))
add("15.1.2", "RSV1 on the continuation of an uncompressed message -> close 1002",
    R7692("§6.1"), bad_frames(rsv1_on_continuation(False), 1002))
add("15.1.3", "valid compressed echo, then RSV1 on a continuation -> echo, close 1002",
    R7692("§6.1"), bad_frames(with_ok_first(rsv1_on_continuation(True)), 1002))
for i, (name, op, payload) in enumerate([("ping", PING, b"compressed?"),
                                         ("pong", PONG, b"compressed?"),
                                         ("close", CLOSE, close_payload(1000))], 1):
    add(f"15.2.{i}", f"RSV1 on a {name} -> close 1002", R7692("§6.1"),
        bad_frames((lambda o, p: lambda pmd: (F(o, p, rsv=4), []))(op, payload), 1002))
add("15.2.4", "RSV1 on a ping between compressed fragments -> close 1002", R7692("§6.1"),
    bad_frames(lambda pmd: (F(TEXT, pmd.compress(b"x" * 200), fin=False, rsv=4)
                            + F(PING, b"p", rsv=4), []), 1002))


def rsv_unagreed(server, offer_headers):
    def run(ctx):
        c = ctx.client(server=server, connect=False)
        c.connect(extra_headers=offer_headers)
        c.send(F(TEXT, raw_deflate(b"Hello, no extension agreed"), rsv=4),
               note="text rsv1 (compressed) without an agreed extension")
        expect_close(ctx, c, 1002)
    return run


add("15.3.1", "RSV1 without any offer -> close 1002", "RFC 6455 §5.2",
    rsv_unagreed("deflate", []))
add("15.3.2", "RSV1 after a malformed offer was declined -> close 1002", "RFC 6455 §5.2",
    rsv_unagreed("deflate", [f"Sec-WebSocket-Extensions: {PMD};"]))
add("15.3.3", "RSV1 on a server started with --deflate off -> close 1002",
    "RFC 6455 §5.2", rsv_unagreed("deflate-off", [f"Sec-WebSocket-Extensions: {PMD}"]),
    server="deflate-off")
add("15.3.4", "RSV2 on a compressed message (deflate agreed) -> close 1002", "RFC 6455 §5.2",
    bad_frames(lambda pmd: (F(TEXT, pmd.compress(b"y" * 100), rsv=6), []), 1002))
add("15.3.5", "RSV3 on a compressed message (deflate agreed) -> close 1002", "RFC 6455 §5.2",
    bad_frames(lambda pmd: (F(BINARY, pmd.compress(b"y" * 100), rsv=5), []), 1002))

for i, (what, z) in enumerate(CORRUPT, 1):
    add(f"15.4.{i}", f"corrupt compressed data: {what} -> close 1007", R7692("§7.2.2"),
        bad_frames((lambda zz: lambda pmd: (F(BINARY, zz, rsv=4), []))(z), 1007))
add("15.4.7", "corrupt data in the 2nd of 3 compressed fragments -> close 1007",
    R7692("§7.2.2"), bad_frames(lambda pmd: (
        F(BINARY, FLIPPED[:FLIP_POS - 10], fin=False, rsv=4)
        + F(CONT, FLIPPED[FLIP_POS - 10:FLIP_POS + 10], fin=False)
        + F(CONT, FLIPPED[FLIP_POS + 10:]), []), 1007))
add("15.4.8", "a valid compressed message, then a truncated one -> echo, close 1007",
    R7692("§7.2.2"), bad_frames(with_ok_first(
        lambda pmd: (F(TEXT, pmd.compress(json_like(4000, 35))[:-40], rsv=4), [])), 1007))

SURROGATE = b"valid start \xed\xa0\x80 then a surrogate"
UTF8 = [
    ("text inflating to a surrogate (ED A0 80)", SURROGATE, None),
    ("text inflating to a truncated 4-byte sequence at the end", b"abc \xf0\x9f\x98", None),
    ("text inflating to byte FF", b"\xff" * 100, None),
    ("text inflating to invalid UTF-8, sent in 1-byte compressed fragments",
     multibyte(2000, 36) + b"\xc0\xaf" + multibyte(2000, 37), 1),
]
for i, (what, payload, frag) in enumerate(UTF8, 1):
    add(f"15.5.{i}", f"compressed {what} -> close 1007", "RFC 6455 §8.1",
        bad_frames((lambda p, f: lambda pmd: (
            b"".join(compressed_frames(pmd.compress(p), TEXT, f)), []))(payload, frag), 1007))


def _utf8_fail_fast(ctx):
    # The invalid bytes come first; the server should close before the message's rest
    # arrives (it inflates and validates as frames arrive). Closing only at the end is
    # allowed by the RFC: NON-STRICT.
    c, pmd = connect(ctx)
    z = pmd.compress(b"\xf4\x90\x80\x80 (U+110000) " + json_like(64 * KiB, 38))
    c.send(F(TEXT, z[:len(z) // 4], fin=False, rsv=4), note="first quarter, invalid early")
    try:
        ev = c.recv_event(time.monotonic() + 1.0, "close 1007 before the rest")
        if ev[0] != "close" or ev[1].close_code() != 1007:
            raise Fail(f"expected close 1007, got {ev!r}")
        try:
            c.send(F(CONT, z[len(z) // 4:]))
            c.send_close(1007)
        except TcpClosed:
            pass
        return
    except Timeout:
        ctx.non_strict = "close 1007 came only after the whole message"
    try:
        c.send(F(CONT, z[len(z) // 4:]), note="the rest")
    except TcpClosed:
        pass
    expect_close(ctx, c, 1007)


add("15.5.5", "fail fast: compressed text, invalid UTF-8 in the first fragment -> close "
    "before the rest", "RFC 6455 §8.1", _utf8_fail_fast)
add("15.5.6", "compressed binary with invalid UTF-8 bytes is echoed (binary: no check)",
    R7692("§7.2"), lambda ctx: _echo_binary(ctx, SURROGATE * 10))


def _echo_binary(ctx, payload):
    c, pmd = connect(ctx)
    send_compressed(c, pmd, BINARY, payload)
    expect_echo(ctx, c, BINARY, payload, ctx.deadline())
    clean_close(ctx, c)


# ----- 15.6 size limit on the inflated bytes (zip bombs) ---------------------------------
LIMIT = MiB
LIM = " [needs --max-message-size 1M]"


def proc_status(srv, field):
    try:
        with open(f"/proc/{srv.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


ZEROS_64M = None


def zeros_64m():
    global ZEROS_64M  # compressed once, on first use (about 0.2 s)
    if ZEROS_64M is None:
        co = zlib.compressobj(9, zlib.DEFLATED, -15)
        chunk = bytes(MiB)
        parts = [co.compress(chunk) for _ in range(64)]
        ZEROS_64M = (b"".join(parts) + co.flush(zlib.Z_SYNC_FLUSH))[:-4]
    return ZEROS_64M


def bomb(frag=None):
    def run(ctx):
        srv = ctx.server
        z = zeros_64m()
        rss0 = proc_status(srv, "VmRSS")
        c, pmd = connect(ctx, "deflate-limit")
        frames = compressed_frames(z, BINARY, frag)
        t0 = time.monotonic()
        t, errors = send_in_thread(c, b"".join(frames))
        expect_close(ctx, c, 1009, timeout=2.0)
        elapsed = time.monotonic() - t0
        t.join(5)
        peak = proc_status(srv, "VmHWM")
        ctx.info["close_after"] = f"{elapsed * 1000:.0f} ms"
        ctx.info["sent"] = f"{len(z) // KiB} KiB for 64 MiB in {len(frames)} frame(s)"
        if rss0 is not None and peak is not None:
            grew = peak - rss0
            ctx.info["peak_rss_growth"] = f"{grew / MiB:.1f} MiB"
            if grew > 64 * MiB:
                raise Fail(f"the server's peak RSS grew by {grew / MiB:.0f} MiB for a bomb "
                           f"refused at {LIMIT // MiB} MiB (RFC 7692 §8.1)")
    return run


def _exact_limit(n, code):
    def run(ctx):
        c, pmd = connect(ctx, "deflate-limit")
        send_compressed(c, pmd, BINARY, bytes(n))
        if code is None:
            expect_echo(ctx, c, BINARY, bytes(n), ctx.deadline())
            clean_close(ctx, c)
        else:
            expect_close(ctx, c, code)
    return run


add("15.6.1", "1 MiB of zeros compressed (inflates to exactly the limit) -> echo" + LIM,
    R7692("§8.1"), _exact_limit(LIMIT, None), server="deflate-limit", timeout=10)
add("15.6.2", "1 MiB + 1 byte of zeros compressed -> close 1009" + LIM, R7692("§8.1"),
    _exact_limit(LIMIT + 1, 1009), server="deflate-limit", timeout=10)
add("15.6.3", "zip bomb: 64 MiB of zeros in one compressed frame -> close 1009 within "
    "2 s, peak RSS +64 MiB at most" + LIM, R7692("§8.1"), bomb(), server="deflate-limit",
    timeout=10)
add("15.6.4", "zip bomb: 64 MiB of zeros in 4 KiB compressed fragments -> close 1009 "
    "within 2 s" + LIM, R7692("§8.1"), bomb(4096), server="deflate-limit", timeout=10)
add("15.6.5", "2 MiB of random bytes compressed (over the limit either way) -> close 1009"
    + LIM, R7692("§8.1"), bad_frames(lambda pmd: (F(BINARY, pmd.compress(
        random_bytes(2 * MiB, 39)), rsv=4), []), 1009, server="deflate-limit"),
    server="deflate-limit", timeout=10)
add("15.6.6", "after the bombs, a new connection still echoes compressed" + LIM,
    R7692("§8.1"), lambda ctx: _echo_limit(ctx), server="deflate-limit")


def _echo_limit(ctx):
    c, pmd = connect(ctx, "deflate-limit")
    m = os.urandom(100) + json_like(5000, 40)
    send_compressed(c, pmd, BINARY, m)
    expect_echo(ctx, c, BINARY, m, ctx.deadline())
    clean_close(ctx, c)
