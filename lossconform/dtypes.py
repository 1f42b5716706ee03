"""The one dtype table: names, NumPy types, machine epsilon, smallest normal, rounding, ULP.

Every other module takes dtype facts from here; the names are the ones used everywhere
(cases, records, reports, the command line).
"""
from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

#: Dtype names, in report order (narrow to wide).
DTYPES: tuple[str, ...] = ("float16", "bfloat16", "float32", "float64")

#: The half-precision dtypes (8 or 11 significant bits).
HALF_DTYPES: tuple[str, ...] = ("float16", "bfloat16")

NUMPY_DTYPES: dict[str, Any] = {
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float32": np.float32,
    "float64": np.float64,
}

_FINFO = {name: ml_dtypes.finfo(t) if name == "bfloat16" else np.finfo(t) for name, t in NUMPY_DTYPES.items()}

#: Machine epsilon (spacing at 1) per dtype.
EPS: dict[str, float] = {name: float(fi.eps) for name, fi in _FINFO.items()}

#: Smallest normal number per dtype: results below it may flush to zero (FTZ) anywhere.
TINY: dict[str, float] = {name: float(fi.tiny) for name, fi in _FINFO.items()}

#: Largest finite number per dtype.
MAX: dict[str, float] = {name: float(fi.max) for name, fi in _FINFO.items()}


def check_dtype(dtype: str) -> str:
    if dtype not in NUMPY_DTYPES:
        raise ValueError(f"dtype: unknown dtype {dtype!r}; valid names: {', '.join(DTYPES)}")
    return dtype


def round_to(x: Any, dtype: str) -> np.ndarray:
    """``x`` rounded to ``dtype`` and returned as float64 (exactly representable values).

    Values beyond the dtype's range become +-inf, as a cast in the framework would.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(x, dtype=np.float64).astype(NUMPY_DTYPES[dtype]).astype(np.float64)


def ulp(x: np.ndarray, dtype: str) -> np.ndarray:
    """Spacing of ``dtype`` at |x| (x float64), as float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        a = np.abs(np.asarray(x, dtype=np.float64)).astype(NUMPY_DTYPES[dtype])
    sp = np.spacing(a) if dtype != "bfloat16" else _bf16_spacing(a)
    return np.abs(sp.astype(np.float64))


def _bf16_spacing(a: np.ndarray) -> np.ndarray:
    # ml_dtypes' bfloat16 supports nextafter through its 16-bit patterns.
    bits = a.view(np.uint16).astype(np.uint32) + 1
    nxt = bits.astype(np.uint16).view(ml_dtypes.bfloat16)
    return nxt.astype(np.float64) - a.astype(np.float64)
