"""Comparing a framework's output with an expected float64 array.

Order of checks (as ONNX's runner does): shape, then the pattern of non-finite values,
then the values: the norm-wise criterion and the relative one on normal elements (both in
lossconform/harness/tolerances.py). Every comparison returns a ``Comparison`` holding the
errors (max abs, max rel, max ULP in the output's dtype, the worst ULP error over the
elements whose expected value is a normal number of the dtype) and the worst element,
whether it passed or not, so the report can show how close each framework gets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lossconform.dtypes import MAX, NUMPY_DTYPES, TINY, round_to, ulp  # noqa: F401  (re-exported)
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
    tolerance_used: float | None = None  # max of error / allowed over both criteria: <= 1 passes; inf if non-finite mismatch
    #: largest |a - e| / ulp(e) over the elements whose expected value is normal in the
    #: dtype (None: no such element); held to the relative bound or not
    max_rel_ulp_normal: float | None = None
    #: the relative bound (ULP) at the worst element, where the relative criterion holds it
    rel_bound_at_worst: float | None = None
    #: how many elements fail the norm-wise and the relative criterion
    n_norm_fail: int = 0
    n_rel_fail: int = 0
    #: max over the held elements of |a - e| / ulp(e) / their relative bound (<= 1: relative
    #: accuracy kept); None: no element held
    rel_used: float | None = None

    def worst(self) -> dict[str, Any] | None:
        if self.worst_index is None:
            return None
        return {
            "index": list(self.worst_index),
            "expected": self.expected_at_worst,
            "actual": self.actual_at_worst,
        }


def normal_mask(expected: np.ndarray, dtype: str) -> np.ndarray:
    """The elements whose value is a normal number of ``dtype`` (finite, TINY <= |e| <= MAX)."""
    a = np.abs(expected)
    return np.isfinite(a) & (a >= TINY[dtype]) & (a <= MAX[dtype])


class Prepared:
    """The expected side of a comparison (everything that depends only on the expected values,
    the dtype, the tolerance and the scale floor): computed once when several outputs are
    compared with the same expected array (every entry point of every framework on one case
    and dtype), then ``compare_prepared`` does only the actual side."""

    __slots__ = ("e", "dtype", "tol", "fin_e", "nan_e", "pinf_e", "ninf_e", "ulp_e", "abs_e",
                 "scale", "allowed", "normal", "bound", "held", "any_normal", "any_held")

    def __init__(self, expected: np.ndarray, dtype: str, tol: Tolerance,
                 scale_floor: float = 0.0) -> None:
        e = np.asarray(expected, dtype=np.float64)
        self.e, self.dtype, self.tol = e, dtype, tol
        self.fin_e = fin_e = np.isfinite(e)
        self.nan_e, self.pinf_e, self.ninf_e = np.isnan(e), np.isposinf(e), np.isneginf(e)
        self.ulp_e = ulp(np.where(fin_e, e, 0.0), dtype)
        self.abs_e = np.abs(e)
        self.scale = max(float(np.max(self.abs_e[fin_e])) if fin_e.any() else 0.0, scale_floor)
        self.allowed = (tol.atol * self.scale + TINY[dtype]
                        + tol.rtol * np.where(fin_e, self.abs_e, 0.0))
        self.normal = normal_mask(e, dtype)
        self.bound = tol.relative_bound(e)
        self.held = self.normal & np.isfinite(self.bound)
        self.any_normal, self.any_held = bool(self.normal.any()), bool(self.held.any())


def compare(actual: np.ndarray, expected: np.ndarray, dtype: str, tol: Tolerance,
            scale_floor: float = 0.0) -> Comparison:
    """Compare element-wise; see lossconform/harness/tolerances.py for both criteria.

    ``scale_floor`` is the natural magnitude of the computation's intermediate values (see
    lossconform/harness/check.py: ``natural_scale``); the norm-wise term is atol * max(max|e|, floor).
    The relative bound of each element comes from ``tol.relative_bound`` (kappa from the
    check's Conditioning, 1 when there is none).
    """
    return compare_prepared(actual, Prepared(expected, dtype, tol, scale_floor))


def compare_prepared(actual: np.ndarray, prep: Prepared) -> Comparison:
    """``compare`` with the expected side already computed (``Prepared``)."""
    a = np.asarray(actual, dtype=np.float64)
    e, dtype = prep.e, prep.dtype
    if a.shape != e.shape:
        return Comparison(False, f"shape {a.shape} != expected {e.shape}", None, None, None, None, None, None)
    if a.size == 0:
        return Comparison(True, None, 0.0, 0.0, 0.0, None, None, None, 0.0, 0.0)

    fin_e, fin_a = prep.fin_e, np.isfinite(a)
    # Non-finite values must match exactly: same positions, same kind (nan, +inf, -inf).
    same_nonfinite = (np.isnan(a) == prep.nan_e) & (np.isposinf(a) == prep.pinf_e) & (
        np.isneginf(a) == prep.ninf_e
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        diff = np.where(fin_e & fin_a, np.abs(a - e), np.where(same_nonfinite, 0.0, np.inf))
        rel = np.where(diff == 0, 0.0, diff / prep.abs_e)
        ulps = np.where(diff == 0, 0.0, diff / prep.ulp_e)
    scale, allowed = prep.scale, prep.allowed
    norm_bad = diff > allowed
    with np.errstate(divide="ignore", invalid="ignore"):
        used = np.where(diff == 0, 0.0, diff / allowed)

    # the relative criterion, on normal elements of the expected values
    normal = prep.normal
    max_rel_ulp_normal = float(np.max(ulps[normal])) if prep.any_normal else None
    bound, held = prep.bound, prep.held
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_used = np.where(held & (ulps > 0), ulps / bound, 0.0)
    rel_bad = held & (ulps > bound)
    used = np.maximum(used, rel_used)

    worst = np.unravel_index(int(np.argmax(used)), e.shape)
    n_norm, n_rel = int(np.count_nonzero(norm_bad)), int(np.count_nonzero(rel_bad))
    ok = n_norm == 0 and n_rel == 0
    problem = None
    if not ok:
        parts = []
        if not same_nonfinite.all():
            k = int(np.count_nonzero(~same_nonfinite))
            parts.append(f"non-finite pattern differs at {k} of {e.size} elements")
        elif n_norm:
            parts.append(f"{n_norm} of {e.size} elements outside tolerance")
        if n_rel:
            i = np.unravel_index(int(np.argmax(np.where(rel_bad, rel_used, -1.0))), e.shape)
            parts.append(
                f"{n_rel} of {int(np.count_nonzero(held))} normal elements lose relative "
                f"accuracy (worst {_num(ulps[i])} ULP of its own magnitude, bound "
                f"{_num(bound[i])} ULP, at index {tuple(int(j) for j in i)}: expected "
                f"{float(e[i])!r}, got {float(a[i])!r})")
        problem = "; ".join(parts)
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
        max_rel_ulp_normal,
        float(bound[worst]) if held[worst] else None,
        n_norm,
        n_rel,
        float(np.max(rel_used)) if prep.any_held else None,
    )


def _num(x: float) -> str:
    x = float(x)
    return f"{x:.3g}" if x < 1e4 else f"{x:.2e}"
