"""mylib adapter: softmax and cross-entropy through mylib's public API (TEMPLATE).

Thin by design, as the contract asks (lossconform/contract.py): NumPy float64 in, the
framework's own public function, float64 NumPy out. The adapter never knows a tolerance and
never computes an expected value; it declares which entry points exist and what each can
express (``Capabilities``), and runs them.

One *plan* per call (which public callable, which keyword arguments, how the target is
typed) drives both ``evaluate`` (the real call) and ``repro`` (the snippet a user runs from
the report), so the two cannot drift apart; each built-in plug-in (adapters/<name>/adapter.py)
is a complete example of the pattern.

Import mylib lazily, inside methods: listing the adapters (``lossconform.plugins``) must never
import a framework, and a framework that is not installed must become a visible skip with
the reason ``available()`` gives.

Every ``TODO`` marks a place where the author writes mylib's own calls or facts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from lossconform.capabilities import option_is_set
from lossconform.contract import (
    ALL_REDUCTIONS,
    ANY_AXIS,
    LAST_AXIS,
    Adapter,
    Call,
    Capabilities,
    EntryPointSpec,
    Evaluation,
    Output,
)

from . import invalid as _invalid
from .conventions import SOURCES
from .divergences import DIVERGENCES

#: What ``available()`` answers while this package is the template itself.
TEMPLATE_REASON = "template: copy adapters/_template to your own package first"
# True only in the template's own package; a copy under any other name runs. (You may delete
# this and the two lines that use it in ``available`` once you have copied the package.)
_IS_TEMPLATE = __name__.startswith("lossconform.adapters._template")

# -- entry points and what each can express --------------------------------------------------
# TODO: the dtypes mylib accepts, a subset of lossconform.contract.DTYPES
# ("float16", "bfloat16", "float32", "float64"). A dtype left out is reported as unsupported.
_DTYPES: tuple[str, ...] = ("float32", "float64")

# An entry point is one public function or loss class, named as users write it. Its
# Capabilities are data, read by lossconform.capabilities.unsupported_reason (through
# Adapter.unsupported) to derive the "unsupported" reason of a call, in this order: wrong op,
# dtype not in ``dtypes``, device not in ``devices``, a reduction on an activation or one not in
# ``reductions``, a set option not in ``options`` (the reason from ``missing_option_reasons`` or
# "<name> has no <option> option"), a target kind not in ``target_kinds``, a class axis that
# ``class_axes`` cannot take. Anything else goes in ``extra_unsupported`` below.
_ENTRY_POINTS: tuple[EntryPointSpec, ...] = (
    EntryPointSpec(
        name="mylib.nn.softmax",  # TODO: as written in user code
        op="softmax",  # canonical op, one of lossconform.ops.OPS
        dtypes=_DTYPES,
        notes="axis=axis",  # one line: how the canonical op maps onto the call (shown in the report)
        capabilities=Capabilities(class_axes=ANY_AXIS),  # activations: no target, no reduction
    ),
    EntryPointSpec(
        name="mylib.nn.log_softmax",  # TODO
        op="log_softmax",
        dtypes=_DTYPES,
        notes="axis=axis",
        capabilities=Capabilities(class_axes=ANY_AXIS),
    ),
    EntryPointSpec(
        name="mylib.nn.cross_entropy",  # TODO
        op="cross_entropy",
        dtypes=_DTYPES,
        notes="from logits; class axis last; int64 index or probability targets",
        capabilities=Capabilities(
            target_kinds=("index", "probs"),  # None (no target), "index", "probs"
            # option names from lossconform.contract.OPTION_NAMES it can pass ("reduction" is
            # governed by ``reductions``)
            options=frozenset({"weight", "ignore_index", "label_smoothing"}),
            reductions=ALL_REDUCTIONS,  # ("none", "mean", "sum")
            class_axes=LAST_AXIS,  # ANY_AXIS | LAST_AXIS | AXIS_1
            devices=("cpu",),  # TODO: e.g. ("cpu", "cuda")
            gradient=True,  # it gives a gradient wrt the input
            # the sentence users see when a case sets an option the entry point lacks; say how
            # to get the same effect if there is a way
            missing_option_reasons={
                "sample_weight": "mylib.nn.cross_entropy has no sample_weight argument "
                                 "(only per-class `weight`)",
            },
        ),
    ),
    # TODO: every other public entry point of the family: log_softmax-based nll_loss, loss
    # classes (``mylib.nn.CrossEntropyLoss``: options go to the constructor), the binary
    # losses, sigmoid / log_sigmoid. One entry point per way a user can compute the op.
)
_SPECS: dict[str, EntryPointSpec] = {s.name: s for s in _ENTRY_POINTS}


# -- the plan: one Call -> one mylib call, shared by evaluate and repro -----------------------
@dataclass(frozen=True)
class _Plan:
    name: str  # the public callable, as written in user code
    kwargs: dict[str, Any] = field(default_factory=dict)  # plain keyword arguments
    tensor_kwargs: tuple[str, ...] = ()  # option names passed as arrays in x's dtype
    target: str | None = None  # None | "int64" | "x" (the input's dtype)


def _plan(entry_point: str, call: Call) -> _Plan:
    spec = _SPECS[entry_point]
    if spec.op in ("softmax", "log_softmax"):
        return _Plan(entry_point, {"axis": int(call.axis)})  # TODO: mylib's keyword for the axis
    kwargs: dict[str, Any] = {"reduction": call.reduction}  # TODO: mylib's reduction names
    tensors: list[str] = []
    for name in sorted(spec.capabilities.options):
        value = call.option(name)
        if not option_is_set(name, value):
            continue  # absent / None / label_smoothing 0: mylib's own default applies
        if name in ("weight", "pos_weight", "sample_weight"):
            tensors.append(name)
        elif name == "ignore_index":
            kwargs[name] = int(value)
        elif name == "label_smoothing":
            kwargs[name] = float(value)
    target = "int64" if call.target_kind == "index" else "x"
    return _Plan(entry_point, kwargs, tuple(tensors), target)


class MylibAdapter(Adapter):
    """``lossconform.contract.Adapter`` for mylib. TODO: rename (class and framework)."""

    #: short name used on the command line (--frameworks mylib) and in the report; must be
    #: the name your entry point is registered under and every divergence's ``framework``
    framework = "mylib"
    #: topic -> where mylib documents it (conventions.py); the values are observed by the
    #: probes and pinned in the file below (python -m tools.pin_conventions)
    convention_sources: Mapping[str, str] = SOURCES
    convention_pins_file = str(Path(__file__).with_name("convention_pins.json"))
    #: lossconform.divergences.Divergence entries (divergences.py)
    divergences = DIVERGENCES
    #: lossconform.contract.InvalidOutcome rows, first match wins (invalid.py)
    invalid_outcomes = _invalid.INVALID_OUTCOMES
    #: set (if unset) before mylib is imported, when the plug-in is loaded: e.g. one thread,
    #: since pytest-xdist already runs one worker per core. TODO: mylib's variables.
    process_environment: Mapping[str, str] = {"MYLIB_NUM_THREADS": "1"}
    #: names or prefixes of environment variables that change mylib's numerics; their values
    #: are recorded in every run's results. TODO
    numerics_variables: Sequence[str] = ("MYLIB_",)

    # -- required ------------------------------------------------------------------------
    def available(self) -> str | None:
        """None if mylib can be used here; otherwise the reason, shown as the skip reason."""
        if _IS_TEMPLATE:
            return TEMPLATE_REASON
        try:
            import mylib  # noqa: F401  TODO: your framework's import
        except ImportError as exc:
            return f"mylib is not installed ({exc})"
        except Exception as exc:  # a broken install is a skip with a reason, not a crash
            return f"mylib cannot be imported: {type(exc).__name__}: {exc}"
        return None

    def version(self) -> str:
        """The version string users know (recorded with every result; divergences key on it)."""
        import mylib  # TODO

        return str(mylib.__version__)

    def entry_points(self) -> Sequence[EntryPointSpec]:
        return _ENTRY_POINTS

    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        """Run mylib on ``call``. Cast ``call.x`` (float64, exactly representable in
        ``call.dtype``) to ``call.dtype``; return float64 values and the dtype they came in.
        Raise whatever mylib raises: never catch it (a raise on a valid input is a finding,
        on an invalid one it is the outcome)."""
        import mylib  # TODO

        plan = _plan(entry_point, call)
        dtype = getattr(mylib, call.dtype)  # TODO: mylib's dtype object for a dtype name
        device = call.device  # TODO: mylib's device object, if it has devices

        def array(a: Any, dt: Any) -> Any:
            return mylib.asarray(np.asarray(a), dtype=dt, device=device)  # TODO

        x = array(call.x, dtype)
        args = [x]
        if plan.target is not None:
            args.append(array(call.target, mylib.int64 if plan.target == "int64" else dtype))
        kwargs = dict(plan.kwargs)
        for name in plan.tensor_kwargs:
            kwargs[name] = array(call.option(name), dtype)
        fn = _resolve(mylib, plan.name)

        if call.grad_output is None:
            return Evaluation(forward=_to_output(fn(*args, **kwargs)), gradient=None)
        # The gradient is the vector-Jacobian product d<out, grad_output>/dx, of x's shape,
        # with grad_output (float64, the output's shape) cast to the output's dtype.
        # TODO: mylib's own autodiff (its vector-Jacobian product with grad_output).
        out, vjp = mylib.autodiff.vjp(lambda xt: fn(xt, *args[1:], **kwargs), x)
        grad = vjp(array(call.grad_output, out.dtype))
        return Evaluation(forward=_to_output(out), gradient=_to_output(grad))

    def repro(self, entry_point: str, call: Call) -> str:
        """The snippet the report shows. It runs after a preamble that recreates ``x``,
        ``target``, ``weight``, ``pos_weight``, ``sample_weight``, ``grad_output`` (float64
        NumPy arrays or None); it must leave the forward result in ``out`` and, when
        ``grad_output`` is given, the gradient in ``grad`` (mylib objects: ``to_numpy``
        converts them). Built from the same plan as ``evaluate``; never imports mylib here."""
        plan = _plan(entry_point, call)
        dev = repr(call.device)
        lines = ["import mylib",  # TODO: every line below is mylib code
                 f"xt = mylib.asarray(x, dtype=mylib.{call.dtype}, device={dev})"]
        args = ["xt"]
        if plan.target is not None:
            tdt = "mylib.int64" if plan.target == "int64" else "xt.dtype"
            lines.append(f"tt = mylib.asarray(target, dtype={tdt}, device={dev})")
            args.append("tt")
        kw = [f"{k}={v!r}" for k, v in plan.kwargs.items()]
        kw += [f"{n}=mylib.asarray({n}, dtype=xt.dtype, device={dev})" for n in plan.tensor_kwargs]
        source = f"{plan.name}({', '.join(args + kw)})"
        if call.grad_output is None:
            lines.append(f"out = {source}")
        else:
            lines.append(f"out, vjp = mylib.autodiff.vjp(lambda xt: {source}, xt)")
            lines.append("grad = vjp(mylib.asarray(grad_output, dtype=out.dtype))")
        lines.append("print(out)")
        if call.grad_output is not None:
            lines.append("print(grad)")
        return "\n".join(lines) + "\n"

    # -- with defaults in Adapter: override what applies --------------------------------------
    def versions(self) -> Mapping[str, str]:
        """Package versions divergence entries may key on (``Divergence.package``). The default
        is {framework: version()}; add a package shipped apart from mylib whose version
        changes the numerics (a plug-in whose losses live in a separate package adds it). TODO"""
        return {self.framework: self.version()}

    def devices(self) -> Sequence[str]:
        """Devices this installation can run on; each entry point's ``Capabilities.devices``
        says which of them it takes. TODO: e.g. add "cuda" when mylib sees a GPU."""
        return ("cpu",)

    def extra_unsupported(self, spec: EntryPointSpec, call: Call) -> str | None:
        """Reasons beyond the capability data: a combination of options mylib rejects. The
        default ``unsupported`` asks this after the capabilities passed; keep it short."""
        if spec.op == "cross_entropy" and call.target_kind == "probs" \
                and call.option("ignore_index") is not None:
            return "mylib.nn.cross_entropy takes no ignore_index with probability targets"  # TODO
        return None

    def environment(self) -> Mapping[str, Any]:
        """Facts about this installation that change numerics (threads, build flags, GPUs,
        math-mode settings); recorded in every run's results. Called only when ``available()``
        is None. TODO"""
        import mylib  # TODO

        return {"num_threads": mylib.get_num_threads()}  # TODO

    def to_numpy(self, value: Any) -> np.ndarray:
        """A mylib value, as a repro snippet leaves it in ``out`` / ``grad``, as float64 NumPy."""
        return np.asarray(value, dtype=np.float64)  # TODO: e.g. value.numpy() for a device array

    def warmup(self) -> None:
        """Import mylib and run one tiny call, so timings exclude start-up."""
        import mylib  # TODO

        mylib.nn.softmax(mylib.asarray(np.zeros((2, 3), dtype=np.float32)), axis=-1)  # TODO

    def float_label_call(self, entry_point: str) -> Callable[[], Any] | None:
        """Float labels where indices are expected (invalid-input table; invalid.py)."""
        return _invalid.float_label_call(entry_point)

    def float_label_repro(self, entry_point: str) -> str:
        return _invalid.float_label_repro(entry_point)


def _resolve(module: Any, dotted: str) -> Any:
    """``mylib.nn.softmax`` -> the function object, by its public path only."""
    obj = module
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _to_output(value: Any) -> Output:
    """A mylib result as float64 values (the upcast is exact) and its dtype NAME, one of
    lossconform.contract.DTYPES (the checks compare it with the call's dtype)."""
    return Output(value=np.asarray(value, dtype=np.float64),  # TODO: mylib array -> NumPy
                  dtype=str(value.dtype))  # TODO: mylib dtype -> "float32" etc.


#: What discovery loads: the entry point ``mylib = "mylib_lossconform:ADAPTER"`` names it.
ADAPTER = MylibAdapter()

__all__ = ["ADAPTER", "MylibAdapter", "TEMPLATE_REASON"]
