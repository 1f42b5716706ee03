"""TensorFlow's relative-accuracy divergences: elements whose reference value is a normal number
of the dtype that TensorFlow computes with an absolute error instead of a relative one, or in
the half dtype itself instead of float32 (the relative bound of
lossconform/harness/tolerances.py catches them; the norm-wise tolerance does not):

* tf.nn.log_softmax and the softmax cross-entropy kernels (tf.nn.*softmax_cross_entropy_with_
  logits, hence Keras' from_logits=True categorical losses) take the log of the row's sum
  exp(x - max) rounded to the dtype: log-probabilities near 0 and a confident item's loss lose
  their relative accuracy (0 in float32 below ~6e-8);
* tf.nn.softmax in float16 computes exp, the sum, its inverse and the product in float16;
* tf.nn.softmax in float32/bfloat16 (oneDNN) returns 0 for a probability whose exp(x - max) is
  below 2**-125, although it is a normal number;
* tf.math.log_sigmoid = -softplus(-x), whose kernel returns exp(x) instead of log1p(exp(x))
  below log(eps) + 2: up to 3.7 eps relative error;
* tf.nn.sigmoid_cross_entropy_with_logits (and Keras' binary losses on logits) is composed of
  element-wise ops in the input's dtype, max(x, 0) - x z + log1p(exp(-|x|)), which cancels
  for soft targets;
* tf.nn.weighted_cross_entropy_with_logits' gradient is autodiff through its composite
  formula, whose terms cancel more than sigmoid(x) (1 + (q - 1) z) - q z.

Models are built from the reference's arithmetic and lossconform.dtypes.round_to, never from
TensorFlow. Where TensorFlow's result depends on its summation order (the log of a sum near 1
magnifies the last bit of the sum), the model gives, per element, the end of the possible
rounding of the sum that is farther from the reference, so that every order is within the
model's departure from the reference (the harness accepts a framework within twice that
departure); where every order gives the same result (the other classes below half an ULP of 1:
the log is exactly 0) the model gives it.
Keyed on TensorFlow's version (``package="keras"`` for the Keras-only entries).
"""
from __future__ import annotations

import os

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.numerics import (
    classes_back, classes_last, example_call, farther_from_reference, item_factor,
    label_smoothing, log_of_rounded_sum, probs_target_last, reduce_losses, sample_weight,
    wants_grad,
)
from lossconform.dtypes import EPS, HALF_DTYPES, round_to

from .keras_models import KERAS_NN, TF_KERNELS, TF_PYTHON_OPS, keras_clip_bounds

_K = "tf.keras.losses."
_DENSE = ("tf.nn.softmax_cross_entropy_with_logits",
          f"{_K}categorical_crossentropy(from_logits=True)",
          f"{_K}CategoricalCrossentropy(from_logits=True)")
_SPARSE = ("tf.nn.sparse_softmax_cross_entropy_with_logits",
           f"{_K}sparse_categorical_crossentropy(from_logits=True)",
           f"{_K}SparseCategoricalCrossentropy(from_logits=True)")
_SPARSE_PROBS = (f"{_K}sparse_categorical_crossentropy(from_logits=False)",
                 f"{_K}SparseCategoricalCrossentropy(from_logits=False)")
_F32_CLASSES = (f"{_K}CategoricalCrossentropy(from_logits=True, dtype=None)",
                f"{_K}SparseCategoricalCrossentropy(from_logits=True, dtype=None)")
_SIGMOID_CE = ("tf.nn.sigmoid_cross_entropy_with_logits",
               f"{_K}binary_crossentropy(from_logits=True)",
               f"{_K}BinaryCrossentropy(from_logits=True)")
_XENT_H = f"{TF_KERNELS}xent_op.h"
_SPARSE_XENT_H = f"{TF_KERNELS}sparse_xent_op.h"
_SOFTMAX_H = f"{TF_KERNELS}softmax_op_functor.h"
_SOFTPLUS_H = f"{TF_KERNELS}softplus_op.h"
_NN_IMPL = f"{TF_PYTHON_OPS}nn_impl.py"

_entries: list[Divergence] = []


# -- shared pieces --------------------------------------------------------------------------------
def _keras_reduce(call: Call, l: np.ndarray, ignored: np.ndarray, dtype: str) -> np.ndarray:
    """Per-item losses ``l`` reduced as lossconform.adapters.tensorflow.keras_models
    keras_categorical reduces them (sample weights, ignore_class masking with Keras' total /
    valid re-weighting, 'sum_over_batch_size' dividing by the item count), in ``dtype``."""
    items = l.shape
    s = sample_weight(call, items)
    n = float(max(int(np.prod(items)), 1))
    if ignored.any():
        valid = float(np.sum(~ignored))
        mw = (n / valid if valid else 0.0) if call.reduction == "mean" else 1.0
        s = np.where(ignored, 0.0, s * mw)
    with np.errstate(invalid="ignore"):
        weighted = np.where(s == 0, 0.0, s * round_to(l, dtype))
    return round_to(reduce_losses(weighted, n, call.reduction), dtype)


def _compute_dtype(entry_point_is_f32_class: bool, dtype: str) -> str:
    return "float32" if entry_point_is_f32_class else dtype


# -- the softmax cross-entropy kernels: log of the rounded row sum --------------------------------
def _xent_model(*, sparse: bool, probs_input: bool = False, f32_class: bool = False):
    """TF's SoftmaxCrossEntropyWithLogits (xent_op.h): loss = sum_c labels_c (log(S) - d_c);
    SparseSoftmaxCrossEntropyWithLogits (sparse_xent_op.h): log(S) - d_y; d = logits - max,
    S = sum exp(d), every tensor in the computing dtype T (the input's, or float32 for a Keras
    loss class built without dtype). Keras' from_logits=True categorical losses call these
    kernels (label smoothing applied to the labels first, in T); its sparse loss on
    probabilities calls the sparse kernel on log(clip(p, eps, 1 - eps)). Reductions as Keras."""
    def model(call: Call) -> ModelResult:
        T = _compute_dtype(f32_class, call.dtype)
        acc = T  # Eigen's SumReducer<T>: a half T accumulates in T
        x = round_to(classes_last(call.x, call), T)  # what the kernel is given, in T
        items = x.shape[:-1]
        t = probs_target_last(call)
        if call.target_kind != "index":
            t = round_to(t, T)
        ignored = np.zeros(items, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if probs_input:
                lo, hi = keras_clip_bounds(T)
                x = round_to(np.log(np.clip(x, lo, hi)), T)
            d, L_lo, L_hi = log_of_rounded_sum(x, T, acc)
            if sparse:
                yidx = np.asarray(call.target) if call.target_kind == "index" \
                    else np.argmax(t, axis=-1)
                ii = call.option("ignore_index")
                if ii is not None and call.target_kind == "index":
                    ignored = yidx == ii
                y = np.where(ignored, 0, yidx).astype(np.int64)
                dy = np.take_along_axis(d, y[..., None], axis=-1)[..., 0]
                losses = [round_to(L[..., 0] - dy, T) for L in (L_lo, L_hi)]
            else:
                ls = label_smoothing(call)
                if ls:
                    t = round_to(round_to(t * (1.0 - ls), T) + ls / call.x.shape[-1], T)
                losses = [np.sum(t * round_to(L - d, T), axis=-1) for L in (L_lo, L_hi)]
        lo, hi = (np.asarray(_keras_reduce(call, np.where(ignored, 0.0, l), ignored, T),
                             dtype=np.float64) for l in losses)
        return farther_from_reference(call, lo, hi), None
    return model


def _xent_applies(call: Call) -> bool:
    return call.op in ("cross_entropy", "categorical_crossentropy") and call.x.size > 0


def _ex_confident_sparse() -> Call:
    """Confident, correct items in float32: losses 1.4e-13 and 9.4e-11, which the kernel
    returns as 0 (the other classes add up to less than half an ULP of 1)."""
    return example_call("cross_entropy", [[30.0, 0.0, 1.0, -2.0], [0.5, 24.0, 0.0, -1.0]],
                        dtype="float32", target=[0, 1], target_kind="index",
                        options={"reduction": "none"}, grad=False)


def _ex_confident_dense() -> Call:
    return example_call("cross_entropy", [[30.0, 0.0, 1.0, -2.0], [0.5, 24.0, 0.0, -1.0]],
                        dtype="float32", target=[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]],
                        target_kind="probs", options={"reduction": "none"}, grad=False)


def _ex_confident_probs() -> Call:
    """sparse_categorical_crossentropy on probabilities (float32) of two classes: the kernel
    sees log(p) and takes log(1 + p_other / p_y) of the sum rounded to float32, so the loss
    1.0e-5 is off by up to 1e-7 absolute (hundreds of ULP of its own magnitude)."""
    p = round_to([[0.99999, 1.0e-5], [2.0e-5, 0.99998]], "float32")
    return example_call("categorical_crossentropy", p, dtype="float32",
                        target=[[1.0, 0.0], [0.0, 1.0]], target_kind="probs",
                        options={"reduction": "none"}, grad=False)


_XENT_EXPL = ("TF's softmax cross-entropy kernels compute d = logits - max, S = sum exp(d) and "
              "the loss sum_c labels_c (log(S) - d_c) (sparse: log(S) - d_y), with S and "
              "log(S) in the computing dtype. For an item whose target class is the argmax, "
              "the loss is log(1 + r), r the sum of the other classes, taken of 1 + r rounded "
              "to that dtype: an absolute error of up to an ULP of 1 (1.2e-7 in float32, "
              "2.2e-16 in float64, 0.008 in bfloat16) on a value of size r, and exactly 0 once "
              "r is below half an ULP of 1: the loss of a confident, correct item (1.4e-13 for "
              "a lead of 30) comes back as 0, and in bfloat16 a loss of 0.06 is 7% off. The "
              "reference takes log1p(r). torch's cross_entropy does the same in float32/"
              "float64 (torch-cross-entropy-log-of-rounded-sum) but keeps float32 for the sum "
              "of float16/bfloat16 inputs on a class axis that is not last. Norm-wise the "
              "error is below one ULP of 1, so only the relative bound on normal elements "
              "sees it.")

_entries.append(Divergence(
    id="tf-xent-log-of-rounded-sum",
    title="TF softmax cross-entropy kernels take the log of the rounded row sum: a confident "
          "item's loss loses its relative accuracy (0 in float32/float64)",
    framework="tensorflow",
    entry_points=_DENSE,
    versions=">=2.0",
    kinds=("forward",),
    trigger="items whose target class has probability near 1 (confident predictions, large "
            "logits); in float16/bfloat16 any item whose loss is below ~0.1",
    explanation=_XENT_EXPL,
    link=f"{_XENT_H} (XentEigenImpl: scratch = exp(logits - max).sum(); loss = (labels * "
         "(scratch.log() - backprop)).sum())",
    applies=_xent_applies,
    model=_xent_model(sparse=False),
    example=_ex_confident_dense,
))

_entries.append(Divergence(
    id="tf-sparse-xent-log-of-rounded-sum",
    title="TF sparse softmax cross-entropy takes the log of the rounded row sum: a confident "
          "item's loss loses its relative accuracy (0 in float32/float64)",
    framework="tensorflow",
    entry_points=_SPARSE,
    versions=">=2.0",
    kinds=("forward",),
    trigger="items whose target class has probability near 1 (confident predictions, large "
            "logits); in float16/bfloat16 any item whose loss is below ~0.1",
    explanation=_XENT_EXPL,
    link=f"{_SPARSE_XENT_H} (SparseXentLossGenerator: log(sum_exp_logits) - logits[label], "
         "logits shifted by their max)",
    applies=_xent_applies,
    model=_xent_model(sparse=True),
    example=_ex_confident_sparse,
))

_entries.append(Divergence(
    id="keras-sparse-cce-probs-log-of-rounded-sum",
    title="Keras sparse_categorical_crossentropy on probabilities loses a confident item's "
          "relative accuracy (TF's sparse kernel on log p)",
    framework="tensorflow",
    package="keras",
    entry_points=_SPARSE_PROBS,
    versions=">=3.0",
    kinds=("forward",),
    trigger="items whose target probability is near 1 (in float16/bfloat16 above ~0.9)",
    explanation="Keras (TF backend) computes sparse_categorical_crossentropy(from_logits=False) "
                "as tf.nn.sparse_softmax_cross_entropy_with_logits(labels, log(clip(p, eps, "
                "1 - eps))): the kernel re-normalises log p and takes the log of the rounded "
                "row sum, so -log p_y near 0 carries an absolute error of up to an ULP of 1 "
                "of the dtype. " + _XENT_EXPL.split(". ", 1)[1],
    link=f"{KERAS_NN} (sparse_categorical_crossentropy: output = log(clip(output)); "
         f"sparse_softmax_cross_entropy_with_logits); {_SPARSE_XENT_H}",
    applies=_xent_applies,
    model=_xent_model(sparse=True, probs_input=True),
    example=_ex_confident_probs,
))


def _is_half(call: Call) -> bool:
    return call.dtype in HALF_DTYPES and _xent_applies(call)


def _is_f64(call: Call) -> bool:
    return call.dtype == "float64" and _xent_applies(call)


def _ex_confident_bf16() -> Call:
    return example_call("cross_entropy", [[30.0, 0.0, 1.0, -2.0], [0.5, 24.0, 0.0, -1.0]],
                        dtype="bfloat16", target=[0, 1], target_kind="index",
                        options={"reduction": "none"}, grad=False)


def _ex_confident_f64() -> Call:
    return example_call("cross_entropy", [[20.0, 0.0, 1.0, -2.0], [0.5, 21.0, 0.0, -1.0]],
                        dtype="float64", target=[0, 1], target_kind="index",
                        options={"reduction": "none"}, grad=False)


for _ep, _sp in zip(_F32_CLASSES, (False, True)):
    _cls = _ep[len(_K):].split("(", 1)[0]
    _entries.append(Divergence(
        id=f"keras-{'sparse-' if _sp else ''}cce-class-float32-log-of-rounded-sum",
        title=f"Keras {_cls}() without dtype computes float16/bfloat16 inputs in float32, "
              "through the log of the rounded row sum",
        framework="tensorflow",
        package="keras",
        entry_points=(_ep,),
        versions=">=3.0",
        kinds=("forward",),
        trigger="bfloat16 (or float16) inputs of confident items: the float32 kernel returns "
                "their loss as 0 where the bfloat16 value is a normal number",
        explanation="The loss class built without dtype converts its inputs to float32 "
                    "(keras-*-class-computes-in-float32) and runs TF's softmax cross-entropy "
                    "kernel there: " + _XENT_EXPL,
        link=f"{_SPARSE_XENT_H if _sp else _XENT_H}",
        applies=_is_half,
        model=_xent_model(sparse=_sp, f32_class=True),
        example=_ex_confident_bf16,
    ))
    _entries.append(Divergence(
        id=f"keras-{'sparse-' if _sp else ''}cce-class-float64-in-float32-log-of-rounded-sum",
        title=f"Keras {_cls}() without dtype computes float64 inputs in float32, through the "
              "log of the rounded row sum",
        framework="tensorflow",
        package="keras",
        entry_points=(_ep,),
        versions=">=3.0",
        kinds=("forward",),
        trigger="float64 inputs of confident items (loss below ~1e-7)",
        explanation="The loss class built without dtype computes float64 inputs in float32 "
                    "(keras-*-class-computes-in-float32), where TF's softmax cross-entropy "
                    "kernel returns a loss below half an ULP of 1 of float32 as 0: "
                    + _XENT_EXPL,
        link=f"{_SPARSE_XENT_H if _sp else _XENT_H}",
        applies=_is_f64,
        model=_xent_model(sparse=_sp, f32_class=True),
        example=_ex_confident_f64,
        compute_dtype="float32",
    ))


# -- tf.nn.log_softmax: log of the rounded row sum ------------------------------------------------
def _log_softmax_model(call: Call) -> ModelResult:
    """softmax_op_functor.h with log=true: (x - max) - log(sum exp(x - max)), every tensor in
    the input's dtype (Eigen; in float16/bfloat16 each op returns the half dtype and the row
    sum, Eigen's SumReducer<T>, accumulates in it)."""
    dt = call.dtype
    d, L_lo, L_hi = log_of_rounded_sum(round_to(classes_last(call.x, call), dt), dt, dt)
    lo, hi = (classes_back(round_to(d - L, dt), call) for L in (L_lo, L_hi))
    return farther_from_reference(call, lo, hi), None


def _ex_confident_lsm() -> Call:
    return example_call("log_softmax", [[30.0, 0.0, 1.0, -2.0], [24.0, 0.5, 0.0, -1.0]],
                        dtype="float32", grad=False)


_entries.append(Divergence(
    id="tf-log-softmax-log-of-rounded-sum",
    title="tf.nn.log_softmax takes the log of the rounded row sum: log-probabilities near 0 "
          "lose their relative accuracy (a confident row's argmax is 0)",
    framework="tensorflow",
    entry_points=("tf.nn.log_softmax",),
    versions=">=2.0",
    kinds=("forward",),
    trigger="rows whose argmax has probability near 1; in float16/bfloat16 any row with "
            "p_max above ~0.9",
    explanation="TF's LogSoftmax kernel (softmax_op_functor.h, log=true) computes (x - max) - "
                "log(sum exp(x - max)) with the sum and its log in the input's dtype: the "
                "argmax's log-probability -log(1 + r) is taken of 1 + r rounded to the dtype, "
                "an absolute error of up to an ULP of 1 and exactly 0 once r is below half an "
                "ULP of 1 (-1.4e-13 for a lead of 30 comes back as 0 in float32). The "
                "reference takes log1p(r). torch does the same "
                "(torch-log-softmax-log-of-rounded-sum).",
    link=f"{_SOFTMAX_H} (softmax - softmax.exp().sum(along_class).log())",
    applies=lambda c: c.op == "log_softmax" and c.x.size > 0,
    model=_log_softmax_model,
    example=_ex_confident_lsm,
))


# -- tf.nn.softmax: float16 in float16; oneDNN's exp flushing near the smallest normal ------------
def _softmax_half_model(call: Call) -> ModelResult:
    """softmax_op_functor.h in Eigen::half: d = x - max, e = exp(d), the row sum and its
    inverse, e * (1 / sum), each op returning float16 (the sum accumulated in float32)."""
    dt = call.dtype
    x = classes_last(call.x, call)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        m = np.max(x, axis=-1, keepdims=True)
        d = round_to(x - np.where(np.isfinite(m), m, 0.0), dt)
        e = round_to(np.exp(d), dt)
        inv = round_to(1.0 / round_to(np.sum(e, axis=-1, keepdims=True), dt), dt)
        p = round_to(e * inv, dt)
        p = np.where(np.isfinite(m), p, np.nan)
    return classes_back(p, call), None


def _ex_softmax_half() -> Call:
    """A float16 row on which TensorFlow's probabilities are up to 7.3 ULP off (exactly the
    model's float16 arithmetic)."""
    return example_call("softmax", [[5.98828125, -0.794921875, 2.66015625, 0.80712890625,
                                     -1.1142578125, -1.6826171875, 1.1240234375, 2.7890625,
                                     0.70751953125, -3.0234375]], dtype="float16", grad=False)


_entries.append(Divergence(
    id="tf-softmax-float16-in-float16",
    title="tf.nn.softmax computes float16 in float16 (Eigen): probabilities off by up to ~8 "
          "ULP where a float32 computation is within half an ULP",
    framework="tensorflow",
    entry_points=("tf.nn.softmax",),
    versions=">=2.0",
    kinds=("forward",),
    trigger="float16 logits (any row): the errors exceed the relative bound on some elements",
    explanation="TF's Softmax kernel (softmax_op_functor.h) is an Eigen expression in the "
                "input's type: for Eigen::half every step (x - max, exp, the row sum, its "
                "inverse, the product) returns float16, so a probability carries several "
                "float16 roundings (up to ~8 ULP; 4 are allowed for a half dtype) where torch "
                "computes in float32 and rounds once. oneDNN, which computes in float32, takes "
                "float16 only on CPUs with AVX-512 FP16 (TF logs 'oneDNN supports DT_HALF only "
                "on platforms with AVX-512. Falling back to the default Eigen-based "
                "implementation'); bfloat16 and float32 go through oneDNN.",
    link=f"{_SOFTMAX_H} (softmax * softmax.sum(along_class).inverse())",
    applies=lambda c: c.op == "softmax" and c.dtype == "float16" and c.x.size > 0,
    model=_softmax_half_model,
    example=_ex_softmax_half,
))

#: exp(x - max) below 2**-125 (x - max < ln 2**-125) comes back 0 from oneDNN's softmax
_ONEDNN_EXP_FLUSH = float(np.log(2.0 ** -125))


def _onednn_on() -> bool:
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() not in ("0", "false")


def _exp_flushes(call: Call) -> bool:
    if call.op != "softmax" or call.dtype not in ("float32", "bfloat16") or not call.x.size \
            or not _onednn_on():
        return False
    x = classes_last(call.x, call)
    with np.errstate(invalid="ignore"):
        d = x - np.max(x, axis=-1, keepdims=True)
        return bool(np.any((d < _ONEDNN_EXP_FLUSH) & (d > -104.0)))


def _softmax_flush_model(call: Call) -> ModelResult:
    """The reference softmax with every probability whose exp(x - max) is below 2**-125 set
    to 0 (measured threshold, float32 and bfloat16, TF 2.21 on x86-64 with oneDNN)."""
    p = classes_last(np.asarray(R.softmax(call.x, axis=call.axis), dtype=np.float64), call)
    x = classes_last(call.x, call)
    with np.errstate(invalid="ignore"):
        d = x - np.max(x, axis=-1, keepdims=True)
        p = np.where(d < _ONEDNN_EXP_FLUSH, 0.0, p)
    return classes_back(round_to(p, call.dtype), call), None


def _ex_exp_flush() -> Call:
    """exp(-86.75) = 2.1e-38 is a normal float32 (the smallest is 1.18e-38); TF returns 0."""
    return example_call("softmax", [[0.0, -86.75, -86.5, -1.0]], dtype="float32", grad=False)


_entries.append(Divergence(
    id="tf-softmax-onednn-exp-flush",
    title="tf.nn.softmax (oneDNN, float32/bfloat16) returns 0 for probabilities below 2**-125 "
          "that are normal numbers",
    framework="tensorflow",
    entry_points=("tf.nn.softmax",),
    versions=">=2.0",
    kinds=("forward",),
    trigger="float32 or bfloat16 logits more than 86.64 below their row's maximum "
            "(probabilities between 1.18e-38 and 2.35e-38) with TF_ENABLE_ONEDNN_OPTS not 0",
    explanation="With oneDNN on (the default on x86-64), TF's float32 and bfloat16 Softmax "
                "runs oneDNN's softmax primitive, whose vectorised exp (the eltwise "
                "injector's exp_compute_vector_fwd: arguments below log(FLT_MIN) are zeroed "
                "and 2^n is assembled from exponent bits) returns 0 once its result is below "
                "about 2**-125 (measured: x - max < -86.64), within a binade of the smallest "
                "normal float32: probabilities in [1.18e-38, 2.35e-38) are flushed to 0 "
                "although they are normal numbers of both dtypes. Measured on TF 2.21 "
                "(x86-64): the same call with TF_ENABLE_ONEDNN_OPTS=0 (Eigen's exp) returns "
                "them. Probabilities below 1.18e-38 (subnormal) may flush anywhere and are "
                "not held.",
    link="https://github.com/oneapi-src/oneDNN/blob/main/src/cpu/x64/injectors/"
         "jit_uni_eltwise_injector.cpp (exp_compute_vector_fwd); "
         "https://www.tensorflow.org/install/pip (TF_ENABLE_ONEDNN_OPTS)",
    applies=_exp_flushes,
    model=_softmax_flush_model,
    example=_ex_exp_flush,
))


# -- tf.math.log_sigmoid: softplus' exp(x) approximation ------------------------------------------
def _softplus_tf(y: np.ndarray, dt: str) -> np.ndarray:
    """softplus_op.h: threshold = log(eps) + 2 in T; y > -threshold: y; y < threshold:
    exp(y); otherwise log1p(exp(y)); each in T."""
    thr = float(round_to(round_to(np.log(EPS[dt]), dt) + 2.0, dt))
    with np.errstate(over="ignore", invalid="ignore"):
        e = round_to(np.exp(y), dt)
        return np.where(y > -thr, y, np.where(y < thr, e, round_to(np.log1p(e), dt)))


def _log_sigmoid_model(call: Call) -> ModelResult:
    """tf.math.log_sigmoid(x) = -softplus(-x) (math_ops.log_sigmoid) with TF's softplus."""
    x = np.asarray(call.x, dtype=np.float64)
    return -_softplus_tf(-x, call.dtype), None


def _softplus_approximates(call: Call) -> bool:
    if call.op != "log_sigmoid" or not call.x.size:
        return False
    thr = float(np.log(EPS[call.dtype]) + 2.0)
    x = np.asarray(call.x, dtype=np.float64)
    return bool(np.any((-x < thr) & (-x > thr - 3.0)))


def _ex_softplus() -> Call:
    """bfloat16: log_sigmoid(3.0) = -0.04859 comes back -0.04980 (2.5% off: exp(-3) instead of
    log1p(exp(-3)))."""
    return example_call("log_sigmoid", [3.0, 3.5, 4.0, -1.0], dtype="bfloat16", grad=False)


_entries.append(Divergence(
    id="tf-softplus-exp-approximation",
    title="tf.math.log_sigmoid (-softplus(-x)) returns -exp(-x) for x > 2 - log(eps): up to "
          "3.7 eps relative error (2.5% in bfloat16)",
    framework="tensorflow",
    entry_points=("tf.math.log_sigmoid",),
    versions=">=2.0",
    kinds=("forward",),
    trigger="x above 2 - log(eps) of the dtype (bfloat16: 2.85, float16: 4.93, float32: 13.9, "
            "float64: 34.0): log_sigmoid(x) = -log1p(exp(-x)) is replaced by -exp(-x)",
    explanation="tf.math.log_sigmoid is -softplus(-x); TF's Softplus kernel (softplus_op.h) "
                "returns exp(y) for y < log(eps) + 2 ('within epsilon of the true softplus'), "
                "but log1p(e) = e - e^2/2 + ..., so the relative error there is up to e/2 = "
                "e^2 eps / 2 = 3.7 eps at the threshold: 7 ULP in float32 and float64, 2.5% "
                "(3.7 ULP of magnitude, more at the bottom of a binade) in bfloat16. In "
                "float32/float64 the reference's own condition number there (|x|) admits it; "
                "in float16/bfloat16 it exceeds the relative bound.",
    link=f"{_SOFTPLUS_H} (threshold = log(epsilon) + 2; too_small.select(features_exp, "
         f"features_exp.log1p())); {TF_PYTHON_OPS}math_ops.py (log_sigmoid: "
         "neg(softplus(-x)))",
    applies=_softplus_approximates,
    model=_log_sigmoid_model,
    example=_ex_softplus,
))


# -- sigmoid cross-entropy: a composite of element-wise ops in the input's dtype ------------------
def _sigmoid_ce_elements(z: np.ndarray, t: np.ndarray, dt: str) -> np.ndarray:
    """nn_impl.sigmoid_cross_entropy_with_logits: max(z, 0) - z * t + log1p(exp(-|z|)),
    every op returning the dtype."""
    with np.errstate(over="ignore", invalid="ignore"):
        relu = np.maximum(z, 0.0)
        a = round_to(relu - round_to(z * t, dt), dt)
        b = round_to(np.log1p(round_to(np.exp(-np.abs(z)), dt)), dt)
        return round_to(a + b, dt)


def _sigmoid_ce_model(call: Call) -> ModelResult:
    """tf.nn.sigmoid_cross_entropy_with_logits: the composite in the input's dtype, per
    element, reduced as a user would (tf.reduce_mean / tf.reduce_sum, in the dtype)."""
    dt = call.dtype
    el = _sigmoid_ce_elements(round_to(call.x, dt), round_to(call.target, dt), dt)
    return round_to(reduce_losses(el, float(max(el.size, 1)), call.reduction), dt), None


def _soft_targets(call: Call) -> bool:
    return call.op == "binary_cross_entropy_with_logits" and call.dtype in HALF_DTYPES \
        and call.target is not None and call.x.size > 0


def _ex_sigmoid_ce() -> Call:
    """float16: logits 2.75 and -3.5 under soft targets 0.9 and 0.05: the losses 0.3105 and
    0.2030 lose several ULP to z - z t rounded in float16."""
    return example_call("binary_cross_entropy_with_logits", [[2.75, -3.5, 5.0]],
                        dtype="float16", target=[[0.9, 0.05, 0.97]],
                        options={"reduction": "none"}, grad=False)


_entries.append(Divergence(
    id="tf-sigmoid-ce-composite-in-half",
    title="tf.nn.sigmoid_cross_entropy_with_logits is composed of float16/bfloat16 ops: "
          "max(z, 0) - z t cancels for soft targets",
    framework="tensorflow",
    entry_points=("tf.nn.sigmoid_cross_entropy_with_logits",),
    versions=">=2.0",
    kinds=("forward",),
    trigger="float16/bfloat16 logits under soft targets (t not 0 or 1), or with label "
            "smoothing: the loss is small next to |z|",
    explanation="nn_impl.sigmoid_cross_entropy_with_logits is not a kernel but "
                "max(z, 0) - z * t + log1p(exp(-|z|)) built from element-wise ops, each "
                "returning the input's dtype. In float16/bfloat16 z * t is rounded to the "
                "dtype before the subtraction: for z = 2.75, t = 0.9 the loss 0.31 carries an "
                "error of half an ULP of 2.5 (0.001 in float16), several ULP of the loss. "
                "torch's binary_cross_entropy_with_logits computes its float16 ops in float32 "
                "(opmath) and rounds each result, which keeps these within the bound.",
    link=f"{_NN_IMPL} (sigmoid_cross_entropy_with_logits: relu_logits - logits * labels + "
         "log1p(exp(neg_abs_logits)))",
    applies=_soft_targets,
    model=_sigmoid_ce_model,
    example=_ex_sigmoid_ce,
))


def _keras_sigmoid_ce_model(call: Call) -> ModelResult:
    dt = call.dtype
    z = round_to(call.x, dt)
    t = round_to(call.target, dt)
    ls = label_smoothing(call)
    if ls:
        t = round_to(round_to(t * (1.0 - ls), dt) + 0.5 * ls, dt)
    el = _sigmoid_ce_elements(z, t, dt)
    m = round_to(np.mean(el, axis=-1), dt)
    s = np.ones(m.shape)
    for name in ("weight", "sample_weight"):
        w = call.option(name)
        if w is not None:
            s = s * np.broadcast_to(np.asarray(w, dtype=np.float64), z.shape)[..., 0]
    return round_to(reduce_losses(s * m, float(max(m.size, 1)), call.reduction), dt), None


def _ex_keras_sigmoid_ce() -> Call:
    return example_call("binary_cross_entropy_with_logits", [[2.75, -3.5, 5.0]],
                        dtype="float16", target=[[0.9, 0.05, 0.97]],
                        options={"reduction": "sum"}, grad=False)


_entries.append(Divergence(
    id="keras-bce-logits-composite-in-half",
    title="Keras binary_crossentropy(from_logits=True) in float16/bfloat16: TF's composite "
          "sigmoid cross-entropy and the row mean in the half dtype",
    framework="tensorflow",
    package="keras",
    entry_points=_SIGMOID_CE[1:],
    versions=">=3.0",
    kinds=("forward",),
    trigger="float16/bfloat16 logits under soft or smoothed targets, reduced to a scalar",
    explanation="Keras (TF backend) smooths the targets, calls "
                "tf.nn.sigmoid_cross_entropy_with_logits (tf-sigmoid-ce-composite-in-half: "
                "max(z, 0) - z t + log1p(exp(-|z|)) in float16 ops) and averages over the last "
                "axis, all in the input's dtype, so the reduced loss carries the composite's "
                "cancellation (a few ULP beyond the bound).",
    link=f"{KERAS_NN} (binary_crossentropy: tf.nn.sigmoid_cross_entropy_with_logits); "
         f"{_NN_IMPL}",
    applies=_soft_targets,
    model=_keras_sigmoid_ce_model,
    example=_ex_keras_sigmoid_ce,
))


# -- weighted_cross_entropy_with_logits: autodiff through the composite ---------------------------
def _weighted_ce_model(call: Call) -> ModelResult:
    """Forward: the reference. Gradient: TF's autodiff of nn_impl's
    (1 - t) z + lw (log1p(exp(-|z|)) + relu(-z)), lw = 1 + (q - 1) t, op by op in the dtype:
    (1 - t) g + lw g (-sign(z) e / (1 + e) - [z < 0]), e = exp(-|z|); each path's ops round
    to the dtype, the three paths' sum (AddN) is rounded once."""
    dt = call.dtype
    fwd = np.asarray(R.binary_cross_entropy_with_logits(
        call.x, call.target, pos_weight=call.option("pos_weight"),
        reduction=call.reduction), dtype=np.float64)
    if not wants_grad(call):
        return fwd, None
    z = round_to(call.x, dt)
    t = round_to(call.target, dt)
    pw = call.option("pos_weight")
    q = np.ones(z.shape) if pw is None else round_to(np.broadcast_to(np.asarray(pw, np.float64),
                                                                 z.shape), dt)
    n = float(max(z.size, 1))
    g = item_factor(call, np.ones(z.shape if call.reduction == "none" else ()), n)
    g = round_to(np.broadcast_to(g, z.shape), dt)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lw = round_to(1.0 + round_to(round_to(q - 1.0, dt) * t, dt), dt)
        h = round_to(g * lw, dt)
        e = round_to(np.exp(-np.abs(z)), dt)
        g_e = round_to(h * round_to(1.0 / round_to(1.0 + e, dt), dt), dt)
        g_c = round_to(-round_to(g_e * e, dt) * np.sign(z), dt)
        g_d = np.where(z < 0, -h, 0.0)
        g_a = round_to(g * round_to(1.0 - t, dt), dt)
        grad = round_to(g_a + g_c + g_d, dt)  # AddN of the three paths, rounded once (measured)
    return fwd, grad


def _ex_weighted_ce() -> Call:
    """float16 logits near the minimum of soft targets: the gradient -0.0039 comes back as
    -0.0034 (the composite's three terms of size ~1 cancel)."""
    return example_call("binary_cross_entropy_with_logits", [[-2.25, 1.5, 3.0]],
                        dtype="float16", target=round_to([[0.1, 0.82, 0.95]], "float16"),
                        options={"reduction": "sum", "pos_weight": [2.0, 1.0, 1.0]})


_entries.append(Divergence(
    id="tf-weighted-ce-gradient-composite",
    title="tf.nn.weighted_cross_entropy_with_logits' gradient is autodiff through its "
          "composite formula: its terms cancel near the minimum",
    framework="tensorflow",
    entry_points=("tf.nn.weighted_cross_entropy_with_logits",),
    versions=">=2.0",
    kinds=("gradient",),
    trigger="soft targets near sigmoid(z) (the gradient is small next to 1), in any dtype; "
            "beyond the bound mostly in float16/bfloat16",
    explanation="nn_impl.weighted_cross_entropy_with_logits is (1 - t) z + lw (log1p(exp(-|z|)) "
                "+ relu(-z)), lw = 1 + (q - 1) t; TF differentiates it op by op, so the "
                "gradient is (1 - t) - lw sign(z) e / (1 + e) - lw [z < 0], three terms of "
                "size ~1 whose sum is small near the minimum: each carries the dtype's "
                "rounding, which the cancellation magnifies beyond what sigmoid(z) (1 + (q - "
                "1) t) - q t (torch's and the reference's form) loses.",
    link=f"{_NN_IMPL} (weighted_cross_entropy_with_logits_v2: (1 - labels) * logits + "
         "log_weight * (log1p(exp(-abs(logits))) + relu(-logits)))",
    applies=lambda c: c.op == "binary_cross_entropy_with_logits" and c.x.size > 0,
    model=_weighted_ce_model,
    example=_ex_weighted_ce,
))

DIVERGENCES: tuple[Divergence, ...] = tuple(_entries)
