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


def program(entry_point: str, call: Call) -> str:
    """The Paddle program for ``call`` on ``entry_point`` (see the module docstring)."""
    spec = SPECS[entry_point]
    op = OP[spec.op]
    dt = call.dtype
    want_grad = call.grad_output is not None
    lines = ["import numpy as np", "import paddle",
             f"xt = paddle.to_tensor(x, dtype={dt!r}, stop_gradient={not want_grad})"]
    fn = CALLABLE[entry_point]
    axis = int(call.axis)
    ndim = np.ndim(call.x)
    if op.family == ACTIVATION:
        kw = f", axis={axis}" if op.class_axis else ""
        lines.append(f"out = {fn}(xt{kw})")
        return _finish(lines, want_grad)

    inp = "xt"
    args: list[str] = []
    kwargs: dict[str, str] = {}
    weight = call.option("weight")
    if option_is_set("weight", weight):
        lines.append(f"wt = paddle.to_tensor(weight, dtype={dt!r})")
        kwargs["weight"] = "wt"
    squeeze = None
    if op.family == BINARY:
        lines.append(f"tt = paddle.to_tensor(target, dtype={dt!r})")
        if option_is_set("pos_weight", call.option("pos_weight")):
            lines.append(f"pw = paddle.to_tensor(pos_weight, dtype={dt!r})")
            kwargs["pos_weight"] = "pw"
        kwargs["reduction"] = repr(call.reduction)
    else:
        index = call.target_kind == "index"
        ignore = call.option("ignore_index")
        if spec.op == "nll_loss":
            if ndim >= 2 and _norm(axis, ndim) != 1:
                lines.append(f"inp = paddle.moveaxis(xt, {axis}, 1)  # classes on dim 1")
                inp = "inp"
            lines.append("tt = paddle.to_tensor(target, dtype='int64')")
            if option_is_set("ignore_index", ignore):
                kwargs["ignore_index"] = repr(int(ignore))
            kwargs["reduction"] = repr(call.reduction)
        elif entry_point == F + "softmax_with_cross_entropy":
            if index:
                lines.append(f"tt = paddle.to_tensor(np.expand_dims(target, {axis}), "
                             "dtype='int64')  # the label keeps the class axis, size 1")
            else:
                lines.append(f"tt = paddle.to_tensor(target, dtype={dt!r})")
                kwargs["soft_label"] = "True"
            if option_is_set("ignore_index", ignore):
                kwargs["ignore_index"] = repr(int(ignore))
            kwargs["axis"] = repr(axis)
            squeeze = axis
        else:  # cross_entropy and CrossEntropyLoss, with or without use_softmax
            if index:
                lines.append("tt = paddle.to_tensor(target, dtype='int64')")
            else:
                lines.append(f"tt = paddle.to_tensor(target, dtype={dt!r})")
                kwargs["soft_label"] = "True"
            if option_is_set("ignore_index", ignore):
                kwargs["ignore_index"] = repr(int(ignore))
            ls = call.option("label_smoothing")
            if option_is_set("label_smoothing", ls):
                kwargs["label_smoothing"] = repr(float(ls))
            kwargs["reduction"] = repr(call.reduction)
            kwargs["axis"] = repr(axis)
            if spec.op == "categorical_crossentropy":
                kwargs["use_softmax"] = "False"
    args = [inp, "tt"]
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


__all__ = ["arrays", "program"]
