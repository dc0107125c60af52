#!/usr/bin/python3
"""Regenerates the seed corpus of fuzz_tls (tests/fuzz/corpus/tls/).

Real ClientHellos are captured from `openssl s_client` (TLS 1.3, 1.2, 1.1, with ALPN,
SNI, a session to resume, other groups) and from Python's ssl module on a loopback
listener that records the first bytes a client sends and then closes. Each hello also
gets truncated and corrupted variants, and a few seeds drive the fuzzer's modes 1 and 2
(records and plaintext after a real handshake, resumed or full; see fuzz_tls.cpp).

    /usr/bin/python3 tests/fuzz/make_tls_corpus.py [DIR]
"""
import hashlib
import os
import random
import socket
import ssl
import subprocess
import sys
import threading

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "corpus", "tls")


def capture(client):
    """Starts a listener, runs client(port), returns the first bytes the client sent."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = []

    def accept():
        c, _ = srv.accept()
        c.settimeout(2)
        data = b""
        try:
            while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        got.append(data)
        c.close()
    t = threading.Thread(target=accept)
    t.start()
    client(srv.getsockname()[1])
    t.join(5)
    srv.close()
    return got[0] if got else b""


def s_client(*args):
    env = dict(os.environ, OPENSSL_CONF="/dev/null")

    def run(port):
        subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                       input=b"", capture_output=True, timeout=10, env=env)
    return run


def python_client(**kw):
    def run(port):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if "alpn" in kw:
            ctx.set_alpn_protocols(kw["alpn"])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                ctx.wrap_socket(s, server_hostname="localhost")
        except (ssl.SSLError, OSError):
            pass
    return run


CLIENTS = {
    "s_client-tls13": s_client("-tls1_3"),
    "s_client-tls12": s_client("-tls1_2"),
    "s_client-tls11": s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"),
    "s_client-tls10": s_client("-tls1", "-cipher", "DEFAULT@SECLEVEL=0"),
    "s_client-alpn": s_client("-alpn", "h2,http/1.1", "-servername", "example.com"),
    "s_client-alpn-h2": s_client("-alpn", "h2"),
    "s_client-p384": s_client("-groups", "P-384"),
    "s_client-rsa-kx": s_client("-tls1_2", "-cipher", "AES128-GCM-SHA256"),
    "s_client-cbc": s_client("-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"),
    "python": python_client(),
    "python-alpn": python_client(alpn=["http/1.1"]),
}


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(11)
    n = 0
    for name, client in CLIENTS.items():
        hello = capture(client)
        if not hello:
            print(f"{name}: nothing captured", file=sys.stderr)
            continue
        write(name, hello)
        write(name + "-truncated", hello[: max(6, len(hello) // 2)])
        write(name + "-header-only", hello[:5])
        bad = bytearray(hello)
        for _ in range(4):
            bad[rng.randrange(5, len(bad))] ^= 1 << rng.randrange(8)
        write(name + "-bitflips", bytes(bad))
        longer = bytearray(hello)
        longer[3:5] = (0xFFFF).to_bytes(2, "big")  # a record length past the data
        write(name + "-long-length", bytes(longer))
        n += 5
    # Modes 1 and 2 (the first byte % 3): after a real handshake, resumed (any first byte but
    # 0xF1, 0xF2) or full (0xF1, 0xF2: the same modes with a certificate and signature).
    modes = {
        "mode1-garbage-app-record": b"\x01\x17\x03\x03\x00\x20" + bytes(range(32)),
        "mode1-alert": b"\x01\x15\x03\x03\x00\x02\x02\x28",
        "mode1-bad-type": b"\x01\xff\x03\x03\x00\x04abcd",
        "mode2-http-request":
            b"\x02GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n" + b"\x81\x85" + b"x" * 9,
        "mode2-many-small": b"\x02" + b"".join(bytes([i]) * 7 for i in range(200)),
    }
    for name, data in modes.items():
        write(name, data)
        write(name + "-full", bytes([0xF0 + data[0]]) + data[1:])
    print(f"wrote {n + 2 * len(modes)} seeds into {OUT}; sha256 of the set "
          f"{hashlib.sha256(b''.join(sorted(open(os.path.join(OUT, f), 'rb').read() for f in os.listdir(OUT)))).hexdigest()[:16]}")


if __name__ == "__main__":
    main()
