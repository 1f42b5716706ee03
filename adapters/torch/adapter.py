"""PyTorch adapter: softmax, sigmoid and the cross-entropy family through torch's public API.

Thin by design: each canonical ``Call`` becomes one *plan* (which public callable, which
keyword arguments, whether the class axis is moved, how the target is typed), and the same
plan drives both ``evaluate`` (the real call) and ``repro`` (the snippet a user can run), so
the two cannot drift apart. torch is imported only inside methods.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from lossconform.contract import DTYPES, Adapter, Call, EntryPointSpec, Evaluation, Output

from . import invalid as _invalid
from .divergences import DIVERGENCES

_TORCH_GH = "https://github.com/pytorch/pytorch/blob/main/"
_DOCS = "https://docs.pytorch.org/docs/stable/generated/"

# Options each canonical op can pass to torch (besides the always-accepted "reduction").
_OP_OPTIONS: dict[str, frozenset[str]] = {
    "softmax": frozenset(),
    "log_softmax": frozenset(),
    "sigmoid": frozenset(),
    "log_sigmoid": frozenset(),
    "cross_entropy": frozenset({"weight", "ignore_index", "label_smoothing", "reduction"}),
    "nll_loss": frozenset({"weight", "ignore_index", "reduction"}),
    "binary_cross_entropy": frozenset({"weight", "reduction"}),
    "binary_cross_entropy_with_logits": frozenset({"weight", "pos_weight", "reduction"}),
}
_CATEGORICAL = frozenset({"cross_entropy", "nll_loss"})
_BINARY = frozenset({"binary_cross_entropy", "binary_cross_entropy_with_logits"})
_ACTIVATIONS = frozenset({"softmax", "log_softmax", "sigmoid", "log_sigmoid"})
_REDUCTIONS = ("none", "mean", "sum")

# Why an option is missing, per op (shown to users as the skip reason).
_MISSING_OPTION: dict[tuple[str, str], str] = {
    ("cross_entropy", "sample_weight"): (
        "torch.nn.functional.cross_entropy / nn.CrossEntropyLoss have no sample_weight "
        "argument (only per-class `weight`)"
    ),
    ("nll_loss", "sample_weight"): (
        "torch.nn.functional.nll_loss / nn.NLLLoss have no sample_weight argument "
        "(only per-class `weight`)"
    ),
    ("nll_loss", "label_smoothing"): (
        "torch.nn.functional.nll_loss / nn.NLLLoss have no label_smoothing argument "
        "(only cross_entropy has one)"
    ),
    ("binary_cross_entropy", "label_smoothing"): (
        "torch binary_cross_entropy / nn.BCELoss have no label_smoothing argument"
    ),
    ("binary_cross_entropy_with_logits", "label_smoothing"): (
        "torch binary_cross_entropy_with_logits / nn.BCEWithLogitsLoss have no "
        "label_smoothing argument"
    ),
    ("binary_cross_entropy", "sample_weight"): (
        "torch binary_cross_entropy / nn.BCELoss have no sample_weight argument "
        "(only the element-wise rescaling `weight`)"
    ),
    ("binary_cross_entropy_with_logits", "sample_weight"): (
        "torch binary_cross_entropy_with_logits / nn.BCEWithLogitsLoss have no "
        "sample_weight argument (only the element-wise rescaling `weight`)"
    ),
    ("binary_cross_entropy", "ignore_index"): "torch binary losses have no ignore_index",
    ("binary_cross_entropy_with_logits", "ignore_index"): (
        "torch binary losses have no ignore_index"
    ),
    ("binary_cross_entropy", "pos_weight"): (
        "torch binary_cross_entropy / nn.BCELoss have no pos_weight (only the logits "
        "variant has one)"
    ),
}

_CLASS_DIM_NOTE = (
    "torch takes classes on dim 1 (dim 0 for 1-D input); another class axis is moved "
    "there with Tensor.movedim(axis, 1)"
)

_ENTRY_POINTS: tuple[EntryPointSpec, ...] = (
    EntryPointSpec("torch.nn.functional.softmax", "softmax", DTYPES, "dim=axis"),
    EntryPointSpec("torch.nn.functional.log_softmax", "log_softmax", DTYPES, "dim=axis"),
    EntryPointSpec("torch.sigmoid", "sigmoid", DTYPES, "element-wise"),
    EntryPointSpec("torch.nn.functional.logsigmoid", "log_sigmoid", DTYPES, "element-wise"),
    EntryPointSpec(
        "torch.nn.functional.cross_entropy", "cross_entropy", DTYPES,
        f"from logits; index (int64) or probability targets; {_CLASS_DIM_NOTE}; "
        "ignore_index=None is passed as torch's default (-100)",
    ),
    EntryPointSpec(
        "torch.nn.CrossEntropyLoss", "cross_entropy", DTYPES,
        f"loss object built with the options, then called; {_CLASS_DIM_NOTE}; "
        "ignore_index=None is passed as torch's default (-100)",
    ),
    EntryPointSpec(
        "torch.nn.functional.nll_loss", "nll_loss", DTYPES,
        f"on log-probabilities, index targets; {_CLASS_DIM_NOTE}",
    ),
    EntryPointSpec(
        "torch.nn.NLLLoss", "nll_loss", DTYPES,
        f"loss object built with the options, then called; {_CLASS_DIM_NOTE}",
    ),
    EntryPointSpec(
        "torch.nn.functional.binary_cross_entropy", "binary_cross_entropy", DTYPES,
        "on probabilities; target and weight in x's dtype",
    ),
    EntryPointSpec(
        "torch.nn.BCELoss", "binary_cross_entropy", DTYPES,
        "loss object built with the options, then called",
    ),
    EntryPointSpec(
        "torch.nn.functional.binary_cross_entropy_with_logits",
        "binary_cross_entropy_with_logits", DTYPES,
        "on logits; target, weight and pos_weight in x's dtype",
    ),
    EntryPointSpec(
        "torch.nn.BCEWithLogitsLoss", "binary_cross_entropy_with_logits", DTYPES,
        "loss object built with the options, then called",
    ),
)
_SPECS: dict[str, EntryPointSpec] = {spec.name: spec for spec in _ENTRY_POINTS}


def _src(path: str) -> str:
    return _TORCH_GH + path


CONVENTIONS: dict[str, dict[str, str]] = {
    "class_axis": {
        "value": "dim 1 for (N, C, d1, ...) inputs, dim 0 for 1-D (C,) input; softmax/"
        "log_softmax take an explicit dim (implicit dim is deprecated)",
        "source": _DOCS + "torch.nn.CrossEntropyLoss.html",
    },
    "target_formats": {
        "value": "cross_entropy: int64 class indices (shape of input without dim 1) or "
        "float class probabilities (shape of input, same dtype); nll_loss: indices only; "
        "binary losses: float targets of the input's shape and dtype",
        "source": _src("torch/nn/modules/loss.py") + " (CrossEntropyLoss docstring)",
    },
    "default_reduction": {
        "value": "mean",
        "source": _src("torch/nn/modules/loss.py") + " (_Loss.__init__: reduction='mean')",
    },
    "mean_divides_by": {
        "value": "index targets: sum of w[y_i] over non-ignored items (class-weighted "
        "mean); probability targets: number of items N*d1*..., class weights NOT in the "
        "denominator; ignored items: excluded from numerator and denominator (all ignored "
        "-> 0/0 = nan); sample weights: not available; binary losses: numel of the "
        "element-wise loss (weight only rescales the numerator)",
        "source": _src("torch/nn/modules/loss.py")
        + " (CrossEntropyLoss, NLLLoss, BCELoss docstrings)",
    },
    "from_logits_default": {
        "value": "fixed per function: cross_entropy and binary_cross_entropy_with_logits "
        "take logits; nll_loss takes log-probabilities; binary_cross_entropy takes "
        "probabilities; no from_logits flag",
        "source": _DOCS + "torch.nn.CrossEntropyLoss.html",
    },
    "epsilon_or_clamp": {
        "value": "binary_cross_entropy clamps each log term at >= -100 (loss per element "
        "at most 100*w), so p=0 or 1 with a wrong target gives 100, not inf; the gradient "
        "there is finite (eps-guarded: grad = (p - y) / max((1 - p) * p, 1e-12)); "
        "cross_entropy / nll / with_logits: no epsilon (log-sum-exp / log1p(exp) forms)",
        "source": _src("torch/nn/modules/loss.py")
        + " (BCELoss docstring: 'clamps its log function outputs to be greater than or "
        "equal to -100'); " + _src("aten/src/ATen/native/Loss.cpp") + " (EPSILON=1e-12 "
        "in binary_cross_entropy_backward)",
    },
    "label_smoothing_formula": {
        "value": "categorical (cross_entropy only): q = (1 - eps) * t + eps / C, with "
        "class weights applied per class inside the sum (loss = -sum_c w_c q_c log p_c); "
        "for index targets the mean still divides by sum w[y_i]; binary: not available",
        "source": _src("aten/src/ATen/native/LossNLL.cpp")
        + " (cross_entropy_loss_label_smoothing)",
    },
    "ignore_semantics": {
        "value": "ignore_index defaults to -100 (always active for index targets, so a "
        "target of -100 is silently ignored rather than rejected); ignored items give loss "
        "0 and zero gradient and leave the mean's denominator; explicit ignore_index with "
        "probability targets raises 'ignore_index is not supported for floating point "
        "target'",
        "source": _src("torch/nn/functional.py") + " (cross_entropy, nll_loss signatures)",
    },
    "output_dtype_rules": {
        "value": "output and gradient in the input's dtype (float16/bfloat16 kept; "
        "reductions accumulate internally in higher precision on CPU); weight, pos_weight "
        "and probability targets must share the input's dtype ('expected scalar type ... "
        "but found ...'); binary_cross_entropy_with_logits accepts a target of another "
        "dtype (torch 2.13: float64 input + float32 target gives a float32 loss); the "
        "adapter always passes them in the input's dtype",
        "source": _src("aten/src/ATen/native/LossNLL.cpp"),
    },
    "nan_inf_behaviour": {
        "value": "NaN inputs propagate; softmax of a row with +inf gives NaN; "
        "binary_cross_entropy raises for inputs outside [0, 1] ('all elements of input "
        "should be between 0 and 1') and clamps log(0) at -100; cross_entropy/nll raise "
        "on out-of-range class indices (CPU: 'Target k is out of bounds')",
        "source": _src("aten/src/ATen/native/Loss.cpp"),
    },
}


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


def _option_is_set(name: str, value: Any) -> bool:
    if value is None:
        return False
    if name == "label_smoothing":
        return float(value) != 0.0
    return True


def _plan(entry_point: str, call: Call) -> _Plan:
    spec = _SPECS[entry_point]
    op = spec.op
    is_module = entry_point.startswith("torch.nn.") and not entry_point.startswith(
        "torch.nn.functional."
    )
    if op in ("softmax", "log_softmax"):
        return _Plan(entry_point, False, {"dim": int(call.axis)})
    if op in _ACTIVATIONS:
        return _Plan(entry_point, False)

    kwargs: dict[str, Any] = {"reduction": call.reduction}
    tensors: list[str] = []
    for name in sorted(_OP_OPTIONS[op] - {"reduction"}):
        value = call.option(name)
        if not _option_is_set(name, value):
            continue  # absent / None: torch's own default applies
        if name in ("weight", "pos_weight"):
            tensors.append(name)
        elif name == "ignore_index":
            kwargs[name] = int(value)
        elif name == "label_smoothing":
            kwargs[name] = float(value)
    move_axis = None
    target = "x"
    if op in _CATEGORICAL:
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
        return _ENTRY_POINTS

    # -- capability ----------------------------------------------------------------------
    def unsupported(self, entry_point: str, call: Call) -> str | None:
        spec = _SPECS.get(entry_point)
        if spec is None:
            return f"{entry_point} is not a torch entry point of this adapter"
        op = spec.op
        if call.op != op:
            return f"{entry_point} computes {op}, not {call.op}"
        if call.dtype not in spec.dtypes:
            return f"{entry_point} does not accept {call.dtype}"
        if call.device not in ("cpu", "cuda"):
            return f"device {call.device!r} is not handled by the torch adapter"

        reduction = call.options.get("reduction")
        if op in _ACTIVATIONS:
            if reduction not in (None, "none"):
                return f"{entry_point} is element-wise; it has no reduction"
            for name, value in call.options.items():
                if name != "reduction" and _option_is_set(name, value):
                    return f"{entry_point} takes no {name}"
            return None

        if call.reduction not in _REDUCTIONS:
            return f"torch reduction must be one of {_REDUCTIONS}, not {call.reduction!r}"
        for name, value in call.options.items():
            if name == "reduction" or not _option_is_set(name, value):
                continue
            if name not in _OP_OPTIONS[op]:
                return _MISSING_OPTION.get((op, name), f"{entry_point} has no {name} option")

        if op == "cross_entropy":
            if call.target_kind not in ("index", "probs"):
                return f"{entry_point} needs index or probability targets"
            if call.target_kind == "probs" and call.option("ignore_index") is not None:
                return (
                    "torch raises 'ignore_index is not supported for floating point "
                    "target' for probability targets with an explicit ignore_index"
                )
        elif op == "nll_loss":
            if call.target_kind != "index":
                return f"{entry_point} takes class-index targets only"
        elif op in _BINARY:
            if call.target_kind not in (None, "probs"):
                return f"{entry_point} takes float targets of the input's shape only"
        if op in _CATEGORICAL and np.ndim(call.x) == 1:
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
