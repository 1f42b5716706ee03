"""What a convention probe is, and the context it runs in.

A probe asks one entry point one question ("which axis does an omitted class-axis argument
mean on a 3-D input?") by making a few calls through the adapter's ``evaluate`` and reading
the answer off the outputs (their shapes, values, NaN patterns, dtypes, the exceptions
raised), comparing them with the float64 reference where a candidate answer needs a value.
The answer is one line of text, the *observation*; the plug-in pins it per framework version
(``lossconform.probes.pins``) and the conventions tables are built from the observations.

A probe never knows a framework: it sees the entry point's ``EntryPointSpec`` (op, dtypes,
capabilities) and the adapter's declared facets, nothing else.
"""
from __future__ import annotations

import math
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from lossconform.contract import Adapter, Call, EntryPointSpec, Unsupported
from lossconform.dtypes import round_to
from lossconform.ops import OP


class NotExpressible(Exception):
    """The adapter cannot make a call the probe needs (an undeclared facet, an option the
    entry point lacks); ``str(exc)`` is the reason. The probe's record is ``unsupported``."""


@dataclass(frozen=True)
class Probe:
    """One question asked of every entry point it ``applies`` to."""

    id: str  # stable, dotted: "<topic>.<question>[.<variant>]"
    topic: str  # the conventions topic it answers (a row group of the tables)
    question: str  # one line, as the tables show it
    applies: Callable[[EntryPointSpec], bool]
    run: Callable[["Context"], str]
    dtype: str = "float32"  # the dtype the probe's calls run in (it must be accepted)
    module: str = ""  # the module that defines it (for the tables' links)

    def applies_to(self, spec: EntryPointSpec) -> bool:
        return self.dtype in spec.dtypes and bool(self.applies(spec))


@dataclass
class Result:
    """What one probe call gave: the forward value, its dtype and the gradient, or the
    exception the framework raised (type name and first line of its message)."""

    value: np.ndarray | None = None
    dtype: str | None = None
    grad: np.ndarray | None = None
    error: str | None = None  # "TypeName: first line"
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Context:
    """The entry point under probe, and a way to call it. ``facets`` are added to every call
    (a setting's execution mode, for instance); the first call made is kept for the repro."""

    adapter: Adapter
    spec: EntryPointSpec
    dtype: str = "float32"
    facets: Mapping[str, Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    @property
    def op(self) -> str:
        return self.spec.op

    def make_call(self, x: Any, *, dtype: str | None = None, axis: int = -1,
                  target: Any = None, target_kind: str | None = None,
                  options: Mapping[str, Any] | None = None, grad_output: Any = None,
                  facets: Mapping[str, Any] | None = None, op: str | None = None) -> Call:
        dt = dtype or self.dtype
        x = round_to(np.asarray(x, dtype=np.float64), dt)
        if target is not None:
            target = np.asarray(target)
            if target.dtype.kind == "f":
                target = round_to(target, dt)
        opts = {k: (round_to(v, dt) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v)
                for k, v in (options or {}).items()}
        return Call(op=op or self.op, x=x, dtype=dt, axis=axis, target=target,
                    target_kind=target_kind, options=opts,
                    grad_output=None if grad_output is None else np.asarray(grad_output, float),
                    facets={**dict(self.facets), **dict(facets or {})})

    def run(self, call: Call) -> Result:
        """Evaluate ``call``; NotExpressible when the adapter cannot make it."""
        reason = self.adapter.unsupported(self.spec.name, call)
        if reason:
            raise NotExpressible(reason)
        self.calls.append(call)
        try:
            ev = self.adapter.evaluate(self.spec.name, call)
        except Unsupported as exc:
            raise NotExpressible(str(exc)) from None
        except Exception as exc:  # the framework's own answer to the call: an observation
            first = (str(exc).strip().splitlines() or [""])[0][:160]
            return Result(error=f"{type(exc).__name__}: {first}", error_type=type(exc).__name__)
        grad = None if ev.gradient is None else np.asarray(ev.gradient.value, dtype=np.float64)
        return Result(value=np.asarray(ev.forward.value, dtype=np.float64),
                      dtype=ev.forward.dtype, grad=grad)

    def call(self, x: Any, **kw: Any) -> Result:
        return self.run(self.make_call(x, **kw))

    def can(self, **kw: Any) -> bool:
        """Whether the adapter can express a call with these arguments (nothing is run)."""
        x = kw.pop("x", np.zeros((2, 3)))
        return not self.adapter.unsupported(self.spec.name, self.make_call(x, **kw))


# -- helpers shared by the probe modules ------------------------------------------------------
def fmt(v: Any) -> str:
    """A number as the tables show it: 4 significant digits, nan/inf spelled out."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    return f"{v:.4g}"


def pattern(a: Any) -> str:
    """Values as a short list: numbers to 4 digits, nan/inf spelled out."""
    arr = np.asarray(a, dtype=np.float64).ravel()
    return "[" + ", ".join(fmt(v) for v in arr) + "]"


def raised(res: Result) -> str:
    return f"raises {res.error_type}"


def close(a: Any, b: Any, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def family(spec: EntryPointSpec) -> str:
    return OP[spec.op].family


def input_kind(spec: EntryPointSpec) -> str:
    return OP[spec.op].input_kind


def takes(spec: EntryPointSpec, *options: str) -> bool:
    return all(o in spec.capabilities.options for o in options)


def reduces(spec: EntryPointSpec, *reductions: str) -> bool:
    return all(r in spec.capabilities.reductions for r in reductions)


def error_text() -> str:  # pragma: no cover - debugging aid for probe authors
    return traceback.format_exc()
