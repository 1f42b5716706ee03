"""Keras losses on probabilities (from_logits=False): renormalisation, the [eps, 1-eps] clip,
its bounds in float16/bfloat16, and the float16 reciprocal in the log's gradient.

Each entry follows its predicate, example and (where not shared) model; the Keras models
themselves are in keras_models.py. Keyed on Keras's version (``package="keras"``).
``observed`` pins what each text says Keras returns (0 gradients, inf, NaN) on the example;
``finding`` marks the bugs to report upstream (findings.py).
"""
from __future__ import annotations

import numpy as np

from lossconform.contract import Call
from lossconform.divergences import Divergence
from lossconform.divergences.entry import Observed
from lossconform.divergences.numerics import all_of, classes_last, example_call, narrow_dtype
from lossconform.dtypes import round_to

from . import findings as _findings
from .keras_models import (
    KERAS_2_AND_3, KERAS_3, KERAS_NN, TF_PYTHON_OPS, binary_model, categorical_model,
    keras_clip_bounds,
)

_CCE = ("tf.keras.losses.categorical_crossentropy(from_logits=False)",
        "tf.keras.losses.CategoricalCrossentropy(from_logits=False)")
_SCCE = ("tf.keras.losses.sparse_categorical_crossentropy(from_logits=False)",
         "tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False)")
_BCE = ("tf.keras.losses.binary_crossentropy(from_logits=False)",
        "tf.keras.losses.BinaryCrossentropy(from_logits=False)")

_entries: list[Divergence] = []
_narrow: list[Divergence] = []  # float16/bfloat16 corner cases


# -- renormalised ---------------------------------------------------------------------------------
def _cce_unnormalised(call: Call) -> bool:
    if call.op != "categorical_crossentropy":
        return False
    s = np.sum(classes_last(call.x, call), axis=-1)
    return bool(np.any(np.abs(s - 1.0) > 0))


def _ex_cce_unnormalised() -> Call:
    return example_call("categorical_crossentropy", [[0.2, 0.3, 0.1], [0.5, 0.25, 0.5]],
                        target=[[0, 1, 0], [0, 0, 1]], target_kind="probs")


_entries.append(Divergence(
    id="keras-cce-probs-renormalised",
    title="Keras categorical_crossentropy on probabilities divides them by their sum first",
    framework="tensorflow",
    package="keras",
    entry_points=_CCE,
    versions=KERAS_2_AND_3,
    kinds=("forward", "gradient"),
    trigger="probability rows (y_pred) that do not sum to 1 along the class axis",
    explanation="With from_logits=False Keras computes output / reduce_sum(output, axis) "
                "before the log ('so that the probability of each class adds up to 1'); "
                "the reference takes the probabilities as given. The gradient flows "
                "through the renormalisation (it is not zero along the row's sum).",
    link=f"{KERAS_NN} (categorical_crossentropy: output / tf.reduce_sum(output, axis))",
    applies=_cce_unnormalised,
    model=categorical_model(),
    example=_ex_cce_unnormalised,
))


# -- clip to [eps, 1-eps] -------------------------------------------------------------------------
def _clipped(call: Call) -> bool:
    """categorical_crossentropy (after renormalising) or binary_crossentropy probabilities
    outside Keras' clip interval in the call's dtype."""
    if call.op not in ("categorical_crossentropy", "binary_cross_entropy"):
        return False
    lo, hi = keras_clip_bounds(call.dtype)
    x = np.asarray(call.x, dtype=np.float64)
    if call.op == "categorical_crossentropy":
        with np.errstate(invalid="ignore", divide="ignore"):
            xl = classes_last(x, call)
            x = np.concatenate([x.ravel(), (xl / np.sum(xl, -1, keepdims=True)).ravel()])
    return bool(np.any((x < lo) | (x > hi)))


def _ex_cce_clip() -> Call:
    return example_call("categorical_crossentropy", [[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]],
                        target=[[0.5, 0.5, 0.0], [0, 1, 0]], target_kind="probs")


_entries.append(Divergence(
    id="keras-cce-probs-clip-eps",
    title="Keras categorical_crossentropy clips probabilities to [eps, 1-eps], eps=1e-7",
    framework="tensorflow",
    package="keras",
    entry_points=_CCE,
    versions=KERAS_2_AND_3,
    kinds=("forward", "gradient"),
    trigger="a renormalised probability below 1e-7 (e.g. 0) where the target is > 0, or "
            "above 1-1e-7; in float16/bfloat16 eps is the dtype's rounding of 1e-7 and "
            "the upper bound rounds to 1",
    explanation="After renormalising, Keras clips with tf.clip_by_value(output, "
                "epsilon(), 1 - epsilon()) (keras.config.epsilon() = 1e-7) so that log "
                "stays finite: a zero probability under a positive target costs "
                "-log(1e-7) = 16.118 instead of +inf. The clip passes no gradient to a "
                "clipped value, but the renormalisation before it does: a clipped entry "
                "still gets the derivative of sum(output) (the sum of t_c / sum(output) "
                "over the unclipped entries), so its gradient is not 0.",
    link=f"{KERAS_NN} (categorical_crossentropy: tf.clip_by_value(output, "
         "backend.epsilon(), 1.0 - backend.epsilon()))",
    applies=_clipped,
    model=categorical_model(),
    example=_ex_cce_clip,
    observed=(Observed("gradient", "+ * * | * * *",
                       "a clipped entry still gets the derivative of sum(output) ... its "
                       "gradient is not 0"),),
))


def _ex_cce_clip_half() -> Call:
    return example_call("categorical_crossentropy", [[0.0, 0.5, 0.5], [0.25, 0.25, 0.5]],
                        dtype="float16", target=[[1, 0, 0], [0, 1, 0]], target_kind="probs",
                        grad=False)


_entries.append(Divergence(
    id="keras-cce-probs-clip-eps-half",
    title="Keras categorical_crossentropy in float16: eps 1e-7 rounds to 1.19e-7",
    framework="tensorflow",
    package="keras",
    entry_points=_CCE,
    versions=KERAS_2_AND_3,
    kinds=("forward",),
    trigger="float16 or bfloat16 probabilities of 0 under a positive target",
    explanation="The clip bound epsilon()=1e-7 is cast to the tensor's dtype: float16 "
                "holds it as the subnormal 1.192e-7 (loss 15.94 instead of 16.12 for a zero "
                "probability), bfloat16 as 1.0012e-7; the reference gives +inf.",
    link=f"{KERAS_NN} (categorical_crossentropy); https://keras.io/api/utils/config_utils/"
         "#epsilon-function",
    applies=all_of(_clipped, narrow_dtype),
    model=categorical_model(),
    example=_ex_cce_clip_half,
))


# -- sparse: clip, then renormalise ---------------------------------------------------------------
def _sparse_probs(call: Call) -> bool:
    """The sparse Keras losses on probabilities: the forward departs when rows do not sum to 1
    or are clipped; the gradient ALWAYS departs (it carries + 1/sum(c) on every class, the
    derivative of the renormalisation, which the reference's -log p_y does not have)."""
    return call.op == "categorical_crossentropy" and call.target_kind in ("index", "probs")


def _ex_sparse() -> Call:
    return example_call("categorical_crossentropy", [[0.2, 0.3, 0.1], [0.0, 0.75, 0.25]],
                        target=[1, 0], target_kind="index")


_entries.append(Divergence(
    id="keras-sparse-cce-probs-clip-then-renormalise",
    title="Keras sparse_categorical_crossentropy on probabilities clips, then renormalises",
    framework="tensorflow",
    package="keras",
    entry_points=_SCCE,
    versions=KERAS_3,
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
    link=f"{KERAS_NN} (sparse_categorical_crossentropy: clip_by_value, log, "
         "sparse_softmax_cross_entropy_with_logits)",
    applies=_sparse_probs,
    model=categorical_model(sparse=True),
    example=_ex_sparse,
    observed=(Observed("gradient", "* * * | 0 * *", "Gradient is 0 on clipped entries"),),
))


# -- binary: clip ---------------------------------------------------------------------------------
def _ex_bce_clip() -> Call:
    return example_call("binary_cross_entropy", [[0.0, 1.0, 0.3, 1e-9]],
                        target=[[1.0, 1.0, 0.0, 1.0]], options={"reduction": "mean"})


_entries.append(Divergence(
    id="keras-bce-probs-clip-eps",
    title="Keras binary_crossentropy clips probabilities to [eps, 1-eps], eps=1e-7",
    framework="tensorflow",
    package="keras",
    entry_points=_BCE,
    versions=KERAS_2_AND_3,
    kinds=("forward", "gradient"),
    trigger="probabilities below 1e-7 or above 1-1e-7 (0 and 1 included)",
    explanation="Keras clips y_pred with tf.clip_by_value(output, epsilon(), "
                "1 - epsilon()) before t log p + (1-t) log(1-p). The bounds are not "
                "symmetric in float32: 1e-7 is kept but 1-1e-7 rounds to 1-2^-23 "
                "(0.99999988), so p=1 under t=0 costs 15.94 while p=0 under t=1 costs "
                "16.12. Gradient 0 where clipped.",
    link=f"{KERAS_NN} (binary_crossentropy: tf.clip_by_value(output, backend.epsilon(), "
         "1.0 - backend.epsilon()))",
    applies=_clipped,
    model=binary_model,
    example=_ex_bce_clip,
    observed=(Observed("gradient", "0 0 + 0", "Gradient 0 where clipped"),),
))


def _bce_half_at_bounds(call: Call) -> bool:
    """float16/bfloat16 binary_crossentropy probabilities at 1, or below 1e-7."""
    x = np.asarray(call.x)
    return call.op == "binary_cross_entropy" and narrow_dtype(call) \
        and bool(np.any((x == 1.0) | (x < 1e-7)))


def _ex_bce_half() -> Call:
    return example_call("binary_cross_entropy", [[1.0, 0.25], [0.0, 0.5]], dtype="float16",
                        target=[[0.0, 1.0], [1.0, 0.0]], options={"reduction": "none"},
                        grad=False)


_entries.append(Divergence(
    id="keras-bce-probs-clip-half-upper-bound-is-one",
    title="Keras binary_crossentropy in float16/bfloat16: 1-eps rounds to 1, p=1 gives inf/nan",
    framework="tensorflow",
    package="keras",
    entry_points=_BCE,
    versions=KERAS_2_AND_3,
    kinds=("forward",),
    trigger="float16 or bfloat16 probability exactly 1 (loss inf if t < 1, nan if t = 1), "
            "or 0 (clipped to the dtype's 1e-7)",
    explanation="The upper clip bound 0.9999999 is cast to the input dtype: float16 and "
                "bfloat16 round it to 1.0, so the clip protects nothing at the top: "
                "log(1 - 1) = -inf, times (1 - t) gives inf for t < 1 and 0 * -inf = nan "
                "for t = 1 (the reference gives 0 for p = t = 1).",
    link=f"{KERAS_NN} (binary_crossentropy)",
    applies=_bce_half_at_bounds,
    model=binary_model,
    example=_ex_bce_half,
    observed=(Observed("forward", "+inf +", "log(1 - 1) = -inf, times (1 - t) gives inf for "
                                            "t < 1"),
              Observed("forward", "nan +", "0 * -inf = nan for t = 1",
                       call=lambda: example_call(
                           "binary_cross_entropy", [[1.0, 0.5], [0.25, 0.75]], dtype="float16",
                           target=[[1.0, 1.0], [0.0, 1.0]], options={"reduction": "none"},
                           grad=False))),
    finding=_findings.BCE_FLOAT16_UPPER_CLIP,
))


# -- float16 reciprocal in the gradient -----------------------------------------------------------
def _half_reciprocal_overflows(call: Call) -> bool:
    """float16 probabilities in [eps, 1/65504): reciprocal(c) is inf in float16."""
    if call.op != "categorical_crossentropy" or call.dtype != "float16" \
            or call.grad_output is None:
        return False
    lo, _ = keras_clip_bounds(call.dtype)
    x = classes_last(call.x, call)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = round_to(x / np.sum(x, axis=-1, keepdims=True), call.dtype)
        v = np.concatenate([x.ravel(), r.ravel()])
        return bool(np.any((v >= lo) & np.isinf(round_to(1.0 / v, "float16"))))


def _ex_half_reciprocal() -> Call:
    return example_call("categorical_crossentropy", [[1e-5, 0.5, 0.5], [0.25, 0.25, 0.5]],
                        dtype="float16", target=[[0, 1, 0], [0, 0, 1]], target_kind="probs",
                        options={"reduction": "sum"})


_LOG_GRAD = f"{TF_PYTHON_OPS}math_grad.py (_LogGrad: grad * math_ops.reciprocal(x)); {KERAS_NN}"

_narrow.append(Divergence(
    id="keras-cce-probs-grad-float16-reciprocal-overflow",
    title="Keras categorical_crossentropy in float16: NaN gradient row for p < 1/65504",
    framework="tensorflow",
    package="keras",
    entry_points=_CCE,
    versions=KERAS_3,
    kinds=("gradient",),
    trigger="float16 renormalised probabilities in [1.19e-7, 1.53e-5) under a zero "
            "target: unclipped, but their reciprocal exceeds 65504",
    explanation="The gradient of tf.math.log is upstream * reciprocal(x), the reciprocal "
                "in the input dtype: in float16 1/p overflows to inf for p < 1/65504. The "
                "upstream is -t, so an entry with t = 0 gives 0 * inf = NaN, and the "
                "backward of the renormalisation output / sum(output) spreads it over the "
                "whole row. The derivative itself is finite.",
    link=_LOG_GRAD,
    applies=_half_reciprocal_overflows,
    model=categorical_model(),
    example=_ex_half_reciprocal,
    observed=(Observed("gradient", "nan nan nan | finite finite finite",
                       "0 * inf = NaN ... spreads it over the whole row"),),
    finding=_findings.CCE_GRAD_FLOAT16_RECIPROCAL,
))

_narrow.append(Divergence(
    id="keras-sparse-cce-probs-grad-float16-reciprocal-overflow",
    title="Keras sparse_categorical_crossentropy in float16: inf gradient for p < 1/65504",
    framework="tensorflow",
    package="keras",
    entry_points=_SCCE,
    versions=KERAS_3,
    kinds=("gradient",),
    trigger="float16 probabilities in [1.19e-7, 1.53e-5): unclipped, but their "
            "reciprocal exceeds 65504",
    explanation="The sparse loss feeds log(clip(p)) to the sparse softmax kernel; the "
                "gradient of tf.math.log is upstream * reciprocal(x) with the reciprocal "
                "in float16, inf for p < 1/65504, and the upstream softmax(log c) - onehot "
                "is non-zero there, so that entry's gradient is inf instead of about "
                "1/sum(c).",
    link=_LOG_GRAD,
    applies=_half_reciprocal_overflows,
    model=categorical_model(sparse=True),
    example=_ex_half_reciprocal,
    observed=(Observed("gradient", "+inf * * | finite finite finite",
                       "that entry's gradient is inf"),),
))

DIVERGENCES: tuple[Divergence, ...] = tuple(_entries)
#: float16/bfloat16 corner cases, tried after the general entries (see divergences.py)
NARROW_DTYPE_DIVERGENCES: tuple[Divergence, ...] = tuple(_narrow)
