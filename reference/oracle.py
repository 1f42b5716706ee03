"""mpmath oracle for the reference (used by tests only).

Textbook formulas evaluated at 80 significant digits on the EXACT float64 values of the
inputs, row by row, then rounded once to float64. Deliberately naive: no max subtraction, no
log1p tricks, so it is easy to check by eye; the precision does the work. Gradients are the
textbook analytic ones (softmax minus target, etc.), also in mpmath.

Handles finite inputs, plus -inf logits (probability 0) and probabilities exactly 0 or 1 with
the conventions of ``reference`` (0 log 0 = 0), and the undefined rows (a NaN or +inf logit,
or all -inf: NaN throughout, except an ignored item, whose loss and gradient are 0; a NaN
survives a zero weight, an infinite loss does not). Only 2-D inputs with the class axis last
(rows of classes) for the categorical ops; any shape for the element-wise ones.
"""

from __future__ import annotations

from typing import Any, Sequence

import mpmath
import numpy as np

mp = mpmath.mp
mp.dps = 80

MPF = Any


def _mp(x: float) -> MPF:
    return mpmath.mpf(float(x))  # exact: an mpf holds any float64


def _f64(v: MPF) -> float:
    """Round an mpf to the nearest float64 (mpmath rounds to nearest at 53 bits)."""
    if v == mpmath.inf:
        return np.inf
    if v == -mpmath.inf:
        return -np.inf
    if mpmath.isnan(v):
        return np.nan
    return float(v)


def _rows(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return a.reshape(1, -1) if a.ndim == 1 else a


def _log(v: MPF) -> MPF:
    return -mpmath.inf if v == 0 else mpmath.log(v)


def _xlog(c: MPF, v: MPF) -> MPF:
    return mpmath.mpf(0) if c == 0 else c * _log(v)


def _exp(v: MPF) -> MPF:
    return mpmath.mpf(0) if v == -mpmath.inf else mpmath.exp(v)


# --------------------------------------------------------------------------- per-row mp helpers
def _undefined_row(row: Sequence[float]) -> bool:
    """A row whose softmax is undefined: a NaN or +inf in it, or every entry -inf (no limit
    exists there; the reference's documented value is NaN throughout)."""
    a = np.asarray(row, dtype=np.float64)
    return bool(np.any(np.isnan(a)) or np.any(np.isposinf(a)) or np.all(np.isneginf(a)))


def row_dps(row: Sequence[float]) -> int:
    """Digits that keep 1 - p_max (about exp(-gap), gap = max - second largest logit) to the
    module's precision: the gradients' cancellations (p_max W - v_max, g_j - sum p g) need
    them in rows like +-3e4. Beyond a gap of 760 nats those terms are below float64's
    smallest subnormal whatever their digits, so the gap is capped there."""
    a = np.sort(np.asarray(row, dtype=np.float64)[np.isfinite(row)])
    gap = float(a[-1] - a[-2]) if a.size >= 2 else 0.0
    return mp.dps + int(min(gap, 760.0) / 2.302585) + 10


def mp_softmax_row(row: Sequence[float]) -> list[MPF]:
    if _undefined_row(row):
        return [mpmath.nan] * len(row)
    e = [_exp(_mp(v)) for v in row]
    s = mpmath.fsum(e)
    return [x / s for x in e]


def mp_log_softmax_row(row: Sequence[float]) -> list[MPF]:
    zs = [_mp(v) for v in row]
    if _undefined_row(row):
        return [mpmath.nan] * len(zs)
    m = max(zs)  # factored out so that z - lse is exact to 60 digits even when it is ~0
    # sum = 1 + (tiny non-max terms): 400 digits keep log(sum) exact to ~1e-400
    with mp.workdps(400):
        lse_shifted = mpmath.log(mpmath.fsum(_exp(z - m) for z in zs))
        out = [(z - m) - lse_shifted for z in zs]
    return [+v for v in out]  # unary plus rounds back to the module precision


def mp_sigmoid(v: float) -> MPF:
    return 1 / (1 + mpmath.exp(-_mp(v)))


def mp_log_sigmoid(v: float) -> MPF:
    """log sigmoid(v) = -log(1 + exp(-v)) (mpmath's log1p keeps 1 + tiny exact)."""
    return -mpmath.log1p(mpmath.exp(-_mp(v)))


# --------------------------------------------------------------------------- forward
def softmax(x: Any) -> np.ndarray:
    a = _rows(x)
    return np.array([[_f64(v) for v in mp_softmax_row(r)] for r in a]).reshape(np.shape(x))


def log_softmax(x: Any) -> np.ndarray:
    a = _rows(x)
    return np.array([[_f64(v) for v in mp_log_softmax_row(r)] for r in a]).reshape(np.shape(x))


def sigmoid(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return np.vectorize(lambda v: _f64(mp_sigmoid(v)), otypes=[float])(a)


def log_sigmoid(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return np.vectorize(lambda v: _f64(mp_log_sigmoid(v)), otypes=[float])(a)


def entropy(p: Any) -> np.ndarray:
    a = _rows(p)
    out = [_f64(-mpmath.fsum(_xlog(_mp(v), _mp(v)) for v in r)) for r in a]
    return np.array(out).reshape(np.shape(p)[:-1])


def _smooth_q(t_row: Sequence[float], eps: float, n: int) -> list[MPF]:
    e = _mp(eps)
    return [(1 - e) * _mp(t) + e / n for t in t_row]


def _onehot(y: int, c: int) -> list[float]:
    return [1.0 if k == y else 0.0 for k in range(c)]


def _xlp(v: MPF, lp: MPF) -> MPF:
    """v * log-probability with 0 * (-inf) = 0; a NaN log-probability stays NaN."""
    if mpmath.isnan(lp):
        return mpmath.nan
    return mpmath.mpf(0) if v == 0 else v * lp


def _item_losses(rows: np.ndarray, target: Any, kind: str, weight: Any, eps: float,
                 ignore_index: Any, logfn,
                 ignored: list[bool] | None = None) -> tuple[list[MPF], list[MPF], list[list[MPF]]]:
    """Per-row loss l_i, the 'mean' weight omega_i (without s) and the coefficients v_i;
    ``ignored`` (if given) is filled with each row's ignored flag."""
    n, c = rows.shape
    w = [mpmath.mpf(1)] * c if weight is None else [_mp(v) for v in weight]
    losses, omegas, coefs = [], [], []
    for i in range(n):
        if ignored is not None:
            ignored.append(False)
        if kind == "index":
            y = int(np.asarray(target)[i])
            if ignore_index is not None and y == ignore_index:
                losses.append(mpmath.mpf(0)); omegas.append(mpmath.mpf(0))
                coefs.append([mpmath.mpf(0)] * c)
                if ignored is not None:
                    ignored[-1] = True
                continue
            t = _onehot(y, c)
            omegas.append(w[y])
        else:
            t = list(np.asarray(target, dtype=np.float64)[i])
            omegas.append(mpmath.mpf(1))
        q = _smooth_q(t, eps, c)
        v = [w[k] * q[k] for k in range(c)]
        lp = logfn(rows[i])
        losses.append(-mpmath.fsum(_xlp(v[k], lp[k]) for k in range(c)))
        coefs.append(v)
    return losses, omegas, coefs


def _reduce(losses: list[MPF], omegas: list[MPF], s: list[MPF], reduction: str):
    # a zero sample weight removes a finite or infinite loss (0 * inf = 0), not a NaN
    weighted = [losses[i] if mpmath.isnan(losses[i]) else
                (mpmath.mpf(0) if s[i] == 0 else s[i] * losses[i]) for i in range(len(losses))]
    if reduction == "none":
        return np.array([_f64(v) for v in weighted])
    total = mpmath.fsum(weighted)
    if reduction == "sum":
        return np.float64(_f64(total))
    den = mpmath.fsum(s[i] * omegas[i] for i in range(len(s)))
    return np.float64(np.nan if den == 0 else _f64(total / den))


def _scale(omegas: list[MPF], s: list[MPF], reduction: str, grad_output: Any) -> list[MPF]:
    n = len(s)
    if reduction == "none":
        g = [mpmath.mpf(1)] * n if grad_output is None else [_mp(v) for v in grad_output]
        return [s[i] * g[i] for i in range(n)]
    g0 = mpmath.mpf(1) if grad_output is None else _mp(grad_output)
    if reduction == "sum":
        return [s[i] * g0 for i in range(n)]
    den = mpmath.fsum(s[i] * omegas[i] for i in range(n))
    return [s[i] * g0 / den for i in range(n)]


def _sw(sample_weight: Any, n: int) -> list[MPF]:
    if sample_weight is None:
        return [mpmath.mpf(1)] * n
    return [_mp(v) for v in np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), (n,))]


def cross_entropy(logits: Any, target: Any, *, target_kind: str = "index", weight: Any = None,
                  ignore_index: Any = None, label_smoothing: float = 0.0,
                  sample_weight: Any = None, reduction: str = "mean"):
    rows = _rows(logits)
    l, om, _ = _item_losses(rows, target, target_kind, weight, label_smoothing, ignore_index,
                            mp_log_softmax_row)
    return _reduce(l, om, _sw(sample_weight, len(rows)), reduction)


def nll_loss(logp: Any, target: Any, *, weight: Any = None, ignore_index: Any = None,
             sample_weight: Any = None, reduction: str = "mean"):
    rows = _rows(logp)
    l, om, _ = _item_losses(rows, target, "index", weight, 0.0, ignore_index,
                            lambda r: [_mp(v) for v in r])
    return _reduce(l, om, _sw(sample_weight, len(rows)), reduction)


def categorical_crossentropy(probs: Any, target: Any, *, weight: Any = None,
                             label_smoothing: float = 0.0, sample_weight: Any = None,
                             reduction: str = "mean"):
    rows = _rows(probs)
    l, om, _ = _item_losses(rows, target, "probs", weight, label_smoothing, None,
                            lambda r: [_log(_mp(v)) for v in r])
    return _reduce(l, om, _sw(sample_weight, len(rows)), reduction)


def _binary_elems(x: Any, target: Any, weight: Any, pos_weight: Any, eps: float, logits: bool):
    xa = np.asarray(x, dtype=np.float64)
    ta = np.broadcast_to(np.asarray(target, dtype=np.float64), xa.shape)
    wa = np.broadcast_to(np.asarray(1.0 if weight is None else weight, dtype=np.float64), xa.shape)
    pa = np.broadcast_to(np.asarray(1.0 if pos_weight is None else pos_weight, dtype=np.float64),
                         xa.shape)
    out = []
    for xv, tv, wv, pv in zip(xa.ravel(), ta.ravel(), wa.ravel(), pa.ravel()):
        e = _mp(eps)
        q = (1 - e) * _mp(tv) + e / 2
        if logits:
            # log sigmoid(z) and log(1 - sigmoid(z)) = log sigmoid(-z)
            a = _mp(pv) * q
            inner = ((0 if a == 0 else a * mp_log_sigmoid(xv))
                     + (0 if q == 1 else (1 - q) * mp_log_sigmoid(-xv)))
        else:
            p = _mp(xv)
            log1m = -mpmath.inf if p == 1 else mpmath.log1p(-p)
            inner = _xlog(q, p) + (0 if q == 1 else (1 - q) * log1m)
        out.append(mpmath.mpf(0) if wv == 0 else -_mp(wv) * inner)
    return xa.shape, out


def _reduce_elems(shape, out, reduction):
    if reduction == "none":
        return np.array([_f64(v) for v in out]).reshape(shape)
    total = mpmath.fsum(out)
    if reduction == "sum":
        return np.float64(_f64(total))
    return np.float64(_f64(total / len(out)) if out else np.nan)


def binary_cross_entropy(probs: Any, target: Any, *, weight: Any = None,
                         label_smoothing: float = 0.0, reduction: str = "mean"):
    shape, out = _binary_elems(probs, target, weight, None, label_smoothing, logits=False)
    return _reduce_elems(shape, out, reduction)


def binary_cross_entropy_with_logits(logits: Any, target: Any, *, weight: Any = None,
                                     pos_weight: Any = None, label_smoothing: float = 0.0,
                                     reduction: str = "mean"):
    shape, out = _binary_elems(logits, target, weight, pos_weight, label_smoothing, logits=True)
    return _reduce_elems(shape, out, reduction)


# --------------------------------------------------------------------------- gradients
def _g_rows(grad_output: Any, shape: tuple[int, ...]) -> np.ndarray:
    g = np.ones(shape) if grad_output is None else np.asarray(grad_output, dtype=np.float64)
    return g.reshape(-1, shape[-1]) if len(shape) > 1 else g.reshape(1, -1)


def softmax_vjp(x: Any, grad_output: Any = None) -> np.ndarray:
    """dx_j = p_j (g_j - sum_k p_k g_k)."""
    a = _rows(x)
    g = _g_rows(grad_output, np.shape(x))
    out = []
    for r, gr in zip(a, g):
        with mp.workdps(row_dps(r)):
            p = mp_softmax_row(r)
            gg = [_mp(v) for v in gr]
            # sum(p g) / sum(p): sum(p) = 1 mathematically; dividing makes constant g give
            # exactly 0
            t = mpmath.fsum(p[k] * gg[k] for k in range(len(p))) / mpmath.fsum(p)
            out.append([_f64(p[j] * (gg[j] - t)) for j in range(len(p))])
    return np.array(out).reshape(np.shape(x))


def log_softmax_vjp(x: Any, grad_output: Any = None) -> np.ndarray:
    """dx_j = g_j - p_j sum_k g_k."""
    a = _rows(x)
    g = _g_rows(grad_output, np.shape(x))
    out = []
    for r, gr in zip(a, g):
        with mp.workdps(row_dps(r)):
            p = mp_softmax_row(r)
            gg = [_mp(v) for v in gr]
            t = mpmath.fsum(gg)
            out.append([_f64(gg[j] - p[j] * t) for j in range(len(p))])
    return np.array(out).reshape(np.shape(x))


def sigmoid_vjp(x: Any, grad_output: Any = None) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    g = np.broadcast_to(np.asarray(1.0 if grad_output is None else grad_output, dtype=np.float64),
                        a.shape)
    f = lambda v, gv: _f64(_mp(gv) * mp_sigmoid(v) * mp_sigmoid(-v))  # noqa: E731
    return np.vectorize(f, otypes=[float])(a, g)


def log_sigmoid_vjp(x: Any, grad_output: Any = None) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    g = np.broadcast_to(np.asarray(1.0 if grad_output is None else grad_output, dtype=np.float64),
                        a.shape)
    f = lambda v, gv: _f64(_mp(gv) * mp_sigmoid(-v))  # noqa: E731
    return np.vectorize(f, otypes=[float])(a, g)


def entropy_vjp(p: Any, grad_output: Any = None) -> np.ndarray:
    a = _rows(p)
    n = a.shape[0]
    g = [1.0] * n if grad_output is None else list(np.ravel(grad_output))
    out = [[_f64(-_mp(g[i]) * (_log(_mp(v)) + 1)) for v in a[i]] for i in range(n)]
    return np.array(out).reshape(np.shape(p))


def cross_entropy_vjp(logits: Any, target: Any, *, target_kind: str = "index",
                      weight: Any = None, ignore_index: Any = None, label_smoothing: float = 0.0,
                      sample_weight: Any = None, reduction: str = "mean",
                      grad_output: Any = None) -> np.ndarray:
    """dz_ic = f_i (p_ic sum_k v_ik - v_ic), v = w q, f_i the reduction factor."""
    rows = _rows(logits)
    ignored: list[bool] = []
    _, om, coefs = _item_losses(rows, target, target_kind, weight, label_smoothing, ignore_index,
                                mp_log_softmax_row, ignored)
    f = _scale(om, _sw(sample_weight, len(rows)), reduction, grad_output)
    out = []
    for i, r in enumerate(rows):
        if ignored[i]:  # an ignored item's loss is 0 whatever its logits: so is its gradient
            out.append([0.0] * len(r))
            continue
        with mp.workdps(row_dps(r)):
            p = mp_softmax_row(r)
            v = coefs[i]
            big_w = mpmath.fsum(v)
            out.append([_f64(f[i] * (p[c] * big_w - v[c])) for c in range(len(p))])
    return np.array(out).reshape(np.shape(logits))


def nll_loss_vjp(logp: Any, target: Any, *, weight: Any = None, ignore_index: Any = None,
                 sample_weight: Any = None, reduction: str = "mean",
                 grad_output: Any = None) -> np.ndarray:
    rows = _rows(logp)
    _, om, coefs = _item_losses(rows, target, "index", weight, 0.0, ignore_index,
                                lambda r: [_mp(v) for v in r])
    f = _scale(om, _sw(sample_weight, len(rows)), reduction, grad_output)
    out = [[_f64(-f[i] * v) for v in coefs[i]] for i in range(len(rows))]
    return np.array(out).reshape(np.shape(logp))


def categorical_crossentropy_vjp(probs: Any, target: Any, *, weight: Any = None,
                                 label_smoothing: float = 0.0, sample_weight: Any = None,
                                 reduction: str = "mean", grad_output: Any = None) -> np.ndarray:
    rows = _rows(probs)
    _, om, coefs = _item_losses(rows, target, "probs", weight, label_smoothing, None,
                                lambda r: [_log(_mp(v)) for v in r])
    f = _scale(om, _sw(sample_weight, len(rows)), reduction, grad_output)
    out = []
    for i, r in enumerate(rows):
        row = []
        for c, pv in enumerate(r):
            v = coefs[i][c]
            if v == 0 or f[i] == 0:
                row.append(0.0)
            elif pv == 0:
                row.append(-np.inf if f[i] > 0 else np.inf)
            else:
                row.append(_f64(-f[i] * v / _mp(pv)))
        out.append(row)
    return np.array(out).reshape(np.shape(probs))


def _binary_grad(x: Any, target: Any, weight: Any, pos_weight: Any, eps: float, logits: bool,
                 reduction: str, grad_output: Any) -> np.ndarray:
    xa = np.asarray(x, dtype=np.float64)
    ta = np.broadcast_to(np.asarray(target, dtype=np.float64), xa.shape)
    wa = np.broadcast_to(np.asarray(1.0 if weight is None else weight, dtype=np.float64), xa.shape)
    pa = np.broadcast_to(np.asarray(1.0 if pos_weight is None else pos_weight, dtype=np.float64),
                         xa.shape)
    if reduction == "none":
        ga = np.broadcast_to(np.asarray(1.0 if grad_output is None else grad_output,
                                        dtype=np.float64), xa.shape)
        fs = [_mp(v) for v in ga.ravel()]
    else:
        g0 = mpmath.mpf(1) if grad_output is None else _mp(grad_output)
        f0 = g0 / xa.size if reduction == "mean" else g0
        fs = [f0] * xa.size
    out = []
    for f, xv, tv, wv, pv in zip(fs, xa.ravel(), ta.ravel(), wa.ravel(), pa.ravel()):
        e = _mp(eps)
        q = (1 - e) * _mp(tv) + e / 2
        if logits:
            d = (1 - q) * mp_sigmoid(xv) - _mp(pv) * q * mp_sigmoid(-xv)
        else:
            p = _mp(xv)
            a = 0 if q == 0 else (mpmath.inf if p == 0 else q / p)
            b = 0 if q == 1 else (mpmath.inf if p == 1 else (1 - q) / (1 - p))
            d = b - a
        out.append(0.0 if (wv == 0 or f == 0) else _f64(f * _mp(wv) * d))
    return np.array(out).reshape(xa.shape)


def binary_cross_entropy_vjp(probs: Any, target: Any, *, weight: Any = None,
                             label_smoothing: float = 0.0, reduction: str = "mean",
                             grad_output: Any = None) -> np.ndarray:
    return _binary_grad(probs, target, weight, None, label_smoothing, False, reduction, grad_output)


def binary_cross_entropy_with_logits_vjp(logits: Any, target: Any, *, weight: Any = None,
                                         pos_weight: Any = None, label_smoothing: float = 0.0,
                                         reduction: str = "mean",
                                         grad_output: Any = None) -> np.ndarray:
    return _binary_grad(logits, target, weight, pos_weight, label_smoothing, True, reduction,
                        grad_output)
