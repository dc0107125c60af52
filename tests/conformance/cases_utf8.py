"""Section 6: UTF-8 handling of text messages (RFC 6455 §5.6, §8.1; RFC 3629).

Valid texts must echo byte for byte; invalid ones must be answered with close 1007.
Vectors follow the classic structure of Markus Kuhn's UTF-8 decoder stress test (as
autobahn-testsuite's section 6 does), written out here byte by byte. 6.4.x are the
"fail fast" cases: the server must reject the message as soon as the bytes it has seen
cannot be the prefix of valid UTF-8, before the rest of the message is sent.
"""
import time

from harness import (add, clean_close, expect_close, expect_events, expect_tcp_close,
                     violation_case)
from wire import CONT, TEXT, Fail, TcpClosed, Timeout, build_frame, fragments

F = build_frame
KOSME = "κόσμε".encode()  # ce ba e1 bd b9 cf 83 ce bc ce b5
FAILFAST_WAIT = 1.0


def is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def text_case(payload, frames=None, chunk=None):
    """Echo if `payload` is valid UTF-8, else close 1007 (checked against Python's codec,
    which follows RFC 3629: no surrogates, no overlongs, nothing past U+10FFFF)."""
    frames = frames or [F(TEXT, payload)]
    if is_utf8(payload):
        def run(ctx):
            c = ctx.client()
            c.send(b"".join(frames), chunk, note=f"text {payload.hex(' ')[:60]} "
                                                 f"in {len(frames)} frame(s)")
            expect_events(ctx, c, [("text", payload)])
            clean_close(ctx, c)
        return run
    return violation_case(1007, [], b"".join(frames), chunk=chunk)


def H(s):
    return bytes.fromhex(s)


def table(prefix, desc, rows, rfc="§8.1"):
    for i, (what, payload) in enumerate(rows, 1):
        verdict = "echo" if is_utf8(payload) else "close 1007"
        add(f"{prefix}.{i}", f"{desc}: {what} -> {verdict}", rfc, text_case(payload))


# ----- 6.1-6.3 basics -------------------------------------------------------------------
add("6.1.1", "empty text message -> echo", "§5.6", text_case(b""))
add("6.1.2", "text of 3 empty fragments -> empty echo", "§5.6",
    text_case(b"", [F(TEXT, b"", fin=False), F(CONT, b"", fin=False), F(CONT, b"")]))
add("6.1.3", "text of 3 fragments, only the middle one non-empty", "§5.6",
    text_case(b"middle", [F(TEXT, b"", fin=False), F(CONT, b"middle", fin=False),
                          F(CONT, b"")]))
HELLO = "Hello-µ@ßöäüàá-UTF-8!!".encode()


def split_everywhere(payload):
    """Echo cases: the message split into 2 fragments at every byte offset, one
    connection, every variant echoed whole (fragment boundaries inside code points)."""
    def run(ctx):
        c = ctx.client()
        frames = [F(TEXT, payload[:i], fin=False) + F(CONT, payload[i:])
                  for i in range(len(payload) + 1)]
        c.send(b"".join(frames), note=f"{len(frames)} messages, each split at offset i")
        expect_events(ctx, c, [("text", payload)] * len(frames))
        clean_close(ctx, c)
    return run


add("6.2.1", "valid multibyte text in one frame -> echo", "§5.6", text_case(HELLO))
add("6.2.2", "valid multibyte text split into 2 fragments at every offset", "§5.6",
    split_everywhere(HELLO))
add("6.2.3", "valid multibyte text in 1-byte writes", "§5.6", text_case(HELLO, chunk=1))
add("6.2.4", "valid multibyte text in 1-byte fragments", "§5.6",
    text_case(KOSME, fragments(TEXT, KOSME, 1)))
BAD = KOSME + H("eda080") + b"edited"
add("6.3.1", "invalid text (surrogate inside) in one frame -> close 1007", "§8.1",
    text_case(BAD))
add("6.3.2", "invalid text (surrogate inside) in 1-byte writes -> close 1007", "§8.1",
    text_case(BAD, chunk=1))


# ----- 6.4 fail fast --------------------------------------------------------------------
def failfast(chunks, mid_frame):
    """Writes chunks[:-1], then waits FAILFAST_WAIT for close 1007 before writing the
    last chunk. mid_frame: the invalid bytes sit inside a frame that is not complete yet;
    rejecting it only once the frame is complete is then NON-STRICT (as in autobahn)."""
    def run(ctx):
        c = ctx.client()
        for part in chunks[:-1]:
            c.send(part, note=f"chunk {len(part)}B {part[-8:].hex(' ')}")
            time.sleep(0.05)
        early = None
        try:
            early = c.recv_event(time.monotonic() + FAILFAST_WAIT, "close 1007")
        except Timeout:
            pass
        except TcpClosed as exc:
            raise Fail(f"server dropped TCP ({exc.how}) without close 1007") from None
        if early is not None:
            if early[0] != "close" or early[1].close_code() != 1007:
                raise Fail(f"expected close 1007 before the rest was sent, got {early!r}")
            time.sleep(0.05)
            try:  # the rest, as a slow peer would send it: a reset is fine here
                c.send(chunks[-1], note="rest of the message (after the close)")
                c.send_close(1007)
            except (TcpClosed, Timeout):
                pass
            expect_tcp_close(ctx, c)
            return
        try:
            c.send(chunks[-1], note="rest of the message (no close came)")
        except TcpClosed:
            pass
        expect_close(ctx, c, 1007)
        if not mid_frame:
            raise Fail(f"not fail-fast: close 1007 came only after the rest of the message "
                       f"was sent (no close within {FAILFAST_WAIT:g}s of the invalid fragment)")
        ctx.non_strict = "close 1007 only once the frame was complete, not mid-frame"
    return run


def _frame_chunks(payload, cuts):
    frame = F(TEXT, payload)
    head = len(frame) - len(payload)
    offs = [0] + [head + c for c in cuts] + [len(frame)]
    return [frame[a:b] for a, b in zip(offs, offs[1:])]


add("6.4.1", "fail fast: 3 fragments, the 2nd invalid (U+110000) -> close before the 3rd",
    "§8.1", failfast([F(TEXT, KOSME, fin=False), F(CONT, H("f4908080"), fin=False),
                      F(CONT, b"edited")], False))
add("6.4.2", "fail fast: invalid sequence starts at the end of fragment 1", "§8.1",
    failfast([F(TEXT, KOSME + H("f4"), fin=False), F(CONT, H("908080"), fin=False),
              F(CONT, b"edited")], False))
add("6.4.3", "fail fast within one frame: invalid bytes in the 2nd of 3 writes", "§8.1",
    failfast(_frame_chunks(KOSME + H("f4908080") + b"edited", [11, 15]), True))
add("6.4.4", "fail fast within one frame: invalid at the 2nd byte of a sequence", "§8.1",
    failfast(_frame_chunks(KOSME + H("f4908080") + b"edited", [12, 13]), True))
FF = [("surrogate U+D800", "eda080"), ("overlong '/'", "c0af"), ("byte 0xFE", "fe"),
      ("lone continuation 0x80", "80"), ("5-byte sequence", "f888808080"),
      ("overlong NUL (3 bytes)", "e08080"), ("U+110000", "f4908080"), ("byte 0xFF", "ff")]
for i, (what, hx) in enumerate(FF, 5):
    add(f"6.4.{i}", f"fail fast: {what} in the first fragment -> close before the rest",
        "§8.1", failfast([F(TEXT, b"abc" + H(hx) + b"def", fin=False),
                          F(CONT, b"the rest of the message")], False))

# ----- 6.5-6.23 code point tables -------------------------------------------------------
table("6.5", "valid text", [("κόσμε", KOSME),
                            ("κόσμε 𝄞 😀 ✓", "κόσμε 𝄞 😀 ✓".encode()),
                            ("ASCII with NUL", b"a\x00b")])
table("6.6", "prefix of κόσμε", [(f"{n} bytes", KOSME[:n]) for n in range(1, 12)])
table("6.7", "first code point of each length",
      [("U+0000", H("00")), ("U+0080", H("c280")), ("U+0800", H("e0a080")),
       ("U+10000", H("f0908080"))])
table("6.8", "5/6-byte sequences", [("first 5-byte", H("f888808080")),
                                    ("first 6-byte", H("fc8480808080"))])
table("6.9", "last code point of each length",
      [("U+007F", H("7f")), ("U+07FF", H("dfbf")), ("U+FFFF", H("efbfbf")),
       ("U+10FFFF", H("f48fbfbf")), ("U+1FFFFF (4 bytes)", H("f7bfbfbf"))])
table("6.10", "last 5/6-byte sequences", [("U+3FFFFFF", H("fbbfbfbfbf")),
                                          ("U+7FFFFFFF", H("fdbfbfbfbfbf"))])
table("6.11", "boundary code points",
      [("U+D7FF", H("ed9fbf")), ("U+E000", H("ee8080")), ("U+FFFD", H("efbfbd")),
       ("U+10FFFF", H("f48fbfbf")), ("U+110000", H("f4908080"))])
table("6.12", "unexpected continuation bytes",
      [("0x80", H("80")), ("0xBF", H("bf")), ("80 bf", H("80bf")), ("80 bf 80", H("80bf80")),
       ("80 bf 80 bf", H("80bf80bf")), ("7 continuations", H("80bf80bf80bf80")),
       ("all 64 continuation bytes", bytes(range(0x80, 0xC0))),
       ("ASCII then continuation", b"abc\x80")])
table("6.13", "lonely start bytes followed by a space",
      [("C0-DF", b"".join(bytes([b, 0x20]) for b in range(0xC0, 0xE0))),
       ("E0-EF", b"".join(bytes([b, 0x20]) for b in range(0xE0, 0xF0))),
       ("F0-F7", b"".join(bytes([b, 0x20]) for b in range(0xF0, 0xF8))),
       ("F8-FB", b"".join(bytes([b, 0x20]) for b in range(0xF8, 0xFC))),
       ("FC-FD", b"".join(bytes([b, 0x20]) for b in range(0xFC, 0xFE)))])
TRUNC = [("c0", "c0"), ("e0 80", "e080"), ("f0 80 80", "f08080"), ("f8 80 80 80", "f8808080"),
         ("fc 80 80 80 80", "fc80808080"), ("df", "df"), ("ef bf", "efbf"),
         ("f4 8f bf", "f48fbf"), ("e2 82 (€ truncated)", "e282"), ("f0 9f 98 (😀 truncated)",
                                                                   "f09f98")]
table("6.14", "sequence missing its last byte at the end", [(w, H(h)) for w, h in TRUNC])
table("6.15", "concatenated truncated sequences", [("all of 6.14",
                                                     b"".join(H(h) for _, h in TRUNC))])
table("6.16", "impossible bytes", [("fe", H("fe")), ("ff", H("ff")), ("fe fe ff ff",
                                                                      H("fefeffff"))])
table("6.17", "overlong '/'", [("2 bytes", H("c0af")), ("3 bytes", H("e080af")),
                               ("4 bytes", H("f08080af")), ("5 bytes", H("f8808080af")),
                               ("6 bytes", H("fc80808080af"))])
table("6.18", "maximum overlongs", [("c1 bf", H("c1bf")), ("e0 9f bf", H("e09fbf")),
                                    ("f0 8f bf bf", H("f08fbfbf")),
                                    ("f8 87 bf bf bf", H("f887bfbfbf"))])
table("6.19", "overlong NUL", [("2 bytes", H("c080")), ("3 bytes", H("e08080")),
                               ("4 bytes", H("f0808080")), ("5 bytes", H("f880808080"))])
SURR = ["eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf"]
table("6.20", "single UTF-16 surrogate", [(f"U+{0xD800 + i:04X}-ish {h}", H(h))
                                         for i, h in enumerate(SURR)])
PAIRS = [(hi, lo) for hi in ("eda080", "edadbf", "edae80", "edafbf") for lo in ("edb080",
                                                                              "edbfbf")]
table("6.21", "paired UTF-16 surrogates", [(f"{hi} {lo}", H(hi + lo)) for hi, lo in PAIRS])
NONCHARS = [chr((plane << 16) | low) for plane in range(17) for low in (0xFFFE, 0xFFFF)]
table("6.22", "noncharacter (valid UTF-8)", [(f"U+{ord(ch):04X}", ch.encode())
                                            for ch in NONCHARS])
MIXED = ("aé€𝄞" * 4000).encode()
table("6.23", "other valid texts", [("U+FFFD", H("efbfbd")), ("U+FEFF BOM", H("efbbbf")),
                                    (f"mixed widths, {len(MIXED)} bytes", MIXED)])


# ----- 6.24-6.25 split across fragments at every offset ---------------------------------
def invalid_split_everywhere(payload):
    """Close 1007 for every way of splitting an invalid text into 2 fragments; one
    connection per split (each one is closed)."""
    def run(ctx):
        for i in range(len(payload) + 1):
            c = ctx.client()
            try:
                c.send(F(TEXT, payload[:i], fin=False) + F(CONT, payload[i:]),
                       note=f"split at offset {i}")
            except TcpClosed:
                pass
            try:
                expect_close(ctx, c, 1007)
            except Fail as exc:
                raise Fail(f"split at offset {i}: {exc}") from None
            c.close_socket()
    return run


INVALID_SPLITS = [("surrogate U+D800", b"ab" + H("eda080") + b"cd"),
                  ("U+110000", b"a" + H("f4908080")), ("overlong '/'", H("c0af") + b"x"),
                  ("truncated 4-byte at the end", "ok😀".encode()[:-1])]
for i, (what, payload) in enumerate(INVALID_SPLITS, 1):
    add(f"6.24.{i}", f"invalid text ({what}) split in 2 fragments at every offset -> 1007",
        "§8.1", invalid_split_everywhere(payload), timeout=5)
VALID_SPLITS = [("4-byte code points", "𝄞😀".encode()), ("U+10FFFF and U+0800",
                                                       H("f48fbfbf") + H("e0a080"))]
for i, (what, payload) in enumerate(VALID_SPLITS, 1):
    add(f"6.25.{i}", f"valid text ({what}) split in 2 fragments at every offset -> echo",
        "§5.6", split_everywhere(payload))
