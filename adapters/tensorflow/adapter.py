"""TensorFlow / Keras 3 adapter: ``tf.nn`` functions, ``keras.losses`` functions and classes.

Each entry point maps a canonical :class:`~lossconform.contract.Call` onto one public TensorFlow or
Keras call, written once as a small *plan*: the tensors to build (each a NumPy expression over
the suite's arrays ``x``, ``target``, ``weight``, ``pos_weight``, ``sample_weight``), an optional
loss-object constructor and one Python expression. :meth:`evaluate` runs exactly that
expression (compiled once, eagerly, under ``tf.GradientTape``) and :meth:`repro` prints it, so
the snippet in a report is the code that produced the number.

TensorFlow is imported lazily (inside methods): importing this module never imports it.
``TF_CPP_MIN_LOG_LEVEL`` defaults to "2" before the import; ``TF_ENABLE_ONEDNN_OPTS`` is left
as the environment has it (each run's results record its value).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from lossconform.contract import DTYPES, Adapter, Call, EntryPointSpec, Evaluation, Output, Unsupported

from . import invalid as _invalid
from .divergences import DIVERGENCES

#: Keras 3 source, as read for the installed keras 3.15.1 (cited below).
_KS = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src"
_TF_DOC = "https://www.tensorflow.org/api_docs/python/"

# Families: how an entry point is called. Each family has one plan builder below.
_ACT, _TF_SOFTMAX_CE, _TF_SPARSE_CE, _TF_SIGMOID_CE, _TF_WEIGHTED_CE = (
    "act", "tf_softmax_ce", "tf_sparse_ce", "tf_sigmoid_ce", "tf_weighted_ce")
_K_CAT, _K_SPARSE, _K_BIN = "k_cat", "k_sparse", "k_bin"


@dataclass(frozen=True)
class _Entry:
    spec: EntryPointSpec
    family: str
    expr: str = ""  # for activations: the call template
    from_logits: bool | None = None
    loss_class: str | None = None  # "keras.losses.X" for the loss classes
    options: frozenset[str] = frozenset()  # canonical options it can express (besides reduction)
    #: loss classes: whether the constructor gets dtype=call dtype. Without it Keras computes
    #: in the global policy's float type (keras.config.floatx(), float32) whatever the input.
    dtype_arg: bool = True


def _ep(name: str, op: str, family: str, notes: str, *, expr: str = "",
        from_logits: bool | None = None, loss_class: str | None = None,
        options: Sequence[str] = (), dtypes: Sequence[str] = DTYPES,
        dtype_arg: bool = True) -> _Entry:
    return _Entry(EntryPointSpec(name, op, tuple(dtypes), notes), family, expr, from_logits,
                  loss_class, frozenset(options), dtype_arg)


_REDUCE_FN = "reduction 'none' is the function's per-item output; 'mean'/'sum' apply " \
             "tf.reduce_mean/tf.reduce_sum to it, as a user would"
_REDUCE_CLS = "reduction none->'none', sum->'sum', mean->'sum_over_batch_size' " \
              "(divides by the number of loss items, not by the sum of sample weights)"
_SPARSE_AXIS = "a class axis other than the last is moved last with tf.transpose " \
               "(the TF backend rejects axis != -1)"
_NOT_F32 = tuple(d for d in DTYPES if d != "float32")
_ONE_HOT = "index targets are one-hot encoded with tf.one_hot(target, C, axis=axis)"

_ENTRIES: tuple[_Entry, ...] = (
    _ep("tf.nn.softmax", "softmax", _ACT, "tf.nn.softmax(x, axis=axis)",
        expr="tf.nn.softmax(x, axis={A})"),
    _ep("tf.nn.log_softmax", "log_softmax", _ACT, "tf.nn.log_softmax(x, axis=axis)",
        expr="tf.nn.log_softmax(x, axis={A})"),
    _ep("tf.math.sigmoid", "sigmoid", _ACT, "tf.math.sigmoid(x)", expr="tf.math.sigmoid(x)"),
    _ep("tf.math.log_sigmoid", "log_sigmoid", _ACT, "tf.math.log_sigmoid(x)",
        expr="tf.math.log_sigmoid(x)"),
    _ep("tf.nn.softmax_cross_entropy_with_logits", "cross_entropy", _TF_SOFTMAX_CE,
        f"labels=probability targets ({_ONE_HOT}), axis=axis; {_REDUCE_FN}; no class weights, "
        "ignore_index, label smoothing or sample weights"),
    _ep("tf.nn.sparse_softmax_cross_entropy_with_logits", "cross_entropy", _TF_SPARSE_CE,
        f"index targets only, classes last: {_SPARSE_AXIS}; {_REDUCE_FN}; no class weights, "
        "ignore_index, label smoothing or sample weights"),
    _ep("tf.nn.sigmoid_cross_entropy_with_logits", "binary_cross_entropy_with_logits",
        _TF_SIGMOID_CE, f"element-wise; {_REDUCE_FN}; no weight, pos_weight, label smoothing "
        "or sample weights"),
    _ep("tf.nn.weighted_cross_entropy_with_logits", "binary_cross_entropy_with_logits",
        _TF_WEIGHTED_CE, f"pos_weight=pos_weight (1.0 when absent), element-wise; {_REDUCE_FN}; "
        "no weight, label smoothing or sample weights", options=("pos_weight",)),
    _ep("tf.keras.losses.categorical_crossentropy(from_logits=True)", "cross_entropy", _K_CAT,
        f"from_logits=True, axis=axis; {_ONE_HOT}; {_REDUCE_FN}",
        from_logits=True, options=("label_smoothing",)),
    _ep("tf.keras.losses.categorical_crossentropy(from_logits=False)",
        "categorical_crossentropy", _K_CAT,
        f"from_logits=False, axis=axis; {_ONE_HOT}; {_REDUCE_FN}",
        from_logits=False, options=("label_smoothing",)),
    _ep("tf.keras.losses.sparse_categorical_crossentropy(from_logits=True)", "cross_entropy",
        _K_SPARSE, f"from_logits=True, index targets, ignore_index->ignore_class; {_SPARSE_AXIS}; "
        f"{_REDUCE_FN} (so ignored items count in the mean)",
        from_logits=True, options=("ignore_index",)),
    _ep("tf.keras.losses.sparse_categorical_crossentropy(from_logits=False)",
        "categorical_crossentropy", _K_SPARSE,
        "from_logits=False; one-hot probability targets are turned back into indices "
        f"(argmax), other targets are unsupported; {_SPARSE_AXIS}; {_REDUCE_FN}",
        from_logits=False),
    _ep("tf.keras.losses.binary_crossentropy(from_logits=True)",
        "binary_cross_entropy_with_logits", _K_BIN,
        "from_logits=True; Keras averages over the LAST axis, so 'none' has shape x.shape[:-1] "
        f"(returned as is; no gradient for a cotangent of x's shape); {_REDUCE_FN} (a sum of row means is not the element sum)",
        from_logits=True, options=("label_smoothing",)),
    _ep("tf.keras.losses.binary_crossentropy(from_logits=False)", "binary_cross_entropy",
        _K_BIN, "from_logits=False; Keras averages over the LAST axis, so 'none' has shape "
        f"x.shape[:-1] (returned as is; no gradient for a cotangent of x's shape); {_REDUCE_FN} (a sum of row means is not the element "
        "sum)", from_logits=False, options=("label_smoothing",)),
    _ep("tf.keras.losses.CategoricalCrossentropy(from_logits=True)", "cross_entropy", _K_CAT,
        f"loss object (from_logits=True, axis=axis, dtype=call dtype); {_ONE_HOT}; {_REDUCE_CLS}; "
        "sample_weight passed to the call", from_logits=True,
        loss_class="keras.losses.CategoricalCrossentropy",
        options=("label_smoothing", "sample_weight")),
    _ep("tf.keras.losses.CategoricalCrossentropy(from_logits=False)",
        "categorical_crossentropy", _K_CAT,
        f"loss object (from_logits=False, axis=axis, dtype=call dtype); {_ONE_HOT}; "
        f"{_REDUCE_CLS}; sample_weight passed to the call", from_logits=False,
        loss_class="keras.losses.CategoricalCrossentropy",
        options=("label_smoothing", "sample_weight")),
    _ep("tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)", "cross_entropy",
        _K_SPARSE, f"loss object (from_logits=True, dtype=call dtype), ignore_index->ignore_class; "
        f"{_SPARSE_AXIS}; {_REDUCE_CLS}; sample_weight passed to the call", from_logits=True,
        loss_class="keras.losses.SparseCategoricalCrossentropy",
        options=("ignore_index", "sample_weight")),
    _ep("tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False)",
        "categorical_crossentropy", _K_SPARSE,
        "loss object (from_logits=False, dtype=call dtype); one-hot probability targets turned "
        f"back into indices (argmax); {_SPARSE_AXIS}; {_REDUCE_CLS}; sample_weight passed to the "
        "call", from_logits=False, loss_class="keras.losses.SparseCategoricalCrossentropy",
        options=("sample_weight",)),
    _ep("tf.keras.losses.BinaryCrossentropy(from_logits=True)",
        "binary_cross_entropy_with_logits", _K_BIN,
        "loss object (from_logits=True, dtype=call dtype); averages over the LAST axis first "
        f"('none' has shape x.shape[:-1], no gradient for a cotangent of x's shape); {_REDUCE_CLS}; an element weight constant along the "
        "last axis is passed as sample_weight=weight[..., 0]", from_logits=True,
        loss_class="keras.losses.BinaryCrossentropy", options=("label_smoothing", "weight")),
    _ep("tf.keras.losses.BinaryCrossentropy(from_logits=False)", "binary_cross_entropy", _K_BIN,
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
        "cross_entropy", _K_CAT,
        f"loss object (from_logits=True, axis=axis, NO dtype: computes in float32); {_ONE_HOT}; "
        f"{_REDUCE_CLS}; sample_weight passed to the call", from_logits=True,
        loss_class="keras.losses.CategoricalCrossentropy",
        options=("label_smoothing", "sample_weight"), dtypes=_NOT_F32, dtype_arg=False),
    _ep("tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=None)",
        "cross_entropy", _K_SPARSE,
        "loss object (from_logits=True, NO dtype: computes in float32), "
        f"ignore_index->ignore_class; {_SPARSE_AXIS}; {_REDUCE_CLS}; sample_weight passed to "
        "the call", from_logits=True, loss_class="keras.losses.SparseCategoricalCrossentropy",
        options=("ignore_index", "sample_weight"), dtypes=_NOT_F32, dtype_arg=False),
    _ep("tf.keras.losses.BinaryCrossentropy(from_logits=True, dtype=None)",
        "binary_cross_entropy_with_logits", _K_BIN,
        "loss object (from_logits=True, NO dtype: computes in float32); averages over the LAST "
        "axis first ('none' has shape x.shape[:-1], no gradient for a cotangent of x's shape); "
        f"{_REDUCE_CLS}; an element weight constant along the last axis is passed as "
        "sample_weight=weight[..., 0]", from_logits=True,
        loss_class="keras.losses.BinaryCrossentropy", options=("label_smoothing", "weight"),
        dtypes=_NOT_F32, dtype_arg=False),
)
_BY_NAME: dict[str, _Entry] = {e.spec.name: e for e in _ENTRIES}

_OPTION_WORDS = {
    "weight": "weights (class weights / element-wise rescaling)",
    "pos_weight": "pos_weight",
    "sample_weight": "sample weights",
    "ignore_index": "ignore_index",
    "label_smoothing": "label smoothing",
}
_CLASS_KEY = {"cross_entropy", "categorical_crossentropy"}


@dataclass(frozen=True)
class _Plan:
    tensors: tuple[tuple[str, str, str], ...]  # (name, NumPy expression, dtype)
    ctor: str | None  # "keras.losses.X(...)" bound to `loss_fn`, or None
    expr: str  # the call, over tf, keras, x, the tensors and loss_fn
    #: False where the canonical cotangent does not fit the output (Keras binary 'none',
    #: shape x.shape[:-1]): the forward still runs, the gradient is reported as not given.
    grad: bool = True


class _Reason(Exception):
    """Internal: carries an 'unsupported' reason out of the plan builders."""


@lru_cache(maxsize=None)
def _compiled(source: str) -> Any:
    return compile(source, "<lossconform-tensorflow>", "eval")


def _option_set(call: Call, name: str) -> bool:
    v = call.option(name)
    if name == "label_smoothing":
        return v is not None and float(v) != 0.0
    return v is not None


def _reduce(expr: str, reduction: str) -> str:
    return {"none": expr, "mean": f"tf.reduce_mean({expr})", "sum": f"tf.reduce_sum({expr})"}[
        reduction]


def _axis(call: Call) -> int:
    nd = call.x.ndim
    if nd == 0 or not -nd <= call.axis < nd:
        raise _Reason(f"class axis {call.axis} is out of range for x of shape {call.x.shape}")
    a = call.axis % nd
    return -1 if a == nd - 1 else a


def _to_last(call: Call) -> str:
    """``x`` with the class axis moved last (tf.transpose), as source."""
    a = _axis(call)
    if a == -1:
        return "x"
    perm = [i for i in range(call.x.ndim) if i != a] + [a]
    return f"tf.transpose(x, perm={perm})"


def _probs_target(call: Call) -> tuple[tuple[str, str, str], str]:
    """The probability-target tensor and its source: as given, or one-hot from indices."""
    if call.target_kind == "index":
        a = _axis(call)
        depth = call.x.shape[a]
        return ("t", "target", "int64"), f"tf.one_hot(t, {depth}, axis={a}, dtype=x.dtype)"
    return ("t", "target", call.dtype), "t"


def _index_target(call: Call) -> tuple[str, str, str]:
    """The index-target tensor: as given, or argmax of exactly one-hot probability targets."""
    if call.target_kind == "index":
        return ("t", "target", "int64")
    a = call.axis % call.x.ndim
    tgt = np.asarray(call.target)
    if tgt.shape != call.x.shape or not (np.all((tgt == 0) | (tgt == 1))
                                         and np.all(tgt.sum(axis=a) == 1)):
        raise _Reason("sparse Keras losses take class indices; these probability targets "
                      "are not one-hot, so they have no index form")
    return ("t", f"np.argmax(target, axis={a})", "int64")


def _sample_weight(call: Call) -> tuple[str, str, str]:
    """Sample weights broadcast to the item shape (x without its class axis), as a tensor spec."""
    a = call.axis % call.x.ndim
    items = tuple(d for i, d in enumerate(call.x.shape) if i != a)
    if np.shape(call.option("sample_weight")) == items:
        return ("sw", "sample_weight", call.dtype)
    return ("sw", f"np.broadcast_to(sample_weight, {items})", call.dtype)


def _kwargs(**kw: Any) -> str:
    return "".join(f", {k}={v!r}" for k, v in kw.items())


def _build_plan(e: _Entry, call: Call) -> _Plan:
    """How ``e`` computes ``call``; raises _Reason with the reason when it cannot."""
    if call.op != e.spec.op:
        raise _Reason(f"{e.spec.name} computes {e.spec.op}, not {call.op}")
    if call.dtype not in e.spec.dtypes:
        raise _Reason(f"{e.spec.name} does not accept {call.dtype}")
    if e.family == _ACT:
        return _Plan((), None, e.expr.format(A=_axis(call) if "{A}" in e.expr else 0))
    for name, words in _OPTION_WORDS.items():
        if _option_set(call, name) and name not in e.options:
            raise _Reason(_no_option_reason(e, name, words))
    red = call.reduction
    if red not in ("none", "mean", "sum"):
        raise _Reason(f"unknown reduction {red!r}")
    if e.spec.op in _CLASS_KEY and call.target_kind not in ("index", "probs"):
        raise _Reason(f"target_kind {call.target_kind!r} is neither 'index' nor 'probs'")
    if call.target is None:
        raise _Reason("no target given")
    fam, fl = e.family, e.from_logits
    tensors: list[tuple[str, str, str]] = []
    ls = float(call.option("label_smoothing") or 0.0)

    if fam == _TF_SOFTMAX_CE:
        t, labels = _probs_target(call)
        expr = f"tf.nn.softmax_cross_entropy_with_logits(labels={labels}, logits=x, " \
               f"axis={_axis(call)})"
        return _Plan((t,), None, _reduce(expr, red))
    if fam == _TF_SPARSE_CE:
        if call.target_kind != "index":
            raise _Reason("tf.nn.sparse_softmax_cross_entropy_with_logits takes class "
                          "indices only; use tf.nn.softmax_cross_entropy_with_logits for "
                          "probability targets")
        expr = f"tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits={_to_last(call)})"
        return _Plan((("t", "target", "int64"),), None, _reduce(expr, red))
    if fam == _TF_SIGMOID_CE:
        expr = "tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=x)"
        return _Plan((("t", "target", call.dtype),), None, _reduce(expr, red))
    if fam == _TF_WEIGHTED_CE:
        tensors.append(("t", "target", call.dtype))
        pw = "1.0"
        if call.option("pos_weight") is not None:
            tensors.append(("pw", "pos_weight", call.dtype))
            pw = "pw"
        expr = f"tf.nn.weighted_cross_entropy_with_logits(labels=t, logits=x, pos_weight={pw})"
        return _Plan(tuple(tensors), None, _reduce(expr, red))

    sw = call.option("sample_weight") is not None
    if fam == _K_CAT:
        t, labels = _probs_target(call)
        tensors.append(t)
        a = _axis(call)
        kw = dict(from_logits=fl)
        if ls:
            kw["label_smoothing"] = ls
        if a != -1:
            kw["axis"] = a
        if e.loss_class is None:
            expr = f"keras.losses.categorical_crossentropy({labels}, x{_kwargs(**kw)})"
            return _Plan(tuple(tensors), None, _reduce(expr, red))
        ctor = f"{e.loss_class}({_kwargs(**kw)[2:]}{_cls_tail(call, e.dtype_arg)})"
        if sw:
            tensors.append(_sample_weight(call))
        return _Plan(tuple(tensors), ctor, f"loss_fn({labels}, x{', sample_weight=sw' * sw})")
    if fam == _K_SPARSE:
        if fl and call.target_kind != "index":
            raise _Reason(f"{e.spec.name} takes class indices only; use the categorical "
                          "loss for probability targets")
        if not fl and _option_set(call, "ignore_index"):
            raise _Reason("probability targets have no class index to ignore")
        tensors.append(_index_target(call))
        kw = dict(from_logits=fl)
        if _option_set(call, "ignore_index"):
            kw["ignore_class"] = int(call.option("ignore_index"))
        pred = _to_last(call)
        if e.loss_class is None:
            expr = f"keras.losses.sparse_categorical_crossentropy(t, {pred}{_kwargs(**kw)})"
            return _Plan(tuple(tensors), None, _reduce(expr, red))
        ctor = f"{e.loss_class}({_kwargs(**kw)[2:]}{_cls_tail(call, e.dtype_arg)})"
        if sw:
            tensors.append(_sample_weight(call))
        return _Plan(tuple(tensors), ctor, f"loss_fn(t, {pred}{', sample_weight=sw' * sw})")
    if fam == _K_BIN:
        if call.x.ndim == 0:
            raise _Reason("Keras binary cross-entropy averages over the last axis; "
                          "x is 0-dimensional")
        grad_fits = red != "none" or np.shape(call.grad_output) == call.x.shape[:-1]
        tensors.append(("t", "target", call.dtype))
        kw = dict(from_logits=fl)
        if ls:
            kw["label_smoothing"] = ls
        if e.loss_class is None:
            expr = f"keras.losses.binary_crossentropy(t, x{_kwargs(**kw)})"
            return _Plan(tuple(tensors), None, _reduce(expr, red), grad_fits)
        sw = call.option("weight") is not None
        if sw:
            w = np.broadcast_to(np.asarray(call.option("weight"), dtype=np.float64),
                                call.x.shape)
            if not np.all(w == w[..., :1]):
                raise _Reason("Keras binary cross-entropy averages over the last axis before "
                              "sample_weight applies; an element weight that varies along the "
                              "last axis cannot be expressed")
            tensors.append(("sw", f"np.broadcast_to(weight, {call.x.shape})[..., 0]",
                            call.dtype))
        ctor = f"{e.loss_class}({_kwargs(**kw)[2:]}{_cls_tail(call, e.dtype_arg)})"
        return _Plan(tuple(tensors), ctor, f"loss_fn(t, x{', sample_weight=sw' * sw})",
                     grad_fits)
    raise AssertionError(fam)


def _cls_tail(call: Call, dtype_arg: bool = True) -> str:
    red = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size"}[call.reduction]
    return f", reduction={red!r}" + (f", dtype={call.dtype!r}" if dtype_arg else "")


def _no_option_reason(e: _Entry, name: str, words: str) -> str:
    keras_fam = e.family in (_K_CAT, _K_SPARSE, _K_BIN)
    if name == "weight" and e.family in (_K_CAT, _K_SPARSE):
        return "Keras losses have no class weights; use sample_weight"
    if name == "weight" and e.family == _K_BIN:
        return f"{e.spec.name} has no element weights (only the loss class's sample_weight, " \
               "applied after the mean over the last axis)"
    if keras_fam and name == "sample_weight":
        return f"{e.spec.name} is a function returning per-item losses; sample_weight is an " \
               "argument of the loss classes only"
    if name == "ignore_index" and e.family in (_K_CAT, _K_BIN):
        return f"{e.spec.name} has no ignore_class (only the sparse Keras losses have it)"
    if name == "label_smoothing" and e.family == _K_SPARSE:
        return "the sparse Keras losses have no label_smoothing"
    if name == "pos_weight" and keras_fam:
        return f"{e.spec.name} has no pos_weight (tf.nn.weighted_cross_entropy_with_logits has)"
    return f"{e.spec.name} has no {words} option"


_CONVENTIONS: dict[str, Any] = {
    "class_axis": {
        "value": "last by default (axis=-1); tf.nn.softmax_cross_entropy_with_logits and Keras "
                 "categorical_crossentropy take any axis; tf.nn.sparse_softmax_cross_entropy_"
                 "with_logits and Keras sparse_categorical_crossentropy (TF backend) only the "
                 "last ('Only axis=-1 is currently supported')",
        "source": f"{_KS}/backend/tensorflow/nn.py (sparse_categorical_crossentropy); "
                  f"{_TF_DOC}tf/nn/softmax_cross_entropy_with_logits",
    },
    "target_formats": {
        "value": "categorical / softmax_cross_entropy_with_logits: probabilities of x's shape "
                 "(one-hot or soft); sparse_*: integer indices of x's shape without the class "
                 "axis; binary: probabilities of x's shape",
        "source": f"{_TF_DOC}tf/nn/sparse_softmax_cross_entropy_with_logits",
    },
    "default_reduction": {
        "value": "tf.nn.* and keras.losses.* functions return per-item losses (no reduction); "
                 "Keras loss classes default to reduction='sum_over_batch_size'",
        "source": f"{_KS}/losses/loss.py (Loss.__init__)",
    },
    "mean_divides_by": {
        "value": "'sum_over_batch_size': sum(sample_weight * loss) / number of loss items "
                 "(NOT the sum of sample weights; 'mean_with_sample_weight' would divide by it); "
                 "ignored items (ignore_class) are excluded from the count through the loss "
                 "mask; no class weights exist; Keras binary losses first average over the last "
                 "axis, so the batch mean equals the element mean only without sample weights",
        "source": f"{_KS}/losses/loss.py (reduce_values, apply_mask)",
    },
    "from_logits_default": {
        "value": "False for every Keras loss (probabilities expected); tf.nn.*_with_logits "
                 "always take logits",
        "source": f"{_KS}/losses/losses.py",
    },
    "epsilon_or_clamp": {
        "value": "from_logits=False: probabilities clipped to [eps, 1-eps] with "
                 "eps=keras.config.epsilon()=1e-7 (tf.clip_by_value, so the gradient is zero "
                 "where clipped); categorical first renormalises output/sum(output, axis); "
                 "sparse takes log(clip(p)) into sparse_softmax_cross_entropy_with_logits, which "
                 "also renormalises; in float16 1-eps rounds to 1 and eps to 1.19e-7. "
                 "so Keras binary_crossentropy on p=1 with target 0 gives inf in float16/bfloat16. "
                 "The renormalisation also adds sum(t)/sum(p) to every gradient entry. "
                 "from_logits=True: no clamp (log-sum-exp in the fused kernels)",
        "source": f"{_KS}/backend/tensorflow/nn.py (categorical_crossentropy, "
                  "sparse_categorical_crossentropy, binary_crossentropy); "
                  f"{_KS}/backend/config.py (epsilon)",
    },
    "label_smoothing_formula": {
        "value": "categorical: y*(1-ls) + ls/C with C = y_true.shape[-1] (the LAST axis even when "
                 "axis != -1); binary: y*(1-ls) + 0.5*ls; sparse losses and tf.nn: none",
        "source": f"{_KS}/losses/losses.py (categorical_crossentropy, binary_crossentropy)",
    },
    "ignore_semantics": {
        "value": "ignore_class=None by default (sparse Keras losses only); ignored items get loss "
                 "0 and zero gradient and a Keras mask, so loss classes with "
                 "'sum_over_batch_size' divide by the number of valid items, while the function "
                 "+ tf.reduce_mean divides by all items; tf.nn has no ignore index",
        "source": f"{_KS}/losses/losses.py (sparse_categorical_crossentropy); "
                  f"{_KS}/losses/loss.py (apply_mask)",
    },
    "output_dtype_rules": {
        "value": "tf.nn and keras.losses functions compute and return in the input dtype "
                 "(float16, bfloat16, float32, float64 all accepted); Keras loss classes cast "
                 "y_true, y_pred and sample_weight to their `dtype` (default: the global policy, "
                 "float32), so a float16 input to a class built without dtype returns float32; "
                 "sparse loss classes also cast the integer targets to that float dtype (bfloat16 "
                 "rounds class 257 to 256, float16 rounds above 2048)",
        "source": f"{_KS}/losses/loss.py (Loss.__call__)",
    },
    "nan_inf_behaviour": {
        "value": "NaN propagates through every op; tf.nn.sparse_softmax_cross_entropy_with_logits "
                 "raises InvalidArgumentError for an out-of-range label on CPU (NaN on GPU); "
                 "tf.one_hot maps an out-of-range index to an all-zero row (loss 0); a -inf logit "
                 "with probability targets gives NaN (0 * -inf) in softmax_cross_entropy_with_"
                 "logits (the sparse kernel stays finite); softmax of an all -inf row is NaN",
        "source": f"{_TF_DOC}tf/nn/sparse_softmax_cross_entropy_with_logits; "
                  "https://github.com/tensorflow/tensorflow/issues/8484; "
                  f"{_TF_DOC}tf/one_hot",
    },
    "onednn": {
        "value": "TF_ENABLE_ONEDNN_OPTS left as set in the environment (unset = TF's default: "
                 "oneDNN on for x86 CPUs); each run's value is in its results' environment",
        "source": "https://www.tensorflow.org/install/pip (oneDNN note)",
    },
    "execution": {"value": "eager, no tf.function; gradients by tf.GradientTape with "
                           "output_gradients=grad_output",
                  "source": f"{_TF_DOC}tf/GradientTape#gradient"},
}


class TensorFlowAdapter(Adapter):
    """``lossconform.contract.Adapter`` for TensorFlow and Keras 3 (TensorFlow backend)."""

    framework = "tensorflow"
    divergences = DIVERGENCES
    invalid_outcomes = _invalid.INVALID_OUTCOMES
    # quiet start-up logs; one intra-/inter-op thread per process (xdist runs one per core)
    process_environment = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_NUM_INTRAOP_THREADS": "1",
                           "TF_NUM_INTEROP_THREADS": "1"}
    numerics_variables = ("TF_", "XLA_", "KERAS_")

    def versions(self) -> Mapping[str, str]:
        tf, keras = self._load()
        return {"tensorflow": str(tf.__version__), "keras": str(keras.__version__)}

    def float_label_call(self, entry_point: str) -> Any:
        return _invalid.float_label_call(entry_point)

    def float_label_repro(self, entry_point: str) -> str:
        return _invalid.float_label_repro(entry_point)

    def environment(self) -> Mapping[str, Any]:
        tf, keras = self._load()
        env: dict[str, Any] = {
            # unset means TF's default: oneDNN on for x86 CPUs
            "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "(unset: TF default)"),
            "keras_backend": keras.backend.backend(),
            "keras_floatx": keras.config.floatx(),
            "keras_epsilon": keras.config.epsilon(),
        }
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            env["gpus"] = [g.name for g in gpus]
        return env

    def warmup(self) -> None:
        tf, _ = self._load()
        tf.nn.softmax(tf.zeros((2, 3)))

    def __init__(self) -> None:
        self._mods: tuple[Any, Any] | None = None
        self._losses: dict[str, Any] = {}
        self._devices: tuple[str, ...] | None = None
        self.conventions: Mapping[str, Any] = dict(_CONVENTIONS)

    # -- framework loading -------------------------------------------------------------
    def _load(self) -> tuple[Any, Any]:
        if self._mods is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            import keras
            import tensorflow as tf

            self._mods = (tf, keras)
        return self._mods

    def available(self) -> str | None:
        try:
            self._load()
        except ImportError as exc:
            return f"tensorflow/keras is not installed ({exc})"
        return None

    def version(self) -> str:
        tf, keras = self._load()
        return f"{tf.__version__} (keras {keras.__version__})"

    def devices(self) -> Sequence[str]:
        if self._devices is None:
            tf, _ = self._load()
            gpu = bool(tf.config.list_physical_devices("GPU"))
            self._devices = ("cpu", "gpu") if gpu else ("cpu",)
        return list(self._devices)

    def entry_points(self) -> Sequence[EntryPointSpec]:
        return [e.spec for e in _ENTRIES]

    # -- planning --------------------------------------------------------------------------
    def _plan(self, entry_point: str, call: Call) -> _Plan | str:
        e = _BY_NAME.get(entry_point)
        if e is None:
            return f"tensorflow has no entry point {entry_point!r}"
        if call.device not in ("cpu", "gpu"):
            return f"device {call.device!r} is not a TensorFlow device name here (cpu, gpu)"
        try:
            return _build_plan(e, call)
        except _Reason as exc:
            return str(exc)

    def unsupported(self, entry_point: str, call: Call) -> str | None:
        plan = self._plan(entry_point, call)
        if isinstance(plan, str):
            return plan
        if call.device == "gpu" and "gpu" not in self.devices():
            return "no GPU visible to TensorFlow"
        return None

    # -- running ---------------------------------------------------------------------------
    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        plan = self._plan(entry_point, call)
        if isinstance(plan, str):
            raise Unsupported(plan)
        tf, keras = self._load()
        arrays = {"np": np, "target": call.target, "weight": call.option("weight"),
                  "pos_weight": call.option("pos_weight"),
                  "sample_weight": call.option("sample_weight")}
        env: dict[str, Any] = {"tf": tf, "keras": keras}
        with tf.device("/GPU:0" if call.device == "gpu" else "/CPU:0"):
            x = tf.constant(call.x, dtype=call.dtype)
            env["x"] = x
            for name, src, dt in plan.tensors:
                env[name] = tf.constant(eval(_compiled(src), arrays), dtype=dt)
            if plan.ctor is not None:
                env["loss_fn"] = self._loss_object(plan.ctor, tf, keras)
            code = _compiled(plan.expr)
            if call.grad_output is None or not plan.grad:
                out = eval(code, env)
                return Evaluation(_output(out), None)
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = eval(code, env)
            if tuple(out.shape) != np.shape(call.grad_output):
                # The output's shape is not the canonical one (e.g. Keras returns an empty
                # tensor for a reduced empty batch): report the forward, give no gradient.
                return Evaluation(_output(out), None)
            grad = tape.gradient(out, x,
                                 output_gradients=tf.constant(call.grad_output, dtype=out.dtype),
                                 unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return Evaluation(_output(out), _output(grad))

    def _loss_object(self, ctor: str, tf: Any, keras: Any) -> Any:
        obj = self._losses.get(ctor)
        if obj is None:
            obj = self._losses[ctor] = eval(_compiled(ctor), {"tf": tf, "keras": keras})
        return obj

    def repro(self, entry_point: str, call: Call) -> str:
        plan = self._plan(entry_point, call)
        if isinstance(plan, str):
            return f"# unsupported: {plan}"
        dev = "/GPU:0" if call.device == "gpu" else "/CPU:0"
        lines = [
            "import os",
            'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")',
            "import numpy as np",
            "import tensorflow as tf",
            "import keras",
            f"with tf.device({dev!r}):",
        ]
        body = [f"x = tf.constant(x, dtype={call.dtype!r})"]
        for name, src, dt in plan.tensors:
            body.append(f"{name} = tf.constant({src}, dtype={dt!r})")
        if plan.ctor is not None:
            body.append(f"loss_fn = {plan.ctor}")
        expr = plan.expr
        if call.grad_output is None or not plan.grad:
            body.append(f"out = {expr}")
            body_grad: list[str] = []
        else:
            body += ["with tf.GradientTape() as tape:", "    tape.watch(x)",
                     f"    out = {expr}"]
            body_grad = ["grad = tape.gradient(out, x, output_gradients=tf.constant("
                         "grad_output, dtype=out.dtype), "
                         "unconnected_gradients=tf.UnconnectedGradients.ZERO)",
                         "print('gradient', grad.dtype.name, grad.numpy())"]
        body += ["print('forward', out.dtype.name, out.numpy())"] + body_grad
        return "\n".join(lines + ["    " + b for b in body]) + "\n"


def _output(t: Any) -> Output:
    return Output(np.asarray(t.numpy()).astype(np.float64), t.dtype.name)


ADAPTER = TensorFlowAdapter()
