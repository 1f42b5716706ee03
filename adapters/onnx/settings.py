"""Settings an ONNX Runtime user may have that can change the numbers (``Adapter.settings()``).

The plug-in's own sessions run single-threaded (``intra_op_num_threads = inter_op_num_threads
= 1``) with every graph optimization (ORT's default level, ORT_ENABLE_ALL). Two execution
modes (the ``mode`` facet) are what users commonly run instead:

* ``all-threads``: ONNX Runtime's default thread pools (one intra-op thread per core): MLAS
  splits Softmax/LogSoftmax by rows and the reductions of the loss operators' function bodies
  by blocks, so a sum's order may change;
* ``no-graph-optimizations``: ``graph_optimization_level = ORT_DISABLE_ALL`` (a one-node model
  has little to fuse; the function bodies are still expanded).

Measured (onnxruntime 1.32.0, 2 shared cores, so 'all-threads' is two threads): both leave
every output of the settings slice and every probe observation bitwise unchanged.
onnx.reference has no settings (NumPy, one order of operations).
"""
from __future__ import annotations

from lossconform.contract import Setting

_THREADS = "https://onnxruntime.ai/docs/performance/tune-performance/threading.html"
_GRAPH = "https://onnxruntime.ai/docs/performance/model-optimizations/graph-optimizations.html"

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "all-threads",
        "SessionOptions left at ONNX Runtime's defaults for threads (intra_op_num_threads = 0: "
        "one thread per physical core), what an InferenceSession gets unless told otherwise",
        kind="mode", mode="all-threads", source=_THREADS,
    ),
    Setting(
        "no-graph-optimizations",
        "graph_optimization_level = ORT_DISABLE_ALL (users switch optimizations off to debug "
        "or to compare with other runtimes)",
        kind="mode", mode="no-graph-optimizations", source=_GRAPH,
    ),
)


def settings(runtime: str) -> tuple[Setting, ...]:
    return SETTINGS if runtime == "onnxruntime" else ()


__all__ = ["SETTINGS", "settings"]
