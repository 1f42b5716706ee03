"""The seeds' claims and pitfalls, measured: each test states what is TRUE, with numbers.

Expected values come from the float64 reference or from a convention model written inline
(Keras' renormalise-and-clip path); never from the framework under test.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lossconform import reference
from lossconform.dtypes import DTYPES, EPS

TORCH = pytest.mark.framework("torch")
TENSORFLOW = pytest.mark.framework("tensorflow")


def _torch() -> Any:
    return pytest.importorskip("torch", reason="torch is not installed")


def _tf() -> Any:
    return pytest.importorskip("tensorflow", reason="tensorflow is not installed")


def _r32(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


# -- seed 003: "two different results" ---------------------------------------------------------
# The seed's inputs: x = np.random.rand(3, 5) (float64), one-hot labels.
_RNG = np.random.default_rng(3)
X003 = _RNG.random((3, 5))
Y003 = np.array([1, 4, 0])
T003 = np.eye(5)[Y003]
CORRECT003 = reference.cross_entropy(X003, Y003, reduction="none")
DOUBLE003 = reference.cross_entropy(reference.softmax(X003), Y003, reduction="none")


def keras_probs_model(target: np.ndarray, output: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """Keras categorical_crossentropy(from_logits=False), TF backend: renormalise the
    prediction by its sum, clip to [eps, 1 - eps], then -sum t log p (keras/src/backend/
    tensorflow/nn.py, ``categorical_crossentropy``:
    https://github.com/keras-team/keras/blob/master/keras/src/backend/tensorflow/nn.py)."""
    p = output / output.sum(axis=-1, keepdims=True)
    p = np.clip(p, eps, 1 - eps)
    return -np.sum(target * np.log(p), axis=-1)


@TORCH
@TENSORFLOW
def test_seed003_softmax_output_into_from_logits_loss_is_a_double_softmax() -> None:
    """softmax(x) passed to a loss that applies softmax itself computes
    cross_entropy(softmax(x)) (a double softmax): for the seed's inputs 1.642, 1.662, 1.637
    instead of 1.775, 1.906, 1.759 (0.12 to 0.24 too low)."""
    torch, tf = _torch(), _tf()
    F = torch.nn.functional
    t_out = F.cross_entropy(torch.softmax(torch.tensor(X003), 1), torch.tensor(Y003),
                            reduction="none").numpy()
    k_out = tf.keras.losses.categorical_crossentropy(
        T003, tf.nn.softmax(X003), from_logits=True).numpy()
    np.testing.assert_allclose(t_out, DOUBLE003, rtol=1e-12)
    np.testing.assert_allclose(k_out, DOUBLE003, rtol=1e-12)
    gap = CORRECT003 - DOUBLE003
    assert np.all((gap > 0.12) & (gap < 0.25)), gap
    np.testing.assert_allclose(DOUBLE003, [1.64169006, 1.66182054, 1.63747204], rtol=1e-8)
    np.testing.assert_allclose(CORRECT003, [1.77456755, 1.90586072, 1.75857902], rtol=1e-8)


@TENSORFLOW
def test_seed003_keras_softmax_output_keeps_its_logits() -> None:
    """But a KERAS softmax (keras.activations.softmax / keras.ops.softmax) attaches
    ``_keras_logits`` to its output, and categorical_crossentropy(from_logits=True) then uses
    those logits (with a UserWarning): the correct loss, no double softmax."""
    _tf()
    import keras

    for softmax in (keras.activations.softmax, keras.ops.softmax):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = keras.losses.categorical_crossentropy(T003, softmax(X003), from_logits=True)
        np.testing.assert_allclose(np.asarray(out), CORRECT003, rtol=1e-12)
        assert any("from_logits=True" in str(w.message) for w in caught), [str(w.message) for w in caught]


@TENSORFLOW
def test_seed003_raw_logits_into_from_logits_false_is_renormalised_and_clipped() -> None:
    """Raw logits passed to categorical_crossentropy(from_logits=False) are taken as
    unnormalised probabilities: -log(x_y / sum x) (clipped to [1e-7, 1-1e-7]), for the seed's
    rand(3, 5) logits 2.028, 2.827, 1.918 vs the correct 1.775, 1.906, 1.759; tf.nn.
    softmax_cross_entropy_with_logits and from_logits=True give the correct loss."""
    tf = _tf()
    got = tf.keras.losses.categorical_crossentropy(T003, X003).numpy()
    np.testing.assert_allclose(got, keras_probs_model(T003, X003), rtol=1e-12)
    np.testing.assert_allclose(got, [2.02829546, 2.8268498, 1.91800499], rtol=1e-8)
    np.testing.assert_allclose(tf.nn.softmax_cross_entropy_with_logits(T003, X003).numpy(),
                               CORRECT003, rtol=1e-12)
    np.testing.assert_allclose(
        tf.keras.losses.categorical_crossentropy(T003, X003, from_logits=True).numpy(),
        CORRECT003, rtol=1e-12)
    # negative logits make the renormalised "probabilities" meaningless; the clip hides it
    z = np.array([[2.0, -1.0, 0.5]])
    neg = tf.keras.losses.categorical_crossentropy(np.array([[0.0, 1.0, 0.0]]), z).numpy()
    np.testing.assert_allclose(neg, -np.log(1e-7), rtol=1e-9)  # 16.118: clipped at eps


# -- seed 004: double softmax in the low-level loop ---------------------------------------------
@TORCH
def test_seed004_double_softmax_loss_and_gradient() -> None:
    """-log softmax(softmax(z))_y lies in [log(1+(C-1)/e), log(e+C-1)] = [0.551, 1.551] for
    C=3 whatever z is, and its gradient vanishes where softmax saturates: for z = [0, 0, 10]
    with y = 0 (confidently wrong) cross_entropy's gradient is ~[-1, 0, 1], the double
    softmax's ~1e-4 in size."""
    torch = _torch()
    C = 3
    lo, hi = np.log(1 + (C - 1) / np.e), np.log(np.e + C - 1)
    z = np.array([[0.0, 0.0, 10.0], [10.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    y = np.array([0, 0, 2])
    p = reference.softmax(z)
    dbl = reference.cross_entropy(p, y, reduction="none")
    ce = reference.cross_entropy(z, y, reduction="none")
    assert np.all((dbl >= lo) & (dbl <= hi)), (dbl, lo, hi)
    g_ce = reference.cross_entropy_vjp(z, y, reduction="none")
    g_dbl = reference.softmax_vjp(z, grad_output=reference.cross_entropy_vjp(p, y, reduction="none"))
    # torch's autograd through the seed's expression matches the reference chain rule
    zt = torch.tensor(z, requires_grad=True)
    out = -torch.log(torch.softmax(torch.softmax(zt, 1), 1))[torch.arange(3), torch.tensor(y)]
    (gt,) = torch.autograd.grad(out.sum(), zt)
    np.testing.assert_allclose(out.detach().numpy(), dbl, rtol=1e-12)
    np.testing.assert_allclose(gt.numpy(), g_dbl, rtol=1e-9, atol=1e-15)
    # confidently wrong item: loss 10.0 vs 1.55, gradient norm 1.41 vs ~1e-4
    assert ce[0] == pytest.approx(10.0000908, rel=1e-6) and dbl[0] == pytest.approx(hi, rel=1e-3)
    assert np.linalg.norm(g_ce[0]) > 1.4
    assert np.linalg.norm(g_dbl[0]) < 2e-4, np.linalg.norm(g_dbl[0])
    # confidently right item: cross_entropy ~4.5e-5, the double softmax stays at 0.551
    assert ce[1] < 1e-4 and dbl[1] == pytest.approx(lo, rel=1e-3)


# -- seed 000: argmax is unchanged by softmax -----------------------------------------------------
@TORCH
@TENSORFLOW
@settings(max_examples=200, deadline=None, derandomize=True)
@given(hnp.arrays(np.float32, st.integers(2, 8),
                  elements=st.floats(-100, 100, width=32, allow_nan=False)))
def test_seed000_softmax_is_monotone_so_argmax_never_moves_right(z: np.ndarray) -> None:
    """For finite logits softmax is monotone in floating point too, so the largest logit keeps
    the largest probability: p[argmax z] == max p. argmax(p) can only move to an EARLIER index,
    when rounding creates a tie; with a top gap >= 1e-3 it is unchanged (float32)."""
    torch, tf = _torch(), _tf()
    a = int(np.argmax(z))
    for p in (torch.softmax(torch.tensor(z), 0).numpy(), tf.nn.softmax(z).numpy(),
              reference.softmax(z.astype(np.float64))):
        assert p[a] == p.max()
        assert int(np.argmax(p)) <= a
        top2 = np.sort(z.astype(np.float64))[-2:]
        if top2[1] - top2[0] >= 1e-3:
            assert int(np.argmax(p)) == a


@TORCH
@TENSORFLOW
def test_seed000_softmax_can_create_a_tie_that_changes_argmax() -> None:
    """Counterexamples: float32 z = [0, 1e-8] (distinct) -> softmax [0.5, 0.5] in torch and TF
    (exp(-1e-8) rounds to 1), so argmax(softmax(z)) = 0 but argmax(z) = 1. float16 z = [0,
    0.0004]: torch gives [0.5, 0.5] (argmax 0); TF gives [0.49976, 0.5] (argmax 1)."""
    torch, tf = _torch(), _tf()
    z = np.array([0.0, 1e-8], np.float32)
    assert z[1] > z[0] and np.argmax(z) == 1
    for p in (torch.softmax(torch.tensor(z), 0).numpy(), tf.nn.softmax(z).numpy()):
        assert p.tolist() == [0.5, 0.5] and np.argmax(p) == 0
    # the float64 reference keeps them apart (1e-8 >> float64 eps)
    assert np.argmax(reference.softmax(z.astype(np.float64))) == 1
    h = np.array([0.0, 0.0004], np.float16)
    pt = torch.softmax(torch.tensor(h), 0).numpy()
    pf = tf.nn.softmax(h).numpy()
    assert pt.tolist() == [0.5, 0.5] and np.argmax(pt) == 0
    assert pf[1] > pf[0] and np.argmax(pf) == 1, pf


@TORCH
@TENSORFLOW
def test_seed000_argmax_with_nan() -> None:
    """With NaN: np.argmax and torch.argmax return the first NaN's index (NaN counts as the
    maximum); tf.argmax ignores NaN and returns the largest non-NaN value's index. Softmax of a
    row with NaN: torch is NaN throughout (like the reference); tf.nn.softmax puts NaN only at
    the NaN's position and 0 elsewhere (here [0, nan, 0])."""
    torch, tf = _torch(), _tf()
    z = np.array([1.0, np.nan, 3.0, np.nan], np.float32)
    assert np.argmax(z) == 1
    assert torch.argmax(torch.tensor(z)).item() == 1
    assert int(tf.argmax(z).numpy()) == 2
    z3 = np.array([1.0, np.nan, 3.0], np.float32)
    assert np.all(np.isnan(reference.softmax(z3.astype(np.float64))))
    assert np.all(np.isnan(torch.softmax(torch.tensor(z3), 0).numpy()))
    pf = tf.nn.softmax(z3).numpy()
    assert np.isnan(pf[1]) and pf[0] == 0 and pf[2] == 0, pf


# -- seed 000: softmax vs sigmoid for an input of none of the classes -------------------------
@TORCH
@TENSORFLOW
def test_seed000_softmax_always_sums_to_one_sigmoid_need_not() -> None:
    """All logits very negative ("an elephant" for a dog/cat/duck model): softmax is uniform,
    1/3 each, sum 1; sigmoid gives 4.54e-5 each, sum 1.36e-4."""
    torch, tf = _torch(), _tf()
    z = np.array([-10.0, -10.0, -10.0])
    sm, sg = reference.softmax(z), reference.sigmoid(z)
    np.testing.assert_allclose(sm, [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(sg, 1 / (1 + np.exp(10.0)), rtol=1e-15)
    assert sg.sum() == pytest.approx(1.3619e-4, rel=1e-4)
    for s, g in ((torch.softmax(torch.tensor(z), 0).numpy(), torch.sigmoid(torch.tensor(z)).numpy()),
                 (tf.nn.softmax(z).numpy(), tf.math.sigmoid(z).numpy())):
        np.testing.assert_allclose(s, sm, rtol=1e-15)
        np.testing.assert_allclose(g, sg, rtol=1e-15)


# -- seed 003: "torch's softmax sums exactly to 1, TF's does not" -----------------------------
SUM_ROWS = 10_000


def _softmax_rows(fw: str, z: np.ndarray, dtype: str) -> np.ndarray:
    if fw == "torch":
        torch = _torch()
        y = torch.softmax(torch.tensor(z).to(getattr(torch, dtype)), dim=-1)
        return y.to(torch.float64).numpy()
    tf = _tf()
    return tf.cast(tf.nn.softmax(tf.cast(tf.constant(z), dtype)), tf.float64).numpy()


def _exact_row_sums(p: np.ndarray, dtype: str) -> np.ndarray:
    if dtype != "float64":
        return p.sum(axis=-1)  # float16/bfloat16/float32 values: the float64 sum is exact here
    import math
    return np.array([math.fsum(r) for r in p])


@pytest.mark.parametrize("fw", [pytest.param(fw, marks=pytest.mark.framework(fw))
                                for fw in ("torch", "tensorflow")])
def test_seed003_neither_softmax_sums_exactly_to_one(fw: str) -> None:
    """Measured over 10,000 rows of N(0, 3^2) logits for C in {3, 5, 10, 1000}: in no dtype does
    either framework make every row sum to exactly 1 (exact sum of the outputs); the error is
    a few ULP of 1 at most (eps of the dtype). Fractions of rows summing exactly to 1 (C=3 ...
    C=1000) and max |sum-1|/eps, CPU, torch 2.13 / TF 2.21:
      torch float16  5.8% / 0.97% / 0.13% / 0.04%   max 0.43 eps (float32 inside, rounded once)
      torch bfloat16 4.7% / 1.0%  / 0.08% / 0%      max 0.38 eps
      torch float32  2.3% / 0.24% / 0.03% / 0%      max 4.3 eps
      torch float64  66% / 60% / 51% / 33%          max 7.0 eps
      TF    float16  2.4% / 0.23% / 0.03% / 0%      max 2.9 eps  (less accurate than torch)
      TF    bfloat16 4.7% / 1.0%  / 0.08% / 0%      max 0.38 eps
      TF    float32  2.3% / 0.33% / 0.02% / 0%      max 3.0 eps
      TF    float64  66% / 60% / 56% / 42%          max 6.0 eps
    The seed's "torch sums exactly to 1" comes from printing: str(torch.tensor(0.99999994))
    is 'tensor(1.0000)' (4 decimals) while NumPy prints 0.99999994."""
    rng = np.random.default_rng(2024)
    found = {}
    for dtype in DTYPES:
        for C in (3, 5, 10, 1000):
            z = rng.normal(0.0, 3.0, (SUM_ROWS, C))
            p = _softmax_rows(fw, z, dtype)
            s = _exact_row_sums(p, dtype)
            found[(dtype, C)] = (float(np.mean(s == 1.0)), float(np.max(np.abs(s - 1)) / EPS[dtype]))
    report = "\n".join(f"{fw} {d:8s} C={c:4d}: exact {f:.4f}  max {u:.2f} eps"
                       for (d, c), (f, u) in found.items())
    for (dtype, C), (frac, ulps) in found.items():
        assert frac < 0.75, report  # never (close to) guaranteed
        assert ulps <= 8.0, report  # but always within a few ULP of 1
    if fw == "torch":
        assert all(found[(d, c)][1] < 0.5 for d in ("float16", "bfloat16") for c in (3, 5, 10, 1000)), report
    else:
        assert max(found[("float16", c)][1] for c in (3, 5, 10, 1000)) > 1.0, report
    print(report)


@TORCH
def test_seed003_torch_prints_four_decimals() -> None:
    torch = _torch()
    just_below = np.float32(1) - np.float32(2.0**-24)
    assert str(torch.tensor(just_below)) == "tensor(1.0000)"
    assert str(just_below) == "0.99999994"
