"""The matrix benchmark's arithmetic (benchmarks/matrix.py), on made-up records."""
from __future__ import annotations

import math

from benchmarks.matrix import describe, summarise, table


def _rec(fw: str, kind: str, verdict: str = "agree", **t: float) -> dict:
    return {"framework": fw, "kind": kind, "verdict": verdict, **t}


def test_per_framework_figures() -> None:
    records = [
        _rec("alpha", "forward", eval_seconds=0.002, compile_seconds=0.0, check_seconds=0.010),
        _rec("alpha", "gradient", eval_seconds=0.0),
        _rec("alpha", "forward", eval_seconds=0.004, compile_seconds=0.0, check_seconds=0.010),
        _rec("alpha", "gradient", eval_seconds=0.0),
        _rec("beta", "forward", eval_seconds=0.200, compile_seconds=0.150, check_seconds=0.250),
        _rec("beta", "gradient", eval_seconds=0.0),
        _rec("beta", "forward", "unsupported"),
        _rec("beta", "gradient", "unsupported"),
    ]
    row = summarise(records, jobs=2, wall=1.0, controller_cpu=0.3, tree_cpu=2.1)
    a, b = row["frameworks"]["alpha"], row["frameworks"]["beta"]
    assert a["checks"] == 4 and b["checks"] == 2
    assert math.isclose(a["call_s"], 0.006) and math.isclose(a["check_s"], 0.020)
    assert math.isclose(a["checks_per_s"], 200.0)
    assert math.isclose(a["overhead_ratio"], 0.020 / 0.006)
    assert math.isclose(a["median_call_ms"], 3.0)
    assert b["compiled_calls"] == 1 and math.isclose(b["compile_s"], 0.150)
    assert math.isclose(b["overhead_ratio"], 0.250 / 0.050)  # compile time is not compute
    assert row["checks"] == 6 and row["records"] == 8
    assert math.isclose(row["worker_s"], 2.0) and math.isclose(row["pytest_s"], 2.0 - 0.270)
    text = describe(row) + "\n" + table(row)
    assert "controller CPU 0.3 s" in text and "alpha" in text and "beta" in text
