"""The report's findings view: read from the results' divergences section only, escaped,
linked, and absent findings said plainly."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from types import SimpleNamespace

from lossconform.divergences.entry import Divergence, Finding
from lossconform.reports.build import build, link_parts
from lossconform.reports.findings_view import NOT_REPORTED, findings_view

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "small_results.json"
EVIL = "<script>window.__pwned=1</script>"

REPORTED = {
    "title": "beta clips at 1 - 1e-7, which rounds to 1 in float16",
    "repro": "import beta\nprint(beta.loss([1.0], [1.0]).tolist())  # " + EVIL + "\n",
    "measured": "[nan]", "measured_on": "beta 3.1, CPU", "correct": "[0.0]",
    "dtype": "float16", "kind": "forward",
    "upstream": "https://github.com/beta-project/beta/issues/123", "status": "open",
}


def _doc(finding: dict | None = REPORTED, second: object = None) -> dict:
    doc = json.loads(FIXTURE.read_text())
    doc["divergences"][0]["finding"] = copy.deepcopy(finding)
    if second is not None:
        doc["divergences"][1]["finding"] = second
    return doc


def _runs(*docs: dict) -> list:
    return [SimpleNamespace(doc=d, records=d["records"], label=f"run{i}")
            for i, d in enumerate(docs)]


def test_view_lists_findings_only_with_their_counts() -> None:
    doc = _doc(second="not an object")
    rows = findings_view(_runs(doc), link_parts)
    assert [r["id"] for r in rows] == ["beta-clip-eps"]
    row = rows[0]
    assert row["measured"] == "[nan]" and row["correct"] == "[0.0]" and row["reported"]
    assert row["upstream"][0]["href"] == REPORTED["upstream"]
    assert row["explained"] == sum(1 for r in doc["records"]
                                   if r["divergence"] == "beta-clip-eps") > 0


def test_an_unreported_finding_says_so_and_merged_runs_count_once() -> None:
    f = dict(REPORTED, upstream=None, status="")
    rows = findings_view(_runs(_doc(f), _doc(f)), link_parts)
    assert len(rows) == 1
    assert rows[0]["upstream"] == [] and not rows[0]["reported"]
    assert rows[0]["status"] == NOT_REPORTED


def test_results_without_findings_give_no_rows() -> None:
    assert findings_view(_runs(json.loads(FIXTURE.read_text())), link_parts) == []


def test_page_shows_findings_escaped_and_linked(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_doc()))
    out = tmp_path / "r.html"
    build([path], out)
    html = out.read_text()
    section = re.search(r'<section id="findings">(.*?)</section>', html, re.S)
    assert section, "no findings section"
    body = section.group(1)
    assert 'id="finding-beta-clip-eps"' in body and 'href="#div-beta-clip-eps"' in body
    assert REPORTED["title"] in body and "<code>[nan]</code>" in body
    assert f'href="{REPORTED["upstream"]}"' in body
    assert EVIL not in html.split('<script type="application/json"')[0]  # escaped in the page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in body
    assert '<a href="#findings">Findings</a>' in html


def test_page_without_findings_says_none(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(FIXTURE.read_text())
    out = tmp_path / "r.html"
    build([path], out)
    assert "No findings in these results" in out.read_text()


def test_divergence_summary_carries_the_finding() -> None:
    """What the results plugin writes (Divergence.summary()) holds the finding as plain data."""
    f = Finding(title="t", repro="print([1.0])\n", measured="[1.0]", measured_on="x",
                correct="[2.0]", reference=lambda: [2.0], dtype="float64", requires=("x",))
    d = Divergence(id="x-y", title="T", framework="x", entry_points=("x.f",), versions=">=1",
                   kinds=("forward",), trigger="t", explanation="e", link="https://x",
                   applies=lambda c: True, model=lambda c: (None, None), example=lambda: None,
                   finding=f)
    s = d.summary()
    json.dumps(s)  # plain data
    assert s["finding"]["measured"] == "[1.0]" and s["finding"]["upstream"] is None
    assert s["finding"]["status"] == NOT_REPORTED
    assert "reference" not in s["finding"]
    assert Divergence(**{**d.__dict__, "finding": None}).summary()["finding"] is None
