"""Seed 004's softmax classifier, trained end to end in torch, TensorFlow and NumPy float64.

Seed 004 (a PyTorch tutorial) trains W (4x3) and a scalar-broadcast bias b = zeros(1) with
SGD(lr=0.1) on 8 points for epochs 0..1000 (1001 steps), once with F.cross_entropy and once
with a "low-level" loss that applies softmax TWICE (``-log(F.softmax(F.softmax(z)))``).

What is true (measured, torch 2.13 / TF 2.21 CPU, float32):
- torch F.cross_entropy, TF SparseCategoricalCrossentropy(from_logits=True) and the float64
  reference (cross_entropy + cross_entropy_vjp, chain rule by hand) give the same cost
  trajectory: 1.098612 (= log 3) at epoch 0, 0.399962 at epoch 1000; largest relative
  difference from float64 over all 1001 costs: 1.4e-6 (torch), 8.5e-7 (TF).
- the double-softmax loop converges to a different, higher cost: 0.738749 at epoch 1000
  (0.399962 with a single softmax); torch matches the float64 double-softmax model to 2e-7.

Tolerance: float32 SGD against float64. Each step rounds the logits, the loss and the
gradient (a few float32 ulp, 2^-24 = 6e-8 relative each); lr=0.1 is large enough that the
cost oscillates between consecutive epochs (e.g. 0.4027, 0.3874, 0.4020, ... near the end) but
the oscillation is damped, so rounding errors accumulate roughly linearly, not geometrically;
the observed worst is 1.4e-6 ~ 24 ulp. ``TRAJECTORY_RTOL = 1e-5`` (~170 ulp) leaves a 7x margin.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lossconform import reference

X_TRAIN = np.array([[1, 2, 1, 1], [2, 1, 3, 2], [3, 1, 3, 4], [4, 1, 5, 5],
                    [1, 7, 5, 5], [1, 2, 5, 6], [1, 6, 6, 6], [1, 7, 7, 7]], dtype=np.float64)
Y_TRAIN = np.array([2, 2, 2, 1, 1, 1, 0, 0], dtype=np.int64)
LR = 0.1
EPOCHS = 1000  # the seed's loop runs epoch 0..1000: 1001 steps
TRAJECTORY_RTOL = 1e-5
CHECKPOINTS = list(range(0, EPOCHS + 1, 100))


def _chain_to_params(dz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dL/dW = X^T dL/dz; b is one scalar broadcast over all (N, C) logits: dL/db = sum dL/dz."""
    return X_TRAIN.T @ dz, np.array([dz.sum()])


def train_numpy(double_softmax: bool = False) -> np.ndarray:
    """Float64 SGD with the reference's loss and analytic gradient."""
    W = np.zeros((4, 3))
    b = np.zeros(1)
    costs = []
    for _ in range(EPOCHS + 1):
        z = X_TRAIN @ W + b
        if double_softmax:
            # seed's low-level loop: -log(softmax(softmax(z)))[y] = cross_entropy(softmax(z), y)
            p = reference.softmax(z, axis=1)
            cost = reference.cross_entropy(p, Y_TRAIN)
            dz = reference.softmax_vjp(z, axis=1,
                                       grad_output=reference.cross_entropy_vjp(p, Y_TRAIN))
        else:
            cost = reference.cross_entropy(z, Y_TRAIN)
            dz = reference.cross_entropy_vjp(z, Y_TRAIN)
        costs.append(float(cost))
        gW, gb = _chain_to_params(dz)
        W -= LR * gW
        b -= LR * gb
    return np.array(costs)


def train_torch(double_softmax: bool = False) -> np.ndarray:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = torch.tensor(X_TRAIN, dtype=torch.float32)
    y = torch.tensor(Y_TRAIN)
    W = torch.zeros((4, 3), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([W, b], lr=LR)
    costs = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # an 8x4 problem: threads only add contention on a shared machine
    try:
        _loop(torch, F, x, y, W, b, optimizer, costs, double_softmax)
    finally:
        torch.set_num_threads(threads)
    return np.array(costs)


def _loop(torch: Any, F: Any, x: Any, y: Any, W: Any, b: Any, optimizer: Any, costs: list,
          double_softmax: bool) -> None:
    for _ in range(EPOCHS + 1):
        z = x.matmul(W) + b
        if double_softmax:  # verbatim from the seed
            hypothesis = F.softmax(z, dim=1)
            y_one_hot = torch.zeros_like(hypothesis)
            y_one_hot.scatter_(1, y.unsqueeze(1), 1)
            cost = (y_one_hot * -torch.log(F.softmax(hypothesis, dim=1))).sum(dim=1).mean()
        else:
            cost = F.cross_entropy(z, y)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        costs.append(cost.item())


def train_tensorflow() -> np.ndarray:
    tf = pytest.importorskip("tensorflow")
    x = tf.constant(X_TRAIN, tf.float32)
    y = tf.constant(Y_TRAIN)
    W = tf.Variable(tf.zeros((4, 3)))
    b = tf.Variable(tf.zeros(1))
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function  # still TF's own loss and gradient; ~0.3 s instead of several seconds eager
    def step() -> object:
        with tf.GradientTape() as tape:
            cost = loss(y, tf.matmul(x, W) + b)
        gW, gb = tape.gradient(cost, [W, b])
        W.assign_sub(LR * gW)
        b.assign_sub(LR * gb)
        return cost

    return np.array([float(step()) for _ in range(EPOCHS + 1)])


def _table(**runs: np.ndarray) -> str:
    head = "epoch " + " ".join(f"{k:>12}" for k in runs)
    rows = [f"{e:5d} " + " ".join(f"{v[e]:12.7f}" for v in runs.values()) for e in CHECKPOINTS]
    return "\n".join([head, *rows])


@pytest.fixture(scope="module")
def numpy_costs() -> np.ndarray:
    return train_numpy()


def test_numpy_reference_trajectory(numpy_costs: np.ndarray) -> None:
    """The float64 run starts at log 3 (all-zero logits); it decreases at every checkpoint
    (every 100 epochs), though not monotonically from one epoch to the next (lr=0.1 makes it
    oscillate)."""
    assert numpy_costs[0] == pytest.approx(np.log(3), rel=1e-15)
    assert np.all(np.diff(numpy_costs[CHECKPOINTS]) < 0), _table(numpy=numpy_costs)
    assert np.any(np.diff(numpy_costs) > 0), "expected the epoch-to-epoch oscillation"
    assert numpy_costs[-1] == pytest.approx(0.3999624407, rel=1e-9), _table(numpy=numpy_costs)


@pytest.mark.parametrize("framework", [pytest.param(fw, marks=pytest.mark.framework(fw))
                                       for fw in ("torch", "tensorflow")])
def test_framework_trajectory_matches_float64(framework: str, numpy_costs: np.ndarray) -> None:
    costs = train_torch() if framework == "torch" else train_tensorflow()
    rel = np.abs(costs - numpy_costs) / numpy_costs
    msg = (f"{framework} float32 vs reference float64: max rel diff {rel.max():.3g} at epoch "
           f"{int(rel.argmax())} (tolerance {TRAJECTORY_RTOL})\n"
           + _table(**{framework: costs, "numpy64": numpy_costs}))
    assert rel.max() <= TRAJECTORY_RTOL, msg
    # the measured agreement, so a much worse (or suspiciously exact) run is noticed
    assert 1e-8 < rel.max() < 5e-6, msg


@pytest.mark.framework("torch")
def test_double_softmax_trajectory(numpy_costs: np.ndarray) -> None:
    """Seed 004's low-level loop (softmax applied twice) trains to a different, worse cost."""
    dbl64 = train_numpy(double_softmax=True)
    dbl32 = train_torch(double_softmax=True)
    table = _table(torch_dbl=dbl32, numpy_dbl=dbl64, numpy_ce=numpy_costs)
    rel = np.abs(dbl32 - dbl64) / dbl64
    assert rel.max() <= TRAJECTORY_RTOL, f"torch vs float64 double softmax: {rel.max():.3g}\n{table}"
    # same start (log 3: uniform softmax of uniform softmax), then slower descent
    assert dbl64[0] == pytest.approx(numpy_costs[0], rel=1e-15)
    assert np.all(dbl64[CHECKPOINTS[1:]] > numpy_costs[CHECKPOINTS[1:]]), table
    assert dbl64[-1] == pytest.approx(0.7387486, rel=1e-6), table
    assert numpy_costs[-1] == pytest.approx(0.3999624, rel=1e-6), table
    # the double-softmax loss can never go below -log(softmax of a probability vector)
    # >= -log(e / (e + C - 1)) = log(1 + (C-1)/e) = 0.551 for C=3
    assert np.all(dbl64 > np.log(1 + 2 / np.e)), table
