"""torch's relative-accuracy divergences: elements whose reference value is a normal number of
the dtype that torch computes with an absolute error instead of a relative one (the relative
bound of lossconform/harness/tolerances.py catches them; the norm-wise tolerance does not).

* log_softmax (and cross_entropy, which calls it) computes (x - max) - log(sum exp(x - max))
  with the sum rounded to a storage dtype before its log: a log-probability near 0 (the
  argmax of a confident row) is off by up to an ULP of 1 of that dtype, and 0 once the other
  classes add up to less than half an ULP of 1 (a confident item's loss returned as 0).

Each entry follows its model, predicate and example; the models are built from the reference's
arithmetic and lossconform.dtypes.round_to, never from torch. Keyed on torch's version.
"""
from __future__ import annotations

import numpy as np

from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.numerics import (
    classes_back, classes_last, example_call, farther_from_reference, log_of_rounded_sum,
    probs_target_last, reduce_losses, sample_weight,
)
from lossconform.dtypes import HALF_DTYPES, round_to

_LSM_IMPL = ("https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/cpu/"
             "LogSoftmaxKernelImpl.h")

_LSM = ("torch.nn.functional.log_softmax",)
_CE = ("torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss")

_entries: list[Divergence] = []


def _lastdim(call: Call) -> bool:
    """Whether torch runs the call's log_softmax on the last, contiguous dimension (the
    serial_vec_log_softmax_lastdim_range kernel): log_softmax gets the class axis as dim;
    cross_entropy always takes the classes on dim 1 (the adapter moves them there), which is
    the last dimension only for 1-D and 2-D inputs."""
    nd = call.x.ndim
    if nd <= 1:
        return True
    last = call.axis % nd == nd - 1
    return last if call.op == "log_softmax" else last and nd == 2


def torch_log_softmax(call: Call) -> tuple[np.ndarray, np.ndarray]:
    """torch's CPU log_softmax of ``call.x`` over the class axis, classes last, float64: the
    two ends of what torch's summation order can give.

    LogSoftmaxKernelImpl.h: out = (x - max) - log(sum_c exp(x_c - max)). The exponentials
    are summed in the op-math dtype (float32 for float16/bfloat16); on the last dimension
    (serial_vec_log_softmax_lastdim_range) the row's max and sum are STORED in the input's
    dtype (``scalar_t tmp_sum_scalar[]``) and each of log, x - max and the final subtraction
    returns that dtype; on another dimension (serial_vec_logsoftmax_range) the half kernels
    keep max, sum and log in float32 and round once. So the sum S = 1 + r (r: the classes
    other than the argmax) is rounded to the storage dtype before its log: log-probabilities
    near 0 carry an absolute error of up to an ULP of 1 of that dtype.

    Below half an ULP of 1 every summation order gives S = 1 and the argmax's value 0 (both
    ends equal); above it the last bit of S depends on torch's (vectorised) order, which the
    model does not reproduce: the ends are S rounded after the smallest and the largest sum a
    sum of C positive terms can give in any order ((C - 1) u of the op-math dtype, the last
    addition's rounding being the storage rounding when they are the same dtype)."""
    dt = call.dtype
    acc = "float32" if dt in HALF_DTYPES else dt
    store = dt if _lastdim(call) else acc
    d, L_lo, L_hi = log_of_rounded_sum(classes_last(call.x, call), store, acc)
    with np.errstate(invalid="ignore"):
        return tuple(round_to(round_to(d - L, store), dt) for L in (L_lo, L_hi))


def _ce_from(lp: np.ndarray, call: Call) -> np.ndarray:
    """The reference's cross-entropy (weights, smoothing, ignored items, reductions) with
    ``lp`` (classes last) for its log-probabilities: l_i = -sum_c w_c q_ic lp_ic."""
    C = lp.shape[-1]
    q = probs_target_last(call)
    eps = float(call.option("label_smoothing") or 0.0)
    ignored = np.zeros(q.shape[:-1], bool)
    ii = call.option("ignore_index")
    if call.target_kind == "index" and ii is not None:
        ignored = np.asarray(call.target) == ii
    if eps:
        q = (1.0 - eps) * q + eps / C
    q = np.where(ignored[..., None], 0.0, q)
    w = call.option("weight")
    wc = np.ones(C) if w is None else np.asarray(w, dtype=np.float64)
    v = q * wc
    with np.errstate(invalid="ignore"):
        l = -np.sum(np.where(v == 0, 0.0, v * lp), axis=-1)
    s = sample_weight(call, l.shape)
    if call.target_kind == "index":
        y = np.where(ignored, 0, np.asarray(call.target))
        omega = np.where(ignored, 0.0, s * wc[y])
    else:
        omega = s
    return np.asarray(reduce_losses(s * l, float(np.sum(omega)), call.reduction),
                      dtype=np.float64)


def _model(call: Call) -> ModelResult:
    ends = torch_log_softmax(call)
    if call.op == "log_softmax":
        lo, hi = (classes_back(lp, call) for lp in ends)
    else:
        lo, hi = (_ce_from(lp, call) for lp in ends)
    return farther_from_reference(call, lo, hi), None


def _applies(call: Call) -> bool:
    return call.op in ("log_softmax", "cross_entropy") and call.x.size > 0


def _ex_confident() -> Call:
    """Confident rows in float32: the argmax's log-probability is -1.4e-13 and -9.4e-11, and
    torch returns 0 for both (the other classes add up to less than half an ULP of 1)."""
    return example_call("log_softmax", [[30.0, 0.0, 1.0, -2.0], [24.0, 0.5, 0.0, -1.0]],
                        dtype="float32", grad=False)


def _ex_confident_ce() -> Call:
    return example_call("cross_entropy", [[30.0, 0.0, 1.0, -2.0], [0.5, 24.0, 0.0, -1.0]],
                        dtype="float32", target=[0, 1], target_kind="index",
                        options={"reduction": "none"}, grad=False)


_EXPL = ("torch's CPU log_softmax (LogSoftmaxKernelImpl.h) computes (x - max) - "
         "log(sum_c exp(x_c - max)) and, on the last dimension, stores the row's sum in the "
         "input's dtype before taking its log (the tmp_sum_scalar array is scalar_t; the log and "
         "both subtractions return scalar_t); on another dimension float16/bfloat16 keep it in "
         "float32. For the argmax of a row whose other classes add up to r, log(1 + r) is then "
         "taken of 1 + r rounded to that dtype: an absolute error of up to half an ULP of 1 "
         "(6e-8 in float32, 1.1e-16 in float64, 0.004 in bfloat16) on a value of size r, and "
         "exactly 0 once r is below it. The reference takes log1p(r): a confident item's "
         "log-probability (-1.4e-13 for a lead of 30) and its cross-entropy loss keep their "
         "relative accuracy there, while torch returns 0 (float32), or 20% off a "
         "log-probability of -0.0098 in bfloat16. Norm-wise the error is below one ULP of 1, "
         "which is why only the relative bound on normal elements sees it. The gradient "
         "(softmax - target from the saved output) is not affected beyond the cancellation "
         "p - 1 already has.")

_entries.append(Divergence(
    id="torch-log-softmax-log-of-rounded-sum",
    title="torch log_softmax takes the log of the row's sum rounded to the storage dtype: "
          "log-probabilities near 0 lose their relative accuracy (a confident item's is 0)",
    framework="torch",
    entry_points=_LSM,
    versions=">=2.0",
    kinds=("forward",),
    trigger="rows whose argmax has probability near 1 (the other classes summing to less "
            "than ~1/eps_dtype of it): confident or large-scale logits, and in float16/"
            "bfloat16 on the last dimension any row with p_max above ~0.9",
    explanation=_EXPL,
    link=f"{_LSM_IMPL} (serial_vec_log_softmax_lastdim_range: tmp_sum_scalar is scalar_t, "
         "x - max_input - tmp_sum; serial_vec_logsoftmax_range for other dims)",
    applies=_applies,
    model=_model,
    example=_ex_confident,
))

_entries.append(Divergence(
    id="torch-cross-entropy-log-of-rounded-sum",
    title="torch cross_entropy's loss of a confident item is 0: log_softmax takes the log of "
          "the rounded row sum",
    framework="torch",
    entry_points=_CE,
    versions=">=2.0",
    kinds=("forward",),
    trigger="items whose target class has probability near 1 (confident, correct "
            "predictions; in float16/bfloat16 any item with p_target above ~0.9)",
    explanation=_EXPL + " cross_entropy is nll_loss(log_softmax(x)) (LossNLL.cpp), so its "
                        "per-item losses carry that error; weights, smoothing and the "
                        "reductions are exact on top of it.",
    link=f"{_LSM_IMPL}; https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/"
         "LossNLL.cpp (cross_entropy: nll_loss(log_softmax(self, class_dim), ...))",
    applies=_applies,
    model=_model,
    example=_ex_confident_ce,
))

DIVERGENCES: tuple[Divergence, ...] = tuple(_entries)
