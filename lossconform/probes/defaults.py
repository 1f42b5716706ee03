"""Defaults: the reduction and the input kind (logits or probabilities) an entry point uses when
the argument is left out (facet ``omit_args``)."""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.ops import OP

from .base import Context, Probe, close, raised
from .inputs import binary_target, index_target, rng, soft_target, target_kind, reference


def _reduction(ctx: Context) -> str:
    op = OP[ctx.op]
    n, c = 4, 3
    z = rng(1).normal(0, 1.5, size=(n, c))
    from .inputs import op_input

    x = op_input(ctx.op, z)
    kind = "probs" if op.family == "binary" else target_kind(ctx.spec)
    t = (binary_target((n, c), 2) if op.family == "binary"
         else index_target((n,), c, 2) if kind == "index" else soft_target((n, c), salt=2))
    res = ctx.call(x, target=t, target_kind=kind, facets={"omit_args": ("reduction",)})
    if not res.ok:
        return raised(res)
    none = reference(ctx.make_call(x, target=t, target_kind=kind,
                                    options={"reduction": "none"}), gradient=False)[0]
    v = res.value
    if v.shape == none.shape and close(v, none):
        return "none (one loss per item)"
    if op.family == "binary" and v.shape == none.shape[:-1] and close(v, none.mean(-1)):
        return "none per item, averaged over the last axis"
    if v.shape == ():
        for name, ref in (("mean over all elements", none.mean()), ("sum", none.sum())):
            if close(v, ref):
                return name
        if op.family == "binary" and close(v, none.mean(-1).mean()):
            return "mean over all elements"
    return f"output of shape {list(v.shape)} matching no reduction"


def _from_logits(ctx: Context) -> str:
    op = OP[ctx.op]
    n, c = 4, 3
    # positive rows summing to 1: valid both as logits and as probabilities
    x = soft_target((n, c), salt=3)
    kind = "probs" if op.family == "binary" else target_kind(ctx.spec)
    t = (binary_target((n, c), 4) if op.family == "binary"
         else index_target((n,), c, 4) if kind == "index" else soft_target((n, c), salt=4))
    res = ctx.call(x, target=t, target_kind=kind, options={"reduction": "none"},
                   facets={"omit_args": ("from_logits",)})
    if not res.ok:
        return raised(res)
    logits_op = "cross_entropy" if op.family == "categorical" else "binary_cross_entropy_with_logits"
    probs_op = "categorical_crossentropy" if op.family == "categorical" else "binary_cross_entropy"
    for name, ref_op in (("logits", logits_op), ("probabilities", probs_op)):
        ref = reference(ctx.make_call(x, target=t, target_kind=kind, op=ref_op,
                                       options={"reduction": "none"}), gradient=False)[0]
        if op.family == "binary" and res.value.shape == ref.shape[:-1]:
            ref = ref.mean(-1)
        if close(res.value, ref, rtol=1e-3, atol=1e-5):
            return f"{name} (from_logits left out)"
    return "neither logits nor probabilities"


PROBES = (
    Probe("defaults.reduction", "default_reduction",
          "the reduction argument left out: what is returned?",
          lambda spec: OP[spec.op].is_loss, _reduction, module=__name__),
    Probe("defaults.from_logits", "from_logits_default",
          "the from_logits argument left out: does the loss take logits or probabilities?",
          lambda spec: OP[spec.op].is_loss and OP[spec.op].input_kind != "log_probs",
          _from_logits, module=__name__),
)
_ = np  # numpy is used through the helpers' arrays
