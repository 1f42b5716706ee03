"""TensorFlow/Keras divergence entries revealed by the regimes users hit (issue 10, section 4):
NaN logits in the oneDNN softmax, float16 means whose sum exceeds 65504, tiny losses that
cancel in the softmax cross-entropy kernels, log_softmax's normaliser and gradient in
float16/bfloat16, and Keras' renormalisation gradient on rows that already sum to 1.

Measured with TensorFlow 2.21.0 and Keras 3.15.1 on CPU (x86-64, oneDNN on, the default); the
models are built from the reference and NumPy. Sources are tagged v2.21.0 / v3.15.1.
"""
from __future__ import annotations

import functools
import os

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.numerics import (
    F16_MAX, classes_back, classes_last, cotangent, example_call, probs_target_last,
    reduce_losses, wants_grad,
)
from lossconform.dtypes import round_to

from .keras_models import categorical_model

_TF = "https://github.com/tensorflow/tensorflow/blob/v2.21.0/tensorflow/"
_KERAS = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src/"
_ONEDNN_SOFTMAX = ("https://github.com/uxlfoundation/oneDNN/blob/main/src/cpu/x64/"
                   "jit_uni_softmax.cpp")

_K = "tf.keras.losses."
_CE_DENSE = ("tf.nn.softmax_cross_entropy_with_logits",
             f"{_K}categorical_crossentropy(from_logits=True)",
             f"{_K}CategoricalCrossentropy(from_logits=True)")
_CE_SPARSE = ("tf.nn.sparse_softmax_cross_entropy_with_logits",
              f"{_K}sparse_categorical_crossentropy(from_logits=True)",
              f"{_K}SparseCategoricalCrossentropy(from_logits=True)")
_BCE_LOGITS = ("tf.nn.sigmoid_cross_entropy_with_logits",
               "tf.nn.weighted_cross_entropy_with_logits",
               f"{_K}binary_crossentropy(from_logits=True)",
               f"{_K}BinaryCrossentropy(from_logits=True)")
_CCE_PROBS = (f"{_K}categorical_crossentropy(from_logits=False)",
              f"{_K}CategoricalCrossentropy(from_logits=False)")
_FLOAT32_CE_CLASSES = (f"{_K}CategoricalCrossentropy(from_logits=True, dtype=None)",
                       f"{_K}SparseCategoricalCrossentropy(from_logits=True, dtype=None)")

_entries: list[Divergence] = []


def _only(call: Call, *names: str) -> bool:
    """No option set beyond ``names`` (and the reduction)."""
    return all(k in names + ("reduction",) or v is None for k, v in call.options.items())


# -- tf.nn.softmax with oneDNN: a NaN logit leaks into the mirror lane ------------------------------
@functools.lru_cache(maxsize=None)
def _onednn_lanes() -> int:
    """float32 lanes of oneDNN's softmax kernel on this CPU: 16 with AVX-512 (avx512_core:
    avx512f/bw/vl/dq, unless ONEDNN_MAX_CPU_ISA lowers it), 8 with AVX2. Read from the CPU,
    never from TensorFlow."""
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", "")).lower()
    if isa and "avx512" not in isa and isa != "all":
        return 8
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return 8
    return 16 if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= set(flags) else 8


def _maxps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x86 MAXPS: b where either operand is NaN, else the larger."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(a) | np.isnan(b), b, np.where(a > b, a, b))


def onednn_softmax_row(x: np.ndarray, lanes: int) -> np.ndarray:
    """oneDNN's jit softmax on one row of at most ``lanes`` entries with a NaN or +inf in it:
    the lane-wise running max starts at -FLT_MAX (vmaxps keeps the second operand when one
    is NaN), the horizontal max is a butterfly (lane j with lane j ^ s, s = lanes/2 ... 1,
    again vmaxps(own, partner)), so a NaN in lane p lands in lane p ^ (lanes - 1) only and
    the other lanes keep the finite max; exp of a NaN difference comes out as +inf, so the
    sum is inf and the row is exp / sum: NaN where the term is inf, 0 elsewhere."""
    acc = np.full(lanes, -np.finfo(np.float32).max)
    acc[: x.size] = _maxps(acc[: x.size], x)
    s = lanes // 2
    while s:
        acc = _maxps(acc, acc[np.arange(lanes) ^ s])
        s //= 2
    with np.errstate(invalid="ignore", over="ignore"):
        d = x - acc[: x.size]
        e = np.where(np.isnan(d), np.inf, np.exp(d))
        return e / np.sum(e) if np.isfinite(np.sum(e)) else np.where(np.isinf(e), np.nan, 0.0)


def _softmax_nan_short_rows(call: Call) -> bool:
    return call.op == "softmax" and call.device == "cpu" \
        and call.dtype in ("float32", "bfloat16") and call.x.ndim >= 1 \
        and classes_last(call.x, call).shape[-1] <= _onednn_lanes() \
        and os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") not in ("0", "false", "False") \
        and bool(np.any(np.isnan(call.x)))


def _onednn_softmax(call: Call) -> ModelResult:
    x = classes_last(call.x, call)
    out = np.asarray(R.softmax(x, axis=-1), dtype=np.float64)
    lanes = _onednn_lanes()
    rows = out.reshape(-1, x.shape[-1])
    for i, row in enumerate(x.reshape(-1, x.shape[-1])):
        if np.any(np.isnan(row) | np.isposinf(row)):
            rows[i] = onednn_softmax_row(row, lanes)
    return classes_back(rows.reshape(x.shape), call), None


def _ex_softmax_nan() -> Call:
    return example_call("softmax", [[0.5, 1.0, -1.0, 0.25, 2.0, -0.5, np.nan, 1.5, 0.0, 0.75],
                                    [0.5, 1.0, -1.0, np.nan, 2.0, -0.5, 0.1, 1.5, 0.0, 0.75]],
                        dtype="float32", grad=False)


_entries.append(Divergence(
    id="tf-softmax-nan-leaks-to-mirror-lane-onednn",
    title="tf.nn.softmax (float32/bfloat16, oneDNN): a NaN logit at class p also makes class "
          "lanes-1-p NaN, every other class 0",
    framework="tensorflow",
    entry_points=("tf.nn.softmax",),
    versions=">=2.9",
    kinds=("forward",),
    trigger="CPU, float32 or bfloat16, oneDNN on (TF_ENABLE_ONEDNN_OPTS unset or 1), a row "
            "of at most 16 classes (AVX-512; 8 with AVX2) holding a NaN: e.g. 10 classes "
            "with a NaN at class 6 give NaN at classes 6 and 9",
    explanation="oneDNN's jit softmax keeps a vector of running maxima (vmaxps returns its "
                "second operand when either is NaN) and reduces it with a butterfly of "
                "shuffles, each step vmaxps(own lane, partner lane): a NaN in lane p moves "
                "to its partner at every step and ends in lane p XOR (lanes - 1) alone, while "
                "the other lanes hold the finite maximum. Each class then subtracts its "
                "lane's maximum, so class 15 - p (if the row has it) is NaN too; the exp of a "
                "NaN comes out +inf, the sum is inf and every finite class is 0. With "
                "TF_ENABLE_ONEDNN_OPTS=0, in float16/float64, and in torch the whole row is "
                "NaN (the reference). A +inf logit stays at its own class "
                "(tf-softmax-nonfinite-stays-local-float32).",
    link=f"{_ONEDNN_SOFTMAX} (accumulate_vmax: uni_vmaxps; get_horizontal_op: vshuff32x4 "
         f"0x4E/0xB1, vshufps 0x4E/0xB1); {_TF}core/kernels/mkl/mkl_softmax_op.cc",
    applies=_softmax_nan_short_rows,
    model=_onednn_softmax,
    example=_ex_softmax_nan,
))


# -- float16 'mean' whose sum exceeds 65504 -----------------------------------------------------------
def _items_for_mean(call: Call, per: str) -> np.ndarray:
    """The per-item losses TF/Keras averages: per item for the categorical losses, per
    element for tf.nn's binary losses ("element"), per row for Keras' ("row": the mean over
    the last axis)."""
    args, kw = R.arguments(call)
    kw["reduction"] = "none"
    if call.op == "cross_entropy":
        return np.asarray(R.cross_entropy(*args, **kw), dtype=np.float64)
    el = np.asarray(R.binary_cross_entropy_with_logits(*args, **kw), dtype=np.float64)
    return el if per == "element" else np.mean(el, axis=-1)


def _half_mean_model(per: str):
    def model(call: Call) -> ModelResult:
        """float16 'mean' = float16 sum / count (tf.reduce_mean; Keras' reduce_values:
        ops.sum(values) / count): a sum beyond 65504 is inf, so the mean is inf."""
        items = _items_for_mean(call, per)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            fwd = round_to(np.sum(items), "float16") / round_to(float(max(items.size, 1)),
                                                                  "float16")
        return np.asarray(fwd, dtype=np.float64), None
    return model


def _half_sum_overflows(per: str):
    def applies(call: Call) -> bool:
        if call.dtype != "float16" or call.reduction != "mean" or not _only(call) \
                or call.op not in ("cross_entropy", "binary_cross_entropy_with_logits"):
            return False
        items = _items_for_mean(call, per)
        return items.size <= F16_MAX and bool(np.abs(np.sum(items)) > F16_MAX)
    return applies


def _ex_half_mean(op: str):
    def example() -> Call:
        if op == "cross_entropy":
            x = np.zeros((4, 3))
            x[:, 0] = 30000.0
            return example_call(op, x, dtype="float16", target=[1, 2, 1, 2],
                                target_kind="index", options={"reduction": "mean"}, grad=False)
        return example_call(op, [[-30000.0, 30000.0]] * 4, dtype="float16",
                            target=[[1.0, 0.0]] * 4, options={"reduction": "mean"}, grad=False)
    return example


_HALF_MEAN_EXPL = (
    "tf.reduce_mean (the 'mean' of the tf.nn and keras.losses functions) and Keras' "
    "'sum_over_batch_size' (reduce_values: ops.sum(values) / count) form the sum of the "
    "per-item losses as a float16 tensor before dividing: beyond 65504 it is inf, so the mean "
    "is inf where the true mean (~2e4) is representable. The gradient (cotangent / count per "
    "item) is right. The item count overflowing is tf-mean-float16-item-count-overflow; a loss "
    "class built without dtype computes in float32 and is not affected.")
_HALF_MEAN_LINK = (f"{_TF}core/kernels/reduction_ops_common.h (MeanReducer in the tensor's "
                   f"type); {_KERAS}losses/loss.py (reduce_values: ops.sum(values) / total)")
_HALF_MEAN_TRIGGER = ("float16, reduction 'mean', large item losses (logits spread over +-3e4: "
                      "16 items of ~2e4 each) whose sum is beyond 65504 although their mean "
                      "is not")

for _id, _eps, _op, _per, _what in (
        ("tf-ce-mean-float16-loss-sum-overflow", _CE_DENSE + _CE_SPARSE, "cross_entropy",
         "item", "TF/Keras softmax cross-entropy"),
        ("tf-bce-logits-mean-float16-loss-sum-overflow", _BCE_LOGITS[:2],
         "binary_cross_entropy_with_logits", "element", "tf.nn sigmoid cross-entropies"),
        ("keras-bce-logits-mean-float16-loss-sum-overflow", _BCE_LOGITS[2:],
         "binary_cross_entropy_with_logits", "row", "Keras binary_crossentropy")):
    _entries.append(Divergence(
        id=_id,
        title=f"{_what} 'mean' in float16 is inf when the losses' sum exceeds 65504",
        framework="tensorflow",
        entry_points=_eps,
        versions=">=2.16",
        kinds=("forward",),
        trigger=_HALF_MEAN_TRIGGER,
        explanation=_HALF_MEAN_EXPL,
        link=_HALF_MEAN_LINK,
        applies=_half_sum_overflows(_per),
        model=_half_mean_model(_per),
        example=_ex_half_mean(_op),
    ))


# -- tiny losses cancel in the softmax cross-entropy kernels --------------------------------------
def _kernel_items(call: Call, dtype: str) -> np.ndarray:
    """Per-item losses as TF's SoftmaxCrossEntropyWithLogits / SparseSoftmaxXent kernels form
    them, every op rounded to ``dtype``: shifted = x - max, lse = log(sum exp(shifted)),
    loss = sum_c labels_c (lse - shifted_c) (the sparse kernel: lse - shifted_y)."""
    x = round_to(classes_last(call.x, call), dtype)
    q = probs_target_last(call)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d = round_to(x - np.max(x, axis=-1, keepdims=True), dtype)
        s = round_to(np.sum(round_to(np.exp(d), dtype), axis=-1, keepdims=True), dtype)
        per_class = round_to(round_to(np.log(s), dtype) - d, dtype)
        return np.sum(np.where(q == 0, 0.0, q * per_class), axis=-1)


def _cancel_model(dtype: str | None):
    def model(call: Call) -> ModelResult:
        cdt = dtype or call.dtype
        items = _kernel_items(call, cdt)
        fwd = reduce_losses(items, float(max(items.size, 1)), call.reduction)
        return np.asarray(round_to(fwd, cdt), dtype=np.float64), None
    return model


def _confident_items(dtypes: tuple[str, ...]):
    def applies(call: Call) -> bool:
        if call.op != "cross_entropy" or call.reduction == "none" or call.dtype not in dtypes \
                or not _only(call) or call.x.ndim < 1:
            return False
        args, kw = R.arguments(call)
        kw["reduction"] = "none"
        l = np.asarray(R.cross_entropy(*args, **kw), dtype=np.float64)
        return l.size > 0 and float(np.median(l)) < 2.0**-10
    return applies


def _ex_confident_items() -> Call:
    rng = np.random.default_rng(10_000)
    x = np.zeros((10_000, 2))
    x[:, 0] = round_to(rng.uniform(13.5, 14.2, 10_000), "float32")
    return example_call("cross_entropy", x, dtype="float32", target=np.zeros(10_000),
                        target_kind="index", options={"reduction": "sum"}, grad=False)


def _ex_confident_items_f64() -> Call:
    c = _ex_confident_items()
    return c.replace(dtype="float64")


_CANCEL_EXPL = ("The kernels compute each item's loss as log(sum_c exp(x_c - max)) - (x_y - "
                "max) with the sum rounded to the dtype: for a confident, correct item that is "
                "log(1 + e) with e ~ 1e-6, and 1 + e keeps ~23 bits in float32, so every loss "
                "carries an absolute error up to ulp(1)/2 = 6e-8 (6% of it), biased by the "
                "rounding; a 'sum' over N items accumulates it: 1.3e-5 over 10**4 items (a sum "
                "of 0.0099), 1.2e-4 over 10**5 in float32, 1.6e-14 over 10**5 in float64. The "
                "reference keeps relative accuracy (log1p of the non-argmax terms); torch "
                "rounds the same way.")

_entries.append(Divergence(
    id="tf-softmax-ce-confident-loss-cancels",
    title="TF softmax cross-entropy kernels: a tiny loss is log(sum exp) - x_y in the input "
          "dtype, so a sum of many confident items carries an error growing with N",
    framework="tensorflow",
    entry_points=_CE_DENSE + _CE_SPARSE,
    versions=">=2.0",
    kinds=("forward",),
    trigger="float32 or float64, 'sum' or 'mean' over many confident, correct items (true "
            "loss ~1e-6 each): 10**4 items in float32, 10**5 in float64",
    explanation=_CANCEL_EXPL,
    link=f"{_TF}core/kernels/xent_op.h (loss = labels * (log(sum_exp) - shifted_logits)); "
         f"{_TF}core/kernels/sparse_xent_op.h (SparseXentLossGenerator: "
         "log(sum_exp_logits) - logits(label))",
    applies=_confident_items(("float32", "float64")),
    model=_cancel_model(None),
    example=_ex_confident_items,
))

_entries.append(Divergence(
    id="keras-cce-class-float32-confident-loss-cancels",
    title="Keras CategoricalCrossentropy/SparseCategoricalCrossentropy without dtype on "
          "float64: confident losses cancel in float32",
    framework="tensorflow",
    package="keras",
    entry_points=_FLOAT32_CE_CLASSES,
    versions=">=3.0",
    kinds=("forward",),
    trigger="float64 inputs to the loss class built without dtype, 'sum' or 'mean' over "
            "many confident, correct items (true loss ~1e-6 each)",
    explanation="The class computes in float32 (keras-cce-class-computes-in-float32), and "
                "there the kernel's loss log(sum exp) - x_y cancels as in "
                "tf-softmax-ce-confident-loss-cancels: a float64 sum over 10**4 items is off "
                "by 1.3e-5, far beyond float32 rounding of the result. " + _CANCEL_EXPL,
    link=f"{_KERAS}losses/loss.py (Loss.__call__: convert_to_tensor(x, dtype=self.dtype)); "
         f"{_TF}core/kernels/xent_op.h",
    applies=_confident_items(("float64",)),
    model=_cancel_model("float32"),
    example=_ex_confident_items_f64,
    compute_dtype="float32",
))


# -- log_softmax in float16/bfloat16: normaliser and gradient in the dtype ---------------------------
def _half_log_softmax(call: Call) -> ModelResult:
    """tf.nn.log_softmax in float16/bfloat16: shifted - log(sum exp(shifted)) with the sum held
    in the dtype (float16: inf beyond 65504, every output -inf); the gradient (nn_grad.py
    _LogSoftmaxGrad) grad - reduce_sum(grad) * exp(output), each op in the dtype: from -inf
    outputs exp is 0 and an inf row sum gives inf * 0 = NaN."""
    dt = call.dtype
    x = classes_last(call.x, call)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d = x - np.max(x, axis=-1, keepdims=True)
        s = round_to(np.sum(np.exp(d), axis=-1, keepdims=True), dt)
        out = round_to(d - np.log(s), dt)
        grad = None
        if wants_grad(call):
            g = classes_last(cotangent(call, call.x.shape), call)
            sg = round_to(np.sum(g, axis=-1, keepdims=True), dt)
            p = round_to(np.exp(out), dt)
            grad = classes_back(round_to(g - round_to(sg * p, dt), dt), call)
    return classes_back(out, call), grad


def _half_log_softmax_applies(call: Call) -> bool:
    return call.op == "log_softmax" and call.dtype in ("float16", "bfloat16") \
        and call.x.ndim >= 1


def _ex_half_log_softmax() -> Call:
    return example_call("log_softmax", np.zeros((1, 70000)), dtype="float16", grad=False) \
        .replace(grad_output=np.ones((1, 70000)))


_entries.append(Divergence(
    id="tf-log-softmax-half-normaliser-and-gradient-in-dtype",
    title="tf.nn.log_softmax in float16/bfloat16 holds the normaliser in the dtype (float16: "
          "-inf beyond 65504) and takes its gradient from the rounded output",
    framework="tensorflow",
    entry_points=("tf.nn.log_softmax",),
    versions=">=2.0",
    kinds=("forward", "gradient"),
    trigger="float16 rows whose sum of exp(x - max) exceeds 65504 (near-uniform logits over "
            "more than 65504 classes: output -inf, gradient NaN); bfloat16 rows with many "
            "classes, where exp of the 8-bit output is off by up to 3% (131072 classes)",
    explanation="The LogSoftmax kernel forms sum(exp(x - max)) in the input's type: in "
                "float16 a sum beyond 65504 is inf and every output is -inf (uniform logits "
                "over 2**17 classes: -inf instead of -11.78). Its gradient, grad - "
                "reduce_sum(grad) * exp(output), runs in the dtype on the rounded output: "
                "exp(-inf) = 0 times an inf cotangent sum is NaN; in bfloat16 exp(-11.75) "
                "stands for exp(-11.78), so every entry of g - p sum(g) is off by 3% of "
                "mean(g). (A float16 cotangent sum overflowing alone is "
                "tf-log-softmax-grad-float16-cotangent-sum-overflow.)",
    link=f"{_TF}core/kernels/softmax_op_functor.h (SoftmaxEigenImpl, log: "
         f"shifted_logits - log(sum(exp(shifted_logits)))); {_TF}python/ops/nn_grad.py "
         "(_LogSoftmaxGrad: grad - reduce_sum(grad, -1, keepdims=True) * softmax)",
    applies=_half_log_softmax_applies,
    model=_half_log_softmax,
    example=_ex_half_log_softmax,
))


# -- Keras categorical_crossentropy on probabilities: the renormalisation's gradient --------------
def _rows_sum_exactly_one(call: Call) -> bool:
    if call.op != "categorical_crossentropy" or call.target_kind != "probs" \
            or not wants_grad(call) or call.x.ndim < 1:
        return False
    s = np.sum(classes_last(call.x, call), axis=-1)
    return bool(np.all(s == 1.0))


def _ex_rows_sum_one() -> Call:
    return example_call("categorical_crossentropy", [[0.25, 0.25, 0.5], [0.5, 0.125, 0.375]],
                        target=[[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], target_kind="probs",
                        options={"reduction": "sum"})


_entries.append(Divergence(
    id="keras-cce-probs-renormalisation-gradient-on-normalised-rows",
    title="Keras categorical_crossentropy on probabilities: the gradient carries the "
          "renormalisation term even when the rows sum to 1",
    framework="tensorflow",
    package="keras",
    entry_points=_CCE_PROBS,
    versions=">=2.0",
    kinds=("gradient",),
    trigger="probability rows (y_pred) that sum exactly to 1 and are not clipped: e.g. "
            "[0.25, 0.25, 0.5], or the one-class row [1.0] in float16/bfloat16 (where 1 - "
            "eps rounds to 1, so nothing is clipped)",
    explanation="Keras divides y_pred by its row sum before the log, and the gradient flows "
                "through that division: d/dp_j of -sum_c q_c log(p_c / S) is -q_j / p_j + "
                "sum(q) / S, so every entry carries + sum(q) / S although the forward value "
                "is unchanged (the rows already sum to 1). With one class the gradient is 0 "
                "instead of -q / p = -1. The reference differentiates -sum q log p as given "
                "(keras-cce-probs-renormalised covers the rows that do not sum to 1).",
    link=f"{_KERAS}backend/tensorflow/nn.py (categorical_crossentropy: output = output / "
         "reduce_sum(output, axis, keepdims=True))",
    applies=_rows_sum_exactly_one,
    model=categorical_model(),
    example=_ex_rows_sum_one,
))

DIVERGENCES: tuple[Divergence, ...] = tuple(_entries)
