"""Start and stop the server under test (the `wsedge` binary) for the Python suites.

    with wsedge_server(["--subprotocol", "chat"]) as srv:
        connect to (srv.host, srv.port) ...
        problem = srv.stop()   # optional: SIGTERM now; None when it exited 0 in time

The binary is $WSEDGE_BIN (default build/wsedge under the repo root). It is always started
with --host 127.0.0.1 --port 0 and the port is read from its first stdout line, which the
CLI contract fixes as "wsedge listening on ws://HOST:PORT/" (wss:// when the listener speaks
TLS; with --tls-port a second line names the TLS listener: srv.tls_port). Never a fixed port.
On exit the server gets SIGTERM and must exit 0 within its close grace plus a margin; if it
does not, it is killed and, when the with-body did not already raise, ServerExitError is
raised so the failure cannot go unnoticed. Suites that count the shutdown as a test case
call stop() themselves and report its answer.
"""
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRST_LINE = re.compile(r"^wsedge listening on (wss?)://(\[[0-9a-fA-F:.]+\]|[^:/]+):(\d+)/$")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class ServerStartError(RuntimeError):
    pass


class ServerExitError(RuntimeError):
    pass


def server_binary():
    """$WSEDGE_BIN, resolved against the cwd first and then the repo root."""
    path = os.environ.get("WSEDGE_BIN", "build/wsedge")
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(ROOT, path)


class Server:
    """A running server: host, port, proc, args; stop() ends it and judges the exit."""

    def __init__(self, args, stop_timeout):
        self.args = list(args)
        self.stop_timeout = stop_timeout
        self.host = None
        self.port = None
        self.scheme = "ws"
        self.tls_port = None  # the second (wss://) listener of --tls-port
        self.stdout_lines = []
        self.stopped = False
        self.exit_problem = None
        self._stderr = tempfile.TemporaryFile()
        cmd = [server_binary(), "--host", "127.0.0.1", "--port", "0"] + self.args
        self.cmd = cmd
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr,
                                         stdin=subprocess.DEVNULL, cwd=ROOT)
        except OSError as exc:
            raise ServerStartError(f"cannot start {cmd[0]}: {exc}") from exc
        self._first = threading.Event()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    def _read_stdout(self):
        # Keeps draining stdout so a chatty server never blocks on a full pipe.
        for raw in self.proc.stdout:
            self.stdout_lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
            self._first.set()
        self._first.set()

    def wait_ready(self, timeout=START_TIMEOUT):
        if not self._first.wait(timeout):
            self._kill()
            raise ServerStartError(f"no first line from {self.cmd} within {timeout:.0f}s"
                                   + self._stderr_tail())
        line = self.stdout_lines[0] if self.stdout_lines else ""
        m = FIRST_LINE.match(line)
        if not m:
            self._kill()
            raise ServerStartError(f"first stdout line of {self.cmd} is {line!r}, expected "
                                   f"'wsedge listening on ws://HOST:PORT/'"
                                   + self._stderr_tail())
        self.scheme = m.group(1)
        self.host = m.group(2).strip("[]")
        self.port = int(m.group(3))
        if "--tls-port" in self.args:
            wait_until(lambda: len(self.stdout_lines) >= 2, timeout)
            second = FIRST_LINE.match(self.stdout_lines[1] if len(self.stdout_lines) > 1 else "")
            if not second or second.group(1) != "wss":
                self._kill()
                raise ServerStartError(f"no 'wsedge listening on wss://' second line from "
                                       f"{self.cmd}: {self.stdout_lines!r}")
            self.tls_port = int(second.group(3))

    def url(self, path="/", tls_port=False):
        host = f"[{self.host}]" if ":" in self.host else self.host
        if tls_port:
            return f"wss://{host}:{self.tls_port}{path}"
        return f"{self.scheme}://{host}:{self.port}{path}"

    def stderr_text(self):
        """Everything the server wrote to stderr so far (its log)."""
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, already_signalled=False):
        """SIGTERM (unless the caller sent it already: a second one may mean "force"),
        wait, judge. Returns None if it exited 0 in time, else the problem."""
        if self.stopped:
            return self.exit_problem
        self.stopped = True
        if self.proc.poll() is not None and not already_signalled:
            self.exit_problem = f"server had already exited with {self.proc.returncode}"
        else:
            if not already_signalled:
                self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(self.stop_timeout)
                if rc != 0:
                    self.exit_problem = f"server exited with {rc} after SIGTERM, expected 0"
            except subprocess.TimeoutExpired:
                self._kill()
                self.exit_problem = (f"server still running {self.stop_timeout:.0f}s after "
                                     "SIGTERM; killed")
        if self.exit_problem:
            self.exit_problem += self._stderr_tail()
        self._reader.join(2)
        return self.exit_problem

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def _stderr_tail(self, n=15):
        try:
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").splitlines()[-n:]
        except (OSError, ValueError):
            return ""
        return ("\n  server stderr (last lines):\n    " + "\n    ".join(lines)) if lines else ""


@contextlib.contextmanager
def wsedge_server(args=(), stop_timeout=STOP_TIMEOUT, start_timeout=START_TIMEOUT):
    """Yields a started Server; SIGTERM and exit-code check on the way out."""
    srv = Server(args, stop_timeout)
    ok = False
    try:
        srv.wait_ready(start_timeout)
        yield srv
        ok = True
    finally:
        reported = srv.stopped  # the caller already stopped it and judged the answer
        problem = srv.stop()
        srv._stderr.close()
        if problem and ok and not reported:
            raise ServerExitError(problem)
        if problem:
            print(f"server exit problem: {problem}", file=sys.stderr)


def wait_until(predicate, timeout, step=0.02):
    """Polls predicate until true or timeout; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(step)
