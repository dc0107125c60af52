#!/usr/bin/python3
"""DEVELOPMENT AID ONLY: a stand-in for the `wsedge` binary, built on websockets 10.4.

The conformance and interop suites were written before the C++ server existed. This script
implements wsedge's command-line contract closely enough to develop those suites against:

    WSEDGE_BIN=tests/fake_wsedge.py /usr/bin/python3 tests/conformance/run.py

tests/run_all.sh never uses it; the suites judge build/wsedge. Where websockets behaves
differently from what the contract asks (e.g. UTF-8 errors are caught only once a whole
frame has arrived, so "fail fast" cases fail here), the suites are right and this is not.

Contract implemented: --host/--port (0 = free port), first stdout line
"wsedge listening on ws://HOST:PORT/" flushed, echo on every path that is not a static file,
static files from --web for non-upgrade GETs (else 404), --subprotocol in server preference
order, --allow-origin, --max-message-size, --ping-interval/--idle-timeout,
--handshake-timeout, SIGTERM/SIGINT -> close 1001 to every client and exit 0.
"""
import argparse
import asyncio
import http
import mimetypes
import os
import signal
import sys

import websockets
from websockets.exceptions import AbortHandshake, SecurityError
from websockets.legacy.server import WebSocketServerProtocol


def parse_args(argv):
    p = argparse.ArgumentParser(description="wsedge stand-in (websockets 10.4)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9001)
    p.add_argument("--web", default="apps/web")
    p.add_argument("--log-level", default="info")
    p.add_argument("--max-message-size", type=int, default=16 * 1024 * 1024)
    p.add_argument("--subprotocol", action="append", default=[])
    p.add_argument("--allow-origin", action="append", default=[])
    p.add_argument("--ping-interval", type=float, default=0)
    p.add_argument("--idle-timeout", type=float, default=60)
    p.add_argument("--handshake-timeout", type=float, default=10)
    p.add_argument("--close-grace", type=float, default=2)
    return p.parse_args(argv)


def make_protocol(args):
    web_root = os.path.realpath(args.web)

    def static_file(path):
        """Returns the file a GET path names inside --web, or None."""
        rel = path.split("?", 1)[0].lstrip("/") or "index.html"
        full = os.path.realpath(os.path.join(web_root, rel))
        if not full.startswith(web_root + os.sep) or not os.path.isfile(full):
            return None
        return full

    class Protocol(WebSocketServerProtocol):
        async def read_http_request(self):
            # Map websockets' generic 400s onto the statuses the contract names.
            try:
                return await asyncio.wait_for(super().read_http_request(), args.handshake_timeout)
            except asyncio.TimeoutError:
                raise ConnectionResetError("handshake timeout") from None
            except websockets.exceptions.InvalidMessage as exc:
                cause = exc.__cause__
                if isinstance(cause, SecurityError):
                    raise AbortHandshake(http.HTTPStatus(431), {"Connection": "close"},
                                         b"head too large\n")
                if isinstance(cause, ValueError) and "unsupported HTTP method" in str(cause):
                    raise AbortHandshake(http.HTTPStatus(405), {"Allow": "GET"},
                                         b"method not allowed\n")
                raise

        async def process_request(self, path, headers):
            if "Host" not in headers:
                return http.HTTPStatus.BAD_REQUEST, [], b"missing Host\n"
            if "upgrade" not in headers.get("Connection", "").lower():
                full = static_file(path)
                if full is None:
                    return http.HTTPStatus.NOT_FOUND, [], b"not found\n"
                with open(full, "rb") as f:
                    body = f.read()
                ctype = mimetypes.guess_type(full)[0] or "application/octet-stream"
                return http.HTTPStatus.OK, [("Content-Type", ctype)], body
            if headers.get("Sec-WebSocket-Version") != "13":
                return (http.HTTPStatus(426), [("Sec-WebSocket-Version", "13")],
                        b"version 13 only\n")
            return None

        def select_subprotocol(self, client_subprotocols, server_subprotocols):
            for proto in server_subprotocols:  # the server's preference order wins
                if proto in client_subprotocols:
                    return proto
            return None

    return Protocol


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main(args):
    server = await websockets.serve(
        echo,
        args.host,
        args.port,
        create_protocol=make_protocol(args),
        subprotocols=args.subprotocol or None,
        origins=args.allow_origin + [None] if args.allow_origin else None,
        max_size=args.max_message_size,
        ping_interval=args.ping_interval or None,
        ping_timeout=args.idle_timeout,
        close_timeout=args.close_grace,
        compression=None,
        max_queue=64,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"wsedge listening on ws://{args.host}:{port}/", flush=True)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    await stop
    server.close()  # closes every connection with 1001 (going away)
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main(parse_args(sys.argv[1:])))
    sys.exit(0)
