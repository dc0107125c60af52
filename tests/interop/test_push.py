#!/usr/bin/python3
"""The /push demo route: the server sends on its own clock.

    /usr/bin/python3 tests/interop/test_push.py [-k WORD] [-v]

A first snapshot at once, then one per --push-interval; a counter per client; the server's
live statistics; flag validation. Last line: "N passed, N failed".
"""
import asyncio
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_common import check, connect, make_registry, recv, run, server_binary  # noqa: E402

TESTS, test = make_registry()
INTERVAL = 0.2


class Env:
    main = None  # --push-interval 0.2


@test("first snapshot at once, then one per interval, seq counting up from 1")
async def _():
    t0 = time.monotonic()
    async with connect(Env.main, "/push") as ws:
        first = json.loads(await recv(ws))
        t_first = time.monotonic() - t0
        check(first["seq"] == 1, f"seq {first['seq']}")
        check(t_first < INTERVAL, f"first push after {t_first:.2f}s")
        seqs, stamps = [1], [time.monotonic()]
        for _ in range(4):
            seqs.append(json.loads(await recv(ws))["seq"])
            stamps.append(time.monotonic())
        check(seqs == [1, 2, 3, 4, 5], f"seqs {seqs}")
        span = stamps[-1] - stamps[0]
        check(3.5 * INTERVAL <= span <= 4 * INTERVAL + 1.0, f"4 intervals took {span:.2f}s")


@test("a snapshot carries time, interval and the server's statistics")
async def _():
    async with connect(Env.main, "/push") as ws:
        j = json.loads(await recv(ws))
        for key in ("seq", "ts", "time", "interval_ms", "skipped", "stats"):
            check(key in j, f"missing {key}")
        check(j["interval_ms"] == int(INTERVAL * 1000), f"interval {j['interval_ms']}")
        check(abs(j["ts"] / 1000 - time.time()) < 5, "ts is not the wall clock")
        check(j["time"].endswith("Z") and "T" in j["time"], f"time {j['time']}")
        st = j["stats"]
        for key in ("connections", "connections_total", "websockets", "messages_in",
                    "messages_out", "bytes_in", "bytes_out", "message_memory",
                    "closed_over_budget", "uptime_s"):
            check(isinstance(st[key], (int, float)), f"stats.{key}")
        check(st["websockets"] >= 1 and st["connections"] >= 1, f"{st}")


@test("each client has its own counter; the statistics see both and their traffic")
async def _():
    async with connect(Env.main, "/push") as a:
        a1 = json.loads(await recv(a))
        await recv(a)
        async with connect(Env.main, "/push") as b:
            b1 = json.loads(await recv(b))
            check(b1["seq"] == 1, f"b starts at {b1['seq']}")
            check(b1["stats"]["websockets"] >= 2, f"websockets {b1['stats']['websockets']}")
            await b.send("x" * 1000)  # a push client may talk; it is counted, not answered
            later = json.loads(await recv(b))
            while later["stats"]["bytes_in"] < b1["stats"]["bytes_in"] + 1000:
                later = json.loads(await recv(b))
            check(later["stats"]["messages_in"] > b1["stats"]["messages_in"], "messages_in")
            check(later["stats"]["messages_out"] > a1["stats"]["messages_out"], "messages_out")
            check(later["stats"]["uptime_s"] >= a1["stats"]["uptime_s"], "uptime")


@test("--push-interval must be a positive number of seconds (exit 2 otherwise)")
async def _():
    for bad in ("0", "abc", "-1"):
        r = subprocess.run([server_binary(), "--port", "0", "--push-interval", bad],
                           capture_output=True, text=True, timeout=5)
        check(r.returncode == 2 and "--push-interval" in r.stderr, f"{bad}: {r.returncode}")


if __name__ == "__main__":
    sys.exit(run(TESTS, {"main": ["--log-level", "warn", "--web", "",
                                  "--push-interval", str(INTERVAL)]}, Env))
