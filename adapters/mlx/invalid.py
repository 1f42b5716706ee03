"""MLX's expected outcome on every invalid-input cell (measured with mlx 0.32.4, CPU, float32;
the rows printed by the contract suite, merged), and the direct float-label call a ``Call``
cannot carry.

- nothing validates values: NaN/inf targets, unnormalised rows and targets outside [0, 1] are
  computed silently;
- class indices are gathered with ``mx.take_along_axis`` (v0.32.4 python/mlx/nn/losses.py#L115,
  #L277) and "Indexing does not perform bounds checking. Indexing out of bounds is undefined
  behavior" (docs/src/usage/indexing.rst): a negative index is wrapped once (-1 is the last
  class), an index of C reads the next item's first logit (a finite, wrong loss), and an index
  whose element lies outside the logits' memory reads arbitrary memory (garbage such as
  1.9e-19, and once here a segmentation fault with indices up to 10^6): the adapter declares such calls unsupported with that reason
  (``_reads_outside`` in adapter.py), so -100 (probe ignore.default_index) is not run;
- float labels: the CPU gather refuses float indices when the graph is evaluated
  (``RuntimeError: [GatherAxis::eval_cpu] Cannot gather with indices type.``);
- shapes: cross_entropy and binary_cross_entropy check them (ValueError naming both shapes,
  losses.py#L89-L96, #L187-L190); nll_loss has no check of its own, mx.take_along_axis /
  broadcasting raise ValueError;
- an empty batch: the activations return an empty array and mx.mean of no losses is NaN,
  except in mlx.nn.log_softmax and cross_entropy, whose ``mx.logsumexp`` raises
  ``ValueError: [logsumexp] Received empty array.`` on a (0, C) input although the class axis
  is not empty: the adapter declares those calls unsupported with that reason (a raise on a
  valid input cannot be a matrix verdict), so their empty_batch cells are skipped with it;
- binary_cross_entropy(with_logits=False) on probabilities outside [0, 1]: log of a negative
  number is NaN (the -100 clip keeps NaN).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lossconform.contract import InvalidOutcome
from lossconform.invalid import FLOAT_LABELS, LOGITS

ANY = r".*"

_BCE = r"mlx\.nn\.losses\.binary_cross_entropy.*"

INVALID_OUTCOMES: tuple[InvalidOutcome, ...] = (
    InvalidOutcome(r"mlx\.(core|nn)\..*", "None", "empty_batch", "silent-empty"),
    InvalidOutcome(ANY, ANY, "empty_batch", "silent-nan"),
    InvalidOutcome(ANY, "index", "index_out_of_range|negative_index", "silent-finite"),
    InvalidOutcome(ANY, "index", "float_labels", "raises:RuntimeError"),
    InvalidOutcome(ANY, ANY, "shape_mismatch|target_extra_dim|target_missing_dim",
                   "raises:ValueError"),
    InvalidOutcome(ANY, "probs", "nan_target", "silent-nan"),
    InvalidOutcome(r"mlx\.nn\.losses\.binary_cross_entropy", "probs", "inf_target",
                   "silent-inf"),
    InvalidOutcome(ANY, "probs", "inf_target", "silent-nan"),
    InvalidOutcome(_BCE, "probs", "probs_outside_01", "silent-nan"),
    InvalidOutcome(ANY, "probs", "target_not_normalized|target_outside_01", "silent-finite"),
)

_CE_NAME = "mlx.nn.losses.cross_entropy"
_NLL = "mlx.nn.losses.nll_loss"
#: the user's code of the float-label call, per entry point (``x`` and ``t`` defined before)
_SOURCE = {
    _CE_NAME: "out = nn.losses.cross_entropy(x, t, reduction='mean')",
    _NLL: "out = nn.losses.nll_loss(nn.log_softmax(x), t, reduction='mean')",
}


def float_label_call(entry_point: str) -> Callable[[], Any] | None:
    if entry_point not in _SOURCE:
        return None

    def run() -> Any:
        import mlx.core as mx
        import mlx.nn as nn

        ns: dict[str, Any] = {"mx": mx, "nn": nn,
                              "x": mx.array(LOGITS, dtype=mx.float32),
                              "t": mx.array(np.asarray(FLOAT_LABELS), dtype=mx.float32)}
        exec(_SOURCE[entry_point], ns)  # noqa: S102 (our own snippet, shown by the repro)
        out = ns["out"]
        mx.eval(out)
        return np.array(out.astype(mx.float64), dtype=np.float64)
    return run


def float_label_repro(entry_point: str) -> str:
    if entry_point not in _SOURCE:
        return ""
    return ("import numpy as np, mlx.core as mx, mlx.nn as nn\n"
            f"x = mx.array(np.array({LOGITS.tolist()}), dtype=mx.float32)\n"
            f"t = mx.array({list(map(float, FLOAT_LABELS))}, dtype=mx.float32)\n"
            + _SOURCE[entry_point] + "\n")
