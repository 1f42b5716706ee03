"""Backend-specific divergence entries of keras-jax and keras-torch: where the kernels under
Keras (keras/src/backend/<backend>/{nn,numpy}.py at v3.15.1, and the backend library's own
functions) depart from the reference."""
from __future__ import annotations

from typing import Callable

import numpy as np

from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.numerics import (
    classes_back, classes_last, example_call, farther_from_reference, log_of_rounded_sum,
    neg_inf_under_zero_label,
)
from lossconform.dtypes import HALF_DTYPES, round_to

from . import findings as _findings
from .models import KERAS_3, binary, categorical
from .models import KERAS_NN as KERAS_NN_SRC

_KS = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src"
_K = "keras.losses."


def _function(name: str) -> bool:
    return name[len(_K):][:1].islower()


def _mean_in_float32(backend: str, classes: bool = False) -> Callable[[Call], ModelResult]:
    """The Keras model with the mean computed in float32: the losses rounded to float32,
    averaged, the result (and the gradient through the casts) float32-accurate."""
    def model(call: Call) -> ModelResult:
        if call.op.startswith("binary"):
            fwd, grad = binary(call, from_logits=call.op.endswith("logits"), backend=backend)
        else:
            sparse = call.option("ignore_index") is not None or (
                call.target_kind == "index" and not call.option("label_smoothing"))
            fwd, grad = categorical(call, from_logits=call.op == "cross_entropy",
                                    sparse=sparse, backend=backend,
                                    ignore_divisor="valid" if classes else "all")
        return round_to(fwd, "float32"), None if grad is None else round_to(grad, "float32")
    return model


def _mean_f64(call: Call) -> bool:
    if call.dtype != "float64" or not call.op.endswith(("crossentropy", "cross_entropy",
                                                       "with_logits")):
        return False
    return call.op.startswith("binary") or call.reduction == "mean"


def _lsm_ends(x: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """The backend's log_softmax of ``x`` (classes last): (x - max) - log(sum exp(x - max))
    with the row's sum rounded to the dtype before its log, exponentials accumulated in float32
    for float16/bfloat16: the two ends of what the summation order can give."""
    acc = "float32" if dtype in HALF_DTYPES else dtype
    d, L_lo, L_hi = log_of_rounded_sum(x, dtype, acc)
    with np.errstate(invalid="ignore"):
        return tuple(round_to(round_to(d - L, dtype), dtype) for L in (L_lo, L_hi))


def _rounded_sum_model(backend: str, f32: bool = False) -> Callable[[Call], ModelResult]:
    """log_softmax of the rounded row sum under the Keras categorical model; ``f32``: a loss
    class built without dtype (inputs rounded to float32, computed and returned in float32)."""
    def model(call: Call) -> ModelResult:
        orig = call
        if f32:
            from .div_keras import _float32_inputs

            call = _float32_inputs(call)
        dt = call.dtype
        if call.op == "log_softmax":
            lo, hi = (classes_back(e, call) for e in _lsm_ends(classes_last(call.x, call), dt))
            return farther_from_reference(call, lo, hi), None
        sparse = call.target_kind == "index" and call.option("label_smoothing") is None
        ends = []
        for k in (0, 1):
            fwd, _ = categorical(call, from_logits=True, sparse=sparse, backend=backend,
                                 log_softmax=lambda x, k=k: _lsm_ends(x, dt)[k])
            ends.append(round_to(fwd, dt))
        return farther_from_reference(orig, ends[0], ends[1]), None
    return model


def entries(backend: str) -> tuple[Divergence, ...]:
    fw = f"keras-{backend}"
    numpy_py = f"{_KS}/backend/{backend}/numpy.py"
    lsm_src = ("https://github.com/jax-ml/jax/blob/jax-v0.10.2/jax/_src/nn/functions.py "
               "(log_softmax: shifted - log(sum(exp(shifted))))" if backend == "jax" else
               "https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/cpu/"
               "LogSoftmaxKernelImpl.h (the row's sum stored in the input's dtype)")
    torch_only = backend == "torch"
    out = (
        Divergence(
            id=f"keras-{backend}-log-softmax-log-of-rounded-sum",
            title="Keras on " + backend + ": log_softmax (and the cross-entropies from logits) "
                  "take the log of the row's rounded sum: a confident item's loss is 0",
            framework=fw, package="keras", versions=KERAS_3,
            entry_points=(f"keras.ops.log_softmax@{backend}",
                          f"{_K}categorical_crossentropy(from_logits=True)@{backend}",
                          f"{_K}sparse_categorical_crossentropy(from_logits=True)@{backend}",
                          f"{_K}CategoricalCrossentropy(from_logits=True)@{backend}",
                          f"{_K}SparseCategoricalCrossentropy(from_logits=True)@{backend}"),
            kinds=("forward",),
            trigger="rows whose argmax has probability near 1 (confident or large-scale "
                    "logits; in float16/bfloat16 any row with p_max above ~0.9)",
            explanation="The backend's log_softmax computes (x - max) - log(sum exp(x - max)) "
                        "with the sum rounded to the input's dtype, so log(1 + r) of a row "
                        "whose other classes add up to r is 0 once r is below half an ULP of "
                        "1 (the reference takes log1p(r)): a confident item's log-probability "
                        "and loss lose their relative accuracy. Keras' categorical losses "
                        "from logits are built on it (jax: log_softmax then a sum; torch: "
                        "log_softmax, or F.cross_entropy for the sparse loss).",
            link=lsm_src + f"; {KERAS_NN_SRC[backend]}",
            applies=lambda c: c.op in ("log_softmax", "cross_entropy") and c.x.size > 0,
            model=_rounded_sum_model(backend),
            example=lambda: example_call(
                "log_softmax", [[30.0, 0.0, 1.0, -2.0], [24.0, 0.5, 0.0, -1.0]],
                dtype="float32", grad=False)),
        Divergence(
            id=f"keras-{backend}-cce-class-float32-log-of-rounded-sum",
            title="Keras loss classes without dtype on " + backend + ": float64 inputs in "
                  "float32, the log of the rounded row sum (a confident item's loss is 0)",
            framework=fw, package="keras", versions=KERAS_3,
            entry_points=(f"{_K}CategoricalCrossentropy(from_logits=True, dtype=None)@{backend}",
                          f"{_K}SparseCategoricalCrossentropy(from_logits=True, dtype=None)@"
                          f"{backend}"),
            kinds=("forward",),
            trigger="float64 inputs with confident rows to a loss class built without dtype",
            explanation="The class computes in keras.config.floatx() (float32) and the "
                        "backend's log_softmax takes the log of the row's sum rounded to "
                        "float32: a confident item's loss is 0 where the reference keeps "
                        "log1p's relative accuracy.",
            link=lsm_src + f"; {_KS}/losses/loss.py (Loss.__call__: convert_to_tensor(x, "
                           "dtype=self.dtype))",
            applies=lambda c: c.op == "cross_entropy" and c.dtype != "float32"
            and c.x.size > 0,
            model=_rounded_sum_model(backend, f32=True),
            example=lambda: example_call(
                "cross_entropy", [[30.0, 0.0, 1.0, -2.0], [0.5, 24.0, 0.0, -1.0]],
                target=[0, 1], target_kind="index", options={"reduction": "none"},
                grad=False),
            compute_dtype="float32"),
        Divergence(
            id=f"keras-{backend}-cce-neg-inf-under-zero-label-nan",
            title="Keras categorical_crossentropy from logits on " + backend + ": a -inf logit "
                  "under a zero target makes the item's loss NaN (0 * -inf)",
            framework=fw, package="keras", versions=KERAS_3,
            entry_points=(f"{_K}categorical_crossentropy(from_logits=True)@{backend}",
                          f"{_K}CategoricalCrossentropy(from_logits=True)@{backend}")
            + (f"{_K}CategoricalCrossentropy(from_logits=True, dtype=None)@{backend}",),
            kinds=("forward",),
            trigger="a -inf logit (a masked class) where the target is 0, the row's maximum "
                    "finite",
            explanation="The backend computes -sum(target * log_softmax(output)): a masked "
                        "class has log-probability -inf and target 0, and 0 * -inf = NaN "
                        "poisons the item's loss (the limit, which the reference gives, is "
                        "finite). "
                        + ("On JAX under jit (the default mode) only probability targets given "
                           "as data show it: with index targets one-hot encoded inside the same "
                           "compiled function (and in the sparse loss) the loss comes back as "
                           "the finite limit (observed; XLA compiles the product with the "
                           "one-hot as a whole), while mode 'eager' gives NaN there too (the "
                           "'eager' setting declares the probe change)." if backend == "jax" else
                           "The sparse loss calls torch.nn.functional.cross_entropy and stays "
                           "finite.")
                        + " The gradient (autodiff: softmax * sum(q) - q) is finite.",
            link=f"{KERAS_NN_SRC[backend]} (categorical_crossentropy: -sum(target * log_prob))",
            applies=lambda c: neg_inf_under_zero_label(c) and (
                backend == "torch" or c.target_kind == "probs" or c.facet("mode") == "eager"),
            model=lambda c: categorical(c, from_logits=True, backend=backend, sparse=False),
            example=lambda: example_call(
                "cross_entropy", [[0.5, -np.inf, 2.0, 0.25], [1.5, 0.75, -0.5, -2.0]],
                target=[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]], target_kind="probs",
                options={"reduction": "none"}, grad=False)),
        Divergence(
            id=f"keras-{backend}-bce-logits-infinite",
            title="Keras binary_crossentropy from logits on " + backend + ": an infinite "
                  "logit gives NaN " + ("where the target is exactly 0 or 1"
                                        if backend == "jax" else "at -inf whatever the target"),
            framework=fw, package="keras", versions=KERAS_3,
            entry_points=(f"{_K}binary_crossentropy(from_logits=True)@{backend}",
                          f"{_K}BinaryCrossentropy(from_logits=True)@{backend}",
                          f"{_K}BinaryCrossentropy(from_logits=True, dtype=None)@{backend}"),
            kinds=("forward",),
            trigger="a logit of +inf or -inf",
            explanation=("jax: -t log_sigmoid(x) - (1-t) log_sigmoid(-x) is 0 * -inf = NaN at "
                         "x = +inf with t = 1 and at x = -inf with t = 0 (the loss is 0 there), "
                         "+inf otherwise" if backend == "jax" else
                         "torch.nn.functional.binary_cross_entropy_with_logits computes "
                         "(1 - t) x - log_sigmoid(x): at x = -inf that is -inf + inf = NaN for "
                         "every target, at x = +inf with t = 1 it is 0 * inf = NaN")
                        + "; the row mean over the last axis carries the NaN.",
            link=(f"{KERAS_NN_SRC['jax']} (binary_crossentropy: log_sigmoid)" if backend == "jax"
                  else f"{KERAS_NN_SRC['torch']}; https://github.com/pytorch/pytorch/blob/"
                  "v2.13.0/aten/src/ATen/native/Loss.cpp (binary_cross_entropy_with_logits)"),
            applies=lambda c: c.op == "binary_cross_entropy_with_logits"
            and bool(np.any(np.isinf(c.x))),
            model=lambda c: binary(c, from_logits=True, backend=backend),
            example=lambda: example_call(
                "binary_cross_entropy_with_logits", [[np.inf, -np.inf, 0.5]],
                target=[[1.0, 0.0, 0.5]], options={"reduction": "none"}, grad=False)),
        Divergence(
            id=f"keras-{backend}-loss-class-mean-float64-returns-float32",
            title="Keras loss classes on torch: 'sum_over_batch_size' of float64 losses comes "
                  "back in float32",
            framework=fw, package="keras", versions=KERAS_3,
            entry_points=(f"{_K}CategoricalCrossentropy(*)@{backend}",
                          f"{_K}SparseCategoricalCrossentropy(*)@{backend}",
                          f"{_K}BinaryCrossentropy(*)@{backend}"),
            kinds=("forward", "gradient"),
            trigger="float64 inputs to a loss class with reduction 'sum_over_batch_size' (the "
                    "default)",
            explanation="reduce_values divides the float64 sum with ops.divide_no_nan, whose "
                        "torch implementation converts both operands to dtypes.result_type("
                        "x1, x2, float); Keras' promotion lattice maps float64 to float32 on "
                        "every backend but TensorFlow (BIT64_TO_BIT32_DTYPE), so the mean is "
                        "divided and returned in float32 (and the gradient flows through that "
                        "cast). On JAX divide_no_nan keeps float64.",
            link=f"{_KS}/losses/loss.py (reduce_values: ops.divide_no_nan(loss, divisor)); "
                 f"{_KS}/backend/torch/numpy.py (divide_no_nan: result_type(..., float)); "
                 f"{_KS}/backend/common/dtypes.py (BIT64_TO_BIT32_DTYPE)",
            applies=lambda c: backend == "torch" and c.dtype == "float64"
            and c.reduction == "mean",
            model=_mean_in_float32(backend, classes=True),
            finding=_findings.TORCH_CLASS_MEAN_FLOAT32,
            example=lambda: example_call(
                "cross_entropy", [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [0.1, 0.7, -0.3]],
                target=[0, 2, 1], target_kind="index", options={"reduction": "mean"}),
            compute_dtype="float32"),
    )
    out = tuple(d for d in out if torch_only or "returns-float32" not in d.id) + (
        Divergence(
            id=f"keras-{backend}-ops-mean-float64-in-float32",
            title="keras.ops.mean computes float64 inputs in float32 (and every Keras binary "
                  "cross-entropy averages with it)",
            framework=fw, package="keras", versions=KERAS_3,
            entry_points=(f"{_K}categorical_crossentropy(*)@{backend}",
                          f"{_K}sparse_categorical_crossentropy(*)@{backend}",
                          f"{_K}binary_crossentropy(*)@{backend}",
                          f"{_K}BinaryCrossentropy(from_logits=True)@{backend}",
                          f"{_K}BinaryCrossentropy(from_logits=False)@{backend}"),
            kinds=("forward", "gradient"),
            trigger="float64 inputs: a loss function averaged with keras.ops.mean (reduction "
                    "'mean'), and every binary cross-entropy (keras.losses.binary_crossentropy "
                    "returns ops.mean(..., axis=-1))",
            explanation=f"mean() of the {backend} backend casts its input to compute_dtype = "
                        "dtypes.result_type(x.dtype, 'float32') 'to avoid overflow of low "
                        "precision', and Keras' promotion lattice gives float32 for "
                        "(float64, 'float32'): the float64 losses are rounded to float32, "
                        "averaged in float32 and cast back, so the result (dtype float64) "
                        "holds only float32's 24 bits. keras.ops.sum keeps float64.",
            link=f"{numpy_py} (mean: compute_dtype = dtypes.result_type(x.dtype, 'float32')); "
                 f"{_KS}/backend/common/dtypes.py (result_type)",
            applies=_mean_f64, model=_mean_in_float32(backend),
            finding=_findings.mean_float64_in_float32(backend),
            example=lambda: example_call(
                "binary_cross_entropy_with_logits", [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]],
                target=[[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], options={"reduction": "mean"}),
            compute_dtype="float32"),
    )
    return out
