#!/usr/bin/python3
"""Python `websockets` (asyncio) echo server, a peer in bench/compare.

Echoes every message on every path with its type (str -> text, bytes -> binary);
compression off, 64 MiB max message, no keepalive pings (the other peers send none).
With --tls-cert/--tls-key: wss:// through Python's ssl module (OpenSSL), its defaults.
Usage: server.py [--port P] [--tls-cert FILE --tls-key FILE]; the first stdout line names
the port.
"""
import argparse
import asyncio
import signal
import ssl

import websockets


async def echo(ws, _path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main(port, tls):
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with websockets.serve(echo, "127.0.0.1", port, compression=None,
                                max_size=64 * 1024 * 1024, max_queue=None,
                                ping_interval=None, backlog=4096, ssl=tls) as server:
        bound = server.sockets[0].getsockname()[1]
        scheme = "wss" if tls else "ws"
        print(f"python-websockets listening on {scheme}://127.0.0.1:{bound}/", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(args.tls_cert, args.tls_key)
    asyncio.run(main(args.port, context))
