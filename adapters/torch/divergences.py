"""torch's divergence entries (``ADAPTER.divergences``): binary cross-entropy's clamps and
cancellation, the default ignore_index -100, negative label smoothing, and float16
intermediates that overflow (nll_loss's total weight, label smoothing's class sum).

Each entry follows its predicate, example and model, built from the reference and the
framework-neutral pieces of lossconform.divergences.numerics. Keyed on torch's version.
``observed`` pins what each text says torch returns (NaN, inf, 0) on the example; ``finding``
marks the entries that are bugs to report upstream (their repros are in findings.py).
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.entry import Observed
from lossconform.divergences.numerics import (
    cancelling_logits_example, infinite_logits_example,
    EXAMPLE_LOGITS, F16_MAX, classes_last, confident_items_float16, cotangent, example_call,
    index_items, infinite_logit, label_smoothing, label_smoothing_negative, logits_cancel,
    reduce_losses, wants_grad,
)
from lossconform.dtypes import round_to

from . import findings as _findings

_LOSS = "https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/Loss.cpp"
_LOSS_NLL = "https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/LossNLL.cpp"

_BCE = ("torch.nn.functional.binary_cross_entropy", "torch.nn.BCELoss")
_BCE_LOGITS = ("torch.nn.functional.binary_cross_entropy_with_logits",
               "torch.nn.BCEWithLogitsLoss")
_CE = ("torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss")
_NLL = ("torch.nn.functional.nll_loss", "torch.nn.NLLLoss")

_entries: list[Divergence] = []


# -- binary_cross_entropy_with_logits -------------------------------------------------------------
def _bce_logits(call: Call) -> ModelResult:
    """torch binary_cross_entropy_with_logits (aten/src/ATen/native/Loss.cpp) op by op, each
    result rounded to the input dtype:
        ls = log_sigmoid(z) = min(z, 0) - log1p(exp(-|z|))   (the CPU log_sigmoid kernel)
        ls *= 1 + (pos_weight - 1) t                          (if pos_weight)
        l = (1 - t) z - ls;  l *= weight                      (if weight)
    For z << 0 and t < 1, (1 - t) z and -ls cancel: ~ulp(|z|) absolute error per element."""
    z = np.asarray(call.x, dtype=np.float64)
    t = np.asarray(call.target, dtype=np.float64)

    def rd(v: np.ndarray) -> np.ndarray:  # one op's result, in the input dtype
        return round_to(v, call.dtype)

    with np.errstate(over="ignore", invalid="ignore"):
        ls = rd(np.minimum(z, 0.0) - rd(np.log1p(rd(np.exp(-np.abs(z))))))
        pw = call.option("pos_weight")
        if pw is not None:
            lw = rd(rd(np.asarray(pw, np.float64) - 1.0) * t + 1.0)
            ls = rd(ls * lw)
        el = rd(rd(rd(1.0 - t) * z) - ls)
        w = call.option("weight")
        if w is not None:
            el = rd(el * np.broadcast_to(np.asarray(w, np.float64), z.shape))
    n = float(max(z.size, 1))
    return np.asarray(reduce_losses(el, n, call.reduction), dtype=np.float64), None



_entries.append(Divergence(
    id="torch-bce-logits-infinite-logit-nan",
    title="torch binary_cross_entropy_with_logits is NaN at an infinite logit",
    framework="torch",
    entry_points=_BCE_LOGITS,
    versions=">=2.0",
    kinds=("forward",),
    trigger="a logit of +inf under target 1, or of -inf under any target (the 'pos_inf' and "
            "'neg_inf' regimes); +inf under a target < 1 gives the right +inf",
    explanation="torch computes (1 - t) z - log_sigmoid(z): at z = +inf with t = 1 that is "
                "0 * inf = NaN, at z = -inf it is (1 - t)(-inf) - (-inf) = NaN (0 * -inf "
                "for t = 1), where the loss is 0 (a certain, correct prediction) or +inf. "
                "The gradient, sigmoid(z) - t, stays exact. The reference evaluates "
                "(1 - t) softplus(z) + t softplus(-z) with 0 * inf taken as 0.",
    link=f"{_LOSS} (binary_cross_entropy_with_logits: (1 - target).mul_(input)"
         ".sub_(log_sigmoid_input))",
    applies=infinite_logit,
    model=_bce_logits,
    example=infinite_logits_example,
    observed=(Observed("forward", "nan nan +inf nan",
                       "NaN at z = +inf with t = 1 and at z = -inf (t = 0 or 1); +inf under "
                       "target 0 at z = +inf is right"),),
    finding=_findings.BCE_LOGITS_INFINITE,
))



_entries.append(Divergence(
    id="torch-bce-logits-forward-cancellation",
    title="torch binary_cross_entropy_with_logits loses tiny losses to cancellation (z << 0)",
    framework="torch",
    entry_points=_BCE_LOGITS,
    versions=">=2.0",
    kinds=("forward",),
    trigger="negative logits (z < -1) with target < 1 where the loss is small (confident, "
            "correct predictions: z = -32, t = 0 gives 1.1e-14); visible in a 'sum' or "
            "'mean' of many such terms in float64",
    explanation="torch computes (1 - t) z - log_sigmoid(z) (times the pos_weight factor): "
                "for z < 0 both terms are about |z| and cancel, so each element carries an "
                "absolute error of about ulp(|z|) (7e-15 at |z| = 32 in float64), not a "
                "relative one; a sum of 192 losses of ~1e-14 is off by 0.3%. The "
                "reference evaluates (1 - t) softplus(z) + t softplus(-z), exact there.",
    link=f"{_LOSS} (binary_cross_entropy_with_logits: (1 - target).mul_(input)"
         ".sub_(log_sigmoid_input))",
    applies=logits_cancel,
    model=_bce_logits,
    example=cancelling_logits_example,
    observed=(Observed("forward", "+ + + 0",
                       "an absolute error of about ulp(|z|) per element: the loss of 3.8e-16 "
                       "at z = -35.5 comes out as 0",
                       call=lambda: example_call(
                           "binary_cross_entropy_with_logits", [-32.25, -30.5, -33.0, -35.5],
                           target=[0.0, 0.0, 0.0, 0.0], options={"reduction": "none"},
                           grad=False)),),
    finding=_findings.BCE_LOGITS_CANCELLATION,
))


# -- binary_cross_entropy -------------------------------------------------------------------------
def _bce(call: Call) -> ModelResult:
    """torch binary_cross_entropy (aten/src/ATen/native/Loss.cpp):
    l = -w [t max(log p, -100) + (1 - t) max(log(1 - p), -100)];
    dl/dp = w g (p - t) / max((1 - p) p, EPSILON=1e-12), EPSILON cast to the input dtype."""
    p = np.asarray(call.x, dtype=np.float64)
    t = np.asarray(call.target, dtype=np.float64)
    w = call.option("weight")
    w = np.ones_like(p) if w is None else np.broadcast_to(np.asarray(w, np.float64), p.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = np.maximum(np.log(p), -100.0)
        l1p = np.maximum(np.log1p(-p), -100.0)
        el = -w * (t * lp + (1.0 - t) * l1p)
        prod = round_to((1.0 - p) * p, call.dtype)
        # EPSILON is a C++ float constant (1e-12f), then cast to the input dtype
        eps = float(round_to(round_to(1e-12, "float32"), call.dtype))
        de = w * (p - t) / np.maximum(prod, eps)
    n = float(max(p.size, 1))
    fwd = reduce_losses(el, n, call.reduction)
    grad = None
    if wants_grad(call):
        g = cotangent(call, p.shape if call.reduction == "none" else ())
        grad = de * (g / n if call.reduction == "mean" else g)
    return np.asarray(fwd, dtype=np.float64), grad


def _log_clamped(call: Call) -> bool:
    if call.op != "binary_cross_entropy":
        return False
    p = np.asarray(call.x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return bool(np.any(np.log(p) < -100) | np.any(np.log1p(-p) < -100))


def _ex_log_clamp() -> Call:
    return example_call("binary_cross_entropy", [0.0, 1.0, 1e-50, 0.5],
                        target=[1.0, 0.0, 0.5, 1.0], options={"reduction": "sum"}, grad=False)


_entries.append(Divergence(
    id="torch-bce-log-clamp-minus-100",
    title="torch binary_cross_entropy clamps each log at -100 (loss at most 100 per element)",
    framework="torch",
    entry_points=_BCE,
    versions=">=1.0",
    kinds=("forward",),
    trigger="probabilities with log p < -100 or log(1-p) < -100 under a target that "
            "weights that log (p = 0 with t > 0, p = 1 with t < 1, p < 3.7e-44)",
    explanation="torch computes (t - 1) max(log(1 - p), -100) - t max(log p, -100) so "
                "that the loss is finite (documented: 'BCELoss clamps its log function "
                "outputs to be greater than or equal to -100'); the reference gives +inf "
                "(or the exact large value).",
    link=f"{_LOSS} (binary_cross_entropy_out_cpu: std::max(log, -100)); "
         "https://pytorch.org/docs/stable/generated/torch.nn.BCELoss.html",
    applies=_log_clamped,
    model=_bce,
    example=_ex_log_clamp,
    observed=(Observed("forward", "+", "the loss is finite (at most 100 per element) where "
                                       "the reference gives +inf"),),
))


def _grad_eps_bounds(call: Call) -> bool:
    if call.op != "binary_cross_entropy" or call.grad_output is None:
        return False
    p = np.asarray(call.x, dtype=np.float64)
    return bool(np.any(round_to((1.0 - p) * p, call.dtype) < 1e-12))


def _ex_grad_eps() -> Call:
    return example_call("binary_cross_entropy", [0.0, 1.0, 1e-20, 0.5],
                        target=[1.0, 0.0, 1.0, 1.0], options={"reduction": "sum"})


_entries.append(Divergence(
    id="torch-bce-grad-eps-1e-12",
    title="torch binary_cross_entropy gradient divides by max(p(1-p), 1e-12)",
    framework="torch",
    entry_points=_BCE,
    versions=">=1.0",
    kinds=("gradient",),
    trigger="p(1-p) < 1e-12 (p within ~1e-12 of 0 or 1); in float16 EPSILON rounds to 0 "
            "so p = 0 or 1 gives an infinite gradient",
    explanation="binary_cross_entropy_backward computes grad (p - t) / max((1 - p) p, "
                "EPSILON) with EPSILON = 1e-12 cast to the input dtype, so the gradient is "
                "bounded by 1e12 (and is not the derivative of the clamped forward); the "
                "reference gives -t/p + (1-t)/(1-p) (infinite at p = 0 or 1).",
    link=f"{_LOSS} (binary_cross_entropy_backward_out_cpu: EPSILON = 1e-12)",
    applies=_grad_eps_bounds,
    model=_bce,
    example=_ex_grad_eps,
    observed=(Observed("gradient", "- + - -",
                       "the gradient is bounded by 1e12 (finite) where the reference's is "
                       "infinite at p = 0 or 1"),),
))


# -- ignore_index -100 by default -----------------------------------------------------------------
def _has_minus_100(call: Call) -> bool:
    return call.target_kind == "index" and call.option("ignore_index") is None \
        and call.target is not None and bool(np.any(np.asarray(call.target) == -100))


def _ignore_minus_100(call: Call) -> ModelResult:
    """The reference with ignore_index=-100 (torch's default)."""
    kw = dict(axis=call.axis, weight=call.option("weight"), ignore_index=-100,
              reduction=call.reduction)
    if call.op == "cross_entropy":
        kw.update(target_kind="index", label_smoothing=label_smoothing(call))
        fwd, vjp = R.cross_entropy, R.cross_entropy_vjp
    else:
        fwd, vjp = R.nll_loss, R.nll_loss_vjp
    out = fwd(call.x, call.target, **kw)
    grad = vjp(call.x, call.target, grad_output=call.grad_output, **kw) \
        if wants_grad(call) else None
    return np.asarray(out, dtype=np.float64), None if grad is None else np.asarray(grad)


def _ex_minus_100() -> Call:
    return example_call("cross_entropy", EXAMPLE_LOGITS, target=[-100, 1, 3],
                        target_kind="index")


_entries.append(Divergence(
    id="torch-ignore-index-default-minus-100",
    title="torch cross_entropy/nll_loss silently ignore targets equal to -100 by default",
    framework="torch",
    entry_points=_CE,
    versions=">=1.0",
    kinds=("forward", "gradient"),
    trigger="an index target of -100 when no ignore_index is asked for",
    explanation="ignore_index defaults to -100, so such an item is dropped from the loss "
                "and from the mean's denominator without an error; the reference (no "
                "ignore_index) rejects -100 as an out-of-range class.",
    link="https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html "
         f"(ignore_index default -100); {_LOSS_NLL}",
    applies=_has_minus_100,
    model=_ignore_minus_100,
    example=_ex_minus_100,
    observed=(Observed("gradient", "0 0 0 0 | * * * * | * * * *",
                       "such an item is dropped: its gradient is 0"),),
))


def _ex_minus_100_nll() -> Call:
    lp = np.asarray(R.log_softmax(np.array(EXAMPLE_LOGITS), axis=-1), dtype=np.float64)
    return example_call("nll_loss", lp, target=[0, -100, 3], target_kind="index")


_entries.append(Divergence(
    id="torch-nll-ignore-index-default-minus-100",
    title="torch nll_loss silently ignores targets equal to -100 by default",
    framework="torch",
    entry_points=_NLL,
    versions=">=1.0",
    kinds=("forward", "gradient"),
    trigger="an index target of -100 when no ignore_index is asked for",
    explanation="As for cross_entropy: NLLLoss's ignore_index defaults to -100.",
    link="https://pytorch.org/docs/stable/generated/torch.nn.NLLLoss.html "
         f"(ignore_index default -100); {_LOSS_NLL}",
    applies=_has_minus_100,
    model=_ignore_minus_100,
    example=_ex_minus_100_nll,
))


# -- negative label smoothing ---------------------------------------------------------------------
def _without_smoothing(call: Call) -> ModelResult:
    """torch cross_entropy with label_smoothing < 0: the smoothing branch is taken only for
    label_smoothing > 0, so the result is the reference WITHOUT smoothing."""
    kw = dict(axis=call.axis, target_kind=call.target_kind or "index",
              weight=call.option("weight"), reduction=call.reduction,
              ignore_index=call.option("ignore_index"))
    fwd = R.cross_entropy(call.x, call.target, **kw)
    grad = R.cross_entropy_vjp(call.x, call.target, grad_output=call.grad_output, **kw) \
        if wants_grad(call) else None
    return np.asarray(fwd, dtype=np.float64), None if grad is None else np.asarray(grad)


def _ex_negative_smoothing() -> Call:
    return example_call("cross_entropy", EXAMPLE_LOGITS, target=[0, 1, 3], target_kind="index",
                        options={"label_smoothing": -0.2})


_entries.append(Divergence(
    id="torch-label-smoothing-negative-ignored",
    title="torch cross_entropy silently ignores a negative label_smoothing (checks only <= 1)",
    framework="torch",
    entry_points=_CE,
    versions=">=1.10",
    kinds=("forward", "gradient"),
    trigger="label_smoothing < 0",
    explanation="torch raises 'label_smoothing must be between 0.0 and 1.0' for eps > 1, "
                "but a negative eps passes the check and then fails the 'label_smoothing "
                "> 0' test that selects the smoothing branch: the loss is computed with "
                "NO smoothing, silently. The reference rejects any eps outside [0, 1].",
    link=f"{_LOSS_NLL} (cross_entropy: TORCH_CHECK(label_smoothing <= 1.0); "
         "if (label_smoothing > 0.0) -> cross_entropy_loss_label_smoothing)",
    applies=label_smoothing_negative,
    model=_without_smoothing,
    example=_ex_negative_smoothing,
    finding=_findings.LABEL_SMOOTHING_NEGATIVE,
))


# -- float16: nll_loss's total weight -------------------------------------------------------------
def _half_total_weight_overflows(call: Call) -> bool:
    if call.dtype != "float16" or call.reduction != "mean" or call.target_kind != "index" \
            or call.op not in ("cross_entropy", "nll_loss") or label_smoothing(call):
        return False
    _, wy, _ = index_items(call)
    return bool(np.isinf(round_to(np.sum(wy), "float16")))


def _mean_half_total_weight(call: Call) -> ModelResult:
    """torch nll_loss (and cross_entropy with index targets, which calls it) 'mean' in
    float16: the output and total_weight are float16 tensors, so sum_i w[y_i] beyond 65504 is
    inf and the loss is sum / inf = 0 (NaN when the float16 sum overflows too); the backward
    divides the cotangent by the same inf total weight: gradient 0."""
    l, wy, _ = index_items(call)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        num = round_to(np.sum(wy * l), "float16")
        fwd = np.asarray(num / round_to(np.sum(wy), "float16"))
    grad = np.zeros(call.x.shape) if wants_grad(call) else None
    return fwd, grad


_entries.append(Divergence(
    id="torch-nll-mean-float16-total-weight-overflow",
    title="torch nll_loss/cross_entropy 'mean' in float16: over 65504 items the loss is 0",
    framework="torch",
    entry_points=_CE + _NLL,
    versions=">=1.0",
    kinds=("forward", "gradient"),
    trigger="float16, index targets, reduction 'mean', sum of w[y_i] over non-ignored "
            "items above 65504 (e.g. 70000 items without class weights)",
    explanation="nll_loss_forward keeps total_weight (the mean's denominator) in the "
                "input's dtype: in float16 it overflows to inf beyond 65504, so the mean "
                "is sum / inf = 0 (NaN when the float16 sum overflows as well) and the "
                "backward divides the cotangent by the same inf: the gradient is 0. The "
                "mean itself (here 0.0198) is representable. The sum is accumulated in "
                "float, so 60000 items are right; torch's binary losses (mean computed "
                "by Tensor.mean) and bfloat16 (range of float32) are not affected.",
    link=f"{_LOSS_NLL} (nll_loss_out_frame: total_weight tensor of the input's "
         "scalar type; output = sum / total_weight)",
    applies=_half_total_weight_overflows,
    model=_mean_half_total_weight,
    example=confident_items_float16,
    observed=(Observed("forward", "0", "the mean is sum / inf = 0"),
              Observed("gradient", "0 ...", "the backward divides the cotangent by the same "
                                            "inf: the gradient is 0")),
    finding=_findings.NLL_MEAN_FLOAT16,
))


# -- float16: label smoothing's class sum ---------------------------------------------------------
def _smooth_sum_overflows(call: Call) -> bool:
    if call.op != "cross_entropy" or call.target_kind != "index" \
            or not label_smoothing(call) > 0 or call.dtype != "float16":
        return False
    x = classes_last(call.x, call)
    lp = np.asarray(R.log_softmax(x, axis=-1), dtype=np.float64)
    w = call.option("weight")
    wc = np.ones(x.shape[-1]) if w is None else np.asarray(w, np.float64)
    sm = -np.sum(lp * wc, axis=-1)
    tot = sm if call.reduction == "none" else np.sum(sm)
    return bool(np.any(np.abs(tot) > F16_MAX))


def _half_smooth_sum(call: Call) -> ModelResult:
    """torch cross_entropy with label_smoothing and index targets
    (cross_entropy_loss_label_smoothing): (1 - eps) nll + ret * eps / C with
    smooth_i = -sum_c w_c log p_ic and ret = smooth_i ('none'), sum_i smooth_i ('sum') or
    that sum / sum_i w[y_i] (count of valid items without weights) ('mean'), every tensor in
    the input's dtype: in float16 smooth_i, or their sum, beyond 65504 is inf and so is the
    loss, although eps / C scales it back to the size of the loss."""
    x = classes_last(call.x, call)
    C = x.shape[-1]
    lp = np.asarray(R.log_softmax(x, axis=-1), dtype=np.float64)
    w = call.option("weight")
    wc = np.ones(C) if w is None else np.asarray(w, np.float64)
    l, wy, ignored = index_items(call)
    eps = label_smoothing(call)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        smooth = np.where(ignored, 0.0, round_to(-np.sum(lp * wc, axis=-1), call.dtype))
        nll = (l - eps / C * np.where(ignored, 0.0, -np.sum(lp * wc, axis=-1))) / (1.0 - eps) \
            if eps < 1.0 else np.zeros(l.shape)
        if call.reduction == "none":
            ret, nll_r = smooth, nll
        else:
            ret = round_to(np.sum(smooth), call.dtype)
            nll_r = np.sum(wy * nll) if w is not None else np.sum(nll)
            if call.reduction == "mean":
                ret = ret / np.sum(wy)
                nll_r = nll_r / np.sum(wy)
        fwd = (1.0 - eps) * nll_r + ret * (eps / C)
    return np.asarray(fwd, dtype=np.float64), None


def _ex_smooth_many_classes() -> Call:
    return example_call("cross_entropy", np.zeros((16, 1000)), dtype="float16",
                        target=np.arange(16) * 7, target_kind="index",
                        options={"label_smoothing": 0.1, "reduction": "mean"}, grad=False)


_entries.append(Divergence(
    id="torch-label-smoothing-float16-smooth-sum-overflow",
    title="torch cross_entropy(label_smoothing) in float16: inf once sum_c -log p exceeds "
          "65504",
    framework="torch",
    entry_points=_CE,
    versions=">=1.10",
    kinds=("forward",),
    trigger="float16, index targets, label_smoothing > 0, and sum over classes (and, for "
            "'sum'/'mean', over items) of -w_c log p_c above 65504: e.g. 16 items x 1000 "
            "classes (about 110000), or one item with 10000+ classes",
    explanation="cross_entropy_loss_label_smoothing computes smooth_loss = -(log_softmax "
                "* w).sum(class_dim) and smooth_loss.sum() as float16 tensors BEFORE "
                "scaling them by label_smoothing / C, so the intermediate overflows to inf "
                "although the loss (6.9 for uniform logits over 1000 classes) is small; "
                "the gradient is unaffected (it never forms that sum). Keras' smoothing "
                "(applied to the targets) does not overflow.",
    link=f"{_LOSS_NLL} (cross_entropy_loss_label_smoothing: smooth_loss.sum() ... "
         "ret * (label_smoothing / n_classes))",
    applies=_smooth_sum_overflows,
    model=_half_smooth_sum,
    example=_ex_smooth_many_classes,
    observed=(Observed("forward", "+inf", "the intermediate overflows to inf and so does the "
                                          "loss"),),
    finding=_findings.LABEL_SMOOTHING_FLOAT16,
))

from .div_regimes import DIVERGENCES as _REGIMES  # noqa: E402  (regimes of issue 10, section 4)
from .div_accuracy import DIVERGENCES as _ACCURACY  # noqa: E402  (relative accuracy, issue 10 section 5)
DIVERGENCES: tuple[Divergence, ...] = tuple(_entries) + _REGIMES + _ACCURACY
