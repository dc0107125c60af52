#!/usr/bin/python3
"""bench/tls/crosscheck.py: the TLS headline figures again, with other clients than wsload.

Echo: Node's `ws` client (bench/tls/node_echo_client.js) keeps 100 connections × 16 B × 1
in flight against wsedge over ws:// and over wss://; the server's CPU per message comes
from /proc/PID/stat over the client's window. Handshakes: `openssl s_time` (-new: full,
-reuse: resumed) against wsedge's TLS listener and the raw TLS echo; the server's CPU per
TLS handshake likewise. Server pinned to CPU 1, client to CPU 0; RUNS runs each,
interleaved; prints medians and min–max and writes them as JSON.

    bench/tls/crosscheck.py [--build build] [--runs 3] [--seconds 4] [--json FILE]
"""
import argparse
import json
import os
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support.tls import make_pki  # noqa: E402

LISTEN_RE = re.compile(r"listening on (wss?)://([0-9.]+):([0-9]+)/")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Server:
    def __init__(self, argv):
        self.proc = subprocess.Popen(["taskset", "-c", "1", *argv], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        if not select.select([self.proc.stdout], [], [], 20)[0]:
            self.stop()
            raise RuntimeError(f"{argv[0]}: no listening line")
        m = LISTEN_RE.search(self.proc.stdout.readline().decode())
        self.scheme, self.host, self.port = m.group(1), m.group(2), int(m.group(3))
        self.url = f"{self.scheme}://{self.host}:{self.port}/"

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(10)


def node_echo(srv, pki, seconds, conns=100):
    argv = ["taskset", "-c", "0", "node", str(REPO / "bench/tls/node_echo_client.js"),
            srv.url, str(conns), str(seconds)]
    if srv.scheme == "wss":
        argv.append(pki.ca_cert)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    if line.strip() != "window":
        p.kill()
        raise RuntimeError(f"node client: {line.strip() or p.stderr.read()[-300:]}")
    c0 = cpu_seconds(srv.proc.pid)
    out = json.loads(p.stdout.readline())
    c1 = cpu_seconds(srv.proc.pid)
    p.wait(30)
    if out["errors"]:
        raise RuntimeError(f"node client counted {out['errors']} errors")
    return {"msgs_per_s": out["msgs_per_s"],
            "server_cpu_us": (c1 - c0) * 1e6 / out["messages"] if out["messages"] else None}


def s_time(srv, seconds, reuse):
    c0 = cpu_seconds(srv.proc.pid)
    r = subprocess.run(["taskset", "-c", "0", "openssl", "s_time", "-connect",
                        f"{srv.host}:{srv.port}", "-reuse" if reuse else "-new", "-time",
                        str(seconds)], capture_output=True, text=True, timeout=seconds + 60,
                       stdin=subprocess.DEVNULL)
    c1 = cpu_seconds(srv.proc.pid)
    m = re.search(r"(\d+) connections in (\d+) real seconds", r.stdout)
    if not m:
        raise RuntimeError(f"s_time: {r.stdout[-300:]} {r.stderr[-300:]}")
    n = int(m.group(1))
    return {"handshakes_per_s": n / int(m.group(2)),
            "server_cpu_us": (c1 - c0) * 1e6 / n if n else None}


def summary(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
            "runs": vals}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--json", default=None)
    opts = ap.parse_args()
    pki = make_pki(tempfile.mkdtemp(prefix="wsedge-tls-check-"))
    tls = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key]
    wsedge = [f"{opts.build}/wsedge", "--port", "0", "--log-level", "warn", "--web", ""]
    raw_tls = [f"{opts.build}/peers/raw_tls_echo", "--port", "0", *tls]
    cases = [("node echo", "wsedge ws", wsedge, lambda s: node_echo(s, pki, opts.seconds)),
             ("node echo", "wsedge wss", wsedge + tls, lambda s: node_echo(s, pki, opts.seconds)),
             ("s_time -new", "wsedge wss", wsedge + tls, lambda s: s_time(s, opts.seconds, False)),
             ("s_time -new", "raw tls", raw_tls, lambda s: s_time(s, opts.seconds, False)),
             ("s_time -reuse", "wsedge wss", wsedge + tls, lambda s: s_time(s, opts.seconds, True)),
             ("s_time -reuse", "raw tls", raw_tls, lambda s: s_time(s, opts.seconds, True))]
    raw = {}
    for run in range(1, opts.runs + 1):
        for test, name, argv, fn in cases:
            srv = Server(argv)
            try:
                rec = fn(srv)
            finally:
                srv.stop()
            raw.setdefault(test, {}).setdefault(name, []).append(rec)
            print(f"[run {run}] {test:13} {name:10} " +
                  "  ".join(f"{k} {v:,.2f}" for k, v in rec.items() if v is not None), flush=True)
            time.sleep(0.5)
    out = {test: {name: {k: summary([r[k] for r in recs]) for k in recs[0]}
                  for name, recs in by.items()} for test, by in raw.items()}
    for test, by in out.items():
        for name, figs in by.items():
            print(f"{test:13} {name:10} " + "  ".join(
                f"{k} {f['median']:,.2f} ({f['min']:,.2f}–{f['max']:,.2f})"
                for k, f in figs.items() if f))
    if opts.json:
        Path(opts.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
