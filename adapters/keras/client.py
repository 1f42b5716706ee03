"""The parent side of a backend's worker process: ``Worker(backend)``, a
``lossconform.isolation.Worker`` running ``worker.Executor(backend)`` with the backend's
environment (``worker_environment``). ``request(kind, *args)`` sends one request and returns
the reply's value; an exception the framework raised in the worker is re-raised here with the
same type name and message; a worker that dies is a ``WorkerCrashed`` naming the backend, its
exit status and the tail of its stderr, and the next request starts a new one. Listing or
running the plug-in never imports a framework into the parent.
"""
from __future__ import annotations

import os
from pathlib import Path

from lossconform import isolation
from lossconform.isolation import RemoteTraceback, WorkerCrashed, rebuild_exception


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lossconform"


def worker_environment(backend: str) -> dict[str, str]:
    """The worker's environment: the parent's, ``KERAS_BACKEND``, and per backend what keeps
    it quick and single-threaded (the suite runs one process per core): setdefault semantics,
    so a user's own values win, except ``KERAS_BACKEND`` and JAX's x64 (float64 needs it)."""
    env = dict(os.environ)
    env["KERAS_BACKEND"] = backend
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("OMP_NUM_THREADS", "1")
    if backend == "jax":
        env["JAX_ENABLE_X64"] = "1"
        env.setdefault("JAX_PLATFORMS", "cpu")
        env.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                    "intra_op_parallelism_threads=1")
        # JAX's persistent compilation cache: a warm run loads every jit compilation
        env.setdefault("JAX_COMPILATION_CACHE_DIR", str(cache_root() / "keras-jax"))
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    return env


class Worker(isolation.Worker):
    """One backend's worker process, owned by its adapter."""

    def __init__(self, backend: str) -> None:
        super().__init__(f"Keras {backend}", "lossconform.adapters.keras.worker:Executor",
                         (backend,), lambda: worker_environment(backend))
        self.backend = backend

    def request(self, *req: object) -> object:
        return self.call(*req)  # type: ignore[arg-type]


__all__ = ["RemoteTraceback", "Worker", "WorkerCrashed", "rebuild_exception",
           "worker_environment"]
