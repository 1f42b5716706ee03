"""MLX adapter: ``mlx.core``'s softmax and sigmoid, ``mlx.nn``'s log-softmax and log-sigmoid,
and ``mlx.nn.losses``' cross-entropy, NLL and binary cross-entropy, on MLX's CPU backend.

One *plan* per call: the plan is Python source (a ``loss_fn`` calling the public function with
the call's static arguments, and a ``step`` taking the forward value and the vector-Jacobian
product through ``mx.vjp`` in one function). ``evaluate`` executes that very source and
``repro`` prints it, so the two cannot drift apart. mlx is imported only inside methods.

Execution modes (the ``mode`` facet): ``"eager"``, the default, is MLX's own default (arrays
are lazy: the graph is built op by op and evaluated by ``mx.eval``); ``"compiled"`` runs the
same step through ``mx.compile``, which fuses element-wise ops into kernels that MLX's CPU
backend writes as C++, compiles with the system compiler and keeps under
``$TMPDIR/mlx/<version>/cpu`` (so only the first run on a machine pays for them). The compiled
step is cached per plan source: logits, target, weights and cotangent are its arguments,
never constants, so one ``mx.compile`` serves every case with the same structure (MLX traces
again per new shape or dtype, a fraction of a millisecond). Note that ``mlx.nn.log_softmax``
and ``mlx.nn.log_sigmoid`` are themselves decorated ``mx.compile(shapeless=True)`` in MLX, so
they run compiled in the eager mode too (unless ``MLX_DISABLE_COMPILE`` is set).

MLX's CPU backend evaluates on one stream thread; it has no thread-count setting (BLAS,
which it links for matmuls only, is not used by these ops).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lossconform.capabilities import option_is_set
from lossconform.contract import Adapter, Call, EntryPointSpec, Evaluation, Output, Setting
from lossconform.ops import ACTIVATION, BINARY, OP

from . import entry_points as E
from . import invalid as _invalid
from .conventions import SOURCES
from .divergences import DIVERGENCES

#: execution modes (the ``mode`` facet); a call without the facet runs "eager"
MODES: tuple[str, ...] = ("eager", "compiled")
DEFAULT_MODE = "eager"

#: the public function each entry point calls, as written in the plan
_FUNCTION = {
    E.SOFTMAX: "mx.softmax", E.SOFTMAX_PRECISE: "mx.softmax", E.LOG_SOFTMAX: "nn.log_softmax",
    E.SIGMOID: "mx.sigmoid", E.LOG_SIGMOID: "nn.log_sigmoid", E.CE: "nn.losses.cross_entropy",
    E.NLL: "nn.losses.nll_loss", E.BCE: "nn.losses.binary_cross_entropy",
    E.BCE_LOGITS: "nn.losses.binary_cross_entropy",
}
#: entry points built on mx.logsumexp, which raises on an array of size 0
_EMPTY_RAISES = (E.LOG_SOFTMAX, E.CE)
#: argument names whose dtype the ``arg_dtypes`` facet can choose
ARG_NAMES: tuple[str, ...] = ("target", "weight", "sample_weight")
_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


@dataclass(frozen=True)
class _Plan:
    """How one Call maps onto mlx: the Python source of ``loss_fn`` and ``step``."""

    name: str
    args: tuple[str, ...]  # loss_fn's array arguments: ("xt",), ("xt", "tt"), ("xt", "tt", "wt")
    body: str  # the expression loss_fn returns
    target_dtype: str | None  # dtype of ``tt``
    weight: str | None  # the option ``wt`` carries ("weight" / "sample_weight"), if any
    weight_dtype: str | None
    dtype: str
    mode: str
    want_grad: bool
    activation: bool = False

    @property
    def definitions(self) -> str:
        """``loss_fn`` (and ``step``, for a gradient): the same text in evaluate and repro."""
        sig = ", ".join(self.args)
        lines = [f"def loss_fn({sig}):", f"    return {self.body}"]
        if self.want_grad:
            rest = "".join(f", {a}" for a in self.args[1:])
            lines += ["", "", f"def step({sig}, g):"]
            if self.activation:
                lines.append("    g = mx.broadcast_to(g, xt.shape)  # the output's shape")
            lines += [f"    (out,), (grad,) = mx.vjp(lambda v: loss_fn(v{rest}), [xt], [g])",
                      "    return out, grad"]
        return "\n".join(lines) + "\n"

    @property
    def runner(self) -> str:
        fn = "step" if self.want_grad else "loss_fn"
        return f"mx.compile({fn})" if self.mode == "compiled" else fn


def _axis_kw(call: Call) -> str:
    arg = call.facet("axis_arg")
    if arg == "omitted":
        return ""
    if arg == "none":
        return ", axis=None"
    return f", axis={int(call.axis)}"


def _plan(entry_point: str, call: Call) -> _Plan:
    spec = E.SPECS[entry_point]
    op = OP[spec.op]
    fn = _FUNCTION[entry_point]
    common = dict(dtype=call.dtype, mode=str(call.facet("mode", DEFAULT_MODE)),
                  want_grad=call.grad_output is not None)
    if op.family == ACTIVATION:
        kw = _axis_kw(call) if op.class_axis else ""
        if entry_point == E.SOFTMAX_PRECISE:
            kw += ", precise=True"
        return _Plan(entry_point, ("xt",), f"{fn}(xt{kw})", None, None, None, **common,
                     activation=True)

    arg_dtypes = dict(call.facet("arg_dtypes") or {})
    omit = set(call.facet("omit_args") or ())
    first, second = ("tt", "xt") if call.facet("swap_args") else ("xt", "tt")
    parts = [first, second]
    args: tuple[str, ...] = ("xt", "tt")
    weight = None
    for name in ("weight", "sample_weight"):
        if name in spec.capabilities.options and option_is_set(name, call.option(name)):
            weight = name
    if weight is not None:
        args += ("wt",)
        parts.append("weights=mx.broadcast_to(wt, xt.shape)" if op.family == BINARY
                     else "weights=wt")
    if entry_point in (E.CE, E.NLL):
        parts.append(_axis_kw(call).lstrip(", ") or None)
    ls = call.option("label_smoothing")
    if option_is_set("label_smoothing", ls):
        parts.append(f"label_smoothing={float(ls)!r}")
    if entry_point == E.BCE and "from_logits" not in omit:
        parts.append("with_logits=False")
    if "reduction" not in omit:
        parts.append(f"reduction={call.reduction!r}")
    body = f"{fn}({', '.join(p for p in parts if p)})"
    target = "int64" if call.target_kind == "index" else call.dtype
    target = arg_dtypes.get("target", target)
    wdt = arg_dtypes.get(weight, call.dtype) if weight else None
    return _Plan(entry_point, args, body, target, weight, wdt, **common)


#: executed plan definitions, by (source, runner): an mx.compile'd step keeps its own
#: per-shape/dtype traces, so one entry serves every case of the same structure
_RUNNERS: dict[tuple[str, str], Any] = {}
#: (source, runner, argument signature) already met: the first call of a compiled signature
#: traces and compiles (its time is the call's compile_seconds)
_SEEN: set[tuple[Any, ...]] = set()
_LOCK = threading.Lock()


def _runner(plan: _Plan) -> Any:
    key = (plan.definitions, plan.runner)
    hit = _RUNNERS.get(key)
    if hit is None:
        import mlx.core as mx
        import mlx.nn as nn

        ns: dict[str, Any] = {"mx": mx, "nn": nn}
        exec(compile(plan.definitions, f"<lossconform mlx plan {plan.name}>", "exec"), ns)  # noqa: S102
        hit = eval(plan.runner, ns)  # noqa: S307 (our own plan text)
        with _LOCK:
            _RUNNERS[key] = hit
    return hit


class MlxAdapter(Adapter):
    """``lossconform.contract.Adapter`` for MLX (mlx.core, mlx.nn, mlx.nn.losses), CPU."""

    framework = "mlx"
    convention_sources: Mapping[str, str] = SOURCES
    convention_pins_file = str(Path(__file__).with_name("convention_pins.json"))
    divergences = DIVERGENCES
    invalid_outcomes = _invalid.INVALID_OUTCOMES
    #: MLX_DISABLE_COMPILE turns every mx.compile (mlx.nn's own included) into plain calls
    numerics_variables = ("MLX_",)
    facets: Mapping[str, Sequence[Any]] = {
        "mode": MODES,
        "axis_arg": ("omitted", "none"),
        "arg_dtypes": ARG_NAMES,
        "swap_args": (True, False),
        "omit_args": ("reduction", "from_logits"),
    }

    # -- environment -------------------------------------------------------------------
    def available(self) -> str | None:
        try:
            import mlx.core as mx
            import mlx.nn  # noqa: F401

            mx.eval(mx.zeros((1,)) + 1)
        except ImportError as exc:
            return f"mlx is not installed ({exc}); on Linux install mlx[cpu] (mlx-cpu)"
        except Exception as exc:  # a broken install is a skip with a reason, not a crash
            return f"mlx cannot be used: {type(exc).__name__}: {exc}"
        return None

    def version(self) -> str:
        import mlx.core as mx

        return str(mx.__version__)

    def environment(self) -> Mapping[str, Any]:
        import mlx.core as mx

        return {"default_device": str(mx.default_device()),
                "metal_available": bool(mx.metal.is_available())}

    def settings(self) -> Sequence[Setting]:
        from .settings import SETTINGS

        return SETTINGS

    def entry_points(self) -> Sequence[EntryPointSpec]:
        return E.ENTRY_POINTS

    def warmup(self) -> None:
        import mlx.core as mx
        import mlx.nn as nn

        mx.eval(nn.losses.cross_entropy(mx.zeros((2, 3)), mx.array([0, 1])))

    def float_label_call(self, entry_point: str) -> Any:
        return _invalid.float_label_call(entry_point)

    def float_label_repro(self, entry_point: str) -> str:
        return _invalid.float_label_repro(entry_point)

    # -- capability (the rest is the entry points' Capabilities) -------------------------
    def extra_unsupported(self, spec: EntryPointSpec, call: Call) -> str | None:
        op = OP[spec.op]
        name = spec.name
        if name in _EMPTY_RAISES and np.size(call.x) == 0:
            return (f"{name} raises on an empty input (ValueError: [logsumexp] Received empty "
                    "array.; mx.logsumexp refuses any array of size 0, also a (0, C) batch: "
                    "https://github.com/ml-explore/mlx/blob/v0.32.4/mlx/ops.cpp, logsumexp); "
                    "mx.softmax returns the empty array")
        if call.facet("axis_arg") is not None and not op.class_axis:
            return f"{name} is element-wise: it has no axis argument"
        if call.target_kind == "index" and _reads_outside(call):
            return (f"{name} would gather a class index outside the logits' memory: MLX does "
                    "not bounds-check indices (\"Indexing out of bounds is undefined "
                    "behavior\", https://ml-explore.github.io/mlx/build/html/usage/"
                    "indexing.html), so the call reads arbitrary memory or crashes the "
                    "process; an index that lands in another item's logits is run (see the "
                    "invalid-input rows)")
        for arg, dt in dict(call.facet("arg_dtypes") or {}).items():
            if dt not in _FLOAT_DTYPES + ("int64", "int32"):
                return f"arg_dtypes: {dt!r} is not a dtype the mlx adapter builds"
            if arg == "target" and call.target is None:
                return f"{name} takes no target, so no target dtype can be chosen"
            if arg != "target" and (arg not in spec.capabilities.options
                                    or not option_is_set(arg, call.option(arg))):
                return f"{name} is given no {arg} here, so no {arg} dtype can be chosen"
        if call.facet("swap_args") and call.target is None:
            return f"{name} takes one array: there are no arguments to swap"
        omit = set(call.facet("omit_args") or ())
        if "reduction" in omit and not op.is_loss:
            return f"{name} takes no reduction argument to leave out"
        if "from_logits" in omit and op.family != BINARY:
            return (f"{name} has no from_logits/with_logits argument: it takes "
                    f"{OP[spec.op].input_kind.replace('_', '-')} only")
        return None

    # -- execution -------------------------------------------------------------------------
    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        import mlx.core as mx

        plan = _plan(entry_point, call)
        fn = _runner(plan)
        args = [mx.array(call.x, dtype=getattr(mx, plan.dtype))]
        if plan.target_dtype is not None:
            args.append(mx.array(call.target, dtype=getattr(mx, plan.target_dtype)))
        if plan.weight is not None:
            args.append(mx.array(call.option(plan.weight), dtype=getattr(mx, plan.weight_dtype)))
        if plan.want_grad:
            args.append(mx.array(call.grad_output, dtype=getattr(mx, plan.dtype)))
        compile_seconds = 0.0
        t0 = time.perf_counter()
        result = fn(*args)
        mx.eval(result)
        if plan.mode == "compiled":
            sig = (plan.definitions, plan.runner,
                   tuple((a.shape, str(a.dtype)) for a in args))
            if sig not in _SEEN:
                compile_seconds = time.perf_counter() - t0
                with _LOCK:
                    _SEEN.add(sig)
        if plan.want_grad:
            out, grad = result
            return Evaluation(_to_output(out), _to_output(grad), compile_seconds)
        return Evaluation(_to_output(result), None, compile_seconds)

    def repro(self, entry_point: str, call: Call) -> str:
        plan = _plan(entry_point, call)
        lines = ["import mlx.core as mx", "import mlx.nn as nn", "",
                 f"xt = mx.array(x, dtype=mx.{plan.dtype})"]
        if plan.target_dtype is not None:
            lines.append(f"tt = mx.array(target, dtype=mx.{plan.target_dtype})")
        if plan.weight is not None:
            lines.append(f"wt = mx.array({plan.weight}, dtype=mx.{plan.weight_dtype})")
        lines += ["", "", plan.definitions.rstrip("\n"), "", ""]
        args = ", ".join(plan.args)
        if plan.want_grad:
            lines.append(f"out, grad = {plan.runner}({args}, "
                         f"mx.array(grad_output, dtype=mx.{plan.dtype}))")
            lines += ["print(out)", "print(grad)"]
        else:
            lines += [f"out = {plan.runner}({args})", "print(out)"]
        return "\n".join(lines) + "\n"

    def to_numpy(self, value: Any) -> np.ndarray:
        if hasattr(value, "astype") and not isinstance(value, np.ndarray):
            import mlx.core as mx

            if isinstance(value, mx.array):
                return np.array(value.astype(mx.float64), dtype=np.float64)
        return np.asarray(value, dtype=np.float64)


def _reads_outside(call: Call) -> bool:
    """Whether an index target makes mx.take_along_axis read outside the logits' buffer:
    a negative index is wrapped once (i + C), then the flat offset of the gathered element
    in the row-major array is not bounds-checked."""
    x = np.asarray(call.x)
    t = np.asarray(call.target)
    if x.ndim == 0 or t.size == 0 or not np.issubdtype(t.dtype, np.integer):
        return False
    a = call.axis % x.ndim
    C = x.shape[a]
    strides = [int(np.prod(x.shape[k + 1:])) for k in range(x.ndim)]
    if t.shape != x.shape[:a] + x.shape[a + 1:]:
        return False  # a shape the function refuses before gathering
    item_axes = [k for k in range(x.ndim) if k != a]
    coords = np.indices(t.shape) if t.ndim else np.zeros((0,), dtype=np.int64)
    offset = np.where(t < 0, t + C, t) * strides[a]
    for j, k in enumerate(item_axes):
        offset = offset + coords[j] * strides[k]
    return bool(np.any((offset < 0) | (offset >= x.size)))


def _to_output(a: Any) -> Output:
    import mlx.core as mx

    value = np.array(a.astype(mx.float64), dtype=np.float64)  # exact upcast (bfloat16 too)
    return Output(value=value, dtype=str(a.dtype).removeprefix("mlx.core."))


ADAPTER = MlxAdapter()

__all__ = ["ADAPTER", "MlxAdapter", "MODES"]
