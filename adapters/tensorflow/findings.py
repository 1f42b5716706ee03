"""TensorFlow's and Keras's divergences that are bugs rather than design choices, ready to
report upstream (``Divergence.finding``; lossconform/findings.py runs them,
lossconform/suite/test_findings.py proves them).

Each repro imports TensorFlow and/or Keras only (and NumPy) and prints the measured values as a
list; ``measured`` is what it printed on TensorFlow 2.21.0 / Keras 3.15.1, CPU (x86-64, oneDNN
on: TF's default there); ``correct`` is what the reference (or mpmath, for the derivative of
Keras' own formula) computes for the same inputs. Upstream links point at an existing issue
where the issue search found one; otherwise the status says "not reported yet".
"""
from __future__ import annotations

import mpmath
import numpy as np

from lossconform import reference as R
from lossconform.divergences.entry import Finding
from lossconform.dtypes import round_to

_ON = "TensorFlow 2.21.0 (Keras 3.15.1), CPU x86-64, oneDNN on (default)"
_TF = ("tensorflow",)
_KERAS = ("keras",)
_QUIET = 'import os\nos.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")\n'


# -- tf.nn.softmax (oneDNN, float32/bfloat16) on NaN / +inf ---------------------------------------
SOFTMAX_NONFINITE = Finding(
    title="tf.nn.softmax in float32 (oneDNN kernel) does not propagate NaN: a row holding NaN or "
          "+inf gives NaN there and 0 elsewhere instead of a NaN row",
    repro=_QUIET + '''\
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"  # TF's default on x86-64 CPUs; "0" gives NaN rows
import tensorflow as tf

x = tf.constant([[float("nan"), 0.0, 1.0], [float("inf"), 0.0, 1.0]], dtype=tf.float32)
print(tf.nn.softmax(x).numpy().tolist())
# correct: [[nan, nan, nan], [nan, nan, nan]] (float64, float16 and the Eigen kernel give it)
''',
    measured="[[nan, 0.0, 0.0], [nan, 0.0, 0.0]]",
    measured_on=_ON,
    correct="[[nan, nan, nan], [nan, nan, nan]]",
    reference=lambda: R.softmax(np.array([[np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0]]), axis=-1),
    dtype="float32",
    requires=_TF,
)


# -- softmax_cross_entropy_with_logits: -inf logit under a zero label -----------------------------
_NEG_INF_LOGITS = [[0.5, -np.inf, 2.0, 0.25], [1.5, 0.75, -0.5, -2.0]]

SOFTMAX_CE_NEG_INF = Finding(
    title="tf.nn.softmax_cross_entropy_with_logits is NaN for a row with a -inf logit under a "
          "zero label (0 * inf); the loss is finite",
    repro=_QUIET + '''\
import tensorflow as tf

logits = tf.constant([[0.5, float("-inf"), 2.0, 0.25], [1.5, 0.75, -0.5, -2.0]], dtype=tf.float64)
labels = tf.constant([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]], dtype=tf.float64)
print(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits).numpy().tolist())
# correct: [1.8343, 1.2434] (tf.nn.sparse_softmax_cross_entropy_with_logits gives it)
''',
    measured="[nan, 1.2434144569201782]",
    measured_on=_ON,
    correct="[1.8342584333938963, 1.243414456920178]",
    reference=lambda: R.cross_entropy(np.array(_NEG_INF_LOGITS), np.array([0, 1]),
                                      target_kind="index", reduction="none"),
    dtype="float64",
    requires=_TF,
    status="not reported yet (no TensorFlow issue found; the same 0 * inf was fixed in optax: "
           "google-deepmind/optax#896)",
)


# -- sigmoid_cross_entropy_with_logits at an infinite logit ---------------------------------------
SIGMOID_CE_INFINITE = Finding(
    title="tf.nn.sigmoid_cross_entropy_with_logits is NaN at z = +inf and at z = -inf under "
          "target 0 (the loss is 0 or +inf)",
    repro=_QUIET + '''\
import tensorflow as tf

z = tf.constant([float("inf"), float("-inf"), float("inf"), float("-inf")], dtype=tf.float64)
t = tf.constant([1.0, 0.0, 0.0, 1.0], dtype=tf.float64)
print(tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=z).numpy().tolist())
# correct: [0.0, 0.0, inf, inf]
''',
    measured="[nan, nan, nan, inf]",
    measured_on=_ON,
    correct="[0.0, 0.0, inf, inf]",
    reference=lambda: R.binary_cross_entropy_with_logits(
        np.array([np.inf, -np.inf, np.inf, -np.inf]), np.array([1.0, 0.0, 0.0, 1.0]),
        reduction="none"),
    dtype="float64",
    requires=_TF,
    upstream="https://github.com/tensorflow/tensorflow/issues/75256",
    status="closed upstream, still NaN in TensorFlow 2.21",
)


# -- weighted_cross_entropy_with_logits: gradient at z = 0 ----------------------------------------
WEIGHTED_CE_GRAD_AT_ZERO = Finding(
    title="tf.nn.weighted_cross_entropy_with_logits has the wrong gradient at a logit of exactly "
          "0 (autodiff through abs and relu: their derivative at 0 is taken as 0)",
    repro=_QUIET + '''\
import tensorflow as tf

z = tf.constant([0.0, 0.0, 1.5], dtype=tf.float64)
t = tf.constant([0.0, 1.0, 1.0], dtype=tf.float64)
with tf.GradientTape() as tape:
    tape.watch(z)
    loss = tf.reduce_sum(tf.nn.weighted_cross_entropy_with_logits(labels=t, logits=z,
                                                                  pos_weight=2.0))
print(tape.gradient(loss, z).numpy().tolist())
# correct: (1 - t) sigmoid(z) - pos_weight t sigmoid(-z) = [0.5, -1.0, -0.3649]
''',
    measured="[1.0, 0.0, -0.36485104761271264]",
    measured_on=_ON,
    correct="[0.5, -1.0, -0.3648510476127127]",
    reference=lambda: R.binary_cross_entropy_with_logits_vjp(
        np.array([0.0, 0.0, 1.5]), np.array([0.0, 1.0, 1.0]), pos_weight=2.0, reduction="sum"),
    dtype="float64",
    kind="gradient",
    requires=_TF,
    status="not reported yet (torch fixed the same abs'(0) = 0 gradient in its "
           "binary_cross_entropy_with_logits: pytorch/pytorch#2195)",
)


# -- weighted_cross_entropy_with_logits: cancellation for z << 0 ----------------------------------
WEIGHTED_CE_CANCELLATION = Finding(
    title="tf.nn.weighted_cross_entropy_with_logits loses small losses to cancellation for "
          "z << 0 (absolute error ulp(|z|); tf.nn.sigmoid_cross_entropy_with_logits is exact)",
    repro=_QUIET + '''\
import tensorflow as tf

z = tf.constant([-32.25, -30.5, -33.0, -35.5], dtype=tf.float64)
t = tf.zeros(4, dtype=tf.float64)
print(tf.nn.weighted_cross_entropy_with_logits(labels=t, logits=z, pos_weight=1.0).numpy().tolist())
# correct: log1p(exp(z)) = [9.8629e-15, 5.6757e-14, 4.6589e-15, 3.8242e-16]
''',
    measured="[7.105427357601002e-15, 5.684341886080802e-14, 7.105427357601002e-15, 0.0]",
    measured_on=_ON,
    correct="[9.862862046580404e-15, 5.675685232632561e-14, 4.658886145103387e-15, "
            "3.8242466280971346e-16]",
    reference=lambda: R.binary_cross_entropy_with_logits(
        np.array([-32.25, -30.5, -33.0, -35.5]), np.zeros(4), reduction="none"),
    dtype="float64",
    requires=_TF,
)


# -- log_softmax gradient in float16: the cotangent's row sum overflows ---------------------------
def _log_softmax_grad_reference() -> np.ndarray:
    x = round_to(np.linspace(-2.0, 2.0, 40), "float16").reshape(1, 40)
    return R.log_softmax_vjp(x, grad_output=np.full((1, 40), 2048.0))[0, :4]


LOG_SOFTMAX_GRAD_FLOAT16 = Finding(
    title="tf.nn.log_softmax's gradient in float16 is -inf when the cotangent's row sum exceeds "
          "65504, although the gradient is small and finite",
    repro=_QUIET + '''\
import numpy as np
import tensorflow as tf

x = tf.constant(np.linspace(-2.0, 2.0, 40).astype(np.float16).reshape(1, 40))
g = tf.fill((1, 40), tf.constant(2048.0, tf.float16))
with tf.GradientTape() as tape:
    tape.watch(x)
    y = tf.nn.log_softmax(x)
print(tape.gradient(y, x, output_gradients=g).numpy()[0, :4].tolist())
# correct (first 4 of 40): g - sum(g) softmax(x) = [1899.3, 1883.2, 1865.4, 1845.7]
''',
    measured="[-inf, -inf, -inf, -inf]",
    measured_on=_ON,
    correct="[1899.2859626662794, 1883.2277344294494, 1865.4355293688482, "
            "1845.7221116586402]",
    reference=_log_softmax_grad_reference,
    dtype="float16",
    kind="gradient",
    requires=_TF,
)


# -- tf.reduce_mean in float16 over > 65504 items -------------------------------------------------
def _half_mean_reference() -> np.ndarray:
    x, y = np.zeros((70000, 2)), np.zeros(70000, np.int64)
    return np.array([R.cross_entropy(x, y, target_kind="index"),
                     R.cross_entropy(x[:60000], y[:60000], target_kind="index")])


MEAN_FLOAT16 = Finding(
    title="tf.reduce_mean of float16 values over more than 65504 items is 0 (the item count is "
          "cast to float16: inf); Keras' sum_over_batch_size in float16 likewise",
    repro=_QUIET + '''\
import tensorflow as tf

logits = tf.zeros((70000, 2), dtype=tf.float16)
labels = tf.zeros((70000,), dtype=tf.int64)
loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
print([float(tf.reduce_mean(loss)), float(tf.reduce_mean(loss[:60000]))])
# correct: [log 2, log 2] = [0.6931, 0.6931] (the second, 60000 items, is right)
''',
    measured="[0.0, 0.693359375]",
    measured_on=_ON,
    correct="[0.6931471805599453, 0.6931471805599453]",
    reference=_half_mean_reference,
    dtype="float16",
    requires=_TF,
    upstream="https://github.com/tensorflow/tensorflow/issues/115732",
    status="open",
)


# -- Keras label smoothing with axis != -1 --------------------------------------------------------
_AXIS0_LOGITS = [[0.5, 1.5, 0.0], [-1.25, 0.75, 3.0], [2.0, -0.5, -1.0], [0.25, -2.0, 1.0]]

LABEL_SMOOTHING_AXIS = Finding(
    title="keras.losses.categorical_crossentropy(label_smoothing, axis=0) smooths with "
          "C = shape[-1] (the item count here), not the size of the class axis",
    repro=_QUIET + '''\
import numpy as np
import keras

# classes on axis 0 (4 classes), 3 items on the last axis
logits = np.array([[0.5, 1.5, 0.0], [-1.25, 0.75, 3.0], [2.0, -0.5, -1.0], [0.25, -2.0, 1.0]])
y_true = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
loss = keras.losses.categorical_crossentropy(y_true, logits, from_logits=True,
                                             label_smoothing=0.2, axis=0)
print(np.asarray(loss).tolist())
# correct: smoothing eps / 4 over the 4 classes of axis 0 = [1.8866, 1.4059, 2.2352]
''',
    measured="[2.0190799236488957, 1.5429754207148567, 2.3975279494440667]",
    measured_on=_ON,
    correct="[1.8866374284208396, 1.405914456920178, 2.2351824526038127]",
    reference=lambda: R.cross_entropy(np.array(_AXIS0_LOGITS), np.array([0, 1, 3]), axis=0,
                                      target_kind="index", label_smoothing=0.2,
                                      reduction="none"),
    dtype="float64",
    requires=_KERAS,
    upstream="https://github.com/keras-team/keras/issues/23451",
    status="closed: fixed by keras-team/keras#23437, still present in Keras 3.15.1",
)


# -- Keras sparse loss class with dtype bfloat16 rounds class labels ------------------------------
def _labels_reference() -> np.ndarray:
    x = np.zeros((1, 300))
    x[0, 257], x[0, 256] = 4.0, -4.0
    return R.cross_entropy(x, np.array([257]), target_kind="index", reduction="none")


SPARSE_LABELS_ROUNDED = Finding(
    title="keras.losses.SparseCategoricalCrossentropy(dtype='bfloat16') rounds class indices to "
          "bfloat16 (257 -> 256): the loss of another class",
    repro=_QUIET + '''\
import numpy as np
import keras

logits = np.zeros((1, 300))
logits[0, 257], logits[0, 256] = 4.0, -4.0
loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="bfloat16",
                                                  reduction=None)
print(np.asarray(loss(np.array([257]), logits), dtype=np.float64).tolist())
# correct: -log softmax(logits)[257] = [1.8653] (9.875 is the loss of class 256)
''',
    measured="[9.875]",
    measured_on=_ON,
    correct="[1.8653809667521675]",
    reference=_labels_reference,
    dtype="bfloat16",
    requires=_KERAS,
    upstream="https://github.com/keras-team/keras/issues/15012",
    status="closed for tf.keras (keras-team/keras#15015); back in Keras 3, where "
           "Loss.__call__ converts y_true to the loss's dtype; not reported for Keras 3 yet",
)


# -- Keras binary_crossentropy in float16: 1 - eps rounds to 1 ------------------------------------
def _bce_half_reference() -> np.ndarray:
    p = np.array([[1.0, 0.5], [0.25, 0.75]])
    t = np.array([[1.0, 1.0], [0.0, 1.0]])
    return np.mean(R.binary_cross_entropy(p, t, reduction="none"), axis=-1)


BCE_FLOAT16_UPPER_CLIP = Finding(
    title="keras.losses.binary_crossentropy in float16 is NaN for p = t = 1: the clip bound "
          "1 - 1e-7 rounds to 1, so 0 * log(1 - 1) is evaluated",
    repro=_QUIET + '''\
import numpy as np
import keras

p = np.array([[1.0, 0.5], [0.25, 0.75]], dtype=np.float16)
t = np.array([[1.0, 1.0], [0.0, 1.0]], dtype=np.float16)
print(np.asarray(keras.losses.binary_crossentropy(t, p), dtype=np.float64).tolist())
# correct (row means): [(0 + log 2) / 2, -log(0.75)] = [0.3466, 0.2877]
''',
    measured="[nan, 0.28759765625]",
    measured_on=_ON,
    correct="[0.34657359027997264, 0.2876820724517809]",
    reference=_bce_half_reference,
    dtype="float16",
    requires=_KERAS,
)


# -- Keras categorical_crossentropy in float16: 1/p overflows in the gradient ---------------------
def _renormalised_grad_reference() -> list[float]:
    """d/dp of Keras' own formula -sum_c t_c log(p_c / sum(p)) (nothing clipped here) at the
    float16 inputs, in mpmath: -t_j / p_j + sum(t) / sum(p)."""
    with mpmath.workprec(113):  # local: the global mpmath context is left as it was
        p = [mpmath.mpf(float(v)) for v in round_to(np.array([1e-5, 0.5, 0.5]), "float16")]
        t = [mpmath.mpf(0), mpmath.mpf(1), mpmath.mpf(0)]
        s, st = sum(p), sum(t)
        return [float(-tj / pj + st / s) for tj, pj in zip(t, p)]


CCE_GRAD_FLOAT16_RECIPROCAL = Finding(
    title="keras.losses.categorical_crossentropy's gradient in float16 is a NaN row when a "
          "probability under a zero target is below 1/65504 (reciprocal overflow, 0 * inf)",
    repro=_QUIET + '''\
import tensorflow as tf
import keras

p = tf.constant([[1e-5, 0.5, 0.5]], dtype=tf.float16)
t = tf.constant([[0.0, 1.0, 0.0]], dtype=tf.float16)
with tf.GradientTape() as tape:
    tape.watch(p)
    loss = tf.reduce_sum(keras.losses.categorical_crossentropy(t, p))
print(tf.cast(tape.gradient(loss, p), tf.float64).numpy().tolist())
# correct: d/dp of -sum t log(p / sum p) = -t / p + sum(t) / sum(p) = [[1.0, -1.0, 1.0]]
''',
    measured="[[nan, nan, nan]]",
    measured_on=_ON,
    correct="[[0.9999899865199485, -1.0000100134800516, 0.9999899865199485]]",
    reference=_renormalised_grad_reference,
    dtype="float16",
    kind="gradient",
    requires=_TF + _KERAS,
)


# -- Keras loss classes on an empty batch ---------------------------------------------------------
EMPTY_BATCH_UNREDUCED = Finding(
    title="Keras loss classes return an empty tensor of shape (0,) for reduction 'sum' (and "
          "'sum_over_batch_size') on an empty batch, not a scalar",
    repro=_QUIET + '''\
import numpy as np
import keras

loss = keras.losses.CategoricalCrossentropy(from_logits=True, reduction="sum")
print(np.asarray(loss(np.zeros((0, 4)), np.zeros((0, 4)))).tolist())
# correct: [0.0] (a scalar 0: the sum over no items; tf.reduce_sum gives it)
''',
    measured="[]",
    measured_on=_ON,
    correct="[0.0]",
    reference=lambda: np.array([R.cross_entropy(np.zeros((0, 4)), np.zeros((0, 4)),
                                                target_kind="probs", reduction="sum")]),
    dtype="float32",
    requires=_KERAS,
)
