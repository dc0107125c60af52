"""Section 13: every permessage-deflate parameter combination a client can offer (RFC 7692
§7.1), modelled on autobahn-testsuite's section 13 (own cases, own payloads).

The server's answer is checked against §7.1 for the offer (cases_deflate.check_answer);
then messages go both ways with the client's compressor set up as agreed, and the server's
messages are inflated exactly as agreed: with its window, in 1-byte output steps so zlib
checks every distance, and with server_no_context_takeover by a fresh inflater each.
"""
from cases_deflate import (MIN_SIZE, PMD, R7692, expect_echo, json_like, low_entropy,
                           multibyte, pmd_client, random_bytes, send_compressed)
from harness import add, clean_close
from wire import BINARY, TEXT, Fail


def window_payload(bits, seed):
    """Random bytes repeated at a distance of 1.5 windows: a server that exceeds its
    `bits` window references it, and the exact inflater rejects that."""
    k = (1 << bits) + (1 << (bits - 1))
    r = random_bytes(k, seed)
    return r + r


def reach_payload(bits, seed):
    """Random bytes repeated just inside a `bits` window: the server's inflater needs all
    of the window the client may use."""
    r = random_bytes(max(64, (1 << bits) - 300), seed)
    return r + r


def exchange(ctx, c, pmd, dl, min_size=MIN_SIZE):
    """Messages under the agreed parameters: the same text twice (with client context
    takeover the second is a back-reference), window-reaching and window-exceeding
    binaries, multibyte text; every echo inflated exactly as agreed."""
    a = pmd.agreed
    first = json_like(2048, 11)
    z1 = send_compressed(c, pmd, TEXT, first)
    expect_echo(ctx, c, TEXT, first, dl, min_size)
    z2 = send_compressed(c, pmd, TEXT, first)
    expect_echo(ctx, c, TEXT, first, dl, min_size)
    if not a.client_nct and (1 << a.client_bits) > len(first) + 262 and z2 * 4 > z1:
        raise Fail(f"test bug: with client context takeover the repeat should shrink "
                   f"({z1}B -> {z2}B)")
    s1, s2 = pmd.sizes[-2], pmd.sizes[-1]
    ctx.note(f"server's echoes of the repeated text: {s1}B then {s2}B")
    if a.server_nct and s2 * 2 < s1:
        raise Fail("server_no_context_takeover agreed, yet the server's second echo "
                   f"shrank from {s1}B to {s2}B")
    msgs = [(BINARY, reach_payload(min(a.client_bits, 15), 12)),
            (TEXT, multibyte(3000, 13))]
    if a.server_bits < 15:
        msgs.insert(0, (BINARY, window_payload(a.server_bits, 14)))
    for op, m in msgs:
        send_compressed(c, pmd, op, m)
        expect_echo(ctx, c, op, m, dl, min_size)
    clean_close(ctx, c)


def param_case(offer, server="deflate", expect=None, min_size=MIN_SIZE):
    """Offer `offer`; check the answer (and `expect`: param -> value or None for absent);
    then exchange() under what was agreed."""
    def run(ctx):
        c, pmd = pmd_client(ctx, offer, server=server)
        ans = pmd.agreed.answer
        for k, v in (expect or {}).items():
            if ans.get(k, "absent") != v:
                raise Fail(f"expected {k}={v} in the answer, got "
                           f"{ans.get(k, 'absent')} ({c.response_head.splitlines()[0]}; "
                           f"agreed {pmd.agreed!r})")
        shown = "; ".join(k if v is None else f"{k}={v}" for k, v in ans.items())
        ctx.note(f"answer {shown or 'plain'}")
        exchange(ctx, c, pmd, ctx.deadline(), min_size)
    return run



add("13.1.1", "plain offer -> accepted, messages both ways", R7692("§7"), param_case(PMD))
add("13.1.2", "client_max_window_bits (no value) -> accepted", R7692("§7.1.2.2"),
    param_case(f"{PMD}; client_max_window_bits"))
add("13.2.1", "client_no_context_takeover -> the client resets per message",
    R7692("§7.1.1.2"), param_case(f"{PMD}; client_no_context_takeover"))
add("13.2.2", "server_no_context_takeover -> in the answer; each echo inflates alone",
    R7692("§7.1.1.1"), param_case(f"{PMD}; server_no_context_takeover",
                                  expect={"server_no_context_takeover": None}))
add("13.2.3", "both no_context_takeover flags", R7692("§7.1.1"),
    param_case(f"{PMD}; server_no_context_takeover; client_no_context_takeover",
               expect={"server_no_context_takeover": None}))
add("13.2.4", "both no_context_takeover flags, client's first", R7692("§7.1.1"),
    param_case(f"{PMD}; client_no_context_takeover; server_no_context_takeover",
               expect={"server_no_context_takeover": None}))
for i, n in enumerate(range(8, 16), 1):
    add(f"13.3.{i}", f"server_max_window_bits={n} -> answered <= {n}; echoes fit the window",
        R7692("§7.1.2.1"), param_case(f"{PMD}; server_max_window_bits={n}"))
    add(f"13.4.{i}", f"client_max_window_bits={n} -> the server inflates a {n}-bit window",
        R7692("§7.1.2.2"), param_case(f"{PMD}; client_max_window_bits={n}"))
COMBOS = [
    "server_max_window_bits=10; client_max_window_bits=10",
    "server_no_context_takeover; server_max_window_bits=9",
    "client_no_context_takeover; client_max_window_bits=9",
    "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; "
    "client_max_window_bits=11",
    "client_max_window_bits; server_max_window_bits=15",
    "client_max_window_bits=12; server_no_context_takeover",
    "server_max_window_bits=8; client_max_window_bits=8; server_no_context_takeover",
]
for i, params in enumerate(COMBOS, 1):
    add(f"13.5.{i}", f"combination: {params}", R7692("§7.1"), param_case(f"{PMD}; {params}"))

# wsedge's own policy flags: the server's answer announces its window and reset.
TIGHT = " [needs --deflate-window-bits 10 --deflate-no-context-takeover --deflate-min-size 0]"
TIGHT_EXPECT = {"server_no_context_takeover": None, "server_max_window_bits": 10}
add("13.6.1", "plain offer -> answer announces window 10 and no context takeover" + TIGHT,
    R7692("§7.1"), param_case(PMD, "deflate-tight", TIGHT_EXPECT, min_size=0))
add("13.6.2", "server_max_window_bits=12 -> answer 10" + TIGHT, R7692("§7.1.2.1"),
    param_case(f"{PMD}; server_max_window_bits=12", "deflate-tight", TIGHT_EXPECT, 0))
add("13.6.3", "server_max_window_bits=9 -> answer 9" + TIGHT, R7692("§7.1.2.1"),
    param_case(f"{PMD}; server_max_window_bits=9", "deflate-tight",
               {"server_no_context_takeover": None, "server_max_window_bits": 9}, 0))
add("13.6.4", "client_max_window_bits -> answer 15; client keeps its context" + TIGHT,
    R7692("§7.1.2.2"), param_case(f"{PMD}; client_max_window_bits", "deflate-tight",
                                  dict(TIGHT_EXPECT, client_max_window_bits=15), 0))


def _tight_small(ctx):
    c, pmd = pmd_client(ctx, server="deflate-tight")
    dl = ctx.deadline()
    for n in (0, 1, 5, 63):
        send_compressed(c, pmd, BINARY, low_entropy(n))
        expect_echo(ctx, c, BINARY, low_entropy(n), dl, min_size=0)
    clean_close(ctx, c)


add("13.6.5", "with --deflate-min-size 0 even 0..63-byte echoes come compressed" + TIGHT,
    R7692("§7.2.3.6"), _tight_small, server="deflate-tight")
