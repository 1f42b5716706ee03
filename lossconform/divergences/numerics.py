"""Framework-neutral building blocks for divergence entries: models, predicates, examples.

A plug-in's entries model "the reference with the framework's convention applied" from the
reference's functions and plain NumPy; the pieces every such model needs (the class axis
moved last and back, dense probability targets, per-item weights, the reductions and their
gradient factors, the cotangent) live here, with the predicates and example builders that
several entries share. Nothing here knows a framework.

Rounding to a dtype is ``lossconform.dtypes.round_to``; the dtype limits are
``lossconform.dtypes.MAX`` and friends.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.dtypes import EPS, HALF_DTYPES, MAX, round_to

__all__ = [
    "cotangent", "wants_grad", "class_axis", "classes_last", "classes_back",
    "probs_target_last", "sample_weight", "reduce_losses", "item_factor", "label_smoothing",
    "index_items", "log_of_rounded_sum", "farther_from_reference",
    "op_is", "all_of", "targets_not_normalised", "narrow_dtype", "empty_reduced",
    "neg_inf_under_zero_label", "logits_cancel", "label_smoothing_out_of_range",
    "label_smoothing_negative", "some_ignored", "all_ignored",
    "example_call", "EXAMPLE_LOGITS", "confident_items_float16", "F16_MAX",
]

Predicate = Callable[[Call], bool]

#: float16's largest finite value (a float16 sum beyond it is inf).
F16_MAX = MAX["float16"]


# -- model pieces ---------------------------------------------------------------------------------
def log_of_rounded_sum(x: np.ndarray, store: str,
                       acc: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d, L_lo, L_hi) along the last axis: d = x - max rounded to ``store``, and the two ends
    of L = log(S) for the row sum S = sum exp(d) as a kernel computes it: accumulated in
    ``acc`` (exp rounded to it), stored in ``store``, its log rounded to ``store``; NaN where
    the row's maximum is not finite.

    S = 1 + r, r the sum of the other classes. Below half an ULP of 1 of ``store`` every
    summation order gives S = 1 and L = 0 exactly (L_lo = L_hi); above it the last bit of S
    depends on the order, and L_lo, L_hi are the logs of S rounded after the smallest and the
    largest sum a sum of C positive terms can give in any order ((C - 1) u of ``acc``, the
    last addition's rounding being the storage rounding when ``acc`` is ``store``)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        m = np.max(x, axis=-1, keepdims=True)
        fin = np.isfinite(m)
        d = round_to(x - np.where(fin, m, 0.0), store)
        e = round_to(np.exp(d), acc)
        am = np.argmax(np.where(np.isnan(d), -np.inf, d), axis=-1)[..., None]
        rest_e = e.copy()
        np.put_along_axis(rest_e, am, 0.0, axis=-1)
        r = np.sum(rest_e, axis=-1, keepdims=True)
        S = 1.0 + r
        n_add = x.shape[-1] - 1 - (acc == store)
        err = max(n_add, 0) * EPS[acc] / 2 * S
        flush = r < EPS[store] / 4  # r below half an ULP of 1: S is exactly 1 in any order
        ends = []
        for Sx in (S - err, S + err):
            L = round_to(np.log(np.where(flush, 1.0, round_to(Sx, store))), store)
            ends.append(np.where(fin, L, np.nan))
    return d, ends[0], ends[1]


def farther_from_reference(call: Call, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per element, whichever of two ends of a model is farther from the reference: a
    framework's value, from its own summation order, lies between them, so within the model's
    departure from the reference (the harness accepts twice that)."""
    try:
        ref = np.asarray(R.evaluate(call, gradient=False)[0], dtype=np.float64)
    except Exception:  # an input the reference rejects (an example of another convention)
        return b
    if ref.shape != np.shape(b):
        return b
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(a - ref) > np.abs(b - ref), a, b)


def cotangent(call: Call, shape: tuple[int, ...]) -> np.ndarray:
    """The call's grad_output broadcast to ``shape`` (ones when none is given)."""
    g = call.grad_output
    if g is None:
        return np.ones(shape)
    return np.broadcast_to(np.asarray(g, dtype=np.float64), shape)


def wants_grad(call: Call) -> bool:
    return call.grad_output is not None


def class_axis(call: Call) -> int:
    """The class axis of ``call.x``, counted from the front."""
    return call.axis % call.x.ndim


def classes_last(x: np.ndarray, call: Call) -> np.ndarray:
    """``x`` (shaped like ``call.x``) as float64 with the class axis moved last."""
    return np.moveaxis(np.asarray(x, dtype=np.float64), class_axis(call), -1)


def classes_back(x: np.ndarray, call: Call) -> np.ndarray:
    """Undo ``classes_last``: the last axis back to the call's class axis."""
    return np.moveaxis(x, -1, class_axis(call))


def probs_target_last(call: Call) -> np.ndarray:
    """The target as dense probabilities with the class axis last (one-hot from indices;
    an out-of-range index, e.g. an ignored one, gives an all-zero row)."""
    C = call.x.shape[class_axis(call)]
    if call.target_kind == "index":
        y = np.asarray(call.target)
        return (y[..., None] == np.arange(C)).astype(np.float64)
    return classes_last(call.target, call)


def sample_weight(call: Call, item_shape: tuple[int, ...]) -> np.ndarray:
    """The call's per-item sample weight broadcast to ``item_shape`` (ones when none)."""
    s = call.option("sample_weight")
    if s is None:
        return np.ones(item_shape)
    return np.broadcast_to(np.asarray(s, dtype=np.float64), item_shape).copy()


def reduce_losses(weighted: np.ndarray, denom: float, reduction: str) -> np.ndarray:
    """'none': the weighted losses; 'sum': their sum; 'mean': their sum / ``denom``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if reduction == "none":
            return weighted
        if reduction == "sum":
            return np.asarray(np.sum(weighted))
        return np.asarray(np.sum(weighted) / denom)


def item_factor(call: Call, coef: np.ndarray, denom: float) -> np.ndarray:
    """d(reduced)/d(l_i) * grad_output for items whose weighted loss is coef_i * l_i."""
    red = call.reduction
    shape = coef.shape if red == "none" else ()
    g = cotangent(call, shape)
    if red in ("none", "sum"):
        return coef * g
    with np.errstate(invalid="ignore", divide="ignore"):
        return coef * g / denom


def label_smoothing(call: Call) -> float:
    """The call's label smoothing (0.0 when none)."""
    return float(call.option("label_smoothing") or 0.0)


def index_items(call: Call) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-item losses of the reference, reduction 'none'; per-item weights w[y_i] with
    ignored items 0; the ignored mask) for an index-target categorical call."""
    kw = dict(axis=call.axis, weight=call.option("weight"),
              ignore_index=call.option("ignore_index"), reduction="none")
    if call.op == "cross_entropy":
        kw.update(target_kind="index", label_smoothing=label_smoothing(call))
        l = R.cross_entropy(call.x, call.target, **kw)
    else:
        l = R.nll_loss(call.x, call.target, **kw)
    y = np.asarray(call.target)
    ii = call.option("ignore_index")
    ignored = np.zeros(y.shape, bool) if ii is None else (y == ii)
    w = call.option("weight")
    wy = np.ones(y.shape) if w is None else np.asarray(w, np.float64)[np.where(ignored, 0, y)]
    return np.asarray(l, np.float64), np.where(ignored, 0.0, wy), ignored


# -- predicates -----------------------------------------------------------------------------------
def op_is(*ops: str) -> Predicate:
    return lambda call: call.op in ops


def all_of(*preds: Predicate) -> Predicate:
    return lambda call: all(p(call) for p in preds)


def targets_not_normalised(call: Call) -> bool:
    """Probability targets with a row that does not sum to 1."""
    if call.target_kind != "probs" or call.target is None:
        return False
    s = np.sum(classes_last(call.target, call), axis=-1)
    return bool(np.any(np.abs(s - 1.0) > 1e-12))


def narrow_dtype(call: Call) -> bool:
    """float16 or bfloat16."""
    return call.dtype in HALF_DTYPES


def empty_reduced(call: Call) -> bool:
    """A 'sum' or 'mean' over no items."""
    a = class_axis(call) if call.x.ndim else 0
    items = [d for i, d in enumerate(call.x.shape) if i != a]
    return call.reduction in ("sum", "mean") and call.x.ndim >= 1 and int(np.prod(items)) == 0


def neg_inf_under_zero_label(call: Call) -> bool:
    """cross_entropy with a -inf logit whose target probability is 0."""
    if call.op != "cross_entropy" or call.x.ndim == 0:
        return False
    x = classes_last(call.x, call)
    t = probs_target_last(call)
    return bool(np.any(np.isneginf(x) & (t == 0)))


def infinite_logit(call: Call) -> bool:
    """binary_cross_entropy_with_logits with a logit of +inf or -inf."""
    return call.op == "binary_cross_entropy_with_logits" and bool(np.any(np.isinf(call.x)))


def logits_cancel(call: Call) -> bool:
    """binary_cross_entropy_with_logits with a logit below -1 under a target below 1, where
    "(1 - t) z + |z|"-style formulas cancel."""
    if call.op != "binary_cross_entropy_with_logits":
        return False
    z = np.asarray(call.x, dtype=np.float64)
    t = np.asarray(call.target, dtype=np.float64)
    return bool(np.any((z < -1.0) & (t < 1.0)))


def label_smoothing_out_of_range(call: Call) -> bool:
    e = call.option("label_smoothing")
    return e is not None and not (0.0 <= float(e) <= 1.0)


def label_smoothing_negative(call: Call) -> bool:
    e = call.option("label_smoothing")
    return e is not None and float(e) < 0.0


def some_ignored(call: Call) -> bool:
    """Index targets of which at least one equals ignore_index."""
    ii = call.option("ignore_index")
    return ii is not None and call.target_kind == "index" \
        and bool(np.any(np.asarray(call.target) == ii))


def all_ignored(call: Call) -> bool:
    """A 'mean' over index targets that all equal ignore_index."""
    ii = call.option("ignore_index")
    return ii is not None and call.target_kind == "index" and call.reduction == "mean" \
        and np.asarray(call.target).size > 0 and bool(np.all(np.asarray(call.target) == ii))


# -- examples -------------------------------------------------------------------------------------
#: Logits of three items over four classes, a common example input.
EXAMPLE_LOGITS = [[0.5, -1.25, 2.0, 0.25], [1.5, 0.75, -0.5, -2.0], [0.0, 3.0, -1.0, 1.0]]


def example_call(op: str, x: list | np.ndarray, dtype: str = "float64", *, grad: bool = True,
                 target: list | np.ndarray | None = None, **kw) -> Call:
    """A Call for an entry's example: ``x`` and ``target`` as float64 (int64 for index
    targets), and, when ``grad`` and the reduction is 'mean' or 'sum', the cotangent 1.0
    (a 'none' reduction gets none: its shape depends on the framework's item shape)."""
    xa = np.asarray(x, dtype=np.float64)
    if target is not None:
        target = np.asarray(target, dtype=np.int64 if kw.get("target_kind") == "index"
                            else np.float64)
    red = kw.get("options", {}).get("reduction", "mean")
    go = np.asarray(1.0) if grad and red in ("mean", "sum") else None
    return Call(op=op, x=xa, dtype=dtype, target=target, grad_output=go, **kw)


def infinite_logits_example() -> Call:
    """binary_cross_entropy_with_logits on logits +inf, -inf, +inf, -inf under targets 1, 0,
    0, 1: the true losses are 0, 0, +inf, +inf; reduction 'none', no gradient."""
    return example_call("binary_cross_entropy_with_logits", [[np.inf, -np.inf, np.inf, -np.inf]],
                        target=[[1.0, 0.0, 0.0, 1.0]], options={"reduction": "none"}, grad=False)


def cancelling_logits_example() -> Call:
    """binary_cross_entropy_with_logits on confident, correct logits (|z| ~ 32, so the true
    losses are ~1e-14) with reduction 'sum': a formula that cancels loses them."""
    return example_call("binary_cross_entropy_with_logits",
                        [[-32.25, -30.5, 31.0], [-33.0, 34.0, -35.5]],
                        target=[[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], options={"reduction": "sum"},
                        grad=False)


def confident_items_float16(op: str = "cross_entropy") -> Call:
    """70000 confident items in float16 ('cross_entropy' logits, or their log_softmax for
    'nll_loss'), class 0 each, reduction 'mean': the mean loss is 0.0198 while the item count
    (or the total class weight) is beyond float16's 65504. A cotangent of 1e4 makes the
    gradient's loss visible (1e4 / 70000 = 0.14 per item instead of 0)."""
    rng = np.random.default_rng(70000)
    z = round_to(rng.normal(0.0, 0.3, (70000, 2)) + np.array([4.0, 0.0]), "float16")
    if op == "nll_loss":
        z = round_to(np.asarray(R.log_softmax(z, axis=-1), dtype=np.float64), "float16")
    return Call(op=op, x=z, dtype="float16", target=np.zeros(70000, np.int64),
                target_kind="index", options={"reduction": "mean"},
                grad_output=np.asarray(1e4))
