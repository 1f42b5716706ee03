"""Tests of the JAX / optax plug-in itself (not of JAX's numerics).

The plan drives evaluate and repro alike (the repro, which calls ``jax.jit`` itself, leaves
bitwise what evaluate returned through its executable cache, in both modes); the facets change
the call as declared; the options map onto optax as the notes say; the findings' repros print
what the registry says. Expected values come from the NumPy reference
(``lossconform.reference``), never from jax.
"""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from lossconform import reference as R
from lossconform.cases import BY_ID
from lossconform.contract import Call
from lossconform.adapters.jax import ADAPTER
from lossconform.adapters.jax import adapter as jax_adapter
from lossconform.adapters.jax import entry_points as E
from lossconform.adapters.jax import findings as F

pytestmark = [pytest.mark.framework("jax"), pytest.mark.skipif(
    ADAPTER.available() is not None, reason=f"jax adapter: {ADAPTER.available()}")]

#: mapping checks in float64 (x64 on): far tighter than any mapping error, far looser than the
#: rounding of a few float64 operations
RTOL = 1e-12


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
    """evaluate and repro give bitwise the same forward (and gradient)."""
    assert ADAPTER.unsupported(entry_point, call) is None, ADAPTER.unsupported(entry_point, call)
    ev = ADAPTER.evaluate(entry_point, call)
    ns = _run_repro(entry_point, call)
    np.testing.assert_array_equal(ADAPTER.to_numpy(ns["out"]), ev.forward.value)
    if call.grad_output is not None:
        np.testing.assert_array_equal(ADAPTER.to_numpy(ns["grad"]), ev.gradient.value)
    return ev


_PLAN_CASES = [
    (E.SOFTMAX, "softmax-moderate-4x5x3x3-axis1", "float32"),
    (E.LOG_SOFTMAX, "log_softmax-moderate-16x10", "bfloat16"),
    (E.SIGMOID, "sigmoid-moderate-16x10", "float16"),
    (E.LOG_SIGMOID, "log_sigmoid-moderate-16x10", "float64"),
    (E.INT, "cross_entropy-moderate-16x10-index-ignore_index_1-reduction_mean", "float32"),
    (E.INT, "cross_entropy-moderate-16x10-index-reduction_none", "float16"),
    (E.SCE, "cross_entropy-soft-16x10-probs-reduction_mean", "float32"),
    (E.SAFE, "cross_entropy-soft-16x10-probs-reduction_mean", "bfloat16"),
    (E.POLY, "cross_entropy-soft-16x10-probs-reduction_mean", "float64"),
    (E.BCE, "binary_cross_entropy_with_logits-moderate-16x10-probs-reduction_mean", "float32"),
]


@pytest.mark.parametrize("mode", ["jit", "eager"])
@pytest.mark.parametrize("entry_point,case_id,dtype", _PLAN_CASES)
def test_repro_matches_evaluate_bitwise(entry_point: str, case_id: str, dtype: str,
                                        mode: str) -> None:
    call = BY_ID[case_id].call(dtype, seed=0)
    if mode != "jit":
        call = call.replace(facets={"mode": mode})
    ev = _same_as_repro(entry_point, call)
    assert ev.forward.dtype == dtype


def test_executable_cache_is_the_jit_executable(tmp_path) -> None:
    """A second process loads the serialized executable and gets bitwise jax.jit's numbers."""
    code = (
        "import numpy as np\n"
        "from lossconform.cases import BY_ID\n"
        "from lossconform.adapters.jax import ADAPTER\n"
        "from lossconform.adapters.jax.adapter import EXECUTABLES\n"
        "call = BY_ID['cross_entropy-soft-16x10-probs-reduction_mean'].call('bfloat16', seed=0)\n"
        "ev = ADAPTER.evaluate('optax.losses.softmax_cross_entropy', call)\n"
        "print(EXECUTABLES.misses, ev.forward.value.tolist(), ev.gradient.value.sum())\n"
    )
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    first, second = (r.stdout.strip().splitlines()[-1].split(" ", 1) for r in runs)
    assert first[0] == "1" and second[0] == "0"  # compiled once, loaded the second time
    assert first[1] == second[1]
    assert list((tmp_path / "lossconform-executables").glob("*.pkl"))


def test_options_map_onto_optax() -> None:
    """ignore_index: where= masks the item and jnp.mean counts it; label_smoothing: smoothed
    labels; against the reference's per-item losses."""
    rng = _rng(1)
    x = rng.normal(size=(6, 5))
    y = np.array([0, 1, 2, 1, 4, 3])
    call = Call("cross_entropy", x, "float64", target=y, target_kind="index",
                options={"ignore_index": 1, "reduction": "mean"})
    out = ADAPTER.evaluate(E.INT, call).forward.value
    per = R.cross_entropy(x, y, target_kind="index", ignore_index=1, reduction="none")
    np.testing.assert_allclose(out, np.sum(per) / 6, rtol=RTOL)  # divided by every item
    t = rng.dirichlet(np.ones(5), size=6)
    call = Call("cross_entropy", x, "float64", target=t, target_kind="probs",
                options={"label_smoothing": 0.2, "reduction": "none"})
    np.testing.assert_allclose(ADAPTER.evaluate(E.SCE, call).forward.value,
                               R.cross_entropy(x, t, target_kind="probs", label_smoothing=0.2,
                                               reduction="none"), rtol=RTOL)


def test_class_axis_and_facets() -> None:
    x = _rng(2).normal(size=(3, 4, 2))
    call = Call("log_softmax", x, "float64", axis=1)
    np.testing.assert_allclose(ADAPTER.evaluate(E.LOG_SOFTMAX, call).forward.value,
                               R.log_softmax(x, axis=1), rtol=RTOL)
    omitted = ADAPTER.evaluate(E.SOFTMAX, call.replace(facets={"axis_arg": "omitted"}))
    np.testing.assert_allclose(omitted.forward.value, R.softmax(x, axis=-1), rtol=RTOL)
    none = ADAPTER.evaluate(E.SOFTMAX, call.replace(facets={"axis_arg": "none"}))
    np.testing.assert_allclose(none.forward.value, R.softmax(x.reshape(-1)).reshape(x.shape),
                               rtol=RTOL)
    assert ADAPTER.unsupported(E.SIGMOID, call.replace(op="sigmoid",
                                                       facets={"axis_arg": "none"}))
    assert ADAPTER.unsupported(E.SAFE, Call("cross_entropy", x, "float64", axis=1,
                                            target=np.ones((3, 4, 2)) / 4, target_kind="probs"))
    assert "one_hot" in ADAPTER.unsupported(E.INT, Call(
        "cross_entropy", x[:, :, 0], "float64", target=np.array([0, 1, 2]), target_kind="index",
        options={"label_smoothing": 0.1}))
    swapped = Call("cross_entropy", x[:, :, 0], "float64", target=np.full((3, 4), 0.25),
                   target_kind="probs", options={"reduction": "none"},
                   facets={"swap_args": True})
    _same_as_repro(E.SCE, swapped)


def test_float64_and_cache_environment() -> None:
    env = ADAPTER.environment()
    assert env["jax_enable_x64"] is True
    assert env["compilation_cache_dir"]
    assert set(ADAPTER.versions()) == {"jax", "jaxlib", "optax"}
    assert ADAPTER.process_environment["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"
    ADAPTER.warmup()


@pytest.mark.parametrize("finding", [F.INTEGER_LABELS_CANCELLATION, F.INTEGER_LABELS_POS_INF],
                         ids=["cancellation", "pos_inf"])
def test_finding_repro_prints_measured(finding) -> None:
    r = subprocess.run([sys.executable, "-c", finding.repro], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == finding.measured
    np.testing.assert_allclose(np.ravel(finding.reference()),
                               np.ravel(eval(finding.correct, {"nan": np.nan})),  # noqa: S307
                               rtol=1e-12)


def test_plan_is_cached_per_structure() -> None:
    """Two cases of the same structure (entry point, static arguments) share one runner."""
    a = BY_ID["cross_entropy-moderate-16x10-index-reduction_mean"].call("float32", seed=0)
    b = BY_ID["cross_entropy-large_scale-16x10-index-reduction_mean"].call("float32", seed=0)
    pa, pb = jax_adapter._plan(E.INT, a), jax_adapter._plan(E.INT, b)
    assert pa.definitions == pb.definitions and pa.runner == pb.runner
    assert "jax.jit(step)" == pa.runner
