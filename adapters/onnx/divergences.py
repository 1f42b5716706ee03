"""Every divergence entry of the ONNX plug-in, per runtime: ONNX Runtime's in ``div_ort.py``,
onnx.reference's in ``div_reference.py`` (models in ``models.py``, findings in
``findings.py``)."""
from __future__ import annotations

from lossconform.divergences import Divergence


def divergences(runtime: str) -> tuple[Divergence, ...]:
    if runtime == "onnxruntime":
        from .div_ort import ENTRIES
    else:
        from .div_reference import ENTRIES
    return tuple(ENTRIES)


__all__ = ["divergences"]
