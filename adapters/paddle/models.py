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
def avx_path(call: Call) -> bool:
    """Whether the CPU softmax takes its AVX path (SoftmaxFunctor<CPUContext>): the classes
    are the innermost dimension (num_remain == 1); its float32 clip is _mm256_max_ps."""
    if np.ndim(call.x) == 0:
        return False
    a = class_axis(call)
    return int(np.prod(np.shape(call.x)[a + 1:], dtype=np.int64)) == 1


def shifted(zl: np.ndarray, dtype: str, avx: bool = False) -> np.ndarray:
    """The logits (classes last) minus their row maximum, clipped at -64.

    The Eigen path (and log_softmax) keeps NaN (``x < -64 ? -64 : x``). The AVX path takes
    the row maximum with std::max_element (a NaN is skipped unless it is the first element,
    which then is the maximum) and clips float32 blocks of 8 with _mm256_max_ps(x, -64), which
    returns -64 for NaN; the remaining n % 8 elements are clipped as in the Eigen path."""
    with _err():
        if avx:
            first = zl[..., :1]
            m = np.where(np.isnan(first), np.nan, np.nanmax(
                np.where(np.isnan(zl), -np.inf, zl), axis=-1, keepdims=True))
        else:
            m = np.max(zl, axis=-1, keepdims=True)
        d = round_to(zl - m, dtype)
        out = np.where(d < CLIP, CLIP, d)
        if avx and dtype == "float32":
            end = zl.shape[-1] - zl.shape[-1] % 8
            block = np.arange(zl.shape[-1]) < end
            out = np.where(block & np.isnan(d), CLIP, out)
        return out


def _np_dtype(dtype: str) -> Any:
    return np.float32 if dtype == "float32" else np.float64


def sum_ends(e: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """The ends of the row sum of ``e`` (the last axis) as a kernel summing in ``dtype`` in an
    order we do not model (Eigen's reductions) gets it: the exact sum rounded to ``dtype``
    where every order rounds to the same value (the sum's worst-case error stays inside that
    value's rounding interval, or a confident row's 1 + r has r below a quarter ULP of 1);
    else the values of ``dtype`` that bracket the exact sum, widened on a confident row (r
    below 2^-10) by ceil(log2 C) + 2 ULP each way, the roundings of partial sums onto 1."""
    with _err():
        wide = np.longdouble if dtype == "float64" else np.float64  # the sum, near exact
        ew = e.astype(wide)
        s = np.sum(ew, axis=-1, keepdims=True)
        t = _np_dtype(dtype)
        r = s.astype(t)
        rw = r.astype(wide)
        lo = np.where(rw > s, np.nextafter(r, t(-np.inf)), r)
        hi = np.where(rw < s, np.nextafter(r, t(np.inf)), r)
        half_ulp = (np.nextafter(r, t(np.inf)).astype(wide) - rw) / 2
        err = max(e.shape[-1] - 1, 0) * wide(EPS[dtype]) / 2 * np.abs(s)
        big = np.max(ew, axis=-1, keepdims=True)
        fixed = (np.abs(s - rw) + err < half_ulp) | (s - big < wide(EPS[dtype]) / 4 * big)
        confident = (s - big) < big * wide(2.0 ** -10)
        k = int(np.ceil(np.log2(max(e.shape[-1], 2)))) + 2
        for _ in range(k):
            lo = np.where(confident, np.nextafter(lo, t(-np.inf)), lo)
            hi = np.where(confident, np.nextafter(hi, t(np.inf)), hi)
        r64 = r.astype(np.float64)
        return (np.where(fixed, r64, lo.astype(np.float64)),
                np.where(fixed, r64, hi.astype(np.float64)))


def kernel_sum(e: np.ndarray, dtype: str) -> np.ndarray:
    """The row sum (last axis, kept) as the CPU softmax's AVX path computes it (vec_sum in
    funcs/cpu_vec.h): float32 rows of 8 or more accumulate blocks of 8 in 8 lanes, reduce the
    lanes as _mm256_hadd_ps / permute / _mm_hadd_ps do ((l0+l1)+(l4+l5)) + ((l2+l3)+(l6+l7)),
    then add the remaining n % 8 one by one; shorter rows and float64 add one by one."""
    t = _np_dtype(dtype)
    x = e.astype(t)
    n = x.shape[-1]
    with _err():
        if dtype == "float32" and n >= 8:
            end = n - n % 8
            blocks = x[..., :end].reshape(x.shape[:-1] + (end // 8, 8))
            lanes = np.cumsum(blocks, axis=-2, dtype=t)[..., -1, :]
            l = [lanes[..., i] for i in range(8)]
            acc = ((l[0] + l[1]) + (l[4] + l[5])) + ((l[2] + l[3]) + (l[6] + l[7]))
            rest = np.concatenate([acc[..., None], x[..., end:]], axis=-1)
            s = np.cumsum(rest, axis=-1, dtype=t)[..., -1]
        else:
            s = np.cumsum(x, axis=-1, dtype=t)[..., -1]
    return s[..., None].astype(np.float64)


def softmax_ends(zl: np.ndarray, dtype: str, avx: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Two ends of the clipped softmax rounded to ``dtype``: exp of the clipped shifted logits
    (rounded to ``dtype``) times the reciprocal of their sum (vec_scal). On the AVX path the
    sum is the kernel's own (``kernel_sum``: both ends equal); on the Eigen path it is rounded
    down or up (``sum_ends``)."""
    d = shifted(zl, dtype, avx)
    with _err():
        e = round_to(np.exp(d), dtype)
        if avx:
            s_lo = s_hi = kernel_sum(e, dtype)
        else:
            s_lo, s_hi = sum_ends(e, dtype)
        return (round_to(e * round_to(1 / s_hi, dtype), dtype),
                round_to(e * round_to(1 / s_lo, dtype), dtype))


def softmax_model(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """paddle.nn.functional.softmax on the CPU (end farther from the reference), and its
    gradient y * (g - sum y g) from that output."""
    zl = classes_last(call.x, call)
    lo, hi = softmax_ends(zl, call.dtype, avx_path(call))
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


def ce_model(call: Call, *, keep_axis: bool | None = None, squeeze: bool = False,
             widen: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """paddle.nn.functional.cross_entropy / CrossEntropyLoss (and softmax_with_cross_entropy
    with ``squeeze``) on the CPU, both use_softmax settings; the end farther from the
    reference. ``widen``: each probability of 1/2 or more may also be one ULP off the model's
    rounding (the kernel's e * (1 / sum) rounds twice, in its own order), which a sum over
    many confident items (each loss -log p quantised by ulp(1)) accumulates."""
    ends = [_ce_end(call, end, keep_axis=keep_axis, squeeze=squeeze, widen=widen)
            for end in (0, 1)]
    fwd = farther_from_reference(call, ends[0][0], ends[1][0])
    return fwd, ends[0][1]


def _ce_end(call: Call, end: int, *, keep_axis: bool | None, squeeze: bool,
            widen: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
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
                # paddle.nn.functional.label_smooth: (1 - eps) q + eps / C, the two
                # constants computed in float32 (eps is a float attribute), the rest in the
                # label's dtype: float32 for index labels (one_hot's output); then
                # .astype(input.dtype)
                e32 = np.float32(eps)
                a, b = float(np.float32(1) - e32), float(e32 / np.float32(C))
                ldt = "float32" if index else dt
                q = round_to(round_to(a * q, ldt) + b, ldt)
        if use_softmax:
            p = softmax_ends(zl, dt, avx_path(call))[end]
            if widen:  # only rows whose sum's rounding depends on the order
                t = _np_dtype(dt)
                if avx_path(call):
                    s_lo = s_hi = np.zeros(zl.shape[:-1] + (1,))
                else:
                    s_lo, s_hi = sum_ends(
                        round_to(np.exp(shifted(zl, dt, False)), dt), dt)
                step = np.nextafter(p.astype(t), t(np.inf if end else -np.inf))
                p = np.where((p >= 0.5) & (s_lo != s_hi),
                             np.minimum(step.astype(np.float64), 1.0), p)
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
                pp = softmax_ends(zl, dt, avx_path(call))[0]
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
        y = np.asarray(call.target)
        w = call.option("weight")
        ii = call.option("ignore_index")
        keep = np.ones(y.shape, bool) if ii is None else (y != int(ii))
        wy = np.ones(y.shape) if w is None else np.asarray(w, np.float64)[np.where(keep, y, 0)]
        if float(np.sum(np.where(keep, wy, 0.0))) == 0.0:
            fwd = np.asarray(R.nll_loss(*args, **dict(kw, reduction="sum")))
    return fwd, None


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
        grad = None
        if call.grad_output is not None:
            # sigmoid_cross_entropy_with_logits_grad, per element, in the dtype
            ex = round_to(np.exp(-np.abs(x)), dt)
            if pw is None:
                sgn = np.where(x >= 0, 1.0, -1.0)
                term3 = round_to(round_to(-ex * sgn, dt) / round_to(1 + ex, dt), dt)
                diff = round_to(round_to(np.where(x > 0, 1.0, 0.0) - t, dt) + term3, dt)
            else:
                m = np.where(x < 0, -x, 0.0)
                term1 = np.where(x < 0, -1.0, 0.0)
                d1 = round_to(np.exp(-m), dt)
                d2 = round_to(np.exp(round_to(-x - m, dt)), dt)
                term2 = round_to(d1 * -term1 + d2 * (-1 - term1), dt)
                frac = round_to(term2 / round_to(d1 + d2, dt), dt)
                diff = round_to(lw * round_to(frac + term1, dt) + round_to(1 - t, dt), dt)
            g = _elem_cotangent(call, x.shape, n)
            if w is not None:
                g = g * np.broadcast_to(np.asarray(w, np.float64), x.shape)
            grad = g * diff
    return round_to(fwd, dt), grad


def log_sigmoid_model(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """paddle log_sigmoid (LogSigmoidFunctor): -(m + log(exp(-m) + exp(-x - m))), m =
    max(-x, 0): a log of a rounded sum near 1 (no log1p); -inf gives inf - inf = NaN."""
    dt = call.dtype
    x = np.asarray(call.x, np.float64)
    with _err():
        m = np.maximum(-x, 0.0)
        s = round_to(round_to(np.exp(-m), dt) + round_to(np.exp(round_to(-x - m, dt)), dt), dt)
        out = round_to(-(m + round_to(np.log(s), dt)), dt)
        grad = None
        if call.grad_output is not None:  # LogSigmoidGradFunctor: e^(-x-m) / (e^-m + e^(-x-m))
            a = round_to(np.exp(round_to(-x - m, dt)), dt)
            grad = np.asarray(call.grad_output, np.float64) * round_to(
                a / round_to(round_to(np.exp(-m), dt) + a, dt), dt)
    return out, grad


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
