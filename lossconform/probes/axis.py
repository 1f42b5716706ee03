"""Class axis: what an omitted class-axis argument, or ``axis=None``, means on 1-, 2-, 3- and
4-D inputs.

Inputs have a distinct size on every axis, so the axis used can be read off an activation's
values (compared with the reference over each axis, and over all elements) and off a loss's
unreduced output shape (the class axis is the one that disappears).
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.ops import OP

from .base import Context, Probe, close, raised
from .inputs import index_target, op_input, rng, soft_target

SHAPES = {1: (5,), 2: (3, 5), 3: (2, 3, 5), 4: (2, 3, 4, 5)}
#: how the tables word the two ways of leaving the axis to the framework
MODES = {"omitted": "the class-axis argument left out", "none": "the class axis passed as None"}


def _axis_name(a: int, nd: int) -> str:
    return f"axis {a} (last)" if a == nd - 1 else f"axis {a}"


def _activation(ctx: Context, mode: str, nd: int) -> str:
    shape = SHAPES[nd]
    z = rng(nd).normal(0, 2, size=shape)
    res = ctx.call(z, facets={"axis_arg": mode})
    if not res.ok:
        return raised(res)
    fn = R.softmax if ctx.op == "softmax" else R.log_softmax
    for a in range(nd):
        if close(res.value, fn(z, axis=a), rtol=1e-4, atol=1e-5):
            return _axis_name(a, nd)
    flat = fn(z.ravel(), axis=0).reshape(shape)
    if close(res.value, flat, rtol=1e-4, atol=1e-5):
        return "all elements (flattened)"
    if res.value.shape != shape:
        return f"output of shape {list(res.value.shape)} for input {list(shape)}"
    return "none of the axes, nor all elements"


def _loss(ctx: Context, mode: str, nd: int) -> str:
    shape = SHAPES[nd]
    kinds = ctx.spec.capabilities.target_kinds
    z = rng(nd).normal(0, 2, size=shape)
    opts = {"reduction": "none"}
    tried: list[str] = []
    if "probs" in kinds:
        x = op_input(ctx.op, z, axis=-1)
        res = ctx.call(x, target=soft_target(shape, salt=nd), target_kind="probs",
                       options=opts, facets={"axis_arg": mode})
        outcome = [(None, res)]
    else:
        # index targets: the target's shape depends on the axis; try each candidate axis
        outcome = []
        for a in [nd - 1] + list(range(nd - 1)):
            tshape = tuple(s for i, s in enumerate(shape) if i != a)
            x = op_input(ctx.op, z, axis=a)
            res = ctx.call(x, target=index_target(tshape, shape[a], salt=nd), target_kind="index",
                           options=opts, facets={"axis_arg": mode})
            outcome.append((a, res))
            if res.ok:
                break
    for a, res in outcome:
        if not res.ok:
            tried.append(res.error_type or "error")
            continue
        out_shape = tuple(res.value.shape)
        for b in range(nd):
            if out_shape == tuple(s for i, s in enumerate(shape) if i != b):
                return _axis_name(b, nd)
        return f"output of shape {list(out_shape)} for input {list(shape)}"
    return raised(outcome[-1][1])


def _make(mode: str, nd: int) -> Probe:
    def run(ctx: Context) -> str:
        fam = OP[ctx.op].family
        return _activation(ctx, mode, nd) if fam == "activation" else _loss(ctx, mode, nd)

    return Probe(
        id=f"class_axis.{mode}.{nd}d",
        topic="class_axis",
        question=f"{nd}-D input {list(SHAPES[nd])}, {MODES[mode]}: which axis holds the classes?",
        applies=lambda spec: OP[spec.op].class_axis,
        run=run,
        module=__name__,
    )


PROBES = tuple(_make(mode, nd) for mode in MODES for nd in SHAPES)
