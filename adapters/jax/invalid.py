"""jax/optax's expected outcome on every invalid-input cell (measured with jax 0.10.2, optax
0.2.8, CPU, float32; the rows printed by the contract suite, merged), and the direct
float-label call a ``Call`` cannot carry.

- nothing validates values: NaN/inf targets, unnormalised rows and targets outside [0, 1] are
  computed silently;
- class indices are gathered with ``jnp.take_along_axis`` (optax v0.2.8
  optax/losses/_classification.py#L400), whose default out-of-bounds mode for a gather is
  "fill" with NaN (https://docs.jax.dev/en/latest/_autosummary/jax.numpy.take_along_axis.html):
  an index >= C gives a NaN loss, and a negative index counts from the end (NumPy indexing), a
  finite loss of another class;
- float labels are refused by ``utils.check_subdtype(labels, jnp.integer)`` (TypeError, L378);
- shapes: a batch mismatch raises (TypeError from the product with probability labels,
  ValueError from the broadcast of integer labels); an extra trailing dimension of size 1
  raises in the categorical losses but broadcasts silently in sigmoid_binary_cross_entropy,
  which also takes (N,) targets against (N, 1) logits (jnp broadcasting; the docstring warns
  "Be particularly careful if you're relying on implicit broadcasting");
- an empty batch: the activations return an empty array, jnp.mean of no losses is NaN.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lossconform.contract import InvalidOutcome
from lossconform.invalid import FLOAT_LABELS, LOGITS

ANY = r".*"
_ACT = r"jax\.nn\.(softmax|log_softmax|sigmoid|log_sigmoid)"
_BCE = r"optax\.losses\.sigmoid_binary_cross_entropy"

INVALID_OUTCOMES: tuple[InvalidOutcome, ...] = (
    InvalidOutcome(_ACT, ANY, "empty_batch", "silent-empty"),
    InvalidOutcome(ANY, ANY, "empty_batch", "silent-nan"),
    InvalidOutcome(ANY, "index", "index_out_of_range", "silent-nan"),
    InvalidOutcome(ANY, "index", "negative_index", "silent-finite"),
    InvalidOutcome(ANY, "index", "float_labels", "raises:TypeError"),
    InvalidOutcome(ANY, "index", "shape_mismatch|target_extra_dim", "raises:ValueError"),
    InvalidOutcome(ANY, "probs", "shape_mismatch", "raises:TypeError"),
    InvalidOutcome(_BCE, ANY, "target_extra_dim|target_missing_dim", "silent-finite"),
    InvalidOutcome(ANY, "probs", "target_extra_dim", "raises:ValueError"),
    InvalidOutcome(ANY, "probs", "nan_target", "silent-nan"),
    InvalidOutcome(_BCE + r"|optax\.losses\.poly_loss_cross_entropy.*", "probs", "inf_target",
                   "silent-nan"),
    InvalidOutcome(ANY, "probs", "inf_target", "silent-inf"),
    InvalidOutcome(ANY, "probs", "target_not_normalized|target_outside_01", "silent-finite"),
)

_INT = "optax.losses.softmax_cross_entropy_with_integer_labels"


def float_label_call(entry_point: str) -> Callable[[], Any] | None:
    if entry_point != _INT:
        return None

    def run() -> Any:
        import jax.numpy as jnp
        import optax

        x = jnp.asarray(LOGITS, dtype=jnp.float32)
        t = jnp.asarray(FLOAT_LABELS, dtype=jnp.float32)
        return np.asarray(optax.losses.softmax_cross_entropy_with_integer_labels(x, t),
                          dtype=np.float64)
    return run


def float_label_repro(entry_point: str) -> str:
    if entry_point != _INT:
        return ""
    return ("import numpy as np, jax.numpy as jnp, optax\n"
            f"x = jnp.asarray(np.array({LOGITS.tolist()}), dtype=jnp.float32)\n"
            f"optax.losses.softmax_cross_entropy_with_integer_labels(x, jnp.asarray("
            f"{list(map(float, FLOAT_LABELS))}, dtype=jnp.float32))\n")
