"""Input validation for the reference ops.

Every check raises ``ValueError`` whose message starts with the argument's name, so a caller
(or a test) can tell which argument was rejected and why. Nothing here modifies its input:
each helper returns a fresh array.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WIDE = np.longdouble
"""Working precision: x87 80-bit extended on x86-64 (64-bit significand); float64 elsewhere."""

REDUCTIONS = ("none", "sum", "mean")
TARGET_KINDS = ("index", "probs")

_FLOAT_NAMES = {"bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"}


def _is_float_dtype(dt: np.dtype) -> bool:
    return dt.kind == "f" or dt.name in _FLOAT_NAMES


def float_input(x: Any, name: str, *, min_ndim: int = 0) -> np.ndarray:
    """A floating-point input (logits, log-probabilities or probabilities) as a WIDE copy.

    NaN and +-inf are allowed here (they propagate); integer, bool and complex dtypes are not.
    """
    arr = np.asarray(x)
    if not _is_float_dtype(arr.dtype):
        raise ValueError(
            f"{name}: expected a floating-point array, got dtype {arr.dtype} "
            "(integer, bool and complex inputs are rejected; cast explicitly)"
        )
    if arr.ndim < min_ndim:
        raise ValueError(f"{name}: expected at least {min_ndim} dimension(s), got shape {arr.shape}")
    return arr.astype(np.float64).astype(WIDE)


def check_probabilities(p: np.ndarray, name: str) -> None:
    """Probabilities must lie in [0, 1]; NaN is let through (it propagates)."""
    bad = (p < 0) | (p > 1)
    if np.any(bad):
        v = p[bad].flat[0]
        raise ValueError(f"{name}: probabilities must lie in [0, 1], found {float(v)!r}")


def norm_axis(axis: Any, ndim: int, name: str = "axis") -> int:
    """A class axis as a non-negative int; the input must have at least one dimension."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{name}: expected an int, got {axis!r}")
    if ndim == 0:
        raise ValueError(f"{name}: input is 0-dimensional, it has no class axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: {axis} is out of range for an input with {ndim} dimension(s)")
    return int(axis) % ndim


def check_classes(x: np.ndarray, axis: int, name: str) -> int:
    c = x.shape[axis]
    if c < 1:
        raise ValueError(f"{name}: the class axis has size 0 (need at least one class)")
    return c


def reduction_arg(reduction: Any) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: unknown reduction {reduction!r}; expected one of {REDUCTIONS}")
    return reduction


def target_kind_arg(kind: Any) -> str:
    if kind not in TARGET_KINDS:
        raise ValueError(f"target_kind: unknown target kind {kind!r}; expected one of {TARGET_KINDS}")
    return kind


def smoothing_arg(eps: Any) -> float:
    try:
        e = float(eps)
    except (TypeError, ValueError):
        raise ValueError(f"label_smoothing: expected a number in [0, 1], got {eps!r}") from None
    if not 0.0 <= e <= 1.0:  # also rejects NaN
        raise ValueError(f"label_smoothing: must lie in [0, 1], got {eps!r}")
    return e


def index_target(
    target: Any, item_shape: tuple[int, ...], n_classes: int, ignore_index: Any, name: str = "target"
) -> tuple[np.ndarray, np.ndarray]:
    """Integer class indices of ``item_shape``; returns (safe indices, ignored mask).

    Ignored entries (== ignore_index) may hold any integer; they are replaced by 0 in the
    returned indices so that gathers stay in range.
    """
    t = np.asarray(target)
    if t.dtype.kind not in "iu":
        raise ValueError(
            f"{name}: index targets must have an integer dtype, got {t.dtype} "
            "(pass target_kind='probs' for probability targets)"
        )
    if t.shape != tuple(item_shape):
        raise ValueError(
            f"{name}: shape {t.shape} does not match the input shape without the class axis "
            f"{tuple(item_shape)}"
        )
    if ignore_index is not None:
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise ValueError(f"ignore_index: expected an int or None, got {ignore_index!r}")
        ignored = t == ignore_index
    else:
        ignored = np.zeros(t.shape, dtype=bool)
    bad = ~ignored & ((t < 0) | (t >= n_classes))
    if np.any(bad):
        raise ValueError(
            f"{name}: class index {int(t[bad].flat[0])} is out of range [0, {n_classes})"
            + ("" if ignore_index is None else f" and is not ignore_index={ignore_index}")
        )
    safe = np.where(ignored, 0, t).astype(np.intp)
    return safe, ignored


def prob_target(target: Any, shape: tuple[int, ...], name: str = "target") -> np.ndarray:
    """Probability targets: same shape as the input, values in [0, 1], no NaN (WIDE copy)."""
    t = np.asarray(target)
    if t.dtype.kind not in "biuf" and not _is_float_dtype(t.dtype):
        raise ValueError(f"{name}: expected a real numeric array, got dtype {t.dtype}")
    if t.shape != tuple(shape):
        raise ValueError(f"{name}: shape {t.shape} does not match the input shape {tuple(shape)}")
    t = t.astype(np.float64).astype(WIDE)
    if np.any(np.isnan(t)):
        raise ValueError(f"{name}: contains NaN")
    check_probabilities(t, name)
    return t


def nonneg_weight(w: Any, name: str, shape: tuple[int, ...] | None = None,
                  broadcast_to: tuple[int, ...] | None = None) -> np.ndarray:
    """Finite, non-negative weights as a WIDE copy, with an exact or broadcastable shape."""
    arr = np.asarray(w)
    if arr.dtype.kind not in "iuf" and not _is_float_dtype(arr.dtype):
        raise ValueError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64).astype(WIDE)
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {arr.shape}")
    if broadcast_to is not None:
        try:
            b = np.broadcast_shapes(arr.shape, tuple(broadcast_to))
        except ValueError:
            b = None
        if b != tuple(broadcast_to):
            raise ValueError(
                f"{name}: shape {arr.shape} does not broadcast to the required shape "
                f"{tuple(broadcast_to)}"
            )
        arr = np.broadcast_to(arr, tuple(broadcast_to)).copy()
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name}: contains NaN")
    if np.any(np.isinf(arr)):
        raise ValueError(f"{name}: contains an infinite value")
    if np.any(arr < 0):
        raise ValueError(f"{name}: weights must be non-negative, found {float(arr[arr < 0].flat[0])!r}")
    return arr


def grad_output_arg(g: Any, shape: tuple[int, ...]) -> np.ndarray:
    """grad_output (None means ones) as a WIDE array of exactly the output's shape."""
    if g is None:
        return np.ones(shape, dtype=WIDE)
    arr = np.asarray(g)
    if arr.dtype.kind not in "iuf" and not _is_float_dtype(arr.dtype):
        raise ValueError(f"grad_output: expected a real numeric array, got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"grad_output: shape {arr.shape} does not match the output shape {tuple(shape)}")
    return arr.astype(np.float64).astype(WIDE)


def out64(x: np.ndarray) -> Any:
    """Round a WIDE result to float64; 0-d results become NumPy scalars."""
    return np.asarray(x).astype(np.float64)[()]
