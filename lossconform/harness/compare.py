"""Comparing a framework's output with an expected float64 array.

Order of checks (as ONNX's runner does): shape, then the pattern of non-finite values,
then the values. Every comparison returns a ``Comparison`` holding the errors (max abs,
max rel, max ULP in the output's dtype) and the worst element, whether it passed or not,
so the report can show how close each framework gets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lossconform.dtypes import NUMPY_DTYPES, TINY, round_to, ulp  # noqa: F401  (re-exported)
from lossconform.harness.tolerances import Tolerance

@dataclass(frozen=True)
class Comparison:
    ok: bool
    problem: str | None  # None when ok; otherwise a one-line description
    max_abs_err: float | None
    max_rel_err: float | None
    max_ulp: float | None
    worst_index: tuple[int, ...] | None
    expected_at_worst: float | None
    actual_at_worst: float | None
    scale: float = 0.0  # what atol was multiplied by
    tolerance_used: float | None = None  # max of |a - e| / allowed: <= 1 passes; inf if non-finite mismatch

    def worst(self) -> dict[str, Any] | None:
        if self.worst_index is None:
            return None
        return {
            "index": list(self.worst_index),
            "expected": self.expected_at_worst,
            "actual": self.actual_at_worst,
        }


def compare(actual: np.ndarray, expected: np.ndarray, dtype: str, tol: Tolerance,
            scale_floor: float = 0.0) -> Comparison:
    """Compare element-wise; see lossconform/harness/tolerances.py for the criterion.

    ``scale_floor`` is the natural magnitude of the computation's intermediate values (see
    lossconform/harness/check.py: ``natural_scale``); the norm-wise term is atol * max(max|e|, floor).
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return Comparison(False, f"shape {a.shape} != expected {e.shape}", None, None, None, None, None, None)
    if a.size == 0:
        return Comparison(True, None, 0.0, 0.0, 0.0, None, None, None, 0.0, 0.0)

    fin_e, fin_a = np.isfinite(e), np.isfinite(a)
    # Non-finite values must match exactly: same positions, same kind (nan, +inf, -inf).
    same_nonfinite = (np.isnan(a) == np.isnan(e)) & (np.isposinf(a) == np.isposinf(e)) & (
        np.isneginf(a) == np.isneginf(e)
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        diff = np.where(fin_e & fin_a, np.abs(a - e), np.where(same_nonfinite, 0.0, np.inf))
        rel = np.where(diff == 0, 0.0, diff / np.abs(e))
        ulps = np.where(diff == 0, 0.0, diff / ulp(np.where(fin_e, e, 0.0), dtype))
    scale = max(float(np.max(np.abs(e[fin_e]))) if fin_e.any() else 0.0, scale_floor)
    allowed = tol.atol * scale + TINY[dtype] + tol.rtol * np.where(fin_e, np.abs(e), 0.0)
    excess = diff - allowed
    with np.errstate(divide="ignore", invalid="ignore"):
        used = np.where(diff == 0, 0.0, diff / allowed)
    worst = np.unravel_index(int(np.argmax(excess)), e.shape)
    ok = bool(np.all(excess <= 0))
    problem = None
    if not ok:
        if not same_nonfinite.all():
            k = int(np.count_nonzero(~same_nonfinite))
            problem = f"non-finite pattern differs at {k} of {e.size} elements"
        else:
            k = int(np.count_nonzero(excess > 0))
            problem = f"{k} of {e.size} elements outside tolerance"
    return Comparison(
        ok,
        problem,
        float(np.max(diff)),
        float(np.max(rel)),
        float(np.max(ulps)),
        tuple(int(i) for i in worst),
        float(e[worst]),
        float(a[worst]),
        scale,
        float(np.max(used)),
    )
