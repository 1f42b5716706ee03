"""Input provenance (the ``x_source`` facet): how the probabilities ``x`` a Keras loss sees
were produced, and the source text that produces them.

Keras' TensorFlow backend does not always take probabilities at face value: a tensor made by
Keras' own softmax/sigmoid carries the logits it came from (``output._keras_logits``), and in
graph mode (inside ``tf.function``) a tensor whose producing op is ``Softmax``/``Sigmoid``
gives its op's input; either way the loss is computed from those logits, whatever
``from_logits`` says (``_get_logits`` in keras/src/backend/tensorflow/nn.py). So the same
probabilities can give different losses and gradients depending on where they came from.

A source value names the function that makes ``x`` from logits ``z``; the adapter builds
``z`` from the call's probabilities (float64, then rounded to the call's dtype) and feeds
``SOURCE(z)`` to the loss, so the probabilities the loss sees are ``x`` up to that rounding:

* softmax sources (categorical probability inputs): ``z = log(x)``; ``softmax(log x) = x``
  for rows that sum to 1 (other rows cannot come from a softmax: unsupported);
* sigmoid sources (binary probability inputs): ``z = log(x) - log1p(-x)``, the inverse of the
  sigmoid (``log(x)`` would give ``x / (1 + x)``);
* ``constant``: ``x`` as a plain tensor (the plain call).

A value prefixed ``tf.function:`` runs the source AND the loss (and the gradient) inside one
``tf.function`` (graph mode, where Keras inspects the producing op); without the prefix they
run eagerly, or in the mode the ``mode`` facet names. Keras layers are built with the call's
dtype (a layer's default policy would compute float16/float64 inputs in float32).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossconform.dtypes import EPS

GRAPH_PREFIX = "tf.function:"
SOFTMAX, SIGMOID, CONSTANT = "softmax", "sigmoid", "constant"


@dataclass(frozen=True)
class Source:
    name: str  # as users write it
    kind: str  # SOFTMAX | SIGMOID | CONSTANT
    #: the call producing x from z; {A}: the class axis, {D}: the call's dtype
    template: str
    #: True where the tensor it returns carries ``_keras_logits`` (Keras' own activations)
    keras_logits: bool


SOURCES: tuple[Source, ...] = (
    Source("constant", CONSTANT, "", False),
    Source("keras.ops.softmax", SOFTMAX, "keras.ops.softmax(z, axis={A})", True),
    Source("keras.activations.softmax", SOFTMAX, "keras.activations.softmax(z, axis={A})",
           True),
    Source("keras.layers.Softmax", SOFTMAX, "keras.layers.Softmax(axis={A}, dtype={D!r})(z)",
           True),
    Source("tf.nn.softmax", SOFTMAX, "tf.nn.softmax(z, axis={A})", False),
    Source("keras.ops.sigmoid", SIGMOID, "keras.ops.sigmoid(z)", True),
    Source("keras.activations.sigmoid", SIGMOID, "keras.activations.sigmoid(z)", True),
    Source('keras.layers.Activation("sigmoid")', SIGMOID,
           "keras.layers.Activation('sigmoid', dtype={D!r})(z)", True),
    Source("tf.math.sigmoid", SIGMOID, "tf.math.sigmoid(z)", False),
    Source("tf.nn.sigmoid", SIGMOID, "tf.nn.sigmoid(z)", False),
)
BY_NAME: dict[str, Source] = {s.name: s for s in SOURCES}
#: every x_source value the plug-in declares: each source eagerly and inside tf.function
VALUES: tuple[str, ...] = tuple(v for s in SOURCES for v in (s.name, GRAPH_PREFIX + s.name))

#: the logits each kind of source is fed, as a NumPy expression over the call's ``x``
LOGITS_SRC = {SOFTMAX: "np.log(x)", SIGMOID: "np.log(x) - np.log1p(-x)"}


def parse(value: str) -> tuple[Source, bool]:
    """(the source, whether the value itself asks for tf.function) of an x_source value."""
    graph = value.startswith(GRAPH_PREFIX)
    return BY_NAME[value[len(GRAPH_PREFIX):] if graph else value], graph


def logits(x: np.ndarray, kind: str) -> np.ndarray:
    """The float64 logits a source of ``kind`` is fed (before the cast to the call's dtype),
    computed exactly as ``LOGITS_SRC`` writes them."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.asarray(x, dtype=np.float64)
        return np.log(x) if kind == SOFTMAX else np.log(x) - np.log1p(-x)


def reason(kind: str, x: np.ndarray, dtype: str, class_axis: int) -> str | None:
    """Why a source of ``kind`` cannot produce these probabilities, or None.

    A softmax makes rows that sum to 1 (within the rounding of ``x`` to ``dtype``: at most
    2 C eps off); a sigmoid makes values in [0, 1].
    """
    x = np.asarray(x, dtype=np.float64)
    if kind == CONSTANT:
        return None
    if x.size and (np.any(np.isnan(x)) or np.any(x < 0) or np.any(x > 1)):
        return f"a {kind} makes probabilities in [0, 1]; x has values outside it (or NaN)"
    if kind == SOFTMAX and x.size:
        rows = np.moveaxis(x, class_axis, -1)
        off = float(np.max(np.abs(rows.sum(-1) - 1.0)))
        if off > 2 * rows.shape[-1] * EPS[dtype]:
            return (f"a softmax makes rows that sum to 1; these rows are {off:.3g} off "
                    "(no logits give them)")
    return None


def source_expr(source: Source, axis: int, dtype: str) -> str:
    """The call that makes x from z, as source."""
    return source.template.format(A=axis, D=dtype)


__all__ = ["BY_NAME", "CONSTANT", "GRAPH_PREFIX", "LOGITS_SRC", "SIGMOID", "SOFTMAX", "SOURCES",
           "Source", "VALUES", "logits", "parse", "reason", "source_expr"]
