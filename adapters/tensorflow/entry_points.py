"""TensorFlow / Keras 3 entry points as users call them, with what each can express.

One row per public function or loss class: the canonical op it computes, the dtypes it
accepts, how the canonical call maps onto it (``notes``, shown in the report) and its
``Capabilities`` (target kinds, options, reductions, devices), from which
``Adapter.unsupported`` derives every "unsupported" reason. ``family`` picks the plan builder
(``plans.py``) that writes the call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from lossconform.capabilities import lacks
from lossconform.contract import ALL_REDUCTIONS, ANY_AXIS, DTYPES, Capabilities, EntryPointSpec

DEVICES = ("cpu", "gpu")

# Families: how an entry point is called. Each family has one plan builder (plans.BUILDERS).
ACT, TF_SOFTMAX_CE, TF_SPARSE_CE, TF_SIGMOID_CE, TF_WEIGHTED_CE = (
    "act", "tf_softmax_ce", "tf_sparse_ce", "tf_sigmoid_ce", "tf_weighted_ce")
K_CAT, K_SPARSE, K_BIN = "k_cat", "k_sparse", "k_bin"
KERAS = (K_CAT, K_SPARSE, K_BIN)


@dataclass(frozen=True)
class Entry:
    spec: EntryPointSpec
    family: str
    expr: str = ""  # for activations: the call template
    from_logits: bool | None = None
    loss_class: str | None = None  # "keras.losses.X" for the loss classes
    #: loss classes: whether the constructor gets dtype=call dtype. Without it Keras computes
    #: in the global policy's float type (keras.config.floatx(), float32) whatever the input.
    dtype_arg: bool = True


def _target_kinds(family: str, from_logits: bool | None) -> tuple[str | None, ...]:
    """Index targets are one-hot encoded for the probability-target calls; the sparse Keras
    losses on probabilities take one-hot probability targets back to indices (argmax)."""
    if family == ACT:
        return (None,)
    if family in (TF_SIGMOID_CE, TF_WEIGHTED_CE, K_BIN):
        return ("probs",)  # float targets of x's shape
    if family == TF_SPARSE_CE or (family == K_SPARSE and from_logits):
        return ("index",)
    return ("index", "probs")


# What users read when an option is missing, per family ({name}: the entry point's name).
_TF_NN_MISSING = {
    "weight": "{name} has no weights (class weights / element-wise rescaling) option",
    "pos_weight": "{name} has no pos_weight option",
    "sample_weight": "{name} has no sample weights option",
    "ignore_index": "{name} has no ignore_index option",
    "label_smoothing": "{name} has no label smoothing option",
}
_KERAS_MISSING = {
    **_TF_NN_MISSING,
    "pos_weight": "{name} has no pos_weight (tf.nn.weighted_cross_entropy_with_logits has)",
    "ignore_index": "{name} has no ignore_class (only the sparse Keras losses have it)",
}
_KERAS_CLASS_WEIGHTS = "Keras losses have no class weights; use sample_weight"
MISSING_OPTION_REASONS: dict[str, dict[str, str]] = {
    **{fam: _TF_NN_MISSING for fam in (ACT, TF_SOFTMAX_CE, TF_SPARSE_CE, TF_SIGMOID_CE,
                                      TF_WEIGHTED_CE)},
    K_CAT: {**_KERAS_MISSING, "weight": _KERAS_CLASS_WEIGHTS},
    K_SPARSE: {**_KERAS_MISSING, "weight": _KERAS_CLASS_WEIGHTS,
               "ignore_index": _TF_NN_MISSING["ignore_index"],
               "label_smoothing": "the sparse Keras losses have no label_smoothing"},
    K_BIN: {**_KERAS_MISSING,
            "weight": "{name} has no element weights (only the loss class's sample_weight, "
                      "applied after the mean over the last axis)",
            "sample_weight": "{name} applies sample_weight after the mean over the last axis; "
                             "an element-wise sample weight is passed as `weight` when constant "
                             "along that axis"},
}
#: the Keras loss *functions* (not classes) have no sample_weight argument at all
_KERAS_FUNCTION_SAMPLE_WEIGHT = ("{name} is a function returning per-item losses; "
                                 "sample_weight is an argument of the loss classes only")


def _ep(name: str, op: str, family: str, notes: str, *, expr: str = "",
        from_logits: bool | None = None, loss_class: str | None = None,
        options: Sequence[str] = (), dtypes: Sequence[str] = DTYPES,
        dtype_arg: bool = True) -> Entry:
    caps = Capabilities(
        target_kinds=_target_kinds(family, from_logits),
        options=frozenset(options),
        reductions=("none",) if family == ACT else ALL_REDUCTIONS,
        class_axes=ANY_AXIS,  # passed as axis=, one-hot along it, or moved last (tf.transpose)
        devices=DEVICES,
        missing_option_reasons=_missing(name, family, loss_class is None, options),
        missing_target_reasons=_missing_target(name, family, from_logits),
        # a loss class built without dtype computes and returns in keras.config.floatx()
        output_dtype=None if dtype_arg else "float32",
    )
    return Entry(EntryPointSpec(name, op, tuple(dtypes), notes, caps), family, expr,
                 from_logits, loss_class, dtype_arg)


def _missing_target(name: str, family: str, from_logits: bool | None) -> dict[str, str]:
    """The sparse losses take class indices only: say which loss takes probabilities."""
    if family == TF_SPARSE_CE:
        other = "tf.nn.softmax_cross_entropy_with_logits"
    elif family == K_SPARSE and from_logits:
        other = "the categorical loss"
    else:
        return {}
    return {"probs": f"{name} takes class indices only; use {other} for probability targets"}


def _missing(name: str, family: str, function: bool, options: Sequence[str]) -> dict[str, str]:
    templates = dict(MISSING_OPTION_REASONS[family])
    if function and family in KERAS:
        templates["sample_weight"] = _KERAS_FUNCTION_SAMPLE_WEIGHT
    return {opt: templates[opt].format(name=name) for opt in lacks(options)}


_REDUCE_FN = "reduction 'none' is the function's per-item output; 'mean'/'sum' apply " \
             "tf.reduce_mean/tf.reduce_sum to it, as a user would"
_REDUCE_CLS = "reduction none->'none', sum->'sum', mean->'sum_over_batch_size' " \
              "(divides by the number of loss items, not by the sum of sample weights)"
_SPARSE_AXIS = "a class axis other than the last is moved last with tf.transpose " \
               "(the TF backend rejects axis != -1)"
_NOT_F32 = tuple(d for d in DTYPES if d != "float32")
_ONE_HOT = "index targets are one-hot encoded with tf.one_hot(target, C, axis=axis)"

ENTRIES: tuple[Entry, ...] = (
    _ep("tf.nn.softmax", "softmax", ACT, "tf.nn.softmax(x, axis=axis)",
        expr="tf.nn.softmax(x, axis={A})"),
    _ep("tf.nn.log_softmax", "log_softmax", ACT, "tf.nn.log_softmax(x, axis=axis)",
        expr="tf.nn.log_softmax(x, axis={A})"),
    _ep("tf.math.sigmoid", "sigmoid", ACT, "tf.math.sigmoid(x)", expr="tf.math.sigmoid(x)"),
    _ep("tf.math.log_sigmoid", "log_sigmoid", ACT, "tf.math.log_sigmoid(x)",
        expr="tf.math.log_sigmoid(x)"),
    _ep("tf.nn.softmax_cross_entropy_with_logits", "cross_entropy", TF_SOFTMAX_CE,
        f"labels=probability targets ({_ONE_HOT}), axis=axis; {_REDUCE_FN}; no class weights, "
        "ignore_index, label smoothing or sample weights"),
    _ep("tf.nn.sparse_softmax_cross_entropy_with_logits", "cross_entropy", TF_SPARSE_CE,
        f"index targets only, classes last: {_SPARSE_AXIS}; {_REDUCE_FN}; no class weights, "
        "ignore_index, label smoothing or sample weights"),
    _ep("tf.nn.sigmoid_cross_entropy_with_logits", "binary_cross_entropy_with_logits",
        TF_SIGMOID_CE, f"element-wise; {_REDUCE_FN}; no weight, pos_weight, label smoothing "
        "or sample weights"),
    _ep("tf.nn.weighted_cross_entropy_with_logits", "binary_cross_entropy_with_logits",
        TF_WEIGHTED_CE, f"pos_weight=pos_weight (1.0 when absent), element-wise; {_REDUCE_FN}; "
        "no weight, label smoothing or sample weights", options=("pos_weight",)),
    _ep("tf.keras.losses.categorical_crossentropy(from_logits=True)", "cross_entropy", K_CAT,
        f"from_logits=True, axis=axis; {_ONE_HOT}; {_REDUCE_FN}",
        from_logits=True, options=("label_smoothing",)),
    _ep("tf.keras.losses.categorical_crossentropy(from_logits=False)",
        "categorical_crossentropy", K_CAT,
        f"from_logits=False, axis=axis; {_ONE_HOT}; {_REDUCE_FN}",
        from_logits=False, options=("label_smoothing",)),
    _ep("tf.keras.losses.sparse_categorical_crossentropy(from_logits=True)", "cross_entropy",
        K_SPARSE, f"from_logits=True, index targets, ignore_index->ignore_class; {_SPARSE_AXIS}; "
        f"{_REDUCE_FN} (so ignored items count in the mean)",
        from_logits=True, options=("ignore_index",)),
    _ep("tf.keras.losses.sparse_categorical_crossentropy(from_logits=False)",
        "categorical_crossentropy", K_SPARSE,
        "from_logits=False; one-hot probability targets are turned back into indices "
        f"(argmax), other targets are unsupported; {_SPARSE_AXIS}; {_REDUCE_FN}",
        from_logits=False),
    _ep("tf.keras.losses.binary_crossentropy(from_logits=True)",
        "binary_cross_entropy_with_logits", K_BIN,
        "from_logits=True; Keras averages over the LAST axis, so 'none' has shape x.shape[:-1] "
        f"(returned as is; no gradient for a cotangent of x's shape); {_REDUCE_FN} (a sum of row means is not the element sum)",
        from_logits=True, options=("label_smoothing",)),
    _ep("tf.keras.losses.binary_crossentropy(from_logits=False)", "binary_cross_entropy",
        K_BIN, "from_logits=False; Keras averages over the LAST axis, so 'none' has shape "
        f"x.shape[:-1] (returned as is; no gradient for a cotangent of x's shape); {_REDUCE_FN} (a sum of row means is not the element "
        "sum)", from_logits=False, options=("label_smoothing",)),
    _ep("tf.keras.losses.CategoricalCrossentropy(from_logits=True)", "cross_entropy", K_CAT,
        f"loss object (from_logits=True, axis=axis, dtype=call dtype); {_ONE_HOT}; {_REDUCE_CLS}; "
        "sample_weight passed to the call", from_logits=True,
        loss_class="keras.losses.CategoricalCrossentropy",
        options=("label_smoothing", "sample_weight")),
    _ep("tf.keras.losses.CategoricalCrossentropy(from_logits=False)",
        "categorical_crossentropy", K_CAT,
        f"loss object (from_logits=False, axis=axis, dtype=call dtype); {_ONE_HOT}; "
        f"{_REDUCE_CLS}; sample_weight passed to the call", from_logits=False,
        loss_class="keras.losses.CategoricalCrossentropy",
        options=("label_smoothing", "sample_weight")),
    _ep("tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)", "cross_entropy",
        K_SPARSE, f"loss object (from_logits=True, dtype=call dtype), ignore_index->ignore_class; "
        f"{_SPARSE_AXIS}; {_REDUCE_CLS}; sample_weight passed to the call", from_logits=True,
        loss_class="keras.losses.SparseCategoricalCrossentropy",
        options=("ignore_index", "sample_weight")),
    _ep("tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False)",
        "categorical_crossentropy", K_SPARSE,
        "loss object (from_logits=False, dtype=call dtype); one-hot probability targets turned "
        f"back into indices (argmax); {_SPARSE_AXIS}; {_REDUCE_CLS}; sample_weight passed to the "
        "call", from_logits=False, loss_class="keras.losses.SparseCategoricalCrossentropy",
        options=("sample_weight",)),
    _ep("tf.keras.losses.BinaryCrossentropy(from_logits=True)",
        "binary_cross_entropy_with_logits", K_BIN,
        "loss object (from_logits=True, dtype=call dtype); averages over the LAST axis first "
        f"('none' has shape x.shape[:-1], no gradient for a cotangent of x's shape); {_REDUCE_CLS}; an element weight constant along the "
        "last axis is passed as sample_weight=weight[..., 0]", from_logits=True,
        loss_class="keras.losses.BinaryCrossentropy", options=("label_smoothing", "weight")),
    _ep("tf.keras.losses.BinaryCrossentropy(from_logits=False)", "binary_cross_entropy", K_BIN,
        "loss object (from_logits=False, dtype=call dtype); averages over the LAST axis first "
        f"('none' has shape x.shape[:-1], no gradient for a cotangent of x's shape); {_REDUCE_CLS}; an element weight constant along the "
        "last axis is passed as sample_weight=weight[..., 0]", from_logits=False,
        loss_class="keras.losses.BinaryCrossentropy", options=("label_smoothing", "weight")),
    # The loss classes as users usually build them: WITHOUT dtype. Loss.__call__ then converts
    # y_true and y_pred to the global policy's float type (float32), computes and reduces in
    # it and returns a float32 loss for float16, bfloat16 and float64 inputs alike (the
    # gradient flows back through the cast, in the input's dtype). float32 inputs are exactly
    # the entries above, so only the other dtypes are declared.
    _ep("tf.keras.losses.CategoricalCrossentropy(from_logits=True, dtype=None)",
        "cross_entropy", K_CAT,
        f"loss object (from_logits=True, axis=axis, NO dtype: computes in float32); {_ONE_HOT}; "
        f"{_REDUCE_CLS}; sample_weight passed to the call", from_logits=True,
        loss_class="keras.losses.CategoricalCrossentropy",
        options=("label_smoothing", "sample_weight"), dtypes=_NOT_F32, dtype_arg=False),
    _ep("tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=None)",
        "cross_entropy", K_SPARSE,
        "loss object (from_logits=True, NO dtype: computes in float32), "
        f"ignore_index->ignore_class; {_SPARSE_AXIS}; {_REDUCE_CLS}; sample_weight passed to "
        "the call", from_logits=True, loss_class="keras.losses.SparseCategoricalCrossentropy",
        options=("ignore_index", "sample_weight"), dtypes=_NOT_F32, dtype_arg=False),
    _ep("tf.keras.losses.BinaryCrossentropy(from_logits=True, dtype=None)",
        "binary_cross_entropy_with_logits", K_BIN,
        "loss object (from_logits=True, NO dtype: computes in float32); averages over the LAST "
        "axis first ('none' has shape x.shape[:-1], no gradient for a cotangent of x's shape); "
        f"{_REDUCE_CLS}; an element weight constant along the last axis is passed as "
        "sample_weight=weight[..., 0]", from_logits=True,
        loss_class="keras.losses.BinaryCrossentropy", options=("label_smoothing", "weight"),
        dtypes=_NOT_F32, dtype_arg=False),
)
BY_NAME: dict[str, Entry] = {e.spec.name: e for e in ENTRIES}

__all__ = ["BY_NAME", "DEVICES", "ENTRIES", "Entry"]
