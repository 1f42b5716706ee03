"""The executor of one Keras backend, run in a worker process of its own
(``lossconform.isolation``; the parent side is ``client.py``).

Keras reads its backend once, at import, and the test process already holds Keras on the
TensorFlow backend (the tensorflow plug-in), so each backend runs in a process of its own,
started by the adapter with ``KERAS_BACKEND`` set: ``python -m lossconform.isolation
lossconform.adapters.keras.worker:Executor jax``. The executor imports Keras once, then serves
the requests ``("evaluate", entry_point, call)`` -> an ``Evaluation``; ``("expression", source,
arrays)`` -> the float64 value of one Keras expression; ``("environment",)`` -> a dict (plus the
built-in ``("ping",)`` and ``("exit", status[, message])`` of ``lossconform.isolation``).
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np

@lru_cache(maxsize=None)
def _compiled(src: str, mode: str) -> Any:
    return compile(src, "<lossconform-keras>", mode)


class Executor:
    """Runs programs (``plans.program``) on one backend, in this process."""

    def __init__(self, backend: str) -> None:
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(f"Keras was imported with backend {keras.backend.backend()!r}, "
                               f"not {backend!r}: KERAS_BACKEND must be set before the import")
        self.backend = backend
        self.keras = keras
        if backend == "jax":
            import jax

            self.mod = jax
        else:
            import torch

            torch.set_num_threads(int(os.environ.get("LOSSCONFORM_KERAS_THREADS", "1")))
            self.mod = torch
        self._losses: dict[str, Any] = {}
        self._runs: dict[tuple[str | None, str], Any] = {}
        self._exe: Any = None
        if backend == "jax" and os.environ.get("LOSSCONFORM_KERAS_EXECUTABLES", "1") != "0":
            from lossconform.adapters.jax.executables import Executables

            self._exe = Executables(("keras",))

    def _loss(self, ctor: str) -> Any:
        obj = self._losses.get(ctor)
        if obj is None:
            obj = self._losses[ctor] = eval(_compiled(ctor, "eval"), {"keras": self.keras})
        return obj

    def _run(self, ctor: str | None, define: tuple[str, ...]) -> Any:
        """``run`` of a program's ``define`` block, one per (constructor, text): a jitted
        ``run`` keeps its compilations (one per shapes and dtypes) across calls."""
        key = (ctor, "\n".join(define))
        fn = self._runs.get(key)
        if fn is None:
            ns: dict[str, Any] = {"np": np, "keras": self.keras, self.backend: self.mod}
            if ctor is not None:
                ns["loss_fn"] = self._loss(ctor)
            exec(_compiled(key[1], "exec"), ns)  # noqa: S102
            fn = self._runs[key] = ns["run"]
        return fn

    def evaluate(self, entry_point: str, call: Any) -> Any:
        from lossconform.contract import Evaluation

        from .entry_points import BY_NAME
        from .plans import build_plan, program

        prog = program(build_plan(BY_NAME[entry_point], call), call, self.backend)
        arrays = {"np": np, "x": call.x, "target": call.target,
                  "weight": call.option("weight"), "sample_weight": call.option("sample_weight")}
        env: dict[str, Any] = {"np": np, "keras": self.keras, self.backend: self.mod,
                               "grad_output": call.grad_output}
        convert = self.keras.ops.convert_to_tensor
        with np.errstate(all="ignore"):
            for name, src, dt in prog.tensors:
                env[name] = convert(eval(_compiled(src, "eval"), arrays), dtype=dt)  # noqa: S307
        if prog.ctor is not None:
            env["loss_fn"] = self._loss(prog.ctor)
        compile_seconds = 0.0
        if prog.define:
            fn = self._run(prog.ctor, prog.define)
            if self._exe is not None:  # compiled executables, kept across runs
                exe, text = self._exe, f"{prog.ctor}\n" + "\n".join(prog.define)
                exe.last_compile_seconds = 0.0

                def run(*args: Any) -> Any:
                    return exe.run(fn, text, args)
                env["run"] = run
            else:
                env["run"] = fn
        exec(_compiled("\n".join(prog.body), "exec"), env)  # noqa: S102
        if prog.define and self._exe is not None:  # tracing + lowering + compiling, on a miss
            compile_seconds = self._exe.last_compile_seconds
        out = env["out"]
        grad = env.get("grad") if prog.grad else None
        return Evaluation(self._output(out), None if grad is None else self._output(grad),
                          compile_seconds)

    def expression(self, src: str, arrays: dict[str, Any]) -> np.ndarray:
        """The float64 value of a Keras expression over ``keras``, ``np`` and NumPy arrays
        converted to the backend's tensors (the float-label calls of the invalid-input
        table)."""
        env: dict[str, Any] = {"np": np, "keras": self.keras, self.backend: self.mod}
        env.update({k: self.keras.ops.convert_to_tensor(v) for k, v in arrays.items()})
        return self._output(eval(_compiled(src, "eval"), env)).value  # noqa: S307

    def _output(self, value: Any) -> Any:
        from lossconform.contract import Output

        if self.backend == "torch":
            import torch

            name = str(value.dtype).replace("torch.", "")
            return Output(value.detach().to(torch.float64).cpu().numpy(), name)
        arr = np.asarray(value)
        return Output(arr.astype(np.float64), str(arr.dtype))

    def environment(self) -> dict[str, Any]:
        k = self.keras
        env: dict[str, Any] = {"keras_backend": k.backend.backend(),
                               "keras_floatx": k.config.floatx(),
                               "keras_epsilon": k.config.epsilon()}
        if self.backend == "jax":
            jax = self.mod
            env.update({"jax_enable_x64": bool(jax.config.jax_enable_x64),
                        "jax_devices": [str(d) for d in jax.devices()],
                        "JAX_ENABLE_X64": os.environ.get("JAX_ENABLE_X64", "(unset)"),
                        "XLA_FLAGS": os.environ.get("XLA_FLAGS", "(unset)"),
                        "JAX_COMPILATION_CACHE_DIR":
                            os.environ.get("JAX_COMPILATION_CACHE_DIR", "(unset)"),
                        "executables_cache": "off" if self._exe is None
                        else str(self._exe.folder())})
        else:
            torch = self.mod
            env.update({"torch_num_threads": torch.get_num_threads(),
                        "torch_cuda": bool(torch.cuda.is_available())})
        return env
