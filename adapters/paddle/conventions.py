"""Where PaddlePaddle documents each conventions topic (``Adapter.convention_sources``).

The conventions themselves are observed by the probes and pinned in ``convention_pins.json``.
A source is the file at the release tag v3.3.1 (or the API page), with what it shows.
"""
from __future__ import annotations

_TAG = "https://github.com/PaddlePaddle/Paddle/blob/v3.3.1/"
_LOSS = _TAG + "python/paddle/nn/functional/loss.py"
_ACT = _TAG + "python/paddle/nn/functional/activation.py"
_K = _TAG + "paddle/phi/kernels/"
_DOCS = "https://www.paddlepaddle.org.cn/documentation/docs/en/api/paddle/nn/"

SOURCES: dict[str, str] = {
    "class_axis": _ACT + " (softmax, log_softmax: axis=-1); " + _LOSS
    + " (cross_entropy, softmax_with_cross_entropy: axis=-1; nll_loss: input (N, C) or "
    "(N, C, d1, ...), classes on dim 1)",
    "default_reduction": _LOSS + " (cross_entropy, nll_loss, binary_cross_entropy, "
    "binary_cross_entropy_with_logits: reduction='mean'; softmax_with_cross_entropy has no "
    "reduction)",
    "from_logits_default": _LOSS + " (cross_entropy: use_softmax=True takes logits, "
    "use_softmax=False probabilities; nll_loss log-probabilities; binary_cross_entropy "
    "probabilities; no from_logits flag)",
    "ignore_semantics": _LOSS + " (cross_entropy: ignore_index=-100; the 'mean' denominator "
    "counts non-ignored items only when ignore_index >= 0 and adds 1 when it is 0: "
    "out_sum / (count + (count == 0)))",
    "mean_divides_by": _LOSS + " (cross_entropy docstring, 'Weight and reduction processing': "
    "hard labels divide by sum weight[label_j]; soft labels weigh each item by "
    "sum_i weight_i label_i and divide by the sum of those)",
    "epsilon_or_clamp": _K + "funcs/softmax_impl.h (ValueClip: logits minus the row maximum "
    "clipped at -64 before exp, also in the AVX path's vec_clip); " + _K
    + "cpu/log_softmax_kernel.cc (the same ValueClip at -64); " + _K
    + "funcs/cross_entropy.h (TolerableValue: log(0) = -inf becomes -1e20); " + _K
    + "cpu/bce_loss_kernel.cc (log clamped at -100)",
    "label_smoothing_formula": _LOSS + " (cross_entropy: label_smoothing > 0 turns index "
    "labels into one-hot and calls paddle.nn.functional.label_smooth: (1 - eps) y + eps / C, "
    "then sets soft_label=True)",
    "output_dtype_rules": _LOSS + " (cross_entropy: input float32/float64; label int32, "
    "int64 or float); CPU kernels registered for float and double only (e.g. " + _K
    + "cpu/cross_entropy_kernel.cc PD_REGISTER_KERNEL)",
    "nan_inf_behaviour": _K + "funcs/softmax_impl.h (max-subtracted softmax: a +inf logit "
    "gives inf - inf = NaN; ValueClip maps -inf to -64); " + _K
    + "funcs/cross_entropy.h (TolerableValue maps an infinite log to +-1e20)",
    "determinism": "https://www.paddlepaddle.org.cn/documentation/docs/en/api/paddle/"
    "set_flags_en.html (FLAGS_cpu_deterministic); single-threaded CPU kernels",
    "argument_order": _DOCS + "functional/cross_entropy_en.html (input, label)",
}

__all__ = ["SOURCES"]
