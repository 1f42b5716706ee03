"""What each mylib entry point does with invalid input, pinned as data; and the direct
float-label call that a ``Call`` cannot carry.

How the rows are used (lossconform/suite/test_invalid_inputs.py): for every entry point,
every target kind it takes and every invalid case of ``lossconform.invalid.CASES`` that
applies, the suite builds the invalid call, runs it through ``ADAPTER.evaluate`` and
summarises what happened:

    raises:<ExceptionType>   the framework raised (the type's ``__name__``, e.g. raises:IndexError)
    silent-nan               it returned a value that is NaN everywhere
    silent-partial-nan       some NaN, not all
    silent-inf               no NaN, at least one inf
    silent-finite            a finite value (usually not a cross-entropy)
    silent-empty             an empty array

Then it looks up the FIRST row of ``INVALID_OUTCOMES`` whose three regular expressions
(``re.fullmatch``) match the entry point's name, the target kind ("index", "probs" or "None"
for activations) and the case name, and asserts the observed outcome equals that row's
``outcome``. The contract suite (``test_invalid_outcome_rows`` in
lossconform/suite/test_contract.py) runs every cell that has no matching row and prints one
ready-to-paste row per cell with the outcome it observed, e.g.::

    InvalidOutcome('mylib\\.nn\\.cross_entropy', 'index', 'index_out_of_range', 'raises:IndexError'),  # Target 3 is out of bounds

so the quickest start is: leave ``INVALID_OUTCOMES`` empty, run the contract suite once, paste
the rows it prints, then merge them with regular expressions (order matters: put the specific
rows first, the catch-alls last). A row is a claim about the framework: check each one you
paste against its docs or source and say why in a comment when it is surprising.

Case names (``lossconform/invalid.py``): index_out_of_range, negative_index, shape_mismatch,
nan_target, inf_target, target_not_normalized, target_outside_01, probs_outside_01,
empty_batch, and float_labels (run through ``float_label_call`` below, target kind "index").
"""
from __future__ import annotations

from typing import Any, Callable

from lossconform.contract import InvalidOutcome
from lossconform.invalid import FLOAT_LABELS, LOGITS

ANY = r".*"
# Regular expressions over entry point names; escape the dots.
_ACT = r"mylib\.nn\.(softmax|log_softmax)"  # TODO: your activations
_CE = r"mylib\.nn\.cross_entropy"  # TODO: your categorical losses

#: What the rows of a typical framework look like (a built-in plug-in's, renamed): NOT active. They show
#: the shape of a row set; replace them with what mylib really does.
EXAMPLE_OUTCOMES: tuple[InvalidOutcome, ...] = (
    # an empty batch: activations return an empty array; a 'mean' loss is 0/0 = nan
    InvalidOutcome(_ACT, ANY, "empty_batch", "silent-empty"),
    InvalidOutcome(ANY, ANY, "empty_batch", "silent-nan"),
    InvalidOutcome(ANY, "index", "index_out_of_range|negative_index", "raises:IndexError"),
    InvalidOutcome(ANY, "index", "float_labels", "raises:TypeError"),
    InvalidOutcome(ANY, ANY, "shape_mismatch", "raises:ValueError"),
    # no validation of probability targets: NaN/inf propagate, anything else is a number
    InvalidOutcome(_CE, "probs", "nan_target", "silent-nan"),
    InvalidOutcome(_CE, "probs", "inf_target", "silent-inf"),
    InvalidOutcome(_CE, "probs", "target_not_normalized|target_outside_01", "silent-finite"),
)

#: TODO: mylib's rows (the contract suite prints one ready-to-paste row per uncovered cell).
INVALID_OUTCOMES: tuple[InvalidOutcome, ...] = ()


# -- float labels where class indices are expected -----------------------------------------
# A ``Call`` carries int64 index targets, so this case calls the framework directly, with the
# suite's fixed inputs: logits ``lossconform.invalid.LOGITS`` (4 x 3, float32) and labels
# ``FLOAT_LABELS`` = [0, 1.7, 0.5, 2] as a float tensor.

#: entry point -> the user code of the call (shown in the report), for entry points that take
#: index targets. TODO: one line per such entry point.
FLOAT_LABEL_SOURCE: dict[str, str] = {
    "mylib.nn.cross_entropy": "mylib.nn.cross_entropy(x, mylib.asarray([0., 1.7, .5, 2.]))",
}


def float_label_call(entry_point: str) -> Callable[[], Any] | None:
    """A no-argument function making the float-label call of ``entry_point`` (None if the
    entry point takes no index targets). It returns the framework's result as NumPy; whatever
    it raises is caught and summarised by the suite."""
    if entry_point not in FLOAT_LABEL_SOURCE:
        return None

    def run() -> Any:
        import numpy as np

        import mylib  # TODO: your framework (imported here, never at module level)

        x = mylib.asarray(np.asarray(LOGITS, dtype=np.float32))  # TODO
        t = mylib.asarray(np.asarray(FLOAT_LABELS, dtype=np.float32))  # TODO
        out = mylib.nn.cross_entropy(x, t)  # TODO: the entry point's call
        return np.asarray(out, dtype=np.float64)  # TODO: your tensor -> NumPy
    return run


def float_label_repro(entry_point: str) -> str:
    """The snippet of ``float_label_call`` for the report (self-contained)."""
    return ("import numpy as np, mylib\n"  # TODO
            f"x = mylib.asarray(np.array({LOGITS.tolist()}, dtype=np.float32))\n"
            + FLOAT_LABEL_SOURCE.get(entry_point, ""))
