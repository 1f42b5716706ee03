"""PyTorch's conventions (class axis, targets, reductions, clamps, ...), as data with sources.

Each topic is {"value": what torch does, "source": where it is written}; the report shows
them next to the results (``Adapter.conventions``).
"""
from __future__ import annotations

_TORCH_GH = "https://github.com/pytorch/pytorch/blob/main/"
_DOCS = "https://docs.pytorch.org/docs/stable/generated/"


def _src(path: str) -> str:
    return _TORCH_GH + path


CONVENTIONS: dict[str, dict[str, str]] = {
    "class_axis": {
        "value": "dim 1 for (N, C, d1, ...) inputs, dim 0 for 1-D (C,) input; softmax/"
        "log_softmax take an explicit dim (implicit dim is deprecated)",
        "source": _DOCS + "torch.nn.CrossEntropyLoss.html",
    },
    "target_formats": {
        "value": "cross_entropy: int64 class indices (shape of input without dim 1) or "
        "float class probabilities (shape of input, same dtype); nll_loss: indices only; "
        "binary losses: float targets of the input's shape and dtype",
        "source": _src("torch/nn/modules/loss.py") + " (CrossEntropyLoss docstring)",
    },
    "default_reduction": {
        "value": "mean",
        "source": _src("torch/nn/modules/loss.py") + " (_Loss.__init__: reduction='mean')",
    },
    "mean_divides_by": {
        "value": "index targets: sum of w[y_i] over non-ignored items (class-weighted "
        "mean); probability targets: number of items N*d1*..., class weights NOT in the "
        "denominator; ignored items: excluded from numerator and denominator (all ignored "
        "-> 0/0 = nan); sample weights: not available; binary losses: numel of the "
        "element-wise loss (weight only rescales the numerator)",
        "source": _src("torch/nn/modules/loss.py")
        + " (CrossEntropyLoss, NLLLoss, BCELoss docstrings)",
    },
    "from_logits_default": {
        "value": "fixed per function: cross_entropy and binary_cross_entropy_with_logits "
        "take logits; nll_loss takes log-probabilities; binary_cross_entropy takes "
        "probabilities; no from_logits flag",
        "source": _DOCS + "torch.nn.CrossEntropyLoss.html",
    },
    "epsilon_or_clamp": {
        "value": "binary_cross_entropy clamps each log term at >= -100 (loss per element "
        "at most 100*w), so p=0 or 1 with a wrong target gives 100, not inf; the gradient "
        "there is finite (eps-guarded: grad = (p - y) / max((1 - p) * p, 1e-12)); "
        "cross_entropy / nll / with_logits: no epsilon (log-sum-exp / log1p(exp) forms)",
        "source": _src("torch/nn/modules/loss.py")
        + " (BCELoss docstring: 'clamps its log function outputs to be greater than or "
        "equal to -100'); " + _src("aten/src/ATen/native/Loss.cpp") + " (EPSILON=1e-12 "
        "in binary_cross_entropy_backward)",
    },
    "label_smoothing_formula": {
        "value": "categorical (cross_entropy only): q = (1 - eps) * t + eps / C, with "
        "class weights applied per class inside the sum (loss = -sum_c w_c q_c log p_c); "
        "for index targets the mean still divides by sum w[y_i]; binary: not available",
        "source": _src("aten/src/ATen/native/LossNLL.cpp")
        + " (cross_entropy_loss_label_smoothing)",
    },
    "ignore_semantics": {
        "value": "ignore_index defaults to -100 (always active for index targets, so a "
        "target of -100 is silently ignored rather than rejected); ignored items give loss "
        "0 and zero gradient and leave the mean's denominator; explicit ignore_index with "
        "probability targets raises 'ignore_index is not supported for floating point "
        "target'",
        "source": _src("torch/nn/functional.py") + " (cross_entropy, nll_loss signatures)",
    },
    "output_dtype_rules": {
        "value": "output and gradient in the input's dtype (float16/bfloat16 kept; "
        "reductions accumulate internally in higher precision on CPU); weight, pos_weight "
        "and probability targets must share the input's dtype ('expected scalar type ... "
        "but found ...'); binary_cross_entropy_with_logits accepts a target of another "
        "dtype (torch 2.13: float64 input + float32 target gives a float32 loss); the "
        "adapter always passes them in the input's dtype",
        "source": _src("aten/src/ATen/native/LossNLL.cpp"),
    },
    "nan_inf_behaviour": {
        "value": "NaN inputs propagate; softmax of a row with +inf gives NaN; "
        "binary_cross_entropy raises for inputs outside [0, 1] ('all elements of input "
        "should be between 0 and 1') and clamps log(0) at -100; cross_entropy/nll raise "
        "on out-of-range class indices (CPU: 'Target k is out of bounds')",
        "source": _src("aten/src/ATen/native/Loss.cpp"),
    },
}


__all__ = ["CONVENTIONS"]
