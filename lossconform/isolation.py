"""Run a plug-in's framework in a persistent process of its own: ``Worker`` (the parent side)
and ``python -m lossconform.isolation MODULE:FACTORY [ARG ...]`` (the child).

A plug-in needs this when its framework cannot share the test process: a library that fixes
a global choice (a backend) at its first import while the test process already made another,
or a framework that crashes when imported after another one. The parent never imports the
framework.

    worker = Worker("mylib", "mylib_lossconform.worker:Executor", args=())
    worker.call("evaluate", entry_point, call)   # Executor().evaluate(entry_point, call)

The child imports ``MODULE``, builds ``FACTORY(*ARGS)`` once (at the first request), then
serves requests until its input closes. Protocol (both directions): frames of an 8-byte
big-endian length and a pickle. A request is ``(method, *args)``: the executor's method
``method`` is called with ``args``; two requests are built in: ``("ping",)`` answers
``"pong"`` without building the executor, ``("exit", status[, message])`` prints the message
to stderr and ends the process at once (for the tests of a crashed worker). A reply is
``("ok", value)`` or ``("raise", type_name, module, message, pickled_or_None, traceback)``:
an exception raised in the child comes back with its type's name and message (unpickled when
its module is builtins or already imported in the parent, otherwise a class of that name is
made), the child's traceback as its ``__cause__``. Whatever the framework prints goes to
stderr (file descriptor 1 is redirected there), never into the reply channel; the parent keeps
the last ``TAIL_LINES`` lines of it. A child that dies is a ``WorkerCrashed`` naming the
worker, its exit status and its stderr's tail; the next call starts a new one.
"""
from __future__ import annotations

import atexit
import collections
import importlib
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

HEADER = struct.Struct(">Q")

#: stderr lines of a worker kept for the crash message
TAIL_LINES = 40


# ----------------------------------------------------------------------------- frames

def read_exactly(stream: BinaryIO, n: int) -> bytes:
    """``n`` bytes from a pipe (an unbuffered ``read`` may return fewer), or fewer at its end."""
    chunks, left = [], n
    while left:
        b = stream.read(left)
        if not b:
            break
        chunks.append(b)
        left -= len(b)
    return b"".join(chunks)


def read_frame(stream: BinaryIO) -> Any:
    head = read_exactly(stream, HEADER.size)
    if len(head) < HEADER.size:
        raise EOFError("the channel closed")
    (size,) = HEADER.unpack(head)
    data = read_exactly(stream, size)
    if len(data) < size:
        raise EOFError("the channel closed in the middle of a frame")
    return pickle.loads(data)


def write_frame(stream: BinaryIO, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


# ----------------------------------------------------------------------------- the child

def load_factory(target: str) -> Any:
    """``"package.module:name"`` -> that object (a class or a function)."""
    module, sep, name = target.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"a worker target is 'package.module:factory', not {target!r}")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _reply_exception(out: BinaryIO, exc: BaseException) -> None:
    cls = type(exc)
    try:
        pickled: bytes | None = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(pickled)
    except Exception:
        pickled = None
    write_frame(out, ("raise", cls.__name__, cls.__module__, str(exc), pickled,
                      "".join(traceback.format_exception(cls, exc, exc.__traceback__))[-4000:]))


def serve(target: str, args: tuple[str, ...], inp: BinaryIO, out: BinaryIO) -> None:
    """Answer requests from ``inp`` on ``out`` until ``inp`` closes."""
    executor: Any = None
    while True:
        try:
            request = read_frame(inp)
        except EOFError:
            return
        method = request[0]
        if method == "exit":
            if len(request) > 2:
                print(request[2], file=sys.stderr, flush=True)
            os._exit(int(request[1]))
        try:
            if method == "ping":
                value: Any = "pong"
            else:
                if executor is None:
                    executor = load_factory(target)(*args)
                if not isinstance(method, str) or method.startswith("_"):
                    raise ValueError(f"unknown request {method!r}")
                fn = getattr(executor, method, None)
                if fn is None:
                    raise ValueError(f"unknown request {method!r}: {target} has no such method")
                value = fn(*request[1:])
        except Exception as exc:  # the framework's exception goes back to the parent
            _reply_exception(out, exc)
            continue
        write_frame(out, ("ok", value))


def main(argv: list[str]) -> int:
    if not argv or ":" not in argv[0]:
        print("usage: python -m lossconform.isolation package.module:factory [arg ...]",
              file=sys.stderr)
        return 2
    # the reply channel is the original stdout; whatever the libraries print goes to stderr
    inp = os.fdopen(os.dup(0), "rb", buffering=0)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(argv[0], tuple(argv[1:]), inp, out)
    return 0


# ----------------------------------------------------------------------------- the parent

class WorkerCrashed(RuntimeError):
    """A worker process died; the message names it and has its stderr's tail."""


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


def child_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's environment) with ``PYTHONPATH`` extended by this
    process's ``sys.path``, so the child imports lossconform exactly as this process does."""
    out = dict(os.environ if env is None else env)
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    if out.get("PYTHONPATH"):
        paths.append(out["PYTHONPATH"])
    out["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return out


class Worker:
    """One persistent child process serving one executor; started lazily, restarted after a
    crash, closed at exit. ``name`` appears in crash messages and thread names; ``env`` is the
    child's environment (None: this process's; a callable is called at each start, so the
    child sees the environment of the moment), ``PYTHONPATH`` extended as
    ``child_environment`` says."""

    _all: list["Worker"] = []

    def __init__(self, name: str, target: str, args: tuple[str, ...] = (),
                 env: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None
                 ) -> None:
        if ":" not in target:
            raise ValueError(f"a worker target is 'package.module:factory', not {target!r}")
        if not all(isinstance(a, str) for a in args):
            raise TypeError(f"worker {name!r}: the factory's args are command-line strings, "
                            f"not {args!r}")
        self.name, self.target, self.args = name, target, tuple(args)
        self.env = env  # None: this process's; a callable is asked at each start
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
            [sys.executable, "-m", "lossconform.isolation", self.target, *self.args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=child_environment(self.env() if callable(self.env) else self.env), bufsize=0)
        tail = self._tail

        def drain() -> None:  # stderr drained so the worker never blocks on a full pipe
            assert proc.stderr is not None
            for line in iter(proc.stderr.readline, b""):
                tail.append(line.decode("utf-8", "replace").rstrip())

        threading.Thread(target=drain, name=f"{self.name}-stderr", daemon=True).start()
        self.starts += 1
        return proc

    def call(self, method: str, *args: Any) -> Any:
        """``executor.method(*args)`` in the child; its exception re-raised here."""
        req = (method, *args)
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
            f"the {self.name} worker (pid {proc.pid}) died with exit status {status} while "
            f"serving {what!r} ({type(exc).__name__}: {exc}); it is restarted on the next "
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


__all__ = ["RemoteTraceback", "Worker", "WorkerCrashed", "child_environment", "load_factory",
           "read_frame", "rebuild_exception", "serve", "write_frame"]

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
