"""The tolerance policy: the only place where a tolerance is written down.

A check passes when, element-wise,

    |actual - expected| <= atol * scale + tiny + rtol * |expected|

where ``scale = max(max |expected|, natural scale)`` over the finite values of the whole
output array (a norm-wise term: an element may be off by atol relative to the largest value
of its output, or of the computation's intermediate values, which is what rounding them
costs). The natural scale (lossconform/harness/check.py ``natural_scale``) is 1 for forward
values (probabilities and the sums inside a log are of order 1) and, for gradients, the
size of the cotangent passed back through the reduction: max|grad_output| x max weight,
divided by the item count for a 'mean'. ``tiny`` is the dtype's
smallest normal number (flush-to-zero of subnormal results is not a finding), and
``rtol``/``atol`` come from the
tables below, per dtype and separately for forward values and gradients. Both are
multiples of the dtype's machine epsilon, so every number reads as "N units of rounding".

Why these sizes:
* float32 forward: 16 eps (1.9e-6) — catches a softmax scaled by (1 + 1e-5) (the meta tests
  in tests/meta/ check that it does), while admitting the few-ULP error of a good
  float32 kernel plus the sum over the classes.
* gradients compose more ops (softmax, subtraction, the reduction's scaling): 32 eps in
  float32 (3.8e-6) still catches a gradient scaled by 1.001 in float32 and float64.
* float16 and bfloat16 kernels round every intermediate to 11 or 8 bits: 8 eps; a gradient
  scaled by 1.001 is below one float16 ULP and cannot be seen there (nor in bfloat16).
* float64: 64 eps (1.4e-14): frameworks sum in a different order than the reference.

Overrides are named, commented, and join by taking the max (as JAX's tolerance does).
"""
from __future__ import annotations

from dataclasses import dataclass

from lossconform.dtypes import DTYPES, EPS  # noqa: F401  (EPS re-exported)

#: (rtol, atol) in units of the dtype's eps, for forward values.
FORWARD_EPS: dict[str, tuple[float, float]] = {
    "float16": (8, 2),
    "bfloat16": (8, 2),
    "float32": (16, 16),
    "float64": (64, 64),
}

#: (rtol, atol) in units of eps, for gradients d<out, g>/dx.
GRADIENT_EPS: dict[str, tuple[float, float]] = {
    "float16": (8, 2),
    "bfloat16": (8, 2),
    "float32": (32, 32),
    "float64": (128, 128),
}


@dataclass(frozen=True)
class Override:
    """A named widening for a documented reason, in units of eps (joined by max)."""

    name: str
    reason: str
    rtol_eps: float
    atol_eps: float
    dtypes: tuple[str, ...] = DTYPES
    kinds: tuple[str, ...] = ("forward", "gradient")


#: Overrides by name; a case asks for them by name (Case.tolerance_overrides).
OVERRIDES: dict[str, Override] = {
    o.name: o
    for o in (
        Override(
            "long_reduction",
            "sums over >= 1000 terms (classes or batch items): a framework's summation order "
            "adds up to ~sqrt(n) ULP of error beyond the reference's exactly-rounded sum",
            rtol_eps=64,
            atol_eps=64,
        ),
    )
}


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    overrides: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"rtol": self.rtol, "atol": self.atol, "overrides": list(self.overrides)}


def tolerance(dtype: str, kind: str = "forward", overrides: tuple[str, ...] = ()) -> Tolerance:
    """The tolerance for one check: dtype's base table, joined (max) with named overrides."""
    if dtype not in EPS:
        raise ValueError(f"unknown dtype {dtype!r}; valid: {', '.join(EPS)}")
    table = {"forward": FORWARD_EPS, "gradient": GRADIENT_EPS}.get(kind)
    if table is None:
        raise ValueError(f"unknown check kind {kind!r}; valid: forward, gradient")
    r, a = table[dtype]
    for name in overrides:
        o = OVERRIDES.get(name)
        if o is None:
            raise ValueError(f"unknown tolerance override {name!r}; valid: {', '.join(OVERRIDES)}")
        if dtype in o.dtypes and kind in o.kinds:
            r, a = max(r, o.rtol_eps), max(a, o.atol_eps)
    eps = EPS[dtype]
    return Tolerance(rtol=r * eps, atol=a * eps, overrides=tuple(overrides))
