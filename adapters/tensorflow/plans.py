"""How one canonical call becomes one TensorFlow / Keras call, written as source (a *plan*).

A plan holds the tensors to build (each a NumPy expression over the suite's arrays ``x``,
``target``, ``weight``, ``pos_weight``, ``sample_weight``), an optional loss-object
constructor and one Python expression. The adapter's ``evaluate`` runs exactly that source and
its ``repro`` prints it, so a report's snippet is the code that produced the number.

One builder per family (``BUILDERS``). A builder is only asked for calls that the entry
point's ``Capabilities`` accept (op, dtype, device, reduction, options, target kind); it raises
``Reason`` for what only the call's data can rule out (a class axis out of range, probability
targets with no index form, an element weight that varies along Keras' averaged axis, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from lossconform.capabilities import option_is_set
from lossconform.contract import Call
from lossconform.ops import OP

from .entry_points import (ACT, K_BIN, K_CAT, K_SPARSE, TF_SIGMOID_CE, TF_SOFTMAX_CE,
                           TF_SPARSE_CE, TF_WEIGHTED_CE, Entry)

Tensor = tuple[str, str, str]  # (name, NumPy expression, dtype)


@dataclass(frozen=True)
class Plan:
    tensors: tuple[Tensor, ...]
    ctor: str | None  # "keras.losses.X(...)" bound to `loss_fn`, or None
    expr: str  # the call, over tf, keras, x, the tensors and loss_fn
    #: False where the canonical cotangent does not fit the output (Keras binary 'none',
    #: shape x.shape[:-1]): the forward still runs, the gradient is reported as not given.
    grad: bool = True


class Reason(Exception):
    """A call the entry point cannot express; ``str(exc)`` is the reason users see."""


def build_plan(e: Entry, call: Call) -> Plan:
    """How ``e`` computes ``call`` (which its capabilities accept); raises Reason when the
    call's data rule it out."""
    if OP[e.spec.op].is_loss and call.target is None:
        raise Reason("no target given")
    return BUILDERS[e.family](e, call)


# -- pieces of source -----------------------------------------------------------------------
def _reduce(expr: str, reduction: str) -> str:
    return {"none": expr, "mean": f"tf.reduce_mean({expr})", "sum": f"tf.reduce_sum({expr})"}[
        reduction]


def _axis(call: Call) -> int:
    nd = call.x.ndim
    if nd == 0 or not -nd <= call.axis < nd:
        raise Reason(f"class axis {call.axis} is out of range for x of shape {call.x.shape}")
    a = call.axis % nd
    return -1 if a == nd - 1 else a


def _to_last(call: Call) -> str:
    """``x`` with the class axis moved last (tf.transpose), as source."""
    a = _axis(call)
    if a == -1:
        return "x"
    perm = [i for i in range(call.x.ndim) if i != a] + [a]
    return f"tf.transpose(x, perm={perm})"


def _probs_target(call: Call) -> tuple[Tensor, str]:
    """The probability-target tensor and its source: as given, or one-hot from indices."""
    if call.target_kind == "index":
        a = _axis(call)
        depth = call.x.shape[a]
        return ("t", "target", "int64"), f"tf.one_hot(t, {depth}, axis={a}, dtype=x.dtype)"
    return ("t", "target", call.dtype), "t"


def _index_target(call: Call) -> Tensor:
    """The index-target tensor: as given, or argmax of exactly one-hot probability targets."""
    if call.target_kind == "index":
        return ("t", "target", "int64")
    _axis(call)
    a = call.axis % call.x.ndim
    tgt = np.asarray(call.target)
    if tgt.shape != call.x.shape or not (np.all((tgt == 0) | (tgt == 1))
                                         and np.all(tgt.sum(axis=a) == 1)):
        raise Reason("sparse Keras losses take class indices; these probability targets "
                     "are not one-hot, so they have no index form")
    return ("t", f"np.argmax(target, axis={a})", "int64")


def _sample_weight(call: Call) -> Tensor:
    """Sample weights broadcast to the item shape (x without its class axis)."""
    _axis(call)
    a = call.axis % call.x.ndim
    items = tuple(d for i, d in enumerate(call.x.shape) if i != a)
    if np.shape(call.option("sample_weight")) == items:
        return ("sw", "sample_weight", call.dtype)
    return ("sw", f"np.broadcast_to(sample_weight, {items})", call.dtype)


def _kwargs(**kw: Any) -> str:
    return "".join(f", {k}={v!r}" for k, v in kw.items())


def _keras_call(e: Entry, call: Call, tensors: list[Tensor], fn: str, y_true: str,
                y_pred: str, kw: dict[str, Any], sw: Tensor | None = None,
                grad: bool = True) -> Plan:
    """The Keras tail shared by every Keras family: a function is called and reduced as a
    user would (``tf.reduce_mean``/``tf.reduce_sum``); a loss class is built with the keyword
    arguments, the reduction and (unless ``dtype_arg`` is off) the call's dtype, then called
    with ``sw`` as its sample_weight."""
    if e.loss_class is None:
        expr = f"keras.losses.{fn}({y_true}, {y_pred}{_kwargs(**kw)})"
        return Plan(tuple(tensors), None, _reduce(expr, call.reduction), grad)
    red = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size"}[call.reduction]
    ctor = (f"{e.loss_class}({_kwargs(**kw)[2:]}, reduction={red!r}"
            + (f", dtype={call.dtype!r}" if e.dtype_arg else "") + ")")
    if sw is not None:
        tensors.append(sw)
    expr = f"loss_fn({y_true}, {y_pred}{', sample_weight=sw' * (sw is not None)})"
    return Plan(tuple(tensors), ctor, expr, grad)


# -- one builder per family -------------------------------------------------------------------
def _activation(e: Entry, call: Call) -> Plan:
    return Plan((), None, e.expr.format(A=_axis(call) if "{A}" in e.expr else 0))


def _tf_softmax_ce(e: Entry, call: Call) -> Plan:
    t, labels = _probs_target(call)
    expr = f"tf.nn.softmax_cross_entropy_with_logits(labels={labels}, logits=x, " \
           f"axis={_axis(call)})"
    return Plan((t,), None, _reduce(expr, call.reduction))


def _tf_sparse_ce(e: Entry, call: Call) -> Plan:
    expr = f"tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits={_to_last(call)})"
    return Plan((("t", "target", "int64"),), None, _reduce(expr, call.reduction))


def _tf_sigmoid_ce(e: Entry, call: Call) -> Plan:
    expr = "tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=x)"
    return Plan((("t", "target", call.dtype),), None, _reduce(expr, call.reduction))


def _tf_weighted_ce(e: Entry, call: Call) -> Plan:
    tensors: list[Tensor] = [("t", "target", call.dtype)]
    pw = "1.0"
    if call.option("pos_weight") is not None:
        tensors.append(("pw", "pos_weight", call.dtype))
        pw = "pw"
    expr = f"tf.nn.weighted_cross_entropy_with_logits(labels=t, logits=x, pos_weight={pw})"
    return Plan(tuple(tensors), None, _reduce(expr, call.reduction))


def _sample_weight_if_set(call: Call) -> Tensor | None:
    return _sample_weight(call) if call.option("sample_weight") is not None else None


def _keras_categorical(e: Entry, call: Call) -> Plan:
    t, labels = _probs_target(call)
    a = _axis(call)
    kw: dict[str, Any] = dict(from_logits=e.from_logits)
    ls = float(call.option("label_smoothing") or 0.0)
    if ls:
        kw["label_smoothing"] = ls
    if a != -1:
        kw["axis"] = a
    sw = _sample_weight_if_set(call) if e.loss_class else None
    return _keras_call(e, call, [t], "categorical_crossentropy", labels, "x", kw, sw)


def _keras_sparse(e: Entry, call: Call) -> Plan:
    t = _index_target(call)
    kw: dict[str, Any] = dict(from_logits=e.from_logits)
    if option_is_set("ignore_index", call.option("ignore_index")):
        kw["ignore_class"] = int(call.option("ignore_index"))
    pred = _to_last(call)
    sw = _sample_weight_if_set(call) if e.loss_class else None
    return _keras_call(e, call, [t], "sparse_categorical_crossentropy", "t", pred, kw, sw)


def _keras_binary(e: Entry, call: Call) -> Plan:
    if call.x.ndim == 0:
        raise Reason("Keras binary cross-entropy averages over the last axis; "
                     "x is 0-dimensional")
    grad_fits = call.reduction != "none" or np.shape(call.grad_output) == call.x.shape[:-1]
    kw: dict[str, Any] = dict(from_logits=e.from_logits)
    ls = float(call.option("label_smoothing") or 0.0)
    if ls:
        kw["label_smoothing"] = ls
    sw = None
    if e.loss_class is not None and call.option("weight") is not None:
        w = np.broadcast_to(np.asarray(call.option("weight"), dtype=np.float64), call.x.shape)
        if not np.all(w == w[..., :1]):
            raise Reason("Keras binary cross-entropy averages over the last axis before "
                         "sample_weight applies; an element weight that varies along the "
                         "last axis cannot be expressed")
        sw = ("sw", f"np.broadcast_to(weight, {call.x.shape})[..., 0]", call.dtype)
    return _keras_call(e, call, [("t", "target", call.dtype)], "binary_crossentropy", "t", "x",
                       kw, sw, grad_fits)


BUILDERS: dict[str, Callable[[Entry, Call], Plan]] = {
    ACT: _activation,
    TF_SOFTMAX_CE: _tf_softmax_ce,
    TF_SPARSE_CE: _tf_sparse_ce,
    TF_SIGMOID_CE: _tf_sigmoid_ce,
    TF_WEIGHTED_CE: _tf_weighted_ce,
    K_CAT: _keras_categorical,
    K_SPARSE: _keras_sparse,
    K_BIN: _keras_binary,
}

__all__ = ["BUILDERS", "Plan", "Reason", "build_plan"]
