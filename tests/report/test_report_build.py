"""The HTML report: escaping, self-contained page, merge with a changes view, bad files."""
from __future__ import annotations

import copy
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from markupsafe import escape

from lossconform.reports import build as report_build
from benchmarks.report_build import synthetic_results
from lossconform.reports.build import build, main, script_json
from lossconform.reports.compact import encode_records

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURE = HERE / "fixtures" / "small_results.json"
EVIL = "<script>window.__pwned=1</script>"


def _fixture() -> dict:
    return json.loads(FIXTURE.read_text())


def _write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _data_block(html: str) -> dict:
    """The page data: the matrix's block and the drill-down's, as one dict (columns merged)."""
    m = re.search(r'<script type="application/json" id="lc-data">(.*?)</script>', html, re.S)
    d = re.search(r'<script type="application/json" id="lc-detail">(.*?)</script>', html, re.S)
    assert m and d, "no data blocks"
    main, detail = json.loads(m.group(1)), json.loads(d.group(1))
    return {**main, **detail, "cols": {**main["cols"], **detail["cols"]}}


@pytest.fixture
def page(tmp_path: Path) -> str:
    out = tmp_path / "report.html"
    assert not build([FIXTURE], out).errors
    return out.read_text()


def test_hostile_strings_are_escaped(page: str) -> None:
    # The only <script> elements are the page's own three: the data blocks and the code.
    assert re.findall(r"<script\b[^>]*>", page) == [
        '<script type="application/json" id="lc-data">',
        '<script type="application/json" id="lc-detail">', "<script>"]
    assert EVIL not in page and "window.__pwned=2</script>" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;window.__pwned=4&lt;/script&gt;" in page  # registry text, escaped
    assert "&lt;b&gt;topic&lt;/b&gt;" in page  # a convention topic from a framework
    assert 'href="javascript:' not in page
    data = _data_block(page)  # still valid JSON that decodes back to the hostile text
    assert "softmax-" + EVIL in data["strings"]
    assert any("window.__pwned=2" in s for s in data["strings"])


def test_script_json_cannot_close_the_element() -> None:
    text = str(script_json({"a": "</script><!-- & \u2028"}))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028"}


def test_page_is_self_contained(page: str) -> None:
    assert not re.search(r"""\bsrc\s*=\s*["']?(https?:)?//""", page, re.I)
    assert not re.search(r"""<link\b[^>]*\bhref\s*=\s*["']?(https?:)?//""", page, re.I)
    assert not re.search(r"@import", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page, re.I)
    assert "<link" not in page and "<iframe" not in page
    assert "default-src 'none'" in page  # and the browser is told to load nothing else


def test_header_totals_and_verdict_line(page: str) -> None:
    # 43 records, one of them unsupported: 42 checks, the unsupported one counted apart
    assert "1 failure among 42 checks" in page
    assert re.search(r'class="verdict-line bad" id="verdict-line">1 failure among 42 checks '
                     r'— run failed \(exit status 1\)<', page)
    assert "+ 1 combination the entry points cannot express" in page
    assert '<li class="checks">checks: <b>42</b></li>' in page
    # an older file (no test counts): its status is read from its exit status, and said
    assert "test counts not recorded" in page and "the file says &#39;complete&#39;" in page
    assert "fixture-host" in page and "1234" in page
    assert "beta-clip-eps" in page and "Beta renormalises" in page
    # the accuracy plots are inline SVG, one per dtype present
    assert page.count("<svg") == 2


def test_all_agree_verdict_line(tmp_path: Path) -> None:
    doc = _fixture()
    doc["records"] = [r for r in doc["records"] if r["verdict"] != "fail"]
    doc["exitstatus"] = 0
    out = tmp_path / "ok.html"
    build([_write(tmp_path / "ok.json", doc)], out)
    assert 'class="verdict-line good" id="verdict-line">41 checks: all agree or explained<' \
        in out.read_text()


def test_no_failure_but_a_failed_exit_status_is_not_green(tmp_path: Path) -> None:
    """No fail verdict, yet pytest exited 1 (a test failed outside the checks): not green."""
    doc = _fixture()
    doc["records"] = [r for r in doc["records"] if r["verdict"] != "fail"]
    out = tmp_path / "ok.html"
    build([_write(tmp_path / "ok.json", doc)], out)
    html = out.read_text()
    assert "all agree or explained" not in html
    assert 'class="verdict-line bad" id="verdict-line">41 checks, none failed — run failed ' \
           '(exit status 1)<' in html


def test_merge_two_runs_with_changes_view(tmp_path: Path) -> None:
    first = _fixture()
    second = copy.deepcopy(first)
    second["environment"]["hostname"] = "other-host"
    second["frameworks"]["alpha"]["version"] = "2.14.0"
    for r in second["records"]:
        r["framework_version"] = "2.14.0" if r["framework"] == "alpha" else r["framework_version"]
        if r["id"] == "sigmoid-tiny-3x3" and r["verdict"] == "fail":
            r["verdict"], r["max_ulp"] = "agree", 1.0  # fixed
        elif r["verdict"] == "divergence" and r["kind"] == "forward":
            r["verdict"], r["divergence"] = "agree", None  # fixed divergence
        elif r["id"] == "softmax-normal-4x5" and r["dtype"] == "float32" and \
                r["entry_point"] == "beta.nn.softmax" and r["kind"] == "forward":
            r["verdict"], r["message"] = "fail", "now fails"  # a new failure
        elif r["id"] == "softmax-large_logits-4x5" and r["dtype"] == "float32" and \
                r["entry_point"] == "alpha.softmax" and r["kind"] == "gradient":
            r["max_ulp"] = 5.0  # 1 -> 5 ULP: accuracy worse beyond 2x
    a, b = _write(tmp_path / "a.json", first), _write(tmp_path / "b.json", second)
    out = tmp_path / "merged.html"
    rc = main(["merge", str(a), str(b), "-o", str(out), "--label", "baseline"])
    assert rc == 0
    html = out.read_text()
    assert 'id="changes"' in html
    counts = dict(re.findall(r"<li>([^<:]+): <b>(\d+)</b></li>", html))
    assert counts["new failures"] == "1"
    assert counts["fixed failures"] == "1"
    assert counts["fixed divergences"] == "1"
    assert counts["accuracy worse &gt; 2x"] == "1"
    assert counts["only in this run"] == "0" and counts["only in the first run"] == "0"
    data = _data_block(html)
    assert [r["label"] for r in data["runs"]][0] == "baseline"
    assert "alpha 2.14.0" in data["runs"][1]["label"] and "other-host" in data["runs"][1]["label"]
    assert data["n"] == 2 * len(first["records"]) and set(data["cols"]["run"]) == {0, 1}


@pytest.mark.parametrize("content, problem", [
    ("{broken", "malformed JSON"),
    (json.dumps({"schema": "something-else", "schema_version": 1, "records": []}),
     "not a lossconform results file"),
    ("MISSING", "record #3 lacks required field 'verdict'"),
])
def test_bad_file_is_named_and_the_good_one_still_builds(tmp_path: Path, content: str,
                                                          problem: str) -> None:
    if content == "MISSING":
        doc = _fixture()
        del doc["records"][3]["verdict"]
        content = json.dumps(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = tmp_path / "out.html"
    proc = subprocess.run(
        [sys.executable, "-m", "reports", "build", str(FIXTURE), str(bad), "-o", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert str(bad) in proc.stderr and problem in proc.stderr
    html = out.read_text()
    assert "42 checks" in html and "Files left out" in html and str(escape(problem)) in html


def test_builds_outside_the_repository(tmp_path: Path) -> None:
    """The templates come from the package itself, not from a top-level ``reports`` that is
    importable only in the repository root."""
    out = tmp_path / "out.html"
    proc = subprocess.run(
        [sys.executable, "-m", "lossconform.reports", "build", str(FIXTURE), "-o", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "42 checks" in out.read_text()


def test_no_readable_file_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    out = tmp_path / "out.html"
    assert main(["build", str(bad), "-o", str(out)]) == 2
    assert not out.exists()


def test_merge_needs_two_files(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["merge", str(FIXTURE)])
    assert info.value.code == 2
    assert "two or more" in capsys.readouterr().err


def test_help_states_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    assert "no file could be read" in capsys.readouterr().out


def test_embedded_data_is_columnar_and_compact(tmp_path: Path) -> None:
    doc = synthetic_results(2000)
    path = _write(tmp_path / "synthetic.json", doc)
    out = tmp_path / "synthetic.html"
    assert not build([path], out).errors
    data = _data_block(out.read_text())
    assert data["n"] == 2000
    assert all(len(v) in (0, 2000) for v in data["cols"].values())
    # strings are interned: far fewer distinct strings than string cells
    assert len(data["strings"]) < 2000 * 4
    assert len(data["objects"]) < 2000


def test_record_less_results_build(tmp_path: Path) -> None:
    doc = _fixture()
    doc["records"] = []
    out = tmp_path / "empty.html"
    doc["exitstatus"] = 0
    assert not build([_write(tmp_path / "empty.json", doc)], out).errors
    html = out.read_text()
    assert 'class="verdict-line warn" id="verdict-line">No checks recorded<' in html
    assert "all agree or explained" not in html


def test_templates_are_package_data() -> None:
    templates = Path(report_build.__file__).with_name("templates")
    assert {p.name for p in templates.iterdir()} >= {"report.html.j2", "report.css", "report.js"}
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"lossconform.reports" = ["templates/*"]' in pyproject


def test_cells_carry_tolerance_used_and_the_legend_explains_it(page: str) -> None:
    data = _data_block(page)
    fixture = _fixture()["records"]
    tu = data["cols"]["tu"]
    assert len(tu) == len(fixture)
    for got, rec in zip(tu, fixture):
        want = rec["tolerance_used"]
        if want is None or isinstance(want, str):
            assert got == want
        else:
            assert float(got) == pytest.approx(want, rel=1e-2)
    assert "The number in a cell is the tolerance used" in page
    assert "≤ 1 is within tolerance" in page
    assert "marked <code>u</code>" not in page  # every record with an error has one


def test_records_without_tolerance_used_fall_back_to_ulp(tmp_path: Path) -> None:
    doc = _fixture()
    for r in doc["records"]:
        del r["tolerance_used"]
    out = tmp_path / "old.html"
    assert not build([_write(tmp_path / "old.json", doc)], out).errors
    html = out.read_text()
    assert "marked <code>u</code>" in html
    assert all(x is None for x in _data_block(html)["cols"]["tu"])


def _repro(data: dict, i: int) -> str | None:
    """Record i's repro snippet from the page data, as the page makes it: its template's
    lines joined, the record's case id and dtype filled in."""
    k = data["cols"]["repro"][i]
    if k < 0:
        return None
    text = "\n".join(data["repro_lines"][j] for j in data["repro_texts"][k])
    case_id = data["strings"][data["cols"]["id"][i]]
    dtype = data["strings"][data["cols"]["dt"][i]]
    return re.sub("\x00([\x00-\x08])", lambda m: {"\x00": "\x00", "\x01": case_id,
                                                  "\x02": dtype}.get(m.group(1), m.group(0)),
                  text)


@pytest.mark.parametrize("version", [1, 2])
def test_repros_and_test_ids_are_stored_once_in_pieces(tmp_path: Path, version: int) -> None:
    doc = synthetic_results(400)
    for r in doc["records"]:  # as the suite writes them: forward and gradient share a repro
        r["sample"] = {"shape": [2], "values": [0.5, 0.25]}
        r["output_dtype"] = r["dtype"]
    doc["records"][7]["repro"] = ""
    path = tmp_path / "s.json"
    if version == 1:
        _write(path, {**doc, "schema_version": 1})
    else:
        from lossconform.reports.pytest_plugin import write_atomic
        write_atomic(path, {**doc, "records": encode_records(doc["records"])})
    out = tmp_path / "s.html"
    assert not build([path], out).errors
    data = _data_block(out.read_text())
    strings, cols = data["strings"], data["cols"]
    for i, rec in enumerate(doc["records"]):
        assert _repro(data, i) == (rec["repro"] or None)
        assert "".join(strings[j] for j in data["nodes"][cols["node"][i]]) == rec["nodeid"]
        assert strings[data["xcols"]["output_dtype"]["v"][i]] == rec["dtype"]
    # each entry point's snippet once, whatever the case and dtype
    assert len(data["repro_texts"]) < len({r["repro"] for r in doc["records"]}) / 3
    # samples serve the pairwise view at build time; they are not page data
    assert "sample" not in data["xcols"]


def test_sample_distance_is_norm_wise_and_names_shape_differences() -> None:
    sd = report_build.sample_distance
    a = {"shape": [3], "values": [1.0, 1e-30, 0.5]}
    b = {"shape": [3], "values": [1.0, 2e-30, 0.5 + 2.0**-23]}
    assert sd(a, b, "float32") == pytest.approx(1.0)  # not millions of ULP at 1e-30
    assert sd(a, {"shape": [1], "values": [1.0]}, "float32") == report_build.SHAPES_DIFFER
    c = {"shape": [3], "values": [1.0, "inf", 0.5]}
    assert sd(a, c, "float32") == report_build.NONFINITE_DIFFERS
    assert sd(c, c, "float32") == 0.0


def test_pairwise_counts_cases_whose_shapes_differ(tmp_path: Path) -> None:
    doc = _fixture()
    shapes = {"alpha.softmax": [4, 5], "alpha.nn.functional.softmax": [4, 5], "beta.nn.softmax": [4]}
    for r in doc["records"]:
        if r["op"] == "softmax":
            shape = shapes[r["entry_point"]]
            r["sample"] = {"shape": shape, "values": [0.25, 0.5]}
    out = tmp_path / "pw.html"
    assert not build([_write(tmp_path / "pw.json", doc)], out).errors
    html = out.read_text()
    assert "shapes differ in 6 of 6" in html  # 3 cases x forward/gradient, per dtype
    assert '<td class="num">shapes differ</td>' in html
    assert "6 cases compared" in html


def test_links_in_free_text_become_links_and_notes() -> None:
    parts = report_build.link_parts(
        "https://a.example/x.py (fn: y); javascript:alert(1) https://b.example/z")
    assert [(p["text"], p["href"]) for p in parts] == [
        ("https://a.example/x.py", "https://a.example/x.py"), (" (fn: y); javascript:alert(1) ", None),
        ("https://b.example/z", "https://b.example/z")]


def test_forked_summaries_build_the_same_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large builds compute pairwise tables and plots in a forked child: same page as in-process."""
    import reports.build as B

    serial, forked = tmp_path / "serial.html", tmp_path / "forked.html"
    monkeypatch.setattr(B, "PARALLEL_MIN_RECORDS", 10**9)
    B.build([FIXTURE], serial)
    monkeypatch.setattr(B, "PARALLEL_MIN_RECORDS", 0)
    B.build([FIXTURE], forked)
    assert serial.read_bytes() == forked.read_bytes()


# -- what the page claims: checks, statuses ------------------------------------------------
def _run_fields(doc: dict, status: str, exitstatus: int, collected: int, reported: int,
                lost: list[str] = (), crashed: list[str] = ()) -> dict:
    doc.update(status=status, exitstatus=exitstatus, run_id="0" * 31 + "1",
               tests={"collected": collected, "reported": reported, "lost": list(lost),
                      "crashed": list(crashed)},
               checks={"recorded": len(doc["records"])})
    return doc


def _headline(html: str) -> tuple[str, str]:
    m = re.search(r'<p class="verdict-line (\w+)" id="verdict-line">([^<]*)</p>', html)
    assert m, "no verdict line"
    return m.group(1), m.group(2)


@pytest.mark.parametrize("status, exitstatus, fails, tests, expected", [
    ("complete", 0, False, (40, 40), ("good", "41 checks: all agree or explained")),
    ("failed", 1, True, (40, 40), ("bad", "1 failure among 42 checks — run failed (exit status 1)")),
    ("failed", 1, False, (40, 40), ("bad", "41 checks, none failed — run failed (exit status 1)")),
    ("interrupted", 2, True, (40, 12, ["t.py::a"]),
     ("bad", "Interrupted (exit status 2): 12 of 40 tests ran, 1 test lost (t.py::a); "
             "1 failure among 42 checks recorded — results are partial")),
    ("terminated", 129, False, (40, 12, ["t.py::a", "t.py::b"]),
     ("warn", "Terminated by SIGHUP (exit status 129): 12 of 40 tests ran, 2 tests lost "
              "(t.py::a, t.py::b); 41 checks recorded, none failed — results are partial")),
    ("error", 3, False, (0, 0),
     ("bad", "Pytest error (exit status 3: internal error): no tests collected; 41 checks "
             "recorded, none failed — results are partial")),
    # before the run fields: "complete" with exit status 1 had failed tests
    ("complete", 1, False, None, ("bad", "41 checks, none failed — run failed (exit status 1)")),
    ("failed", 4, False, None, ("bad", "Pytest error (exit status 4: usage error); 41 checks "
                                       "recorded, none failed — results are partial")),
    ("complete", None, False, None,
     ("warn", "41 checks, none failed — run complete (exit status not recorded)")),
])
def test_the_headline_says_how_the_run_ended(tmp_path: Path, status: str, exitstatus: int | None,
                                             fails: bool, tests: tuple | None,
                                             expected: tuple[str, str]) -> None:
    doc = _fixture()
    if not fails:
        doc["records"] = [r for r in doc["records"] if r["verdict"] != "fail"]
    doc["status"] = status
    if exitstatus is None:
        del doc["exitstatus"]
    else:
        doc["exitstatus"] = exitstatus
    if tests is not None:
        _run_fields(doc, status, exitstatus, *tests)
    out = tmp_path / "r.html"
    assert not build([_write(tmp_path / "r.json", doc)], out).errors
    assert _headline(out.read_text()) == expected


def test_a_document_that_contradicts_itself_is_not_green(tmp_path: Path) -> None:
    doc = _fixture()
    doc["records"] = [r for r in doc["records"] if r["verdict"] != "fail"]
    _run_fields(doc, "complete", 0, 40, 40)
    doc["checks"]["recorded"] = 100  # the writer says 100 records; the file holds 42
    out = tmp_path / "r.html"
    build([_write(tmp_path / "r.json", doc)], out)
    assert _headline(out.read_text()) == (
        "bad", "41 checks, none failed — the document says 100 records were written and "
               "holds 42")


def test_unsupported_records_are_counted_apart_everywhere(page: str) -> None:
    assert "+ 1 combination the entry points cannot express" in page
    runs_row = re.search(r'<section id="runs">.*?</section>', page, re.S).group(0)
    assert "unsupported (not checks)" in runs_row and "<td>42</td>" in runs_row
    # pairwise: the entry point whose only record is unsupported has 0 checks, 1 n/a
    assert re.search(r"<td>alpha\.nn\.functional\.cross_entropy</td><td>0 "
                     r'<span class="muted">\+1 n/a</span></td>', page)
    assert "it is no check and is counted apart from the checks" in page  # the legend


# -- record types ---------------------------------------------------------------------------
def _deep(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = {"x": value}
    return value


@pytest.mark.parametrize("field, value, problem", [
    ("op", 3, "field 'op' is the number 3, expected a string"),
    ("framework", True, "field 'framework' is true, expected a string"),
    ("dtype", {"name": "float32"}, "field 'dtype' is an object, expected a string"),
    ("kind", None, "field 'kind' is null, expected a string"),
    ("divergence", 1, "field 'divergence' is the number 1, expected a string or null"),
    ("max_abs_err", "big", "field 'max_abs_err' is the string 'big', expected a number, one "
                           'of "inf", "-inf", "nan" or null'),
    ("tolerance_used", False, "field 'tolerance_used' is false"),
    ("case", "softmax", "field 'case' is the string 'softmax', expected an object or null"),
    ("case", _deep(33), "field 'case' is nested deeper than 32 levels"),
    ("tolerance", [1e-5], "field 'tolerance' is a list, expected an object or null"),
    ("worst", 0.5, "field 'worst' is the number 0.5, expected an object or null"),
    ("worst", {"index": _deep(40)}, "field 'worst' is nested deeper than 32 levels"),
    ("sample", "0.5 0.25", "field 'sample' is the string '0.5 0.25', expected an object"),
    ("repro", ["import x"], "field 'repro' is a list, expected a string"),
    ("plugin_extra", _deep(40), "field 'plugin_extra' is nested deeper than 32 levels"),
])
def test_a_record_field_of_the_wrong_type_makes_the_file_invalid(field: str, value: object,
                                                                 problem: str) -> None:
    from lossconform.reports.results import ResultsError, validate

    doc = _fixture()
    doc["records"][7][field] = value
    with pytest.raises(ResultsError) as info:
        validate(doc, "x.json")
    assert str(info.value).startswith(f"x.json: record #7: {problem}"), str(info.value)
    assert "\n" not in str(info.value)


def test_the_first_bad_record_is_named_whatever_its_field() -> None:
    from lossconform.reports.results import ResultsError, validate

    doc = _fixture()
    doc["records"][9]["op"] = None
    doc["records"][4]["max_ulp"] = "x"
    with pytest.raises(ResultsError, match=r"record #4: field 'max_ulp'"):
        validate(doc, "x.json")


def test_what_an_object_holds_is_read_defensively(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The members of worst, tolerance and sample are not type-checked (only how deep they
    nest): the page is built whatever they hold, in-process and in the forked child."""
    import reports.build as B

    doc = _fixture()
    for i, rec in enumerate(doc["records"]):
        rec["sample"] = [{"values": 3, "shape": {"a": 1}}, {"values": "x"}, {}][i % 3]
        rec["worst"] = {"index": "i", "expected": [1], "actual": {"x": None}}
        rec["tolerance"] = {"rtol": "tight", "overrides": 3}
    path = _write(tmp_path / "odd.json", doc)
    for limit in (10**9, 0):
        monkeypatch.setattr(B, "PARALLEL_MIN_RECORDS", limit)
        out = tmp_path / f"odd-{limit}.html"
        assert not B.build([path], out).errors
        assert "1 failure among 42 checks" in out.read_text()


def test_records_of_the_right_types_pass() -> None:
    from lossconform.reports.results import MAX_DEPTH, validate

    doc = _fixture()
    rec = doc["records"][0]
    rec.update(max_ulp=3, max_abs_err="inf", max_rel_err="-inf", tolerance_used="nan",
               eval_seconds=None, case=_deep(MAX_DEPTH), worst={"index": [], "note": {"a": [1]}},
               sample={"shape": [2], "values": ["nan", 1, 2.5]}, plugin_extra={"deep": _deep(5)},
               tolerance=_deep(MAX_DEPTH))
    assert validate(doc, "x.json")["records"][0]["plugin_extra"] == {"deep": _deep(5)}


def test_a_bad_file_in_a_large_merge_is_left_out(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Large builds check the records' types while a forked child computes the summaries:
    a file that fails is still named and left out, and the page made from the others."""
    import reports.build as B

    monkeypatch.setattr(B, "PARALLEL_MIN_RECORDS", 0)
    raised = []
    check = B._check_runs

    def spy(runs: list) -> None:
        try:
            check(runs)
        except B.InvalidRuns as exc:
            raised.append(exc)
            raise

    monkeypatch.setattr(B, "_check_runs", spy)
    bad_doc = _fixture()
    bad_doc["records"][3]["max_ulp"] = [1.0]  # the child's summaries trip over it
    bad_doc["environment"]["hostname"] = "bad-host"
    good_doc = _fixture()
    good_doc["environment"]["hostname"] = "second-host"
    paths = [FIXTURE, _write(tmp_path / "bad.json", bad_doc), _write(tmp_path / "b.json", good_doc)]
    out = tmp_path / "r.html"
    result = B.build(paths, out, labels=["first", "the bad one", "third"])
    assert [str(e) for e in result.errors] == [
        f"{paths[1]}: record #3: field 'max_ulp' is a list, expected a number, one of "
        '"inf", "-inf", "nan" or null']
    assert [(r.short, r.label) for r in result.runs] == [("R1", "first"), ("R2", "third")]
    html = out.read_text()
    assert "Files left out" in html and "bad-host" not in html
    assert _data_block(html)["n"] == 2 * len(good_doc["records"])
    assert len(raised) == 1  # found while the child worked, not when the file was read
    # and the only file bad: nothing written
    lone = tmp_path / "lone.html"
    result = B.build([paths[1]], lone)
    assert not result.runs and len(result.errors) == 1 and not lone.exists()


def test_labels_stay_with_their_files_when_one_is_left_out(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{broken")
    second = _fixture()
    second["environment"]["hostname"] = "other-host"
    result = build([bad, FIXTURE, _write(tmp_path / "b.json", second)], tmp_path / "r.html",
                   labels=["for the bad file", "A", "B"])
    assert [r.label for r in result.runs] == ["A", "B"]


def test_the_same_run_given_twice_is_skipped(tmp_path: Path) -> None:
    result = build([FIXTURE, FIXTURE], tmp_path / "r.html")
    assert not result.errors and len(result.runs) == 1
    assert [str(s) for s in result.skipped] == [f"{FIXTURE}: skipped: same run as {FIXTURE} "
                                                "(the same file)"]
    html = (tmp_path / "r.html").read_text()
    assert "1 failure among 42 checks" in html and "skipped: same run as" in html


# -- where the page goes --------------------------------------------------------------------
def test_output_errors_are_one_line_and_leave_nothing(tmp_path: Path) -> None:
    from lossconform.reports.output import OutputError

    (tmp_path / "file").write_text("x")
    for out, problem in [(tmp_path, "is a directory"),
                         (tmp_path / "file" / "r.html", f"{tmp_path / 'file'} is not a directory"),
                         (f"{tmp_path}/new/", "the path names a directory")]:
        with pytest.raises(OutputError) as info:
            build([FIXTURE], out)
        assert str(info.value) == f"cannot write {out}: {problem}" or \
            str(info.value).startswith(f"cannot write {out}: {problem}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_output_fifo_without_a_reader_fails_instead_of_hanging(tmp_path: Path) -> None:
    from lossconform.reports.output import OutputError

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="no such device or address"):
        build([FIXTURE], fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_main_says_one_line_for_an_output_problem(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(FIXTURE), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: cannot write {tmp_path}: is a directory (give a file name, e.g. " \
                  f"{tmp_path / 'report.html'}); no report written\n"


def test_integers_beyond_64_bits_next_to_nan_still_build(tmp_path: Path) -> None:
    """NaN sends the file to the standard parser, which keeps integers of any size: the
    page data (orjson) still writes them, and stays valid JSON."""
    doc = _fixture()
    doc["records"][0]["case"]["big"] = 10**30
    doc["records"][1]["max_ulp"] = float("nan")  # json.dumps writes the literal NaN
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "big.html"
    assert not build([path], out).errors
    for block in ("lc-data", "lc-detail"):
        data = json.loads(re.search(f'id="{block}">(.*?)</script>', out.read_text(),
                                    re.S).group(1),
                          parse_constant=lambda c: pytest.fail(f"{c} in the page data"))
    assert {"big": 1e30}.items() <= data["objects"][0].items()  # the detail block's


def test_no_fork_from_a_multithreaded_process(monkeypatch):
    """The summaries are computed in a forked child only when this process has one thread: a
    fork from a process holding a multithreaded library's threads may deadlock."""
    import threading

    from lossconform.reports import build as B

    assert B._single_threaded() in (True, False)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    try:
        assert B._single_threaded() is False
        forked = []
        monkeypatch.setattr(B.multiprocessing, "get_context",
                            lambda *a: forked.append(a) or (_ for _ in ()).throw(OSError()))
        monkeypatch.setattr(B, "PARALLEL_MIN_RECORDS", 0)
        monkeypatch.setattr(B, "_summaries", lambda runs: ("p", "a", "v"))
        monkeypatch.setattr(B, "_check_runs", lambda runs: None)
        monkeypatch.setattr(B, "_data_blocks", lambda data: "d")
        monkeypatch.setattr(B, "embedded_data", lambda runs: {})
        assert B._summaries_and_data([], 10) == ("p", "a", "v", "d")
        assert forked == []  # never asked for a fork context
    finally:
        stop.set()
        t.join()
