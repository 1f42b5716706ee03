"""Forward ops of the reference: the project's canonical definitions, in NumPy.

Inputs of any floating dtype (float16/32/64, bfloat16) are converted exactly to float64 and the
arithmetic is carried out in ``np.longdouble`` (80-bit extended on x86-64), with formulations
that keep relative accuracy (max subtraction, log1p/expm1, stable softplus). Results are
rounded once to float64. The semantics are documented in ``reference/__init__.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import validate as V
from .validate import WIDE

_ERR = dict(divide="ignore", invalid="ignore", over="ignore", under="ignore")


# --------------------------------------------------------------------------- core helpers
@dataclass(frozen=True)
class LogSoftmaxParts:
    """Pieces of a stable log-softmax along the LAST axis (all WIDE).

    d = z - max; rest = sum of exp(d) over all classes except one argmax entry;
    logsm = d - log1p(rest); amax = argmax index (keepdims). Rows whose max is not finite
    (NaN, +inf, or all -inf) are NaN throughout.
    """

    d: np.ndarray
    rest: np.ndarray
    logsm: np.ndarray
    amax: np.ndarray


def log_softmax_parts(zl: np.ndarray) -> LogSoftmaxParts:
    with np.errstate(**_ERR):
        m = np.max(zl, axis=-1, keepdims=True)
        bad = ~np.isfinite(m)
        d = zl - np.where(bad, 0, m)
        d = np.where(bad, np.nan, d)
        e = np.exp(d)
        amax = np.argmax(zl, axis=-1, keepdims=True)
        np.put_along_axis(e, amax, 0, axis=-1)
        rest = np.sum(e, axis=-1, keepdims=True)
        logsm = d - np.log1p(rest)
    return LogSoftmaxParts(d=d, rest=rest, logsm=logsm, amax=amax)


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow or cancellation (WIDE in, WIDE out)."""
    with np.errstate(**_ERR):
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def sigmoid_w(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid in WIDE precision, without overflow (NaN propagates)."""
    with np.errstate(**_ERR):
        e = np.exp(-np.abs(x))
        s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return np.where(np.isnan(x), np.nan, s).astype(WIDE)


def xlogy0(coef: np.ndarray, logv: np.ndarray) -> np.ndarray:
    """coef * logv with the convention 0 * (+-inf) = 0 (NaN in logv still propagates)."""
    with np.errstate(**_ERR):
        return np.where((coef == 0) & ~np.isnan(logv), 0, coef * logv)


def _to_last(x: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(x, axis, -1)


def _from_last(x: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(x, -1, axis)


# --------------------------------------------------------------------------- activations
def softmax(x: Any, axis: int = -1) -> np.ndarray:
    """exp(x - max) / sum exp(x - max) along ``axis``."""
    z = V.float_input(x, "x", min_ndim=1)
    ax = V.norm_axis(axis, z.ndim)
    V.check_classes(z, ax, "x")
    parts = log_softmax_parts(_to_last(z, ax))
    with np.errstate(**_ERR):
        p = np.exp(parts.d) / (1 + parts.rest)
    return V.out64(_from_last(p, ax))


def log_softmax(x: Any, axis: int = -1) -> np.ndarray:
    """(x - max) - log1p(sum over non-argmax classes of exp(x - max)) along ``axis``."""
    z = V.float_input(x, "x", min_ndim=1)
    ax = V.norm_axis(axis, z.ndim)
    V.check_classes(z, ax, "x")
    return V.out64(_from_last(log_softmax_parts(_to_last(z, ax)).logsm, ax))


def sigmoid(x: Any) -> np.ndarray:
    """1 / (1 + exp(-x)), element-wise, evaluated without overflow."""
    z = V.float_input(x, "x")
    return V.out64(sigmoid_w(z))


def log_sigmoid(x: Any) -> np.ndarray:
    """log sigmoid(x) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|))."""
    z = V.float_input(x, "x")
    return V.out64(-softplus(-z))


def entropy(p: Any, axis: int = -1) -> np.ndarray:
    """Shannon entropy -sum p log p (nats) along ``axis``, with 0 log 0 = 0."""
    pw = V.float_input(p, "p", min_ndim=1)
    ax = V.norm_axis(axis, pw.ndim)
    V.check_probabilities(pw, "p")
    with np.errstate(**_ERR):
        h = -np.sum(xlogy0(pw, np.log(pw)), axis=ax)
    return V.out64(h)


# --------------------------------------------------------------------------- losses
@dataclass(frozen=True)
class CategoricalParts:
    """Everything the categorical losses and their VJPs share (class axis LAST, WIDE).

    v: per-class coefficients w_c * q_ic (zero for ignored items); loss: per-item l_i
    (class weights included, 0 for ignored); s: sample weights; omega: the 'mean' weights.
    """

    axis: int
    shape: tuple[int, ...]
    v: np.ndarray
    loss: np.ndarray
    s: np.ndarray
    omega: np.ndarray
    ignored: np.ndarray
    reduction: str
    extra: Any = None


def _dense_q(
    item_shape: tuple[int, ...], n_classes: int, target: Any, kind: str, eps: float,
    ignore_index: Any, full_shape_last: tuple[int, ...], axis: int = -1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Smoothed dense targets q (class-last), ignored mask, and the index targets (or None)."""
    if kind == "index":
        idx, ignored = V.index_target(target, item_shape, n_classes, ignore_index)
        t = np.zeros(full_shape_last, dtype=WIDE)
        np.put_along_axis(t, idx[..., None], 1, axis=-1)
    else:
        if ignore_index is not None:
            raise ValueError("ignore_index: only meaningful with target_kind='index'")
        # probability targets come in the input's layout: validate there, then classes last
        shape_in = _from_last(np.empty(full_shape_last, dtype=bool), axis).shape
        t = _to_last(V.prob_target(target, shape_in, "target"), axis)
        idx, ignored = None, np.zeros(item_shape, dtype=bool)
    if eps:
        q = (1 - WIDE(eps)) * t + WIDE(eps) / n_classes
    else:
        q = t
    q = np.where(ignored[..., None], 0, q)
    return q, ignored, idx


def _class_weight(weight: Any, n_classes: int) -> np.ndarray:
    if weight is None:
        return np.ones(n_classes, dtype=WIDE)
    return V.nonneg_weight(weight, "weight", shape=(n_classes,))


def _sample_weight(sample_weight: Any, item_shape: tuple[int, ...]) -> np.ndarray:
    if sample_weight is None:
        return np.ones(item_shape, dtype=WIDE)
    return V.nonneg_weight(sample_weight, "sample_weight", broadcast_to=item_shape)


def _finish(loss_i: np.ndarray, s: np.ndarray, ignored: np.ndarray) -> np.ndarray:
    with np.errstate(**_ERR):
        li = np.where(ignored, 0, loss_i)
        return np.where((s == 0) & ~np.isnan(li), 0, s * li)


def reduce_items(weighted: np.ndarray, omega: np.ndarray, reduction: str) -> np.ndarray:
    """'none' -> weighted; 'sum' -> sum; 'mean' -> sum / sum(omega) (0/0 = nan)."""
    if reduction == "none":
        return weighted
    total = np.sum(weighted)
    if reduction == "sum":
        return total
    with np.errstate(**_ERR):
        return total / np.sum(omega)


def cross_entropy_parts(
    logits: Any, target: Any, *, axis: int = -1, target_kind: str = "index", weight: Any = None,
    ignore_index: Any = None, label_smoothing: float = 0.0, sample_weight: Any = None,
    reduction: str = "mean",
) -> CategoricalParts:
    z = V.float_input(logits, "logits", min_ndim=1)
    ax = V.norm_axis(axis, z.ndim)
    c = V.check_classes(z, ax, "logits")
    kind = V.target_kind_arg(target_kind)
    red = V.reduction_arg(reduction)
    eps = V.smoothing_arg(label_smoothing)
    zl = _to_last(z, ax)
    item_shape = zl.shape[:-1]
    q, ignored, idx = _dense_q(item_shape, c, target, kind, eps, ignore_index, zl.shape, ax)
    w = _class_weight(weight, c)
    s = _sample_weight(sample_weight, item_shape)
    parts = log_softmax_parts(zl)
    v = w * q
    with np.errstate(**_ERR):
        loss = -np.sum(xlogy0(v, parts.logsm), axis=-1)
    loss = np.where(ignored, 0, loss)
    if kind == "index":
        omega = np.where(ignored, 0, s * w[idx])
    else:
        omega = s.copy()
    return CategoricalParts(ax, z.shape, v, loss, s, omega, ignored, red, extra=parts)


def cross_entropy(
    logits: Any, target: Any, *, axis: int = -1, target_kind: str = "index", weight: Any = None,
    ignore_index: Any = None, label_smoothing: float = 0.0, sample_weight: Any = None,
    reduction: str = "mean",
) -> np.ndarray:
    """Softmax cross-entropy on logits: l_i = -sum_c w_c q_ic log_softmax(z_i)_c."""
    cp = cross_entropy_parts(
        logits, target, axis=axis, target_kind=target_kind, weight=weight,
        ignore_index=ignore_index, label_smoothing=label_smoothing,
        sample_weight=sample_weight, reduction=reduction,
    )
    return V.out64(reduce_items(_finish(cp.loss, cp.s, cp.ignored), cp.omega, cp.reduction))


def nll_loss_parts(
    logp: Any, target: Any, *, axis: int = -1, weight: Any = None, ignore_index: Any = None,
    sample_weight: Any = None, reduction: str = "mean",
) -> CategoricalParts:
    lp = V.float_input(logp, "logp", min_ndim=1)
    ax = V.norm_axis(axis, lp.ndim)
    c = V.check_classes(lp, ax, "logp")
    red = V.reduction_arg(reduction)
    lpl = _to_last(lp, ax)
    item_shape = lpl.shape[:-1]
    q, ignored, idx = _dense_q(item_shape, c, target, "index", 0.0, ignore_index, lpl.shape)
    w = _class_weight(weight, c)
    s = _sample_weight(sample_weight, item_shape)
    v = w * q
    with np.errstate(**_ERR):
        loss = -np.sum(xlogy0(v, lpl), axis=-1)
    loss = np.where(ignored, 0, loss)
    omega = np.where(ignored, 0, s * w[idx])
    return CategoricalParts(ax, lp.shape, v, loss, s, omega, ignored, red)


def nll_loss(
    logp: Any, target: Any, *, axis: int = -1, weight: Any = None, ignore_index: Any = None,
    sample_weight: Any = None, reduction: str = "mean",
) -> np.ndarray:
    """Negative log-likelihood on log-probabilities: l_i = -w_{y_i} logp_{i, y_i}."""
    cp = nll_loss_parts(
        logp, target, axis=axis, weight=weight, ignore_index=ignore_index,
        sample_weight=sample_weight, reduction=reduction,
    )
    return V.out64(reduce_items(_finish(cp.loss, cp.s, cp.ignored), cp.omega, cp.reduction))


def categorical_crossentropy_parts(
    probs: Any, target: Any, *, axis: int = -1, weight: Any = None, label_smoothing: float = 0.0,
    sample_weight: Any = None, reduction: str = "mean",
) -> CategoricalParts:
    p = V.float_input(probs, "probs", min_ndim=1)
    ax = V.norm_axis(axis, p.ndim)
    c = V.check_classes(p, ax, "probs")
    V.check_probabilities(p, "probs")
    red = V.reduction_arg(reduction)
    eps = V.smoothing_arg(label_smoothing)
    pl = _to_last(p, ax)
    item_shape = pl.shape[:-1]
    tl = _to_last(V.prob_target(target, p.shape, "target"), ax)
    q = (1 - WIDE(eps)) * tl + WIDE(eps) / c if eps else tl
    w = _class_weight(weight, c)
    s = _sample_weight(sample_weight, item_shape)
    v = w * q
    with np.errstate(**_ERR):
        loss = -np.sum(xlogy0(v, np.log(pl)), axis=-1)
    ignored = np.zeros(item_shape, dtype=bool)
    return CategoricalParts(ax, p.shape, v, loss, s, s.copy(), ignored, red, extra=pl)


def categorical_crossentropy(
    probs: Any, target: Any, *, axis: int = -1, weight: Any = None, label_smoothing: float = 0.0,
    sample_weight: Any = None, reduction: str = "mean",
) -> np.ndarray:
    """Cross-entropy on probabilities: l_i = -sum_c w_c q_ic log p_ic (no clipping)."""
    cp = categorical_crossentropy_parts(
        probs, target, axis=axis, weight=weight, label_smoothing=label_smoothing,
        sample_weight=sample_weight, reduction=reduction,
    )
    return V.out64(reduce_items(_finish(cp.loss, cp.s, cp.ignored), cp.omega, cp.reduction))


@dataclass(frozen=True)
class BinaryParts:
    x: np.ndarray      # probs or logits (WIDE)
    q: np.ndarray      # smoothed targets
    w: np.ndarray      # element weights, broadcast to x.shape
    pw: np.ndarray     # pos_weight broadcast (ones for plain BCE)
    loss: np.ndarray   # element-wise loss, weights included
    reduction: str


def _binary_common(x: np.ndarray, target: Any, weight: Any, label_smoothing: float,
                   reduction: str) -> tuple[np.ndarray, np.ndarray, str]:
    red = V.reduction_arg(reduction)
    eps = V.smoothing_arg(label_smoothing)
    t = V.prob_target(target, x.shape, "target")
    q = (1 - WIDE(eps)) * t + WIDE(eps) / 2 if eps else t
    w = (np.ones(x.shape, dtype=WIDE) if weight is None
         else V.nonneg_weight(weight, "weight", broadcast_to=x.shape))
    return q, w, red


def binary_cross_entropy_parts(
    probs: Any, target: Any, *, weight: Any = None, label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> BinaryParts:
    p = V.float_input(probs, "probs")
    V.check_probabilities(p, "probs")
    q, w, red = _binary_common(p, target, weight, label_smoothing, reduction)
    with np.errstate(**_ERR):
        inner = xlogy0(q, np.log(p)) + xlogy0(1 - q, np.log1p(-p))
        loss = np.where((w == 0) & ~np.isnan(inner), 0, -w * inner)
    return BinaryParts(p, q, w, np.ones_like(p), loss, red)


def _mean_elems(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return loss
    total = np.sum(loss)
    if reduction == "sum":
        return total
    with np.errstate(**_ERR):
        return total / WIDE(loss.size)


def binary_cross_entropy(
    probs: Any, target: Any, *, weight: Any = None, label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> np.ndarray:
    """Element-wise -w [q log p + (1-q) log(1-p)] on probabilities (no clamping)."""
    bp = binary_cross_entropy_parts(probs, target, weight=weight, label_smoothing=label_smoothing,
                                    reduction=reduction)
    return V.out64(_mean_elems(bp.loss, bp.reduction))


def binary_cross_entropy_with_logits_parts(
    logits: Any, target: Any, *, weight: Any = None, pos_weight: Any = None,
    label_smoothing: float = 0.0, reduction: str = "mean",
) -> BinaryParts:
    z = V.float_input(logits, "logits")
    q, w, red = _binary_common(z, target, weight, label_smoothing, reduction)
    pw = (np.ones(z.shape, dtype=WIDE) if pos_weight is None
          else V.nonneg_weight(pos_weight, "pos_weight", broadcast_to=z.shape))
    with np.errstate(**_ERR):
        # -log sigmoid(z) = softplus(-z); -log(1 - sigmoid(z)) = softplus(z)
        inner = xlogy0(pw * q, softplus(-z)) + xlogy0(1 - q, softplus(z))
        loss = np.where((w == 0) & ~np.isnan(inner), 0, w * inner)
    return BinaryParts(z, q, w, pw, loss, red)


def binary_cross_entropy_with_logits(
    logits: Any, target: Any, *, weight: Any = None, pos_weight: Any = None,
    label_smoothing: float = 0.0, reduction: str = "mean",
) -> np.ndarray:
    """Element-wise w [pw q softplus(-z) + (1-q) softplus(z)], computed stably."""
    bp = binary_cross_entropy_with_logits_parts(
        logits, target, weight=weight, pos_weight=pos_weight,
        label_smoothing=label_smoothing, reduction=reduction,
    )
    return V.out64(_mean_elems(bp.loss, bp.reduction))
