"""The reference against the mpmath oracle, in float64 ULP, on random and extreme rows.

Extreme rows (see refchecks): logits offset by 1e4 and +-1e8, entries of +-1e30 and -inf, one
class, 1000 classes, confident rows whose true loss is ~1e-9, 1e-12, 1e-20 (where
-log(softmax) cancels to 0), probabilities exactly 0 and 1 and within 1e-12 / 2**-52 of them.
"""

from __future__ import annotations

import numpy as np
import pytest

from lossconform import reference as R
from lossconform.reference import oracle as O

from tests.reference import refchecks as C

# Forward ops: every result is one rounding of an extended-precision computation whose own
# error is ~2**-11 float64 ULP, so 2 ULP is already generous.
FWD_ULP = 2.0
# Gradients: 2 ULP, except where the VJP contains a cancellation the exact inputs make
# unavoidable in extended precision: softmax_vjp's g_j - sum_k p_k g_k and log_softmax_vjp's
# g_j - p_j sum_k g_k. With 1000 classes one g_j lies within ~1e-4 relative of the sum, so the
# 2**-64 working precision is amplified ~6000x (the measured 13-14 ULP, ~3e-16 relative). The
# bound is that condition number times the working precision, not a fudge: the reference does
# the subtraction last, in extended precision, after removing the trivially-cancelling part
# (shift of g by its value at the argmax; 1 - p_argmax via expm1).
GRAD_ULP = {"softmax": 16.0, "log_softmax": 16.0}
GRAD_ULP_DEFAULT = 2.0


@pytest.mark.parametrize("op", C.OP_NAMES)
def test_forward_matches_oracle(op: str) -> None:
    worst, where = C.oracle_forward_ulp(op, detail=True)
    assert worst <= FWD_ULP, f"{op}: {worst} ULP at case {where}"


@pytest.mark.parametrize("op", C.OP_NAMES)
def test_gradient_matches_oracle(op: str) -> None:
    worst, where = C.oracle_grad_ulp(op, detail=True)
    bound = GRAD_ULP.get(op, GRAD_ULP_DEFAULT)
    assert worst <= bound, f"{op}_vjp: {worst} ULP at case {where}"


def test_every_public_op_has_cases_and_oracle() -> None:
    assert set(C.OP_NAMES) == set(R.OPS)
    for op in R.OPS:
        assert hasattr(O, op) and hasattr(O, op + "_vjp")


@pytest.mark.parametrize("loss", [1e-9, 1e-12, 1e-20, 1e-100])
def test_confident_cross_entropy_does_not_cancel(loss: float) -> None:
    z = C._confident(loss)
    got = R.cross_entropy(z, np.array([0]))
    naive = -np.log(np.exp(z[0, 0]) / np.exp(z).sum())
    assert got > 0 and C.ulp_error(got, O.cross_entropy(z, np.array([0]))) <= FWD_ULP
    assert got == pytest.approx(loss, rel=1e-9)
    if loss < 1e-16:
        assert naive == 0.0  # what the textbook formula gives in float64
    g = R.cross_entropy_vjp(z, np.array([0]))
    assert g[0, 0] < 0 and g[0, 0] == pytest.approx(-loss, rel=1e-9)


def test_log_sigmoid_and_bce_logits_far_tails() -> None:
    z = np.array([-1e30, -800.0, 800.0, 1e30, 40.0])
    assert np.array_equal(R.log_sigmoid(z)[:2], [-1e30, -800.0])
    assert R.log_sigmoid(np.array([40.0]))[0] == pytest.approx(-np.exp(-40.0), rel=1e-15)
    loss = R.binary_cross_entropy_with_logits(z, np.array([0.0, 0.0, 1.0, 1.0, 1.0]),
                                              reduction="none")
    assert loss[3] == 0.0 and loss[4] == pytest.approx(np.exp(-40.0), rel=1e-15)


# ------------------------------------------------------------- K-dim inputs and the class axis
def _kdim_case(rng: np.random.Generator):
    z = rng.normal(size=(2, 4, 3, 2)) * 3  # (N, C, d1, d2)
    y = rng.integers(0, 4, size=(2, 3, 2))
    y[0, 1, 1] = -1
    sw = rng.uniform(0, 2, size=(2, 3, 2))
    return z, y, sw


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_class_axis_1_equals_channels_last(reduction: str) -> None:
    z, y, sw = _kdim_case(np.random.default_rng(5))
    w = np.array([0.5, 1.0, 2.0, 1.5])
    kw = dict(weight=w, ignore_index=-1, label_smoothing=0.1, sample_weight=sw,
              reduction=reduction)
    zl = np.moveaxis(z, 1, -1)
    a = R.cross_entropy(z, y, axis=1, **kw)
    b = R.cross_entropy(zl, y, axis=-1, **kw)
    c = R.cross_entropy(zl.reshape(-1, 4), y.reshape(-1),
                        **{**kw, "sample_weight": sw.reshape(-1)})
    assert np.array_equal(a, b) and np.array_equal(np.ravel(a), np.ravel(c))
    o = O.cross_entropy(zl.reshape(-1, 4), y.reshape(-1),
                        **{**kw, "sample_weight": sw.reshape(-1)})
    assert C.ulp_error(np.ravel(a), np.ravel(o)) <= FWD_ULP
    go = np.random.default_rng(6).normal(size=np.shape(a)) if reduction == "none" else 0.7
    ga = R.cross_entropy_vjp(z, y, axis=1, **kw, grad_output=go)
    gb = R.cross_entropy_vjp(zl, y, axis=-1, **kw, grad_output=go)
    assert ga.shape == z.shape and np.array_equal(np.moveaxis(ga, 1, -1), gb)
    gos = np.ravel(go) if reduction == "none" else go
    og = O.cross_entropy_vjp(zl.reshape(-1, 4), y.reshape(-1),
                             **{**kw, "sample_weight": sw.reshape(-1)}, grad_output=gos)
    assert C.ulp_error(gb.reshape(-1, 4), og) <= GRAD_ULP_DEFAULT


def test_probability_targets_with_class_axis_1() -> None:
    rng = np.random.default_rng(10)
    z = rng.normal(size=(2, 4, 3))  # (N, C, d)
    t = rng.dirichlet(np.ones(4), size=(2, 3))  # (N, d, C)
    tc = np.moveaxis(t, -1, 1)  # probability targets share the input's layout
    kw = dict(target_kind="probs", label_smoothing=0.1, reduction="none")
    a = R.cross_entropy(z, tc, axis=1, **kw)
    b = R.cross_entropy(np.moveaxis(z, 1, -1), t, **kw)
    assert np.array_equal(a, b)
    ga = R.cross_entropy_vjp(z, tc, axis=1, **kw)
    assert np.array_equal(np.moveaxis(ga, 1, -1), R.cross_entropy_vjp(np.moveaxis(z, 1, -1), t, **kw))
    p = R.softmax(z, axis=1)
    assert np.array_equal(R.categorical_crossentropy(p, tc, axis=1, reduction="none"),
                          R.categorical_crossentropy(np.moveaxis(p, 1, -1), t, reduction="none"))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_activation_axis(op: str) -> None:
    x = np.random.default_rng(7).normal(size=(2, 5, 3))
    f, vjp = R.OPS[op]
    g = np.random.default_rng(8).normal(size=x.shape)
    assert np.array_equal(np.moveaxis(f(x, axis=1), 1, -1), f(np.moveaxis(x, 1, -1)))
    assert np.array_equal(np.moveaxis(vjp(x, axis=1, grad_output=g), 1, -1),
                          vjp(np.moveaxis(x, 1, -1), grad_output=np.moveaxis(g, 1, -1)))


# ------------------------------------------------------------- documented edge semantics
def test_softmax_infinities_and_nan() -> None:
    x = np.array([[0.0, -np.inf, 1.0], [-np.inf] * 3, [np.inf, 0.0, 1.0], [np.nan, 0.0, 1.0]])
    p = R.softmax(x)
    assert p[0, 1] == 0.0 and p[0].sum() == pytest.approx(1.0)
    assert np.all(np.isnan(p[1:]))  # all -inf, +inf, NaN: the whole row is NaN
    lp = R.log_softmax(x)
    assert lp[0, 1] == -np.inf and np.all(np.isnan(lp[1:]))
    assert R.cross_entropy(x[:1], np.array([1])) == np.inf
    assert R.cross_entropy(x[:1], np.array([2])) == pytest.approx(-lp[0, 2])
    assert np.array_equal(R.cross_entropy_vjp(x[:1], np.array([2]))[0, 1], 0.0)


def test_mean_over_zero_weight_is_nan() -> None:
    z = np.zeros((2, 3))
    assert np.isnan(R.cross_entropy(z, np.array([-100, -100]), ignore_index=-100))
    assert np.isnan(R.cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int)))
    assert R.cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int), reduction="sum") == 0.0
    assert np.isnan(R.binary_cross_entropy(np.zeros(0), np.zeros(0)))
    assert np.isnan(R.cross_entropy(z, np.array([0, 1]), weight=np.zeros(3)))


def test_ignored_items_and_mean_denominators() -> None:
    z = np.array([[2.0, 0.0, -1.0], [0.5, 0.1, 3.0], [1.0, 1.0, 1.0]])
    y = np.array([0, 999, 2])  # 999 is ignored, so it need not be a valid class
    w = np.array([1.0, 2.0, 4.0])
    none = R.cross_entropy(z, y, weight=w, ignore_index=999, reduction="none")
    assert none[1] == 0.0
    lp = R.log_softmax(z)
    assert none[0] == pytest.approx(-w[0] * lp[0, 0]) and none[2] == pytest.approx(-w[2] * lp[2, 2])
    mean = R.cross_entropy(z, y, weight=w, ignore_index=999)
    assert mean == pytest.approx((none[0] + none[2]) / (w[0] + w[2]), rel=1e-15)
    g = R.cross_entropy_vjp(z, y, weight=w, ignore_index=999)
    assert np.all(g[1] == 0.0)
    t = R.softmax(np.array([[0.0, 1.0, 2.0]] * 3))
    none_p = R.cross_entropy(z, t, target_kind="probs", weight=w, reduction="none")
    assert R.cross_entropy(z, t, target_kind="probs", weight=w) == pytest.approx(none_p.mean())


def test_binary_weight_is_rescaling_not_weighted_average() -> None:
    p = np.array([0.2, 0.7, 0.9])
    t = np.array([0.0, 1.0, 1.0])
    w = np.array([1.0, 3.0, 0.5])
    none = R.binary_cross_entropy(p, t, weight=w, reduction="none")
    assert R.binary_cross_entropy(p, t, weight=w) == pytest.approx(none.sum() / 3, rel=1e-15)
    assert R.binary_cross_entropy(np.array([0.0, 1.0]), np.array([0.0, 1.0]), reduction="sum") == 0.0
    assert np.array_equal(R.binary_cross_entropy(np.array([0.0, 1.0]), np.array([0.2, 0.2]),
                                                 reduction="none"), [np.inf, np.inf])


def test_pos_weight_broadcasts_along_last_axis() -> None:
    z = np.random.default_rng(9).normal(size=(3, 4))
    t = (z > 0).astype(float)
    pw = np.array([1.0, 2.0, 3.0, 4.0])
    a = R.binary_cross_entropy_with_logits(z, t, pos_weight=pw, reduction="none")
    b = R.binary_cross_entropy_with_logits(z, t, pos_weight=np.tile(pw, (3, 1)), reduction="none")
    assert np.array_equal(a, b)
    expected = pw * t * -R.log_sigmoid(z) + (1 - t) * -R.log_sigmoid(-z)
    assert np.allclose(a, expected, rtol=1e-15, atol=0)


def test_grad_output_none_means_ones() -> None:
    for op, (f, vjp) in R.OPS.items():
        case = C.cases(op)[0]
        out = np.asarray(f(*case.args, **case.kwargs))
        assert np.array_equal(vjp(*case.args, **case.kwargs),
                              vjp(*case.args, **case.kwargs, grad_output=np.ones(out.shape)),
                              equal_nan=True), op


def test_inputs_are_not_modified() -> None:
    for op, (f, vjp) in R.OPS.items():
        for case in C.cases(op)[:6]:
            copies = [np.array(a, copy=True) for a in case.args]
            kw_copies = {k: np.array(v, copy=True) for k, v in case.kwargs.items()
                         if isinstance(v, np.ndarray)}
            f(*case.args, **case.kwargs)
            vjp(*case.args, **case.kwargs, grad_output=case.grad_output)
            for a, b in zip(case.args, copies):
                assert np.array_equal(a, b, equal_nan=True), op
            for k, v in kw_copies.items():
                assert np.array_equal(case.kwargs[k], v), (op, k)


def test_float32_and_bfloat16_inputs_are_taken_exactly() -> None:
    import ml_dtypes

    x = np.array([0.1, 2.5, -3.0], dtype=np.float32)
    assert np.array_equal(R.softmax(x), R.softmax(x.astype(np.float64)))
    xb = x.astype(ml_dtypes.bfloat16)
    assert np.array_equal(R.softmax(xb), R.softmax(xb.astype(np.float64)))
    assert R.softmax(x).dtype == np.float64
