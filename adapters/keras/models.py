"""Keras 3's losses on the JAX and PyTorch backends as NumPy models, from the reference and
plain NumPy (never the framework), for the divergence entries of ``div_keras.py``.

What the Keras layer does (keras/src/losses/losses.py and loss.py at v3.15.1: label
smoothing, ignore_class, the reductions and sample weights, the binary mean over the last
axis) is the same on every backend; what differs is the backend's kernel
(keras/src/backend/jax/nn.py and torch/nn.py at v3.15.1), modelled here per backend:

* categorical, from_logits: ``-sum(target * log_softmax(output))`` on both backends (a -inf
  logit under a zero target gives 0 * -inf = NaN); the gradient is autodiff's,
  ``softmax * sum(q) - q`` (TensorFlow's kernel returns ``softmax - q``);
* sparse, from_logits: jax one-hot encodes (``jax.nn.one_hot``) and takes the same sum (NaN as
  above; an out-of-range index is an all-zero row: loss 0); torch calls
  ``torch.nn.functional.cross_entropy`` (gathers the label's entry: finite);
* on probabilities, categorical AND sparse: ``output / sum(output)``, clipped to
  [eps, 1 - eps] (eps = 1e-7 cast to the dtype), then the log (TensorFlow's sparse loss clips
  first and renormalises after); the log's gradient is ``g / c`` in the dtype;
* binary: probabilities clipped to [eps, 1 - eps]; torch's ``binary_cross_entropy``
  additionally clamps each log at -100 (aten/src/ATen/native/Loss.cpp at v2.13.0), which
  matters only where the clip does not protect (float16/bfloat16, whose 1 - eps is 1).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.divergences import ModelResult
from lossconform.divergences.numerics import (
    classes_back, classes_last, item_factor, label_smoothing, probs_target_last,
    reduce_losses, sample_weight, wants_grad,
)
from lossconform.dtypes import round_to

# the Keras clip bounds as the tensorflow plug-in models them (backend independent)
from lossconform.adapters.tensorflow.keras_models import keras_clip_bounds  # noqa: F401

KERAS_3 = ">=3.0"
_KS = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src"
KERAS_NN = {"jax": f"{_KS}/backend/jax/nn.py", "torch": f"{_KS}/backend/torch/nn.py"}
KERAS_LOSSES = f"{_KS}/losses/losses.py"
KERAS_LOSS_BASE = f"{_KS}/losses/loss.py"


def _clip_pass(x: np.ndarray, lo: float, hi: float, backend: str) -> np.ndarray:
    """The share of the gradient a clip to [lo, hi] passes: 1 inside, 0 outside; at a bound
    jnp.clip (minimum(maximum(x, lo), hi)) passes half (lax.max/min split a tie's gradient
    equally), torch.clamp all of it."""
    inside = ((x >= lo) & (x <= hi)).astype(np.float64)
    if backend == "jax":
        inside = np.where((x == lo) | (x == hi), 0.5, inside)
    return inside


def _jax_log_cotangent(v: np.ndarray, t: np.ndarray, c: np.ndarray, g: np.ndarray,
                       dt: str) -> np.ndarray:
    """The log's gradient -t / c per unit cotangent (``v``), with the non-finite values JAX
    gets: its autodiff forms the cotangent of log(c) as g * t first (g: the element's
    cotangent, rounded to the dtype) and divides by c after, so in float16 the quotient
    overflows to inf only where |g t| / c exceeds 65504, not where t / c does. Returned per
    unit cotangent (the caller multiplies by g), inf/NaN where the scaled quotient is."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scaled = -round_to(round_to(g * t, dt) / c, dt)
        exact = np.where(np.isfinite(v), v, -t / c)
        return np.where(np.isfinite(scaled) | (g == 0), exact, scaled / g)


def categorical(call: Call, *, from_logits: bool, sparse: bool, backend: str,
                ignore_divisor: str = "valid",
                log_softmax: Callable[[np.ndarray], np.ndarray] | None = None) -> ModelResult:
    """Keras' categorical family on ``backend`` (see the module docstring); reduction as
    Keras: functions give per-item losses (the adapter's 'mean' is keras.ops.mean over the
    items); loss classes divide 'sum_over_batch_size' by the item count, with ignore_class
    re-weighting valid items by total/valid (divide_no_nan: all ignored gives 0)."""
    x = classes_last(call.x, call)
    C = x.shape[-1]
    items = x.shape[:-1]
    t = probs_target_last(call)
    ls = label_smoothing(call)
    if ls and not sparse:
        t = t * (1.0 - ls) + ls / call.x.shape[-1]  # num_classes = shape(y_true)[-1]
    ignored = np.zeros(items, dtype=bool)
    if sparse:
        yidx = np.asarray(call.target) if call.target_kind == "index" else np.argmax(t, axis=-1)
        ii = call.option("ignore_index")
        if ii is not None and call.target_kind == "index":
            ignored = yidx == ii
        y = np.where(ignored, 0, yidx).astype(np.int64)
        t = (y[..., None] == np.arange(C)).astype(np.float64)  # out of range: all-zero row
        x = np.where(ignored[..., None], 0.0, x)  # ops.where(valid_mask, y_pred, 0)
    lo, hi = keras_clip_bounds(call.dtype)
    s = sample_weight(call, items)
    n = float(max(int(np.prod(items)), 1))
    if ignored.any() and ignore_divisor == "valid":
        valid = float(np.sum(~ignored))
        mw = (n / valid if valid else 0.0) if call.reduction == "mean" else 1.0
        s = np.where(ignored, 0.0, s * mw)
    f = item_factor(call, s, n) if wants_grad(call) else np.ones(items)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if from_logits:
            logsm = np.asarray(R.log_softmax(x, axis=-1), dtype=np.float64)
            sm = np.exp(logsm)
            if log_softmax is not None:  # the backend's own log_softmax (div_backend.py)
                logsm = log_softmax(x)
            if sparse and backend == "torch":  # F.cross_entropy gathers the label's entry
                l = -np.sum(np.where(t == 0, 0.0, t * logsm), axis=-1)
            else:  # -sum(target * log_prob): 0 * -inf = NaN
                l = -np.sum(t * logsm, axis=-1)
            dl = sm * np.sum(t, axis=-1, keepdims=True) - t
        else:
            S = np.sum(x, axis=-1, keepdims=True)
            r = round_to(x / S, call.dtype)
            c = np.clip(r, lo, hi)
            l = -np.sum(np.where(t == 0, 0.0, t * np.log(c)), axis=-1)
            inr = _clip_pass(r, lo, hi, backend)
            v = -round_to(t / c, call.dtype)  # the log's gradient g / c, in the dtype
            if backend == "jax":
                v = _jax_log_cotangent(v, t, c, np.broadcast_to(f, items)[..., None],
                                       call.dtype)
            # jax multiplies the clip's zero gradient in (0 * inf = NaN where g / c overflowed,
            # float16: c = eps = 1.19e-7 under a positive target), torch.clamp selects 0
            a = np.where(inr > 0, inr * v, 0.0 * v if backend == "jax" else 0.0)
            dl = a / S - np.sum(a * r, axis=-1, keepdims=True) / S
        dl = np.where(ignored[..., None], 0.0, dl)
    l = np.where(ignored, 0.0, l)
    fwd = reduce_losses(s * l, n, call.reduction)
    grad = None
    if wants_grad(call):
        grad = classes_back(f[..., None] * dl, call)
    return np.asarray(fwd, dtype=np.float64), grad


def binary(call: Call, *, from_logits: bool, backend: str) -> ModelResult:
    """Keras binary_crossentropy on ``backend``: element losses (logits: the exact
    -t log sigmoid(x) - (1-t) log sigmoid(-x); probabilities clipped to [eps, 1-eps] in the
    dtype, torch clamping each log at -100), smoothed targets t (1-eps) + eps/2, the MEAN over
    the last axis, then the reduction of what is left (a loss class's sample_weight, or the
    canonical element weight constant along the last axis, multiplies the row means)."""
    x = np.asarray(call.x, dtype=np.float64)
    t = np.asarray(call.target, dtype=np.float64)
    ls = label_smoothing(call)
    if ls:
        t = t * (1.0 - ls) + 0.5 * ls
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if from_logits:
            el = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
            # at an infinite logit the backends' formulas give 0 * inf: jax
            # -t log_sigmoid(x) - (1-t) log_sigmoid(-x); torch (1-t) x - log_sigmoid(x)
            # (aten/src/ATen/native/Loss.cpp binary_cross_entropy_with_logits)
            if backend == "jax":
                el = np.where(np.isposinf(x), np.where(t == 1, np.nan, np.inf), el)
                el = np.where(np.isneginf(x), np.where(t == 0, np.nan, np.inf), el)
            else:
                # torch: (1 - t).mul_(x).sub_(log_sigmoid(x)), each step rounded to the
                # dtype: for x << 0 and t < 1 the two terms cancel (x - log_sigmoid(x))
                dt = call.dtype
                ls_x = round_to(np.asarray(-R.softplus(-x) if hasattr(R, "softplus")
                                           else -np.logaddexp(0.0, -x), dtype=np.float64), dt)
                a = round_to(round_to(1.0 - t, dt) * x, dt)
                el = round_to(a - ls_x, dt)
                el = np.where(np.isposinf(x), np.where(t == 1, np.nan, np.inf), el)
                el = np.where(np.isneginf(x), np.nan, el)
            de = np.asarray(R.sigmoid(x), dtype=np.float64) - t
        else:
            lo, hi = keras_clip_bounds(call.dtype)
            c = np.clip(x, lo, hi)
            lp, lq = np.log(c), np.log(1.0 - c)
            if backend == "torch":
                lp, lq = np.maximum(lp, -100.0), np.maximum(lq, -100.0)
            el = -(t * lp + (1.0 - t) * lq)
            if backend == "torch":  # binary_cross_entropy_backward: (p - t) / max(p (1-p), 1e-12)
                dt = call.dtype
                den = np.maximum(round_to((1.0 - c) * c, dt), float(round_to(1e-12, dt)))
                de = (c - t) / den
            else:
                dt = call.dtype
                g_el = np.ones(x.shape)
                if wants_grad(call) and (call.reduction != "none"
                                         or np.shape(call.grad_output) == x.shape[:-1]):
                    s0 = np.ones(x.shape[:-1])
                    for name in ("weight", "sample_weight"):
                        w = call.option(name)
                        if w is not None:
                            s0 = s0 * np.broadcast_to(np.asarray(w, dtype=np.float64),
                                                      x.shape)[..., 0]
                    g_el = np.broadcast_to((item_factor(call, s0, float(max(s0.size, 1)))
                                            / x.shape[-1])[..., None], x.shape)
                de = _jax_log_cotangent(-round_to(t / c, dt), t, c, g_el, dt) \
                    - _jax_log_cotangent(-round_to((1.0 - t) / (1.0 - c), dt), 1.0 - t,
                                         1.0 - c, g_el, dt)
            inr = _clip_pass(x, lo, hi, backend)
            de = np.where(inr > 0, inr * de, 0.0 * de if backend == "jax" else 0.0)
    C = x.shape[-1]
    m = np.mean(el, axis=-1)
    s = np.ones(m.shape)
    for name in ("weight", "sample_weight"):
        w = call.option(name)
        if w is not None:
            s = s * np.broadcast_to(np.asarray(w, dtype=np.float64), x.shape)[..., 0]
    n = float(max(m.size, 1))
    fwd = reduce_losses(s * m, n, call.reduction)
    grad = None
    fits = call.reduction != "none" or np.shape(call.grad_output) == m.shape
    if wants_grad(call) and fits:
        f = item_factor(call, s, n)
        grad = f[..., None] * de / C
    return np.asarray(fwd, dtype=np.float64), grad


def categorical_model(backend: str, *, sparse: bool | None = None,
                      ignore_divisor: str = "valid") -> Callable[[Call], ModelResult]:
    """``categorical`` with from_logits read off the op (cross_entropy: logits) and, unless
    given, sparse read off the call (index targets to a probabilities op, or ignore_index)."""
    def model(call: Call) -> ModelResult:
        sp = sparse if sparse is not None else call.option("ignore_index") is not None
        return categorical(call, from_logits=call.op == "cross_entropy", sparse=sp,
                           backend=backend, ignore_divisor=ignore_divisor)
    return model


def binary_model(backend: str) -> Callable[[Call], ModelResult]:
    def model(call: Call) -> ModelResult:
        return binary(call, from_logits=call.op == "binary_cross_entropy_with_logits",
                      backend=backend)
    return model
