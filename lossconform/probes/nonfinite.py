"""NaN, +inf and -inf inputs (which elements become NaN, where the mathematical limit is
returned), subnormal results (kept or flushed to zero), bitwise determinism of repeated calls,
and argument order (a swapped ``(target, input)`` call).

Every probe uses two items: item 0 carries the special value, item 1 is ordinary, so the
observation also says whether the special value leaks into the other item.
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.ops import OP

from .base import Context, Probe, close, fmt, pattern, raised
from .inputs import index_target, op_input, rng, soft_target, reference  # noqa: F401

ROW = np.array([0.0, 1.0, -0.5])
SPECIALS = {"nan": np.nan, "posinf": np.inf, "neginf": -np.inf}


GRAD = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])  # an upstream gradient that is not flat


def _limit_word(got: np.ndarray, ref: np.ndarray) -> str:
    """How the output relates to the reference's mathematical value (its limit where the
    input is infinite; NaN where the value is undefined)."""
    if close(got, ref, rtol=1e-4, atol=1e-6):
        return "undefined: NaN as the reference" if np.isnan(ref).all() else "the limit"
    return f"not the limit {pattern(ref)}"


def _activation(ctx: Context, which: str, where: int) -> str:
    x = np.stack([ROW.copy(), ROW.copy()])
    x[0, where] = SPECIALS[which]
    res = ctx.call(x, grad_output=GRAD)
    if not res.ok:
        return raised(res)
    ref, _ = reference(ctx.make_call(x))
    text = f"{pattern(res.value[0])} ({_limit_word(res.value[0], ref[0])})"
    if res.grad is not None:
        text += f"; gradient {pattern(res.grad[0])}"
    if not np.all(np.isfinite(res.value[1])):
        text += "; the other row is not finite"
    return text


def _loss_inputs(ctx: Context, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = np.stack([ROW.copy(), ROW.copy()])
    if OP[ctx.op].family == "binary":
        t = np.array([[0.0, 1.0, 0.5], [0.0, 1.0, 0.5]])
        return z, t, t
    if kind == "index":
        t = np.array([1, 1], dtype=np.int64)
        return z, t, np.eye(3)[t]
    t = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]) if kind == "onehot" else \
        np.array([[0.0, 0.7, 0.3], [0.0, 0.7, 0.3]])
    return z, t, t


def _loss(ctx: Context, which: str, where: int, kind: str) -> str:
    z, t, dense = _loss_inputs(ctx, kind)
    z[0, where] = SPECIALS[which]
    x = z  # the probes that use this apply to logits inputs only
    tk = "index" if kind == "index" else "probs"
    g = np.array([1.0, 2.0]) if OP[ctx.op].family != "binary" else GRAD
    res = ctx.call(x, target=t, target_kind=tk, options={"reduction": "none"}, grad_output=g)
    if not res.ok:
        return raised(res)
    ref, _ = reference(ctx.make_call(x, target=t, target_kind=tk, options={"reduction": "none"}))
    v = res.value
    if v.ndim < ref.ndim:  # a loss that averages the element-wise losses over the last axis
        ref = ref.mean(axis=-1)
    item = v[0]
    text = f"loss {pattern(item)} ({_limit_word(item, ref[0])})"
    if res.grad is not None:
        text += f"; gradient {pattern(res.grad[0])}"
    if not np.all(np.isfinite(v[1])):
        text += "; the other item is not finite"
    return text


# (label, position of the special logit, description) for the categorical losses: the target
# class is 1; position 0 carries a zero label, position 1 the true class
_CAT_PLACES = {"zero_label": 0, "true_class": 1}
_KINDS = {"index": "index target", "onehot": "one-hot target", "soft": "soft target [0, 0.7, 0.3]"}


def _has_kind(spec, kind: str) -> bool:
    return ("index" if kind == "index" else "probs") in spec.capabilities.target_kinds


def _subnormal(ctx: Context) -> str:
    """A result whose true value is subnormal in the dtype: kept or flushed to zero."""
    op = OP[ctx.op]
    tiny = float(np.finfo(np.float32).tiny)
    if op.name in ("softmax",):
        x = np.array([[0.0, -95.0, 0.0]])
        res = ctx.call(x)
        want = R.softmax(x, axis=-1)[0, 1]
        got = None if not res.ok else res.value[0, 1]
    elif op.name == "sigmoid":
        x = np.array([[-95.0, 0.0]])
        res = ctx.call(x)
        want = R.sigmoid(x)[0, 0]
        got = None if not res.ok else res.value[0, 0]
    elif op.name == "cross_entropy" and "index" in ctx.spec.capabilities.target_kinds:
        x = np.array([[95.0, 0.0, 0.0]])
        res = ctx.call(x, target=np.array([0]), target_kind="index", options={"reduction": "none"})
        want = R.cross_entropy(x, np.array([0]), reduction="none")[0]
        got = None if not res.ok else res.value[0]
    elif op.name == "binary_cross_entropy_with_logits":
        x = np.array([[-95.0]])
        res = ctx.call(x, target=np.array([[0.0]]), options={"reduction": "none"})
        want = R.binary_cross_entropy_with_logits(x, np.array([[0.0]]), reduction="none")[0, 0]
        got = None if not res.ok else res.value.ravel()[0]
    else:
        return "n/a"
    assert 0 < want < tiny  # the true value is subnormal in float32
    if got is None:
        return raised(res)
    if got == 0:
        return f"flushed to 0 (true value {fmt(want)}, subnormal)"
    if close(got, want, rtol=1e-2, atol=0):
        return f"subnormal kept ({fmt(got)})"
    return f"{fmt(got)} (true value {fmt(want)}, subnormal)"


def _subnormal_applies(spec) -> bool:
    op = OP[spec.op]
    return op.name in ("softmax", "sigmoid", "binary_cross_entropy_with_logits") or (
        op.name == "cross_entropy" and "index" in spec.capabilities.target_kinds)


def _determinism(ctx: Context) -> str:
    op = OP[ctx.op]
    n, c = 16, 1000  # long rows (a reduction order to vary); few of them: 5 calls each
    z = rng(17).normal(0, 3.0, size=(n, c))
    x = op_input(ctx.op, z)
    opts, t, kind = {}, None, None
    if op.is_loss:
        opts = {"reduction": "mean"}
        if op.family == "binary":
            t, kind = rng(18).uniform(0, 1, size=(n, c)), "probs"
        elif "index" in ctx.spec.capabilities.target_kinds:
            t, kind = index_target((n,), c, 18), "index"
        else:
            t, kind = soft_target((n, c), salt=18), "probs"
    g = rng(19).normal(size=() if op.is_loss else (n, c))
    runs = [ctx.call(x, target=t, target_kind=kind, options=opts, grad_output=g) for _ in range(5)]
    if not runs[0].ok:
        return raised(runs[0])
    fwd = all(np.array_equal(r.value, runs[0].value, equal_nan=True) for r in runs)
    grads = [r.grad for r in runs if r.grad is not None]
    grd = all(np.array_equal(gr, grads[0], equal_nan=True) for gr in grads) if grads else None
    words = f"forward {'bitwise identical' if fwd else 'differs'} over 5 calls"
    if grd is not None:
        words += f"; gradient {'bitwise identical' if grd else 'differs'}"
    return words


def _swapped(kind: str):
    def run(ctx: Context) -> str:
        op = OP[ctx.op]
        n, c = 4, 3
        x = op_input(ctx.op, rng(21).normal(0, 1.5, size=(n, c)))
        if op.family == "binary":
            t = rng(22).uniform(0.1, 0.9, size=(n, c))
        elif kind == "index":
            t = index_target((n,), c, 22)
        else:
            t = soft_target((n, c), salt=22)
        tk = "probs" if op.family == "binary" else kind
        res = ctx.call(x, target=t, target_kind=tk, options={"reduction": "mean"},
                       facets={"swap_args": True})
        if not res.ok:
            return raised(res)
        ref = reference(ctx.make_call(x, target=t, target_kind=tk,
                                       options={"reduction": "mean"}), gradient=False)[0]
        same = close(res.value, ref)
        return f"silent: returns {fmt(res.value) if res.value.shape == () else pattern(res.value)} " \
               f"({'equal to' if same else 'not'} the correct {fmt(ref)})"
    return run


def _cat_logits(spec, kind: str) -> bool:
    return (OP[spec.op].family == "categorical" and OP[spec.op].input_kind == "logits"
            and _has_kind(spec, kind))


def _probes() -> tuple[Probe, ...]:
    out: list[Probe] = []
    activation = lambda spec: OP[spec.op].family == "activation"  # noqa: E731
    for which in SPECIALS:
        out.append(Probe(
            f"nonfinite.{which}.activation", "nan_inf_behaviour",
            f"a row [{which}, 1, -0.5]: output and gradient of that row", activation,
            lambda ctx, w=which: _activation(ctx, w, 0), module=__name__))
        for kind, kind_words in _KINDS.items():
            for place, pos in _CAT_PLACES.items():
                where = "zero-label class" if place == "zero_label" else "true class"
                out.append(Probe(
                    f"nonfinite.{which}.{place}.{kind}", "nan_inf_behaviour",
                    f"logits [0, 1, -0.5] with a {which} logit at the {where}, {kind_words}: "
                    "the item's loss and gradient",
                    lambda spec, k=kind: _cat_logits(spec, k),
                    lambda ctx, w=which, p=pos, k=kind: _loss(ctx, w, p, k), module=__name__))
        out.append(Probe(
            f"nonfinite.{which}.binary", "nan_inf_behaviour",
            f"binary loss on logits [{which}, 1, -0.5] with targets [0, 1, 0.5]: loss and "
            "gradient of the item",
            lambda spec: OP[spec.op].family == "binary" and OP[spec.op].input_kind == "logits",
            lambda ctx, w=which: _loss(ctx, w, 0, "binary"), module=__name__))
    out.append(Probe(
        "nonfinite.all_neginf.activation", "nan_inf_behaviour",
        "a fully masked row [-inf, -inf, -inf]: output and gradient", activation,
        _all_masked, module=__name__))
    for kind, kind_words in _KINDS.items():
        out.append(Probe(
            f"nonfinite.all_neginf.{kind}", "nan_inf_behaviour",
            f"a fully masked row of logits [-inf, -inf, -inf], {kind_words}: loss and gradient",
            lambda spec, k=kind: _cat_logits(spec, k),
            lambda ctx, k=kind: _loss(ctx, "neginf", slice(None), k), module=__name__))
    out += [
        Probe("nonfinite.subnormal", "nan_inf_behaviour",
              "a result whose true value is subnormal in float32 (e^-95): kept or flushed to 0",
              _subnormal_applies, _subnormal, module=__name__),
        Probe("determinism.repeat", "determinism",
              "the same call (16 x 1000, forward and gradient) five times: bitwise identical?",
              lambda spec: True, _determinism, module=__name__),
        Probe("args.swapped.index", "argument_order",
              "the loss called as f(target, input) with index targets",
              lambda spec: OP[spec.op].family == "categorical"
              and "index" in spec.capabilities.target_kinds, _swapped("index"), module=__name__),
        Probe("args.swapped.probs", "argument_order",
              "the loss called as f(target, input) with probability targets",
              lambda spec: OP[spec.op].is_loss and "probs" in spec.capabilities.target_kinds,
              _swapped("probs"), module=__name__),
    ]
    return tuple(out)


def _all_masked(ctx: Context) -> str:
    x = np.stack([np.full(3, -np.inf), ROW.copy()])
    res = ctx.call(x, grad_output=GRAD)
    if not res.ok:
        return raised(res)
    text = pattern(res.value[0])
    if res.grad is not None:
        text += f"; gradient {pattern(res.grad[0])}"
    if not np.all(np.isfinite(res.value[1])):
        text += "; the other row is not finite"
    return text


PROBES = _probes()
