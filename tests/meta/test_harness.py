"""Tests of the test machinery: case table, tolerance policy, comparison and verdicts.

The tolerance policy must be loose enough for a correctly rounded implementation (the
reference rounded to the dtype agrees everywhere) and tight enough to catch a float32
softmax scaled by (1 + 1e-5), a gradient scaled by 1.001, and a wrong smoothing, weighting
or reduction formula. These tests run the real check helper against a fake adapter built
on the reference, so they need no framework.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np
import pytest

from lossconform import reference
from lossconform.contract import Adapter, Call, EntryPointSpec, Evaluation, Output
from lossconform import cases as cases_mod
from lossconform.cases import CASES, Case, output_shape
from lossconform.dtypes import DTYPES
from lossconform.harness.check import expected, run_check
from lossconform.harness.compare import compare, round_to, ulp
from lossconform.harness.tolerances import tolerance


class FakeAdapter(Adapter):
    """An 'adapter' that returns the reference, rounded to the dtype, then ``mutate``-d."""

    framework = "fake"
    conventions: dict = {}

    def __init__(self, mutate_forward: Callable | None = None, mutate_grad: Callable | None = None,
                 rewrite_call: Callable[[Call], Call] | None = None):
        self.mutate_forward = mutate_forward
        self.mutate_grad = mutate_grad
        self.rewrite_call = rewrite_call

    def available(self):
        return None

    def version(self):
        return "0"

    def devices(self):
        return ["cpu"]

    def entry_points(self):
        return [EntryPointSpec(f"fake.{op}", op, DTYPES) for op in reference.OPS]

    def unsupported(self, entry_point, call):
        return None

    def evaluate(self, entry_point, call):
        c = self.rewrite_call(call) if self.rewrite_call else call
        value, grad = expected(c)
        if self.mutate_forward:
            value = self.mutate_forward(value)
        if self.mutate_grad and grad is not None:
            grad = self.mutate_grad(grad)
        out = Output(round_to(value, call.dtype), call.dtype)
        g = None if grad is None else Output(round_to(grad, call.dtype), call.dtype)
        return Evaluation(out, g)

    def repro(self, entry_point, call):
        return "# fake"


def verdicts(adapter, case: Case, dtype: str) -> dict[str, str]:
    res = run_check(case, adapter, f"fake.{case.op}", dtype)
    return {r["kind"]: r["verdict"] for r in res.records}


def effect(adapter: FakeAdapter, case: Case, dtype: str) -> float:
    """How much a mutation changes the output, norm-wise relative, computed in float64."""
    call = case.call(dtype)
    good = FakeAdapter().evaluate("", call)
    bad = adapter.evaluate("", call)
    worst = 0.0
    for g, b in ((good.forward, bad.forward), (good.gradient, bad.gradient)):
        if g is None or b is None or g.value.size == 0:
            continue
        scale = float(np.max(np.abs(g.value))) or 1.0
        worst = max(worst, float(np.max(np.abs(g.value - b.value))) / scale)
    return worst


def assert_caught(adapter: FakeAdapter, cases: list[Case], dtype: str) -> None:
    """Every mutation whose effect exceeds the dtype's resolution (2 x (rtol + atol)) fails."""
    tol = tolerance(dtype, "gradient")
    material = [c for c in cases if effect(adapter, c, dtype) > 2 * (tol.rtol + tol.atol)]
    assert material, f"no case makes this mutation visible in {dtype}"
    missed = [c.id for c in material if "fail" not in verdicts(adapter, c, dtype).values()]
    assert not missed, missed


# ------------------------------------------------------------------ the case table
def test_case_ids_unique_and_safe():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert all(cases_mod._ID_OK.match(i) for i in ids)


def test_duplicate_case_id_raises(monkeypatch):
    dup = Case("softmax", (3, 4))
    monkeypatch.setattr(cases_mod, "_activation_cases", lambda: iter([dup, dup]))
    with pytest.raises(ValueError, match="duplicate case id"):
        cases_mod.build_cases()


def test_inputs_are_deterministic_and_seeded_by_id():
    c = CASES[5]
    a, b = c.call("float32", seed=0), c.call("float32", seed=0)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.call("float32", seed=1).x)
    assert not np.array_equal(a.x, CASES[6].call("float32", seed=0).x) or a.x.shape != CASES[6].call("float32").x.shape


def test_inputs_are_representable_in_dtype():
    for c in CASES[:40]:
        for dt in c.dtypes:
            call = c.call(dt)
            np.testing.assert_array_equal(round_to(call.x, dt), call.x)


def test_grad_output_shape_matches_output():
    for c in CASES:
        call = c.call("float64")
        value, _ = expected(call)
        assert call.grad_output.shape == np.shape(value) == output_shape(call), c.id


# ------------------------------------------------------------------ compare / ulp
def test_ulp_matches_numpy_spacing():
    x = np.array([1.0, 0.5, 1000.0])
    np.testing.assert_array_equal(ulp(x, "float32"), np.spacing(x.astype(np.float32)).astype(np.float64))
    assert ulp(np.array([1.0]), "bfloat16")[0] == 2.0**-7


def test_compare_reports_shape_and_nonfinite_patterns():
    tol = tolerance("float32")
    assert compare(np.zeros(3), np.zeros(4), "float32", tol).problem.startswith("shape")
    r = compare(np.array([np.nan, 1.0]), np.array([np.inf, 1.0]), "float32", tol)
    assert not r.ok and "non-finite" in r.problem
    assert compare(np.array([np.inf, 1.0]), np.array([np.inf, 1.0]), "float32", tol).ok


def test_unknown_dtype_or_override_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown dtype 'float8'"):
        tolerance("float8")
    with pytest.raises(ValueError, match="unknown tolerance override"):
        tolerance("float32", "forward", ("nope",))


# ------------------------------------------------------------------ tolerance policy
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_correctly_rounded_implementation_agrees_everywhere(dtype):
    """The reference rounded to the dtype (a perfect kernel) must agree on every case."""
    bad = []
    for c in CASES:
        if dtype not in c.dtypes:
            continue
        v = verdicts(FakeAdapter(), c, dtype)
        if set(v.values()) != {"agree"}:
            bad.append((c.id, v))
    assert not bad, bad[:5]


MODERATE = [c for c in CASES if c.regime in ("moderate", "onehot", "soft") and c.shape == (16, 10)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_catches_softmax_scaled_by_1e_5(dtype):
    softmaxes = [c for c in MODERATE if c.op == "softmax"] + [Case("softmax", (4, 5, 3, 3), 1)]
    for c in softmaxes:
        assert verdicts(FakeAdapter(lambda v: v * (1 + 1e-5)), c, dtype)["forward"] == "fail", c.id


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_catches_gradient_scaled_by_1_001(dtype):
    for c in MODERATE:
        v = verdicts(FakeAdapter(mutate_grad=lambda g: g * 1.001), c, dtype)
        assert v["gradient"] == "fail", (c.id, v)


def _with_options(**changes):
    def rewrite(call: Call) -> Call:
        opts = dict(call.options)
        opts.update(changes)
        return replace(call, options=opts)
    return rewrite


def _smoothing_over_c_minus_1(call: Call) -> Call:
    # a wrong formula: eps/(C-1) on the wrong classes is modelled by a larger eps
    eps = call.options.get("label_smoothing", 0.0)
    C = call.x.shape[call.axis]
    return _with_options(label_smoothing=eps * C / (C - 1))(call)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_catches_wrong_smoothing_formula(dtype):
    """eps/(C-1) instead of eps/C: a ~1% change of the smoothing term, below float16's tolerance."""
    smoothed = [c for c in MODERATE if dict(c.options).get("label_smoothing")]
    assert smoothed
    for c in smoothed:
        v = verdicts(FakeAdapter(rewrite_call=_smoothing_over_c_minus_1), c, dtype)
        assert "fail" in v.values(), (c.id, v)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_catches_smoothing_left_out(dtype):
    smoothed = [c for c in MODERATE if dict(c.options).get("label_smoothing")]
    assert_caught(FakeAdapter(rewrite_call=_with_options(label_smoothing=0.0)), smoothed, dtype)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_catches_wrong_weighting(dtype):
    weighted = [c for c in MODERATE if dict(c.options).get("weight") == "random"]
    assert_caught(FakeAdapter(rewrite_call=_with_options(weight=None)), weighted, dtype)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_catches_wrong_reduction(dtype):
    """'mean' computed as 'sum / N' where the canonical mean divides by the sum of weights."""
    cases = [c for c in MODERATE if c.reduction == "mean" and dict(c.options).get("weight") == "random"
             and c.target_kind == "index"]
    for c in cases:
        n = c.shape[0]
        fake = FakeAdapter(rewrite_call=_with_options(reduction="sum"), mutate_forward=lambda v: v / n,
                           mutate_grad=lambda g: g / n)
        tol = tolerance(dtype, "gradient")
        if effect(fake, c, dtype) > 2 * (tol.rtol + tol.atol):  # weights' mean far enough from 1
            assert "fail" in verdicts(fake, c, dtype).values(), c.id
    assert_caught(FakeAdapter(rewrite_call=_with_options(reduction="sum")), cases, dtype)


def test_reference_arguments_only_pass_known_parameters():
    call = Case("softmax", (3, 4), options=(("reduction", "none"),)).call("float32")
    assert reference.arguments(call)[1] == {"axis": -1}


def test_gradient_record_of_a_forward_only_entry_point_gives_its_reason():
    """An entry point whose capabilities say gradient=False: its gradient record is
    unsupported with the plug-in's own sentence, never a generic one."""
    from dataclasses import replace

    from lossconform.cases import CASES
    from lossconform.contract import Capabilities, Evaluation, Output
    from lossconform.harness.check import no_gradient_reason, run_check

    class ForwardOnly(Adapter):
        framework = "forwardonly"

        def available(self):
            return None

        def version(self):
            return "1"

        def entry_points(self):
            return (EntryPointSpec("fo.softmax", "softmax", ("float64",), "",
                                   Capabilities(gradient=False,
                                                gradient_reason="forward only: no autodiff")),)

        def evaluate(self, entry_point, call):
            from lossconform import reference as R

            return Evaluation(Output(R.evaluate(call)[0], "float64"), None)

        def repro(self, entry_point, call):
            return "out = None"

    case = next(c for c in CASES if c.op == "softmax" and len(c.shape) == 2)
    res = run_check(case, ForwardOnly(), "fo.softmax", "float64")
    by_kind = {r.kind: r for r in res.records}
    assert by_kind["forward"].verdict == "agree"
    assert (by_kind["gradient"].verdict, by_kind["gradient"].message) == (
        "unsupported", "forward only: no autodiff")
    plain = ForwardOnly()
    plain.entry_points = lambda: (EntryPointSpec(  # type: ignore[method-assign]
        "fo.softmax", "softmax", ("float64",), "", replace(Capabilities(), gradient=False)),)
    assert "gradient=False" in no_gradient_reason(plain, "fo.softmax")
