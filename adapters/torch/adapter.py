"""PyTorch adapter: softmax, sigmoid and the cross-entropy family through torch's public API.

Thin by design: each canonical ``Call`` becomes one *plan* (which public callable, which
keyword arguments, whether the class axis is moved, how the target is typed), and the same
plan drives both ``evaluate`` (the real call) and ``repro`` (the snippet a user can run), so
the two cannot drift apart. torch is imported only inside methods.

What each entry point can express is data (``entry_points.py``: ``Capabilities``, from which
``Adapter.unsupported`` derives every reason); the conventions are in ``conventions.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from lossconform.capabilities import option_is_set
from lossconform.contract import Adapter, Call, EntryPointSpec, Evaluation, Output
from lossconform.ops import ACTIVATION, CATEGORICAL, OP

from . import invalid as _invalid
from .conventions import CONVENTIONS
from .divergences import DIVERGENCES
from .entry_points import ENTRY_POINTS, SPECS


@dataclass(frozen=True)
class _Plan:
    """How one Call maps onto one torch call; shared by ``evaluate`` and ``repro``."""

    name: str  # public callable, as written in user code
    is_module: bool  # a loss class: options go to the constructor
    scalar_kwargs: dict[str, Any] = field(default_factory=dict)  # dim, reduction, ...
    tensor_kwargs: tuple[str, ...] = ()  # option names passed as tensors in x's dtype
    move_axis: int | None = None  # class axis moved to dim 1 before the call
    target: str | None = None  # None | "int64" | "x" (x's dtype)


def _normalized_axis(axis: int, ndim: int) -> int:
    return axis + ndim if axis < 0 else axis


def _plan(entry_point: str, call: Call) -> _Plan:
    spec = SPECS[entry_point]
    op = OP[spec.op]
    is_module = entry_point.startswith("torch.nn.") and not entry_point.startswith(
        "torch.nn.functional."
    )
    if op.family == ACTIVATION:
        return _Plan(entry_point, False, {"dim": int(call.axis)} if op.class_axis else {})

    kwargs: dict[str, Any] = {"reduction": call.reduction}
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
    target = "x"
    if op.family == CATEGORICAL:
        ndim = np.ndim(call.x)
        if ndim >= 2 and _normalized_axis(call.axis, ndim) != 1:
            move_axis = int(call.axis)
        target = "int64" if call.target_kind == "index" else "x"
    return _Plan(entry_point, is_module, kwargs, tuple(tensors), move_axis, target)


class TorchAdapter(Adapter):
    """``lossconform.contract.Adapter`` for PyTorch (CPU, plus CUDA when available)."""

    framework = "torch"
    conventions: Mapping[str, Any] = CONVENTIONS
    divergences = DIVERGENCES
    invalid_outcomes = _invalid.INVALID_OUTCOMES
    numerics_variables = ("TORCH_", "PYTORCH_")

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
        return None

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
            args.append(tensor(call.target, torch.int64 if plan.target == "int64" else dtype))
        options = dict(plan.scalar_kwargs)
        for name in plan.tensor_kwargs:
            options[name] = tensor(call.option(name), dtype)

        fn = _resolve(torch, plan.name)
        out = fn(**options)(*args) if plan.is_module else fn(*args, **options)

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
            tdt = "torch.int64" if plan.target == "int64" else "xt.dtype"
            lines.append(f"tt = torch.as_tensor(target).to(device={dev}, dtype={tdt})")
            args.append("tt")
        kw = [f"{k}={v!r}" for k, v in plan.scalar_kwargs.items()]
        for name in plan.tensor_kwargs:
            kw.append(f"{name}=torch.as_tensor({name}).to(device={dev}, dtype=xt.dtype)")
        if plan.is_module:
            lines.append(f"loss_fn = {plan.name}({', '.join(kw)})")
            lines.append(f"out = loss_fn({', '.join(args)})")
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

__all__ = ["ADAPTER", "CONVENTIONS", "TorchAdapter"]
