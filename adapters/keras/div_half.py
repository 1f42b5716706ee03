"""keras-jax's and keras-torch's float16/bfloat16 (and cancellation) entries: where the kernels
under Keras 3.15.1 compute in the input's narrow dtype.

* keras.ops.softmax / log_softmax on JAX are jax.nn.softmax / jax.nn.log_softmax
  (keras/src/backend/jax/nn.py at v3.15.1: ``return jnn.softmax(x, axis=axis)``), so the JAX
  plug-in's models of those functions apply unchanged; they are imported from
  ``lossconform.adapters.jax.div_optax`` (read-only) rather than copied;
* a loss reduced to a sum in float16 overflows to inf beyond 65504 (keras.ops.sum and
  Loss.reduce_values' ops.sum keep the input's dtype on both backends);
* torch's binary_cross_entropy_with_logits cancels for confident negative logits
  (modelled by ``models.binary`` for torch, op by op in the dtype).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from lossconform.cases import BY_ID
from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.numerics import classes_last, logits_cancel, reduce_losses
from lossconform.dtypes import HALF_DTYPES, round_to

# jax.nn's half-dtype models, the JAX plug-in's (Keras' jax backend calls jax.nn directly)
from lossconform.adapters.jax.div_optax import (  # noqa: E402
    _f16_softmax_grad, _half_log_softmax_grad, _half_softmax,
)

# torch's float16/bfloat16 log_softmax kernel, the torch plug-in's model (read-only)
from lossconform.adapters.torch.div_regimes import _half_log_softmax  # noqa: E402

from .models import KERAS_3, KERAS_LOSS_BASE, KERAS_NN, binary, categorical
from .models import KERAS_LOSSES as KERAS_LOSSES_SRC

_KS = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src"
_JAXNN = "https://github.com/jax-ml/jax/blob/jax-v0.10.2/jax/_src/nn/functions.py"
_K = "keras.losses."
#: the loss entry points computing in the input's dtype (the classes built without dtype
#: compute in float32)
_LOSSES_ALL = ("categorical_crossentropy(*)", "sparse_categorical_crossentropy(*)",
               "binary_crossentropy(*)") + tuple(
    f"{cls}(from_logits={b})" for cls in ("CategoricalCrossentropy",
                                          "SparseCategoricalCrossentropy",
                                          "BinaryCrossentropy") for b in ("True", "False"))




def _items_model(backend: str) -> Callable[[Call], ModelResult]:
    """The backend's per-item losses (the Keras model with reduction 'none'), then the
    reduction's sum rounded to the dtype (inf beyond its range) and, for 'mean', divided by
    the item count."""
    def model(call: Call) -> ModelResult:
        none = call.replace(options={**dict(call.options), "reduction": "none"},
                            grad_output=None)
        if call.op.startswith("binary"):
            items, _ = binary(none, from_logits=call.op.endswith("logits"), backend=backend)
        else:
            sparse = call.option("ignore_index") is not None or (
                call.target_kind == "index" and not call.option("label_smoothing"))
            items, _ = categorical(none, from_logits=call.op == "cross_entropy",
                                   sparse=sparse, backend=backend)
        items = np.asarray(items, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            total = round_to(np.sum(items), call.dtype)
            if call.reduction == "mean":
                total = total / float(max(items.size, 1))
        return np.asarray(total, dtype=np.float64), None
    return model


def _sum_overflows(call: Call) -> bool:
    if call.dtype != "float16" or call.reduction not in ("sum", "mean") or not call.op.endswith(
            ("crossentropy", "cross_entropy", "with_logits")):
        return False
    return bool(np.max(np.abs(np.asarray(call.x, dtype=np.float64)), initial=0.0) > 1e3) or \
        call.x.size >= 65504


def _lsm_f16_sum(x: np.ndarray) -> np.ndarray:
    """The backend's float16 log_softmax (classes last): shifted - log(S), the row's sum of
    exponentials S accumulated in float32 and stored in float16 (inf beyond 65504)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d = x - np.max(x, axis=-1, keepdims=True)
        S = round_to(np.sum(np.exp(d), axis=-1, keepdims=True), "float16")
        return d - np.log(S)


def _row_sum_overflow_model(backend: str) -> Callable[[Call], ModelResult]:
    def model(call: Call) -> ModelResult:
        # the zero-target terms: 0 * -inf = NaN, except on JAX under jit with index targets
        # (one-hot encoded in the same compiled function: XLA selects the label's entry, as
        # div_backend's keras-jax-cce-neg-inf-under-zero-label-nan observes), where the
        # label's -inf alone gives +inf; categorical()'s gather path is the torch sparse one
        gather = backend == "jax" and call.target_kind == "index" \
            and not call.option("label_smoothing") \
            and call.facet("mode") != "eager"
        fwd, _ = categorical(call, from_logits=True, sparse=gather,
                             backend="torch" if gather else backend,
                             log_softmax=_lsm_f16_sum)
        return round_to(fwd, "float16"), None
    return model


def _row_sum_overflows(call: Call) -> bool:
    if call.op != "cross_entropy" or call.dtype != "float16" or call.x.size == 0:
        return False
    x = classes_last(np.asarray(call.x, dtype=np.float64), call)
    with np.errstate(over="ignore", invalid="ignore"):
        S = np.sum(np.exp(x - np.max(x, axis=-1, keepdims=True)), axis=-1)
    return bool(np.any(S > 65504.0))


def _jax_bce_logits_half(call: Call) -> ModelResult:
    """keras.losses.binary_crossentropy(from_logits=True) on JAX in float16/bfloat16, op by op
    in the dtype: t (smoothed in the dtype), ls_p = log_sigmoid(x), ls_n = log_sigmoid(-x),
    -1 * t * ls_p - (1 - t) * ls_n, each product and difference rounded; the row mean and the
    reduction (keras.ops.mean computes in float32) exact, the result rounded to the dtype."""
    dt = call.dtype
    x = np.asarray(call.x, dtype=np.float64)
    t = round_to(np.asarray(call.target, dtype=np.float64), dt)
    ls = float(call.option("label_smoothing") or 0.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if ls:
            t = round_to(round_to(t * round_to(1.0 - ls, dt), dt) + round_to(0.5 * ls, dt), dt)
        lsp = round_to(-np.logaddexp(0.0, -x), dt)
        lsn = round_to(-np.logaddexp(0.0, x), dt)
        a = round_to(round_to(-t, dt) * lsp, dt)
        b = round_to(round_to(round_to(1.0 - t, dt), dt) * lsn, dt)
        el = round_to(a - b, dt)
    m = np.mean(el, axis=-1)
    sw = np.ones(m.shape)
    for name in ("weight", "sample_weight"):
        w = call.option(name)
        if w is not None:
            sw = sw * np.broadcast_to(np.asarray(w, dtype=np.float64), x.shape)[..., 0]
    fwd = reduce_losses(sw * m, float(max(m.size, 1)), call.reduction)
    return round_to(fwd, dt), None


def entries(backend: str) -> tuple[Divergence, ...]:
    fw = f"keras-{backend}"
    cat_eps = ("categorical_crossentropy(from_logits=True)",
               "CategoricalCrossentropy(from_logits=True)") + (
        ("sparse_categorical_crossentropy(from_logits=True)",
         "SparseCategoricalCrossentropy(from_logits=True)") if backend == "jax" else ())
    out: list[Divergence] = [Divergence(
        id=f"keras-{backend}-float16-log-softmax-row-sum-overflows",
        title=f"Keras categorical losses from logits on {backend} in float16: the row's sum of "
              "exponentials overflows to inf beyond 65504, the loss is inf",
        framework=fw, package="keras", versions=KERAS_3,
        entry_points=tuple(f"{_K}{n}@{backend}" for n in cat_eps), kinds=("forward",),
        trigger="float16 logits rows whose sum of exp(x - max) exceeds 65504 (near-uniform "
                "rows of 131072 classes)",
        explanation="The backend's log_softmax computes shifted - log(sum(exp(shifted))) with "
                    "the sum stored in float16: beyond 65504 it is inf and every "
                    "log-probability -inf, so the loss is not finite (the reference: log(131072) = "
                    "11.8); the zero-target terms 0 * -inf make it NaN, except on JAX under jit with "
                    "index targets (XLA selects the label's entry of the one-hot product: "
                    "+inf). "
                    + ("The jax backend's sparse loss one-hot encodes and takes the same sum."
                       if backend == "jax" else
                       "The torch backend's sparse loss calls F.cross_entropy, which "
                       "accumulates in float and stays finite."),
        link=f"{KERAS_NN[backend]} (categorical_crossentropy: log_softmax(output)); "
             + (f"{_JAXNN}#L566-L571 (log_softmax)" if backend == "jax" else
                "https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/cpu/"
                "LogSoftmaxKernelImpl.h"),
        applies=_row_sum_overflows, model=_row_sum_overflow_model(backend),
        example=lambda: Call("cross_entropy", np.zeros((1, 131072)), "float16",
                             target=np.array([3]), target_kind="index",
                             options={"reduction": "sum"}))]
    if backend == "jax":
        out += [
            Divergence(
                id="keras-jax-softmax-half-in-dtype",
                title="keras.ops.softmax on JAX in float16/bfloat16 rounds exp(x - max), the "
                      "row sum and the quotient to the half dtype",
                framework=fw, package="keras", versions=KERAS_3,
                entry_points=("keras.ops.softmax@jax",), kinds=("forward",),
                trigger="float16 or bfloat16 softmax (probabilities far below the row maximum "
                        "are hit the most)",
                explanation="Keras' jax backend returns jax.nn.softmax(x, axis=axis), which "
                            "(_softmax_deprecated, the default path in jax 0.10) computes "
                            "exp(x - max) and exp / sum(exp) in the input's dtype: each "
                            "probability carries three half-dtype roundings (the JAX plug-in's "
                            "entry jax-softmax-half-in-dtype, whose model this entry imports). "
                            "The torch backend computes in float32 and rounds once.",
                link=f"{KERAS_NN['jax']} (softmax: jnn.softmax(x, axis=axis)); "
                     f"{_JAXNN}#L608-L645 (softmax, _softmax_deprecated)",
                applies=lambda c: c.op == "softmax" and c.dtype in HALF_DTYPES
                and c.x.size > 0,
                model=_half_softmax,
                example=lambda: BY_ID["softmax-moderate-16x10"].call("float16", seed=0)),
            Divergence(
                id="keras-jax-softmax-float16-gradient-row-sum-in-float16",
                title="keras.ops.softmax's gradient on JAX in float16 sums the cotangent term "
                      "over the row in float16: over long rows, or where that sum cancels, "
                      "elements lose their relative accuracy",
                framework=fw, package="keras", versions=KERAS_3,
                entry_points=("keras.ops.softmax@jax",), kinds=("gradient",),
                trigger="float16 softmax gradients over long rows (10^5 classes) or with "
                        "cotangents that cancel",
                explanation="jax.nn.softmax's gradient is autodiff of u / sum(u): "
                            "(g / S - sum(g u / S^2)) * u with the row sum reduced in float16 "
                            "(the JAX plug-in's entry "
                            "jax-softmax-float16-gradient-row-sum-in-float16, whose model this "
                            "entry imports; Keras calls jax.nn.softmax directly).",
                link=f"{KERAS_NN['jax']} (softmax: jnn.softmax(x, axis=axis)); "
                     f"{_JAXNN}#L634-L645 (_softmax_deprecated)",
                applies=lambda c: c.op == "softmax" and c.dtype == "float16"
                and c.grad_output is not None and c.x.size > 0,
                model=_f16_softmax_grad,
                example=lambda: Call("softmax", np.zeros((1, 4)), "float16",
                                     grad_output=np.array([[2048.0, 0.15625, -2048.0,
                                                            0.3125]]))),
            Divergence(
                id="keras-jax-log-softmax-half-gradient-row-sum",
                title="keras.ops.log_softmax's gradient on JAX in float16 is -inf (or NaN) when "
                      "the cotangent's row sum (or the row's sum of exponentials) exceeds "
                      "65504",
                framework=fw, package="keras", versions=KERAS_3,
                entry_points=("keras.ops.log_softmax@jax",), kinds=("gradient",),
                trigger="float16 rows of many classes (10^5)",
                explanation="Keras' jax backend returns jax.nn.log_softmax, whose autodiff "
                            "gradient g - sum(g) / S * exp(shifted) stores sum(g) and S in "
                            "float16: beyond 65504 they are inf (the JAX plug-in's entry "
                            "jax-log-softmax-half-gradient-row-sum, whose model this imports).",
                link=f"{KERAS_NN['jax']} (log_softmax: jnn.log_softmax); "
                     f"{_JAXNN}#L566-L571 (log_softmax)",
                applies=lambda c: c.op == "log_softmax" and c.dtype in HALF_DTYPES
                and c.grad_output is not None and c.x.size > 0,
                model=_half_log_softmax_grad,
                example=lambda: Call("log_softmax", round_to(np.linspace(-2.0, 2.0, 40),
                                                             "float16").reshape(1, 40),
                                     "float16", grad_output=np.full((1, 40), 2048.0))),
        ]
    out += [
        Divergence(
            id=f"keras-{backend}-float16-loss-sum-overflows",
            title=f"Keras losses on {backend} in float16: the reduction's sum of the losses "
                  "overflows to inf beyond 65504",
            framework=fw, package="keras", versions=KERAS_3,
            entry_points=tuple(f"{_K}{n}@{backend}" for n in _LOSSES_ALL
                               if backend == "torch" or not n.startswith("sparse_")),
            kinds=("forward",),
            trigger="float16 losses whose sum exceeds 65504 (logits of ~3e4, or 10^5 items)",
            explanation="keras.ops.sum (the 'sum' of a loss function) and Loss.reduce_values "
                        "(ops.sum(values) before dividing by the item count, for "
                        "'sum_over_batch_size') return the input's dtype: a float16 total "
                        "beyond 65504 is inf, and so is the mean, although each loss and the "
                        "mean itself are representable. The reference sums in float64."
                        + (" On JAX the sparse function's losses come back in float64 "
                           "(jax.nn.one_hot without dtype under x64) and do not overflow."
                           if backend == "jax" else ""),
            link=f"{KERAS_LOSS_BASE} (reduce_values: loss = ops.sum(values); "
                 "ops.divide_no_nan(loss, divisor)); "
                 f"{_KS}/backend/{backend}/numpy.py (sum: keeps the input dtype)",
            applies=_sum_overflows, model=_items_model(backend),
            example=lambda: Call("cross_entropy", np.array([[30000.0, 0.0], [0.0, 30000.0],
                                                            [30000.0, 0.0]]), "float16",
                                 target=np.array([1, 0, 1]), target_kind="index",
                                 options={"reduction": "sum"})),
    ]
    if backend == "jax":
        out.append(Divergence(
            id="keras-jax-bce-logits-half-in-dtype",
            title="Keras binary_crossentropy(from_logits=True) on JAX in float16/bfloat16 "
                  "computes each element's loss in the half dtype",
            framework=fw, package="keras", versions=KERAS_3,
            entry_points=(f"{_K}binary_crossentropy(from_logits=True)@jax",
                          f"{_K}BinaryCrossentropy(from_logits=True)@jax"),
            kinds=("forward",),
            trigger="float16 or bfloat16 logits (most visible with label smoothing, whose "
                    "smoothed targets 0.05 / 0.95 are not representable)",
            explanation="The jax backend computes -1.0 * target * log_sigmoid(output) - "
                        "(1.0 - target) * log_sigmoid(-output) in the input's dtype: the "
                        "smoothed target, both log_sigmoid values, both products and their "
                        "difference are each rounded to the half dtype (five roundings per "
                        "element, up to ~5 ULP where the terms nearly cancel); only the mean "
                        "(keras.ops.mean, float32) is exact-ish. The reference rounds once.",
            link=f"{KERAS_NN['jax']} (binary_crossentropy: -1.0 * target * log_logits - "
                 f"(1.0 - target) * log_neg_logits); {KERAS_LOSSES_SRC} "
                 "(binary_crossentropy: y_true * (1.0 - label_smoothing) + 0.5 * "
                 "label_smoothing)",
            applies=lambda c: c.op == "binary_cross_entropy_with_logits"
            and c.dtype in HALF_DTYPES and c.x.size > 0,
            model=_jax_bce_logits_half,
            example=lambda: BY_ID[
                "binary_cross_entropy_with_logits-confident-64x3-probs-label_smoothing_0.1-"
                "reduction_mean"].call("float16", seed=0)))
    if backend == "torch":
        out.append(Divergence(
            id="keras-torch-log-softmax-bfloat16-normaliser-in-dtype",
            title="keras.ops.log_softmax's gradient on torch in bfloat16 uses the normaliser "
                  "and its log rounded to bfloat16 (off by 3% over 131072 classes)",
            framework=fw, package="keras", versions=KERAS_3,
            entry_points=("keras.ops.log_softmax@torch",), kinds=("gradient",),
            trigger="bfloat16 rows of many classes, class axis last (float16 is cast to "
                    "float32 by Keras on CPU)",
            explanation="Keras' torch backend casts float16 to float32 on CPU but passes "
                        "bfloat16 to torch.nn.functional.log_softmax, whose CPU kernel keeps "
                        "the row's sum and its log in a bfloat16 buffer: over 131072 uniform "
                        "classes log(sum) is -11.75 instead of -11.78 (within bfloat16's "
                        "tolerance), and the backward g - exp(out) * sum(g) is off by 3% (the torch plug-in's entry "
                        "torch-log-softmax-half-normaliser-in-dtype, whose model this "
                        "imports).",
            link=f"{KERAS_NN['torch']} (log_softmax: float16 cast to float32 on cpu); "
                 "https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/cpu/"
                 "SoftMaxKernel.cpp (_vec_log_softmax_lastdim: scalar_t tmp_sum_scalar)",
            applies=lambda c: c.op == "log_softmax" and c.dtype == "bfloat16"
            and c.x.ndim >= 1 and c.x.size > 0
            and (c.axis is None or c.axis in (-1, c.x.ndim - 1)),
            model=_half_log_softmax,
            example=lambda: Call("log_softmax", np.zeros((1, 131072)), "bfloat16",
                                 grad_output=np.ones((1, 131072)))))
        out.append(Divergence(
            id="keras-torch-bce-logits-forward-cancellation",
            title="Keras binary_crossentropy(from_logits=True) on torch loses tiny losses to "
                  "cancellation (z << 0)",
            framework=fw, package="keras", versions=KERAS_3,
            entry_points=(f"{_K}binary_crossentropy(from_logits=True)@torch",
                          f"{_K}BinaryCrossentropy(*)@torch"),
            kinds=("forward",),
            trigger="negative logits (z < -1) under targets below 1 with small losses "
                    "(confident, correct predictions), visible in a mean of many of them",
            explanation="Keras' torch backend returns torch.nn.functional."
                        "binary_cross_entropy_with_logits(output, target, reduction='none'), "
                        "which computes (1 - t) z - log_sigmoid(z): for z < 0 both terms are "
                        "about |z| and cancel, each element carries an absolute error of "
                        "about ulp(|z|) (the torch plug-in's entry "
                        "torch-bce-logits-forward-cancellation); Keras then averages over the "
                        "last axis. The jax backend's -t log_sigmoid(z) - (1-t) "
                        "log_sigmoid(-z) keeps them.",
            link=f"{KERAS_NN['torch']} (binary_crossentropy: tnn.binary_cross_entropy_with_"
                 "logits); https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/"
                 "native/Loss.cpp (binary_cross_entropy_with_logits)",
            applies=logits_cancel,
            model=lambda c: binary(c, from_logits=True, backend="torch"),
            example=lambda: Call("binary_cross_entropy_with_logits",
                                 np.array([[-32.25, -30.5, -33.0, -35.5]]), "float32",
                                 target=np.zeros((1, 4)), options={"reduction": "mean"})))
    return tuple(out)
