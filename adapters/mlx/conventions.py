"""Where MLX documents each conventions topic (``Adapter.convention_sources``).

The conventions themselves are not written here: the probes (``lossconform.probes``) observe
them on every entry point and ``convention_pins.json`` pins what they observed per mlx version.
A source is the file at the release tag v0.32.4 of ml-explore/mlx, with what it shows (line
numbers as in the v0.32.4 wheel's python/mlx/nn/losses.py and layers/activations.py).
"""
from __future__ import annotations

_TAG = "https://github.com/ml-explore/mlx/blob/v0.32.4/"
_LOSSES = _TAG + "python/mlx/nn/losses.py"
_ACT = _TAG + "python/mlx/nn/layers/activations.py"
_OPS = _TAG + "python/src/ops.cpp"
_DOCS = "https://ml-explore.github.io/mlx/build/html/python/nn/losses.html"

SOURCES: dict[str, str] = {
    "class_axis": f"{_LOSSES}#L23-L29 (cross_entropy(logits, targets, weights=None, axis=-1, "
    f"...)); {_LOSSES}#L261-L262 (nll_loss(inputs, targets, axis=-1, ...)); {_ACT}#L66 "
    "(log_softmax(x, axis=-1)); https://ml-explore.github.io/mlx/build/html/python/_autosummary/"
    "mlx.core.softmax.html (mx.softmax(a, axis=None): without an axis, over the whole array)",
    "default_reduction": f"{_LOSSES}#L29 (cross_entropy: reduction='none'); {_LOSSES}#L262 "
    f"(nll_loss: reduction='none'); {_LOSSES}#L148 (binary_cross_entropy: reduction='mean')",
    "from_logits_default": f"{_LOSSES}#L147 (binary_cross_entropy(with_logits=True): logits "
    "unless with_logits=False); cross_entropy takes logits only, nll_loss log-probabilities",
    "ignore_semantics": f"{_DOCS} (no ignore index in any loss); {_LOSSES}#L115 (class indices "
    "gathered with mx.take_along_axis: an out-of-range index is not checked)",
    "mean_divides_by": f"{_LOSSES}#L11-L16 (_reduce: reduction='mean' is mx.mean(loss), the "
    f"item count, also after loss *= weights at {_LOSSES}#L137)",
    "epsilon_or_clamp": f"{_LOSSES}#L195-L197 (binary_cross_entropy(with_logits=False): "
    "mx.clip(mx.log(inputs), a_min=-100) and the same for log(1 - inputs), so the largest "
    f"loss is 100 per element); {_LOSSES}#L193 (with_logits: logaddexp(0, x) - x * targets, no "
    f"clamp); {_LOSSES}#L110-L128 (cross_entropy: logsumexp(shifted) - score, no epsilon)",
    "label_smoothing_formula": f"{_LOSSES}#L120-L126 (loss = logsumexp - (1 - ls) * score - ls "
    "* mean(logits): the smoothing mass ls is spread evenly over all C classes, the true one "
    f"included, i.e. q = (1 - ls) t + ls / C); {_LOSSES}#L79-L80 (ls must be in [0, 1))",
    "output_dtype_rules": "https://ml-explore.github.io/mlx/build/html/python/data_types.html "
    "(\"Arrays with type float64 only work with CPU operations\"); float16 with bfloat16 "
    "promotes to float32 (mlx.core type promotion); "
    f"{_LOSSES}#L75-L77 (the CPU reduces in the logits' dtype; upcast for float32 accuracy)",
    "nan_inf_behaviour": f"{_LOSSES}#L110 (logits - max: a +inf logit gives inf - inf = NaN); "
    f"{_LOSSES}#L113 (probability targets: sum(logits * targets), 0 * -inf = NaN); "
    f"{_ACT}#L74-L75 (log_softmax: x - max - logsumexp)",
    "determinism": "https://ml-explore.github.io/mlx/build/html/usage/lazy_evaluation.html "
    "(lazy graphs evaluated by mx.eval; the CPU backend runs one stream thread: results of the "
    "same graph on the same inputs)",
    "argument_order": f"{_LOSSES}#L23-L26 (cross_entropy(logits, targets)); {_LOSSES}#L143-L146 "
    "(binary_cross_entropy(inputs, targets)): predictions first",
}

__all__ = ["SOURCES"]
