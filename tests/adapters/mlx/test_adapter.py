"""Tests of the MLX plug-in itself (not of MLX's numerics).

The plan drives evaluate and repro alike (the repro leaves bitwise what evaluate returned, in
both modes); the options and facets map onto mlx as the notes say; the reasons for what the
adapter does not run are given; the arithmetic model's exp is MLX's, bit for bit. Expected
values come from the NumPy reference (``lossconform.reference``), never from mlx; MLX computes
float64 with a float32 exp (entry mlx-float64-exp-in-float32), so the mapping checks run in
float64 with a float32-level tolerance, far tighter than any mapping error.
"""
from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

from lossconform import reference as R
from lossconform.cases import BY_ID
from lossconform.contract import Call
from lossconform.adapters.mlx import ADAPTER
from lossconform.adapters.mlx import adapter as mlx_adapter
from lossconform.adapters.mlx import arith as A
from lossconform.adapters.mlx import entry_points as E

pytestmark = [pytest.mark.framework("mlx"), pytest.mark.skipif(
    ADAPTER.available() is not None, reason=f"mlx adapter: {ADAPTER.available()}")]

#: float32-level agreement: any wrong option, axis or reduction is far outside it
RTOL = 2e-6


def _rng(k: int = 0) -> np.random.Generator:
    return np.random.default_rng(20261129 + k)


def _run_repro(entry_point: str, call: Call) -> dict:
    code = ADAPTER.repro(entry_point, call)
    ns = {"np": np, "x": call.x, "target": call.target, "weight": call.option("weight"),
          "pos_weight": call.option("pos_weight"), "sample_weight": call.option("sample_weight"),
          "grad_output": call.grad_output}
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "<repro>", "exec"), ns)  # noqa: S102 (our own snippet)
    return ns


def _same_as_repro(entry_point: str, call: Call):
    assert ADAPTER.unsupported(entry_point, call) is None, ADAPTER.unsupported(entry_point, call)
    ev = ADAPTER.evaluate(entry_point, call)
    ns = _run_repro(entry_point, call)
    np.testing.assert_array_equal(ADAPTER.to_numpy(ns["out"]), ev.forward.value)
    if call.grad_output is not None:
        np.testing.assert_array_equal(ADAPTER.to_numpy(ns["grad"]), ev.gradient.value)
    return ev


_PLAN_CASES = [
    (E.SOFTMAX, "softmax-moderate-4x5x3x3-axis1", "float32"),
    (E.SOFTMAX_PRECISE, "softmax-moderate-16x10", "bfloat16"),
    (E.LOG_SOFTMAX, "log_softmax-moderate-16x10", "float16"),
    (E.SIGMOID, "sigmoid-moderate-16x10", "float64"),
    (E.LOG_SIGMOID, "log_sigmoid-moderate-16x10", "bfloat16"),
    (E.CE, "cross_entropy-moderate-16x10-index-label_smoothing_0.1-reduction_mean", "float32"),
    (E.CE, "cross_entropy-moderate-16x10-index-reduction_mean-sample_weight", "float16"),
    (E.CE, "cross_entropy-soft-16x10-probs-reduction_none", "float64"),
    (E.NLL, "nll_loss-moderate-4x5x3x3-axis1-index-reduction_sum", "float32"),
    (E.BCE, "binary_cross_entropy-moderate-16x10-probs-reduction_mean-weight", "float32"),
    (E.BCE_LOGITS, "binary_cross_entropy_with_logits-moderate-16x10-probs-reduction_sum-weight",
     "bfloat16"),
]


@pytest.mark.parametrize("mode", ["eager", "compiled"])
@pytest.mark.parametrize("entry_point,case_id,dtype", _PLAN_CASES)
def test_repro_matches_evaluate_bitwise(entry_point: str, case_id: str, dtype: str,
                                        mode: str) -> None:
    call = BY_ID[case_id].call(dtype, seed=0)
    if mode != "eager":
        call = call.replace(facets={"mode": mode})
    ev = _same_as_repro(entry_point, call)
    assert ev.forward.dtype == dtype
    assert ev.gradient is None or ev.gradient.dtype == dtype


def test_options_map_onto_mlx() -> None:
    """sample_weight -> weights= (per item), label_smoothing, the class axis, the binary
    weight broadcast to x's shape, with_logits=False; against the reference."""
    rng = _rng(1)
    x = rng.normal(size=(6, 5))
    y = np.array([0, 1, 2, 1, 4, 3])
    s = rng.uniform(0.5, 2.0, 6)
    call = Call("cross_entropy", x, "float64", target=y, target_kind="index",
                options={"sample_weight": s, "label_smoothing": 0.2, "reduction": "sum"})
    np.testing.assert_allclose(
        ADAPTER.evaluate(E.CE, call).forward.value,
        R.cross_entropy(x, y, target_kind="index", sample_weight=s, label_smoothing=0.2,
                        reduction="sum"), rtol=RTOL)
    # 'mean' with weights divides by the item count (entry mlx-ce-mean-with-weights-...)
    mean = ADAPTER.evaluate(E.CE, call.replace(options={"sample_weight": s,
                                                        "reduction": "mean"}))
    per = R.cross_entropy(x, y, target_kind="index", sample_weight=s, reduction="none")
    np.testing.assert_allclose(mean.forward.value, np.sum(per) / 6, rtol=RTOL)
    # probability targets over axis 1 of a 3-D input, label smoothing
    x3 = rng.normal(size=(3, 4, 2))
    t3 = np.moveaxis(rng.dirichlet(np.ones(4), size=(3, 2)), -1, 1)
    c3 = Call("cross_entropy", x3, "float64", axis=1, target=t3, target_kind="probs",
              options={"label_smoothing": 0.1, "reduction": "none"})
    np.testing.assert_allclose(
        ADAPTER.evaluate(E.CE, c3).forward.value,
        R.cross_entropy(x3, t3, axis=1, target_kind="probs", label_smoothing=0.1,
                        reduction="none"), rtol=RTOL)
    lp = R.log_softmax(x3, axis=1)
    yi = np.array([[0, 3], [2, 1], [1, 1]])
    cn = Call("nll_loss", lp, "float64", axis=1, target=yi, target_kind="index",
              options={"reduction": "none"})
    np.testing.assert_allclose(ADAPTER.evaluate(E.NLL, cn).forward.value,
                               R.nll_loss(lp, yi, axis=1, reduction="none"), rtol=RTOL)
    # binary: weight of shape (C,) broadcast; with_logits=False on probabilities
    p = rng.uniform(0.05, 0.95, (4, 3))
    t = rng.uniform(0.0, 1.0, (4, 3))
    w = np.array([0.5, 1.0, 2.0])
    cb = Call("binary_cross_entropy", p, "float64", target=t,
              options={"weight": w, "reduction": "none"})
    np.testing.assert_allclose(ADAPTER.evaluate(E.BCE, cb).forward.value,
                               R.binary_cross_entropy(p, t, weight=w, reduction="none"),
                               rtol=RTOL)
    cl = cb.replace(op="binary_cross_entropy_with_logits", x=x[:4, :3],
                    options={"weight": w, "reduction": "mean"})
    np.testing.assert_allclose(ADAPTER.evaluate(E.BCE_LOGITS, cl).forward.value,
                               R.binary_cross_entropy_with_logits(x[:4, :3], t, weight=w,
                                                                  reduction="mean"), rtol=RTOL)
    assert "weights=mx.broadcast_to(wt, xt.shape)" in ADAPTER.repro(E.BCE_LOGITS, cl)


def test_facets() -> None:
    """axis_arg omitted / None, swapped arguments, omitted reduction and with_logits, a target
    in another dtype: each changes the call as declared."""
    x = _rng(2).normal(size=(3, 4))
    call = Call("softmax", x, "float64")
    omitted = ADAPTER.evaluate(E.SOFTMAX, call.replace(facets={"axis_arg": "omitted"}))
    np.testing.assert_allclose(omitted.forward.value,  # mx.softmax: the whole array
                               R.softmax(x.reshape(-1)).reshape(x.shape), rtol=RTOL)
    ls = ADAPTER.evaluate(E.LOG_SOFTMAX, call.replace(op="log_softmax",
                                                      facets={"axis_arg": "omitted"}))
    np.testing.assert_allclose(ls.forward.value, R.log_softmax(x, axis=-1), rtol=RTOL)
    assert ADAPTER.unsupported(E.SIGMOID, call.replace(op="sigmoid",
                                                       facets={"axis_arg": "none"}))
    y = np.array([0, 3, 1])
    ce = Call("cross_entropy", x, "float64", target=y, target_kind="index",
              facets={"omit_args": ("reduction",)})
    np.testing.assert_allclose(ADAPTER.evaluate(E.CE, ce).forward.value,  # default 'none'
                               R.cross_entropy(x, y, target_kind="index", reduction="none"),
                               rtol=RTOL)
    assert "with_logits" in ADAPTER.unsupported(E.CE, ce.replace(
        facets={"omit_args": ("from_logits",)}))
    p = np.full((3, 4), 0.25)
    bce = Call("binary_cross_entropy", p, "float32", target=np.ones((3, 4)),
               options={"reduction": "none"}, facets={"omit_args": ("from_logits",)})
    assert "with_logits=False" not in ADAPTER.repro(E.BCE, bce)
    np.testing.assert_allclose(  # with_logits left out: the probabilities taken as logits
        ADAPTER.evaluate(E.BCE, bce).forward.value,
        R.binary_cross_entropy_with_logits(p, np.ones((3, 4)), reduction="none"), rtol=1e-6)
    swapped = Call("cross_entropy", x, "float32", target=np.full((3, 4), 0.25),
                   target_kind="probs", options={"reduction": "none"},
                   facets={"swap_args": True})
    _same_as_repro(E.CE, swapped)
    typed = Call("cross_entropy", x, "float16", target=np.full((3, 4), 0.25),
                 target_kind="probs", options={"reduction": "mean"},
                 facets={"arg_dtypes": {"target": "float32"}})
    assert ADAPTER.evaluate(E.CE, typed).forward.dtype == "float32"  # float16 x float32 targets


def test_what_is_not_run_says_why() -> None:
    empty = Call("log_softmax", np.zeros((0, 10)), "float32")
    assert "Received empty array" in ADAPTER.unsupported(E.LOG_SOFTMAX, empty)
    assert ADAPTER.unsupported(E.SOFTMAX, empty.replace(op="softmax")) is None
    x = np.zeros((4, 3))
    far = Call("nll_loss", x, "float32", target=np.array([0, -100, 1, 2]), target_kind="index")
    assert "bounds-check" in ADAPTER.unsupported(E.NLL, far)
    near = far.replace(target=np.array([0, 3, 1, 2]))  # reads item 2's first logit: run
    assert ADAPTER.unsupported(E.NLL, near) is None
    assert mlx_adapter._reads_outside(far.replace(target=np.array([0, 1, 2, 3])))
    assert not mlx_adapter._reads_outside(far.replace(target=np.array([0, 1, 2, -4])))
    weighted = Call("cross_entropy", x, "float32", target=np.array([0, 1, 2, 0]),
                    target_kind="index", options={"weight": np.ones(3)})
    assert "weight[targets]" in ADAPTER.unsupported(E.CE, weighted)


def test_exp_model_is_mlx_exp_bit_for_bit() -> None:
    """arith.exp_ (the models' exp) reproduces MLX's float32 CPU exp, saturation included."""
    import mlx.core as mx

    x = np.concatenate([np.linspace(-90.0, 90.0, 4001), [-88.0, -87.5, 88.5, 0.0, np.nan]])
    x32 = x.astype(np.float32)
    got = np.array(mx.exp(mx.array(x32))).astype(np.float64)
    np.testing.assert_array_equal(A.exp_(x32.astype(np.float64), "float32"), got)


def test_compile_seconds_only_on_a_new_signature() -> None:
    call = Call("sigmoid", _rng(3).normal(size=(7, 13)), "float32", grad_output=np.ones((7, 13)),
                facets={"mode": "compiled"})
    first = ADAPTER.evaluate(E.SIGMOID, call)
    second = ADAPTER.evaluate(E.SIGMOID, call)
    assert second.compile_seconds == 0.0
    assert first.compile_seconds > 0.0  # traced and compiled at the first call of (7, 13)
    np.testing.assert_array_equal(first.forward.value, second.forward.value)
    assert ADAPTER.evaluate(E.SIGMOID, call.replace(facets={})).compile_seconds == 0.0


def test_float_labels_are_refused() -> None:
    with pytest.raises(RuntimeError, match="Cannot gather"):
        ADAPTER.float_label_call(E.CE)()
    assert ADAPTER.float_label_call(E.SOFTMAX) is None
    assert "nn.losses.nll_loss" in ADAPTER.float_label_repro(E.NLL)


def test_environment_and_versions() -> None:
    env = ADAPTER.environment()
    assert env["default_device"].startswith("Device(cpu")
    assert ADAPTER.versions() == {"mlx": ADAPTER.version()}
    assert [s.mode for s in ADAPTER.settings()] == ["compiled"]
    ADAPTER.warmup()
