"""The report benchmark (benchmarks/report_build.py): its synthetic records are valid results
shaped like a run's, copies merge as runs of their own, and a small run prints every figure."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import report_build as bench
from lossconform.reports.results import load_results


def test_synthetic_records_are_shaped_like_a_run(tmp_path: Path) -> None:
    doc = bench.synthetic_results(3000)
    recs = doc["records"]
    assert len(recs) == 3000
    verdicts = Counter(r["verdict"] for r in recs)
    assert 0.35 < verdicts["unsupported"] / len(recs) < 0.65  # about half, as in a full run
    assert verdicts["divergence"] and verdicts["agree"]
    assert {r["kind"] for r in recs} >= {"forward", "gradient"}
    assert len({r["framework"] for r in recs}) >= 5
    # a repro snippet names its case id and dtype; the rest is its entry point's
    assert all(repr(r["id"]) in r["repro"] and repr(r["dtype"]) in r["repro"] for r in recs)
    path = tmp_path / "r.json"
    bench.write_results(doc, path)
    assert load_results(path)["records"] == recs


def test_copies_are_runs_of_their_own(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    bench.write_results(bench.synthetic_results(200), path)
    paths = bench.copies(path, 3, tmp_path)
    ids = {json.loads(p.read_text())["run_id"] for p in paths}
    assert len(ids) == 3


def test_a_small_benchmark_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["-n", "1500", "--runs", "2", "--v1", "--no-browser"]) == 0
    out = capsys.readouterr().out
    for words in ("results written", "version 1 form", "results file:", "page built in",
                  "merge of 2 runs (3,000 records)"):
        assert words in out, out
