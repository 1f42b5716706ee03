"""NumPy models of how each runtime computes the ONNX operators, built from the reference's
arithmetic and ``lossconform.dtypes.round_to``, never from ONNX Runtime or onnx.reference.

Classes are moved last (``classes_last``); a model returns its two ends where the result
depends on a summation order (``farther_from_reference`` picks, per element, the end farther
from the reference: the runtime's value lies between them).
"""
from __future__ import annotations

import numpy as np

from lossconform.contract import Call
from lossconform.divergences.numerics import (
    classes_back, farther_from_reference, log_of_rounded_sum,
)
from lossconform.dtypes import EPS, round_to

# -- ONNX Runtime --------------------------------------------------------------------------------
def ort_compute_dtype(dt: str) -> str:
    """ONNX Runtime runs float16 through Cast nodes to float32 it inserts itself."""
    return "float32" if dt == "float16" else dt


def ort_log_softmax_ends(x_last: np.ndarray, dt: str) -> tuple[np.ndarray, np.ndarray]:
    """LogSoftmax as ONNX Runtime's CPU kernel computes it (classes last): x - max - log(sum
    exp(x - max)), the sum stored in the compute dtype before its log; rounded to ``dt``."""
    cd = ort_compute_dtype(dt)
    d, lo, hi = log_of_rounded_sum(x_last, store=cd, acc=cd)
    with np.errstate(invalid="ignore"):
        return round_to(round_to(d - lo, cd), dt), round_to(round_to(d - hi, cd), dt)


def ort_softmax(x_last: np.ndarray, dt: str) -> np.ndarray:
    """Softmax of the rows (classes last) in ONNX Runtime's compute dtype, rounded to ``dt``."""
    from lossconform import reference as R

    cd = ort_compute_dtype(dt)
    with np.errstate(invalid="ignore", over="ignore"):
        return round_to(round_to(R.softmax(x_last, axis=-1), cd), dt)


def flatten_at_axis(call: Call) -> tuple[np.ndarray, tuple[int, ...]]:
    """Softmax-11's coercion: the input as 2-D [prod(shape[:axis]), prod(shape[axis:])]."""
    x = np.asarray(call.x, dtype=np.float64)
    axis = call.axis % x.ndim
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    return x.reshape(rows, -1), x.shape


MLAS_LOGISTIC = dict(  # onnxruntime/core/mlas/lib/logistic.cpp (Eigen's coefficients)
    lower=-18.0, upper=18.0,
    alpha=(4.37031012579801e-11, 1.15627324459942e-07, 6.08574864600143e-05,
           8.51377133304701e-03, 2.48287947061529e-01),
    beta=(6.10247389755681e-13, 5.76102136993427e-09, 6.29106785017040e-06,
          1.70198817374094e-03, 1.16817656904453e-01, 9.93151921023180e-01))


def mlas_logistic(x: np.ndarray, dt: str) -> np.ndarray:
    """MlasComputeLogistic: x clamped to [-18, 18], a rational polynomial p(x)/q(x) in float32
    (fused multiply-adds: each step one float32 rounding), + 0.5, clamped to [0, 1]; NaN stays
    NaN. Rounded to ``dt`` (float16 goes through float32)."""
    f = "float32"
    c = {k: tuple(round_to(np.asarray(a), f) for a in v) if isinstance(v, tuple) else v
         for k, v in MLAS_LOGISTIC.items()}
    with np.errstate(invalid="ignore"):
        v = np.clip(np.asarray(x, dtype=np.float64), c["lower"], c["upper"])
        v2 = round_to(v * v, f)
        p = c["alpha"][0]
        for a in c["alpha"][1:]:
            p = round_to(p * v2 + a, f)
        p = round_to(p * v, f)
        q = c["beta"][0]
        for b in c["beta"][1:]:
            q = round_to(q * v2 + b, f)
        y = np.clip(round_to(round_to(p / q, f) + 0.5, f), 0.0, 1.0)
        y = np.where(np.isnan(x), np.nan, y)
    return round_to(y, dt)


def tanh_logistic(x: np.ndarray, dt: str) -> tuple[np.ndarray, np.ndarray]:
    """0.5 * tanh(0.5 x) + 0.5 in ``dt`` (ONNX Runtime's double Sigmoid on Eigen's tanh, which
    is accurate to an ULP or two of 1 in absolute terms): the two ends of that error; the sum
    cancels for x << 0 and rounds to 0 once tanh rounds to -1 (x below ~ -38)."""
    with np.errstate(invalid="ignore", over="ignore"):
        t = round_to(np.tanh(0.5 * np.asarray(x, dtype=np.float64)), dt)
        ends = []
        for s in (-2.0, 2.0):
            # a tanh that rounds to +-1 is saturated: exact in any implementation
            tt = np.where(np.abs(t) < 1.0, np.clip(t + s * EPS[dt], -1.0, 1.0), t)
            ends.append(round_to(round_to(0.5 * tt, dt) + 0.5, dt))
    return ends[0], ends[1]


# -- onnx.reference ------------------------------------------------------------------------------
def _sum_rows(e: np.ndarray, dt: str, strided: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """NumPy's sum of the rows of ``e`` (values of ``dt``) as onnx.reference gets it: along the
    last (contiguous) axis float16 is accumulated in float32 (NumPy's pairwise sum) and rounded
    once, float32/float64 pairwise in the dtype (two ends, (C - 2) roundings apart); bfloat16
    (ml_dtypes has no such loop) and any sum over another axis (``strided``: NumPy adds the
    slices one after another) one addition after another, each rounded to the dtype."""
    C = e.shape[-1]
    with np.errstate(invalid="ignore", over="ignore"):
        if dt == "bfloat16" or strided:
            s = np.zeros(e.shape[:-1] + (1,))
            for k in range(C):
                s = round_to(s + e[..., k:k + 1], dt)
            return s, s
        S = np.sum(e, axis=-1, keepdims=True)
        if dt == "float16":
            s = round_to(round_to(S, "float32"), dt)
            return s, s
        # the row maximum contributes exp(0) = 1: while the other terms add up to less than
        # a quarter ULP of 1, every order gives exactly 1; otherwise (C - 2) roundings apart
        top = np.max(e, axis=-1, keepdims=True)
        flush = (S - top) < EPS[dt] / 4 * top
        err = np.where(flush, 0.0, max(C - 2, 0) * EPS[dt] / 2 * np.abs(S))
        lo = np.where(flush, round_to(S, dt), np.maximum(round_to(S - err, dt), top))
        return lo, round_to(S + err, dt)


def reference_softmax_ends(x_last: np.ndarray, dt: str, strided: bool = False
                           ) -> tuple[np.ndarray, np.ndarray]:
    """onnx.reference's Softmax (op_softmax.py), classes last, every step in ``dt``:
    tmp = X - max, Y = exp(tmp), Y /= Y.sum() (``strided``: the class axis was not the last
    one of the array NumPy summed)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        m = np.max(x_last, axis=-1, keepdims=True)
        e = round_to(np.exp(round_to(x_last - m, dt)), dt)
        lo, hi = _sum_rows(e, dt, strided)
        return round_to(e / hi, dt), round_to(e / lo, dt)


def reference_log_softmax_ends(x_last: np.ndarray, dt: str, strided: bool = False
                               ) -> tuple[np.ndarray, np.ndarray]:
    """onnx.reference's LogSoftmax (op_log_softmax.py): np.log of its Softmax, in ``dt``: a
    probability that underflows gives -inf, one near 1 loses the relative accuracy of its
    log."""
    a, b = reference_softmax_ends(x_last, dt, strided)
    with np.errstate(divide="ignore", invalid="ignore"):
        return round_to(np.log(a), dt), round_to(np.log(b), dt)


# -- the loss operators' reductions -----------------------------------------------------------
def index_loss(call: Call, lp_last: np.ndarray, dt: str) -> np.ndarray:
    """SoftmaxCrossEntropyLoss / NegativeLogLikelihoodLoss from log-probabilities ``lp_last``
    (classes last, values as the runtime has them): -lp[target] rounded to ``dt``, times the
    class weight of the target, ignored items 0; 'sum' their sum, 'mean' divided by the sum
    of the kept items' weights (the item count without weights), rounded to ``dt``."""
    t = np.asarray(call.target, dtype=np.int64)
    C = lp_last.shape[-1]
    ii = call.option("ignore_index")
    keep = np.ones(t.shape, bool) if ii is None else (t != int(ii))
    tc = np.clip(t, 0, C - 1)
    with np.errstate(invalid="ignore"):
        l = -np.take_along_axis(lp_last, tc[..., None], axis=-1)[..., 0]
        w = np.ones(t.shape) if call.option("weight") is None else \
            np.asarray(call.option("weight"), dtype=np.float64)[tc]
        w = np.where(keep, w, 0.0)
        wl = np.where(keep, round_to(w * l, dt), 0.0)
        red = call.reduction
        if red == "none":
            return wl
        total = np.sum(wl)
        if red == "sum":
            return round_to(total, dt)
        return round_to(total / np.sum(w), dt)


def loss_or_log_softmax(call: Call, ends: tuple[np.ndarray, np.ndarray], dt: str) -> np.ndarray:
    """The call's output from log-probability ends (classes last): log_softmax back in place,
    or the index loss; the end farther from the reference."""
    if call.op == "log_softmax":
        a, b = classes_back(ends[0], call), classes_back(ends[1], call)
    else:
        a, b = index_loss(call, ends[0], dt), index_loss(call, ends[1], dt)
    return farther_from_reference(call, a, b)


# -- ONNX Runtime's double LogSoftmax (softmax_shared.cc, SoftmaxCPU<double>) -------------------
LOG_FLOOR = float(np.float32(1e-20))  # std::fmax(scale, 1e-20f): the float 1e-20f as a double


def _maxi(a: float, b: float) -> float:
    """std::max(a, b) = (a < b) ? b : a, and Eigen's SSE pmax (_mm_max_pd(b, a)): a NaN
    operand gives back ``a``."""
    return b if a < b else a


def _eigen_max(row: np.ndarray, aligned_start: int) -> float:
    """Eigen's redux (LinearVectorizedTraversal, packets of 2 doubles) of ``maxCoeff`` over one
    contiguous row, with std::max's NaN rule at every step: two packet accumulators from
    ``aligned_start``, merged, a last packet, the horizontal max (lane 0 first), then the
    unaligned head and the tail element by element."""
    size, ps = len(row), 2
    a_size = (size - aligned_start) // ps * ps
    a_size2 = (size - aligned_start) // (2 * ps) * (2 * ps)
    a_end, a_end2 = aligned_start + a_size, aligned_start + a_size2
    if not a_size:
        res = row[0]
        for v in row[1:]:
            res = _maxi(res, v)
        return res
    r0 = list(row[aligned_start:aligned_start + 2])
    if a_size > ps:
        r1 = list(row[aligned_start + 2:aligned_start + 4])
        for i in range(aligned_start + 2 * ps, a_end2, 2 * ps):
            r0 = [_maxi(r0[k], row[i + k]) for k in range(2)]
            r1 = [_maxi(r1[k], row[i + 2 + k]) for k in range(2)]
        r0 = [_maxi(r0[k], r1[k]) for k in range(2)]
        if a_end > a_end2:
            r0 = [_maxi(r0[k], row[a_end2 + k]) for k in range(2)]
    res = _maxi(r0[0], r0[1])
    for i in list(range(0, aligned_start)) + list(range(a_end, size)):
        res = _maxi(res, row[i])
    return res


def eigen_row_max(x_last: np.ndarray) -> np.ndarray:
    """math::RowwiseMax<double> (ConstEigenMatrixMap(x, D, N).colwise().maxCoeff()) on the
    row-major rows of a 16-byte aligned buffer (row i starts at a packet boundary when i * D is
    even): a row without NaN gets its maximum; with a NaN, whatever Eigen's reduction order
    and std::max's NaN rule give (NaN, or the maximum of the elements it still compares)."""
    flat = x_last.reshape(-1, x_last.shape[-1])
    D = flat.shape[-1]
    with np.errstate(invalid="ignore"):
        m = np.max(flat, axis=-1)
    for i in np.nonzero(np.any(np.isnan(flat), axis=-1))[0]:
        m[i] = _eigen_max(flat[i], (int(i) * D) % 2)
    return m.reshape(x_last.shape[:-1] + (1,))


def ort_double_log_softmax_ends(x_last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SoftmaxCPU<double>(logarithmic): y = x - rowmax - log(fmax(sum exp(x - rowmax), 1e-20f));
    std::fmax returns its other argument for a NaN, so a row whose sum is NaN (a NaN or +inf
    logit) subtracts log(1e-20) = -46.05 instead of propagating the NaN."""
    dt = "float64"
    D = x_last.shape[-1]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        m = eigen_row_max(x_last)
        d = x_last - m
        e = np.exp(d)
        S = np.sum(e, axis=-1, keepdims=True)
        err = max(D - 2, 0) * EPS[dt] / 2 * np.abs(S)
        flush = (S - 1.0) < EPS[dt] / 4
        ends = []
        for Sx in (S - err, S + err):
            Sx = np.where(flush, 1.0, Sx)
            Sx = np.where(np.isnan(Sx), LOG_FLOOR, np.maximum(Sx, LOG_FLOOR))
            ends.append(round_to(d - np.log(Sx), dt))
    return ends[0], ends[1]


def ort_log_softmax_any(x_last: np.ndarray, dt: str) -> tuple[np.ndarray, np.ndarray]:
    """ONNX Runtime's LogSoftmax kernel for ``dt``: MLAS (float32, and float16 through float32)
    or SoftmaxCPU<double>."""
    if dt == "float64":
        return ort_double_log_softmax_ends(x_last)
    return ort_log_softmax_ends(x_last, dt)


__all__ = ["eigen_row_max", "flatten_at_axis", "index_loss", "loss_or_log_softmax",
           "mlas_logistic", "ort_compute_dtype", "ort_double_log_softmax_ends",
           "ort_log_softmax_any", "ort_log_softmax_ends", "ort_softmax",
           "reference_log_softmax_ends", "reference_softmax_ends", "tanh_logistic"]
