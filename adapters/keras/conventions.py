"""Where Keras 3 (v3.15.1) and its JAX / PyTorch backends document each conventions topic
(``convention_sources``); the observations are pinned per backend in
``convention_pins_jax.json`` / ``convention_pins_torch.json``."""
from __future__ import annotations

_KS = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src"
_NN = {"jax": f"{_KS}/backend/jax/nn.py", "torch": f"{_KS}/backend/torch/nn.py"}
_KERNEL = {
    "jax": "https://github.com/jax-ml/jax/blob/jax-v0.10.2/jax/_src/nn/functions.py "
           "(log_softmax, softmax: max-subtracted; sigmoid, log_sigmoid)",
    "torch": "https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/cpu/"
             "SoftMaxKernel.cpp; https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/"
             "native/LossNLL.cpp",
}


def sources(backend: str) -> dict[str, str]:
    nn = _NN[backend]
    return {
        "class_axis": f"{_KS}/ops/nn.py (softmax, log_softmax: axis=-1); {nn} "
                      "(categorical_crossentropy, sparse_categorical_crossentropy: axis=-1)",
        "default_reduction": f"{_KS}/losses/loss.py (Loss.__init__: "
                             "reduction='sum_over_batch_size'); the functions return per-item "
                             "losses",
        "from_logits_default": f"{_KS}/losses/losses.py (from_logits=False)",
        "ignore_semantics": f"{_KS}/losses/losses.py (sparse_categorical_crossentropy: "
                            f"ignore_class=None); {_KS}/losses/loss.py (apply_mask)",
        "mean_divides_by": f"{_KS}/losses/loss.py (reduce_values: 'sum_over_batch_size' "
                           "divides by the number of loss elements)",
        "epsilon_or_clamp": f"{nn} (categorical_crossentropy, binary_crossentropy: clip to "
                            f"[epsilon, 1 - epsilon]); {_KS}/backend/config.py "
                            "(epsilon() = 1e-7)",
        "label_smoothing_formula": f"{_KS}/losses/losses.py (categorical_crossentropy: "
                                   "y * (1 - ls) + ls / num_classes; binary_crossentropy: "
                                   "y * (1 - ls) + 0.5 * ls)",
        "output_dtype_rules": f"{_KS}/losses/loss.py (Loss.__call__ casts to the loss's dtype); "
                              f"{nn}",
        "nan_inf_behaviour": f"{nn}; {_KERNEL[backend]}",
        "determinism": ("https://docs.jax.dev/en/latest/faq.html (CPU results are "
                        "deterministic)" if backend == "jax" else
                        "https://docs.pytorch.org/docs/stable/notes/randomness.html"),
        "argument_order": f"{_KS}/losses/losses.py (y_true, y_pred: the target first)",
    }


__all__ = ["sources"]
