"""Renders bench/compare's results: docs/BENCHMARKS.md and one SVG bar chart per scenario.

Input is the results dict bench/compare saves (build/bench/compare.json): machine info,
config, scenario descriptions and one record per run ({scenario, server, run, result,
error}). Pure: reads the dict, writes two kinds of file, measures nothing. Standard
library only; the SVG is written by hand (no matplotlib on the machines we run on).
"""
import os
import statistics
from html import escape
from pathlib import Path

ORDER = ["wsedge", "raw", "beast", "gorilla", "lws", "node", "python"]
COLOURS = {"wsedge": "#d9480f", "raw": "#868e96"}
OTHER_COLOUR = "#3b5bdb"


def metric_of(result, metric):
    if metric == "p99_us":
        return (result.get("latency_us") or {}).get("p99")
    if metric == "server_cpu_us":
        return _cpu_total(result.get("server_cpu_us_per_msg"))
    return result.get(metric)


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _cpu_total(cpu):
    if not cpu or cpu.get("user") is None or cpu.get("sys") is None:
        return None
    return cpu["user"] + cpu["sys"]


def aggregate(records, metric):
    """Median, spread and side figures of one server in one scenario."""
    with_result = [r for r in records if r["result"]]
    clean = [r for r in with_result if not r["error"]]
    used = clean or with_result
    agg = {"runs": len(records), "used": len(used), "clean": bool(clean), "notes": []}
    for r in records:
        if r["error"]:
            agg["notes"].append(f"run {r['run']}: {r['error']}")
    if not clean and with_result:
        agg["notes"].append("no clean run: figures include runs with errors")
    values = [metric_of(r["result"], metric) for r in used]
    values = [v for v in values if v is not None]
    if not values:
        return agg
    res = [r["result"] for r in used]
    agg.update(median=statistics.median(values), min=min(values), max=max(values),
               cpu_user=_median([(x.get("server_cpu_us_per_msg") or {}).get("user") for x in res]),
               cpu_sys=_median([(x.get("server_cpu_us_per_msg") or {}).get("sys") for x in res]),
               load_cpu=_median([_cpu_total(x.get("client_cpu_us_per_msg")) for x in res]),
               p50=_median([(x.get("latency_us") or {}).get("p50") for x in res]),
               p99=_median([(x.get("latency_us") or {}).get("p99") for x in res]),
               msgs=_median([x.get("msgs_per_s") for x in res]),
               achieved=_median([x.get("achieved_rate") for x in res]))
    return agg


def _cell(text, limit=None):
    """Table-cell text: an error note may quote a server's multi-line stderr (and a commit
    subject may hold a '|'); a newline or a '|' would end the Markdown row early."""
    return " ".join(str(text).replace("|", "/").split())[:limit]


def fmt(v, metric):
    if v is None:
        return "—"
    if metric in ("mb_per_s",):
        return f"{v:,.1f}"
    if metric in ("server_cpu_us", "cpu"):
        return f"{v:.2f}"
    return f"{v:,.0f}"


def not_built(data, key):
    """Servers not built that this scenario would have run: raw has no handshake or idle
    WebSocket connection, so it is not missing from (f) and (g). A wss:// scenario also
    misses the servers built without their TLS mode (raw: raw_tls_echo)."""
    sc = data["scenarios"][key]
    names = [s for s in data["config"].get("not_built", []) if sc["raw_ok"] or s != "raw"]
    if sc.get("tls"):
        names += [s for s in data["config"].get("not_built_tls", []) if s not in names]
    return names


def label(data, key, name):
    """In wss:// scenarios the raw row is the raw TLS echo."""
    if name == "raw" and data["scenarios"][key].get("tls"):
        return "raw TLS echo (floor)"
    return data["labels"].get(name, name)


def table(data, key):
    """Aggregates per server for one scenario, in display order, plus not-built names."""
    sc = data["scenarios"][key]
    servers = [s for s in ORDER if s in data["config"]["servers"]]
    servers += [s for s in data["config"]["servers"] if s not in servers]
    rows = {}
    for s in servers:
        if s == "raw" and not sc["raw_ok"]:
            continue
        recs = [r for r in data["results"] if r["scenario"] == key and r["server"] == s]
        if recs:
            rows[s] = aggregate(recs, sc["metric"])
    return rows


# --- SVG -------------------------------------------------------------------------------
def svg_chart(data, key, rows):
    sc = data["scenarios"][key]
    width, left, right, row_h, top = 720, 170, 150, 28, 46
    names = list(rows) + not_built(data, key)
    height = top + row_h * len(names) + 30
    peak = max([a.get("max", 0) for a in rows.values()] + [1e-9])
    span = width - left - right
    better = "higher is better" if sc["better"] == "high" else "lower is better"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(sc["title"])}</text>',
           f'<text x="10" y="38" fill="#555">{escape(sc["unit"])}, median of runs, whisker = '
           f'min–max ({better})</text>']
    for i, name in enumerate(names):
        y = top + i * row_h
        text = label(data, key, name)
        out.append(f'<text x="{left - 8}" y="{y + 18}" text-anchor="end">{escape(text)}</text>')
        agg = rows.get(name)
        if not agg or agg.get("median") is None:
            why = "not built" if agg is None else "failed"
            out.append(f'<text x="{left + 4}" y="{y + 18}" fill="#c92a2a">{why}</text>')
            continue
        w = max(1.0, span * agg["median"] / peak)
        colour = COLOURS.get(name, OTHER_COLOUR)
        out.append(f'<rect x="{left}" y="{y + 5}" width="{w:.1f}" height="{row_h - 10}" '
                   f'fill="{colour}"/>')
        x0, x1 = left + span * agg["min"] / peak, left + span * agg["max"] / peak
        cy = y + row_h / 2
        out.append(f'<line x1="{x0:.1f}" y1="{cy}" x2="{x1:.1f}" y2="{cy}" stroke="#000" '
                   f'stroke-width="1.5"/>')
        for x in (x0, x1):
            out.append(f'<line x1="{x:.1f}" y1="{cy - 5}" x2="{x:.1f}" y2="{cy + 5}" '
                       f'stroke="#000" stroke-width="1.5"/>')
        text = fmt(agg["median"], sc["metric"]) + ("  (errors)" if agg["notes"] else "")
        out.append(f'<text x="{max(x1, left + w) + 6:.1f}" y="{y + 18}">{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# --- Markdown --------------------------------------------------------------------------
def scenario_section(data, key, rows, svg_rel):
    sc = data["scenarios"][key]
    base = rows.get("wsedge", {}).get("median")
    lines = [f"## {sc['title']}", ""]
    if key in data.get("notes", {}):
        lines += [data["notes"][key], ""]
    lines += [f"![{sc['title']}]({svg_rel})", "",
              f"| server | {sc['unit']} (median) | min–max | ÷ wsedge | "
              f"server CPU µs/{'handshake' if sc['metric'] == 'handshakes_per_s' else 'msg'} "
              "user + sys | latency µs p50 / p99 | notes |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for name, agg in rows.items():
        name_text = label(data, key, name)
        if agg.get("median") is None:
            lines.append(f"| {name_text} | failed | | | | | {_cell('; '.join(agg['notes']), 400)} |")
            continue
        ratio = f"{agg['median'] / base:.2f}×" if base else "—"
        cpu = (f"{agg['cpu_user']:.2f} + {agg['cpu_sys']:.2f}"
               if agg.get("cpu_user") is not None and agg.get("cpu_sys") is not None else "—")
        lat = (f"{agg['p50']:,.0f} / {agg['p99']:,.0f}"
               if agg.get("p50") is not None and agg.get("p99") is not None else "—")
        notes = list(agg["notes"])
        if sc["metric"] in ("p99_us", "server_cpu_us") and agg.get("achieved"):
            notes.insert(0, f"achieved {agg['achieved']:,.0f} msgs/s")
        if sc["metric"] == "mb_per_s" and agg.get("msgs"):
            notes.insert(0, f"{agg['msgs']:,.0f} msgs/s")
        if agg["used"] < agg["runs"]:
            notes.insert(0, f"{agg['used']} of {agg['runs']} runs")
        lines.append(f"| {name_text} | {fmt(agg['median'], sc['metric'])} | "
                     f"{fmt(agg['min'], sc['metric'])}–{fmt(agg['max'], sc['metric'])} | "
                     f"{ratio} | {cpu} | {lat} | {_cell('; '.join(notes), 400)} |")
    for name in not_built(data, key):
        lines.append(f"| {label(data, key, name)} | not built | | | | | |")
    return lines + [""]


# --- wss:// beside ws:// ---------------------------------------------------------------
def _cpu(agg):
    return _sum((agg or {}).get("cpu_user"), (agg or {}).get("cpu_sys"))


def tls_rows(data, tables, key):
    """One row per server of the wss:// scenario `key` beside its ws:// twin: both medians,
    their ratio, the server CPU per message (or handshake) both ways, the difference (the
    cost of TLS) and that cost ÷ the raw TLS echo's (the floor: TLS and nothing else).
    In handshake runs raw has no ws:// twin: its whole CPU per TLS handshake is the floor."""
    sc = data["scenarios"][key]
    wss, ws = tables.get(key, {}), tables.get(sc["twin"], {})
    raw_wss, raw_ws = _cpu(wss.get("raw")), _cpu(ws.get("raw"))
    floor = raw_wss - raw_ws if raw_wss is not None and raw_ws is not None else raw_wss
    rows = []
    for name, agg in wss.items():
        twin = ws.get(name)
        m, m0 = agg.get("median"), (twin or {}).get("median")
        c, c0 = _cpu(agg), _cpu(twin)
        cost = c - c0 if c is not None and c0 is not None else (c if name == "raw" else None)
        rows.append({"server": name, "ws": m0, "wss": m, "ratio": m / m0 if m and m0 else None,
                     "cpu_ws": c0, "cpu_wss": c, "cost": cost,
                     "cost_vs_floor": cost / floor if cost is not None and floor else None,
                     "clean": agg.get("clean") and (twin is None or twin.get("clean"))})
    return rows


def tls_section(data, tables):
    keys = [k for k, sc in data["scenarios"].items() if sc.get("tls")]
    if not keys:
        return []
    lines = ["## wss:// beside ws:// (issue 11)", "",
             "Each wss:// scenario beside its ws:// twin from the same run. *TLS cost* is the "
             "server's CPU per message (or per handshake) over wss:// minus over ws://; "
             "*÷ floor* divides it by the raw TLS echo's (raw_tls_echo.c: TLS and nothing "
             "else, with wsedge's TLS settings). In the handshake runs the raw TLS echo has no "
             "ws:// twin: its whole CPU per TLS handshake is the floor. See docs/bench-tls/.",
             ""]
    for key in keys:
        sc = data["scenarios"][key]
        twin_title = data["scenarios"].get(sc["twin"], {}).get("title", f"({sc['twin']})")
        per = "handshake" if sc["metric"] == "handshakes_per_s" else "msg"
        lines += [f"### {sc['title']}", "", f"ws:// twin: {twin_title}.", "",
                  f"| server | ws:// {sc['unit']} | wss:// {sc['unit']} | wss ÷ ws | "
                  f"server CPU µs/{per} ws → wss | TLS cost µs/{per} | ÷ floor |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in tls_rows(data, tables, key):
            cpu = (f"{fmt(r['cpu_ws'], 'cpu')} → {fmt(r['cpu_wss'], 'cpu')}"
                   if r["cpu_ws"] is not None else f"— → {fmt(r['cpu_wss'], 'cpu')}")
            ratio = f"{r['ratio']:.2f}×" if r["ratio"] else "—"
            cvf = f"{r['cost_vs_floor']:.2f}×" if r["cost_vs_floor"] else "—"
            dirty = "" if r["clean"] else " (runs with errors)"
            lines.append(f"| {label(data, key, r['server'])}{dirty} | {fmt(r['ws'], sc['metric'])} "
                         f"| {fmt(r['wss'], sc['metric'])} | {ratio} | {cpu} | "
                         f"{fmt(r['cost'], 'cpu')} | {cvf} |")
        lines.append("")
    return lines


def targets(data, tables):
    """The issue's targets: (label, measured text, ratio, paired ratios, verdict) rows."""
    def med(key, server, field="median"):
        return tables.get(key, {}).get(server, {}).get(field)

    rows = []

    def check(label, num, den, limit, higher, detail, runs=(), paired=None):
        if num is None or den is None or not den:
            rows.append((label, "not measured", "—", "—", "NOT MEASURED"))
            return
        # A figure from runs that all had errors does not decide a target.
        dirty = [f"{k}/{srv}" for k, srv in runs if not tables.get(k, {}).get(srv, {}).get("clean")]
        if dirty:
            rows.append((label, detail(num, den) + f" (no clean run: {', '.join(dirty)})", "—",
                         "—", "NOT MEASURED"))
            return
        r = num / den
        ok = r >= limit if higher else r <= limit
        pr = paired_ratios(data, *paired) if paired else []
        pr_text = f"{statistics.median(pr):.3f}× ({min(pr):.3f}–{max(pr):.3f})" if pr else "—"
        rows.append((label, detail(num, den), f"{r:.3f}×", pr_text, "MET" if ok else "MISSED"))

    for key, limit in (("a", 0.97), ("b", 0.9), ("c", 0.97)):
        check(f"({key}) wsedge msgs/s ≥ {limit}× raw", med(key, "wsedge"), med(key, "raw"),
              limit, True, lambda n, d: f"{n:,.0f} vs raw {d:,.0f} msgs/s",
              runs=[(key, "wsedge"), (key, "raw")], paired=(key, "raw"))
    check("(d) wsedge throughput ≥ 0.95× raw", med("d", "wsedge"), med("d", "raw"), 0.95, True,
          lambda n, d: f"{n:,.1f} vs raw {d:,.1f} MB/s", runs=[("d", "wsedge"), ("d", "raw")],
          paired=("d", "raw"))
    check("(i) wsedge server CPU/msg at 50k msgs/s ≤ 1.05× raw", med("i", "wsedge"),
          med("i", "raw"), 1.05, False, lambda n, d: f"{n:.2f} vs raw {d:.2f} µs/msg",
          runs=[("i", "wsedge"), ("i", "raw")], paired=("i", "raw"))
    check("(e) wsedge 16 in flight ≥ 3× its own (a)", med("e", "wsedge"), med("a", "wsedge"),
          3.0, True, lambda n, d: f"{n:,.0f} vs (a) {d:,.0f} msgs/s",
          runs=[("e", "wsedge"), ("a", "wsedge")])
    check("(f) wsedge handshakes/s ≥ 1.3× Beast", med("f", "wsedge"), med("f", "beast"), 1.3,
          True, lambda n, d: f"{n:,.0f} vs Beast {d:,.0f} /s",
          runs=[("f", "wsedge"), ("f", "beast")], paired=("f", "beast"))
    for key, n in (("g10k", "10,000"), ("g50k", "50,000")):
        check(f"(g) wsedge RSS per idle connection at {n} ≤ 256 B", med(key, "wsedge"), 256.0,
              1.0, False, lambda v, d: f"{v:,.0f} B", runs=[(key, "wsedge")])
    check("wsload CPU/msg in (a) (against wsedge) ≤ 1.1× raw's server CPU/msg",
          med("a", "wsedge", "load_cpu"), _sum(med("a", "raw", "cpu_user"), med("a", "raw", "cpu_sys")),
          1.1, False, lambda n, d: f"{n:.2f} vs raw server {d:.2f} µs/msg",
          runs=[("a", "wsedge"), ("a", "raw")])
    return rows


def paired_ratios(data, key, other):
    """wsedge ÷ `other`, run by run in scenario `key`, over the run numbers where both ran
    cleanly. Runs are interleaved, so run k of each server was measured seconds apart: a
    slow spell of the host tends to hit both, and the run-by-run ratio keeps what the
    medians of two separately noisy series lose."""
    metric = data["scenarios"][key]["metric"]

    def by_run(server):
        return {r["run"]: metric_of(r["result"], metric) for r in data["results"]
                if r["scenario"] == key and r["server"] == server and r["result"]
                and not r["error"]}

    mine, theirs = by_run("wsedge"), by_run(other)
    return [mine[k] / theirs[k] for k in sorted(mine.keys() & theirs.keys())
            if mine[k] is not None and theirs[k]]


def _sum(a, b):
    return None if a is None or b is None else a + b


def machine_block(data):
    m, c = data["machine"], data["config"]
    mode = (f"{c['runs']} run(s) per server, interleaved (A B C … A B C …), each a fresh server "
            f"process, {c['warmup']:g} s warm-up then {c['duration']:g} s measured; idle (g) holds "
            "for 2 s after connecting")
    wsload = m["wsload"] + (f" ({m['wsload_commit']})" if m["wsload_commit"] else "")
    rows = [("date", m["date"]), ("CPU", m["cpu"]), ("kernel", m["kernel"]),
            ("compiler", m["compiler"]), ("Go / Node", f"{m['go']} / node {m['node']}"),
            ("Debian packages", m["packages"]), ("npm (bench/peers/node)", m["npm"]),
            ("wsedge", m["wsedge"]), ("wsload", wsload),
            ("method", f"{mode}; server pinned to CPU 1, wsload (1 thread) to CPU 0 with "
             "`taskset`; medians and min–max over the runs; servers that are not built are "
             "listed as such"),
            ("total time", f"{c.get('elapsed_s', 0) / 60:.1f} min")]
    return (["## Machine and method", "", "| | |", "|---|---|"]
            + [f"| {k} | {_cell(v)} |" for k, v in rows] + [""])


def _tls_doc_link(out):
    """docs/bench-tls/README.md relative to the report being written."""
    doc = Path(__file__).resolve().parents[2] / "docs/bench-tls/README.md"
    return os.path.relpath(doc, out.resolve().parent)


def write(data, out_path):
    out = Path(out_path)
    svg_dir = out.parent / "bench"
    svg_dir.mkdir(parents=True, exist_ok=True)
    tables = {key: table(data, key) for key in data["scenarios"]}
    c = data["config"]
    lines = ["# wsedge against its peers", "",
             "Generated by `bench/compare` (`make bench-compare`); do not edit by hand. "
             "Every server is a single-threaded echo server on 127.0.0.1; see "
             "bench/peers/ for the peers and the raw TCP echo that marks the limit.", "",
             "wss:// (TLS) against ws://, per message and per handshake, with the raw TLS "
             f"echo as the floor: [docs/bench-tls/]({_tls_doc_link(out)}).", "",
             "Instructions per message (callgrind: deterministic where times on this host "
             "are not), plain and compressed echoes against their floors: "
             "[docs/bench/instructions.md](bench/instructions.md).", ""]
    if c.get("quick"):
        lines += ["> **Smoke-test figures (`--quick`: 1 run × 2 s).** Not a measurement to "
                  "quote; rerun `make bench-compare` for real figures.", ""]
    for note in data.get("top_notes", []):
        lines += [f"> {note}", ""]
    lines += ["## Targets (issue 6)", "",
              "The verdict is on the ratio of the medians. *Paired* is the same ratio taken "
              "run by run (wsedge's run k against the other server's run k, measured next to "
              "it): median and min–max. On a noisy host it tells a gap between the servers "
              "from a slow spell that one of them happened to run in.", "",
              "| target | measured | ratio | paired | verdict |", "|---|---|---:|---:|---|"]
    lines += [f"| {a} | {b} | {r} | {p} | **{v}** |" for a, b, r, p, v in targets(data, tables)]
    lines += ["", *tls_section(data, tables), *machine_block(data)]
    for key, rows in tables.items():
        (svg_dir / f"{key}.svg").write_text(svg_chart(data, key, rows), encoding="utf-8")
        lines += scenario_section(data, key, rows, f"bench/{key}.svg")
    out.write_text("\n".join(lines), encoding="utf-8")
