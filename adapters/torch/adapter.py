"""PyTorch adapter: softmax, sigmoid and the cross-entropy family through torch's public API.

Thin by design: each canonical ``Call`` becomes one *plan* (which public callable, which
keyword arguments, whether the class axis is moved, how the target is typed), and the same
plan drives both ``evaluate`` (the real call) and ``repro`` (the snippet a user can run), so
the two cannot drift apart. torch is imported only inside methods.

What each entry point can express is data (``entry_points.py``: ``Capabilities``, from which
``Adapter.unsupported`` derives every reason); where each conventions topic is
documented is in ``conventions.py``; the observed conventions are pinned in ``convention_pins.json``.
"""
from __future__ import annotations

import types
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lossconform.capabilities import option_is_set
from lossconform.contract import Adapter, Call, EntryPointSpec, Evaluation, Output, Setting
from lossconform.ops import ACTIVATION, CATEGORICAL, OP

from . import invalid as _invalid
from .conventions import SOURCES
from .divergences import DIVERGENCES
from .entry_points import ENTRY_POINTS, SPECS


#: the execution modes this plug-in declares (the ``mode`` facet): "eager" is the plain call;
#: "torch.compile" compiles the entry point (the function, or the loss object) with
#: ``torch.compile(..., dynamic=False)`` (TorchInductor, the default backend; static shapes, so
#: a repro compiles exactly what evaluate ran) and calls the compiled callable
MODES: tuple[str, ...] = ("eager", "torch.compile")
#: dtype names an ``arg_dtypes`` facet may ask for (torch dtypes of the same name)
ARG_DTYPES: tuple[str, ...] = ("float16", "bfloat16", "float32", "float64", "int64", "int32")
#: the arguments an ``arg_dtypes`` facet may retype
ARG_NAMES: tuple[str, ...] = ("target", "weight", "pos_weight")


@dataclass(frozen=True)
class _Plan:
    """How one Call maps onto one torch call; shared by ``evaluate`` and ``repro``."""

    name: str  # public callable, as written in user code
    is_module: bool  # a loss class: options go to the constructor
    scalar_kwargs: dict[str, Any] = field(default_factory=dict)  # dim, reduction, ...
    tensor_kwargs: tuple[str, ...] = ()  # option names passed as tensors
    move_axis: int | None = None  # class axis moved to dim 1 before the call
    target: str | None = None  # None | the torch dtype name of the target tensor
    #: option name -> torch dtype name of that tensor (x's dtype unless ``arg_dtypes`` says)
    tensor_dtypes: dict[str, str] = field(default_factory=dict)
    swap: bool = False  # facet swap_args: f(target, input)
    mode: str = "eager"  # facet mode (MODES)

    def key(self) -> tuple:
        """A hashable identity of the plan (the compiled-callable cache key)."""
        return (self.name, self.is_module, tuple(sorted(self.scalar_kwargs.items())),
                self.tensor_kwargs, self.move_axis, self.target,
                tuple(sorted(self.tensor_dtypes.items())), self.swap, self.mode)


def _normalized_axis(axis: int, ndim: int) -> int:
    return axis + ndim if axis < 0 else axis


def _plan(entry_point: str, call: Call) -> _Plan:
    spec = SPECS[entry_point]
    op = OP[spec.op]
    is_module = entry_point.startswith("torch.nn.") and not entry_point.startswith(
        "torch.nn.functional."
    )
    arg_dtypes = dict(call.facet("arg_dtypes") or {})
    facets = dict(swap=bool(call.facet("swap_args", False)),
                  mode=str(call.facet("mode", "eager")))
    axis_arg = call.facet("axis_arg")
    if op.family == ACTIVATION:
        if not op.class_axis:
            return _Plan(entry_point, False, {}, **facets)
        dim: dict[str, Any] = {"dim": int(call.axis)}
        if axis_arg == "omitted":
            dim = {}  # torch's implicit-dim rule (_get_softmax_dim) applies
        elif axis_arg == "none":
            dim = {"dim": None}
        return _Plan(entry_point, False, dim, **facets)

    omit = set(call.facet("omit_args") or ())
    kwargs: dict[str, Any] = {} if "reduction" in omit else {"reduction": call.reduction}
    tensors: list[str] = []
    for name in sorted(spec.capabilities.options):
        value = call.option(name)
        if not option_is_set(name, value):
            continue  # absent / None: torch's own default applies
        if name in ("weight", "pos_weight"):
            tensors.append(name)
        elif name == "ignore_index":
            kwargs[name] = int(value)
        elif name == "label_smoothing":
            kwargs[name] = float(value)
    move_axis = None
    target = call.dtype
    if op.family == CATEGORICAL:
        ndim = np.ndim(call.x)
        if ndim >= 2 and _normalized_axis(call.axis, ndim) != 1 and axis_arg != "omitted":
            move_axis = int(call.axis)
        target = "int64" if call.target_kind == "index" else call.dtype
    target = arg_dtypes.get("target", target)
    dtypes = {name: arg_dtypes.get(name, call.dtype) for name in tensors}
    return _Plan(entry_point, is_module, kwargs, tuple(tensors), move_axis, target, dtypes,
                 **facets)


class TorchAdapter(Adapter):
    """``lossconform.contract.Adapter`` for PyTorch (CPU, plus CUDA when available)."""

    framework = "torch"
    convention_sources: Mapping[str, str] = SOURCES
    convention_pins_file = str(Path(__file__).with_name("convention_pins.json"))
    divergences = DIVERGENCES
    invalid_outcomes = _invalid.INVALID_OUTCOMES
    numerics_variables = ("TORCH_", "PYTORCH_", "ATEN_")
    #: how a call can be made beyond its values (lossconform.contract.FACET_NAMES); every one
    #: is honoured by ``evaluate`` and ``repro`` through the same plan
    facets: Mapping[str, Sequence[Any]] = {
        "mode": MODES,
        "axis_arg": ("omitted", "none"),
        "arg_dtypes": ARG_NAMES,
        "swap_args": (True, False),
        "omit_args": ("reduction",),
    }

    def settings(self) -> Sequence[Setting]:
        """The settings a user may have that change torch's numbers (``settings.py``)."""
        from .settings import SETTINGS

        return SETTINGS

    def float_label_call(self, entry_point: str) -> Any:
        return _invalid.float_label_call(entry_point)

    def float_label_repro(self, entry_point: str) -> str:
        return _invalid.float_label_repro(entry_point)

    def environment(self) -> Mapping[str, Any]:
        import torch

        env: dict[str, Any] = {"num_threads": torch.get_num_threads(),
                               "mkldnn": bool(torch.backends.mkldnn.is_available())}
        if torch.cuda.is_available():
            env["gpus"] = [f"cuda:{i} {torch.cuda.get_device_name(i)}"
                           for i in range(torch.cuda.device_count())]
            env["allow_tf32_matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)
        return env

    def to_numpy(self, value: Any) -> np.ndarray:
        return value.detach().cpu().double().numpy()

    def warmup(self) -> None:
        import torch

        torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.int64))

    # -- environment -------------------------------------------------------------------
    def available(self) -> str | None:
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            return f"torch is not installed ({exc})"
        except Exception as exc:  # a broken install is a skip with a reason, not a crash
            return f"torch cannot be imported: {type(exc).__name__}: {exc}"
        return None

    def version(self) -> str:
        import torch

        return str(torch.__version__)

    def devices(self) -> Sequence[str]:
        import torch

        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]

    def entry_points(self) -> Sequence[EntryPointSpec]:
        return ENTRY_POINTS

    # -- capability (the rest is the entry points' Capabilities) -------------------------
    def extra_unsupported(self, spec: EntryPointSpec, call: Call) -> str | None:
        explicit_ignore = option_is_set("ignore_index", call.option("ignore_index"))
        if call.target_kind == "probs" and explicit_ignore:
            return (
                "torch raises 'ignore_index is not supported for floating point "
                "target' for probability targets with an explicit ignore_index"
            )
        if OP[spec.op].family == CATEGORICAL and np.ndim(call.x) == 1:
            if _normalized_axis(call.axis, 1) != 0:
                return f"a 1-D input has its classes on dim 0, not {call.axis}"
        return _facet_reason(spec, call)

    # -- execution -------------------------------------------------------------------------
    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        import torch

        plan = _plan(entry_point, call)
        dtype = getattr(torch, call.dtype)
        device = torch.device(call.device)

        def tensor(a: Any, dt: Any) -> Any:
            return torch.as_tensor(np.asarray(a)).to(device=device, dtype=dt)

        want_grad = call.grad_output is not None
        x = tensor(call.x, dtype).requires_grad_(want_grad)
        inp = x.movedim(plan.move_axis, 1) if plan.move_axis is not None else x
        args = [inp]
        if plan.target is not None:
            args.append(tensor(call.target, getattr(torch, plan.target)))
        if plan.swap:
            args.reverse()
        options = dict(plan.scalar_kwargs)
        for name in plan.tensor_kwargs:
            options[name] = tensor(call.option(name), getattr(torch, plan.tensor_dtypes[name]))

        fn = _resolve(torch, plan.name)
        if plan.is_module:
            fn, options = fn(**options), {}
        if plan.mode == "torch.compile":
            out = _compiled(plan, args, options)(fn, *args, **options)
        else:
            out = fn(*args, **options)

        gradient = None
        if want_grad:
            cotangent = tensor(call.grad_output, out.dtype)
            (grad,) = torch.autograd.grad(out, x, grad_outputs=cotangent)
            gradient = _to_output(grad)
        return Evaluation(forward=_to_output(out), gradient=gradient)

    def repro(self, entry_point: str, call: Call) -> str:
        plan = _plan(entry_point, call)
        want_grad = call.grad_output is not None
        dev = repr(call.device)
        lines = [
            "import torch",
            f"xt = torch.as_tensor(x).to(device={dev}, dtype=torch.{call.dtype})"
            + (".requires_grad_()" if want_grad else ""),
        ]
        inp = "xt"
        if plan.move_axis is not None:
            lines.append(f"inp = xt.movedim({plan.move_axis}, 1)  # classes on dim 1")
            inp = "inp"
        args = [inp]
        if plan.target is not None:
            lines.append(f"tt = torch.as_tensor(target).to(device={dev}, "
                         f"dtype=torch.{plan.target})")
            args.append("tt")
        if plan.swap:
            args.reverse()
            lines.append("# arguments swapped: (target, input)")
        kw = [f"{k}={v!r}" for k, v in plan.scalar_kwargs.items()]
        for name in plan.tensor_kwargs:
            kw.append(f"{name}=torch.as_tensor({name}).to(device={dev}, "
                      f"dtype=torch.{plan.tensor_dtypes[name]})")
        compiled = plan.mode == "torch.compile"
        if plan.is_module:
            lines.append(f"loss_fn = {plan.name}({', '.join(kw)})")
            fn = "torch.compile(loss_fn, dynamic=False)" if compiled else "loss_fn"
            lines.append(f"out = {fn}({', '.join(args)})")
        elif compiled:
            lines.append(f"compiled = torch.compile({plan.name}, dynamic=False)")
            lines.append(f"out = compiled({', '.join(args + kw)})")
        else:
            lines.append(f"out = {plan.name}({', '.join(args + kw)})")
        lines.append("print(out)")
        if want_grad:
            lines.append(
                "(grad,) = torch.autograd.grad(out, xt, "
                f"torch.as_tensor(grad_output).to(device={dev}, dtype=out.dtype))"
            )
            lines.append("print(grad)")
        return "\n".join(lines) + "\n"


def _facet_reason(spec: EntryPointSpec, call: Call) -> str | None:
    """Why a call's facets cannot be made on this entry point (None: they can)."""
    op = OP[spec.op]
    name = spec.name
    axis_arg = call.facet("axis_arg")
    if axis_arg is not None:
        if not op.class_axis or op.family not in (ACTIVATION, CATEGORICAL):
            return f"{name} is element-wise: it has no class-axis argument to leave out or pass as None"
        if op.family == CATEGORICAL and axis_arg == "none":
            return (f"{name} has no class-axis argument (the classes are on dim 1, dim 0 of a "
                    "1-D input), so none can be passed as None")
    for arg, dt in dict(call.facet("arg_dtypes") or {}).items():
        if dt not in ARG_DTYPES:
            return (f"arg_dtypes: {dt!r} is not a dtype the torch adapter builds "
                    f"({', '.join(ARG_DTYPES)})")
        if arg == "target" and call.target is None:
            return f"{name} takes no target, so no target dtype can be chosen"
        if arg != "target" and not option_is_set(arg, call.option(arg)):
            return f"the call passes no {arg}, so no {arg} dtype can be chosen"
    if call.facet("swap_args") and call.target is None:
        return f"{name} takes one tensor: there are no arguments to swap"
    if "reduction" in (call.facet("omit_args") or ()) and not op.is_loss:
        return f"{name} takes no reduction argument to leave out"
    return None


#: compiled callables by (plan, argument signature); each compiles once (static shapes), so
#: compilations are bounded by the distinct calls made, never by dynamo's recompile limit
_COMPILED: "OrderedDict[tuple, Any]" = OrderedDict()
_COMPILED_MAX = 512


def _call_entry(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


def _compiled(plan: _Plan, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """``torch.compile`` of a call to the entry point, for this plan and these arguments.

    Each cache entry compiles a wrapper with a code object of its own: dynamo keeps its
    compilations per code object and silently falls back to eager execution after
    ``torch._dynamo.config.recompile_limit`` (8) recompilations of one, which a shared
    ``torch.compile(torch.nn.functional.cross_entropy)`` would reach within a few shapes. The
    wrapper only calls the entry point, so dynamo traces the same graph as
    ``torch.compile(entry_point, dynamic=False)`` in the repro.
    """
    import torch

    def sig(t: Any) -> Any:
        return (tuple(t.shape), str(t.dtype), t.requires_grad, str(t.device))

    key = (plan.key(), tuple(sig(a) for a in args),
           tuple((k, sig(v)) for k, v in sorted(kwargs.items()) if hasattr(v, "shape")),
           torch.is_grad_enabled())
    hit = _COMPILED.get(key)
    if hit is None:
        code = _call_entry.__code__.replace(co_name=f"lossconform_compiled_{len(_COMPILED)}")
        wrapper = types.FunctionType(code, _call_entry.__globals__, code.co_name)
        hit = _COMPILED[key] = torch.compile(wrapper, dynamic=False)
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    else:
        _COMPILED.move_to_end(key)
    return hit


def _resolve(torch: Any, dotted: str) -> Any:
    """``torch.nn.functional.softmax`` -> the function object (public path only)."""
    obj = torch
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _to_output(t: Any) -> Output:
    import torch

    value = t.detach().to(device="cpu", dtype=torch.float64).numpy()  # exact upcast
    return Output(value=np.array(value), dtype=str(t.dtype).removeprefix("torch."))


ADAPTER = TorchAdapter()

__all__ = ["ADAPTER", "TorchAdapter"]
