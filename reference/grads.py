"""Analytic vector-Jacobian products of the reference ops.

``<op>_vjp(first, ..., grad_output=None)`` returns d<op(first, ...), grad_output>/d first, with
the op's own arguments; ``grad_output=None`` means ones. No finite differences: every formula
is the closed form, arranged to keep relative accuracy where the textbook form cancels
(e.g. 1 - p_argmax is taken as -expm1(log_softmax) rather than 1 - softmax).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops as O
from . import validate as V
from .validate import WIDE

_ERR = O._ERR


def _zero_where(mask: np.ndarray, x: np.ndarray) -> np.ndarray:
    """x, but exactly 0 where mask holds (unless x is NaN there)."""
    return np.where(mask & ~np.isnan(x), 0, x)


# --------------------------------------------------------------------------- activations
def softmax_vjp(x: Any, axis: int = -1, grad_output: Any = None) -> np.ndarray:
    """p * (g - sum(p g)), with g shifted by its value at the argmax to avoid cancellation."""
    z = V.float_input(x, "x", min_ndim=1)
    ax = V.norm_axis(axis, z.ndim)
    V.check_classes(z, ax, "x")
    g = np.moveaxis(V.grad_output_arg(grad_output, z.shape), ax, -1)
    parts = O.log_softmax_parts(np.moveaxis(z, ax, -1))
    with np.errstate(**_ERR):
        p = np.exp(parts.logsm)
        gs = g - np.take_along_axis(g, parts.amax, axis=-1)  # exact 0 at the argmax
        t = np.sum(p * gs, axis=-1, keepdims=True)
        dx = p * (gs - t)
    return V.out64(np.moveaxis(dx, -1, ax))


def log_softmax_vjp(x: Any, axis: int = -1, grad_output: Any = None) -> np.ndarray:
    """g - p * sum(g); the argmax entry as -sum_{k!=a} g_k - sum(g) * expm1(logsm_a)."""
    z = V.float_input(x, "x", min_ndim=1)
    ax = V.norm_axis(axis, z.ndim)
    V.check_classes(z, ax, "x")
    g = np.moveaxis(V.grad_output_arg(grad_output, z.shape), ax, -1)
    parts = O.log_softmax_parts(np.moveaxis(z, ax, -1))
    with np.errstate(**_ERR):
        p = np.exp(parts.logsm)
        gsum = np.sum(g, axis=-1, keepdims=True)
        dx = g - p * gsum
        g_other = g.copy()
        np.put_along_axis(g_other, parts.amax, 0, axis=-1)
        la = np.take_along_axis(parts.logsm, parts.amax, axis=-1)
        da = -np.sum(g_other, axis=-1, keepdims=True) - gsum * np.expm1(la)
        np.put_along_axis(dx, parts.amax, da, axis=-1)
    return V.out64(np.moveaxis(dx, -1, ax))


def sigmoid_vjp(x: Any, grad_output: Any = None) -> np.ndarray:
    """g * sigmoid(x) * sigmoid(-x)."""
    z = V.float_input(x, "x")
    g = V.grad_output_arg(grad_output, z.shape)
    return V.out64(g * O.sigmoid_w(z) * O.sigmoid_w(-z))


def log_sigmoid_vjp(x: Any, grad_output: Any = None) -> np.ndarray:
    """g * sigmoid(-x)."""
    z = V.float_input(x, "x")
    g = V.grad_output_arg(grad_output, z.shape)
    return V.out64(g * O.sigmoid_w(-z))


def entropy_vjp(p: Any, axis: int = -1, grad_output: Any = None) -> np.ndarray:
    """-g * (log p + 1); +inf at p = 0 (where the entropy's slope is unbounded)."""
    pw = V.float_input(p, "p", min_ndim=1)
    ax = V.norm_axis(axis, pw.ndim)
    V.check_probabilities(pw, "p")
    out_shape = pw.shape[:ax] + pw.shape[ax + 1:]
    g = np.expand_dims(V.grad_output_arg(grad_output, out_shape), ax)
    with np.errstate(**_ERR):
        d = -g * (np.log(pw) + 1)
        d = _zero_where(np.broadcast_to(g == 0, d.shape), d)
    return V.out64(d)


# --------------------------------------------------------------------------- losses
def _item_factor(cp: O.CategoricalParts, grad_output: Any) -> np.ndarray:
    """Per-item factor f_i = s_i * d(reduction)/d(weighted item loss) * grad_output."""
    item_shape = cp.s.shape
    if cp.reduction == "none":
        g = V.grad_output_arg(grad_output, item_shape)
    else:
        g = np.broadcast_to(V.grad_output_arg(grad_output, ()), item_shape)
        if cp.reduction == "mean":
            with np.errstate(**_ERR):
                g = g / np.sum(cp.omega)
    with np.errstate(**_ERR):
        f = cp.s * g
    return np.where(cp.ignored | (cp.s == 0), 0, f)


def cross_entropy_vjp(
    logits: Any, target: Any, *, axis: int = -1, target_kind: str = "index", weight: Any = None,
    ignore_index: Any = None, label_smoothing: float = 0.0, sample_weight: Any = None,
    reduction: str = "mean", grad_output: Any = None,
) -> np.ndarray:
    """f_i * (W_i p_ic - v_ic), v = w q, W = sum_c v_c; the argmax entry via expm1."""
    cp = O.cross_entropy_parts(
        logits, target, axis=axis, target_kind=target_kind, weight=weight,
        ignore_index=ignore_index, label_smoothing=label_smoothing,
        sample_weight=sample_weight, reduction=reduction,
    )
    parts: O.LogSoftmaxParts = cp.extra
    f = _item_factor(cp, grad_output)[..., None]
    with np.errstate(**_ERR):
        p = np.exp(parts.logsm)
        W = np.sum(cp.v, axis=-1, keepdims=True)
        dz = W * p - cp.v
        # at the argmax a: W p_a - v_a = W (p_a - 1) + sum_{k != a} v_k, with p_a - 1 = expm1(logsm_a)
        v_other = cp.v.copy()
        np.put_along_axis(v_other, parts.amax, 0, axis=-1)
        la = np.take_along_axis(parts.logsm, parts.amax, axis=-1)
        da = W * np.expm1(la) + np.sum(v_other, axis=-1, keepdims=True)
        np.put_along_axis(dz, parts.amax, da, axis=-1)
        dz = _zero_where(np.broadcast_to(f == 0, dz.shape), f * dz)
        # an ignored item's loss is 0 whatever its logits (a row of NaN, +inf or all -inf
        # included): its gradient is exactly 0, as its forward value is
        dz = np.where(cp.ignored[..., None], 0, dz)
    return V.out64(np.moveaxis(dz, -1, cp.axis))


def nll_loss_vjp(
    logp: Any, target: Any, *, axis: int = -1, weight: Any = None, ignore_index: Any = None,
    sample_weight: Any = None, reduction: str = "mean", grad_output: Any = None,
) -> np.ndarray:
    """-f_i * w_{y_i} at the target class, 0 elsewhere."""
    cp = O.nll_loss_parts(
        logp, target, axis=axis, weight=weight, ignore_index=ignore_index,
        sample_weight=sample_weight, reduction=reduction,
    )
    f = _item_factor(cp, grad_output)[..., None]
    with np.errstate(**_ERR):
        d = _zero_where(np.broadcast_to(f == 0, cp.v.shape) | (cp.v == 0), -f * cp.v)
        d = np.where(cp.ignored[..., None], 0, d)  # ignored: exactly 0, as the forward
    return V.out64(np.moveaxis(d, -1, cp.axis))


def categorical_crossentropy_vjp(
    probs: Any, target: Any, *, axis: int = -1, weight: Any = None, label_smoothing: float = 0.0,
    sample_weight: Any = None, reduction: str = "mean", grad_output: Any = None,
) -> np.ndarray:
    """-f_i * w_c q_ic / p_ic (0 where q_ic = 0; -inf where p_ic = 0 < q_ic)."""
    cp = O.categorical_crossentropy_parts(
        probs, target, axis=axis, weight=weight, label_smoothing=label_smoothing,
        sample_weight=sample_weight, reduction=reduction,
    )
    f = _item_factor(cp, grad_output)[..., None]
    pl = cp.extra
    with np.errstate(**_ERR):
        d = np.where(np.broadcast_to(f == 0, cp.v.shape) | (cp.v == 0), 0, -f * (cp.v / pl))
    return V.out64(np.moveaxis(d, -1, cp.axis))


def _elem_factor(bp: O.BinaryParts, grad_output: Any) -> np.ndarray:
    if bp.reduction == "none":
        return V.grad_output_arg(grad_output, bp.x.shape)
    g = np.broadcast_to(V.grad_output_arg(grad_output, ()), bp.x.shape)
    if bp.reduction == "mean":
        with np.errstate(**_ERR):
            g = g / WIDE(bp.x.size)
    return g


def binary_cross_entropy_vjp(
    probs: Any, target: Any, *, weight: Any = None, label_smoothing: float = 0.0,
    reduction: str = "mean", grad_output: Any = None,
) -> np.ndarray:
    """f * w * (p - q) / (p (1 - p)); at p in {0, 1} term by term with 0 * inf = 0."""
    bp = O.binary_cross_entropy_parts(probs, target, weight=weight,
                                      label_smoothing=label_smoothing, reduction=reduction)
    f = _elem_factor(bp, grad_output)
    p, q = bp.x, bp.q
    with np.errstate(**_ERR):
        inner = (p - q) / (p * (1 - p))
        a = np.where(q == 0, 0, q / p)
        b = np.where(q == 1, 0, (1 - q) / (1 - p))
        edge = (p == 0) | (p == 1)
        inner = np.where(edge, b - a, inner)
        coef = f * bp.w
        d = _zero_where(coef == 0, coef * inner)
    return V.out64(d)


def binary_cross_entropy_with_logits_vjp(
    logits: Any, target: Any, *, weight: Any = None, pos_weight: Any = None,
    label_smoothing: float = 0.0, reduction: str = "mean", grad_output: Any = None,
) -> np.ndarray:
    """f * w * [(1 - q) sigmoid(z) - pw q sigmoid(-z)] (tanh form for |z| < 1)."""
    bp = O.binary_cross_entropy_with_logits_parts(
        logits, target, weight=weight, pos_weight=pos_weight,
        label_smoothing=label_smoothing, reduction=reduction,
    )
    f = _elem_factor(bp, grad_output)
    z, q, pw = bp.x, bp.q, bp.pw
    with np.errstate(**_ERR):
        inner = (1 - q) * O.sigmoid_w(z) - pw * q * O.sigmoid_w(-z)
        # for |z| < 1 both sigmoids are ~1/2 and cancel: use a sigmoid(z) - pw q with
        # sigmoid(z) = (1 + tanh(z/2)) / 2, i.e. a tanh(z/2) / 2 + (1 - q - pw q) / 2
        a = 1 - q + pw * q
        small = a * np.tanh(z / 2) / 2 + (1 - q - pw * q) / 2
        inner = np.where(np.abs(z) < 1, small, inner)
        coef = f * bp.w
        d = _zero_where(coef == 0, coef * inner)
    return V.out64(d)
