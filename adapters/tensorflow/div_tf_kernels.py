"""TensorFlow's own kernels and composites (tf.nn, tf.reduce_mean): the softmax cross-entropy
kernel's gradient and -inf handling, softmax on NaN/+inf, weighted_cross_entropy_with_logits,
the log_softmax gradient and the float16 mean in float16.

Each entry follows its predicate, example and model. Keyed on TensorFlow's version.
``observed`` pins what each text says TensorFlow returns (NaN, inf, 0) on the example, and what
it says of torch where it compares; ``finding`` marks the bugs to report upstream (findings.py).
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.entry import Observed
from lossconform.divergences.numerics import (
    cancelling_logits_example, infinite_logits_example,
    EXAMPLE_LOGITS, F16_MAX, all_of, class_axis, classes_back, classes_last,
    confident_items_float16, cotangent, example_call, index_items, infinite_logit, logits_cancel,
    neg_inf_under_zero_label, op_is, reduce_losses, targets_not_normalised, wants_grad,
)
from lossconform.dtypes import round_to

from . import findings as _findings
from .keras_models import (
    KERAS_LOSS_BASE, KERAS_NN, TF_KERNELS, TF_PYTHON_OPS, keras_binary, keras_categorical,
)

_SOFTMAX_CE = ("tf.nn.softmax_cross_entropy_with_logits",
               "tf.keras.losses.categorical_crossentropy(from_logits=True)",
               "tf.keras.losses.CategoricalCrossentropy(from_logits=True)",
               "tf.keras.losses.CategoricalCrossentropy(from_logits=True, dtype=None)")

_entries: list[Divergence] = []
_narrow: list[Divergence] = []  # float16/bfloat16 corner cases


# -- softmax cross-entropy kernel -----------------------------------------------------------------
def _softmax_minus_labels(call: Call) -> ModelResult:
    """Forward: the reference (with Keras' smoothing/sample-weight conventions where the entry
    point is a Keras loss). Gradient: TF's SoftmaxCrossEntropyWithLogits kernel returns
    backprop = softmax(z) - q for the labels q it was given (after Keras' label smoothing
    q = (1-eps) t + eps/C), scaled by the sample weight and the reduction; exact only when
    sum(q) = 1. tf.nn.softmax_cross_entropy_with_logits takes no smoothing or sample weights,
    so for it this is plain softmax - t."""
    return keras_categorical(call, from_logits=True, sparse=False)


def _ex_labels_not_normalised() -> Call:
    return example_call("cross_entropy", EXAMPLE_LOGITS,
                        target=[[0.5, 0.5, 0.5, 0.0], [0.2, 0.1, 0.0, 0.0],
                                [0.25, 0.25, 0.25, 0.25]],
                        target_kind="probs", options={"reduction": "sum"})


_entries.append(Divergence(
    id="tf-softmax-ce-gradient-ignores-label-sum",
    title="TF softmax cross-entropy gradient is softmax - labels, wrong when labels do not sum to 1",
    framework="tensorflow",
    entry_points=_SOFTMAX_CE,
    versions=">=2.0",
    kinds=("gradient",),
    trigger="probability targets whose rows do not sum to 1",
    explanation="The SoftmaxCrossEntropyWithLogits kernel returns its backprop as "
                "softmax(logits) - labels, the derivative only when sum(labels) = 1; the "
                "true derivative of -sum q log softmax(z) is sum(q) softmax(z) - q "
                "(torch's autograd and the reference). The forward value is right.",
    link=f"{TF_KERNELS}xent_op.h (backprop = softmax - labels)",
    applies=all_of(op_is("cross_entropy"), targets_not_normalised),
    model=_softmax_minus_labels,
    example=_ex_labels_not_normalised,
))


def _ex_neg_inf() -> Call:
    return example_call("cross_entropy", [[0.5, -np.inf, 2.0, 0.25], [1.5, 0.75, -0.5, -2.0]],
                        target=[0, 1], target_kind="index", options={"reduction": "none"},
                        grad=False)


_entries.append(Divergence(
    id="tf-softmax-ce-neg-inf-logit-nan",
    title="TF softmax cross-entropy is NaN for a row with a -inf logit under a zero label",
    framework="tensorflow",
    entry_points=_SOFTMAX_CE,
    versions=">=2.0",
    kinds=("forward",),
    trigger="a -inf logit whose (smoothed) label is 0, in a row whose maximum is finite",
    explanation="The SoftmaxCrossEntropyWithLogits kernel computes the loss as "
                "sum_c labels_c * (log(sum exp(shifted)) - shifted_c): at a -inf logit "
                "with label 0 that is 0 * inf = NaN, and the row's loss is NaN. The "
                "reference and the sparse kernel give the -inf logit probability 0 and "
                "drop its zero-weighted term: the loss is finite (or +inf where the label's "
                "own logit is -inf). torch agrees with the reference for index targets only: "
                "with probability targets torch computes -(log_softmax(z) * t).sum(), the "
                "same 0 * -inf, and its loss is NaN as well.",
    link=f"{TF_KERNELS}xent_op.h (loss = (labels * (log(sum_exp) - shifted_logits)).sum()); "
         "https://github.com/tensorflow/tensorflow/issues/8484; torch: "
         "https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/LossNLL.cpp "
         "(cross_entropy_loss_prob_target: -(input * target).sum(class_dim))",
    applies=neg_inf_under_zero_label,
    model=lambda c: keras_categorical(c, from_logits=True, sparse=False),
    example=_ex_neg_inf,
    observed=(
        Observed("forward", "nan +", "at a -inf logit with label 0 ... the row's loss is NaN"),
        Observed("forward", "+ +", "torch agrees with the reference for index targets",
                 framework="torch", entry_points=("torch.nn.functional.cross_entropy",)),
        Observed("forward", "nan +", "with probability targets torch ... its loss is NaN "
                                     "as well",
                 framework="torch", entry_points=("torch.nn.functional.cross_entropy",),
                 call=lambda: _ex_neg_inf().replace(
                     target=np.eye(4)[[0, 1]], target_kind="probs")),
    ),
    finding=_findings.SOFTMAX_CE_NEG_INF,
))


# -- softmax on NaN / +inf ------------------------------------------------------------------------
def _nan_or_inf_in_softmax(call: Call) -> bool:
    return call.op == "softmax" and call.dtype in ("float32", "bfloat16") \
        and bool(np.any(np.isnan(call.x) | np.isposinf(call.x)))


def _softmax_nan_stays_local(call: Call) -> ModelResult:
    """tf.nn.softmax in float32/bfloat16: in a row holding NaN or +inf, NaN stays where those
    logits were and every other entry is 0 (the reference: the whole row NaN)."""
    x = classes_last(call.x, call)
    with np.errstate(invalid="ignore"):
        out = np.asarray(R.softmax(x, axis=-1), dtype=np.float64)
    isn = np.isnan(x) | np.isposinf(x)
    row = np.any(isn, axis=-1, keepdims=True)
    out = np.where(row, np.where(isn, np.nan, 0.0), out)
    return classes_back(out, call), None


def _ex_softmax_nan() -> Call:
    return example_call("softmax", [[np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], [0.5, 1.0, -1.0]],
                        dtype="float32", grad=False)


_entries.append(Divergence(
    id="tf-softmax-nonfinite-stays-local-float32",
    title="tf.nn.softmax (float32/bfloat16, oneDNN) does not propagate NaN: NaN at the "
          "NaN/+inf logits, 0 elsewhere",
    framework="tensorflow",
    entry_points=("tf.nn.softmax",),
    versions=">=2.0",
    kinds=("forward",),
    trigger="a NaN or +inf logit in float32 or bfloat16 with oneDNN on (TF's default on "
            "x86-64 CPUs; float64 and float16 give a NaN row; an all -inf row is NaN "
            "everywhere, as in the reference)",
    explanation="In float32 and bfloat16 (CPU, oneDNN) the NaN / +inf entries come out as "
                "NaN and the row's other entries as exactly 0 (row [nan, 0, 1] -> "
                "[nan, 0, 0]; [inf, 0, 1] -> [nan, 0, 0]): NaN does not propagate through "
                "the row (from 16 classes on, a NaN also reaches one mirrored lane: "
                "tf-softmax-nan-leaks-to-mirror-lane-onednn). The reference, float64 and "
                "float16 TF, and torch make the whole row NaN. Measured on TF 2.21 CPU: it "
                "is the oneDNN softmax (the kernel "
                "TF_ENABLE_ONEDNN_OPTS selects); with TF_ENABLE_ONEDNN_OPTS=0 the Eigen "
                "kernel gives the NaN row in float32 and bfloat16 too.",
    link=f"{TF_KERNELS}softmax_op_functor.h (Eigen); {TF_KERNELS}mkl/mkl_softmax_op.cc "
         "(oneDNN)",
    applies=_nan_or_inf_in_softmax,
    model=_softmax_nan_stays_local,
    example=_ex_softmax_nan,
    observed=(
        Observed("forward", "nan 0 0 | nan 0 0 | + + +",
                 "row [nan, 0, 1] -> [nan, 0, 0]; [inf, 0, 1] -> [nan, 0, 0]"),
        Observed("forward", "nan nan nan | nan nan nan | + + +",
                 "float64 and float16 TF ... make the whole row NaN",
                 call=lambda: _ex_softmax_nan().replace(dtype="float64")),
        Observed("forward", "nan nan nan | nan nan nan | + + +",
                 "float64 and float16 TF ... make the whole row NaN",
                 call=lambda: _ex_softmax_nan().replace(dtype="float16")),
        Observed("forward", "nan nan nan | nan nan nan | + + +",
                 "torch make[s] the whole row NaN", framework="torch",
                 entry_points=("torch.nn.functional.softmax",)),
    ),
    finding=_findings.SOFTMAX_NONFINITE,
))


# -- sigmoid_cross_entropy_with_logits at infinite logits ------------------------------------------
def _sigmoid_ce(call: Call) -> ModelResult:
    """tf.nn.sigmoid_cross_entropy_with_logits as nn_impl.py writes it:
    relu(z) - z t + log1p(exp(-|z|)), then the user's tf.reduce_mean / tf.reduce_sum."""
    z = np.asarray(call.x, dtype=np.float64)
    t = np.asarray(call.target, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        el = np.maximum(z, 0.0) - z * t + np.log1p(np.exp(-np.abs(z)))
    return np.asarray(reduce_losses(el, float(max(z.size, 1)), call.reduction), dtype=np.float64), None



_INFINITE_LOGIT_EXPLANATION = (
    "relu(z) - z t + log1p(exp(-|z|)) at z = +inf with t = 1 is inf - inf = NaN, at z = -inf "
    "with t = 0 it is 0 - (-inf) * 0 = NaN, and at z = +inf with t = 0 it is inf - 0 * inf = "
    "NaN, where the loss is 0 (a certain, correct prediction) or +inf. The gradient, "
    "sigmoid(z) - t, stays exact. The reference evaluates (1 - t) softplus(z) + t softplus(-z) "
    "with 0 * inf taken as 0.")

_entries.append(Divergence(
    id="tf-sigmoid-ce-infinite-logit-nan",
    title="tf.nn.sigmoid_cross_entropy_with_logits is NaN at an infinite logit",
    framework="tensorflow",
    entry_points=("tf.nn.sigmoid_cross_entropy_with_logits",),
    versions=">=2.0",
    kinds=("forward",),
    trigger="a logit of +inf or -inf (the 'pos_inf' and 'neg_inf' regimes), except -inf "
            "under target 1, which gives the right +inf",
    explanation="tf.nn.sigmoid_cross_entropy_with_logits computes " + _INFINITE_LOGIT_EXPLANATION,
    link=f"{TF_PYTHON_OPS}nn_impl.py (sigmoid_cross_entropy_with_logits_v2: "
         "relu_logits - logits * labels + log1p(exp(neg_abs_logits)))",
    applies=infinite_logit,
    model=_sigmoid_ce,
    example=infinite_logits_example,
    observed=(Observed("forward", "nan nan nan +inf",
                       "NaN at z = +inf (t = 1 or 0) and at z = -inf with t = 0; -inf under "
                       "target 1 gives the right +inf"),),
    finding=_findings.SIGMOID_CE_INFINITE,
))


def _keras_bce_logits(call: Call) -> ModelResult:
    return keras_binary(call, from_logits=True)


def _ex_infinite_logit_mean() -> Call:
    return example_call("binary_cross_entropy_with_logits", [[np.inf, -np.inf, 2.0], [0.5, 1.0, -1.0]],
                        target=[[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], options={"reduction": "mean"},
                        grad=False)


_entries.append(Divergence(
    id="keras-bce-logits-infinite-logit-nan",
    title="Keras binary_crossentropy(from_logits=True) is NaN at an infinite logit",
    framework="tensorflow",
    entry_points=("tf.keras.losses.binary_crossentropy(from_logits=True)",
                  "tf.keras.losses.BinaryCrossentropy(from_logits=True)",
                  "tf.keras.losses.BinaryCrossentropy(from_logits=True, dtype=None)"),
    versions=">=3.0",
    package="keras",
    kinds=("forward",),
    trigger="a logit of +inf or -inf (the 'pos_inf' and 'neg_inf' regimes)",
    explanation="Keras' TensorFlow backend hands logits to tf.nn.sigmoid_cross_entropy_with_"
                "logits, which computes " + _INFINITE_LOGIT_EXPLANATION + " Keras then "
                "averages over the last axis, so the NaN spreads to the row's mean.",
    link=f"{KERAS_NN} (binary_crossentropy: tf.nn.sigmoid_cross_entropy_with_logits)",
    applies=infinite_logit,
    model=_keras_bce_logits,
    example=_ex_infinite_logit_mean,
    observed=(Observed("forward", "nan", "the NaN spreads to the row's mean"),),
))


# -- weighted_cross_entropy_with_logits -----------------------------------------------------------
def _weighted_ce(call: Call) -> ModelResult:
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

    def rd(v: np.ndarray) -> np.ndarray:  # one op's result, in the input dtype
        return round_to(v, call.dtype)

    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(-np.abs(z))
        # the forward op by op, each result rounded to the dtype (as the TF composite
        # computes it): (1 - t) z and relu(-z) cancel for z < 0, leaving ~ulp(|z|) of error
        el = rd(rd(rd(1.0 - t) * z) + rd(rd(lw) * rd(rd(np.log1p(rd(e))) + np.maximum(-z, 0.0))))
        de = (1.0 - t) + lw * (-np.sign(z) * e / (1.0 + e) - (-z > 0).astype(np.float64))
    n = float(max(z.size, 1))
    fwd = reduce_losses(el, n, call.reduction)
    grad = None
    if wants_grad(call):
        g = cotangent(call, z.shape if call.reduction == "none" else ())
        grad = de * (g / n if call.reduction == "mean" else g)
    return np.asarray(fwd, dtype=np.float64), grad


def _logit_zero(call: Call) -> bool:
    return call.op == "binary_cross_entropy_with_logits" and call.grad_output is not None \
        and bool(np.any(np.asarray(call.x) == 0.0))


def _ex_logit_zero() -> Call:
    return example_call("binary_cross_entropy_with_logits", [[0.0, 0.0, 1.5], [-0.5, 0.0, 2.0]],
                        target=[[0.0, 1.0, 1.0], [0.0, 0.5, 1.0]], options={"reduction": "sum"})


_entries.append(Divergence(
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
    link=f"{TF_PYTHON_OPS}nn_impl.py (weighted_cross_entropy_with_logits_v2: log_weight * "
         "(log1p(exp(-abs(logits))) + relu(-logits)))",
    applies=_logit_zero,
    model=_weighted_ce,
    example=_ex_logit_zero,
    observed=(Observed("gradient", "* 0 * | * * *",
                       "at z = 0 the lw term contributes nothing: the gradient is (1 - t), "
                       "0 for t = 1 where the derivative is -pos_weight / 2"),),
    finding=_findings.WEIGHTED_CE_GRAD_AT_ZERO,
))


_entries.append(Divergence(
    id="tf-weighted-ce-infinite-logit-nan",
    title="tf.nn.weighted_cross_entropy_with_logits is NaN at an infinite logit",
    framework="tensorflow",
    entry_points=("tf.nn.weighted_cross_entropy_with_logits",),
    versions=">=2.0",
    kinds=("forward",),
    trigger="a logit of +inf or -inf (the 'pos_inf' and 'neg_inf' regimes)",
    explanation="The op evaluates (1 - t) z + lw (log1p(exp(-|z|)) + relu(-z)): at z = +inf "
                "with t = 1 the first term is 0 * inf = NaN, at z = -inf with t = 0 it is "
                "-inf + inf = NaN and with t = 1 it is 0 * (-inf) = NaN, where the loss is 0 "
                "(a certain, correct prediction) or +inf; z = +inf under t = 0 gives the "
                "right +inf. The reference evaluates (1 - t) softplus(z) + pos_weight t "
                "softplus(-z) with 0 * inf taken as 0.",
    link=f"{TF_PYTHON_OPS}nn_impl.py (weighted_cross_entropy_with_logits_v2: (1 - labels) * "
         "logits + log_weight * (log1p(exp(-abs(logits))) + relu(-logits)))",
    applies=infinite_logit,
    model=_weighted_ce,
    example=infinite_logits_example,
    observed=(Observed("forward", "nan nan +inf nan",
                       "NaN at z = +inf with t = 1 and at z = -inf (t = 0 or 1); z = +inf "
                       "under t = 0 gives the right +inf"),),
))



_entries.append(Divergence(
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
    link=f"{TF_PYTHON_OPS}nn_impl.py (weighted_cross_entropy_with_logits_v2: (1 - labels) * "
         "logits + log_weight * (log1p(exp(-abs(logits))) + relu(-logits)))",
    applies=logits_cancel,
    model=_weighted_ce,
    example=cancelling_logits_example,
    finding=_findings.WEIGHTED_CE_CANCELLATION,
))


# -- log_softmax gradient in float16 --------------------------------------------------------------
def _half_cotangent_sum_overflows(call: Call) -> bool:
    if call.op != "log_softmax" or call.grad_output is None or call.dtype != "float16":
        return False
    g = classes_last(cotangent(call, call.x.shape), call)
    return bool(np.any(np.abs(np.sum(g, axis=-1)) > F16_MAX))


def _log_softmax_grad_half(call: Call) -> ModelResult:
    """TF's LogSoftmax gradient (nn_grad.py _LogSoftmaxGrad): g - reduce_sum(g) * exp(out),
    with the row sum of the cotangent held in the input dtype: rounded to it, so in float16
    a sum beyond 65504 is inf and every entry of the row becomes -inf, or NaN where the
    float16 softmax exp(log_softmax) underflows to 0."""
    x = classes_last(call.x, call)
    fwd = np.asarray(R.log_softmax(x, axis=-1), dtype=np.float64)
    grad = None
    if wants_grad(call):
        g = classes_last(cotangent(call, call.x.shape), call)
        with np.errstate(over="ignore", invalid="ignore"):
            S = round_to(np.sum(g, axis=-1, keepdims=True), call.dtype)
            # softmax = exp(op output), both in the dtype: where it underflows to 0,
            # inf * 0 gives NaN instead of -inf
            p = round_to(np.exp(round_to(fwd, call.dtype)), call.dtype)
            grad = classes_back(g - S * p, call)
    return classes_back(fwd, call), grad


def _ex_log_softmax_half() -> Call:
    x = np.linspace(-2.0, 2.0, 40).reshape(1, 40)
    return example_call("log_softmax", x, dtype="float16", grad=False).replace(
        grad_output=np.full((1, 40), 2048.0))


_narrow.append(Divergence(
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
    link=f"{TF_PYTHON_OPS}nn_grad.py (_LogSoftmaxGrad: grad - math_ops.reduce_sum(grad, -1, "
         "keepdims=True) * softmax)",
    applies=_half_cotangent_sum_overflows,
    model=_log_softmax_grad_half,
    example=_ex_log_softmax_half,
    observed=(Observed("gradient", "-inf ...", "every entry of the row is g - inf * p = "
                                               "-inf"),),
    finding=_findings.LOG_SOFTMAX_GRAD_FLOAT16,
))


# -- float16 mean over > 65504 items --------------------------------------------------------------
def _half_count_overflows(call: Call) -> bool:
    if call.dtype != "float16" or call.reduction != "mean" or call.op != "cross_entropy" \
            or call.option("sample_weight") is not None or call.option("ignore_index") \
            is not None or call.x.ndim < 1:
        return False
    a = class_axis(call)
    return float(np.prod([d for i, d in enumerate(call.x.shape) if i != a])) > F16_MAX


def _half_mean(call: Call) -> ModelResult:
    """tf.reduce_mean (the adapter's 'mean' for tf.nn / keras.losses functions) and Keras'
    'sum_over_batch_size' (ops.sum / cast(prod(shape), dtype), divide_no_nan) in float16: the
    item count is cast to float16, inf beyond 65504, so the mean is sum / inf = 0 (NaN when
    the float16 sum overflows too) and its gradient cotangent / inf = 0."""
    a = class_axis(call)
    n = float(np.prod([d for i, d in enumerate(call.x.shape) if i != a]))
    if call.op == "cross_entropy":
        per_item = call.replace(options={**call.options, "reduction": "none"}, grad_output=None)
        l, _ = keras_categorical(per_item, from_logits=True, sparse=False)
    else:
        l, _, _ = index_items(call)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        fwd = np.asarray(round_to(np.sum(l), "float16") / round_to(n, "float16"))
    return fwd, np.zeros(call.x.shape) if wants_grad(call) else None


_narrow.append(Divergence(
    id="tf-mean-float16-item-count-overflow",
    title="TF/Keras mean of float16 losses over more than 65504 items is 0 (count is inf)",
    framework="tensorflow",
    entry_points=("tf.nn.softmax_cross_entropy_with_logits",
                  "tf.nn.sparse_softmax_cross_entropy_with_logits",
                  "tf.keras.losses.categorical_crossentropy(from_logits=True)",
                  "tf.keras.losses.sparse_categorical_crossentropy(from_logits=True)",
                  "tf.keras.losses.CategoricalCrossentropy(from_logits=True)",
                  "tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)"),
    # tf.reduce_mean's float16 count and Keras 3's reduce_values alike: the TensorFlow
    # releases that ship Keras 3
    versions=">=2.16",
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
    link=f"{TF_KERNELS}reduction_ops_common.h (MeanReducer: sum / count in the tensor's type); "
         f"{KERAS_LOSS_BASE} (reduce_values: ops.cast(ops.prod(shape), loss.dtype))",
    applies=_half_count_overflows,
    model=_half_mean,
    example=confident_items_float16,
    observed=(Observed("forward", "0", "the mean is 0"),
              Observed("gradient", "0 ...", "the gradient cotangent / inf is 0")),
    finding=_findings.MEAN_FLOAT16,
))

DIVERGENCES: tuple[Divergence, ...] = tuple(_entries)
#: float16/bfloat16 corner cases, tried after the general entries (see divergences.py)
NARROW_DTYPE_DIVERGENCES: tuple[Divergence, ...] = tuple(_narrow)
