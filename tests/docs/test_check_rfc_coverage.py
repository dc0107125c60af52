#!/usr/bin/python3
"""Self tests of tests/docs/check_rfc_coverage.py: a checker that cannot fail is a defect.

    /usr/bin/python3 tests/docs/test_check_rfc_coverage.py [-v]

Each case builds a small tree in a temporary directory (a source file, doctest, conformance,
hostile and interop test files, a matrix), breaks one thing, and asserts that the checker
reports exactly that kind of failure — and that the unbroken tree passes. Standard library
only; the last line is "N passed, N failed"; exit status 1 if any failed.
"""
import contextlib
import io
import os
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_rfc_coverage as checker  # noqa: E402

FILES = {
    "ws/foo.cpp": (
        "// RFC 6455 §5.2: a rule; RFC 9110 §7.8 is another RFC's and is ignored.\n"
        "// (RFC 6455 §5 is covered by the §5.2 row.)\n"
        "int Foo::bar(int x) { return x; }\n"
        "int baz(int y) { return y; }\n"),
    "ws/foo.h": "class Widget {\n public:\n  void spin() {}\n};\n",
    "tests/unit/test_foo.cpp": (
        'TEST_CASE("alpha one") {\n  SUBCASE("beta") {}\n}\n'
        'TEST_CASE(\n    "multi "\n    "line") {}\n'),
    "tests/conformance/run.py": (
        "import sys\n"
        "if '--list' in sys.argv:\n"
        "    print('1.1 a case [RFC 6455 §5.2]')\n"
        "    print('2.3.4 another case')\n"),
    "tests/hostile/attack_x.py": (
        '@case("a hostile case with a long name", "expect: close 1002")\n'
        "def _(h):\n    pass\n"),
    "tests/interop/test_y.py": '@test("an interop test")\ndef _(v):\n    pass\n',
}

HEADER = "| id | § | requirement | side | enforced in | tests | status |\n|---|---|---|---|---|---|---|\n"
ROWS = [
    "| R6455-5.2-a | §5.2 | Reserved bits are zero unless negotiated. | server | "
    "`ws/foo.cpp` `Foo::bar`, `baz` | `tests/unit/test_foo.cpp` \"alpha one\"<br>"
    "conformance `1.1`, `2.3.4` | enforced |",
    "| R6455-5.3-a | §5.3 | A class method found through its class declaration. | both | "
    "`ws/foo.h` `Widget::spin` | `tests/unit/test_foo.cpp` \"beta\" / \"multi line\"<br>"
    "`tests/hostile/attack_x.py` \"a hostile case\"<br>`tests/interop/test_y.py` "
    "\"an interop test\" | enforced |",
    "| R6455-4.1-a | §4.1 | A client rule nobody here implements. | client | — | — | "
    "n/a: no client in this tree |",
]


def totals(rows=3, enforced=2, tested=2, na=1, relaxed=0, not_enforced=0):
    return (f"**Totals:** rows: {rows}, enforced: {enforced}, tested: {tested}, "
            f"not applicable: {na}, relaxed: {relaxed}, not enforced: {not_enforced}\n")


def matrix(rows=None, head=None):
    return (totals() if head is None else head) + "\n" + HEADER + \
        "\n".join(ROWS if rows is None else rows) + "\n"


def build(root, files=None, doc=None):
    for rel, text in dict(FILES, **(files or {})).items():
        if text is None:
            continue
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    path = os.path.join(root, "docs/RFC-COVERAGE.md")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(matrix() if doc is None else doc)


def problems(files=None, doc=None):
    """Every problem the checker reports for the tree, as 'check name: problem' lines."""
    with tempfile.TemporaryDirectory() as root:
        build(root, files, doc)
        checks = checker.run_checks(root)
    return [f"{c.name}: {p}" for c in checks for p in c.problems]


def replace_row(i, old, new):
    rows = list(ROWS)
    assert old in rows[i], (old, rows[i])
    rows[i] = rows[i].replace(old, new)
    return rows


CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


def expect_one(found, *needles):
    """Exactly one problem, and it holds every needle."""
    assert len(found) == 1, f"expected one problem, got {found}"
    for n in needles:
        assert n in found[0], f"{n!r} not in {found[0]!r}"


@case("the unbroken tree passes every check")
def _():
    assert problems() == [], problems()


@case("a file named in 'enforced in' that does not exist")
def _():
    expect_one(problems(doc=matrix(replace_row(0, "`ws/foo.cpp`", "`ws/gone.cpp`"))),
               "ws/gone.cpp: no such file")


@case("a function that does not occur in its file")
def _():
    expect_one(problems(doc=matrix(replace_row(0, "`baz`", "`qux`"))),
               "function qux does not occur")


@case("Class::name: neither defined so nor declared in a class of that name")
def _():
    expect_one(problems(doc=matrix(replace_row(1, "`Widget::spin`", "`Gadget::spin`"))),
               "function Gadget::spin does not occur")


@case("a doctest TEST_CASE name that does not exist")
def _():
    expect_one(problems(doc=matrix(replace_row(0, '"alpha one"', '"alpha two"'))),
               'no TEST_CASE or SUBCASE "alpha two"')


@case("a SUBCASE name that does not exist (the TEST_CASE beside it does)")
def _():
    expect_one(problems(doc=matrix(replace_row(1, '"beta"', '"gamma"'))),
               'no TEST_CASE or SUBCASE "gamma"')


@case("a test file that does not exist")
def _():
    expect_one(problems(doc=matrix(replace_row(0, "tests/unit/test_foo.cpp",
                                               "tests/unit/test_bar.cpp"))),
               "tests/unit/test_bar.cpp: no such file")


@case("a conformance case id that run.py --list does not print")
def _():
    expect_one(problems(doc=matrix(replace_row(0, "`2.3.4`", "`2.3.5`"))),
               "conformance case 2.3.5 does not exist")


@case("conformance ids named while tests/conformance/run.py is missing")
def _():
    with tempfile.TemporaryDirectory() as root:
        build(root)
        os.remove(os.path.join(root, "tests/conformance/run.py"))
        checks = checker.run_checks(root)
    found = [p for c in checks for p in c.problems]
    assert len(found) == 2 and all("run.py does not exist" in p for p in found), found


@case("a hostile @case whose name does not start so")
def _():
    expect_one(problems(doc=matrix(replace_row(1, '"a hostile case"', '"a friendly case"'))),
               'tests/hostile/attack_x.py: no @case("a friendly case...")')


@case("an interop @test that does not exist")
def _():
    expect_one(problems(doc=matrix(replace_row(1, '"an interop test"', '"another test"'))),
               'tests/interop/test_y.py: no @test("another test...")')


@case("an enforced row with no test")
def _():
    rows = replace_row(0, '`tests/unit/test_foo.cpp` "alpha one"<br>conformance `1.1`, `2.3.4`',
                       "—")
    expect_one(problems(doc=matrix(rows, totals(tested=1))), "enforced, but names no test")


@case("an enforced row with no file and function")
def _():
    rows = replace_row(0, "`ws/foo.cpp` `Foo::bar`, `baz`", "—")
    expect_one(problems(doc=matrix(rows)), "names no file and function")


@case("totals that do not match the rows")
def _():
    expect_one(problems(doc=matrix(head=totals(enforced=3))),
               "enforced: the header says 3, the rows give 2")


@case("no totals line at all")
def _():
    expect_one(problems(doc=matrix(head="")), "no '**Totals:**")


@case("a code comment citing a section with no row")
def _():
    found = problems(files={"net/bar.cpp": "// RFC 6455 §5.2 and §7.4.1: two sections.\n"
                                           "// RFC 7692 §6: compressed bit.\n"})
    assert len(found) == 2, found
    assert any("RFC 6455 §7.4.1 (cited at net/bar.cpp:1) has no row" in p for p in found), found
    assert any("RFC 7692 §6 (cited at net/bar.cpp:2) has no row" in p for p in found), found


@case("a section cited in bench/ and apps/ counts too; other RFCs and non-comments do not")
def _():
    found = problems(files={"bench/load/x.h": "// RFC 6455 §10.4: limits\n",
                            "apps/y.cpp": 'const char* s = "RFC 6455 §11.7";  // RFC 9110 §5\n'})
    expect_one(found, "RFC 6455 §10.4 (cited at bench/load/x.h:1) has no row")


@case("duplicate row ids")
def _():
    rows = ROWS + [ROWS[2]]
    found = problems(doc=matrix(rows, totals(rows=4, na=2)))
    expect_one(found, "R6455-4.1-a on lines")


@case("malformed rows: bad id, § not matching the id, bad side, status without a reason")
def _():
    bad = [
        replace_row(2, "R6455-4.1-a", "R6455-4.1")[2],
        replace_row(2, "| §4.1 |", "| §4.2 |")[2].replace("R6455-4.1-a", "R6455-4.1-b"),
        replace_row(2, "| client |", "| proxy |")[2].replace("R6455-4.1-a", "R6455-4.1-c"),
        replace_row(2, "n/a: no client in this tree", "n/a")[2].replace("R6455-4.1-a",
                                                                         "R6455-4.1-d"),
        replace_row(2, "n/a: no client in this tree", "maybe")[2].replace("R6455-4.1-a",
                                                                           "R6455-4.1-e"),
    ]
    found = problems(doc=matrix(ROWS[:2] + bad, totals(rows=7, na=4)))
    wanted = ["is not like R6455-5.2-a", "differs from the § column", "is not server, client or both",
              "status n/a without a reason", "status 'maybe' is not"]
    assert len(found) == len(wanted), found
    for w in wanted:
        assert any(w in p for p in found), (w, found)


@case("a row with the wrong number of cells")
def _():
    rows = ROWS + ["| R6455-5.4-a | §5.4 | too few cells | server |"]
    found = problems(doc=matrix(rows, totals(rows=4)))
    assert any("4 cells, expected 7" in p for p in found), found
    assert any("malformed table row" in p for p in found), found


@case("main(): FAIL lines, the closing 'N passed, N failed' line, exit status 1")
def _():
    with tempfile.TemporaryDirectory() as root:
        build(root, doc=matrix(head=totals(rows=9)))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = checker.main(["--root", root])
    lines = out.getvalue().splitlines()
    assert rc == 1, rc
    assert "FAIL totals line matches the rows" in lines, lines
    assert lines[-1] == "6 passed, 1 failed", lines[-1]


@case("the repository's own matrix passes")
def _():
    checks = checker.run_checks(os.path.dirname(os.path.dirname(HERE)))
    bad = [f"{c.name}: {p}" for c in checks for p in c.problems]
    assert not bad, "\n".join(bad[:20])
    assert len(checks) > 100, len(checks)


def main():
    verbose = "-v" in sys.argv[1:]
    passed = failed = 0
    for name, fn in CASES:
        try:
            fn()
            passed += 1
            if verbose:
                print(f"PASS {name}")
        except Exception:  # noqa: BLE001 — a case's failure is reported, not raised
            failed += 1
            print(f"FAIL {name}")
            print("    " + traceback.format_exc().strip().replace("\n", "\n    "))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
