"""Paddle's numerics written out in NumPy, for the divergence entries' models.

Each function follows Paddle 3.3.1's CPU code path for one family, from the Python wrapper
(python/paddle/nn/functional/loss.py) down to the phi kernel, with the kernel's conventions
applied to the reference's arithmetic: the softmax's shifted logits clipped at -64
(funcs/softmax_impl.h and cpu/log_softmax_kernel.cc, ``ValueClip``), the loss taken as
``-log`` of the rounded softmax (funcs/cross_entropy.cc, ``TolerableValue``: log 0 = -1e20),
soft labels' per-item weight ``sum_c w_c q_c``, the 'mean' denominators of the wrapper, the
binary losses' log clamp at -100 and ``log(1 + exp(-|x|))``. Nothing here imports paddle: the
models are built from the reference's values and plain float64 NumPy, rounded to the call's
dtype where the kernel stores a result in it.

A result whose last bit depends on a kernel's summation order is given as two ends (``lo``,
``hi``) and the entries pick, per element, the end farther from the reference
(``lossconform.divergences.numerics.farther_from_reference``), as the guide asks.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.divergences.numerics import (
    class_axis, classes_back, classes_last, cotangent, label_smoothing, probs_target_last,
)
from lossconform.dtypes import EPS, round_to

#: ValueClip's threshold on the logits minus their row maximum
CLIP = -64.0
#: TolerableValue: an infinite log becomes -+1e20
APPROX_INF = 1e20
#: the binary cross-entropy kernel's clamp of each log
BCE_LOG_CLAMP = -100.0
#: paddle's default ignore_index
DEFAULT_IGNORE = -100


def farther_from_reference(call: Call, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per element, whichever end is farther from the reference (a framework's value lies
    between them); a reference of another shape but the same size (Paddle's kept class axis)
    is compared element by element."""
    try:
        ref = np.asarray(R.evaluate(call, gradient=False)[0], dtype=np.float64)
    except Exception:  # an input the reference rejects
        return b
    if ref.size != np.size(b):
        return b
    ref = ref.reshape(np.shape(b))
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(a - ref) > np.abs(b - ref), a, b)


def _err(**kw: str) -> Any:
    return np.errstate(**({"over": "ignore", "invalid": "ignore", "divide": "ignore",
                           "under": "ignore"} | kw))


# -- softmax and log_softmax ------------------------------------------------------------------
def shifted(zl: np.ndarray, dtype: str) -> np.ndarray:
    """The logits (classes last) minus their row maximum, clipped at -64 (NaN stays NaN)."""
    with _err():
        m = np.max(zl, axis=-1, keepdims=True)
        d = round_to(zl - m, dtype)
        return np.where(d < CLIP, CLIP, d)


def _np_dtype(dtype: str) -> Any:
    return np.float32 if dtype == "float32" else np.float64


def sum_ends(e: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """The ends of the row sum of ``e`` (the last axis) as a kernel summing in ``dtype`` in
    its own order gets it: the exact sum rounded to ``dtype`` where every order rounds to the
    same value (the sum's worst-case error, (C - 1) units of rounding, stays inside that
    value's rounding interval: a confident row's 1 + r with r below a quarter ULP of 1), else
    the two values of ``dtype`` that bracket the exact sum."""
    with _err():
        s = np.sum(e, axis=-1, keepdims=True)
        t = _np_dtype(dtype)
        r = s.astype(t)
        r64 = r.astype(np.float64)
        lo = np.where(r64 > s, np.nextafter(r, t(-np.inf)), r).astype(np.float64)
        hi = np.where(r64 < s, np.nextafter(r, t(np.inf)), r).astype(np.float64)
        half_ulp = (np.nextafter(r, t(np.inf)).astype(np.float64) - r64) / 2
        err = max(e.shape[-1] - 1, 0) * EPS[dtype] / 2 * np.abs(s)
        big = np.max(e, axis=-1, keepdims=True)
        fixed = (np.abs(s - r64) + err < half_ulp) | (s - big < EPS[dtype] / 4 * big)
        return np.where(fixed, r64, lo), np.where(fixed, r64, hi)


def softmax_ends(zl: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Two ends of the clipped softmax rounded to ``dtype``: exp of the clipped shifted logits
    (rounded to ``dtype``) over their sum rounded down or up to ``dtype``."""
    d = shifted(zl, dtype)
    with _err():
        e = round_to(np.exp(d), dtype)
        s_lo, s_hi = sum_ends(e, dtype)
        return round_to(e / s_hi, dtype), round_to(e / s_lo, dtype)


def softmax_model(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """paddle.nn.functional.softmax on the CPU (end farther from the reference), and its
    gradient y * (g - sum y g) from that output."""
    zl = classes_last(call.x, call)
    lo, hi = softmax_ends(zl, call.dtype)
    y = classes_back(lo, call)
    y = farther_from_reference(call, y, classes_back(hi, call))
    grad = None
    if call.grad_output is not None:
        g = np.asarray(call.grad_output, np.float64)
        with _err():
            yl, gl = classes_last(y, call), classes_last(g, call)
            grad = classes_back(yl * (gl - np.sum(yl * gl, axis=-1, keepdims=True)), call)
    return y, grad


def log_softmax_model(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """paddle.nn.functional.log_softmax on the CPU: d - log(sum exp d), d the shifted logits
    clipped at -64, the log of the rounded sum (no log1p); gradient g - exp(out) sum g."""
    zl = classes_last(call.x, call)
    dt = call.dtype
    d = shifted(zl, dt)
    with _err():
        e = round_to(np.exp(d), dt)
        ends = [round_to(d - round_to(np.log(s), dt), dt) for s in sum_ends(e, dt)]
    out = farther_from_reference(call, classes_back(ends[0], call), classes_back(ends[1], call))
    grad = None
    if call.grad_output is not None:
        g = classes_last(np.asarray(call.grad_output, np.float64), call)
        with _err():
            ol = classes_last(out, call)
            grad = classes_back(g - np.exp(ol) * np.sum(g, axis=-1, keepdims=True), call)
    return out, grad


# -- cross_entropy (cross_entropy_with_softmax) --------------------------------------------------
def _ignore(call: Call) -> int:
    ii = call.option("ignore_index")
    return DEFAULT_IGNORE if ii is None else int(ii)


def ce_model(call: Call, *, keep_axis: bool | None = None,
             squeeze: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """paddle.nn.functional.cross_entropy / CrossEntropyLoss (and softmax_with_cross_entropy
    with ``squeeze``) on the CPU, both use_softmax settings; the end farther from the
    reference."""
    ends = [_ce_end(call, end, keep_axis=keep_axis, squeeze=squeeze) for end in (0, 1)]
    fwd = farther_from_reference(call, ends[0][0], ends[1][0])
    return fwd, ends[0][1]


def _ce_end(call: Call, end: int, *, keep_axis: bool | None,
            squeeze: bool) -> tuple[np.ndarray, np.ndarray | None]:
    dt = call.dtype
    zl = classes_last(call.x, call)
    C = zl.shape[-1]
    item_shape = zl.shape[:-1]
    use_softmax = call.op == "cross_entropy"
    eps = label_smoothing(call)
    index = call.target_kind == "index"
    ii = _ignore(call)
    soft = (not index) or eps > 0
    y = np.asarray(call.target) if index else None
    with _err():
        if soft:
            q = probs_target_last(call)
            if eps > 0:
                # paddle.nn.functional.label_smooth: (1 - eps) q + eps / C with eps a float32
                # attribute, in the label's dtype: float32 for index labels (one_hot's
                # output), then .astype(input.dtype)
                e32 = float(np.float32(eps))
                ldt = "float32" if index else dt
                q = round_to(round_to(round_to(1 - e32, ldt) * q, ldt)
                             + round_to(e32 / C, ldt), ldt)
        if use_softmax:
            p = softmax_ends(zl, dt)[end]
        else:
            p = zl
        logp = np.log(p)
        logp = np.where(np.isneginf(logp), -APPROX_INF, np.where(np.isposinf(logp),
                                                                  APPROX_INF, logp))
        if soft:
            terms = np.where(q == 0, 0.0, q * logp)
            terms = np.where(np.isnan(q * logp), np.nan, terms)
            loss = round_to(-np.sum(terms, axis=-1), dt)
            ignored = np.zeros(item_shape, bool)
        else:
            ignored = y == ii
            yv = np.where(ignored, 0, y)
            lp = np.take_along_axis(logp, yv[..., None], axis=-1)[..., 0]
            loss = round_to(np.where(ignored, 0.0, -lp), dt)
        w = call.option("weight")
        wg = np.ones(item_shape)
        if w is not None:
            w = np.asarray(w, np.float64)
            if soft:
                wg = round_to(np.sum(q * w, axis=-1), dt)
            else:
                wg = np.where(ignored, 0.0, w[np.where(ignored, 0, y)])
            loss = round_to(loss * wg, dt)
        red = call.reduction if not squeeze else "none"
        n_items = int(np.prod(item_shape)) if item_shape else 1
        if red == "none":
            out = loss
            if keep_axis if keep_axis is not None else soft:
                out = np.expand_dims(loss, class_axis(call))
            denom = 1.0
        elif red == "sum":
            out = np.asarray(np.sum(loss))
            denom = 1.0
        else:
            if zl.size == 0:
                denom = np.nan
            elif ii >= 0:
                if soft:
                    mask = (q != ii).astype(np.float64)
                    denom = float(np.sum(mask if w is None else mask * wg[..., None]))
                else:
                    mask = (~ignored).astype(np.float64)
                    denom = float(np.sum(mask if w is None else mask * wg))
                denom = denom + (denom == 0)
            elif w is not None:
                denom = float(np.sum(wg))
                denom = denom + (denom == 0)
            else:
                denom = float(n_items)
            out = np.asarray(np.sum(loss) / denom)
        out = round_to(out, dt)
        grad = None
        if call.grad_output is not None:
            red_shape = item_shape if red == "none" else ()
            g = np.asarray(call.grad_output, np.float64).reshape(
                red_shape if red == "none" else ())
            gi = np.broadcast_to(g, item_shape) / denom * wg
            if use_softmax:
                target = q if soft else (y[..., None] == np.arange(C)).astype(np.float64)
                pp = softmax_ends(zl, dt)[0]
                dz = (pp - target) * gi[..., None]
            elif soft:
                dz = -q / p * gi[..., None]
            else:
                onehot = (y[..., None] == np.arange(C))
                dz = np.where(onehot, -1.0 / p, 0.0) * gi[..., None]
            if not soft:
                dz = np.where(ignored[..., None], 0.0, dz)
            grad = classes_back(dz, call)
    return out, grad


# -- nll_loss -------------------------------------------------------------------------------------
def nll_model(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """paddle nll_loss: the reference's losses; 'mean' over a zero total weight is 0 (the
    kernel divides only when the total weight is not 0)."""
    args, kw = R.arguments(call)
    fwd = np.asarray(R.evaluate(call, gradient=False)[0], np.float64)
    if call.reduction == "mean":
        kw_sum = dict(kw, reduction="sum")
        with _err():
            fwd = np.where(np.isnan(fwd), np.asarray(R.nll_loss(*args, **kw_sum)), fwd)
    grad = None
    if call.grad_output is not None:
        grad = np.zeros_like(np.asarray(call.x, np.float64))
    return fwd, grad


# -- binary losses ----------------------------------------------------------------------------------
def bce_model(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """paddle binary_cross_entropy (bce_loss kernel): (t - 1) max(log(1 - p), -100)
    - t max(log p, -100), times weight; 'mean' over the element count. Gradient (bce_loss_grad
    kernel): g (p - t) / max((1 - p) p, 1e-12), times weight."""
    dt = call.dtype
    p = np.asarray(call.x, np.float64)
    t = np.asarray(call.target, np.float64)
    with _err():
        l1 = np.maximum(round_to(np.log(round_to(1 - p, dt)), dt), BCE_LOG_CLAMP)
        l0 = np.maximum(round_to(np.log(p), dt), BCE_LOG_CLAMP)
        el = round_to((t - 1) * l1 - t * l0, dt)
        w = call.option("weight")
        if w is not None:
            el = round_to(el * np.broadcast_to(np.asarray(w, np.float64), p.shape), dt)
        n = float(max(p.size, 1))
        fwd = _reduce(el, call.reduction, n)
        grad = None
        if call.grad_output is not None:
            g = _elem_cotangent(call, p.shape, n)
            dp = g * (p - t) / np.maximum((1 - p) * p, 1e-12)
            if w is not None:
                dp = dp * np.broadcast_to(np.asarray(w, np.float64), p.shape)
            grad = dp
    return round_to(fwd, dt), grad


def bce_logits_model(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """paddle binary_cross_entropy_with_logits (sigmoid_cross_entropy_with_logits kernel):
    max(x, 0) - x t + log(1 + exp(-|x|)) (a log, not log1p), with pos_weight
    (1 - t) x + (1 + (pw - 1) t) (log(1 + exp(-|x|)) + max(-x, 0)); times weight."""
    dt = call.dtype
    x = np.asarray(call.x, np.float64)
    t = np.asarray(call.target, np.float64)
    pw = call.option("pos_weight")
    with _err():
        softp = round_to(np.log(round_to(1 + round_to(np.exp(-np.abs(x)), dt), dt)), dt)
        if pw is None:
            el = round_to(round_to(np.maximum(x, 0) - round_to(x * t, dt), dt) + softp, dt)
        else:
            lw = round_to(1 + round_to((np.asarray(pw, np.float64) - 1) * t, dt), dt)
            el = round_to(round_to((1 - t) * x, dt)
                          + round_to(lw * round_to(softp + np.maximum(-x, 0), dt), dt), dt)
        w = call.option("weight")
        if w is not None:
            el = round_to(el * np.broadcast_to(np.asarray(w, np.float64), x.shape), dt)
        n = float(max(x.size, 1))
        fwd = _reduce(el, call.reduction, n)
    return round_to(fwd, dt), None


def log_sigmoid_model(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """paddle log_sigmoid (LogSigmoidFunctor): -(m + log(exp(-m) + exp(-x - m))), m =
    max(-x, 0): a log of a rounded sum near 1 (no log1p); -inf gives inf - inf = NaN."""
    dt = call.dtype
    x = np.asarray(call.x, np.float64)
    with _err():
        m = np.maximum(-x, 0.0)
        s = round_to(round_to(np.exp(-m), dt) + round_to(np.exp(round_to(-x - m, dt)), dt), dt)
        out = round_to(-(m + round_to(np.log(s), dt)), dt)
    return out, None


def _reduce(el: np.ndarray, reduction: str, n: float) -> np.ndarray:
    if reduction == "none":
        return el
    if reduction == "sum":
        return np.asarray(np.sum(el))
    return np.asarray(np.sum(el) / n)


def _elem_cotangent(call: Call, shape: tuple[int, ...], n: float) -> np.ndarray:
    red = call.reduction
    g = cotangent(call, shape if red == "none" else ())
    g = np.broadcast_to(g, shape)
    return g / n if red == "mean" else g


__all__ = ["bce_logits_model", "bce_model", "ce_model", "log_sigmoid_model",
           "log_softmax_model", "nll_model", "softmax_model"]
