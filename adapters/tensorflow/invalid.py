"""TensorFlow/Keras's expected outcome on every invalid-input cell (measured with TF 2.21 +
Keras 3.15.1, CPU, float32), and the direct float-label calls a ``Call`` cannot carry.

Findings pinned here (each a row):
- entry points fed one-hot targets (``tf.one_hot``) turn an out-of-range or negative class
  index into an all-zero row: that item's loss is 0, silently; the sparse TF/Keras functions
  raise ``InvalidArgumentError`` on CPU instead;
- Keras sparse losses cast float labels to int (1.7 -> 1, 0.5 -> 0) silently;
  ``tf.nn.sparse_softmax_cross_entropy_with_logits`` refuses them;
- Keras loss OBJECTS return an empty tensor of shape (0,) for an empty batch, not a scalar;
- ``categorical_crossentropy(from_logits=False)`` renormalises and clips the prediction, so
  probabilities outside [0, 1] give a finite loss;
- rank (functions versus loss classes): the Keras loss CLASSES reconcile a target with an
  extra or missing trailing dimension of size 1 (LossFunctionWrapper.call:
  squeeze_or_expand_to_same_rank) and return exactly the loss of the reshaped target
  (records ``target-rank-reconciled``), while the Keras 3 FUNCTIONS categorical_crossentropy
  and binary_crossentropy raise ValueError ("Arguments `target` and `output` must have the
  same rank") instead of Keras 2's silent (N, 1)-against-(N,) broadcast; the sparse functions
  squeeze labels (N, 1) themselves (backend sparse_categorical_crossentropy); tf.nn's sigmoid
  and sparse kernels raise ValueError, and softmax_cross_entropy_with_logits raises
  InvalidArgumentError for (N, C, 1) labels (keras/src/losses/losses.py,
  keras/src/backend/tensorflow/nn.py at v3.15.1).
"""
from __future__ import annotations

from typing import Any, Callable

from lossconform.contract import InvalidOutcome
from lossconform.invalid import FLOAT_LABELS, LOGITS

_ACT = r"tf\.(nn\.(softmax|log_softmax)|math\.(sigmoid|log_sigmoid))"
_SPARSE = (r"tf\.(nn\.sparse_softmax_cross_entropy_with_logits|keras\.losses\."
           r"(sparse_categorical_crossentropy|SparseCategoricalCrossentropy)\(.*\))")
_INF_TO_NAN = (r"tf\.(nn\.weighted_cross_entropy_with_logits|keras\.losses\."
               r"(binary_crossentropy|BinaryCrossentropy)\(from_logits=False\))")
ANY = r".*"

INVALID_OUTCOMES: tuple[InvalidOutcome, ...] = (
    InvalidOutcome(_ACT, ANY, "empty_batch", "silent-empty"),
    InvalidOutcome(r"tf\.keras\.losses\.[A-Z].*", ANY, "empty_batch", "silent-empty"),
    InvalidOutcome(ANY, ANY, "empty_batch", "silent-nan"),
    InvalidOutcome(r"tf\.nn\.sparse_softmax_cross_entropy_with_logits", "index", "float_labels",
                   "raises:InvalidArgumentError"),
    InvalidOutcome(_SPARSE, "index", "float_labels", "silent-finite"),
    InvalidOutcome(_SPARSE, "index", "index_out_of_range|negative_index", "raises:InvalidArgumentError"),
    InvalidOutcome(ANY, "index", "index_out_of_range|negative_index", "silent-finite"),
    InvalidOutcome(r"tf\.nn\.softmax_cross_entropy_with_logits", ANY, "shape_mismatch",
                   "raises:InvalidArgumentError"),
    # rank: Keras loss classes squeeze/expand the trailing 1, the functions raise
    InvalidOutcome(r"tf\.nn\.softmax_cross_entropy_with_logits", "index", "target_extra_dim",
                   "silent-finite"),
    InvalidOutcome(r"tf\.nn\.softmax_cross_entropy_with_logits", "probs", "target_extra_dim",
                   "raises:InvalidArgumentError"),
    InvalidOutcome(r"tf\.keras\.losses\.(sparse_categorical_crossentropy|"
                   r"SparseCategoricalCrossentropy)\(.*\)", "index", "target_extra_dim",
                   "silent-finite"),
    InvalidOutcome(r"tf\.keras\.losses\.CategoricalCrossentropy\(.*\)", "probs",
                   "target_extra_dim", "silent-finite"),
    InvalidOutcome(r"tf\.keras\.losses\.BinaryCrossentropy\(.*\)", "probs",
                   "target_extra_dim|target_missing_dim", "silent-finite"),
    InvalidOutcome(ANY, ANY, "target_extra_dim|target_missing_dim", "raises:ValueError"),
    InvalidOutcome(ANY, ANY, "shape_mismatch", "raises:ValueError"),
    InvalidOutcome(ANY, ANY, "nan_target", "silent-nan"),
    InvalidOutcome(_INF_TO_NAN, ANY, "inf_target", "silent-nan"),
    InvalidOutcome(ANY, ANY, "inf_target", "silent-inf"),
    InvalidOutcome(ANY, ANY, "target_not_normalized|target_outside_01|probs_outside_01", "silent-finite"),
)

_LABELS = "tf.constant([0., 1.7, .5, 2.])"
FLOAT_LABEL_SOURCE: dict[str, str] = {
    "tf.nn.sparse_softmax_cross_entropy_with_logits":
        f"tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits({_LABELS}, x))",
    "tf.keras.losses.sparse_categorical_crossentropy(from_logits=True)":
        f"tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy({_LABELS}, x, from_logits=True))",
    "tf.keras.losses.sparse_categorical_crossentropy(from_logits=False)":
        f"tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy({_LABELS}, tf.nn.softmax(x)))",
    "tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)":
        f"tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)({_LABELS}, x)",
    "tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False)":
        f"tf.keras.losses.SparseCategoricalCrossentropy()({_LABELS}, tf.nn.softmax(x))",
}


def float_label_call(entry_point: str) -> Callable[[], Any] | None:
    source = FLOAT_LABEL_SOURCE.get(entry_point)
    if source is None:
        return None

    def run() -> Any:
        import tensorflow as tf

        x = tf.constant(LOGITS, dtype=tf.float32)
        assert FLOAT_LABELS.tolist() == [0.0, 1.7, 0.5, 2.0]  # the labels written in the source
        return eval(compile(source, "<float-labels>", "eval"), {"tf": tf, "x": x}).numpy()  # noqa: S307
    return run


def float_label_repro(entry_point: str) -> str:
    return ("import numpy as np, tensorflow as tf\n"
            f"x = tf.constant(np.array({LOGITS.tolist()}, dtype=np.float32))\n"
            + FLOAT_LABEL_SOURCE.get(entry_point, ""))
