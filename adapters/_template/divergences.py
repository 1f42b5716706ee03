"""mylib's divergence entries: each known, documented way it departs from the reference.

A check whose result falls outside the tolerance of the reference gets verdict ``fail``
unless one of the plug-in's entries explains it: the harness (``lossconform.divergences.
candidates`` then ``explain``) takes the entries whose ``entry_points``, ``kinds`` and
``versions`` match and whose ``applies(call)`` is true, runs each ``model(call)`` and records
verdict ``divergence`` with the first entry whose model matches the framework's output within
the same tolerance. The contract suite (lossconform/suite/test_divergences.py) runs each
entry's ``example()`` on the framework and fails when the framework no longer diverges there
(fixed upstream: bound ``versions``) or no longer matches the model.

Rules for a model (see ``lossconform.divergences.entry``):
* it computes "the reference with mylib's convention applied" in float64 from the
  reference's functions (``lossconform.reference``) and plain NumPy, NEVER by calling mylib:
  an entry that copies the framework's output explains everything and proves nothing;
* it returns ``(forward, gradient)``; gradient is d<forward, grad_output>/dx with
  ``call.grad_output``, or None where you do not model it (then list only "forward" in
  ``kinds``);
* it models the convention exactly (same formula, same constants, rounded to the dtype where
  the framework rounds them); "close enough" models hide real bugs.

Several modules are fine when the models grow (a built-in plug-in may split them into
div_*.py files by topic); this module then just collects them into ``DIVERGENCES``.
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult

# TODO: where your entries link to (source at a release tag, docs, upstream issues).
_SRC = "https://github.com/TODO-org/mylib/blob/vTODO/"


# -- a worked example: 'mean' divides by the item count even with class weights ------------
# (the reference divides by sum w[y_i]; a framework that divides by N gives a
# different number whenever the class weights of the targets do not average to 1.)
def _mean_by_count_applies(call: Call) -> bool:
    """Cheap screen, "could this call trigger it?": exceptions count as False."""
    return (call.op == "cross_entropy" and call.target_kind == "index"
            and call.reduction == "mean" and call.option("weight") is not None)


def _mean_by_count_model(call: Call) -> ModelResult:
    """The reference's 'sum', divided by the number of items (the class axis removed)."""
    args, kw = R.arguments(call)  # the reference's own arguments for this call
    kw["reduction"] = "sum"
    n = call.x.size // call.x.shape[call.axis]
    forward = np.asarray(R.cross_entropy(*args, **kw), dtype=np.float64) / n
    gradient = None
    if call.grad_output is not None:
        g = np.asarray(call.grad_output, dtype=np.float64) / n
        gradient = np.asarray(R.cross_entropy_vjp(*args, **kw, grad_output=g), dtype=np.float64)
    return forward, gradient


def _mean_by_count_example() -> Call:
    """A small call that triggers it: weights of the two targets sum to 1.5, not N = 2."""
    return Call(
        op="cross_entropy",
        x=np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]),
        dtype="float64",  # the example runs in a dtype where the difference is unmistakable
        target=np.array([0, 2], dtype=np.int64),
        target_kind="index",
        options={"weight": np.array([1.0, 2.0, 0.5]), "reduction": "mean"},
        grad_output=np.array(1.0),
    )


#: NOT registered: an example of a complete entry. Copy its shape for mylib's real entries.
EXAMPLE_DIVERGENCE = Divergence(
    id="mylib-ce-mean-divides-by-count",  # lowercase slug, unique across all plug-ins
    title="mylib cross_entropy with class weights: 'mean' divides by the item count",
    framework="mylib",  # == ADAPTER.framework
    entry_points=("mylib.nn.cross_entropy",),  # exact names or fnmatch patterns ("mylib.nn.*")
    versions=">=1.0",  # PEP 440 specifier of the versions it holds for; fixed in 1.4: ">=1.0,<1.4"
    kinds=("forward", "gradient"),
    trigger="index targets, class weights, reduction 'mean'",
    explanation="mylib sums w[y_i] * l_i and divides by N; the reference divides "
                "by sum_i w[y_i], a weighted average.",
    link=_SRC + "mylib/nn/losses.py#LTODO",  # must contain a URL
    applies=_mean_by_count_applies,
    model=_mean_by_count_model,
    example=_mean_by_count_example,
    # compute_dtype="float32": set when the entry point computes in another dtype than the
    #   call's (a loss class that always computes in float32); the match is then judged at
    #   that dtype's accuracy.
    # package="mylib-losses": set when ``versions`` is about another package than the
    #   framework; it must be a key of ADAPTER.versions().
)

#: TODO: mylib's entries. Start empty; add one for each fail that is a documented convention
#: (never for a bug: a bug stays a fail and goes upstream).
DIVERGENCES: tuple[Divergence, ...] = ()
