"""The TensorFlow / Keras plug-in's facets: each declared facet is honoured by ``evaluate`` AND
``repro`` (the snippet runs on its own and gives the same numbers), and a facet that does not
apply to an entry point makes the call unsupported with a reason.

Expected values come from the NumPy reference (never from TensorFlow); where a facet makes the
framework compute something else than the canonical call, the expected value is the reference
of what the call became (the axis the framework's default picks, the arguments swapped).
Framework facts used here: tf.nn.softmax / log_softmax treat axis=None (their default) as -1
(tensorflow/python/ops/nn_ops.py at v2.21.0, softmax_v2 L3876-L3960: "if axis is None:
axis = -1"); Keras losses default to axis=-1, from_logits=False and, for the loss classes,
reduction="sum_over_batch_size" (keras/src/losses/losses.py at v3.15.1).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lossconform import reference as R
from lossconform.contract import Call
from lossconform.adapters.tensorflow import ADAPTER
from lossconform.adapters.tensorflow import provenance as P
from lossconform.adapters.tensorflow.plans import MODES
from lossconform.dtypes import round_to

pytestmark = [pytest.mark.framework("tensorflow"), pytest.mark.skipif(
    ADAPTER.available() is not None, reason=f"tensorflow adapter: {ADAPTER.available()}"
)]

K = "tf.keras.losses."
CCE, CCE_CLS = K + "categorical_crossentropy(from_logits=False)", \
    K + "CategoricalCrossentropy(from_logits=False)"
SCCE, SCCE_CLS = K + "sparse_categorical_crossentropy(from_logits=False)", \
    K + "SparseCategoricalCrossentropy(from_logits=False)"
BCE, BCE_CLS = K + "binary_crossentropy(from_logits=False)", \
    K + "BinaryCrossentropy(from_logits=False)"
N, C = 4, 3
RNG = np.random.default_rng(1234)
Z = round_to(RNG.normal(0, 2, (N, C)), "float32")
P3 = round_to(np.exp(Z) / np.exp(Z).sum(-1, keepdims=True), "float32")
IDX = np.array([0, 2, 1, 2])
ONEHOT = np.eye(C)[IDX]
SOFT = round_to(RNG.dirichlet(np.ones(C), N), "float32")
BIN_P = round_to(RNG.uniform(0.05, 0.95, (N, C)), "float32")
BIN_T = round_to(RNG.integers(0, 2, (N, C)).astype(float), "float32")


def _repro_values(name: str, call: Call) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Run ``repro`` in a fresh namespace holding the suite's arrays; (out, grad, source)."""
    src = ADAPTER.repro(name, call)
    assert not src.startswith("# unsupported"), src
    ns: dict[str, Any] = {"x": call.x, "target": call.target, "grad_output": call.grad_output,
                          **{k: call.option(k) for k in ("weight", "pos_weight",
                                                         "sample_weight")}}
    exec(compile(src, f"<repro of {name}>", "exec"), ns)  # noqa: S102
    grad = ns.get("grad")
    return (ADAPTER.to_numpy(ns["out"]), None if grad is None else ADAPTER.to_numpy(grad), src)


def _same(name: str, call: Call) -> tuple[Any, str]:
    """evaluate and repro agree (to 4 ULP of the output dtype, NaN where NaN); the evaluation
    and the snippet."""
    ev = ADAPTER.evaluate(name, call)
    out, grad, src = _repro_values(name, call)
    eps = float(np.finfo(np.float32).eps) if ev.forward.dtype != "float64" else 2.0 ** -52
    np.testing.assert_allclose(out, ev.forward.value, rtol=4 * eps, atol=0, equal_nan=True)
    if ev.gradient is not None:
        assert grad is not None, "repro gives no gradient where evaluate does"
        np.testing.assert_allclose(grad, ev.gradient.value, rtol=4 * eps, atol=1e-30,
                                   equal_nan=True)
    return ev, src


def _loss_call(name: str, facets: dict, reduction: str = "mean", dtype: str = "float32",
               **kw: Any) -> Call:
    """A small call fitting ``name`` (its op and target format), with ``facets``."""
    spec = ADAPTER.spec(name)
    go = np.array(1.0) if reduction != "none" else None
    if spec.op == "binary_cross_entropy":
        return Call(spec.op, BIN_P, dtype, target=BIN_T, target_kind="probs",
                    options={"reduction": reduction}, grad_output=go, facets=facets, **kw)
    if spec.op == "binary_cross_entropy_with_logits":
        return Call(spec.op, Z, dtype, target=BIN_T, target_kind="probs",
                    options={"reduction": reduction}, grad_output=go, facets=facets, **kw)
    x = P3 if spec.op == "categorical_crossentropy" else Z
    if "index" in spec.capabilities.target_kinds and "probs" not in spec.capabilities.target_kinds:
        return Call(spec.op, x, dtype, target=IDX, target_kind="index",
                    options={"reduction": reduction}, grad_output=go, facets=facets, **kw)
    tgt = ONEHOT if "sparse" in name.lower() else SOFT
    return Call(spec.op, x, dtype, target=tgt, target_kind="probs",
                options={"reduction": reduction}, grad_output=go, facets=facets, **kw)


def test_facets_declared() -> None:
    f = ADAPTER.facets
    assert set(f) == {"axis_arg", "arg_dtypes", "swap_args", "omit_args", "x_source", "mode"}
    assert set(f["axis_arg"]) == {"omitted", "none"}
    assert set(f["arg_dtypes"]) == {"target", "weight", "pos_weight", "sample_weight"}
    assert True in f["swap_args"]
    assert set(f["mode"]) == {"eager", "tf.function", "tf.function(jit_compile=True)"}
    for v in ("constant", "keras.ops.softmax", "tf.function:keras.ops.softmax",
              "keras.layers.Softmax", "keras.activations.softmax", "tf.nn.softmax",
              "tf.function:tf.nn.softmax", "keras.ops.sigmoid", "keras.activations.sigmoid",
              "tf.math.sigmoid", "tf.nn.sigmoid", 'keras.layers.Activation("sigmoid")',
              "tf.function:constant"):
        assert v in f["x_source"], v


# -- axis_arg ---------------------------------------------------------------------------------
X3 = round_to(RNG.normal(0, 2, (2, 3, 5)), "float32")


@pytest.mark.parametrize("mode", ["omitted", "none"])
@pytest.mark.parametrize("name,op", [("tf.nn.softmax", "softmax"),
                                     ("tf.nn.log_softmax", "log_softmax")])
def test_axis_arg_activation(name: str, op: str, mode: str) -> None:
    call = Call(op, X3, "float32", axis=1, grad_output=np.ones(X3.shape),
                facets={"axis_arg": mode})
    ev, src = _same(name, call)
    assert ", axis=1" not in src and (("axis=None" in src) == (mode == "none"))
    # the default (and None) is the last axis, not the call's axis 1
    want = R.softmax(X3, axis=-1) if op == "softmax" else R.log_softmax(X3, axis=-1)
    np.testing.assert_allclose(ev.forward.value, want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name", ["tf.nn.softmax_cross_entropy_with_logits",
                                  K + "categorical_crossentropy(from_logits=True)",
                                  K + "CategoricalCrossentropy(from_logits=True)",
                                  K + "sparse_categorical_crossentropy(from_logits=True)",
                                  K + "SparseCategoricalCrossentropy(from_logits=True)"])
def test_axis_arg_omitted_loss(name: str) -> None:
    """The class axis left out: the loss runs over the last axis of the tensors as given (no
    axis moved, no axis keyword): on (2, 3, 5) input with class axis 1, the per-item output
    is (2, 3) (the targets here fit the last axis)."""
    spec = ADAPTER.spec(name)
    sparse = "index" in spec.capabilities.target_kinds and "probs" not in \
        spec.capabilities.target_kinds
    tgt = np.zeros((2, 3), dtype=np.int64) if sparse else round_to(
        RNG.dirichlet(np.ones(5), (2, 3)), "float32")
    call = Call("cross_entropy", X3, "float32", axis=1, target=tgt,
                target_kind="index" if sparse else "probs", options={"reduction": "none"},
                facets={"axis_arg": "omitted"})
    ev, src = _same(name, call)
    assert ev.forward.value.shape == (2, 3)
    lines = [ln for ln in src.splitlines() if "out = " in ln or "loss_fn = " in ln]
    assert lines and not any("axis" in ln for ln in lines), lines


@pytest.mark.parametrize("name", ["tf.math.sigmoid", "tf.nn.sparse_softmax_cross_entropy_with_logits",
                                  "tf.nn.sigmoid_cross_entropy_with_logits", BCE])
def test_axis_arg_unsupported(name: str) -> None:
    spec = ADAPTER.spec(name)
    call = _loss_call(name, {"axis_arg": "omitted"}) if spec.op != "sigmoid" else Call(
        "sigmoid", Z, "float32", facets={"axis_arg": "omitted"})
    why = ADAPTER.unsupported(name, call)
    assert why and ("axis" in why)


# -- arg_dtypes -------------------------------------------------------------------------------
@pytest.mark.parametrize("name,arg,opt", [
    (K + "categorical_crossentropy(from_logits=True)", "target", None),
    (K + "CategoricalCrossentropy(from_logits=True)", "sample_weight", "sample_weight"),
    (K + "BinaryCrossentropy(from_logits=False)", "weight", "weight"),
    ("tf.nn.weighted_cross_entropy_with_logits", "pos_weight", "pos_weight"),
    ("tf.nn.sparse_softmax_cross_entropy_with_logits", "target", None),
])
def test_arg_dtypes(name: str, arg: str, opt: str | None) -> None:
    dt = "int32" if name.startswith("tf.nn.sparse") else "float64"
    extra = {}
    if opt == "sample_weight":
        extra = {"sample_weight": np.linspace(0.5, 1.5, N)}
    elif opt == "weight":
        extra = {"weight": np.ones((N, C)) * 0.5}
    elif opt == "pos_weight":
        extra = {"pos_weight": np.array([0.5, 1.0, 2.0])}
    base = _loss_call(name, {"arg_dtypes": {arg: dt}})
    call = base.replace(options={**base.options, **extra})
    assert ADAPTER.unsupported(name, call) is None
    if name == "tf.nn.weighted_cross_entropy_with_logits":
        # TF multiplies pos_weight into the float32 logits' terms without a cast: it raises,
        # and the snippet raises the same way (what a dtype probe records)
        with pytest.raises(Exception) as ev_exc:
            ADAPTER.evaluate(name, call)
        with pytest.raises(type(ev_exc.value)):
            _repro_values(name, call)
        assert f"dtype={dt!r}" in ADAPTER.repro(name, call)
        return
    ev, src = _same(name, call)
    assert f"dtype={dt!r}" in src
    plain = ADAPTER.evaluate(name, call.replace(facets={}))
    assert ev.forward.dtype in ("float32", "float64") and plain.forward.dtype == "float32"


def test_arg_dtypes_one_hot_target() -> None:
    """Index targets one-hot encoded for a probability-target loss: the one-hot tensor (the
    argument the loss gets) is built in the named dtype."""
    name = "tf.nn.softmax_cross_entropy_with_logits"
    call = Call("cross_entropy", Z, "float32", target=IDX, target_kind="index",
                options={"reduction": "none"}, facets={"arg_dtypes": {"target": "float32"}})
    assert "tf.one_hot(t, 3, axis=-1, dtype='float32')" in ADAPTER.repro(name, call)
    _same(name, call)


def test_arg_dtypes_unsupported() -> None:
    call = _loss_call(K + "CategoricalCrossentropy(from_logits=True)",
                      {"arg_dtypes": {"sample_weight": "float64"}})
    assert "passes no sample_weight" in ADAPTER.unsupported(
        K + "CategoricalCrossentropy(from_logits=True)", call)
    act = Call("softmax", Z, "float32", facets={"arg_dtypes": {"target": "float64"}})
    assert "takes no target" in ADAPTER.unsupported("tf.nn.softmax", act)
    assert "not a dtype" in ADAPTER.unsupported(
        K + "categorical_crossentropy(from_logits=True)",
        _loss_call(K + "categorical_crossentropy(from_logits=True)",
                   {"arg_dtypes": {"target": "complex64"}}))


# -- swap_args --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [K + "categorical_crossentropy(from_logits=True)",
                                  K + "CategoricalCrossentropy(from_logits=True)",
                                  "tf.nn.softmax_cross_entropy_with_logits"])
def test_swap_args(name: str) -> None:
    """Swapped: the input in the target's slot and the target in the input's, so the loss is
    the cross-entropy of the logits SOFT with the 'targets' Z: the reference's
    -sum Z log_softmax(SOFT), per item."""
    call = _loss_call(name, {"swap_args": True}, reduction="none")
    ev, src = _same(name, call)
    want = -np.sum(Z * R.log_softmax(SOFT, axis=-1), axis=-1)
    np.testing.assert_allclose(ev.forward.value, want, rtol=1e-5, atol=1e-5)


def test_swap_args_gradient_and_unsupported() -> None:
    name = BCE
    call = _loss_call(name, {"swap_args": True})
    _, src = _same(name, call)
    assert "binary_crossentropy(x, t" in src
    assert "no arguments to swap" in ADAPTER.unsupported(
        "tf.nn.softmax", Call("softmax", Z, "float32", facets={"swap_args": True}))


# -- omit_args --------------------------------------------------------------------------------
def test_omit_reduction() -> None:
    cls = K + "CategoricalCrossentropy(from_logits=True)"
    call = _loss_call(cls, {"omit_args": ("reduction",)}, reduction="none")
    ev, src = _same(cls, call)
    assert "reduction=" not in src and ev.forward.value.shape == ()
    ref, _ = R.evaluate(_loss_call(cls, {}, reduction="mean").replace(facets={}))
    np.testing.assert_allclose(ev.forward.value, ref, rtol=1e-5)  # sum_over_batch_size
    fn = K + "categorical_crossentropy(from_logits=True)"
    ev, src = _same(fn, _loss_call(fn, {"omit_args": ("reduction",)}, reduction="mean"))
    assert "reduce_mean" not in src and ev.forward.value.shape == (N,)


def test_omit_from_logits() -> None:
    name = K + "categorical_crossentropy(from_logits=True)"
    call = _loss_call(name, {"omit_args": ("from_logits",)}).replace(x=P3)
    ev, src = _same(name, call)
    assert "from_logits" not in src
    probs = ADAPTER.evaluate(CCE, call.replace(op="categorical_crossentropy", facets={}))
    np.testing.assert_array_equal(ev.forward.value, probs.forward.value)  # the default False
    assert "no from_logits" in ADAPTER.unsupported(
        "tf.nn.softmax_cross_entropy_with_logits",
        _loss_call("tf.nn.softmax_cross_entropy_with_logits", {"omit_args": ("from_logits",)}))


# -- mode -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [m for m in MODES if m != "eager"])
@pytest.mark.parametrize("name", [s.name for s in ADAPTER.entry_points()
                                  if "float32" in s.dtypes])
def test_mode(name: str, mode: str) -> None:
    """Every float32 entry point runs in each compiled mode (XLA included, on CPU), the repro
    reproduces it, and the values stay within float32 rounding of the eager ones."""
    spec = ADAPTER.spec(name)
    if spec.op in ("softmax", "log_softmax", "sigmoid", "log_sigmoid"):
        call = Call(spec.op, Z, "float32", grad_output=np.ones((N, C)), facets={"mode": mode})
    else:
        call = _loss_call(name, {"mode": mode})
    ev, src = _same(name, call)
    assert src.count("@tf.function") == 1 and (("jit_compile=True" in src) == ("jit" in mode))
    eager = ADAPTER.evaluate(name, call.replace(facets={}))
    np.testing.assert_allclose(ev.forward.value, eager.forward.value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ev.gradient.value, eager.gradient.value, rtol=1e-5, atol=1e-6)


# -- x_source ---------------------------------------------------------------------------------
def _source_entry_points(value: str) -> list[str]:
    kind = P.parse(value)[0].kind
    return {P.SOFTMAX: [CCE, CCE_CLS, SCCE, SCCE_CLS], P.SIGMOID: [BCE, BCE_CLS],
            P.CONSTANT: [CCE, BCE, "tf.nn.softmax_cross_entropy_with_logits"]}[kind]


@pytest.mark.parametrize("value", P.VALUES)
def test_x_source(value: str) -> None:
    """Each source on each entry point it fits: evaluate and repro agree, the snippet makes x
    with the source (inside one tf.function for the prefixed values) and watches it; a
    moderate input gives the reference's loss whether or not Keras finds the logits."""
    source, graph = P.parse(value)
    for name in _source_entry_points(value):
        call = _loss_call(name, {"x_source": value})
        assert ADAPTER.unsupported(name, call) is None, (name, ADAPTER.unsupported(name, call))
        ev, src = _same(name, call)
        assert ("@tf.function" in src) == graph
        if source.kind != P.CONSTANT:
            assert f"x = {P.source_expr(source, -1, 'float32')}" in src and "z = tf.constant(" in src
        ref, _ = R.evaluate(call.replace(facets={}))
        np.testing.assert_allclose(ev.forward.value, ref, rtol=2e-5)


def test_x_source_float16_layer_dtype() -> None:
    """Keras layers are built with the call's dtype: the loss sees float16 probabilities."""
    call = _loss_call(CCE, {"x_source": "keras.layers.Softmax"}, dtype="float16").replace(
        x=round_to(P3, "float16"))
    ev, src = _same(CCE, call)
    assert "dtype='float16'" in src and ev.forward.dtype == "float16"


def test_x_source_unsupported() -> None:
    cases = [
        (BCE, _loss_call(BCE, {"x_source": "keras.ops.softmax"}), "makes categorical"),
        (CCE, _loss_call(CCE, {"x_source": "tf.math.sigmoid"}), "makes binary"),
        (K + "categorical_crossentropy(from_logits=True)",
         _loss_call(K + "categorical_crossentropy(from_logits=True)",
                    {"x_source": "keras.ops.softmax"}), "takes categorical logits"),
        (CCE, _loss_call(CCE, {"x_source": "keras.ops.softmax"}).replace(x=P3 * 0.5),
         "sum to 1"),
        (CCE, _loss_call(CCE, {"x_source": "tf.function:tf.nn.softmax", "mode": "eager"}),
         "sets the execution mode"),
    ]
    for name, call, words in cases:
        why = ADAPTER.unsupported(name, call)
        assert why and words in why, (name, why)
        assert ADAPTER.repro(name, call).startswith("# unsupported")


def test_x_source_with_mode_facet() -> None:
    """An unprefixed source with the mode facet runs in that mode (XLA included): Keras finds
    tf.nn.softmax's logits there too (the gradient wrt the probabilities is then zero)."""
    call = _loss_call(CCE, {"x_source": "tf.nn.softmax", "mode": "tf.function(jit_compile=True)"})
    ev, src = _same(CCE, call)
    assert "jit_compile=True" in src
    assert np.all(ev.gradient.value == 0)
    eager = ADAPTER.evaluate(CCE, call.replace(facets={"x_source": "tf.nn.softmax"}))
    assert np.any(eager.gradient.value != 0)
