"""The numbers printed in the seed blog posts (/work/shared/seeds), reproduced by the reference.

Where a seed's claim is wrong or holds only sometimes, the test name and docstring say what is
true. Printed values are compared at the precision they were printed with; values printed with
full float64 repr are compared to within 1 ULP (the seeds used naive formulas, the reference
rounds an extended-precision result once, so the last bit may differ) and checked against the
mpmath oracle.
"""

from __future__ import annotations

import numpy as np
import pytest

from lossconform import reference as R
from lossconform.reference import oracle as O
from tests.reference.refchecks import ulp_error


# ------------------------------------------------------------------ seed 000
def test_seed000_softmax_printed_values() -> None:
    p = R.softmax(np.array([0.2, 1.5, -2.0]))
    assert np.array_equal(np.round(p, 8), [0.20920065, 0.76761926, 0.02318009])
    assert ulp_error(p, O.softmax(np.array([0.2, 1.5, -2.0]))) == 0


def test_seed000_sigmoid() -> None:
    s = R.sigmoid(0.2)
    assert ulp_error(s, 0.549833997312478) <= 1
    assert ulp_error(s, O.sigmoid(0.2)) == 0


def test_seed000_entropy() -> None:
    assert ulp_error(R.entropy(np.array([0.5, 0.5])), 0.6931471805599453) <= 1
    assert ulp_error(R.entropy(np.array([0.2, 0.8])), 0.5004024235381879) <= 1


def test_seed000_cross_entropy_on_probabilities_is_categorical_crossentropy() -> None:
    """The seed's cross_entropy(target, prediction) takes PROBABILITIES: our
    categorical_crossentropy, = -log(0.7)."""
    got = R.categorical_crossentropy(np.array([0.2, 0.1, 0.7]), np.array([0.0, 0.0, 1.0]))
    assert ulp_error(got, 0.35667494393873245) <= 1
    assert ulp_error(got, -np.log(0.7)) <= 1


def test_seed000_per_class_binary_cross_entropy_of_sigmoid() -> None:
    z = np.array([-0.15, -0.87, 1.1])
    t = np.array([0.0, 0.0, 1.0])
    expected = [0.620957047789532, 0.34991825330155735, 0.2873353251154307]
    via_probs = R.binary_cross_entropy(R.sigmoid(z), t, reduction="none")
    via_logits = R.binary_cross_entropy_with_logits(z, t, reduction="none")
    # The seed's printed values come from the naive -log(1 - p) on float64 sigmoids; they are
    # within 3 ULP of the exact BCE of those same float64 probabilities (which the reference
    # matches to the last bit), and within 2 ULP of the exact BCE of the logits.
    assert ulp_error(via_probs, O.binary_cross_entropy(R.sigmoid(z), t, reduction="none")) == 0
    assert ulp_error(via_logits, O.binary_cross_entropy_with_logits(z, t, reduction="none")) == 0
    assert ulp_error(via_probs, expected) <= 3
    assert ulp_error(via_logits, expected) <= 2


def test_seed000_argmax_is_2_and_softmax_preserves_it() -> None:
    z = np.array([-0.15, -0.87, 1.1])
    assert np.argmax(z) == 2 and np.argmax(R.softmax(z)) == 2


# ------------------------------------------------------------------ seed 001
def test_seed001_textbook_softmax_overflows_stable_does_not() -> None:
    a = np.array([1010.0, 1000.0, 990.0])
    with pytest.warns(RuntimeWarning, match="overflow"), np.errstate(invalid="ignore"):
        naive = np.exp(a) / np.sum(np.exp(a))  # inf / inf
    assert np.all(np.isnan(naive))
    p = R.softmax(a)
    assert np.allclose(p, [9.99954600e-01, 4.53978686e-05, 2.06106005e-09], rtol=5e-9, atol=0)
    assert ulp_error(p, O.softmax(a)) == 0


A001 = np.array([[0.3, 2.9, 4.0], [0.5, 1.1, 8.0], [0.9, 12.9, 34.0]])
PRINTED_001 = np.array([
    [1.82112733e-02, 2.45191813e-01, 7.36596914e-01],
    [5.52222423e-04, 1.00621486e-03, 9.98441563e-01],
    [4.21553451e-15, 6.86098439e-10, 9.99999999e-01],
])


def test_seed001_2d_softmax_table_and_row_sums() -> None:
    """Printed with 9 significant digits. The printed 9.99999999e-01 is not 1: to full precision
    it is 1 - 6.861026e-10 = 0.99999999931389735 (float64 0.9999999993138974). A softmax entry
    only rounds to exactly 1.0 when the other entries sum below 2**-54."""
    p = R.softmax(A001, axis=1)
    assert np.allclose(p, PRINTED_001, rtol=5e-9, atol=0)
    assert ulp_error(p, O.softmax(A001)) == 0
    assert p[2, 2] < 1.0 and p[2, 2] == 0.9999999993138974
    assert p[2, 2] == pytest.approx(1 - p[2, 1] - p[2, 0], abs=2e-16)
    assert np.all(np.abs(p.sum(axis=1) - 1) <= 2 * np.finfo(np.float64).eps)
    assert np.array_equal(R.softmax(A001[0]), p[0])


def test_seed001_nll_gradient_is_p_minus_one_for_target_and_p_otherwise() -> None:
    """The seed derives dL/df_k = p_k - 1 for the target class k = y; for every other class the
    gradient is p_k (the seed does not state that case)."""
    f = A001
    y = np.array([0, 2, 1])
    g = R.cross_entropy_vjp(f, y, reduction="none")
    p = R.softmax(f)
    onehot = np.eye(3)[y]
    # float64 p - 1 carries an absolute error up to eps/2 from rounding p; hence the atol
    assert np.allclose(g[onehot == 1], p[onehot == 1] - 1, rtol=1e-15, atol=2 ** -53)
    assert ulp_error(g, O.cross_entropy_vjp(f, y, reduction="none")) == 0
    assert np.allclose(g[onehot == 0], p[onehot == 0], rtol=1e-15, atol=0)


def _clamped_bce_model(pred: np.ndarray, y: float) -> np.ndarray:
    """The seed's hand-written binary_cross_entropy: log clamped to [-100, 100]."""
    with np.errstate(divide="ignore"):
        log_pred = np.clip(np.log(pred), -100, 100)
        log_rev = np.clip(np.log(1 - pred), -100, 100)
    return -(log_pred * y + (1 - y) * log_rev)


def test_seed001_bce_log_clamp_is_a_convention_not_the_reference() -> None:
    """Unclamped, BCE against target 0.2 is +inf at p = 0 and p = 1. The seed's clamp at -100
    gives 100 * 0.2 = 20 at p = 0 (the y log p term) and 100 * 0.8 = 80 at p = 1 (the
    (1 - y) log(1 - p) term); in between both agree."""
    a = np.linspace(0, 1, 10, dtype=np.float32)  # the seed's linspace(0, 1, 10)
    t = np.full(a.shape, 0.2, dtype=np.float32)  # the seed's scalar target 0.2
    ref = R.binary_cross_entropy(a, t, reduction="none")
    assert ref[0] == np.inf and ref[-1] == np.inf
    model = _clamped_bce_model(a.astype(np.float64), float(np.float32(0.2)))
    assert model[0] == pytest.approx(20.0, rel=1e-7) and model[-1] == pytest.approx(80.0, rel=1e-7)
    assert np.allclose(ref[1:-1], model[1:-1], rtol=1e-14, atol=0)


# ------------------------------------------------------------------ seed 002
def test_seed002_softmax_rows_of_a_4x7_batch_sum_to_one() -> None:
    logits = np.random.default_rng(2).random((4, 7))  # the seed's rand(4, 7)
    p = R.softmax(logits, axis=1)
    assert np.all(np.abs(p.sum(axis=1) - 1) <= 7 * np.finfo(np.float64).eps)
    naive = np.exp(logits) / np.exp(logits).sum(axis=1).reshape(-1, 1)  # the seed's formula
    assert ulp_error(p, naive) <= 4  # harmless here: the logits lie in [0, 1)


# ------------------------------------------------------------------ seed 003
def test_seed003_log_softmax_equals_log_of_softmax_for_moderate_logits() -> None:
    x = np.random.default_rng(3).random((3, 5))
    assert np.allclose(R.log_softmax(x), np.log(R.softmax(x)), rtol=0, atol=4e-16)


def test_seed003_log_of_softmax_fails_in_float64_where_log_softmax_does_not() -> None:
    """Mathematically log_softmax = log(softmax); in float64 the softmax of a very negative
    logit underflows to 0 and its log is -inf, while log_softmax stays finite (-800 here)."""
    x = np.array([0.0, -800.0])
    with np.errstate(divide="ignore"):
        composed = np.log(R.softmax(x))
    assert composed[1] == -np.inf
    assert R.log_softmax(x)[1] == -800.0


def test_seed003_cross_entropy_with_onehot_is_minus_sum_onehot_log_softmax() -> None:
    rng = np.random.default_rng(4)
    x = rng.random((3, 5))
    y = rng.integers(0, 5, 3)
    onehot = np.eye(5)[y]
    manual = -np.sum(onehot * R.log_softmax(x), axis=-1)
    assert np.array_equal(R.cross_entropy(x, y, reduction="none"), manual)
    assert np.array_equal(R.cross_entropy(x, onehot, target_kind="probs", reduction="none"), manual)
    assert R.cross_entropy(x, y) == pytest.approx(manual.mean(), rel=1e-15)


# ------------------------------------------------------------------ seed 004
X_TRAIN = np.array([[1, 2, 1, 1], [2, 1, 3, 2], [3, 1, 3, 4], [4, 1, 5, 5],
                    [1, 7, 5, 5], [1, 2, 5, 6], [1, 6, 6, 6], [1, 7, 7, 7]], dtype=np.float64)
Y_TRAIN = np.array([2, 2, 2, 1, 1, 1, 0, 0])


def test_seed004_first_cost_at_zero_init_is_log3() -> None:
    z = X_TRAIN @ np.zeros((4, 3)) + 0.0  # W = 0, b = 0: every logit is 0
    cost = R.cross_entropy(z, Y_TRAIN)
    assert f"{cost:.6f}" == "1.098612"
    assert ulp_error(cost, np.log(3.0)) <= 1


def test_seed004_low_level_cost_applies_softmax_twice_and_matches_only_at_uniform_logits() -> None:
    """The seed's 'Cost (1)' takes -log softmax(softmax(z)): softmax applied twice. At zero
    init (uniform probabilities) it equals cross_entropy = log 3; for other logits it differs."""
    def cost1(z):
        h = R.softmax(z, axis=1)
        return np.mean(-np.take_along_axis(np.log(R.softmax(h, axis=1)), Y_TRAIN[:, None], 1))

    z0 = np.zeros((8, 3))
    assert cost1(z0) == pytest.approx(R.cross_entropy(z0, Y_TRAIN), rel=1e-15)
    z1 = X_TRAIN @ np.random.default_rng(0).normal(size=(4, 3))
    assert abs(cost1(z1) - R.cross_entropy(z1, Y_TRAIN)) > 1e-2
