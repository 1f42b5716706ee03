"""The divergence registry: each known, documented way a framework departs from the reference.

A divergence is strict and executable. Each entry names the framework, versions and entry
points it concerns, which inputs trigger it, why the framework does it (with a link to the
source line, doc or upstream issue), and carries:

* ``applies(call)``: a cheap predicate, "could this call trigger it?";
* ``model(call)``: the float64 result (forward, and gradient wrt ``call.x`` given
  ``call.grad_output``, or None where not modelled) of "the reference with that framework's
  convention applied", built from the reference's functions and plain NumPy, never from a
  framework;
* ``example()``: a small Call that triggers it, so the test suite notices when a framework
  stops diverging (fixed upstream) instead of passing quietly.

The harness calls ``candidates(...)`` when a framework result falls outside tolerance of the
reference, and records verdict ``divergence`` with the id of the first candidate whose model
matches.

Every entry here was checked on torch 2.13 (CPU) and TensorFlow 2.21 / Keras 3.15.1 by
tests/conventions/test_divergences.py.
"""
from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass
from typing import Callable

import ml_dtypes
import numpy as np
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from lossconform import reference as R
from lossconform.contract import Call

__all__ = ["Divergence", "REGISTRY", "candidates", "by_id", "framework_version"]



from lossconform.divergences.entry import Divergence, ModelResult, framework_version  # noqa: E402,F401


# --------------------------------------------------------------------------- helpers
_DT = {
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float32": np.float32,
    "float64": np.float64,
}


def _rd(v: float | np.ndarray, dtype: str) -> np.ndarray:
    """Round to ``dtype`` and back to float64 (what a constant becomes in that dtype)."""
    with np.errstate(over="ignore", invalid="ignore"):  # beyond the dtype's range: inf
        return np.asarray(v, dtype=np.float64).astype(_DT[dtype]).astype(np.float64)


def keras_clip_bounds(dtype: str) -> tuple[float, float]:
    """Keras' clip interval [epsilon, 1 - epsilon] as it is in ``dtype``.

    ``backend.epsilon()`` is the Python float 1e-7; ``1.0 - epsilon`` is computed in Python
    (0.9999999) and both are cast to the tensor's dtype by ``tf.clip_by_value``: in float16
    and bfloat16 the upper bound rounds to exactly 1.
    """
    eps = 1e-7
    return float(_rd(eps, dtype)), float(_rd(1.0 - eps, dtype))


def _g(call: Call, shape: tuple[int, ...]) -> np.ndarray:
    g = call.grad_output
    if g is None:
        return np.ones(shape)
    return np.broadcast_to(np.asarray(g, dtype=np.float64), shape)


def _want_grad(call: Call) -> bool:
    return call.grad_output is not None


def _cls_axis(call: Call) -> int:
    return call.axis % call.x.ndim


def _last(x: np.ndarray, call: Call) -> np.ndarray:
    return np.moveaxis(np.asarray(x, dtype=np.float64), _cls_axis(call), -1)


def _back(x: np.ndarray, call: Call) -> np.ndarray:
    return np.moveaxis(x, -1, _cls_axis(call))


def _probs_target_last(call: Call) -> np.ndarray:
    """The target as dense probabilities with the class axis last (one-hot from indices;
    an out-of-range index, e.g. an ignored one, gives an all-zero row like tf.one_hot)."""
    C = call.x.shape[_cls_axis(call)]
    if call.target_kind == "index":
        y = np.asarray(call.target)
        return (y[..., None] == np.arange(C)).astype(np.float64)
    return _last(call.target, call)


def _sample_weight(call: Call, item_shape: tuple[int, ...]) -> np.ndarray:
    s = call.option("sample_weight")
    if s is None:
        return np.ones(item_shape)
    return np.broadcast_to(np.asarray(s, dtype=np.float64), item_shape).copy()


def _reduce(weighted: np.ndarray, denom: float, reduction: str) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        if reduction == "none":
            return weighted
        if reduction == "sum":
            return np.asarray(np.sum(weighted))
        return np.asarray(np.sum(weighted) / denom)


def _item_factor(call: Call, coef: np.ndarray, denom: float) -> np.ndarray:
    """d(reduced)/d(l_i) * grad_output for items whose weighted loss is coef_i * l_i."""
    red = call.reduction
    shape = coef.shape if red == "none" else ()
    g = _g(call, shape)
    if red == "none":
        return coef * g
    if red == "sum":
        return coef * g
    with np.errstate(invalid="ignore", divide="ignore"):
        return coef * g / denom


def _ls(call: Call) -> float:
    return float(call.option("label_smoothing") or 0.0)


# --------------------------------------------------------------------------- Keras models
def _keras_categorical(call: Call, *, from_logits: bool, sparse: bool,
                       ignore_divisor: str = "valid") -> ModelResult:
    """Keras (TF backend) categorical family, as keras/src/backend/tensorflow/nn.py computes it.

    from_logits=True:  -sum q log_softmax(z); TF's kernel gradient is softmax - q.
    categorical, from_logits=False: p / sum p, clip to [eps, 1-eps], -sum q log(.).
    sparse, from_logits=False: clip p to [eps, 1-eps], then log_softmax(log(.)), i.e.
      -log(c_y / sum c): the clipped row is renormalised.
    Label smoothing (categorical only): q = (1-eps) t + eps / shape[-1] (the LAST axis of the
    input as given, whatever the class axis). Reduction as Keras: functions give per-item
    losses (the adapter's 'mean' is tf.reduce_mean over items); classes divide 'mean'
    ('sum_over_batch_size') by the item count, with ignore_class masking re-weighting by
    total/valid (divide_no_nan: all ignored gives 0).
    """
    x = _last(call.x, call)
    C = x.shape[-1]
    items = x.shape[:-1]
    t = _probs_target_last(call)
    ls = _ls(call)
    if ls and not sparse:
        c_keras = call.x.shape[-1]
        t = t * (1.0 - ls) + ls / c_keras
    ignored = np.zeros(items, dtype=bool)
    if sparse:
        # the sparse losses take indices; the adapter passes exactly one-hot probability
        # targets as their argmax (see adapters/tensorflow_keras.py _index_target)
        yidx = np.asarray(call.target) if call.target_kind == "index" else np.argmax(t, axis=-1)
    ii = call.option("ignore_index")
    if sparse and ii is not None and call.target_kind == "index":
        ignored = yidx == ii
        t = np.where(ignored[..., None], 0.0, t)
    lo, hi = keras_clip_bounds(call.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if from_logits:
            logsm = np.asarray(R.log_softmax(x, axis=-1), dtype=np.float64)
            if sparse:
                y = np.where(ignored, 0, yidx).astype(np.int64)
                t = (y[..., None] == np.arange(C)).astype(np.float64)
                t = np.where(ignored[..., None], 0.0, t)
            l = -np.sum(np.where(t == 0, 0.0, t * logsm), axis=-1)
            if not sparse:
                # TF's SoftmaxCrossEntropyWithLogits kernel (xent_op.h) computes
                # sum_c q_c (log(sum exp(shifted)) - shifted_c), shifted = z - max z: a -inf
                # logit under a ZERO label gives 0 * inf = NaN for the whole row (the sparse
                # kernel gathers only the label's entry and stays finite).
                mx = np.max(x, axis=-1) if C else np.zeros(items)
                nan_row = np.isfinite(mx) & np.any(np.isneginf(x) & (t == 0), axis=-1)
                l = np.where(nan_row, np.nan, l)
            sm = np.exp(logsm)
            dl = sm - t  # TF's kernel gradient: softmax - labels, whatever sum(labels) is
            dl = np.where(ignored[..., None], 0.0, dl)
        elif not sparse:
            S = np.sum(x, axis=-1, keepdims=True)
            r = _rd(x / S, call.dtype)
            c = np.clip(r, lo, hi)
            l = -np.sum(np.where(t == 0, 0.0, t * np.log(c)), axis=-1)
            inr = (r >= lo) & (r <= hi)
            # TF's Log gradient is upstream * reciprocal(c), the reciprocal in the input
            # dtype: in float16 1/c overflows to inf for c < 1/65504, and a zero upstream
            # (t = 0) then gives 0 * inf = NaN, spread over the row by the renormalisation
            a = np.where(inr, -t * _rd(1.0 / c, call.dtype), 0.0)
            dl = a / S - np.sum(a * r, axis=-1, keepdims=True) / S
        else:
            y = np.where(ignored, 0, yidx).astype(np.int64)
            xin = np.where(ignored[..., None], 0.0, x)
            c = np.clip(xin, lo, hi)
            Sc = np.sum(c, axis=-1, keepdims=True)
            cy = np.take_along_axis(c, y[..., None], axis=-1)[..., 0]
            l = -np.log(cy) + np.log(Sc[..., 0])
            inr = (xin >= lo) & (xin <= hi)
            onehot = (y[..., None] == np.arange(C)).astype(np.float64)
            # d/dc of -log_softmax(log c)_y = (c / Sc - onehot) * reciprocal(c), the
            # reciprocal in the input dtype (inf in float16 for c < 1/65504, see above)
            dl = np.where(inr, (c / Sc - onehot) * _rd(1.0 / c, call.dtype), 0.0)
            dl = np.where(ignored[..., None], 0.0, dl)
    l = np.where(ignored, 0.0, l)
    s = _sample_weight(call, items)
    n = float(max(int(np.prod(items)), 1))
    if ignored.any() and ignore_divisor == "valid":
        valid = float(np.sum(~ignored))
        # Keras apply_mask: for 'sum_over_batch_size' weight total/valid on valid items
        # (divide_no_nan: 0 if none valid); for 'none' and 'sum' the plain 0/1 mask
        mw = (n / valid if valid else 0.0) if call.reduction == "mean" else 1.0
        s = np.where(ignored, 0.0, s * mw)
    fwd = _reduce(s * l, n, call.reduction)
    grad = None
    if _want_grad(call):
        f = _item_factor(call, s, n)
        grad = _back(f[..., None] * dl, call)
    return np.asarray(fwd, dtype=np.float64), grad


def _keras_binary(call: Call, *, from_logits: bool) -> ModelResult:
    """Keras binary_crossentropy: element losses (probabilities clipped to [eps, 1-eps] in the
    input dtype; logits through tf.nn.sigmoid_cross_entropy_with_logits), smoothed targets
    t (1-eps) + eps/2, then the MEAN over the last axis; reduction over what is left."""
    x = np.asarray(call.x, dtype=np.float64)
    t = np.asarray(call.target, dtype=np.float64)
    ls = _ls(call)
    if ls:
        t = t * (1.0 - ls) + 0.5 * ls
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if from_logits:
            el = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
            de = np.asarray(R.sigmoid(x), dtype=np.float64) - t
        else:
            lo, hi = keras_clip_bounds(call.dtype)
            c = np.clip(x, lo, hi)
            el = -(t * np.log(c) + (1.0 - t) * np.log(1.0 - c))
            inr = (x >= lo) & (x <= hi)
            de = np.where(inr, -t / c + (1.0 - t) / (1.0 - c), 0.0)
    C = x.shape[-1]
    m = np.mean(el, axis=-1)
    # The loss classes take the canonical element weight (constant along the last axis) as
    # sample_weight=weight[..., 0]; a sample_weight (item shape) multiplies the row means.
    s = np.ones(m.shape)
    for name in ("weight", "sample_weight"):
        w = call.option(name)
        if w is not None:
            s = s * np.broadcast_to(np.asarray(w, dtype=np.float64), x.shape)[..., 0]
    n = float(max(m.size, 1))
    fwd = _reduce(s * m, n, call.reduction)
    grad = None
    # 'none' has shape x.shape[:-1]: a canonical cotangent (x's shape) does not fit it, and
    # the adapter then gives no gradient; model one only when the cotangent fits.
    fits = call.reduction != "none" or np.shape(call.grad_output) == m.shape
    if _want_grad(call) and fits:
        f = _item_factor(call, s, n)
        grad = f[..., None] * de / C
    return np.asarray(fwd, dtype=np.float64), grad


def _keras_cat_model(*, sparse: bool = False,
                     ignore_divisor: str = "valid") -> Callable[[Call], ModelResult]:
    def model(call: Call) -> ModelResult:
        fl = call.op == "cross_entropy"  # from_logits=True entry points compute cross_entropy
        return _keras_categorical(call, from_logits=fl, sparse=sparse,
                                  ignore_divisor=ignore_divisor)
    return model


def _keras_bin_model(call: Call) -> ModelResult:
    return _keras_binary(call, from_logits=call.op == "binary_cross_entropy_with_logits")


def _keras_class_f32_inputs(call: Call) -> Call:
    """What Keras' Loss.__call__ hands to the loss when the class was built without dtype:
    y_pred and y_true converted to keras.config.floatx() (float32), the sample weight cast
    to it in reduce_weighted_values, and the cotangent in the float32 output's dtype."""
    opts = dict(call.options)
    for name in ("weight", "sample_weight"):
        if opts.get(name) is not None:
            opts[name] = _rd(opts[name], "float32")
    tgt = call.target
    if tgt is not None and call.target_kind != "index":
        tgt = _rd(tgt, "float32")
    go = None if call.grad_output is None else _rd(call.grad_output, "float32")
    return Call(**{**call.__dict__, "x": _rd(call.x, "float32"), "target": tgt,
                   "options": opts, "grad_output": go, "dtype": "float32"})


def _keras_class_in_float32(*, sparse: bool) -> Callable[[Call], ModelResult]:
    """A Keras loss class built without dtype: the Keras model (every convention of
    _keras_categorical / _keras_binary) evaluated on the inputs rounded to float32, the
    loss rounded to float32 and the gradient (float32, cast back through the input's cast)
    rounded to float32."""
    def model(call: Call) -> ModelResult:
        c = _keras_class_f32_inputs(call)
        if _empty_reduced(c):
            return _keras_empty_batch(c)
        if c.op == "cross_entropy":
            fwd, grad = _keras_categorical(c, from_logits=True, sparse=sparse)
        else:
            fwd, grad = _keras_binary(c, from_logits=c.op == "binary_cross_entropy_with_logits")
        return _rd(fwd, "float32"), None if grad is None else _rd(grad, "float32")
    return model


# --------------------------------------------------------------------------- torch models
def _torch_bce(call: Call) -> ModelResult:
    """torch binary_cross_entropy (aten/src/ATen/native/Loss.cpp):
    l = -w [t max(log p, -100) + (1 - t) max(log(1 - p), -100)];
    dl/dp = w g (p - t) / max((1 - p) p, EPSILON=1e-12), EPSILON cast to the input dtype."""
    p = np.asarray(call.x, dtype=np.float64)
    t = np.asarray(call.target, dtype=np.float64)
    w = call.option("weight")
    w = np.ones_like(p) if w is None else np.broadcast_to(np.asarray(w, np.float64), p.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = np.maximum(np.log(p), -100.0)
        l1p = np.maximum(np.log1p(-p), -100.0)
        el = -w * (t * lp + (1.0 - t) * l1p)
        prod = _rd((1.0 - p) * p, call.dtype)
        # EPSILON is a C++ float constant (1e-12f), then cast to the input dtype
        de = w * (p - t) / np.maximum(prod, float(_rd(_rd(1e-12, "float32"), call.dtype)))
    n = float(max(p.size, 1))
    fwd = _reduce(el, n, call.reduction)
    grad = None
    if _want_grad(call):
        g = _g(call, p.shape if call.reduction == "none" else ())
        grad = de * (g / n if call.reduction == "mean" else g)
    return np.asarray(fwd, dtype=np.float64), grad


def _torch_bce_logits(call: Call) -> ModelResult:
    """torch binary_cross_entropy_with_logits (aten/src/ATen/native/Loss.cpp) op by op, each
    result rounded to the input dtype:
        ls = log_sigmoid(z) = min(z, 0) - log1p(exp(-|z|))   (the CPU log_sigmoid kernel)
        ls *= 1 + (pos_weight - 1) t                          (if pos_weight)
        l = (1 - t) z - ls;  l *= weight                      (if weight)
    For z << 0 and t < 1, (1 - t) z and -ls cancel: ~ulp(|z|) absolute error per element."""
    z = np.asarray(call.x, dtype=np.float64)
    t = np.asarray(call.target, dtype=np.float64)
    d = call.dtype
    with np.errstate(over="ignore", invalid="ignore"):
        ls = _rd(np.minimum(z, 0.0) - _rd(np.log1p(_rd(np.exp(-np.abs(z)), d)), d), d)
        pw = call.option("pos_weight")
        if pw is not None:
            lw = _rd(_rd(np.asarray(pw, np.float64) - 1.0, d) * t + 1.0, d)
            ls = _rd(ls * lw, d)
        el = _rd(_rd(_rd(1.0 - t, d) * z, d) - ls, d)
        w = call.option("weight")
        if w is not None:
            el = _rd(el * np.broadcast_to(np.asarray(w, np.float64), z.shape), d)
    n = float(max(z.size, 1))
    return np.asarray(_reduce(el, n, call.reduction), dtype=np.float64), None


def _torch_ignore_minus_100(call: Call) -> ModelResult:
    """The reference with ignore_index=-100 (torch's default)."""
    kw = dict(axis=call.axis, weight=call.option("weight"), ignore_index=-100,
              reduction=call.reduction)
    if call.op == "cross_entropy":
        kw.update(target_kind="index", label_smoothing=_ls(call))
        fwd = R.cross_entropy(call.x, call.target, **kw)
        grad = R.cross_entropy_vjp(call.x, call.target, grad_output=call.grad_output, **kw) \
            if _want_grad(call) else None
    else:
        fwd = R.nll_loss(call.x, call.target, **kw)
        grad = R.nll_loss_vjp(call.x, call.target, grad_output=call.grad_output, **kw) \
            if _want_grad(call) else None
    return np.asarray(fwd, dtype=np.float64), None if grad is None else np.asarray(grad)


def _torch_ls_negative(call: Call) -> ModelResult:
    """torch cross_entropy with label_smoothing < 0: the smoothing branch is taken only for
    label_smoothing > 0, so the result is the reference WITHOUT smoothing."""
    kw = dict(axis=call.axis, target_kind=call.target_kind or "index",
              weight=call.option("weight"), reduction=call.reduction,
              ignore_index=call.option("ignore_index"))
    fwd = R.cross_entropy(call.x, call.target, **kw)
    grad = R.cross_entropy_vjp(call.x, call.target, grad_output=call.grad_output, **kw) \
        if _want_grad(call) else None
    return np.asarray(fwd, dtype=np.float64), None if grad is None else np.asarray(grad)


_F16_MAX = float(np.finfo(np.float16).max)


def _index_items(call: Call) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-item losses of the reference, reduction 'none'; per-item weights w[y_i] with
    ignored items 0; the ignored mask) for an index-target categorical call."""
    kw = dict(axis=call.axis, weight=call.option("weight"),
              ignore_index=call.option("ignore_index"), reduction="none")
    if call.op == "cross_entropy":
        kw.update(target_kind="index", label_smoothing=_ls(call))
        l = R.cross_entropy(call.x, call.target, **kw)
    else:
        l = R.nll_loss(call.x, call.target, **kw)
    y = np.asarray(call.target)
    ii = call.option("ignore_index")
    ignored = np.zeros(y.shape, bool) if ii is None else (y == ii)
    w = call.option("weight")
    wy = np.ones(y.shape) if w is None else np.asarray(w, np.float64)[np.where(ignored, 0, y)]
    return np.asarray(l, np.float64), np.where(ignored, 0.0, wy), ignored


def _torch_mean_half_total_weight(call: Call) -> ModelResult:
    """torch nll_loss (and cross_entropy with index targets, which calls it) 'mean' in
    float16: the output and total_weight are float16 tensors, so sum_i w[y_i] beyond 65504 is
    inf and the loss is sum / inf = 0 (NaN when the float16 sum overflows too); the backward
    divides the cotangent by the same inf total weight: gradient 0."""
    l, wy, _ = _index_items(call)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        num = _rd(np.sum(wy * l), "float16")
        fwd = np.asarray(num / _rd(np.sum(wy), "float16"))
    grad = np.zeros(call.x.shape) if _want_grad(call) else None
    return fwd, grad


def _torch_half_mean_overflows(call: Call) -> bool:
    if call.dtype != "float16" or call.reduction != "mean" or call.target_kind != "index" \
            or call.op not in ("cross_entropy", "nll_loss") or _ls(call):
        return False
    _, wy, _ = _index_items(call)
    return bool(np.isinf(_rd(np.sum(wy), "float16")))


def _torch_ls_half_smooth_sum(call: Call) -> ModelResult:
    """torch cross_entropy with label_smoothing and index targets
    (cross_entropy_loss_label_smoothing): (1 - eps) nll + ret * eps / C with
    smooth_i = -sum_c w_c log p_ic and ret = smooth_i ('none'), sum_i smooth_i ('sum') or
    that sum / sum_i w[y_i] (count of valid items without weights) ('mean'), every tensor in
    the input's dtype: in float16 smooth_i, or their sum, beyond 65504 is inf and so is the
    loss, although eps / C scales it back to the size of the loss."""
    x = _last(call.x, call)
    C = x.shape[-1]
    lp = np.asarray(R.log_softmax(x, axis=-1), dtype=np.float64)
    w = call.option("weight")
    wc = np.ones(C) if w is None else np.asarray(w, np.float64)
    l, wy, ignored = _index_items(call)
    eps = _ls(call)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        smooth = np.where(ignored, 0.0, _rd(-np.sum(lp * wc, axis=-1), call.dtype))
        nll = (l - eps / C * np.where(ignored, 0.0, -np.sum(lp * wc, axis=-1))) / (1.0 - eps) \
            if eps < 1.0 else np.zeros(l.shape)
        if call.reduction == "none":
            ret, nll_r = smooth, nll
        else:
            ret = _rd(np.sum(smooth), call.dtype)
            nll_r = np.sum(wy * nll) if w is not None else np.sum(nll)
            if call.reduction == "mean":
                ret = ret / np.sum(wy)
                nll_r = nll_r / np.sum(wy)
        fwd = (1.0 - eps) * nll_r + ret * (eps / C)
    return np.asarray(fwd, dtype=np.float64), None


def _torch_ls_half_overflows(call: Call) -> bool:
    if call.op != "cross_entropy" or call.target_kind != "index" or not _ls(call) > 0 \
            or call.dtype != "float16":
        return False
    x = _last(call.x, call)
    lp = np.asarray(R.log_softmax(x, axis=-1), dtype=np.float64)
    w = call.option("weight")
    wc = np.ones(x.shape[-1]) if w is None else np.asarray(w, np.float64)
    sm = -np.sum(lp * wc, axis=-1)
    tot = sm if call.reduction == "none" else np.sum(sm)
    return bool(np.any(np.abs(tot) > _F16_MAX))


def _tf_half_mean(call: Call) -> ModelResult:
    """tf.reduce_mean (the adapter's 'mean' for tf.nn / keras.losses functions) and Keras'
    'sum_over_batch_size' (ops.sum / cast(prod(shape), dtype), divide_no_nan) in float16: the
    item count is cast to float16, inf beyond 65504, so the mean is sum / inf = 0 (NaN when
    the float16 sum overflows too) and its gradient cotangent / inf = 0."""
    a = _cls_axis(call)
    n = float(np.prod([d for i, d in enumerate(call.x.shape) if i != a]))
    if call.op == "cross_entropy":
        l, _ = _keras_categorical(Call(**{**call.__dict__, "options": {
            **call.options, "reduction": "none"}, "grad_output": None}), from_logits=True,
            sparse=False)
    else:
        l, _, _ = _index_items(call)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        fwd = np.asarray(_rd(np.sum(l), "float16") / _rd(n, "float16"))
    return fwd, np.zeros(call.x.shape) if _want_grad(call) else None


def _tf_half_count_overflows(call: Call) -> bool:
    if call.dtype != "float16" or call.reduction != "mean" or call.op != "cross_entropy" \
            or call.option("sample_weight") is not None or call.option("ignore_index") \
            is not None or call.x.ndim < 1:
        return False
    a = _cls_axis(call)
    return float(np.prod([d for i, d in enumerate(call.x.shape) if i != a])) > _F16_MAX


# --------------------------------------------------------------------------- TF models
def _tf_ce_grad_softmax_minus_labels(call: Call) -> ModelResult:
    """Forward: the reference (with Keras' smoothing/sample-weight conventions where the entry
    point is a Keras loss). Gradient: TF's SoftmaxCrossEntropyWithLogits kernel returns
    backprop = softmax(z) - q for the labels q it was given (after Keras' label smoothing
    q = (1-eps) t + eps/C), scaled by the sample weight and the reduction; exact only when
    sum(q) = 1. tf.nn.softmax_cross_entropy_with_logits takes no smoothing or sample weights,
    so for it this is plain softmax - t."""
    return _keras_categorical(call, from_logits=True, sparse=False)


def _keras_empty_batch(call: Call) -> ModelResult:
    """Keras loss classes on an empty batch: reduce_values returns the (0,)-shaped per-item
    losses unreduced for every reduction (the reference: 'sum' 0, 'mean' 0/0 = NaN)."""
    return np.zeros((0,)), None


def _tf_weighted_ce(call: Call) -> ModelResult:
    """tf.nn.weighted_cross_entropy_with_logits as nn_impl.py writes it, differentiated the
    way TF's autodiff does:

        l = (1 - t) z + lw (log1p(exp(-|z|)) + relu(-z)),  lw = 1 + (pw - 1) t
        dl/dz = (1 - t) + lw (-sign(z) exp(-|z|) / (1 + exp(-|z|)) - [z > 0 for -z])

    with TF's subgradients sign(0) = 0 (Abs) and relu'(0) = 0 (ReluGrad: x > 0): at z = 0
    the lw term vanishes and the gradient is (1 - t) instead of (1 - t) - lw / 2.
    The forward is evaluated op by op, rounding each result to the input dtype.
    """
    z = np.asarray(call.x, dtype=np.float64)
    t = np.asarray(call.target, dtype=np.float64)
    pw = call.option("pos_weight")
    pw = np.ones_like(z) if pw is None else np.broadcast_to(np.asarray(pw, np.float64), z.shape)
    lw = 1.0 + (pw - 1.0) * t
    d = call.dtype
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(-np.abs(z))
        # the forward op by op, each result rounded to the dtype (as the TF composite
        # computes it): (1 - t) z and relu(-z) cancel for z < 0, leaving ~ulp(|z|) of error
        el = _rd(_rd(_rd(1.0 - t, d) * z, d) + _rd(_rd(lw, d) * _rd(
            _rd(np.log1p(_rd(e, d)), d) + np.maximum(-z, 0.0), d), d), d)
        de = (1.0 - t) + lw * (-np.sign(z) * e / (1.0 + e) - (-z > 0).astype(np.float64))
    n = float(max(z.size, 1))
    fwd = _reduce(el, n, call.reduction)
    grad = None
    if _want_grad(call):
        g = _g(call, z.shape if call.reduction == "none" else ())
        grad = de * (g / n if call.reduction == "mean" else g)
    return np.asarray(fwd, dtype=np.float64), grad


def _tf_log_softmax_grad_half(call: Call) -> ModelResult:
    """TF's LogSoftmax gradient (nn_grad.py _LogSoftmaxGrad): g - reduce_sum(g) * exp(out),
    with the row sum of the cotangent held in the input dtype: rounded to it, so in float16
    a sum beyond 65504 is inf and every entry of the row becomes -inf, or NaN where the
    float16 softmax exp(log_softmax) underflows to 0."""
    x = _last(call.x, call)
    fwd = np.asarray(R.log_softmax(x, axis=-1), dtype=np.float64)
    grad = None
    if _want_grad(call):
        g = _last(_g(call, call.x.shape), call)
        with np.errstate(over="ignore", invalid="ignore"):
            S = _rd(np.sum(g, axis=-1, keepdims=True), call.dtype)
            # softmax = exp(op output), both in the dtype: where it underflows to 0,
            # inf * 0 gives NaN instead of -inf
            p = _rd(np.exp(_rd(fwd, call.dtype)), call.dtype)
            grad = _back(g - S * p, call)
    return _back(fwd, call), grad


def _keras_sparse_labels_in_dtype(call: Call) -> ModelResult:
    """Keras sparse loss classes: Loss.__call__ converts y_true to the loss's dtype before
    the loss casts it back to an integer, so an index above 256 (bfloat16) or 2048 (float16)
    becomes the nearest representable one (round to nearest even: 257 -> 256, 489 -> 488)."""
    if call.target_kind == "index":
        y = np.asarray(call.target)
    else:  # exactly one-hot probabilities, passed as their argmax by the adapter
        y = np.argmax(_last(call.target, call), axis=-1)
    # ignore_class is compared with the ROUNDED labels (Keras masks after the conversion)
    yr = _rd(y, call.dtype).astype(np.int64)
    c2 = Call(**{**call.__dict__, "target": yr, "target_kind": "index"})
    return _keras_categorical(c2, from_logits=call.op == "cross_entropy", sparse=True)


def _tf_softmax_nan(call: Call) -> ModelResult:
    """tf.nn.softmax in float32/bfloat16: in a row holding NaN or +inf, NaN stays where those
    logits were and every other entry is 0 (the reference: the whole row NaN)."""
    x = _last(call.x, call)
    with np.errstate(invalid="ignore"):
        out = np.asarray(R.softmax(x, axis=-1), dtype=np.float64)
    isn = np.isnan(x) | np.isposinf(x)
    row = np.any(isn, axis=-1, keepdims=True)
    out = np.where(row, np.where(isn, np.nan, 0.0), out)
    return _back(out, call), None


# --------------------------------------------------------------------------- predicates
def _is(*ops: str) -> Callable[[Call], bool]:
    return lambda call: call.op in ops


def _not_sum1(call: Call) -> bool:
    if call.target_kind != "probs" or call.target is None:
        return False
    s = np.sum(_last(call.target, call), axis=-1)
    return bool(np.any(np.abs(s - 1.0) > 1e-12))


def _keras_cce_unnormalised(call: Call) -> bool:
    if call.op != "categorical_crossentropy":
        return False
    s = np.sum(_last(call.x, call), axis=-1)
    return bool(np.any(np.abs(s - 1.0) > 0))


def _keras_clipped(call: Call) -> bool:
    if call.op not in ("categorical_crossentropy", "binary_cross_entropy"):
        return False
    lo, hi = keras_clip_bounds(call.dtype)
    x = np.asarray(call.x, dtype=np.float64)
    if call.op == "categorical_crossentropy":
        with np.errstate(invalid="ignore", divide="ignore"):
            x = np.concatenate([x.ravel(), (_last(x, call) / np.sum(_last(x, call), -1,
                                                                       keepdims=True)).ravel()])
    return bool(np.any((x < lo) | (x > hi)))


def _keras_sparse_probs(call: Call) -> bool:
    """The sparse Keras losses on probabilities: the forward departs when rows do not sum to 1
    or are clipped; the gradient ALWAYS departs (it carries + 1/sum(c) on every class, the
    derivative of the renormalisation, which the reference's -log p_y does not have)."""
    return call.op == "categorical_crossentropy" and call.target_kind in ("index", "probs")


def _empty_reduced(call: Call) -> bool:
    a = _cls_axis(call) if call.x.ndim else 0
    items = [d for i, d in enumerate(call.x.shape) if i != a]
    return call.reduction in ("sum", "mean") and call.x.ndim >= 1 and int(np.prod(items)) == 0


def _neg_inf_zero_label(call: Call) -> bool:
    if call.op != "cross_entropy" or call.x.ndim == 0:
        return False
    x = _last(call.x, call)
    t = _probs_target_last(call)
    return bool(np.any(np.isneginf(x) & (t == 0)))


def _logit_zero(call: Call) -> bool:
    return call.op == "binary_cross_entropy_with_logits" and call.grad_output is not None \
        and bool(np.any(np.asarray(call.x) == 0.0))


def _half_cotangent_sum_overflows(call: Call) -> bool:
    if call.op != "log_softmax" or call.grad_output is None or call.dtype != "float16":
        return False
    g = _last(_g(call, call.x.shape), call)
    return bool(np.any(np.abs(np.sum(g, axis=-1)) > float(np.finfo(np.float16).max)))


def _sparse_label_rounds(call: Call) -> bool:
    if call.dtype not in ("float16", "bfloat16") or call.op not in (
            "cross_entropy", "categorical_crossentropy") or call.target is None:
        return False
    if call.target_kind == "index":
        y = np.asarray(call.target)
    elif call.target_kind == "probs":
        y = np.argmax(_last(call.target, call), axis=-1)
    else:
        return False
    return bool(np.any(_rd(y, call.dtype) != y))


def _half_recip_overflow(call: Call) -> bool:
    """float16 probabilities in [eps, 1/65504): reciprocal(c) is inf in float16."""
    if call.op != "categorical_crossentropy" or call.dtype != "float16" \
            or call.grad_output is None:
        return False
    lo, _ = keras_clip_bounds(call.dtype)
    x = _last(call.x, call)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = _rd(x / np.sum(x, axis=-1, keepdims=True), call.dtype)
        v = np.concatenate([x.ravel(), r.ravel()])
        return bool(np.any((v >= lo) & np.isinf(_rd(1.0 / v, "float16"))))


def _weighted_ce_cancels(call: Call) -> bool:
    if call.op != "binary_cross_entropy_with_logits":
        return False
    z = np.asarray(call.x, dtype=np.float64)
    t = np.asarray(call.target, dtype=np.float64)
    return bool(np.any((z < -1.0) & (t < 1.0)))


def _half(call: Call) -> bool:
    return call.dtype in ("float16", "bfloat16")


def _keras_bce_shape(call: Call) -> bool:
    return call.op in ("binary_cross_entropy", "binary_cross_entropy_with_logits") \
        and call.reduction in ("none", "sum") and call.x.ndim >= 1 and call.x.shape[-1] != 1


def _keras_sw_mean(call: Call) -> bool:
    s = call.option("sample_weight")
    if s is None or call.reduction != "mean" or call.op not in (
            "cross_entropy", "categorical_crossentropy"):
        return False
    items = _last(call.x, call).shape[:-1]
    return not math.isclose(float(np.sum(np.broadcast_to(s, items))), float(np.prod(items)))


def _ls_axis_not_last(call: Call) -> bool:
    return bool(_ls(call)) and call.x.ndim >= 2 and _cls_axis(call) != call.x.ndim - 1 \
        and call.x.shape[-1] != call.x.shape[_cls_axis(call)]


def _ls_out_of_range(call: Call) -> bool:
    e = call.option("label_smoothing")
    return e is not None and not (0.0 <= float(e) <= 1.0)


def _ls_negative(call: Call) -> bool:
    e = call.option("label_smoothing")
    return e is not None and float(e) < 0.0


def _has_minus_100(call: Call) -> bool:
    return call.target_kind == "index" and call.option("ignore_index") is None \
        and call.target is not None and bool(np.any(np.asarray(call.target) == -100))


def _torch_bce_clamped(call: Call) -> bool:
    if call.op != "binary_cross_entropy":
        return False
    p = np.asarray(call.x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return bool(np.any(np.log(p) < -100) | np.any(np.log1p(-p) < -100))


def _torch_bce_eps(call: Call) -> bool:
    if call.op != "binary_cross_entropy" or call.grad_output is None:
        return False
    p = np.asarray(call.x, dtype=np.float64)
    return bool(np.any(_rd((1.0 - p) * p, call.dtype) < 1e-12))


def _nan_in_softmax(call: Call) -> bool:
    return call.op == "softmax" and call.dtype in ("float32", "bfloat16") \
        and bool(np.any(np.isnan(call.x) | np.isposinf(call.x)))


def _ignored_some(call: Call) -> bool:
    ii = call.option("ignore_index")
    return ii is not None and call.target_kind == "index" \
        and bool(np.any(np.asarray(call.target) == ii))


def _ignored_all(call: Call) -> bool:
    ii = call.option("ignore_index")
    return ii is not None and call.target_kind == "index" and call.reduction == "mean" \
        and np.asarray(call.target).size > 0 and bool(np.all(np.asarray(call.target) == ii))


def _all(*preds: Callable[[Call], bool]) -> Callable[[Call], bool]:
    return lambda call: all(p(call) for p in preds)


# --------------------------------------------------------------------------- examples
def _call(op: str, x: list, dtype: str = "float64", **kw) -> Call:
    x = np.asarray(x, dtype=np.float64)
    g = kw.pop("grad", True)
    t = kw.pop("target", None)
    if t is not None:
        tk = kw.get("target_kind")
        t = np.asarray(t, dtype=np.int64 if tk == "index" else np.float64)
    red = kw.get("options", {}).get("reduction", "mean")
    c = Call(op=op, x=x, dtype=dtype, target=t, **kw)
    if g:
        if red in ("mean", "sum"):
            go = np.asarray(1.0)
        else:
            go = None  # shape depends on the framework's item shape; filled by _with_go
        c = Call(op=op, x=x, dtype=dtype, target=t, grad_output=go, **kw) if go is not None \
            else c
    return c


_P3 = [[0.2, 0.3, 0.1], [0.5, 0.25, 0.5]]
_LOGITS = [[0.5, -1.25, 2.0, 0.25], [1.5, 0.75, -0.5, -2.0], [0.0, 3.0, -1.0, 1.0]]

_KERAS = ">=2.16"  # TensorFlow releases that ship Keras 3 (tf.keras is Keras 3 from 2.16)
_KNN = "https://github.com/keras-team/keras/blob/master/keras/src/backend/tensorflow/nn.py"
_KLOSS = "https://github.com/keras-team/keras/blob/master/keras/src/losses/losses.py"
_KLOSSBASE = "https://github.com/keras-team/keras/blob/master/keras/src/losses/loss.py"
_TLOSS = "https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/Loss.cpp"
_TLOSSNLL = "https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/LossNLL.cpp"

_K_CCE_P = ("tf.keras.losses.categorical_crossentropy(from_logits=False)",
            "tf.keras.losses.CategoricalCrossentropy(from_logits=False)")
_K_SCCE_P = ("tf.keras.losses.sparse_categorical_crossentropy(from_logits=False)",
             "tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False)")
_K_BCE_P = ("tf.keras.losses.binary_crossentropy(from_logits=False)",
            "tf.keras.losses.BinaryCrossentropy(from_logits=False)")
_K_BCE_ALL = ("tf.keras.losses.binary_crossentropy(*)", "tf.keras.losses.BinaryCrossentropy(*)")
_K_CCE_ALL = ("tf.keras.losses.categorical_crossentropy(*)",
              "tf.keras.losses.CategoricalCrossentropy(*)")
_K_CLASSES_CAT = ("tf.keras.losses.CategoricalCrossentropy(*)",
                  "tf.keras.losses.SparseCategoricalCrossentropy(*)")
_T_BCE = ("torch.nn.functional.binary_cross_entropy", "torch.nn.BCELoss")
_T_BCEL = ("torch.nn.functional.binary_cross_entropy_with_logits", "torch.nn.BCEWithLogitsLoss")
_T_CE = ("torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss")
_T_NLL = ("torch.nn.functional.nll_loss", "torch.nn.NLLLoss")


def _ex_cce_unnorm() -> Call:
    return _call("categorical_crossentropy", _P3, target=[[0, 1, 0], [0, 0, 1]],
                 target_kind="probs")


def _ex_cce_clip() -> Call:
    return _call("categorical_crossentropy", [[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]],
                 target=[[0.5, 0.5, 0.0], [0, 1, 0]], target_kind="probs")


def _ex_cce_clip_half() -> Call:
    return _call("categorical_crossentropy", [[0.0, 0.5, 0.5], [0.25, 0.25, 0.5]],
                 dtype="float16", target=[[1, 0, 0], [0, 1, 0]], target_kind="probs",
                 grad=False)


def _ex_scce() -> Call:
    return _call("categorical_crossentropy", [[0.2, 0.3, 0.1], [0.0, 0.75, 0.25]],
                 target=[1, 0], target_kind="index")


def _ex_bce_clip() -> Call:
    return _call("binary_cross_entropy", [[0.0, 1.0, 0.3, 1e-9]],
                 target=[[1.0, 1.0, 0.0, 1.0]], options={"reduction": "mean"})


def _ex_bce_half() -> Call:
    return _call("binary_cross_entropy", [[1.0, 0.25], [0.0, 0.5]], dtype="float16",
                 target=[[0.0, 1.0], [1.0, 0.0]], options={"reduction": "none"}, grad=False)


def _ex_bce_shape() -> Call:
    c = _call("binary_cross_entropy_with_logits", [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]],
              target=[[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], options={"reduction": "sum"})
    return c


def _ex_sw() -> Call:
    return _call("cross_entropy", _LOGITS, target=[0, 1, 3], target_kind="index",
                 options={"sample_weight": np.array([1.0, 2.0, 0.5])})


def _ex_ls_axis() -> Call:
    x = np.array(_LOGITS).T  # classes on axis 0 (4 classes), 3 items on the last axis
    return _call("cross_entropy", x.tolist(), axis=0, target=[0, 1, 3], target_kind="index",
                 options={"label_smoothing": 0.2})


def _ex_ls_range_keras() -> Call:
    return _call("cross_entropy", _LOGITS, target=[0, 1, 3], target_kind="index",
                 options={"label_smoothing": 1.5})


def _ex_ls_neg_torch() -> Call:
    return _call("cross_entropy", _LOGITS, target=[0, 1, 3], target_kind="index",
                 options={"label_smoothing": -0.2})


def _ex_tf_grad() -> Call:
    return _call("cross_entropy", _LOGITS, target=[[0.5, 0.5, 0.5, 0.0], [0.2, 0.1, 0.0, 0.0],
                                                   [0.25, 0.25, 0.25, 0.25]],
                 target_kind="probs", options={"reduction": "sum"})


def _ex_tf_nan() -> Call:
    return _call("softmax", [[np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], [0.5, 1.0, -1.0]],
                 dtype="float32",
                 grad=False)


def _ex_torch_bce_clamp() -> Call:
    return _call("binary_cross_entropy", [0.0, 1.0, 1e-50, 0.5],
                 target=[1.0, 0.0, 0.5, 1.0], options={"reduction": "sum"}, grad=False)


def _ex_torch_bce_grad() -> Call:
    return _call("binary_cross_entropy", [0.0, 1.0, 1e-20, 0.5],
                 target=[1.0, 0.0, 1.0, 1.0], options={"reduction": "sum"})


def _ex_torch_minus_100() -> Call:
    return _call("cross_entropy", _LOGITS, target=[-100, 1, 3], target_kind="index")


def _ex_torch_minus_100_nll() -> Call:
    lp = np.asarray(R.log_softmax(np.array(_LOGITS), axis=-1), dtype=np.float64)
    return _call("nll_loss", lp.tolist(), target=[0, -100, 3], target_kind="index")


def _ex_keras_ignore_fn_mean() -> Call:
    return _call("cross_entropy", _LOGITS, target=[0, 2, 3], target_kind="index",
                 options={"ignore_index": 2})


def _ex_keras_all_ignored() -> Call:
    return _call("cross_entropy", _LOGITS, target=[2, 2, 2], target_kind="index",
                 options={"ignore_index": 2}, grad=False)


def _ex_empty() -> Call:
    return _call("cross_entropy", np.zeros((0, 4)), target=np.zeros((0,), np.int64),
                 target_kind="index", options={"reduction": "sum"}, grad=False)


def _ex_neg_inf() -> Call:
    return _call("cross_entropy", [[0.5, -np.inf, 2.0, 0.25], [1.5, 0.75, -0.5, -2.0]],
                 target=[0, 1], target_kind="index", options={"reduction": "none"}, grad=False)


def _ex_weighted_zero() -> Call:
    return _call("binary_cross_entropy_with_logits", [[0.0, 0.0, 1.5], [-0.5, 0.0, 2.0]],
                 target=[[0.0, 1.0, 1.0], [0.0, 0.5, 1.0]], options={"reduction": "sum"})


def _ex_log_softmax_half() -> Call:
    x = np.linspace(-2.0, 2.0, 40).reshape(1, 40)
    c = _call("log_softmax", x.tolist(), dtype="float16", grad=False)
    return Call(**{**c.__dict__, "grad_output": np.full((1, 40), 2048.0)})


def _ex_sparse_label_round() -> Call:
    x = np.zeros((3, 300))
    x[0, 257], x[0, 256], x[1, 3], x[2, 289], x[2, 288] = 4.0, -4.0, 1.0, 3.0, -3.0
    return _call("cross_entropy", x.tolist(), dtype="bfloat16", target=[257, 3, 289],
                 target_kind="index", options={"reduction": "sum"})


def _ex_half_recip() -> Call:
    return _call("categorical_crossentropy", [[1e-5, 0.5, 0.5], [0.25, 0.25, 0.5]],
                 dtype="float16", target=[[0, 1, 0], [0, 0, 1]], target_kind="probs",
                 options={"reduction": "sum"})


def _ex_weighted_cancel() -> Call:
    return _call("binary_cross_entropy_with_logits", [[-32.25, -30.5, 31.0], [-33.0, 34.0, -35.5]],
                 target=[[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], options={"reduction": "sum"},
                 grad=False)


def _ex_f32_cat() -> Call:
    return _call("cross_entropy", [[0.1, -1.3, 2.7, 0.3], [1.1, 0.7, -0.4, -2.2],
                                   [0.0, 3.3, -1.9, 1.7]],
                 target=[0, 1, 3], target_kind="index", options={"reduction": "sum"})


def _ex_f32_bin() -> Call:
    return _call("binary_cross_entropy_with_logits", [[0.1, -1.3, 2.7], [1.1, 0.7, -0.4]],
                 target=[[1.0, 0.0, 0.3], [0.0, 1.0, 0.9]], options={"reduction": "sum"})


def _ex_half_many_items(op: str = "cross_entropy") -> Call:
    """70000 confident items in float16: the mean loss is 0.0198, the item count (or torch's
    total weight) is beyond float16's 65504. A cotangent of 1e4 makes the gradient's loss
    visible (1e4 / 70000 = 0.14 per item instead of 0)."""
    rng = np.random.default_rng(70000)
    z = _rd(rng.normal(0.0, 0.3, (70000, 2)) + np.array([4.0, 0.0]), "float16")
    if op == "nll_loss":
        z = _rd(np.asarray(R.log_softmax(z, axis=-1), dtype=np.float64), "float16")
    return Call(op=op, x=z, dtype="float16", target=np.zeros(70000, np.int64),
                target_kind="index", options={"reduction": "mean"},
                grad_output=np.asarray(1e4))


def _ex_ls_half_many_classes() -> Call:
    return _call("cross_entropy", np.zeros((16, 1000)), dtype="float16",
                 target=np.arange(16) * 7, target_kind="index",
                 options={"label_smoothing": 0.1, "reduction": "mean"}, grad=False)


def _keras_all_ignored_model(call: Call) -> ModelResult:
    return np.asarray(0.0), None


def _ex_sw_probs() -> Call:
    return _call("categorical_crossentropy", [[0.25, 0.25, 0.5], [0.1, 0.6, 0.3]],
                 target=[[0, 0, 1.0], [0, 1.0, 0]], target_kind="probs",
                 options={"sample_weight": np.array([3.0, 0.5])})


# --------------------------------------------------------------------------- the registry
REGISTRY: tuple[Divergence, ...] = (
    Divergence(
        id="keras-cce-probs-renormalised",
        title="Keras categorical_crossentropy on probabilities divides them by their sum first",
        framework="tensorflow",
        entry_points=_K_CCE_P,
        versions=">=2.0",
        kinds=("forward", "gradient"),
        trigger="probability rows (y_pred) that do not sum to 1 along the class axis",
        explanation="With from_logits=False Keras computes output / reduce_sum(output, axis) "
                    "before the log ('so that the probability of each class adds up to 1'); "
                    "the reference takes the probabilities as given. The gradient flows "
                    "through the renormalisation (it is not zero along the row's sum).",
        link=f"{_KNN} (categorical_crossentropy: output / tf.reduce_sum(output, axis))",
        applies=_keras_cce_unnormalised,
        model=_keras_cat_model(),
        example=_ex_cce_unnorm,
    ),
    Divergence(
        id="keras-cce-probs-clip-eps",
        title="Keras categorical_crossentropy clips probabilities to [eps, 1-eps], eps=1e-7",
        framework="tensorflow",
        entry_points=_K_CCE_P,
        versions=">=2.0",
        kinds=("forward", "gradient"),
        trigger="a renormalised probability below 1e-7 (e.g. 0) where the target is > 0, or "
                "above 1-1e-7; in float16/bfloat16 eps is the dtype's rounding of 1e-7 and "
                "the upper bound rounds to 1",
        explanation="After renormalising, Keras clips with tf.clip_by_value(output, "
                    "epsilon(), 1 - epsilon()) (keras.config.epsilon() = 1e-7) so that log "
                    "stays finite: a zero probability under a positive target costs "
                    "-log(1e-7) = 16.118 instead of +inf, and the gradient is exactly 0 where "
                    "a value was clipped.",
        link=f"{_KNN} (categorical_crossentropy: tf.clip_by_value(output, "
             "backend.epsilon(), 1.0 - backend.epsilon()))",
        applies=_keras_clipped,
        model=_keras_cat_model(),
        example=_ex_cce_clip,
    ),
    Divergence(
        id="keras-cce-probs-clip-eps-half",
        title="Keras categorical_crossentropy in float16: eps 1e-7 rounds to 1.19e-7",
        framework="tensorflow",
        entry_points=_K_CCE_P,
        versions=">=2.0",
        kinds=("forward",),
        trigger="float16 or bfloat16 probabilities of 0 under a positive target",
        explanation="The clip bound epsilon()=1e-7 is cast to the tensor's dtype: float16 "
                    "holds it as the subnormal 1.192e-7 (loss 15.94 instead of 16.12 for a zero "
                    "probability), bfloat16 as 1.0012e-7; the reference gives +inf.",
        link=f"{_KNN} (categorical_crossentropy); https://keras.io/api/utils/config_utils/"
             "#epsilon-function",
        applies=_all(_keras_clipped, _half),
        model=_keras_cat_model(),
        example=_ex_cce_clip_half,
    ),
    Divergence(
        id="keras-sparse-cce-probs-clip-then-renormalise",
        title="Keras sparse_categorical_crossentropy on probabilities clips, then renormalises",
        framework="tensorflow",
        entry_points=_K_SCCE_P,
        versions=_KERAS,
        kinds=("forward", "gradient"),
        trigger="forward: probability rows that do not sum to 1, or contain values outside "
                "[1e-7, 1-1e-7]; gradient: any probabilities (one-hot targets are passed as "
                "their argmax), since the renormalisation adds 1/sum(c) to every entry",
        explanation="With from_logits=False the sparse loss clips y_pred to [eps, 1-eps], "
                    "takes the log and feeds it as LOGITS to "
                    "tf.nn.sparse_softmax_cross_entropy_with_logits, so the loss is "
                    "-log(c_y / sum_k c_k) with c = clip(p): it renormalises too, but AFTER "
                    "clipping (categorical_crossentropy renormalises before). Gradient is 0 "
                    "on clipped entries.",
        link=f"{_KNN} (sparse_categorical_crossentropy: clip_by_value, log, "
             "sparse_softmax_cross_entropy_with_logits)",
        applies=_keras_sparse_probs,
        model=_keras_cat_model(sparse=True),
        example=_ex_scce,
    ),
    Divergence(
        id="keras-bce-probs-clip-eps",
        title="Keras binary_crossentropy clips probabilities to [eps, 1-eps], eps=1e-7",
        framework="tensorflow",
        entry_points=_K_BCE_P,
        versions=">=2.0",
        kinds=("forward", "gradient"),
        trigger="probabilities below 1e-7 or above 1-1e-7 (0 and 1 included)",
        explanation="Keras clips y_pred with tf.clip_by_value(output, epsilon(), "
                    "1 - epsilon()) before t log p + (1-t) log(1-p). The bounds are not "
                    "symmetric in float32: 1e-7 is kept but 1-1e-7 rounds to 1-2^-23 "
                    "(0.99999988), so p=1 under t=0 costs 15.94 while p=0 under t=1 costs "
                    "16.12. Gradient 0 where clipped.",
        link=f"{_KNN} (binary_crossentropy: tf.clip_by_value(output, backend.epsilon(), "
             "1.0 - backend.epsilon()))",
        applies=_keras_clipped,
        model=_keras_bin_model,
        example=_ex_bce_clip,
    ),
    Divergence(
        id="keras-bce-probs-clip-half-upper-bound-is-one",
        title="Keras binary_crossentropy in float16/bfloat16: 1-eps rounds to 1, p=1 gives inf/nan",
        framework="tensorflow",
        entry_points=_K_BCE_P,
        versions=">=2.0",
        kinds=("forward",),
        trigger="float16 or bfloat16 probability exactly 1 (loss inf if t < 1, nan if t = 1), "
                "or 0 (clipped to the dtype's 1e-7)",
        explanation="The upper clip bound 0.9999999 is cast to the input dtype: float16 and "
                    "bfloat16 round it to 1.0, so the clip protects nothing at the top: "
                    "log(1 - 1) = -inf, times (1 - t) gives inf for t < 1 and 0 * -inf = nan "
                    "for t = 1 (the reference gives 0 for p = t = 1).",
        link=f"{_KNN} (binary_crossentropy)",
        applies=lambda c: c.op == "binary_cross_entropy" and _half(c) and bool(
            np.any((np.asarray(c.x) == 1.0) | (np.asarray(c.x) < 1e-7))),
        model=_keras_bin_model,
        example=_ex_bce_half,
    ),
    Divergence(
        id="keras-bce-mean-over-last-axis",
        title="Keras binary_crossentropy averages over the last axis: output shape x.shape[:-1]",
        framework="tensorflow",
        entry_points=_K_BCE_ALL,
        versions=">=2.0",
        kinds=("forward", "gradient"),
        trigger="reduction 'none' (output has shape x.shape[:-1]) or 'sum' (sum of per-row "
                "means = canonical sum / C) with more than one element on the last axis",
        explanation="keras.losses.binary_crossentropy returns ops.mean(bce, axis=-1), so one "
                    "value per row; the loss classes then reduce those row means. 'mean' "
                    "agrees with the element mean; 'none' and 'sum' differ by the factor C "
                    "(size of the last axis) and in shape.",
        link=f"{_KLOSS} (binary_crossentropy: ops.mean(..., axis=axis))",
        applies=_keras_bce_shape,
        model=_keras_bin_model,
        example=_ex_bce_shape,
    ),
    Divergence(
        id="keras-sum-over-batch-size-ignores-sample-weight-total",
        title="Keras loss classes: 'mean' with sample_weight divides by the item count, not sum(w)",
        framework="tensorflow",
        entry_points=_K_CLASSES_CAT,
        versions=_KERAS,
        kinds=("forward", "gradient"),
        trigger="a loss class with reduction 'sum_over_batch_size' (the default) and "
                "sample weights whose sum is not the number of items",
        explanation="Keras' reduce_values divides sum(w_i l_i) by the number of loss values "
                    "(prod(shape)) for 'sum_over_batch_size'; torch and the reference divide "
                    "by sum(w_i) (a weighted mean). Keras 3 offers "
                    "reduction='mean_with_sample_weight' for the weighted mean.",
        link=f"{_KLOSSBASE} (reduce_values: divisor = prod(shape(values)))",
        applies=_keras_sw_mean,
        model=lambda c: _keras_categorical(c, from_logits=c.op == "cross_entropy",
                                           sparse=c.target_kind == "index"
                                           and c.op == "categorical_crossentropy"),
        example=_ex_sw,
    ),
    Divergence(
        id="keras-label-smoothing-classes-from-last-axis",
        title="Keras categorical label smoothing uses C = shape[-1] even when axis != -1",
        framework="tensorflow",
        entry_points=_K_CCE_ALL,
        versions=_KERAS,
        kinds=("forward", "gradient"),
        trigger="label_smoothing > 0 with the class axis not last (axis=1 for channels-first)",
        explanation="keras.losses.categorical_crossentropy computes num_classes = "
                    "ops.shape(y_true)[-1] whatever its axis argument, so with axis=0 or 1 "
                    "the smoothing mass eps/C uses the size of the last axis: the smoothed "
                    "target no longer sums to 1. (The gradient, TF's softmax - labels, is "
                    "then off as well.)",
        link=f"{_KLOSS} (categorical_crossentropy: num_classes = ops.shape(y_true)[-1])",
        applies=_ls_axis_not_last,
        model=lambda c: _keras_categorical(c, from_logits=c.op == "cross_entropy", sparse=False),
        example=_ex_ls_axis,
    ),
    Divergence(
        id="keras-label-smoothing-out-of-range-accepted",
        title="Keras accepts label_smoothing outside [0, 1] and applies the formula",
        framework="tensorflow",
        entry_points=_K_CCE_ALL + _K_BCE_ALL,
        versions=_KERAS,
        kinds=("forward", "gradient"),
        trigger="label_smoothing < 0 or > 1",
        explanation="Keras never checks label_smoothing: t (1 - eps) + eps / C (binary: "
                    "eps / 2) is computed for any eps, giving targets outside [0, 1] and a "
                    "finite loss; the reference (and torch for eps > 1) reject it.",
        link=f"{_KLOSS} (categorical_crossentropy / binary_crossentropy: no range check)",
        applies=_ls_out_of_range,
        model=lambda c: _keras_bin_model(c) if c.op.startswith("binary") else
        _keras_categorical(c, from_logits=c.op == "cross_entropy", sparse=False),
        example=_ex_ls_range_keras,
    ),
    Divergence(
        id="keras-sparse-ignore-class-function-mean-counts-ignored",
        title="Keras sparse_categorical_crossentropy(ignore_class): a plain mean counts ignored items",
        framework="tensorflow",
        entry_points=("tf.keras.losses.sparse_categorical_crossentropy(*)",),
        versions=_KERAS,
        kinds=("forward", "gradient"),
        trigger="the function (not the loss class) with ignore_class and some ignored items, "
                "averaged with tf.reduce_mean",
        explanation="The function returns 0 for ignored items and records the mask only as "
                    "a Keras mask attribute, which tf.reduce_mean does not read: the mean "
                    "divides by all items. The loss class uses the mask and divides by the "
                    "number of valid items (as torch and the reference do).",
        link=f"{_KLOSS} (sparse_categorical_crossentropy: ops.where(valid_mask, res, 0.0); "
             "backend.set_keras_mask)",
        applies=_all(_ignored_some, lambda c: c.reduction == "mean"),
        model=_keras_cat_model(sparse=True, ignore_divisor="all"),
        example=_ex_keras_ignore_fn_mean,
    ),
    Divergence(
        id="keras-ignore-class-all-ignored-mean-is-zero",
        title="Keras SparseCategoricalCrossentropy(ignore_class): all items ignored gives 0, not NaN",
        framework="tensorflow",
        entry_points=("tf.keras.losses.SparseCategoricalCrossentropy(*)",),
        versions=_KERAS,
        kinds=("forward",),
        trigger="reduction 'sum_over_batch_size' with every item's label equal to ignore_class",
        explanation="Keras weights valid items by total/valid with divide_no_nan and divides "
                    "the sum by the item count with divide_no_nan, so a batch with nothing "
                    "valid has loss 0; the reference (and torch) compute 0/0 = NaN.",
        link=f"{_KLOSSBASE} (apply_mask: divide_no_nan(total, valid); reduce_values: "
             "divide_no_nan)",
        applies=_ignored_all,
        model=_keras_all_ignored_model,
        example=_ex_keras_all_ignored,
    ),
    Divergence(
        id="tf-softmax-ce-gradient-ignores-label-sum",
        title="TF softmax cross-entropy gradient is softmax - labels, wrong when labels do not sum to 1",
        framework="tensorflow",
        entry_points=("tf.nn.softmax_cross_entropy_with_logits",
                      "tf.keras.losses.categorical_crossentropy(from_logits=True)",
                      "tf.keras.losses.CategoricalCrossentropy(from_logits=True)",
                      "tf.keras.losses.CategoricalCrossentropy(from_logits=True, dtype=None)"),
        versions=">=2.0",
        kinds=("gradient",),
        trigger="probability targets whose rows do not sum to 1",
        explanation="The SoftmaxCrossEntropyWithLogits kernel returns its backprop as "
                    "softmax(logits) - labels, the derivative only when sum(labels) = 1; the "
                    "true derivative of -sum q log softmax(z) is sum(q) softmax(z) - q "
                    "(torch's autograd and the reference). The forward value is right.",
        link="https://github.com/tensorflow/tensorflow/blob/master/tensorflow/core/kernels/"
             "xent_op.h (backprop = softmax - labels)",
        applies=_all(_is("cross_entropy"), _not_sum1),
        model=_tf_ce_grad_softmax_minus_labels,
        example=_ex_tf_grad,
    ),
    Divergence(
        id="tf-softmax-nonfinite-stays-local-float32",
        title="tf.nn.softmax (float32/bfloat16) puts NaN only at NaN/+inf logits, 0 elsewhere",
        framework="tensorflow",
        entry_points=("tf.nn.softmax",),
        versions=">=2.0",
        kinds=("forward",),
        trigger="a NaN or +inf logit in float32 or bfloat16 (float64 and float16 give a NaN "
                "row; an all -inf row is NaN everywhere, as in the reference)",
        explanation="In float32 and bfloat16 (CPU) the row's finite entries come out as "
                    "exactly 0 and only the NaN / +inf entries as NaN (row [nan, 0, 1] -> "
                    "[nan, 0, 0]; [inf, 0, 1] -> [nan, 0, 0]); the reference, float64 and "
                    "float16 TF, and torch make the whole row NaN. Observed on TF 2.21 CPU; "
                    "the float32 path is the vectorised (oneDNN/Eigen) softmax kernel.",
        link="https://github.com/tensorflow/tensorflow/blob/master/tensorflow/core/kernels/"
             "softmax_op_functor.h",
        applies=_nan_in_softmax,
        model=_tf_softmax_nan,
        example=_ex_tf_nan,
    ),
    Divergence(
        id="keras-loss-class-empty-batch-unreduced",
        title="Keras loss classes return an empty (0,) tensor, not a scalar, for an empty batch",
        framework="tensorflow",
        entry_points=("tf.keras.losses.CategoricalCrossentropy(*)",
                      "tf.keras.losses.SparseCategoricalCrossentropy(*)",
                      "tf.keras.losses.BinaryCrossentropy(*)"),
        versions=_KERAS,
        kinds=("forward",),
        trigger="reduction 'sum' or 'sum_over_batch_size' on a batch with no items (x of "
                "shape (0, C))",
        explanation="keras.losses.Loss reduce_values returns the per-item values unreduced "
                    "when their shape is () or (0,), whatever the reduction: the loss object "
                    "gives an empty tensor of shape (0,). The reference reduces to a scalar "
                    "('sum' 0, 'mean' 0/0 = NaN), as tf.reduce_sum/tf.reduce_mean and torch do.",
        link=f"{_KLOSSBASE} (reduce_values: 'or tuple(values.shape) == (0,): return values')",
        applies=_empty_reduced,
        model=_keras_empty_batch,
        example=_ex_empty,
    ),
    Divergence(
        id="tf-softmax-ce-neg-inf-logit-nan",
        title="TF softmax cross-entropy is NaN for a row with a -inf logit under a zero label",
        framework="tensorflow",
        entry_points=("tf.nn.softmax_cross_entropy_with_logits",
                      "tf.keras.losses.categorical_crossentropy(from_logits=True)",
                      "tf.keras.losses.CategoricalCrossentropy(from_logits=True)",
                      "tf.keras.losses.CategoricalCrossentropy(from_logits=True, dtype=None)"),
        versions=">=2.0",
        kinds=("forward",),
        trigger="a -inf logit whose (smoothed) label is 0, in a row whose maximum is finite",
        explanation="The SoftmaxCrossEntropyWithLogits kernel computes the loss as "
                    "sum_c labels_c * (log(sum exp(shifted)) - shifted_c): at a -inf logit "
                    "with label 0 that is 0 * inf = NaN, and the row's loss is NaN. The "
                    "reference (and the sparse kernel, and torch) give the -inf logit "
                    "probability 0 and drop its zero-weighted term: the loss is finite (or "
                    "+inf where the label's own logit is -inf).",
        link="https://github.com/tensorflow/tensorflow/blob/master/tensorflow/core/kernels/"
             "xent_op.h (loss = (labels * (log(sum_exp) - shifted_logits)).sum()); "
             "https://github.com/tensorflow/tensorflow/issues/8484",
        applies=_neg_inf_zero_label,
        model=lambda c: _keras_categorical(c, from_logits=True, sparse=False),
        example=_ex_neg_inf,
    ),
    Divergence(
        id="tf-weighted-ce-gradient-at-logit-zero",
        title="tf.nn.weighted_cross_entropy_with_logits gradient at logit 0 misses -lw/2",
        framework="tensorflow",
        entry_points=("tf.nn.weighted_cross_entropy_with_logits",),
        versions=">=2.0",
        kinds=("gradient",),
        trigger="a logit exactly 0 (the 'huge' regime's zeros, any exact zero)",
        explanation="The op is a Python composite, (1 - t) z + lw (log1p(exp(-|z|)) + "
                    "relu(-z)) with lw = 1 + (pos_weight - 1) t, differentiated by autodiff: "
                    "at z = 0 TF takes d|z|/dz = sign(0) = 0 and relu'(0) = 0, so the lw term "
                    "contributes nothing and the gradient is (1 - t) instead of the derivative "
                    "(1 - t) sigmoid(0) - pos_weight t sigmoid(0) = (1 - t - pos_weight t) / 2 "
                    "(the loss is smooth there). tf.nn.sigmoid_cross_entropy_with_logits has "
                    "its own gradient and is right.",
        link="https://github.com/tensorflow/tensorflow/blob/master/tensorflow/python/ops/"
             "nn_impl.py (weighted_cross_entropy_with_logits_v2: log_weight * "
             "(log1p(exp(-abs(logits))) + relu(-logits)))",
        applies=_logit_zero,
        model=_tf_weighted_ce,
        example=_ex_weighted_zero,
    ),
    Divergence(
        id="tf-weighted-ce-forward-cancellation",
        title="tf.nn.weighted_cross_entropy_with_logits loses tiny losses to cancellation (z << 0)",
        framework="tensorflow",
        entry_points=("tf.nn.weighted_cross_entropy_with_logits",),
        versions=">=2.0",
        kinds=("forward",),
        trigger="negative logits (z < -1) with label < 1, where the loss is small: confident, "
                "correct predictions (e.g. z = -32, t = 0: loss 1.1e-14); visible in a 'sum' "
                "or 'mean' of many such terms in float64",
        explanation="The op evaluates (1 - t) z + lw (log1p(exp(-|z|)) + relu(-z)) as written: "
                    "for z < 0 the first and last terms are -|z|(1-t) and +|z| lw and cancel, "
                    "so each element carries an absolute error of about ulp(|z|) (7e-15 at "
                    "|z| = 32 in float64) instead of a relative one: a loss of 1.07e-14 comes "
                    "out as 1.42e-14. tf.nn.sigmoid_cross_entropy_with_logits uses "
                    "relu(z) - z t + log1p(exp(-|z|)), exact there for t = 0.",
        link="https://github.com/tensorflow/tensorflow/blob/master/tensorflow/python/ops/"
             "nn_impl.py (weighted_cross_entropy_with_logits_v2: (1 - labels) * logits + "
             "log_weight * (log1p(exp(-abs(logits))) + relu(-logits)))",
        applies=_weighted_ce_cancels,
        model=_tf_weighted_ce,
        example=_ex_weighted_cancel,
    ),
    Divergence(
        id="keras-cce-probs-grad-float16-reciprocal-overflow",
        title="Keras categorical_crossentropy in float16: NaN gradient row for p < 1/65504",
        framework="tensorflow",
        entry_points=_K_CCE_P,
        versions=_KERAS,
        kinds=("gradient",),
        trigger="float16 renormalised probabilities in [1.19e-7, 1.53e-5) under a zero "
                "target: unclipped, but their reciprocal exceeds 65504",
        explanation="The gradient of tf.math.log is upstream * reciprocal(x), the reciprocal "
                    "in the input dtype: in float16 1/p overflows to inf for p < 1/65504. The "
                    "upstream is -t, so an entry with t = 0 gives 0 * inf = NaN, and the "
                    "backward of the renormalisation output / sum(output) spreads it over the "
                    "whole row. The derivative itself is finite.",
        link="https://github.com/tensorflow/tensorflow/blob/master/tensorflow/python/ops/"
             f"math_grad.py (_LogGrad: grad * math_ops.reciprocal(x)); {_KNN}",
        applies=_half_recip_overflow,
        model=_keras_cat_model(),
        example=_ex_half_recip,
    ),
    Divergence(
        id="keras-sparse-cce-probs-grad-float16-reciprocal-overflow",
        title="Keras sparse_categorical_crossentropy in float16: inf gradient for p < 1/65504",
        framework="tensorflow",
        entry_points=_K_SCCE_P,
        versions=_KERAS,
        kinds=("gradient",),
        trigger="float16 probabilities in [1.19e-7, 1.53e-5): unclipped, but their "
                "reciprocal exceeds 65504",
        explanation="The sparse loss feeds log(clip(p)) to the sparse softmax kernel; the "
                    "gradient of tf.math.log is upstream * reciprocal(x) with the reciprocal "
                    "in float16, inf for p < 1/65504, and the upstream softmax(log c) - onehot "
                    "is non-zero there, so that entry's gradient is inf instead of about "
                    "1/sum(c).",
        link="https://github.com/tensorflow/tensorflow/blob/master/tensorflow/python/ops/"
             f"math_grad.py (_LogGrad: grad * math_ops.reciprocal(x)); {_KNN}",
        applies=_half_recip_overflow,
        model=_keras_cat_model(sparse=True),
        example=_ex_half_recip,
    ),
    Divergence(
        id="tf-log-softmax-grad-float16-cotangent-sum-overflow",
        title="tf.nn.log_softmax gradient in float16: the cotangent's row sum overflows to inf",
        framework="tensorflow",
        entry_points=("tf.nn.log_softmax",),
        versions=">=2.0",
        kinds=("gradient",),
        trigger="float16 with |sum of grad_output over the class axis| > 65504 (e.g. 100000 "
                "classes with cotangents of order 1)",
        explanation="TF's LogSoftmax gradient is g - reduce_sum(g, -1) * exp(log_softmax), "
                    "the row sum a float16 tensor: beyond float16's largest value 65504 it is "
                    "inf and every entry of the row is g - inf * p = -inf (NaN where the "
                    "float16 p underflows to 0). The derivative "
                    "itself is small and finite (a kernel keeping that intermediate in float32, "
                    "like torch's, gets it); not a tolerance matter: the intermediate does not "
                    "exist in float16.",
        link="https://github.com/tensorflow/tensorflow/blob/master/tensorflow/python/ops/"
             "nn_grad.py (_LogSoftmaxGrad: grad - math_ops.reduce_sum(grad, -1, "
             "keepdims=True) * softmax)",
        applies=_half_cotangent_sum_overflows,
        model=_tf_log_softmax_grad_half,
        example=_ex_log_softmax_half,
    ),
    Divergence(
        id="keras-sparse-class-labels-rounded-to-dtype",
        title="Keras SparseCategoricalCrossentropy(dtype=float16/bfloat16) rounds class indices",
        framework="tensorflow",
        entry_points=("tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
                      "tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False)"),
        versions=_KERAS,
        kinds=("forward", "gradient"),
        trigger="a loss object built with dtype bfloat16 (index > 256 not a multiple of the "
                "spacing) or float16 (index > 2048)",
        explanation="Loss.__call__ converts y_true to the loss's dtype "
                    "(ops.convert_to_tensor(y_true, dtype=self.dtype)) before "
                    "sparse_categorical_crossentropy casts it back to an integer, so in "
                    "bfloat16 class 257 becomes 256 and 489 becomes 488: the loss and gradient "
                    "are those of a different class. The function form keeps integer labels.",
        link=f"{_KLOSSBASE} (Loss.__call__: convert_to_tensor(x, dtype=self.dtype) on y_true)",
        applies=_sparse_label_rounds,
        model=_keras_sparse_labels_in_dtype,
        example=_ex_sparse_label_round,
    ),
    Divergence(
        id="torch-bce-logits-forward-cancellation",
        title="torch binary_cross_entropy_with_logits loses tiny losses to cancellation (z << 0)",
        framework="torch",
        entry_points=_T_BCEL,
        versions=">=2.0",
        kinds=("forward",),
        trigger="negative logits (z < -1) with target < 1 where the loss is small (confident, "
                "correct predictions: z = -32, t = 0 gives 1.1e-14); visible in a 'sum' or "
                "'mean' of many such terms in float64",
        explanation="torch computes (1 - t) z - log_sigmoid(z) (times the pos_weight factor): "
                    "for z < 0 both terms are about |z| and cancel, so each element carries an "
                    "absolute error of about ulp(|z|) (7e-15 at |z| = 32 in float64), not a "
                    "relative one; a sum of 192 losses of ~1e-14 is off by 0.3%. The "
                    "reference evaluates (1 - t) softplus(z) + t softplus(-z), exact there.",
        link=f"{_TLOSS} (binary_cross_entropy_with_logits: (1 - target).mul_(input)"
             ".sub_(log_sigmoid_input))",
        applies=_weighted_ce_cancels,
        model=_torch_bce_logits,
        example=_ex_weighted_cancel,
    ),
    Divergence(
        id="torch-bce-log-clamp-minus-100",
        title="torch binary_cross_entropy clamps each log at -100 (loss at most 100 per element)",
        framework="torch",
        entry_points=_T_BCE,
        versions=">=1.0",
        kinds=("forward",),
        trigger="probabilities with log p < -100 or log(1-p) < -100 under a target that "
                "weights that log (p = 0 with t > 0, p = 1 with t < 1, p < 3.7e-44)",
        explanation="torch computes (t - 1) max(log(1 - p), -100) - t max(log p, -100) so "
                    "that the loss is finite (documented: 'BCELoss clamps its log function "
                    "outputs to be greater than or equal to -100'); the reference gives +inf "
                    "(or the exact large value).",
        link=f"{_TLOSS} (binary_cross_entropy_out_cpu: std::max(log, -100)); "
             "https://pytorch.org/docs/stable/generated/torch.nn.BCELoss.html",
        applies=_torch_bce_clamped,
        model=_torch_bce,
        example=_ex_torch_bce_clamp,
    ),
    Divergence(
        id="torch-bce-grad-eps-1e-12",
        title="torch binary_cross_entropy gradient divides by max(p(1-p), 1e-12)",
        framework="torch",
        entry_points=_T_BCE,
        versions=">=1.0",
        kinds=("gradient",),
        trigger="p(1-p) < 1e-12 (p within ~1e-12 of 0 or 1); in float16 EPSILON rounds to 0 "
                "so p = 0 or 1 gives an infinite gradient",
        explanation="binary_cross_entropy_backward computes grad (p - t) / max((1 - p) p, "
                    "EPSILON) with EPSILON = 1e-12 cast to the input dtype, so the gradient is "
                    "bounded by 1e12 (and is not the derivative of the clamped forward); the "
                    "reference gives -t/p + (1-t)/(1-p) (infinite at p = 0 or 1).",
        link=f"{_TLOSS} (binary_cross_entropy_backward_out_cpu: EPSILON = 1e-12)",
        applies=_torch_bce_eps,
        model=_torch_bce,
        example=_ex_torch_bce_grad,
    ),
    Divergence(
        id="torch-ignore-index-default-minus-100",
        title="torch cross_entropy/nll_loss silently ignore targets equal to -100 by default",
        framework="torch",
        entry_points=_T_CE,
        versions=">=1.0",
        kinds=("forward", "gradient"),
        trigger="an index target of -100 when no ignore_index is asked for",
        explanation="ignore_index defaults to -100, so such an item is dropped from the loss "
                    "and from the mean's denominator without an error; the reference (no "
                    "ignore_index) rejects -100 as an out-of-range class.",
        link="https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html "
             f"(ignore_index default -100); {_TLOSSNLL}",
        applies=_has_minus_100,
        model=_torch_ignore_minus_100,
        example=_ex_torch_minus_100,
    ),
    Divergence(
        id="torch-nll-ignore-index-default-minus-100",
        title="torch nll_loss silently ignores targets equal to -100 by default",
        framework="torch",
        entry_points=_T_NLL,
        versions=">=1.0",
        kinds=("forward", "gradient"),
        trigger="an index target of -100 when no ignore_index is asked for",
        explanation="As for cross_entropy: NLLLoss's ignore_index defaults to -100.",
        link="https://pytorch.org/docs/stable/generated/torch.nn.NLLLoss.html "
             f"(ignore_index default -100); {_TLOSSNLL}",
        applies=_has_minus_100,
        model=_torch_ignore_minus_100,
        example=_ex_torch_minus_100_nll,
    ),
    Divergence(
        id="torch-label-smoothing-negative-ignored",
        title="torch cross_entropy silently ignores a negative label_smoothing (checks only <= 1)",
        framework="torch",
        entry_points=_T_CE,
        versions=">=1.10",
        kinds=("forward", "gradient"),
        trigger="label_smoothing < 0",
        explanation="torch raises 'label_smoothing must be between 0.0 and 1.0' for eps > 1, "
                    "but a negative eps passes the check and then fails the 'label_smoothing "
                    "> 0' test that selects the smoothing branch: the loss is computed with "
                    "NO smoothing, silently. The reference rejects any eps outside [0, 1].",
        link=f"{_TLOSSNLL} (cross_entropy: TORCH_CHECK(label_smoothing <= 1.0); "
             "if (label_smoothing > 0.0) -> cross_entropy_loss_label_smoothing)",
        applies=_ls_negative,
        model=_torch_ls_negative,
        example=_ex_ls_neg_torch,
    ),
)

_F32_EXPL = ("Loss.__init__ takes dtype=None to mean keras.config.floatx() (float32) and "
             "Loss.__call__ converts y_pred and y_true with ops.convert_to_tensor(x, "
             "dtype=self.dtype); the loss and its reduction (sample weights cast too) run in "
             "float32 and the result is a float32 tensor. On float64 inputs the loss is only "
             "float32-accurate (the logits are rounded to float32 first: a logit offset of 1e8 "
             "keeps only multiples of 8) and the gradient, which flows back through the cast, "
             "is a float32 value returned as float64. float16 and bfloat16 inputs are upcast "
             "exactly and give a float32 loss (a gradient in the input dtype) that is MORE "
             "accurate than the input dtype: those agree with the reference (or with the "
             "other Keras entries) and are not this divergence. Building the class with "
             "dtype='float64' (or keras.config.set_floatx('float64')) avoids it.")
_F32_LINK = (f"{_KLOSSBASE} (Loss.__init__: dtype_policies.get(dtype or backend.floatx()); "
             "Loss.__call__: ops.convert_to_tensor(x, dtype=self.dtype)); "
             "https://keras.io/api/losses/ (dtype argument)")
_F32_TRIGGER = "float64 inputs to the loss class constructed without dtype"
REGISTRY += (
    Divergence(
        id="keras-cce-class-computes-in-float32",
        title="Keras CategoricalCrossentropy() without dtype computes float64 inputs in float32",
        framework="tensorflow",
        entry_points=("tf.keras.losses.CategoricalCrossentropy(from_logits=True, dtype=None)",),
        versions=_KERAS,
        kinds=("forward", "gradient"),
        trigger=_F32_TRIGGER,
        explanation=_F32_EXPL,
        link=_F32_LINK,
        applies=lambda c: c.dtype == "float64" and c.op == "cross_entropy",
        model=_keras_class_in_float32(sparse=False),
        example=_ex_f32_cat,
        compute_dtype="float32",
    ),
    Divergence(
        id="keras-sparse-cce-class-computes-in-float32",
        title="Keras SparseCategoricalCrossentropy() without dtype computes float64 inputs in "
              "float32",
        framework="tensorflow",
        entry_points=("tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, "
                      "dtype=None)",),
        versions=_KERAS,
        kinds=("forward", "gradient"),
        trigger=_F32_TRIGGER,
        explanation=_F32_EXPL + " The integer labels are converted to float32 too (exact "
                                "below 2**24, so no class is changed in practice).",
        link=_F32_LINK,
        applies=lambda c: c.dtype == "float64" and c.op == "cross_entropy",
        model=_keras_class_in_float32(sparse=True),
        example=_ex_f32_cat,
        compute_dtype="float32",
    ),
    Divergence(
        id="keras-bce-class-computes-in-float32",
        title="Keras BinaryCrossentropy() without dtype computes float64 inputs in float32",
        framework="tensorflow",
        entry_points=("tf.keras.losses.BinaryCrossentropy(from_logits=True, dtype=None)",),
        versions=_KERAS,
        kinds=("forward", "gradient"),
        trigger=_F32_TRIGGER,
        explanation=_F32_EXPL,
        link=_F32_LINK,
        applies=lambda c: c.dtype == "float64" and c.op == "binary_cross_entropy_with_logits",
        model=_keras_class_in_float32(sparse=False),
        example=_ex_f32_bin,
        compute_dtype="float32",
    ),
)

REGISTRY += (
    Divergence(
        id="torch-nll-mean-float16-total-weight-overflow",
        title="torch nll_loss/cross_entropy 'mean' in float16: over 65504 items the loss is 0",
        framework="torch",
        entry_points=_T_CE + _T_NLL,
        versions=">=1.0",
        kinds=("forward", "gradient"),
        trigger="float16, index targets, reduction 'mean', sum of w[y_i] over non-ignored "
                "items above 65504 (e.g. 70000 items without class weights)",
        explanation="nll_loss_forward keeps total_weight (the mean's denominator) in the "
                    "input's dtype: in float16 it overflows to inf beyond 65504, so the mean "
                    "is sum / inf = 0 (NaN when the float16 sum overflows as well) and the "
                    "backward divides the cotangent by the same inf: the gradient is 0. The "
                    "mean itself (here 0.0198) is representable. The sum is accumulated in "
                    "float, so 60000 items are right; torch's binary losses (mean computed "
                    "by Tensor.mean) and bfloat16 (range of float32) are not affected.",
        link=f"{_TLOSSNLL} (nll_loss_out_frame: total_weight tensor of the input's "
             "scalar type; output = sum / total_weight)",
        applies=_torch_half_mean_overflows,
        model=_torch_mean_half_total_weight,
        example=_ex_half_many_items,
    ),
    Divergence(
        id="torch-label-smoothing-float16-smooth-sum-overflow",
        title="torch cross_entropy(label_smoothing) in float16: inf once sum_c -log p exceeds "
              "65504",
        framework="torch",
        entry_points=_T_CE,
        versions=">=1.10",
        kinds=("forward",),
        trigger="float16, index targets, label_smoothing > 0, and sum over classes (and, for "
                "'sum'/'mean', over items) of -w_c log p_c above 65504: e.g. 16 items x 1000 "
                "classes (about 110000), or one item with 10000+ classes",
        explanation="cross_entropy_loss_label_smoothing computes smooth_loss = -(log_softmax "
                    "* w).sum(class_dim) and smooth_loss.sum() as float16 tensors BEFORE "
                    "scaling them by label_smoothing / C, so the intermediate overflows to inf "
                    "although the loss (6.9 for uniform logits over 1000 classes) is small; "
                    "the gradient is unaffected (it never forms that sum). Keras' smoothing "
                    "(applied to the targets) does not overflow.",
        link=f"{_TLOSSNLL} (cross_entropy_loss_label_smoothing: smooth_loss.sum() ... "
             "ret * (label_smoothing / n_classes))",
        applies=_torch_ls_half_overflows,
        model=_torch_ls_half_smooth_sum,
        example=_ex_ls_half_many_classes,
    ),
    Divergence(
        id="tf-mean-float16-item-count-overflow",
        title="TF/Keras mean of float16 losses over more than 65504 items is 0 (count is inf)",
        framework="tensorflow",
        entry_points=("tf.nn.softmax_cross_entropy_with_logits",
                      "tf.nn.sparse_softmax_cross_entropy_with_logits",
                      "tf.keras.losses.categorical_crossentropy(from_logits=True)",
                      "tf.keras.losses.sparse_categorical_crossentropy(from_logits=True)",
                      "tf.keras.losses.CategoricalCrossentropy(from_logits=True)",
                      "tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)"),
        versions=_KERAS,
        kinds=("forward", "gradient"),
        trigger="float16 losses averaged over more than 65504 items: tf.reduce_mean of the "
                "per-item losses, or a Keras loss class built with dtype='float16' and "
                "reduction 'sum_over_batch_size'",
        explanation="tf.reduce_mean divides the float16 sum by the item count cast to "
                    "float16, and Keras' reduce_values divides by "
                    "ops.cast(prod(shape), loss.dtype): beyond 65504 the count is inf, so "
                    "the mean is 0 (NaN when the float16 sum overflows too, divide_no_nan "
                    "only guards a zero divisor) and the gradient cotangent / inf is 0. "
                    "The sum itself is accumulated accurately (60000 items are right). A "
                    "loss class built without dtype computes in float32 and is not affected.",
        link="https://github.com/tensorflow/tensorflow/blob/master/tensorflow/core/kernels/"
             f"reduction_ops_common.h (MeanReducer: sum / count in the tensor's type); "
             f"{_KLOSSBASE} (reduce_values: ops.cast(ops.prod(shape), loss.dtype))",
        applies=_tf_half_count_overflows,
        model=_tf_half_mean,
        example=_ex_half_many_items,
    ),
)

