"""Label smoothing: the formula and the class count actually used.

The loss with smoothing e is compared with the reference's unsmoothed loss on smoothed
targets built by each candidate formula; the one that matches is the observation.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from lossconform import reference as R
from lossconform.ops import OP

from .base import Context, Probe, close, raised, takes
from .inputs import binary_target, op_input, rng, reference

N, C, EPS = 4, 5, 0.2


def _candidates(family: str) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    if family == "binary":
        return {
            "q = (1 - e) t + e / 2": lambda t: (1 - EPS) * t + EPS / 2,
            "q = (1 - e) t + e": lambda t: (1 - EPS) * t + EPS,
            "q = (1 - e) t": lambda t: (1 - EPS) * t,
        }
    return {
        f"q = (1 - e) t + e / C, C = {C} (all classes)": lambda t: (1 - EPS) * t + EPS / C,
        f"q = (1 - e) t + e (1 - t) / (C - 1), C = {C}": lambda t: (1 - EPS) * t + EPS * (1 - t) / (C - 1),
        f"q = (1 - e) t + e / (C + 1)": lambda t: (1 - EPS) * t + EPS / (C + 1),
    }


def _formula(ctx: Context) -> str:
    op = OP[ctx.op]
    z = rng(11).normal(0, 1.5, size=(N, C))
    x = op_input(ctx.op, z)
    if op.family == "binary":
        t, kind = binary_target((N, C), 12), "probs"
        onehot = t
    else:
        idx = np.array([0, 3, 1, 4], dtype=np.int64)
        onehot = np.eye(C)[idx]
        if "index" in ctx.spec.capabilities.target_kinds:
            t, kind = idx, "index"
        else:
            t, kind = onehot, "probs"
    res = ctx.call(x, target=t, target_kind=kind,
                   options={"reduction": "none", "label_smoothing": EPS})
    if not res.ok:
        return raised(res)
    for name, q in _candidates(op.family).items():
        ref = reference(ctx.make_call(x, target=q(onehot), target_kind="probs",
                                       options={"reduction": "none"}), gradient=False)[0]
        if res.value.shape != ref.shape and ref.ndim == 2 and res.value.shape == ref.shape[:1]:
            ref = ref.mean(-1)
        if close(res.value, ref, rtol=1e-4, atol=1e-6):
            return f"{name} (e = {EPS})"
    return "none of the known formulas"


PROBES = (
    Probe("smoothing.formula", "label_smoothing_formula",
          f"label smoothing e = {EPS} with {C} classes: the smoothed target q actually used",
          lambda spec: OP[spec.op].is_loss and takes(spec, "label_smoothing"), _formula,
          module=__name__),
)
