"""How one canonical call becomes one TensorFlow / Keras call, written as source (a *plan*).

A plan holds the tensors to build (each a NumPy expression over the suite's arrays ``x``,
``target``, ``weight``, ``pos_weight``, ``sample_weight``), an optional loss-object
constructor and one Python expression. The adapter's ``evaluate`` runs exactly that source and
its ``repro`` prints it, so a report's snippet is the code that produced the number.

One builder per family (``BUILDERS``). A builder is only asked for calls that the entry
point's ``Capabilities`` accept (op, dtype, device, reduction, options, target kind); it raises
``Reason`` for what only the call's data can rule out (a class axis out of range, probability
targets with no index form, an element weight that varies along Keras' averaged axis, ...).

Facets (``Call.facets``, declared in ``FACETS``) change how the call is written:
``axis_arg`` (the class-axis argument left out, or passed as None: no axis move either),
``arg_dtypes`` (the target / weight / pos_weight / sample_weight tensor built in another
dtype; for one-hot encoded index targets, the one-hot tensor), ``swap_args`` (the input in
the target's slot and the target in the input's: ``f(target, input)`` for Keras,
``labels=x, logits=target`` for tf.nn), ``omit_args`` (``reduction``: a loss class built
without it, a function's per-item output not reduced; ``from_logits``: a Keras loss built
without it), ``x_source`` and ``mode``. ``program`` writes a plan out as the statements the
adapter's ``evaluate`` executes and ``repro`` prints: the input tensor (``x``, or the logits
``z`` an ``x_source`` makes ``x`` from, see provenance.py), the tensors, the loss object, then
the call under ``tf.GradientTape``, eagerly or inside one ``tf.function`` (``mode``, or an
``x_source`` value prefixed ``tf.function:``). A facet that does not apply to an entry point
raises ``Reason`` (never silently ignored).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from lossconform.capabilities import option_is_set
from lossconform.contract import Call
from lossconform.ops import OP, PROBS

from . import provenance
from .entry_points import (ACT, K_BIN, K_CAT, K_SPARSE, KERAS, TF_SIGMOID_CE, TF_SOFTMAX_CE,
                           TF_SPARSE_CE, TF_WEIGHTED_CE, Entry)

Tensor = tuple[str, str, str]  # (name, NumPy expression, dtype)

#: execution modes (facet ``mode``): XLA compiles on CPU as well
EAGER, FUNCTION, XLA = "eager", "tf.function", "tf.function(jit_compile=True)"
MODES: tuple[str, ...] = (EAGER, FUNCTION, XLA)
_DECORATOR = {FUNCTION: "@tf.function", XLA: "@tf.function(jit_compile=True)"}
#: arguments that ``arg_dtypes`` can build in another dtype (the Call's names)
ARG_NAMES: tuple[str, ...] = ("target", "weight", "pos_weight", "sample_weight")
ARG_DTYPES: tuple[str, ...] = ("float16", "bfloat16", "float32", "float64", "int32", "int64")
#: the facets (and values) ``evaluate`` and ``repro`` honour: ``Adapter.facets``
FACETS: dict[str, tuple[Any, ...]] = {
    "axis_arg": ("omitted", "none"),
    "arg_dtypes": ARG_NAMES,
    "swap_args": (False, True),
    "omit_args": ("reduction", "from_logits"),
    "x_source": provenance.VALUES,
    "mode": MODES,
}


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
    _facet_reason(e, call)
    return BUILDERS[e.family](e, call)


# -- facets that do not apply ---------------------------------------------------------------
def _facet_reason(e: Entry, call: Call) -> None:
    """Raise ``Reason`` for a facet this entry point cannot take (never ignore one)."""
    name = e.spec.name
    loss = OP[e.spec.op].is_loss
    if call.facet("axis_arg") is not None:
        if e.family == ACT and "{A}" not in e.expr:
            raise Reason(f"{name} is element-wise: it has no class-axis argument")
        if e.family == TF_SPARSE_CE:
            raise Reason(f"{name} has no axis argument (the classes are always last)")
        if e.family in (TF_SIGMOID_CE, TF_WEIGHTED_CE):
            raise Reason(f"{name} is element-wise: it has no class-axis argument")
        if e.family == K_BIN:
            raise Reason(f"{name} is element-wise: its axis argument is the axis it averages "
                         "over, not a class axis")
    if call.facet("swap_args") and not loss:
        raise Reason(f"{name} takes no target: there are no arguments to swap")
    for arg, dt in (call.facet("arg_dtypes") or {}).items():
        if dt not in ARG_DTYPES:
            raise Reason(f"arg_dtypes: {dt!r} is not a dtype the adapter builds "
                         f"({', '.join(ARG_DTYPES)})")
        if arg == "target" and not loss:
            raise Reason(f"{name} takes no target")
        if arg != "target" and call.option(arg) is None:
            raise Reason(f"arg_dtypes names {arg!r}, but this call passes no {arg}")
    for arg in call.facet("omit_args") or ():
        if arg == "reduction" and not loss:
            raise Reason(f"{name} has no reduction argument")
        if arg == "from_logits" and e.family not in KERAS:
            raise Reason(f"{name} has no from_logits argument (it takes "
                         + ("logits always)" if loss else "no probabilities)"))
    value = call.facet("x_source")
    if value is not None:
        _source_reason(e, call, value)


def _source_reason(e: Entry, call: Call, value: str) -> None:
    source, graph = provenance.parse(value)
    if graph and call.facet("mode") is not None:
        raise Reason(f"x_source {value!r} sets the execution mode itself; give x_source "
                     f"{source.name!r} with the mode facet instead")
    if source.kind == provenance.CONSTANT:
        return
    spec = OP[e.spec.op]
    takes = (e.family in (K_CAT, K_SPARSE) and spec.input_kind == PROBS) \
        if source.kind == provenance.SOFTMAX else (e.family == K_BIN and spec.input_kind == PROBS)
    if not takes:
        what = {"logits": "logits", "log_probs": "log-probabilities", PROBS: "probabilities"}
        wants = "categorical" if source.kind == provenance.SOFTMAX else "binary (element-wise)"
        raise Reason(f"x_source {source.name!r} makes {wants} probabilities; {e.spec.name} "
                     f"takes {OP[e.spec.op].family} {what.get(spec.input_kind, spec.input_kind)}")
    why = provenance.reason(source.kind, call.x, call.dtype, _axis(call))
    if why:
        raise Reason(f"x_source {source.name!r}: {why}")


# -- pieces of source -----------------------------------------------------------------------
def _reduce(expr: str, call: Call) -> str:
    """A function's per-item output reduced as a user would (not at all when the reduction
    argument is left out: ``omit_args``)."""
    if _omitted(call, "reduction"):
        return expr
    return {"none": expr, "mean": f"tf.reduce_mean({expr})", "sum": f"tf.reduce_sum({expr})"}[
        call.reduction]


def _omitted(call: Call, arg: str) -> bool:
    return arg in (call.facet("omit_args") or ())


def _dt(call: Call, arg: str, default: str) -> str:
    """The dtype the ``arg`` tensor is built in: ``arg_dtypes`` or ``default``."""
    return (call.facet("arg_dtypes") or {}).get(arg, default)


def _swap(call: Call, inp: str, tgt: str) -> tuple[str, str]:
    """(what goes in the input's slot, what goes in the target's slot)."""
    return (tgt, inp) if call.facet("swap_args") else (inp, tgt)


def _axis_kw(call: Call, a: int, *, always: bool = True) -> str:
    """The class-axis keyword as source: ``axis=a`` (only when not the default -1 unless
    ``always``), nothing (``axis_arg`` omitted) or ``axis=None``."""
    mode = call.facet("axis_arg")
    if mode == "omitted":
        return ""
    if mode == "none":
        return ", axis=None"
    return f", axis={a}" if always or a != -1 else ""


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
    """The probability-target tensor and its source: as given, or one-hot from indices (the
    one-hot tensor in the input's dtype, or the ``arg_dtypes`` one)."""
    if call.target_kind == "index":
        a = _axis(call)
        depth = call.x.shape[a]
        dt = _dt(call, "target", "")
        return ("t", "target", "int64"), (f"tf.one_hot(t, {depth}, axis={a}, dtype="
                                           + (repr(dt) if dt else "x.dtype") + ")")
    return ("t", "target", _dt(call, "target", call.dtype)), "t"


def _index_target(call: Call) -> Tensor:
    """The index-target tensor: as given, or argmax of exactly one-hot probability targets."""
    if call.target_kind == "index":
        return ("t", "target", _dt(call, "target", "int64"))
    _axis(call)
    a = call.axis % call.x.ndim
    tgt = np.asarray(call.target)
    if tgt.shape != call.x.shape or not (np.all((tgt == 0) | (tgt == 1))
                                         and np.all(tgt.sum(axis=a) == 1)):
        raise Reason("sparse Keras losses take class indices; these probability targets "
                     "are not one-hot, so they have no index form")
    return ("t", f"np.argmax(target, axis={a})", _dt(call, "target", "int64"))


def _sample_weight(call: Call) -> Tensor:
    """Sample weights broadcast to the item shape (x without its class axis)."""
    _axis(call)
    a = call.axis % call.x.ndim
    items = tuple(d for i, d in enumerate(call.x.shape) if i != a)
    dt = _dt(call, "sample_weight", call.dtype)
    if np.shape(call.option("sample_weight")) == items:
        return ("sw", "sample_weight", dt)
    return ("sw", f"np.broadcast_to(sample_weight, {items})", dt)


def _kwargs(**kw: Any) -> str:
    return "".join(f", {k}={v!r}" for k, v in kw.items())


def _keras_call(e: Entry, call: Call, tensors: list[Tensor], fn: str, y_true: str,
                y_pred: str, kw: dict[str, Any], sw: Tensor | None = None,
                grad: bool = True) -> Plan:
    """The Keras tail shared by every Keras family: a function is called and reduced as a
    user would (``tf.reduce_mean``/``tf.reduce_sum``); a loss class is built with the keyword
    arguments, the reduction and (unless ``dtype_arg`` is off) the call's dtype, then called
    with ``sw`` as its sample_weight. ``from_logits`` first, then the other keywords; the
    ``omit_args`` ones are left out."""
    kw = {"from_logits": e.from_logits, **kw}
    if _omitted(call, "from_logits"):
        del kw["from_logits"]
    first, second = _swap(call, y_pred, y_true)  # Keras takes (y_true, y_pred)
    if e.loss_class is None:
        expr = f"keras.losses.{fn}({second}, {first}{_kwargs(**kw)})"
        return Plan(tuple(tensors), None, _reduce(expr, call), grad)
    if not _omitted(call, "reduction"):
        kw["reduction"] = {"none": "none", "sum": "sum",
                           "mean": "sum_over_batch_size"}[call.reduction]
    if e.dtype_arg:
        kw["dtype"] = call.dtype
    ctor = f"{e.loss_class}({_kwargs(**kw)[2:]})"
    if sw is not None:
        tensors.append(sw)
    expr = f"loss_fn({second}, {first}{', sample_weight=sw' * (sw is not None)})"
    return Plan(tuple(tensors), ctor, expr, grad)


# -- one builder per family -------------------------------------------------------------------
def _activation(e: Entry, call: Call) -> Plan:
    if "{A}" not in e.expr:
        return Plan((), None, e.expr)
    return Plan((), None, e.expr.replace(", axis={A}", _axis_kw(call, _axis(call))))


def _tf_softmax_ce(e: Entry, call: Call) -> Plan:
    t, labels = _probs_target(call)
    logits, labels = _swap(call, "x", labels)
    expr = f"tf.nn.softmax_cross_entropy_with_logits(labels={labels}, logits={logits}" \
           f"{_axis_kw(call, _axis(call))})"
    return Plan((t,), None, _reduce(expr, call))


def _tf_sparse_ce(e: Entry, call: Call) -> Plan:
    logits, labels = _swap(call, _to_last(call), "t")
    expr = f"tf.nn.sparse_softmax_cross_entropy_with_logits(labels={labels}, logits={logits})"
    return Plan((("t", "target", _dt(call, "target", "int64")),), None, _reduce(expr, call))


def _tf_sigmoid_ce(e: Entry, call: Call) -> Plan:
    logits, labels = _swap(call, "x", "t")
    expr = f"tf.nn.sigmoid_cross_entropy_with_logits(labels={labels}, logits={logits})"
    return Plan((("t", "target", _dt(call, "target", call.dtype)),), None, _reduce(expr, call))


def _tf_weighted_ce(e: Entry, call: Call) -> Plan:
    tensors: list[Tensor] = [("t", "target", _dt(call, "target", call.dtype))]
    pw = "1.0"
    if call.option("pos_weight") is not None:
        tensors.append(("pw", "pos_weight", _dt(call, "pos_weight", call.dtype)))
        pw = "pw"
    logits, labels = _swap(call, "x", "t")
    expr = f"tf.nn.weighted_cross_entropy_with_logits(labels={labels}, logits={logits}, " \
           f"pos_weight={pw})"
    return Plan(tuple(tensors), None, _reduce(expr, call))


def _sample_weight_if_set(call: Call) -> Tensor | None:
    return _sample_weight(call) if call.option("sample_weight") is not None else None


def _keras_axis(call: Call, kw: dict[str, Any], a: int) -> None:
    """The class axis as a Keras keyword: passed when not -1; left out or None (axis_arg)."""
    mode = call.facet("axis_arg")
    if mode == "none":
        kw["axis"] = None
    elif mode is None and a != -1:
        kw["axis"] = a


def _grad_fits(e: Entry, call: Call, reduced_fits: bool) -> bool:
    """Whether the canonical cotangent fits the output: with the reduction left out, a loss
    class reduces ('sum_over_batch_size': a scalar) and a function does not."""
    if not _omitted(call, "reduction"):
        return reduced_fits
    if e.loss_class is not None:
        return np.shape(call.grad_output) == ()
    return call.reduction == "none" and reduced_fits


def _keras_categorical(e: Entry, call: Call) -> Plan:
    t, labels = _probs_target(call)
    a = _axis(call)
    kw: dict[str, Any] = {}
    ls = float(call.option("label_smoothing") or 0.0)
    if ls:
        kw["label_smoothing"] = ls
    _keras_axis(call, kw, a)
    sw = _sample_weight_if_set(call) if e.loss_class else None
    return _keras_call(e, call, [t], "categorical_crossentropy", labels, "x", kw, sw,
                       _grad_fits(e, call, True))


def _keras_sparse(e: Entry, call: Call) -> Plan:
    t = _index_target(call)
    kw: dict[str, Any] = {}
    if option_is_set("ignore_index", call.option("ignore_index")):
        kw["ignore_class"] = int(call.option("ignore_index"))
    if call.facet("axis_arg") is None:
        pred = _to_last(call)
    else:  # x as given; the axis keyword left out or None
        pred = "x"
        _keras_axis(call, kw, -1)
    sw = _sample_weight_if_set(call) if e.loss_class else None
    return _keras_call(e, call, [t], "sparse_categorical_crossentropy", "t", pred, kw, sw,
                       _grad_fits(e, call, True))


def _keras_binary(e: Entry, call: Call) -> Plan:
    if call.x.ndim == 0:
        raise Reason("Keras binary cross-entropy averages over the last axis; "
                     "x is 0-dimensional")
    grad_fits = _grad_fits(e, call, call.reduction != "none"
                           or np.shape(call.grad_output) == call.x.shape[:-1])
    kw: dict[str, Any] = {}
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
        sw = ("sw", f"np.broadcast_to(weight, {call.x.shape})[..., 0]",
              _dt(call, "weight", call.dtype))
    return _keras_call(e, call, [("t", "target", _dt(call, "target", call.dtype))],
                       "binary_crossentropy", "t", "x", kw, sw, grad_fits)


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


# -- the plan written out: what evaluate executes and repro prints ---------------------------
@dataclass(frozen=True)
class Program:
    """A plan as statements. ``tensors`` are built first (``tf.constant`` of each NumPy
    expression over the call's arrays; the input's first: ``x``, or the logits ``z`` that an
    ``x_source`` makes ``x`` from), then ``loss_fn = ctor``; ``forward`` leaves ``out`` (and,
    eagerly with a gradient, the ``tape``); ``gradient`` leaves ``grad`` (eager only: inside a
    tf.function ``forward`` leaves both). ``grad``: whether a gradient is computed at all."""

    tensors: tuple[Tensor, ...]
    ctor: str | None
    forward: tuple[str, ...]
    gradient: tuple[str, ...]
    grad: bool
    eager: bool


_GRAD = "unconnected_gradients=tf.UnconnectedGradients.ZERO"


def program(plan: Plan, call: Call) -> Program:
    """``plan`` for ``call`` as statements, with its ``x_source`` and ``mode`` facets."""
    source, graph = None, False
    if call.facet("x_source") is not None:
        source, graph = provenance.parse(call.facet("x_source"))
    mode = call.facet("mode") or (FUNCTION if graph else EAGER)
    if source is None or source.kind == provenance.CONSTANT:
        inp: Tensor = ("x", "x", call.dtype)
        make_x: list[str] = []
    else:
        inp = ("z", provenance.LOGITS_SRC[source.kind], call.dtype)
        a = _axis(call)
        make_x = [f"x = {provenance.source_expr(source, a, call.dtype)}"]
    want = call.grad_output is not None and plan.grad
    out = f"out = {plan.expr}"
    if mode == EAGER:
        if not want:
            return Program((inp,) + plan.tensors, plan.ctor, tuple(make_x + [out]), (), False,
                           True)
        fwd = ["with tf.GradientTape() as tape:"] + [
            "    " + st for st in make_x + ["tape.watch(x)", out]]
        grad = [f"grad = tape.gradient(out, x, output_gradients=tf.constant(grad_output, "
                f"dtype=out.dtype), {_GRAD})"]
        return Program((inp,) + plan.tensors, plan.ctor, tuple(fwd), tuple(grad), True, True)
    args = [inp[0]] + [t[0] for t in plan.tensors]
    if want:
        body = ["with tf.GradientTape() as tape:"] + [
            "    " + st for st in make_x + ["tape.watch(x)", out]] + [
            f"grad = tape.gradient(out, x, output_gradients=tf.cast(go, out.dtype), {_GRAD})",
            "return out, grad"]
        call_line = f"out, grad = run({', '.join(args)}, tf.constant(grad_output))"
        args.append("go")
    else:
        body = make_x + [out, "return out"]
        call_line = f"out = run({', '.join(args)})"
    fwd = [_DECORATOR[mode], f"def run({', '.join(args)}):"] + ["    " + st for st in body]
    return Program((inp,) + plan.tensors, plan.ctor, tuple(fwd + [call_line]), (), want,
                   False)


__all__ = ["ARG_NAMES", "BUILDERS", "FACETS", "MODES", "Plan", "Program", "Reason",
           "build_plan", "program"]
