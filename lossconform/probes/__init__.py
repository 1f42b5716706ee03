"""Convention probes: every claim of the conventions tables, measured.

Each probe (``base.Probe``) asks one entry point one question through the adapter's own
``evaluate`` and answers it with one line of text, the observation. Probes are defined once,
here, and every adapter (built-in or plug-in) gets every probe that applies to its entry
points (by op, input kind, target kinds, options, dtypes). The plug-in pins what it observes
per framework version (``pins``); ``lossconform/suite/test_conventions.py`` records each
observation (kind ``convention``) and fails when one stops matching its pin, saying what
changed. The README's and the report's conventions tables are built from the observations
(``table``).

Topics (``TOPICS``) and their probe modules: class_axis (``axis``); default_reduction,
from_logits_default (``defaults``); ignore_semantics (``ignore``); mean_divides_by
(``mean``); epsilon_or_clamp (``clip``); label_smoothing_formula (``smoothing``);
output_dtype_rules (``dtypes``); nan_inf_behaviour, determinism, argument_order
(``nonfinite``).
"""
from __future__ import annotations

from typing import Any, Mapping

from lossconform.contract import Adapter

from . import axis, clip, defaults, dtypes, ignore, mean, nonfinite, smoothing
from .base import Context, NotExpressible, Probe, Result

PROBES: tuple[Probe, ...] = (axis.PROBES + defaults.PROBES + ignore.PROBES + mean.PROBES
                             + clip.PROBES + smoothing.PROBES + dtypes.PROBES + nonfinite.PROBES)
PROBE_BY_ID: dict[str, Probe] = {p.id: p for p in PROBES}
assert len(PROBE_BY_ID) == len(PROBES), "probe ids must be unique"

#: topic -> what the tables call it, in table order
TOPICS: dict[str, str] = {
    "class_axis": "Class axis",
    "default_reduction": "Default reduction",
    "from_logits_default": "from_logits default",
    "ignore_semantics": "Ignored items and empty batches",
    "mean_divides_by": "What 'mean' divides by",
    "epsilon_or_clamp": "Clip and clamp points",
    "label_smoothing_formula": "Label smoothing",
    "output_dtype_rules": "Output dtypes and internal precision",
    "nan_inf_behaviour": "NaN, inf and subnormals",
    "determinism": "Determinism",
    "argument_order": "Argument order",
}
assert {p.topic for p in PROBES} <= set(TOPICS)


def applicable(adapter: Adapter) -> list[tuple[str, Probe]]:
    """(entry point, probe) for every probe that applies to an entry point of ``adapter``."""
    return [(spec.name, p) for spec in adapter.entry_points() for p in PROBES
            if p.applies_to(spec)]


def observe(adapter: Adapter, entry_point: str, probe: Probe | str,
            facets: Mapping[str, Any] | None = None) -> tuple[str, Context]:
    """Run one probe on one entry point: (the observation, the context with its calls).
    Raises ``NotExpressible`` when the adapter cannot make a call the probe needs."""
    p = PROBE_BY_ID[probe] if isinstance(probe, str) else probe
    spec = adapter.spec(entry_point)
    if spec is None:
        raise KeyError(f"{entry_point} is not an entry point of {adapter.framework}")
    ctx = Context(adapter, spec, dtype=p.dtype, facets=dict(facets or {}))
    return p.run(ctx), ctx


def observe_all(adapter: Adapter, facets: Mapping[str, Any] | None = None
                ) -> list[tuple[str, str, str]]:
    """(probe id, entry point, observation) for every applicable probe; a probe the adapter
    cannot express gives "not expressible: <reason>"."""
    out = []
    for ep, p in applicable(adapter):
        try:
            text, _ = observe(adapter, ep, p, facets)
        except NotExpressible as exc:
            text = f"not expressible: {exc}"
        out.append((p.id, ep, text))
    return out


__all__ = ["Context", "NotExpressible", "PROBES", "PROBE_BY_ID", "Probe", "Result", "TOPICS",
           "applicable", "observe", "observe_all"]
