"""What ``'mean'`` divides by: plain, under class weights (index and probability targets),
sample weights, element weights, ignored items, probability targets and label smoothing.

The denominator is read as D = (the reference's weighted 'sum') / (the framework's 'mean'),
so "mean = sum of the weighted losses / D", and D is named by matching it against the
candidates the inputs define (items, elements, sum of w[y_i], sum of sample weights, ...).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lossconform import reference as R
from lossconform.ops import OP

from .base import Context, Probe, fmt, raised, reduces, takes
from .inputs import binary_target, index_target, op_input, rng, soft_target, reference

N, C = 4, 3
CLASS_W = np.array([0.5, 2.0, 1.25])
SAMPLE_W = np.array([1.0, 0.0, 2.0, 0.5])
ELEMENT_W = np.array([0.5, 2.0, 1.25])  # binary: broadcast over the items


def _inputs(ctx: Context, kind: str) -> tuple[np.ndarray, np.ndarray]:
    z = rng(7).normal(0, 1.5, size=(N, C))
    x = op_input(ctx.op, z)
    if OP[ctx.op].family == "binary":
        return x, binary_target((N, C), 8)
    if kind == "index":
        return x, np.array([0, 1, 1, 2], dtype=np.int64)
    return x, soft_target((N, C), salt=8)


def _denominator(ctx: Context, kind: str, options: dict[str, Any],
                 candidates: Callable[[np.ndarray], dict[str, float]]) -> str:
    x, t = _inputs(ctx, kind)
    res = ctx.call(x, target=t, target_kind=kind, options={**options, "reduction": "mean"})
    if not res.ok:
        return raised(res)
    ref_sum = reference(ctx.make_call(x, target=t, target_kind=kind,
                                       options={**options, "reduction": "sum"}),
                         gradient=False)[0]
    mean = float(res.value) if res.value.shape == () else float("nan")
    if res.value.shape != ():
        return f"'mean' returns shape {list(res.value.shape)}"
    if mean == 0:
        return f"'mean' is 0 (reference sum {fmt(ref_sum)})"
    d = float(ref_sum) / mean
    for name, value in candidates(t).items():
        if abs(d - value) <= 1e-3 * max(1.0, abs(value)):
            return f"{name} ({fmt(value)})"
    return f"{fmt(d)}: none of " + ", ".join(f"{k} ({fmt(v)})" for k, v in candidates(t).items())


def _base(t: np.ndarray) -> dict[str, float]:
    return {"the number of items N": float(N), "the number of elements N*C": float(N * C)}


def _plain(ctx: Context) -> str:
    kind = "probs" if OP[ctx.op].family == "binary" else (
        "index" if "index" in ctx.spec.capabilities.target_kinds else "probs")
    return _denominator(ctx, kind, {}, _base)


def _probs(ctx: Context) -> str:
    return _denominator(ctx, "probs", {}, _base)


def _class_weights(kind: str) -> Callable[[Context], str]:
    def run(ctx: Context) -> str:
        def cands(t: np.ndarray) -> dict[str, float]:
            out = {}
            if kind == "index":
                out["the sum of w[y_i]"] = float(CLASS_W[t].sum())
            else:
                out["the sum over items of sum_c w_c t_ic"] = float((t * CLASS_W).sum())
            return {**out, **_base(t), "the sum of the class weights": float(CLASS_W.sum())}

        return _denominator(ctx, kind, {"weight": CLASS_W}, cands)
    return run


def _element_weights(ctx: Context) -> str:
    def cands(t: np.ndarray) -> dict[str, float]:
        return {**_base(t), "the sum of the element weights": float(np.broadcast_to(
            ELEMENT_W, (N, C)).sum())}
    return _denominator(ctx, "probs", {"weight": ELEMENT_W}, cands)


def _sample_weights(ctx: Context) -> str:
    kind = "probs" if OP[ctx.op].family == "binary" else (
        "index" if "index" in ctx.spec.capabilities.target_kinds else "probs")
    sw = SAMPLE_W if OP[ctx.op].family != "binary" else np.broadcast_to(SAMPLE_W[:, None], (N, C))

    def cands(t: np.ndarray) -> dict[str, float]:
        return {**_base(t), "the sum of the sample weights": float(np.sum(sw)),
                "the number of non-zero sample weights": float(np.count_nonzero(sw))}
    return _denominator(ctx, kind, {"sample_weight": np.array(sw)}, cands)


def _ignored(ctx: Context) -> str:
    def cands(t: np.ndarray) -> dict[str, float]:
        return {"the number of kept items": float(np.count_nonzero(t != 1)), **_base(t)}
    return _denominator(ctx, "index", {"ignore_index": 1}, cands)


def _smoothing(ctx: Context) -> str:
    kind = "index" if "index" in ctx.spec.capabilities.target_kinds else "probs"
    opts: dict[str, Any] = {"label_smoothing": 0.2}
    if takes(ctx.spec, "weight"):
        opts["weight"] = CLASS_W

    def cands(t: np.ndarray) -> dict[str, float]:
        out = {}
        if "weight" in opts and kind == "index":
            out["the sum of w[y_i]"] = float(CLASS_W[t].sum())
        return {**out, **_base(t)}
    return _denominator(ctx, kind, opts, cands)


def _loss(spec) -> bool:
    return OP[spec.op].is_loss and reduces(spec, "mean")


def _cat(spec, kind: str) -> bool:
    return _loss(spec) and OP[spec.op].family == "categorical" and kind in spec.capabilities.target_kinds


PROBES = (
    Probe("mean.plain", "mean_divides_by", "'mean', no weights: divided by?",
          _loss, _plain, module=__name__),
    Probe("mean.probs_targets", "mean_divides_by", "'mean' with probability targets: divided by?",
          lambda s: _cat(s, "probs"), _probs, module=__name__),
    Probe("mean.class_weights.index", "mean_divides_by",
          "'mean' with class weights [0.5, 2, 1.25] and index targets: divided by?",
          lambda s: _cat(s, "index") and takes(s, "weight"), _class_weights("index"),
          module=__name__),
    Probe("mean.class_weights.probs", "mean_divides_by",
          "'mean' with class weights [0.5, 2, 1.25] and probability targets: divided by?",
          lambda s: _cat(s, "probs") and takes(s, "weight"), _class_weights("probs"),
          module=__name__),
    Probe("mean.element_weights", "mean_divides_by",
          "binary 'mean' with element weights [0.5, 2, 1.25] (per class): divided by?",
          lambda s: _loss(s) and OP[s.op].family == "binary" and takes(s, "weight"),
          _element_weights, module=__name__),
    Probe("mean.sample_weights", "mean_divides_by",
          "'mean' with sample weights [1, 0, 2, 0.5]: divided by?",
          lambda s: _loss(s) and takes(s, "sample_weight"), _sample_weights, module=__name__),
    Probe("mean.ignored", "mean_divides_by",
          "'mean' with one of four items ignored: divided by?",
          lambda s: _cat(s, "index") and takes(s, "ignore_index"), _ignored, module=__name__),
    Probe("mean.label_smoothing", "mean_divides_by",
          "'mean' with label smoothing 0.2 (and class weights where taken): divided by?",
          lambda s: _loss(s) and takes(s, "label_smoothing"), _smoothing, module=__name__),
)
