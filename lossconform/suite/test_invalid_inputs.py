"""Invalid inputs: what each entry point of each plug-in does with them, as checked data.

For every adapter entry point and every applicable invalid case (``lossconform.invalid``) the
framework either raises or silently returns something. Each plug-in pins what each of its
entry points does (``Adapter.invalid_outcomes``); a framework that changes behaviour fails here
with the old and new outcome side by side, and a cell without a row fails with a ready-to-paste
row. The reference rejects every case with ValueError, except the two it defines: an empty
batch (mean over zero weight = NaN) and a probability target that does not sum to 1 (allowed:
the loss is linear in the target).
"""
from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest

from lossconform import invalid as I
from lossconform.contract import Call
from lossconform.plugins import load_adapters
from lossconform.record import CheckRecord
from lossconform.reports.pytest_plugin import record

# -- parametrization -------------------------------------------------------------------------
_ADAPTERS = load_adapters()


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_=.-]", "_", text)


def _cells() -> list[Any]:
    params = []
    for fw, adapter in _ADAPTERS.items():
        for spec in adapter.entry_points():
            for kind in I.target_kinds(adapter, spec):
                for case in I.CASES:
                    if case.applies(spec.op, kind):
                        params.append(pytest.param(
                            fw, spec.name, spec.op, kind, case.name,
                            id=_id(f"{fw}-{spec.name}-{kind}-{case.name}"),
                            marks=pytest.mark.framework(fw)))
    return params


def _float_label_cells() -> list[Any]:
    return [pytest.param(fw, spec.name, id=_id(f"{fw}-{spec.name}-float_labels"),
                         marks=pytest.mark.framework(fw))
            for fw, adapter in _ADAPTERS.items() for spec in adapter.entry_points()
            if adapter.float_label_call(spec.name) is not None]


def _adapter(fw: str) -> Any:
    adapter = _ADAPTERS[fw]
    reason = adapter.available()
    if reason:
        pytest.skip(reason)
    return adapter


def _inputs_snippet(call: Call) -> str:
    lines = ["import numpy as np", f"x = np.array({call.x.tolist()!r}, dtype=np.float64)"]
    if call.target is not None:
        t = np.asarray(call.target)
        tdt = "np.int64" if t.dtype.kind in "iu" else "np.float64"
        lines.append(f"target = np.array({t.tolist()!r}, dtype={tdt})".replace("nan", "np.nan")
                     .replace("inf", "np.inf"))
    return "\n".join(lines) + "\n"


def _same(value: Any, ref: Any) -> bool:
    v, r = np.asarray(value, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return v.shape == r.shape and np.allclose(v, r, rtol=1e-5, atol=0, equal_nan=True)


def _verdict(ref_exc: Exception | None, ref_value: Any, got: I.CellResult,
             intended: Any = None) -> tuple[str, str | None]:
    """``intended``: for the rank cases, the reference's value of the call the user meant
    (the target reshaped to the input's rank)."""
    if got.outcome.startswith("raises:"):
        return "raises", None
    if ref_exc is not None:
        if intended is not None and _same(got.value, intended):
            return "divergence", "target-rank-reconciled"
        return "divergence", "silent-invalid-input"
    same = _same(got.value, ref_value)
    return ("agree", None) if same else ("divergence", "invalid-input-result-differs")


def _record(request: pytest.FixtureRequest, **fields: Any) -> None:
    record(request, CheckRecord(kind="invalid_input", dtype=I.DTYPE, device="cpu",
                                nodeid=request.node.nodeid, **fields))


def _missing_row(entry_point: str, kind: str | None, case_name: str, got: I.CellResult) -> str:
    row = f"InvalidOutcome({re.escape(entry_point)!r}, {str(kind)!r}, {case_name!r}, {got.outcome!r}),"
    return (f"no invalid_outcomes row of the plug-in matches {entry_point} [{kind}] {case_name}; "
            f"observed {got.outcome} ({got.message}). If that is what the framework does, add:\n    {row}")


# -- tests -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("fw", "entry_point", "op", "kind", "case_name"), _cells())
def test_invalid_input(request: pytest.FixtureRequest, fw: str, entry_point: str, op: str,
                       kind: str | None, case_name: str) -> None:
    adapter = _adapter(fw)
    case = I.CASE_BY_NAME[case_name]
    call = case.build(I.valid_call(op, kind))
    reason = adapter.unsupported(entry_point, call)
    if reason:
        pytest.skip(reason)

    # The reference: ValueError for every invalid case, NaN (0/0) for the empty batch.
    ref_exc: Exception | None = None
    ref_value: Any = None
    try:
        ref_value = I.run_reference(call)
    except ValueError as exc:
        ref_exc = exc
    if case.reference_outcome == "raises" and not (case_name == "target_not_normalized"):
        assert ref_exc is not None, f"reference accepted invalid input {case_name}: {ref_value!r}"
    elif case_name == "empty_batch" and op not in I.ACTIVATIONS:
        assert ref_exc is None and I.is_nan_scalar(ref_value), ref_exc or ref_value
    elif case_name == "target_not_normalized":
        assert ref_exc is None, f"the reference documents unnormalised targets as valid: {ref_exc}"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = I.run_cell(adapter, entry_point, call)
    intended = None
    if case.intended is not None:  # the rank cases: the loss the user meant, reshaped
        intended = I.run_reference(case.intended(I.valid_call(op, kind)))
    verdict, divergence = _verdict(ref_exc, ref_value, got, intended)
    message = got.message
    if intended is not None and not got.outcome.startswith("raises:"):
        message += (" (= the loss of the target reshaped to the input's rank)"
                    if divergence == "target-rank-reconciled" else
                    f" (not the loss of the reshaped target, {float(np.ravel(intended)[0]):.6g}: "
                    f"another computation, e.g. a broadcast to shape (N, N))")
    _record(request, id=f"invalid-{case_name}", op=op, entry_point=entry_point, framework=fw,
            framework_version=adapter.version(), verdict=verdict, divergence=divergence,
            repro=_inputs_snippet(call) + adapter.repro(entry_point, call), message=message,
            case={"shape": list(call.x.shape), "regime": f"invalid:{case_name}",
                  "options": {**dict(call.options), "target_kind": kind}})

    want = I.expected_outcome(adapter, entry_point, kind, case_name)
    assert want is not None, _missing_row(entry_point, kind, case_name, got)
    assert got.outcome == want, (
        f"{entry_point} [{kind}] on {case.explain}: documented {want}, now {got.outcome}: {message}")


@pytest.mark.parametrize(("fw", "entry_point"), _float_label_cells())
def test_float_labels_direct(request: pytest.FixtureRequest, fw: str, entry_point: str) -> None:
    """Float labels [0, 1.7, 0.5, 2] where class indices are expected (direct framework call:
    the adapter contract carries int64 indices only)."""
    adapter = _adapter(fw)
    ref_exc = I.reference_float_labels()
    assert isinstance(ref_exc, ValueError), "the reference must reject float index targets"
    fn = adapter.float_label_call(entry_point)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = I.run_direct(fn)
    verdict, divergence = _verdict(ref_exc, None, got)
    _record(request, id="invalid-float_labels", op="cross_entropy", entry_point=entry_point,
            framework=fw, framework_version=adapter.version(), verdict=verdict,
            divergence=divergence, repro=adapter.float_label_repro(entry_point),
            message=got.message,
            case={"shape": [I.N, I.C], "regime": "invalid:float_labels",
                  "options": {"reduction": "mean", "target_kind": "index"}})
    want = I.expected_outcome(adapter, entry_point, "index", "float_labels")
    assert want is not None, _missing_row(entry_point, "index", "float_labels", got)
    assert got.outcome == want, f"{entry_point} on float labels: documented {want}, now {got.outcome}: {got.message}"
