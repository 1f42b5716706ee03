"""What runs inside Paddle's worker process: ``Executor(...).evaluate(entry_point, call)``.

The adapter (``adapter.py``) never imports paddle into the test process (see there why); it
asks a persistent child process, started by ``lossconform.isolation.Worker``, to run the same
program ``repro`` prints (``plans.program``). Programs are compiled once per text and executed
with the call's NumPy arrays; the forward result and gradient come back as float64 ``Output``s
with Paddle's dtype name. Paddle's exceptions propagate unchanged (the isolation layer re-raises
them in the parent with the same type name and message).
"""
from __future__ import annotations

import os
import warnings
from functools import lru_cache
from typing import Any

import numpy as np

#: what the worker process is started with (setdefault: a user's own values win): one thread
#: (the suite runs one process per core) and Paddle's glog output reduced to errors
WORKER_ENVIRONMENT: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "GLOG_minloglevel": "2",
    "GLOG_v": "0",
}


@lru_cache(maxsize=4096)
def _compiled(src: str) -> Any:
    return compile(src, "<lossconform-paddle>", "exec")


def _output(t: Any) -> Any:
    from lossconform.contract import Output

    name = str(t.dtype).removeprefix("paddle.")
    return Output(np.array(t.numpy(), dtype=np.float64), name)  # exact upcast


class Executor:
    """Runs Paddle programs in this process (the worker's side)."""

    def __init__(self) -> None:
        for k, v in WORKER_ENVIRONMENT.items():
            os.environ.setdefault(k, v)
        # this process only: "No ccache found" at import, softmax_with_cross_entropy's
        # deprecation warning at every call
        warnings.simplefilter("ignore")
        import paddle

        paddle.set_device("cpu")
        paddle.disable_static()
        # Paddle's own handler of SIGSEGV/SIGABRT prints a C++ trace and then sleeps forever
        # (seen here on a heap corruption): without it a crash ends the worker, which the
        # parent reports as WorkerCrashed with the stderr tail
        paddle.disable_signal_handler()
        self.paddle = paddle

    def evaluate(self, entry_point: str, call: Any) -> Any:
        from lossconform.contract import Evaluation

        from .plans import arrays, program

        want_grad = call.grad_output is not None
        env: dict[str, Any] = arrays(call)
        env.update(np=np, paddle=self.paddle)
        exec(_compiled(program(entry_point, call)), env)  # noqa: S102
        return Evaluation(_output(env["out"]), _output(env["grad"]) if want_grad else None)

    def expression(self, src: str, values: dict[str, Any]) -> np.ndarray:
        """The float64 value of one Paddle expression over NumPy arrays (the float-label
        calls of the invalid-input table)."""
        env: dict[str, Any] = {"np": np, "paddle": self.paddle, **values}
        exec(_compiled(src), env)  # noqa: S102
        return _output(env["out"]).value

    def environment(self) -> dict[str, Any]:
        """Installation facts that change the numbers."""
        paddle = self.paddle
        flags = {}
        for name in ("FLAGS_use_mkldnn", "FLAGS_use_onednn", "FLAGS_check_nan_inf",
                     "FLAGS_cpu_deterministic", "FLAGS_embedding_deterministic"):
            try:
                flags[name] = paddle.get_flags([name])[name]
            except Exception:  # a flag this build does not have
                continue
        core = paddle.base.core
        return {
            "paddle_commit": str(paddle.version.commit),
            "with_mkl": str(paddle.version.with_mkl),
            "cuda_compiled": bool(paddle.is_compiled_with_cuda()),
            "device": str(paddle.device.get_device()),
            # the CPU softmax takes its AVX path (vec_clip, vec_sum) only where this is true
            "cpu_avx": bool(core.avx_supported()) if hasattr(core, "avx_supported")
            else "unknown",
            "compiled_with_avx": bool(core.is_compiled_with_avx())
            if hasattr(core, "is_compiled_with_avx") else "unknown",
            "num_threads": os.environ.get("OMP_NUM_THREADS", "(unset)"),
            **{k: os.environ.get(k, "(unset)") for k in WORKER_ENVIRONMENT},
            **flags,
        }


__all__ = ["Executor", "WORKER_ENVIRONMENT"]
