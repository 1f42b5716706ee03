"""The Keras loss conventions as NumPy models, shared by the TensorFlow plug-in's divergence
entries (div_keras_probabilities, div_keras_losses, div_tf_kernels).

``keras_categorical`` and ``keras_binary`` compute what keras/src/backend/tensorflow/nn.py and
keras/src/losses compute, convention by convention, from the reference and plain NumPy; the
entries pick the convention they are about through their predicates.
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

#: Versions of Keras 3 (tf.keras is Keras 3 from TensorFlow 2.16 on).
KERAS_3 = ">=3.0"
#: Any Keras 2 or 3 release (conventions older than Keras 3).
KERAS_2_AND_3 = ">=2.0"

KERAS_NN = "https://github.com/keras-team/keras/blob/master/keras/src/backend/tensorflow/nn.py"
KERAS_LOSSES = "https://github.com/keras-team/keras/blob/master/keras/src/losses/losses.py"
KERAS_LOSS_BASE = "https://github.com/keras-team/keras/blob/master/keras/src/losses/loss.py"
TF_KERNELS = "https://github.com/tensorflow/tensorflow/blob/master/tensorflow/core/kernels/"
TF_PYTHON_OPS = "https://github.com/tensorflow/tensorflow/blob/master/tensorflow/python/ops/"


def keras_clip_bounds(dtype: str) -> tuple[float, float]:
    """Keras' clip interval [epsilon, 1 - epsilon] as it is in ``dtype``.

    ``backend.epsilon()`` is the Python float 1e-7; ``1.0 - epsilon`` is computed in Python
    (0.9999999) and both are cast to the tensor's dtype by ``tf.clip_by_value``: in float16
    and bfloat16 the upper bound rounds to exactly 1.
    """
    eps = 1e-7
    return float(round_to(eps, dtype)), float(round_to(1.0 - eps, dtype))


def keras_categorical(call: Call, *, from_logits: bool, sparse: bool,
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
    x = classes_last(call.x, call)
    C = x.shape[-1]
    items = x.shape[:-1]
    t = probs_target_last(call)
    ls = label_smoothing(call)
    if ls and not sparse:
        c_keras = call.x.shape[-1]
        t = t * (1.0 - ls) + ls / c_keras
    ignored = np.zeros(items, dtype=bool)
    if sparse:
        # the sparse losses take indices; the adapter passes exactly one-hot probability
        # targets as their argmax (see adapter.py _index_target)
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
            r = round_to(x / S, call.dtype)
            c = np.clip(r, lo, hi)
            l = -np.sum(np.where(t == 0, 0.0, t * np.log(c)), axis=-1)
            inr = (r >= lo) & (r <= hi)
            # TF's Log gradient is upstream * reciprocal(c), the reciprocal in the input
            # dtype: in float16 1/c overflows to inf for c < 1/65504, and a zero upstream
            # (t = 0) then gives 0 * inf = NaN, spread over the row by the renormalisation
            a = np.where(inr, -t * round_to(1.0 / c, call.dtype), 0.0)
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
            dl = np.where(inr, (c / Sc - onehot) * round_to(1.0 / c, call.dtype), 0.0)
            dl = np.where(ignored[..., None], 0.0, dl)
    l = np.where(ignored, 0.0, l)
    s = sample_weight(call, items)
    n = float(max(int(np.prod(items)), 1))
    if ignored.any() and ignore_divisor == "valid":
        valid = float(np.sum(~ignored))
        # Keras apply_mask: for 'sum_over_batch_size' weight total/valid on valid items
        # (divide_no_nan: 0 if none valid); for 'none' and 'sum' the plain 0/1 mask
        mw = (n / valid if valid else 0.0) if call.reduction == "mean" else 1.0
        s = np.where(ignored, 0.0, s * mw)
    fwd = reduce_losses(s * l, n, call.reduction)
    grad = None
    if wants_grad(call):
        f = item_factor(call, s, n)
        grad = classes_back(f[..., None] * dl, call)
    return np.asarray(fwd, dtype=np.float64), grad


def keras_binary(call: Call, *, from_logits: bool) -> ModelResult:
    """Keras binary_crossentropy: element losses (probabilities clipped to [eps, 1-eps] in the
    input dtype; logits through tf.nn.sigmoid_cross_entropy_with_logits), smoothed targets
    t (1-eps) + eps/2, then the MEAN over the last axis; reduction over what is left."""
    x = np.asarray(call.x, dtype=np.float64)
    t = np.asarray(call.target, dtype=np.float64)
    ls = label_smoothing(call)
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
    fwd = reduce_losses(s * m, n, call.reduction)
    grad = None
    # 'none' has shape x.shape[:-1]: a canonical cotangent (x's shape) does not fit it, and
    # the adapter then gives no gradient; model one only when the cotangent fits.
    fits = call.reduction != "none" or np.shape(call.grad_output) == m.shape
    if wants_grad(call) and fits:
        f = item_factor(call, s, n)
        grad = f[..., None] * de / C
    return np.asarray(fwd, dtype=np.float64), grad


def categorical_model(*, sparse: bool = False,
                      ignore_divisor: str = "valid") -> Callable[[Call], ModelResult]:
    """``keras_categorical`` with from_logits read off the op (the from_logits=True entry
    points compute cross_entropy, the from_logits=False ones categorical_crossentropy)."""
    def model(call: Call) -> ModelResult:
        fl = call.op == "cross_entropy"
        return keras_categorical(call, from_logits=fl, sparse=sparse,
                                 ignore_divisor=ignore_divisor)
    return model


def binary_model(call: Call) -> ModelResult:
    """``keras_binary`` with from_logits read off the op."""
    return keras_binary(call, from_logits=call.op == "binary_cross_entropy_with_logits")
