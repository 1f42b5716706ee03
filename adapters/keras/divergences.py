"""keras-jax's and keras-torch's divergence entries (``ADAPTER.divergences``), per backend.

Tiers, each tried in order (the harness names the FIRST entry whose model matches):
the Keras conventions (div_keras.entries), the float16/bfloat16 corner cases
(div_keras.narrow_entries), the half-dtype kernels and torch's cancellation (div_half.py), the backend-specific kernels (div_backend.py), the loss classes
computing float64 in float32 (div_keras.float32_class_entries).
"""
from __future__ import annotations

from lossconform.divergences import Divergence

from . import div_backend as _backend
from . import div_half as _half
from . import div_keras as _keras


def divergences(backend: str) -> tuple[Divergence, ...]:
    return (_keras.entries(backend) + _keras.narrow_entries(backend)
            + _half.entries(backend) + _backend.entries(backend) + _keras.float32_class_entries(backend))
