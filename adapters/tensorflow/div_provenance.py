"""Input provenance: Keras computes a from_logits=False loss from the logits behind its
probabilities when it can find them (facet ``x_source``, see provenance.py).

keras/src/backend/tensorflow/nn.py (``_get_logits``, used by categorical_crossentropy,
sparse_categorical_crossentropy and binary_crossentropy) takes ``output._keras_logits`` when
the tensor carries it (Keras' own softmax/sigmoid set it: keras.ops.*, keras.activations.*,
the layers built on them; eager and graph alike), and otherwise, for a graph tensor (inside
``tf.function``), the input of its producing op when that op is ``Softmax``/``Sigmoid``
(tf.nn.softmax, tf.math.sigmoid); either way it then computes with ``from_logits=True``. So:

* no [eps, 1-eps] clip and no renormalisation: a true-class probability of 1e-12 costs
  -log(1e-12) = 27.63 (what the reference says), not the clipped 16.12;
* the loss does not depend on the probabilities tensor at all: its gradient with respect to
  the probabilities is zero (the gradient reaches the logits instead, unclipped);
* logits of -inf (a probability of exactly 0, e.g. a masked class) under a zero label give
  NaN in TF's logits kernels, where the probability path gives a finite (clipped) loss.

Each entry's model is the Keras loss computed from those logits by the reference (the logits
rounded to the call's dtype as the adapter feeds them; Keras' reduction, smoothing and
sample-weight conventions as in keras_models.py) and a zero gradient. One entry per loss
family and per mechanism (the tensor's ``_keras_logits``, or graph-mode op inspection), each
with an example that triggers it, so the suite notices when Keras stops doing it.

Where Keras does not find the logits (an eager tf.math.sigmoid), it clips what the source
made, which is ``x`` only up to the rounding of the logits: at a clip bound (a probability of
exactly 1e-7) that rounding decides whether the gradient is zero. ``keras-bce-probs-source-
clip-bound`` models it (the clip convention applied to the reference's sigmoid of those
logits) and claims only calls where the rounding crosses a bound.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.numerics import example_call
from lossconform.dtypes import round_to

from . import provenance as P
from lossconform import reference as R

from .keras_models import KERAS_3, keras_binary, keras_categorical, keras_clip_bounds
from .plans import FUNCTION, XLA

_KERAS = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src/"
_GET_LOGITS = f"{_KERAS}backend/tensorflow/nn.py#L1262-L1295"
_CCE = ("tf.keras.losses.categorical_crossentropy(from_logits=False)",
        "tf.keras.losses.CategoricalCrossentropy(from_logits=False)")
_SCCE = ("tf.keras.losses.sparse_categorical_crossentropy(from_logits=False)",
         "tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False)")
_BCE = ("tf.keras.losses.binary_crossentropy(from_logits=False)",
        "tf.keras.losses.BinaryCrossentropy(from_logits=False)")

#: the facets the models know; a call with any other (swapped arguments, an axis argument
#: left out, ...) is not claimed
_MODELLED_FACETS = frozenset({"x_source", "mode"})


def _graph(call: Call, graph_prefix: bool) -> bool:
    return graph_prefix or call.facet("mode") in (FUNCTION, XLA)


def _applies(family: str, mechanism: str) -> Callable[[Call], bool]:
    """Keras finds the logits: a source of the family's kind whose tensor carries
    ``_keras_logits`` (mechanism "attr"), or a plain TF softmax/sigmoid in graph mode
    ("op"); the tensor reaches the loss as made (the sparse losses move a class axis other
    than the last with tf.transpose, whose output carries neither)."""
    kind = P.SIGMOID if family == "bce" else P.SOFTMAX
    op = "binary_cross_entropy" if family == "bce" else "categorical_crossentropy"

    def applies(call: Call) -> bool:
        value = call.facet("x_source")
        if value is None or call.op != op or set(call.facets) - _MODELLED_FACETS:
            return False
        source, prefix = P.parse(value)
        if source.kind != kind:
            return False
        if mechanism == "attr" and not source.keras_logits:
            return False
        if mechanism == "op" and (source.keras_logits or not _graph(call, prefix)):
            return False
        if family == "scce" and call.x.ndim and call.axis % call.x.ndim != call.x.ndim - 1:
            return False
        return True
    return applies


def _model(family: str) -> Callable[[Call], ModelResult]:
    """The Keras loss from the logits the source was fed (rounded to the call's dtype), with
    from_logits=True; the gradient with respect to the probabilities is zero."""
    def model(call: Call) -> ModelResult:
        kind = P.SIGMOID if family == "bce" else P.SOFTMAX
        z = round_to(P.logits(call.x, kind), call.dtype)
        if family == "bce":
            fwd, grad = keras_binary(call.replace(op="binary_cross_entropy_with_logits", x=z,
                                                  facets={}), from_logits=True)
        else:
            fwd, grad = keras_categorical(call.replace(op="cross_entropy", x=z, facets={}),
                                          from_logits=True, sparse=family == "scce")
        return fwd, None if grad is None else np.zeros(np.shape(call.x))
    return model


_SOURCE_OF = {("cce", "attr"): "keras.ops.softmax", ("scce", "attr"): "keras.activations.softmax",
              ("bce", "attr"): "keras.ops.sigmoid",
              ("cce", "op"): "tf.function:tf.nn.softmax", ("scce", "op"): "tf.function:tf.nn.softmax",
              ("bce", "op"): "tf.function:tf.math.sigmoid"}


def _example(family: str, mechanism: str) -> Callable[[], Call]:
    facets = {"x_source": _SOURCE_OF[(family, mechanism)]}

    def example() -> Call:
        if family == "cce":
            # a probability of exactly 0 under a zero label: logit -inf, NaN in TF's kernel
            return example_call("categorical_crossentropy", [[0.0, 0.5, 0.5], [0.25, 0.25, 0.5]],
                                target=[[0, 1, 0], [0, 0, 1]], target_kind="probs",
                                facets=facets)
        if family == "scce":
            # sample weights: the loss classes' 'sum_over_batch_size' divides by the item
            # count (the functions cannot take them and skip the example)
            return example_call("categorical_crossentropy",
                                [[1e-12, 0.5, 0.5 - 1e-12], [0.25, 0.25, 0.5]],
                                target=[[1, 0, 0], [0, 0, 1]], target_kind="probs",
                                options={"sample_weight": np.array([0.5, 2.0])}, facets=facets)
        return example_call("binary_cross_entropy", [[0.0, 0.5], [0.25, 1e-12]],
                            target=[[0, 1], [1, 1]], facets=facets)
    return example


_FAMILY = {
    "cce": ("categorical_crossentropy", _CCE, "softmax"),
    "scce": ("sparse_categorical_crossentropy", _SCCE, "softmax"),
    "bce": ("binary_crossentropy", _BCE, "sigmoid"),
}
_MECHANISM = {
    "attr": ("keras-logits",
             "y_pred made by Keras' own {act} (keras.ops.{act}, keras.activations.{act}, "
             "{layer}), eagerly or inside tf.function",
             "Keras' {act} stores its input on the output tensor (output._keras_logits = "
             "logits) and _get_logits hands it to the loss in place of y_pred",
             f"{_KERAS}backend/tensorflow/nn.py#L{{line}}; {_KERAS}activations/activations.py"
             "#L{aline}; "),
    "op": ("graph-op",
           "y_pred made by tf.nn.softmax / tf.math.sigmoid (or any {Op} op) inside "
           "tf.function (graph mode); eagerly it is taken as given",
           "in graph mode _get_logits looks at the op that produced y_pred: a {Op} op gives "
           "its input (output.op.inputs[0]); an eager tensor has no op and is taken as given",
           ""),
}


def _entry(family: str, mechanism: str) -> Divergence:
    fn, eps, act = _FAMILY[family]
    slug, trigger, how, link = _MECHANISM[mechanism]
    op_name = "Sigmoid" if act == "sigmoid" else "Softmax"
    layer = 'keras.layers.Activation("sigmoid")' if act == "sigmoid" else "keras.layers.Softmax"
    fmt = dict(act=act, layer=layer, Op=op_name, line="41-L45" if act == "sigmoid" else "162-L173",
               aline="481-L504" if act == "sigmoid" else "136-L165")
    fwd_note = {
        "cce": "a logit of -inf (probability exactly 0) under a zero label gives NaN for the "
               "row (TF's SoftmaxCrossEntropyWithLogits kernel), where the probability path "
               "clips it",
        "scce": "the sparse kernel gathers only the label's logit, so the forward equals the "
                "reference up to Keras' own reduction conventions (the loss classes' "
                "sample-weighted mean divides by the item count), applied to the "
                "logits-based loss",
        "bce": "a logit of -inf or +inf (probability exactly 0 or 1) gives NaN where "
               "logit * label is inf * 0 (tf.nn.sigmoid_cross_entropy_with_logits), and "
               "Keras still averages over the last axis",
    }[family]
    return Divergence(
        id=f"keras-{family}-probs-source-{slug}",
        title=f"Keras {fn} ignores from_logits=False for a {act}-made y_pred "
              + ("it made itself" if mechanism == "attr" else "in graph mode")
              + ": computed from the logits (no clip, zero gradient wrt the probabilities)",
        framework="tensorflow",
        package="keras",
        entry_points=eps,
        versions=KERAS_3,
        kinds=("forward", "gradient"),
        trigger=trigger.format(**fmt) + " (facet x_source)",
        explanation=(how.format(**fmt) + ", then computes with from_logits=True. No "
                     "[eps, 1-eps] clip applies: a true-class probability of 1e-12 costs "
                     "27.63 as in the reference, not the clipped 16.12; " + fwd_note
                     + ". The loss does not depend on the probabilities tensor: its gradient "
                     "with respect to it is zero (the gradient reaches the logits instead, "
                     "unclipped). Model: the reference's logits-based Keras loss on the "
                     "logits fed to the source, and a zero gradient."),
        link=link.format(**fmt) + f"{_GET_LOGITS} (_get_logits); "
             "https://github.com/tensorflow/tensorflow/issues/32869",
        applies=_applies(family, mechanism),
        model=_model(family),
        example=_example(family, mechanism),
    )


# -- a plain sigmoid's output at the clip bounds ---------------------------------------------------
def _source_probs(call: Call) -> np.ndarray:
    """What a sigmoid source makes of the logits it is fed: the reference's sigmoid of them,
    rounded to the call's dtype (TF's sigmoid rounds the same way on these inputs)."""
    z = round_to(P.logits(call.x, P.SIGMOID), call.dtype)
    with np.errstate(over="ignore"):
        return round_to(np.asarray(R.sigmoid(z), dtype=np.float64), call.dtype)


def _crosses_bound(call: Call) -> bool:
    """An eagerly applied plain sigmoid (Keras takes its output as given) whose output falls
    on the other side of a clip bound than ``x``."""
    value = call.facet("x_source")
    if value is None or call.op != "binary_cross_entropy" or set(call.facets) - _MODELLED_FACETS:
        return False
    source, prefix = P.parse(value)
    if source.kind != P.SIGMOID or source.keras_logits or _graph(call, prefix):
        return False
    lo, hi = keras_clip_bounds(call.dtype)
    x = np.asarray(call.x, dtype=np.float64)
    p = _source_probs(call)
    return bool(np.any(((x >= lo) & (x <= hi)) != ((p >= lo) & (p <= hi))))


def _clip_bound_model(call: Call) -> ModelResult:
    return keras_binary(call.replace(x=_source_probs(call), facets={}), from_logits=False)


def _ex_clip_bound() -> Call:
    return example_call("binary_cross_entropy", [[1e-7, 0.5], [0.25, 0.75]],
                        target=[[1, 0], [1, 1]], facets={"x_source": "tf.math.sigmoid"})


_CLIP_BOUND = Divergence(
    id="keras-bce-probs-source-clip-bound",
    title="Keras binary_crossentropy clips what a plain sigmoid made: at the clip bound an ulp "
          "of the logits decides whether the gradient is zero",
    framework="tensorflow",
    package="keras",
    entry_points=_BCE,
    versions=KERAS_3,
    kinds=("gradient",),
    trigger="y_pred made eagerly by tf.math.sigmoid / tf.nn.sigmoid from logits, where a "
            "probability sits on Keras' clip bound (1e-7, 1-1e-7) and the sigmoid of its "
            "rounded logit lands outside [eps, 1-eps] (facet x_source)",
    explanation="Eagerly, Keras takes a plain sigmoid's output as given and clips it with "
                "tf.clip_by_value(output, epsilon(), 1 - epsilon()): the gradient is zero "
                "where a value is clipped. The sigmoid of the logit of 1e-7 rounded to "
                "float64 is 1e-7 minus one ulp, so that element is clipped (gradient 0) "
                "where the probability 1e-7 itself is not (the clip bounds are inclusive). "
                "Model: Keras' probability path (keras-bce-probs-clip-eps) on the "
                "reference's sigmoid of the logits the source was fed, rounded to the dtype.",
    link=f"{_KERAS}backend/tensorflow/nn.py#L1444-L1489 (binary_crossentropy: _get_logits, "
         "then tf.clip_by_value); https://www.tensorflow.org/api_docs/python/tf/clip_by_value",
    applies=_crosses_bound,
    model=_clip_bound_model,
    example=_ex_clip_bound,
)

DIVERGENCES: tuple[Divergence, ...] = tuple(
    _entry(f, m) for m in ("attr", "op") for f in ("cce", "scce", "bce")) + (_CLIP_BOUND,)
#: none narrower (divergences.py's tiers)
NARROW_DTYPE_DIVERGENCES: tuple[Divergence, ...] = ()
