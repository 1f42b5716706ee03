"""TensorFlow/Keras's divergence entries (``ADAPTER.divergences``), assembled from the topic
modules:

* div_keras_probabilities: Keras losses on probabilities (renormalise, clip, float16 bounds,
  1/p overflow in the gradient);
* div_keras_losses: Keras loss-API conventions (reductions, smoothing, ignore_class, empty
  batches, sparse labels rounded to the loss's dtype, loss classes computing in float32);
* div_tf_kernels: tf.nn kernels and tf.reduce_mean.

Order matters: the harness names the FIRST entry whose model matches a result, and several
models coincide where their triggers overlap. Entries are tried in three tiers, each in
module order:

1. the general conventions (``DIVERGENCES`` of each module);
2. float16/bfloat16 corner cases (``NARROW_DTYPE_DIVERGENCES``): an intermediate that
   overflows (1/p, a cotangent's or an item count's sum) or class labels rounded to the
   loss's dtype; they refine the general conventions, which keep the cases both explain;
3. the loss classes computing float64 inputs in float32: their model applies every Keras
   convention on top of the float32 rounding, so they would otherwise claim what a more
   specific entry explains.
"""
from __future__ import annotations

from lossconform.divergences import Divergence

from . import div_keras_losses as _losses
from . import div_keras_probabilities as _probabilities
from . import div_tf_kernels as _kernels
from . import div_regimes as _regimes
from . import div_provenance as _provenance  # first: under x_source it replaces the clip models

_TOPICS = (_provenance, _probabilities, _losses, _kernels)

DIVERGENCES: tuple[Divergence, ...] = (
    tuple(d for m in _TOPICS for d in m.DIVERGENCES)
    + tuple(d for m in _TOPICS for d in m.NARROW_DTYPE_DIVERGENCES)
    + _losses.FLOAT32_CLASS_DIVERGENCES
    + _regimes.DIVERGENCES  # the regimes of issue 10, section 4 (tried last)
    + __import__(f"{__package__}.div_accuracy", fromlist=["_"]).DIVERGENCES  # relative accuracy (issue 10, section 5)
)
