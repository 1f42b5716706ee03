"""The contract between the suite and a framework adapter.

An adapter is thin: NumPy in, the framework's own public function, NumPy out. It never
knows a tolerance and never computes an expected value. It declares, as data, which
entry points it has, which canonical op each computes, which dtypes each accepts and the
framework's conventions; everything else (cases, reference, verdicts) lives elsewhere.

A framework module is imported lazily (inside the adapter's methods), so listing the
adapters never imports torch or TensorFlow, and a framework that is not installed
becomes a visible skip with a reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

#: Canonical, framework-neutral ops. The reference implements each (reference/ops.py).
OPS: tuple[str, ...] = (
    "softmax",
    "log_softmax",
    "sigmoid",
    "log_sigmoid",
    "cross_entropy",  # from logits; index or probability targets
    "nll_loss",  # on log-probabilities; index targets
    "categorical_crossentropy",  # on probabilities; probability (soft or one-hot) targets
    "binary_cross_entropy",  # on probabilities
    "binary_cross_entropy_with_logits",  # on logits
)

#: Dtype names used everywhere (cases, records, reports, command line).
DTYPES: tuple[str, ...] = ("float16", "bfloat16", "float32", "float64")

#: Option names a Call may carry. Absent means "the canonical default".
#:   weight          class weights, shape (C,), for the categorical family; for the binary
#:                   family an element-wise rescaling weight broadcastable to x
#:   pos_weight      binary_cross_entropy_with_logits: weight of positive examples, shape (C,)
#:   sample_weight   per-item weights, shape of the unreduced loss
#:   ignore_index    int or None: items whose index target equals it contribute nothing
#:   label_smoothing float in [0, 1]
#:   reduction       "none" | "mean" | "sum"
OPTION_NAMES: tuple[str, ...] = (
    "weight",
    "pos_weight",
    "sample_weight",
    "ignore_index",
    "label_smoothing",
    "reduction",
)


class Unsupported(Exception):
    """The entry point cannot express this call; ``str(exc)`` is the reason shown to users."""


@dataclass(frozen=True)
class Call:
    """One framework-neutral request: an op, its inputs in float64 and the dtype to run in.

    ``x`` holds values that are exactly representable in ``dtype`` (the suite rounds inputs
    to the dtype before the reference sees them), so an adapter casts without loss.
    """

    op: str
    x: np.ndarray  # logits, log-probabilities or probabilities, float64
    dtype: str
    axis: int = -1  # class axis of x, counted from the front when >= 0
    target: np.ndarray | None = None  # int64 indices or float64 probabilities
    target_kind: str | None = None  # "index" | "probs" | None
    options: Mapping[str, Any] = field(default_factory=dict)
    grad_output: np.ndarray | None = None  # cotangent of the output; None: no gradient wanted
    device: str = "cpu"

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    @property
    def reduction(self) -> str:
        return self.options.get("reduction", "mean")


@dataclass(frozen=True)
class Output:
    """A framework result as float64 values (upcast is exact) plus the dtype it came in."""

    value: np.ndarray
    dtype: str


@dataclass(frozen=True)
class Evaluation:
    forward: Output
    gradient: Output | None  # d <forward, grad_output> / d x, shape of x; None if not asked


@dataclass(frozen=True)
class EntryPointSpec:
    """One public function (or loss class) of a framework, as users call it."""

    name: str  # as written in user code, e.g. "torch.nn.functional.cross_entropy"
    op: str  # canonical op from OPS
    dtypes: tuple[str, ...]  # dtypes it accepts
    notes: str = ""  # how the canonical op maps onto the call (one line, shown in the report)


@runtime_checkable
class Adapter(Protocol):
    """What a framework module exposes as ``ADAPTER``."""

    framework: str  # short name used on the command line: "torch", "tensorflow"
    conventions: Mapping[str, Any]  # the framework's conventions, as data (see README)

    def available(self) -> str | None:
        """None if usable; otherwise the reason (e.g. "torch is not installed")."""

    def version(self) -> str: ...

    def devices(self) -> Sequence[str]:
        """Devices this installation can run on, e.g. ["cpu"] or ["cpu", "cuda"]."""

    def entry_points(self) -> Sequence[EntryPointSpec]: ...

    def unsupported(self, entry_point: str, call: Call) -> str | None:
        """None if the entry point can express ``call``; otherwise the reason."""

    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        """Run the framework. Raise whatever the framework raises; never catch it."""

    def repro(self, entry_point: str, call: Call) -> str:
        """A self-contained Python snippet that reproduces this call (inputs inlined or seeded)."""
