"""Checks that prove the reference right, as plain functions returning the worst error.

They look the reference ops up on the ``reference`` module at call time, so a test can
monkeypatch a broken formula in and see the check report a mismatch (test_reference_mutation).

- ``oracle_forward_ulp(op)`` / ``oracle_grad_ulp(op)``: worst float64 ULP distance between the
  reference and the mpmath oracle over ``CASES[op]`` (random and extreme rows);
- ``fd_grad_error(op, case)``: worst relative error of the analytic VJP against central
  finite differences of the reference forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossconform import reference
from lossconform.reference import oracle


# --------------------------------------------------------------------------- error measure
def ulp_error(actual: Any, expected: Any) -> float:
    """max |a - e| / spacing(|e|) in float64; equal values (incl. same inf, both NaN) give 0,
    a mismatch in the pattern of non-finite values gives inf."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    same = (a == e) | (np.isnan(a) & np.isnan(e))
    finite = np.isfinite(a) & np.isfinite(e)
    if np.any(~same & ~finite):
        return float("inf")
    with np.errstate(all="ignore"):
        u = np.abs(a - e) / np.spacing(np.abs(e))
    return float(np.max(np.where(same, 0.0, u)))


# --------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    grad_output: Any = None


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _confident(loss: float, c: int = 3) -> np.ndarray:
    """A row [z, 0, ..., 0] whose -log_softmax at class 0 is ~loss (naive formulas give 0)."""
    z = np.log((c - 1) / loss)
    return np.array([[z] + [0.0] * (c - 1)])


def _logit_rows() -> dict[str, np.ndarray]:
    r = _rng(11)
    base = r.normal(size=(6, 5)) * 3
    rows = {
        "random": base,
        "random_wide": r.normal(size=(4, 9)) * 30,
        "offset_1e4": base + 1e4,
        "offset_1e8": base + 1e8,
        "offset_-1e8": base - 1e8,
        "pm_1e30": np.array([[1e30, -1e30, 0.0, 1.0], [-1e30, 2.0, 1e30, 1e30]]),
        "neg_inf": np.array([[0.5, -np.inf, 2.0, -np.inf], [-np.inf, -np.inf, 3.0, 0.0]]),
        "one_class": np.array([[0.3], [-7.0], [1e8]]),
        "classes_1000": r.normal(size=(2, 1000)) * 4,
        "confident_1e-9": _confident(1e-9),
        "confident_1e-12": _confident(1e-12),
        "confident_1e-20": _confident(1e-20),
        "confident_1e-20_c50": _confident(1e-20, 50),
        "tiny_probs": np.array([[0.0, -700.0, -740.0, -20.0]]),
    }
    return rows


def _regime_rows() -> dict[str, np.ndarray]:
    """Small versions of the regimes users hit (lossconform/cases.py ``_regime_logits``): a
    fully masked row beside partly masked and plain ones, a NaN, +inf (once and twice),
    logits over +-3e4, one logit at log(C - 1) over C - 1 zeros (p_0 = 1/2, C = 1024), and
    confident rows [d, 0] whose loss log1p(exp(-d)) is ~1e-6."""
    r = _rng(19)
    c = 1024
    one_vs_rest = np.zeros((1, c))
    one_vs_rest[0, 0] = np.log(c - 1)
    confident = np.zeros((40, 2))
    confident[:, 0] = r.uniform(13.5, 14.2, 40)
    return {
        "masked_rows": np.array([[-np.inf] * 4, [0.5, -np.inf, 2.0, 0.25], [1.0, 2.0, 3.0, 4.0]]),
        "nan_row": np.array([[0.5, np.nan, 2.0, 0.25], [1.0, 2.0, 3.0, 4.0]]),
        "pos_inf_rows": np.array([[0.5, np.inf, 2.0, 0.25], [np.inf, np.inf, 0.0, 1.0],
                                  [1.0, 2.0, 3.0, 4.0]]),
        "wide_3e4": r.uniform(-3e4, 3e4, (3, 10)),
        "one_vs_rest_1024": one_vs_rest,
        "confident_batch": confident,
    }


def _prob_rows() -> dict[str, np.ndarray]:
    r = _rng(12)
    return {
        "dirichlet": r.dirichlet(np.ones(5), size=6),
        "exact_0_1": np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        "near_1": np.array([[1 - 1e-12, 1e-12, 0.0], [1 - 2**-52, 2**-52, 0.0]]),
        "near_0": np.array([[1e-12, 0.5, 0.5 - 1e-12], [1e-300, 0.25, 0.75]]),
        "classes_1000": r.dirichlet(np.ones(1000), size=2),
    }


def _grad(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return _rng(seed).normal(size=shape)


def _activation_cases(name: str) -> list[Case]:
    out = []
    for i, (label, x) in enumerate(_logit_rows().items()):
        out.append(Case(label, (x,), {}, None))
        out.append(Case(label + "_g", (x,), {}, _grad(x.shape, 100 + i)))
    for i, (label, x) in enumerate(_regime_rows().items()):
        out.append(Case(label, (x,), {}, None))
        out.append(Case(label + "_g", (x,), {}, _grad(x.shape, 150 + i)))
    return out


def _elementwise_cases() -> list[Case]:
    r = _rng(13)
    xs = {
        "random": r.normal(size=(4, 6)) * 4,
        "extreme": np.array([1e30, -1e30, 750.0, -750.0, 40.0, -40.0, 1e-300, -1e-300, 0.0, 37.0]),
        "inf": np.array([np.inf, -np.inf, 0.5]),
        "near_0": np.array([1e-20, -1e-20, 2**-30, -(2**-30)]),
        "nan_wide": np.array([np.nan, 1.0, -1.0, 3e4, -3e4, -2.5e4]),
    }
    out = []
    for i, (label, x) in enumerate(xs.items()):
        out.append(Case(label, (x,), {}, None))
        out.append(Case(label + "_g", (x,), {}, _grad(x.shape, 200 + i)))
    return out


def _entropy_cases() -> list[Case]:
    out = []
    for i, (label, p) in enumerate(_prob_rows().items()):
        g = _grad(p.shape[:-1], 300 + i)
        out.append(Case(label, (p,), {}, None))
        out.append(Case(label + "_g", (p,), {}, g))
    return out


def _with_reductions(label: str, args: tuple, kw: dict, n_items: tuple[int, ...], seed: int,
                     reductions=("none", "sum", "mean")) -> list[Case]:
    out = []
    for red in reductions:
        g = _grad(n_items, seed) if red == "none" else np.float64(_rng(seed).normal())
        out.append(Case(f"{label}-{red}", args, {**kw, "reduction": red}, None))
        out.append(Case(f"{label}-{red}-g", args, {**kw, "reduction": red}, g))
    return out


def _ce_cases() -> list[Case]:
    r = _rng(14)
    out: list[Case] = []
    rows = _logit_rows()
    for i, (label, z) in enumerate(rows.items()):
        if label in ("neg_inf",):
            continue
        n, c = z.shape
        y = np.zeros(n, dtype=np.int64) if label.startswith("confident") else r.integers(0, c, n)
        out += _with_reductions(f"{label}-index", (z, y), {}, (n,), 400 + i)
        if label.startswith("confident"):
            # confidently wrong: the target is not the argmax
            out += _with_reductions(f"{label}-wrong", (z, np.full(n, c - 1)), {}, (n,), 450 + i,
                                    ("none",))
    # -inf logits on non-target classes
    z = rows["neg_inf"]
    out += _with_reductions("neg_inf-index", (z, np.array([2, 3])), {}, (2,), 480)
    z = rows["random"]
    n, c = z.shape
    y = r.integers(0, c, n)
    y_ign = y.copy()
    y_ign[1] = -100
    w = r.uniform(0.1, 2.0, c)
    sw = r.uniform(0.0, 2.0, n)
    t = r.dirichlet(np.ones(c), size=n)
    kws = {
        "weight": dict(weight=w),
        "smoothing": dict(label_smoothing=0.1),
        "smoothing_weight": dict(label_smoothing=0.25, weight=w),
        "ignore": dict(ignore_index=-100),
        "all_options": dict(weight=w, label_smoothing=0.2, ignore_index=-100, sample_weight=sw),
    }
    for j, (label, kw) in enumerate(kws.items()):
        yy = y_ign if "ignore_index" in kw else y
        out += _with_reductions(f"random-index-{label}", (z, yy), kw, (n,), 500 + j)
    pk = dict(target_kind="probs")
    out += _with_reductions("random-probs", (z, t), pk, (n,), 520)
    out += _with_reductions("random-probs-all", (z, t),
                            {**pk, "weight": w, "label_smoothing": 0.3, "sample_weight": sw},
                            (n,), 521)
    zc = rows["confident_1e-20"]
    out += _with_reductions("confident_1e-20-probs", (zc, np.array([[1.0, 0.0, 0.0]])), pk,
                            (1,), 522)
    zb = rows["classes_1000"]
    out += _with_reductions("classes_1000-smoothing", (zb, np.array([3, 999])),
                            dict(label_smoothing=0.1), (2,), 523)
    return out + _ce_regime_cases()


def _ce_regime_cases() -> list[Case]:
    """cross_entropy on the regimes users hit, every target kind: index targets (ignored
    where the row is fully masked or NaN: padding), one-hot and soft targets with a -inf
    under label 0 and under a positive label, all-zero label rows, rows summing far from 1,
    one class."""
    r = _rng(24)
    rows = _regime_rows()
    out: list[Case] = []
    for i, (label, z) in enumerate(rows.items()):
        n, c = z.shape
        y = np.zeros(n, dtype=np.int64) if label in ("one_vs_rest_1024", "confident_batch") \
            else r.integers(0, c, n)
        out += _with_reductions(f"{label}-index", (z, y), {}, (n,), 530 + i)
    ign = dict(ignore_index=-100)
    out += _with_reductions("masked_rows-ignored", (rows["masked_rows"], np.array([-100, 2, 3])),
                            ign, (3,), 540)
    out += _with_reductions("nan_row-ignored", (rows["nan_row"], np.array([-100, 1])), ign,
                            (2,), 541)
    out += _with_reductions("masked_rows-ignored-smoothing-weight",
                            (rows["masked_rows"], np.array([-100, 0, 3])),
                            dict(ignore_index=-100, label_smoothing=0.1,
                                 weight=np.array([0.5, 1.0, 2.0, 1.5])), (3,), 542)
    pk = dict(target_kind="probs")
    zm = rows["masked_rows"]
    soft_masked = np.array([[0.25] * 4, [0.5, 0.0, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4]])
    out += _with_reductions("masked-probs-soft-zero-at-mask", (zm[1:], soft_masked[1:]), pk,
                            (2,), 543)
    out += _with_reductions("masked-probs-with-masked-row", (zm, soft_masked), pk, (3,), 544)
    onehot_on_mask = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    out += _with_reductions("masked-probs-onehot-on-mask", (zm[1:], onehot_on_mask), pk, (2,), 545)
    out += _with_reductions("masked-probs-smoothing", (zm[1:], soft_masked[1:]),
                            {**pk, "label_smoothing": 0.1}, (2,), 546)
    z = r.normal(size=(3, 4)) * 2
    zero_t = np.array([[0.0] * 4, [0.1, 0.2, 0.3, 0.4], [0.0] * 4])
    out += _with_reductions("zero_target", (z, zero_t), pk, (3,), 547)
    far = np.array([[0.9, 0.95, 0.85, 1.0], [1e-4, 2e-4, 0.0, 5e-5], [0.5, 0.5, 0.5, 0.5]])
    out += _with_reductions("far_from_1", (z, far), pk, (3,), 548)
    out += _with_reductions("far_from_1-weight-smoothing", (z, far),
                            {**pk, "label_smoothing": 0.2, "weight": np.array([1.0, 0.5, 2.0, 1.5])},
                            (3,), 549)
    out += _with_reductions("one_class-probs", (np.array([[0.3], [-7.0], [1e8]]),
                                                np.array([[1.0], [0.5], [0.0]])), pk, (3,), 550)
    out += _with_reductions("pos_inf-probs", (rows["pos_inf_rows"], soft_masked), pk, (3,), 551)
    out += _with_reductions("nan-probs", (rows["nan_row"], soft_masked[1:]), pk, (2,), 552)
    return out


def _nll_cases() -> list[Case]:
    r = _rng(15)
    out: list[Case] = []
    z = r.normal(size=(6, 5)) * 3
    logp = np.asarray(reference.log_softmax(z))
    y = r.integers(0, 5, 6)
    y_ign = y.copy()
    y_ign[0] = 7
    w = r.uniform(0.1, 2.0, 5)
    sw = r.uniform(0.0, 2.0, 6)
    out += _with_reductions("plain", (logp, y), {}, (6,), 600)
    out += _with_reductions("all_options", (logp, y_ign),
                            dict(weight=w, ignore_index=7, sample_weight=sw), (6,), 601)
    lp_inf = np.array([[-0.1, -np.inf, -3.0], [-np.inf, -1e-20, -50.0]])
    out += _with_reductions("neg_inf", (lp_inf, np.array([0, 1])), {}, (2,), 602)
    return out


def _cce_cases() -> list[Case]:
    r = _rng(16)
    out: list[Case] = []
    for i, (label, p) in enumerate(_prob_rows().items()):
        n, c = p.shape
        onehot = np.eye(c)[np.argmax(p, axis=-1)]
        soft = r.dirichlet(np.ones(c), size=n)
        soft_masked = np.where(p == 0, 0.0, soft)
        soft_masked /= soft_masked.sum(-1, keepdims=True)
        out += _with_reductions(f"{label}-onehot", (p, onehot), {}, (n,), 700 + i)
        out += _with_reductions(f"{label}-soft", (p, soft_masked), {}, (n,), 720 + i)
    p = _prob_rows()["dirichlet"]
    t = r.dirichlet(np.ones(5), size=6)
    kw = dict(weight=r.uniform(0.1, 2, 5), label_smoothing=0.15, sample_weight=r.uniform(0, 2, 6))
    out += _with_reductions("dirichlet-all", (p, t), kw, (6,), 740)
    # p = 0 where q > 0: +inf loss, -inf gradient
    out += _with_reductions("zero_prob_positive_target",
                            (np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])), {}, (1,), 741)
    # degenerate rows: a predicted row of zeros, a label row of zeros, labels far from
    # summing to 1, one class
    pz = np.array([[0.0, 0.0, 0.0], [0.2, 0.3, 0.5], [0.25, 0.25, 0.5]])
    tz = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.9, 0.8, 1.0]])
    out += _with_reductions("zero_rows-zero_target-far_from_1", (pz, tz), {}, (3,), 742)
    out += _with_reductions("zero_target-only", (pz[1:], tz[1:]), {}, (2,), 743)
    out += _with_reductions("one_class", (np.array([[1.0], [1.0]]), np.array([[1.0], [0.25]])),
                            {}, (2,), 744)
    return out


def _bce_cases() -> list[Case]:
    r = _rng(17)
    p = np.concatenate([r.uniform(0.01, 0.99, 8),
                        [0.0, 1.0, 1e-12, 1 - 1e-12, 1e-300, 2**-53, 0.5, 1 - 2**-53]])
    t = np.concatenate([r.uniform(0, 1, 8), [0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.5, 1.0]])
    t_hard = np.concatenate([(r.uniform(0, 1, 8) > 0.5).astype(float),
                             [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]])
    w = r.uniform(0, 2, p.shape)
    out: list[Case] = []
    out += _with_reductions("soft", (p, t), {}, p.shape, 800)
    out += _with_reductions("hard", (p, t_hard), {}, p.shape, 801)
    out += _with_reductions("weighted", (p, t), dict(weight=w), p.shape, 802)
    out += _with_reductions("smoothing", (p[:8], t[:8]), dict(label_smoothing=0.1), (8,), 803)
    pp = r.uniform(0.01, 0.99, (3, 4))
    out += _with_reductions("2d_bcast_weight", (pp, r.uniform(0, 1, (3, 4))),
                            dict(weight=r.uniform(0, 2, 4)), (3, 4), 804)
    return out


def _bcel_cases() -> list[Case]:
    r = _rng(18)
    z = np.concatenate([r.normal(size=8) * 4,
                        [1e30, -1e30, 40.0, -40.0, 745.0, -745.0, 1e-20, 0.0, 50.0, -50.0]])
    t = np.concatenate([r.uniform(0, 1, 8), [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.5, 0.3, 0.0, 1.0]])
    out: list[Case] = []
    out += _with_reductions("soft", (z, t), {}, z.shape, 900)
    out += _with_reductions("weighted_posw", (z, t),
                            dict(weight=r.uniform(0, 2, z.shape), pos_weight=r.uniform(0, 3, z.shape)),
                            z.shape, 901)
    out += _with_reductions("smoothing", (z, t), dict(label_smoothing=0.2), z.shape, 902)
    zz = r.normal(size=(5, 3)) * 3
    tt = (r.uniform(0, 1, (5, 3)) > 0.5).astype(float)
    out += _with_reductions("posw_last_axis", (zz, tt), dict(pos_weight=np.array([0.5, 1.0, 4.0])),
                            (5, 3), 903)
    # non-finite and large logits: +-inf under both labels (with smoothing every label is
    # positive: +inf), NaN, +-3e4
    zi = np.array([np.inf, np.inf, -np.inf, -np.inf, 3e4, -3e4, -2.5e4, 2.0])
    ti = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.3])
    out += _with_reductions("infinite_wide", (zi, ti), {}, zi.shape, 904)
    out += _with_reductions("infinite_wide-smoothing", (zi, ti), dict(label_smoothing=0.1),
                            zi.shape, 905)
    out += _with_reductions("nan", (np.array([np.nan, 1.0, -1.0]), np.array([1.0, 0.0, 1.0])),
                            {}, (3,), 906)
    return out


CASE_BUILDERS = {
    "softmax": lambda: _activation_cases("softmax"),
    "log_softmax": lambda: _activation_cases("log_softmax"),
    "sigmoid": _elementwise_cases,
    "log_sigmoid": _elementwise_cases,
    "entropy": _entropy_cases,
    "cross_entropy": _ce_cases,
    "nll_loss": _nll_cases,
    "categorical_crossentropy": _cce_cases,
    "binary_cross_entropy": _bce_cases,
    "binary_cross_entropy_with_logits": _bcel_cases,
}
OP_NAMES = tuple(CASE_BUILDERS)
_CACHE: dict[str, list[Case]] = {}


def cases(op: str) -> list[Case]:
    if op not in _CACHE:
        _CACHE[op] = CASE_BUILDERS[op]()
    return _CACHE[op]


_ORACLE_CACHE: dict[tuple[str, str, int], Any] = {}


def _oracle(op: str, kind: str, i: int, case: Case) -> Any:
    """Oracle values are cached: they do not depend on the (possibly mutated) reference."""
    key = (op, kind, i)
    if key not in _ORACLE_CACHE:
        if kind == "fwd":
            _ORACLE_CACHE[key] = getattr(oracle, op)(*case.args, **case.kwargs)
        else:
            _ORACLE_CACHE[key] = getattr(oracle, op + "_vjp")(
                *case.args, **case.kwargs, grad_output=case.grad_output)
    return _ORACLE_CACHE[key]


def oracle_forward_ulp(op: str, *, detail: bool = False) -> Any:
    """Worst ULP of reference.<op> against the oracle over cases(op) (forward only)."""
    worst, where = 0.0, ""
    seen = set()
    for i, case in enumerate(cases(op)):
        key = (case.label.removesuffix("-g").removesuffix("_g"))
        if key in seen:
            continue
        seen.add(key)
        got = getattr(reference, op)(*case.args, **case.kwargs)
        u = ulp_error(got, _oracle(op, "fwd", i, case))
        if u > worst or not where:
            worst, where = u, case.label
    return (worst, where) if detail else worst


def oracle_grad_ulp(op: str, *, detail: bool = False) -> Any:
    """Worst ULP of reference.<op>_vjp against the oracle's analytic gradient."""
    worst, where = 0.0, ""
    for i, case in enumerate(cases(op)):
        got = getattr(reference, op + "_vjp")(*case.args, **case.kwargs,
                                              grad_output=case.grad_output)
        u = ulp_error(got, _oracle(op, "grad", i, case))
        if u > worst or not where:
            worst, where = u, case.label
    return (worst, where) if detail else worst


# --------------------------------------------------------------------------- finite differences
def fd_grad_error(op: str, args: tuple, kwargs: dict, grad_output: Any = None,
                  h: float = 1e-6) -> float:
    """max |vjp - fd| / max(|fd|, |vjp|, 1e-3): analytic VJP against central differences of
    <forward, grad_output> in the first argument (kept inside its domain by the caller)."""
    fwd = getattr(reference, op)
    vjp = getattr(reference, op + "_vjp")
    x = np.array(args[0], dtype=np.float64)
    out0 = np.asarray(fwd(x, *args[1:], **kwargs))
    g = np.ones(out0.shape) if grad_output is None else np.asarray(grad_output, dtype=np.float64)
    fd = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        step = h * max(1.0, abs(x[j]))
        xp, xm = x.copy(), x.copy()
        xp[j] += step
        xm[j] -= step
        fp = np.sum(np.asarray(fwd(xp, *args[1:], **kwargs)) * g)
        fm = np.sum(np.asarray(fwd(xm, *args[1:], **kwargs)) * g)
        fd[j] = (fp - fm) / (xp[j] - xm[j])
    an = np.asarray(vjp(x, *args[1:], **kwargs, grad_output=grad_output))
    if an.size == 0:
        return 0.0
    # relative to the gradient's size, floored at 1e-3: a zero gradient (softmax_vjp with
    # grad_output=ones) has FD noise ~eps/h = 2e-10, which must not count as relative error
    scale = max(float(np.max(np.abs(fd))), float(np.max(np.abs(an))), 1e-3)
    return float(np.max(np.abs(an - fd)) / scale)
