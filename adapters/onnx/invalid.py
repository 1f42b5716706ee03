"""Each runtime's expected outcome on every invalid-input cell (measured with onnxruntime
1.32.0 / onnx 1.23.2, CPU; the rows printed by the contract suite, merged), and the direct
float-label call a ``Call`` cannot carry (a model whose labels input is typed float).

Neither runtime validates values; the empty batch of the loss operators is not run where
the runtime raises on it (a valid input: ``adapter._empty_batch_reason``).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lossconform.contract import InvalidOutcome
from lossconform.invalid import FLOAT_LABELS, LOGITS

from .entry_points import BY_NAME

ANY = r".*"

_ACT = r"onnx\.(Softmax|LogSoftmax)-1[13]@.*|onnx\.Sigmoid-13@.*"
_LOSS = r"onnx\.(SoftmaxCrossEntropyLoss|NegativeLogLikelihoodLoss)-13@.*"

_ROWS: dict[str, tuple[InvalidOutcome, ...]] = {
    # ONNX Runtime: GatherElements checks the class index (raises Fail; a negative index counts
    # from the end, as GatherElements allows [-C, C-1]); the labels' rank and type are checked
    # against the model's declared input (InvalidArgument / InvalidGraph at session creation);
    # NegativeLogLikelihoodLoss 'mean' over no item is 0 (ReduceMean of an empty tensor)
    "onnxruntime": (
        InvalidOutcome(_ACT, ANY, "empty_batch", "silent-empty"),
        InvalidOutcome(_LOSS, "index", "index_out_of_range", "raises:Fail"),
        InvalidOutcome(_LOSS, "index", "negative_index", "silent-finite"),
        InvalidOutcome(_LOSS, "index", "shape_mismatch|target_extra_dim", "raises:InvalidArgument"),
        InvalidOutcome(_LOSS, "index", "empty_batch", "silent-finite"),
        InvalidOutcome(_LOSS, "index", "float_labels", "raises:InvalidGraph"),
    ),
    # onnx.reference: NumPy indexing (IndexError out of range; a negative index counts from the
    # end); a target of another shape fails NumPy's reshape (ValueError) or, with an extra
    # trailing dimension of size 1, is reshaped silently; float labels fail NumPy's indexing
    "onnx-reference": (
        InvalidOutcome(_ACT, ANY, "empty_batch", "silent-empty"),
        InvalidOutcome(_LOSS, "index", "index_out_of_range|float_labels", "raises:IndexError"),
        InvalidOutcome(_LOSS, "index", "negative_index|target_extra_dim", "silent-finite"),
        InvalidOutcome(_LOSS, "index", "shape_mismatch", "raises:ValueError"),
    ),
}


def outcomes(runtime: str) -> tuple[InvalidOutcome, ...]:
    return _ROWS[runtime]


def _float_label_source(runtime: str, op_type: str) -> str:
    run = ("import onnxruntime as ort\n"
           "session = ort.InferenceSession(model.SerializeToString(), "
           "providers=['CPUExecutionProvider'])\n" if runtime == "onnxruntime" else
           "from onnx.reference import ReferenceEvaluator\n"
           "session = ReferenceEvaluator(model)\n")
    return (
        "import numpy as np\n"
        "from onnx import TensorProto, helper\n"
        "inputs = [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', 'C']),\n"
        "          helper.make_tensor_value_info('target', TensorProto.FLOAT, ['N'])]\n"
        "outputs = [helper.make_tensor_value_info('loss', TensorProto.FLOAT, None)]\n"
        f"node = helper.make_node({op_type!r}, ['x', 'target'], ['loss'], reduction='none')\n"
        "model = helper.make_model(helper.make_graph([node], 'lossconform', inputs, outputs), "
        "opset_imports=[helper.make_opsetid('', 13)])\n"
        + run +
        f"x = np.array({LOGITS.tolist()}, dtype=np.float32)\n"
        f"labels = np.array({list(map(float, FLOAT_LABELS))}, dtype=np.float32)\n"
        "(out,) = session.run(['loss'], {'x': x, 'target': labels})\n"
    )


def float_label_call(runtime: str, entry_point: str) -> Callable[[], Any] | None:
    e = BY_NAME.get(entry_point)
    if e is None or not e.is_loss or e.log_prob:
        return None
    src = _float_label_source(runtime, e.op_type)

    def run() -> Any:
        ns: dict[str, Any] = {}
        with np.errstate(all="ignore"):
            exec(compile(src, f"<float labels {entry_point}>", "exec"), ns)  # noqa: S102
        return np.asarray(ns["out"], dtype=np.float64)
    return run


def float_label_repro(runtime: str, entry_point: str) -> str:
    e = BY_NAME.get(entry_point)
    if e is None or not e.is_loss or e.log_prob:
        return ""
    return _float_label_source(runtime, e.op_type)
