#!/usr/bin/python3
"""Server RSS per idle connection over TLS (wss://), beside plain ws:// in the same run.

    /usr/bin/python3 bench/tls/idle_memory.py [CONNECTIONS] [RUNS]   (defaults 2000, 3)

Each run starts a fresh build/wsedge (CPU 1) with a throwaway certificate, opens one
connection and closes it (so OpenSSL's one-time set-up is not counted), reads the
server's RSS, opens CONNECTIONS WebSockets with Python websockets (CPU 0), waits for the
server to settle, reads RSS again, and prints (after - before) / CONNECTIONS. Variants:
plain ws, wss (TLS 1.3), wss with TLS 1.2, and wss with permessage-deflate negotiated.
Prints every run, then the median and the spread (min-max) per variant.
"""
import asyncio
import os
import resource
import ssl
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from support.tls import client_context, make_pki  # noqa: E402

import websockets  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def rss_bytes(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no Rss line")


def start_server(args):
    proc = subprocess.Popen(["taskset", "-c", "1", os.path.join(ROOT, "build/wsedge"),
                             "--host", "127.0.0.1", "--port", "0", "--log-level", "warn",
                             "--web", "", *args],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=ROOT)
    line = proc.stdout.readline().decode().strip()
    port = int(line.rsplit(":", 1)[1].rstrip("/"))
    return proc, port


async def one_run(pki, variant):
    tls = variant != "ws"
    args = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key] if tls else []
    proc, port = start_server(args)
    try:
        ctx = None
        if tls:
            ctx = client_context(pki)
            if variant == "wss-tls12":
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/"
        compression = "deflate" if variant == "wss-deflate" else None

        def connect():
            return websockets.connect(url, ssl=ctx, compression=compression, open_timeout=30,
                                      ping_interval=None, max_queue=1)
        warm = await connect()
        await warm.close()
        await asyncio.sleep(0.5)
        before = rss_bytes(proc.pid)
        conns = []
        for i in range(0, N, 100):  # 100 handshakes at a time
            conns += await asyncio.gather(*(connect() for _ in range(min(100, N - i))))
        await asyncio.sleep(1.0)
        after = rss_bytes(proc.pid)
        # Every connection is alive and answering, not merely counted.
        probe = conns[len(conns) // 2]
        await probe.send("still here")
        assert await asyncio.wait_for(probe.recv(), 10) == "still here"
        for c in conns:
            c.transport.abort()
        return (after - before) / N
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.sched_setaffinity(0, {0})
    pki = make_pki()
    results = {}
    t0 = time.monotonic()
    for variant in ("ws", "wss", "wss-tls12", "wss-deflate"):
        vals = [asyncio.run(one_run(pki, variant)) for _ in range(RUNS)]
        results[variant] = vals
        print(f"{variant:12s} {N} connections: runs " + ", ".join(f"{v:.0f}" for v in vals) +
              " B/conn", flush=True)
    print()
    for variant, vals in results.items():
        print(f"{variant:12s} median {statistics.median(vals):,.0f} B/conn "
              f"(min {min(vals):,.0f} - max {max(vals):,.0f}, {RUNS} runs of {N})")
    print(f"total {time.monotonic() - t0:.0f}s")


if __name__ == "__main__":
    main()
