"""Keras 3 entry points on one backend, as users call them, with what each can express.

The same Keras entry points as the TensorFlow plug-in's Keras families (functions and loss
classes, ``from_logits`` both ways; the loss classes also as users usually build them, without
``dtype``; ``adapters/tensorflow/entry_points.py``), plus the ``keras.ops`` activations, written
as in user code with the backend appended (``keras.losses.CategoricalCrossentropy(from_logits=
True)@jax``): records are identified by entry-point name, so the names of the three backends
of one Keras version must differ. ``family`` picks the plan builder (``plans.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from lossconform.capabilities import lacks
from lossconform.contract import ALL_REDUCTIONS, ANY_AXIS, DTYPES, Capabilities, EntryPointSpec

BACKENDS: tuple[str, ...] = ("jax", "torch")
#: the backend package whose autodiff takes the gradient, per backend
GRADIENT_NOTE = {"jax": "gradient through jax.vjp (inside the jit-compiled function in mode "
                        "'jit', as model.fit's train step runs on JAX)",
                 "torch": "gradient through torch.autograd.grad (eager, Keras' default on torch)"}

ACT, K_CAT, K_SPARSE, K_BIN = "act", "k_cat", "k_sparse", "k_bin"
KERAS = (K_CAT, K_SPARSE, K_BIN)


@dataclass(frozen=True)
class Entry:
    spec: EntryPointSpec
    family: str
    expr: str = ""  # activations: the call template ({A}: the axis keyword)
    from_logits: bool | None = None
    loss_class: str | None = None  # "keras.losses.X" for the loss classes
    #: loss classes: whether the constructor gets dtype=call dtype (without it Keras computes
    #: in keras.config.floatx(), float32, whatever the input)
    dtype_arg: bool = True


_MISSING = {
    "weight": "{name} has no weights (class weights / element-wise rescaling) option",
    "pos_weight": "{name} has no pos_weight option (tf.nn.weighted_cross_entropy_with_logits "
                  "has, on the TensorFlow plug-in)",
    "sample_weight": "{name} has no sample weights option",
    "ignore_index": "{name} has no ignore_class (only the sparse Keras losses have it)",
    "label_smoothing": "{name} has no label smoothing option",
}
_CLASS_WEIGHTS = "Keras losses have no class weights; use sample_weight"
MISSING: dict[str, dict[str, str]] = {
    ACT: _MISSING,
    K_CAT: {**_MISSING, "weight": _CLASS_WEIGHTS},
    K_SPARSE: {**_MISSING, "weight": _CLASS_WEIGHTS,
               "ignore_index": "{name} has no ignore_index option",
               "label_smoothing": "the sparse Keras losses have no label_smoothing"},
    K_BIN: {**_MISSING,
            "weight": "{name} has no element weights (only the loss class's sample_weight, "
                      "applied after the mean over the last axis)",
            "sample_weight": "{name} applies sample_weight after the mean over the last axis; "
                             "an element-wise sample weight is passed as `weight` when constant "
                             "along that axis"},
}
_FUNCTION_SAMPLE_WEIGHT = ("{name} is a function returning per-item losses; sample_weight is "
                           "an argument of the loss classes only")


def _target_kinds(family: str, from_logits: bool | None) -> tuple[str | None, ...]:
    if family == ACT:
        return (None,)
    if family == K_BIN:
        return ("probs",)
    if family == K_SPARSE and from_logits:
        return ("index",)
    return ("index", "probs")


def _missing(name: str, family: str, function: bool, options: Sequence[str]) -> dict[str, str]:
    templates = dict(MISSING[family])
    if function and family in KERAS:
        templates["sample_weight"] = _FUNCTION_SAMPLE_WEIGHT
    return {opt: templates[opt].format(name=name) for opt in lacks(options)}


_REDUCE_FN = ("reduction 'none' is the function's per-item output; 'mean'/'sum' apply "
              "keras.ops.mean/keras.ops.sum to it, as a user would")
_REDUCE_CLS = ("reduction none->'none', sum->'sum', mean->'sum_over_batch_size' (divides by "
               "the number of loss items, not by the sum of sample weights)")
_SPARSE_AXIS = ("a class axis other than the last is moved last with keras.ops.moveaxis (as "
                "the TensorFlow plug-in does; the backend's axis argument is not used)")
_ONE_HOT = "index targets one-hot encoded with keras.ops.one_hot(target, C, axis=axis)"
_NOT_F32 = tuple(d for d in DTYPES if d != "float32")
_BIN_SHAPE = ("averages over the LAST axis, so 'none' has shape x.shape[:-1] (returned as is; "
              "no gradient for a cotangent of x's shape)")


def entries(backend: str) -> tuple[Entry, ...]:
    """The entry table of Keras on ``backend``: the names carry ``@backend``."""
    grad = GRADIENT_NOTE[backend]

    def ep(name: str, op: str, family: str, notes: str, *, expr: str = "",
           from_logits: bool | None = None, loss_class: str | None = None,
           options: Sequence[str] = (), dtypes: Sequence[str] = DTYPES,
           dtype_arg: bool = True, output_dtype: str | None = None) -> Entry:
        full = f"{name}@{backend}"
        caps = Capabilities(
            target_kinds=_target_kinds(family, from_logits),
            options=frozenset(options),
            reductions=("none",) if family == ACT else ALL_REDUCTIONS,
            class_axes=ANY_AXIS,
            devices=("cpu",),
            missing_option_reasons=_missing(full, family, loss_class is None, options),
            missing_target_reasons=(
                {"probs": f"{full} takes class indices only; use the categorical loss for "
                          "probability targets"} if family == K_SPARSE and from_logits else {}),
            output_dtype=output_dtype or (None if dtype_arg else "float32"),
        )
        return Entry(EntryPointSpec(full, op, tuple(dtypes),
                                    f"Keras 3 on the {backend} backend: {notes}; {grad}", caps),
                     family, expr, from_logits, loss_class, dtype_arg)

    K = "keras.losses."
    # jax: the sparse function one-hot encodes with jax.nn.one_hot(target, C) WITHOUT a dtype,
    # i.e. in JAX's default float type (float64 under JAX_ENABLE_X64, which the worker sets),
    # and -sum(one_hot * log_prob) promotes to it: the loss comes back in float64 whatever
    # the input's dtype (keras/src/backend/jax/nn.py at v3.15.1)
    sparse_out = "float64" if backend == "jax" else None
    sparse_note = ("; the output comes back in float64 (jax.nn.one_hot without dtype, x64 on)"
                   if backend == "jax" else "")
    return (
        ep("keras.ops.softmax", "softmax", ACT, "keras.ops.softmax(x, axis=axis)",
           expr="keras.ops.softmax(x, axis={A})"),
        ep("keras.ops.log_softmax", "log_softmax", ACT, "keras.ops.log_softmax(x, axis=axis)",
           expr="keras.ops.log_softmax(x, axis={A})"),
        ep("keras.ops.sigmoid", "sigmoid", ACT, "keras.ops.sigmoid(x)",
           expr="keras.ops.sigmoid(x)"),
        ep("keras.ops.log_sigmoid", "log_sigmoid", ACT, "keras.ops.log_sigmoid(x)",
           expr="keras.ops.log_sigmoid(x)"),
        ep(f"{K}categorical_crossentropy(from_logits=True)", "cross_entropy", K_CAT,
           f"from_logits=True, axis=axis; {_ONE_HOT}; {_REDUCE_FN}",
           from_logits=True, options=("label_smoothing",)),
        ep(f"{K}categorical_crossentropy(from_logits=False)", "categorical_crossentropy", K_CAT,
           f"from_logits=False, axis=axis; {_ONE_HOT}; {_REDUCE_FN}",
           from_logits=False, options=("label_smoothing",)),
        ep(f"{K}sparse_categorical_crossentropy(from_logits=True)", "cross_entropy", K_SPARSE,
           f"from_logits=True, index targets, ignore_index->ignore_class; {_SPARSE_AXIS}; "
           f"{_REDUCE_FN} (so ignored items count in the mean){sparse_note}",
           from_logits=True, options=("ignore_index",), output_dtype=sparse_out),
        ep(f"{K}sparse_categorical_crossentropy(from_logits=False)", "categorical_crossentropy",
           K_SPARSE, "from_logits=False; one-hot probability targets turned back into indices "
           f"(argmax), other targets unsupported; {_SPARSE_AXIS}; {_REDUCE_FN}{sparse_note}",
           from_logits=False, output_dtype=sparse_out),
        ep(f"{K}binary_crossentropy(from_logits=True)", "binary_cross_entropy_with_logits",
           K_BIN, f"from_logits=True; {_BIN_SHAPE}; {_REDUCE_FN}",
           from_logits=True, options=("label_smoothing",)),
        ep(f"{K}binary_crossentropy(from_logits=False)", "binary_cross_entropy", K_BIN,
           f"from_logits=False; {_BIN_SHAPE}; {_REDUCE_FN}",
           from_logits=False, options=("label_smoothing",)),
        ep(f"{K}CategoricalCrossentropy(from_logits=True)", "cross_entropy", K_CAT,
           f"loss object (from_logits=True, axis=axis, dtype=call dtype); {_ONE_HOT}; "
           f"{_REDUCE_CLS}; sample_weight passed to the call", from_logits=True,
           loss_class=f"{K}CategoricalCrossentropy", options=("label_smoothing", "sample_weight")),
        ep(f"{K}CategoricalCrossentropy(from_logits=False)", "categorical_crossentropy", K_CAT,
           f"loss object (from_logits=False, axis=axis, dtype=call dtype); {_ONE_HOT}; "
           f"{_REDUCE_CLS}; sample_weight passed to the call", from_logits=False,
           loss_class=f"{K}CategoricalCrossentropy", options=("label_smoothing", "sample_weight")),
        ep(f"{K}SparseCategoricalCrossentropy(from_logits=True)", "cross_entropy", K_SPARSE,
           f"loss object (from_logits=True, dtype=call dtype), ignore_index->ignore_class; "
           f"{_SPARSE_AXIS}; {_REDUCE_CLS}; sample_weight passed to the call", from_logits=True,
           loss_class=f"{K}SparseCategoricalCrossentropy",
           options=("ignore_index", "sample_weight")),
        ep(f"{K}SparseCategoricalCrossentropy(from_logits=False)", "categorical_crossentropy",
           K_SPARSE, "loss object (from_logits=False, dtype=call dtype); one-hot probability "
           f"targets turned back into indices (argmax); {_SPARSE_AXIS}; {_REDUCE_CLS}; "
           "sample_weight passed to the call", from_logits=False,
           loss_class=f"{K}SparseCategoricalCrossentropy", options=("sample_weight",)),
        ep(f"{K}BinaryCrossentropy(from_logits=True)", "binary_cross_entropy_with_logits", K_BIN,
           f"loss object (from_logits=True, dtype=call dtype); {_BIN_SHAPE}; {_REDUCE_CLS}; an "
           "element weight constant along the last axis is passed as sample_weight=weight[..., 0]",
           from_logits=True, loss_class=f"{K}BinaryCrossentropy",
           options=("label_smoothing", "weight")),
        ep(f"{K}BinaryCrossentropy(from_logits=False)", "binary_cross_entropy", K_BIN,
           f"loss object (from_logits=False, dtype=call dtype); {_BIN_SHAPE}; {_REDUCE_CLS}; an "
           "element weight constant along the last axis is passed as sample_weight=weight[..., 0]",
           from_logits=False, loss_class=f"{K}BinaryCrossentropy",
           options=("label_smoothing", "weight")),
        # the loss classes as users usually build them: WITHOUT dtype (float32 computation)
        ep(f"{K}CategoricalCrossentropy(from_logits=True, dtype=None)", "cross_entropy", K_CAT,
           f"loss object (from_logits=True, axis=axis, NO dtype: computes in float32); "
           f"{_ONE_HOT}; {_REDUCE_CLS}; sample_weight passed to the call", from_logits=True,
           loss_class=f"{K}CategoricalCrossentropy", options=("label_smoothing", "sample_weight"),
           dtypes=_NOT_F32, dtype_arg=False),
        ep(f"{K}SparseCategoricalCrossentropy(from_logits=True, dtype=None)", "cross_entropy",
           K_SPARSE, "loss object (from_logits=True, NO dtype: computes in float32), "
           f"ignore_index->ignore_class; {_SPARSE_AXIS}; {_REDUCE_CLS}; sample_weight passed",
           from_logits=True, loss_class=f"{K}SparseCategoricalCrossentropy",
           options=("ignore_index", "sample_weight"), dtypes=_NOT_F32, dtype_arg=False),
        ep(f"{K}BinaryCrossentropy(from_logits=True, dtype=None)",
           "binary_cross_entropy_with_logits", K_BIN,
           f"loss object (from_logits=True, NO dtype: computes in float32); {_BIN_SHAPE}; "
           f"{_REDUCE_CLS}; an element weight constant along the last axis is passed as "
           "sample_weight=weight[..., 0]", from_logits=True,
           loss_class=f"{K}BinaryCrossentropy", options=("label_smoothing", "weight"),
           dtypes=_NOT_F32, dtype_arg=False),
    )


ENTRIES: dict[str, tuple[Entry, ...]] = {b: entries(b) for b in BACKENDS}
BY_NAME: dict[str, Entry] = {e.spec.name: e for b in BACKENDS for e in ENTRIES[b]}

__all__ = ["BACKENDS", "BY_NAME", "ENTRIES", "Entry", "entries"]
