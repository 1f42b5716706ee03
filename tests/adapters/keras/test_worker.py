"""The Keras plug-in's worker processes: the round trip, the framework's exceptions re-raised
with the same type name and message, a crashed worker's clear error and restart, and a parent
that never imports Keras, JAX or torch. Expected values come from the NumPy reference."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lossconform import reference as R
from lossconform.adapters.keras import KERAS_JAX, KERAS_TORCH
from lossconform.adapters.keras.client import (
    Worker, WorkerCrashed, rebuild_exception, worker_environment,
)
from lossconform.contract import Call

ADAPTERS = {"keras-jax": KERAS_JAX, "keras-torch": KERAS_TORCH}


def _params():
    return [pytest.param(a, id=name, marks=[
        pytest.mark.framework(name),
        pytest.mark.skipif(a.available() is not None, reason=f"{name}: {a.available()}")])
        for name, a in ADAPTERS.items()]


@pytest.mark.parametrize("adapter", _params())
def test_round_trip_gives_the_reference(adapter):
    x = np.array([[0.5, -1.0, 2.0, 0.25], [1.5, 0.75, -0.5, -2.0]])
    call = Call("cross_entropy", x, "float64", target=np.array([2, 0]), target_kind="index",
                options={"reduction": "sum"}, grad_output=np.array(1.0))
    ev = adapter.evaluate(f"keras.losses.sparse_categorical_crossentropy(from_logits=True)@"
                          f"{adapter.backend}", call)
    fwd, grad = R.evaluate(call)
    assert ev.forward.dtype == "float64" and ev.gradient.dtype == "float64"
    np.testing.assert_allclose(ev.forward.value, fwd, rtol=1e-13)
    np.testing.assert_allclose(ev.gradient.value, grad, rtol=1e-12, atol=1e-15)
    assert adapter.worker.request("ping") == "pong"


@pytest.mark.parametrize("adapter", _params())
def test_framework_exception_keeps_type_and_message(adapter):
    x = np.zeros((3, 4))
    call = Call("cross_entropy", x, "float32", target=np.zeros((2, 4)), target_kind="probs",
                options={"reduction": "none"})
    with pytest.raises(ValueError, match="must have the same shape") as info:
        adapter.evaluate(f"keras.losses.categorical_crossentropy(from_logits=True)@"
                         f"{adapter.backend}", call)
    assert type(info.value) is ValueError  # a builtin comes back as itself
    assert "Traceback" in str(info.value.__cause__)  # the worker's traceback as the cause


def test_unimportable_exception_is_rebuilt_by_name():
    exc = rebuild_exception("InvalidArgumentError", "notinstalled_lib.errors", "bad index 7",
                            b"not a pickle", "Traceback ...")
    assert type(exc).__name__ == "InvalidArgumentError" and str(exc) == "bad index 7"
    assert type(exc).__module__ == "notinstalled_lib.errors"
    assert "notinstalled_lib" not in sys.modules
    again = rebuild_exception("InvalidArgumentError", "notinstalled_lib.errors", "x", None, "")
    assert type(again) is type(exc)


@pytest.mark.parametrize("adapter", _params()[1:])
def test_crash_is_named_and_the_worker_restarts(adapter):
    w = Worker(adapter.backend)
    try:
        assert w.request("ping") == "pong"
        first = w.pid
        with pytest.raises(WorkerCrashed) as info:
            w.request("exit", 7, "simulated fatal error in the framework")
        text = str(info.value)
        assert f"Keras {adapter.backend} worker" in text and "exit status 7" in text
        assert "simulated fatal error in the framework" in text  # the stderr tail
        assert w.request("ping") == "pong"
        assert w.pid != first and w.starts == 2
    finally:
        w.close()


def test_listing_never_imports_a_framework():
    code = (
        "import sys, numpy as np\n"
        "from lossconform.plugins import load_adapters\n"
        "from lossconform.contract import Call\n"
        "a = load_adapters()\n"
        "for n in ('keras-jax', 'keras-torch'):\n"
        "    k = a[n]; k.available(); k.version(); k.versions(); k.entry_points()\n"
        "    c = Call('softmax', np.zeros((2, 3)), 'float32', grad_output=np.ones((2, 3)))\n"
        "    k.repro(f'keras.ops.softmax@{k.backend}', c); k.unsupported(f'keras.ops.softmax@{k.backend}', c)\n"
        "print(sorted(m for m in ('keras', 'jax', 'torch', 'tensorflow') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_worker_environment_sets_backend_x64_and_cache(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", "/tmp/mine")
    monkeypatch.delenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", raising=False)
    env = worker_environment("jax")
    assert env["KERAS_BACKEND"] == "jax" and env["JAX_ENABLE_X64"] == "1"
    assert env["JAX_COMPILATION_CACHE_DIR"] == "/tmp/mine"  # setdefault: the user's wins
    assert env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"
    assert env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] == "0"
    assert worker_environment("torch")["KERAS_BACKEND"] == "torch"
