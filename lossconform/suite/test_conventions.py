"""Conventions, measured: every probe (``lossconform.probes``) on every entry point of every
plug-in it applies to, its observation recorded (kind ``convention``) and held to the
plug-in's pin for the installed versions (``Adapter.convention_pins``).

A framework that changes a convention fails here with the pinned and the observed text side by
side; an installed version with no pin fails with the observation and the command that pins
it. A probe the adapter cannot express (an undeclared facet) is recorded ``unsupported`` with
the reason, and skipped.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from lossconform.plugins import load_adapters
from lossconform.pytest_plugin import slug
from lossconform.probes import PROBE_BY_ID, TOPICS, NotExpressible, applicable, observe
from lossconform.probes.pins import lookup, nearest
from lossconform.record import CheckRecord
from lossconform.reports.pytest_plugin import record

_ADAPTERS = load_adapters()
PIN_COMMAND = "python -m tools.pin_conventions --frameworks {fw}"


def _cells() -> list[Any]:
    return [pytest.param(fw, ep, p.id, id=slug(f"{fw}-{ep}-{p.id}"),
                         marks=pytest.mark.framework(fw))
            for fw, adapter in _ADAPTERS.items() for ep, p in applicable(adapter)]


def _array(name: str, a: Any) -> str:
    a = np.asarray(a)
    dt = "np.int64" if a.dtype.kind in "iu" else "np.float64"
    text = repr(a.tolist()).replace("nan", "np.nan").replace("inf", "np.inf")
    return f"{name} = np.array({text}, dtype={dt})"


def repro(adapter: Any, entry_point: str, ctx: Any) -> str:
    """The first call the probe made, as a runnable snippet (inputs written out)."""
    if not ctx.calls:
        return ""
    call = ctx.calls[0]
    lines = [f"# the first of the {len(ctx.calls)} call(s) probe made", "import numpy as np",
             _array("x", call.x)]
    lines.append(_array("target", call.target) if call.target is not None else "target = None")
    for name in ("weight", "pos_weight", "sample_weight"):
        v = call.option(name)
        lines.append(_array(name, v) if v is not None else f"{name} = None")
    lines.append(_array("grad_output", call.grad_output) if call.grad_output is not None
                 else "grad_output = None")
    return "\n".join(lines) + "\n" + adapter.repro(entry_point, call)


@pytest.mark.parametrize(("fw", "entry_point", "probe_id"), _cells())
def test_convention(request: pytest.FixtureRequest, fw: str, entry_point: str,
                    probe_id: str) -> None:
    adapter = _ADAPTERS[fw]
    reason = adapter.available()
    if reason:
        pytest.skip(reason)
    probe = PROBE_BY_ID[probe_id]
    spec = adapter.spec(entry_point)
    version = adapter.version()
    base = dict(id=f"probe-{probe.id}", op=spec.op, entry_point=entry_point, framework=fw,
                framework_version=version, dtype=probe.dtype, kind="convention",
                nodeid=request.node.nodeid,
                case={"probe": probe.id, "topic": probe.topic, "topic_title": TOPICS[probe.topic],
                      "question": probe.question, "module": probe.module,
                      "source": adapter.convention_sources.get(probe.topic, "")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            observed, ctx = observe(adapter, entry_point, probe)
        except NotExpressible as exc:
            record(request, CheckRecord(verdict="unsupported", message=str(exc), **base))
            pytest.skip(f"{probe.id}: not expressible by the {fw} adapter: {exc}")
    installed = adapter.versions()
    pinned, _ = lookup(adapter.convention_pins, installed, probe.id, entry_point)
    ok = pinned == observed
    if pinned is None:
        near = nearest(adapter.convention_pins, probe.id, entry_point)
        message = (f"nothing pinned for {probe.id} on {entry_point} with "
                   f"{', '.join(f'{k} {v}' for k, v in installed.items())}; observed: {observed!r}"
                   + (f"; last pinned for {dict(near[1].versions)}: {near[0]!r}"
                      f" ({'unchanged' if near[0] == observed else 'CHANGED'})" if near else "")
                   + f". Pin it: {PIN_COMMAND.format(fw=fw)}")
    elif not ok:
        message = (f"{probe.id} on {entry_point} ({fw} {version}) changed: pinned {pinned!r}, "
                   f"observed {observed!r}. Question: {probe.question}. If the framework "
                   f"changed on purpose, re-pin: {PIN_COMMAND.format(fw=fw)} and review the diff")
    else:
        message = None
    record(request, CheckRecord(verdict="agree" if ok else "fail", observed=observed,
                                pinned=pinned, message=message,
                                repro=repro(adapter, entry_point, ctx), **base))
    assert ok, message
