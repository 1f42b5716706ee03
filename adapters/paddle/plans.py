"""One plan per call, written out as the Paddle program that both ``evaluate`` runs (in the
worker process) and ``repro`` prints: the two cannot drift apart.

A program reads the NumPy names the report's preamble defines (``x``, ``target``, ``weight``,
``pos_weight``, ``grad_output``) and leaves the forward result in ``out`` and, when a
cotangent is given, the gradient in ``grad`` (through ``paddle.grad``). Its text depends on
the entry point, the dtype, the shapes' ranks and the options, never on the values, so the
worker compiles each distinct program once.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from lossconform.capabilities import option_is_set
from lossconform.contract import Call
from lossconform.ops import ACTIVATION, BINARY, OP

from .entry_points import CALLABLE, MODULES, SPECS

F = "paddle.nn.functional."


def _norm(axis: int, ndim: int) -> int:
    return axis + ndim if axis < 0 else axis


#: dtype names an ``arg_dtypes`` facet may ask for (paddle dtypes of the same name)
ARG_DTYPES: tuple[str, ...] = ("float16", "bfloat16", "float32", "float64", "int64", "int32")
#: the arguments an ``arg_dtypes`` facet may retype
ARG_NAMES: tuple[str, ...] = ("target", "weight", "pos_weight")
#: the facets ``program`` honours (``Adapter.facets``)
FACETS: dict[str, tuple[Any, ...]] = {
    "axis_arg": ("omitted", "none"),
    "arg_dtypes": ARG_NAMES,
    "swap_args": (True, False),
    "omit_args": ("reduction",),
}


def program(entry_point: str, call: Call) -> str:
    """The Paddle program for ``call`` on ``entry_point`` (see the module docstring); the
    call's facets (``FACETS``) change how the call is written, never what is computed."""
    spec = SPECS[entry_point]
    op = OP[spec.op]
    dt = call.dtype
    want_grad = call.grad_output is not None
    lines = ["import numpy as np", "import paddle",
             f"xt = paddle.to_tensor(x, dtype={dt!r}, stop_gradient={not want_grad})"]
    fn = CALLABLE[entry_point]
    axis = int(call.axis)
    ndim = np.ndim(call.x)
    axis_arg = call.facet("axis_arg")
    arg_dtypes = dict(call.facet("arg_dtypes") or {})
    omit = set(call.facet("omit_args") or ())
    axis_kw = "" if axis_arg == "omitted" else ("None" if axis_arg == "none" else repr(axis))
    if op.family == ACTIVATION:
        kw = f", axis={axis_kw}" if op.class_axis and axis_kw else ""
        lines.append(f"out = {fn}(xt{kw})")
        return _finish(lines, want_grad)

    inp = "xt"
    kwargs: dict[str, str] = {}
    weight = call.option("weight")
    if option_is_set("weight", weight):
        lines.append(f"wt = paddle.to_tensor(weight, dtype={arg_dtypes.get('weight', dt)!r})")
        kwargs["weight"] = "wt"
    squeeze = None
    reduction = {} if "reduction" in omit else {"reduction": repr(call.reduction)}
    index = call.target_kind == "index"
    tdt = arg_dtypes.get("target", "int64" if index and op.family != BINARY else dt)
    if op.family == BINARY:
        lines.append(f"tt = paddle.to_tensor(target, dtype={tdt!r})")
        if option_is_set("pos_weight", call.option("pos_weight")):
            lines.append(f"pw = paddle.to_tensor(pos_weight, "
                         f"dtype={arg_dtypes.get('pos_weight', dt)!r})")
            kwargs["pos_weight"] = "pw"
        kwargs.update(reduction)
    else:
        ignore = call.option("ignore_index")
        if spec.op == "nll_loss":
            if ndim >= 2 and _norm(axis, ndim) != 1 and axis_arg is None:
                lines.append(f"inp = paddle.moveaxis(xt, {axis}, 1)  # classes on dim 1")
                inp = "inp"
            lines.append(f"tt = paddle.to_tensor(target, dtype={tdt!r})")
            if option_is_set("ignore_index", ignore):
                kwargs["ignore_index"] = repr(int(ignore))
            kwargs.update(reduction)
        elif entry_point == F + "softmax_with_cross_entropy":
            if index:
                lines.append(f"tt = paddle.to_tensor(np.expand_dims(target, {axis}), "
                             f"dtype={tdt!r})  # the label keeps the class axis, size 1")
            else:
                lines.append(f"tt = paddle.to_tensor(target, dtype={tdt!r})")
                kwargs["soft_label"] = "True"
            if option_is_set("ignore_index", ignore):
                kwargs["ignore_index"] = repr(int(ignore))
            if axis_kw:
                kwargs["axis"] = axis_kw
            squeeze = axis
        else:  # cross_entropy and CrossEntropyLoss, with or without use_softmax
            lines.append(f"tt = paddle.to_tensor(target, dtype={tdt!r})")
            if not index:
                kwargs["soft_label"] = "True"
            if option_is_set("ignore_index", ignore):
                kwargs["ignore_index"] = repr(int(ignore))
            ls = call.option("label_smoothing")
            if option_is_set("label_smoothing", ls):
                kwargs["label_smoothing"] = repr(float(ls))
            kwargs.update(reduction)
            if axis_kw:
                kwargs["axis"] = axis_kw
            if spec.op == "categorical_crossentropy":
                kwargs["use_softmax"] = "False"
    args = [inp, "tt"]
    if call.facet("swap_args"):
        args.reverse()
        lines.append("# arguments swapped: (target, input)")
    kw = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    if entry_point in MODULES:
        lines.append(f"loss_fn = {fn}({kw})")
        lines.append(f"out = loss_fn({', '.join(args)})")
    else:
        lines.append(f"out = {fn}({', '.join(args + ([kw] if kw else []))})")
    if squeeze is not None:
        lines[-1] = lines[-1].replace("out = ", "loss = ", 1)
        lines.append(f"out = paddle.squeeze(loss, axis={squeeze})  # the per-item loss")
    return _finish(lines, want_grad)


def facet_reason(entry_point: str, call: Call) -> str | None:
    """Why a call's facets cannot be written for this entry point (None: they can)."""
    spec = SPECS[entry_point]
    op = OP[spec.op]
    axis_arg = call.facet("axis_arg")
    if axis_arg is not None and (not op.class_axis or op.family == BINARY):
        return f"{entry_point} is element-wise: it has no class-axis argument"
    if axis_arg is not None and spec.op == "nll_loss":
        return (f"{entry_point} has no class-axis argument (the classes are on dim 1), so "
                "none can be left out or passed as None")
    for arg, adt in dict(call.facet("arg_dtypes") or {}).items():
        if adt not in ARG_DTYPES:
            return f"arg_dtypes: {adt!r} is not a dtype the paddle adapter builds"
        if arg == "target" and call.target is None:
            return f"{entry_point} takes no target, so no target dtype can be chosen"
        if arg != "target" and not option_is_set(arg, call.option(arg)):
            return f"the call passes no {arg}, so no {arg} dtype can be chosen"
    if call.facet("swap_args") and call.target is None:
        return f"{entry_point} takes one tensor: there are no arguments to swap"
    if "reduction" in (call.facet("omit_args") or ()) and (
            not op.is_loss or entry_point == F + "softmax_with_cross_entropy"):
        return f"{entry_point} takes no reduction argument to leave out"
    return None


def _finish(lines: list[str], want_grad: bool) -> str:
    if want_grad:
        lines.append("(grad,) = paddle.grad(out, xt, paddle.to_tensor(grad_output, "
                     "dtype=out.dtype).reshape(out.shape))")
    return "\n".join(lines) + "\n"


def arrays(call: Call) -> dict[str, Any]:
    """The NumPy names a program reads (what the report's preamble defines)."""
    return {"x": call.x, "target": call.target, "weight": call.option("weight"),
            "pos_weight": call.option("pos_weight"),
            "sample_weight": call.option("sample_weight"), "grad_output": call.grad_output}


__all__ = ["ARG_DTYPES", "ARG_NAMES", "FACETS", "arrays", "facet_reason", "program"]
