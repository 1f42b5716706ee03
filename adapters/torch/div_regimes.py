"""torch divergence entries revealed by the regimes users hit (issue 10, section 4): -inf logits
under zero probability labels, ignored rows that are NaN or fully masked, float16 sums and
normalisers beyond 65504, and the CPU log_softmax/softmax normaliser computed in the input
dtype (tiny losses cancel; with many classes the lane-wise sum's error grows with C).

Measured with torch 2.13.0+cpu; the models are built from the reference and NumPy, each
operation rounded to the dtype where torch's kernel rounds it. Sources are tagged v2.13.0.
"""
from __future__ import annotations

import functools
import os

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.numerics import (
    F16_MAX, class_axis, classes_back, classes_last, cotangent, example_call, index_items,
    label_smoothing, probs_target_last, reduce_losses, wants_grad,
)
from lossconform.dtypes import NUMPY_DTYPES, round_to

_SRC = "https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/"
_LOSS_NLL = _SRC + "native/LossNLL.cpp"
_SOFTMAX_KERNEL = _SRC + "native/cpu/SoftMaxKernel.cpp"
_VEC_FUNCTIONAL = _SRC + "cpu/vec/functional_base.h"

_CE = ("torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss")
_NLL = ("torch.nn.functional.nll_loss", "torch.nn.NLLLoss")
_SOFTMAX = ("torch.nn.functional.softmax",)
_LOG_SOFTMAX = ("torch.nn.functional.log_softmax",)

_entries: list[Divergence] = []


def _only(call: Call, *names: str) -> bool:
    """No option set beyond ``names`` (and the reduction)."""
    return all(k in names + ("reduction",) or v is None for k, v in call.options.items())


def _last_axis(call: Call) -> bool:
    return call.x.ndim >= 1 and class_axis(call) == call.x.ndim - 1


# -- probability targets: -inf logit under a zero label ---------------------------------------------
def _smoothed_probs(call: Call) -> np.ndarray:
    """The probability target, classes last, with label smoothing applied as torch does."""
    q = probs_target_last(call)
    eps = label_smoothing(call)
    return q * (1.0 - eps) + eps / q.shape[-1] if eps > 0 else q


def _zero_coef_at_neg_inf(call: Call) -> np.ndarray:
    """Items (classes-last layout) with a -inf logit whose label x class weight is 0."""
    x = classes_last(call.x, call)
    q = _smoothed_probs(call)
    w = call.option("weight")
    wc = np.ones(x.shape[-1]) if w is None else np.asarray(w, np.float64)
    return np.any(np.isneginf(x) & ((q == 0) | (wc == 0)), axis=-1)


def _probs_neg_inf_zero_label(call: Call) -> bool:
    return call.op == "cross_entropy" and call.target_kind == "probs" and call.x.ndim >= 1 \
        and bool(np.any(_zero_coef_at_neg_inf(call)))


def _probs_nan_items(call: Call) -> ModelResult:
    """The reference with every item whose -inf logit meets a zero label (or class weight)
    set to NaN: torch evaluates -(log_softmax(x) * target * weight).sum(class_dim), where
    -inf * 0 = NaN; the reduction then spreads it. The gradient is the reference's."""
    args, kw = R.arguments(call)
    kw["reduction"] = "none"
    items = np.asarray(R.cross_entropy(*args, **kw), dtype=np.float64)
    items = np.where(_zero_coef_at_neg_inf(call), np.nan, items)
    n = float(max(items.size, 1))
    return np.asarray(reduce_losses(items, n, call.reduction), dtype=np.float64), None


def _ex_probs_neg_inf() -> Call:
    return example_call("cross_entropy", [[0.5, -np.inf, 2.0, 0.25], [1.5, 0.75, -0.5, -2.0]],
                        target=[[0.5, 0.0, 0.25, 0.25], [0.0, 1.0, 0.0, 0.0]],
                        target_kind="probs", options={"reduction": "none"}, grad=False)


_entries.append(Divergence(
    id="torch-ce-probs-neg-inf-zero-label-nan",
    title="torch cross_entropy with probability targets is NaN where a -inf logit has label 0",
    framework="torch",
    entry_points=_CE,
    versions=">=1.10",
    kinds=("forward",),
    trigger="probability targets (one-hot or soft) and a -inf logit (a mask) on a class "
            "whose label, after label smoothing, or class weight is 0",
    explanation="With probability targets torch computes -(log_softmax(x) * target * "
                "weight).sum(class_dim): at a masked class log_softmax is -inf and -inf * 0 "
                "is NaN, so the item's loss (and a 'mean' or 'sum') is NaN. With index "
                "targets torch gathers only the target's log-probability and the loss is "
                "finite (as TensorFlow's sparse kernel; TF's dense kernel is NaN like this). "
                "The reference gives a zero-label class nothing to contribute (0 log 0 = 0). "
                "The gradient is right. Label smoothing > 0 gives every class a positive "
                "label, so the loss is +inf, as in the reference.",
    link=f"{_LOSS_NLL} (cross_entropy_loss_prob_target: -(input * target * weight)"
         ".sum(class_dim))",
    applies=_probs_neg_inf_zero_label,
    model=_probs_nan_items,
    example=_ex_probs_neg_inf,
))


# -- ignored rows that are NaN or fully masked -------------------------------------------------------
def _ignored_nonfinite_rows(call: Call) -> np.ndarray:
    """Ignored items (ignore_index, or torch's default -100) whose logit row has no finite
    maximum (a NaN or +inf in it, or all -inf)."""
    ii = call.option("ignore_index")
    ii = -100 if ii is None else ii
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(np.max(classes_last(call.x, call), axis=-1))
    return bad & (np.asarray(call.target) == ii)


def _ignored_bad_row(call: Call) -> bool:
    return call.op == "cross_entropy" and call.target_kind == "index" and wants_grad(call) \
        and call.x.ndim >= 1 and bool(np.any(_ignored_nonfinite_rows(call)))


def _nan_grad_on_ignored_rows(call: Call) -> ModelResult:
    """The reference, with NaN gradient rows where an ignored item's logits have no finite
    maximum: nll_loss gives the ignored item a zero cotangent, and log_softmax's backward
    g - exp(out) * sum(g) turns it into 0 - NaN * 0 = NaN."""
    args, kw = R.arguments(call)
    fwd = np.asarray(R.cross_entropy(*args, **kw), dtype=np.float64)
    g = np.asarray(R.cross_entropy_vjp(*args, **kw, grad_output=call.grad_output), np.float64)
    gl = classes_last(g, call)
    gl = np.where(_ignored_nonfinite_rows(call)[..., None], np.nan, gl)
    return fwd, classes_back(gl, call)


def _ex_ignored_masked_row() -> Call:
    return example_call("cross_entropy", [[-np.inf] * 4, [1.5, 0.75, -0.5, -2.0]],
                        target=[-100, 1], target_kind="index",
                        options={"ignore_index": -100, "reduction": "mean"})


_entries.append(Divergence(
    id="torch-ce-ignored-nonfinite-row-gradient-nan",
    title="torch cross_entropy: an ignored item whose logits are NaN or all -inf gets a NaN "
          "gradient",
    framework="torch",
    entry_points=_CE,
    versions=">=1.0",
    kinds=("gradient",),
    trigger="index targets, an item equal to ignore_index (padding) whose logit row is "
            "fully masked (all -inf) or holds a NaN or +inf",
    explanation="The loss is right (the ignored item contributes 0), but the gradient is "
                "computed through log_softmax's backward, g - exp(log_softmax(x)) * sum(g): "
                "for the ignored row g = 0 and log_softmax(x) is NaN, so the row's gradient "
                "is 0 - NaN * 0 = NaN, and an optimiser step spreads it to the weights. The "
                "reference (and Keras' ignore_class) give an ignored item a gradient of "
                "exactly 0. The usual workaround is to replace the masked rows' logits "
                "before the loss (torch.where(mask, x, 0)).",
    link=f"{_LOSS_NLL} (cross_entropy_loss: nll_loss_nd(log_softmax(self), ...)); "
         f"{_SOFTMAX_KERNEL} (_vec_host_softmax_backward_lastdim: x - exp(y) * sum)",
    applies=_ignored_bad_row,
    model=_nan_grad_on_ignored_rows,
    example=_ex_ignored_masked_row,
))


# -- float16 'mean': the sum rounded to float16 before the division ----------------------------------
def _half_mean_parts(call: Call) -> tuple[np.ndarray, float]:
    """(weighted per-item losses, the mean's denominator) as torch's 'mean' forms them."""
    if call.target_kind == "index":
        l, wy, _ = index_items(call)  # l holds the class weight already
        return l, float(np.sum(wy))
    args, kw = R.arguments(call)
    kw["reduction"] = "none"
    l = np.asarray(R.cross_entropy(*args, **kw), dtype=np.float64)
    return l, float(max(l.size, 1))


def _half_sum_overflows(call: Call) -> bool:
    if call.dtype != "float16" or call.reduction != "mean" \
            or call.op not in ("cross_entropy", "nll_loss") or label_smoothing(call) \
            or not _only(call, "weight", "ignore_index"):
        return False
    num, den = _half_mean_parts(call)
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isinf(round_to(np.sum(num), "float16"))) and den <= F16_MAX


def _half_mean_sum_rounded(call: Call) -> ModelResult:
    """torch's float16 'mean': the sum of the (weighted) item losses is accumulated in float
    but held in a float16 tensor before the division (nll_loss_out_frame: output, then
    output / total_weight; probability targets: (...).sum() / n): beyond 65504 it is inf."""
    num, den = _half_mean_parts(call)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        fwd = round_to(np.sum(num), "float16") / round_to(den, "float16")
    return np.asarray(fwd, dtype=np.float64), None


def _ex_half_mean_sum() -> Call:
    x = np.zeros((4, 3))
    x[:, 0] = 30000.0
    return example_call("cross_entropy", x, dtype="float16", target=[1, 2, 1, 2],
                        target_kind="index", options={"reduction": "mean"}, grad=False)


_entries.append(Divergence(
    id="torch-ce-mean-float16-sum-overflow",
    title="torch cross_entropy/nll_loss 'mean' in float16 is inf when the losses' sum exceeds "
          "65504",
    framework="torch",
    entry_points=_CE + _NLL,
    versions=">=1.0",
    kinds=("forward",),
    trigger="float16, reduction 'mean', large item losses (e.g. logits spread over +-3e4: "
            "16 items of ~2e4 each) whose sum is beyond 65504 although their mean is not",
    explanation="nll_loss (which cross_entropy with index targets calls) accumulates the "
                "weighted sum in float but stores it in the float16 output before dividing "
                "by the total weight, and cross_entropy with probability targets divides a "
                "float16 .sum() by the item count: a sum beyond 65504 is inf, so the mean "
                "is inf where the true mean (here ~2e4) is representable. The gradient is "
                "unaffected. (The total weight overflowing is "
                "torch-nll-mean-float16-total-weight-overflow.)",
    link=f"{_LOSS_NLL} (nll_loss_out_frame: output_val = sum / total_weight in the output's "
         "scalar type; cross_entropy_loss_prob_target: .sum() / (numel / n_classes))",
    applies=_half_sum_overflows,
    model=_half_mean_sum_rounded,
    example=_ex_half_mean_sum,
))


# -- the CPU log_softmax / softmax kernels, op by op in the input dtype ------------------------------
@functools.lru_cache(maxsize=None)
def _vector_bytes() -> int:
    """Bytes per ATen CPU vector: 64 where torch dispatches its AVX-512 kernels (a CPU with
    avx512f/bw/vl/dq and ATEN_CPU_CAPABILITY not lowering it), 32 otherwise (AVX2, and the
    DEFAULT build's 32-byte Vectorized emulation). Read from the CPU, never from torch."""
    cap = os.environ.get("ATEN_CPU_CAPABILITY", "").strip().lower()
    if cap and cap != "avx512":
        return 32
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return 32
    need = {"avx512f", "avx512bw", "avx512vl", "avx512dq"}
    return 64 if need <= set(flags) else 32


def lane_sum(a: np.ndarray, dtype: str, lanes: int) -> np.ndarray:
    """Sum over the last axis as at::vec::map_reduce_all does it: ``lanes`` accumulators
    (one vector), each adding its lane sequentially in ``dtype``, then the lanes combined by
    halves (vec_reduce_all); a tail shorter than a vector goes to the first lanes."""
    npdt = NUMPY_DTYPES[dtype]
    c = a.shape[-1]
    pad = (-c) % lanes
    b = np.concatenate([a, np.zeros(a.shape[:-1] + (pad,))], axis=-1).astype(npdt)
    b = b.reshape(a.shape[:-1] + (-1, lanes))
    acc = np.cumsum(b, axis=-2, dtype=npdt)[..., -1, :]  # sequential, in the dtype
    while acc.shape[-1] > 1:
        h = acc.shape[-1] // 2
        acc = (acc[..., :h] + acc[..., h:]).astype(npdt)
    return acc[..., 0].astype(np.float64)


def _kernel_log_softmax(call: Call) -> tuple[np.ndarray, np.ndarray]:
    """(log_softmax, the exp(x - max) terms) along the last axis as _vec_log_softmax_lastdim
    computes them in float32/float64: every op rounded to the dtype, the normaliser summed
    lane by lane (lane_sum), out = (x - max) - log(sum)."""
    dt = call.dtype
    x = classes_last(call.x, call)
    lanes = _vector_bytes() // np.dtype(NUMPY_DTYPES[dt]).itemsize
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d = round_to(x - np.max(x, axis=-1, keepdims=True), dt)
        e = round_to(np.exp(d), dt)
        s = lane_sum(e, dt, lanes)[..., None]
        out = round_to(d - round_to(np.log(s), dt), dt)
    return out, e


def _kernel_model(call: Call) -> ModelResult:
    """softmax, log_softmax or cross_entropy (index or probability targets, no options) as
    torch's CPU lastdim kernels compute them in the input dtype; gradients through the
    backward kernels (sums lane by lane in the dtype)."""
    dt = call.dtype
    lanes = _vector_bytes() // np.dtype(NUMPY_DTYPES[dt]).itemsize
    logsm, e = _kernel_log_softmax(call)
    grad = None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if call.op == "softmax":
            s = lane_sum(e, dt, lanes)[..., None]
            out = round_to(e * round_to(1.0 / s, dt), dt)
            fwd = classes_back(out, call)
            if wants_grad(call):
                g = classes_last(cotangent(call, call.x.shape), call)
                sg = lane_sum(round_to(g * out, dt), dt, lanes)[..., None]
                grad = classes_back(round_to(round_to(g - sg, dt) * out, dt), call)
            return fwd, grad
        if call.op == "log_softmax":
            g = classes_last(cotangent(call, call.x.shape), call) if wants_grad(call) else None
            fwd = classes_back(logsm, call)
        else:  # cross_entropy: nll_loss on the kernel's log_softmax, summed in double
            q = probs_target_last(call)
            items = -np.sum(np.where(q == 0, 0.0, q * logsm), axis=-1)
            n = float(max(items.size, 1))
            fwd = np.asarray(round_to(reduce_losses(items, n, call.reduction), dt))
            g = None
            if wants_grad(call):
                go = cotangent(call, items.shape if call.reduction == "none" else ())
                f = go / n if call.reduction == "mean" else go
                g = -q * np.broadcast_to(f, items.shape)[..., None]
        if g is not None:
            sg = lane_sum(g, dt, lanes)[..., None]
            grad = classes_back(round_to(g - round_to(round_to(np.exp(logsm), dt) * sg, dt),
                                         dt), call)
    return np.asarray(fwd, dtype=np.float64), grad


def _kernel_call(call: Call) -> bool:
    """A call the lastdim kernels compute in the input dtype: CPU, float32/float64, class
    axis last, softmax/log_softmax or a plain cross_entropy."""
    if call.device != "cpu" or call.dtype not in ("float32", "float64") or not _last_axis(call):
        return False
    if call.op in ("softmax", "log_softmax"):
        return True
    return call.op == "cross_entropy" and _only(call)


def _many_classes(call: Call) -> bool:
    return _kernel_call(call) and call.x.shape[-1] >= 4096


def _ex_many_classes() -> Call:
    c = 2**20
    x = np.zeros((1, c))
    x[0, 0] = round_to(np.log(c - 1), "float64")  # p_0 = 1/2: loss log 2, gradient -1/2
    return example_call("cross_entropy", x, target=[0], target_kind="index",
                        options={"reduction": "sum"})


_entries.append(Divergence(
    id="torch-softmax-lane-sum-error-grows-with-classes",
    title="torch CPU softmax/log_softmax: the normaliser is summed lane by lane in the input "
          "dtype, its error grows with the class count",
    framework="torch",
    entry_points=_SOFTMAX + _LOG_SOFTMAX + _CE,
    versions=">=2.0",
    kinds=("forward", "gradient"),
    trigger="CPU, float32 or float64, class axis last, thousands of classes whose exp terms "
            "round the same way (e.g. one logit at log(C - 1) and C - 1 zeros: p_0 = 1/2); "
            "visible from C ~ 2**15 in float32 and 2**20 in float64",
    explanation="_vec_log_softmax_lastdim and _vec_softmax_lastdim sum exp(x - max) with "
                "vec::map_reduce_all / reduce_all: ONE vector accumulator (8 float64 or 16 "
                "float32 lanes on AVX-512, half that on AVX2) to which every chunk is added "
                "in the input dtype, so each lane adds C/lanes terms sequentially and equal "
                "terms round the same way every time: the relative error grows like "
                "C/lanes * eps (2**20 classes: 6e-13 in float64, 2800 ulp) instead of "
                "log2(C) * eps for a pairwise sum. The backward sums (sum g, sum g * p) are "
                "formed the same way. TensorFlow's (Eigen's tree reduction) is exact to a "
                "few ulp there. The model sums lane by lane in the dtype (lane count from "
                "the CPU's flags).",
    link=f"{_SOFTMAX_KERNEL} (_vec_log_softmax_lastdim: vec::map_reduce_all); "
         f"{_VEC_FUNCTIONAL} (map_reduce_all: one Vectorized accumulator)",
    applies=_many_classes,
    model=_kernel_model,
    example=_ex_many_classes,
))


def _confident_items(call: Call) -> bool:
    """A 'sum' or 'mean' of cross_entropy items most of which are confident and right
    (true loss below 2**-10), computed by the kernels in the dtype."""
    if call.op != "cross_entropy" or call.reduction == "none" or not _kernel_call(call):
        return False
    args, kw = R.arguments(call)
    kw["reduction"] = "none"
    l = np.asarray(R.cross_entropy(*args, **kw), dtype=np.float64)
    return l.size > 0 and float(np.median(l)) < 2.0**-10


def _ex_confident_items() -> Call:
    rng = np.random.default_rng(10_000)
    x = np.zeros((10_000, 2))
    x[:, 0] = round_to(rng.uniform(13.5, 14.2, 10_000), "float32")
    return example_call("cross_entropy", x, dtype="float32", target=np.zeros(10_000),
                        target_kind="index", options={"reduction": "sum"}, grad=False)


_entries.append(Divergence(
    id="torch-ce-confident-loss-cancels",
    title="torch cross_entropy: a tiny loss is log(sum exp(x - max)) rounded in the input "
          "dtype, so a sum of many confident items carries an error growing with N",
    framework="torch",
    entry_points=_CE,
    versions=">=2.0",
    kinds=("forward",),
    trigger="CPU, float32 or float64, 'sum' or 'mean' over many confident, correct items "
            "(true loss ~1e-6 each): 10**4 items in float32, 10**5 in float64",
    explanation="log_softmax computes (x_y - max) - log(sum exp(x - max)) with the sum "
                "rounded to the dtype: for the argmax class the loss is log(1 + e), e ~ 1e-6, "
                "and 1 + e keeps only ~23 bits, so each item's loss carries an absolute "
                "error of up to ulp(1)/2 = 6e-8 in float32 (a relative 6%), biased by the "
                "rounding; over a batch the errors add up: 1.3e-5 in a sum of 0.0099 over "
                "10**4 items, 1.2e-4 over 10**5 (1.2e-3 relative) in float32, 1.6e-14 over "
                "10**5 in float64. A log1p of the non-argmax terms keeps the relative "
                "accuracy (the reference's form); TensorFlow's kernels round the same way.",
    link=f"{_SOFTMAX_KERNEL} (_vec_log_softmax_lastdim: x - max - log(tmp_sum))",
    applies=_confident_items,
    model=_kernel_model,
    example=_ex_confident_items,
))


# -- float16/bfloat16 log_softmax: the normaliser and its log rounded to the dtype ------------------
def _half_log_softmax(call: Call) -> ModelResult:
    """log_softmax (or cross_entropy on it) in float16/bfloat16 on CPU: the exp terms are
    summed in float, the sum is STORED in the dtype (tmp_sum_scalar), its log too, then
    out = round(x - max - log_sum): in float16 a sum beyond 65504 is inf and every output
    -inf. The backward g - exp(out) * sum(g) runs in float on the rounded output."""
    dt = call.dtype
    x = classes_last(call.x, call)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d = x - np.max(x, axis=-1, keepdims=True)
        s = round_to(np.sum(np.exp(d), axis=-1, keepdims=True), dt)
        out = round_to(d - round_to(np.log(s), dt), dt)
        p = np.exp(out)
        if call.op == "log_softmax":
            fwd = classes_back(out, call)
            grad = None
            if wants_grad(call):
                g = classes_last(cotangent(call, call.x.shape), call)
                grad = classes_back(g - p * np.sum(g, axis=-1, keepdims=True), call)
            return fwd, grad
        q = probs_target_last(call)
        items = -np.sum(np.where(q == 0, 0.0, q * out), axis=-1)
        fwd = reduce_losses(items, float(max(items.size, 1)), call.reduction)
    return np.asarray(fwd, dtype=np.float64), None


def _half_lastdim(call: Call) -> bool:
    if call.device != "cpu" or call.dtype not in ("float16", "bfloat16") or not _last_axis(call):
        return False
    return call.op == "log_softmax" or (call.op == "cross_entropy" and _only(call))


def _ex_half_normaliser() -> Call:
    return example_call("log_softmax", np.zeros((1, 70000)), dtype="float16", grad=False) \
        .replace(grad_output=np.ones((1, 70000)))


_entries.append(Divergence(
    id="torch-log-softmax-half-normaliser-in-dtype",
    title="torch log_softmax in float16/bfloat16 rounds the normaliser and its log to the "
          "dtype (float16: -inf beyond 65504 terms' worth)",
    framework="torch",
    entry_points=_LOG_SOFTMAX + _CE,
    versions=">=2.0",
    kinds=("forward", "gradient"),
    trigger="CPU, float16 or bfloat16, class axis last: float16 rows whose sum of exp(x - "
            "max) exceeds 65504 (near-uniform logits over more than 65504 classes: the "
            "output is -inf, the loss +inf); bfloat16 rows with many classes, where "
            "log(sum) rounded to 8 bits moves every output (131072 classes: -11.75 "
            "instead of -11.78) and the gradient g - exp(out) sum(g) by 3%",
    explanation="_vec_log_softmax_lastdim accumulates the exp terms in float but keeps the "
                "sum and its log in a buffer of the input's type (tmp_sum_scalar is "
                "scalar_t[]): in float16 a sum beyond 65504 becomes inf and log_softmax is "
                "-inf everywhere (softmax, computed in float, is right); the backward then "
                "computes g - exp(out) * sum(g) from that rounded output. Uniform logits "
                "over 2**17 classes: the reference gives -11.78, torch float16 -inf, its "
                "gradient g instead of g - mean(g).",
    link=f"{_SOFTMAX_KERNEL} (_vec_log_softmax_lastdim: std::unique_ptr<scalar_t[]> "
         "tmp_sum_scalar)",
    applies=_half_lastdim,
    model=_half_log_softmax,
    example=_ex_half_normaliser,
))

DIVERGENCES: tuple[Divergence, ...] = tuple(_entries)
