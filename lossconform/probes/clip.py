"""Clip and clamp points, measured: the smallest probability that still changes the loss, the
largest finite loss, the gradient where the input is clipped, and how large a logit margin
still gives the exact loss.

Probability inputs are scanned at p = 2^-k (k = 1, 2, ... down to the dtype's smallest
subnormal) and at p = 0, on the true class (categorical: the row [p, 1 - p]; binary: x = p with
target 1): the loss is -log p exactly until a clip or clamp stops it.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from lossconform.dtypes import NUMPY_DTYPES
from lossconform.ops import OP

from .base import Context, Probe, fmt, raised


def _row(ctx: Context, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Inputs putting probability p on the true class (one item per p)."""
    if OP[ctx.op].family == "binary":
        return p[:, None], np.ones((p.size, 1)), "probs"
    x = np.stack([p, 1 - p], axis=1)
    if "index" in ctx.spec.capabilities.target_kinds:
        return x, np.zeros(p.size, dtype=np.int64), "index"
    return x, np.stack([np.ones_like(p), np.zeros_like(p)], axis=1), "probs"


def _exponents(dtype: str) -> np.ndarray:
    """k = 1 .. the exponent of the dtype's smallest subnormal (2^-149 in float32), from the
    format's constants (reading the subnormal itself fails where subnormals are flushed)."""
    fi = ml_dtypes.finfo(NUMPY_DTYPES[dtype])
    return np.arange(1, int(fi.nmant) - int(fi.minexp) + 1)


def _scan(ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray] | str:
    k = _exponents(ctx.dtype)
    p = np.concatenate([2.0 ** -k, [0.0]])
    x, t, kind = _row(ctx, p)
    res = ctx.call(x, target=t, target_kind=kind, options={"reduction": "none"})
    if not res.ok:
        return raised(res)
    loss = res.value.reshape(p.size, -1)[:, 0]
    return k, p, loss


def _smallest(ctx: Context) -> str:
    scan = _scan(ctx)
    if isinstance(scan, str):
        return scan
    k, p, loss = scan
    exact = np.isclose(loss[:-1], k * np.log(2), rtol=1e-3)
    if not exact[0]:
        return f"p = 1/2 gives {fmt(loss[0])}, not the exact 0.6931"
    last = int(np.argmin(exact)) - 1 if not exact.all() else len(k) - 1
    return (f"exact down to p = 2^-{k[last]} ({fmt(p[last])}); smaller p give "
            f"{fmt(loss[-2])}; p = 0 gives {fmt(loss[-1])}")


def _largest(ctx: Context) -> str:
    scan = _scan(ctx)
    if isinstance(scan, str):
        return scan
    _, _, loss = scan
    finite = loss[np.isfinite(loss)]
    top = fmt(finite.max()) if finite.size else "none"
    return f"largest finite loss {top}; p = 0 gives {fmt(loss[-1])}"


def _gradient(ctx: Context) -> str:
    p = np.array([1e-3, 1e-12, 0.0])
    x, t, kind = _row(ctx, p)
    g = np.ones(p.size) if OP[ctx.op].family != "binary" else np.ones((p.size, 1))
    res = ctx.call(x, target=t, target_kind=kind, options={"reduction": "none"}, grad_output=g)
    if not res.ok:
        return raised(res)
    if res.grad is None:
        return "no gradient"
    g = res.grad.reshape(p.size, -1)[:, 0]
    return (f"dL/dp on the true class at p = 1e-3: {fmt(g[0])} (exact -1000); at p = 1e-12: "
            f"{fmt(g[1])} (exact -1e12); at p = 0: {fmt(g[2])}")


def _margin(ctx: Context) -> str:
    """Logit inputs: the loss of a wrong-class margin m = 10^j (exact value m + log1p(e^-m))."""
    m = 10.0 ** np.arange(1, 39)
    if OP[ctx.op].family == "binary":
        x, t, kind = -m[:, None], np.ones((m.size, 1)), "probs"
    else:
        x = np.stack([np.zeros_like(m), m], axis=1)
        if "index" in ctx.spec.capabilities.target_kinds:
            t, kind = np.zeros(m.size, dtype=np.int64), "index"
        else:
            t, kind = np.stack([np.ones_like(m), np.zeros_like(m)], axis=1), "probs"
    res = ctx.call(x, target=t, target_kind=kind, options={"reduction": "none"})
    if not res.ok:
        return raised(res)
    loss = res.value.reshape(m.size, -1)[:, 0]
    xm = np.abs(x.reshape(m.size, -1)).max(axis=1)  # the margin as the dtype holds it
    ok = np.isclose(loss, xm, rtol=1e-5)
    if ok.all():
        return f"exact up to margin {fmt(xm[-1])} (largest tried)"
    first = int(np.argmin(ok))
    return f"exact up to margin {fmt(xm[first - 1]) if first else 'none'}; margin {fmt(xm[first])} gives {fmt(loss[first])}"


def _probs_input(spec) -> bool:
    return OP[spec.op].is_loss and OP[spec.op].input_kind == "probs"


def _logits_input(spec) -> bool:
    return OP[spec.op].is_loss and OP[spec.op].input_kind == "logits"


PROBES = (
    Probe("clip.smallest_probability", "epsilon_or_clamp",
          "probability p on the true class, halved down to the smallest subnormal: the smallest "
          "p whose loss is still the exact -log p", _probs_input, _smallest, module=__name__),
    Probe("clip.largest_loss", "epsilon_or_clamp",
          "probability p on the true class down to 0: the largest finite loss",
          _probs_input, _largest, module=__name__),
    Probe("clip.gradient", "epsilon_or_clamp",
          "the gradient on the true class's probability at p = 1e-3, 1e-12 and 0",
          _probs_input, _gradient, module=__name__),
    Probe("clip.logit_margin", "epsilon_or_clamp",
          "a wrong-class logit margin m = 10 ... 1e38: up to which m is the loss exactly m?",
          _logits_input, _margin, module=__name__),
)
