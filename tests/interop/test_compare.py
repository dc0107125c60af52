#!/usr/bin/python3
"""bench/compare end to end: a tiny real run against wsedge and the raw TCP echo, then
servers that fail, and the command-line paths that must not measure anything.

    /usr/bin/python3 tests/interop/test_compare.py

wsedge is $WSEDGE_BIN (default build/wsedge); wsload and peers/raw_echo are taken from the
same build dir (`make test` builds raw_echo). Every run writes into a temp dir through a
build dir of symlinks, so docs/BENCHMARKS.md and build/bench/ are never touched. The
expected figures are recomputed here from the saved JSON rather than with report.py, so a
rendering bug cannot agree with itself. About 20 s. Last line: "N passed, N failed".
"""
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from support.server import server_binary  # noqa: E402

ROOT = HERE.parent.parent
COMPARE = ROOT / "bench/compare"
BUILD = Path(server_binary()).parent
WSLOAD = Path(os.environ.get("WSLOAD_BIN") or BUILD / "wsload").resolve()
RAW_ECHO = BUILD / "peers/raw_echo"
TMP = Path(tempfile.mkdtemp(prefix="wsedge-test-compare-"))
# one run of one second per server: enough for wsload to count messages, not to measure;
# and no waiting for earlier tests' TIME_WAIT sockets before the connect run
TINY = ["--runs", "1", "--duration", "1", "--warmup", "0.5", "--tw-settle-max", "0"]
SVG_NS = "{http://www.w3.org/2000/svg}"
RAW_LABEL = "raw TCP echo (limit)"

results = []


def case(name):
    def wrap(fn):
        t0 = time.monotonic()
        try:
            fn()
            results.append((name, None))
            print(f"ok {name} ({time.monotonic() - t0:.1f} s)")
        except Exception as e:  # noqa: BLE001 - any failure is a failed case
            results.append((name, e))
            print(f"FAIL {name}: {e!r}")
        return fn
    return wrap


def script(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def build_dir(name, wsedge=None, raw=None):
    """A --build dir for bench/compare: the real binaries as symlinks unless a fake script
    text is given. Also keeps compare's server logs (BUILD/bench/) inside the temp dir."""
    d = TMP / name
    (d / "peers").mkdir(parents=True)
    if wsedge is None:
        (d / "wsedge").symlink_to(Path(server_binary()).resolve())
    else:
        script(d / "wsedge", wsedge)
    if raw is None:
        (d / "peers/raw_echo").symlink_to(RAW_ECHO.resolve())
    else:
        script(d / "peers/raw_echo", raw)
    return d


def compare(*args, timeout=60):
    """Runs bench/compare the way `make bench-compare` does; returns the CompletedProcess."""
    return subprocess.run(["/usr/bin/python3", str(COMPARE), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=ROOT)


def run_into(out_dir, build, *args):
    """A measuring run writing OUT_DIR/BENCHMARKS.md, OUT_DIR/bench/*.svg, OUT_DIR/compare.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    r = compare("--build", build, "--wsload", WSLOAD, "--servers", "wsedge,raw", *TINY,
                "--out", out_dir / "BENCHMARKS.md", "--json", out_dir / "compare.json", *args)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return (r, json.loads((out_dir / "compare.json").read_text(encoding="utf-8")),
            (out_dir / "BENCHMARKS.md").read_text(encoding="utf-8"))


def sections(md):
    """{'## heading': [lines under it]} of a Markdown text."""
    out, cur = {}, None
    for line in md.splitlines():
        if line.startswith("## "):
            cur = out.setdefault(line, [])
        elif cur is not None:
            cur.append(line)
    return out


def rows(lines):
    """The table rows of a section as {first cell: [cells]}; asserts every row has the
    header's column count, which a stray newline or '|' in a note would break."""
    table = [ln for ln in lines if ln.startswith("|")]
    assert table, "no table"
    width = len(table[0].split("|"))
    out = {}
    for ln in table[2:]:  # header and |---| rule
        cells = [c.strip() for c in ln.split("|")[1:-1]]
        assert len(ln.split("|")) == width, f"row has a different column count: {ln!r}"
        out[cells[0]] = cells
    return out


def section_of(md, data, key):
    title = data["scenarios"][key]["title"]
    sec = sections(md).get(f"## {title}")
    assert sec is not None, f"no section for {title!r}"
    return sec


def target_row(md, prefix):
    tgt = rows(sections(md)["## Targets (issue 6)"])
    hits = [cells for name, cells in tgt.items() if name.startswith(prefix)]
    assert len(hits) == 1, (prefix, list(tgt))
    return hits[0]


def svg_texts(path):
    root = ET.parse(path).getroot()  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG_NS}svg", root.tag
    return root, [t.text for t in root.iter(f"{SVG_NS}text")]


def record(data, key, server):
    recs = [r for r in data["results"] if r["scenario"] == key and r["server"] == server]
    assert len(recs) == 1, (key, server, recs)
    return recs[0]


# --- a real run: wsedge and raw under (a) echo, (f) handshakes, (i) fixed rate -----------
REAL = TMP / "real"
real = {}
# raw cannot do a WebSocket handshake, so it has no (f)
PAIRS = {("a", "wsedge"), ("a", "raw"), ("f", "wsedge"), ("i", "wsedge"), ("i", "raw")}
METRIC = {"a": "msgs_per_s", "f": "handshakes_per_s", "i": "server_cpu_us_per_msg"}


def need_real():
    assert real, "the real run failed; see the first case"
    return real["data"], real["md"]


@case("wsedge + raw, scenarios a,f,i, 1 run x 1 s: exit 0, one progress line per run")
def _():
    assert RAW_ECHO.exists(), f"{RAW_ECHO} missing: `make test` builds it"
    t0 = time.monotonic()
    r, data, md = run_into(REAL, build_dir("build-real"), "-s", "a,f,i")
    real.update(data=data, md=md, seconds=time.monotonic() - t0)
    progress = [ln for ln in r.stdout.splitlines() if ln.startswith("[")]
    assert len(progress) == len(PAIRS), r.stdout
    assert "!!" not in r.stdout, r.stdout  # compare flags a run with errors with !!
    assert "3 scenarios x 2 servers x 1 runs" in r.stdout and "not built: none" in r.stdout


@case("the JSON holds one clean result per (scenario, server) pair that applies")
def _():
    data, _ = need_real()
    assert data["config"]["servers"] == ["wsedge", "raw"], data["config"]
    assert data["config"]["not_built"] == [] and data["config"]["scenarios"] == ["a", "f", "i"]
    got = {(r["scenario"], r["server"]) for r in data["results"]}
    assert got == PAIRS and len(data["results"]) == len(PAIRS), got
    for key, server in PAIRS:
        rec = record(data, key, server)
        res = rec["result"]
        assert rec["error"] is None and res, rec
        assert res["errors"] == 0 and res["msgs_per_s"] > 0, (key, server, res)
        metric = res[METRIC[key]]
        if key == "i":  # the open-loop CPU figure is user + sys
            metric = metric["user"] + metric["sys"]
        assert metric > 0, (key, server, res)
        assert "--raw" in rec["argv"] if server == "raw" else "--raw" not in rec["argv"], rec
        # connect runs end each cycle with a reset: no TIME_WAIT left for the next run
        assert ("--reset-after-close" in rec["argv"]) == (key == "f"), rec
    assert record(data, "i", "wsedge")["result"]["achieved_rate"] > 0
    # connect runs note the TIME_WAIT sockets they started with; the others do not wait
    assert isinstance(record(data, "f", "wsedge").get("time_wait_at_start"), int)
    assert "time_wait_at_start" not in record(data, "a", "wsedge")


@case("the Markdown: a table per scenario, both servers, the ratio, the machine section")
def _():
    data, md = need_real()
    res = {(k, s): record(data, k, s)["result"] for k, s in PAIRS}
    for key in ("a", "f", "i"):
        sec = section_of(md, data, key)
        assert f"![{data['scenarios'][key]['title']}](bench/{key}.svg)" in sec, sec[:3]
        assert any("÷ wsedge" in ln for ln in sec if ln.startswith("|")), "no ratio column"
        table = rows(sec)
        assert table["wsedge"][3] == "1.00×", table["wsedge"]
        if key == "f":
            assert list(table) == ["wsedge"], list(table)  # raw does not apply to (f)
            assert table["wsedge"][1] == f"{res['f', 'wsedge']['handshakes_per_s']:,.0f}"
            continue
        assert list(table) == ["wsedge", RAW_LABEL], list(table)
        if key == "a":
            w, r = res["a", "wsedge"]["msgs_per_s"], res["a", "raw"]["msgs_per_s"]
            assert table["wsedge"][1] == f"{w:,.0f}", table["wsedge"]
            assert table[RAW_LABEL][1] == f"{r:,.0f}", table[RAW_LABEL]
        else:
            def cpu(x):
                return x["server_cpu_us_per_msg"]["user"] + x["server_cpu_us_per_msg"]["sys"]
            w, r = cpu(res["i", "wsedge"]), cpu(res["i", "raw"])
            assert table["wsedge"][1] == f"{w:.2f}", table["wsedge"]
            assert table[RAW_LABEL][6].startswith("achieved "), table[RAW_LABEL]
        assert table[RAW_LABEL][3] == f"{r / w:.2f}×", (table[RAW_LABEL], r, w)
    # only what was asked for
    assert not any(h.startswith("## (b)") for h in sections(md)), list(sections(md))
    # (a) decides its target with a verdict; (b) was not run, so it is not measured
    w, r = res["a", "wsedge"]["msgs_per_s"], res["a", "raw"]["msgs_per_s"]
    row = target_row(md, "(a) ")
    assert row[2] == f"{w / r:.3f}×", row
    assert row[3] == f"{w / r:.3f}× ({w / r:.3f}–{w / r:.3f})", row  # one run: one pair
    assert row[4] == ("**MET**" if w / r >= 0.97 else "**MISSED**"), row
    assert target_row(md, "(b) ")[4] == "**NOT MEASURED**"
    machine = rows(sections(md)["## Machine and method"])
    for field in ("date", "CPU", "kernel", "compiler", "wsedge", "wsload", "method"):
        assert machine.get(field, ["", ""])[1], f"machine field {field!r} empty"
    assert "1 run(s) per server" in machine["method"][1], machine["method"]
    assert "0.5 s warm-up then 1 s measured" in machine["method"][1], machine["method"]
    assert str(WSLOAD) in machine["wsload"][1], machine["wsload"]
    assert "UNMET" not in machine["npm (bench/peers/node)"][1], machine["npm (bench/peers/node)"]


@case("an SVG chart per scenario, well-formed, with a bar per server")
def _():
    data, _ = need_real()
    assert sorted(p.name for p in (REAL / "bench").iterdir()) == ["a.svg", "f.svg", "i.svg"]
    for key, n_servers in (("a", 2), ("f", 1), ("i", 2)):
        root, texts = svg_texts(REAL / f"bench/{key}.svg")
        assert data["scenarios"][key]["title"] in texts, texts
        assert "wsedge" in texts and (RAW_LABEL in texts) == (n_servers == 2), texts
        bars = [r for r in root.iter(f"{SVG_NS}rect") if r.get("fill") != "#ffffff"]
        assert len(bars) == n_servers, [b.attrib for b in bars]
        assert all(float(b.get("width")) >= 1 for b in bars), [b.attrib for b in bars]
        assert "failed" not in texts and "not built" not in texts, texts


@case("--render JSON re-renders the same Markdown and SVGs from the saved results")
def _():
    need_real()
    out = TMP / "rerender"
    r = compare("--render", REAL / "compare.json", "--out", out / "BENCHMARKS.md", timeout=20)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert (out / "BENCHMARKS.md").read_bytes() == (REAL / "BENCHMARKS.md").read_bytes()
    for key in ("a", "f", "i"):
        assert (out / f"bench/{key}.svg").read_bytes() == (REAL / f"bench/{key}.svg").read_bytes()


# --- paths that must not measure -----------------------------------------------------------
def marking(name):
    """A build dir whose wsedge and raw_echo leave a mark if anything starts them."""
    mark = TMP / f"{name}.started"
    fake = f"#!/bin/sh\ntouch '{mark}'\nexit 1\n"
    return build_dir(name, wsedge=fake, raw=fake), mark


@case("--dry-run prints the plan and starts nothing")
def _():
    d, mark = marking("build-dry")
    out = TMP / "dry"
    t0 = time.monotonic()
    r = compare("--build", d, "--servers", "wsedge,raw", *TINY, "-s", "a,f,i", "--dry-run",
                "--out", out / "BENCHMARKS.md", "--json", out / "compare.json", timeout=20)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert re.search(r"3 scenarios x 2 servers x 1 runs, ~\d+ min; not built: none", r.stdout), \
        r.stdout
    assert time.monotonic() - t0 < 10, "a dry run took long enough to have measured"
    assert not mark.exists(), "a server was started"
    assert not out.exists() and not (d / "bench").exists(), "a dry run wrote files"


@case("an unknown --servers name exits non-zero with a message, before starting anything")
def _():
    d, mark = marking("build-unknown")
    r = compare("--build", d, "--servers", "wsedge,nginx", "-s", "a", "--dry-run", timeout=20)
    assert r.returncode != 0, r
    assert "unknown server 'nginx'" in r.stderr and "known: wsedge, raw" in r.stderr, r.stderr
    assert "scenarios x" not in r.stdout, r.stdout  # refused before the plan
    assert not mark.exists()


@case("an unknown scenario key exits non-zero instead of measuring less than asked")
def _():
    d, _ = marking("build-scenario")
    r = compare("--build", d, "--servers", "wsedge", "-s", "a,z", "--dry-run", timeout=20)
    assert r.returncode != 0 and "unknown scenario 'z'" in r.stderr, (r.returncode, r.stderr)
    # g = g10k + g50k
    r = compare("--build", d, "--servers", "wsedge", "-s", "g", "--dry-run", timeout=20)
    assert r.returncode == 0 and "2 scenarios x 1 servers" in r.stdout, (r.stdout, r.stderr)


@case("--servers without wsedge exits non-zero: every ratio is against wsedge")
def _():
    d, mark = marking("build-nowsedge")
    r = compare("--build", d, "--wsload", WSLOAD, "--servers", "raw", "-s", "a", *TINY,
                "--out", TMP / "nowsedge/BENCHMARKS.md", timeout=20)
    assert r.returncode != 0 and "must include wsedge" in r.stderr, (r.returncode, r.stderr)
    assert not mark.exists()


# --- servers that fail: recorded in the report, never a crash of the tool ----------------
@case("a wsedge that exits at once: an error row, raw still measured, target NOT MEASURED")
def _():
    # two stderr lines and a '|': the note quoting them must stay inside its table cell
    dead = ("#!/bin/sh\necho 'fake wsedge: cannot bind | port in use' >&2\n"
            "echo 'second line' >&2\nexit 1\n")
    out = TMP / "dead-wsedge"
    _, data, md = run_into(out, build_dir("build-dead", wsedge=dead), "-s", "a")
    rec = record(data, "a", "wsedge")
    assert rec["result"] is None, rec
    assert rec["error"].startswith("server did not start: exited before listening"), rec
    assert "cannot bind" in rec["error"], rec
    raw = record(data, "a", "raw")
    assert raw["error"] is None and raw["result"]["msgs_per_s"] > 0, raw
    table = rows(section_of(md, data, "a"))  # also checks every row's column count
    assert table["wsedge"][1] == "failed", table["wsedge"]
    assert "server did not start" in table["wsedge"][6], table["wsedge"]
    assert "cannot bind / port in use second line" in table["wsedge"][6], table["wsedge"]
    assert table[RAW_LABEL][3] == "—", table[RAW_LABEL]  # no wsedge figure to divide by
    assert target_row(md, "(a) ")[4] == "**NOT MEASURED**"
    _, texts = svg_texts(out / "bench/a.svg")
    assert "failed" in texts, texts


CRASHER = """#!/usr/bin/python3
# Starts like a peer, then dies on its first connection, as a crashing server would.
import os, socket, sys
s = socket.create_server(("127.0.0.1", 0))
print(f"raw_echo listening on ws://127.0.0.1:{s.getsockname()[1]}/", flush=True)
s.accept()
print("fake raw_echo: crashing on purpose", file=sys.stderr, flush=True)
os._exit(3)
"""


@case("a peer that dies during the run: its exit status in the notes, not a clean figure")
def _():
    _, data, md = run_into(TMP / "crash-raw", build_dir("build-crash", raw=CRASHER), "-s", "a")
    rec = record(data, "a", "raw")
    assert rec["error"].startswith("server exited with status 3 during the run"), rec
    assert "crashing on purpose" in rec["error"], rec
    assert record(data, "a", "wsedge")["error"] is None
    cells = rows(section_of(md, data, "a"))[RAW_LABEL]
    notes = cells[6]
    assert "run 1: server exited with status 3" in notes, cells
    if rec["result"]:  # wsload's counts before the crash are shown, flagged as unclean
        assert "no clean run" in notes, cells
    else:
        assert cells[1] == "failed", cells
    row = target_row(md, "(a) ")
    assert row[4] == "**NOT MEASURED**", row


# --- report.py on doctored results (no measuring): what a full run can produce ----------
def render(name, data):
    path = TMP / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    r = compare("--render", path, "--out", TMP / name / "BENCHMARKS.md", timeout=20)
    assert r.returncode == 0, (r.returncode, r.stderr)
    return (TMP / name / "BENCHMARKS.md").read_text(encoding="utf-8")


@case("idle connections beyond the fd hard limit: skipped with the reason, NOT MEASURED")
def _():
    def low_fd_limit():  # what a machine without CAP_SYS_RESOURCE and a small limit has
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    out = TMP / "fd-limit"
    out.mkdir()
    t0 = time.monotonic()
    r = subprocess.run(["/usr/bin/python3", str(COMPARE), "--build", build_dir("build-fd"),
                        "--wsload", str(WSLOAD), "--servers", "wsedge", *TINY, "-s", "g10k",
                        "--out", str(out / "BENCHMARKS.md"), "--json", str(out / "c.json")],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                       cwd=ROOT, preexec_fn=low_fd_limit)
    assert r.returncode == 0, r.stdout + r.stderr
    assert time.monotonic() - t0 < 20, "it tried to open 10,000 connections anyway"
    assert "[g10k] skipped" in r.stdout and "RLIMIT_NOFILE is 4,096" in r.stdout, r.stdout
    data = json.loads((out / "c.json").read_text(encoding="utf-8"))
    assert data["results"] == [], data["results"]
    assert "10,100 file descriptors" in data["notes"]["g10k"], data["notes"]
    md = (out / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "RLIMIT_NOFILE is 4,096" in md
    target = [ln for ln in md.splitlines() if ln.startswith("| (g)") and "10,000" in ln]
    assert target and "NOT MEASURED" in target[0], target


@case("a peer not built is listed only in scenarios it would have run")
def _():
    data, _ = need_real()
    data = json.loads(json.dumps(data))
    data["config"]["servers"], data["config"]["not_built"] = ["wsedge"], ["raw"]
    data["results"] = [r for r in data["results"] if r["server"] != "raw"]
    md = render("raw-not-built", data)
    for key in ("a", "i"):
        assert rows(section_of(md, data, key))[RAW_LABEL][1] == "not built", key
    assert RAW_LABEL not in rows(section_of(md, data, "f")), "raw has no (f) to miss"
    _, texts = svg_texts(TMP / "raw-not-built/bench/f.svg")
    assert RAW_LABEL not in texts and "not built" not in texts, texts
    _, texts = svg_texts(TMP / "raw-not-built/bench/a.svg")
    assert "not built" in texts, texts


@case("a run with wsload errors keeps its figure but decides no target")
def _():
    data, _ = need_real()
    data = json.loads(json.dumps(data))
    rec = next(r for r in data["results"] if (r["scenario"], r["server"]) == ("a", "raw"))
    rec["error"] = "3 errors (reset 3)"
    md = render("dirty-raw", data)
    notes = rows(section_of(md, data, "a"))[RAW_LABEL][6]
    assert "run 1: 3 errors (reset 3)" in notes and "no clean run" in notes, notes
    for prefix in ("(a) ", "wsload CPU/msg"):
        row = target_row(md, prefix)
        assert row[4] == "**NOT MEASURED**" and "no clean run" in row[1], row
    assert target_row(md, "(i) ")[4] in ("**MET**", "**MISSED**")  # (i) runs were clean


@case("paired ratios: run k against run k, only runs both servers finished cleanly")
def _():
    data, _ = need_real()
    data = json.loads(json.dumps(data))
    tmpl = {s: record(data, "a", s) for s in ("wsedge", "raw")}
    data["config"]["runs"] = 4
    data["results"] = [r for r in data["results"] if r["scenario"] != "a"]
    # wsedge 100, 50, 80, 90; raw 110, 40, 100, 10 (raw's run 4 had errors, so it pairs
    # with nothing). Medians 85 vs 100 -> 0.850; pairs 0.909, 1.25, 0.8 -> 0.909 (0.8-1.25).
    for server, figures in (("wsedge", [100, 50, 80, 90]), ("raw", [110, 40, 100, 10])):
        for k, v in enumerate(figures, 1):
            rec = json.loads(json.dumps(tmpl[server]))
            rec["run"], rec["result"]["msgs_per_s"] = k, float(v)
            rec["error"] = "2 errors (reset 2)" if (server, k) == ("raw", 4) else None
            data["results"].append(rec)
    row = target_row(render("paired", data), "(a) ")
    assert row[2] == f"{85 / 100:.3f}×", row
    assert row[3] == "0.909× (0.800–1.250)", row
    assert row[4] == "**MISSED**", row  # the verdict stays with the medians



# --- wss:// (issue 11): ta, td, tf, tr beside their ws:// twins ----------------------------
RAW_TLS_ECHO = BUILD / "peers/raw_tls_echo"
TLS_LABEL = "raw TLS echo (floor)"
tls_real = {}


@case("wss:// scenarios ta,tf,tr with their twins a,f: wsedge + raw TLS echo, all clean")
def _():
    assert RAW_TLS_ECHO.exists(), f"{RAW_TLS_ECHO} missing: `make test` builds it"
    build = build_dir("build-tls")
    (build / "peers/raw_tls_echo").symlink_to(RAW_TLS_ECHO.resolve())
    r, data, md = run_into(TMP / "tls", build, "-s", "a,f,ta,tf,tr")
    tls_real.update(data=data, md=md)
    assert "!!" not in r.stdout, r.stdout
    got = {(x["scenario"], x["server"]) for x in data["results"]}
    want = {("a", "wsedge"), ("a", "raw"), ("f", "wsedge")} | {
        (k, s) for k in ("ta", "tf", "tr") for s in ("wsedge", "raw")}
    assert got == want, got
    for rec in data["results"]:
        assert rec["error"] is None and rec["result"]["errors"] == 0, rec
        tls = rec["scenario"].startswith("t")
        argv = rec["argv"]
        assert argv[argv.index("--url") + 1].startswith("wss://" if tls else "ws://"), argv
        assert ("--ca" in argv) == tls and ("--tls-resume" in argv) == (rec["scenario"] == "tr")
        assert ("--raw" in argv) == (rec["server"] == "raw"), argv
        if tls:
            t = rec["result"]["tls"]
            assert t["version"] == "TLSv1.3" and t["full"] >= 1, t
            # tr: after the first wave of 100 connects, handshakes resume
            assert (t["resumed"] > 0) == (rec["scenario"] == "tr"), (rec["scenario"], t)


@case("the report's wss:// section: twins side by side, TLS cost = wss CPU - ws CPU")
def _():
    assert tls_real, "the wss:// run failed; see the case before"
    data, md = tls_real["data"], tls_real["md"]
    sec = sections(md)["## wss:// beside ws:// (issue 11)"]
    text = "\n".join(sec)
    for key in ("ta", "tf", "tr"):
        assert f"### {data['scenarios'][key]['title']}" in text, key

    def cpu(key, server):
        c = record(data, key, server)["result"]["server_cpu_us_per_msg"]
        return c["user"] + c["sys"]

    def table_after(title):
        i = sec.index(f"### {title}")
        lines = []
        for ln in sec[i + 1:]:
            if ln.startswith("### "):
                break
            lines.append(ln)
        return rows(lines)

    ta = table_after(data["scenarios"]["ta"]["title"])
    assert list(ta) == ["wsedge", TLS_LABEL], list(ta)
    w_cost, r_cost = cpu("ta", "wsedge") - cpu("a", "wsedge"), cpu("ta", "raw") - cpu("a", "raw")
    assert ta["wsedge"][5] == f"{w_cost:.2f}", (ta["wsedge"], w_cost)
    assert ta[TLS_LABEL][5] == f"{r_cost:.2f}", (ta[TLS_LABEL], r_cost)
    if r_cost:
        assert ta["wsedge"][6] == f"{w_cost / r_cost:.2f}×", ta["wsedge"]
    msgs = record(data, "ta", "wsedge")["result"]["msgs_per_s"]
    assert ta["wsedge"][2] == f"{msgs:,.0f}", ta["wsedge"]
    tf = table_after(data["scenarios"]["tf"]["title"])
    # the raw TLS echo has no ws:// handshake twin: its whole CPU per handshake is the floor
    assert tf[TLS_LABEL][1] == "—" and tf[TLS_LABEL][6] == "1.00×", tf[TLS_LABEL]
    assert tf["wsedge"][5] == f"{cpu('tf', 'wsedge') - cpu('f', 'wsedge'):.2f}", tf["wsedge"]
    # in the per-scenario tables the raw row of a wss:// scenario is the raw TLS echo
    assert TLS_LABEL in rows(section_of(md, data, "ta")), "ta table"
    assert RAW_LABEL in rows(section_of(md, data, "a")), "a table"


if real:
    print(f"(the real run took {real['seconds']:.1f} s)")
shutil.rmtree(TMP, ignore_errors=True)
passed = sum(1 for _, e in results if e is None)
failed = len(results) - passed
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
