"""Running the slice and the probes in this process, and keeping what came out.

``observe`` makes every call of the slice (``slice.items``) with the given facets (an
execution mode) and runs the convention probes (``lossconform.probes``: every probe on the
first entry point of each op; a compiling setting only ``COMPACT_TOPICS``), keeping
each output (forward and gradient values as float64 and their dtypes), each exception
(type and first line), each call's time, and each probe's observation. An ``Observation``
is saved as one ``.npz`` file (arrays plus a JSON header) so that a fresh process can
write it and the test process read it back.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lossconform.contract import Adapter, Unsupported

from .slice import Item, items as slice_items

#: topics of the probes a compiling setting runs, on the first entry point of each op (each
#: new probe call compiles: about 2 s on a cold compiler cache): how NaN and infinities flow
#: through the compiled kernels, and what swapped arguments do
COMPACT_TOPICS: tuple[str, ...] = ("nan_inf_behaviour", "argument_order")


@dataclass
class Outcome:
    """What one call of the slice gave."""

    key: str
    entry_point: str
    case: str
    dtype: str
    forward: np.ndarray | None = None
    forward_dtype: str | None = None
    gradient: np.ndarray | None = None
    gradient_dtype: str | None = None
    error: str | None = None  # "TypeName: first line" when the framework raised
    unsupported: str | None = None  # the adapter cannot make this call (under the facets)
    seconds: float = 0.0

    def header(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("forward", "gradient")}
        d["has_forward"] = self.forward is not None
        d["has_gradient"] = self.gradient is not None
        return d


@dataclass
class Observation:
    """Everything one setting's run gave: the slice's outcomes and the probes' observations."""

    framework: str
    version: str
    setting: str  # "" for the baseline
    facets: dict[str, Any] = field(default_factory=dict)
    compact: bool = False
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    #: (probe id, entry point) -> observation text
    probes: dict[tuple[str, str], str] = field(default_factory=dict)
    seconds: float = 0.0
    probe_seconds: float = 0.0
    environment: dict[str, str] = field(default_factory=dict)

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        header = {k: v for k, v in asdict(self).items() if k not in ("outcomes", "probes")}
        header["outcomes"] = []
        for i, o in enumerate(self.outcomes.values()):
            header["outcomes"].append(o.header())
            if o.forward is not None:
                arrays[f"f{i}"] = np.asarray(o.forward, dtype=np.float64)
            if o.gradient is not None:
                arrays[f"g{i}"] = np.asarray(o.gradient, dtype=np.float64)
        header["probes"] = [[p, ep, text] for (p, ep), text in self.probes.items()]
        arrays["header"] = np.array(json.dumps(header, default=str))
        tmp = Path(str(path) + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "Observation":
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            obs = cls(**{k: v for k, v in header.items() if k not in ("outcomes", "probes")})
            for i, h in enumerate(header["outcomes"]):
                has_f, has_g = h.pop("has_forward"), h.pop("has_gradient")
                o = Outcome(**h)
                o.forward = np.array(data[f"f{i}"]) if has_f else None
                o.gradient = np.array(data[f"g{i}"]) if has_g else None
                obs.outcomes[o.key] = o
            obs.probes = {(p, ep): text for p, ep, text in header["probes"]}
        return obs


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {text}".rstrip(": ").strip()


def call_for(item: Item, facets: Mapping[str, Any], seed: int = 0, device: str = "cpu"):
    """The Call of one slice item, with the setting's facets added."""
    call = item.case.call(item.dtype, seed=seed, device=device)
    return call.replace(facets={**dict(call.facets), **dict(facets)}) if facets else call


def run_item(adapter: Adapter, item: Item, facets: Mapping[str, Any], seed: int = 0,
             device: str = "cpu") -> Outcome:
    out = Outcome(item.key, item.entry_point, item.case.id, item.dtype)
    call = call_for(item, facets, seed, device)
    reason = adapter.unsupported(item.entry_point, call)
    if reason:
        out.unsupported = reason
        return out
    t0 = time.perf_counter()
    try:
        ev = adapter.evaluate(item.entry_point, call)
    except Unsupported as exc:
        out.unsupported = str(exc)
        return out
    except Exception as exc:  # the framework's answer, kept as an observation
        out.error = _first_line(exc)
        out.seconds = time.perf_counter() - t0
        return out
    out.seconds = time.perf_counter() - t0
    out.forward = np.asarray(ev.forward.value, dtype=np.float64)
    out.forward_dtype = ev.forward.dtype
    if ev.gradient is not None:
        out.gradient = np.asarray(ev.gradient.value, dtype=np.float64)
        out.gradient_dtype = ev.gradient.dtype
    return out


def observe(adapter: Adapter, setting: str = "", facets: Mapping[str, Any] | None = None,
            *, compact: bool = False, seed: int = 0, device: str = "cpu",
            probes: bool = True, dtypes: Sequence[str] | None = None) -> Observation:
    """Run the slice (and the probes) in this process with ``facets`` on every call."""
    facets = dict(facets or {})
    obs = Observation(adapter.framework, adapter.version(), setting, facets, compact)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for item in slice_items(adapter, compact=compact, dtypes=dtypes, device=device,
                                seed=seed):
            obs.outcomes[item.key] = run_item(adapter, item, facets, seed, device)
        obs.seconds = time.perf_counter() - t0
        if probes:
            t1 = time.perf_counter()
            obs.probes = run_probes(adapter, facets, compact)
            obs.probe_seconds = time.perf_counter() - t1
    return obs


def run_probes(adapter: Adapter, facets: Mapping[str, Any], compact: bool
               ) -> dict[tuple[str, str], str]:
    """(probe id, entry point) -> observation, on the first entry point of each op (the
    settings act on kernels, which the entry points of one op share; every entry point is in
    the slice); compact: the probes of ``COMPACT_TOPICS`` only."""
    from lossconform.probes import NotExpressible, applicable, observe as observe_one

    firsts: dict[str, str] = {}
    for spec in adapter.entry_points():
        firsts.setdefault(spec.op, spec.name)
    out: dict[tuple[str, str], str] = {}
    for ep, probe in applicable(adapter):
        if firsts.get(adapter.spec(ep).op) != ep or (compact and probe.topic not in COMPACT_TOPICS):
            continue
        try:
            text, _ = observe_one(adapter, ep, probe, facets or None)
        except NotExpressible as exc:
            text = f"not expressible: {exc}"
        except Exception as exc:  # a probe that breaks says so, and the rest still run
            text = f"probe error: {_first_line(exc)}"
        out[(probe.id, ep)] = text
    return out


__all__ = ["COMPACT_TOPICS", "Observation", "Outcome", "call_for", "observe", "run_item",
           "run_probes"]
