"""The PaddlePaddle plug-in: its worker process (the round trip, Paddle's exceptions re-raised
by type, a test process that never imports paddle), the dtypes its CPU kernels refuse, the two
bugs declared unsupported because the call cannot return a value, and the divergence models'
independence from paddle. Expected values come from the NumPy reference."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lossconform import reference as R
from lossconform.adapters.paddle import ADAPTER
from lossconform.adapters.paddle.entry_points import DTYPES, ENTRY_POINTS, HALF_DTYPES
from lossconform.contract import Call

pytestmark = [pytest.mark.framework("paddle"),
              pytest.mark.skipif(ADAPTER.available() is not None,
                                 reason=f"paddle: {ADAPTER.available()}")]

F = "paddle.nn.functional."


def _run(code: str, env: dict[str, str] | None = None, timeout: int = 240):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_round_trip_gives_the_reference():
    x = np.array([[0.5, -1.0, 2.0, 0.25], [1.5, 0.75, -0.5, -2.0]])
    call = Call("cross_entropy", x, "float64", target=np.array([2, 0]), target_kind="index",
                options={"reduction": "sum"}, grad_output=np.array(1.0))
    ev = ADAPTER.evaluate(F + "cross_entropy", call)
    fwd, grad = R.evaluate(call)
    assert ev.forward.dtype == "float64" and ev.gradient.dtype == "float64"
    np.testing.assert_allclose(ev.forward.value, fwd, rtol=1e-13)
    np.testing.assert_allclose(ev.gradient.value, grad, rtol=1e-12, atol=1e-15)
    assert ADAPTER.worker.call("ping") == "pong"


def test_environment_names_what_changes_the_numbers():
    env = ADAPTER.environment()
    assert env["device"] == "cpu" and env["OMP_NUM_THREADS"] and "paddle_commit" in env
    assert isinstance(env["cpu_avx"], (bool, str)) and "FLAGS_use_mkldnn" in env


def test_repro_is_the_program_evaluate_runs():
    call = Call("nll_loss", np.log(np.full((2, 3, 2), 1 / 3)), "float32", axis=1,
                target=np.array([[0, 2], [1, 1]]), target_kind="index",
                options={"weight": np.array([1.0, 2.0, 0.5]), "reduction": "mean"},
                grad_output=np.array(1.0))
    src = ADAPTER.repro(F + "nll_loss", call)
    assert "paddle.nn.functional.nll_loss(xt, tt, weight=wt, reduction='mean')" in src
    ns = {"x": call.x, "target": call.target, "weight": call.option("weight"),
          "pos_weight": None, "grad_output": call.grad_output}
    code = "import sys\n" + src.replace("print(out)\n", "").replace("print(grad)\n", "")
    out = ADAPTER.worker.call("expression", code, ns)
    np.testing.assert_array_equal(out, ADAPTER.evaluate(F + "nll_loss", call).forward.value)


def test_paddle_exception_keeps_type_and_message():
    call = Call("binary_cross_entropy", np.array([[0.5, 1.5]]), "float32",
                target=np.array([[1.0, 0.0]]), options={"reduction": "none"})
    with pytest.raises(ValueError, match="input must be less than or equal to 1") as info:
        ADAPTER.evaluate(F + "binary_cross_entropy", call)
    assert "Traceback" in str(info.value.__cause__)  # the worker's traceback as the cause


def test_the_test_process_never_imports_paddle():
    proc = _run("""
        import sys
        import numpy as np
        from lossconform.adapters.paddle import ADAPTER
        from lossconform.contract import Call
        assert ADAPTER.available() is None and ADAPTER.version()
        ADAPTER.entry_points(); ADAPTER.divergences; ADAPTER.invalid_outcomes
        ev = ADAPTER.evaluate("paddle.nn.functional.softmax",
                              Call("softmax", np.zeros((2, 3)), "float32"))
        for d in ADAPTER.divergences:  # every model, on its example: NumPy only
            d.model(d.example())
        assert "paddle" not in sys.modules, "the test process imported paddle"
        print(ev.forward.value.tolist())
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("[[0.3333333432674408, 0.3333333432674408, "
                                        "0.3333333432674408], [0.3333333432674408, "
                                        "0.3333333432674408, 0.3333333432674408]]")


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_half_dtypes_have_no_cpu_kernel(dtype):
    """The dtypes left out of every entry point: Paddle's CPU build raises for them."""
    assert all(dtype not in spec.dtypes for spec in ENTRY_POINTS)
    assert all(spec.dtypes == DTYPES for spec in ENTRY_POINTS)
    for fn in ("softmax(x)", "sigmoid(x)", "cross_entropy(x, paddle.to_tensor([0, 1]))"):
        with pytest.raises(RuntimeError, match="kernel.*is not registered"):
            ADAPTER.worker.call("expression",
                                f"x = paddle.to_tensor(np.zeros((2, 3)), dtype={dtype!r})\n"
                                f"out = paddle.nn.functional.{fn}\n", {})


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_half_dtypes_are_unsupported_with_the_kernel_reason(dtype):
    call = Call("softmax", np.zeros((2, 3)), dtype)
    reason = ADAPTER.unsupported(F + "softmax", call)
    assert reason and "registers no" in reason and dtype in reason


def test_kernel_sum_follows_the_avx_lane_order():
    """models.kernel_sum (vec_sum<float, avx>: 8 lanes, hadd order, then the tail) against
    Paddle's own float32 softmax on rows where the order of the additions shows: the model
    and Paddle give bitwise the same probabilities, a plain left-to-right sum does not."""
    from lossconform.adapters.paddle.models import kernel_sum, softmax_ends
    from lossconform.dtypes import round_to

    rng = np.random.default_rng(7)
    z = round_to(rng.normal(0, 1, (64, 13)) * np.array([8.0] + [1.0] * 12), "float32")
    got = ADAPTER.evaluate(F + "softmax", Call("softmax", z, "float32")).forward.value
    lo, hi = softmax_ends(z, "float32", avx=True)
    np.testing.assert_array_equal(lo, hi)
    np.testing.assert_array_equal(got, lo)
    e = round_to(np.exp(z - z.max(axis=-1, keepdims=True)), "float32")
    seq = np.cumsum(e.astype(np.float32), axis=-1, dtype=np.float32)[..., -1:]
    assert np.any(seq.astype(np.float64) != kernel_sum(e, "float32"))


def test_nll_loss_ignore_index_with_reduction_corrupts_the_heap():
    """The bug behind the nll_loss reason in ``extra_unsupported``: the CPU kernel writes
    out_data[i] = 0 for an ignored item i into a one-element output. With glibc's heap checks
    on (MALLOC_CHECK_=3) the process aborts at once."""
    env = dict(os.environ, MALLOC_CHECK_="3")
    proc = _run("""
        import numpy as np, paddle
        paddle.disable_signal_handler()
        x = paddle.to_tensor(np.log(np.full((16, 10), 0.1)))
        t = paddle.to_tensor(np.array([1] * 8 + [0] * 8))
        for _ in range(20):
            out = paddle.nn.functional.nll_loss(x, t, ignore_index=1, reduction='mean')
        print("survived", float(out))
    """, env=env)
    assert proc.returncode != 0 and "survived" not in proc.stdout, proc.stdout
    call = Call("nll_loss", np.log(np.full((4, 3), 1 / 3)), "float32",
                target=np.array([1, 0, 1, 2]), target_kind="index",
                options={"ignore_index": 1, "reduction": "mean"})
    assert "corrupts the heap" in ADAPTER.unsupported(F + "nll_loss", call)
    assert ADAPTER.unsupported(F + "nll_loss", call.replace(
        options={"ignore_index": 1, "reduction": "none"})) is None


def test_label_smoothing_off_the_last_axis_raises():
    """The bug behind the label_smoothing reason in ``extra_unsupported``."""
    with pytest.raises(ValueError, match=r"\(InvalidArgument\)"):
        ADAPTER.worker.call("expression", """
x = paddle.to_tensor(np.zeros((2, 3, 4)))
out = paddle.nn.functional.cross_entropy(x, paddle.to_tensor(np.array([[0, 1, 2, 2], [1, 0, 2, 1]])),
                                         axis=1, label_smoothing=0.1)
""", {})
    call = Call("cross_entropy", np.zeros((2, 3, 4)), "float32", axis=1,
                target=np.zeros((2, 4), dtype=np.int64), target_kind="index",
                options={"label_smoothing": 0.1})
    assert "move the class axis last" in ADAPTER.unsupported(F + "cross_entropy", call)
    assert ADAPTER.unsupported(F + "cross_entropy", call.replace(
        x=np.zeros((2, 4, 3)), axis=-1)) is None


@pytest.mark.slow
def test_tensorflow_then_paddle_segfaults_here():
    """Why Paddle runs in a worker: ``import tensorflow, paddle`` dies with SIGSEGV in this
    environment while ``import paddle, tensorflow`` works (recorded, not wanted)."""
    if importlib.util.find_spec("tensorflow") is None:  # never imported here: see above
        pytest.skip("tensorflow is not installed")
    bad = _run("import tensorflow, paddle")
    good = _run("import paddle, tensorflow")
    assert good.returncode == 0, good.stderr[-2000:]
    assert bad.returncode == -11, (bad.returncode, bad.stderr[-2000:])
    # the repros' first lines (adapter.IMPORT_AFTER_TENSORFLOW) load paddle after TensorFlow
    from lossconform.adapters.paddle.adapter import IMPORT_AFTER_TENSORFLOW

    deep = _run("import tensorflow\n" + IMPORT_AFTER_TENSORFLOW + "import paddle\n"
                "print(paddle.nn.functional.softmax(paddle.to_tensor([0.0, 0.0])).numpy())")
    assert deep.returncode == 0 and "[0.5 0.5]" in deep.stdout, deep.stderr[-2000:]


def test_long_log_softmax_rows_are_left_out_with_the_measured_reason():
    """Paddle's CPU log_softmax is quadratic in the class count (adapter.py); rows longer than
    LOG_SOFTMAX_MAX_CLASSES are unsupported with that reason, shorter ones and softmax run."""
    from lossconform.adapters.paddle.adapter import LOG_SOFTMAX_MAX_CLASSES, LOG_SOFTMAX_QUADRATIC
    from lossconform.contract import Call

    def call(c: int) -> Call:
        return Call("log_softmax", np.zeros((1, c)), "float32", axis=-1)

    ep = "paddle.nn.functional.log_softmax"
    assert ADAPTER.unsupported(ep, call(LOG_SOFTMAX_MAX_CLASSES + 1)) == LOG_SOFTMAX_QUADRATIC
    assert ADAPTER.unsupported(ep, call(LOG_SOFTMAX_MAX_CLASSES)) is None
    assert ADAPTER.unsupported("paddle.nn.functional.softmax",
                         Call("softmax", np.zeros((1, 4 * LOG_SOFTMAX_MAX_CLASSES)), "float32",
                              axis=-1)) is None
