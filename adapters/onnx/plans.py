"""One plan per call: the one-node ONNX model (as ``onnx.helper`` source), its feeds and the
runtime that runs it. ``evaluate`` executes that very source (once per model: the session is
cached) and ``repro`` prints it, so the two cannot drift apart.

Inputs have symbolic dimensions (``N``, ``C``, ``d1``, ...), so one model (and one ONNX
Runtime session or ``ReferenceEvaluator``) serves every call of the same operator, opset,
attributes, dtypes and input ranks: a session costs milliseconds to create, a run
microseconds. Sessions are single-threaded (``intra_op_num_threads = inter_op_num_threads =
1``) and kept in an LRU cache.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lossconform.capabilities import option_is_set
from lossconform.contract import Call

from .entry_points import BY_NAME, Entry

#: TensorProto element types and the NumPy dtype expressions of the four dtypes
PROTO = {"float16": "FLOAT16", "bfloat16": "BFLOAT16", "float32": "FLOAT", "float64": "DOUBLE"}
NUMPY = {"float16": "np.float16", "bfloat16": "ml_dtypes.bfloat16", "float32": "np.float32",
         "float64": "np.float64"}

#: how many sessions / evaluators are kept (each a few hundred kB)
CACHE_SIZE = 256


class Reason(Exception):
    """The call cannot be expressed by the entry point (its message is the reason)."""


@dataclass(frozen=True)
class Feed:
    name: str  # the graph input's name
    source: str  # "x" | "target" | "weight" | "zeros": where its value comes from
    dtype: str  # a float dtype name, or "int64"
    dims: tuple[str, ...]  # symbolic dimensions


@dataclass(frozen=True)
class Plan:
    entry: str
    runtime: str
    op_type: str
    opset: int
    attrs: tuple[tuple[str, Any], ...]
    feeds: tuple[Feed, ...]
    outputs: tuple[str, ...]  # the node's outputs
    fetch: str  # the output the entry point returns
    dtype: str
    mode: str = "default"  # ONNX Runtime's session options (MODES)

    @property
    def model_source(self) -> str:
        """onnx.helper code building ``model``: one node, typed inputs, symbolic dims."""
        lines = ["inputs = ["]
        for f in self.feeds:
            proto = "INT64" if f.dtype == "int64" else PROTO[f.dtype]
            lines.append(f"    helper.make_tensor_value_info({f.name!r}, TensorProto.{proto}, "
                         f"{list(f.dims)!r}),")
        lines.append("]")
        outs = ", ".join(f"helper.make_tensor_value_info({o!r}, TensorProto.{PROTO[self.dtype]}, "
                         "None)" for o in self.outputs)
        lines.append(f"outputs = [{outs}]")
        attrs = "".join(f", {k}={v!r}" for k, v in self.attrs)
        lines.append(f"node = helper.make_node({self.op_type!r}, "
                     f"{[f.name for f in self.feeds]!r}, {list(self.outputs)!r}{attrs})")
        lines.append("model = helper.make_model(helper.make_graph([node], 'lossconform', inputs, "
                     f"outputs), opset_imports=[helper.make_opsetid('', {self.opset})])")
        return "\n".join(lines) + "\n"

    @property
    def session_source(self) -> str:
        """Code creating ``session`` from ``model``."""
        if self.runtime == "onnxruntime":
            lines = ["options = ort.SessionOptions()"]
            if self.mode != "all-threads":
                lines += ["options.intra_op_num_threads = 1", "options.inter_op_num_threads = 1"]
            if self.mode == "no-graph-optimizations":
                lines.append("options.graph_optimization_level = "
                             "ort.GraphOptimizationLevel.ORT_DISABLE_ALL")
            lines.append("session = ort.InferenceSession(model.SerializeToString(), options, "
                         "providers=['CPUExecutionProvider'])")
            return "\n".join(lines) + "\n"
        return "session = ReferenceEvaluator(model)\n"

    @property
    def imports(self) -> str:
        lines = ["import numpy as np"]
        if any(f.dtype == "bfloat16" for f in self.feeds):
            lines.append("import ml_dtypes")
        lines.append("from onnx import TensorProto, helper")
        lines.append("import onnxruntime as ort" if self.runtime == "onnxruntime"
                     else "from onnx.reference import ReferenceEvaluator")
        return "\n".join(lines) + "\n"

    def feed_source(self) -> str:
        parts = []
        for f in self.feeds:
            np_dt = "np.int64" if f.dtype == "int64" else NUMPY[f.dtype]
            if f.source == "zeros":
                value = f"np.zeros(x.shape[:1] + x.shape[2:], dtype={np_dt})"
            else:
                value = f"np.asarray({f.source}).astype({np_dt})"
            parts.append(f"    {f.name!r}: {value},")
        return "feeds = {\n" + "\n".join(parts) + "\n}\n"

    def feeds_for(self, call: Call) -> dict[str, np.ndarray]:
        """The feeds ``feed_source`` builds, for ``call`` (the same conversions)."""
        out = {}
        for f in self.feeds:
            dt = np.int64 if f.dtype == "int64" else _np_dtype(f.dtype)
            if f.source == "zeros":
                out[f.name] = np.zeros(call.x.shape[:1] + call.x.shape[2:], dtype=dt)
            else:
                value = call.x if f.source == "x" else (
                    call.target if f.source == "target" else call.option("weight"))
                out[f.name] = np.asarray(value).astype(dt)
        return out


def _np_dtype(name: str) -> Any:
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(name).type


def _dims(ndim: int, classes_on_1: bool) -> tuple[str, ...]:
    if classes_on_1:
        return tuple(["N", "C"] + [f"d{i}" for i in range(1, ndim - 1)])[:ndim]
    return tuple(f"d{i}" for i in range(ndim))


#: ONNX Runtime's execution modes (the ``mode`` facet): "default" is the plug-in's session (one
#: thread, every graph optimization); the others are settings users have (settings.py)
MODES: tuple[str, ...] = ("default", "no-graph-optimizations", "all-threads")


def build_plan(entry_point: str, call: Call) -> Plan:
    plan = _build_plan(entry_point, call)
    mode = str(call.facet("mode", "default"))
    if mode != "default":
        if plan.runtime != "onnxruntime" or mode not in MODES:
            raise Reason(f"{plan.entry} has no execution mode {mode!r}")
        plan = replace(plan, mode=mode)
    return plan


def _build_plan(entry_point: str, call: Call) -> Plan:
    e: Entry = BY_NAME[entry_point]
    dtype = call.dtype
    nd = call.x.ndim
    attrs: list[tuple[str, Any]] = []
    if e.op_type in ("Softmax", "LogSoftmax"):
        arg = call.facet("axis_arg")
        if arg not in (None, "omitted"):
            raise Reason(f"{e.name}: the axis attribute is an int; it cannot be {arg!r}")
        if arg is None:
            attrs.append(("axis", int(call.axis)))
        x = Feed("x", "x", dtype, _dims(nd, False))
        return Plan(e.name, e.runtime, e.op_type, e.opset, tuple(attrs), (x,), ("y",), "y",
                    dtype)
    if call.facet("axis_arg") is not None:
        raise Reason(f"{e.name} has no axis attribute"
                     + (" (classes are dim 1 of (N, C, d1, ...))" if e.op_type != "Sigmoid"
                        else " (element-wise)"))
    if e.op_type == "Sigmoid":
        x = Feed("x", "x", dtype, _dims(nd, False))
        return Plan(e.name, e.runtime, e.op_type, e.opset, (), (x,), ("y",), "y", dtype)
    # the loss operators: (N, C, d1, ...) scores, (N, d1, ...) int64 labels
    if nd < 2:
        raise Reason(f"{e.name} takes scores of shape (N, C) or (N, C, d1, ...): a 1-D input is "
                     "outside the operator's definition (unsqueeze it to (1, C))")
    dims = _dims(nd, True)
    tdims = dims[:1] + dims[2:]
    if e.log_prob:
        feeds = (Feed("x", "x", dtype, dims), Feed("target", "zeros", "int64", tdims))
        return Plan(e.name, e.runtime, e.op_type, e.opset, (("reduction", "none"),), feeds,
                    ("loss", "log_prob"), "log_prob", dtype)
    feeds = [Feed("x", "x", dtype, dims), Feed("target", "target", "int64", tdims)]
    arg_dtypes = dict(call.facet("arg_dtypes") or {})
    if call.option("weight") is not None:
        feeds.append(Feed("weight", "weight", arg_dtypes.get("weight", dtype), ("C",)))
    omitted = tuple(call.facet("omit_args") or ())
    if "reduction" not in omitted:
        attrs.append(("reduction", call.reduction))
    ii = call.option("ignore_index")
    if option_is_set("ignore_index", ii):
        attrs.append(("ignore_index", int(ii)))
    return Plan(e.name, e.runtime, e.op_type, e.opset, tuple(attrs), tuple(feeds), ("loss",),
                "loss", dtype)


# -- sessions ----------------------------------------------------------------------------------
class Sessions:
    """An LRU cache of sessions (ONNX Runtime) / evaluators (onnx.reference) by model source."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self.misses = 0
        self.last_compile_seconds = 0.0

    def get(self, plan: Plan) -> Any:
        key = (plan.model_source, plan.session_source)
        hit = self._cache.get(key)
        self.last_compile_seconds = 0.0
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        t0 = time.perf_counter()
        ns: dict[str, Any] = {}
        exec(compile(plan.imports + plan.model_source + plan.session_source,  # noqa: S102
                     f"<lossconform onnx plan {plan.entry}>", "exec"), ns)
        session = ns["session"]
        self.last_compile_seconds = time.perf_counter() - t0
        self.misses += 1
        self._cache[key] = session
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return session

    def clear(self) -> None:
        self._cache.clear()


def run(plan: Plan, session: Any, call: Call) -> np.ndarray:
    feeds = plan.feeds_for(call)
    with np.errstate(all="ignore"):  # onnx.reference's NumPy warns on log(0), exp overflow
        (out,) = session.run([plan.fetch], feeds)
    return out


def source(plan: Plan) -> str:
    """The repro: build the model, create the session, run it; ``out`` is the result."""
    return (plan.imports + "\n" + plan.model_source + plan.session_source + plan.feed_source()
            + f"(out,) = session.run([{plan.fetch!r}], feeds)\nprint(out)\n")


__all__ = ["MODES", "Plan", "Reason", "Sessions", "build_plan", "run", "source"]
