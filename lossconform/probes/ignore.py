"""Ignored items: the default ignore index, what an ignored item does to the loss, the mean's
denominator and the gradient (and whether the ignored class stays in the softmax), all items
ignored, and an empty batch."""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.ops import OP

from .base import Context, Probe, close, fmt, raised, reduces, takes
from .inputs import op_input, rng, reference

N, C, IGNORE = 5, 4, 2
TARGET = np.array([0, IGNORE, 1, 3, IGNORE], dtype=np.int64)


def _index_loss(spec) -> bool:
    return OP[spec.op].family == "categorical" and "index" in spec.capabilities.target_kinds


def _x(ctx: Context, salt: int = 5) -> np.ndarray:
    return op_input(ctx.op, rng(salt).normal(0, 1.5, size=(N, C)))


def _default(ctx: Context) -> str:
    x = _x(ctx)
    t = np.array([0, -100, 1, 3, 2], dtype=np.int64)
    res = ctx.call(x, target=t, target_kind="index", options={"reduction": "none"})
    if not res.ok:
        return f"-100 is not ignored: {raised(res)}"
    v = res.value
    if v.shape != (N,):
        return f"output of shape {list(v.shape)}"
    item = float(v[1])
    keep = [0, 2, 3, 4]
    ref = reference(ctx.make_call(x[keep], target=t[keep], target_kind="index",
                                   options={"reduction": "none"}), gradient=False)[0]
    others = "other items exact" if close(v[keep], ref) else "other items changed"
    if item == 0:
        return f"-100 is ignored (its loss is 0; {others})"
    return f"-100 is not ignored: its loss is {fmt(item)} ({others})"


def _effect(ctx: Context) -> str:
    x = _x(ctx)
    g = np.ones(N)
    res = ctx.call(x, target=TARGET, target_kind="index",
                   options={"reduction": "none", "ignore_index": IGNORE}, grad_output=g)
    if not res.ok:
        return raised(res)
    kept = TARGET != IGNORE
    parts = []
    item = res.value[~kept]
    parts.append("ignored items' loss " + ("0" if np.all(item == 0) else fmt(item[0])))
    if res.grad is not None:
        zero = np.all(res.grad[~kept] == 0)
        parts.append("gradient " + ("0" if zero else "non-zero"))
    # does the ignored class stay in the normaliser of the other items?
    full = reference(ctx.make_call(x[kept], target=TARGET[kept], target_kind="index",
                                    options={"reduction": "none"}), gradient=False)[0]
    others = np.delete(np.arange(C), IGNORE)
    if OP[ctx.op].input_kind == "logits":
        xr = x[kept][:, others]
        tr = np.searchsorted(others, TARGET[kept])
        dropped = reference(ctx.make_call(xr, target=tr, target_kind="index",
                                           options={"reduction": "none"}), gradient=False)[0]
    else:
        dropped = None
    if close(res.value[kept], full):
        parts.append(f"class {IGNORE} stays in the softmax of the other items")
    elif dropped is not None and close(res.value[kept], dropped):
        parts.append(f"class {IGNORE} is removed from the softmax of the other items")
    else:
        parts.append("the other items' losses differ from the reference")
    if reduces(ctx.spec, "mean", "sum"):
        m = ctx.call(x, target=TARGET, target_kind="index",
                     options={"reduction": "mean", "ignore_index": IGNORE})
        s = ctx.call(x, target=TARGET, target_kind="index",
                     options={"reduction": "sum", "ignore_index": IGNORE})
        if m.ok and s.ok and float(m.value) != 0:
            d = float(s.value) / float(m.value)
            n_kept = int(kept.sum())
            what = (f"the {n_kept} kept items" if abs(d - n_kept) < 1e-3
                    else f"all {N} items" if abs(d - N) < 1e-3 else fmt(d))
            parts.append(f"'mean' divides by {what}")
    return "; ".join(parts)


def _all_ignored(ctx: Context) -> str:
    x = _x(ctx)
    t = np.full(N, IGNORE, dtype=np.int64)
    out = []
    for red in ("mean", "sum"):
        if not reduces(ctx.spec, red):
            continue
        res = ctx.call(x, target=t, target_kind="index",
                       options={"reduction": red, "ignore_index": IGNORE},
                       grad_output=np.array(1.0))
        if not res.ok:
            out.append(f"{red}: {raised(res)}")
            continue
        grad = "" if res.grad is None else (
            ", gradient " + ("0" if np.all(res.grad == 0) else
                             "nan" if np.all(np.isnan(res.grad)) else "mixed"))
        out.append(f"{red}: {fmt(res.value)}{grad}")
    return "; ".join(out) or "no 'mean' or 'sum' reduction"


def _empty(ctx: Context) -> str:
    op = OP[ctx.op]
    shape = (0, C)
    x = np.zeros(shape)
    if op.family == "binary":
        t, kind = np.zeros(shape), "probs"
    elif "index" in ctx.spec.capabilities.target_kinds:
        t, kind = np.zeros((0,), dtype=np.int64), "index"
    else:
        t, kind = np.zeros(shape), "probs"
    out = []
    for red in ("mean", "sum"):
        if not reduces(ctx.spec, red):
            continue
        res = ctx.call(x, target=t, target_kind=kind, options={"reduction": red})
        if not res.ok:
            out.append(f"{red}: {raised(res)}")
        elif res.value.shape != ():
            out.append(f"{red}: shape {list(res.value.shape)}")
        else:
            out.append(f"{red}: {fmt(res.value)}")
    return "; ".join(out) or "no 'mean' or 'sum' reduction"


PROBES = (
    Probe("ignore.default_index", "ignore_semantics",
          "an index target of -100 with no ignore option: ignored, an error, or a loss?",
          _index_loss, _default, module=__name__),
    Probe("ignore.effect", "ignore_semantics",
          f"ignore index {IGNORE}: the ignored items' loss and gradient, the other items' "
          "softmax, and the mean's denominator",
          lambda spec: _index_loss(spec) and takes(spec, "ignore_index"), _effect,
          module=__name__),
    Probe("ignore.all_ignored", "ignore_semantics",
          "every item ignored: the reduced loss and its gradient",
          lambda spec: _index_loss(spec) and takes(spec, "ignore_index"), _all_ignored,
          module=__name__),
    Probe("ignore.empty_batch", "ignore_semantics",
          "an empty batch (0 items): the reduced loss",
          lambda spec: OP[spec.op].is_loss, _empty, module=__name__),
)
