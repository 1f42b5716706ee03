"""Inputs the probes share: seeded logits turned into what an entry point's op takes, targets of
each kind, and the reference's value for a call."""
from __future__ import annotations

from typing import Any

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call, EntryPointSpec
from lossconform.ops import LOG_PROBS, LOGITS, OP, PROBS

SEED = 20261129


def rng(salt: int = 0) -> np.random.Generator:
    return np.random.default_rng(SEED + salt)


def op_input(op: str, logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Logits as the op's input: unchanged, log-probabilities or probabilities (class axis
    ``axis`` for categorical ops, element-wise sigmoid for binary ones)."""
    kind = OP[op].input_kind
    if kind == LOGITS:
        return logits
    if OP[op].class_axis:
        return R.log_softmax(logits, axis=axis) if kind == LOG_PROBS else R.softmax(logits, axis=axis)
    return R.log_sigmoid(logits) if kind == LOG_PROBS else R.sigmoid(logits)


def target_kind(spec: EntryPointSpec, prefer: str = "index") -> str | None:
    kinds = spec.capabilities.target_kinds
    if prefer in kinds:
        return prefer
    for k in ("index", "probs"):
        if k in kinds:
            return k
    return None


def index_target(shape: tuple[int, ...], n_classes: int, salt: int = 0) -> np.ndarray:
    return rng(salt).integers(0, n_classes, size=shape).astype(np.int64)


def soft_target(shape: tuple[int, ...], axis: int = -1, salt: int = 0) -> np.ndarray:
    t = rng(salt).uniform(0.05, 1.0, size=shape)
    return t / t.sum(axis=axis, keepdims=True)


def binary_target(shape: tuple[int, ...], salt: int = 0) -> np.ndarray:
    return np.round(rng(salt).uniform(0, 1, size=shape) * 4) / 4


def standard(spec: EntryPointSpec, n: int = 4, c: int = 3, kind: str | None = None,
             salt: int = 0) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """(x, target, target kind) of shape (n, c), classes last, for the entry point's op."""
    op = OP[spec.op]
    logits = rng(salt).normal(0, 1.5, size=(n, c))
    x = op_input(spec.op, logits)
    if not op.is_loss:
        return x, None, None
    if op.family == "binary":
        return x, binary_target((n, c), salt + 1), "probs"
    kind = kind or target_kind(spec)
    if kind == "index":
        return x, index_target((n,), c, salt + 1), "index"
    return x, soft_target((n, c), salt=salt + 1), "probs"


def reference(call: Call, gradient: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The float64 reference for a probe call (its facets do not change the math). Index
    targets become one-hot rows for the reference on probabilities (which takes those only)."""
    if call.target_kind == "index" and OP[call.op].input_kind == PROBS:
        c = call.x.shape[call.axis]
        onehot = np.moveaxis(np.eye(c)[np.asarray(call.target)], -1, call.axis)
        call = call.replace(target=onehot, target_kind="probs")
    return R.evaluate(call, gradient=gradient)


__all__ = ["LOGITS", "LOG_PROBS", "PROBS", "binary_target", "index_target", "op_input",
           "reference", "rng", "soft_target", "standard", "target_kind"]
