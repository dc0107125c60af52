#!/usr/bin/python3
"""wsedge.1, the man page, made from `wsedge --help` so it cannot drift from the option table.

    build/wsedge --help | python3 apps/make_man.py --version "wsedge 0.1.0" > build/wsedge.1

Reads the usage text on stdin: lines "  --flag ARG   text" are options (a line indented
further continues the text before it), an unindented line ending in ":" starts a group of
options (e.g. "limits (README "Limits"):"). Writes roff (the man(7) macros) on stdout: NAME,
SYNOPSIS, DESCRIPTION, OPTIONS (one .TP per flag, groups as .SS), EXIT STATUS, SIGNALS,
ENVIRONMENT, FILES and SEE ALSO. Standard library only; `make install` and `make test`
(tests/interop/test_install.py) run it.
"""
import argparse
import datetime
import re
import sys

def esc(text):
    """Text safe in roff: backslashes, the hyphens of options (\\-, a minus sign that copies
    and pastes as one), a leading dot or quote."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"(?<![\w-])--(?=\w)", r"\\-\\-", text)
    text = re.sub(r"(?<![\w\\-])-(?=\w)", r"\\-", text)
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def flag_spec(spec):
    """'--max-message-size N' -> the flags bold, the argument italic, every hyphen \\-."""
    out = []
    for token in spec.split(" "):
        if token.startswith("-"):
            out.append("\\fB" + token.replace("-", "\\-") + "\\fR")
        else:
            out.append("\\fI" + esc(token) + "\\fR")
    return " ".join(out)


def is_argument(token):
    """An option's argument in the usage text: N, HOST:PORT, on|off, same-port[:PATH]."""
    return bool(token) and (not re.search(r"[a-z]", token) or "|" in token or "[" in token)


def split_option(line):
    """'  --flag ARG  text' -> ('--flag ARG', 'text'); the argument may be "QUOTED WORDS"
    and the text may follow after a single space."""
    tokens = line.strip().split(" ")
    spec = [tokens.pop(0)]
    if spec[0].endswith(",") and tokens:  # "--help, --version"
        spec.append(tokens.pop(0))
    if tokens and tokens[0].startswith('"'):
        arg = [tokens.pop(0)]
        while not arg[-1].endswith('"') and tokens:
            arg.append(tokens.pop(0))
        spec.append(" ".join(arg))
    elif tokens and is_argument(tokens[0]):
        spec.append(tokens.pop(0))
    return " ".join(spec), " ".join(t for t in tokens if t)


def parse(usage):
    """[(group title or None, [(spec, text)])] from the --help text."""
    groups = [(None, [])]
    for line in usage.splitlines()[1:]:  # the first is "usage: ..."
        if not line.strip():
            continue
        if line.startswith("  -"):
            groups[-1][1].append(list(split_option(line)))
        elif line.startswith(" ") and groups[-1][1]:
            groups[-1][1][-1][1] = (groups[-1][1][-1][1] + " " + line.strip()).strip()
        elif not line.startswith(" "):
            groups.append((line.strip().rstrip(":"), []))
    return [(title, opts) for title, opts in groups if opts]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--version", default="wsedge")
    ap.add_argument("--date", default=datetime.date.today().isoformat())
    a = ap.parse_args()
    usage = sys.stdin.read()
    if not usage.startswith("usage: wsedge"):
        print("make_man.py: stdin is not `wsedge --help`", file=sys.stderr)
        return 2
    groups = parse(usage)
    if not groups:
        print("make_man.py: no options found in the usage text", file=sys.stderr)
        return 2
    out = [
        f'.TH WSEDGE 1 "{a.date}" "{esc(a.version)}" "User Commands"',
        ".SH NAME",
        "wsedge \\- a WebSocket server (RFC 6455, RFC 7692) on raw Linux sockets",
        ".SH SYNOPSIS",
        ".B wsedge",
        "[\\fIoptions\\fR]",
        ".SH DESCRIPTION",
        "A single-threaded, edge-triggered epoll server: HTTP/1.1 up to the WebSocket upgrade,",
        "then RFC 6455 framing with permessage-deflate (RFC 7692). It serves an echo route on",
        "every path, /chat, /push and (with \\fB\\-\\-exec\\fR) /exec, static files from",
        "\\fB\\-\\-web\\fR, and with \\fB\\-\\-metrics\\fR the Prometheus text format. The first",
        "line on stdout names the address it listens on:",
        ".PP",
        ".RS",
        "wsedge listening on ws://127.0.0.1:9001/",
        ".RE",
        ".SH OPTIONS",
    ]
    for title, opts in groups:
        if title:
            out.append(".SS " + esc(title[0].upper() + title[1:]))
        for spec, text in opts:
            out += [".TP", flag_spec(spec), esc(text)]
    out += [
        ".SH EXIT STATUS",
        "0 after a clean stop (SIGTERM or SIGINT: every WebSocket gets close 1001 first);",
        "1 when it cannot listen or start; 2 for bad usage (one line on stderr).",
        ".SH SIGNALS",
        "SIGTERM and SIGINT stop it gracefully (a second one stops it at once); SIGHUP",
        "reloads the TLS certificate and key given with \\fB\\-\\-tls\\-cert\\fR.",
        ".SH ENVIRONMENT",
        ".TP",
        "\\fBLISTEN_PID\\fR, \\fBLISTEN_FDS\\fR",
        "systemd socket activation (sd_listen_fds(3)): with LISTEN_PID naming this process and",
        "LISTEN_FDS=1, wsedge serves on the listening socket at fd 3 instead of binding",
        "\\fB\\-\\-host\\fR and \\fB\\-\\-port\\fR.",
        ".SH FILES",
        ".TP",
        "\\fI/usr/local/share/wsedge/web\\fR",
        "the demo pages, as installed by make install (pass it with \\fB\\-\\-web\\fR).",
        ".TP",
        "\\fI/usr/local/share/doc/wsedge/deploy\\fR",
        "systemd unit files (wsedge.socket, wsedge.service).",
        ".SH SEE ALSO",
        "wsedge\\-client(1), sd_listen_fds(3)",
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
