"""The table of invalid-input cases and how to run one (entry point x case) cell.

Each case is a frozen row: a name, the target kinds it applies to, and a builder that turns a
valid float32 call of a canonical op into the invalid one. Cells run through the adapters
(``ADAPTER.evaluate``), so the framework sees exactly what a user's call would give it; a
framework exception is caught and summarised, never propagated.

"float labels where indices are expected" cannot travel through the adapter contract (a
``Call`` carries int64 index targets and the adapters cast to int64 before the framework sees
them), so that case calls the framework directly (``DIRECTFLOAT_LABELS``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from lossconform import reference
from lossconform import ops
from lossconform.contract import Adapter, Call, InvalidOutcome

N, C = 4, 3
DTYPE = "float32"

LOGITS = np.array([[1.0, -0.5, 0.25], [0.0, 2.0, -1.0], [-0.75, 0.5, 1.5], [3.0, 0.0, -2.0]])
_INDEX = np.array([0, 2, 1, 0], dtype=np.int64)
_PROBS_T = np.array([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0], [0.125, 0.375, 0.5], [1.0, 0.0, 0.0]])
_BIN_T = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 1.0], [0.25, 0.75, 0.0], [1.0, 0.0, 0.0]])


def _round32(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def _x_for(op: str) -> np.ndarray:
    """A valid input for ``op``: logits, log-probabilities or probabilities (float32 exact)."""
    if op in ("nll_loss",):
        return _round32(reference.log_softmax(_round32(LOGITS)))
    if op == "categorical_crossentropy":
        return _round32(reference.softmax(_round32(LOGITS)))
    if op == "binary_cross_entropy":
        return _round32(reference.sigmoid(_round32(LOGITS)))
    return _round32(LOGITS)


ACTIVATIONS = ops.ops_in(ops.ACTIVATION)
BINARY = ops.ops_in(ops.BINARY)
PROB_INPUT = tuple(o.name for o in ops.OPS_TABLE if o.input_kind == ops.PROBS)


def valid_call(op: str, target_kind: str | None) -> Call:
    """The valid float32 call the invalid cases start from (reduction 'mean' for losses)."""
    x = _x_for(op)
    if op in ACTIVATIONS:
        return Call(op=op, x=x, dtype=DTYPE)
    if op in BINARY:
        return Call(op=op, x=x, dtype=DTYPE, target=_BIN_T.copy(), target_kind="probs",
                    options={"reduction": "mean"})
    target = _INDEX.copy() if target_kind == "index" else _PROBS_T.copy()
    return Call(op=op, x=x, dtype=DTYPE, target=target, target_kind=target_kind,
                options={"reduction": "mean"})


def _with(call: Call, **changes: Any) -> Call:
    return dataclasses.replace(call, **changes)


def _set(a: np.ndarray, idx: Any, v: float) -> np.ndarray:
    b = np.array(a, copy=True)
    b[idx] = v
    return b


@dataclass(frozen=True)
class InvalidCase:
    name: str  # id fragment, [a-z_]
    applies: Callable[[str, str | None], bool]  # (op, target_kind) -> bool
    build: Callable[[Call], Call]
    explain: str
    #: what the reference does: "raises" (ValueError) or "nan" (documented 0/0 = NaN)
    reference_outcome: str = "raises"
    #: the call the user meant, for the rank cases (the target reshaped to the input's rank):
    #: a framework that returns that call's loss reconciles the ranks (a convention, e.g. a
    #: loss class squeezing a trailing 1); any other silent value is a different loss
    #: (typically a broadcast of (N, 1) against (N,) to (N, N))
    intended: Callable[[Call], Call] | None = None


def _is_loss(op: str, kind: str | None) -> bool:
    return op not in ACTIVATIONS


def _index(op: str, kind: str | None) -> bool:
    return kind == "index" and op not in ACTIVATIONS


def _probs_target(op: str, kind: str | None) -> bool:
    return kind == "probs" and op not in ACTIVATIONS


def _categorical_probs(op: str, kind: str | None) -> bool:
    return kind == "probs" and op in ("cross_entropy", "categorical_crossentropy")


def _empty(call: Call) -> Call:
    shape = (0,) + call.x.shape[1:]
    if call.target is None:
        return _with(call, x=np.zeros(shape))
    tshape = (0,) + call.target.shape[1:]
    return _with(call, x=np.zeros(shape), target=np.zeros(tshape, dtype=call.target.dtype))


def _binary_or_categorical(op: str, kind: str | None) -> bool:
    return op not in ACTIVATIONS and kind in ("index", "probs")


def _extra_dim(call: Call) -> Call:
    """The target with one trailing dimension of size 1 more than the input calls for:
    index targets (N, 1) for (N, C) logits, probability targets (N, C, 1); for the binary
    losses a single-output model's (N,) input against (N, 1) labels."""
    if call.op in BINARY:
        return _with(call, x=call.x[:, 0].copy(), target=call.target[:, :1].copy())
    return _with(call, target=call.target[..., None].copy())


def _extra_dim_intended(call: Call) -> Call:
    return _with(call, x=call.x[:, 0].copy(), target=call.target[:, 0].copy()) \
        if call.op in BINARY else call


def _missing_dim(call: Call) -> Call:
    """The binary losses' (N, 1) input (a model with one output unit) against (N,) labels:
    the target lacks the input's trailing dimension of size 1."""
    return _with(call, x=call.x[:, :1].copy(), target=call.target[:, 0].copy())


def _missing_dim_intended(call: Call) -> Call:
    return _with(call, x=call.x[:, :1].copy(), target=call.target[:, :1].copy())


def _outside01_x(call: Call) -> Call:
    if call.op == "categorical_crossentropy":
        x = np.array(call.x, copy=True)
        x[0] = [1.5, -0.25, -0.25]  # still sums to 1
        return _with(call, x=x)
    return _with(call, x=_set(_set(call.x, (0, 0), 1.5), (0, 1), -0.5))


CASES: tuple[InvalidCase, ...] = (
    InvalidCase("index_out_of_range", _index, lambda c: _with(c, target=_set(c.target, 1, C)),
                f"an index target equal to C={C}"),
    InvalidCase("negative_index", _index, lambda c: _with(c, target=_set(c.target, 1, -1)),
                "an index target of -1 (not the common default ignore index -100)"),
    InvalidCase("shape_mismatch", _is_loss,
                lambda c: _with(c, target=np.concatenate([c.target, c.target[:1]])),
                "target has N+1 items for N inputs"),
    InvalidCase("nan_target", _probs_target, lambda c: _with(c, target=_set(c.target, (0, 0), np.nan)),
                "a NaN in the probability target"),
    InvalidCase("inf_target", _probs_target, lambda c: _with(c, target=_set(c.target, (0, 0), np.inf)),
                "+inf in the probability target"),
    InvalidCase("target_not_normalized", _categorical_probs,
                lambda c: _with(c, target=_set(_set(c.target, (0, 1), 0.75), (0, 2), 0.75)),
                "a probability-target row summing to 2 (values in [0, 1])"),
    InvalidCase("target_outside_01", _probs_target,
                lambda c: _with(c, target=_set(_set(c.target, (0, 0), 1.5), (0, 1), -0.5)),
                "probability targets 1.5 and -0.5 (the row still sums to 1)"),
    InvalidCase("probs_outside_01", lambda op, k: op in PROB_INPUT, _outside01_x,
                "predicted probabilities 1.5 and -0.5 / -0.25 (input outside [0, 1])"),
    InvalidCase("empty_batch", lambda op, k: True, _empty,
                "N=0 items", reference_outcome="nan"),
    # rank handling (issue 10, section 4): functions versus loss classes
    InvalidCase("target_extra_dim", _binary_or_categorical, _extra_dim,
                "a target with an extra trailing dimension of size 1: index targets (N, 1), "
                "probability targets (N, C, 1); binary: input (N,) against labels (N, 1)",
                intended=_extra_dim_intended),
    InvalidCase("target_missing_dim", lambda op, k: op in BINARY, _missing_dim,
                "binary: input (N, 1) (one output unit) against labels (N,), the target "
                "lacking the trailing dimension", intended=_missing_dim_intended),
)
CASE_BY_NAME = {c.name: c for c in CASES}
assert len(CASE_BY_NAME) == len(CASES), "duplicate case name"

_REF_FUNCS: dict[str, Callable[..., Any]] = {
    "softmax": reference.softmax, "log_softmax": reference.log_softmax,
    "sigmoid": reference.sigmoid, "log_sigmoid": reference.log_sigmoid,
    "cross_entropy": reference.cross_entropy, "nll_loss": reference.nll_loss,
    "categorical_crossentropy": reference.categorical_crossentropy,
    "binary_cross_entropy": reference.binary_cross_entropy,
    "binary_cross_entropy_with_logits": reference.binary_cross_entropy_with_logits,
}


def run_reference(call: Call) -> Any:
    fn = _REF_FUNCS[call.op]
    if call.op in ACTIVATIONS:
        return fn(call.x)
    kw: dict[str, Any] = {"reduction": call.reduction}
    if call.op == "categorical_crossentropy" and call.target_kind == "index":
        # the sparse form on probabilities: the canonical meaning is -log p[y]; the index is checked by
        # nll_loss (range, shape), the probabilities by categorical_crossentropy on one-hot.
        t = np.asarray(call.target)
        if t.size and (t.min() < 0 or t.max() >= call.x.shape[-1]):
            return reference.nll_loss(np.log(np.clip(call.x, 1e-300, None)), t, **kw)
        return fn(call.x, np.eye(call.x.shape[-1])[t], **kw)
    if call.op == "cross_entropy":
        kw["target_kind"] = call.target_kind
    return fn(call.x, call.target, **kw)


def summarize(value: np.ndarray) -> tuple[str, str]:
    """(outcome class, human summary) of a value a framework returned silently."""
    v = np.asarray(value, dtype=np.float64)
    if v.size == 0:
        return "silent-empty", f"empty array of shape {v.shape}"
    if np.all(np.isnan(v)):
        return "silent-nan", "nan"
    if np.any(np.isnan(v)):
        return "silent-partial-nan", f"{int(np.isnan(v).sum())}/{v.size} NaN"
    if np.any(np.isinf(v)):
        return "silent-inf", "inf" if v.size == 1 else f"{int(np.isinf(v).sum())}/{v.size} inf"
    if v.size == 1:
        return "silent-finite", f"finite {float(v.reshape(())):.6g}"
    return "silent-finite", f"finite array {v.shape}, first {float(v.flat[0]):.6g}"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    # TF's messages start with a long "{{function_node ...}}" prefix: keep the useful part.
    if line.startswith("{{function_node") and "}}" in line:
        line = line.split("}}", 1)[1].strip()
    return line[:300]


@dataclass(frozen=True)
class CellResult:
    outcome: str  # "raises:<Type>" or a silent-* class
    message: str
    value: np.ndarray | None


def run_cell(adapter: Any, entry_point: str, call: Call) -> CellResult:
    try:
        ev = adapter.evaluate(entry_point, call)
    except Exception as exc:  # a framework raising never aborts the run
        return CellResult(f"raises:{type(exc).__name__}", first_line(exc), None)
    cls, summary = summarize(ev.forward.value)
    return CellResult(cls, summary, np.asarray(ev.forward.value))


def target_kinds(adapter: Any, spec: Any) -> list[str | None]:
    """The target kinds the entry point can take (probed with the valid call)."""
    if spec.op in ACTIVATIONS:
        return [None]
    if spec.op in BINARY:
        return ["probs"]
    kinds: list[str | None] = []
    for kind in ("index", "probs"):
        if adapter.unsupported(spec.name, valid_call(spec.op, kind)) is None:
            kinds.append(kind)
    return kinds


# -- float labels: direct framework calls --------------------------------------------------
FLOAT_LABELS = np.array([0.0, 1.7, 0.5, 2.0])  # 1.7 and 0.5 are not class indices


def run_direct(fn: Callable[[], Any]) -> CellResult:
    try:
        out = fn()
    except Exception as exc:
        return CellResult(f"raises:{type(exc).__name__}", first_line(exc), None)
    value = np.asarray(out, dtype=np.float64)
    cls, summary = summarize(value)
    return CellResult(cls, summary, value)


def reference_float_labels() -> Exception | None:
    try:
        reference.cross_entropy(_round32(LOGITS), FLOAT_LABELS, target_kind="index")
    except ValueError as exc:
        return exc
    return None


def is_nan_scalar(v: Any) -> bool:
    try:
        return math.isnan(float(np.asarray(v).reshape(())))
    except (TypeError, ValueError):
        return False


def expected_outcome(adapter: Adapter, entry_point: str, kind: str | None, case: str) -> str | None:
    """The plug-in's expected outcome for one cell (first matching row), or None."""
    return matching_row(adapter.invalid_outcomes, entry_point, kind, case)


def matching_row(rows: "tuple[InvalidOutcome, ...] | list[InvalidOutcome]", entry_point: str,
                 kind: str | None, case: str) -> str | None:
    import re

    for row in rows:
        if (re.fullmatch(row.entry_point, entry_point) and re.fullmatch(row.target_kind, str(kind))
                and re.fullmatch(row.case, case)):
            return row.outcome
    return None


#: Divergence ids the invalid-input records carry. There the executable model is each
#: plug-in's table of expected outcomes per (entry point, invalid case) -- which exception,
#: or which silent value (nan, inf, finite, empty) -- not a NumPy function; they are listed
#: so results files and the report can explain the ids.
OUTCOME_CATEGORIES: tuple[dict[str, str], ...] = (
    {
        "id": "silent-invalid-input",
        "title": "the framework returns a value for input the reference rejects",
        "framework": "(any)",
        "trigger": "out-of-range or negative class index, NaN or inf in targets, probabilities or "
                   "targets outside [0, 1], float labels, shape mismatch",
        "explanation": "The reference raises ValueError naming the argument; the framework "
                       "computes silently (nan, inf, a finite number or an empty tensor). The "
                       "expected outcome of every (entry point, invalid case) is pinned in the "
                       "framework's plug-in (Adapter.invalid_outcomes), so a framework that starts "
                       "or stops raising makes the contract suite fail.",
        "link": "lossconform/invalid.py",
    },
    {
        "id": "target-rank-reconciled",
        "title": "a target of another rank is reshaped to the input's and the intended loss "
                 "computed",
        "framework": "(any)",
        "trigger": "a target with an extra or a missing trailing dimension of size 1 "
                   "(labels (N, 1) for (N, C) logits, binary (N,) against (N, 1))",
        "explanation": "The reference rejects a target whose shape is not the input's (index "
                       "targets: the input's without the class axis); the framework squeezes "
                       "or expands the trailing 1 (Keras loss classes: "
                       "squeeze_or_expand_to_same_rank) and returns exactly the loss of the "
                       "reshaped target. Where it returns another value (a function that "
                       "broadcasts (N, 1) against (N,) to (N, N)), the record is "
                       "silent-invalid-input. Pinned per entry point in the framework's "
                       "plug-in (Adapter.invalid_outcomes).",
        "link": "lossconform/invalid.py",
    },
    {
        "id": "invalid-input-result-differs",
        "title": "on an edge input the reference accepts, the framework returns something else",
        "framework": "(any)",
        "trigger": "empty batch, probability targets that do not sum to 1",
        "explanation": "The reference defines these (an empty 'mean' is 0/0 = NaN; soft targets need "
                       "not be normalised); the framework's value or shape differs (e.g. a loss "
                       "class that returns shape (0,) for an empty batch). Pinned per entry point "
                       "in the framework's plug-in (Adapter.invalid_outcomes).",
        "link": "lossconform/invalid.py",
    },
)
