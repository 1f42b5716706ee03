"""MLX's CPU arithmetic for these ops, step by step, in NumPy: the models of the divergence
entries (``div_mlx.py``). Nothing here calls mlx.

Each function follows MLX's own code at v0.32.4 (python/mlx/nn/losses.py,
python/mlx/nn/layers/activations.py, and the C++ CPU kernels and vjps it dispatches to:
mlx/backend/cpu/softmax.cpp, logsumexp.cpp, reduce.cpp, simd/math.h, unary_ops.h,
binary_ops.h, mlx/primitives.cpp) with every intermediate rounded to the dtype MLX keeps it in:

- on Linux (x86-64) MLX's CPU SIMD width is 1 (``max_size = 1`` in simd/base_simd.h), so every
  row sum and every reduction is a plain left-to-right loop in its accumulation dtype
  (``np.cumsum`` in that dtype is the same loop);
- ``exp`` (simd/math.h) converts its input to float32, evaluates a float32 polynomial and
  saturates (x > 88: inf, x < -88: 0), whatever the dtype: ``exp_`` repeats that algorithm
  in float32 (its error grows with |x|: ~1e-6 relative at |x| = 32), then rounds to the
  dtype;
- ``mx.softmax`` accumulates in the input dtype unless ``precise=True`` (float32 for
  float16/bfloat16); ``mx.logsumexp`` over the last axis (the LogSumExp kernel) accumulates
  float16/bfloat16 in float32 and takes the log in float32; over any other axis it is
  ``log(sum(exp(x - max)))`` of ordinary ops, each in the dtype;
- ``mx.sum`` (a Reduce, so also ``mx.mean`` and the sums inside vjps) of float16/bfloat16
  accumulates in float32 and rounds the result to the dtype once (measured on 0.32.4: 5000
  times 0.01 sums to 50 in both half dtypes, where a half accumulator stops at 32 or 4);
  ``mx.mean`` is ``sum * (1/n)`` in the dtype (mlx/ops.cpp ``mean``).

Arrays are float64 NumPy arrays holding values of the dtype; the class axis is moved last.
"""
from __future__ import annotations

import numpy as np

from lossconform.contract import Call
from lossconform.divergences.numerics import classes_back, classes_last, probs_target_last
from lossconform.dtypes import HALF_DTYPES, NUMPY_DTYPES, round_to

F32 = "float32"


def rt(v: object, dt: str) -> np.ndarray:
    """``v`` rounded to ``dt`` (as float64)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(round_to(np.asarray(v, dtype=np.float64), dt), dtype=np.float64)


def lse_acc(dt: str) -> str:
    """The accumulation dtype of the LogSumExp kernel and of ``softmax(precise=True)``."""
    return F32 if dt in HALF_DTYPES else dt


_EXP_POLY = (1.535336188319500e-4, 1.339887440266574e-3, 9.618437357674640e-3,
             5.550332471162809e-2, 2.402264791363012e-1, 6.931472028550421e-1, 1.0)


def _f32(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.float64).astype(np.float32).astype(np.float64)


def exp_(v: np.ndarray, dt: str) -> np.ndarray:
    """MLX's ``exp`` of values of ``dt`` (simd/math.h): the input converted to float32, y = x *
    1.442695f, 2^round(y) times a degree-6 polynomial of the fraction (fma steps in float32),
    NaN kept, x > 88 -> inf, x < -88 -> 0; the float32 result converted to ``dt``."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        xf = _f32(v)
        y = _f32(xf * _f32(1.442695))
        ipart = np.floor(_f32(y + 0.5))
        fpart = _f32(y - ipart)
        p = np.full_like(fpart, _f32(_EXP_POLY[0]))
        for c in _EXP_POLY[1:]:
            p = _f32(p * fpart + _f32(c))  # fma: one rounding
        k = np.clip(np.nan_to_num(ipart), -200, 200)
        epart = np.where(k + 127 <= 0, 0.0, np.ldexp(1.0, k.astype(np.int64)))
        r = _f32(epart * p)
        r = np.where(xf > 88.0, np.inf, np.where(xf < -88.0, 0.0, r))
        r = np.where(np.isnan(xf), np.nan, r)
    return rt(r, dt)


def seqsum(a: np.ndarray, dt: str, keepdims: bool = False) -> np.ndarray:
    """The left-to-right sum over the last axis, each partial sum rounded to ``dt``."""
    a = np.asarray(a, dtype=np.float64)
    if a.shape[-1] == 0:
        out = np.zeros(a.shape[:-1] + (1,))
    else:
        t = NUMPY_DTYPES[dt]
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.cumsum(a.astype(t), axis=-1, dtype=t)[..., -1:].astype(np.float64)
    return out if keepdims else out[..., 0]


def rsum(a: np.ndarray, dt: str, keepdims: bool = False) -> np.ndarray:
    """``mx.sum`` over the last axis: left to right in float32 for float16/bfloat16 (in the
    dtype otherwise), rounded to the dtype."""
    return rt(seqsum(a, lse_acc(dt), keepdims), dt)


def reduce(loss: np.ndarray, reduction: str, dt: str) -> np.ndarray:
    """``_reduce`` of mlx.nn.losses: 'none'; mx.sum; mx.mean = sum * (1/n) in the dtype."""
    if reduction == "none":
        return loss
    s = rsum(np.ravel(loss), dt)
    if reduction == "sum":
        return s
    with np.errstate(divide="ignore", invalid="ignore"):
        return rt(s * rt(1.0 / loss.size if loss.size else np.inf, dt), dt)


def reduce_cot(call: Call, shape: tuple[int, ...], dt: str) -> np.ndarray:
    """The cotangent of each unreduced loss: the vjp of ``_reduce`` with the call's
    grad_output (in the dtype, as the adapter passes it)."""
    g = rt(1.0 if call.grad_output is None else call.grad_output, dt)
    if call.reduction == "mean":
        n = int(np.prod(shape))
        with np.errstate(divide="ignore", invalid="ignore"):
            g = rt(g * rt(1.0 / n if n else np.inf, dt), dt)
    return np.broadcast_to(g, shape).astype(np.float64)


def is_last(call: Call) -> bool:
    return call.axis % call.x.ndim == call.x.ndim - 1


# -- softmax -----------------------------------------------------------------------------------
def softmax_rows(z: np.ndarray, dt: str, precise: bool) -> np.ndarray:
    """The Softmax kernel (softmax.cpp) over the last axis of ``z``."""
    acc = lse_acc(dt) if precise else dt
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = np.max(z, axis=-1, keepdims=True) if z.shape[-1] else np.zeros(z.shape[:-1] + (1,))
        d = rt(z - m, acc)
        e = exp_(d, acc)
        inv = rt(1.0 / seqsum(e, acc, keepdims=True), acc)
        return rt(rt(e * inv, acc), dt)


def softmax_vjp_rows(s: np.ndarray, g: np.ndarray, dt: str) -> np.ndarray:
    """Softmax::vjp (primitives.cpp): sv - s * sum(sv), sv = s * g, each op in the dtype."""
    with np.errstate(invalid="ignore", over="ignore"):
        sv = rt(s * g, dt)
        return rt(sv - rt(s * rsum(sv, dt, keepdims=True), dt), dt)


def softmax(call: Call, precise: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """mx.softmax(x, axis, precise) and its vjp. Over the last axis: the Softmax kernel;
    over another axis (mlx/ops.cpp ``softmax``): exp(x - max) / sum(exp(x - max)) of ordinary
    ops, after ``astype(a, float32)`` when precise, which rounds float64 inputs to float32
    too; the result is cast back to the input's dtype."""
    dt = call.dtype
    z = classes_last(call.x, call)
    if is_last(call):
        cdt = dt
        s = softmax_rows(z, dt, precise)
    else:
        cdt = F32 if precise else dt
        z = rt(z, cdt)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            m = np.max(z, axis=-1, keepdims=True)
            e = exp_(rt(z - m, cdt), cdt)
            s = rt(e / rsum(e, cdt, keepdims=True), cdt)
    grad = None
    if call.grad_output is not None:
        g = rt(rt(classes_last(np.broadcast_to(call.grad_output, call.x.shape), call), dt), cdt)
        grad = classes_back(rt(softmax_vjp_rows(s, g, cdt), dt), call)
    return classes_back(rt(s, dt), call), grad


# -- logsumexp ---------------------------------------------------------------------------------
def logsumexp(d: np.ndarray, dt: str, last: bool) -> np.ndarray:
    """mx.logsumexp over the last axis of ``d`` (keepdims): the LogSumExp kernel when the
    axis is the array's last, else log(sum(exp(d - max))) + max of ordinary ops."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if d.shape[-1] == 0:
            return np.full(d.shape[:-1] + (1,), -np.inf)
        m = np.max(d, axis=-1, keepdims=True)
        if last:
            acc = lse_acc(dt)
            S = seqsum(exp_(rt(d - m, acc), acc), acc, keepdims=True)
            out = rt(rt(rt(np.log(S), acc) + m, acc), dt)
        else:
            S = rsum(exp_(rt(d - m, dt), dt), dt, keepdims=True)
            out = rt(rt(np.log(S), dt) + m, dt)
        return np.where(np.isinf(m), m, out)


def logsumexp_vjp(d: np.ndarray, c: np.ndarray, dt: str, last: bool) -> np.ndarray:
    """The cotangent of ``d`` from mx.logsumexp's output cotangent ``c`` (keepdims):
    LogSumExp::vjp c * softmax(d, precise=True), or the vjp through log, sum and exp."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if last:
            return rt(c * softmax_rows(d, dt, precise=True), dt)
        m = np.max(d, axis=-1, keepdims=True)
        e = exp_(rt(d - m, dt), dt)
        S = rsum(e, dt, keepdims=True)
        c = np.where(np.isinf(m), 0.0, c)
        return rt(rt(c / S, dt) * e, dt)


# -- log_softmax -------------------------------------------------------------------------------
def log_softmax(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """mlx.nn.log_softmax: d = x - max, d - logsumexp(d), and its vjp."""
    dt, last = call.dtype, is_last(call)
    z = classes_last(call.x, call)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(z, axis=-1, keepdims=True) if z.shape[-1] else np.zeros(z.shape[:-1] + (1,))
        d = rt(z - m, dt)
        out = rt(d - logsumexp(d, dt, last), dt)
    grad = None
    if call.grad_output is not None:
        g = rt(classes_last(np.broadcast_to(call.grad_output, call.x.shape), call), dt)
        cL = rt(-rsum(g, dt, keepdims=True), dt)
        with np.errstate(invalid="ignore", over="ignore"):
            grad = classes_back(rt(g + logsumexp_vjp(d, cL, dt, last), dt), call)
    return classes_back(out, call), grad


# -- cross_entropy -----------------------------------------------------------------------------
def cross_entropy(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """mlx.nn.losses.cross_entropy on the CPU (losses.py#L79-L140) and its vjp."""
    dt, last = call.dtype, is_last(call)
    z = classes_last(call.x, call)
    C = z.shape[-1]
    ls = float(call.option("label_smoothing") or 0.0)
    w = call.option("sample_weight")
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        m = np.max(z, axis=-1, keepdims=True) if C else np.zeros(z.shape[:-1] + (1,))
        d = rt(z - m, dt)
        if call.target_kind == "probs":
            q = rt(probs_target_last(call), dt)
            score = rsum(rt(d * q, dt), dt)
        else:
            y = np.asarray(call.target, dtype=np.int64)
            score = np.take_along_axis(d, y[..., None], axis=-1)[..., 0]
        L = logsumexp(d, dt, last)[..., 0]
        if ls > 0:
            a = rt(1.0 - ls, dt)
            adjusted = rt(a * score, dt)
            inv_c = rt(1.0 / C, dt)
            mean_logits = rt(rsum(d, dt) * inv_c, dt)
            smoothed = rt(-mean_logits * rt(ls, dt), dt)
            loss = rt(rt(L - adjusted, dt) + smoothed, dt)
        else:
            loss = rt(L - score, dt)
        if w is not None:
            wt = rt(np.broadcast_to(w, loss.shape), dt)
            loss = rt(loss * wt, dt)
        fwd = reduce(loss, call.reduction, dt)
    if call.grad_output is None:
        return fwd, None
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        c = reduce_cot(call, loss.shape, dt)
        if w is not None:
            c = rt(c * wt, dt)
        # the cotangents of d in the order MLX's vjp adds them: the score's, the mean's
        # (label smoothing), then logsumexp's
        c_score = rt(-c, dt)
        if ls > 0:
            c_score = rt(c_score * a, dt)
        if call.target_kind == "probs":
            grad = rt(c_score[..., None] * q, dt)
        else:
            onehot = (y[..., None] == np.arange(C))
            grad = np.where(onehot, c_score[..., None], 0.0)
        if ls > 0:
            c_mean = rt(-rt(c * rt(ls, dt), dt), dt)
            grad = rt(grad + rt(c_mean * inv_c, dt)[..., None], dt)
        grad = rt(grad + logsumexp_vjp(d, c[..., None], dt, last), dt)
    return fwd, classes_back(grad, call)


# -- binary_cross_entropy ----------------------------------------------------------------------
def _sigmoid(v: np.ndarray, dt: str) -> np.ndarray:
    """The Sigmoid kernel (unary_ops.h): y = 1 / (1 + exp(|v|)) in float32 from exp in the
    dtype; v < 0 ? y : 1 - y, rounded to the dtype."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = exp_(np.abs(v), dt)
        if dt == "float64":
            y = 1.0 / (1.0 + e)
            return np.where(v < 0, y, 1.0 - y)
        y = rt(1.0 / rt(1.0 + e, F32), F32)
        return rt(np.where(v < 0, y, rt(1.0 - y, F32)), dt)


def _weights(call: Call, shape: tuple[int, ...], dt: str) -> np.ndarray | None:
    w = call.option("weight")
    return None if w is None else rt(np.broadcast_to(np.asarray(w, np.float64), shape), dt)


def bce_with_logits(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """binary_cross_entropy(with_logits=True): logaddexp(0, x) - x * t (losses.py#L193,
    binary_ops.h LogAddExp), weights, reduction; vjp via LogAddExp::vjp (1 - sigmoid(0 - x))."""
    dt = call.dtype
    x = np.asarray(call.x, np.float64)
    t = rt(call.target, dt)
    w = _weights(call, x.shape, dt)
    with np.errstate(invalid="ignore", over="ignore"):
        hi, lo = np.maximum(0.0, x), np.minimum(0.0, x)
        e = exp_(rt(lo - hi, dt), dt)
        lae = rt(hi + rt(np.log1p(e), dt), dt)
        lae = np.where((lo == -np.inf) | (hi == np.inf), hi, lae)
        lae = np.where(np.isnan(x), np.nan, lae)
        loss = rt(lae - rt(x * t, dt), dt)
        if w is not None:
            loss = rt(loss * w, dt)
        fwd = reduce(loss, call.reduction, dt)
    if call.grad_output is None:
        return fwd, None
    with np.errstate(invalid="ignore", over="ignore"):
        c = reduce_cot(call, loss.shape, dt)
        if w is not None:
            c = rt(c * w, dt)
        s = _sigmoid(rt(-x, dt), dt)
        grad = rt(rt(c * rt(1.0 - s, dt), dt) + rt(rt(-c, dt) * t, dt), dt)
    return fwd, grad


def bce_probs(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """binary_cross_entropy(with_logits=False): -(t * max(log p, -100) + (1 - t) *
    max(log(1 - p), -100)) (losses.py#L195-L197), weights, reduction; the vjp of
    maximum passes the cotangent only where log > -100 and the vjp of log divides it by p."""
    dt = call.dtype
    p = np.asarray(call.x, np.float64)
    t = rt(call.target, dt)
    w = _weights(call, p.shape, dt)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        q = rt(1.0 - p, dt)
        la, lb = rt(np.log(p), dt), rt(np.log(q), dt)
        ca, cb = np.maximum(la, -100.0), np.maximum(lb, -100.0)
        u = rt(1.0 - t, dt)
        loss = rt(-rt(rt(t * ca, dt) + rt(u * cb, dt), dt), dt)
        if w is not None:
            loss = rt(loss * w, dt)
        fwd = reduce(loss, call.reduction, dt)
    if call.grad_output is None:
        return fwd, None
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        c = reduce_cot(call, loss.shape, dt)
        if w is not None:
            c = rt(c * w, dt)
        cs = rt(-c, dt)
        ga = rt(np.where(la > -100.0, rt(cs * t, dt), 0.0) / p, dt)
        gb = rt(np.where(lb > -100.0, rt(cs * u, dt), 0.0) / q, dt)
        grad = rt(ga - gb, dt)
    return fwd, grad


__all__ = ["bce_probs", "bce_with_logits", "cross_entropy", "log_softmax", "softmax"]
