"""The Keras plug-in's plans: one plan drives ``evaluate`` (in the backend's worker) and
``repro`` (a snippet for a fresh interpreter); the facets it declares are honoured, those that
do not apply are unsupported with a reason. Expected values come from the NumPy reference;
Keras facts: keras.ops.softmax defaults to axis=-1, the losses to from_logits=False
(keras/src/ops/nn.py, keras/src/losses/losses.py at v3.15.1)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lossconform import reference as R
from lossconform.adapters.keras import KERAS_JAX, KERAS_TORCH
from lossconform.cases import BY_ID
from lossconform.contract import Call
from lossconform.harness.check import repro_snippet

ADAPTERS = {"keras-jax": KERAS_JAX, "keras-torch": KERAS_TORCH}


def _params():
    return [pytest.param(a, id=name, marks=[
        pytest.mark.framework(name),
        pytest.mark.skipif(a.available() is not None, reason=f"{name}: {a.available()}")])
        for name, a in ADAPTERS.items()]


_RUN = """
import json, sys, contextlib, io
src = open(sys.argv[1]).read()
ns = {}
with contextlib.redirect_stdout(io.StringIO()):
    exec(compile(src, "<repro>", "exec"), ns)
from lossconform.plugins import load_adapters
a = load_adapters()[sys.argv[2]]
print(json.dumps({"out": a.to_numpy(ns["out"]).ravel().tolist(),
                  "grad": a.to_numpy(ns["grad"]).ravel().tolist(), "dtype": str(ns["out"].dtype)}))
"""


@pytest.mark.parametrize("adapter", _params())
def test_repro_in_a_fresh_interpreter_gives_evaluate_s_values(adapter, tmp_path):
    case = BY_ID["cross_entropy-moderate-16x10-index-reduction_mean"]
    call = case.call("float32", seed=0, device="cpu")
    ep = f"keras.losses.CategoricalCrossentropy(from_logits=True)@{adapter.backend}"
    ev = adapter.evaluate(ep, call)
    snippet = repro_snippet(case, ep, adapter, call, 0)
    assert f'os.environ["KERAS_BACKEND"] = "{adapter.backend}"' in snippet
    (tmp_path / "repro.py").write_text(snippet)
    (tmp_path / "run.py").write_text(_RUN)
    out = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path / "repro.py"),
                          adapter.framework], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert "float32" in got["dtype"]
    np.testing.assert_array_equal(np.array(got["out"]), ev.forward.value.ravel())
    np.testing.assert_allclose(np.array(got["grad"]), ev.gradient.value.ravel(), rtol=0,
                               atol=4 * np.finfo(np.float32).eps * np.abs(ev.gradient.value).max())


@pytest.mark.parametrize("adapter", _params())
def test_axis_arg_omitted_means_last_axis(adapter):
    x = np.array([[[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]])
    call = Call("softmax", x, "float64", axis=1, grad_output=np.ones_like(x),
                facets={"axis_arg": "omitted"})
    ev = adapter.evaluate(f"keras.ops.softmax@{adapter.backend}", call)
    np.testing.assert_allclose(ev.forward.value, R.softmax(x, axis=-1), rtol=1e-14)


@pytest.mark.parametrize("adapter", _params())
def test_swapped_arguments_are_passed_swapped(adapter):
    x = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    t = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    call = Call("categorical_crossentropy", x, "float64", target=t, target_kind="probs",
                options={"reduction": "none"}, facets={"swap_args": True})
    ep = f"keras.losses.categorical_crossentropy(from_logits=False)@{adapter.backend}"
    ev = adapter.evaluate(ep, call)
    swapped = np.clip(t / t.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(ev.forward.value, -np.sum(x * np.log(swapped), -1), rtol=1e-6)


def test_modes_per_backend():
    assert KERAS_JAX.facets["mode"] == ("jit", "eager")
    assert KERAS_TORCH.facets["mode"] == ("eager",)
    call = Call("softmax", np.zeros((2, 3)), "float32", facets={"mode": "jit"})
    assert "mode" in KERAS_TORCH.unsupported("keras.ops.softmax@torch", call)
    call = Call("binary_cross_entropy", np.full((2, 3), 0.5), "float32",
                target=np.zeros((2, 3)), facets={"axis_arg": "omitted"})
    reason = KERAS_JAX.unsupported("keras.losses.binary_crossentropy(from_logits=False)@jax", call)
    assert "averages over" in reason
    assert [s.mode for s in KERAS_JAX.settings()] == ["eager"]
    assert KERAS_TORCH.settings() == ()


@pytest.mark.parametrize("adapter", _params()[:1])
def test_jax_eager_and_jit_agree_with_the_reference(adapter):
    x = np.array([[0.5, -1.0, 2.0, 0.25], [1.5, 0.75, -0.5, -2.0]])
    for mode in ("jit", "eager"):
        call = Call("log_softmax", x, "float64", grad_output=np.ones_like(x),
                    facets={"mode": mode})
        ev = adapter.evaluate("keras.ops.log_softmax@jax", call)
        fwd, grad = R.evaluate(call)
        np.testing.assert_allclose(ev.forward.value, fwd, rtol=1e-14)
        np.testing.assert_allclose(ev.gradient.value, grad, rtol=1e-13, atol=1e-15)


def test_entry_point_names_carry_the_backend_and_differ_from_tensorflow():
    from lossconform.adapters.tensorflow.entry_points import ENTRIES as TF

    tf_names = {e.spec.name for e in TF}
    for adapter in ADAPTERS.values():
        names = [s.name for s in adapter.entry_points()]
        assert all(n.endswith(f"@{adapter.backend}") for n in names)
        assert not set(names) & tf_names
        assert all(adapter.backend in s.notes for s in adapter.entry_points())
