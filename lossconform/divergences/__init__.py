"""The divergence registry, assembled from the plug-ins, and the lookup the harness uses.

Each plug-in brings its entries (``ADAPTER.divergences``); this package only assembles,
validates and searches them, and matches a framework's output against their models
(``explain``), for the check routine and the contract tests alike.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from lossconform.contract import Adapter, Call
from lossconform.divergences.entry import Divergence, ModelResult, framework_version

__all__ = ["Divergence", "ModelResult", "framework_version", "registry", "candidates",
           "explain", "model_compute_dtype"]


def registry(adapters: Mapping[str, Adapter] | None = None) -> tuple[Divergence, ...]:
    """Every entry of every plug-in; ids are unique and each entry belongs to its plug-in."""
    if adapters is None:
        from lossconform.plugins import load_adapters

        adapters = load_adapters()
    out: list[Divergence] = []
    seen: dict[str, str] = {}
    for name, adapter in adapters.items():
        for d in adapter.divergences:
            if not isinstance(d, Divergence):
                raise TypeError(f"{name}: divergences must hold Divergence entries, got {type(d).__name__}")
            if d.framework != name:
                raise ValueError(f"divergence {d.id!r} says framework {d.framework!r} but comes "
                                 f"from the {name!r} plug-in")
            if d.id in seen:
                raise ValueError(f"divergence id {d.id!r} is declared by {seen[d.id]!r} and {name!r}")
            seen[d.id] = name
            out.append(d)
    return tuple(out)


def candidates(adapter: Adapter, entry_point: str, call: Call, kind: str,
               versions: Mapping[str, str] | None = None) -> list[Divergence]:
    """The adapter's entries that could explain ``call`` on this entry point and kind.

    ``applies`` is evaluated last and any exception it raises counts as "does not apply"
    (it is a cheap screen, not a validator).
    """
    versions = adapter.versions() if versions is None else versions
    out: list[Divergence] = []
    for d in _screened(adapter, entry_point, kind, tuple(sorted(versions.items()))):
        try:
            ok = bool(d.applies(call))
        except Exception:
            ok = False
        if ok:
            out.append(d)
    return out


#: (adapter, entry point, kind, versions) -> the entries whose kinds, entry-point patterns and
#: version ranges admit them: fixed facts, screened once instead of at every failed check
_SCREENED: dict[tuple, tuple[object, tuple[Divergence, ...]]] = {}


def _screened(adapter: Adapter, entry_point: str, kind: str,
              versions: tuple[tuple[str, str], ...]) -> tuple[Divergence, ...]:
    divs = adapter.divergences
    key = (id(adapter), id(divs), entry_point, kind, versions)
    hit = _SCREENED.get(key)
    if hit is None or hit[0] is not divs:  # the same entries, not a namesake at a reused id
        vmap = dict(versions)
        hit = _SCREENED[key] = (divs, tuple(
            d for d in divs
            if kind in d.kinds and d.matches_entry_point(entry_point)
            and d.matches_versions(vmap)))
    return hit[1]


def model_compute_dtype(div: Divergence, dtype: str) -> str:
    """The dtype the framework computes in under this entry (its accuracy bounds the match)."""
    return div.compute_dtype or dtype


def explain(entries: Iterable[Divergence], call: Call, kind: str, actual: np.ndarray,
            tol, floor: float) -> Divergence | None:
    """The first entry whose model matches ``actual`` within the tolerance (in the dtype the
    framework computes in), or None."""
    from lossconform.harness.compare import compare
    from lossconform.harness.tolerances import tolerance

    for div in entries:
        try:
            m_fwd, m_grad = div.model(call)
        except Exception:
            continue
        model = m_fwd if kind == "forward" else m_grad
        if model is None:
            continue
        cdt = model_compute_dtype(div, call.dtype)
        mtol = tolerance(cdt, kind, tol.overrides) if cdt != call.dtype else tol
        if compare(actual, np.asarray(model, dtype=np.float64), cdt, mtol, floor).ok:
            return div
    return None
