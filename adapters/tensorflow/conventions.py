"""Where TensorFlow and Keras document each conventions topic (``convention_sources``).

The conventions themselves are not written here: the probes (``lossconform.probes``) observe
them on every entry point and ``convention_pins.json`` pins what they observed per
TensorFlow and Keras version. A source is the file at the release tag (or the API page).
"""
from __future__ import annotations

_KS = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src"
_TF = "https://github.com/tensorflow/tensorflow/blob/v2.21.0/tensorflow"
_TF_DOC = "https://www.tensorflow.org/api_docs/python/"

SOURCES: dict[str, str] = {
    "class_axis": f"{_TF_DOC}tf/nn/softmax (axis=-1); {_KS}/backend/tensorflow/nn.py "
    "(sparse_categorical_crossentropy: 'Only axis=-1 is currently supported')",
    "default_reduction": f"{_KS}/losses/loss.py (Loss.__init__: "
    "reduction='sum_over_batch_size'); the functions return per-item losses",
    "from_logits_default": f"{_KS}/losses/losses.py (from_logits=False)",
    "ignore_semantics": f"{_KS}/losses/losses.py (sparse_categorical_crossentropy: "
    f"ignore_class=None); {_KS}/losses/loss.py (apply_mask)",
    "mean_divides_by": f"{_KS}/losses/loss.py (reduce_values: 'sum_over_batch_size' divides "
    "by the number of loss elements)",
    "epsilon_or_clamp": f"{_KS}/backend/tensorflow/nn.py (categorical_crossentropy, "
    f"binary_crossentropy: clip to [epsilon, 1 - epsilon]); {_KS}/backend/config.py "
    "(epsilon() = 1e-7)",
    "label_smoothing_formula": f"{_KS}/losses/losses.py (categorical_crossentropy: "
    "y * (1 - ls) + ls / num_classes; binary_crossentropy: y * (1 - ls) + 0.5 * ls)",
    "output_dtype_rules": f"{_KS}/losses/loss.py (Loss.__call__ casts to the loss's dtype); "
    f"{_TF}/core/kernels/xent_op.cc",
    "nan_inf_behaviour": f"{_TF}/core/kernels/softmax_op_functor.h; "
    "https://github.com/tensorflow/tensorflow/issues/8484",
    "determinism": f"{_TF_DOC}tf/config/experimental/enable_op_determinism",
    "argument_order": f"{_KS}/losses/losses.py (y_true, y_pred: the target first); "
    f"{_TF_DOC}tf/nn/softmax_cross_entropy_with_logits (keyword-only labels, logits)",
}

__all__ = ["SOURCES"]
