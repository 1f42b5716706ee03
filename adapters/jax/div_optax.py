"""Divergence entries of jax.nn and optax.losses (jax 0.10.2, optax 0.2.8, CPU), each with a
model built from the reference's arithmetic and ``lossconform.dtypes.round_to``, never from jax.

* the user's ``jnp.mean`` of optax's per-item losses divides by every item, masked ones too;
* ``jax.nn.log_softmax`` (and the probability-target losses built on it) takes the log of the
  row sum rounded to the dtype: log-probabilities near 0 lose their relative accuracy;
* ``jax.nn.softmax`` in float16/bfloat16 computes exp and the division in the half dtype, and
  its float16 gradient sums the cotangent term over the row in float16;
* ``jax.nn.log_softmax``'s float16 gradient overflows where a row sum exceeds 65504;
* ``softmax_cross_entropy_with_integer_labels`` computes ``logsumexp(logits) - logits[label]``
  in the logits' dtype: the loss cancels (a finding, ``findings.py``), and a +inf logit gives
  a loss of +inf with a NaN only at that entry of the gradient (a finding);
* ``softmax_cross_entropy`` / ``poly_loss_cross_entropy``: ``labels * log_softmax`` is NaN for a
  -inf logit under a zero label (0 * -inf); ``sigmoid_binary_cross_entropy`` likewise at an
  infinite logit under a 0/1 label.
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.cases import BY_ID
from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.entry import Observed
from lossconform.divergences.numerics import (
    classes_back, classes_last, cotangent, example_call, farther_from_reference,
    probs_target_last,
)
from lossconform.dtypes import EPS, HALF_DTYPES, round_to

from . import entry_points as E
from . import findings as F

_OPTAX = "https://github.com/google-deepmind/optax/blob/v0.2.8/optax/losses/_classification.py"
_JAXNN = "https://github.com/jax-ml/jax/blob/jax-v0.10.2/jax/_src/nn/functions.py"
_REDUCTIONS = "https://github.com/jax-ml/jax/blob/jax-v0.10.2/jax/_src/numpy/reductions.py"
_PROBS_CE = (E.SCE, E.POLY)
_LOG_SOFTMAX_USERS = (E.LOG_SOFTMAX, E.SCE, E.SAFE, E.POLY)

ENTRIES: list[Divergence] = []


def _acc(dt: str) -> str:
    """jnp.sum accumulates float16/bfloat16 in float32 (reductions.py: _reduce_sum,
    upcast_f16_for_computation=True) and rounds the result to the dtype."""
    return "float32" if dt in HALF_DTYPES else dt


def _items(call: Call) -> int:
    return int(call.x.size // call.x.shape[call.axis]) if call.x.ndim else 1


def _reduce(call: Call, losses: np.ndarray) -> np.ndarray:
    """The user's reduction of per-item losses as JAX computes it: jnp.sum / jnp.mean (over
    every item), accumulated in float32 for half dtypes, rounded to the dtype."""
    dt = call.dtype
    with np.errstate(invalid="ignore", over="ignore"):
        if call.reduction == "none":
            return losses
        total = np.sum(losses)
        if call.reduction == "mean":
            total = round_to(np.asarray(total), _acc(dt)) / losses.size
        return round_to(np.asarray(total), dt)


# -- jnp.mean divides by every item, masked ones included ----------------------------------------
def _mean_by_count(call: Call) -> ModelResult:
    args, kw = R.arguments(call)
    kw["reduction"] = "sum"
    n = _items(call)
    with np.errstate(invalid="ignore"):
        fwd = np.asarray(R.cross_entropy(*args, **kw)) / n
        grad = None if call.grad_output is None else R.cross_entropy_vjp(
            *args, **kw, grad_output=np.asarray(call.grad_output) / n)
    return fwd, grad


def _some_ignored_mean(call: Call) -> bool:
    ii = call.option("ignore_index")
    return (call.op == "cross_entropy" and call.target_kind == "index" and ii is not None
            and call.reduction == "mean" and bool(np.any(np.asarray(call.target) == ii)))


ENTRIES.append(Divergence(
    id="jax-optax-mean-counts-masked-items",
    title="jnp.mean of optax's per-item losses divides by every item, the items masked with "
          "where= (the ignore index) included",
    framework="jax", entry_points=(E.INT,), versions=">=0.2.3", package="optax",
    kinds=("forward", "gradient"),
    trigger="index targets with an ignore index that some item equals, reduction 'mean'",
    explanation="optax losses return one loss per item and have no reduction: a masked item "
                "(where=False) gets a loss of 0 (jnp.where(jnp.any(where, axis), out, 0.0)) and "
                "the user's jnp.mean divides the sum by the number of items, masked ones "
                "included. The reference divides by the kept items (torch's ignore_index, "
                "Keras' ignore_class): jax's mean is smaller by kept/total, and so is the "
                "gradient. Users who want the other mean write jnp.sum(loss) / jnp.sum(where).",
    link=f"{_OPTAX}#L405-L406 (a masked item's loss is 0); https://optax.readthedocs.io/en/"
         "latest/api/losses.html (per-item losses, no reduction)",
    applies=_some_ignored_mean,
    model=_mean_by_count,
    example=lambda: example_call("cross_entropy", [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0],
                                                   [0.5, 0.5, 1.0]],
                                 target=[0, 2, 1], target_kind="index",
                                 options={"ignore_index": 1, "reduction": "mean"}),
))


# -- jax.nn.log_softmax: the log of the rounded row sum ----------------------------------------
def log_sum(call: Call) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d, L_lo, L_hi), classes last: d = x - max in the dtype, and the two ends of L = log(S)
    for S = sum of exp(d) as JAX computes it: each exp rounded to the dtype (jnp.exp in the
    dtype), accumulated in float32 for half dtypes (any order: (C - 1) u of the accumulation
    dtype apart), stored in the dtype, its log rounded to the dtype; NaN where the row's
    maximum is not finite. As ``log_of_rounded_sum`` (lossconform.divergences.numerics), with
    the exponentials rounded to the dtype rather than to the accumulation dtype."""
    dt = call.dtype
    acc = _acc(dt)
    x = classes_last(call.x, call)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        m = np.max(x, axis=-1, keepdims=True)
        fin = np.isfinite(m)
        d = round_to(x - np.where(fin, m, 0.0), dt)
        e = round_to(np.exp(d), dt)
        S = np.sum(e, axis=-1, keepdims=True)
        # the summation order shows only when the sum is stored in the accumulation dtype; a
        # float32 sum stored in float16/bfloat16 is that rounding, whatever the order
        n_add = x.shape[-1] - 2  # the last addition's rounding is the storage rounding
        err = max(n_add, 0) * EPS[acc] / 2 * S if acc == dt else 0.0 * S
        flush = S - 1.0 < EPS[dt] / 4  # the other classes below half an ULP of 1: S is 1
        ends = []
        for Sx in (S - err, S + err):
            L = round_to(np.log(np.where(flush, 1.0, round_to(round_to(Sx, acc), dt))), dt)
            ends.append(np.where(fin, L, np.nan))
    return d, ends[0], ends[1]


def jax_log_softmax(call: Call) -> tuple[np.ndarray, np.ndarray]:
    """jax.nn.log_softmax of ``call.x`` (classes last) as its two ends: shifted = x - max in the
    dtype, the row sum of exp(shifted) accumulated in float32 for half dtypes and stored in
    the dtype, its log in the dtype, shifted - log(sum) rounded to the dtype
    (functions.py: log_softmax)."""
    dt = call.dtype
    d, lo, hi = log_sum(call)
    with np.errstate(invalid="ignore"):
        return round_to(d - lo, dt), round_to(d - hi, dt)


def _labels(call: Call, n_classes: int) -> np.ndarray:
    """The labels optax sees, classes last: optax.smooth_labels in the dtype when smoothing."""
    dt = call.dtype
    q = probs_target_last(call)
    a = float(call.option("label_smoothing") or 0.0)
    if a:
        q = round_to(round_to(round_to(np.asarray(1.0 - a), dt) * q, dt)
                     + round_to(np.asarray(a / n_classes), dt), dt)
    return q


def _ce_from(call: Call, lp: np.ndarray) -> np.ndarray:
    """-sum(labels * lp) per item (0 * lp = 0: the 0 * -inf NaN is its own entry), reduced."""
    q = _labels(call, lp.shape[-1])
    with np.errstate(invalid="ignore"):
        prod = np.where(q == 0, 0.0, round_to(q * lp, call.dtype))
        l = round_to(-np.sum(prod, axis=-1), call.dtype)
    return _reduce(call, l)


def _log_softmax_model(call: Call) -> ModelResult:
    lo, hi = jax_log_softmax(call)
    if call.op == "log_softmax":
        a, b = classes_back(lo, call), classes_back(hi, call)
    else:
        a, b = _ce_from(call, lo), _ce_from(call, hi)
    return farther_from_reference(call, a, b), None


_LSE_EXPL = ("jax.nn.log_softmax computes shifted - log(sum(exp(shifted))) with shifted = x - "
             "max and the sum (accumulated in float32 for float16/bfloat16 by jnp.sum) stored "
             "in the input's dtype before its log. For the argmax of a row whose other classes "
             "add up to r, log(1 + r) is taken of 1 + r rounded to the dtype: an absolute error "
             "of up to half an ULP of 1 on a value of size r, and exactly 0 once r is below it "
             "(a confident row's log-probability, and its cross-entropy, come back as 0). The "
             "reference takes log1p(r). In float16 a row of more than 65504 classes sums to "
             "+inf and every log-probability is -inf. The same log_softmax is what "
             "optax.softmax_cross_entropy, safe_softmax_cross_entropy and "
             "poly_loss_cross_entropy compute their losses from (-(labels * log_probs).sum). "
             "The same convention as torch's and TensorFlow's log-of-rounded-sum entries.")

ENTRIES.append(Divergence(
    id="jax-log-softmax-log-of-rounded-sum",
    title="jax.nn.log_softmax (and optax's probability-target cross-entropies) take the log of "
          "the row sum rounded to the dtype: log-probabilities near 0 lose relative accuracy",
    framework="jax", entry_points=_LOG_SOFTMAX_USERS, versions=">=0.4",
    kinds=("forward",),
    trigger="rows whose argmax has probability near 1 (confident or large-scale logits; in "
            "float16/bfloat16 any row with p_max above ~0.9), and float16 rows of more than "
            "65504 classes",
    explanation=_LSE_EXPL,
    link=f"{_JAXNN}#L566-L571 (log_softmax: shifted - jnp.log(jnp.sum(jnp.exp(shifted))); "
         f"{_OPTAX}#L295-L296 (softmax_cross_entropy: log_softmax, then -(labels * "
         "log_probs).sum)",
    applies=lambda c: c.op in ("log_softmax", "cross_entropy") and c.target_kind != "index"
    and c.x.size > 0,
    model=_log_softmax_model,
    example=lambda: example_call("log_softmax", [[30.0, 0.0, 1.0, -2.0], [24.0, 0.5, 0.0, -1.0]],
                                 dtype="float32", grad=False),
))


def _half_log_softmax_grad(call: Call) -> ModelResult:
    """The transpose of shifted - log(sum(exp(shifted))) in the dtype: the cotangent's row sum
    (float32 accumulation, stored in the dtype: inf beyond 65504 in float16), divided by the
    stored row sum S, times exp(shifted), added to g."""
    dt = call.dtype
    d, lo, hi = log_sum(call)
    g = classes_last(np.asarray(call.grad_output, dtype=np.float64), call)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        e = round_to(np.exp(d), dt)
        S = round_to(np.sum(e, axis=-1, keepdims=True), dt)
        sg = round_to(np.sum(g, axis=-1, keepdims=True), dt)
        a = round_to(-sg / S, dt)
        grad = round_to(g + round_to(a * e, dt), dt)
    lp = jax_log_softmax(call)
    fwd = farther_from_reference(call, classes_back(lp[0], call), classes_back(lp[1], call))
    return fwd, classes_back(grad, call)


ENTRIES.append(Divergence(
    id="jax-log-softmax-half-gradient-row-sum",
    title="jax.nn.log_softmax's gradient in float16 is -inf (or NaN) when the cotangent's row "
          "sum (or the row's sum of exponentials) exceeds 65504",
    framework="jax", entry_points=(E.LOG_SOFTMAX,), versions=">=0.4",
    kinds=("gradient",),
    trigger="float16 rows of many classes (10^5): the cotangent's row sum or the sum of "
            "exp(x - max) beyond 65504",
    explanation="The gradient of shifted - log(sum(exp(shifted))) is g - sum(g) / S * "
                "exp(shifted): jax's autodiff forms sum(g) with jnp.sum (float32 accumulation, "
                "stored in float16), so a row sum beyond 65504 is inf and every element of the "
                "gradient is -inf; a row sum of exponentials beyond 65504 (a near-uniform row "
                "of 131072 classes) makes S inf and the gradient inf / inf = NaN. The true "
                "gradient is small and finite. The same as TensorFlow's float16 log_softmax "
                "gradient finding.",
    link=f"{_JAXNN}#L566-L571 (log_softmax, differentiated by jax.vjp); {_REDUCTIONS} (_reduce_sum "
         "with upcast_f16_for_computation: float32 accumulation, float16 result)",
    applies=lambda c: c.op == "log_softmax" and c.dtype in HALF_DTYPES
    and c.grad_output is not None and c.x.size > 0,
    model=_half_log_softmax_grad,
    example=lambda: Call("log_softmax", round_to(np.linspace(-2.0, 2.0, 40), "float16")
                         .reshape(1, 40), "float16", grad_output=np.full((1, 40), 2048.0)),
))


# -- jax.nn.softmax in half dtypes ---------------------------------------------------------------
def _half_softmax_last(call: Call) -> np.ndarray:
    dt = call.dtype
    x = classes_last(call.x, call)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=-1, keepdims=True)
        e = round_to(np.exp(round_to(x - m, dt)), dt)
        s = round_to(np.sum(e, axis=-1, keepdims=True), dt)
        return round_to(e / s, dt)


def _half_softmax(call: Call) -> ModelResult:
    return classes_back(_half_softmax_last(call), call), None


def _f16_softmax_grad(call: Call) -> ModelResult:
    """jax.nn.softmax's float16 gradient as XLA compiles it (jax.jit(step).lower().compile()
    .as_text(), jax 0.10.2 CPU): u = exp(x - max), S = sum(u) (float32, stored in float16),
    r = 1 / S, x2 = 1 / (S * S); z = g * x2 * u; b = sum(z) reduced in FLOAT16 (the reduce's
    accumulator is f16); grad = ((g * r) - b) * u, every step rounded to float16. Rows of up to
    8 classes are summed in order (bitwise what XLA gives); the order of a longer, vectorised
    float16 reduction is not modelled: b's two ends are the exact sum +- log2(C) half-ULPs of
    sum|z| (a tree-like order's bound), each element the end farther from the reference's
    gradient."""
    dt = call.dtype
    x = classes_last(call.x, call)
    g = classes_last(np.asarray(call.grad_output, dtype=np.float64), call)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        m = np.max(x, axis=-1, keepdims=True)
        u = round_to(np.exp(round_to(x - m, dt)), dt)
        S = round_to(np.sum(u, axis=-1, keepdims=True), dt)
        rinv = round_to(1.0 / S, dt)
        x2 = round_to(1.0 / round_to(S * S, dt), dt)
        z = round_to(round_to(g * x2, dt) * u, dt)
        gr = round_to(g * rinv, dt)
        if x.shape[-1] <= 8:  # one vector's worth: summed in order (measured bitwise)
            exact = np.zeros(z.shape[:-1] + (1,))
            for k in range(x.shape[-1]):
                exact = round_to(exact + z[..., k:k + 1], dt)
            err = 0.0 * exact
        else:
            exact = np.sum(z, axis=-1, keepdims=True)
            err = np.ceil(np.log2(x.shape[-1])) * EPS[dt] / 2 * np.sum(np.abs(z), axis=-1,
                                                                       keepdims=True)
        lo, hi = (round_to(round_to(gr - round_to(b, dt), dt) * u, dt)
                  for b in (exact - err, exact + err))
        ref = classes_last(np.asarray(R.softmax_vjp(call.x, axis=call.axis,
                                                    grad_output=call.grad_output)), call)
        grad = np.where(np.abs(lo - ref) > np.abs(hi - ref), lo, hi)
        fwd = round_to(u * rinv, dt)
    return classes_back(fwd, call), classes_back(grad, call)


ENTRIES.append(Divergence(
    id="jax-softmax-float16-gradient-row-sum-in-float16",
    title="jax.nn.softmax's gradient in float16 sums the cotangent term over the row in "
          "float16: over long rows, or where that sum cancels, elements lose their relative "
          "accuracy",
    framework="jax", entry_points=(E.SOFTMAX,), versions=">=0.4",
    kinds=("gradient",),
    trigger="float16 softmax gradients whose row sum sum(g u / S^2) loses bits in float16: "
            "long rows (10^5 classes), or cotangents of very different sizes that cancel "
            "(g = [2048, 0.156, -2048, 0.3125]: an element of 0.0098 comes back as 0.0195)",
    explanation="With jax_softmax_custom_jvp off (the default in jax 0.10), jax.nn.softmax is "
                "_softmax_deprecated, u / jnp.sum(u), and its gradient is autodiff of that "
                "quotient: (g / S - sum(g u / S^2)) * u. The transpose of the broadcast is a "
                "lax.reduce_sum in float16 (no float32 accumulation, unlike jnp.sum), which XLA "
                "compiles to a float16 reduction; over 10^5 classes its rounding errors (up to "
                "~log2(C) half-ULPs of the sum of |terms|) reach the small elements of the "
                "gradient: ~1e-7 absolute error on elements of ~1e-4, hundreds of ULP of their "
                "own magnitude. The reference's p (g - sum(p g)) keeps them; short rows stay "
                "within the bound.",
    link=f"{_JAXNN}#L608-L611 (softmax: _softmax_deprecated unless jax_softmax_custom_jvp); "
         f"{_JAXNN}#L634-L645 (_softmax_deprecated: unnormalized / jnp.sum(unnormalized))",
    applies=lambda c: c.op == "softmax" and c.dtype == "float16"
    and c.grad_output is not None and c.x.size > 0,
    model=_f16_softmax_grad,
    example=lambda: Call("softmax", np.zeros((1, 4)), "float16",
                         grad_output=np.array([[2048.0, 0.15625, -2048.0, 0.3125]])),
))


ENTRIES.append(Divergence(
    id="jax-softmax-half-in-dtype",
    title="jax.nn.softmax in float16/bfloat16 rounds exp(x - max), the row sum and the quotient "
          "to the half dtype: small probabilities lose relative accuracy",
    framework="jax", entry_points=(E.SOFTMAX,), versions=">=0.4",
    kinds=("forward",),
    trigger="float16 or bfloat16 softmax: any row (probabilities far below the row maximum "
            "are hit the most)",
    explanation="jax.nn.softmax (_softmax_deprecated, the default path) computes unnormalized "
                "= jnp.exp(x - x_max) and unnormalized / "
                "jnp.sum(unnormalized) in the input's dtype (only the sum is accumulated in "
                "float32 and rounded back), so each probability carries three roundings of the "
                "half dtype (up to ~8 ULP where the exponent is large), where the reference "
                "(and torch's float accumulation) rounds once. Computing in float32 and casting "
                "back, as torch does, keeps them within one rounding.",
    link=f"{_JAXNN}#L608-L611 (softmax: _softmax_deprecated, jax_softmax_custom_jvp is off "
         f"by default); {_JAXNN}#L634-L645 (unnormalized = jnp.exp(x_safe - x_max); "
         "unnormalized / jnp.sum(...))",
    applies=lambda c: c.op == "softmax" and c.dtype in HALF_DTYPES,
    model=_half_softmax,
    example=lambda: BY_ID["softmax-moderate-16x10"].call("float16", seed=0),
))


# -- softmax_cross_entropy_with_integer_labels: logsumexp - logit in the dtype --------------------
def _int_losses(call: Call, L: np.ndarray) -> np.ndarray:
    """Per-item logsumexp(x) - x[y] in the dtype, from L = log(sum exp(x - max)) (classes
    last, keepdims); masked items 0."""
    dt = call.dtype
    x = classes_last(call.x, call)
    y = np.asarray(call.target)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=-1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        lse = round_to(L + m, dt)[..., 0]
        xy = np.take_along_axis(x, y[..., None], axis=-1)[..., 0]
        out = round_to(lse - xy, dt)
    ii = call.option("ignore_index")
    if ii is not None:
        out = np.where(y == ii, 0.0, out)
    return out


def _int_model(call: Call) -> ModelResult:
    _, lo, hi = log_sum(call)
    a, b = (_reduce(call, _int_losses(call, L)) for L in (lo, hi))
    return farther_from_reference(call, a, b), None


def _int_applies(call: Call) -> bool:
    if call.op != "cross_entropy" or call.target_kind != "index" or call.x.size == 0:
        return False
    x = classes_last(call.x, call)
    return not np.any(np.max(x, axis=-1) == np.inf)


ENTRIES.append(Divergence(
    id="optax-integer-labels-logsumexp-cancellation",
    title="optax softmax_cross_entropy_with_integer_labels computes logsumexp(logits) - "
          "logits[label] in the logits' dtype: the loss cancels, a confident item's is 0",
    framework="jax", entry_points=(E.INT,), versions=">=0.1.7", package="optax",
    kinds=("forward",),
    trigger="items whose label's logit is close to the row's log-sum-exp: confident items (a "
            "loss far below an ULP of the logit), and any item whose logits are large "
            "(|x| ~ 1e8 in float32, ~1e4 in bfloat16): the loss is rounded to an ULP of the logit",
    explanation="optax avoids log_softmax here ('we avoid subtracting the normalizer from all "
                "values') and returns jax.nn.logsumexp(logits) - take_along_axis(logits, "
                "label): two numbers of the logits' size subtracted in the logits' dtype, so "
                "the loss carries an absolute error of an ULP of max|x| (bfloat16 logits all "
                "9984: 0 instead of log 10; float32 logits near 1e8: 0 instead of 0.69) and a "
                "confident item's loss log1p(r) becomes log(1 + r rounded) - 0. "
                "optax.softmax_cross_entropy on one-hot labels (log_softmax first) and torch/TF "
                "keep the relative accuracy. The gradient (softmax - onehot) is not affected. "
                "The reduction is the user's jnp.mean / jnp.sum (every item counted).",
    link=f"{_OPTAX}#L397-L404 (label_logits = jnp.take_along_axis(...); log_normalizers = "
         "jax.nn.logsumexp(...); out = log_normalizers - label_logits)",
    applies=_int_applies,
    model=_int_model,
    example=lambda: example_call("cross_entropy", [[9984.0] * 10, [9984.0] * 10],
                                 dtype="bfloat16", target=[0, 3], target_kind="index",
                                 options={"reduction": "none"}, grad=False),
    observed=(Observed("forward", "0 0", "bfloat16 logits all 9984: 0 instead of log 10"),),
    finding=F.INTEGER_LABELS_CANCELLATION,
))


# -- integer labels and a +inf logit ------------------------------------------------------------
def _pos_inf_rows(call: Call) -> np.ndarray:
    return np.max(classes_last(call.x, call), axis=-1) == np.inf


def _pos_inf_model(call: Call) -> ModelResult:
    x = classes_last(call.x, call)
    y = np.asarray(call.target)
    rows = _pos_inf_rows(call)
    xy = np.take_along_axis(x, y[..., None], axis=-1)[..., 0]
    kw = dict(axis=call.axis, target_kind="index", reduction="none")
    with np.errstate(invalid="ignore", over="ignore"):
        per = np.asarray(R.cross_entropy(call.x, y, **kw), dtype=np.float64)
        per = np.where(rows, np.where(xy == np.inf, np.nan, np.inf), per)
        ii = call.option("ignore_index")
        if ii is not None:
            per = np.where(y == ii, 0.0, per)
        fwd = np.sum(per) if call.reduction == "sum" else (
            np.mean(per) if call.reduction == "mean" else per)
        grad = None
        if call.grad_output is not None:
            n = per.size
            g_items = cotangent(call, per.shape) / (n if call.reduction == "mean" else 1)
            if ii is not None:
                g_items = np.where(y == ii, 0.0, g_items)
            p = np.asarray(R.softmax(x, axis=-1))
            onehot = np.zeros_like(x)
            np.put_along_axis(onehot, y[..., None], 1.0, axis=-1)
            inf_grad = np.where(x == np.inf, np.nan, 0.0) - onehot
            g = np.where(rows[..., None], inf_grad, p - onehot) * g_items[..., None]
            grad = classes_back(g, call)
    return np.asarray(fwd, dtype=np.float64), grad


ENTRIES.append(Divergence(
    id="optax-integer-labels-pos-inf-logit",
    title="optax softmax_cross_entropy_with_integer_labels: a +inf logit gives a loss of +inf "
          "and a gradient that is NaN only at that entry",
    framework="jax", entry_points=(E.INT,), versions=">=0.1.7", package="optax",
    kinds=("forward", "gradient"),
    trigger="index targets, an item with a +inf logit (on a class other than its label)",
    explanation="jax.nn.logsumexp replaces a non-finite row maximum by 0 before exp, so the "
                "log-normalizer of a row holding +inf is +inf and the loss +inf - x[label] = "
                "+inf; its gradient exp(x - logsumexp) is exp(inf - inf) = NaN at the +inf "
                "entry and 0 elsewhere, so the row's gradient is [-1 at the label, NaN at the "
                "+inf, 0 elsewhere]. The reference (and softmax_cross_entropy, torch, TF) "
                "return NaN: the softmax of such a row is undefined. A +inf loss with mostly "
                "finite gradients hides the overflow from a NaN check on the loss.",
    link=f"{_OPTAX}#L403-L404; https://github.com/jax-ml/jax/blob/jax-v0.10.2/jax/_src/ops/"
         "special.py (logsumexp: amax = select(isfinite(amax), amax, 0))",
    applies=lambda c: c.op == "cross_entropy" and c.target_kind == "index" and c.x.size > 0
    and bool(np.any(_pos_inf_rows(c))),
    model=_pos_inf_model,
    example=lambda: example_call("cross_entropy", [[0.5, np.inf, -1.0], [1.0, 2.0, 0.0]],
                                 target=[0, 1], target_kind="index",
                                 options={"reduction": "sum"}),
    observed=(Observed("forward", "+inf", "a loss of +inf"),
              Observed("gradient", "- nan 0 | + - +",
                       "a gradient that is NaN only at that entry (-1 at the label, 0 elsewhere)")),
    finding=F.INTEGER_LABELS_POS_INF,
))


# -- 0 * -inf in softmax_cross_entropy / poly_loss ----------------------------------------------
def _neg_inf_zero_label_items(call: Call) -> np.ndarray:
    x = classes_last(call.x, call)
    q = _labels(call, x.shape[-1])
    return np.any((x == -np.inf) & (q == 0), axis=-1)


def _nan_items_model(call: Call) -> ModelResult:
    args, kw = R.arguments(call)
    kw["reduction"] = "none"
    with np.errstate(invalid="ignore"):
        per = np.asarray(R.cross_entropy(*args, **kw), dtype=np.float64)
        per = np.where(_neg_inf_zero_label_items(call), np.nan, per)
        fwd = per if call.reduction == "none" else (
            np.sum(per) if call.reduction == "sum" else np.mean(per))
    return np.asarray(fwd), None


ENTRIES.append(Divergence(
    id="optax-softmax-ce-neg-inf-zero-label-nan",
    title="optax softmax_cross_entropy / poly_loss_cross_entropy are NaN where a -inf logit "
          "has label 0 (0 * -inf)",
    framework="jax", entry_points=_PROBS_CE, versions=">=0.1", package="optax",
    kinds=("forward",),
    trigger="probability targets and a -inf logit (a mask) on a class whose label (after "
            "smoothing) is 0",
    explanation="softmax_cross_entropy returns -(labels * log_softmax(logits)).sum(axis): at a "
                "masked class log_softmax is -inf and 0 * -inf is NaN, so the item's loss (and "
                "its mean or sum) is NaN. optax documents the alternative: "
                "safe_softmax_cross_entropy treats 0 log 0 as 0 (as the reference does). The "
                "gradient is right. The same as torch's probability-target cross_entropy.",
    link=f"{_OPTAX}#L295-L296; {_OPTAX}#L203-L224 (safe_softmax_cross_entropy)",
    applies=lambda c: c.op == "cross_entropy" and c.target_kind == "probs" and c.x.size > 0
    and bool(np.any(_neg_inf_zero_label_items(c))),
    model=_nan_items_model,
    example=lambda: example_call("cross_entropy", [[0.5, -np.inf, 2.0], [1.5, 0.75, -0.5]],
                                 target=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], target_kind="probs",
                                 options={"reduction": "none"}, grad=False),
))


# -- sigmoid_binary_cross_entropy at an infinite logit --------------------------------------------
def _bce_nan(call: Call) -> np.ndarray:
    x, t = np.asarray(call.x), np.asarray(call.target)
    return ((x == -np.inf) & (t == 0)) | ((x == np.inf) & (t == 1))


def _bce_model(call: Call) -> ModelResult:
    with np.errstate(invalid="ignore"):
        per = np.asarray(R.binary_cross_entropy_with_logits(call.x, call.target,
                                                            reduction="none"), dtype=np.float64)
        per = np.where(_bce_nan(call), np.nan, per)
        fwd = per if call.reduction == "none" else (
            np.sum(per) if call.reduction == "sum" else np.mean(per))
    return np.asarray(fwd), None


ENTRIES.append(Divergence(
    id="optax-sigmoid-bce-infinite-logit-nan",
    title="optax sigmoid_binary_cross_entropy is NaN at z = -inf under label 0 and at z = +inf "
          "under label 1 (the loss is 0)",
    framework="jax", entry_points=(E.BCE,), versions=">=0.1", package="optax",
    kinds=("forward",),
    trigger="a logit of -inf with target 0, or +inf with target 1",
    explanation="optax computes -labels * log_sigmoid(x) - (1 - labels) * log_sigmoid(-x): at "
                "x = -inf under label 0 the first term is -0 * -inf = NaN although the loss is "
                "0 (and symmetrically at +inf under label 1). The gradient is finite. torch and "
                "TF are NaN at such elements too (their own findings).",
    link=f"{_OPTAX}#L78-L83",
    applies=lambda c: c.op == "binary_cross_entropy_with_logits" and c.x.size > 0
    and bool(np.any(_bce_nan(c))),
    model=_bce_model,
    example=lambda: example_call("binary_cross_entropy_with_logits",
                                 [[np.inf, -np.inf, np.inf, -np.inf]],
                                 target=[[1.0, 0.0, 0.0, 1.0]], options={"reduction": "none"},
                                 grad=False),
))

__all__ = ["ENTRIES", "jax_log_softmax"]
