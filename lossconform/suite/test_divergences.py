"""The divergence registry, proved: each entry's example diverges from the reference, and its
convention model reproduces the framework (forward, and gradient where modelled).

When a framework stops diverging on an entry's trigger inputs (fixed upstream), the first
assertion fails with "no longer occurs ... update the registry" instead of passing quietly.
Expected values come from the reference and the models (each plug-in's divergence entries),
never from the framework under test. Runs on every plug-in's entries.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pytest

from lossconform.divergences import Divergence, framework_version, registry
from lossconform.plugins import load_adapters
from lossconform.harness.check import expected
from lossconform.harness.compare import compare
from lossconform.harness.tolerances import tolerance

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
REGISTRY = registry()


def _mark(d: Divergence) -> pytest.MarkDecorator:
    return pytest.mark.framework(d.framework)


def _entries() -> list:
    return [pytest.param(d, id=d.id, marks=_mark(d)) for d in REGISTRY]


@lru_cache(maxsize=None)
def _adapters():
    return load_adapters()


def _adapter_or_skip(d: Divergence):
    ad = _adapters().get(d.framework)
    if ad is None:
        pytest.skip(f"no adapter for framework {d.framework!r}")
    why = ad.available()
    if why:
        pytest.skip(why)
    version = ad.version()
    versions = ad.versions()
    if not d.matches_versions(versions):
        key = d.package or d.framework
        pytest.skip(f"{key} {versions.get(key)} is outside {d.versions!r} for {d.id}")
    return ad, version


def _declared(framework: str, op: str | None = None) -> list[str]:
    ad = _adapters().get(framework)
    return [] if ad is None else [e.name for e in ad.entry_points() if op in (None, e.op)]


def _params():
    out = []
    for d in REGISTRY:
        op = d.example().op
        eps = [n for n in _declared(d.framework, op) if d.matches_entry_point(n)] or ["<none>"]
        for ep in eps:
            out.append(pytest.param(d, ep, id=f"{d.id}-{re.sub(r'[^A-Za-z0-9_=.-]', '_', ep)}",
                                    marks=_mark(d)))
    return out


def _compute_dtype(framework: str, entry_point: str, call) -> str | None:
    """The dtype ``entry_point`` really computes ``call`` in, when a registry entry says it is
    not the call's (a loss class that computes float64 inputs in float32)."""
    for d in REGISTRY:
        if d.compute_dtype and d.framework == framework and d.matches_entry_point(entry_point) \
                and d.applies(call):
            return d.compute_dtype
    return None


@pytest.mark.parametrize("div,entry_point", _params())
def test_divergence_is_real_and_modelled(div: Divergence, entry_point: str) -> None:
    ad, version = _adapter_or_skip(div)
    if entry_point == "<none>":
        pytest.fail(f"{div.id}: no declared entry point of {div.framework} matches "
                    f"{div.entry_points}")
    call = div.example()
    why = ad.unsupported(entry_point, call)
    if why:
        pytest.skip(f"{entry_point} cannot express the example of {div.id}: {why}")
    assert div.applies(call), f"{div.id}: applies() is false on its own example"

    ev = ad.evaluate(entry_point, call)
    m_fwd, m_grad = div.model(call)
    try:
        ref_fwd, ref_grad = expected(call)
    except ValueError:  # the reference rejects the input (e.g. -100 without ignore_index)
        ref_fwd = ref_grad = None

    # Where the entry point computes in another dtype (div itself, or another entry's example
    # run on such an entry point), it can match a model only to that dtype's accuracy; an
    # entry that is not about the compute dtype must then still stand out from the reference
    # at that accuracy (its convention is visible above float32 rounding).
    cdt = div.compute_dtype or _compute_dtype(div.framework, entry_point, call)
    checked = []
    for kind in div.kinds:
        if kind == "forward":
            actual, model, ref = ev.forward.value, m_fwd, ref_fwd
        else:
            if ev.gradient is None or call.grad_output is None:
                continue
            actual, model, ref = ev.gradient.value, m_grad, ref_grad
        if model is None:
            continue
        tol = tolerance(call.dtype, kind)
        mdt = cdt or call.dtype
        mtol = tolerance(mdt, kind)
        if ref is not None:
            rdt, rtol = (call.dtype, tol) if div.compute_dtype else (mdt, mtol)
            rc = compare(actual, ref, rdt, rtol)
            assert not rc.ok, (
                f"divergence {div.id} no longer occurs on its trigger inputs in "
                f"{div.framework} {version} ({entry_point}, {kind}): update the registry")
        mc = compare(actual, np.asarray(model, dtype=np.float64), mdt, mtol)
        assert mc.ok, (
            f"{div.id}: {entry_point} {kind} does not match the model: {mc.problem}; "
            f"worst {mc.worst()} (max abs {mc.max_abs_err}); actual={actual!r} model={model!r}")
        checked.append(kind)
    assert checked, f"{div.id}: nothing was checked for {entry_point} (kinds {div.kinds})"


# ----------------------------------------------------------------------------- meta tests
def test_ids_unique_and_slug_shaped() -> None:
    ids = [d.id for d in REGISTRY]
    assert len(ids) == len(set(ids)), "duplicate divergence id"
    for i in ids:
        assert SLUG.match(i), f"id {i!r} is not a lowercase slug"


@pytest.mark.parametrize("div", _entries())
def test_entry_is_documented(div: Divergence) -> None:
    for name in ("title", "trigger", "explanation", "link"):
        assert getattr(div, name).strip(), f"{div.id}: empty {name}"
    assert "http" in div.link, f"{div.id}: link has no URL"
    assert div.framework in _adapters(), f"{div.id}: framework {div.framework!r} has no plug-in"
    assert div.kinds and set(div.kinds) <= {"forward", "gradient"}
    from packaging.specifiers import SpecifierSet
    SpecifierSet(div.versions)  # parses
    call = div.example()
    assert div.applies(call), f"{div.id}: applies() is false on its own example"
    fwd, grad = div.model(call)
    assert fwd is not None
    if "gradient" in div.kinds:
        assert call.grad_output is not None and grad is not None, \
            f"{div.id}: gradient kind without a modelled gradient on its example"


@pytest.mark.parametrize("div", _entries())
def test_entry_points_exist(div: Divergence) -> None:
    ad = _adapters().get(div.framework)
    if ad is None or ad.available():
        pytest.skip(f"{div.framework} not available")
    names = [e.name for e in ad.entry_points()]
    for pat in div.entry_points:
        assert any(div.matches_entry_point(n) and __import__("fnmatch").fnmatchcase(n, pat)
                   for n in names), f"{div.id}: pattern {pat!r} matches no declared entry point"


def test_framework_version_parsing() -> None:
    assert str(framework_version("2.21.0 (extra 3.15.1)")) == "2.21.0"
    assert str(framework_version("2.13.0+cpu")) == "2.13.0"
    assert framework_version("unknown") is None
