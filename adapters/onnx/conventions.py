"""Where ONNX documents each conventions topic (``Adapter.convention_sources``), per runtime.

The conventions themselves are observed by the probes and pinned per runtime version in
``convention_pins_onnxruntime.json`` / ``convention_pins_onnx-reference.json``. The operators'
meaning is the ONNX specification (onnx/docs/Changelog.md and Operators.md at v1.23.2); each
runtime adds its own implementation: ONNX Runtime's CPU kernels (and the operators' function
bodies it expands, onnx/defs/math/defs.cc) at v1.32.0, onnx.reference's NumPy ops at v1.23.2.
"""
from __future__ import annotations

_ONNX = "https://github.com/onnx/onnx/blob/v1.23.2/"
_OPS = _ONNX + "docs/Operators.md"
_CHANGE = _ONNX + "docs/Changelog.md"
_DEFS = _ONNX + "onnx/defs/math/defs.cc"
_REF = _ONNX + "onnx/reference/ops/"
_ORT = "https://github.com/microsoft/onnxruntime/blob/v1.32.0/onnxruntime/core/"

_COMMON = {
    "class_axis": f"{_OPS}#Softmax (Softmax-13: axis default -1, normalised along axis); "
    f"{_CHANGE}#Softmax-11 (axis default 1, input coerced to 2-D at axis); "
    f"{_OPS}#SoftmaxCrossEntropyLoss (scores (N, C, D1, ..., Dk): classes on dim 1)",
    "default_reduction": f"{_OPS}#SoftmaxCrossEntropyLoss (attribute reduction, default "
    f"'mean'); {_OPS}#NegativeLogLikelihoodLoss (reduction default 'mean')",
    "from_logits_default": f"{_OPS}#SoftmaxCrossEntropyLoss (takes scores, i.e. logits); "
    f"{_OPS}#NegativeLogLikelihoodLoss (takes log-probabilities)",
    "ignore_semantics": f"{_OPS}#SoftmaxCrossEntropyLoss (ignore_index: 'a target value that is "
    "ignored and does not contribute to the input gradient'; no default: nothing is ignored "
    f"without it); {_OPS}#NegativeLogLikelihoodLoss (the ignored item's weight is 0)",
    "mean_divides_by": f"{_OPS}#NegativeLogLikelihoodLoss ('mean' with weights: "
    "sum(loss) / sum(weight[target]) over the kept items; without: the mean of the kept items)",
    "epsilon_or_clamp": f"{_OPS}#SoftmaxCrossEntropyLoss (loss = -log_softmax(scores)[target], "
    f"no epsilon); {_OPS}#LogSoftmax (x - log(sum(exp(x))), no clamp)",
    "label_smoothing_formula": f"{_OPS}#SoftmaxCrossEntropyLoss (no label smoothing attribute)",
    "output_dtype_rules": f"{_OPS}#SoftmaxCrossEntropyLoss (type constraint T: float16, float, "
    "double for scores, weights and outputs alike; Tind: int32, int64 for labels)",
    "argument_order": f"{_OPS}#SoftmaxCrossEntropyLoss (inputs: scores, labels, weights)",
}

_PER_RUNTIME = {
    "onnxruntime": {
        "nan_inf_behaviour": f"{_ORT}mlas/lib/compute.cpp (float32 Softmax/LogSoftmax: max, "
        f"exp(x - max), sum, NaN propagated); {_ORT}providers/cpu/math/softmax_shared.cc "
        "(float64: log(std::fmax(sum, 1e-20f)) turns a NaN sum into 1e-20); "
        f"{_ORT}mlas/lib/logistic.cpp (float32 Sigmoid clamps x to [-18, 18])",
        "determinism": "https://onnxruntime.ai/docs/performance/tune-performance/threading.html "
        "(intra_op_num_threads = 1: one thread, a fixed order of operations)",
        "mean_divides_by": _COMMON["mean_divides_by"] + f"; {_DEFS} (the function bodies "
        "ONNX Runtime expands: ReduceMean of the losses, or ReduceSum(loss) / ReduceSum(weights); "
        "ReduceMean of an empty tensor is 0)",
    },
    "onnx-reference": {
        "nan_inf_behaviour": f"{_REF}op_softmax.py (NumPy: X - max, exp, division: NaN "
        f"propagated); {_REF}op_log_softmax.py (np.log of Softmax: log 0 = -inf); "
        f"{_REF}op_sigmoid.py (np.where of two branches)",
        "determinism": "https://onnx.ai/onnx/api/reference.html (ReferenceEvaluator: NumPy, "
        "single-threaded, one order of operations)",
        "mean_divides_by": _COMMON["mean_divides_by"] + f"; {_REF}op_softmax_cross_entropy_loss.py "
        "(weights or ignore_index: loss.sum() / gather_weight.sum(); otherwise np.mean); "
        f"{_REF}op_negative_log_likelihood_loss.py (ignore_index -1 without weights: "
        "np.mean over every item)",
    },
}


def sources(runtime: str) -> dict[str, str]:
    return {**_COMMON, **_PER_RUNTIME[runtime]}


__all__ = ["sources"]
