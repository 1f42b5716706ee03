"""TensorFlow / Keras 3 conventions (class axis, targets, reductions, clamps, ...), as data.

Each topic is {"value": what TensorFlow or Keras does, "source": where it is written}; the
report shows them next to the results (``Adapter.conventions``).
"""
from __future__ import annotations

#: Keras 3 source, as read for the installed keras 3.15.1 (cited below).
_KS = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src"
_TF_DOC = "https://www.tensorflow.org/api_docs/python/"

CONVENTIONS: dict[str, dict[str, str]] = {
    "class_axis": {
        "value": "last by default (axis=-1); tf.nn.softmax_cross_entropy_with_logits and Keras "
                 "categorical_crossentropy take any axis; tf.nn.sparse_softmax_cross_entropy_"
                 "with_logits and Keras sparse_categorical_crossentropy (TF backend) only the "
                 "last ('Only axis=-1 is currently supported')",
        "source": f"{_KS}/backend/tensorflow/nn.py (sparse_categorical_crossentropy); "
                  f"{_TF_DOC}tf/nn/softmax_cross_entropy_with_logits",
    },
    "target_formats": {
        "value": "categorical / softmax_cross_entropy_with_logits: probabilities of x's shape "
                 "(one-hot or soft); sparse_*: integer indices of x's shape without the class "
                 "axis; binary: probabilities of x's shape",
        "source": f"{_TF_DOC}tf/nn/sparse_softmax_cross_entropy_with_logits",
    },
    "default_reduction": {
        "value": "tf.nn.* and keras.losses.* functions return per-item losses (no reduction); "
                 "Keras loss classes default to reduction='sum_over_batch_size'",
        "source": f"{_KS}/losses/loss.py (Loss.__init__)",
    },
    "mean_divides_by": {
        "value": "'sum_over_batch_size': sum(sample_weight * loss) / number of loss items "
                 "(NOT the sum of sample weights; 'mean_with_sample_weight' would divide by it); "
                 "ignored items (ignore_class) are excluded from the count through the loss "
                 "mask; no class weights exist; Keras binary losses first average over the last "
                 "axis, so the batch mean equals the element mean only without sample weights",
        "source": f"{_KS}/losses/loss.py (reduce_values, apply_mask)",
    },
    "from_logits_default": {
        "value": "False for every Keras loss (probabilities expected); tf.nn.*_with_logits "
                 "always take logits",
        "source": f"{_KS}/losses/losses.py",
    },
    "epsilon_or_clamp": {
        "value": "from_logits=False: probabilities clipped to [eps, 1-eps] with "
                 "eps=keras.config.epsilon()=1e-7 (tf.clip_by_value, so the gradient is zero "
                 "where clipped); categorical first renormalises output/sum(output, axis); "
                 "sparse takes log(clip(p)) into sparse_softmax_cross_entropy_with_logits, which "
                 "also renormalises; in float16 1-eps rounds to 1 and eps to 1.19e-7. "
                 "so Keras binary_crossentropy on p=1 with target 0 gives inf in float16/bfloat16. "
                 "The renormalisation also adds sum(t)/sum(p) to every gradient entry. "
                 "from_logits=True: no clamp (log-sum-exp in the fused kernels)",
        "source": f"{_KS}/backend/tensorflow/nn.py (categorical_crossentropy, "
                  "sparse_categorical_crossentropy, binary_crossentropy); "
                  f"{_KS}/backend/config.py (epsilon)",
    },
    "label_smoothing_formula": {
        "value": "categorical: y*(1-ls) + ls/C with C = y_true.shape[-1] (the LAST axis even when "
                 "axis != -1); binary: y*(1-ls) + 0.5*ls; sparse losses and tf.nn: none",
        "source": f"{_KS}/losses/losses.py (categorical_crossentropy, binary_crossentropy)",
    },
    "ignore_semantics": {
        "value": "ignore_class=None by default (sparse Keras losses only); ignored items get loss "
                 "0 and zero gradient and a Keras mask, so loss classes with "
                 "'sum_over_batch_size' divide by the number of valid items, while the function "
                 "+ tf.reduce_mean divides by all items; tf.nn has no ignore index",
        "source": f"{_KS}/losses/losses.py (sparse_categorical_crossentropy); "
                  f"{_KS}/losses/loss.py (apply_mask)",
    },
    "output_dtype_rules": {
        "value": "tf.nn and keras.losses functions compute and return in the input dtype "
                 "(float16, bfloat16, float32, float64 all accepted); Keras loss classes cast "
                 "y_true, y_pred and sample_weight to their `dtype` (default: the global policy, "
                 "float32), so a float16 input to a class built without dtype returns float32; "
                 "sparse loss classes also cast the integer targets to that float dtype (bfloat16 "
                 "rounds class 257 to 256, float16 rounds above 2048)",
        "source": f"{_KS}/losses/loss.py (Loss.__call__)",
    },
    "nan_inf_behaviour": {
        "value": "NaN propagates through every op; tf.nn.sparse_softmax_cross_entropy_with_logits "
                 "raises InvalidArgumentError for an out-of-range label on CPU (NaN on GPU); "
                 "tf.one_hot maps an out-of-range index to an all-zero row (loss 0); a -inf logit "
                 "with probability targets gives NaN (0 * -inf) in softmax_cross_entropy_with_"
                 "logits (the sparse kernel stays finite); softmax of an all -inf row is NaN",
        "source": f"{_TF_DOC}tf/nn/sparse_softmax_cross_entropy_with_logits; "
                  "https://github.com/tensorflow/tensorflow/issues/8484; "
                  f"{_TF_DOC}tf/one_hot",
    },
    "onednn": {
        "value": "TF_ENABLE_ONEDNN_OPTS left as set in the environment (unset = TF's default: "
                 "oneDNN on for x86 CPUs); each run's value is in its results' environment",
        "source": "https://www.tensorflow.org/install/pip (oneDNN note)",
    },
    "execution": {"value": "eager, no tf.function; gradients by tf.GradientTape with "
                           "output_gradients=grad_output",
                  "source": f"{_TF_DOC}tf/GradientTape#gradient"},
}

__all__ = ["CONVENTIONS"]
