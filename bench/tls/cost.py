#!/usr/bin/python3
"""bench/tls/cost.py: the cost of TLS in instructions, per message and per handshake.

Runs each server under callgrind (pinned to CPU 1) with wsload (CPU 0) against it twice,
for a short and a long window, and divides the difference of the server's instruction
counts by the difference of the work done: start-up, connection set-up and the ragged
edges of the window cancel out, and what is left is instructions per echo (or per
handshake) in the steady state. Instruction counts are deterministic: unlike wall-clock
figures they do not move with what else the machine is doing.

    bench/tls/cost.py [--build build] [--json docs/bench-tls/cost.json]

Servers: wsedge over ws:// and wss://, the raw TCP echo and the raw TLS echo; loads: 16 B
echo × 10 connections, 64 KiB echo × 4, full and resumed handshakes × 10 (raw TLS: the
TLS handshake alone, wsload connect --raw). Needs valgrind; about 5 minutes.
"""
import argparse
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support.tls import make_pki  # noqa: E402

LISTEN_RE = re.compile(r"listening on (wss?)://([0-9.]+):([0-9]+)/")
LOADS = {  # name: (wsload mode, extra argv, short and long window in seconds)
    "echo16": ("echo", ["--connections", "10", "--size", "16"], (1.0, 3.0)),
    "echo64k": ("echo", ["--connections", "4", "--size", "64K", "--binary"], (1.0, 3.0)),
    "connect": ("connect", ["--connections", "10", "--reset-after-close"], (2.0, 5.0)),
    "resume": ("connect", ["--connections", "10", "--reset-after-close", "--tls-resume"],
               (2.0, 5.0)),
}


def servers(build, pki):
    tls = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key]
    wsedge = [f"{build}/wsedge", "--port", "0", "--log-level", "warn", "--web", ""]
    return {
        "wsedge ws": (wsedge, False, False),
        "wsedge wss": (wsedge + tls, True, False),
        "raw": ([f"{build}/peers/raw_echo", "--port", "0"], False, True),
        "raw tls": ([f"{build}/peers/raw_tls_echo", "--port", "0"] + tls, True, True),
    }


def start(argv, out_file):
    cmd = ["taskset", "-c", "1", "valgrind", "--tool=callgrind", "--quiet",
           f"--callgrind-out-file={out_file}", *argv]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    deadline, line = time.monotonic() + 60, b""
    while not line.endswith(b"\n"):
        if time.monotonic() > deadline or not select.select([proc.stdout], [], [], 60)[0]:
            proc.kill()
            raise RuntimeError(f"{argv[0]}: no listening line")
        chunk = os.read(proc.stdout.fileno(), 1)
        if not chunk:
            raise RuntimeError(f"{argv[0]} exited before listening")
        line += chunk
    m = LISTEN_RE.search(line.decode())
    return proc, f"{m.group(1)}://{m.group(2)}:{m.group(3)}/"


def instructions(out_file):
    text = Path(out_file).read_text()
    m = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    return int(m.group(1))


def one(opts, argv, tls, raw, load, seconds, pki, work):
    mode, extra, _ = LOADS[load]
    out_file = Path(work) / f"cg.{os.getpid()}.{time.monotonic_ns()}"
    proc, url = start(argv, out_file)
    try:
        cmd = ["taskset", "-c", "0", opts.wsload, mode, "--url", url, *extra,
               "--duration", str(seconds), "--warmup", "0", "--json", "--quiet"]
        if tls:
            cmd += ["--ca", pki.ca_cert]
        if raw:
            cmd.append("--raw")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
        if r.returncode != 0:
            raise RuntimeError(f"wsload exit {r.returncode}: {r.stderr.strip()[-300:]}")
        result = json.loads(r.stdout)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # callgrind writes its counts on the way out
        proc.wait(60)
    ir = instructions(out_file)
    out_file.unlink()
    # Echo: the echoes in the window (the ragged edges cancel in the difference). Over
    # TLS in connect mode: every TLS handshake of the run, warm-up and edges included, so
    # that with --tls-resume the first wave of full handshakes (the same in both runs)
    # cancels and the difference is resumed handshakes only.
    tls = result.get("tls")
    units = tls["full"] + tls["resumed"] if mode == "connect" and tls else result["messages"]
    return ir, units, result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--wsload", default=None)
    ap.add_argument("--json", default=None, help="write the figures here too")
    ap.add_argument("--only", default="", help="comma list of loads (echo16,echo64k,connect,resume)")
    opts = ap.parse_args()
    opts.wsload = opts.wsload or f"{opts.build}/wsload"
    work = tempfile.mkdtemp(prefix="wsedge-tls-cost-")
    pki = make_pki(os.path.join(work, "pki"))
    loads = [x for x in opts.only.split(",") if x] or list(LOADS)
    figures = {}
    for load in loads:
        for name, (argv, tls, raw) in servers(opts.build, pki).items():
            if (load == "resume" and not tls) or (LOADS[load][0] == "connect" and raw and not tls):
                continue  # ws:// has no ticket; the raw TCP echo no handshake
            short, long_ = LOADS[load][2]
            ir1, n1, res1 = one(opts, argv, tls, raw, load, short, pki, work)
            ir2, n2, res = one(opts, argv, tls, raw, load, long_, pki, work)
            per = (ir2 - ir1) / (n2 - n1) if n2 > n1 else None
            figures.setdefault(load, {})[name] = {
                "ir_per_unit": per, "units": [n1, n2], "ir": [ir1, ir2],
                "tls": [res1.get("tls"), res.get("tls")]}
            shown = f"{per:,.0f}" if per else "-"
            print(f"{load:8} {name:11} {shown:>12} Ir per {'handshake' if 'connect' in LOADS[load][0] else 'echo'}"
                  f"   ({n1} -> {n2}; tls {res.get('tls')})", flush=True)
    if opts.json:  # merged into what an earlier run with other --only loads wrote
        old = json.loads(Path(opts.json).read_text()) if Path(opts.json).exists() else {}
        old.update(figures)
        Path(opts.json).write_text(json.dumps(old, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
