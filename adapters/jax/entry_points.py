"""JAX's and optax's entry points as users call them, with what each can express
(``Capabilities``).

The "unsupported" reason of a call comes from this data (``lossconform.capabilities``); the
sentences under ``missing_option_reasons`` are what users see when an entry point lacks an
option. optax's losses return one loss per item: reduction 'mean' / 'sum' is the user's
``jnp.mean`` / ``jnp.sum`` of that array (inside the same jitted function), so 'mean' divides by
the item count (the element count for the binary loss), ignored items included.
"""
from __future__ import annotations

from lossconform.capabilities import lacks
from lossconform.contract import (ALL_REDUCTIONS, ANY_AXIS, DTYPES, LAST_AXIS, Capabilities,
                                  EntryPointSpec)

_REDUCE = ("reduction 'mean'/'sum' is jnp.mean/jnp.sum of optax's per-item losses (optax has no "
           "reduction argument), so 'mean' divides by the item count")
_NO_WEIGHT = ("optax's cross-entropies have no class weights: multiply the per-item losses by "
              "weight[labels] yourself")
_NO_SAMPLE = ("optax losses have no sample_weight argument: multiply the per-item losses by the "
              "weights before jnp.mean / jnp.sum")
_NO_SMOOTH_INDEX = ("softmax_cross_entropy_with_integer_labels has no label smoothing: one-hot the "
                    "labels (jax.nn.one_hot) and use optax.losses.softmax_cross_entropy on "
                    "optax.smooth_labels(labels, alpha)")
_NO_IGNORE_PROBS = ("optax's probability-target losses have no ignore index (pass where= to mask "
                    "items of softmax_cross_entropy_with_integer_labels)")
_USE_INTEGER = "use optax.losses.softmax_cross_entropy_with_integer_labels for class indices"
_USE_PROBS = "use optax.losses.softmax_cross_entropy for probability (soft or one-hot) targets"


def _activation(name: str) -> Capabilities:
    return Capabilities(
        target_kinds=(None,), reductions=("none",), class_axes=ANY_AXIS,
        missing_option_reasons={opt: f"{name} takes no {opt}" for opt in lacks(())},
    )


def _loss(target_kinds: tuple[str, ...], options: tuple[str, ...], missing: dict[str, str],
          axes: str = ANY_AXIS, targets: dict[str, str] | None = None) -> Capabilities:
    reasons = {opt: missing.get(opt, f"optax has no {opt} option here") for opt in lacks(options)}
    return Capabilities(target_kinds=target_kinds, options=frozenset(options),
                        reductions=ALL_REDUCTIONS, class_axes=axes,
                        missing_option_reasons=reasons, missing_target_reasons=targets or {})


_CE_MISSING = {"weight": _NO_WEIGHT, "sample_weight": _NO_SAMPLE, "ignore_index": _NO_IGNORE_PROBS,
               "pos_weight": "pos_weight is an option of binary losses"}

#: softmax_cross_entropy: probability targets, any class axis (axis=), label smoothing through
#: optax.smooth_labels (optax's documented way; it has no label_smoothing argument)
_SCE = _loss(("probs",), ("label_smoothing",), _CE_MISSING, targets={"index": _USE_INTEGER})
_INT = _loss(("index",), ("ignore_index",),
             dict(_CE_MISSING, label_smoothing=_NO_SMOOTH_INDEX),
             targets={"probs": _USE_PROBS})
_SAFE = _loss(("probs",), (), dict(
    _CE_MISSING, label_smoothing="safe_softmax_cross_entropy: smooth the labels with "
                                 "optax.smooth_labels first (not composed here)"),
    axes=LAST_AXIS, targets={"index": _USE_INTEGER})
_POLY = _loss(("probs",), (), dict(
    _CE_MISSING, label_smoothing="poly_loss_cross_entropy: smooth the labels with "
                                 "optax.smooth_labels first (not composed here)"),
    targets={"index": _USE_INTEGER})
_SIGMOID = _loss(("probs",), (), {
    "weight": "optax.losses.sigmoid_binary_cross_entropy has no weight: multiply the "
              "element-wise losses by it",
    "pos_weight": "optax.losses.sigmoid_binary_cross_entropy has no pos_weight",
    "sample_weight": _NO_SAMPLE,
    "ignore_index": "binary losses have no ignore index",
    "label_smoothing": "optax.smooth_labels smooths over the last axis's size (eps/C), not the "
                       "binary eps/2: no binary label smoothing in optax",
})


def _ep(name: str, op: str, notes: str, caps: Capabilities | None = None) -> EntryPointSpec:
    return EntryPointSpec(name, op, DTYPES, notes, caps or _activation(name))


SOFTMAX = "jax.nn.softmax"
LOG_SOFTMAX = "jax.nn.log_softmax"
SIGMOID = "jax.nn.sigmoid"
LOG_SIGMOID = "jax.nn.log_sigmoid"
SCE = "optax.losses.softmax_cross_entropy"
INT = "optax.losses.softmax_cross_entropy_with_integer_labels"
SAFE = "optax.losses.safe_softmax_cross_entropy"
BCE = "optax.losses.sigmoid_binary_cross_entropy"
POLY = "optax.losses.poly_loss_cross_entropy(epsilon=0)"

ENTRY_POINTS: tuple[EntryPointSpec, ...] = (
    _ep(SOFTMAX, "softmax", "axis=axis"),
    _ep(LOG_SOFTMAX, "log_softmax", "axis=axis"),
    _ep(SIGMOID, "sigmoid", "element-wise"),
    _ep(LOG_SIGMOID, "log_sigmoid", "element-wise"),
    _ep(SCE, "cross_entropy",
        "from logits, probability targets, axis=axis; label_smoothing: labels = "
        f"optax.smooth_labels(labels, alpha, axis=axis); {_REDUCE}", _SCE),
    _ep(INT, "cross_entropy",
        "from logits, int64 class indices, axis=axis; ignore_index: where=(labels != "
        f"ignore_index) (the item's loss is 0; jnp.mean still divides by every item); {_REDUCE}",
        _INT),
    _ep(SAFE, "cross_entropy",
        f"from logits, probability targets, classes on the last axis (no axis argument); {_REDUCE}",
        _SAFE),
    _ep(BCE, "binary_cross_entropy_with_logits",
        "element-wise on logits, float targets of x's shape; 'mean' is jnp.mean over every "
        "element", _SIGMOID),
    _ep(POLY, "cross_entropy",
        "poly-1 loss with epsilon=0: cross-entropy plus 0 * sum(labels * (1 - softmax)); "
        f"probability targets, axis=axis; {_REDUCE}", _POLY),
)

SPECS: dict[str, EntryPointSpec] = {spec.name: spec for spec in ENTRY_POINTS}

__all__ = ["ENTRY_POINTS", "SPECS"]
