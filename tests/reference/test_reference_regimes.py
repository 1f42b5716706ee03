"""The reference on the regimes users hit (issue 10, section 4), proved against mpmath.

Small versions of every regime run through the generic oracle comparison
(``refchecks._regime_rows`` and the cases built on them, in test_reference_oracle.py); here
the large ones the matrix runs are proved directly on the matrix's own inputs
(``lossconform.cases``): one row of C = 2**20 classes against its closed form, and confident
batches of 10**5 items against mpmath item by item. The documented edge semantics (fully
masked, NaN and +inf rows, ignored padding, zero weights, zero and unnormalised label rows)
are pinned value by value.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from lossconform import reference as R
from lossconform.cases import BY_ID, CONFIDENT_N, GROWTH_C

from tests.reference import refchecks as C

FWD_ULP = 2.0
GRAD_ULP = 2.0
mp = mpmath.mp


# ----------------------------------------------------------------- one row of 2**20 classes
def _exact_sum(values: np.ndarray) -> mpmath.mpf:
    """The exact sum of float64 values (integers scaled by 2**1074 would do; these are in
    [2**-60, 2**60], so 2**120 is enough) as an mpf."""
    scaled = [int(v) for v in np.ldexp(np.asarray(values, dtype=np.float64), 120)]
    return mpmath.ldexp(mpmath.mpf(sum(scaled)), -120)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_vs_rest_2_20_matches_closed_form(dtype: str) -> None:
    """Row [a, 0, ..., 0] (a = log(C - 1) rounded to the dtype): lse = log(e^a + C - 1),
    log_softmax_0 = a - lse, log_softmax_j = -lse, softmax = exp of those; cross_entropy on
    class 0 is lse - a with gradient p - e_0. The softmax and log_softmax gradients with the
    matrix's own random cotangent need sum(g) and sum(p g), taken exactly."""
    c = GROWTH_C[-1]
    assert c == 2**20
    with mp.workdps(60):
        for op in ("softmax", "log_softmax", "cross_entropy"):
            # the matrix runs softmax and cross_entropy at 2**20; log_softmax is proved on the
            # softmax case's row and cotangent
            cid = {"cross_entropy": f"cross_entropy-one_vs_rest-1x{c}-index-reduction_sum"}.get(
                op, f"softmax-one_vs_rest-1x{c}")
            call = BY_ID[cid].call(dtype).replace(op=op)
            x = call.x
            a = mpmath.mpf(float(x[0, 0]))
            assert np.all(x[0, 1:] == 0)
            lse = mpmath.log(mpmath.exp(a) + (c - 1))
            lp0, lpr = a - lse, -lse
            p0, pr = mpmath.exp(lp0), mpmath.exp(lpr)
            fwd, grad = R.evaluate(call)
            g = np.asarray(call.grad_output, dtype=np.float64)
            if op == "cross_entropy":
                want = [float(lse - a)]
                got = [float(fwd)]
                gwant = np.full(c, float(pr * g))
                gwant[0] = float((p0 - 1) * mpmath.mpf(float(g)))
            else:
                gs = g[0]
                # the classes checked: class 0, the first 2000 and the 500 whose difference
                # cancels most (every class j > 0 has the same formula)
                if op == "log_softmax":
                    k = float(pr * _exact_sum(gs))
                else:
                    k = float(p0 * mpmath.mpf(float(gs[0])) + pr * _exact_sum(gs[1:]))
                sel = np.unique(np.concatenate([np.arange(2000), np.argsort(np.abs(gs - k))[:500]]))
                if op == "log_softmax":
                    want, got = [float(lp0), float(lpr)], [fwd[0, 0], fwd[0, 1]]
                    s = _exact_sum(gs)  # d = g - p sum(g)
                    gwant = np.array([float(mpmath.mpf(float(v)) - pr * s) for v in gs[sel]])
                    gwant[0] = float(mpmath.mpf(float(gs[0])) - p0 * s)
                else:
                    want, got = [float(p0), float(pr)], [fwd[0, 0], fwd[0, 1]]
                    # sum(p g) = p0 g0 + pr sum_{j>0} g_j
                    t = p0 * mpmath.mpf(float(gs[0])) + pr * _exact_sum(gs[1:])
                    gwant = np.array([float(pr * (mpmath.mpf(float(v)) - t)) for v in gs[sel]])
                    gwant[0] = float(p0 * (mpmath.mpf(float(gs[0])) - t))
                assert np.all(fwd[0, 1:] == fwd[0, 1]), "the C - 1 equal logits get one value"
            assert C.ulp_error(np.array(got), np.array(want)) <= FWD_ULP, (op, dtype, got, want)
            if op == "cross_entropy":
                assert C.ulp_error(np.ravel(grad), gwant) <= GRAD_ULP, (op, dtype)
            else:
                # g_j - sum(p g) and g_j - p_j sum(g) are differences of exact inputs, some
                # of which cancel to 1e-7 among 2**20 random cotangents: the reference
                # subtracts last in extended precision, so its error is bounded by a few
                # units of 2**-64 of the operands (the condition number times 2**-64), not by
                # ULPs of the difference
                gs, gsel = gs[sel], np.ravel(grad)[sel]
                err = np.abs(gsel - gwant)
                if op == "log_softmax":  # g_j - p_j sum(g)
                    operands = np.abs(gs) + np.abs(gs - gwant)
                else:  # p_j (g_j - t), |t| <= max |g|
                    pj = np.full(sel.size, float(pr))
                    pj[0] = float(p0)
                    operands = pj * (np.abs(gs) + np.max(np.abs(gs)))
                assert np.all(err <= 8 * 2.0**-64 * operands + np.spacing(np.abs(gwant))), \
                    (op, dtype, float(np.max(err / operands)))


def test_uniform_row_and_its_float16_normaliser() -> None:
    """uniform: 2**17 equal logits, p = 2**-17 exactly, log_softmax = -17 log 2, a normaliser
    beyond float16's range (the reference is not computed in the dtype)."""
    call = BY_ID["log_softmax-uniform-1x131072"].call("float16")
    fwd, _ = R.evaluate(call)
    assert np.all(fwd == -17 * math.log(2))
    assert np.all(R.softmax(call.x) == 2.0**-17)
    ce, g = R.evaluate(BY_ID["cross_entropy-uniform-1x131072-index-reduction_sum"].call("float16"))
    assert ce == pytest.approx(17 * math.log(2), rel=1e-15) and g[0, 0] == pytest.approx(
        (2.0**-17 - 1) * float(BY_ID["cross_entropy-uniform-1x131072-index-reduction_sum"]
                               .call("float16").grad_output), rel=1e-15)


# ----------------------------------------------------------------- confident batches
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_confident_batch_sums_are_exact(dtype: str) -> None:
    """The matrix's confident batches (rows [d, 0] or [0, d] with the target on d, loss
    log1p(exp(-d)) ~ 1e-6): the reference's 'sum' over 10**5 items and 'mean' over 10**4
    agree with mpmath item by item to 1 ULP, while the textbook float32 form
    log(sum exp(x - max)) - (x_y - max) loses a relative 1e-3 of the sum: the error the
    regime exposes."""
    for n, red in ((CONFIDENT_N[-1], "sum"), (CONFIDENT_N[1], "mean")):
        call = BY_ID[f"cross_entropy-confident_batch-{n}x2-index-reduction_{red}"].call(dtype)
        x, y = call.x, call.target
        d = np.take_along_axis(x, y[:, None], 1)[:, 0] - np.take_along_axis(x, 1 - y[:, None], 1)[:, 0]
        with mp.workdps(30):
            total = mpmath.fsum(mpmath.log1p(mpmath.exp(-mpmath.mpf(float(v)))) for v in d)
            want = float(total if red == "sum" else total / n)
        got = float(R.cross_entropy(x, y, reduction=red))
        assert C.ulp_error(got, want) <= 1.0, (red, got, want)
        if dtype == "float32" and red == "sum":
            x32 = x.astype(np.float32)
            m = x32.max(1, keepdims=True)
            lse = np.log(np.exp(x32 - m).sum(1, dtype=np.float32))
            naive = float(np.sum((lse - np.take_along_axis(x32 - m, y[:, None], 1)[:, 0])
                                 .astype(np.float64)))
            assert abs(naive - want) / want > 1e-4, "the regime must expose the cancellation"


def test_confident_batch_error_grows_with_n() -> None:
    """The textbook float32 form's absolute error over the confident batches grows with N
    (10**2, 10**4, 10**5 items), the reference's stays at the rounding of the result."""
    errs, ref_errs = [], []
    for n in CONFIDENT_N:
        call = BY_ID[f"cross_entropy-confident_batch-{n}x2-index-reduction_sum"].call("float32")
        x, y = call.x, call.target
        d = np.abs(x[:, 0] - x[:, 1])
        want = float(np.sum(np.log1p(np.exp(-d.astype(np.longdouble)))))
        x32 = x.astype(np.float32)
        lse = np.log(np.exp(x32 - x32.max(1, keepdims=True)).sum(1, dtype=np.float32))
        errs.append(abs(float(np.sum(lse.astype(np.float64))) - want))
        ref_errs.append(abs(float(R.cross_entropy(x, y, reduction="sum")) - want) / want)
    assert errs[0] < errs[1] < errs[2] and errs[2] > 50 * errs[0], errs
    assert max(ref_errs) < 1e-15, ref_errs


# ----------------------------------------------------------------- documented edge semantics
def test_fully_masked_nan_and_pos_inf_rows() -> None:
    """A row without a finite maximum is NaN for softmax, log_softmax and every loss over it
    (and its gradient row), and only that row: the others are unaffected, also in the
    gradient of a 'mean' (whose value is NaN)."""
    x = np.array([[-np.inf] * 3, [0.5, np.nan, 1.0], [np.inf, 0.0, 1.0], [1.0, -np.inf, 2.0]])
    for f in (R.softmax, R.log_softmax):
        out = f(x)
        assert np.all(np.isnan(out[:3])) and np.all(np.isfinite(out[3, [0, 2]]))
    y = np.array([0, 0, 1, 2])
    assert np.isnan(R.cross_entropy(x, y))
    g = R.cross_entropy_vjp(x, y)
    assert np.all(np.isnan(g[:3])) and np.all(np.isfinite(g[3])) and g[3, 1] == 0.0
    none = R.cross_entropy(x, y, reduction="none")
    assert np.all(np.isnan(none[:3])) and none[3] == pytest.approx(-R.log_softmax(x)[3, 2])


def test_ignored_padding_rows_have_zero_loss_and_gradient() -> None:
    """An ignored item contributes 0 to the loss AND to the gradient whatever its logits (a
    fully masked, NaN or +inf row: the padding of a sequence model), with smoothing and
    class weights too; the mean divides by the other items' weights."""
    x = np.array([[-np.inf] * 3, [np.nan, 0.0, 1.0], [np.inf] * 3, [1.0, 0.5, 2.0]])
    y = np.array([-100, -100, -100, 2])
    for kw in ({}, {"label_smoothing": 0.1, "weight": np.array([0.5, 1.0, 2.0])}):
        for red in ("none", "sum", "mean"):
            loss = R.cross_entropy(x, y, ignore_index=-100, reduction=red, **kw)
            g = R.cross_entropy_vjp(x, y, ignore_index=-100, reduction=red, **kw)
            assert np.all(np.isfinite(loss)) and np.all(g[:3] == 0.0), (kw, red)
            assert np.all(np.isfinite(g[3]))
    assert R.cross_entropy(x, y, ignore_index=-100) == pytest.approx(-R.log_softmax(x[3:])[0, 2])
    lp = np.array([[np.nan] * 3, [-0.1, -np.inf, -2.5]])
    assert np.array_equal(R.nll_loss_vjp(lp, np.array([-1, 0]), ignore_index=-1)[0], [0, 0, 0])


def test_zero_weight_removes_inf_not_nan() -> None:
    """A zero sample weight removes an infinite loss (0 * inf = 0) but not a NaN (a NaN
    input stays visible), in the value and in the gradient."""
    x = np.array([[0.0, -np.inf], [np.nan, 0.0], [1.0, 2.0]])
    y = np.array([1, 0, 0])
    sw = np.array([0.0, 0.0, 1.0])
    none = R.cross_entropy(x, y, sample_weight=sw, reduction="none")
    assert none[0] == 0.0 and np.isnan(none[1]) and np.isfinite(none[2])
    g = R.cross_entropy_vjp(x, y, sample_weight=sw, reduction="none")
    assert np.all(g[0] == 0.0) and np.all(np.isnan(g[1]))


def test_masks_under_every_target_kind() -> None:
    """-inf masks: with index targets and with one-hot or soft labels that are 0 at the mask
    the loss is finite (0 log 0 = 0) and the gradient there is 0; a positive label at the
    mask (one-hot on it, or any label smoothing) makes the loss +inf with a finite gradient
    -q_c there."""
    x = np.array([[0.5, -np.inf, 2.0, 0.25], [1.5, 0.75, -np.inf, -2.0]])
    lp = R.log_softmax(x)
    soft = np.array([[0.5, 0.0, 0.25, 0.25], [0.25, 0.5, 0.0, 0.25]])
    onehot = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    idx = R.cross_entropy(x, np.array([2, 1]), reduction="none")
    assert np.allclose(idx, [-lp[0, 2], -lp[1, 1]], rtol=1e-15)
    ls = R.cross_entropy(x, soft, target_kind="probs", reduction="none")
    assert np.allclose(ls, [-np.sum(soft[i][soft[i] > 0] * lp[i][soft[i] > 0]) for i in range(2)],
                       rtol=1e-15)
    g = R.cross_entropy_vjp(x, soft, target_kind="probs", reduction="none")
    assert g[0, 1] == 0.0 and g[1, 2] == 0.0
    oh = R.cross_entropy(x, onehot, target_kind="probs", reduction="none")
    assert np.isfinite(oh[0]) and oh[1] == np.inf
    gi = R.cross_entropy_vjp(x, onehot, target_kind="probs", reduction="none")
    assert np.all(np.isfinite(gi)) and gi[1, 2] == -1.0
    sm = R.cross_entropy(x, soft, target_kind="probs", label_smoothing=0.1, reduction="none")
    assert np.all(sm == np.inf)


def test_degenerate_label_and_probability_rows() -> None:
    """All-zero label rows: loss 0 and gradient 0 (W = 0), for logits and probabilities;
    labels summing to 0.9 C or 1e-3: the loss and gradient scale with the label mass
    (linear in the target; the reference does not renormalise); one class: log_softmax is 0,
    so the loss is 0 whatever the label, and the gradient q - q = 0; a predicted row of
    zeros under a positive label: loss +inf, gradient -inf there."""
    x = np.array([[0.3, -1.2, 2.0], [1.0, 0.5, -0.5]])
    t0 = np.zeros((2, 3))
    assert np.all(R.cross_entropy(x, t0, target_kind="probs", reduction="none") == 0.0)
    assert np.all(R.cross_entropy_vjp(x, t0, target_kind="probs") == 0.0)
    t = np.array([[0.9, 0.95, 0.85], [1e-4, 2e-4, 5e-5]])
    a = R.cross_entropy(x, t, target_kind="probs", reduction="none")
    b = R.cross_entropy(x, t / t.sum(1, keepdims=True), target_kind="probs", reduction="none")
    assert np.allclose(a, b * t.sum(1), rtol=1e-14)
    g = R.cross_entropy_vjp(x, t, target_kind="probs", reduction="none")
    assert np.allclose(g, t.sum(1, keepdims=True) * R.softmax(x) - t, rtol=1e-13, atol=1e-18)
    one = np.array([[0.3], [-7.0]])
    assert np.all(R.cross_entropy(one, np.array([[1.0], [0.25]]), target_kind="probs",
                                  reduction="none") == 0.0)
    assert np.all(R.cross_entropy_vjp(one, np.array([[1.0], [0.25]]), target_kind="probs") == 0.0)
    p = np.array([[0.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    q = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    loss = R.categorical_crossentropy(p, q, reduction="none")
    gp = R.categorical_crossentropy_vjp(p, q, reduction="none")
    assert loss[0] == np.inf and gp[0, 0] == -np.inf and gp[0, 2] == 0.0
    assert R.categorical_crossentropy(p, np.zeros((2, 3)), reduction="sum") == 0.0


def test_float16_large_magnitudes_are_exact_in_the_reference() -> None:
    """Logits over +-3e4 rounded to float16 (spacing 16 there): each item loss is the row
    maximum minus the target's logit plus log1p of the other terms (below 1e-300, or a
    subnormal where the target is the argmax), to 1 ULP of mpmath."""
    call = BY_ID["cross_entropy-wide_3e4-16x10-index-reduction_none"].call("float16")
    x, y = call.x, call.target
    gap = x.max(1) - np.take_along_axis(x, y[:, None], 1)[:, 0]
    with mp.workdps(50):
        want = [float(mpmath.mpf(float(gap[i])) + mpmath.log1p(mpmath.fsum(
                    mpmath.exp(mpmath.mpf(float(v - x[i].max()))) for k, v in enumerate(x[i])
                    if k != int(np.argmax(x[i])))))
                for i in range(len(x))]
    assert C.ulp_error(R.cross_entropy(x, y, reduction="none"), np.array(want)) <= 1.0
