"""The conformance matrix: every (case, entry point, dtype), forward and gradient.

Parameters come from ``lossconform.pytest_plugin`` (case table x each adapter's entry points x
dtypes). Each test records one result per kind (forward, gradient) for the report, then fails
only on a ``fail`` verdict: a difference that neither the tolerance nor a registered
divergence model explains.
"""
from __future__ import annotations

import pytest

from lossconform.harness.check import run_check
from lossconform.reports.pytest_plugin import record


def test_matrix(matrix_item, adapters_by_name, lc_seed, request):
    """One entry point on one case, in every selected dtype it accepts: forward and gradient."""
    case, framework, entry_point, dtypes = matrix_item
    adapter = adapters_by_name[framework]
    reason = adapter.available()
    if reason:
        pytest.skip(f"{framework}: {reason}")
    failures: list[str] = []
    unsupported: list[str] = []
    for dtype in dtypes:
        result = run_check(
            case, adapter, entry_point, dtype,
            seed=lc_seed, device=request.config.lc_device, nodeid=request.node.nodeid,
        )
        for rec in result.records:
            record(request, rec)
        failures += result.failures
        if all(r["verdict"] == "unsupported" for r in result.records):
            unsupported.append(f"{dtype}: {result.records[0]['message']}")
    if failures:
        pytest.fail("\n\n".join(failures) + f"\n  rerun: pytest '{request.node.nodeid}' --lc-seed {lc_seed}"
                    + " --lc-dtypes <dtype>", pytrace=False)
    if len(unsupported) == len(dtypes):
        reasons = sorted({u.split(": ", 1)[1] for u in unsupported})
        pytest.skip("unsupported: " + "; ".join(reasons))
