"""The ONNX plug-in: ONNX operators (Softmax, LogSoftmax at opsets 11 and 13, Sigmoid,
SoftmaxCrossEntropyLoss with its log_prob output, NegativeLogLikelihoodLoss) built as one-node
models and run by two runtimes, two frameworks: ``onnxruntime`` (CPU provider) and
``onnx-reference`` (``onnx.reference``), each its own column in the report."""
from .adapter import ADAPTERS, ORT_ADAPTER, REFERENCE_ADAPTER

__all__ = ["ADAPTERS", "ORT_ADAPTER", "REFERENCE_ADAPTER"]
