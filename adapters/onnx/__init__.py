"""The onnx plug-in (being written)."""
