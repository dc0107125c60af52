#!/usr/bin/python3
"""SIGHUP reloads the TLS certificate under load without dropping a connection.

30 wss:// clients echo in a loop while a second certificate replaces the first on disk and
the server gets SIGHUP; meanwhile new connections keep being opened. Every open client
must keep echoing across the reload (and keep the certificate it was made with); every
connection opened after the reload must see the new certificate (serial and subject); a
reload from a broken key file must be logged and change nothing. Run with Debian's
/usr/bin/python3; last line "N passed, N failed".
"""
import asyncio
import os
import shutil
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from support.server import wait_until, wsedge_server  # noqa: E402
from support.tls import client_context, make_pki  # noqa: E402

import websockets  # noqa: E402

CLIENTS = 30
results = []


def record(name, problem):
    results.append((name, problem))
    print(f"ok {name}" if problem is None else f"FAIL {name}: {problem}", flush=True)


def serial_and_cn(ws):
    cert = ws.transport.get_extra_info("ssl_object").getpeercert()
    cn = dict(x[0] for x in cert["subject"]).get("commonName")
    return cert["serialNumber"], cn


def replace(src, dst):
    tmp = dst + ".new"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)  # atomic: a reload never reads half a file


class Load:
    def __init__(self, srv, pki):
        self.srv, self.pki = srv, pki
        self.counts = [0] * CLIENTS
        self.errors = []
        self.first_serials = [None] * CLIENTS
        self.stop = asyncio.Event()
        self.new_conns = 0
        self.new_conn_errors = []

    def connect(self):
        return websockets.connect(self.srv.url("/echo"), ssl=client_context(self.pki),
                                  open_timeout=10, close_timeout=10, compression=None)

    async def client(self, i):
        try:
            async with self.connect() as ws:
                self.first_serials[i] = serial_and_cn(ws)
                n = 0
                while not self.stop.is_set():
                    msg = f"client {i} message {n}"
                    await ws.send(msg)
                    got = await asyncio.wait_for(ws.recv(), 10)
                    if got != msg:
                        raise AssertionError(f"echo {got!r} != {msg!r}")
                    n += 1
                    self.counts[i] = n
                    await asyncio.sleep(0.005)
                if serial_and_cn(ws) != self.first_serials[i]:
                    raise AssertionError("the certificate of an open connection changed")
                await ws.close(1000)
                if ws.close_code != 1000:
                    raise AssertionError(f"close code {ws.close_code}")
        except Exception as exc:  # noqa: BLE001 - every failure is counted
            self.errors.append(f"client {i}: {exc.__class__.__name__}: {exc}")

    async def opener(self):
        while not self.stop.is_set():
            try:
                async with self.connect() as ws:
                    await ws.send("new")
                    if await asyncio.wait_for(ws.recv(), 10) != "new":
                        raise AssertionError("bad echo")
                self.new_conns += 1
            except Exception as exc:  # noqa: BLE001
                self.new_conn_errors.append(f"{exc.__class__.__name__}: {exc}")
            await asyncio.sleep(0.01)


async def new_connection_cert(srv, pki):
    async with websockets.connect(srv.url("/echo"), ssl=client_context(pki),
                                  open_timeout=10, compression=None) as ws:
        await ws.send("probe")
        assert await asyncio.wait_for(ws.recv(), 10) == "probe"
        return serial_and_cn(ws)


async def scenario(srv, pki, live_cert, live_key):
    load = Load(srv, pki)
    tasks = [asyncio.create_task(load.client(i)) for i in range(CLIENTS)]
    tasks.append(asyncio.create_task(load.opener()))
    await asyncio.sleep(1.0)
    record("30 clients echo before the reload",
           None if all(c > 0 for c in load.counts) and not load.errors
           else f"counts {load.counts} errors {load.errors[:3]}")
    record("a new connection sees certificate serial 01 before the reload",
           None if (got := await new_connection_cert(srv, pki)) == ("01", "wsedge test")
           else f"got {got}")

    new_cert, new_key = pki.issue("reloaded", serial=2, cn="wsedge reloaded")
    replace(new_cert, live_cert)
    replace(new_key, live_key)
    before = list(load.counts)
    srv.proc.send_signal(signal.SIGHUP)
    logged = await asyncio.to_thread(
        wait_until, lambda: "TLS certificate reloaded" in srv.stderr_text(), 10)
    record("SIGHUP: the reload is logged with the new subject",
           None if logged and "wsedge reloaded" in srv.stderr_text()
           else f"stderr: {srv.stderr_text()[-500:]}")
    got = await new_connection_cert(srv, pki)
    record("after SIGHUP a new connection sees the new certificate (serial 02)",
           None if got == ("02", "wsedge reloaded") else f"got {got}")
    await asyncio.sleep(1.0)
    record("every open client kept echoing across the reload",
           None if all(a > b for a, b in zip(load.counts, before)) and not load.errors
           else f"before {before} after {load.counts} errors {load.errors[:3]}")

    with open(live_key + ".new", "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
    os.replace(live_key + ".new", live_key)
    before = list(load.counts)
    srv.proc.send_signal(signal.SIGHUP)
    failed = await asyncio.to_thread(
        wait_until, lambda: "TLS reload failed" in srv.stderr_text(), 10)
    record("a reload from a broken key is logged with the reason",
           None if failed and "keeping the current certificate" in srv.stderr_text()
           else f"stderr: {srv.stderr_text()[-500:]}")
    got = await new_connection_cert(srv, pki)
    record("after the failed reload new connections still get serial 02",
           None if got == ("02", "wsedge reloaded") else f"got {got}")
    await asyncio.sleep(0.5)
    record("open clients still echo after the failed reload",
           None if all(a > b for a, b in zip(load.counts, before)) and not load.errors
           else f"before {before} after {load.counts} errors {load.errors[:3]}")

    load.stop.set()
    await asyncio.gather(*tasks)
    record("no client saw an error and all closed with 1000",
           None if not load.errors else f"{len(load.errors)} errors: {load.errors[:3]}")
    record("every client kept the certificate it connected with (serial 01)",
           None if all(s == ("01", "wsedge test") for s in load.first_serials)
           else f"{load.first_serials[:3]}")
    record(f"connections opened during the reloads all worked ({load.new_conns})",
           None if load.new_conns > 10 and not load.new_conn_errors
           else f"{load.new_conns} opened, errors {load.new_conn_errors[:3]}")


def main():
    t0 = time.monotonic()
    try:
        pki = make_pki()
        live_cert = os.path.join(pki.dir, "live-cert.pem")
        live_key = os.path.join(pki.dir, "live-key.pem")
        shutil.copyfile(pki.server_cert, live_cert)
        shutil.copyfile(pki.server_key, live_key)
        with wsedge_server(["--log-level", "info", "--tls-cert", live_cert,
                            "--tls-key", live_key]) as srv:
            asyncio.run(scenario(srv, pki, live_cert, live_key))
            problem = srv.stop()
            record("server exits 0 on SIGTERM", problem)
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        record("setup", f"{exc.__class__.__name__}: {exc}")
    passed = sum(1 for _, p in results if p is None)
    print(f"suite time {time.monotonic() - t0:.1f}s")
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
