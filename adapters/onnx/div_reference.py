"""Divergence entries of onnx.reference (onnx 1.23.2's ReferenceEvaluator), each with a model
built from the reference's arithmetic (``models.py``), never from onnx.

* LogSoftmax is np.log of Softmax, and SoftmaxCrossEntropyLoss (and its log_prob output) the
  same: an underflowed probability gives -inf (loss +inf), one near 1 loses the relative
  accuracy of its log (a finding: [1000, 0, -1] in float32 gives [0, -inf, -inf]);
* Softmax computes every step in the input's dtype with NumPy: exp and the division in
  float16/bfloat16, and bfloat16's row sum one addition after another in bfloat16 (a finding);
* NegativeLogLikelihoodLoss with ignore_index=-1 and no weights: 'mean' counts the ignored
  items (a finding).
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.entry import Observed
from lossconform.divergences.numerics import classes_back, classes_last, example_call, \
    farther_from_reference

from lossconform.dtypes import round_to

from . import findings as F
from . import models as M
from .entry_points import names

RT = "onnx-reference"
_OPS = "https://github.com/onnx/onnx/blob/v1.23.2/onnx/reference/ops/"
_LOG_SOFTMAX = names(RT, "LogSoftmax-11", "LogSoftmax-13", "SoftmaxCrossEntropyLoss-13.log_prob",
                     "SoftmaxCrossEntropyLoss-13")

ENTRIES: list[Divergence] = []


def _strided(call: Call) -> bool:
    """NumPy sums the classes over a non-last axis (slice after slice)."""
    return call.x.ndim > 1 and call.axis % call.x.ndim != call.x.ndim - 1


def _log_of_softmax(call: Call) -> ModelResult:
    ends = M.reference_log_softmax_ends(classes_last(call.x, call), call.dtype, _strided(call))
    return M.loss_or_log_softmax(call, ends, call.dtype), None


ENTRIES.append(Divergence(
    id="onnx-reference-log-softmax-is-log-of-softmax",
    title="onnx.reference computes LogSoftmax (and SoftmaxCrossEntropyLoss, and its log_prob "
          "output) as np.log of the softmax: an underflowed probability gives -inf (a loss of "
          "+inf), a probability near 1 loses the relative accuracy of its log",
    framework=RT, entry_points=_LOG_SOFTMAX, versions=">=1.13",
    kinds=("forward",),
    trigger="logits more than ~104 (float32; ~17 float16, ~745 float64) below their row's "
            "maximum, confident rows, and every half-precision row (each step rounded to the "
            "dtype)",
    explanation="op_log_softmax.py takes Softmax._run (X - max, np.exp, division by the row "
                "sum, all in the input's dtype) and applies np.log to it; "
                "op_softmax_cross_entropy_loss.py does the same (p = exp_x / sum; inp = "
                "np.log(p)) before gathering -inp[target]. A probability that underflows to 0 "
                "gives log 0 = -inf where x - logsumexp(x) is finite: float32 logits "
                "[1000, 0, -1] give [0, -inf, -inf] for [0, -1000, -1001] (ONNX Runtime returns "
                "the finite values), and that item's loss is +inf; a probability 1 - r rounded "
                "to the dtype loses log1p(r)'s relative accuracy (a confident item's loss "
                "comes back 0 or a few ULP of 1 off). In float16/bfloat16 every step is "
                "rounded to the dtype. A bug in the evaluator that defines the operators "
                "(see the finding).",
    link=f"{_OPS}op_log_softmax.py (Y = Softmax._run(self, X)[0]; np.log(Y, out=Y)); "
         f"{_OPS}op_softmax_cross_entropy_loss.py (p = exp_x / np.sum(...); inp = np.log(p)); "
         "https://github.com/onnx/onnx/pull/8423",
    applies=lambda c: c.op in ("log_softmax", "cross_entropy"),
    model=_log_of_softmax,
    example=lambda: example_call("log_softmax", [1000.0, 0.0, -1.0], "float32", grad=False),
    observed=(Observed("forward", "0 -inf -inf",
                       "float32 logits [1000, 0, -1] give [0, -inf, -inf]"),),
    finding=F.REFERENCE_LOG_SOFTMAX,
))


def _softmax_in_dtype(call: Call) -> ModelResult:
    a, b = M.reference_softmax_ends(classes_last(call.x, call), call.dtype, _strided(call))
    return farther_from_reference(call, classes_back(a, call), classes_back(b, call)), None


ENTRIES.append(Divergence(
    id="onnx-reference-softmax-in-half-precision",
    title="onnx.reference's float16/bfloat16 Softmax computes exp and the division in the half "
          "dtype, and sums a bfloat16 row one addition after another in bfloat16 (a row of "
          "more than 256 equal logits stops summing)",
    framework=RT, entry_points=names(RT, "Softmax-11", "Softmax-13"), versions=">=1.13",
    kinds=("forward",),
    trigger="float16 and bfloat16 inputs: small probabilities lose their relative accuracy; "
            "bfloat16 rows whose sum exceeds 256 ULP of its running value",
    explanation="op_softmax.py computes tmp = X - X.max(...), Y = np.exp(tmp), Y /= Y.sum(...) "
                "in NumPy in the input's dtype: np.exp and the division round to float16 / "
                "bfloat16 at each step (a kernel computing in float32 rounds once); NumPy "
                "accumulates a float16 sum in float32, but ml_dtypes' bfloat16 has no such "
                "loop: Y.sum() adds one element after another, each sum rounded to bfloat16 (8 "
                "bits), so a running sum of 256 no longer grows by 1 and a row of 131072 equal "
                "logits gets probabilities 1/256 (a finding).",
    link=f"{_OPS}op_softmax.py (tmp = X - X.max(axis=axis, keepdims=1); Y = np.exp(tmp); "
         "Y /= Y.sum(axis=axis, keepdims=1))",
    applies=lambda c: c.op == "softmax" and c.dtype in ("float16", "bfloat16"),
    model=_softmax_in_dtype,
    example=lambda: example_call("softmax", np.zeros((1, 512)), "bfloat16", grad=False),
    observed=(Observed("forward", "+ ...", "a row of 512 equal logits: probabilities 1/256"),),
    finding=F.REFERENCE_BF16_SUM,
))

def _ignore_minus_1_mean(call: Call) -> bool:
    return (call.op == "nll_loss" and call.reduction == "mean" and call.option("weight") is None
            and call.option("ignore_index") == -1
            and bool(np.any(np.asarray(call.target) == -1)))


def _mean_over_every_item(call: Call) -> ModelResult:
    """The reference's 'sum' divided by the item count (np.mean of the per-item losses, the
    ignored ones 0), rounded to the dtype."""
    args, kw = R.arguments(call)
    kw["reduction"] = "sum"
    n = np.asarray(call.target).size
    return round_to(np.asarray(R.nll_loss(*args, **kw)) / n, call.dtype), None


ENTRIES.append(Divergence(
    id="onnx-reference-nll-ignore-index-minus-1-mean-counts-ignored",
    title="onnx.reference's NegativeLogLikelihoodLoss with ignore_index=-1 and no weights: "
          "'mean' divides by every item, the ignored ones included",
    framework=RT, entry_points=names(RT, "NegativeLogLikelihoodLoss-13"), versions=">=1.13",
    kinds=("forward",),
    trigger="ignore_index = -1, no weights, reduction 'mean', some target equal to -1",
    explanation="op_negative_log_likelihood_loss.py builds the mask of kept items with "
                "'elif ignore_index != -1:', mistaking the valid sentinel -1 for 'no "
                "ignore_index': without that mask the ignored items' losses are set to 0 but "
                "'mean' is np.mean over every item, so the mean is smaller by kept/total. Any "
                "other ignore_index (and ONNX Runtime) divides by the kept items, as the spec "
                "says. A bug (see the finding).",
    link=f"{_OPS}op_negative_log_likelihood_loss.py (elif ignore_index != -1: ...; "
         "np.mean(loss)); https://github.com/onnx/onnx/pull/8433",
    applies=_ignore_minus_1_mean,
    model=_mean_over_every_item,
    example=lambda: example_call("nll_loss", np.log([[0.25, 0.75], [0.5, 0.5]]), "float32",
                                 target=[0, -1], target_kind="index",
                                 options={"ignore_index": -1, "reduction": "mean"}, grad=False),
    observed=(Observed("forward", "+", "'mean' is a finite, positive value (half the "
                                       "correct one here)"),),
    finding=F.REFERENCE_NLL_IGNORE_MINUS_1,
))

__all__ = ["ENTRIES"]
