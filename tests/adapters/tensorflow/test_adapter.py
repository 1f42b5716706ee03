"""Smoke tests of the TensorFlow / Keras adapter itself (not of TensorFlow's numerics).

Every entry point runs a small case in every dtype and returns the right shape and dtype;
unsupported combinations give a reason; the mappings (one-hot, axis moves, ignore_class,
reductions, weights) agree with the NumPy reference where the canonical semantics and the
framework's coincide; the repro snippets run and reproduce ``evaluate``. Expected values come
from the reference or from hand-derived formulas on top of it, never from TensorFlow.
"""
from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lossconform.plugins import load_adapters
from lossconform.contract import DTYPES, OPS, Adapter, Call
from lossconform.ops import ACTIVATION, BINARY, CATEGORICAL, OP, ops_in
from lossconform.adapters.tensorflow import ADAPTER

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.framework("tensorflow"), pytest.mark.skipif(
    ADAPTER.available() is not None, reason=f"tensorflow adapter: {ADAPTER.available()}"
)]

#: Smoke-test closeness for float32 runs against the float64 reference: these tests check the
#: mapping, not accuracy (the conformance tolerances live in lossconform/harness).
F32_RTOL, F32_ATOL = 2e-5, 2e-6

N, C = 3, 4
K = "tf.keras.losses."
ACTIVATIONS = ops_in(ACTIVATION)
SPECS = {s.name: s for s in ADAPTER.entry_points()}
#: Keras loss classes built WITHOUT dtype: they compute (and return) in float32.
NO_DTYPE = sorted(n for n in SPECS if n.endswith("dtype=None)"))


def _f32(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240611)
    z = _f32(rng.standard_normal((N, C)) * 2)
    p = _f32(np.exp(z) / np.exp(z).sum(-1, keepdims=True))
    idx = rng.integers(0, C, N)
    return {
        "z": z,
        "p": p,
        "idx": idx,
        "onehot": np.eye(C)[idx],
        "soft": _f32(rng.dirichlet(np.ones(C), N)),
        "bin_t": _f32(rng.random((N, C))),
        "bin_p": _f32(rng.uniform(0.05, 0.95, (N, C))),
    }


def _call(spec_name: str, dtype: str = "float32", reduction: str = "mean",
          grad: bool = True) -> Call:
    """A small canonical call fitting the entry point (its op and its target format)."""
    op, d = SPECS[spec_name].op, _inputs()
    opts = {"reduction": reduction}
    if op in ACTIVATIONS:
        return Call(op, d["z"], dtype, grad_output=np.ones((N, C)) if grad else None)
    go = None
    if grad:
        go = np.array(1.0) if reduction != "none" else np.linspace(0.5, 1.5, N)
    if op == "cross_entropy":
        sparse_or_onehot = "sparse" in spec_name or "Sparse" in spec_name
        if sparse_or_onehot:
            return Call(op, d["z"], dtype, target=d["idx"], target_kind="index",
                        options=opts, grad_output=go)
        return Call(op, d["z"], dtype, target=d["soft"], target_kind="probs", options=opts,
                    grad_output=go)
    if op == "categorical_crossentropy":
        tgt = d["onehot"] if ("sparse" in spec_name or "Sparse" in spec_name) else d["soft"]
        return Call(op, d["p"], dtype, target=tgt, target_kind="probs", options=opts,
                    grad_output=go)
    x = d["z"] if op == "binary_cross_entropy_with_logits" else d["bin_p"]
    if reduction == "none" and grad and spec_name.startswith("tf.nn."):
        go = np.linspace(0.5, 1.5, N * C).reshape(N, C)  # Keras binary: (N,), mean over C
    return Call(op, x, dtype, target=d["bin_t"], options=opts, grad_output=go)


def _reference(call: Call) -> tuple[np.ndarray, np.ndarray | None]:
    """The reference's forward value and gradient for a call."""
    ref = pytest.importorskip("lossconform.reference")
    fwd, vjp = ref.OPS[call.op]
    args: dict = {}
    op = OP[call.op]
    if op.family == ACTIVATION:
        if op.class_axis:
            args["axis"] = call.axis
    else:
        args = {k: v for k, v in call.options.items() if v is not None}
        if op.family == CATEGORICAL:
            args["axis"] = call.axis
        if "target_kind" in inspect.signature(fwd).parameters:
            args["target_kind"] = call.target_kind
    pos = (call.x,) if call.target is None else (call.x, call.target)
    value = np.asarray(fwd(*pos, **args), dtype=np.float64)
    grad = None
    if call.grad_output is not None:
        grad = np.asarray(vjp(*pos, **args, grad_output=call.grad_output), dtype=np.float64)
    return value, grad


def _close(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(actual, expected, rtol=F32_RTOL, atol=F32_ATOL)


# -- plumbing -------------------------------------------------------------------------------

def test_import_does_not_import_tensorflow() -> None:
    code = ("import sys, lossconform.adapters.tensorflow as m; "
            "assert m.ADAPTER.framework == 'tensorflow'; "
            "bad = [k for k in ('tensorflow', 'keras') if k in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_adapter_contract_and_discovery() -> None:
    assert isinstance(ADAPTER, Adapter)
    assert load_adapters()["tensorflow"] is ADAPTER
    assert "keras" in ADAPTER.version()
    assert "cpu" in ADAPTER.devices()


def test_entry_point_specs() -> None:
    specs = ADAPTER.entry_points()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    for s in specs:
        assert s.op in OPS and s.notes
        assert set(s.dtypes) <= set(DTYPES)


def test_convention_sources_cover_every_topic_and_pins_exist() -> None:
    from lossconform.probes import TOPICS

    assert set(TOPICS) <= set(ADAPTER.convention_sources)
    for topic, text in ADAPTER.convention_sources.items():
        assert "https://" in text, topic
    assert ADAPTER.convention_pins, "the plug-in pins its observed conventions"


# -- every entry point, every dtype -----------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_shapes_and_dtypes(name: str, dtype: str) -> None:
    if dtype not in SPECS[name].dtypes:  # the dtype=None classes in float32 are the others
        reason = ADAPTER.unsupported(name, _call(name, dtype))
        assert isinstance(reason, str) and dtype in reason
        return
    for reduction in ("none", "mean", "sum"):
        call = _call(name, dtype, reduction)
        assert ADAPTER.unsupported(name, call) is None
        ev = ADAPTER.evaluate(name, call)
        assert ev.forward.dtype == ("float32" if name in NO_DTYPE else dtype)
        assert ev.forward.value.dtype == np.float64
        if call.op in ACTIVATIONS:
            assert ev.forward.value.shape == (N, C)
        elif reduction == "none":
            elementwise = OP[call.op].family == BINARY and name.startswith("tf.nn.")
            assert ev.forward.value.shape == ((N, C) if elementwise else (N,))
        else:
            assert ev.forward.value.shape == ()
        assert ev.gradient is not None
        assert ev.gradient.value.shape == call.x.shape and ev.gradient.dtype == dtype
        if call.op in ACTIVATIONS:
            break


@pytest.mark.parametrize("name", sorted(SPECS))
def test_float32_mean_agrees_with_reference(name: str) -> None:
    """Without weights, 'mean' is the same in every entry point and in the reference.

    Keras on probabilities renormalises p / sum(p) (and the sparse form takes log p into a
    softmax, which does the same): on normalised p the forward is unchanged, but the gradient
    gains d/dp_c log(sum p) = sum(t)/sum(p) per item (times its cotangent, here 1/N).
    """
    # the dtype=None classes take float64 here (float32 is not declared for them) and
    # compute in float32, so the float32 closeness applies to them as well
    call = _call(name, "float64" if name in NO_DTYPE else "float32")
    ev = ADAPTER.evaluate(name, call)
    value, grad = _reference(call)
    if call.op == "categorical_crossentropy":
        grad = grad + (call.target.sum(-1) / call.x.sum(-1) / N)[:, None]
    _close(ev.forward.value, value)
    _close(ev.gradient.value, grad)


@pytest.mark.parametrize("name", NO_DTYPE)
def test_loss_class_without_dtype_computes_in_float32(name: str) -> None:
    """Built without dtype, the class converts float64 inputs to float32: the loss comes back
    as float32 (equal to the float32-input result of the dtype='float32' class), the gradient
    in float64 but with float32 values; the class with dtype='float64' stays in float64."""
    call = _call(name, "float64", "mean")
    assert "dtype=" not in ADAPTER.repro(name, call).split("loss_fn = ")[1].split("\n")[0]
    ev = ADAPTER.evaluate(name, call)
    assert (ev.forward.dtype, ev.gradient.dtype) == ("float32", "float64")
    assert np.array_equal(_f32(ev.gradient.value), ev.gradient.value)
    with_dtype = name.replace(", dtype=None", "")
    ev64 = ADAPTER.evaluate(with_dtype, call)
    assert ev64.forward.dtype == "float64"
    value, _ = _reference(call)
    assert abs(ev64.forward.value - value) <= 1e-13 * abs(value)
    assert abs(ev.forward.value - value) > 1e-12 * abs(value)  # float32 accuracy only
    c32 = Call(call.op, _f32(call.x), "float32", target=call.target if call.target_kind ==
               "index" else _f32(call.target), target_kind=call.target_kind,
               options=call.options, grad_output=call.grad_output)
    ev32 = ADAPTER.evaluate(with_dtype, c32)
    np.testing.assert_allclose(ev.forward.value, ev32.forward.value, rtol=1e-6)
    np.testing.assert_allclose(ev.gradient.value, ev32.gradient.value, rtol=1e-6, atol=1e-7)


# -- mappings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "tf.nn.softmax_cross_entropy_with_logits",
    "tf.nn.sparse_softmax_cross_entropy_with_logits",
    K + "categorical_crossentropy(from_logits=True)",
    K + "sparse_categorical_crossentropy(from_logits=True)",
    K + "CategoricalCrossentropy(from_logits=True)",
    K + "SparseCategoricalCrossentropy(from_logits=True)",
])
def test_class_axis_1_index_targets(name: str) -> None:
    """(N, C, d) with axis=1: one-hot along axis 1, or a transpose to classes-last."""
    rng = np.random.default_rng(7)
    x = _f32(rng.standard_normal((2, C, 3)))
    t = rng.integers(0, C, (2, 3))
    go = _f32(rng.random((2, 3)))
    call = Call("cross_entropy", x, "float32", axis=1, target=t, target_kind="index",
                options={"reduction": "none"}, grad_output=go)
    assert ADAPTER.unsupported(name, call) is None
    ev = ADAPTER.evaluate(name, call)
    value, grad = _reference(call)
    _close(ev.forward.value, value)
    _close(ev.gradient.value, grad)


def test_keras_sparse_class_ignore_class_mean_matches_reference() -> None:
    d = _inputs()
    t = d["idx"].copy()
    t[1] = -1
    name = K + "SparseCategoricalCrossentropy(from_logits=True)"
    call = Call("cross_entropy", d["z"], "float32", target=t, target_kind="index",
                options={"reduction": "mean", "ignore_index": -1}, grad_output=np.array(1.0))
    ev = ADAPTER.evaluate(name, call)
    value, grad = _reference(call)
    _close(ev.forward.value, value)
    _close(ev.gradient.value, grad)


def test_keras_class_sample_weight_sum_and_label_smoothing() -> None:
    d = _inputs()
    sw = np.array([0.5, 2.0, 1.0])
    name = K + "CategoricalCrossentropy(from_logits=True)"
    call = Call("cross_entropy", d["z"], "float32", target=d["idx"], target_kind="index",
                options={"reduction": "sum", "sample_weight": sw, "label_smoothing": 0.1},
                grad_output=np.array(1.0))
    ev = ADAPTER.evaluate(name, call)
    value, grad = _reference(call)
    _close(ev.forward.value, value)
    _close(ev.gradient.value, grad)


def test_pos_weight_and_binary_row_weight() -> None:
    d = _inputs()
    pw = np.array([1.0, 2.0, 0.5, 3.0])
    call = Call("binary_cross_entropy_with_logits", d["z"], "float32", target=d["bin_t"],
                options={"reduction": "none", "pos_weight": pw},
                grad_output=np.ones((N, C)))
    ev = ADAPTER.evaluate("tf.nn.weighted_cross_entropy_with_logits", call)
    value, grad = _reference(call)
    _close(ev.forward.value, value)
    _close(ev.gradient.value, grad)
    # An element weight constant along the last axis -> Keras sample_weight; 'mean' agrees.
    w = np.array([[0.5], [2.0], [1.0]])
    call = Call("binary_cross_entropy_with_logits", d["z"], "float32", target=d["bin_t"],
                options={"reduction": "mean", "weight": w}, grad_output=np.array(1.0))
    ev = ADAPTER.evaluate(K + "BinaryCrossentropy(from_logits=True)", call)
    value, grad = _reference(call)
    _close(ev.forward.value, value)
    _close(ev.gradient.value, grad)


def test_keras_binary_sum_is_sum_of_row_means() -> None:
    """Kept visible, not hidden: Keras averages over the last axis, so 'sum' is ref sum / C."""
    call = _call(K + "binary_crossentropy(from_logits=True)", reduction="sum", grad=False)
    ev = ADAPTER.evaluate(K + "binary_crossentropy(from_logits=True)", call)
    value, _ = _reference(call)
    _close(ev.forward.value, value / C)


@pytest.mark.parametrize("name", [K + "binary_crossentropy(from_logits=False)",
                                  K + "BinaryCrossentropy(from_logits=True)"])
def test_keras_binary_none_with_canonical_cotangent_gives_forward_only(name: str) -> None:
    """'none' is (N,) in Keras; a cotangent of x's shape cannot apply, so no gradient."""
    call = _call(name, reduction="none", grad=False)
    call = Call(call.op, call.x, call.dtype, target=call.target, options=call.options,
                grad_output=np.ones((N, C)))
    assert ADAPTER.unsupported(name, call) is None
    ev = ADAPTER.evaluate(name, call)
    assert ev.forward.value.shape == (N,) and ev.gradient is None
    assert "tape.gradient" not in ADAPTER.repro(name, call)


# -- unsupported ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,op,change", [
    ("tf.nn.softmax_cross_entropy_with_logits", "cross_entropy", {"weight": np.ones(C)}),
    ("tf.nn.softmax_cross_entropy_with_logits", "cross_entropy", {"ignore_index": 0}),
    ("tf.nn.sparse_softmax_cross_entropy_with_logits", "cross_entropy", {"kind": "probs"}),
    ("tf.nn.sigmoid_cross_entropy_with_logits", "binary_cross_entropy_with_logits",
     {"pos_weight": np.ones(C)}),
    (K + "categorical_crossentropy(from_logits=True)", "cross_entropy",
     {"sample_weight": np.ones(N)}),
    (K + "CategoricalCrossentropy(from_logits=True)", "cross_entropy", {"weight": np.ones(C)}),
    (K + "SparseCategoricalCrossentropy(from_logits=True)", "cross_entropy",
     {"label_smoothing": 0.1}),
    (K + "sparse_categorical_crossentropy(from_logits=False)", "categorical_crossentropy",
     {"kind": "soft"}),
    (K + "BinaryCrossentropy(from_logits=False)", "binary_cross_entropy",
     {"weight": np.arange(1.0, C + 1)}),
    ("tf.nn.softmax", "sigmoid", {}),
    ("tf.nn.no_such_function", "softmax", {}),
])
def test_unsupported_reasons(name: str, op: str, change: dict) -> None:
    d = _inputs()
    opts = {k: v for k, v in change.items() if k in ("weight", "pos_weight", "sample_weight",
                                                      "ignore_index", "label_smoothing")}
    opts["reduction"] = "mean"
    if op == "cross_entropy":
        probs = change.get("kind") == "probs"
        call = Call(op, d["z"], "float32", target=d["soft"] if probs else d["idx"],
                    target_kind="probs" if probs else "index", options=opts)
    elif op == "categorical_crossentropy":
        call = Call(op, d["p"], "float32", target=d["soft"], target_kind="probs", options=opts)
    else:
        call = Call(op, d["bin_p"], "float32", target=d["bin_t"], options=opts)
    reason = ADAPTER.unsupported(name, call)
    assert isinstance(reason, str) and reason.strip()


# -- repro --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "tf.nn.log_softmax",
    "tf.nn.sparse_softmax_cross_entropy_with_logits",
    K + "sparse_categorical_crossentropy(from_logits=False)",
    K + "SparseCategoricalCrossentropy(from_logits=True)",
    K + "BinaryCrossentropy(from_logits=False)",
])
def test_repro_reproduces_evaluate(name: str) -> None:
    call = _call(name, reduction="none" if "Sparse" in name else "mean")
    if call.op == "binary_cross_entropy":
        call = Call(call.op, call.x, call.dtype, target=call.target,
                    options={"reduction": "mean", "weight": np.array([[1.0], [2.0], [0.5]])},
                    grad_output=call.grad_output)
    ev = ADAPTER.evaluate(name, call)
    src = ADAPTER.repro(name, call)
    ns = {"x": call.x, "target": call.target, "weight": call.option("weight"),
          "pos_weight": call.option("pos_weight"),
          "sample_weight": call.option("sample_weight"), "grad_output": call.grad_output}
    exec(compile(src, "<repro>", "exec"), ns)  # noqa: S102 - the snippet is ours
    np.testing.assert_array_equal(np.asarray(ns["out"].numpy(), np.float64), ev.forward.value)
    np.testing.assert_array_equal(np.asarray(ns["grad"].numpy(), np.float64), ev.gradient.value)
