"""The parent side of a backend's worker process (``worker.py``): started lazily, restarted
after a crash, shut down at exit.

``Worker(backend).request(kind, *args)`` sends one framed request and returns the reply's
value. An exception the framework raised in the worker is re-raised here with the same type
name and message (unpickled when its type's module is builtins or already imported here, so
listing or running the plug-in never imports a framework into the parent; otherwise an
exception class of that name is made, with the worker's module name), the worker's traceback
as its cause. A worker that dies is a ``WorkerCrashed`` naming the backend, its exit status
and the tail of its stderr; the next request starts a new one.
"""
from __future__ import annotations

import atexit
import collections
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .worker import read_frame, write_frame

#: stderr lines of a worker kept for the crash message
TAIL_LINES = 40


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
    # the worker imports lossconform exactly as this process does
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
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


class WorkerCrashed(RuntimeError):
    """The worker process of a Keras backend died; the message has its stderr's tail."""


class RemoteTraceback(Exception):
    """The worker's traceback of an exception re-raised in the parent (its ``__cause__``)."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0])


_CLASSES: dict[tuple[str, str], type] = {}


def rebuild_exception(name: str, module: str, message: str, pickled: bytes | None,
                      tb: str) -> BaseException:
    """The worker's exception in this process: same type name and message."""
    exc: BaseException | None = None
    if pickled is not None and (module == "builtins" or module.split(".")[0] in sys.modules):
        try:
            exc = pickle.loads(pickled)
        except Exception:
            exc = None
    if exc is None or type(exc).__name__ != name or str(exc) != message:
        cls = _CLASSES.get((module, name))
        if cls is None:
            cls = _CLASSES[(module, name)] = type(name, (Exception,), {"__module__": module})
        exc = cls(message)
    exc.__cause__ = RemoteTraceback(tb)
    return exc


class Worker:
    """One backend's worker process, owned by its adapter."""

    _all: list["Worker"] = []

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._proc: subprocess.Popen | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._lock = threading.Lock()
        self.starts = 0
        Worker._all.append(self)

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _start(self) -> subprocess.Popen:
        self._tail = collections.deque(maxlen=TAIL_LINES)
        proc = subprocess.Popen(
            [sys.executable, "-m", "lossconform.adapters.keras.worker", self.backend],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=worker_environment(self.backend), bufsize=0)
        tail = self._tail

        def drain() -> None:  # stderr drained so the worker never blocks on a full pipe
            assert proc.stderr is not None
            for line in iter(proc.stderr.readline, b""):
                tail.append(line.decode("utf-8", "replace").rstrip())

        threading.Thread(target=drain, name=f"keras-{self.backend}-stderr", daemon=True).start()
        self.starts += 1
        return proc

    def request(self, *req: Any) -> Any:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            proc = self._proc
            try:
                write_frame(proc.stdin, req)  # type: ignore[arg-type]
                reply = read_frame(proc.stdout)  # type: ignore[arg-type]
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                raise self._crashed(proc, req, exc) from None
        if reply[0] == "ok":
            return reply[1]
        raise rebuild_exception(*reply[1:])

    def _crashed(self, proc: subprocess.Popen, req: tuple, exc: BaseException) -> WorkerCrashed:
        try:
            status = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = proc.wait()
        time.sleep(0.05)  # let the drain thread read the last lines
        self._proc = None
        what = req[1] if len(req) > 1 and req[0] == "evaluate" else req[0]
        tail = "\n".join(f"    {ln}" for ln in self._tail) or "    (nothing)"
        return WorkerCrashed(
            f"the Keras {self.backend} worker (pid {proc.pid}) died with exit status {status} "
            f"while serving {what!r} ({type(exc).__name__}: {exc}); it is restarted on the next "
            f"call. Its stderr ends with:\n{tail}")

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()  # type: ignore[union-attr]
            proc.wait(timeout=5)
        except Exception:
            proc.kill()
            proc.wait()


@atexit.register
def _close_all() -> None:
    for w in Worker._all:
        w.close()


__all__ = ["RemoteTraceback", "Worker", "WorkerCrashed", "rebuild_exception",
           "worker_environment"]
