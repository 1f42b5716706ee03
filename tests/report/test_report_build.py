"""The HTML report: escaping, self-contained page, merge with a changes view, bad files."""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from markupsafe import escape

from lossconform.reports import build as report_build
from benchmarks.report_build import synthetic_results
from lossconform.reports.build import build, main, script_json

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
    m = re.search(r'<script type="application/json" id="lc-data">(.*?)</script>', html, re.S)
    assert m, "no data block"
    return json.loads(m.group(1))


@pytest.fixture
def page(tmp_path: Path) -> str:
    out = tmp_path / "report.html"
    assert not build([FIXTURE], out).errors
    return out.read_text()


def test_hostile_strings_are_escaped(page: str) -> None:
    # The only <script> elements are the page's own two: the data block and the code.
    assert re.findall(r"<script\b[^>]*>", page) == [
        '<script type="application/json" id="lc-data">', "<script>"]
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
    assert "1 failure among 43 checks" in page
    assert "fixture-host" in page and "1234" in page
    assert "beta-clip-eps" in page and "Beta renormalises" in page
    # the accuracy plots are inline SVG, one per dtype present
    assert page.count("<svg") == 2


def test_all_agree_verdict_line(tmp_path: Path) -> None:
    doc = _fixture()
    doc["records"] = [r for r in doc["records"] if r["verdict"] != "fail"]
    out = tmp_path / "ok.html"
    build([_write(tmp_path / "ok.json", doc)], out)
    assert "42 checks: all agree or explained" in out.read_text()


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
    assert "43 checks" in html and "Files left out" in html and str(escape(problem)) in html


def test_builds_outside_the_repository(tmp_path: Path) -> None:
    """The templates come from the package itself, not from a top-level ``reports`` that is
    importable only in the repository root."""
    out = tmp_path / "out.html"
    proc = subprocess.run(
        [sys.executable, "-m", "lossconform.reports", "build", str(FIXTURE), "-o", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "43 checks" in out.read_text()


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
    assert not build([_write(tmp_path / "empty.json", doc)], out).errors
    assert "0 checks: all agree or explained" in out.read_text()


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


def test_repros_and_test_ids_are_stored_once_in_pieces(tmp_path: Path) -> None:
    doc = synthetic_results(400)
    for r in doc["records"]:  # as the suite writes them: forward and gradient share a repro
        r["repro"] = r["repro"].replace(f"  # {r['kind']}", "")
        r["sample"] = {"shape": [2], "values": [0.5, 0.25]}
        r["output_dtype"] = r["dtype"]
    path = _write(tmp_path / "s.json", doc)
    out = tmp_path / "s.html"
    assert not build([path], out).errors
    data = _data_block(out.read_text())
    strings, cols = data["strings"], data["cols"]
    for i, rec in enumerate(doc["records"]):
        assert "\n".join(strings[j] for j in data["repros"][cols["repro"][i]]) == rec["repro"]
        assert "".join(strings[j] for j in data["nodes"][cols["node"][i]]) == rec["nodeid"]
        assert strings[data["xcols"]["output_dtype"]["v"][i]] == rec["dtype"]
    assert len(data["repros"]) == len({r["repro"] for r in doc["records"]}) < 400
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
