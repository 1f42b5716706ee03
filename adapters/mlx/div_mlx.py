"""Divergence entries of MLX (mlx 0.32.4, CPU), each with a model: MLX's own arithmetic for the
call, step by step in NumPy (``arith.py``), never mlx.

Specific conventions come first (the first entry whose model matches names the verdict):

* cross_entropy: 'mean' with per-item ``weights`` divides by the item count; probability
  targets are assumed to sum to 1 (``logsumexp - sum(t * z)``); ``logits * targets`` is NaN
  for a -inf logit under a zero target;
* binary_cross_entropy: the logs of p and 1 - p clipped at -100 (a loss of at most 100); a NaN
  gradient wherever p is exactly 0 or 1 (a finding); ``log(1 - p)`` of the rounded ``1 - p``;
  on logits, ``logaddexp(0, x) - x * t`` is NaN at an infinite logit and cancels (loss and
  gradient) for confident logits;
* the log of a row sum held in float32 (log_softmax, cross_entropy): a log-probability near 0
  keeps only absolute accuracy;
* float16/bfloat16: MLX rounds every op to the dtype (mx.softmax also sums the row in the
  dtype unless precise=True);
* float64: MLX's CPU exp is a float32 routine (a finding), so every float64 result built on
  exp is float32-accurate; mx.softmax(precise=True) over a non-last axis even rounds float64
  inputs to float32 (a finding).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.entry import Observed
from lossconform.divergences.numerics import (
    EXAMPLE_LOGITS, example_call, infinite_logit, targets_not_normalised,
)
from lossconform.dtypes import HALF_DTYPES

from . import arith as A
from . import entry_points as E
from . import findings as F

_TAG = "https://github.com/ml-explore/mlx/blob/v0.32.4/"
_LOSSES = _TAG + "python/mlx/nn/losses.py"
_ACT = _TAG + "python/mlx/nn/layers/activations.py"
_CPU = _TAG + "mlx/backend/cpu/"
_OPS = _TAG + "mlx/ops.cpp"
_PRIM = _TAG + "mlx/primitives.cpp"
_V = ">=0.25"  # the losses' formulas as they stand since the plug-in's lower bound

#: the last model result: (call, function, result). The harness asks for the forward and then
#: the gradient of the same call, and several entries share one model, so a check that
#: departs from the reference runs each model once
_LAST: list = [None, None, None]


def _cached(fn: Callable[[Call], ModelResult]) -> Callable[[Call], ModelResult]:
    def model(call: Call) -> ModelResult:
        if _LAST[0] is call and _LAST[1] is fn:
            return _LAST[2]
        result = fn(call)
        _LAST[:] = [call, fn, result]
        return result
    model.__doc__ = fn.__doc__
    return model


def _softmax_plain(call: Call) -> ModelResult:
    return A.softmax(call, precise=False)


def _softmax_precise(call: Call) -> ModelResult:
    return A.softmax(call, precise=True)


SOFTMAX = _cached(_softmax_plain)
SOFTMAX_PRECISE = _cached(_softmax_precise)
LOG_SOFTMAX = _cached(A.log_softmax)
CE = _cached(A.cross_entropy)
BCE = _cached(A.bce_probs)
BCE_LOGITS = _cached(A.bce_with_logits)

#: the model of each entry point: MLX's arithmetic for the call
_MODEL: dict[str, Callable[[Call], ModelResult]] = {
    E.SOFTMAX: SOFTMAX, E.SOFTMAX_PRECISE: SOFTMAX_PRECISE, E.LOG_SOFTMAX: LOG_SOFTMAX,
    E.CE: CE, E.BCE: BCE, E.BCE_LOGITS: BCE_LOGITS,
}
#: the entry point of each op whose model does not depend on the entry point (softmax has two)
_BY_OP: dict[str, Callable[[Call], ModelResult]] = {
    "log_softmax": LOG_SOFTMAX, "cross_entropy": CE,
    "binary_cross_entropy": BCE, "binary_cross_entropy_with_logits": BCE_LOGITS,
}


def _by_op(call: Call) -> ModelResult:
    return _BY_OP[call.op](call)


def _reference(call: Call) -> ModelResult:
    return R.evaluate(call, gradient=call.grad_output is not None)


REFERENCE = _cached(_reference)


def _half(call: Call) -> bool:
    return call.dtype in HALF_DTYPES


def _op(*ops: str) -> Callable[[Call], bool]:
    return lambda c: c.op in ops


def _call(op: str, x, dtype: str, *, grad_output=None, **kw) -> Call:
    """A Call with an explicit cotangent (example_call gives 1.0 or none)."""
    c = example_call(op, x, dtype, grad=False, **kw)
    return c if grad_output is None else c.replace(
        grad_output=np.asarray(grad_output, dtype=np.float64))


ENTRIES: list[Divergence] = []

# -- cross_entropy ---------------------------------------------------------------------------------
ENTRIES.append(Divergence(
    id="mlx-ce-mean-with-weights-divides-by-count",
    title="mlx.nn.losses.cross_entropy with weights: reduction 'mean' divides the weighted sum "
          "by the item count, not by the sum of the weights",
    framework="mlx", entry_points=(E.CE,), versions=_V, kinds=("forward", "gradient"),
    trigger="per-item weights (the case's sample_weight), reduction 'mean'",
    explanation="cross_entropy multiplies the per-item losses by `weights` (loss *= weights) and "
                "_reduce takes mx.mean of the result: sum(w_i l_i) / N. The reference divides "
                "by sum(w_i), the weighted mean (as torch's class-weighted 'mean'). MLX's 'mean' is larger or smaller by sum(w_i)/N, and so is the "
                "gradient. Users who want the weighted mean write mx.sum(loss) / mx.sum(w).",
    link=f"{_LOSSES}#L130-L140 (loss *= weights; _reduce(loss, reduction)); {_LOSSES}#L11-L16 "
         "(_reduce: mx.mean(loss))",
    applies=lambda c: c.op == "cross_entropy" and c.reduction == "mean"
    and c.option("sample_weight") is not None,
    model=CE,
    example=lambda: example_call("cross_entropy", EXAMPLE_LOGITS, "float32", target=[2, 0, 1],
                                 target_kind="index",
                                 options={"sample_weight": np.array([0.5, 2.0, 1.0]),
                                          "reduction": "mean"}),
))

ENTRIES.append(Divergence(
    id="mlx-ce-probs-assumes-normalised-targets",
    title="mlx.nn.losses.cross_entropy with probability targets computes logsumexp(z) - "
          "sum(t * z), which is the cross-entropy only when each target row sums to 1",
    framework="mlx", entry_points=(E.CE,), versions=_V, kinds=("forward", "gradient"),
    trigger="probability targets whose rows do not sum to 1 (unnormalised, all-zero or "
            "scaled rows)",
    explanation="For probability targets cross_entropy computes score = sum(logits * targets) "
                "and loss = logsumexp(logits) - score (with label smoothing: logsumexp - (1 - "
                "ls) score - ls mean(logits)). -sum(t log softmax(z)) equals that only when "
                "sum(t) = 1; in general it is sum(t) logsumexp(z) - sum(t z), which the "
                "reference computes. MLX's loss is off by (1 - sum(t)) logsumexp(z) (a row of "
                "zeros gets logsumexp(z) instead of 0) and its gradient is softmax(z) - t "
                "instead of sum(t) softmax(z) - t. Normalised targets (one-hot, soft) agree.",
    link=f"{_LOSSES}#L112-L128 (score = mx.sum(logits * targets); loss = logsumexp_logits - "
         "score)",
    applies=lambda c: c.op == "cross_entropy" and targets_not_normalised(c),
    model=CE,
    example=lambda: example_call("cross_entropy", EXAMPLE_LOGITS, "float32",
                                 target=[[0.0, 0.0, 0.5, 0.0], [0.5, 0.0, 0.0, 0.0],
                                         [0.0, 0.25, 0.0, 0.25]],
                                 target_kind="probs", options={"reduction": "sum"}),
))


def _neg_inf_probs(call: Call) -> bool:
    return call.op == "cross_entropy" and call.target_kind == "probs" \
        and bool(np.any(np.isneginf(np.asarray(call.x))))


ENTRIES.append(Divergence(
    id="mlx-ce-probs-neg-inf-logit-nan",
    title="mlx.nn.losses.cross_entropy with probability targets: a -inf logit makes the item's "
          "loss NaN (0 * -inf in sum(logits * targets)), also under a zero target",
    framework="mlx", entry_points=(E.CE,), versions=_V, kinds=("forward",),
    trigger="probability targets and a logit of -inf (a masked class)",
    explanation="score = mx.sum(logits * targets): where a logit is -inf (shifted by the row "
                "maximum it stays -inf) and its target is 0 the product is 0 * -inf = NaN, so "
                "the item's loss, and any 'mean' or 'sum' over it, is NaN; under a positive "
                "target it is +inf. The reference takes 0 log 0 = 0: a masked class with zero "
                "target contributes nothing (torch and optax.safe_softmax_cross_entropy agree). "
                "Class-index targets gather one logit and are not affected.",
    link=f"{_LOSSES}#L112-L113 (score = mx.sum(logits * targets, axis=axis))",
    applies=_neg_inf_probs,
    model=CE,
    example=lambda: example_call("cross_entropy", [[0.5, -np.inf, 2.0, 0.25],
                                                   [1.5, 0.75, -0.5, -2.0]], "float32",
                                 target=[[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
                                 target_kind="probs", options={"reduction": "none"}),
    observed=(Observed("forward", "nan +", "the item's loss NaN"),),
))

# -- binary_cross_entropy on probabilities -----------------------------------------------------------


def _saturated(call: Call) -> bool:
    p = np.asarray(call.x)
    return call.op == "binary_cross_entropy" and bool(np.any((p == 0.0) | (p == 1.0)))


def _clipped(call: Call) -> bool:
    if call.op != "binary_cross_entropy":
        return False
    p, t = np.asarray(call.x), np.broadcast_to(np.asarray(call.target), np.shape(call.x))
    return bool(np.any(((p == 0.0) & (t != 0.0)) | ((p == 1.0) & (t != 1.0))))


ENTRIES.append(Divergence(
    id="mlx-bce-nan-gradient-at-saturated-probability",
    title="mlx.nn.losses.binary_cross_entropy(with_logits=False): the gradient is NaN wherever "
          "a probability is exactly 0 or 1, whatever the target",
    framework="mlx", entry_points=(E.BCE,), versions=_V, kinds=("gradient",),
    trigger="a probability of exactly 0 or 1 (a saturated sigmoid), any target",
    explanation="The loss is -(t * max(log p, -100) + (1 - t) * max(log(1 - p), -100)). At p "
                "= 0, log p = -inf is clipped: the vjp of mx.maximum passes a cotangent of 0 "
                "(mask a > b), and the vjp of mx.log divides it by p = 0: 0 / 0 = NaN, added "
                "to the element's gradient even when t = 0 (loss 0, true gradient 1); p = 1 "
                "likewise through log(1 - p). torch clamps the same logs at -100 but keeps the "
                "gradient finite. NaN gradients reach the optimizer from any prediction that "
                "rounds to 0 or 1 in float32.",
    link=f"{_LOSSES}#L195-L197 (mx.clip(mx.log(inputs), a_min=-100)); {_PRIM}#L3076-L3090 "
         f"(Maximum::vjp: multiply(cotangent, a > b)); {_PRIM}#L2751-L2759 (Log::vjp: "
         "divide(cotangent, x))",
    applies=_saturated,
    model=BCE,
    example=lambda: example_call("binary_cross_entropy", [[0.0, 1.0, 0.0, 1.0]], "float32",
                                 target=[[0.0, 1.0, 1.0, 0.0]], options={"reduction": "sum"}),
    observed=(Observed("gradient", "nan nan nan nan", "the gradient is NaN"),),
    finding=F.BCE_NAN_GRADIENT,
))

ENTRIES.append(Divergence(
    id="mlx-bce-log-clipped-at-minus-100",
    title="mlx.nn.losses.binary_cross_entropy(with_logits=False) clips log(p) and log(1 - p) "
          "at -100: a loss of at most 100 per element where the true loss is +inf",
    framework="mlx", entry_points=(E.BCE,), versions=_V, kinds=("forward",),
    trigger="a probability of exactly 0 under a positive target, or 1 under a target below 1",
    explanation="With with_logits=False both logs are clipped with mx.clip(..., a_min=-100) "
                "\"for improved numerical stability\" (the docstring): p = 0 with t = 1 gives "
                "100 instead of +inf, as torch's BCELoss does. The reference is exact (+inf).",
    link=f"{_LOSSES}#L195-L197 (mx.clip(mx.log(inputs), a_min=-100, a_max=None)); "
         f"{_LOSSES}#L152-L155 (docstring: clips the input probabilities (in log-space) to a "
         "minimum value of -100); https://github.com/ml-explore/mlx/pull/1280 (the clip, "
         "following torch's BCELoss)",
    applies=_clipped,
    model=BCE,
    example=lambda: example_call("binary_cross_entropy", [[0.0, 1.0, 0.5]], "float32",
                                 target=[[1.0, 0.0, 0.5]], options={"reduction": "none"}),
    observed=(Observed("forward", "+ + +", "a loss of at most 100 per element"),),
))

ENTRIES.append(Divergence(
    id="mlx-bce-log-of-rounded-one-minus-p",
    title="mlx.nn.losses.binary_cross_entropy(with_logits=False) takes log(1 - p) of 1 - p "
          "rounded to the dtype: small probabilities lose their relative accuracy",
    framework="mlx", entry_points=(E.BCE,), versions=_V, kinds=("forward",),
    trigger="probabilities p well below 1 with a target below 1: near 0 (p below a few ULP of "
            "1 the term is 0), and in float16/bfloat16 any p",
    explanation="log_inputs_inv_clip = mx.clip(mx.log(1 - inputs), ...): 1 - p is rounded to "
                "the dtype before the log, an absolute error of half an ULP of 1 on a value "
                "of size p (the reference takes log1p(-p)): p = 1e-6 in float32 gives a "
                "relative error of 1%, and p below 6e-8 gives 0. In float16/bfloat16 every "
                "op (log, products, the sum of the two terms) is rounded to the dtype as well.",
    link=f"{_LOSSES}#L196 (mx.log(1 - inputs))",
    applies=_op("binary_cross_entropy"),
    model=BCE,
    example=lambda: example_call("binary_cross_entropy", [[1e-6, 0.25], [2.0 ** -20, 0.5]],
                                 "float32", target=[[0.0, 0.0], [0.0, 0.5]],
                                 options={"reduction": "none"}),
))

# -- binary_cross_entropy on logits ---------------------------------------------------------------
ENTRIES.append(Divergence(
    id="mlx-bce-logits-infinite-logit-nan",
    title="mlx.nn.losses.binary_cross_entropy on logits: an infinite logit gives NaN "
          "(inf - inf, or inf * 0), also where the loss is 0",
    framework="mlx", entry_points=(E.BCE_LOGITS,), versions=_V, kinds=("forward",),
    trigger="a logit of +inf or -inf",
    explanation="loss = logaddexp(0, x) - x * targets: at x = +inf with t = 1 it is inf - inf "
                "= NaN (the loss is 0), at x = -inf with t = 0 it is 0 - (-inf * 0) = NaN "
                "(the loss is 0), and at x = +inf with t = 0 it is inf - (inf * 0) = NaN "
                "instead of +inf; only x = -inf with t = 1 gives the right +inf. The reference "
                "returns the limits.",
    link=f"{_LOSSES}#L193 (mx.logaddexp(0.0, inputs) - inputs * targets)",
    applies=infinite_logit,
    model=BCE_LOGITS,
    example=lambda: example_call("binary_cross_entropy_with_logits",
                                 [[np.inf, -np.inf, np.inf, -np.inf]], "float32",
                                 target=[[1.0, 0.0, 0.0, 1.0]], options={"reduction": "none"}),
    observed=(Observed("forward", "nan nan nan +inf",
                       "NaN at +inf with t = 1, -inf with t = 0, +inf with t = 0; only x = "
                       "-inf with t = 1 gives the right +inf"),),
))

ENTRIES.append(Divergence(
    id="mlx-bce-logits-cancels",
    title="mlx.nn.losses.binary_cross_entropy on logits: logaddexp(0, x) - x * t and its "
          "gradient 1 - sigmoid(-x) - t cancel for confident logits (loss and gradient 0)",
    framework="mlx", entry_points=(E.BCE_LOGITS,), versions=_V, kinds=("forward", "gradient"),
    trigger="confident logits (|x| beyond ~17 in float32, ~8 in float16) on the side of their "
            "target; in float16/bfloat16 any logit, each op being rounded to the dtype (float64 "
            "calls are mlx-float64-exp-in-float32's, whose model includes this one)",
    explanation="For x > 0 logaddexp(0, x) = x + log1p(exp(-x)) is rounded to the dtype "
                "before x * t is subtracted: with t = 1 the loss log1p(exp(-x)) is lost below "
                "half an ULP of x (loss 0). The gradient is LogAddExp's vjp, 1 - sigmoid(0 - "
                "x), minus t: for x < 0 with t = 0 the true gradient sigmoid(x) is lost in 1 - "
                "sigmoid(-x) (0), and for x > 0 with t = 1 in (1 - sigmoid(-x)) - 1. The "
                "reference keeps their relative accuracy (softplus and sigmoid evaluated "
                "directly), as torch's and optax's formulas do.",
    link=f"{_LOSSES}#L193 (mx.logaddexp(0.0, inputs) - inputs * targets); {_PRIM}#L2916-L2931 "
         "(LogAddExp::vjp: cotangent * (1 - sigmoid(a - b)))",
    applies=lambda c: c.op == "binary_cross_entropy_with_logits" and c.dtype != "float64",
    model=BCE_LOGITS,
    example=lambda: example_call("binary_cross_entropy_with_logits",
                                 [[-32.25, -30.5, 31.0], [-33.0, 34.0, -35.5]], "float32",
                                 target=[[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]],
                                 options={"reduction": "sum"}),
))

# -- log of a row sum held in float32 ----------------------------------------------------------------
ENTRIES.append(Divergence(
    id="mlx-logsumexp-log-of-rounded-sum",
    title="mlx.nn.log_softmax and cross_entropy take the log of the row sum rounded to float32: "
          "log-probabilities near 0 (and small losses) keep only absolute accuracy",
    framework="mlx", entry_points=(E.LOG_SOFTMAX, E.CE), versions=_V, kinds=("forward",),
    trigger="float32 rows whose argmax has probability near 1 (confident or large-scale "
            "logits, large offsets), small losses, long sums of such items",
    explanation="log_softmax is d - logsumexp(d) with d = x - max, and cross_entropy "
                "logsumexp(d) - d[label]: the LogSumExp kernel accumulates sum(exp(d)) = 1 + r "
                "in float32 and returns log(1 + r) rounded, an absolute error of half an ULP "
                "of 1 on a value of size r, and exactly 0 once r is below 2^-24 (a confident "
                "row's log-probability and its cross-entropy come back as 0). The reference "
                "takes log1p(r). The same convention as torch's, TensorFlow's and JAX's "
                "log-of-rounded-sum entries.",
    link=f"{_ACT}#L74-L75 (x - max; x - mx.logsumexp(x)); {_LOSSES}#L119-L128 (logsumexp_logits "
         f"- score); {_CPU}logsumexp.cpp (normalizer += exp; log(normalizer) + maximum)",
    applies=lambda c: c.dtype == "float32" and c.op in ("log_softmax", "cross_entropy"),
    model=_by_op,
    example=lambda: example_call("log_softmax", [[20.0, 0.0, -1.0], [0.5, 2.0, -3.0]],
                                 "float32", grad=False),
))

# -- float16 / bfloat16 ---------------------------------------------------------------------------
_HALF_EXPL = ("In float16 and bfloat16 MLX's CPU kernels round every op to the dtype: x - max, "
              "exp (evaluated in float32, then rounded), products, the LogSumExp result, the "
              "difference of the log-sum and the logit, each term of the gradient; only "
              "reductions (mx.sum, mx.mean) and the LogSumExp kernel accumulate in float32. A "
              "composite of n such ops is off by up to n half-ULPs, and a difference of two "
              "rounded values loses the relative accuracy of a small result. The reference "
              "allows for float32 arithmetic rounded once (4 ULP). The model repeats MLX's ops "
              "with the same roundings (adapters/mlx/arith.py).")

ENTRIES.append(Divergence(
    id="mlx-softmax-half-sums-in-dtype",
    title="mlx.core.softmax (precise=False, the default) in float16/bfloat16 sums the row in "
          "the half dtype: long rows stop growing and every probability comes back too large",
    framework="mlx", entry_points=(E.SOFTMAX,), versions=_V, kinds=("forward", "gradient"),
    trigger="float16/bfloat16 inputs, mostly long rows (float16 sums stop growing at 2048 "
            "ones, bfloat16 at 256) and rows of many small probabilities",
    explanation="The Softmax kernel runs with the accumulation type of the input unless "
                "precise=True: exp(x - max) is stored in the dtype, summed left to right in "
                "the dtype, inverted in the dtype and multiplied in: a float16 row of 4096 "
                "equal logits sums to 2048 and each probability is 1/2048 instead of 1/4096. "
                "mx.softmax(..., precise=True) accumulates in float32. " + _HALF_EXPL,
    link=f"{_CPU}softmax.cpp (softmax<T, AccT>: AccT = T unless precise); "
         "https://ml-explore.github.io/mlx/build/html/python/_autosummary/mlx.core.softmax.html "
         "(precise: \"Otherwise the accumulation type matches the input, which can lose "
         "precision over long reduction axes\")",
    applies=_half,
    model=_MODEL[E.SOFTMAX],
    example=lambda: _call("softmax", np.zeros((1, 4096)), "float16",
                          grad_output=1.0 + (np.arange(4096) % 2)[None, :]),
))

ENTRIES.append(Divergence(
    id="mlx-log-softmax-half-in-dtype",
    title="mlx.nn.log_softmax in float16/bfloat16: each op rounded to the dtype, the row's "
          "log-sum rounded before the subtraction",
    framework="mlx", entry_points=(E.LOG_SOFTMAX,), versions=_V, kinds=("forward", "gradient"),
    trigger="float16/bfloat16 inputs: confident rows (the argmax's log-probability comes back "
            "0), class axes other than the last (the sum of exp held in the dtype), float16 "
            "rows whose cotangent sums beyond 65504 (the gradient overflows)",
    explanation="log_softmax is d - logsumexp(d) with d = x - max rounded to the dtype; over "
                "the last axis the LogSumExp kernel sums in float32 and rounds log(sum) to "
                "the dtype, over another axis logsumexp is log(sum(exp(d))) with exp and the "
                "log in the dtype (a row sum below 1 + half an ULP of 1 gives 0). The "
                "gradient is g - sum(g) softmax(d): sum(g) is rounded to the dtype, so a "
                "float16 row of more than 65504 unit cotangents gives -inf. " + _HALF_EXPL,
    link=f"{_ACT}#L74-L75; {_OPS} (logsumexp: the LogSumExp primitive over the last axis, "
         "else log(sum(exp(a - max))) + max); " + f"{_PRIM} (LogSumExp::vjp: cotangent * "
         "softmax(x, precise=True))",
    applies=_half,
    model=LOG_SOFTMAX,
    example=lambda: _call("log_softmax", np.zeros((1, 70000)), "float16",
                          grad_output=np.ones((1, 70000))).replace(
        x=np.concatenate([[[12.0]], np.zeros((1, 69999))], axis=1)),
))

ENTRIES.append(Divergence(
    id="mlx-ce-half-in-dtype",
    title="mlx.nn.losses.cross_entropy in float16/bfloat16: each op rounded to the dtype, the "
          "loss a difference of two rounded values",
    framework="mlx", entry_points=(E.CE,), versions=_V, kinds=("forward", "gradient"),
    trigger="float16/bfloat16 inputs: small losses (confident items lose them), class axes "
            "other than the last, label smoothing and weights (more rounded ops)",
    explanation="loss = logsumexp(d) - d[label] (or - sum(d * t)) with d = x - max, each "
                "rounded to the dtype: a loss below half an ULP of logsumexp is lost, and the "
                "gradient softmax(d) * c - onehot * c is formed from rounded terms. The "
                "docstring says it: \"The CPU reduces in the dtype of the logits, so upcast "
                "them to get the same accuracy\". " + _HALF_EXPL,
    link=f"{_LOSSES}#L75-L77 (the CPU reduces in the dtype of the logits); {_LOSSES}#L110-L128",
    applies=_half,
    model=CE,
    example=lambda: _call("cross_entropy", [[4.125, -5.125, 0.875, -1.125],
                                            [-0.875, -0.375, -4.0, -0.5],
                                            [-1.75, 6.625, 0.5, -0.75]], "float16", axis=0,
                          target=[0, 2, 1, 1], target_kind="index",
                          options={"reduction": "none"}, grad_output=np.ones(4)),
))

# -- float64 ---------------------------------------------------------------------------------------
ENTRIES.append(Divergence(
    id="mlx-softmax-precise-float64-in-float32",
    title="mlx.core.softmax(precise=True) over a non-last axis rounds float64 inputs to "
          "float32 and computes in float32",
    framework="mlx", entry_points=(E.SOFTMAX_PRECISE,), versions=_V,
    kinds=("forward", "gradient"),
    trigger="float64 inputs, precise=True, a class axis other than the last",
    explanation="Over any axis but the last, mx.softmax is exp(x - max) / sum(exp(x - max)) of "
                "ordinary ops, and with precise=True its input is first astype(float32): "
                "meant to widen float16/bfloat16, it narrows float64. Logits 1e8 and 1e8 + 1 "
                "become equal and their softmax [0.5, 0.5] instead of [0.27, 0.73]; the "
                "result is cast back to float64. Over the last axis the Softmax kernel keeps "
                "float64 (with the float32 exp of mlx-float64-exp-in-float32).",
    link=f"{_OPS} (softmax: if (precise && !is_complex) in = astype(a, float32, s)); "
         "https://github.com/ml-explore/mlx/pull/953 (precise: \"accumulate in float for "
         "half-type inputs\")",
    applies=lambda c: c.dtype == "float64" and not A.is_last(c),
    model=_MODEL[E.SOFTMAX_PRECISE],
    example=lambda: _call("softmax", [[1e8], [1e8 + 1.0]], "float64", axis=0,
                          grad_output=[[1.0], [2.0]]),
    compute_dtype="float32",
    observed=(Observed("forward", "+ +", "softmax [0.5, 0.5]"),),
    finding=F.SOFTMAX_PRECISE_FLOAT64,
))


def _float64_model(call: Call) -> ModelResult:
    """MLX's arithmetic where it is modelled (with every convention above), else the
    reference: judged at float32 accuracy."""
    fn = _BY_OP.get(call.op)
    if call.op == "softmax":
        fn = _MODEL[E.SOFTMAX]
    return fn(call) if fn is not None else REFERENCE(call)


ENTRIES.append(Divergence(
    id="mlx-float64-exp-in-float32",
    title="MLX's CPU exp computes float64 in float32 (accuracy and range): every float64 "
          "softmax, log-softmax, sigmoid, log-sigmoid and logits loss is float32-accurate",
    framework="mlx",
    entry_points=(E.SOFTMAX, E.SOFTMAX_PRECISE, E.LOG_SOFTMAX, E.SIGMOID, E.LOG_SIGMOID, E.CE,
                  E.BCE_LOGITS),
    versions=_V, kinds=("forward", "gradient"),
    trigger="float64 inputs",
    explanation="simd::exp (mlx/backend/cpu/simd/math.h) converts its input to float32, "
                "evaluates a float32 polynomial and saturates at |x| > 88, for every dtype; "
                "the Softmax and LogSumExp kernels, sigmoid and logaddexp call it. A float64 "
                "result is therefore accurate to ~1e-7 (1e9 float64 ULP), exp(-100) is 0 and "
                "exp(100) inf. log, log1p and the arithmetic are float64. The model is MLX's "
                "arithmetic for the call (adapters/mlx/arith.py: the conventions of the other "
                "mlx entries included; the reference for sigmoid and log_sigmoid), judged at "
                "float32 accuracy.",
    link=f"{_CPU}simd/math.h (exp: Simd<float, N> x_init = in; ...; x_init > 88 -> inf); "
         "https://github.com/ml-explore/mlx/issues/3047 (open: exp, sin, cos, erf use the fp32 "
         "approximation for double)",
    applies=lambda c: c.dtype == "float64",
    model=_float64_model,
    example=lambda: _call("sigmoid", [1.0, -100.0], "float64", grad_output=[1.0, 1.0]),
    compute_dtype="float32",
    observed=(Observed("forward", "+ 0", "exp(-100) is 0 (sigmoid(-100) = 0)"),),
    finding=F.FLOAT64_EXP,
))

__all__ = ["ENTRIES"]
