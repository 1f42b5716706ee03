"""Where the backends of one Keras version disagree, as findings ready to report upstream
(``Divergence.finding``; lossconform/findings.py runs them, lossconform/suite/test_findings.py
proves them).

Each repro imports Keras and its backend only (and NumPy), sets ``KERAS_BACKEND`` before the
import and prints the measured values as a list; ``measured`` is what it printed with Keras
3.15.1 on jax 0.10.2 / torch 2.13.0, CPU; ``correct`` is what the reference computes, and what
the TensorFlow backend of the same Keras version returns.
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.divergences.entry import Finding

_X = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]
_T = [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
_ON = {"jax": "Keras 3.15.1, jax 0.10.2 (JAX_ENABLE_X64=1), CPU x86-64",
       "torch": "Keras 3.15.1, torch 2.13.0+cpu, CPU x86-64"}


def _bce_rows() -> np.ndarray:
    return np.asarray(R.binary_cross_entropy_with_logits(
        np.array(_X), np.array(_T), reduction="none")).mean(axis=-1)


def mean_float64_in_float32(backend: str) -> Finding:
    return Finding(
        title=f"Keras on {backend}: binary_crossentropy (keras.ops.mean) of float64 inputs is "
              "only float32-accurate; the TensorFlow backend keeps float64",
        repro=f'''\
import os
os.environ["KERAS_BACKEND"] = "{backend}"
os.environ["JAX_ENABLE_X64"] = "1"  # float64 arrays stay float64 on JAX
import numpy as np
import {backend}  # noqa: F401  (the backend Keras runs on)
import keras

x = keras.ops.convert_to_tensor(np.array({_X}), dtype="float64")
t = keras.ops.convert_to_tensor(np.array({_T}), dtype="float64")
loss = keras.losses.binary_crossentropy(t, x, from_logits=True)  # float64 in, float64 out
print(keras.ops.convert_to_numpy(loss).tolist())
# correct: [0.3047555609137673, 1.2214079013254986] (the TensorFlow backend gives it)
''',
        measured="[0.3047555685043335, 1.2214078903198242]",
        measured_on=_ON[backend],
        correct="[0.3047555609137673, 1.2214079013254986]",
        reference=_bce_rows,
        dtype="float64",
        requires=("keras", backend),
        status="not reported yet (keras/src/backend/common/dtypes.py BIT64_TO_BIT32_DTYPE maps "
               "float64 to float32 on every backend but TensorFlow; mean() computes in "
               "result_type(x.dtype, 'float32'))",
    )


TORCH_CLASS_MEAN_FLOAT32 = Finding(
    title="Keras on torch: a loss class's default 'sum_over_batch_size' of float64 inputs comes "
          "back as float32 (divide_no_nan); the JAX and TensorFlow backends return float64",
    repro='''\
import os
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np
import torch  # noqa: F401  (the backend Keras runs on)
import keras

x = keras.ops.convert_to_tensor(np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), dtype="float64")
t = keras.ops.convert_to_tensor(np.array([2, 0]), dtype="int64")
loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")(t, x)
print([loss.item()])  # loss.dtype is torch.float32
# correct: [0.2859919530321906], float64
''',
    measured="[0.28599196672439575]",
    measured_on=_ON["torch"],
    correct="[0.2859919530321906]",
    reference=lambda: np.array([float(R.cross_entropy(np.array(_X), np.array([2, 0]),
                                                      target_kind="index",
                                                      reduction="mean"))]),
    dtype="float64",
    requires=("keras", "torch"),
    status="not reported yet (keras/src/backend/torch/numpy.py divide_no_nan converts both "
           "operands to result_type(x1, x2, float), float32 for float64 off TensorFlow)",
)
