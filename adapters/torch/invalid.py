"""torch's expected outcome on every invalid-input cell (measured with torch 2.13, CPU,
float32), and the direct float-label calls a ``Call`` cannot carry.

Rows are checked by the contract suite (``lossconform/suite/test_invalid_inputs.py``): a
torch release that starts or stops raising fails there with the old and new outcome.
- ``binary_cross_entropy``/``BCELoss`` is the only loss that validates values (targets and
  inputs in [0, 1], NaN included); every other loss takes NaN/inf/out-of-range targets
  silently (``nan``, ``inf`` or a finite number that is not a cross-entropy);
- float class labels are refused (RuntimeError: expected scalar type Long);
- rank: functions and loss classes alike refuse a target with an extra trailing dimension
  of size 1 (labels (N, 1) for (N, C) logits: nll_loss's "0D or 1D target tensor expected,
  multi-target not supported", RuntimeError) and the binary losses refuse (N,) against (N, 1)
  either way round (ValueError: "Using a target size ... that is different to the input size
  ... is deprecated" / "Target size ... must be the same as input size"); nothing is squeezed
  or broadcast silently (aten/src/ATen/native/LossNLL.cpp, nll_loss_forward meta;
  torch/nn/functional.py binary_cross_entropy, binary_cross_entropy_with_logits, v2.13.0).
"""
from __future__ import annotations

from typing import Any, Callable

from lossconform.contract import InvalidOutcome
from lossconform.invalid import FLOAT_LABELS, LOGITS

_ACT = r"torch\.(sigmoid|nn\.functional\.(softmax|log_softmax|logsigmoid))"
_BCE = r"torch\.nn\.(functional\.binary_cross_entropy|BCELoss)"
ANY = r".*"

INVALID_OUTCOMES: tuple[InvalidOutcome, ...] = (
    InvalidOutcome(_ACT, ANY, "empty_batch", "silent-empty"),
    InvalidOutcome(ANY, ANY, "empty_batch", "silent-nan"),
    InvalidOutcome(ANY, "index", "index_out_of_range|negative_index", "raises:IndexError"),
    InvalidOutcome(ANY, "index", "float_labels", "raises:RuntimeError"),
    InvalidOutcome(ANY, ANY, "shape_mismatch", "raises:ValueError"),
    InvalidOutcome(r"torch\.nn\.(functional\.(cross_entropy|nll_loss)|CrossEntropyLoss|NLLLoss)",
                   ANY, "target_extra_dim", "raises:RuntimeError"),
    InvalidOutcome(ANY, "probs", "target_extra_dim|target_missing_dim", "raises:ValueError"),
    InvalidOutcome(_BCE, ANY, "nan_target|inf_target|target_outside_01|probs_outside_01",
                   "raises:RuntimeError"),
    InvalidOutcome(ANY, "probs", "nan_target", "silent-nan"),
    InvalidOutcome(ANY, "probs", "inf_target", "silent-inf"),
    InvalidOutcome(ANY, "probs", "target_not_normalized|target_outside_01", "silent-finite"),
)

_LABELS = "torch.tensor([0., 1.7, .5, 2.])"
FLOAT_LABEL_SOURCE: dict[str, str] = {
    "torch.nn.functional.cross_entropy": f"F.cross_entropy(x, {_LABELS})",
    "torch.nn.CrossEntropyLoss": f"torch.nn.CrossEntropyLoss()(x, {_LABELS})",
    "torch.nn.functional.nll_loss": f"F.nll_loss(F.log_softmax(x, 1), {_LABELS})",
    "torch.nn.NLLLoss": f"torch.nn.NLLLoss()(F.log_softmax(x, 1), {_LABELS})",
}


def float_label_call(entry_point: str) -> Callable[[], Any] | None:
    if entry_point not in FLOAT_LABEL_SOURCE:
        return None

    def run() -> Any:
        import torch
        import torch.nn.functional as F

        x = torch.tensor(LOGITS, dtype=torch.float32)
        t = torch.tensor(FLOAT_LABELS, dtype=torch.float32)
        if entry_point == "torch.nn.functional.cross_entropy":
            out = F.cross_entropy(x, t)
        elif entry_point == "torch.nn.CrossEntropyLoss":
            out = torch.nn.CrossEntropyLoss()(x, t)
        elif entry_point == "torch.nn.functional.nll_loss":
            out = F.nll_loss(F.log_softmax(x, 1), t)
        else:
            out = torch.nn.NLLLoss()(F.log_softmax(x, 1), t)
        return out.detach().double().numpy()
    return run


def float_label_repro(entry_point: str) -> str:
    return ("import numpy as np, torch, torch.nn.functional as F\n"
            f"x = torch.tensor(np.array({LOGITS.tolist()}, dtype=np.float32))\n"
            + FLOAT_LABEL_SOURCE.get(entry_point, ""))
