"""MLX's divergences that are bugs rather than design choices, ready to report upstream
(``Divergence.finding``; lossconform/findings.py runs them, lossconform/suite/test_findings.py
proves them).

Each repro imports mlx only (and NumPy) and prints the measured values as a list;
``measured`` is what it printed on mlx 0.32.4 (mlx-cpu), Linux x86-64; ``correct`` is what the
reference computes for the same inputs. Upstream links point at the existing issue the issue
search found.
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.divergences.entry import Finding

_ON = "mlx 0.32.4 (mlx-cpu), CPU x86-64 Linux"
_REQ = ("mlx",)

FLOAT64_EXP = Finding(
    title="mlx.core.sigmoid (and every op built on MLX's CPU exp: softmax, logsumexp, "
          "log_softmax, log_sigmoid, cross_entropy, logaddexp) computes float64 at float32 "
          "accuracy and with float32's range: sigmoid(1.0) is off by 6e-9 and sigmoid(-100) "
          "is 0 instead of 3.7e-44",
    repro='''\
import mlx.core as mx

x = mx.array([1.0, -100.0], dtype=mx.float64)
out = mx.sigmoid(x)  # the CPU exp converts its input to float32 (simd/math.h), x < -88 -> 0
print(out.tolist())
# correct: [0.7310585786300049, 3.720075976020836e-44]
''',
    measured="[0.7310585726593212, 0.0]",
    measured_on=_ON,
    correct="[0.7310585786300049, 3.720075976020836e-44]",
    reference=lambda: R.sigmoid(np.array([1.0, -100.0])),
    dtype="float64",
    requires=_REQ,
    upstream="https://github.com/ml-explore/mlx/issues/3047",
    status="open, labelled bug and low priority (the pull requests #3058, #3740 and #4182 "
           "were closed; the maintainers plan to move the CPU SIMD code to google/highway); "
           "the same report #4158 is closed; still present in 0.32.4",
)

SOFTMAX_PRECISE_FLOAT64 = Finding(
    title="mlx.core.softmax(x, axis, precise=True) over an axis other than the last rounds a "
          "float64 input to float32 (precise is meant to widen float16/bfloat16): logits 1e8 "
          "and 1e8 + 1 give [0.5, 0.5] instead of [0.269, 0.731]",
    repro='''\
import mlx.core as mx

x = mx.array([[1e8], [1e8 + 1.0]], dtype=mx.float64)
out = mx.softmax(x, axis=0, precise=True)  # ops.cpp softmax: astype(a, float32) when precise
print(out.reshape(-1).tolist())
# correct: [0.2689414213699951, 0.7310585786300049]; precise=False gives them (to 1e-8)
''',
    measured="[0.5, 0.5]",
    measured_on=_ON,
    correct="[0.2689414213699951, 0.7310585786300049]",
    reference=lambda: R.softmax(np.array([[1e8], [1e8 + 1.0]]), axis=0).reshape(-1),
    dtype="float64",
    requires=_REQ,
)


def _bce_grad_reference() -> np.ndarray:
    p = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([0.0, 1.0, 1.0, 0.0])
    return R.binary_cross_entropy_vjp(p, t, reduction="sum", grad_output=1.0)


BCE_NAN_GRADIENT = Finding(
    title="mlx.nn.losses.binary_cross_entropy(with_logits=False) has a NaN gradient wherever a "
          "probability is exactly 0 or 1, also where the loss is 0 (p = 0 with target 0: the "
          "gradient is 1) or clipped at 100: the clipped log's zero cotangent is divided by p",
    repro='''\
import mlx.core as mx
import mlx.nn as nn

p = mx.array([0.0, 1.0, 0.0, 1.0])
t = mx.array([0.0, 1.0, 1.0, 0.0])
loss_fn = lambda v: nn.losses.binary_cross_entropy(v, t, with_logits=False, reduction="sum")
loss, grad = mx.value_and_grad(loss_fn)(p)
print(grad.tolist())
# correct: [1.0, -1.0, -inf, inf] (loss [0, 0, inf, inf]; mlx clips those two at 100 by design)
''',
    measured="[nan, nan, nan, nan]",
    measured_on=_ON,
    correct="[1.0, -1.0, -inf, inf]",
    reference=_bce_grad_reference,
    dtype="float32",
    kind="gradient",
    requires=_REQ,
)

__all__ = ["BCE_NAN_GRADIENT", "FLOAT64_EXP", "SOFTMAX_PRECISE_FLOAT64"]
