"""Where PyTorch documents each conventions topic (``Adapter.convention_sources``).

The conventions themselves are not written here: the probes (``lossconform.probes``) observe
them on every entry point and ``convention_pins.json`` pins what they observed per torch
version. A source is the file at the release tag (or the API page), with what it shows.
"""
from __future__ import annotations

_TAG = "https://github.com/pytorch/pytorch/blob/v2.13.0/"
_DOCS = "https://docs.pytorch.org/docs/stable/generated/"

SOURCES: dict[str, str] = {
    "class_axis": _DOCS + "torch.nn.CrossEntropyLoss.html (input (N, C, d1, ...) or (C,)); "
    + _TAG + "torch/nn/functional.py (_get_softmax_dim: an implicit dim is 0 for 0-, 1- and "
    "3-D inputs, else 1; deprecated)",
    "default_reduction": _TAG + "torch/nn/modules/loss.py (_Loss.__init__: reduction='mean')",
    "from_logits_default": _DOCS + "torch.nn.CrossEntropyLoss.html (cross_entropy takes "
    "logits, nll_loss log-probabilities, binary_cross_entropy probabilities; no flag)",
    "ignore_semantics": _TAG + "torch/nn/functional.py (cross_entropy, nll_loss: "
    "ignore_index=-100); " + _TAG + "aten/src/ATen/native/LossNLL.cpp (nll_loss_out_frame)",
    "mean_divides_by": _TAG + "torch/nn/modules/loss.py (CrossEntropyLoss docstring: the "
    "weighted mean divides by sum w[y_n]; probability targets divide by N)",
    "epsilon_or_clamp": _TAG + "torch/nn/modules/loss.py (BCELoss: 'clamps its log function "
    "outputs to be greater than or equal to -100'); " + _TAG
    + "aten/src/ATen/native/Loss.cpp (binary_cross_entropy_backward, EPSILON = 1e-12)",
    "label_smoothing_formula": _TAG + "aten/src/ATen/native/LossNLL.cpp "
    "(cross_entropy_loss_label_smoothing)",
    "output_dtype_rules": _TAG + "aten/src/ATen/native/LossNLL.cpp (weight and target dtype "
    "checks); " + _TAG + "aten/src/ATen/native/cpu/SoftMaxKernel.cpp (float accumulation "
    "for reduced floating types)",
    "nan_inf_behaviour": _TAG + "aten/src/ATen/native/cpu/SoftMaxKernel.cpp (max-subtracted "
    "softmax: a +inf input gives inf - inf = NaN); " + _TAG + "aten/src/ATen/native/LossNLL.cpp"
    " (cross_entropy with probability targets: sum of target * log_softmax, 0 * -inf = NaN)",
    "determinism": "https://docs.pytorch.org/docs/stable/notes/randomness.html "
    "(torch.use_deterministic_algorithms)",
    "argument_order": _DOCS + "torch.nn.functional.cross_entropy.html (input, target)",
}

__all__ = ["SOURCES"]
