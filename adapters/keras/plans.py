"""How one canonical call becomes one Keras call, written as backend-neutral source (a *plan*),
and the plan written out for one backend and execution mode (a *program*).

A plan is Keras user code: the tensors to build (each a NumPy expression over the suite's
arrays ``x``, ``target``, ``weight``, ``sample_weight``, converted with
``keras.ops.convert_to_tensor``), an optional loss-object constructor and one expression over
``keras.ops`` / ``keras.losses``. The same plan drives ``evaluate`` (executed in the backend's
worker process, ``worker.py``) and ``repro`` (printed), so a report's snippet is the code that
produced the number. Builders mirror the TensorFlow plug-in's Keras families
(``adapters/tensorflow/plans.py``) with ``keras.ops`` in place of ``tf``.

The program adds the gradient, taken by the backend's own autodiff:

* jax, mode ``jit`` (the main matrix: what ``model.fit`` runs on JAX, a jit-compiled train
  step): ``run = jax.jit(f)`` with every array an argument (never a closed-over constant), the
  forward and ``jax.vjp`` in one compiled function; the worker caches ``run`` per program text,
  so JAX compiles once per (text, shapes, dtypes);
* jax, mode ``eager``: ``jax.vjp`` op by op;
* torch, mode ``eager`` (Keras' default on torch): ``torch.autograd.grad``.

Facets (``FACETS``): ``axis_arg``, ``arg_dtypes``, ``swap_args``, ``omit_args`` as in the
TensorFlow plug-in, and ``mode``. A facet that does not apply raises ``Reason``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from lossconform.capabilities import option_is_set
from lossconform.contract import Call
from lossconform.ops import OP

from .entry_points import ACT, K_BIN, K_CAT, K_SPARSE, KERAS, Entry

Tensor = tuple[str, str, str]  # (name, NumPy expression, dtype)

JIT, EAGER = "jit", "eager"
#: execution modes per backend; the first is the default (the main matrix)
MODES: dict[str, tuple[str, ...]] = {"jax": (JIT, EAGER), "torch": (EAGER,)}
ARG_NAMES: tuple[str, ...] = ("target", "weight", "sample_weight")
ARG_DTYPES: tuple[str, ...] = ("float16", "bfloat16", "float32", "float64", "int32", "int64")


def facets(backend: str) -> dict[str, tuple[Any, ...]]:
    """The facets (and values) ``evaluate`` and ``repro`` honour on ``backend``."""
    return {"axis_arg": ("omitted", "none"), "arg_dtypes": ARG_NAMES,
            "swap_args": (False, True), "omit_args": ("reduction", "from_logits"),
            "mode": MODES[backend]}


@dataclass(frozen=True)
class Plan:
    tensors: tuple[Tensor, ...]
    ctor: str | None  # "keras.losses.X(...)" bound to `loss_fn`, or None
    expr: str  # over keras, x, the tensors and loss_fn
    #: False where the canonical cotangent cannot fit the output (Keras binary 'none')
    grad: bool = True


class Reason(Exception):
    """A call the entry point cannot express; ``str(exc)`` is the reason users see."""


def build_plan(e: Entry, call: Call) -> Plan:
    if OP[e.spec.op].is_loss and call.target is None:
        raise Reason("no target given")
    _facet_reason(e, call)
    return BUILDERS[e.family](e, call)


def _facet_reason(e: Entry, call: Call) -> None:
    name = e.spec.name
    loss = OP[e.spec.op].is_loss
    if call.facet("axis_arg") is not None:
        if e.family == ACT and "{A}" not in e.expr:
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
            raise Reason(f"{name} has no from_logits argument")


# -- pieces of source -----------------------------------------------------------------------
def _omitted(call: Call, arg: str) -> bool:
    return arg in (call.facet("omit_args") or ())


def _reduce(expr: str, call: Call) -> str:
    if _omitted(call, "reduction"):
        return expr
    return {"none": expr, "mean": f"keras.ops.mean({expr})",
            "sum": f"keras.ops.sum({expr})"}[call.reduction]


def _dt(call: Call, arg: str, default: str) -> str:
    return (call.facet("arg_dtypes") or {}).get(arg, default)


def _swap(call: Call, inp: str, tgt: str) -> tuple[str, str]:
    return (tgt, inp) if call.facet("swap_args") else (inp, tgt)


def _axis(call: Call) -> int:
    nd = call.x.ndim
    if nd == 0 or not -nd <= call.axis < nd:
        raise Reason(f"class axis {call.axis} is out of range for x of shape {call.x.shape}")
    a = call.axis % nd
    return -1 if a == nd - 1 else a


def _axis_kw(call: Call, a: int) -> str:
    mode = call.facet("axis_arg")
    if mode == "omitted":
        return ""
    if mode == "none":
        return ", axis=None"
    return f", axis={a}"


def _to_last(call: Call) -> str:
    a = _axis(call)
    return "x" if a == -1 else f"keras.ops.moveaxis(x, {a}, -1)"


def _probs_target(call: Call) -> tuple[Tensor, str]:
    if call.target_kind == "index":
        a = _axis(call)
        depth = call.x.shape[a]
        dt = _dt(call, "target", call.dtype)
        return ("t", "target", "int64"), f"keras.ops.one_hot(t, {depth}, axis={a}, dtype={dt!r})"
    return ("t", "target", _dt(call, "target", call.dtype)), "t"


def _index_target(call: Call) -> Tensor:
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


def _grad_fits(e: Entry, call: Call, reduced_fits: bool) -> bool:
    if not _omitted(call, "reduction"):
        return reduced_fits
    if e.loss_class is not None:
        return np.shape(call.grad_output) == ()
    return call.reduction == "none" and reduced_fits


def _keras_axis(call: Call, kw: dict[str, Any], a: int) -> None:
    mode = call.facet("axis_arg")
    if mode == "none":
        kw["axis"] = None
    elif mode is None and a != -1:
        kw["axis"] = a


# -- one builder per family -------------------------------------------------------------------
def _activation(e: Entry, call: Call) -> Plan:
    if "{A}" not in e.expr:
        return Plan((), None, e.expr)
    return Plan((), None, e.expr.replace(", axis={A}", _axis_kw(call, _axis(call))))


def _keras_categorical(e: Entry, call: Call) -> Plan:
    t, labels = _probs_target(call)
    a = _axis(call)
    kw: dict[str, Any] = {}
    ls = float(call.option("label_smoothing") or 0.0)
    if ls:
        kw["label_smoothing"] = ls
    _keras_axis(call, kw, a)
    sw = _sample_weight(call) if e.loss_class and call.option("sample_weight") is not None \
        else None
    return _keras_call(e, call, [t], "categorical_crossentropy", labels, "x", kw, sw,
                       _grad_fits(e, call, True))


def _keras_sparse(e: Entry, call: Call) -> Plan:
    t = _index_target(call)
    kw: dict[str, Any] = {}
    if option_is_set("ignore_index", call.option("ignore_index")):
        kw["ignore_class"] = int(call.option("ignore_index"))
    if call.facet("axis_arg") is None:
        pred = _to_last(call)
    else:
        pred = "x"
        _keras_axis(call, kw, -1)
    sw = _sample_weight(call) if e.loss_class and call.option("sample_weight") is not None \
        else None
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
    ACT: _activation, K_CAT: _keras_categorical, K_SPARSE: _keras_sparse, K_BIN: _keras_binary,
}


# -- the plan written out for a backend and a mode -----------------------------------------------
@dataclass(frozen=True)
class Program:
    """A plan as statements: ``tensors`` (built with keras.ops.convert_to_tensor), ``ctor``
    (bound to ``loss_fn``), ``define`` (defines ``run``: cached by the worker per text and
    constructor, so a jit-compiled ``run`` is traced once per shapes and dtypes) and ``body``
    (calls it: leaves ``out`` and, when ``grad``, ``grad``, None where the output's shape
    does not take the cotangent)."""

    backend: str
    tensors: tuple[Tensor, ...]
    ctor: str | None
    define: tuple[str, ...]
    body: tuple[str, ...]
    grad: bool


def program(plan: Plan, call: Call, backend: str) -> Program:
    mode = call.facet("mode") or MODES[backend][0]
    if mode not in MODES[backend]:
        raise Reason(f"mode {mode!r} is not a mode of Keras on {backend}")
    want = call.grad_output is not None and plan.grad
    names = ["x"] + [t[0] for t in plan.tensors]
    args = ", ".join(names)
    tensors = (("x", "x", call.dtype),) + plan.tensors
    if backend == "jax":
        vjp = ["out, vjp = jax.vjp(lambda x: " + plan.expr + ", x)",
               "grad = vjp(go.astype(out.dtype))[0] if out.shape == go.shape else None"]
        if mode == JIT:
            if want:
                define = ["@jax.jit", f"def run({args}, go):"] + ["    " + s for s in vjp] + [
                    "    return out, grad"]
                body = [f"out, grad = run({args}, np.asarray(grad_output))"]
            else:
                define = ["@jax.jit", f"def run({args}):", f"    return {plan.expr}"]
                body = [f"out = run({args})"]
            return Program(backend, tensors, plan.ctor, tuple(define), tuple(body), want)
        if want:
            return Program(backend, tensors, plan.ctor, (),
                           ("go = np.asarray(grad_output)",) + tuple(vjp), True)
        return Program(backend, tensors, plan.ctor, (), (f"out = {plan.expr}",), False)
    if want:
        body = ["x.requires_grad_(True)", f"out = {plan.expr}",
                "grad = torch.autograd.grad(out, x, torch.as_tensor(grad_output, "
                "dtype=out.dtype), materialize_grads=True)[0] "
                "if out.shape == grad_output.shape else None"]
        return Program(backend, tensors, plan.ctor, (), tuple(body), True)
    return Program(backend, tensors, plan.ctor, (), (f"out = {plan.expr}",), False)


def preamble(backend: str, dtype: str = "float32") -> tuple[str, ...]:
    """The lines before Keras is used: the backend (read once, at Keras' first import of the
    interpreter), x64 for float64 arrays on JAX, and ``import_keras`` (``fresh.py``: plain
    ``import keras`` in a fresh interpreter; a separate copy where this one already holds
    Keras on another backend)."""
    lines = ["import os",
             f'os.environ["KERAS_BACKEND"] = "{backend}"  # read at the first `import keras`']
    if backend == "jax":
        lines.append('os.environ["JAX_ENABLE_X64"] = "1"  # float64 arrays stay float64')
    lines += ["import numpy as np", f"import {backend}"]
    if backend == "jax" and dtype == "float64":
        lines.append('jax.config.update("jax_enable_x64", True)  # if jax was imported before')
    lines += ["from lossconform.adapters.keras.fresh import import_keras",
              f'keras = import_keras("{backend}")  # `import keras` in a fresh interpreter']
    return tuple(lines)


def source(prog: Program, dtype: str) -> str:
    """The program as one snippet (what ``repro`` prints after the suite's preamble)."""
    lines = list(preamble(prog.backend, dtype))
    lines += [f"{n} = keras.ops.convert_to_tensor({src}, dtype={dt!r})"
              for n, src, dt in prog.tensors]
    if prog.ctor is not None:
        lines.append(f"loss_fn = {prog.ctor}")
    lines += list(prog.define) + list(prog.body)
    lines.append("print('forward', out.dtype, out)")
    if prog.grad:
        lines.append("print('gradient', None if grad is None else grad.dtype, grad)")
    return "\n".join(lines) + "\n"


__all__ = ["ARG_NAMES", "BUILDERS", "MODES", "Plan", "Program", "Reason", "build_plan",
           "facets", "preamble", "program", "source"]
