"""Divergence entries of ONNX Runtime 1.32.0's CPU provider, each with a model built from the
reference's arithmetic (``models.py``), never from onnxruntime.

* Softmax-11 / LogSoftmax-11 coerce the input to 2-D at ``axis`` (the opset < 13 meaning);
* LogSoftmax (and SoftmaxCrossEntropyLoss, whose function body calls it) takes the log of the
  row sum rounded to the dtype: log-probabilities near 0 come back 0;
* the float64 LogSoftmax floors the row sum with std::fmax(sum, 1e-20f): a NaN sum (a +inf or
  NaN logit) becomes 1e-20 and the row finite (a finding);
* Sigmoid: float32 (and float16) is MLAS's rational approximation, float64 0.5 tanh(x/2) + 0.5:
  small values lose their relative accuracy, x < -18 (float32) gives 0;
* NegativeLogLikelihoodLoss 'mean' over an empty batch is 0, not 0/0.
"""
from __future__ import annotations

import numpy as np

from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.entry import Observed
from lossconform.divergences.numerics import classes_last, example_call, \
    farther_from_reference

from . import findings as F
from . import models as M
from .entry_points import names

RT = "onnxruntime"
_ORT = "https://github.com/microsoft/onnxruntime/blob/v1.32.0/onnxruntime/"
_CHANGELOG = "https://github.com/onnx/onnx/blob/v1.23.2/docs/Changelog.md"
_SOFTMAXES = names(RT, "Softmax-11", "LogSoftmax-11")
_LOG_SOFTMAX = names(RT, "LogSoftmax-11", "LogSoftmax-13", "SoftmaxCrossEntropyLoss-13.log_prob",
                     "SoftmaxCrossEntropyLoss-13")

ENTRIES: list[Divergence] = []


def _trailing(call: Call) -> int:
    """prod(shape[axis + 1:]): above 1, Softmax-11's rows span more than the class axis."""
    x = np.asarray(call.x)
    if x.ndim < 2:
        return 1
    return int(np.prod(x.shape[call.axis % x.ndim + 1:], dtype=np.int64))


def _flatten_model(call: Call) -> ModelResult:
    x2, shape = M.flatten_at_axis(call)
    dt = call.dtype
    if call.op == "softmax":
        return M.ort_softmax(x2, dt).reshape(shape), None
    a, b = M.ort_log_softmax_any(x2, dt)
    return farther_from_reference(call, a.reshape(shape), b.reshape(shape)), None


ENTRIES.append(Divergence(
    id="onnxruntime-softmax-11-coerces-to-2d",
    title="Softmax-11 / LogSoftmax-11 normalise over every dimension from axis on (the input "
          "coerced to 2-D), not along axis: the opset < 13 meaning",
    framework=RT, entry_points=_SOFTMAXES, versions=">=1.0",
    kinds=("forward",),
    trigger="an input of 2 or more dimensions whose class axis is not the last (a 4-D input "
            "with axis=1, a 2-D input with axis=0)",
    explanation="Before opset 13 Softmax and LogSoftmax coerce the input to 2-D [prod(shape[:axis]), "
                "prod(shape[axis:])] and normalise each row: on (N, C, H, W) with axis=1 the "
                "normalisation runs over C*H*W elements, not over C; on (N, C) with axis=0 over "
                "every element. Opset 13 changed the meaning to 'along axis' only (Changelog: "
                "Softmax-13). A model exported at opset 11 with axis=1 on an image-shaped "
                "input therefore computes another function than the same node at opset 13: a "
                "classic porting pitfall. ONNX Runtime implements both versions as specified "
                "(N = SizeToDimension(axis), D = SizeFromDimension(axis)); onnx.reference does "
                "not (see its finding).",
    link=f"{_CHANGELOG} (Softmax-11: 'The input does not need to explicitly be a 2D vector; "
         "rather, it will be coerced into one'; Softmax-13: 'along the provided axis'); "
         f"{_ORT}core/providers/cpu/math/softmax.cc (opset < 13: SizeToDimension(axis) x "
         "SizeFromDimension(axis))",
    applies=lambda c: c.op in ("softmax", "log_softmax") and _trailing(c) > 1,
    model=_flatten_model,
    example=lambda: example_call("softmax", [[[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]],
                                             [[0.0, 0.0], [1.0, 1.0], [-2.0, 2.0]]],
                                 "float32", axis=1, grad=False),
))


def _log_softmax_model(call: Call) -> ModelResult:
    ends = M.ort_log_softmax_any(classes_last(call.x, call), call.dtype)
    return M.loss_or_log_softmax(call, ends, call.dtype), None


def _nonfinite_rows(call: Call) -> bool:
    x = classes_last(call.x, call)
    return bool(np.any(np.isnan(x)) or np.any(np.isposinf(x)))


ENTRIES.append(Divergence(
    id="onnxruntime-log-softmax-float64-fmax-swallows-nan",
    title="float64 LogSoftmax floors the row sum with std::fmax(sum, 1e-20f): a row holding a "
          "NaN or +inf logit comes back finite (NaN logit: about +46 everywhere else) or -inf "
          "instead of NaN",
    framework=RT, entry_points=_LOG_SOFTMAX, versions=">=1.0",
    kinds=("forward",),
    trigger="float64 rows holding a NaN logit (not where the row maximum's reduction starts) "
            "or a +inf logit",
    explanation="SoftmaxCPU<double> computes log(std::fmax(scale, 1e-20f)) of the row sum; "
                "std::fmax returns the other argument when one is NaN, so a NaN sum (from a "
                "NaN logit that Eigen's maxCoeff skipped, or from inf - inf at a +inf logit) "
                "becomes 1e-20 and its log -46.05: every other element of a NaN row is "
                "x - max + 46.05, a positive 'log-probability', and a +inf row is -inf (NaN at "
                "the +inf entries). The float32 kernel (MLAS) propagates the NaN. The "
                "reference's row is NaN throughout (softmax of a row holding NaN or +inf is "
                "undefined). A bug (see the finding).",
    link=f"{_ORT}core/providers/cpu/math/softmax_shared.cc (std::log(std::fmax(scale[i], "
         "1e-20f)))",
    applies=lambda c: c.op in ("log_softmax", "cross_entropy") and c.dtype == "float64"
    and _nonfinite_rows(c),
    model=_log_softmax_model,
    example=lambda: example_call("log_softmax", [[0.0, 1.0, np.nan], [1.0, 2.0, np.inf],
                                                 [1.0, 2.0, 3.0]], "float64", grad=False),
    observed=(Observed("forward", "+ + nan | -inf -inf nan | - - -",
                       "every other element of a NaN row is x - max + 46.05, a positive "
                       "'log-probability', and a +inf row is -inf (NaN at the +inf entries)"),),
    finding=F.DOUBLE_LOG_SOFTMAX_NAN,
))


ENTRIES.append(Divergence(
    id="onnxruntime-log-softmax-log-of-rounded-sum",
    title="LogSoftmax (and SoftmaxCrossEntropyLoss, built on it) take the log of the row sum "
          "rounded to the dtype: log-probabilities near 0 and confident items' losses come "
          "back 0",
    framework=RT, entry_points=_LOG_SOFTMAX, versions=">=1.0",
    kinds=("forward",),
    trigger="float32/float64 rows whose argmax has probability near 1 (confident, large-scale "
            "or offset logits), and the losses of such items",
    explanation="ONNX Runtime's CPU LogSoftmax computes x - max - log(sum(exp(x - max))) with "
                "the sum stored in the input's dtype (MLAS MlasComputeSoftmax for float32, "
                "SoftmaxCPU<double> for float64): for the argmax of a row whose other classes "
                "add up to r, log(1 + r) is taken of 1 + r rounded, an absolute error of half "
                "an ULP of 1 and exactly 0 once r is below it, where the reference takes "
                "log1p(r). SoftmaxCrossEntropyLoss has no kernel of its own on the CPU: its "
                "function body (Transpose, LogSoftmax, GatherElements, Neg, reductions) uses "
                "this LogSoftmax, so a confident item's loss is 0 (or -0.0). float16 goes "
                "through float32 (inserted Casts) and rounds once. The same convention as "
                "torch's, TensorFlow's and JAX's log-of-rounded-sum entries.",
    link=f"{_ORT}core/mlas/lib/compute.cpp (MlasComputeSoftmaxThreaded: LogSoftmax output "
         f"x - max - log(sum)); {_ORT}core/providers/cpu/math/softmax_shared.cc (double: "
         "Xdata - rowmax - log(fmax(scale, 1e-20f)))",
    applies=lambda c: c.op in ("log_softmax", "cross_entropy") and c.dtype != "bfloat16",
    model=_log_softmax_model,
    example=lambda: example_call("log_softmax", [[30.0, 0.0, -1.0], [1.0, 2.0, 3.0]], "float32",
                                 grad=False),
))


def _mlas_sigmoid(call: Call) -> ModelResult:
    return M.mlas_logistic(call.x, call.dtype), None


ENTRIES.append(Divergence(
    id="onnxruntime-sigmoid-float32-rational-approximation",
    title="float32 Sigmoid is MLAS's rational approximation on [-18, 18]: small values lose "
          "their relative accuracy (sigmoid(-17) = 8.9e-8 for 4.1e-8) and x < -18 gives 0",
    framework=RT, entry_points=names(RT, "Sigmoid-13"), versions=">=1.0",
    kinds=("forward",),
    trigger="float32 (and float16, computed in float32) logits below about -7, where the true "
            "value is below about 1e-3",
    explanation="MlasComputeLogistic clamps x to [-18, 18] and evaluates Eigen's rational "
                "approximation p(x)/q(x) + 0.5 (degree 9/10) in float32: accurate to a few "
                "ULP of 0.5 in absolute terms, so values far below 0.5 carry an absolute error "
                "of ~1e-8, a relative error that grows as sigmoid(x) shrinks (2x at x = -17), "
                "and every x below -18 gives exactly 0 (the true value is up to 1.5e-8). The "
                "reference computes 1 / (1 + exp(-x)) to full relative accuracy.",
    link=f"{_ORT}core/mlas/lib/logistic.cpp (MlasLogisticConstants: LowerRange -18, UpperRange "
         "18, alpha_1..alpha_9, beta_0..beta_10; p / q + 0.5)",
    applies=lambda c: c.op == "sigmoid" and c.dtype in ("float32", "float16"),
    model=_mlas_sigmoid,
    example=lambda: example_call("sigmoid", [-17.0, -20.0, -7.5, 0.0, 3.0], "float32",
                                 grad=False),
    observed=(Observed("forward", "+ 0 + + +", "every x below -18 gives exactly 0"),),
    finding=F.MLAS_SIGMOID,
))


def _tanh_sigmoid(call: Call) -> ModelResult:
    a, b = M.tanh_logistic(call.x, call.dtype)
    return farther_from_reference(call, a, b), None


ENTRIES.append(Divergence(
    id="onnxruntime-sigmoid-float64-tanh-cancels",
    title="float64 Sigmoid is 0.5 * tanh(0.5 x) + 0.5: for x << 0 the sum cancels (relative "
          "accuracy lost below ~1e-10, exactly 0 below x = -38)",
    framework=RT, entry_points=names(RT, "Sigmoid-13"), versions=">=1.0",
    kinds=("forward",),
    trigger="float64 logits below about -7",
    explanation="The float64 Sigmoid kernel computes the logistic as 0.5 * tanh(0.5 x) + 0.5 "
                "(Eigen's scalar logistic on a tanh): tanh(0.5 x) near -1 keeps only an "
                "absolute accuracy of an ULP of 1 (1.1e-16), so sigmoid(x) for x << 0 has an "
                "absolute error of ~1e-16 (relative error 1e-3 at sigmoid = 1e-13), and "
                "tanh rounds to -1 exactly below x ~ -38, giving 0 where the reference gives "
                "exp(x).",
    link=f"{_ORT}core/providers/cpu/activation/activations.h (Sigmoid<double>: "
         "xm.array().tanh() * 0.5 + 0.5)",
    applies=lambda c: c.op == "sigmoid" and c.dtype == "float64",
    model=_tanh_sigmoid,
    example=lambda: example_call("sigmoid", [-40.0, -39.0, 0.0, 5.0], "float64", grad=False),
    observed=(Observed("forward", "0 0 + +", "exactly 0 below x = -38"),),
))


def _empty_mean(call: Call) -> bool:
    return call.reduction == "mean" and np.asarray(call.target).size == 0


ENTRIES.append(Divergence(
    id="onnxruntime-nll-mean-of-empty-batch-is-0",
    title="NegativeLogLikelihoodLoss 'mean' over an empty batch returns 0, not NaN (0/0)",
    framework=RT, entry_points=names(RT, "NegativeLogLikelihoodLoss-13"), versions=">=1.0",
    kinds=("forward",),
    trigger="reduction 'mean' on an input with no items (N = 0)",
    explanation="NegativeLogLikelihoodLoss has no CPU kernel: its ONNX function body reduces "
                "the per-item losses with ReduceMean, and ONNX Runtime's ReduceMean of an "
                "empty tensor is 0. The reference's mean over zero total weight is 0/0 = NaN "
                "(as torch's nll_loss gives).",
    link="https://github.com/onnx/onnx/blob/v1.23.2/onnx/defs/math/defs.cc "
         "(NegativeLogLikelihoodLoss function body: ReduceMean of the gathered losses)",
    applies=_empty_mean,
    model=lambda c: (np.asarray(0.0), None),
    example=lambda: Call("nll_loss", np.zeros((0, 3)), "float32", target=np.zeros(0, np.int64),
                         target_kind="index", options={"reduction": "mean"}),
))

__all__ = ["ENTRIES"]
