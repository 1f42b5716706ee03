"""Input provenance under the conformance checks: every adapter's declared ``x_source`` values.

A framework may treat the same probabilities differently depending on how they were made (a
loss that finds the logits behind a softmax's output and ignores that it was given
probabilities). For every adapter, every value it declares for the ``x_source`` facet
(``Adapter.facets``) and every entry point that takes probabilities, this runs a slice of the
case table through ``run_check`` with the facet on the call, forward and gradient: verdicts
come from the reference and the plug-in's divergence registry exactly as in the matrix
(agree, divergence, fail), and every record carries its ``facets``. A pairing the entry point
cannot take (a source of another kind, probabilities no such source can make) is
``unsupported`` with the adapter's reason.

The slice is chosen here, from the case table, by the op's input kind and the input regime,
never by framework: probability-input ops (input kind ``probs``), one (16, 10) batch with no
option but the reduction, in the regimes where it matters whether the probabilities are
clipped: moderate ones, probabilities of about 1e-12 (``near_0``, ``near_0_1``: a true-class
probability of 1e-12 costs 27.63, or 16.12 once clipped at 1e-7) and exact zeros and ones,
reduced by 'mean'. Dtype: float32 (if selected). A source is fed logits computed from the
probabilities and rounded to the dtype, so the probabilities it makes differ from the case's
by about |log p| ulp: negligible in these dtypes, not in float16/bfloat16 (8 to 11 bits),
where the difference would be the facet's, not the framework's.
"""
from __future__ import annotations

from typing import Any

import pytest

from lossconform.cases import CASES, Case
from lossconform.harness.check import run_check
from lossconform.ops import BINARY, CATEGORICAL, OP, PROBS
from lossconform.plugins import load_adapters
from lossconform.pytest_plugin import slug
from lossconform.reports.pytest_plugin import record

FACET = "x_source"
FIXTURE = "x_source_item"
#: the input regimes of the slice, per op family (see the module docstring)
REGIMES: dict[str, tuple[str, ...]] = {
    CATEGORICAL: ("moderate", "near_0", "exact_0"),
    BINARY: ("moderate", "near_0_1", "exact_0_1"),
}
SHAPE = (16, 10)
#: one dtype and one reduction keep the slice small (20 sources x every probability entry
#: point): what provenance changes is independent of both
DTYPES = ("float32",)
REDUCTION = "mean"


def slice_cases(op: str) -> tuple[Case, ...]:
    """The slice of the case table for a probability-input ``op``."""
    spec = OP[op]
    if spec.input_kind != PROBS:
        return ()
    return tuple(c for c in CASES if c.op == op and c.shape == SHAPE
                 and c.regime in REGIMES.get(spec.family, ())
                 and dict(c.options) == {"reduction": REDUCTION})


def _params(config: pytest.Config) -> list[Any]:
    adapters = dict(load_adapters())
    dtypes = tuple(d for d in DTYPES if d in config.lc_dtypes)
    params = []
    for fw in config.lc_frameworks:
        values = tuple(adapters[fw].facets.get(FACET, ()))
        for spec in adapters[fw].entry_points():
            cases = slice_cases(spec.op)
            dts = tuple(d for d in dtypes if d in spec.dtypes)
            if not cases or not dts:
                continue
            for value in values:
                params.append(pytest.param(
                    (fw, value, spec.name, cases, dts),
                    id=f"{fw}-{slug(str(value))}-{slug(spec.name)}",
                    marks=pytest.mark.framework(fw)))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if FIXTURE in metafunc.fixturenames:
        metafunc.parametrize(FIXTURE, _params(metafunc.config))


def test_x_source(x_source_item, adapters_by_name, lc_seed, request) -> None:
    """One entry point with one x_source value on the slice: forward and gradient."""
    framework, value, entry_point, cases, dtypes = x_source_item
    adapter = adapters_by_name[framework]
    reason = adapter.available()
    if reason:
        pytest.skip(f"{framework}: {reason}")
    facets = {FACET: value}
    failures: list[str] = []
    unsupported: set[str] = set()
    ran = 0
    for case in cases:
        for dtype in dtypes:
            if dtype not in case.dtypes:
                continue
            result = run_check(case, adapter, entry_point, dtype, seed=lc_seed,
                               device=request.config.lc_device, nodeid=request.node.nodeid,
                               facets=facets)
            for rec in result.records:
                assert rec.facets == facets, f"record without its facets: {rec.facets!r}"
                record(request, rec)
            failures += result.failures
            if all(r.verdict == "unsupported" for r in result.records):
                unsupported.add(result.records[0].message or "")
            else:
                ran += 1
    if failures:
        pytest.fail("\n\n".join(failures) + f"\n  facets: {facets}\n  rerun: pytest "
                    f"'{request.node.nodeid}' --lc-seed {lc_seed}", pytrace=False)
    if not ran:
        pytest.skip("unsupported: " + "; ".join(sorted(unsupported)))
