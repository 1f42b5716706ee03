"""PyTorch's entry points as users call them, with what each can express (``Capabilities``).

The "unsupported" reason of a call comes from this data (``lossconform.capabilities``); the
sentences under ``missing_option_reasons`` are what users see when torch lacks an option.
"""
from __future__ import annotations

from lossconform.capabilities import lacks
from lossconform.contract import ALL_REDUCTIONS, ANY_AXIS, DTYPES, Capabilities, EntryPointSpec

DEVICES = ("cpu", "cuda")

_CLASS_DIM_NOTE = (
    "torch takes classes on dim 1 (dim 0 for 1-D input); another class axis is moved "
    "there with Tensor.movedim(axis, 1)"
)


def _activation(name: str) -> Capabilities:
    """No target, no options, no reduction; softmax/log_softmax take any dim."""
    return Capabilities(
        target_kinds=(None,), reductions=("none",), class_axes=ANY_AXIS, devices=DEVICES,
        missing_option_reasons={opt: f"{name} takes no {opt}" for opt in lacks(())},
    )


def _loss(target_kinds: tuple[str | None, ...], options: tuple[str, ...],
          missing: dict[str, str]) -> Capabilities:
    """A loss: every reduction; a class axis other than dim 1 is moved there (movedim)."""
    return Capabilities(
        target_kinds=target_kinds, options=frozenset(options), reductions=ALL_REDUCTIONS,
        class_axes=ANY_AXIS, devices=DEVICES, missing_option_reasons=missing,
    )


# -- what users read when an option is missing -------------------------------------------------
_CE = _loss(("index", "probs"), ("weight", "ignore_index", "label_smoothing"), {
    "sample_weight": "torch.nn.functional.cross_entropy / nn.CrossEntropyLoss have no "
                     "sample_weight argument (only per-class `weight`)",
})
_NLL = _loss(("index",), ("weight", "ignore_index"), {
    "sample_weight": "torch.nn.functional.nll_loss / nn.NLLLoss have no sample_weight "
                     "argument (only per-class `weight`)",
    "label_smoothing": "torch.nn.functional.nll_loss / nn.NLLLoss have no label_smoothing "
                       "argument (only cross_entropy has one)",
})
# binary losses: float targets of the input's shape (a call may leave target_kind unset)
_BCE = _loss(("probs",), ("weight",), {
    "pos_weight": "torch binary_cross_entropy / nn.BCELoss have no pos_weight (only the logits "
                  "variant has one)",
    "sample_weight": "torch binary_cross_entropy / nn.BCELoss have no sample_weight argument "
                     "(only the element-wise rescaling `weight`)",
    "ignore_index": "torch binary losses have no ignore_index",
    "label_smoothing": "torch binary_cross_entropy / nn.BCELoss have no label_smoothing argument",
})
_BCE_LOGITS = _loss(("probs",), ("weight", "pos_weight"), {
    "sample_weight": "torch binary_cross_entropy_with_logits / nn.BCEWithLogitsLoss have no "
                     "sample_weight argument (only the element-wise rescaling `weight`)",
    "ignore_index": "torch binary losses have no ignore_index",
    "label_smoothing": "torch binary_cross_entropy_with_logits / nn.BCEWithLogitsLoss have no "
                       "label_smoothing argument",
})


def _ep(name: str, op: str, notes: str, caps: Capabilities | None = None) -> EntryPointSpec:
    return EntryPointSpec(name, op, DTYPES, notes, caps or _activation(name))


ENTRY_POINTS: tuple[EntryPointSpec, ...] = (
    _ep("torch.nn.functional.softmax", "softmax", "dim=axis"),
    _ep("torch.nn.functional.log_softmax", "log_softmax", "dim=axis"),
    _ep("torch.sigmoid", "sigmoid", "element-wise"),
    _ep("torch.nn.functional.logsigmoid", "log_sigmoid", "element-wise"),
    _ep("torch.nn.functional.cross_entropy", "cross_entropy",
        f"from logits; index (int64) or probability targets; {_CLASS_DIM_NOTE}; "
        "ignore_index=None is passed as torch's default (-100)", _CE),
    _ep("torch.nn.CrossEntropyLoss", "cross_entropy",
        f"loss object built with the options, then called; {_CLASS_DIM_NOTE}; "
        "ignore_index=None is passed as torch's default (-100)", _CE),
    _ep("torch.nn.functional.nll_loss", "nll_loss",
        f"on log-probabilities, index targets; {_CLASS_DIM_NOTE}", _NLL),
    _ep("torch.nn.NLLLoss", "nll_loss",
        f"loss object built with the options, then called; {_CLASS_DIM_NOTE}", _NLL),
    _ep("torch.nn.functional.binary_cross_entropy", "binary_cross_entropy",
        "on probabilities; target and weight in x's dtype", _BCE),
    _ep("torch.nn.BCELoss", "binary_cross_entropy",
        "loss object built with the options, then called", _BCE),
    _ep("torch.nn.functional.binary_cross_entropy_with_logits",
        "binary_cross_entropy_with_logits",
        "on logits; target, weight and pos_weight in x's dtype", _BCE_LOGITS),
    _ep("torch.nn.BCEWithLogitsLoss", "binary_cross_entropy_with_logits",
        "loss object built with the options, then called", _BCE_LOGITS),
)

SPECS: dict[str, EntryPointSpec] = {spec.name: spec for spec in ENTRY_POINTS}

__all__ = ["DEVICES", "ENTRY_POINTS", "SPECS"]
