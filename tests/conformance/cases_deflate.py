"""Section 12: permessage-deflate (RFC 7692) compressed echo of many sizes and kinds of
payload, fragmented and chopped, modelled on autobahn-testsuite's section 12 (own cases,
own payloads); and the client side every deflate module shares (cases_deflate_params: 13,
cases_deflate_negotiation: 14, cases_deflate_bad: 15): checking the server's answer against
§7.1, compressing as agreed, and inflating the server's messages exactly as agreed.

The client side is Python's zlib: compressobj(wbits=-N) + Z_SYNC_FLUSH with the 00 00 ff ff
tail stripped (§7.2.1); the server's messages get the tail back before inflating (§7.2.2).
"""
import random
import time
import zlib

from cases_limits import send_in_thread
from harness import add, clean_close, next_event
from wire import BINARY, CONT, PING, TEXT, Fail, build_frame, opname, show

TAIL = b"\x00\x00\xff\xff"
KiB, MiB = 1 << 10, 1 << 20
PMD = "permessage-deflate"
MIN_SIZE = 64  # wsedge's --deflate-min-size default: smaller echoes go out uncompressed
EXACT_LIMIT = 64 * KiB  # server messages up to this (inflated) size are window-checked
PARAMS = ("server_no_context_takeover", "client_no_context_takeover",
          "server_max_window_bits", "client_max_window_bits")


def R7692(section):
    return f"RFC 7692 {section}"


# ----- payloads (deterministic: every run sends the same bytes) ---------------------------
def json_like(n, seed=1):
    rnd = random.Random(seed)
    parts, size = [], 0
    while size < n:
        s = (f'{{"id":{rnd.randrange(10**6)},"sym":"{rnd.choice(["EURUSD", "BTC", "ACME"])}",'
             f'"px":{rnd.uniform(1, 500):.2f},"qty":{rnd.randrange(1, 999)},'
             f'"side":"{rnd.choice(["buy", "sell"])}"}}\n')
        parts.append(s)
        size += len(s)
    return "".join(parts).encode()[:n]


def random_bytes(n, seed=2):
    return random.Random(seed).randbytes(n)


def repetitive(n):
    return (b"wsedge permessage-deflate " * (n // 26 + 1))[:n]


def low_entropy(n, seed=3):
    rnd = random.Random(seed)
    return bytes(rnd.choice(b"\x00\x01\x02\x03\x10\x20\xfe\xff") for _ in range(n))


def multibyte(n, seed=4):
    """Valid UTF-8 of exactly n bytes: Greek, CJK, emoji and ASCII words."""
    rnd = random.Random(seed)
    words = ["κόσμε", "😀", "✓", "𝄞", "wsedge", "日本語", "naïve", "ü"]
    out, size = [], 0
    while size < n:
        w = (rnd.choice(words) + " ").encode()
        if size + len(w) > n:
            w = b"x" * (n - size)
        out.append(w)
        size += len(w)
    return b"".join(out)


KINDS = {  # name: (opcode, generator)
    "JSON-like text": (TEXT, json_like),
    "random binary": (BINARY, random_bytes),
    "repetitive text": (TEXT, lambda n, seed=0: repetitive(n)),
    "low-entropy binary": (BINARY, low_entropy),
    "multibyte UTF-8 text": (TEXT, multibyte),
}


# ----- the server's answer (RFC 7692 §7.1) ------------------------------------------------
def parse_offer(text):
    """'permessage-deflate; a; b=1' -> {'a': None, 'b': '1'} (quotes removed)."""
    params = {}
    for p in text.split(";")[1:]:
        name, eq, value = p.strip().partition("=")
        params[name.strip()] = value.strip().strip('"') if eq else None
    return params


def response_extensions(head):
    """Every Sec-WebSocket-Extensions element of a response head, in order:
    [(name, [(param, value or None), ...]), ...]."""
    out = []
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() != "sec-websocket-extensions":
            continue
        for element in value.split(","):
            if not element.strip():
                continue
            parts = [p.strip() for p in element.split(";")]
            params = []
            for p in parts[1:]:
                k, eq, v = p.partition("=")
                params.append((k.strip(), v.strip().strip('"') if eq else None))
            out.append((parts[0], params))
    return out


def window_value(v, what):
    if v is None or not v.isdigit() or v != str(int(v)) or not 8 <= int(v) <= 15:
        raise Fail(f"answer has {what}={v!r}: must be a decimal 8..15 (RFC 7692 §7.1.2)")
    return int(v)


class Agreed:
    """What both sides use after the handshake, from the client's point of view."""

    def __init__(self, answer, offer):
        self.answer = answer
        self.server_nct = "server_no_context_takeover" in answer
        self.client_nct = "client_no_context_takeover" in answer
        self.server_bits = answer.get("server_max_window_bits", 15)
        # §7.1.2.2: without a value in the answer, the client keeps to what it offered.
        off = offer.get("client_max_window_bits")
        self.client_bits = answer.get("client_max_window_bits",
                                      int(off) if off and off.isdigit() else 15)

    def __repr__(self):
        return (f"server window {self.server_bits}{' no takeover' if self.server_nct else ''}"
                f", client window {self.client_bits}"
                f"{' no takeover' if self.client_nct else ''}")


def check_answer(head, offer):
    """Checks the response against RFC 7692 §7.1 for the accepted `offer` (a dict of its
    parameters); returns Agreed."""
    elements = response_extensions(head)
    if len(elements) != 1 or elements[0][0] != "permessage-deflate":
        raise Fail(f"expected one 'permessage-deflate' answer, got {elements!r}")
    answer = {}
    for k, v in elements[0][1]:
        if k not in PARAMS:
            raise Fail(f"answer has unknown parameter {k!r} (RFC 7692 §7)")
        if k in answer:
            raise Fail(f"answer repeats {k} (RFC 7692 §7)")
        if k.endswith("takeover"):
            if v is not None:
                raise Fail(f"answer gives {k} a value {v!r} (RFC 7692 §7.1.1)")
            answer[k] = None
        else:
            answer[k] = window_value(v, k)
    if "server_no_context_takeover" in offer and "server_no_context_takeover" not in answer:
        raise Fail("server_no_context_takeover was offered but is missing from the answer: "
                   "accepting the offer means agreeing to it (RFC 7692 §7.1.1.1)")
    if "server_max_window_bits" in offer:
        n = int(offer["server_max_window_bits"])
        if "server_max_window_bits" not in answer:
            raise Fail(f"server_max_window_bits={n} was offered but is missing from the "
                       "answer (RFC 7692 §7.1.2.1)")
        if answer["server_max_window_bits"] > n:
            raise Fail(f"answer server_max_window_bits={answer['server_max_window_bits']} is "
                       f"larger than the offered {n} (RFC 7692 §7.1.2.1)")
    if "client_max_window_bits" in answer:
        off = offer.get("client_max_window_bits", "absent")
        if off == "absent":
            raise Fail("answer has client_max_window_bits that was not offered "
                       "(RFC 7692 §7.1.2.2: MUST NOT)")
        if off is not None and answer["client_max_window_bits"] > int(off):
            raise Fail(f"answer client_max_window_bits={answer['client_max_window_bits']} "
                       f"is larger than the offered {off} (RFC 7692 §7.1.2.2)")
    return Agreed(answer, offer)


def expect_no_extension(head):
    elements = response_extensions(head)
    if elements:
        raise Fail(f"expected no Sec-WebSocket-Extensions in the answer, got {elements!r}")


# ----- the client's compressor and the inflater for the server's messages ----------------
class Pmd:
    """permessage-deflate state of one client connection (RFC 7692 §7.2)."""

    def __init__(self, agreed, level=6, mem_level=8, strategy=zlib.Z_DEFAULT_STRATEGY,
                 exact=True):
        self.agreed = agreed
        self.level, self.mem_level, self.strategy = level, mem_level, strategy
        self.exact = exact  # window-check the server's messages (slow: 1-byte steps)
        self.comp = None
        self.decomp = None
        self.history = b""  # the server's last 32 KiB: the window after a BFINAL block
        self.sizes = []  # compressed sizes of the server's messages, in order

    def compressor(self):
        # zlib cannot deflate with an 8-bit window; 9 is safe for an 8-bit peer, since
        # zlib's farthest distance is the window minus 262 bytes (docs/deflate.md).
        return zlib.compressobj(self.level, zlib.DEFLATED, -max(9, self.agreed.client_bits),
                                self.mem_level, self.strategy)

    def compress(self, payload, flushes=1):
        """One message's payload, tail stripped (§7.2.1). A new compressor per message
        when client_no_context_takeover was agreed (§7.1.1.2)."""
        if self.comp is None or self.agreed.client_nct:
            self.comp = self.compressor()
        out = b""
        step = max(1, len(payload) // flushes)
        for i in range(0, max(len(payload), 1), step):
            out += self.comp.compress(payload[i:i + step]) + self.comp.flush(zlib.Z_SYNC_FLUSH)
        if not out.endswith(TAIL):
            raise Fail("test bug: zlib's sync flush did not end with 00 00 ff ff")
        return out[:-4]

    def inflate(self, payload):
        """Inflates one server message as agreed; a Fail says why it does not."""
        self.sizes.append(len(payload))
        bits = self.agreed.server_bits
        if self.decomp is None or self.agreed.server_nct:
            self.decomp = zlib.decompressobj(-bits)
            self.history = b""
        d = self.decomp
        data = payload + TAIL
        fresh = " (fresh inflater: server_no_context_takeover)" if self.agreed.server_nct \
            else ""
        try:
            if self.exact and len(payload) <= EXACT_LIMIT:
                out = bytearray()
                while True:  # 1-byte output steps: zlib checks each distance vs the window
                    chunk = d.decompress(data, 1)
                    data = d.unconsumed_tail
                    out += chunk
                    if not chunk and not data:
                        break
                out = bytes(out)
            else:
                out = d.decompress(data)
                if d.unconsumed_tail:
                    raise zlib.error("input left over")
        except zlib.error as exc:
            raise Fail(f"the server's compressed message ({show(payload, 12)}) does not "
                       f"inflate with a {bits}-bit window{fresh}: {exc} (RFC 7692 §7.2.2)") \
                from None
        if d.eof:  # a BFINAL block ended it (§7.2.3.4); the window carries over
            self.history = (self.history + out)[-(1 << bits):]
            self.decomp = zlib.decompressobj(-bits, zdict=self.history) if self.history \
                else zlib.decompressobj(-bits)
        elif self.exact:
            self.history = (self.history + out)[-(1 << bits):]
        return out


def pmd_client(ctx, offer="permessage-deflate", server=None, accepted=None, **pmd_kw):
    """Connects offering `offer` (a header value, or a list of header values); checks the
    answer for the offer `accepted` (default: the first); returns (client, Pmd)."""
    values = offer if isinstance(offer, list) else [offer]
    c = ctx.client(server=server, connect=False)
    c.connect(extra_headers=[f"Sec-WebSocket-Extensions: {v}" for v in values])
    want = accepted if accepted is not None else values[0].split(",")[0]
    agreed = check_answer(c.response_head, parse_offer(want))
    c.log.append(f"  agreed: {agreed!r}")
    pmd = Pmd(agreed, **pmd_kw)
    c.rsv_allowed = 4
    c.inflate = pmd.inflate
    return c, pmd


def compressed_frames(z, op, frag=None):
    """The compressed payload `z` as one frame or as fragments of `frag` bytes; RSV1 on
    the first frame only (RFC 7692 §6.1)."""
    if not frag:
        return [build_frame(op, z, rsv=4)]
    parts = [z[i:i + frag] for i in range(0, len(z), frag)] or [b""]
    return [build_frame(op if i == 0 else CONT, p, fin=i == len(parts) - 1,
                        rsv=4 if i == 0 else 0) for i, p in enumerate(parts)]


def send_compressed(c, pmd, op, payload, frag=None, chunk=None, z=None):
    """Compresses (unless `z` is given) and sends one message; returns the compressed size."""
    z = pmd.compress(payload) if z is None else z
    frames = compressed_frames(z, op, frag)
    c.send(b"".join(frames), chunk, note=f"{opname(op)} rsv1 {show(payload, 8)} as "
           f"{len(z)}B compressed in {len(frames)} frame(s)")
    return len(z)


def expect_echo(ctx, c, op, payload, deadline, min_size=MIN_SIZE):
    """The next message must be `payload` with opcode `op`; with min_size, it must come
    compressed exactly when it is at least min_size bytes (wsedge's --deflate-min-size)."""
    ev = next_event(ctx, c, deadline, f"echo {opname(op)} {len(payload)}B")
    if ev[0] != opname(op) or bytes(ev[1]) != payload:
        got = f"{ev[0]} {show(ev[1])}" if ev[0] != "close" else repr(ev[1])
        raise Fail(f"expected echo {opname(op)} {show(payload)}, got {got}")
    if min_size is not None and c.last_rsv1 != (len(payload) >= min_size):
        raise Fail(f"echo of {len(payload)}B came {'with' if c.last_rsv1 else 'without'} "
                   f"RSV1; wsedge compresses exactly the echoes of >= {min_size} bytes")


# ----- 12 compressed echo -----------------------------------------------------------------
SIZES = [16, 64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 128 * KiB, 256 * KiB]
COUNT = 8  # messages per case (autobahn sends 1000; 8 keeps the suite quick)


def echo_many(op, gen, size, count=COUNT, frag=None, chunk=None, server="deflate",
              min_size=MIN_SIZE, timeout=None):
    """`count` different messages of `size` bytes, compressed with context takeover and
    pipelined from a writer thread; each echo must come back identical."""
    def run(ctx):
        c, pmd = pmd_client(ctx, server=server, exact=size <= 4 * KiB)
        msgs = [gen(size, seed) for seed in range(count)]
        frames = []
        zsize = 0
        for m in msgs:
            z = pmd.compress(m)
            zsize += len(z)
            frames += compressed_frames(z, op, frag)
        data = b"".join(frames)
        c.log.append(f"> {count} {opname(op)} messages of {size}B as {zsize}B compressed, "
                     f"{len(frames)} frame(s)" + (f" in {chunk}-byte writes" if chunk else ""))
        t0 = time.monotonic()
        t, errors = send_in_thread(c, data, chunk)
        deadline = ctx.deadline()
        for m in msgs:
            expect_echo(ctx, c, op, m, deadline, min_size)
        t.join(5)
        if errors:
            raise Fail(f"write failed: {errors[0]}")
        clean_close(ctx, c)
        ctx.info["ratio"] = f"{zsize / max(1, size * count):.2f} sent, " \
            f"{sum(pmd.sizes) / max(1, size * count):.2f} echoed"
        ctx.info["time"] = f"{(time.monotonic() - t0) * 1000:.0f} ms"
    return run


for grp, kind in enumerate(KINDS, 1):
    op, gen = KINDS[kind]
    for i, n in enumerate(SIZES, 1):
        add(f"12.{grp}.{i}", f"{COUNT} compressed {kind} messages of {n} bytes -> echoes",
            R7692("§7.2"), echo_many(op, gen, n), server="deflate",
            timeout=15 if n >= 64 * KiB else 5)

BIG = [(TEXT, "JSON-like text", json_like, MiB), (TEXT, "JSON-like text", json_like, 4 * MiB),
       (BINARY, "random binary", random_bytes, MiB),
       (BINARY, "random binary", random_bytes, 2 * MiB),
       (TEXT, "repetitive text", lambda n, s=0: repetitive(n), 4 * MiB),
       (BINARY, "low-entropy binary", low_entropy, MiB)]
for i, (op, kind, gen, n) in enumerate(BIG, 1):
    add(f"12.6.{i}", f"one compressed {kind} message of {n // MiB} MiB -> echo",
        R7692("§7.2"), echo_many(op, gen, n, count=1), server="deflate", timeout=20)

FRAGS = [(TEXT, json_like, 1), (TEXT, json_like, 7), (TEXT, json_like, 64),
         (TEXT, json_like, 1000), (TEXT, json_like, 4096), (TEXT, multibyte, 1),
         (TEXT, multibyte, 333), (BINARY, random_bytes, 1000), (BINARY, random_bytes, 16384),
         (BINARY, low_entropy, 100)]
for i, (op, gen, frag) in enumerate(FRAGS, 1):
    add(f"12.7.{i}", f"compressed {opname(op)} 64 KiB ({gen.__name__}) in fragments of "
        f"{frag} compressed bytes, RSV1 on the first only", R7692("§6.1"),
        echo_many(op, gen, 64 * KiB, count=2, frag=frag), server="deflate", timeout=15)

CHOPS = [(1, None), (7, None), (100, None), (997, None), (13, 256), (1, 50)]
for i, (chunk, frag) in enumerate(CHOPS, 1):
    how = f"in fragments of {frag} bytes, " if frag else "in one frame, "
    add(f"12.8.{i}", f"compressed JSON-like text 16 KiB {how}written in {chunk}-byte chunks",
        R7692("§7.2"), echo_many(TEXT, json_like, 16 * KiB, count=2, frag=frag, chunk=chunk),
        server="deflate", timeout=15)


def misc(fn):
    """A case body given the connected client and its Pmd."""
    def run(ctx):
        c, pmd = pmd_client(ctx, server="deflate")
        fn(ctx, c, pmd, ctx.deadline())
        clean_close(ctx, c)
    return run


def _empty_single_byte(ctx, c, pmd, dl):
    # §7.2.3.6: the single byte 0x00 is an empty message (with the tail appended: an empty
    # stored block, BFINAL=0).
    c.send(build_frame(TEXT, b"\x00", rsv=4), note="text rsv1 00 (empty message, §7.2.3.6)")
    expect_echo(ctx, c, TEXT, b"", dl)


def _empty_zlib(ctx, c, pmd, dl):
    send_compressed(c, pmd, BINARY, b"")
    expect_echo(ctx, c, BINARY, b"", dl)


def _mixed(ctx, c, pmd, dl):
    # §6: the extension applies per message; RSV1 clear means "not compressed".
    msgs = [(TEXT, json_like(500), True), (TEXT, json_like(500, 9), False),
            (BINARY, random_bytes(300), False), (BINARY, low_entropy(3000), True),
            (TEXT, b"short", True), (TEXT, b"plain", False)]
    for op, m, comp in msgs:
        if comp:
            send_compressed(c, pmd, op, m)
        else:
            c.send_frame(op, m)
    for op, m, _ in msgs:
        expect_echo(ctx, c, op, m, dl)


def _bfinal(ctx, c, pmd, dl):
    # §7.2.3.4: a message may end with a BFINAL block (the receiver's appended tail is then
    # ignored). The next message starts a new deflate stream.
    for seed in (1, 2):
        m = json_like(2000, seed)
        co = zlib.compressobj(6, zlib.DEFLATED, -15)
        send_compressed(c, pmd, TEXT, m, z=co.compress(m) + co.flush(zlib.Z_FINISH))
        expect_echo(ctx, c, TEXT, m, dl)


def _strategy(level, strategy):
    def fn(ctx, c, pmd, dl):
        pmd.level, pmd.strategy, pmd.comp = level, strategy, None
        for m, op in ((json_like(5000), TEXT), (low_entropy(5000), BINARY),
                      (random_bytes(70000), BINARY)):
            send_compressed(c, pmd, op, m)
            expect_echo(ctx, c, op, m, dl)
    return fn


def _many_flushes(ctx, c, pmd, dl):
    # Sync flushes inside a message leave empty stored blocks (00 00 ff ff) mid-payload.
    m = json_like(10000, 5)
    send_compressed(c, pmd, TEXT, m, z=pmd.compress(m, flushes=10))
    expect_echo(ctx, c, TEXT, m, dl)


def _rfc_example(ctx, c, pmd, dl):
    # §7.2.3.1 and §7.2.3.2: "Hello" compressed, then again using the shared window.
    c.send(build_frame(TEXT, bytes.fromhex("f248cdc9c90700"), rsv=4),
           note="text rsv1 f2 48 cd c9 c9 07 00 (§7.2.3.1)")
    expect_echo(ctx, c, TEXT, b"Hello", dl)
    c.send(build_frame(TEXT, bytes.fromhex("f200110000"), rsv=4),
           note="text rsv1 f2 00 11 00 00 (§7.2.3.2: back-reference into the last message)")
    expect_echo(ctx, c, TEXT, b"Hello", dl)


def _ping_between(ctx, c, pmd, dl):
    # §6.1: control frames are never compressed and may sit between compressed fragments.
    m = json_like(8000, 6)
    frames = compressed_frames(pmd.compress(m), TEXT, frag=500)
    data = frames[0] + build_frame(PING, b"mid-message") + b"".join(frames[1:-1]) + \
        build_frame(PING, b"again") + frames[-1]
    c.send(data, note=f"compressed text in {len(frames)} fragments, 2 pings between")
    for want in (b"mid-message", b"again"):
        ev = c.recv_event(dl, "pong")
        if ev != ("pong", want):
            raise Fail(f"expected pong {show(want)}, got {ev[0]} {show(ev[1])}")
    expect_echo(ctx, c, TEXT, m, dl)


def _thousand(ctx, c, pmd, dl):
    msgs = [json_like(100, seed) for seed in range(1000)]
    data = b"".join(compressed_frames(pmd.compress(m), TEXT)[0] for m in msgs)
    t, errors = send_in_thread(c, data)
    for m in msgs:
        expect_echo(ctx, c, TEXT, m, dl)
    t.join(5)
    del c.log[:-5]
    ctx.info["echoed"] = f"{sum(pmd.sizes)}B compressed for {100 * 1000}B"


def _min_size(ctx, c, pmd, dl):
    for n in (0, 1, MIN_SIZE - 1, MIN_SIZE, MIN_SIZE + 1, 1000):
        send_compressed(c, pmd, TEXT, repetitive(n))
        expect_echo(ctx, c, TEXT, repetitive(n), dl)


def _utf8_split(ctx, c, pmd, dl):
    m = multibyte(4000, 7)
    send_compressed(c, pmd, TEXT, m, frag=1)
    expect_echo(ctx, c, TEXT, m, dl)


MISC = [
    ("empty text as the single byte 00 -> empty echo", "§7.2.3.6", _empty_single_byte),
    ("empty binary as zlib's sync flush output -> empty echo", "§7.2.3.6", _empty_zlib),
    ("compressed and uncompressed messages interleaved -> all echoed", "§6", _mixed),
    ("two messages each ending in a BFINAL block -> echoes", "§7.2.3.4", _bfinal),
    ("stored blocks (zlib level 0) -> echoes", "§7.2.3.3", _strategy(0, 0)),
    ("fixed Huffman blocks (Z_FIXED) -> echoes", "§7.2", _strategy(6, zlib.Z_FIXED)),
    ("Huffman-only blocks -> echoes", "§7.2", _strategy(6, zlib.Z_HUFFMAN_ONLY)),
    ("RLE blocks at level 9 -> echoes", "§7.2", _strategy(9, zlib.Z_RLE)),
    ("10 sync flushes inside one message -> echo", "§7.2.1", _many_flushes),
    ("the RFC's 'Hello' example, then the same with a back-reference", "§7.2.3.2",
     _rfc_example),
    ("pings between the fragments of a compressed message -> pongs, echo", "§6.1",
     _ping_between),
    ("1000 pipelined 100-byte compressed texts -> 1000 echoes", "§7.2", _thousand),
    (f"echoes under {MIN_SIZE} bytes uncompressed, from {MIN_SIZE} on compressed "
     "[wsedge --deflate-min-size]", "§6", _min_size),
    ("multibyte text in 1-byte compressed fragments -> echo", "§7.2.2", _utf8_split),
]
for i, (desc, sec, fn) in enumerate(MISC, 1):
    add(f"12.9.{i}", desc, R7692(sec), misc(fn), server="deflate", timeout=10)
