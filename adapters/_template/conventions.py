"""Where mylib documents each conventions topic (``Adapter.convention_sources``).

You do not write the conventions: the probes (``lossconform.probes``) observe them on every
entry point (class axis, defaults, ignored items, what 'mean' divides by, clip points, label
smoothing, output dtypes, NaN/inf, determinism, argument order), and
``python -m tools.pin_conventions --frameworks mylib`` writes what they observed into
``convention_pins.json`` (``convention_pins_file``), which the conventions suite then holds
your framework to, version by version. The tables show the observation of every cell, with
the source you give here for its topic.

Where the facts come from, best first:
  1. the framework's source at a released tag, linked to the line
     (``https://github.com/<org>/mylib/blob/v1.2.0/mylib/nn/losses.py#L120``): exact and
     stable; a link to ``main`` drifts as the file changes;
  2. the framework's API reference page for the function or class;
  3. an upstream issue or pull request that states the behaviour.
Several sources go in one string, separated by "; ", each with what it shows in parentheses.
The topics are the keys of ``lossconform.probes.TOPICS``; give a source for every topic
your entry points have probes for (the contract suite checks it).
"""
from __future__ import annotations

# TODO: the base URLs of your framework's source (at a release tag) and API docs.
_SRC = "https://github.com/TODO-org/mylib/blob/vTODO/"
_DOCS = "https://TODO-mylib-docs.example.org/api/"

SOURCES: dict[str, str] = {
    "class_axis": _DOCS + "TODO-softmax.html (the axis argument and its default)",
    "default_reduction": _SRC + "TODO/losses.py (the reduction argument's default)",
    "from_logits_default": _DOCS + "TODO-cross_entropy.html (logits or probabilities)",
    "ignore_semantics": _SRC + "TODO/losses.py (ignore index: default, effect)",
    "mean_divides_by": _SRC + "TODO/losses.py (the weighted mean's denominator)",
    "epsilon_or_clamp": _SRC + "TODO/losses.py (epsilon, clip or clamp)",
    "label_smoothing_formula": _SRC + "TODO/losses.py (the smoothed target)",
    "output_dtype_rules": _DOCS + "TODO-type-promotion.html (dtype rules)",
    "nan_inf_behaviour": _SRC + "TODO/kernels/softmax.c (how inf and NaN are handled)",
    "determinism": _DOCS + "TODO-determinism.html (deterministic kernels)",
    "argument_order": _DOCS + "TODO-cross_entropy.html (the argument order)",
}

__all__ = ["SOURCES"]
