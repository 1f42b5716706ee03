"""ONNX operators run by two runtimes, two frameworks: ``onnxruntime`` (ONNX Runtime's CPU
execution provider) and ``onnx-reference`` (``onnx.reference.ReferenceEvaluator``, the NumPy
evaluator shipped with onnx).

Every call builds (once, then cached) a one-node model with ``onnx.helper``, inputs typed with
the call's dtype, and runs it (``plans.py``: the plan's source is what ``evaluate`` executes
and what ``repro`` prints). Forward only (``entry_points.GRADIENT_REASON``). Neither runtime
is imported at module level.

The plug-in in parts: ``entry_points.py`` (operators x opsets, per runtime, with their
capabilities), ``plans.py`` (the model, its feeds, the session cache), ``conventions.py``,
``divergences.py`` / ``div_*.py`` (models built from the reference), ``findings.py``,
``invalid.py``; conventions pinned per runtime in ``convention_pins_onnxruntime.json`` and
``convention_pins_onnx-reference.json``.
"""
from __future__ import annotations

import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lossconform.contract import Adapter, Call, EntryPointSpec, Evaluation, Output, Setting

from . import invalid as _invalid
from .conventions import sources
from .entry_points import BY_NAME, ENTRIES, GRADIENT_REASON
from .plans import MODES, Reason, Sessions, build_plan, run, source


@lru_cache(maxsize=None)
def _dist_version(name: str) -> str:
    return metadata.version(name)


class OnnxAdapter(Adapter):
    """``lossconform.contract.Adapter`` for ONNX operators on one runtime."""

    def __init__(self, runtime: str) -> None:
        from .divergences import divergences
        from .settings import settings

        self.runtime = runtime
        self.framework = runtime
        self.facets: Mapping[str, Sequence[Any]] = {
            "axis_arg": ("omitted",),
            "omit_args": ("reduction",),
            "arg_dtypes": ("weight",),
            **({"mode": MODES} if runtime == "onnxruntime" else {}),
        }
        self._settings = settings(runtime)
        self.convention_sources = sources(runtime)
        self.convention_pins_file = str(Path(__file__).with_name(
            f"convention_pins_{runtime}.json"))
        self.divergences = divergences(runtime)
        self.invalid_outcomes = _invalid.outcomes(runtime)
        self.numerics_variables = ("ORT_", "OMP_") if runtime == "onnxruntime" else ()
        self.sessions = Sessions()

    # -- installation -----------------------------------------------------------------------
    def available(self) -> str | None:
        try:
            import onnx  # noqa: F401

            if self.runtime == "onnxruntime":
                import onnxruntime  # noqa: F401
            else:
                import onnx.reference  # noqa: F401
        except ImportError as exc:
            return f"{self.runtime} is not installed ({exc})"
        except Exception as exc:  # a broken install is a skip with a reason, not a crash
            return f"{self.runtime} cannot be imported: {type(exc).__name__}: {exc}"
        return None

    def version(self) -> str:
        if self.runtime == "onnxruntime":
            import onnxruntime

            return str(onnxruntime.__version__)
        import onnx

        return str(onnx.__version__)

    def versions(self) -> Mapping[str, str]:
        import onnx

        out = {self.framework: self.version(), "onnx": str(onnx.__version__)}
        if self.runtime == "onnx-reference":  # the evaluator computes with NumPy (and ml_dtypes)
            out["numpy"] = str(np.__version__)
            out["ml_dtypes"] = _dist_version("ml_dtypes")
        return out

    def environment(self) -> Mapping[str, Any]:
        if self.runtime == "onnxruntime":
            import onnxruntime as ort

            return {"providers": "CPUExecutionProvider",
                    "available_providers": ",".join(ort.get_available_providers()),
                    "device": ort.get_device(), "intra_op_num_threads": 1,
                    "inter_op_num_threads": 1, "graph_optimization_level": "ORT_ENABLE_ALL",
                    "opsets": "ai.onnx 11 (Softmax, LogSoftmax), 13 (all)",
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "")}
        return {"evaluator": "onnx.reference.ReferenceEvaluator (NumPy)",
                "numpy": str(np.__version__), "opsets": "ai.onnx 11 (Softmax, LogSoftmax), 13"}

    def settings(self) -> Sequence[Setting]:
        return self._settings

    def entry_points(self) -> Sequence[EntryPointSpec]:
        return [e.spec for e in ENTRIES[self.runtime]]

    def warmup(self) -> None:
        name = f"onnx.Softmax-13@{self.runtime}"
        self.evaluate(name, Call("softmax", np.zeros((2, 3)), "float32"))

    # -- capability -------------------------------------------------------------------------
    def extra_unsupported(self, spec: EntryPointSpec, call: Call) -> str | None:
        e = BY_NAME[spec.name]
        if not e.is_loss or e.log_prob:
            for facet in ("omit_args", "arg_dtypes"):
                if call.facet(facet):
                    return f"{spec.name} takes one input and no reduction: nothing to {facet}"
        try:
            build_plan(spec.name, call)
        except Reason as exc:
            return str(exc)
        if call.x.size == 0 and call.x.ndim >= 2:
            return _empty_batch_reason(self.runtime, e)
        return None

    # -- running ----------------------------------------------------------------------------
    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        plan = build_plan(entry_point, call)
        session = self.sessions.get(plan)
        compile_seconds = self.sessions.last_compile_seconds
        out = run(plan, session, call)
        value = np.asarray(out).astype(np.float64)
        return Evaluation(Output(value, str(out.dtype)), None, compile_seconds)

    def repro(self, entry_point: str, call: Call) -> str:
        try:
            plan = build_plan(entry_point, call)
        except Reason as exc:
            return f"# unsupported: {exc}\n"
        return (f"# {GRADIENT_REASON}\n" if call.grad_output is not None else "") + source(plan)

    def to_numpy(self, value: Any) -> np.ndarray:
        return np.asarray(value).astype(np.float64)

    def float_label_call(self, entry_point: str) -> Any:
        return _invalid.float_label_call(self.runtime, entry_point)

    def float_label_repro(self, entry_point: str) -> str:
        return _invalid.float_label_repro(self.runtime, entry_point)


def _empty_batch_reason(runtime: str, e: Any) -> str | None:
    """The runtimes raise on a valid empty batch (N = 0) for these operators: a bug each,
    listed in the report; the call cannot be made, so it is not run."""
    if runtime == "onnxruntime" and e.op_type == "SoftmaxCrossEntropyLoss":
        return (f"{e.name} raises on an empty batch (N = 0): ONNX Runtime's expansion of the "
                "SoftmaxCrossEntropyLoss function body fails in a Reshape ('The input tensor "
                "cannot be reshaped to the requested shape'); a bug, not reported upstream yet")
    if runtime == "onnx-reference" and e.is_loss:
        return (f"{e.name} raises on an empty batch (N = 0): onnx.reference reshapes the input "
                "to (N, C, -1), which NumPy cannot do for a size-0 array ('ValueError: cannot "
                "reshape array of size 0 into shape (0,10,newaxis)'); a bug, not reported "
                "upstream yet")
    return None


ORT_ADAPTER = OnnxAdapter("onnxruntime")
REFERENCE_ADAPTER = OnnxAdapter("onnx-reference")
ADAPTERS = (ORT_ADAPTER, REFERENCE_ADAPTER)

__all__ = ["ADAPTERS", "ORT_ADAPTER", "REFERENCE_ADAPTER", "OnnxAdapter"]
