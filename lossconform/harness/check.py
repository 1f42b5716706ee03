"""One check, end to end: case -> call -> reference and framework -> verdict records.

This is the single assertion helper of the conformance matrix. It returns records
(``lossconform.record.CheckRecord``, one per kind: forward, gradient) whatever the outcome, and a failure message that says which case,
which entry point and framework version, the tolerance, the worst error and where, both
values, and how to reproduce it.
"""
from __future__ import annotations

import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from lossconform import reference
from lossconform import ops
from lossconform.contract import Adapter, Call, Evaluation
from lossconform.divergences import candidates, explain
from lossconform.cases import Case
from lossconform.harness.compare import Comparison, Prepared, compare, compare_prepared
from lossconform.harness.tolerances import Conditioning, Tolerance, tolerance
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


# -- the relative bound's inputs: the sums an output goes through, its condition numbers ----------
def _items(call: Call) -> int:
    """How many items a reduction sums: elements for the binary losses, positions along
    every axis but the class axis for the categorical ones."""
    op = ops.OP[call.op]
    if op.family == ops.BINARY or not call.x.ndim:
        return int(call.x.size)
    return int(call.x.size // max(1, call.x.shape[call.axis]))


def summed_terms(call: Call, kind: str) -> tuple[int, ...]:
    """The length of each sum the output of ``call`` goes through, from the call itself:
    the classes along the class axis (softmax's denominator, the loss's sum over classes
    with probability targets or smoothing, a gradient's sum over the classes), and, under
    'sum'/'mean', the items (a 'mean' of categorical losses also sums the weights of its
    denominator; its gradient only that)."""
    op = ops.OP[call.op]
    C = int(call.x.shape[call.axis]) if op.class_axis and call.x.ndim else 1
    sums: list[int] = []
    if C > 1:
        if call.op in ("softmax", "log_softmax", "cross_entropy") or (
                call.op == "categorical_crossentropy" and kind == "forward"):
            sums.append(C)  # the softmax's denominator, or the loss's sum over the classes
        if call.op == "cross_entropy" and (call.target_kind == "probs"
                                           or call.option("label_smoothing")):
            sums.append(C)  # sum_c v_c log p_c and the targets' total W
    if op.is_loss and call.reduction in ("sum", "mean"):
        n = _items(call)
        if kind == "forward":
            sums.append(n)
        if call.reduction == "mean" and op.family != ops.BINARY:
            sums.append(n)
    return tuple(s for s in sums if s > 1)


_QUIET = dict(divide="ignore", invalid="ignore", over="ignore", under="ignore")


def _softmax_stats(xl: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(d = x - max, p, log p, A) along the last axis, float64; log p keeps relative accuracy
    near 0 (log1p of the non-argmax terms). A_j = |d_j| (1 - p_j) + sum_{k != j} |d_k| p_k is
    the condition number of p_j with respect to relative perturbations of d (and the
    absolute one of log p_j)."""
    m = np.max(xl, axis=-1, keepdims=True)
    d = xl - np.where(np.isfinite(m), m, 0.0)
    e = np.exp(d)
    am = np.argmax(np.where(np.isnan(d), -np.inf, d), axis=-1)[..., None]
    rest = e.copy()
    np.put_along_axis(rest, am, 0.0, axis=-1)
    lp = d - np.log1p(np.sum(rest, axis=-1, keepdims=True))
    p = np.exp(lp)
    ad = np.abs(d)
    adp = np.where(p > 0, ad * p, 0.0)
    A = np.where(p < 1, ad * (1.0 - p), 0.0) + np.sum(adp, axis=-1, keepdims=True) - adp
    return d, p, lp, A


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _reduce_condition(kappa: np.ndarray, weighted: np.ndarray, reduction: str) -> np.ndarray:
    """kappa of the reduced loss: the items' kappas averaged with weights |s_i l_i| (the
    condition number of a sum of non-negative terms), plus one for the mean's division."""
    if reduction == "none":
        return kappa
    w = np.abs(weighted)
    tot = np.sum(w)
    k = np.sum(np.where(w > 0, w * kappa, 0.0)) / tot if tot > 0 else np.inf
    return np.asarray(k + (1.0 if reduction == "mean" else 0.0))


def _dense_targets(call: Call, C: int) -> np.ndarray:
    """Smoothed dense targets q times class weights (v = w_c q_c), class axis last; 0 for
    ignored items."""
    if call.target_kind == "index":
        y = np.asarray(call.target)
        q = (y[..., None] == np.arange(C)).astype(np.float64)
        ii = call.option("ignore_index")
        ign = (y == ii) if ii is not None else np.zeros(y.shape, bool)
    else:
        q = np.moveaxis(np.asarray(call.target, dtype=np.float64), call.axis % call.x.ndim, -1)
        ign = np.zeros(q.shape[:-1], bool)
    eps = float(call.option("label_smoothing") or 0.0)
    if eps:
        q = (1.0 - eps) * q + eps / C
    q = np.where(ign[..., None], 0.0, q)
    w = call.option("weight")
    return q if w is None else q * np.asarray(w, dtype=np.float64)


def condition(call: Call, kind: str, value: np.ndarray | None = None) -> np.ndarray | None:
    """kappa, per element of the reference's output (forward value or gradient) for
    ``call``: the condition number the relative bound scales with (see
    lossconform/harness/tolerances.py). Forward values: with respect to relative
    perturbations of the inputs (logits measured from their row maximum, probabilities,
    targets, weights); gradients: with respect to relative perturbations of the forward
    quantities their standard formulas consume (p, sigmoid, targets, the cotangent), so a
    difference of them carries its cancellation factor (|a| + |b|) / |a - b|. NaN or inf:
    not held. None for an empty output. ``value``: the reference's output, whose magnitude
    is the denominator where the output is a cancellation (a softmax gradient of tied or
    near-tied classes: the reference's own value is then noise, and kappa says so)."""
    if call.x.size == 0:
        return None
    op = ops.OP[call.op]
    x = np.asarray(call.x, dtype=np.float64)
    with np.errstate(**_QUIET):
        if op.class_axis:
            return _class_axis_condition(call, kind, x, value)
        if op.family == ops.ACTIVATION:
            return _elementwise_condition(call, kind, x)
        return _binary_condition(call, kind, x)


def _elementwise_condition(call: Call, kind: str, z: np.ndarray) -> np.ndarray:
    az = np.abs(z)
    s_neg = _sigmoid(-z)  # 1 - sigmoid(z)
    k_sig = 1.0 + az * s_neg  # sigmoid(z) w.r.t. z
    if call.op == "sigmoid":
        if kind == "forward":
            return k_sig
        # g * y * (1 - y): (1 - y) from y carries y / (1 - y) = e^z times y's kappa
        return 2.0 + k_sig * (1.0 + np.exp(z))
    # log_sigmoid = -softplus(-z)
    if kind == "forward":
        return 1.0 + az * s_neg / _softplus(-z)
    # g * (1 - sigmoid(z))
    return 2.0 + k_sig * np.exp(z)


def _class_axis_condition(call: Call, kind: str, x: np.ndarray,
                          value: np.ndarray | None) -> np.ndarray:
    ax = call.axis % x.ndim
    xl = np.moveaxis(x, ax, -1)
    C = xl.shape[-1]
    back = (lambda a: np.moveaxis(a, -1, ax))
    if call.op in ("softmax", "log_softmax"):
        d, p, lp, A = _softmax_stats(xl)
        if kind == "forward":
            return back(1.0 + A if call.op == "softmax" else 1.0 + A / np.abs(lp))
        g = np.moveaxis(np.broadcast_to(np.asarray(call.grad_output, dtype=np.float64), x.shape),
                        ax, -1)
        ag = np.abs(g)
        if call.op == "softmax":  # p_j (g_j - sum p g)
            # g_j - sum p g = (g_j - g_a) - sum_k p_k (g_k - g_a), a the argmax: no cancellation
            # of its own (as the reference computes it)
            am = np.argmax(p, axis=-1)[..., None]
            gs = g - np.take_along_axis(g, am, axis=-1)
            diff = np.abs(gs - np.sum(p * gs, axis=-1, keepdims=True))
            if value is not None and np.shape(value) == x.shape:
                diff = np.minimum(diff, np.abs(np.moveaxis(value, ax, -1)) / p)
            num = ag + np.sum(p * ag * (1.0 + np.where(p > 0, A, 0.0)), axis=-1, keepdims=True)
            return back(2.0 + A + num / diff)
        # log_softmax: g_j - p_j sum g
        G = np.sum(g, axis=-1, keepdims=True)
        num = ag + p * np.abs(G) * (1.0 + A) + p * np.sum(ag, axis=-1, keepdims=True)
        dx = g - p * G
        am = np.argmax(p, axis=-1)[..., None]  # there: (g_a - G) - expm1(log p_a) G
        np.put_along_axis(dx, am, np.take_along_axis(g, am, axis=-1) - G
                          - np.expm1(np.take_along_axis(lp, am, axis=-1)) * G, axis=-1)
        dx = np.abs(dx)
        if value is not None and np.shape(value) == x.shape:
            dx = np.minimum(dx, np.abs(np.moveaxis(value, ax, -1)))
        return back(1.0 + num / dx)

    # the categorical losses: per item, then the reduction
    red = call.reduction
    s = call.option("sample_weight")
    items = xl.shape[:-1]
    sw = np.ones(items) if s is None else np.broadcast_to(np.asarray(s, np.float64), items)
    if call.op == "nll_loss":
        v = _dense_targets(call, C)
        l = -np.sum(np.where(v > 0, v * xl, 0.0), axis=-1)
        if kind == "forward":
            return _reduce_condition(np.full(items, 2.0), sw * l, red)
        return back(np.full(xl.shape, 3.0))
    v = _dense_targets(call, C)
    W = np.sum(v, axis=-1, keepdims=True)
    if call.op == "categorical_crossentropy":
        l = -np.sum(np.where(v > 0, v * np.log(xl), 0.0), axis=-1)
        if kind == "forward":
            return _reduce_condition(2.0 + W[..., 0] / l, sw * l, red)
        return back(np.full(xl.shape, 3.0))
    # cross_entropy on logits
    d, p, lp, A = _softmax_stats(xl)
    l = -np.sum(np.where(v > 0, v * lp, 0.0), axis=-1)
    if kind == "forward":
        ad = np.abs(d)
        sens = np.sum(np.where((p > 0) | (v > 0), ad * np.abs(W * p - v), 0.0), axis=-1)
        return _reduce_condition(2.0 + sens / l, sw * l, red)
    num = W * p * (1.0 + np.where(p > 0, A, 0.0)) + v
    # W p_c - v_c, at the argmax a as W (p_a - 1) + sum_{k != a} v_k (no cancellation of its own)
    dz = W * p - v
    am = np.argmax(p, axis=-1)[..., None]
    v_other = W - np.take_along_axis(v, am, axis=-1)
    np.put_along_axis(dz, am, W * np.expm1(np.take_along_axis(lp, am, axis=-1)) + v_other, axis=-1)
    return back(2.0 + num / np.abs(dz))


def _binary_condition(call: Call, kind: str, x: np.ndarray) -> np.ndarray:
    t = np.asarray(call.target, dtype=np.float64)
    eps = float(call.option("label_smoothing") or 0.0)
    q = (1.0 - eps) * t + eps / 2 if eps else t
    w = call.option("weight")
    w = np.ones(x.shape) if w is None else np.broadcast_to(np.asarray(w, np.float64), x.shape)
    if call.op == "binary_cross_entropy":
        p = x
        inner = -(np.where(q > 0, q * np.log(p), 0.0) + np.where(q < 1, (1.0 - q) * np.log1p(-p), 0.0))
        if kind == "forward":
            return _reduce_condition(2.0 + np.abs(q - p) / ((1.0 - p) * inner), w * inner,
                                     call.reduction)
        # (p - q) / (p (1 - p)): the difference's cancellation, and 1 - p from p
        return 3.0 + (p + q) / np.abs(p - q) + p / (1.0 - p)
    z = x
    pw = call.option("pos_weight")
    pw = np.ones(x.shape) if pw is None else np.broadcast_to(np.asarray(pw, np.float64), x.shape)
    s_pos, s_neg = _sigmoid(z), _sigmoid(-z)
    if kind == "forward":
        inner = pw * q * _softplus(-z) + (1.0 - q) * _softplus(z)
        dz = (1.0 - q) * s_pos - pw * q * s_neg
        return _reduce_condition(3.0 + np.abs(z) * np.abs(dz) / inner, w * inner,
                                 call.reduction)
    # the standard form sigmoid(z) (1 + (pw - 1) q) - pw q (sigmoid(z) - q without
    # pos_weight); its value computed as (1 - q) sigmoid(z) - pw q sigmoid(-z), which does
    # not cancel
    a, b = s_pos * (1.0 + (pw - 1.0) * q), pw * q
    return 3.0 + (a * (2.0 + np.abs(z) * s_neg) + b) / np.abs((1.0 - q) * s_pos - pw * q * s_neg)


def check_tolerance(call: Call, kind: str, expected_value: np.ndarray | None,
                    overrides: tuple[str, ...] = ()) -> Tolerance:
    """The tolerance one output of ``call`` is held to, as the matrix holds it: the dtype's
    tables and the named ``overrides`` (``Case.tolerance_overrides``), with the call's sums,
    the condition numbers of the reference's output ``expected_value`` and that output itself
    (the relative bound's inputs; see lossconform/harness/tolerances.py). Anything that
    compares a framework's output with the reference for a call should take its tolerance
    from here."""
    conditioning = Conditioning(summed_terms(call, kind), condition(call, kind, expected_value),
                                expected_value)
    return tolerance(call.dtype, kind, tuple(overrides) + (conditioning,))


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


class _Derived:
    """What a (case, dtype, seed, device) gives every entry point alike: the inputs, the
    reference's outputs and each kind's tolerance and natural scale. The same inputs reach every
    framework's entry points, so these are computed once and shared (``_derived``); the
    arrays are made read-only, so nothing downstream can change what the next check sees."""

    __slots__ = ("call", "_expected", "_tol", "_overrides")

    def __init__(self, call: Call, case: Case) -> None:
        self.call = call
        self._expected: tuple[Any, Any] | None = None  # computed at the first supported check
        self._tol: dict[str, tuple[Tolerance, float, Prepared | None]] = {}
        self._overrides = case.tolerance_overrides

    @property
    def expected(self) -> tuple[Any, Any]:
        if self._expected is None:
            value, grad = expected(self.call)
            for a in (value, grad):
                if isinstance(a, np.ndarray):
                    a.flags.writeable = False
            self._expected = (value, grad)
        return self._expected

    def fresh_call(self) -> Call:
        """The case's call with its own copies of the arrays (an adapter may hand them to its
        framework without copying; what one check does to them never reaches the next)."""
        c = self.call

        def own(a: Any) -> Any:
            return a.copy() if isinstance(a, np.ndarray) else a

        return c.replace(x=own(c.x), target=own(c.target), grad_output=own(c.grad_output),
                         options={k: own(v) for k, v in c.options.items()})

    def tolerance(self, kind: str) -> tuple[Tolerance, float, Prepared | None]:
        """The kind's tolerance, natural scale and the comparison's expected side."""
        hit = self._tol.get(kind)
        if hit is None:
            exp = self.expected[0] if kind == "forward" else self.expected[1]
            tol = check_tolerance(self.call, kind, exp, self._overrides)
            floor = natural_scale(self.call, kind)
            prep = None if exp is None else Prepared(exp, self.call.dtype, tol, floor)
            hit = self._tol[kind] = (tol, floor, prep)
        return hit


#: the last few (case id, dtype, seed, device) -> _Derived; the matrix is collected case by
#: case (every framework's entry points on one case in a row), so a small cache serves them
_DERIVED: "OrderedDict[tuple, _Derived]" = OrderedDict()
_DERIVED_SIZE = 8


def _derived(case: Case, dtype: str, seed: int, device: str) -> _Derived:
    key = (case.id, dtype, seed, device)
    hit = _DERIVED.get(key)
    if hit is not None:
        _DERIVED.move_to_end(key)
        return hit
    hit = _DERIVED[key] = _Derived(case.call(dtype, seed=seed, device=device), case)
    while len(_DERIVED) > _DERIVED_SIZE:
        _DERIVED.popitem(last=False)
    return hit


def run_check(
    case: Case,
    adapter: Adapter,
    entry_point: str,
    dtype: str,
    *,
    seed: int = 0,
    device: str = "cpu",
    nodeid: str = "",
    facets: Mapping[str, Any] | None = None,
) -> CheckResult:
    """Run forward and gradient for one (case, entry point, dtype); return records.
    ``facets`` (``Call.facets``) say how the call is made; the records carry them."""
    result = CheckResult()
    t_check = time.perf_counter()
    derived = _derived(case, dtype, seed, device)
    call = derived.fresh_call()
    if facets:
        call = call.replace(facets=dict(facets))
    version = adapter.version()
    versions = adapter.versions()
    # the fields every record of this check shares
    base: dict[str, Any] = dict(
        id=case.id, op=case.op, entry_point=entry_point, framework=adapter.framework,
        framework_version=version, dtype=dtype, device=device, case=case.describe(),
        nodeid=nodeid, facets=dict(facets) if facets else None)
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

    exp_value, exp_grad = derived.expected
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
                message=no_gradient_reason(adapter, entry_point)))
            continue
        out, exp = outputs[kind]
        tol, floor, prep = derived.tolerance(kind)
        cmp = compare_prepared(out.value, prep) if prep is not None else compare(
            out.value, exp, dtype, tol, floor)
        rec = CheckRecord(
            **base,
            kind=kind,
            verdict="agree",
            output_dtype=out.dtype,
            # with the relative criterion's use of its bound (<= 1: relative accuracy kept)
            tolerance={**tol.as_dict(), "rel_used": cmp.rel_used},
            max_abs_err=cmp.max_abs_err,
            max_rel_err=cmp.max_rel_err,
            max_ulp=cmp.max_ulp,
            tolerance_used=cmp.tolerance_used,
            max_rel_ulp_normal=cmp.max_rel_ulp_normal,
            worst=cmp.worst(),
            eval_seconds=eval_seconds if kind == "forward" else 0.0,
            compile_seconds=float(ev.compile_seconds or 0.0) if kind == "forward" else 0.0,
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
    for rec in result.records:  # the whole check's time, with the framework call's
        if rec.kind == "forward":
            rec.check_seconds = time.perf_counter() - t_check
    return result


def no_gradient_reason(adapter: Adapter, entry_point: str) -> str:
    """Why a check has no gradient record: the entry point's declared reason when its
    capabilities say it gives none, otherwise that this call gave none."""
    spec = adapter.spec(entry_point)
    caps = spec.capabilities if spec is not None else None
    if caps is not None and not caps.gradient:
        return caps.gradient_reason or ("the entry point computes no gradient "
                                        "(its capabilities declare gradient=False)")
    return "the entry point gives no gradient for this call"


def _failure_text(case, adapter, version, entry_point, dtype, kind, tol: Tolerance | None,
                  cmp: Comparison | None, repro: str, problem: str | None) -> str:
    lines = [
        f"FAIL {kind}: {entry_point} ({adapter.framework} {version}) on case {case.id} in {dtype}",
        f"  problem: {problem}",
    ]
    if tol is not None:
        lines.append(f"  tolerance: rtol={tol.rtol:.3g} atol={tol.atol:.3g} "
                     + (f" (atol x scale {cmp.scale:.3g})" if cmp is not None else "")
                     + f"; relative bound on normal elements {tol.rel_ulp:.3g} ULP x condition"
                     + (f" (sums of {', '.join(map(str, tol.conditioning.sums))} terms)"
                        if tol.conditioning.sums else "")
                     + (f" overrides={list(tol.names)}" if tol.names else ""))
    if cmp is not None and cmp.worst_index is not None:
        lines.append(
            f"  worst at index {cmp.worst_index}: expected {cmp.expected_at_worst!r}, got {cmp.actual_at_worst!r}"
            f"  (max abs {cmp.max_abs_err:.3g}, max rel {cmp.max_rel_err:.3g}, max ULP {cmp.max_ulp:.3g}"
            + (f", worst on normal elements {cmp.max_rel_ulp_normal:.3g} ULP"
               if cmp.max_rel_ulp_normal is not None else "")
            + (f", relative bound there {cmp.rel_bound_at_worst:.3g} ULP"
               if cmp.rel_bound_at_worst is not None else "") + ")"
        )
    lines.append(f"  case: {case.describe()}")
    lines.append("  repro:\n    " + repro.replace("\n", "\n    "))
    return "\n".join(lines)
