"""Keras' expected outcome on every invalid-input cell, per backend (measured with Keras
3.15.1 on jax 0.10.2 and torch 2.13.0, CPU, float32), and the direct float-label calls a
``Call`` cannot carry (made in the backend's worker).
"""
from __future__ import annotations

from typing import Any, Callable

from lossconform.contract import InvalidOutcome
from lossconform.invalid import FLOAT_LABELS, LOGITS

ANY = r".*"

_K = r"keras\.losses\."
_ACT = r"keras\.ops\.(softmax|log_softmax|sigmoid|log_sigmoid)@.*"
_CLASS = _K + r"[A-Z].*"
_SPARSE = _K + r"(sparse_categorical_crossentropy|SparseCategoricalCrossentropy)\(.*\)@.*"
_CCE = _K + r"(categorical_crossentropy|CategoricalCrossentropy)\(.*\)@.*"
_BCE_FN = _K + r"binary_crossentropy\(.*\)@.*"
_BCE_PROBS = _K + r"(binary_crossentropy|BinaryCrossentropy)\(from_logits=False\)@.*"
_RANK = "target_extra_dim|target_missing_dim"

# Common to both backends: the Keras layer (keras/src/losses at v3.15.1). The loss OBJECTS
# return an empty (0,) tensor for an empty batch (reduce_values), the functions' mean of
# nothing is NaN; float labels are cast to int by the sparse losses (1.7 -> 1) silently; the
# loss CLASSES reconcile a trailing dimension of 1 (squeeze_or_expand_to_same_rank), the
# categorical and binary FUNCTIONS raise ValueError on any shape difference, the sparse ones
# squeeze labels (N, 1) themselves; probabilities are renormalised and clipped, so
# out-of-range probabilities and unnormalised targets give a finite loss.
_COMMON_HEAD: tuple[InvalidOutcome, ...] = (
    InvalidOutcome(_ACT, ANY, "empty_batch", "silent-empty"),
    InvalidOutcome(_CLASS, ANY, "empty_batch", "silent-empty"),
    InvalidOutcome(ANY, ANY, "empty_batch", "silent-nan"),
    InvalidOutcome(_SPARSE, "index", "float_labels", "silent-finite"),
)
_COMMON_TAIL: tuple[InvalidOutcome, ...] = (
    InvalidOutcome(_SPARSE, "index", "target_extra_dim", "silent-finite"),
    InvalidOutcome(_CLASS, "probs", _RANK, "silent-finite"),
    InvalidOutcome(ANY, ANY, _RANK, "raises:ValueError"),
    InvalidOutcome(ANY, ANY, "shape_mismatch", "raises:ValueError"),
    InvalidOutcome(ANY, ANY, "nan_target", "silent-nan"),
    InvalidOutcome(ANY, ANY, "target_not_normalized|target_outside_01|probs_outside_01",
                   "silent-finite"),
)

_ROWS: dict[str, tuple[InvalidOutcome, ...]] = {
    # jax: jax.nn.one_hot turns an out-of-range or negative index into an all-zero row, in the
    # categorical AND the sparse losses (keras/src/backend/jax/nn.py): the item's loss is 0,
    # silently; an inf target in the binary losses gives inf * 0 = NaN (t * log_sigmoid(x)
    # and (1 - t) * log_sigmoid(-x) of opposite infinite signs)
    "jax": _COMMON_HEAD + (
        InvalidOutcome(ANY, "index", "index_out_of_range|negative_index", "silent-finite"),
        InvalidOutcome(_K + r"(binary_crossentropy|BinaryCrossentropy)\(.*\)@jax", "probs",
                       "inf_target", "silent-nan"),
        InvalidOutcome(ANY, ANY, "inf_target", "silent-inf"),
    ) + _COMMON_TAIL,
    # torch: the sparse losses call torch.nn.functional.cross_entropy / nll_loss, which raise
    # IndexError for an index out of range or negative; keras.ops.one_hot raises RuntimeError
    # (torch.nn.functional.one_hot) above the class count but masks a negative index to an
    # all-zero row (keras/src/backend/torch/nn.py one_hot: where(x >= 0, ...)); torch's
    # binary_cross_entropy checks its target: NaN, inf or values outside [0, 1] raise
    # RuntimeError (aten/src/ATen/native/Loss.cpp at v2.13.0)
    "torch": _COMMON_HEAD + (
        InvalidOutcome(_SPARSE, "index", "index_out_of_range|negative_index",
                       "raises:IndexError"),
        InvalidOutcome(_CCE, "index", "index_out_of_range", "raises:RuntimeError"),
        InvalidOutcome(ANY, "index", "negative_index", "silent-finite"),
        InvalidOutcome(_BCE_PROBS, "probs", "nan_target|inf_target|target_outside_01",
                       "raises:RuntimeError"),
        InvalidOutcome(ANY, ANY, "inf_target", "silent-inf"),
    ) + _COMMON_TAIL,
}


def outcomes(backend: str) -> tuple[InvalidOutcome, ...]:
    return _ROWS[backend]


_LABELS = "keras.ops.convert_to_tensor(labels)"
_K = "keras.losses."
FLOAT_LABEL_SOURCE: dict[str, str] = {
    f"{_K}sparse_categorical_crossentropy(from_logits=True)":
        f"keras.ops.mean({_K}sparse_categorical_crossentropy({_LABELS}, x, from_logits=True))",
    f"{_K}sparse_categorical_crossentropy(from_logits=False)":
        f"keras.ops.mean({_K}sparse_categorical_crossentropy({_LABELS}, keras.ops.softmax(x)))",
    f"{_K}SparseCategoricalCrossentropy(from_logits=True)":
        f"{_K}SparseCategoricalCrossentropy(from_logits=True)({_LABELS}, x)",
    f"{_K}SparseCategoricalCrossentropy(from_logits=False)":
        f"{_K}SparseCategoricalCrossentropy()({_LABELS}, keras.ops.softmax(x))",
    f"{_K}SparseCategoricalCrossentropy(from_logits=True, dtype=None)":
        f"{_K}SparseCategoricalCrossentropy(from_logits=True)({_LABELS}, x)",
}


def _source(entry_point: str) -> str | None:
    return FLOAT_LABEL_SOURCE.get(entry_point.rsplit("@", 1)[0])


def float_label_call(adapter: Any, entry_point: str) -> Callable[[], Any] | None:
    src = _source(entry_point)
    if src is None:
        return None
    assert FLOAT_LABELS.tolist() == [0.0, 1.7, 0.5, 2.0]

    def run() -> Any:
        import numpy as np

        return adapter.worker.request("expression", src, {
            "x": np.asarray(LOGITS, dtype=np.float32),
            "labels": np.asarray(FLOAT_LABELS, dtype=np.float32)})
    return run


def float_label_repro(backend: str, entry_point: str) -> str:
    from .plans import preamble

    src = _source(entry_point)
    if src is None:
        return ""
    return "\n".join(preamble(backend)) + (
        f"\nx = keras.ops.convert_to_tensor(np.array({LOGITS.tolist()}, dtype=np.float32))"
        f"\nlabels = np.array({FLOAT_LABELS.tolist()}, dtype=np.float32)\n{src}\n")
