"""Output dtypes for every (input, target, weight) dtype pairing, and the internal precision of
float16/bfloat16 computations.

Pairings use the ``arg_dtypes`` facet: the input in one dtype, the target (or the weights) in
another. The observation lists, per argument dtype, the output's dtype or the exception.
The internal precision compares the half-precision output with the entry point's own float32
output on the same (half-representable) inputs, rounded to the half dtype: "equal" means the
kernel computes in float32 (or wider) and rounds once; otherwise the distance is given as the
next power of two of the largest error in ulp (a coarse figure, stable across CPUs).
"""
from __future__ import annotations

import numpy as np

from lossconform.dtypes import DTYPES, EPS, HALF_DTYPES, TINY, round_to, ulp
from lossconform.ops import OP

from .base import Context, Probe, raised, takes
from .inputs import binary_target, index_target, op_input, rng, soft_target

N, C = 4, 3
SHORT = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64"}


def _pairing(arg: str, x_dtype: str):
    def run(ctx: Context) -> str:
        op = OP[ctx.op]
        x = op_input(ctx.op, rng(13).normal(0, 1.0, size=(N, C)))
        if op.family == "binary":
            t, kind = binary_target((N, C), 14), "probs"
        elif arg == "target":
            t, kind = soft_target((N, C), salt=14), "probs"
        else:
            kind = "index" if "index" in ctx.spec.capabilities.target_kinds else "probs"
            t = index_target((N,), C, 14) if kind == "index" else soft_target((N, C), salt=14)
        opts: dict = {"reduction": "mean"}
        if arg in ("weight", "pos_weight"):
            opts[arg] = np.array([0.5, 2.0, 1.25])
        parts = []
        for dt in DTYPES:
            call = ctx.make_call(x, dtype=x_dtype, target=t, target_kind=kind, options=opts,
                                 facets={"arg_dtypes": {arg: dt}})
            res = ctx.run(call)
            parts.append(f"{SHORT[dt]}: {res.dtype if res.ok else raised(res)}")
        return f"{arg} in " + ", ".join(parts)
    return run


def _precision(dtype: str):
    def run(ctx: Context) -> str:
        op = OP[ctx.op]
        n, c = 64, 8
        z = round_to(rng(15).normal(0, 3.0, size=(n, c)), dtype)
        x = round_to(op_input(ctx.op, z), dtype)
        kind, t = None, None
        if op.is_loss:
            if op.family == "binary":
                t, kind = round_to(binary_target((n, c), 16), dtype), "probs"
            elif "index" in ctx.spec.capabilities.target_kinds:
                t, kind = index_target((n,), c, 16), "index"
            else:
                t, kind = round_to(soft_target((n, c), salt=16), dtype), "probs"
        opts = {"reduction": "none"} if op.is_loss else {}
        half = ctx.call(x, dtype=dtype, target=t, target_kind=kind, options=opts)
        wide = ctx.call(x, dtype="float32", target=t, target_kind=kind, options=opts)
        if not half.ok:
            return raised(half)
        if not wide.ok:
            return f"float32: {raised(wide)}"
        rounded = round_to(wide.value, dtype)
        fin = np.isfinite(rounded) & np.isfinite(half.value)
        if not fin.any():
            return "no finite outputs to compare"
        if np.array_equal(half.value[fin], rounded[fin]):
            return f"equal to its float32 result rounded to {dtype}"
        with np.errstate(divide="ignore", invalid="ignore"):
            spacing = np.maximum(ulp(rounded[fin], dtype), TINY[dtype] * EPS[dtype])
            err = float(np.nanmax(np.abs(half.value[fin] - rounded[fin]) / spacing))
        if not np.isfinite(err):
            return "not its float32 result rounded (non-finite error)"
        bound = 1 << max(0, int(np.ceil(np.log2(max(err, 1.0)))))  # next power of two
        return f"not its float32 result rounded: within {bound} ulp of it"
    return run


def _has_probs_target(spec) -> bool:
    return OP[spec.op].is_loss and "probs" in spec.capabilities.target_kinds


PROBES = tuple(
    Probe(f"dtypes.target.{x_dt}", "output_dtype_rules",
          f"{x_dt} input, float target in each dtype: the output dtype",
          lambda spec, x_dt=x_dt: _has_probs_target(spec) and x_dt in spec.dtypes,
          _pairing("target", x_dt), dtype=x_dt, module=__name__)
    for x_dt in DTYPES
) + tuple(
    Probe(f"dtypes.weight.{x_dt}", "output_dtype_rules",
          f"{x_dt} input, class/element weights in each dtype: the output dtype",
          lambda spec, x_dt=x_dt: OP[spec.op].is_loss and takes(spec, "weight") and x_dt in spec.dtypes,
          _pairing("weight", x_dt), dtype=x_dt, module=__name__)
    for x_dt in DTYPES
) + tuple(
    Probe(f"dtypes.precision.{dt}", "output_dtype_rules",
          f"{dt}: is the output its float32 result rounded to {dt}?",
          lambda spec, dt=dt: dt in spec.dtypes and "float32" in spec.dtypes,
          _precision(dt), dtype=dt, module=__name__)
    for dt in HALF_DTYPES
)
