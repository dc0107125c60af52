#!/usr/bin/python3
"""Checks docs/RFC-COVERAGE.md, the RFC 6455 / RFC 7692 coverage matrix, against the tree.

    /usr/bin/python3 tests/docs/check_rfc_coverage.py            # the repository's matrix
    /usr/bin/python3 tests/docs/check_rfc_coverage.py -v         # also list passing checks
    /usr/bin/python3 tests/docs/check_rfc_coverage.py --root DIR --matrix FILE

One check per matrix row, then the global checks. A row fails when its id, section, side or
status is malformed; when a file it names does not exist; when a function it names does not
occur in that file (`name(`, or `Class::name(`, or `name(` in a file that declares
`class Class`/`struct Class`); when a test it names does not exist (a doctest TEST_CASE or
SUBCASE name in the .cpp file; the start of a @case(...) name in a tests/hostile module or of
a @test(...) name in another Python test; a conformance id that
`tests/conformance/run.py --list` prints; for any other file, text it contains); or when it
says "enforced" and names no test. The global checks: the totals line agrees with the rows,
ids are unique, and every `// RFC 6455 §x.y` or `// RFC 7692 §x.y` comment in core/ net/
http/ ws/ server/ apps/ bench/ (C and C++ sources) names a section that has a row (the row's
section is §x.y or one below it, so a comment on §5 is covered by a row for §5.2).

Matrix format (docs/RFC-COVERAGE.md says the same for its readers):
  - a totals line: **Totals:** rows: N, enforced: N, tested: N, not applicable: N,
    relaxed: N, not enforced: N
  - rows of a 7-column table: | id | § | requirement | side | enforced in | tests | status |
    id R6455-5.2-a (the RFC, the section, a letter); § as §5.2; side server, client or both;
    "enforced in" items `path` `function`, ... separated by <br> (— for none); "tests"
    items `path` "name" or conformance `id`, `id` separated by <br> (— for none); status
    enforced, or "n/a: why", "relaxed: why", "not enforced: why".
Standard library only. The last line is "N passed, N failed"; exit status 1 on any failure.
"""
import argparse
import ast
import os
import re
import subprocess
import sys

ROW_ID = re.compile(r"^R(6455|7692)-(\d+(?:\.\d+)*)-([a-z]+)$")
SECTION = re.compile(r"^§(\d+(?:\.\d+)*)$")
SIDES = {"server", "client", "both"}
STATUS = re.compile(r"^(enforced|n/a|relaxed|not enforced)(?::\s*(.*))?$", re.S)
TOTALS = re.compile(r"^\*\*Totals:\*\*\s*(.+)$", re.M)
TOTAL_KEYS = ["rows", "enforced", "tested", "not applicable", "relaxed", "not enforced"]
STATUS_KEY = {"enforced": "enforced", "n/a": "not applicable", "relaxed": "relaxed",
              "not enforced": "not enforced"}
NONE = {"—", "-", ""}
CODE_DIRS = ["core", "net", "http", "ws", "server", "apps", "bench"]
CODE_EXT = (".h", ".hpp", ".cpp", ".cc", ".c")
CITE_RFC = re.compile(r"RFC\s*(\d+)")
CITE_SECTION = re.compile(r"§\s*(\d+(?:\.\d+)*)")
DOCTEST = re.compile(r"\b(?:TEST_CASE|SUBCASE)\s*\(\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+)")
LITERAL = re.compile(r"\"((?:[^\"\\]|\\.)*)\"")


class Check:
    def __init__(self, name):
        self.name = name
        self.problems = []

    def fail(self, msg):
        self.problems.append(msg)

    @property
    def ok(self):
        return not self.problems


class Tree:
    """The repository the matrix is checked against; file reads and test lists are cached."""

    def __init__(self, root):
        self.root = root
        self._text = {}
        self._names = {}
        self._conformance = None

    def path(self, rel):
        return os.path.join(self.root, rel)

    def exists(self, rel):
        return os.path.isfile(self.path(rel))

    def text(self, rel):
        if rel not in self._text:
            with open(self.path(rel), encoding="utf-8", errors="replace") as f:
                self._text[rel] = f.read()
        return self._text[rel]

    def has_function(self, rel, name):
        text = self.text(rel)
        if "::" in name:
            cls, fn = name.rsplit("::", 1)
            if re.search(r"\b%s\s*\(" % re.escape(name), text):
                return True
            return bool(re.search(r"\b%s\s*\(" % re.escape(fn), text) and
                        re.search(r"\b(?:class|struct|namespace)\s+%s\b" %
                                  re.escape(cls.rsplit("::", 1)[-1]), text))
        return bool(re.search(r"\b%s\s*\(" % re.escape(name), text))

    def doctest_names(self, rel):
        key = ("doctest", rel)
        if key not in self._names:
            names = set()
            for m in DOCTEST.finditer(self.text(rel)):
                names.add("".join(lit.replace('\\"', '"')
                                  for lit in LITERAL.findall(m.group(1))))
            self._names[key] = names
        return self._names[key]

    def decorator_names(self, rel, decorator):
        """First string argument of every @decorator(...) in a Python module."""
        key = (decorator, rel)
        if key not in self._names:
            names = []
            try:
                tree = ast.parse(self.text(rel))
            except SyntaxError:
                tree = None
            for node in ast.walk(tree) if tree is not None else []:
                for dec in getattr(node, "decorator_list", []):
                    if not (isinstance(dec, ast.Call) and dec.args):
                        continue
                    f = dec.func
                    fname = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                    arg = dec.args[0]
                    if fname == decorator and isinstance(arg, ast.Constant) and \
                            isinstance(arg.value, str):
                        names.append(arg.value)
            self._names[key] = names
        return self._names[key]

    def conformance_ids(self):
        """Case ids of tests/conformance/run.py --list; (ids, error)."""
        if self._conformance is None:
            runner = self.path("tests/conformance/run.py")
            if not os.path.isfile(runner):
                self._conformance = (set(), "tests/conformance/run.py does not exist")
            else:
                try:
                    p = subprocess.run([sys.executable, runner, "--list"], cwd=self.root,
                                       capture_output=True, text=True, timeout=120,
                                       stdin=subprocess.DEVNULL)
                    ids = {m.group(1) for m in
                           re.finditer(r"(?m)^(\d+(?:\.\d+)*)\s", p.stdout)}
                    err = None if p.returncode == 0 and ids else \
                        f"run.py --list failed (exit {p.returncode}): {p.stderr.strip()[-200:]}"
                    self._conformance = (ids, err)
                except (OSError, subprocess.SubprocessError) as e:
                    self._conformance = (set(), f"run.py --list: {e}")
        return self._conformance


def split_items(cell):
    return [s.strip() for s in re.split(r"<br\s*/?>", cell) if s.strip()]


def backticked(s):
    return re.findall(r"`([^`]+)`", s)


def parse_matrix(text):
    """(rows, totals, problems): rows as dicts with their line number and cells."""
    rows, problems = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s.startswith("|"):
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if not cells or not re.match(r"^R\d+-", cells[0]):
            continue  # the header, its rule, or another table
        if len(cells) != 7:
            problems.append(f"line {lineno}: {len(cells)} cells, expected 7: {s[:80]}")
            rows.append({"line": lineno, "id": cells[0], "cells": None})
            continue
        rows.append({"line": lineno, "id": cells[0], "section": cells[1],
                     "requirement": cells[2], "side": cells[3], "where": cells[4],
                     "tests": cells[5], "status": cells[6], "cells": cells})
    totals = None
    m = TOTALS.search(text)
    if m:
        totals = {}
        for part in m.group(1).split(","):
            if ":" in part:
                k, v = part.rsplit(":", 1)
                k = k.strip().lower()
                v = v.strip().rstrip(".")
                totals[k] = int(v) if v.isdigit() else v
    return rows, totals, problems


def check_where(tree, row, check):
    items = [] if row["where"] in NONE else split_items(row["where"])
    for item in items:
        ticks = backticked(item)
        if not ticks:
            check.fail(f"enforced-in item without a `path`: {item!r}")
            continue
        rel, functions = ticks[0], ticks[1:]
        if not tree.exists(rel):
            check.fail(f"{rel}: no such file")
            continue
        if not functions:
            check.fail(f"{rel}: no function named")
        for fn in functions:
            if not tree.has_function(rel, fn):
                check.fail(f"{rel}: function {fn} does not occur")
    return items


def check_tests(tree, row, check):
    items = [] if row["tests"] in NONE else split_items(row["tests"])
    for item in items:
        if item.startswith("conformance"):
            ids = backticked(item)
            if not ids:
                check.fail(f"conformance item without an `id`: {item!r}")
            known, err = tree.conformance_ids()
            for cid in ids:
                if err:
                    check.fail(f"conformance {cid}: {err}")
                elif cid not in known:
                    check.fail(f"conformance case {cid} does not exist")
            continue
        ticks = backticked(item)
        names = LITERAL.findall(item)
        if not ticks or not names:
            check.fail(f"test item is neither `path` \"name\" nor conformance `id`: {item!r}")
            continue
        rel = ticks[0]
        if not tree.exists(rel):
            check.fail(f"{rel}: no such file")
            continue
        for name in names:
            name = name.replace('\\"', '"')
            if rel.endswith((".cpp", ".cc", ".h")):
                if name not in tree.doctest_names(rel):
                    check.fail(f'{rel}: no TEST_CASE or SUBCASE "{name}"')
            elif rel.endswith(".py"):
                deco = "case" if rel.startswith("tests/hostile/") else "test"
                if not any(n.startswith(name) for n in tree.decorator_names(rel, deco)):
                    check.fail(f'{rel}: no @{deco}("{name}...")')
            elif name not in tree.text(rel):
                check.fail(f'{rel}: "{name}" does not occur')
    return items


def check_row(tree, row):
    check = Check(f"row {row['id']} (line {row['line']})")
    if row["cells"] is None:
        check.fail("malformed table row (expected 7 cells)")
        return check, None, False
    m = ROW_ID.match(row["id"])
    if not m:
        check.fail(f"id {row['id']!r} is not like R6455-5.2-a")
    sm = SECTION.match(row["section"])
    if not sm:
        check.fail(f"section {row['section']!r} is not like §5.2")
    elif m and sm.group(1) != m.group(2):
        check.fail(f"id section {m.group(2)} differs from the § column {sm.group(1)}")
    if not row["requirement"] or len(row["requirement"]) < 10:
        check.fail("no requirement text")
    if row["side"] not in SIDES:
        check.fail(f"side {row['side']!r} is not server, client or both")
    st = STATUS.match(row["status"])
    status = None
    if not st:
        check.fail(f"status {row['status']!r} is not enforced / n/a: / relaxed: / not enforced:")
    else:
        status = st.group(1)
        if status != "enforced" and not (st.group(2) or "").strip():
            check.fail(f"status {status} without a reason")
    where = check_where(tree, row, check)
    tests = check_tests(tree, row, check)
    if status == "enforced" and not where:
        check.fail("enforced, but names no file and function that enforce it")
    if status == "enforced" and not tests:
        check.fail("enforced, but names no test")
    return check, status, bool(tests)


def cited_sections(tree):
    """{(rfc, section): [file:line, ...]} for RFC 6455/7692 sections cited in // comments."""
    cites = {}
    for top in CODE_DIRS:
        base = tree.path(top)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for fn in sorted(filenames):
                if not fn.endswith(CODE_EXT):
                    continue
                full = os.path.join(dirpath, fn)
                rel = os.path.relpath(full, tree.root)
                with open(full, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        at = line.find("//")
                        if at < 0:
                            continue
                        comment = line[at + 2:]
                        marks = list(CITE_RFC.finditer(comment))
                        for i, mark in enumerate(marks):
                            rfc = mark.group(1)
                            if rfc not in ("6455", "7692"):
                                continue
                            end = marks[i + 1].start() if i + 1 < len(marks) else len(comment)
                            for sec in CITE_SECTION.findall(comment[mark.end():end]):
                                cites.setdefault((rfc, sec), []).append(f"{rel}:{lineno}")
    return cites


def run_checks(root, matrix_rel="docs/RFC-COVERAGE.md"):
    tree = Tree(root)
    checks = []
    matrix = Check(f"{matrix_rel} exists and has rows")
    checks.append(matrix)
    if not tree.exists(matrix_rel):
        matrix.fail("no such file")
        return checks
    rows, totals, problems = parse_matrix(tree.text(matrix_rel))
    for p in problems:
        matrix.fail(p)
    if not rows:
        matrix.fail("no rows")
    counts = {k: 0 for k in TOTAL_KEYS}
    seen = {}
    covered = set()
    for row in rows:
        check, status, tested = check_row(tree, row)
        checks.append(check)
        counts["rows"] += 1
        if status:
            counts[STATUS_KEY[status]] += 1
        if tested:
            counts["tested"] += 1
        seen.setdefault(row["id"], []).append(row["line"])
        m = ROW_ID.match(row["id"])
        if m:
            covered.add((m.group(1), m.group(2)))

    total = Check("totals line matches the rows")
    checks.append(total)
    if totals is None:
        total.fail("no '**Totals:** rows: N, enforced: N, ...' line")
    else:
        for k in TOTAL_KEYS:
            if k not in totals:
                total.fail(f"totals lack '{k}'")
            elif totals[k] != counts[k]:
                total.fail(f"{k}: the header says {totals[k]}, the rows give {counts[k]}")

    unique = Check("row ids are unique")
    checks.append(unique)
    for rid, lines in seen.items():
        if len(lines) > 1:
            unique.fail(f"{rid} on lines {', '.join(map(str, lines))}")

    cites = Check("every RFC 6455/7692 § cited in code comments has a row")
    checks.append(cites)
    for (rfc, sec), where in sorted(cited_sections(tree).items()):
        if not any(r == rfc and (s == sec or s.startswith(sec + ".")) for r, s in covered):
            cites.fail(f"RFC {rfc} §{sec} (cited at {', '.join(where[:3])}"
                       f"{' and more' if len(where) > 3 else ''}) has no row")
    return checks


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(here)))
    ap.add_argument("--matrix", default="docs/RFC-COVERAGE.md", help="relative to --root")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    checks = run_checks(os.path.abspath(args.root), args.matrix)
    passed = sum(c.ok for c in checks)
    for c in checks:
        if not c.ok:
            print(f"FAIL {c.name}")
            for p in c.problems:
                print(f"    {p}")
        elif args.verbose:
            print(f"PASS {c.name}")
    print(f"{passed} passed, {len(checks) - passed} failed")
    return 0 if passed == len(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
