"""optax's divergences that are bugs rather than design choices, ready to report upstream
(``Divergence.finding``; lossconform/findings.py runs them, lossconform/suite/test_findings.py
proves them).

Each repro imports jax and optax only (and NumPy) and prints the measured values as a list;
``measured`` is what it printed on jax 0.10.2 / optax 0.2.8, CPU (x86-64); ``correct`` is what
the reference computes for the same inputs. Upstream links point at the existing issue or pull
request the issue search found.
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.divergences.entry import Finding

_ON = "jax 0.10.2, jaxlib 0.10.2, optax 0.2.8, CPU x86-64"
_REQ = ("jax", "optax")


def _cancellation_reference() -> np.ndarray:
    a = R.cross_entropy(np.full((1, 10), 9984.0), np.array([3]), target_kind="index",
                        reduction="none")
    b = R.cross_entropy(np.full((1, 2), 1e8), np.array([0]), target_kind="index",
                        reduction="none")
    return np.concatenate([a, b])


INTEGER_LABELS_CANCELLATION = Finding(
    title="optax.softmax_cross_entropy_with_integer_labels returns 0.0 for logits with a large "
          "common offset (bfloat16 logits all 9984: 0 instead of log 10; float32 logits 1e8: 0 "
          "instead of log 2): logsumexp(logits) - logits[label] cancels in the logits' dtype",
    repro='''\
import jax.numpy as jnp
import optax

bf16 = jnp.full((1, 10), 9984.0, dtype=jnp.bfloat16)  # 10 equal logits: the loss is log 10
f32 = jnp.full((1, 2), 1e8, dtype=jnp.float32)  # 2 equal logits: the loss is log 2
a = optax.losses.softmax_cross_entropy_with_integer_labels(bf16, jnp.array([3]))
b = optax.losses.softmax_cross_entropy_with_integer_labels(f32, jnp.array([0]))
print([float(a[0]), float(b[0])])
# correct: [log 10, log 2] = [2.3026, 0.6931]; optax.softmax_cross_entropy gives [2.2969, 0.6931]
''',
    measured="[0.0, 0.0]",
    measured_on=_ON,
    correct="[2.302585092994046, 0.6931471805599453]",
    reference=_cancellation_reference,
    dtype="bfloat16",
    requires=_REQ,
    upstream="https://github.com/google-deepmind/optax/issues/1020",
    status="closed upstream (bfloat16 quantisation, #1020), still present in optax 0.2.8; the "
           "offset case has an open fix: google-deepmind/optax#1792",
)


INTEGER_LABELS_POS_INF = Finding(
    title="optax.softmax_cross_entropy_with_integer_labels gives a loss of +inf for a row "
          "holding a +inf logit, with a gradient that is NaN only at that entry (the loss and "
          "the softmax of the row are undefined: NaN)",
    repro='''\
import jax
import jax.numpy as jnp
import optax

logits = jnp.array([[0.5, float("inf"), -1.0], [1.0, 2.0, 0.0]], dtype=jnp.float32)
labels = jnp.array([0, 1])
loss_fn = lambda z: jnp.sum(optax.losses.softmax_cross_entropy_with_integer_labels(z, labels))
loss, grad = jax.value_and_grad(loss_fn)(logits)
print([float(loss)] + grad[0].tolist())
# correct: the loss is NaN (softmax of a row holding +inf is undefined), as
# optax.softmax_cross_entropy on one-hot labels gives; its gradient row is NaN throughout
''',
    measured="[inf, -1.0, nan, 0.0]",
    measured_on=_ON,
    correct="[nan, nan, nan, nan]",
    reference=lambda: np.concatenate([
        np.atleast_1d(R.cross_entropy(np.array([[0.5, np.inf, -1.0], [1.0, 2.0, 0.0]]),
                                      np.array([0, 1]), target_kind="index", reduction="sum")),
        R.cross_entropy_vjp(np.array([[0.5, np.inf, -1.0], [1.0, 2.0, 0.0]]), np.array([0, 1]),
                            target_kind="index", reduction="sum", grad_output=1.0)[0]]),
    dtype="float32",
    requires=_REQ,
)

__all__ = ["INTEGER_LABELS_CANCELLATION", "INTEGER_LABELS_POS_INF"]
