"""Keras loss-API conventions: binary losses averaged over the last axis, 'sum_over_batch_size'
with sample weights, label smoothing's class count and range, ignore_class in the function
and the class, empty batches, loss classes computing in float32, sparse labels rounded to the
loss's dtype.

Each entry follows its predicate, example and (where not shared) model; the Keras models
themselves are in keras_models.py. Keyed on Keras's version (``package="keras"``).
``observed`` pins what each text says Keras returns on the example; ``finding`` marks the bugs
to report upstream (findings.py).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.entry import Observed
from lossconform.divergences.numerics import (
    EXAMPLE_LOGITS, all_ignored, all_of, class_axis, classes_last, empty_reduced,
    example_call, label_smoothing, label_smoothing_out_of_range, some_ignored,
)
from lossconform.dtypes import round_to

from . import findings as _findings
from .keras_models import (
    KERAS_2_AND_3, KERAS_3, KERAS_LOSS_BASE, KERAS_LOSSES, binary_model, categorical_model,
    keras_binary, keras_categorical,
)

_K = "tf.keras.losses."
_BCE_ALL = (f"{_K}binary_crossentropy(*)", f"{_K}BinaryCrossentropy(*)")
_CCE_ALL = (f"{_K}categorical_crossentropy(*)", f"{_K}CategoricalCrossentropy(*)")

_entries: list[Divergence] = []
_narrow: list[Divergence] = []  # float16/bfloat16 corner cases


# -- binary: mean over the last axis --------------------------------------------------------------
def _bce_row_means_differ(call: Call) -> bool:
    return call.op in ("binary_cross_entropy", "binary_cross_entropy_with_logits") \
        and call.reduction in ("none", "sum") and call.x.ndim >= 1 and call.x.shape[-1] != 1


def _ex_bce_shape() -> Call:
    return example_call("binary_cross_entropy_with_logits",
                        [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]],
                        target=[[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], options={"reduction": "sum"})


_entries.append(Divergence(
    id="keras-bce-mean-over-last-axis",
    title="Keras binary_crossentropy averages over the last axis: output shape x.shape[:-1]",
    framework="tensorflow",
    package="keras",
    entry_points=_BCE_ALL,
    versions=KERAS_2_AND_3,
    kinds=("forward", "gradient"),
    trigger="reduction 'none' (output has shape x.shape[:-1]) or 'sum' (sum of per-row "
            "means = canonical sum / C) with more than one element on the last axis",
    explanation="keras.losses.binary_crossentropy returns ops.mean(bce, axis=-1), so one "
                "value per row; the loss classes then reduce those row means. 'mean' "
                "agrees with the element mean; 'none' and 'sum' differ by the factor C "
                "(size of the last axis) and in shape.",
    link=f"{KERAS_LOSSES} (binary_crossentropy: ops.mean(..., axis=axis))",
    applies=_bce_row_means_differ,
    model=binary_model,
    example=_ex_bce_shape,
))


# -- sum_over_batch_size --------------------------------------------------------------------------
def _weighted_mean_differs(call: Call) -> bool:
    s = call.option("sample_weight")
    if s is None or call.reduction != "mean" or call.op not in (
            "cross_entropy", "categorical_crossentropy"):
        return False
    items = classes_last(call.x, call).shape[:-1]
    return not math.isclose(float(np.sum(np.broadcast_to(s, items))), float(np.prod(items)))


def _ex_sample_weight() -> Call:
    return example_call("cross_entropy", EXAMPLE_LOGITS, target=[0, 1, 3], target_kind="index",
                        options={"sample_weight": np.array([1.0, 2.0, 0.5])})


_entries.append(Divergence(
    id="keras-sum-over-batch-size-ignores-sample-weight-total",
    title="Keras loss classes: 'mean' with sample_weight divides by the item count, not sum(w)",
    framework="tensorflow",
    package="keras",
    entry_points=(f"{_K}CategoricalCrossentropy(*)", f"{_K}SparseCategoricalCrossentropy(*)"),
    versions=KERAS_3,
    kinds=("forward", "gradient"),
    trigger="a loss class with reduction 'sum_over_batch_size' (the default) and "
            "sample weights whose sum is not the number of items",
    explanation="Keras' reduce_values divides sum(w_i l_i) by the number of loss values "
                "(prod(shape)) for 'sum_over_batch_size'; torch and the reference divide "
                "by sum(w_i) (a weighted mean). Keras 3 offers "
                "reduction='mean_with_sample_weight' for the weighted mean.",
    link=f"{KERAS_LOSS_BASE} (reduce_values: divisor = prod(shape(values)))",
    applies=_weighted_mean_differs,
    model=lambda c: keras_categorical(c, from_logits=c.op == "cross_entropy",
                                      sparse=c.target_kind == "index"
                                      and c.op == "categorical_crossentropy"),
    example=_ex_sample_weight,
))


# -- label smoothing ------------------------------------------------------------------------------
def _smoothing_axis_not_last(call: Call) -> bool:
    return bool(label_smoothing(call)) and call.x.ndim >= 2 \
        and class_axis(call) != call.x.ndim - 1 \
        and call.x.shape[-1] != call.x.shape[class_axis(call)]


def _ex_smoothing_axis() -> Call:
    x = np.array(EXAMPLE_LOGITS).T  # classes on axis 0 (4 classes), 3 items on the last axis
    return example_call("cross_entropy", x.tolist(), axis=0, target=[0, 1, 3],
                        target_kind="index", options={"label_smoothing": 0.2})


_entries.append(Divergence(
    id="keras-label-smoothing-classes-from-last-axis",
    title="Keras categorical label smoothing uses C = shape[-1] even when axis != -1",
    framework="tensorflow",
    package="keras",
    entry_points=_CCE_ALL,
    versions=KERAS_3,
    kinds=("forward", "gradient"),
    trigger="label_smoothing > 0 with the class axis not last (axis=1 for channels-first)",
    explanation="keras.losses.categorical_crossentropy computes num_classes = "
                "ops.shape(y_true)[-1] whatever its axis argument, so with axis=0 or 1 "
                "the smoothing mass eps/C uses the size of the last axis: the smoothed "
                "target no longer sums to 1. (The gradient, TF's softmax - labels, is "
                "then off as well.)",
    link=f"{KERAS_LOSSES} (categorical_crossentropy: num_classes = ops.shape(y_true)[-1])",
    applies=_smoothing_axis_not_last,
    model=lambda c: keras_categorical(c, from_logits=c.op == "cross_entropy", sparse=False),
    example=_ex_smoothing_axis,
    finding=_findings.LABEL_SMOOTHING_AXIS,
))


def _ex_smoothing_out_of_range() -> Call:
    return example_call("cross_entropy", EXAMPLE_LOGITS, target=[0, 1, 3], target_kind="index",
                        options={"label_smoothing": 1.5})


_entries.append(Divergence(
    id="keras-label-smoothing-out-of-range-accepted",
    title="Keras accepts label_smoothing outside [0, 1] and applies the formula",
    framework="tensorflow",
    package="keras",
    entry_points=_CCE_ALL + _BCE_ALL,
    versions=KERAS_3,
    kinds=("forward", "gradient"),
    trigger="label_smoothing < 0 or > 1",
    explanation="Keras never checks label_smoothing: t (1 - eps) + eps / C (binary: "
                "eps / 2) is computed for any eps, giving targets outside [0, 1] and a "
                "finite loss; the reference (and torch for eps > 1) reject it.",
    link=f"{KERAS_LOSSES} (categorical_crossentropy / binary_crossentropy: no range check)",
    applies=label_smoothing_out_of_range,
    model=lambda c: binary_model(c) if c.op.startswith("binary") else
    keras_categorical(c, from_logits=c.op == "cross_entropy", sparse=False),
    example=_ex_smoothing_out_of_range,
))


# -- ignore_class ---------------------------------------------------------------------------------
def _ex_ignore_function_mean() -> Call:
    return example_call("cross_entropy", EXAMPLE_LOGITS, target=[0, 2, 3], target_kind="index",
                        options={"ignore_index": 2})


_entries.append(Divergence(
    id="keras-sparse-ignore-class-function-mean-counts-ignored",
    title="Keras sparse_categorical_crossentropy(ignore_class): a plain mean counts ignored items",
    framework="tensorflow",
    package="keras",
    entry_points=(f"{_K}sparse_categorical_crossentropy(*)",),
    versions=KERAS_3,
    kinds=("forward", "gradient"),
    trigger="the function (not the loss class) with ignore_class and some ignored items, "
            "averaged with tf.reduce_mean",
    explanation="The function returns 0 for ignored items and records the mask only as "
                "a Keras mask attribute, which tf.reduce_mean does not read: the mean "
                "divides by all items. The loss class uses the mask and divides by the "
                "number of valid items (as torch and the reference do).",
    link=f"{KERAS_LOSSES} (sparse_categorical_crossentropy: ops.where(valid_mask, res, 0.0); "
         "backend.set_keras_mask)",
    applies=all_of(some_ignored, lambda c: c.reduction == "mean"),
    model=categorical_model(sparse=True, ignore_divisor="all"),
    example=_ex_ignore_function_mean,
))


def _all_ignored_is_zero(call: Call) -> ModelResult:
    return np.asarray(0.0), None


def _ex_all_ignored() -> Call:
    return example_call("cross_entropy", EXAMPLE_LOGITS, target=[2, 2, 2], target_kind="index",
                        options={"ignore_index": 2}, grad=False)


_entries.append(Divergence(
    id="keras-ignore-class-all-ignored-mean-is-zero",
    title="Keras SparseCategoricalCrossentropy(ignore_class): all items ignored gives 0, not NaN",
    framework="tensorflow",
    package="keras",
    entry_points=(f"{_K}SparseCategoricalCrossentropy(*)",),
    versions=KERAS_3,
    kinds=("forward",),
    trigger="reduction 'sum_over_batch_size' with every item's label equal to ignore_class",
    explanation="Keras weights valid items by total/valid with divide_no_nan and divides "
                "the sum by the item count with divide_no_nan, so a batch with nothing "
                "valid has loss 0; the reference (and torch) compute 0/0 = NaN.",
    link=f"{KERAS_LOSS_BASE} (apply_mask: divide_no_nan(total, valid); reduce_values: "
         "divide_no_nan)",
    applies=all_ignored,
    model=_all_ignored_is_zero,
    example=_ex_all_ignored,
    observed=(Observed("forward", "0", "a batch with nothing valid has loss 0"),
              Observed("forward", "nan", "the reference (and torch) compute 0/0 = NaN",
                       framework="torch", entry_points=("torch.nn.functional.cross_entropy",))),
))


# -- empty batch ----------------------------------------------------------------------------------
def _empty_batch_unreduced(call: Call) -> ModelResult:
    """Keras loss classes on an empty batch: reduce_values returns the (0,)-shaped per-item
    losses unreduced for every reduction (the reference: 'sum' 0, 'mean' 0/0 = NaN)."""
    return np.zeros((0,)), None


def _ex_empty() -> Call:
    return example_call("cross_entropy", np.zeros((0, 4)), target=np.zeros((0,), np.int64),
                        target_kind="index", options={"reduction": "sum"}, grad=False)


_entries.append(Divergence(
    id="keras-loss-class-empty-batch-unreduced",
    title="Keras loss classes return an empty (0,) tensor, not a scalar, for an empty batch",
    framework="tensorflow",
    package="keras",
    entry_points=(f"{_K}CategoricalCrossentropy(*)", f"{_K}SparseCategoricalCrossentropy(*)",
                  f"{_K}BinaryCrossentropy(*)"),
    versions=KERAS_3,
    kinds=("forward",),
    trigger="reduction 'sum' or 'sum_over_batch_size' on a batch with no items (x of "
            "shape (0, C))",
    explanation="keras.losses.Loss reduce_values returns the per-item values unreduced "
                "when their shape is () or (0,), whatever the reduction: the loss object "
                "gives an empty tensor of shape (0,). The reference reduces to a scalar "
                "('sum' 0, 'mean' 0/0 = NaN), as tf.reduce_sum/tf.reduce_mean and torch do.",
    link=f"{KERAS_LOSS_BASE} (reduce_values: 'or tuple(values.shape) == (0,): return values')",
    applies=empty_reduced,
    model=_empty_batch_unreduced,
    example=_ex_empty,
    observed=(Observed("forward", "", "the loss object gives an empty tensor of shape (0,)"),
              Observed("forward", "0", "('sum' 0 ...) as tf.reduce_sum/tf.reduce_mean and torch "
                                       "do", framework="torch",
                       entry_points=("torch.nn.functional.cross_entropy",))),
    finding=_findings.EMPTY_BATCH_UNREDUCED,
))


# -- sparse labels in the loss's dtype ------------------------------------------------------------
def _sparse_labels(call: Call) -> np.ndarray:
    """The class indices a sparse loss gets: index targets, or exactly one-hot probability
    targets as their argmax (as the adapter passes them)."""
    if call.target_kind == "index":
        return np.asarray(call.target)
    return np.argmax(classes_last(call.target, call), axis=-1)


def _labels_round(call: Call) -> bool:
    if call.dtype not in ("float16", "bfloat16") or call.op not in (
            "cross_entropy", "categorical_crossentropy") or call.target is None \
            or call.target_kind not in ("index", "probs"):
        return False
    y = _sparse_labels(call)
    return bool(np.any(round_to(y, call.dtype) != y))


def _labels_in_dtype(call: Call) -> ModelResult:
    """Keras sparse loss classes: Loss.__call__ converts y_true to the loss's dtype before
    the loss casts it back to an integer, so an index above 256 (bfloat16) or 2048 (float16)
    becomes the nearest representable one (round to nearest even: 257 -> 256, 489 -> 488)."""
    # ignore_class is compared with the ROUNDED labels (Keras masks after the conversion)
    yr = round_to(_sparse_labels(call), call.dtype).astype(np.int64)
    return keras_categorical(call.replace(target=yr, target_kind="index"),
                             from_logits=call.op == "cross_entropy", sparse=True)


def _ex_labels_round() -> Call:
    x = np.zeros((3, 300))
    x[0, 257], x[0, 256], x[1, 3], x[2, 289], x[2, 288] = 4.0, -4.0, 1.0, 3.0, -3.0
    return example_call("cross_entropy", x.tolist(), dtype="bfloat16", target=[257, 3, 289],
                        target_kind="index", options={"reduction": "sum"})


_narrow.append(Divergence(
    id="keras-sparse-class-labels-rounded-to-dtype",
    title="Keras SparseCategoricalCrossentropy(dtype=float16/bfloat16) rounds class indices",
    framework="tensorflow",
    package="keras",
    entry_points=(f"{_K}SparseCategoricalCrossentropy(from_logits=True)",
                  f"{_K}SparseCategoricalCrossentropy(from_logits=False)"),
    versions=KERAS_3,
    kinds=("forward", "gradient"),
    trigger="a loss object built with dtype bfloat16 (index > 256 not a multiple of the "
            "spacing) or float16 (index > 2048)",
    explanation="Loss.__call__ converts y_true to the loss's dtype "
                "(ops.convert_to_tensor(y_true, dtype=self.dtype)) before "
                "sparse_categorical_crossentropy casts it back to an integer, so in "
                "bfloat16 class 257 becomes 256 and 489 becomes 488: the loss and gradient "
                "are those of a different class. The function form keeps integer labels.",
    link=f"{KERAS_LOSS_BASE} (Loss.__call__: convert_to_tensor(x, dtype=self.dtype) on y_true)",
    applies=_labels_round,
    model=_labels_in_dtype,
    example=_ex_labels_round,
    finding=_findings.SPARSE_LABELS_ROUNDED,
))


# -- loss classes computing in float32 ------------------------------------------------------------
def _float32_inputs(call: Call) -> Call:
    """What Keras' Loss.__call__ hands to the loss when the class was built without dtype:
    y_pred and y_true converted to keras.config.floatx() (float32), the sample weight cast
    to it in reduce_weighted_values, and the cotangent in the float32 output's dtype."""
    opts = dict(call.options)
    for name in ("weight", "sample_weight"):
        if opts.get(name) is not None:
            opts[name] = round_to(opts[name], "float32")
    tgt = call.target
    if tgt is not None and call.target_kind != "index":
        tgt = round_to(tgt, "float32")
    go = None if call.grad_output is None else round_to(call.grad_output, "float32")
    return call.replace(x=round_to(call.x, "float32"), target=tgt, options=opts,
                        grad_output=go, dtype="float32")


def _in_float32(*, sparse: bool) -> Callable[[Call], ModelResult]:
    """A Keras loss class built without dtype: the Keras model (every convention of
    keras_categorical / keras_binary) evaluated on the inputs rounded to float32, the
    loss rounded to float32 and the gradient (float32, cast back through the input's cast)
    rounded to float32."""
    def model(call: Call) -> ModelResult:
        c = _float32_inputs(call)
        if empty_reduced(c):
            return _empty_batch_unreduced(c)
        if c.op == "cross_entropy":
            fwd, grad = keras_categorical(c, from_logits=True, sparse=sparse)
        else:
            fwd, grad = keras_binary(c, from_logits=c.op == "binary_cross_entropy_with_logits")
        return round_to(fwd, "float32"), None if grad is None else round_to(grad, "float32")
    return model


def _ex_float32_categorical() -> Call:
    return example_call("cross_entropy", [[0.1, -1.3, 2.7, 0.3], [1.1, 0.7, -0.4, -2.2],
                                          [0.0, 3.3, -1.9, 1.7]],
                        target=[0, 1, 3], target_kind="index", options={"reduction": "sum"})


def _ex_float32_binary() -> Call:
    return example_call("binary_cross_entropy_with_logits",
                        [[0.1, -1.3, 2.7], [1.1, 0.7, -0.4]],
                        target=[[1.0, 0.0, 0.3], [0.0, 1.0, 0.9]], options={"reduction": "sum"})


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
_F32_SPARSE_EXPL = (" The integer labels are converted to float32 too (exact below 2**24, so "
                    "no class is changed in practice).")
_F32_LINK = (f"{KERAS_LOSS_BASE} (Loss.__init__: dtype_policies.get(dtype or backend.floatx()); "
             "Loss.__call__: ops.convert_to_tensor(x, dtype=self.dtype)); "
             "https://keras.io/api/losses/ (dtype argument)")
_F32_SLUG = {"cross_entropy": "cce", "binary_cross_entropy_with_logits": "bce"}


def _computes_in_float32(entry_point: str, op: str, sparse: bool) -> Divergence:
    """The entry for a loss class built without dtype (``entry_point``) computing ``op``."""
    cls = entry_point[len(_K):].split("(", 1)[0]
    return Divergence(
        id=f"keras-{'sparse-' if sparse else ''}{_F32_SLUG[op]}-class-computes-in-float32",
        title=f"Keras {cls}() without dtype computes float64 inputs in float32",
        framework="tensorflow",
        package="keras",
        entry_points=(entry_point,),
        versions=KERAS_3,
        kinds=("forward", "gradient"),
        trigger="float64 inputs to the loss class constructed without dtype",
        explanation=_F32_EXPL + (_F32_SPARSE_EXPL if sparse else ""),
        link=_F32_LINK,
        applies=lambda c: c.dtype == "float64" and c.op == op,
        model=_in_float32(sparse=sparse),
        example=_ex_float32_categorical if op == "cross_entropy" else _ex_float32_binary,
        compute_dtype="float32",
    )


FLOAT32_CLASSES = (
    (f"{_K}CategoricalCrossentropy(from_logits=True, dtype=None)", "cross_entropy", False),
    (f"{_K}SparseCategoricalCrossentropy(from_logits=True, dtype=None)", "cross_entropy", True),
    (f"{_K}BinaryCrossentropy(from_logits=True, dtype=None)",
     "binary_cross_entropy_with_logits", False),
)

DIVERGENCES: tuple[Divergence, ...] = tuple(_entries)
#: float16/bfloat16 corner cases, tried after the general entries (see divergences.py)
NARROW_DTYPE_DIVERGENCES: tuple[Divergence, ...] = tuple(_narrow)
#: loss classes computing in float32, tried last (see divergences.py)
FLOAT32_CLASS_DIVERGENCES: tuple[Divergence, ...] = tuple(
    _computes_in_float32(ep, op, sparse) for ep, op, sparse in FLOAT32_CLASSES)
