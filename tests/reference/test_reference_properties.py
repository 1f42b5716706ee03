"""Hypothesis property tests of the reference (fixed budget, derandomized)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lossconform import reference as R
from tests.reference import refchecks as C

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)
FD_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)
FD_TOL = 1e-6  # central differences with h = 1e-6: truncation ~1e-12, rounding ~1e-10


@st.composite
def grid_rows(draw, max_n: int = 4, max_c: int = 6, scale: int = 400):
    """Logits on a 1/8 grid in [-scale/8, scale/8]: integer shifts stay exact in float64."""
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(1, max_c))
    ints = draw(st.lists(st.integers(-scale, scale), min_size=n * c, max_size=n * c))
    return np.array(ints, dtype=np.float64).reshape(n, c) / 8


@st.composite
def prob_rows(draw, n: int, c: int, min_p: float = 0.0):
    raw = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=n * c, max_size=n * c)))
    raw = raw.reshape(n, c) + min_p
    return raw / raw.sum(-1, keepdims=True)


@SETTINGS
@given(grid_rows(), st.integers(-10**6, 10**6))
def test_softmax_shift_invariance(x, shift):
    assert C.ulp_error(R.softmax(x + shift), R.softmax(x)) <= 1
    assert C.ulp_error(R.log_softmax(x + shift), R.log_softmax(x)) <= 1


@SETTINGS
@given(grid_rows(max_c=40))
def test_softmax_rows_sum_to_one_and_argmax_preserved(x):
    p = R.softmax(x)
    c = x.shape[-1]
    assert np.all(np.abs(p.sum(-1) - 1) <= c * np.finfo(np.float64).eps)
    assert np.array_equal(np.argmax(p, -1), np.argmax(x, -1))
    assert np.all(R.log_softmax(x) <= 0)


@SETTINGS
@given(grid_rows(), st.data())
def test_cross_entropy_nonnegative(x, data):
    y = np.array(data.draw(st.lists(st.integers(0, x.shape[1] - 1), min_size=x.shape[0],
                                    max_size=x.shape[0])))
    eps = data.draw(st.sampled_from([0.0, 0.1, 1.0]))
    assert np.all(R.cross_entropy(x, y, label_smoothing=eps, reduction="none") >= 0)


@SETTINGS
@given(grid_rows(max_c=5), st.data())
def test_cross_entropy_is_entropy_plus_kl(x, data):
    """CE(t, softmax(z)) = H(t) + KL(t || softmax(z)) for probability targets t."""
    n, c = x.shape
    t = data.draw(prob_rows(n, c))
    ce = R.cross_entropy(x, t, target_kind="probs", reduction="none")
    h = R.entropy(t)
    kl = np.sum(t * (np.log(t) - R.log_softmax(x)), axis=-1)
    assert np.all(kl >= -1e-12)
    assert np.allclose(ce, h + kl, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------- analytic VJP = finite differences
@st.composite
def logits_small(draw):
    n = draw(st.integers(1, 3))
    c = draw(st.integers(1, 4))
    vals = draw(st.lists(st.floats(-6, 6), min_size=n * c, max_size=n * c))
    return np.array(vals).reshape(n, c)


def _go(data, shape):
    return np.array(data.draw(st.lists(st.floats(-2, 2), min_size=int(np.prod(shape)),
                                       max_size=int(np.prod(shape))))).reshape(shape)


@FD_SETTINGS
@given(logits_small(), st.sampled_from(["softmax", "log_softmax"]), st.data())
def test_fd_activations(x, op, data):
    g = _go(data, x.shape) if data.draw(st.booleans()) else None
    assert C.fd_grad_error(op, (x,), {}, g) <= FD_TOL


@FD_SETTINGS
@given(logits_small(), st.sampled_from(["sigmoid", "log_sigmoid"]), st.data())
def test_fd_elementwise(x, op, data):
    g = _go(data, x.shape) if data.draw(st.booleans()) else None
    assert C.fd_grad_error(op, (x,), {}, g) <= FD_TOL


@FD_SETTINGS
@given(st.data())
def test_fd_entropy(data):
    n, c = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 4))
    p = data.draw(prob_rows(n, c, min_p=0.05))
    g = _go(data, (n,)) if data.draw(st.booleans()) else None
    assert C.fd_grad_error("entropy", (p,), {}, g) <= FD_TOL


def _reduction_and_go(data, item_shape):
    red = data.draw(st.sampled_from(["none", "sum", "mean"]))
    if not data.draw(st.booleans()):
        return red, None
    return red, (_go(data, item_shape) if red == "none" else data.draw(st.floats(-2, 2)))


@FD_SETTINGS
@given(logits_small(), st.data())
def test_fd_cross_entropy(x, data):
    n, c = x.shape
    kind = data.draw(st.sampled_from(["index", "probs"]))
    kw: dict = {"target_kind": kind}
    if kind == "index":
        y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
        if data.draw(st.booleans()):
            y[0] = -100
            kw["ignore_index"] = -100
        target = y
    else:
        target = data.draw(prob_rows(n, c))
    if data.draw(st.booleans()):
        kw["weight"] = np.array(data.draw(st.lists(st.floats(0.1, 3), min_size=c, max_size=c)))
    if data.draw(st.booleans()):
        kw["sample_weight"] = np.array(data.draw(st.lists(st.floats(0.1, 3), min_size=n,
                                                          max_size=n)))
    kw["label_smoothing"] = data.draw(st.sampled_from([0.0, 0.1, 0.5]))
    red, g = _reduction_and_go(data, (n,))
    kw["reduction"] = red
    if kind == "index" and "ignore_index" in kw and red == "mean" and n == 1:
        return  # all ignored: mean is nan by definition
    assert C.fd_grad_error("cross_entropy", (x, target), kw, g) <= FD_TOL


@FD_SETTINGS
@given(logits_small(), st.data())
def test_fd_nll_loss(x, data):
    n, c = x.shape
    logp = R.log_softmax(x)
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    kw: dict = {}
    if data.draw(st.booleans()):
        kw["weight"] = np.array(data.draw(st.lists(st.floats(0.1, 3), min_size=c, max_size=c)))
    red, g = _reduction_and_go(data, (n,))
    kw["reduction"] = red
    assert C.fd_grad_error("nll_loss", (logp, y), kw, g) <= FD_TOL


@FD_SETTINGS
@given(st.data())
def test_fd_categorical_crossentropy(data):
    n, c = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    p = data.draw(prob_rows(n, c, min_p=0.05)) * 0.9  # stay inside (0, 1) under the FD step
    t = data.draw(prob_rows(n, c))
    kw: dict = {"label_smoothing": data.draw(st.sampled_from([0.0, 0.2]))}
    if data.draw(st.booleans()):
        kw["weight"] = np.array(data.draw(st.lists(st.floats(0.1, 3), min_size=c, max_size=c)))
    if data.draw(st.booleans()):
        kw["sample_weight"] = np.array(data.draw(st.lists(st.floats(0.1, 3), min_size=n,
                                                          max_size=n)))
    red, g = _reduction_and_go(data, (n,))
    kw["reduction"] = red
    assert C.fd_grad_error("categorical_crossentropy", (p, t), kw, g) <= FD_TOL


@FD_SETTINGS
@given(st.data())
def test_fd_binary_cross_entropy(data):
    shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4)))
    size = shape[0] * shape[1]
    p = np.array(data.draw(st.lists(st.floats(0.02, 0.98), min_size=size, max_size=size)))
    t = np.array(data.draw(st.lists(st.floats(0, 1), min_size=size, max_size=size)))
    p, t = p.reshape(shape), t.reshape(shape)
    kw: dict = {"label_smoothing": data.draw(st.sampled_from([0.0, 0.2]))}
    if data.draw(st.booleans()):
        kw["weight"] = np.array(data.draw(st.lists(st.floats(0.1, 3), min_size=shape[1],
                                                   max_size=shape[1])))
    red, g = _reduction_and_go(data, shape)
    kw["reduction"] = red
    assert C.fd_grad_error("binary_cross_entropy", (p, t), kw, g) <= FD_TOL


@FD_SETTINGS
@given(logits_small(), st.data())
def test_fd_binary_cross_entropy_with_logits(z, data):
    shape = z.shape
    t = np.array(data.draw(st.lists(st.floats(0, 1), min_size=z.size, max_size=z.size)))
    kw: dict = {"label_smoothing": data.draw(st.sampled_from([0.0, 0.2]))}
    if data.draw(st.booleans()):
        kw["weight"] = np.array(data.draw(st.lists(st.floats(0.1, 3), min_size=z.size,
                                                   max_size=z.size))).reshape(shape)
    if data.draw(st.booleans()):
        kw["pos_weight"] = np.array(data.draw(st.lists(st.floats(0.1, 5), min_size=shape[1],
                                                       max_size=shape[1])))
    red, g = _reduction_and_go(data, shape)
    kw["reduction"] = red
    assert C.fd_grad_error("binary_cross_entropy_with_logits", (z, t.reshape(shape)), kw, g) <= FD_TOL
