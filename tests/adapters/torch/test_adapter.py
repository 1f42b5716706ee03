"""Smoke tests of the PyTorch adapter itself (not of torch's numerics).

Every entry point runs a small case and returns the right shape and dtype; unsupported
combinations give a reason; the repro snippets run and agree with ``evaluate``. Expected
values come from the NumPy reference or from hand-derived formulas on top of it, never
from torch.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lossconform.plugins import load_adapters
from lossconform.contract import DTYPES, OPS, Adapter, Call
from lossconform.ops import ACTIVATION, OP
from lossconform.adapters.torch import ADAPTER

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.framework("torch"), pytest.mark.skipif(
    ADAPTER.available() is not None, reason=f"torch adapter: {ADAPTER.available()}"
)]

#: Smoke-test closeness for float32 runs against the float64 reference: these tests check
#: the mapping (axis, weights, reduction), not accuracy; the conformance tolerances live
#: in lossconform/harness.
F32_RTOL, F32_ATOL = 1e-5, 1e-6

C = 4  # classes
N = 3  # items


def _ref(name: str):
    """A reference function: from ``lossconform.reference`` when it exports it, else
    ``lossconform.reference.ops``."""
    for module in ("lossconform.reference", "lossconform.reference.ops"):
        try:
            fn = getattr(importlib.import_module(module), name, None)
        except ImportError:
            fn = None
        if fn is not None:
            return fn
    pytest.skip(f"reference.{name} is not available yet")


def _rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


def _f32(a: np.ndarray) -> np.ndarray:
    """Round to float32 and back, as the suite does before calling an adapter."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def _inputs() -> dict[str, np.ndarray]:
    rng = _rng()
    logits = _f32(rng.normal(size=(N, C)))
    probs_t = _f32(rng.dirichlet(np.ones(C), size=N))
    return {
        "logits": logits,
        "logp": _f32(logits - np.log(np.exp(logits).sum(-1, keepdims=True))),
        "p": _f32(rng.uniform(0.05, 0.95, size=(N, C))),
        "index": np.array([0, 3, 1], dtype=np.int64),
        "probs_t": probs_t,
        "bin_t": _f32(rng.uniform(0.0, 1.0, size=(N, C))),
        "weight": np.array([0.5, 1.0, 2.0, 1.5]),
        "pos_weight": np.array([1.0, 2.0, 0.5, 3.0]),
    }


def _small_call(op: str, dtype: str = "float32", grad: bool = True) -> Call:
    """One small, valid call per op with a scalar ('mean') or element-wise output."""
    d = _inputs()
    if OP[op].family == ACTIVATION:
        return Call(op, d["logits"], dtype, axis=-1,
                    grad_output=np.ones((N, C)) if grad else None)
    go = np.array(1.0) if grad else None
    if op == "cross_entropy":
        return Call(op, d["logits"], dtype, target=d["index"], target_kind="index",
                    options={"weight": d["weight"]}, grad_output=go)
    if op == "nll_loss":
        return Call(op, d["logp"], dtype, target=d["index"], target_kind="index",
                    options={"weight": d["weight"]}, grad_output=go)
    if op == "binary_cross_entropy":
        return Call(op, d["p"], dtype, target=d["bin_t"], target_kind="probs",
                    options={"weight": d["weight"]}, grad_output=go)
    if op == "binary_cross_entropy_with_logits":
        return Call(op, d["logits"], dtype, target=d["bin_t"], target_kind="probs",
                    options={"weight": d["weight"], "pos_weight": d["pos_weight"]},
                    grad_output=go)
    raise AssertionError(op)


ENTRY_POINTS = [pytest.param(ep, id=ep.name) for ep in ADAPTER.entry_points()]


# ---------------------------------------------------------------- contract and declarations
def test_import_does_not_import_torch() -> None:
    code = (
        "import sys, lossconform.adapters.torch as m; "
        "assert 'torch' not in sys.modules, 'torch imported eagerly'; "
        "assert m.ADAPTER.framework == 'torch'; "
        "m.ADAPTER.entry_points(); m.ADAPTER.convention_sources; m.ADAPTER.convention_pins"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_adapter_is_discovered_and_declares_itself() -> None:
    assert isinstance(ADAPTER, Adapter)
    assert load_adapters()["torch"] is ADAPTER
    assert ADAPTER.version()
    assert "cpu" in ADAPTER.devices()
    names = [ep.name for ep in ADAPTER.entry_points()]
    assert len(names) == len(set(names))
    for ep in ADAPTER.entry_points():
        assert ep.op in OPS and ep.op != "categorical_crossentropy"
        assert set(ep.dtypes) <= set(DTYPES) and ep.dtypes
        assert ep.name.startswith("torch.") and ep.notes


def test_convention_sources_cover_every_topic_and_pins_exist() -> None:
    from lossconform.probes import TOPICS

    assert set(TOPICS) <= set(ADAPTER.convention_sources)
    for topic, text in ADAPTER.convention_sources.items():
        assert "https://" in text, topic
    assert ADAPTER.convention_pins, "the plug-in pins its observed conventions"


# ---------------------------------------------------------------- every entry point runs
@pytest.mark.parametrize("ep", ENTRY_POINTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_entry_point_every_dtype_shape_and_dtype(ep, dtype) -> None:
    call = _small_call(ep.op, dtype)
    assert ADAPTER.unsupported(ep.name, call) is None
    ev = ADAPTER.evaluate(ep.name, call)
    assert ev.forward.dtype == dtype and ev.forward.value.dtype == np.float64
    assert ev.forward.value.shape == np.shape(call.grad_output)
    assert ev.gradient is not None
    assert ev.gradient.dtype == dtype and ev.gradient.value.shape == call.x.shape
    assert np.all(np.isfinite(ev.forward.value)) and np.all(np.isfinite(ev.gradient.value))


def test_no_gradient_when_not_asked() -> None:
    call = _small_call("cross_entropy", grad=False)
    ev = ADAPTER.evaluate("torch.nn.functional.cross_entropy", call)
    assert ev.gradient is None and ev.forward.value.shape == ()


# ---------------------------------------------------------------- values against the reference
def _reference_forward(call: Call) -> np.ndarray:
    opts = {k: v for k, v in call.options.items() if v is not None}
    if OP[call.op].family == ACTIVATION:
        axis = {"axis": call.axis} if OP[call.op].class_axis else {}
        return _ref(call.op)(call.x, **axis)
    if call.op == "cross_entropy":
        return _ref(call.op)(call.x, call.target, axis=call.axis,
                             target_kind=call.target_kind, **opts)
    if call.op == "nll_loss":
        return _ref(call.op)(call.x, call.target, axis=call.axis, **opts)
    return _ref(call.op)(call.x, call.target, **opts)


@pytest.mark.parametrize("ep", ENTRY_POINTS)
def test_float32_forward_matches_reference(ep) -> None:
    call = _small_call(ep.op)
    got = ADAPTER.evaluate(ep.name, call).forward.value
    np.testing.assert_allclose(got, _reference_forward(call), rtol=F32_RTOL, atol=F32_ATOL)


OPTION_CASES = [
    pytest.param({"reduction": "none"}, id="none"),
    pytest.param({"reduction": "sum"}, id="sum"),
    pytest.param({"reduction": "mean", "ignore_index": 3}, id="mean-ignore_index"),
    pytest.param({"reduction": "mean", "label_smoothing": 0.2}, id="mean-label_smoothing"),
    pytest.param({"reduction": "mean", "label_smoothing": 0.2, "ignore_index": 0},
                 id="mean-label_smoothing-ignore_index"),
]


@pytest.mark.parametrize("entry_point", ["torch.nn.functional.cross_entropy",
                                         "torch.nn.CrossEntropyLoss"])
@pytest.mark.parametrize("options", OPTION_CASES)
def test_cross_entropy_options_match_reference(entry_point, options) -> None:
    d = _inputs()
    call = Call("cross_entropy", d["logits"], "float32", target=d["index"], target_kind="index",
                options={"weight": d["weight"], **options})
    got = ADAPTER.evaluate(entry_point, call).forward.value
    np.testing.assert_allclose(got, _reference_forward(call), rtol=F32_RTOL, atol=F32_ATOL)


def test_cross_entropy_probability_targets_match_reference() -> None:
    d = _inputs()
    call = Call("cross_entropy", d["logits"], "float32", target=d["probs_t"],
                target_kind="probs",
                options={"weight": d["weight"], "label_smoothing": 0.1})
    got = ADAPTER.evaluate("torch.nn.functional.cross_entropy", call).forward.value
    np.testing.assert_allclose(got, _reference_forward(call), rtol=F32_RTOL, atol=F32_ATOL)


@pytest.mark.parametrize("axis", [0, 1, -1, 2])
def test_class_axis_is_moved_to_dim_1(axis) -> None:
    """(2, 3, 5)-shaped input with the classes on each axis in turn; K-dim targets."""
    rng = _rng()
    x = _f32(rng.normal(size=(2, 3, 5)))
    item_shape = tuple(s for i, s in enumerate(x.shape) if i != axis % 3)
    target = rng.integers(0, x.shape[axis], size=item_shape)
    call = Call("cross_entropy", x, "float32", axis=axis, target=target, target_kind="index",
                options={"reduction": "none"}, grad_output=np.ones(item_shape))
    ev = ADAPTER.evaluate("torch.nn.CrossEntropyLoss", call)
    np.testing.assert_allclose(ev.forward.value, _reference_forward(call),
                               rtol=F32_RTOL, atol=F32_ATOL)
    # d(sum of losses)/dx = softmax(x) - onehot(target), along the class axis.
    onehot = np.moveaxis(np.eye(x.shape[axis])[target], -1, axis)
    expected = _ref("softmax")(x, axis=axis) - onehot
    np.testing.assert_allclose(ev.gradient.value, expected, rtol=F32_RTOL, atol=F32_ATOL)


def test_one_dimensional_input_has_classes_on_dim_0() -> None:
    d = _inputs()
    call = Call("cross_entropy", d["logits"][0], "float64", axis=0,
                target=np.array(2, dtype=np.int64), target_kind="index",
                options={"reduction": "none"})
    got = ADAPTER.evaluate("torch.nn.functional.cross_entropy", call).forward.value
    assert got.shape == ()
    np.testing.assert_allclose(got, _reference_forward(call), rtol=1e-12)


def test_mean_gradient_is_divided_by_weight_sum() -> None:
    """Hand-derived: d mean / dz_i = w_{y_i} (softmax(z_i) - onehot(y_i)) / sum_j w_{y_j}."""
    d = _inputs()
    call = _small_call("cross_entropy", "float64")
    ev = ADAPTER.evaluate("torch.nn.functional.cross_entropy", call)
    w_y = d["weight"][d["index"]]
    expected = w_y[:, None] * (_ref("softmax")(d["logits"]) - np.eye(C)[d["index"]]) / w_y.sum()
    np.testing.assert_allclose(ev.gradient.value, expected, rtol=1e-10, atol=1e-14)


def test_sigmoid_gradient_is_cotangent_times_derivative() -> None:
    d = _inputs()
    g = _rng().normal(size=(N, C))
    call = Call("sigmoid", d["logits"], "float64", grad_output=g)
    ev = ADAPTER.evaluate("torch.sigmoid", call)
    s = _ref("sigmoid")(d["logits"])
    np.testing.assert_allclose(ev.gradient.value, g * s * (1 - s), rtol=1e-12)


# ---------------------------------------------------------------- unsupported
UNSUPPORTED = [
    pytest.param("torch.nn.functional.cross_entropy",
                 lambda d: Call("cross_entropy", d["logits"], "float32", target=d["index"],
                                target_kind="index", options={"sample_weight": np.ones(N)}),
                 id="ce-sample_weight"),
    pytest.param("torch.nn.CrossEntropyLoss",
                 lambda d: Call("cross_entropy", d["logits"], "float32", target=d["probs_t"],
                                target_kind="probs", options={"ignore_index": 0}),
                 id="ce-probs-ignore_index"),
    pytest.param("torch.nn.NLLLoss",
                 lambda d: Call("nll_loss", d["logp"], "float32", target=d["index"],
                                target_kind="index", options={"label_smoothing": 0.1}),
                 id="nll-label_smoothing"),
    pytest.param("torch.nn.functional.nll_loss",
                 lambda d: Call("nll_loss", d["logp"], "float32", target=d["probs_t"],
                                target_kind="probs"),
                 id="nll-probs"),
    pytest.param("torch.nn.BCELoss",
                 lambda d: Call("binary_cross_entropy", d["p"], "float32", target=d["bin_t"],
                                options={"label_smoothing": 0.1}),
                 id="bce-label_smoothing"),
    pytest.param("torch.nn.functional.binary_cross_entropy",
                 lambda d: Call("binary_cross_entropy", d["p"], "float32", target=d["bin_t"],
                                options={"pos_weight": d["pos_weight"]}),
                 id="bce-pos_weight"),
    pytest.param("torch.nn.BCEWithLogitsLoss",
                 lambda d: Call("binary_cross_entropy_with_logits", d["logits"], "float32",
                                target=d["bin_t"], options={"sample_weight": d["bin_t"]}),
                 id="bcel-sample_weight"),
    pytest.param("torch.nn.functional.softmax",
                 lambda d: Call("log_softmax", d["logits"], "float32"),
                 id="wrong-op"),
    pytest.param("torch.nn.functional.softmax",
                 lambda d: Call("softmax", d["logits"], "float32", options={"reduction": "sum"}),
                 id="softmax-reduction"),
    pytest.param("torch.nn.functional.kl_div",
                 lambda d: Call("softmax", d["logits"], "float32"),
                 id="unknown-entry-point"),
]


@pytest.mark.parametrize("entry_point, make", UNSUPPORTED)
def test_unsupported_reasons_are_sentences(entry_point, make) -> None:
    reason = ADAPTER.unsupported(entry_point, make(_inputs()))
    assert isinstance(reason, str) and len(reason) > 10


def test_absent_or_neutral_options_are_supported() -> None:
    d = _inputs()
    call = Call("binary_cross_entropy", d["p"], "float32", target=d["bin_t"],
                options={"label_smoothing": 0.0, "sample_weight": None, "ignore_index": None})
    assert ADAPTER.unsupported("torch.nn.BCELoss", call) is None


# ---------------------------------------------------------------- repro snippets
def _run_snippet(code: str, call: Call) -> dict:
    namespace = {
        "np": np, "x": call.x, "target": call.target, "weight": call.option("weight"),
        "pos_weight": call.option("pos_weight"), "sample_weight": call.option("sample_weight"),
        "grad_output": call.grad_output,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "<repro>", "exec"), namespace)  # noqa: S102 (our own snippet)
    return namespace


@pytest.mark.parametrize("ep", ENTRY_POINTS)
def test_repro_snippet_runs_and_agrees(ep) -> None:
    call = _small_call(ep.op, "float32")
    code = ADAPTER.repro(ep.name, call)
    assert ep.name in code
    ns = _run_snippet(code, call)
    ev = ADAPTER.evaluate(ep.name, call)
    np.testing.assert_array_equal(ns["out"].detach().double().numpy(), ev.forward.value)
    np.testing.assert_array_equal(ns["grad"].double().numpy(), ev.gradient.value)


def test_repro_snippet_moves_the_class_axis() -> None:
    rng = _rng()
    x = _f32(rng.normal(size=(2, 3, 5)))
    call = Call("cross_entropy", x, "bfloat16", axis=-1,
                target=rng.integers(0, 5, size=(2, 3)), target_kind="index",
                options={"reduction": "sum", "ignore_index": 1, "label_smoothing": 0.1},
                grad_output=np.array(1.0))
    code = ADAPTER.repro("torch.nn.functional.cross_entropy", call)
    assert "movedim(-1, 1)" in code
    ns = _run_snippet(code, call)
    ev = ADAPTER.evaluate("torch.nn.functional.cross_entropy", call)
    np.testing.assert_array_equal(ns["grad"].double().numpy(), ev.gradient.value)
