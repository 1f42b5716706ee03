"""The tolerance policy: the only place where a tolerance is written down.

A check passes when both criteria hold.

1. Norm-wise, element-wise:

       |actual - expected| <= atol * scale + tiny + rtol * |expected|

   where ``scale = max(max |expected|, natural scale)`` over the finite values of the whole
   output array (a norm-wise term: an element may be off by atol relative to the largest value
   of its output, or of the computation's intermediate values, which is what rounding them
   costs). The natural scale (lossconform/harness/check.py ``natural_scale``) is 1 for forward
   values (probabilities and the sums inside a log are of order 1) and, for gradients, the
   size of the cotangent passed back through the reduction: max|grad_output| x max weight,
   divided by the item count for a 'mean'. ``tiny`` is the dtype's smallest normal number
   (flush-to-zero of subnormal results is not a finding), and ``rtol``/``atol`` come from the
   tables below, per dtype and separately for forward values and gradients, plus the
   summation allowance of the check's sums (below). All are multiples of the dtype's machine
   epsilon, so every number reads as "N units of rounding".

2. Relative, on every element whose expected value e is a NORMAL number of the dtype
   (finite, TINY <= |e| <= MAX), in units of that element's own ULP (``ulp(e, dtype)``):

       |actual - e| / ulp(e) <= R0 + rho * kappa * (R1 + sum of summation(n) over the sums)

   The norm-wise term lets small elements lose all their relative accuracy (a probability of
   1e-20 returned as 0, the loss of a confident item returned as 0, a long sum accumulated
   in half precision); this criterion does not.

   * ``R0`` (``REL_FINAL_ULP``): in a half dtype, the final rounding (at most 0.5 ULP) and
     up to three more roundings of well-conditioned intermediates in the half dtype itself,
     which composite kernels (a loss assembled from several element-wise ops, each
     returning the input's dtype) do: 4 roundings x 0.5 x 2 (a relative error r is up to
     2 r / eps ULP at the bottom of a binade) = 4 ULP; for a gradient (whose operands, the
     forward outputs autodiff saved, are in the dtype) R0 is multiplied by kappa too.
     0 for float32/float64, whose rounding is inside R1.
   * ``rho`` = eps(accumulation dtype) / eps(dtype), ``ACCUMULATION``: a correct
     implementation computes and accumulates half-precision inputs in float32 (some
     frameworks' kernels do, others reduce in the half dtype: the plug-ins' div_accuracy
     entries say which), float32 in float32, float64 in float64; so in a
     half dtype the terms below shrink to a fraction of one ULP, and a kernel that accumulates
     in the half dtype itself is caught.
   * ``R1`` (``REL_ULP``): the few rounding errors of an elementary chain (exp, log, a product,
     a division), in ULP of the accumulation dtype: 8 forward, 16 for gradients (one more
     chain: the cotangent, the reduction's factor).
   * ``kappa`` (per element, >= 1, from lossconform/harness/check.py ``condition``): the
     element's condition number, the factor by which a backward-stable implementation's
     relative errors of a few units of rounding in its operands can grow in the result.
     Forward values: with respect to relative perturbations of the inputs, logits measured
     from their row maximum (``x - max`` is what every stable kernel computes first), so a
     confident item's loss (~1e-12, kappa ~ 28) or a log-softmax value near 0 keeps relative
     accuracy and returning 0 there fails. Gradients: with respect to relative perturbations
     of the forward quantities the standard backward formulas consume (p, sigmoid, the
     targets, the cotangent): a gradient that is a DIFFERENCE of them (p - q at the target
     class, g - sum p g, sigmoid (1 - sigmoid) for large logits) gets the cancellation factor
     (|a| + |b|) / |a - b|, so there the relative bound is as wide as the cancellation makes
     it, while the gradient of a confident item's other classes (p_k alone, ~1e-12) is held
     to a few ULP. kappa = inf (NaN rows, a division by 0) holds nothing, nor does kappa
     above KAPPA_MAX = 2**50: the reference computes an element to kappa * 2**-64 relative
     (reference/__init__.py, "Precision"), so beyond it the reference's own value is noise
     (a softmax gradient of tied classes, 0 up to that noise).
   * summation(n) (``summation_allowance``): every sum of n terms the output goes through
     (the classes along the class axis, the items under 'sum'/'mean', the weights in the
     mean's denominator) adds min(n - 1, SUM_LAMBDA * sqrt(n - 1)) units of rounding of the
     accumulation dtype, to the relative bound and to rtol/atol alike. n - 1 is the
     deterministic bound gamma_{n-1} of a sum of positive terms in any order (Higham,
     "Accuracy and Stability of Numerical Algorithms", 2nd ed., section 4.2); it is attained
     only by adversarial data. The rounding errors of a real sum behave as a random walk
     (Higham & Mary, "A New Approach to Probabilistic Rounding Error Analysis", SIAM J. Sci.
     Comput. 41(5), 2019): for a recursive sum of n similar positive terms the relative error
     has standard deviation sqrt(n) u / 3, so SUM_LAMBDA = 2 (2 sqrt(n) ULP, at least 6
     standard deviations since an ULP is u to 2u of relative error; about what the flat 64-eps
     allowance gave 1000 float32 terms) passes float32 sums of real data, sequential or
     blocked (tests/meta/test_relative_accuracy.py sums 2000 items and 100000 classes
     sequentially), while a sum accumulated in the input's half precision
     instead of float32 (or float64 in float32) is off by orders of magnitude more. The flat
     ``long_reduction`` override (which allowed bfloat16 a relative error of 0.5) is gone: its
     name stays valid and widens nothing.

Which elements does the relative bound hold? Exactly the normal ones: subnormal or zero
expected values may flush (FTZ) anywhere; non-finite ones are matched exactly by the
non-finite pattern; an expected value beyond the dtype's range cannot be represented.

Why the norm-wise sizes:
* float32 forward: 16 eps (1.9e-6) — catches a softmax scaled by (1 + 1e-5) (the meta tests
  in tests/meta/ check that it does), while admitting the few-ULP error of a good
  float32 kernel plus the sum over the classes.
* gradients compose more ops (softmax, subtraction, the reduction's scaling): 32 eps in
  float32 (3.8e-6) still catches a gradient scaled by 1.001 in float32 and float64.
* float16 and bfloat16 kernels round every intermediate to 11 or 8 bits: 8 eps; a gradient
  scaled by 1.001 is below one float16 ULP and cannot be seen there (nor in bfloat16).
* float64: 64 eps (1.4e-14): frameworks sum in a different order than the reference.

Overrides are named, commented, and join by taking the max (as JAX's tolerance does).

The check routine passes what it knows about one output (its sums, its per-element condition
numbers, the reference values) as a ``Conditioning`` among the overrides, so that a tolerance
derived from this one for a divergence model's compute dtype (lossconform.divergences.explain
calls ``tolerance(compute_dtype, kind, tol.overrides)``) keeps them. When a divergence model
is compared with the framework, an element where the model itself departs from the reference
(the relative loss it models) may differ from the model by up to twice that departure: the
model must predict the loss where it happens and at its size, not to the last bit of a
rounding the framework does in another order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

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

#: The dtype a correct implementation accumulates (and computes) a dtype's values in.
ACCUMULATION: dict[str, str] = {
    "float16": "float32",
    "bfloat16": "float32",
    "float32": "float32",
    "float64": "float64",
}

#: R0 of the relative bound: ULP of the dtype for its final rounding (half dtypes only).
REL_FINAL_ULP: dict[str, float] = {"float16": 4, "bfloat16": 4, "float32": 0, "float64": 0}

#: R1 of the relative bound: ULP of the accumulation dtype for a well-conditioned element.
REL_ULP: dict[str, float] = {"forward": 8, "gradient": 16}

#: lambda of the probabilistic summation bound lambda * sqrt(n - 1) (see the docstring).
SUM_LAMBDA = 2.0

#: kappa beyond which an element is not held: the reference computes it to kappa * 2**-64
#: relative (reference/__init__.py, "Precision"), so beyond 2**50 its own value is known to
#: fewer than 14 bits (a gradient of tied classes that is 0 up to the reference's noise).
KAPPA_MAX = 2.0 ** 50

#: What a model may differ from the framework by on an element it departs from the
#: reference on, in multiples of that departure (see the docstring).
MODEL_SLACK = 2.0


def summation_allowance(n: int) -> float:
    """Units of rounding (of the accumulation dtype) a sum of ``n`` terms may add:
    min(n - 1, SUM_LAMBDA * sqrt(n - 1))."""
    m = max(int(n) - 1, 0)
    return float(min(m, SUM_LAMBDA * math.sqrt(m)))


def ratio(dtype: str) -> float:
    """rho: eps of the dtype's accumulation dtype / eps of the dtype."""
    return EPS[ACCUMULATION[dtype]] / EPS[dtype]


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
            "superseded: every check now gets a summation allowance that grows with the "
            "length of its sums (summation_allowance); the flat 64 eps it stood for allowed a "
            "bfloat16 sum a relative error of 0.5. Kept so that case tables naming it stay "
            "valid; it widens nothing",
            rtol_eps=0,
            atol_eps=0,
        ),
    )
}


@dataclass(frozen=True, eq=False)
class Conditioning:
    """What the check routine knows about one output, for the relative bound.

    ``sums``: the length of each sum the output goes through (classes, items, the mean's
    weights); ``condition``: kappa per element of the reference's output (None: 1 for every
    element; inf: the element is not held to the relative bound); ``reference``: the
    reference's values (a model's departure from them is its slack, see the module
    docstring). Travels among a Tolerance's overrides.
    """

    sums: tuple[int, ...] = ()
    condition: np.ndarray | None = field(default=None, repr=False)
    reference: np.ndarray | None = field(default=None, repr=False)

    @property
    def allowance(self) -> float:
        """Units of rounding of the accumulation dtype the sums add."""
        return sum(summation_allowance(n) for n in self.sums)


_NO_CONDITIONING = Conditioning()


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    #: the named overrides, and the check's Conditioning if it passed one
    overrides: tuple[Any, ...] = ()
    dtype: str = "float64"
    kind: str = "forward"

    @property
    def names(self) -> tuple[str, ...]:
        """The named overrides (strings) among ``overrides``."""
        return tuple(o for o in self.overrides if isinstance(o, str))

    @property
    def conditioning(self) -> Conditioning:
        for o in self.overrides:
            if isinstance(o, Conditioning):
                return o
        return _NO_CONDITIONING

    @property
    def rel_ulp(self) -> float:
        """The relative bound of an element with kappa = 1, in ULP of the dtype."""
        return REL_FINAL_ULP[self.dtype] + ratio(self.dtype) * (
            REL_ULP[self.kind] + self.conditioning.allowance)

    def relative_bound(self, expected: np.ndarray) -> np.ndarray:
        """The relative bound (ULP of the dtype) of each element of ``expected`` (the
        reference, or a divergence model: then its departure from the reference is added,
        MODEL_SLACK times); inf where the element is not held."""
        from lossconform.dtypes import ulp

        c = self.conditioning
        kappa: Any = 1.0
        if c.condition is not None:
            k = np.asarray(c.condition, dtype=np.float64)
            # a model of another shape (a convention that changes the output's shape: its
            # elements are not the reference's) is matched norm-wise only
            kappa = k if k.shape == expected.shape else math.inf
        with np.errstate(invalid="ignore", over="ignore"):
            kappa = np.where(np.isnan(kappa) | (kappa > KAPPA_MAX), np.inf,
                             np.maximum(kappa, 1.0))
            bound = ratio(self.dtype) * kappa * (REL_ULP[self.kind] + c.allowance)
            # a gradient's operands (the forward outputs autodiff saved) are rounded to the
            # dtype: its final-rounding term grows with kappa too
            bound = bound + REL_FINAL_ULP[self.dtype] * (kappa if self.kind == "gradient" else 1.0)
        ref = c.reference
        if ref is not None and np.shape(ref) == expected.shape and ref is not expected:
            r = np.asarray(ref, dtype=np.float64)
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                dep = np.abs(expected - r) / ulp(np.where(np.isfinite(expected), expected, 0.0),
                                                 self.dtype)
            dep = np.where(np.isfinite(r) & np.isfinite(expected), dep, 0.0)
            with np.errstate(over="ignore"):  # a departure near MAX: the bound is inf (holds)
                bound = bound + MODEL_SLACK * np.where(np.isnan(dep), 0.0, dep)
        return np.broadcast_to(bound, expected.shape)

    def as_dict(self) -> dict[str, object]:
        """rtol, atol, the named overrides, ``rel_ulp`` (the relative bound of an element with
        kappa = 1, ULP) and ``sums`` (the lengths of the check's sums); the check routine adds
        ``rel_used`` (the largest error / relative bound over the held elements)."""
        c = self.conditioning
        return {"rtol": self.rtol, "atol": self.atol, "overrides": list(self.names),
                "rel_ulp": self.rel_ulp, "sums": list(c.sums)}


def tolerance(dtype: str, kind: str = "forward", overrides: Iterable[Any] = ()) -> Tolerance:
    """The tolerance for one check: dtype's base table, joined (max) with named overrides,
    plus the summation allowance of the ``Conditioning`` among ``overrides`` (if any)."""
    if dtype not in EPS:
        raise ValueError(f"unknown dtype {dtype!r}; valid: {', '.join(EPS)}")
    table = {"forward": FORWARD_EPS, "gradient": GRADIENT_EPS}.get(kind)
    if table is None:
        raise ValueError(f"unknown check kind {kind!r}; valid: forward, gradient")
    overrides = tuple(overrides)
    r, a = table[dtype]
    cond = _NO_CONDITIONING
    for name in overrides:
        if isinstance(name, Conditioning):
            cond = name
            continue
        o = OVERRIDES.get(name)
        if o is None:
            raise ValueError(f"unknown tolerance override {name!r}; valid: {', '.join(OVERRIDES)}")
        if dtype in o.dtypes and kind in o.kinds:
            r, a = max(r, o.rtol_eps), max(a, o.atol_eps)
    extra = ratio(dtype) * cond.allowance
    eps = EPS[dtype]
    return Tolerance(rtol=(r + extra) * eps, atol=(a + extra) * eps, overrides=overrides,
                     dtype=dtype, kind=kind)
