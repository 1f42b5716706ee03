"""Paddle's expected outcome on every invalid-input cell (measured with paddlepaddle 3.3.1, CPU,
float32), and the direct float-label calls a ``Call`` cannot carry (run in the worker).

Rows are checked by the contract suite (``lossconform/suite/test_invalid_inputs.py``): a
Paddle release that starts or stops raising fails there with the old and new outcome.
"""
from __future__ import annotations

from typing import Any, Callable

from lossconform.contract import InvalidOutcome
from lossconform.invalid import FLOAT_LABELS, LOGITS

ANY = r".*"

_ACT = r"paddle\.nn\.functional\.(softmax|log_softmax|sigmoid|log_sigmoid)"
_CE = r"paddle\.nn\.(functional\.cross_entropy|CrossEntropyLoss)(\(use_softmax=False\))?"
_PROBS_CE = r"paddle\.nn\.(functional\.cross_entropy|CrossEntropyLoss)\(use_softmax=False\)"
_NLL = r"paddle\.nn\.(functional\.nll_loss|NLLLoss)"
_BCE = r"paddle\.nn\.(functional\.binary_cross_entropy|BCELoss)"
_BIN = r"paddle\.nn\.(functional\.binary_cross_entropy_with_logits|BCEWithLogitsLoss)"

INVALID_OUTCOMES: tuple[InvalidOutcome, ...] = (
    InvalidOutcome(_ACT, ANY, "empty_batch", "silent-empty"),
    # nll_loss's 'mean' over an empty batch is 0 (its kernel divides by a total weight it
    # starts at 0 and leaves 0/0 out), cross_entropy's is NaN (it adds paddle.nan on purpose:
    # python/paddle/nn/functional/loss.py, cross_entropy, "if 0 in input.shape")
    InvalidOutcome(_NLL, ANY, "empty_batch", "silent-finite"),
    InvalidOutcome(ANY, ANY, "empty_batch", "silent-nan"),
    # labels outside [0, C): cross_entropy's kernel raises OutOfRange (an IndexError),
    # nll_loss's InvalidArgument (a ValueError)
    InvalidOutcome(_CE, "index", "index_out_of_range|negative_index", "raises:IndexError"),
    InvalidOutcome(_NLL, "index", "index_out_of_range|negative_index", "raises:ValueError"),
    # float class labels: cross_entropy documents int32/int64/float32/float64 labels and
    # truncates 1.7 to 1 silently; nll_loss refuses them
    InvalidOutcome(_CE + r"|paddle\.nn\.functional\.softmax_with_cross_entropy", "index",
                   "float_labels", "silent-finite"),
    InvalidOutcome(_NLL, "index", "float_labels", "raises:ValueError"),
    InvalidOutcome(ANY, ANY, "shape_mismatch", "raises:ValueError"),
    # index labels of shape (N, 1) for (N, C) logits are documented ([N_1, ..., N_k, 1]) and
    # taken silently by cross_entropy; nll_loss squeezes them as well
    InvalidOutcome(_CE + "|" + _NLL, "index", "target_extra_dim", "silent-finite"),
    InvalidOutcome(ANY, "probs", "target_extra_dim|target_missing_dim", "raises:ValueError"),
    # binary_cross_entropy checks the input in [0, 1] (bce_loss_kernel.cc), not the target
    InvalidOutcome(_BCE, "probs", "probs_outside_01", "raises:ValueError"),
    InvalidOutcome(_BCE, "probs", "inf_target", "silent-nan"),
    # cross_entropy(use_softmax=False) takes any "probability": log of a negative is NaN for
    # soft labels; with index labels the out-of-range values picked happen to be positive
    InvalidOutcome(_PROBS_CE, "index", "probs_outside_01", "silent-finite"),
    InvalidOutcome(_PROBS_CE, "probs", "probs_outside_01", "silent-nan"),
    InvalidOutcome(ANY, "probs", "nan_target", "silent-nan"),
    InvalidOutcome(ANY, "probs", "inf_target", "silent-inf"),
    InvalidOutcome(ANY, "probs", "target_not_normalized|target_outside_01", "silent-finite"),
)

_F = "paddle.nn.functional."
_LABELS = "paddle.to_tensor(labels, dtype='float32')"
#: entry point -> the float-label expression (``x``: float32 logits, ``labels``: float labels)
FLOAT_LABEL_SOURCE: dict[str, str] = {
    f"{_F}cross_entropy": f"out = {_F}cross_entropy(x, {_LABELS})",
    "paddle.nn.CrossEntropyLoss": f"out = paddle.nn.CrossEntropyLoss()(x, {_LABELS})",
    f"{_F}cross_entropy(use_softmax=False)":
        f"out = {_F}cross_entropy({_F}softmax(x), {_LABELS}, use_softmax=False)",
    "paddle.nn.CrossEntropyLoss(use_softmax=False)":
        f"out = paddle.nn.CrossEntropyLoss(use_softmax=False)({_F}softmax(x), {_LABELS})",
    f"{_F}softmax_with_cross_entropy":
        f"out = {_F}softmax_with_cross_entropy(x, paddle.unsqueeze({_LABELS}, -1))",
    f"{_F}nll_loss": f"out = {_F}nll_loss({_F}log_softmax(x), {_LABELS})",
    "paddle.nn.NLLLoss": f"out = paddle.nn.NLLLoss()({_F}log_softmax(x), {_LABELS})",
}


def float_label_call(adapter: Any, entry_point: str) -> Callable[[], Any] | None:
    src = FLOAT_LABEL_SOURCE.get(entry_point)
    if src is None:
        return None

    def run() -> Any:
        import numpy as np

        return adapter.worker.call("expression", "x = paddle.to_tensor(x)\n" + src + "\n", {
            "x": np.asarray(LOGITS, dtype=np.float32),
            "labels": np.asarray(FLOAT_LABELS, dtype=np.float32)})
    return run


def float_label_repro(entry_point: str) -> str:
    src = FLOAT_LABEL_SOURCE.get(entry_point)
    if src is None:
        return ""
    return ("import numpy as np\nimport paddle\n"
            f"x = paddle.to_tensor(np.array({LOGITS.tolist()}, dtype=np.float32))\n"
            f"labels = np.array({FLOAT_LABELS.tolist()}, dtype=np.float32)\n{src}\nprint(out)\n")
