"""The ONNX operators as entry points, one set per runtime, with what each can express.

An entry point is one operator at one opset, built as a one-node model (``plans.py``) and run
by ONNX Runtime's CPU provider (``...@onnxruntime``) or by ``onnx.reference`` (``...@onnx-
reference``): records are identified by entry-point name, so the two runtimes' names differ by
that suffix. ``Softmax`` and ``LogSoftmax`` appear at opset 11 (the input coerced to 2-D at
``axis``, Softmax-11 in onnx/docs/Changelog.md) and at opset 13 (normalised along ``axis``
only). The loss operators take classes on dim 1 of (N, C, d1, ...) and class indices only
(``Tind``: int32/int64; int64 here). Forward only: ONNX has no autodiff of these operators
outside ONNX Runtime's training build (``gradient=False``, see ``GRADIENT_REASON``).

Accepted dtypes are the operator's type constraint ``T`` at that opset, less what the runtime
cannot run: ONNX Runtime's CPU provider has no bfloat16 kernel for any of them (session
creation fails: INVALID_GRAPH where ``T`` excludes bfloat16, NOT_IMPLEMENTED where it allows
it); its float16 runs through Cast nodes to float32 that it inserts itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from lossconform.capabilities import lacks
from lossconform.contract import ALL_REDUCTIONS, ANY_AXIS, AXIS_1, Capabilities, EntryPointSpec

RUNTIMES: tuple[str, ...] = ("onnxruntime", "onnx-reference")

#: why no entry point gives a gradient (shown with every gradient check and in the notes)
GRADIENT_REASON = ("forward only: ONNX operators have no gradient outside ONNX Runtime's "
                   "training build (onnxruntime-training's gradient graph builder), which is out "
                   "of scope here")

ALL = ("float16", "bfloat16", "float32", "float64")
NO_BF16 = ("float16", "float32", "float64")

_SPEC = "https://github.com/onnx/onnx/blob/v1.23.2/docs/Changelog.md"


@dataclass(frozen=True)
class Entry:
    """One operator at one opset, as run by one runtime."""

    spec: EntryPointSpec
    op_type: str  # the ONNX operator
    opset: int
    runtime: str
    #: SoftmaxCrossEntropyLoss's second output (log_prob) instead of the loss
    log_prob: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_loss(self) -> bool:
        return self.op_type in ("SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss")


def _activation(name: str, axes: str = ANY_AXIS) -> Capabilities:
    return Capabilities(target_kinds=(None,), reductions=("none",), class_axes=axes,
                        gradient=False, gradient_reason=GRADIENT_REASON,
                        missing_option_reasons={o: f"{name} takes no {o}" for o in lacks(())})


def _loss(name: str) -> Capabilities:
    missing = {
        "pos_weight": f"{name} has no pos_weight (a binary-loss option)",
        "sample_weight": f"{name} has no per-item weights; only per-class `weights` (its third "
                         "input): multiply the 'none' output by them and reduce yourself",
        "label_smoothing": f"{name} has no label smoothing: smooth one-hot targets yourself "
                           "and compose LogSoftmax, Mul and ReduceSum",
    }
    return Capabilities(
        target_kinds=("index",), options=frozenset({"weight", "ignore_index"}),
        reductions=ALL_REDUCTIONS, class_axes=AXIS_1, gradient=False,
        gradient_reason=GRADIENT_REASON,
        missing_option_reasons={o: missing[o] for o in lacks(("weight", "ignore_index"))},
        missing_target_reasons={"probs": f"{name} takes class indices (tensor(int64)) only: "
                                         "for probability targets compose LogSoftmax, Mul and "
                                         "ReduceSum"})


def _name(op: str, opset: int, runtime: str, suffix: str = "") -> str:
    return f"onnx.{op}-{opset}{suffix}@{runtime}"


def _entries(runtime: str) -> tuple[Entry, ...]:
    ort = runtime == "onnxruntime"
    half13 = NO_BF16 if ort else ALL  # T of Softmax-13, LogSoftmax-13, Sigmoid-13 has bfloat16
    bf16 = ("bfloat16: ONNX Runtime's CPU provider has no kernel (NOT_IMPLEMENTED at session "
            "creation)" if ort else "bfloat16 as ml_dtypes.bfloat16 arrays")
    no_bf16 = ("bfloat16 is outside the operator's type constraint T at this opset (the model "
               "is invalid: onnx.checker and ONNX Runtime reject it"
               + (")" if ort else "; onnx.reference would run it unchecked)"))
    f16 = ("; float16 runs in float32 through Cast nodes ONNX Runtime inserts" if ort else
           "; every step in NumPy in the input's dtype")
    grad = f"; {GRADIENT_REASON}"
    out: list[Entry] = []

    def add(op: str, opset: int, canon: str, notes: str, caps: Capabilities,
            dtypes: tuple[str, ...], suffix: str = "", log_prob: bool = False) -> None:
        name = _name(op, opset, runtime, suffix)
        out.append(Entry(EntryPointSpec(name, canon, dtypes, notes + f16 + grad, caps),
                         op, opset, runtime, log_prob))

    legacy = ("" if ort else
              "; onnx.reference does not implement this: its one Softmax class serves every "
              "opset, so at opset 11 it normalises along axis only and an omitted axis means "
              "-1, not 1 (op_softmax.py at v1.23.2): it computes the opset-13 function where "
              "the spec and ONNX Runtime do not (see onnxruntime-softmax-11-coerces-to-2d)")
    for op, canon in (("Softmax", "softmax"), ("LogSoftmax", "log_softmax")):
        add(op, 11, canon,
            f"one-node model, opset 11, axis=axis: the input is coerced to 2-D at axis "
            f"[prod(shape[:axis]), prod(shape[axis:])] and each row normalised (so only the "
            f"last axis, or 2-D axis 1, means 'along axis'; {_SPEC} {op}-11){legacy}; "
            f"{no_bf16}", _activation(_name(op, 11, runtime)), NO_BF16)
        add(op, 13, canon,
            f"one-node model, opset 13, axis=axis: normalised along axis only ({op}-13); "
            f"{bf16}", _activation(_name(op, 13, runtime)), half13)
    add("Sigmoid", 13, "sigmoid", f"one-node model, opset 13, element-wise; {bf16}",
        _activation(_name("Sigmoid", 13, runtime)), half13)
    sce = _name("SoftmaxCrossEntropyLoss", 13, runtime)
    add("SoftmaxCrossEntropyLoss", 13, "cross_entropy",
        "one-node model, opset 13: scores (N, C, d1, ...) with classes on dim 1, labels int64 "
        "(N, d1, ...), weight as the optional third input `weights`, ignore_index and "
        "reduction as attributes ('mean' divides by the sum of the kept items' weights); "
        f"{no_bf16}", _loss(sce), NO_BF16)
    add("SoftmaxCrossEntropyLoss", 13, "log_softmax",
        "one-node model, opset 13, the operator's optional second output log_prob (the "
        "log-softmax of the scores along dim 1), with labels all 0 and reduction 'none'; "
        f"classes on dim 1 of (N, C, d1, ...); {no_bf16}",
        _activation(_name("SoftmaxCrossEntropyLoss", 13, runtime, ".log_prob"), AXIS_1),
        NO_BF16, suffix=".log_prob", log_prob=True)
    nll = _name("NegativeLogLikelihoodLoss", 13, runtime)
    add("NegativeLogLikelihoodLoss", 13, "nll_loss",
        "one-node model, opset 13: log-probabilities (N, C, d1, ...) with classes on dim 1, "
        "target int64 (N, d1, ...), weight as the optional third input, ignore_index and "
        f"reduction as attributes; {no_bf16}", _loss(nll), NO_BF16)
    return tuple(out)


ENTRIES: dict[str, tuple[Entry, ...]] = {rt: _entries(rt) for rt in RUNTIMES}
BY_NAME: dict[str, Entry] = {e.name: e for rt in RUNTIMES for e in ENTRIES[rt]}


def names(runtime: str, *ops: str) -> tuple[str, ...]:
    """The entry point names of ``runtime`` for the ONNX operators ``ops`` written as
    "Softmax-11", "LogSoftmax-13" or "SoftmaxCrossEntropyLoss-13.log_prob"."""
    out = []
    for o in ops:
        base, _, suffix = o.partition(".")
        op, opset = base.split("-")
        out.append(_name(op, int(opset), runtime, f".{suffix}" if suffix else ""))
    return tuple(out)


__all__ = ["ALL", "BY_NAME", "ENTRIES", "Entry", "GRADIENT_REASON", "NO_BF16", "RUNTIMES",
           "names"]
