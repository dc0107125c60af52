"""--metrics: the Prometheus page of the wsedge binary, read by a strict parser of the text
exposition format 0.0.4 (written here, from the format's description, not a library), and
its numbers checked against traffic this test sends: messages from real clients (Python
websockets), a close code, a protocol error over a raw socket, refused handshakes. Every
server is started on free ports (--port 0, --metrics 127.0.0.1:0; the metrics address is
read from its stdout line). Run with Debian's /usr/bin/python3; prints "N passed, N failed".
"""
import asyncio
import http.client
import math
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support.raw_ws import close_body, frame, ws_key  # noqa: E402
from support.server import server_binary, wait_until, wsedge_server  # noqa: E402
from support.cases import case, finish  # noqa: E402

import websockets  # noqa: E402

METRICS_LINE = re.compile(r"^wsedge metrics on http://(127\.0\.0\.1):(\d+)(/\S*)$")



# ----- a strict parser of the text format, version 0.0.4 ----------------------------------

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class FormatError(AssertionError):
    pass


def parse_float(text, where):
    # What Go's strconv.ParseFloat takes, as Prometheus reads values: decimals, exponents,
    # +Inf/-Inf/NaN. Python's float() also takes "inf", "infinity", "1_0": refused here.
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        raise FormatError(f"{where}: not a float: {text!r}")
    return float(text)


def parse_labels(text, where):
    """'{a="x",b="y"}' (the braces included) -> ((name, value), ...) in order."""
    assert text[0] == "{"
    labels = []
    i = 1
    while True:
        if text[i] == "}":
            return tuple(labels), i + 1
        m = LABEL_NAME.match(text, i)
        if not m:
            raise FormatError(f"{where}: bad label name at {text[i:]!r}")
        name = m.group(0)
        i = m.end()
        if text[i:i + 2] != '="':
            raise FormatError(f"{where}: expected =\" after label {name}")
        i += 2
        value = []
        while True:
            if i >= len(text):
                raise FormatError(f"{where}: unterminated label value")
            c = text[i]
            if c == "\\":
                esc = text[i + 1:i + 2]
                if esc not in ("\\", '"', "n"):
                    raise FormatError(f"{where}: bad escape \\{esc} in a label value")
                value.append({"\\": "\\", '"': '"', "n": "\n"}[esc])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise FormatError(f"{where}: raw newline in a label value")
            else:
                value.append(c)
                i += 1
        if name in (n for n, _ in labels):
            raise FormatError(f"{where}: label {name} twice")
        labels.append((name, "".join(value)))
        if text[i] == ",":
            i += 1
            if text[i] == "}":  # a trailing comma is allowed by the grammar
                continue
        elif text[i] != "}":
            raise FormatError(f"{where}: expected , or }} at {text[i:]!r}")


def family_of(sample, types):
    """The family a sample name belongs to: itself, or a histogram's base name."""
    if sample in types:
        return sample
    for suffix in ("_bucket", "_sum", "_count"):
        if sample.endswith(suffix) and types.get(sample[:-len(suffix)]) == "histogram":
            return sample[:-len(suffix)]
    return None


def parse_exposition(text):
    """Returns {'types': {family: type}, 'help': {...}, 'samples': {(name, labels): value}}
    or raises FormatError for anything the format does not allow, or wsedge promised not to
    do (counters end in _total, no family without its TYPE)."""
    if not text.endswith("\n"):
        raise FormatError("the text does not end with a line feed")
    types, helps, samples = {}, {}, {}
    seen_families = []  # in order: a family's samples are one contiguous group
    current = None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {n} {line[:80]!r}"
        if line == "":
            raise FormatError(f"{where}: empty line")
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.fullmatch(name):
                    raise FormatError(f"{where}: bad metric name")
                if name in seen_families and name != current:
                    raise FormatError(f"{where}: family {name} comes back after another")
                if parts[1] == "HELP":
                    if name in helps:
                        raise FormatError(f"{where}: second HELP")
                    if name in types:
                        raise FormatError(f"{where}: HELP after TYPE (wsedge writes HELP first)")
                    helps[name] = parts[3] if len(parts) > 3 else ""
                    if re.search(r"\\[^\\n]", helps[name].replace("\\\\", "")):
                        raise FormatError(f"{where}: bad escape in HELP")
                else:
                    if name in types:
                        raise FormatError(f"{where}: second TYPE")
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise FormatError(f"{where}: bad TYPE")
                    if any(family_of(s, {name: parts[3]}) == name for s, _ in samples):
                        raise FormatError(f"{where}: TYPE after the family's samples")
                    types[name] = parts[3]
                if current != name:
                    seen_families.append(name)
                    current = name
            continue  # other comments are allowed
        m = NAME.match(line)
        if not m:
            raise FormatError(f"{where}: no metric name")
        name, rest = m.group(0), line[m.end():]
        labels = ()
        if rest.startswith("{"):
            labels, used = parse_labels(rest, where)
            rest = rest[used:]
        if not rest.startswith(" "):
            raise FormatError(f"{where}: no space before the value")
        fields = rest[1:].split(" ")
        if len(fields) not in (1, 2):
            raise FormatError(f"{where}: value and at most a timestamp")
        value = parse_float(fields[0], where)
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            raise FormatError(f"{where}: bad timestamp")
        family = family_of(name, types)
        if family is None:
            raise FormatError(f"{where}: sample before its family's TYPE")
        if family not in helps:
            raise FormatError(f"{where}: family without HELP")
        if family != current:
            raise FormatError(f"{where}: sample of {family} inside the group of {current}")
        if types[family] == "counter":
            if not name.endswith("_total"):
                raise FormatError(f"{where}: counter not named *_total")
            if value < 0 or math.isnan(value):
                raise FormatError(f"{where}: counter below zero")
        key = (name, tuple(sorted(labels)))
        if key in samples:
            raise FormatError(f"{where}: duplicate series")
        samples[key] = value
    check_histograms(types, samples)
    return {"types": types, "help": helps, "samples": samples}


def check_histograms(types, samples):
    for family, t in types.items():
        if t != "histogram":
            continue
        groups = {}
        for (name, labels), value in samples.items():
            if name == family + "_bucket":
                le = dict(labels).get("le")
                if le is None:
                    raise FormatError(f"{family}: bucket without le")
                rest = tuple(kv for kv in labels if kv[0] != "le")
                groups.setdefault(rest, []).append((parse_float(le, family), value))
        if not groups:
            raise FormatError(f"{family}: histogram without buckets")
        for rest, buckets in groups.items():
            buckets.sort()
            if buckets[-1][0] != math.inf:
                raise FormatError(f"{family}{rest}: no le=\"+Inf\" bucket")
            for (_, a), (_, b) in zip(buckets, buckets[1:]):
                if b < a:
                    raise FormatError(f"{family}{rest}: buckets not cumulative")
            count = samples.get((family + "_count", rest))
            if count is None or (family + "_sum", rest) not in samples:
                raise FormatError(f"{family}{rest}: no _count or _sum")
            if count != buckets[-1][1]:
                raise FormatError(f"{family}{rest}: +Inf bucket {buckets[-1][1]} != _count {count}")


def check_monotonic(before, after):
    """Counters never go down between two scrapes of one server, and none vanishes; nor
    do a histogram's buckets, _count and _sum (the durations summed are never negative)."""
    for key, value in before["samples"].items():
        if before["types"][family_of(key[0], before["types"])] not in ("counter", "histogram"):
            continue
        if key not in after["samples"]:
            raise FormatError(f"counter series {key} vanished")
        if after["samples"][key] < value:
            raise FormatError(f"counter {key} went down: {value} -> {after['samples'][key]}")


# ----- the server and its page ---------------------------------------------------------------

def metrics_address(srv):
    wait_until(lambda: any(METRICS_LINE.match(l) for l in srv.stdout_lines), 5)
    for line in srv.stdout_lines:
        m = METRICS_LINE.match(line)
        if m:
            return m.group(1), int(m.group(2)), m.group(3)
    raise AssertionError(f"no 'wsedge metrics on' line in {srv.stdout_lines!r}")


def request(host, port, method="GET", path="/metrics", headers=None):
    c = http.client.HTTPConnection(host, port, timeout=5)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


class Scraper:
    def __init__(self, srv):
        self.host, self.port, self.path = metrics_address(srv)
        self.last = None

    def scrape(self):
        r, body = request(self.host, self.port, path=self.path)
        assert r.status == 200, r.status
        assert r.getheader("Content-Type") == "text/plain; version=0.0.4; charset=utf-8", \
            r.getheader("Content-Type")
        page = parse_exposition(body.decode("utf-8"))
        if self.last is not None:
            check_monotonic(self.last, page)
        self.last = page
        return page

    def value(self, name, **labels):
        page = self.scrape()
        return page["samples"].get((name, tuple(sorted(labels.items()))), 0)

    def until(self, name, want, timeout=5, **labels):
        """Scrapes until the series reaches `want` (counters: the server may still be
        answering); returns the last value."""
        got = wait_until(lambda: self.value(name, **labels) >= want, timeout, step=0.05)
        return self.value(name, **labels) if not got else want


def upgrade(port, path="/", extra="", version="13", host=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {ws_key()}\r\n"
               f"Sec-WebSocket-Version: {version}\r\n{extra}\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head


def read_to_eof(s, limit=5):
    s.settimeout(limit)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
    except (socket.timeout, ConnectionResetError):
        return data


# ----- cases -----------------------------------------------------------------------------------

@case("metrics: the page parses strictly, with every family docs/metrics.md names")
def _():
    with wsedge_server(["--metrics", "127.0.0.1:0"]) as srv:
        page = Scraper(srv).scrape()
        for family, t in {
            "wsedge_connections_open": "gauge",
            "wsedge_connections_accepted_total": "counter",
            "wsedge_connections_shed_total": "counter",
            "wsedge_connections_dropped_send_queue_total": "counter",
            "wsedge_handshakes_total": "counter",
            "wsedge_http_responses_total": "counter",
            "wsedge_websockets_open": "gauge",
            "wsedge_messages_total": "counter",
            "wsedge_message_bytes_total": "counter",
            "wsedge_close_frames_total": "counter",
            "wsedge_protocol_errors_total": "counter",
            "wsedge_send_queue_bytes": "gauge",
            "wsedge_kernel_unsent_bytes": "gauge",
            "wsedge_permessage_deflate_bytes_total": "counter",
            "wsedge_zlib_memory_bytes": "gauge",
            "wsedge_message_memory_bytes": "gauge",
            "wsedge_loop_events_per_iteration": "histogram",
            "wsedge_loop_iteration_seconds": "histogram",
        }.items():
            assert page["types"].get(family) == t, (family, page["types"].get(family))
        # The parser itself refuses what it must (a parser that passes everything proves nothing).
        for bad in ['x 1\n', '# HELP x h\n# TYPE x counter\nx 1\n',
                    '# HELP x_total h\n# TYPE x_total counter\nx_total{a="\\q"} 1\n',
                    '# HELP x_total h\n# TYPE x_total counter\nx_total 1\nx_total 2\n',
                    '# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n'
                    'h_sum 0\nh_count 1\n',
                    '# HELP g g\n# TYPE g gauge\ng inf\n']:
            try:
                parse_exposition(bad)
            except FormatError:
                continue
            raise AssertionError(f"the parser accepted {bad!r}")


@case("metrics: messages and bytes from Python websockets clients are counted exactly")
def _():
    with wsedge_server(["--metrics", "127.0.0.1:0"]) as srv:
        m = Scraper(srv)
        base = m.scrape()["samples"]
        n_clients, per_client, payload = 3, 7, "hello metrics"

        async def run():
            clients = [await websockets.connect(srv.url("/echo")) for _ in range(n_clients)]
            # While they are open: one WebSocket per client on the default route.
            open_now = m.value("wsedge_websockets_open", route="*", subprotocol="")
            for ws in clients:
                for _ in range(per_client):
                    await ws.send(payload)
                    assert await ws.recv() == payload
            for ws in clients:
                await ws.close()
            return open_now

        open_now = asyncio.run(run())
        n = n_clients * per_client
        assert open_now == n_clients, open_now
        got = m.until("wsedge_messages_total", base.get(("wsedge_messages_total",
                                                         (("direction", "in"),)), 0) + n,
                      direction="in")
        page = m.scrape()["samples"]

        def delta(name, **labels):
            key = (name, tuple(sorted(labels.items())))
            return page.get(key, 0) - base.get(key, 0)

        assert delta("wsedge_messages_total", direction="in") == n, (got, page)
        assert delta("wsedge_messages_total", direction="out") == n
        assert delta("wsedge_message_bytes_total", direction="in") == n * len(payload)
        assert delta("wsedge_message_bytes_total", direction="out") == n * len(payload)
        assert delta("wsedge_handshakes_total", outcome="ok") == n_clients
        assert delta("wsedge_connections_accepted_total") == n_clients
        assert delta("wsedge_close_frames_total", direction="received", code="1000") == n_clients
        assert delta("wsedge_close_frames_total", direction="sent", code="1000") == n_clients
        assert wait_until(lambda: m.value("wsedge_websockets_open", route="*",
                                          subprotocol="") == 0, 5)
        assert m.value("wsedge_loop_events_per_iteration_count") > 0


@case("metrics: a close code, a protocol error and refused handshakes are counted by name")
def _():
    with wsedge_server(["--metrics", "127.0.0.1:0"]) as srv:
        m = Scraper(srv)
        # The client closes with 4321: received, and echoed (sent) with the same code.
        s, head = upgrade(srv.port)
        assert head.startswith(b"HTTP/1.1 101"), head
        s.sendall(frame(0x8, close_body(4321, "bye")))
        read_to_eof(s)
        s.close()
        assert m.until("wsedge_close_frames_total", 1, direction="received", code="4321") == 1
        assert m.value("wsedge_close_frames_total", direction="sent", code="4321") == 1
        # An unmasked client frame (RFC 6455 §5.1): kUnmaskedFrame, answered by close 1002.
        s, head = upgrade(srv.port)
        s.sendall(frame(0x1, b"hi", mask=False))
        read_to_eof(s)
        s.close()
        assert m.until("wsedge_protocol_errors_total", 1, error="kUnmaskedFrame") == 1
        assert m.value("wsedge_close_frames_total", direction="sent", code="1002") == 1
        # Refusals: a wrong version (426), a Host not this machine (421) and a bad key (400).
        for extra, version, host, status in (("", "8", None, "426"),
                                             ("", "13", "rebind.example", "421")):
            s, head = upgrade(srv.port, version=version, host=host)
            assert head.startswith(f"HTTP/1.1 {status}".encode()), head
            s.close()
            assert m.value("wsedge_handshakes_total", outcome=status) == 1, status
            assert m.value("wsedge_http_responses_total", port="main", status=status) >= \
                (1 if status == "421" else 0)
        assert m.value("wsedge_handshakes_total", outcome="ok") == 2


@case("metrics: the metrics port answers HEAD, 404 elsewhere, 405 for POST, no upgrade, its Host")
def _():
    with wsedge_server(["--metrics", "127.0.0.1:0"]) as srv:
        host, port, path = metrics_address(srv)
        r, body = request(host, port, "HEAD", path)
        assert r.status == 200 and body == b"" and int(r.getheader("Content-Length")) > 0
        r, _ = request(host, port, "GET", "/other")
        assert r.status == 404, r.status
        r, _ = request(host, port, "POST", path)
        assert r.status == 405 and r.getheader("Allow") == "GET, HEAD", r.status
        s, head = upgrade(port)
        assert head.startswith(b"HTTP/1.1 404"), head
        s.close()
        r, _ = request(host, port, "GET", path, headers={"Host": "rebind.example"})
        assert r.status == 421, r.status
        counted = Scraper(srv).value("wsedge_http_responses_total", port="metrics", status="404")
        assert counted == 2, counted  # /other and the upgrade


@case("metrics: send-queue bytes, user space and kernel, while a client does not read")
def _():
    with wsedge_server(["--metrics", "127.0.0.1:0", "--deflate", "off"]) as srv:
        m = Scraper(srv)
        s, head = upgrade(srv.port)
        assert head.startswith(b"HTTP/1.1 101"), head
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        blob = os.urandom(1 << 20)
        for _ in range(6):  # 6 MiB of echoes the client never reads
            s.sendall(frame(0x2, blob))
        ok = wait_until(lambda: m.value("wsedge_send_queue_bytes") > 0 and
                        m.value("wsedge_kernel_unsent_bytes") > 0, 10, step=0.1)
        page = m.scrape()["samples"]
        assert ok, {k: v for k, v in page.items() if "queue" in k[0] or "unsent" in k[0]}
        assert m.value("wsedge_send_queue_max_bytes") <= m.value("wsedge_send_queue_bytes")
        s.close()


@case("metrics: same-port serves the page on the WebSocket port at its path")
def _():
    with wsedge_server(["--metrics", "same-port:/stats", "--web", ""]) as srv:
        host, port, path = metrics_address(srv)
        assert (port, path) == (srv.port, "/stats"), (port, path)
        page = Scraper(srv).scrape()
        assert "wsedge_messages_total" in page["types"]
        r, _ = request(host, port, "GET", "/metrics")  # not the page here; no files: 404
        assert r.status == 404, r.status
        s, head = upgrade(srv.port)  # WebSockets still work on every path
        assert head.startswith(b"HTTP/1.1 101"), head
        s.close()


@case("metrics: bad --metrics values exit 2 with one line")
def _():
    for value in ("nonsense", "127.0.0.1:99999", "127.0.0.1:", ":9100", "::1:9100",
                  "same-port:metrics", "same-port:/a b", "127.0.0.1:9001"):
        r = subprocess.run([server_binary(), "--metrics", value, "--port", "9001"],
                           capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
        assert r.returncode == 2, (value, r.returncode, r.stderr)
        assert r.stdout == "" and len(r.stderr.splitlines()) == 1, (value, r.stderr)
        assert "--metrics" in r.stderr, r.stderr


finish()
