"""The keras-jax worker's compiled-executables cache (adapters/jax/executables.py, the JAX
plug-in's, shared): a miss compiles, reports its compile time and writes the executable; a fresh worker loads it
(no compile time) and returns bitwise the same values as the jitted function without the
cache; the values agree with the NumPy reference."""
from __future__ import annotations

import numpy as np
import pytest

from lossconform import reference as R
from lossconform.adapters.keras import KERAS_JAX
from lossconform.adapters.keras.client import Worker
from lossconform.contract import Call

pytestmark = [pytest.mark.framework("keras-jax"),
              pytest.mark.skipif(KERAS_JAX.available() is not None,
                                 reason=f"keras-jax: {KERAS_JAX.available()}")]

EP = "keras.losses.CategoricalCrossentropy(from_logits=True)@jax"


def _call() -> Call:
    x = np.array([[0.5, -1.0, 2.0, 0.25], [1.5, 0.75, -0.5, -2.0], [0.1, 0.2, 0.3, 0.4]])
    return Call("cross_entropy", x, "float32", target=np.array([2, 0, 3]), target_kind="index",
                options={"reduction": "mean"}, grad_output=np.array(1.5))


def _evaluate(monkeypatch, cache: str, enabled: bool = True):
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", cache)
    monkeypatch.setenv("LOSSCONFORM_KERAS_EXECUTABLES", "1" if enabled else "0")
    w = Worker("jax")
    try:
        return w.request("evaluate", EP, _call())
    finally:
        w.close()


def test_a_second_worker_loads_the_executable_bitwise(monkeypatch, tmp_path):
    cache = str(tmp_path / "jax-cache")
    cold = _evaluate(monkeypatch, cache)
    assert cold.compile_seconds > 0  # traced, lowered and compiled
    assert list((tmp_path / "jax-cache" / "lossconform-executables").glob("*.pkl"))
    warm = _evaluate(monkeypatch, cache)
    assert warm.compile_seconds == 0  # deserialized, not traced
    plain = _evaluate(monkeypatch, str(tmp_path / "other"), enabled=False)
    for ev in (warm, plain):
        assert np.array_equal(ev.forward.value, cold.forward.value)
        assert np.array_equal(ev.gradient.value, cold.gradient.value)
        assert ev.forward.dtype == cold.forward.dtype == "float32"
    fwd, grad = R.evaluate(_call())
    np.testing.assert_allclose(cold.forward.value, fwd, rtol=1e-6)
    np.testing.assert_allclose(cold.gradient.value, grad, rtol=1e-5, atol=1e-7)
