"""A throwaway CA and server certificates for the TLS suites, made with the `openssl` command.

    pki = make_pki()                  # under $WSEDGE_TEST_OUT/tls (or a temp dir)
    pki.server_cert, pki.server_key   # signed by pki.ca_cert; SAN localhost, 127.0.0.1, ::1
    cert, key = pki.issue("other", serial=7, cn="wsedge reloaded")
    ctx = client_context(pki)         # an ssl.SSLContext that trusts only this CA

Private keys are written at test time into the build's test-output folder (run_all.sh
exports WSEDGE_TEST_OUT), never into the source tree; nothing here is committed but code.
Also a command: `python3 tests/support/tls.py DIR` makes one set and prints its paths as
JSON, so the Node and browser suites share this code.
"""
import json
import os
import ssl
import subprocess
import sys
import tempfile


def _openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


class Pki:
    def __init__(self, root):
        self.dir = root
        os.makedirs(root, exist_ok=True)
        self.ca_key = os.path.join(root, "ca-key.pem")
        self.ca_cert = os.path.join(root, "ca.pem")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", self.ca_key, "-out", self.ca_cert, "-days", "2",
                 "-subj", "/CN=wsedge test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign")
        self.server_cert, self.server_key = self.issue("server", serial=1, cn="wsedge test")

    def issue(self, name, serial, cn, key_type="ec"):
        """A server certificate NAME-cert.pem/NAME-key.pem signed by the CA."""
        key = os.path.join(self.dir, f"{name}-key.pem")
        csr = os.path.join(self.dir, f"{name}.csr")
        cert = os.path.join(self.dir, f"{name}-cert.pem")
        ext = os.path.join(self.dir, f"{name}.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
                    "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        newkey = ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_type == "ec" else \
            ["rsa:2048"]
        _openssl("req", "-new", "-newkey", *newkey, "-nodes", "-keyout", key, "-out", csr,
                 "-subj", f"/CN={cn}")
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
                 "-set_serial", str(serial), "-days", "2", "-extfile", ext, "-out", cert)
        os.remove(csr)
        return cert, key

    def paths(self):
        return {"dir": self.dir, "ca": self.ca_cert, "cert": self.server_cert,
                "key": self.server_key}


def test_output_dir():
    base = os.environ.get("WSEDGE_TEST_OUT")
    if base:
        os.makedirs(base, exist_ok=True)
        return tempfile.mkdtemp(prefix="tls-", dir=base)
    return tempfile.mkdtemp(prefix="wsedge-tls-")


def make_pki(root=None):
    return Pki(root or test_output_dir())


def client_context(pki):
    """Trusts the test CA only and checks the name (127.0.0.1 is in the SAN)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=pki.ca_cert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def tls_args(pki, cert=None, key=None):
    return ["--tls-cert", cert or pki.server_cert, "--tls-key", key or pki.server_key]


if __name__ == "__main__":
    print(json.dumps(make_pki(sys.argv[1] if len(sys.argv) > 1 else None).paths()))
