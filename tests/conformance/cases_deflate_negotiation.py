"""Section 14: permessage-deflate negotiation edge cases (RFC 7692 §5, §7; RFC 6455 §9.1).

Each case sends one or more Sec-WebSocket-Extensions headers and checks the 101 answer:
either the offer the server should accept (the answer is checked against RFC 7692 §7.1 for
that offer, then a compressed message is echoed), or no extension at all (then an
uncompressed message of 1000 bytes must come back without RSV1). Malformed headers must
never cost the handshake: the server answers 101 and declines.
"""
from cases_deflate import (PMD, R7692, expect_echo, json_like, pmd_client,
                           response_extensions, send_compressed)
from harness import add, clean_close, expect_events
from wire import TEXT, Fail

GOOD = f"{PMD}; server_max_window_bits=10"  # the acceptable offer after a bad one


def accepts(values, accepted, expect=None, server="deflate"):
    """Offers `values` (one header each); the server must accept the offer `accepted`."""
    def run(ctx):
        c, pmd = pmd_client(ctx, list(values), server=server, accepted=accepted)
        ans = pmd.agreed.answer
        for k, v in (expect or {}).items():
            if ans.get(k, "absent") != v:
                raise Fail(f"expected {k}={v} in the answer (the offer '{accepted}' wins), "
                           f"got {ans.get(k, 'absent')}")
        ctx.note(f"answer: {response_extensions(c.response_head)[0]}")
        m = json_like(1000, 21)
        send_compressed(c, pmd, TEXT, m)
        expect_echo(ctx, c, TEXT, m, ctx.deadline())
        clean_close(ctx, c)
    return run


def declines(values, server="deflate", either=None):
    """Offers `values`; the server must answer 101 without the extension. With `either`
    (an offer), accepting that offer is allowed too (the RFC leaves it open)."""
    def run(ctx):
        c = ctx.client(server=server, connect=False)
        c.connect(extra_headers=[f"Sec-WebSocket-Extensions: {v}" for v in values])
        got = response_extensions(c.response_head)
        if got and either is not None:
            c.close_socket()
            accepts(values, either, server=server)(ctx)
            ctx.note("accepted (allowed)")
            return
        if got:
            raise Fail(f"expected the offer to be declined (101 without "
                       f"Sec-WebSocket-Extensions), got {got!r}")
        # Not agreed: a server frame with RSV1 is a problem (wire.RawClient checks).
        m = json_like(1000, 22)
        c.send_frame(TEXT, m)
        expect_events(ctx, c, [("text", m)])
        clean_close(ctx, c)
        if either is not None:
            ctx.note("declined")
    return run


add("14.1.1", "no offer -> no extension; a 1000-byte echo comes uncompressed", R7692("§5"),
    declines([]))
add("14.1.2", "two offers: the first (client_max_window_bits) wins", R7692("§7"),
    accepts([f"{PMD}; client_max_window_bits, {PMD}"], f"{PMD}; client_max_window_bits"))
add("14.1.3", "two offers: the first (server_no_context_takeover) wins", R7692("§7"),
    accepts([f"{PMD}; server_no_context_takeover, {PMD}; server_max_window_bits=9"],
            f"{PMD}; server_no_context_takeover"))
add("14.1.4", "three offers, the first two unacceptable -> the third", R7692("§7"),
    accepts([f"{PMD}; x=1, {PMD}; server_max_window_bits=16, {GOOD}"], GOOD))

BAD_FIRST = [
    ("unknown parameter", f"{PMD}; x_custom_param"),
    ("unknown parameter with a value", f"{PMD}; foo=bar"),
    ("server_max_window_bits=7", f"{PMD}; server_max_window_bits=7"),
    ("server_max_window_bits=16", f"{PMD}; server_max_window_bits=16"),
    ("client_max_window_bits=7", f"{PMD}; client_max_window_bits=7"),
    ("client_max_window_bits=16", f"{PMD}; client_max_window_bits=16"),
    ("client_max_window_bits=0", f"{PMD}; client_max_window_bits=0"),
    ("server_max_window_bits without a value", f"{PMD}; server_max_window_bits"),
    ("server_max_window_bits=09 (leading zero)", f"{PMD}; server_max_window_bits=09"),
    ("server_max_window_bits=abc", f"{PMD}; server_max_window_bits=abc"),
    ("server_max_window_bits=10.5", f"{PMD}; server_max_window_bits=10.5"),
    ("server_max_window_bits=99999999999999999999",
     f"{PMD}; server_max_window_bits=99999999999999999999"),
    ("duplicate server_no_context_takeover",
     f"{PMD}; server_no_context_takeover; server_no_context_takeover"),
    ("duplicate server_max_window_bits", f"{PMD}; server_max_window_bits=10; "
     "server_max_window_bits=11"),
    ("duplicate client_max_window_bits", f"{PMD}; client_max_window_bits; "
     "client_max_window_bits=10"),
    ("server_no_context_takeover=1 (a value on a flag)", f"{PMD}; server_no_context_takeover=1"),
    ('client_no_context_takeover="x"', f'{PMD}; client_no_context_takeover="x"'),
]
for i, (what, bad) in enumerate(BAD_FIRST, 1):
    add(f"14.2.{i}", f"unacceptable first offer ({what}), then an acceptable one -> the second",
        R7692("§7"), accepts([f"{bad}, {GOOD}"], GOOD))

OTHERS = [
    ("x-webkit-deflate-frame first", ["x-webkit-deflate-frame, " + GOOD]),
    ("an unknown extension with parameters first", ['foo; bar=1; baz="q", ' + GOOD]),
    ("permessage-deflate-x (a longer name) first", [f"{PMD}-x, {GOOD}"]),
    ("Permessage-Deflate (other case) first: either is fine",
     [f"Permessage-Deflate; server_max_window_bits=9, {GOOD}"]),
    ("the offer in a second header after an unknown extension", ["x-foo", GOOD]),
    ("an empty header, then the offer", ["", GOOD]),
    ("a bad offer in the first header, a good one in the second",
     [f"{PMD}; bogus", GOOD]),
]
for i, (what, values) in enumerate(OTHERS, 1):
    add(f"14.3.{i}", f"{what} -> the permessage-deflate offer is accepted",
        R7692("§5"), accepts(values, GOOD))
add("14.3.8", "two headers, each an offer: the first header's wins (server_no_context_"
    "takeover)", R7692("§7"),
    accepts([f"{PMD}; server_no_context_takeover", f"{PMD}; server_max_window_bits=9"],
            f"{PMD}; server_no_context_takeover"))
add("14.3.9", "the offer in the 12th Sec-WebSocket-Extensions header, after 11 unknown "
    "extensions -> accepted (the headers form one list, however many)", "RFC 6455 §9.1",
    accepts([f"x-unknown-{i}" for i in range(11)] + [GOOD], GOOD))
add("14.4.1", 'quoted value server_max_window_bits="10" -> accepted', "RFC 6455 §9.1",
    accepts([f'{PMD}; server_max_window_bits="10"'], GOOD))
add("14.4.2", 'quoted value client_max_window_bits="12" -> accepted', "RFC 6455 §9.1",
    accepts([f'{PMD}; client_max_window_bits="12"'], f"{PMD}; client_max_window_bits=12"))
add("14.4.3", "a tab before the parameter -> accepted", "RFC 6455 §9.1",
    accepts([f"{PMD};\tserver_no_context_takeover"], f"{PMD}; server_no_context_takeover"))
add("14.4.4", "spaces around ';' ',' and '=' -> declined or accepted as offered",
    "RFC 6455 §9.1", declines([f"{PMD} ;  server_max_window_bits = 10 ,  {PMD}"],
                              either=GOOD))
add("14.4.5", "empty list elements around the offer -> declined or accepted",
    "RFC 9110 §5.6.1", declines([f", , {GOOD} , ,"], either=GOOD))

MALFORMED = [
    ("trailing ';'", f"{PMD};"),
    ("empty parameter ';;'", f"{PMD}; ;"),
    ("'=' without a value", f"{PMD}; server_max_window_bits="),
    ("a value without a name", f"{PMD}; =10"),
    ("unbalanced quote", f'{PMD}; server_max_window_bits="10'),
    ("empty quoted value", f'{PMD}; server_max_window_bits=""'),
    ("quoted value that is not a token", f'{PMD}; server_max_window_bits="1 0"'),
    ("a parameter without ';'", f"{PMD} server_no_context_takeover"),
    ("leading ';'", f";{PMD}"),
    ("a lone quote", f'{PMD}; "'),
    ("a quoted extension name", f'"{PMD}"'),
    ("non-ASCII bytes in the name", "pérmessage-deflate"),
    ("nine unknown parameters", f"{PMD}; a; b; c; d; e; f; g; h; i"),
    ("fifty repeated parameters", f"{PMD}" + "; client_no_context_takeover" * 50),
    ("4000 commas", "," * 4000),
    ("only separators", " ; = , ; = "),
]
for i, (what, value) in enumerate(MALFORMED, 1):
    add(f"14.5.{i}", f"malformed or invalid header ({what}) -> 101 without the extension",
        "RFC 6455 §9.1", declines([value]))
add("14.5.17", "a malformed element, then a good offer -> declined or the good one",
    "RFC 6455 §9.1", declines([f"{PMD};;x, {GOOD}"], either=GOOD))
add("14.5.18", "an unbalanced quote, then an offer -> declined or the offer",
    "RFC 6455 §9.1", declines([f'{PMD}; x="a, {PMD}'], either=PMD))

OFF = " [needs --deflate off]"
add("14.6.1", "plain offer -> declined" + OFF, R7692("§5"), declines([PMD], "deflate-off"),
    server="deflate-off")
add("14.6.2", "offer with every parameter -> declined" + OFF, R7692("§5"),
    declines([f"{PMD}; server_no_context_takeover; client_no_context_takeover; "
              "server_max_window_bits=10; client_max_window_bits", PMD], "deflate-off"),
    server="deflate-off")
