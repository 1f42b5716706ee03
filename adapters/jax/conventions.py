"""Where JAX and optax document each conventions topic (``Adapter.convention_sources``).

The conventions themselves are not written here: the probes (``lossconform.probes``) observe
them on every entry point and ``convention_pins.json`` pins what they observed per jax/optax
version. A source is the file at the release tag (optax v0.2.8, jax jax-v0.10.2), with what
it shows.
"""
from __future__ import annotations

_OPTAX = "https://github.com/google-deepmind/optax/blob/v0.2.8/optax/losses/"
_CLS = _OPTAX + "_classification.py"
_JAX = "https://github.com/jax-ml/jax/blob/jax-v0.10.2/jax/_src/nn/functions.py"
_DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html"

SOURCES: dict[str, str] = {
    "class_axis": f"{_CLS}#L227 (softmax_cross_entropy(logits, labels, axis=-1, where=None)); "
    f"{_CLS}#L203 (safe_softmax_cross_entropy: classes on the last axis, no axis argument); "
    f"{_JAX}#L536 (log_softmax(x, axis=-1): axis=None normalises over every axis)",
    "default_reduction": f"{_DOCS} (every loss returns per-item losses; no reduction argument: "
    "users reduce with jnp.mean / jnp.sum)",
    "from_logits_default": f"{_DOCS} (softmax_cross_entropy and sigmoid_binary_cross_entropy "
    "take logits; no from_logits flag)",
    "ignore_semantics": f"{_CLS}#L299 (softmax_cross_entropy_with_integer_labels: where= masks "
    f"items, a masked item's loss is 0: L405-L406); {_CLS}#L400 (labels gathered with "
    "jnp.take_along_axis: an out-of-range label is not checked)",
    "mean_divides_by": f"{_DOCS} (per-item losses; jnp.mean divides by every item, masked ones "
    "included)",
    "epsilon_or_clamp": f"{_CLS}#L47 (sigmoid_binary_cross_entropy: -labels log_sigmoid(x) - "
    f"(1 - labels) log_sigmoid(-x), no clamp); {_CLS}#L404 (integer labels: logsumexp(logits) "
    f"- logits[label], no epsilon); {_CLS}#L295 (log_softmax, no epsilon)",
    "label_smoothing_formula": f"{_OPTAX}_smoothing.py#L52-L55 (smooth_labels: (1 - alpha) * "
    "labels + alpha / num_categories, num_categories = size of the axis)",
    "output_dtype_rules": f"{_CLS}#L79 (sigmoid_binary_cross_entropy casts labels to the "
    "logits' dtype); https://docs.jax.dev/en/latest/type_promotion.html (jnp promotion: "
    "float labels and logits promote)",
    "nan_inf_behaviour": f"{_JAX}#L615 (_softmax: max-subtracted exp, a +inf gives inf - inf = "
    f"NaN); {_CLS}#L296 (-(labels * log_probs).sum: 0 * -inf = NaN); {_CLS}#L179 "
    "(safe_softmax_cross_entropy: where(weights != 0, ...), 0 log 0 = 0)",
    "determinism": "https://docs.jax.dev/en/latest/faq.html (XLA on CPU; results of the same "
    "compiled program on the same inputs)",
    "argument_order": f"{_CLS}#L227 (softmax_cross_entropy(logits, labels): logits first)",
}

__all__ = ["SOURCES"]
