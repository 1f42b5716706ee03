"""PaddlePaddle's entry points as users call them, with what each can express (``Capabilities``).

Every entry point accepts float32 and float64 only on the CPU: Paddle 3.3.1's CPU build
registers no float16 or bfloat16 kernel for ``softmax``, ``log_softmax``, ``sigmoid``,
``logsigmoid``, ``cross_entropy_with_softmax``, ``nll_loss``, ``bce_loss`` or
``sigmoid_cross_entropy_with_logits`` (a call raises ``RuntimeError: (NotFound) The kernel with
key (CPU, Undefined(AnyLayout), float16) of kernel `softmax` is not registered``;
tests/adapters/paddle pins it). The adapter never casts a half input to float32 behind the
user's back, so those dtypes are declared unsupported with that reason.
"""
from __future__ import annotations

from lossconform.capabilities import lacks
from lossconform.contract import ALL_REDUCTIONS, ANY_AXIS, Capabilities, EntryPointSpec

#: the dtypes every Paddle entry point accepts on the CPU
DTYPES: tuple[str, ...] = ("float32", "float64")
#: the dtypes Paddle's CPU kernels refuse (a RuntimeError (NotFound), pinned by the tests)
HALF_DTYPES: tuple[str, ...] = ("float16", "bfloat16")

F = "paddle.nn.functional."
NN = "paddle.nn."

#: entry point -> the callable users write (the loss classes are built, then called)
CALLABLE: dict[str, str] = {}
#: entry points that are loss classes (options go to the constructor)
MODULES: frozenset[str] = frozenset({
    NN + "CrossEntropyLoss", NN + "CrossEntropyLoss(use_softmax=False)", NN + "NLLLoss",
    NN + "BCELoss", NN + "BCEWithLogitsLoss",
})


def _activation(name: str) -> Capabilities:
    return Capabilities(
        target_kinds=(None,), reductions=("none",), class_axes=ANY_AXIS,
        missing_option_reasons={opt: f"{name} takes no {opt}" for opt in lacks(())},
    )


_NO_SAMPLE_WEIGHT = ("Paddle's losses have no sample_weight argument (multiply the "
                     "reduction='none' loss by it and reduce it yourself)")
_CE = Capabilities(
    target_kinds=("index", "probs"),
    options=frozenset({"weight", "ignore_index", "label_smoothing"}),
    reductions=ALL_REDUCTIONS, class_axes=ANY_AXIS,
    missing_option_reasons={"sample_weight": _NO_SAMPLE_WEIGHT,
                            "pos_weight": "cross_entropy has no pos_weight (a binary option)"},
)
_SWCE = Capabilities(
    target_kinds=("index", "probs"), options=frozenset({"ignore_index"}),
    reductions=("none",), class_axes=ANY_AXIS,
    missing_option_reasons={
        "weight": "paddle.nn.functional.softmax_with_cross_entropy has no weight (use "
                  "paddle.nn.functional.cross_entropy(weight=...))",
        "label_smoothing": "paddle.nn.functional.softmax_with_cross_entropy has no "
                           "label_smoothing (use paddle.nn.functional.cross_entropy)",
        "sample_weight": _NO_SAMPLE_WEIGHT,
        "pos_weight": "softmax_with_cross_entropy has no pos_weight (a binary option)",
    },
)
_NLL = Capabilities(
    target_kinds=("index",), options=frozenset({"weight", "ignore_index"}),
    reductions=ALL_REDUCTIONS, class_axes=ANY_AXIS,
    missing_option_reasons={
        "label_smoothing": "paddle nll_loss / NLLLoss have no label_smoothing (only "
                           "cross_entropy has one)",
        "sample_weight": _NO_SAMPLE_WEIGHT,
        "pos_weight": "nll_loss has no pos_weight (a binary option)",
    },
    missing_target_reasons={"probs": "paddle nll_loss takes class indices only (use "
                                     "cross_entropy(soft_label=True) for probabilities)"},
)
_BCE = Capabilities(
    target_kinds=("probs",), options=frozenset({"weight"}), reductions=ALL_REDUCTIONS,
    missing_option_reasons={
        "pos_weight": "paddle binary_cross_entropy / BCELoss have no pos_weight (only the "
                      "logits variant has one)",
        "sample_weight": "paddle binary losses have no sample_weight (only the element-wise "
                         "rescaling `weight`)",
        "ignore_index": "paddle binary losses have no ignore_index",
        "label_smoothing": "paddle binary losses have no label_smoothing",
    },
)
_BCE_LOGITS = Capabilities(
    target_kinds=("probs",), options=frozenset({"weight", "pos_weight"}),
    reductions=ALL_REDUCTIONS,
    missing_option_reasons={
        "sample_weight": "paddle binary losses have no sample_weight (only the element-wise "
                         "rescaling `weight`)",
        "ignore_index": "paddle binary losses have no ignore_index",
        "label_smoothing": "paddle binary losses have no label_smoothing",
    },
)

_CE_NOTE = ("axis=axis; index targets as int64 (soft_label=False), probability targets with "
            "soft_label=True; ignore_index=None is Paddle's default (-100)")


def _ep(name: str, op: str, notes: str, caps: Capabilities | None = None,
        callable_: str | None = None) -> EntryPointSpec:
    CALLABLE[name] = callable_ or name
    return EntryPointSpec(name, op, DTYPES, notes, caps or _activation(name))


ENTRY_POINTS: tuple[EntryPointSpec, ...] = (
    _ep(F + "softmax", "softmax", "axis=axis"),
    _ep(F + "log_softmax", "log_softmax", "axis=axis"),
    _ep(F + "sigmoid", "sigmoid", "element-wise"),
    _ep(F + "log_sigmoid", "log_sigmoid", "element-wise"),
    _ep(F + "cross_entropy", "cross_entropy", "from logits (use_softmax=True); " + _CE_NOTE,
        _CE),
    _ep(NN + "CrossEntropyLoss", "cross_entropy",
        "loss object built with the options, then called; " + _CE_NOTE, _CE),
    _ep(F + "cross_entropy(use_softmax=False)", "categorical_crossentropy",
        "on probabilities (use_softmax=False: -sum t log p, no softmax); " + _CE_NOTE, _CE,
        F + "cross_entropy"),
    _ep(NN + "CrossEntropyLoss(use_softmax=False)", "categorical_crossentropy",
        "loss object built with use_softmax=False and the options, then called; " + _CE_NOTE,
        _CE, NN + "CrossEntropyLoss"),
    _ep(F + "softmax_with_cross_entropy", "cross_entropy",
        "axis=axis; the label keeps the class axis with size 1 (np.expand_dims) and the "
        "per-item loss comes back with it (squeezed with paddle.squeeze); probability targets "
        "with soft_label=True; no reduction", _SWCE),
    _ep(F + "nll_loss", "nll_loss",
        "on log-probabilities, int64 index targets; classes on dim 1 (another class axis is "
        "moved there with paddle.moveaxis)", _NLL),
    _ep(NN + "NLLLoss", "nll_loss", "loss object built with the options, then called; classes "
        "on dim 1 (moved there with paddle.moveaxis)", _NLL),
    _ep(F + "binary_cross_entropy", "binary_cross_entropy",
        "on probabilities; target and weight in x's dtype", _BCE),
    _ep(NN + "BCELoss", "binary_cross_entropy",
        "loss object built with the options, then called", _BCE),
    _ep(F + "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits",
        "on logits; target, weight and pos_weight in x's dtype", _BCE_LOGITS),
    _ep(NN + "BCEWithLogitsLoss", "binary_cross_entropy_with_logits",
        "loss object built with the options, then called", _BCE_LOGITS),
)

SPECS: dict[str, EntryPointSpec] = {spec.name: spec for spec in ENTRY_POINTS}

__all__ = ["CALLABLE", "DTYPES", "ENTRY_POINTS", "HALF_DTYPES", "MODULES", "SPECS"]
