"""The conformance matrix: every (case, entry point, dtype), forward and gradient.

Parameters come from conftest.py (case table x each adapter's entry points x dtypes).
Each test records one result per kind (forward, gradient) for the report, then fails
only on a ``fail`` verdict: a difference that neither the tolerance nor a registered
divergence model explains.
"""
from __future__ import annotations

import pytest

from tests.harness.checks import run_check


def _divergence_lookup():
    try:
        from adapters import divergences
    except ImportError:  # registry not present: every difference stays a `fail`
        return None

    def lookup(adapter, entry_point, call, kind):
        return [
            d for d in divergences.candidates(adapter.framework, adapter.version(), entry_point, call, kind)
            if d.applies(call)
        ]

    return lookup


_LOOKUP = _divergence_lookup()


def test_matrix(matrix_item, adapters_by_name, lc_seed, request):
    case, framework, entry_point, dtype = matrix_item
    adapter = adapters_by_name[framework]
    reason = adapter.available()
    if reason:
        pytest.skip(f"{framework}: {reason}")
    result = run_check(
        case, adapter, entry_point, dtype,
        seed=lc_seed, device=request.config.lc_device, nodeid=request.node.nodeid,
        divergences=_LOOKUP,
    )
    for record in result.records:
        request.node.user_properties.append(("lossconform_record", record))
    if result.failures:
        pytest.fail("\n\n".join(result.failures) + f"\n  rerun: pytest '{request.node.nodeid}' --lc-seed {lc_seed}",
                    pytrace=False)
    if all(r["verdict"] == "unsupported" for r in result.records):
        pytest.skip(f"unsupported: {result.records[0]['message']}")
