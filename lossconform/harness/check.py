"""One check, end to end: case -> call -> reference and framework -> verdict records.

This is the single assertion helper of the conformance matrix. It returns records
(``lossconform.record.CheckRecord``, one per kind: forward, gradient) whatever the outcome, and a failure message that says which case,
which entry point and framework version, the tolerance, the worst error and where, both
values, and how to reproduce it.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossconform import reference
from lossconform import ops
from lossconform.contract import Adapter, Call, Evaluation
from lossconform.divergences import candidates, explain
from lossconform.cases import Case
from lossconform.harness.compare import Comparison, compare
from lossconform.harness.tolerances import Tolerance, tolerance
from lossconform.record import CheckRecord


def expected(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """The reference's forward value and (if asked) gradient for ``call``, float64."""
    return reference.evaluate(call)


def natural_scale(call: Call, kind: str) -> float:
    """Magnitude of the intermediate values an output is computed from (see tolerances.py)."""
    if kind == "forward":
        return 1.0
    g = float(np.max(np.abs(call.grad_output))) if call.grad_output is not None and call.grad_output.size else 0.0
    wmax = 1.0
    for name in ("weight", "pos_weight", "sample_weight"):
        w = call.options.get(name)
        if w is not None and np.size(w):
            wmax *= max(1.0, float(np.max(np.abs(w))))
    op = ops.OP[call.op]
    if call.reduction == "mean" and op.is_loss:
        items = call.x.size if op.family == ops.BINARY else call.x.size // max(1, call.x.shape[call.axis])
        g /= max(1, items)
    return g * wmax


#: How many leading elements of each output a record keeps, for the pairwise view.
SAMPLE_SIZE = 16


def sample(value: np.ndarray) -> dict[str, Any]:
    """Shape and the first SAMPLE_SIZE values (flattened, C order) of an output.

    Every framework sees identical inputs for a case, so samples of two entry points on the
    same case and dtype are directly comparable (the report's pairwise view).
    """
    v = np.asarray(value, dtype=np.float64)
    flat = v.reshape(-1)[:SAMPLE_SIZE]
    return {"shape": list(v.shape), "values": [float(x) for x in flat]}


@dataclass
class CheckResult:
    records: list[CheckRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def repro_snippet(case: Case, entry_point: str, adapter: Adapter, call: Call, seed: int) -> str:
    preamble = (
        "# inputs exactly as the suite made them (needs only lossconform and the framework installed)\n"
        "from lossconform.cases import BY_ID\n"
        f"call = BY_ID[{case.id!r}].call({call.dtype!r}, seed={seed}, device={call.device!r})\n"
        "x, target, grad_output = call.x, call.target, call.grad_output\n"
        "weight, pos_weight, sample_weight = (call.options.get(k) for k in ('weight', 'pos_weight', 'sample_weight'))\n"
    )
    try:
        body = adapter.repro(entry_point, call)
    except Exception as exc:  # a repro must never break a check
        body = f"# adapter could not write a repro: {exc!r}"
    return preamble + body


#: adapter.devices() per adapter object (id -> (adapter, devices)); the adapter is kept so
#: that its id is never reused while it is cached
_DEVICES: dict[int, tuple[Adapter, tuple[str, ...]]] = {}


def installed_devices(adapter: Adapter) -> tuple[str, ...]:
    """The devices this installation of the adapter's framework has (``adapter.devices()``),
    asked once per adapter."""
    hit = _DEVICES.get(id(adapter))
    if hit is None or hit[0] is not adapter:
        hit = _DEVICES[id(adapter)] = (adapter, tuple(adapter.devices()))
    return hit[1]


def missing_device_reason(adapter: Adapter, device: str) -> str | None:
    """None if the framework has ``device`` here; otherwise the reason a check there is
    unsupported."""
    have = installed_devices(adapter)
    if device in have:
        return None
    return f"{adapter.framework} has no {device} device here (devices: {', '.join(have)})"


def run_check(
    case: Case,
    adapter: Adapter,
    entry_point: str,
    dtype: str,
    *,
    seed: int = 0,
    device: str = "cpu",
    nodeid: str = "",
) -> CheckResult:
    """Run forward and gradient for one (case, entry point, dtype); return records."""
    result = CheckResult()
    call = case.call(dtype, seed=seed, device=device)
    version = adapter.version()
    versions = adapter.versions()
    # the fields every record of this check shares
    base: dict[str, Any] = dict(
        id=case.id, op=case.op, entry_point=entry_point, framework=adapter.framework,
        framework_version=version, dtype=dtype, device=device, case=case.describe(),
        nodeid=nodeid)
    kinds = ("forward", "gradient")

    # a device this installation lacks first: nothing can run there, whatever the entry point
    reason = missing_device_reason(adapter, device) or adapter.unsupported(entry_point, call)
    if reason:
        base["repro"] = f"pytest '{nodeid}'  # unsupported: {reason}"
        for kind in kinds:
            result.records.append(CheckRecord(**base, kind=kind, verdict="unsupported",
                                              message=reason))
        return result
    repro = repro_snippet(case, entry_point, adapter, call, seed)
    base["repro"] = repro

    exp_value, exp_grad = expected(call)
    t0 = time.perf_counter()
    try:
        ev: Evaluation = adapter.evaluate(entry_point, call)
    except Exception as exc:  # the framework raised on a valid input: a finding
        msg = f"{type(exc).__name__}: {exc}".strip()
        for kind in kinds:
            result.records.append(CheckRecord(**base, kind=kind, verdict="fail", message=msg))
        result.failures.append(
            _failure_text(case, adapter, version, entry_point, dtype, "forward", None, None, repro,
                          f"raised on a valid input: {msg}\n{traceback.format_exc(limit=3)}")
        )
        return result

    # time inside the framework call (forward and gradient together), kept on the forward record
    eval_seconds = time.perf_counter() - t0
    outputs = {"forward": (ev.forward, exp_value)}
    if ev.gradient is not None and exp_grad is not None:
        outputs["gradient"] = (ev.gradient, exp_grad)
    for kind in kinds:
        if kind not in outputs:
            result.records.append(CheckRecord(
                **base, kind=kind, verdict="unsupported",
                message="the entry point gives no gradient for this call"))
            continue
        out, exp = outputs[kind]
        tol = tolerance(dtype, kind, case.tolerance_overrides)
        floor = natural_scale(call, kind)
        cmp = compare(out.value, exp, dtype, tol, floor)
        rec = CheckRecord(
            **base,
            kind=kind,
            verdict="agree",
            output_dtype=out.dtype,
            tolerance=tol.as_dict(),
            max_abs_err=cmp.max_abs_err,
            max_rel_err=cmp.max_rel_err,
            max_ulp=cmp.max_ulp,
            tolerance_used=cmp.tolerance_used,
            worst=cmp.worst(),
            eval_seconds=eval_seconds if kind == "forward" else 0.0,
            # the pairwise view compares entry points' forward values on the same inputs
            sample=sample(out.value) if kind == "forward" else None,
        )
        if not cmp.ok:
            div = explain(candidates(adapter, entry_point, call, kind, versions), call, kind,
                          out.value, tol, floor)
            if div is not None:
                rec.verdict, rec.divergence = "divergence", div.id
                rec.message = f"{cmp.problem} vs reference; matches model {div.id!r}: {div.title}"
            else:
                rec.verdict, rec.message = "fail", cmp.problem
                result.failures.append(
                    _failure_text(case, adapter, version, entry_point, dtype, kind, tol, cmp, repro, cmp.problem)
                )
        result.records.append(rec)
    return result


def _failure_text(case, adapter, version, entry_point, dtype, kind, tol: Tolerance | None,
                  cmp: Comparison | None, repro: str, problem: str | None) -> str:
    lines = [
        f"FAIL {kind}: {entry_point} ({adapter.framework} {version}) on case {case.id} in {dtype}",
        f"  problem: {problem}",
    ]
    if tol is not None:
        lines.append(f"  tolerance: rtol={tol.rtol:.3g} atol={tol.atol:.3g} "
                     + (f" (atol x scale {cmp.scale:.3g})" if cmp is not None else "")
                     + (f" overrides={list(tol.overrides)}" if tol.overrides else ""))
    if cmp is not None and cmp.worst_index is not None:
        lines.append(
            f"  worst at index {cmp.worst_index}: expected {cmp.expected_at_worst!r}, got {cmp.actual_at_worst!r}"
            f"  (max abs {cmp.max_abs_err:.3g}, max rel {cmp.max_rel_err:.3g}, max ULP {cmp.max_ulp:.3g})"
        )
    lines.append(f"  case: {case.describe()}")
    lines.append("  repro:\n    " + repro.replace("\n", "\n    "))
    return "\n".join(lines)
