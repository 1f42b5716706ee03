"""MLX's entry points as users call them, with what each can express (``Capabilities``).

The "unsupported" reason of a call comes from this data (``lossconform.capabilities``); the
sentences under ``missing_option_reasons`` are what users see when an entry point lacks an
option. Sources: ml-explore/mlx v0.32.4, python/mlx/nn/losses.py and
python/mlx/nn/layers/activations.py.

Every entry point accepts the four float dtypes on the CPU (float64 included: "Arrays with type
float64 only work with CPU operations", docs/src/python/data_types.rst); the adapter casts
nothing: each array is made in the call's dtype (index targets int64).
"""
from __future__ import annotations

from lossconform.capabilities import lacks
from lossconform.contract import (ALL_REDUCTIONS, ANY_AXIS, DTYPES, Capabilities,
                                  EntryPointSpec)

_NO_CLASS_WEIGHT = ("mlx.nn.losses.cross_entropy has no class weights: its `weights` are per "
                    "item (the loss's shape); pass weights=weight[targets] yourself (then "
                    "reduction='mean' still divides by the item count)")
_NO_IGNORE = ("mlx.nn.losses has no ignore index: pass weights=(targets != ignore_index) and "
              "reduce yourself (mx.mean divides by every item)")
_NO_POS = "pos_weight is an option of binary losses"
_REDUCE = ("reduction='mean' is mx.mean of the (weighted) per-item losses: it divides by the "
           "item count, with or without weights")


def _activation(name: str) -> Capabilities:
    return Capabilities(
        target_kinds=(None,), reductions=("none",), class_axes=ANY_AXIS,
        missing_option_reasons={opt: f"{name} takes no {opt}" for opt in lacks(())},
    )


def _loss(target_kinds: tuple[str, ...], options: tuple[str, ...], missing: dict[str, str],
          targets: dict[str, str] | None = None) -> Capabilities:
    reasons = {opt: missing.get(opt, f"mlx has no {opt} option here") for opt in lacks(options)}
    return Capabilities(target_kinds=target_kinds, options=frozenset(options),
                        reductions=ALL_REDUCTIONS, class_axes=ANY_AXIS,
                        missing_option_reasons=reasons, missing_target_reasons=targets or {})


_CE = _loss(("index", "probs"), ("sample_weight", "label_smoothing"), {
    "weight": _NO_CLASS_WEIGHT, "ignore_index": _NO_IGNORE, "pos_weight": _NO_POS})
_NLL = _loss(("index",), (), {
    "weight": "mlx.nn.losses.nll_loss has no weights: multiply the per-item losses "
              "(reduction='none') by weight[targets] yourself",
    "sample_weight": "mlx.nn.losses.nll_loss has no weights: multiply the per-item losses "
                     "(reduction='none') yourself",
    "ignore_index": _NO_IGNORE,
    "label_smoothing": "mlx.nn.losses.nll_loss has no label_smoothing (cross_entropy has one)",
    "pos_weight": _NO_POS,
}, targets={"probs": "mlx.nn.losses.nll_loss takes class indices only"})
_BINARY_MISSING = {
    "pos_weight": "mlx.nn.losses.binary_cross_entropy has no pos_weight",
    "sample_weight": "mlx.nn.losses.binary_cross_entropy's `weights` are element-wise (the "
                     "case's `weight`); no per-item weight",
    "ignore_index": "binary losses have no ignore index",
    "label_smoothing": "mlx.nn.losses.binary_cross_entropy has no label_smoothing: smooth the "
                       "targets yourself",
}
_BCE = _loss(("probs",), ("weight",), _BINARY_MISSING)

SOFTMAX = "mlx.core.softmax"
SOFTMAX_PRECISE = "mlx.core.softmax(precise=True)"
LOG_SOFTMAX = "mlx.nn.log_softmax"
SIGMOID = "mlx.core.sigmoid"
LOG_SIGMOID = "mlx.nn.log_sigmoid"
CE = "mlx.nn.losses.cross_entropy"
NLL = "mlx.nn.losses.nll_loss"
BCE = "mlx.nn.losses.binary_cross_entropy(with_logits=False)"
BCE_LOGITS = "mlx.nn.losses.binary_cross_entropy"


def _ep(name: str, op: str, notes: str, caps: Capabilities | None = None) -> EntryPointSpec:
    return EntryPointSpec(name, op, DTYPES, notes, caps or _activation(name))


ENTRY_POINTS: tuple[EntryPointSpec, ...] = (
    _ep(SOFTMAX, "softmax", "axis=axis (precise=False, the default: the row sum accumulates in "
        "the input's dtype)"),
    _ep(SOFTMAX_PRECISE, "softmax", "axis=axis, precise=True: float16/bfloat16 accumulate in "
        "float32"),
    _ep(LOG_SOFTMAX, "log_softmax", "axis=axis (x - max - logsumexp; mx.compile'd with "
        "shapeless=True inside mlx.nn, also in eager mode)"),
    _ep(SIGMOID, "sigmoid", "element-wise"),
    _ep(LOG_SIGMOID, "log_sigmoid", "element-wise: -softplus(-x) (mx.compile'd inside mlx.nn)"),
    _ep(CE, "cross_entropy",
        "from logits, axis=axis; int64 class indices (targets of the logits' shape without the "
        "axis) or probabilities (targets of the logits' shape: the rank decides); "
        "sample_weight: weights= (per item); label_smoothing=; reduction= passed "
        f"(its default is 'none'); {_REDUCE}", _CE),
    _ep(NLL, "nll_loss", "on log-probabilities, int64 class indices, axis=axis; reduction= "
        f"passed (its default is 'none'); {_REDUCE}", _NLL),
    _ep(BCE, "binary_cross_entropy",
        "on probabilities (with_logits=False: each log clipped at -100); targets in x's dtype; "
        "weight: weights=mx.broadcast_to(weight, x.shape) (mlx requires the loss's shape); "
        "'mean' is mx.mean over every element", _BCE),
    _ep(BCE_LOGITS, "binary_cross_entropy_with_logits",
        "on logits (with_logits=True, the default): logaddexp(0, x) - x * targets; targets in "
        "x's dtype; weight: weights=mx.broadcast_to(weight, x.shape); 'mean' is mx.mean over "
        "every element", _BCE),
)

SPECS: dict[str, EntryPointSpec] = {spec.name: spec for spec in ENTRY_POINTS}

__all__ = ["ENTRY_POINTS", "SPECS"]
