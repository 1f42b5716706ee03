"""Tests of the ONNX plug-in itself (not of the runtimes' numerics).

The plan drives evaluate and repro alike (the repro builds the same one-node model and leaves
bitwise what evaluate returned); the options map onto the operators' inputs and attributes as
the notes say; sessions are cached and reused across calls of one structure; what cannot be
expressed gets its reason; the models of the runtimes' kernels reproduce them where they are
exact. Expected values come from the NumPy reference (``lossconform.reference``), never from
a runtime.
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
from lossconform.adapters.onnx import ADAPTERS, ORT_ADAPTER, REFERENCE_ADAPTER
from lossconform.adapters.onnx import models as M
from lossconform.adapters.onnx import plans as P
from lossconform.adapters.onnx.entry_points import ENTRIES, GRADIENT_REASON, names

RUNTIMES = [pytest.param(a, id=a.framework, marks=[
    pytest.mark.framework(a.framework),
    pytest.mark.skipif(a.available() is not None, reason=f"{a.framework}: {a.available()}")])
    for a in ADAPTERS]
ORT_ONLY = [pytest.mark.framework("onnxruntime"), pytest.mark.skipif(
    ORT_ADAPTER.available() is not None, reason=f"onnxruntime: {ORT_ADAPTER.available()}")]

#: mapping checks in float64: far tighter than any mapping error, far looser than the rounding
#: of a few float64 operations
RTOL = 1e-12


def _rng(k: int = 0) -> np.random.Generator:
    return np.random.default_rng(20261129 + k)


def _run_repro(adapter, entry_point: str, call: Call) -> dict:
    code = adapter.repro(entry_point, call)
    ns = {"x": call.x, "target": call.target, "weight": call.option("weight"),
          "pos_weight": call.option("pos_weight"), "sample_weight": call.option("sample_weight"),
          "grad_output": call.grad_output}
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "<repro>", "exec"), ns)  # noqa: S102 (our own snippet)
    return ns


def _ep(adapter, op: str) -> str:
    return names(adapter.framework, op)[0]


_PLAN_CASES = [
    ("Softmax-11", "softmax-moderate-4x5x3x3-axis1", "float32"),
    ("Softmax-13", "softmax-moderate-4x5x3x3-axis1", "float16"),
    ("LogSoftmax-13", "log_softmax-moderate-16x10", "float64"),
    ("LogSoftmax-11", "log_softmax-moderate-16x10-axis0", "float32"),
    ("Sigmoid-13", "sigmoid-moderate-16x10", "float16"),
    ("SoftmaxCrossEntropyLoss-13",
     "cross_entropy-moderate-4x5x3x3-axis1-index-ignore_index_1-reduction_mean-weight", "float32"),
    ("SoftmaxCrossEntropyLoss-13", "cross_entropy-moderate-16x10-index-reduction_none", "float64"),
    ("SoftmaxCrossEntropyLoss-13.log_prob", "log_softmax-moderate-4x5x3x3-axis1", "float32"),
    ("NegativeLogLikelihoodLoss-13", "nll_loss-moderate-16x10-index-reduction_sum-weight",
     "float16"),
]


@pytest.mark.parametrize("adapter", RUNTIMES)
@pytest.mark.parametrize("op,case_id,dtype", _PLAN_CASES)
def test_repro_matches_evaluate_bitwise(adapter, op: str, case_id: str, dtype: str) -> None:
    call = BY_ID[case_id].call(dtype, seed=0)
    ep = _ep(adapter, op)
    assert adapter.unsupported(ep, call) is None, adapter.unsupported(ep, call)
    ev = adapter.evaluate(ep, call)
    ns = _run_repro(adapter, ep, call)
    np.testing.assert_array_equal(adapter.to_numpy(ns["out"]), ev.forward.value)
    assert ev.forward.dtype == dtype
    assert ev.gradient is None  # forward only


@ORT_ONLY[0]
@ORT_ONLY[1]
@pytest.mark.parametrize("mode", ["all-threads", "no-graph-optimizations"])
@pytest.mark.parametrize("op,case_id,dtype", _PLAN_CASES[:3] + _PLAN_CASES[5:6])
def test_modes_change_the_session_only(mode: str, op: str, case_id: str, dtype: str) -> None:
    """ONNX Runtime's modes (its settings) build another session for the same model; the repro
    creates it the same way; onnx.reference has no modes."""
    call = BY_ID[case_id].call(dtype, seed=0).replace(facets={"mode": mode})
    ep = _ep(ORT_ADAPTER, op)
    plan = P.build_plan(ep, call)
    assert plan.mode == mode and plan.model_source == P.build_plan(
        ep, call.replace(facets={})).model_source
    ev = ORT_ADAPTER.evaluate(ep, call)
    ns = _run_repro(ORT_ADAPTER, ep, call)
    np.testing.assert_array_equal(ORT_ADAPTER.to_numpy(ns["out"]), ev.forward.value)
    assert REFERENCE_ADAPTER.unsupported(_ep(REFERENCE_ADAPTER, op), call)


test_modes_change_the_session_only = pytest.mark.framework("onnxruntime")(
    test_modes_change_the_session_only)


@pytest.mark.parametrize("adapter", RUNTIMES)
def test_reference_bfloat16_runs_where_declared(adapter) -> None:
    call = BY_ID["softmax-moderate-16x10"].call("bfloat16", seed=0)
    ep = _ep(adapter, "Softmax-13")
    if adapter is ORT_ADAPTER:
        assert "does not accept bfloat16" in adapter.unsupported(ep, call)
        return
    ev = adapter.evaluate(ep, call)
    assert ev.forward.dtype == "bfloat16"
    np.testing.assert_array_equal(adapter.to_numpy(_run_repro(adapter, ep, call)["out"]),
                                  ev.forward.value)


@pytest.mark.parametrize("adapter", RUNTIMES)
def test_loss_options_map_onto_the_operators(adapter) -> None:
    """weight -> the third input, ignore_index and reduction -> attributes; 'mean' divides by
    the kept items' weights (the spec), in float64 against the reference."""
    rng = _rng(1)
    x = rng.normal(size=(6, 5, 2))
    y = np.array([[0, 1], [2, 1], [4, 3], [1, 1], [0, 2], [3, 4]])
    w = rng.uniform(0.5, 2.0, size=5)
    for red in ("none", "sum", "mean"):
        opts = {"weight": w, "ignore_index": 1, "reduction": red}
        call = Call("cross_entropy", x, "float64", axis=1, target=y, target_kind="index",
                    options=opts)
        got = adapter.evaluate(_ep(adapter, "SoftmaxCrossEntropyLoss-13"), call).forward.value
        np.testing.assert_allclose(got, R.cross_entropy(x, y, target_kind="index", axis=1,
                                                        **opts), rtol=RTOL)
        lp = R.log_softmax(x, axis=1)
        call = Call("nll_loss", lp, "float64", axis=1, target=y, target_kind="index",
                    options=opts)
        got = adapter.evaluate(_ep(adapter, "NegativeLogLikelihoodLoss-13"), call).forward.value
        np.testing.assert_allclose(got, R.nll_loss(lp, y, axis=1, **opts), rtol=RTOL)
    call = Call("log_softmax", x, "float64", axis=1)
    got = adapter.evaluate(_ep(adapter, "SoftmaxCrossEntropyLoss-13.log_prob"), call)
    np.testing.assert_allclose(got.forward.value, R.log_softmax(x, axis=1), rtol=RTOL)


@pytest.mark.parametrize("adapter", RUNTIMES)
def test_opset_11_and_13(adapter) -> None:
    """Opset 13 normalises along axis; ONNX Runtime's opset 11 over every dimension from axis
    on (the spec); onnx.reference's opset 11 along axis (it ignores the opset)."""
    x = _rng(2).normal(size=(3, 4, 2))
    call = Call("softmax", x, "float64", axis=1)
    along = R.softmax(x, axis=1)
    flat = R.softmax(x.reshape(3, 8), axis=-1).reshape(x.shape)
    np.testing.assert_allclose(adapter.evaluate(_ep(adapter, "Softmax-13"), call).forward.value,
                               along, rtol=RTOL)
    v11 = adapter.evaluate(_ep(adapter, "Softmax-11"), call).forward.value
    np.testing.assert_allclose(v11, flat if adapter is ORT_ADAPTER else along, rtol=RTOL)
    # the axis attribute left out: -1 at opset 13; 1 at opset 11 (ONNX Runtime)
    omitted = call.replace(facets={"axis_arg": "omitted"})
    np.testing.assert_allclose(
        adapter.evaluate(_ep(adapter, "Softmax-13"), omitted).forward.value,
        R.softmax(x, axis=-1), rtol=RTOL)
    if adapter is ORT_ADAPTER:
        np.testing.assert_allclose(
            adapter.evaluate(_ep(adapter, "Softmax-11"), omitted).forward.value, flat, rtol=RTOL)


@pytest.mark.parametrize("adapter", RUNTIMES)
def test_what_cannot_be_expressed_says_why(adapter) -> None:
    sce = _ep(adapter, "SoftmaxCrossEntropyLoss-13")
    x = np.zeros((4, 3))
    probs = Call("cross_entropy", x, "float32", target=np.full((4, 3), 1 / 3),
                 target_kind="probs")
    assert "class indices" in adapter.unsupported(sce, probs)
    idx = Call("cross_entropy", x, "float32", target=np.zeros(4, np.int64),
               target_kind="index")
    assert "label smoothing" in adapter.unsupported(
        sce, idx.replace(options={"label_smoothing": 0.1}))
    assert "per-class" in adapter.unsupported(
        sce, idx.replace(options={"sample_weight": np.ones(4)}))
    assert "dim 1" in adapter.unsupported(
        sce, Call("cross_entropy", np.zeros((2, 3, 4)), "float32", axis=-1,
                  target=np.zeros((2, 3), np.int64), target_kind="index"))
    assert "1-D input" in adapter.unsupported(
        sce, Call("cross_entropy", np.zeros(3), "float32", axis=0, target=np.array(1),
                  target_kind="index"))
    assert "no axis attribute" in adapter.unsupported(
        _ep(adapter, "Sigmoid-13"), Call("sigmoid", x, "float32",
                                         facets={"axis_arg": "omitted"}))
    assert "does not express axis_arg='none'" in adapter.unsupported(
        _ep(adapter, "Softmax-13"), Call("softmax", x, "float32", facets={"axis_arg": "none"}))
    empty = Call("cross_entropy", np.zeros((0, 3)), "float32", target=np.zeros(0, np.int64),
                 target_kind="index")
    assert "empty batch" in adapter.unsupported(sce, empty)


def test_gradient_is_unsupported_with_its_reason() -> None:
    for rt, entries in ENTRIES.items():
        for e in entries:
            assert e.spec.capabilities.gradient is False
            assert GRADIENT_REASON in e.spec.notes


@pytest.mark.parametrize("adapter", RUNTIMES)
def test_sessions_are_cached_per_structure(adapter) -> None:
    """One model (and session) per operator, opset, attributes, dtypes and input ranks: other
    shapes of the same rank reuse it; the cache is bounded."""
    adapter.sessions.clear()
    before = adapter.sessions.misses
    ep = _ep(adapter, "LogSoftmax-13")
    for n, c in ((2, 3), (7, 5), (1, 11)):
        adapter.evaluate(ep, Call("log_softmax", _rng(n).normal(size=(n, c)), "float32"))
    assert adapter.sessions.misses - before == 1
    adapter.evaluate(ep, Call("log_softmax", _rng(3).normal(size=(2, 3, 4)), "float32"))
    adapter.evaluate(ep, Call("log_softmax", _rng(3).normal(size=(2, 3)), "float64"))
    assert adapter.sessions.misses - before == 3
    small = P.Sessions(size=2)
    calls = [(ep, Call("log_softmax", np.zeros((2, 3)), dt)) for dt in ("float16", "float32",
                                                                        "float64")]
    for name, call in calls:
        small.get(P.build_plan(name, call))
    assert small.misses == 3 and len(small._cache) == 2
    assert small.last_compile_seconds > 0


@pytest.mark.parametrize("adapter", RUNTIMES)
def test_float_labels(adapter) -> None:
    run = adapter.float_label_call(_ep(adapter, "SoftmaxCrossEntropyLoss-13"))
    assert run is not None
    with pytest.raises(Exception) as info:
        run()
    want = "InvalidGraph" if adapter is ORT_ADAPTER else "IndexError"
    assert type(info.value).__name__ == want
    assert adapter.float_label_call(_ep(adapter, "Softmax-13")) is None
    assert "TensorProto.FLOAT, ['N']" in adapter.float_label_repro(
        _ep(adapter, "NegativeLogLikelihoodLoss-13"))


def test_models_without_a_runtime() -> None:
    """The models' building blocks on hand-checked values."""
    x2, shape = M.flatten_at_axis(Call("softmax", np.arange(24.0).reshape(2, 3, 4), "float32",
                                       axis=1))
    assert x2.shape == (2, 12) and shape == (2, 3, 4)
    # Eigen's NaN rule: a NaN where the packet reduction starts is the row's max, else skipped
    rows = np.array([[np.nan, 1.0, 0.0, 2.0], [1.0, np.nan, 0.0, 2.0], [0.0, 1.0, 2.0, np.nan]])
    m = M.eigen_row_max(rows)[:, 0]
    assert np.isnan(m[0]) and m[1] == 1.0 and m[2] == 2.0  # row 1 keeps lane 0: x0, x2
    # MLAS's logistic: 0 below -18, 0.5 at 0
    y = M.mlas_logistic(np.array([-20.0, 0.0, np.nan]), "float32")
    assert y[0] == 0.0 and y[1] == 0.5 and np.isnan(y[2])
    # the bfloat16 running sum stops at 256
    lo, hi = M._sum_rows(np.ones((1, 512)), "bfloat16")
    assert lo[0, 0] == hi[0, 0] == 256.0
    # onnx.reference's log of an underflowed probability
    a, b = M.reference_log_softmax_ends(np.array([[1000.0, 0.0, -1.0]]), "float32")
    assert a[0, 0] == 0.0 and np.isneginf(a[0, 1]) and np.isneginf(b[0, 2])


@pytest.mark.parametrize("d", [2, 3, 5, 8, 9, 17])
def test_eigen_row_max_is_onnxruntime(d: int) -> None:
    """The float64 LogSoftmax model (Eigen's max with std::max's NaN rule, fmax's floor) gives
    ONNX Runtime's output exactly on rows holding NaN (the rule was measured; this keeps it)."""
    pytest.importorskip("onnxruntime")
    rng = _rng(d)
    x = rng.normal(size=(10, d))
    for i in range(10):
        x[i, rng.integers(d)] = np.nan
    got = ORT_ADAPTER.evaluate(_ep(ORT_ADAPTER, "LogSoftmax-13"),
                               Call("log_softmax", x, "float64")).forward.value
    a, _ = M.ort_double_log_softmax_ends(x)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(got))
    np.testing.assert_allclose(a[~np.isnan(a)], got[~np.isnan(got)], rtol=1e-14)


test_eigen_row_max_is_onnxruntime = pytest.mark.framework("onnxruntime")(
    test_eigen_row_max_is_onnxruntime)


@pytest.mark.parametrize("adapter", RUNTIMES)
def test_empty_batch_reasons_still_hold(adapter) -> None:
    """The loss operators declared unsupported on an empty batch still raise there (when a
    release stops raising, this fails: drop the reason and let the matrix judge the value)."""
    empty = Call("cross_entropy", np.zeros((0, 4)), "float32", target=np.zeros(0, np.int64),
                 target_kind="index", options={"reduction": "sum"})
    ops = (["SoftmaxCrossEntropyLoss-13"] if adapter is ORT_ADAPTER else
           ["SoftmaxCrossEntropyLoss-13", "NegativeLogLikelihoodLoss-13"])
    for op in ops:
        ep = _ep(adapter, op)
        call = empty.replace(op="nll_loss") if op.startswith("Negative") else empty
        assert "empty batch" in adapter.unsupported(ep, call)
        with pytest.raises(Exception) as info:
            adapter.evaluate(ep, call)  # evaluate does not screen: the runtime raises
        assert type(info.value).__name__ in ("Fail", "ValueError")
