"""ONNX Runtime's and onnx.reference's divergences that are bugs rather than design choices
(``Divergence.finding``; lossconform/suite/test_findings.py runs each repro in a clean
interpreter and checks the measured and the correct values).

Each repro imports onnx / onnxruntime only (and NumPy) and prints the measured values as a list;
``measured`` is what it printed on onnxruntime 1.32.0 / onnx 1.23.2, CPU (x86-64); ``correct``
is what the reference computes for the same inputs.
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.divergences.entry import Finding

_ORT_ON = "onnxruntime 1.32.0, onnx 1.23.2, CPUExecutionProvider, x86-64"
_REF_ON = "onnx 1.23.2 (onnx.reference), numpy 2.4.6, x86-64"

_MODEL = '''\
import numpy as np
from onnx import TensorProto, helper
{imports}

def model(op, elem, opset=13, **attrs):
    x = helper.make_tensor_value_info("x", elem, None)
    y = helper.make_tensor_value_info("y", elem, None)
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    return helper.make_model(helper.make_graph([node], "g", [x], [y]),
                             opset_imports=[helper.make_opsetid("", opset)])
'''

DOUBLE_LOG_SOFTMAX_NAN = Finding(
    title="onnxruntime's float64 LogSoftmax returns finite, positive 'log-probabilities' (about "
          "+46) for a row holding a NaN: log(std::fmax(sum, 1e-20f)) turns the NaN sum into "
          "1e-20 (the float32 kernel gives NaN)",
    repro=_MODEL.format(imports="import onnxruntime as ort") + '''
sess = ort.InferenceSession(model("LogSoftmax", TensorProto.DOUBLE).SerializeToString(),
                            providers=["CPUExecutionProvider"])
(y,) = sess.run(None, {"x": np.array([[0.0, 1.0, np.nan]])})
print(y[0].tolist())
# correct: [nan, nan, nan] (the log-softmax of a row holding NaN is undefined; float32 gives NaN)
''',
    measured="[45.051701891615394, 46.051701891615394, nan]",
    measured_on=_ORT_ON,
    correct="[nan, nan, nan]",
    reference=lambda: R.log_softmax(np.array([0.0, 1.0, np.nan])),
    dtype="float64",
    requires=("onnx", "onnxruntime"),
)

MLAS_SIGMOID = Finding(
    title="onnxruntime's float32 Sigmoid (MLAS rational approximation, clamped to [-18, 18]) "
          "returns sigmoid(-17) = 8.9e-8 for 4.1e-8 (a factor 2) and 0 for every x < -18",
    repro=_MODEL.format(imports="import onnxruntime as ort") + '''
sess = ort.InferenceSession(model("Sigmoid", TensorProto.FLOAT).SerializeToString(),
                            providers=["CPUExecutionProvider"])
(y,) = sess.run(None, {"x": np.array([-17.0, -20.0], dtype=np.float32)})
print([float(v) for v in y])
# correct: [4.1399375473943306e-08, 2.0611536181902037e-09]
''',
    measured="[8.940696716308594e-08, 0.0]",
    measured_on=_ORT_ON,
    correct="[4.1399375473943306e-08, 2.0611536181902037e-09]",
    reference=lambda: R.sigmoid(np.array([-17.0, -20.0])),
    dtype="float32",
    requires=("onnx", "onnxruntime"),
    upstream="https://github.com/pytorch/pytorch/issues/147508",
    status="reported against the export (closed there); the kernel is onnxruntime's "
           "(microsoft/onnxruntime#22557 reports its sign error on ARM)",
)

REFERENCE_LOG_SOFTMAX = Finding(
    title="onnx.reference's LogSoftmax is np.log(Softmax): float32 logits [1000, 0, -1] give "
          "[0, -inf, -inf] for [0, -1000, -1001] (the probabilities underflow to 0); "
          "SoftmaxCrossEntropyLoss's loss likewise +inf",
    repro=_MODEL.format(imports="from onnx.reference import ReferenceEvaluator") + '''
with np.errstate(divide="ignore"):
    (y,) = ReferenceEvaluator(model("LogSoftmax", TensorProto.FLOAT)).run(
        None, {"x": np.array([1000.0, 0.0, -1.0], dtype=np.float32)})
print([float(v) for v in y])
# correct: [0.0, -1000.0, -1001.0] (onnxruntime gives exactly that)
''',
    measured="[0.0, -inf, -inf]",
    measured_on=_REF_ON,
    correct="[0.0, -1000.0, -1001.0]",
    reference=lambda: R.log_softmax(np.array([1000.0, 0.0, -1.0])),
    dtype="float32",
    requires=("onnx",),
    upstream="https://github.com/onnx/onnx/pull/8423",
    status="fixed upstream by onnx/onnx#8423 (merged; log-space LogSoftmax and "
           "SoftmaxCrossEntropyLoss), still present in onnx 1.23.2",
)

REFERENCE_BF16_SUM = Finding(
    title="onnx.reference's bfloat16 Softmax sums the row in bfloat16 (ml_dtypes), one addition "
          "after another: a row of 512 equal logits gets probabilities 1/256, twice the "
          "correct 1/512, and a longer row no smaller",
    repro=_MODEL.format(imports="import ml_dtypes\nfrom onnx.reference import ReferenceEvaluator")
    + '''
x = np.zeros((1, 512)).astype(ml_dtypes.bfloat16)
(y,) = ReferenceEvaluator(model("Softmax", TensorProto.BFLOAT16)).run(None, {"x": x})
print([float(y[0, 0]), float(y.astype(np.float64).sum())])
# correct: [1/512, 1.0] = [0.001953125, 1.0]
''',
    measured="[0.00390625, 2.0]",
    measured_on=_REF_ON,
    correct="[0.001953125, 1.0]",
    reference=lambda: np.array([R.softmax(np.zeros(512))[0], 1.0]),
    dtype="bfloat16",
    requires=("onnx", "ml_dtypes"),
)

__all__ = ["DOUBLE_LOG_SOFTMAX_NAN", "MLAS_SIGMOID", "REFERENCE_BF16_SUM",
           "REFERENCE_LOG_SOFTMAX"]

REFERENCE_NLL_IGNORE_MINUS_1 = Finding(
    title="onnx.reference's NegativeLogLikelihoodLoss with ignore_index=-1 and no weights: "
          "'mean' divides by every item, the ignored ones included (any other ignore_index "
          "divides by the kept items)",
    repro='''\
import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
t = helper.make_tensor_value_info("t", TensorProto.INT64, None)
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
node = helper.make_node("NegativeLogLikelihoodLoss", ["x", "t"], ["y"], reduction="mean",
                        ignore_index=-1)
model = helper.make_model(helper.make_graph([node], "g", [x, t], [y]),
                          opset_imports=[helper.make_opsetid("", 13)])
logp = np.log(np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32))
(out,) = ReferenceEvaluator(model).run(None, {"x": logp, "t": np.array([0, -1])})
print([float(out)])
# correct: [log 4] = [1.3862943611198906] (only the first item is kept; onnxruntime gives it)
''',
    measured="[0.6931471824645996]",
    measured_on=_REF_ON,
    correct="[1.3862943611198906]",
    reference=lambda: np.atleast_1d(R.nll_loss(np.log(np.array([[0.25, 0.75], [0.5, 0.5]])),
                                               np.array([0, -1]), ignore_index=-1,
                                               reduction="mean")),
    dtype="float32",
    requires=("onnx",),
    upstream="https://github.com/onnx/onnx/pull/8433",
    status="open fix upstream (onnx/onnx#8433); present in onnx 1.23.2",
)

__all__ += ["REFERENCE_NLL_IGNORE_MINUS_1"]
