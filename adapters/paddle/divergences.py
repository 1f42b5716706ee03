"""Paddle's divergence entries (``ADAPTER.divergences``): the softmax kernels' clip at -64, the
cross-entropy kernel's log of the rounded softmax, soft labels' shape, weights and gradient,
the 'mean' denominators of cross_entropy's wrapper, the binary losses' clamps and logs.

Every model comes from ``models.py`` (NumPy only, from the reference and Paddle's code path);
the entries of one family share its model, so an entry matches whatever else of the family's
conventions a call also meets, and is named for the convention its trigger is about (the
first applicable entry whose model matches names the check). Keyed on paddlepaddle's version.
"""
from __future__ import annotations

import numpy as np

from lossconform.contract import Call
from lossconform.divergences import Divergence
from lossconform.divergences.entry import Observed
from lossconform.divergences.numerics import classes_last, label_smoothing

from . import findings as _findings
from .models import (
    CLIP, avx_path, bce_logits_model, bce_model, ce_model, log_sigmoid_model, log_softmax_model,
    nll_model, softmax_model,
)

V = ">=3.0"
_TAG = "https://github.com/PaddlePaddle/Paddle/blob/v3.3.1/"
_LOSS = _TAG + "python/paddle/nn/functional/loss.py"
_K = _TAG + "paddle/phi/kernels/"
F = "paddle.nn.functional."

_CE_LOGITS = (F + "cross_entropy", "paddle.nn.CrossEntropyLoss")
_CE_PROBS = (F + "cross_entropy(use_softmax=False)", "paddle.nn.CrossEntropyLoss(use_softmax=False)")
_SWCE = (F + "softmax_with_cross_entropy",)
_CE_ALL = _CE_LOGITS + _CE_PROBS + _SWCE
_BCE = (F + "binary_cross_entropy", "paddle.nn.BCELoss")
_BCE_LOGITS = (F + "binary_cross_entropy_with_logits", "paddle.nn.BCEWithLogitsLoss")


# -- predicates ------------------------------------------------------------------------------------
def _below_clip(call: Call) -> bool:
    """A logit more than 64 below its row's (finite) maximum, -inf included."""
    if call.op not in ("softmax", "log_softmax", "cross_entropy") or np.ndim(call.x) == 0 \
            or np.size(call.x) == 0:
        return False
    zl = classes_last(call.x, call)
    with np.errstate(invalid="ignore"):
        m = np.max(zl, axis=-1, keepdims=True)
        return bool(np.any(np.isfinite(m) & (zl - m < CLIP)))


def _soft(call: Call) -> bool:
    return call.target_kind == "probs" or label_smoothing(call) > 0


def _ce(call: Call) -> bool:
    return call.op in ("cross_entropy", "categorical_crossentropy")


def _ignore_set(call: Call) -> bool:
    ii = call.option("ignore_index")
    return ii is not None and int(ii) >= 0


def _all_ignored(call: Call) -> bool:
    if call.target_kind != "index" or not _ignore_set(call) or call.target is None:
        return False
    y = np.asarray(call.target)
    return y.size > 0 and bool(np.all(y == int(call.option("ignore_index"))))


def _unnormalised(call: Call) -> bool:
    if call.target_kind != "probs" or call.target is None or np.size(call.target) == 0:
        return False
    s = np.sum(classes_last(call.target, call), axis=-1)
    return bool(np.any(np.abs(s - 1.0) > 1e-6))


def _ce_entry(entry_point: str):
    keep = None if entry_point not in _SWCE else False
    squeeze = entry_point in _SWCE
    return lambda call: ce_model(call, keep_axis=keep, squeeze=squeeze)


def _example(op: str, x: list, dtype: str = "float32", target=None, kind=None,
             options=None, grad: bool = True) -> Call:
    xa = np.asarray(x, np.float64)
    from lossconform.cases import output_shape  # the canonical output shape

    c = Call(op, xa, dtype, target=None if target is None else np.asarray(target),
             target_kind=kind, options=dict(options or {}))
    return c.replace(grad_output=np.ones(output_shape(c)) if grad else None)


_entries: list[Divergence] = []


def _add(**kw) -> None:
    _entries.append(Divergence(framework="paddle", versions=V, **kw))


# -- softmax / log_softmax: the clip at -64 ----------------------------------------------------------
_add(
    id="paddle-log-softmax-clip-64",
    title="paddle log_softmax clips every log-probability at about -64 (CPU): "
          "log_softmax([1000, 0, -1]) is [0, -64, -64]",
    entry_points=(F + "log_softmax",),
    kinds=("forward",),
    trigger="a logit more than 64 below its row's maximum (wide or large-scale logits, -inf "
            "logits), float32 and float64, any class axis",
    explanation="the CPU kernel subtracts the row maximum and clips the result at -64 "
                "(ValueClip, kThreshold = -64) before the exp and the log-sum, so every "
                "log-probability below about -64 comes back as -64 - log(sum): a -inf logit "
                "gives a finite -64 and the gradient sees exp(-64) instead of 0. The clip was "
                "meant to keep exp from flushing in float16 softmax; for log_softmax it is "
                "simply wrong",
    link=_K + "cpu/log_softmax_kernel.cc (ValueClip, LogSoftmaxFunctor)",
    applies=_below_clip,
    model=log_softmax_model,
    example=lambda: _example("log_softmax", [[1000.0, 0.0, -1.0]], grad=False),
    observed=(Observed("forward", "0 - -", "log_softmax([1000, 0, -1]) is [0, -64, -64]"),),
    finding=_findings.LOG_SOFTMAX_CLIP,
)
_add(
    id="paddle-log-softmax-log-of-sum",
    title="paddle log_softmax is d - log(sum exp d) with the sum rounded first: a confident "
          "row's log-probability of its top class is 0 instead of -sum of the others",
    entry_points=(F + "log_softmax",),
    kinds=("forward",),
    trigger="rows whose other classes sum to less than about one unit of rounding of 1 (a "
            "confident row), or where that sum's last bits matter (the top class's value)",
    explanation="log(sum) of the rounded sum 1 + r, not log1p(r): the top class's "
                "log-probability -r is lost below ulp(1) (returned as 0) and keeps only the "
                "bits of 1 + r above",
    link=_K + "cpu/log_softmax_kernel.cc (LogSoftmaxFunctor: log_softmax - "
                "log_softmax.exp().sum().log())",
    applies=lambda c: c.op == "log_softmax",
    model=log_softmax_model,
    example=lambda: _example("log_softmax", [[20.0, 0.0, -1.0]], grad=False),
)
_add(
    id="paddle-softmax-clip-64",
    title="paddle softmax floors every probability at exp(-64) times the row's largest "
          "(CPU): softmax([1000, 0]) is [1, 1.6e-28] instead of [1, 0]",
    entry_points=(F + "softmax",),
    kinds=("forward", "gradient"),
    trigger="a logit more than 64 below its row's maximum (-inf logits included)",
    explanation="the CPU softmax clips the shifted logits at -64 (ValueClip in SoftmaxEigen, "
                "vec_clip in the AVX path) before exp: a probability below exp(-64) = 1.6e-28 "
                "comes back as 1.6e-28 / sum, a -inf logit gets a positive probability",
    link=_K + "funcs/softmax_impl.h (ValueClip; SoftmaxFunctor's vec_clip(-64))",
    applies=_below_clip,
    model=softmax_model,
    example=lambda: _example("softmax", [[80.0, 0.0, 1.0]]).replace(
        grad_output=np.array([[1.0, 2.0, -1.0]])),
)

def _avx_nan(call: Call) -> bool:
    """float32, classes innermost, a row of at least 8 classes holding a NaN or +inf."""
    if call.dtype != "float32" or not avx_path(call) or np.size(call.x) == 0:
        return False
    zl = classes_last(call.x, call)
    return zl.shape[-1] >= 8 and bool(np.any(np.isnan(zl) | np.isposinf(zl)))


_add(
    id="paddle-softmax-avx-nan-to-uniform",
    title="paddle softmax (float32, classes innermost) turns a row holding +inf into a "
          "uniform 1/C and drops NaN logits to a probability of exp(-64)/sum",
    entry_points=(F + "softmax",),
    kinds=("forward", "gradient"),
    trigger="float32, the class axis innermost, rows of 8 classes or more holding +inf or NaN "
            "within their first multiple of 8 classes",
    explanation="the CPU softmax's AVX path subtracts std::max_element (which skips a NaN "
                "unless it comes first) and clips with _mm256_max_ps(x, -64), which returns "
                "-64 for NaN: inf - inf and x - NaN become -64, so a row with +inf is uniform "
                "and a NaN logit a tiny probability; the reference's softmax of such rows is "
                "NaN (the tail of n % 8 classes keeps NaN, as the Eigen path and float64 do)",
    link=_K + "funcs/softmax_impl.h (SoftmaxFunctor<CPUContext>: max_element, vec_clip); "
    + _K + "funcs/cpu_vec.h (vec_clip<float, avx>: _mm256_max_ps)",
    applies=_avx_nan,
    model=softmax_model,
    example=lambda: _example("softmax", [[1.0, np.inf, 0.5, -1.0, 2.0, 0.0, 0.25, -0.5]]
                             ).replace(grad_output=np.arange(8.0)[None, :]),
)


# -- cross_entropy ------------------------------------------------------------------------------------
_X2 = [[0.5, -1.0, 2.0], [1.0, 0.0, -1.0]]
_P2 = [[0.25, 0.25, 0.5], [0.5, 0.375, 0.125]]
_Q2 = [[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]]


def _ce_example(names: tuple[str, ...], target, kind: str, options: dict,
                dtype: str = "float64", x=None, grad: bool = True):
    op = "categorical_crossentropy" if names == _CE_PROBS else "cross_entropy"
    xs = x if x is not None else (_P2 if op == "categorical_crossentropy" else _X2)
    return lambda: _example(op, xs, dtype, target, kind, options, grad=grad)


def _ce_entries(names: tuple[str, ...]) -> None:
    model = _ce_entry(names[0])
    sfx = {_CE_LOGITS: "", _CE_PROBS: "-probs", _SWCE: "-swce"}[names]
    first = names == _CE_LOGITS
    if names != _SWCE:
        _add(
            id=f"paddle-ce-label-smoothing-ignore-index{sfx}",
            title="paddle cross_entropy with label_smoothing ignores ignore_index: ignored "
                  "items are smoothed and counted, and 'mean' divides by the number of target "
                  "entries (items x classes) that are not equal to ignore_index",
            entry_points=names,
            kinds=("forward", "gradient"),
            trigger="index targets, label_smoothing > 0 and an ignore_index >= 0",
            explanation="label_smoothing > 0 turns the labels into smoothed one-hot rows and "
                        "sets soft_label=True, so the kernel no longer sees ignore_index; the "
                        "'mean' branch for ignore_index >= 0 then builds its mask as "
                        "label != ignore_index on the smoothed (N, C) label and divides the "
                        "sum by that mask's sum (about N C) instead of by the number of "
                        "non-ignored items",
            link=_LOSS + " (cross_entropy: 'if label_smoothing > 0.0' and the "
                         "'if ignore_index >= 0' mean branch)",
            applies=lambda c: _ce(c) and c.target_kind == "index" and label_smoothing(c) > 0
            and _ignore_set(c),
            model=model,
            example=_ce_example(names, [1, 2], "index",
                                {"ignore_index": 1, "label_smoothing": 0.1}),
            finding=_findings.LABEL_SMOOTHING_IGNORE_INDEX if first else None,
            observed=(Observed("forward", "+", "ignored items are smoothed and counted"),)
            if first else (),
        )
        _add(
            id=f"paddle-ce-negative-ignore-index-mean-counts-ignored{sfx}",
            title="paddle cross_entropy's 'mean' with a negative ignore_index (the default "
                  "-100) divides by all N items, ignored ones included",
            entry_points=names,
            kinds=("forward", "gradient"),
            trigger="index targets with labels equal to a negative ignore_index, reduction "
                    "'mean'",
            explanation="the kernel gives ignored items a loss of 0, but the wrapper counts "
                        "the kept items only in its 'if ignore_index >= 0' branch; for a "
                        "negative ignore_index it takes mean_all (or the weight sum over every "
                        "item), so the mean is too small by the share of ignored items",
            link=_LOSS + " (cross_entropy: 'if ignore_index >= 0' ... 'else: return "
                         "_C_ops.mean_all(out)'); https://github.com/PaddlePaddle/Paddle/pull/"
                         "76033 (open fix)",
            applies=lambda c: _ce(c) and c.target_kind == "index" and c.reduction == "mean"
            and c.option("ignore_index") is not None and int(c.option("ignore_index")) < 0
            and bool(np.any(np.asarray(c.target) == int(c.option("ignore_index")))),
            model=model,
            example=_ce_example(names, [-100, 2], "index", {"ignore_index": -100}),
            finding=_findings.NEGATIVE_IGNORE_INDEX_MEAN if first else None,
            observed=(Observed("forward", "+", "ignored items count in the mean"),)
            if first else (),
        )
        _add(
            id=f"paddle-ce-all-ignored-mean-zero{sfx}",
            title="paddle cross_entropy's 'mean' over items that are all ignored is 0, not "
                  "0/0 = NaN",
            entry_points=names,
            kinds=("forward",),
            trigger="index targets all equal to an ignore_index >= 0, reduction 'mean'",
            explanation="the wrapper divides by count + (count == 0): a zero denominator "
                        "becomes 1 and the empty sum 0 comes back",
            link=_LOSS + " (cross_entropy: out_sum / (count + (count == 0.0)))",
            applies=lambda c: _ce(c) and c.reduction == "mean" and _all_ignored(c),
            model=model,
            example=_ce_example(names, [1, 1], "index", {"ignore_index": 1,
                                                         "reduction": "mean"}),
        )
        _add(
            id=f"paddle-ce-soft-weight{sfx}",
            title="paddle cross_entropy with soft labels and class weights weighs each item "
                  "by sum_c w_c q_c and its 'mean' divides by the sum of those",
            entry_points=names,
            kinds=("forward", "gradient"),
            trigger="probability targets (or label smoothing) with a class weight",
            explanation="documented: loss_j = loss_j * sum_i weight_i label_i and 'mean' = "
                        "sum_j loss_j / sum_j sum_i weight_i label_i; the reference weighs "
                        "each class's term (-sum_c w_c q_c log p_c) and divides by N",
            link=_LOSS + " (cross_entropy docstring, 'Weight and reduction processing', "
                         "1.2 and 2.3.2)",
            applies=lambda c: _ce(c) and _soft(c) and c.option("weight") is not None,
            model=model,
            example=_ce_example(names, _Q2, "probs", {"weight": np.array([1.0, 2.0, 0.5])}),
        )
        _add(
            id=f"paddle-ce-soft-label-keeps-class-axis{sfx}",
            title="paddle cross_entropy with soft labels (or label smoothing) and reduction "
                  "'none' returns the per-item loss with the class axis kept, size 1",
            entry_points=names,
            kinds=("forward",),
            trigger="probability targets or label_smoothing > 0, reduction 'none'",
            explanation="documented: 'if soft_label = True, the dimension of return value is "
                        "[N_1, ..., N_k, 1]' (the kernel's output keeps the axis; only index "
                        "labels of one dimension less are squeezed back); label smoothing "
                        "turns index labels into soft ones first",
            link=_LOSS + " (cross_entropy, Returns; 'if input_dims - 1 == label_dims: "
                         "out = paddle.squeeze(out, axis=axis)')",
            applies=lambda c: _ce(c) and _soft(c) and c.reduction == "none",
            model=model,
            example=_ce_example(names, _Q2, "probs", {"reduction": "none"}),
        )
    if names != _SWCE:
        _add(
            id=f"paddle-ce-label-smoothing-float32{sfx}",
            title="paddle cross_entropy's label smoothing is computed in float32: the "
                  "constants 1 - eps and eps / C always, the smoothed one-hot labels too for "
                  "index targets, so float64 losses keep only float32's accuracy",
            entry_points=names,
            kinds=("forward", "gradient"),
            trigger="label_smoothing > 0 in float64 (and index targets in float32, where the "
                    "labels' rounding is the dtype's anyway)",
            explanation="paddle.nn.functional.label_smooth takes epsilon as a float attribute "
                        "and its kernel computes (1 - eps) and eps / C in float; index labels "
                        "go through one_hot, whose output is float32, before being cast to the "
                        "input's dtype",
            link=_LOSS + " (cross_entropy: one_hot, label_smooth, label.astype(input.dtype)); "
            + _K + "cpu/label_smooth_kernel.cc",
            applies=lambda c: _ce(c) and label_smoothing(c) > 0,
            model=model,
            example=_ce_example(names, _Q2, "probs", {"label_smoothing": 0.1,
                                                      "reduction": "sum"}),
        )
    if names == _CE_PROBS:
        _add(
            id="paddle-ce-probs-zero-over-zero-gradient",
            title="paddle cross_entropy(use_softmax=False)'s gradient is -q / p: NaN where a "
                  "probability and its target are both 0",
            entry_points=names,
            kinds=("gradient",),
            trigger="a probability of exactly 0 under a target of 0",
            explanation="the CPU grad kernel computes -label / input * loss_grad for soft "
                        "labels, 0 / 0 = NaN, where the derivative of 0 log p is 0",
            link=_K + "cpu/cross_entropy_grad_kernel.cc (use_softmax=False)",
            applies=lambda c: c.op == "categorical_crossentropy",
            model=model,
            example=_ce_example(names, [[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]], "probs",
                                {"reduction": "sum"}, x=[[0.0, 0.25, 0.75], [0.5, 0.5, 0.0]]),
        )
    if names != _CE_PROBS:
        _add(
            id=f"paddle-ce-soft-gradient-assumes-normalised{sfx}",
            title="paddle cross_entropy's gradient for soft labels is softmax - label, right "
                  "only when each label row sums to 1",
            entry_points=names,
            kinds=("gradient",),
            trigger="probability targets whose rows do not sum to 1",
            explanation="the CPU grad kernel of cross_entropy_with_softmax computes "
                        "(softmax - label) * loss_grad; the derivative of -sum_c q_c log p_c "
                        "is (sum_c q_c) p - q",
            link=_K + "cpu/cross_entropy_grad_kernel.cc (CrossEntropyWithSoftmaxGradCPUKernel,"
                      " soft_label: logit_grad = (softmax - label) * out_grad)",
            applies=lambda c: _ce(c) and _unnormalised(c),
            model=model,
            example=_ce_example(names, [[0.4, 0.3, 0.5], [0.6, 0.4, 0.2]], "probs",
                                {"reduction": "none"} if names == _SWCE else
                                {"reduction": "sum"}),
        )
        _add(
            id=f"paddle-ce-log-of-rounded-softmax{sfx}",
            title="paddle cross_entropy on the CPU is -log of the softmax rounded to the "
                  "dtype, its logits clipped at 64 below the row maximum: a confident item's "
                  "loss is 0, a loss never exceeds about 64 + log C",
            entry_points=names,
            kinds=("forward", "gradient"),
            trigger="confident items (loss below ulp(1)), large logit gaps (a true loss "
                    "above 64), -inf logits (a finite loss); float32 and float64",
            explanation="cross_entropy_with_softmax's CPU kernel runs the softmax kernel "
                        "(shifted logits clipped at -64), stores the probabilities in the "
                        "dtype and takes -log(p[label]) of them (CrossEntropyFunctor), instead "
                        "of a log-softmax: a loss below one unit of rounding of 1 is 0 and "
                        "one above 64 is capped near 64 + log C; its gradient is the clipped "
                        "softmax minus the label",
            link=_K + "cpu/cross_entropy_kernel.cc (CrossEntropyWithSoftmaxKernel: "
                      "SoftmaxKernel then CrossEntropy); " + _K + "funcs/cross_entropy.cc "
                      "(-TolerableValue(log(prob)))",
            applies=lambda c: c.op == "cross_entropy",
            model=model,
            example=_ce_example(names, [0, 1], "index", {"reduction": "none"}, "float32",
                                [[30.0, 0.0, -1.0], [80.0, 0.0, 1.0]]),
            observed=(Observed("forward", "0 +", "a confident item's loss is 0"),),
        )
    else:
        _add(
            id="paddle-ce-probs-log-zero-1e20",
            title="paddle cross_entropy(use_softmax=False) turns log 0 into -1e20: a zero "
                  "probability under a positive target gives a loss of 1e20, not inf",
            entry_points=names,
            kinds=("forward",),
            trigger="a probability of exactly 0 under a positive target",
            explanation="the CPU CrossEntropyFunctor applies TolerableValue to log(p): -inf "
                        "becomes -1e20 (+inf 1e20), so 0 * log 0 is 0 and q log 0 is -1e20 q",
            link=_K + "funcs/cross_entropy.h (TolerableValue, kApproInf = 1e20); " + _K
            + "funcs/cross_entropy.cc",
            applies=lambda c: c.op == "categorical_crossentropy",
            model=model,
            example=_ce_example(names, [0, 1], "index", {"reduction": "none"},
                                x=[[0.0, 0.25, 0.75], [0.5, 0.5, 0.0]], grad=False),
        )


for _names in (_CE_LOGITS, _CE_PROBS, _SWCE):
    _ce_entries(_names)

_add(
    id="paddle-ce-confident-batch-quantised",
    title="paddle cross_entropy's 'sum' or 'mean' over many confident float32 items adds "
          "losses each quantised to ulp(1) / p by the rounded softmax",
    entry_points=_CE_LOGITS,
    kinds=("forward",),
    trigger="float32, reduction 'sum' or 'mean' over a batch of confident items (losses "
            "around 1e-7 .. 1e-4)",
    explanation="each item's loss is -log(p) of a probability rounded to float32 "
                "(paddle-ce-log-of-rounded-softmax); near 1 the probabilities are spaced "
                "ulp(1) apart, so each loss carries an error of up to about ulp(1), and the "
                "batch's sum the sum of those, far beyond a sum's rounding",
    link=_K + "cpu/cross_entropy_kernel.cc; " + _K + "funcs/cross_entropy.cc",
    applies=lambda c: c.op == "cross_entropy" and c.dtype == "float32"
    and c.reduction in ("sum", "mean"),
    model=lambda c: ce_model(c, widen=True),
    example=lambda: _example("cross_entropy", [[20.0, 0.0, -1.0]] * 4, "float32",
                             [0, 0, 0, 0], "index", {"reduction": "sum"}, grad=False),
)
_add(
    id="paddle-nll-mean-zero-total-weight",
    title="paddle nll_loss's 'mean' over a zero total weight (an empty batch) is 0, not NaN",
    entry_points=(F + "nll_loss", "paddle.nn.NLLLoss"),
    kinds=("forward",),
    trigger="reduction 'mean' over no items (or items of weight 0)",
    explanation="the CPU kernel divides the sum by the total weight only when that is not "
                "0 ('if (reduction == \"mean\" && total_weight_val != 0)')",
    link=_K + "cpu/nll_loss_kernel.cc (nll_loss_1D, nll_loss_2D)",
    applies=lambda c: c.op == "nll_loss" and c.reduction == "mean",
    model=nll_model,
    example=lambda: _example("nll_loss", np.zeros((0, 3)), "float32",
                             np.zeros((0,), dtype=np.int64), "index", {"reduction": "mean"},
                             grad=False),
)

# -- binary losses ---------------------------------------------------------------------------------
_add(
    id="paddle-bce-log-clamp-100",
    title="paddle binary_cross_entropy clamps each log at -100: a probability of exactly 0 "
          "or 1 on the wrong side gives a loss of 100, not inf",
    entry_points=_BCE,
    kinds=("forward", "gradient"),
    trigger="probabilities of 0 or 1 (or within exp(-100) of them) under a target that "
            "disagrees",
    explanation="the bce_loss CPU kernel computes (t - 1) max(log(1 - p), -100) - t "
                "max(log p, -100) (as torch does); its gradient divides by "
                "max((1 - p) p, 1e-12)",
    link=_K + "cpu/bce_loss_kernel.cc; " + _K + "cpu/bce_loss_grad_kernel.cc",
    applies=lambda c: c.op == "binary_cross_entropy",
    model=bce_model,
    example=lambda: _example("binary_cross_entropy", [[0.0, 1.0, 0.5]], "float64",
                             [[1.0, 0.0, 0.5]], "probs", {"reduction": "none"}),
)
_add(
    id="paddle-bce-logits-log-one-plus-exp",
    title="paddle binary_cross_entropy_with_logits computes log(1 + exp(-|x|)) with a log, "
          "not log1p: a confident element's loss is 0",
    entry_points=_BCE_LOGITS,
    kinds=("forward", "gradient"),
    trigger="confident elements (|x| above about 17 in float32, 37 in float64, with the "
            "target on the logit's side), and infinite logits (NaN)",
    explanation="the sigmoid_cross_entropy_with_logits kernel computes max(x, 0) - x t + "
                "log(1 + exp(-|x|)) in the dtype: exp(-|x|) below ulp(1) / 2 rounds 1 + "
                "exp(-|x|) to 1 and the loss to 0 (the reference keeps exp(-|x|)); an "
                "infinite logit gives inf - inf = NaN; with pos_weight its gradient kernel "
                "computes pw (term2 / (exp(-m) + exp(-x - m)) + term1) + 1 - t, which "
                "cancels to 0 for a confident element",
    link=_K + "cpu/sigmoid_cross_entropy_with_logits_kernel.cc",
    applies=lambda c: c.op == "binary_cross_entropy_with_logits",
    model=bce_logits_model,
    example=lambda: _example("binary_cross_entropy_with_logits", [[30.0, -30.0, 0.5]],
                             "float32", [[1.0, 0.0, 1.0]], "probs",
                             {"reduction": "none", "pos_weight": np.array([2.0, 1.0, 1.0])}),
)
_add(
    id="paddle-log-sigmoid-log-of-sum",
    title="paddle log_sigmoid is -(m + log(exp(-m) + exp(-x - m))): 0 for a confident "
          "element, NaN at -inf",
    entry_points=(F + "log_sigmoid",),
    kinds=("forward", "gradient"),
    trigger="large positive inputs (the result below ulp(1)), -inf",
    explanation="LogSigmoidFunctor takes the log of a rounded sum near 1 instead of "
                "log1p(exp(-x)): values of magnitude below ulp(1) / 2 come back 0; at x = -inf "
                "m = inf and -x - m = inf - inf = NaN",
    link=_K + "funcs/activation_functor.h (LogSigmoidFunctor)",
    applies=lambda c: c.op == "log_sigmoid",
    model=log_sigmoid_model,
    example=lambda: _example("log_sigmoid", [[30.0, -np.inf, 0.5]], "float32"),
)

DIVERGENCES: tuple[Divergence, ...] = tuple(_entries)

__all__ = ["DIVERGENCES"]
