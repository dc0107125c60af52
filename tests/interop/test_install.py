"""make install and the man page made from --help.

The man page (apps/make_man.py over `wsedge --help`) names every option the binary's usage
text names, and groff renders it without a warning; `make install DESTDIR=... PREFIX=...`
puts the binaries, the man page, the pages and the systemd units where the README says,
and the installed server serves the installed pages. The build directory is the one of
$WSEDGE_BIN (build/ or build-asan/), so `make asan` installs the sanitized binaries it
tests. Run with Debian's /usr/bin/python3; prints "N passed, N failed" last.
"""
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support.server import ROOT, server_binary, wsedge_server  # noqa: E402
from support.cases import case, finish  # noqa: E402



def help_flags():
    usage = subprocess.run([server_binary(), "--help"], capture_output=True, text=True,
                           timeout=10).stdout
    return usage, sorted(set(re.findall(r"^  (--[a-z][a-z0-9=-]*)", usage, re.M)))


def man_page(usage):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "apps", "make_man.py"),
                        "--version", "wsedge test"], input=usage, capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout


@case("the man page names every option of --help, and groff renders it without a warning")
def _():
    usage, flags = help_flags()
    assert len(flags) > 30, flags
    page = man_page(usage)
    assert page.startswith('.TH WSEDGE 1 "'), page[:80]
    for flag in flags:
        assert "\\fB" + flag.replace("-", "\\-") in page, f"{flag} missing from the man page"
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww"], input=page, capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    text = re.sub(r".\x08", "", r.stdout)  # overstrike bold and underline
    for flag in flags:
        assert flag in text, f"{flag} not in the rendered page"
    for section in ["NAME", "SYNOPSIS", "OPTIONS", "EXIT STATUS", "ENVIRONMENT", "SEE ALSO"]:
        assert re.search(rf"^{section}$", text, re.M), section


@case("make_man.py refuses what is not wsedge's usage text, exit 2")
def _():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "apps", "make_man.py")],
                       input="hello\n", capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "not `wsedge --help`" in r.stderr, r


@case("make install DESTDIR PREFIX: binaries, man page, pages, units; the installed server serves")
def _():
    build = os.path.relpath(os.path.dirname(server_binary()), ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    with tempfile.TemporaryDirectory() as dest:
        args = ["make", "-s", "--no-print-directory", "install", f"DESTDIR={dest}",
                "PREFIX=/opt/wsedge", f"BUILD={build}"]
        if "asan" in build:
            args.append("MODE=asan")
        r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        prefix = dest + "/opt/wsedge"
        for name in ["wsedge", "wsedge-client", "wsload"]:
            path = f"{prefix}/bin/{name}"
            assert os.access(path, os.X_OK), path
        for path in ["share/man/man1/wsedge.1", "share/wsedge/web/index.html",
                     "share/wsedge/web/metrics.js", "share/doc/wsedge/deploy/wsedge.service",
                     "share/doc/wsedge/deploy/wsedge.socket"]:
            assert os.path.isfile(f"{prefix}/{path}"), path
        with open(f"{prefix}/share/man/man1/wsedge.1") as f:
            assert f.read().startswith(".TH WSEDGE 1"), "the installed man page"
        version = subprocess.run([f"{prefix}/bin/wsedge", "--version"], capture_output=True,
                                 text=True, timeout=10)
        assert version.returncode == 0 and version.stdout.startswith("wsedge "), version
        os.environ["WSEDGE_BIN_SAVED"] = os.environ.get("WSEDGE_BIN", "")
        os.environ["WSEDGE_BIN"] = f"{prefix}/bin/wsedge"
        try:
            with wsedge_server(["--web", f"{prefix}/share/wsedge/web"]) as srv:
                with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/metrics.html",
                                            timeout=5) as page:
                    assert page.status == 200 and b"wsedge metrics" in page.read()
        finally:
            os.environ["WSEDGE_BIN"] = os.environ.pop("WSEDGE_BIN_SAVED")


finish()
