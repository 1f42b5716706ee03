"""mylib's conventions, as data: one entry per topic, each a value and where it comes from.

The suite shows these side by side with the other frameworks' (``lossconform.plugins.
conventions_markdown``, the README table, the report's framework pages) and records them in
every results file. They are documentation, not code: nothing here changes a verdict. What
changes a verdict is the adapter's mapping (adapter.py) and the divergence entries
(divergences.py); a convention that makes the framework disagree with the reference
belongs in both places (here in words, there as a model).

Where the facts come from, best first:
  1. the framework's source at a released tag, linked to the line
     (``https://github.com/<org>/mylib/blob/v1.2.0/mylib/nn/losses.py#L120``): exact and
     stable; a link to ``main`` drifts as the file changes;
  2. the framework's API reference page for the function or class;
  3. an upstream issue or pull request that states the behaviour.
Write the value as a user would check it ("mean divides by sum of w[y_i]"), not as the
framework's docs phrase it, and say which entry points it covers when they differ. Several
sources go in one string, separated by "; ", each with what it shows in parentheses.

The ten topics below are the ones the built-in plug-ins fill (adapters/<name>/conventions.py
``CONVENTIONS``); keep all ten so the tables line up, and add your own topics freely (a
built-in adds e.g. ``execution`` and a numerics setting of its own).
"""
from __future__ import annotations

from typing import Any

# TODO: the base URLs of your framework's source (at a release tag) and API docs.
_SRC = "https://github.com/TODO-org/mylib/blob/vTODO/"
_DOCS = "https://TODO-mylib-docs.example.org/api/"

CONVENTIONS: dict[str, dict[str, Any]] = {
    # Which axis holds the classes, per entry point; whether another axis can be passed.
    # e.g. "dim 1 for (N, C, d1, ...) inputs, dim 0 for 1-D input"
    "class_axis": {
        "value": "TODO: e.g. 'last by default (axis=-1); mylib.nn.cross_entropy takes the "
                 "last axis only'",
        "source": _DOCS + "TODO-cross_entropy.html",
    },
    # What targets each loss takes: integer indices (which dtype, which shape), probabilities
    # (same shape as the input?), for the binary losses float targets of the input's shape.
    "target_formats": {
        "value": "TODO: e.g. 'cross_entropy: int64 class indices (input shape without the class "
                 "axis) or probabilities of the input's shape and dtype'",
        "source": _DOCS + "TODO-cross_entropy.html",
    },
    # The reduction a loss applies when the user passes none ("mean", "sum", per-item, ...).
    "default_reduction": {
        "value": "TODO: e.g. 'mean'",
        "source": _SRC + "mylib/nn/losses.py#LTODO",
    },
    # What a 'mean' divides by: item count, sum of class weights of the targets, sum of sample
    # weights, number of non-ignored items; compare with the reference (reference/__init__.py).
    "mean_divides_by": {
        "value": "TODO: e.g. 'number of items N, class weights NOT in the denominator (the "
                 "reference divides by sum w[y_i] for index targets)'",
        "source": _SRC + "mylib/nn/losses.py#LTODO",
    },
    # Whether losses take logits or probabilities by default (a from_logits flag, or fixed
    # per function).
    "from_logits_default": {
        "value": "TODO: e.g. 'fixed per function: cross_entropy takes logits; no flag'",
        "source": _DOCS + "TODO-cross_entropy.html",
    },
    # Any epsilon, clipping or clamping of probabilities or logs (value, dtype it is cast to,
    # effect on the gradient).
    "epsilon_or_clamp": {
        "value": "TODO: e.g. 'none: log-sum-exp form' or 'probabilities clipped to [1e-7, 1-1e-7]'",
        "source": _SRC + "mylib/nn/losses.py#LTODO",
    },
    # The label-smoothing formula: q = (1 - eps) t + eps / C? which C? binary: eps / 2?
    "label_smoothing_formula": {
        "value": "TODO: e.g. 'q = (1 - eps) * t + eps / C, C the class axis length; binary: none'",
        "source": _SRC + "mylib/nn/losses.py#LTODO",
    },
    # The ignore index: its default (an always-active -100?), what an ignored item contributes
    # to the loss, the gradient and the mean's denominator, and what happens when all are ignored.
    "ignore_semantics": {
        "value": "TODO: e.g. 'ignore_index=None by default; ignored items give loss 0, gradient 0 "
                 "and leave the denominator; all ignored -> nan'",
        "source": _DOCS + "TODO-cross_entropy.html",
    },
    # The dtype of outputs and gradients for each input dtype; which arguments must share the
    # input's dtype; any silent up- or down-cast (a loss class computing in float32 always).
    "output_dtype_rules": {
        "value": "TODO: e.g. 'output and gradient in the input dtype; weight must share it'",
        "source": _SRC + "mylib/nn/losses.py#LTODO",
    },
    # NaN/inf inputs, out-of-range targets, probabilities outside [0, 1]: propagate, raise or
    # clamp? (The invalid-input rows in invalid.py pin the exact outcome per entry point.)
    "nan_inf_behaviour": {
        "value": "TODO: e.g. 'NaN propagates; out-of-range class index raises IndexError'",
        "source": _SRC + "mylib/nn/losses.py#LTODO",
    },
}

#: The topics every built-in plug-in fills (the template's own test checks they are all here).
TOPICS: tuple[str, ...] = tuple(CONVENTIONS)
