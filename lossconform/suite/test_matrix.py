"""The conformance matrix: every (case, entry point, dtype), forward and gradient.

Parameters come from ``lossconform.pytest_plugin``: one test per (framework, case), running
each selected entry point of that framework that computes the case's op, in every selected
dtype it accepts. Each check records one result per kind (forward, gradient) for the report;
the test fails only on a ``fail`` verdict (a difference that neither the tolerance nor a
registered divergence model explains), naming each failing entry point and dtype with the
command that reruns just that check.
"""
from __future__ import annotations

import pytest

from lossconform.harness.check import run_check
from lossconform.reports.pytest_plugin import record


def test_matrix(matrix_item, adapters_by_name, lc_seed, request):
    """One case on each entry point of one framework, in every selected dtype each accepts:
    forward and gradient."""
    case, framework, entry_points = matrix_item
    adapter = adapters_by_name[framework]
    reason = adapter.available()
    if reason:
        pytest.skip(f"{framework}: {reason}")
    failures: list[str] = []
    unsupported: list[str] = []
    checks = 0
    for entry_point, dtypes in entry_points:
        for dtype in dtypes:
            checks += 1
            result = run_check(
                case, adapter, entry_point, dtype,
                seed=lc_seed, device=request.config.lc_device, nodeid=request.node.nodeid,
            )
            for rec in result.records:
                record(request, rec)
            if result.failures:
                failures += result.failures
                failures.append(f"  rerun: pytest '{request.node.nodeid}' --lc-seed {lc_seed} "
                                f"--lc-entry-points '{entry_point}' --lc-dtypes {dtype}")
            if all(r["verdict"] == "unsupported" for r in result.records):
                unsupported.append(f"{entry_point} {dtype}: {result.records[0]['message']}")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
    if len(unsupported) == checks:
        reasons = sorted({u.split(": ", 1)[1] for u in unsupported})
        pytest.skip("unsupported: " + "; ".join(reasons))
