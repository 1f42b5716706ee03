"""The one table of canonical ops: what each computes from, which targets it takes, its family.

A new op is one ``OpSpec`` row here plus its reference functions (``lossconform.reference``);
cases, the check routine, the invalid-input table and the adapters' capability checks read
the family facts from this table instead of spelling op names out.
"""
from __future__ import annotations

from dataclasses import dataclass

#: op families
ACTIVATION = "activation"  # element-wise or along the class axis, no target, no reduction
CATEGORICAL = "categorical"  # a loss over a class axis
BINARY = "binary"  # an element-wise loss against float targets of the input's shape

#: what the op's input holds
LOGITS, LOG_PROBS, PROBS = "logits", "log_probs", "probs"


@dataclass(frozen=True)
class OpSpec:
    name: str
    family: str  # ACTIVATION | CATEGORICAL | BINARY
    input_kind: str  # LOGITS | LOG_PROBS | PROBS
    target_kinds: tuple[str | None, ...]  # None: no target; "index" | "probs"
    class_axis: bool  # the op normalises or reduces over a class axis
    summary: str

    @property
    def is_loss(self) -> bool:
        return self.family != ACTIVATION


OPS_TABLE: tuple[OpSpec, ...] = (
    OpSpec("softmax", ACTIVATION, LOGITS, (None,), True, "exp(z) / sum exp(z) over the class axis"),
    OpSpec("log_softmax", ACTIVATION, LOGITS, (None,), True, "z - logsumexp(z) over the class axis"),
    OpSpec("sigmoid", ACTIVATION, LOGITS, (None,), False, "1 / (1 + exp(-z)), element-wise"),
    OpSpec("log_sigmoid", ACTIVATION, LOGITS, (None,), False, "-log1p(exp(-z)), element-wise"),
    OpSpec("cross_entropy", CATEGORICAL, LOGITS, ("index", "probs"), True,
           "from logits; index or probability targets"),
    OpSpec("nll_loss", CATEGORICAL, LOG_PROBS, ("index",), True, "on log-probabilities; index targets"),
    OpSpec("categorical_crossentropy", CATEGORICAL, PROBS, ("probs", "index"), True,
           "on probabilities; probability (soft or one-hot) targets, or class indices (the "
           "sparse form: -log p[y])"),
    OpSpec("binary_cross_entropy", BINARY, PROBS, ("probs",), False, "on probabilities, element-wise"),
    OpSpec("binary_cross_entropy_with_logits", BINARY, LOGITS, ("probs",), False,
           "on logits, element-wise"),
)

OP: dict[str, OpSpec] = {o.name: o for o in OPS_TABLE}

#: Canonical op names, in table order.
OPS: tuple[str, ...] = tuple(OP)


def family(op: str) -> str:
    return OP[op].family


def ops_in(*families: str) -> tuple[str, ...]:
    return tuple(o.name for o in OPS_TABLE if o.family in families)
