"""Compiled ``jax.jit`` programs, kept in memory and on disk across runs: used by this plug-in's
jitted steps and by the Keras plug-in's keras-jax worker (``adapters/keras/worker.py``).

A jitted call on a new signature traces, lowers and compiles; tracing and lowering alone cost
15-40 ms even when JAX's persistent compilation cache then finds the executable. This cache
keeps ``jitted.lower(*args).compile()`` -- the path ``jax.jit`` itself takes, so the executable
is the one a user's ``jax.jit(step)(*args)`` runs (tests/adapters/jax and tests/adapters/keras
compare them bitwise) -- serialized with ``jax.experimental.serialize_executable`` in
``<JAX_COMPILATION_CACHE_DIR>/lossconform-executables``, keyed by the program's source, the
arguments' shapes, dtypes and weak types, the versions of jax, jaxlib and the packages the
program calls (``packages``: optax, keras), x64, ``XLA_FLAGS`` and the CPU (its flags). A later
run deserializes (about 5 ms) instead of tracing. An executable that XLA cannot load
(``NOT_FOUND`` of a fused kernel's symbol, met with some gathers) is marked and the call goes
through the jitted function itself: what that raises propagates. Importing this module imports
no framework; the methods import jax.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import platform
import time
from pathlib import Path
from typing import Any, Sequence


class Executables:
    """The cache for programs that call ``packages`` (module names whose versions key it)."""

    def __init__(self, packages: Sequence[str] = ()) -> None:
        self.packages = tuple(packages)
        self.memory: dict[str, Any] = {}
        self.misses = 0
        self.loads = 0
        #: seconds the last ``run`` spent tracing, lowering and compiling (0 on a hit or load)
        self.last_compile_seconds = 0.0
        self._static: str | None = None

    @staticmethod
    def folder() -> Path | None:
        import jax

        base = jax.config.jax_compilation_cache_dir
        return Path(base) / "lossconform-executables" if base else None

    def _static_key(self) -> str:
        if self._static is None:
            import jax
            import jaxlib

            try:
                with open("/proc/cpuinfo", encoding="utf-8") as fh:
                    flags = next((ln for ln in fh if ln.startswith("flags")), "")
            except OSError:
                flags = platform.processor()
            dev = jax.devices()[0]
            versions = tuple(importlib.import_module(p).__version__ for p in self.packages)
            self._static = repr((*versions, jax.__version__, jaxlib.__version__,
                                 bool(jax.config.jax_enable_x64),
                                 os.environ.get("XLA_FLAGS", ""), dev.platform,
                                 dev.device_kind, platform.machine(), flags))
        return self._static

    def run(self, jitted: Any, source: str, args: Sequence[Any]) -> Any:
        """``jitted(*args)`` through the cache (``source``: the program's text)."""
        import jax

        sig = tuple((tuple(getattr(a, "shape", ())), str(getattr(a, "dtype", type(a))),
                     bool(getattr(a, "weak_type", False))) for a in args)
        key = hashlib.sha256(repr((self._static_key(), source, sig)).encode()).hexdigest()
        self.last_compile_seconds = 0.0
        hit = self.memory.get(key)
        if hit is not None:
            return hit(*args)
        from jax.experimental.serialize_executable import deserialize_and_load, serialize

        folder = self.folder()
        path = folder / f"{key}.pkl" if folder is not None else None
        bad = path.with_suffix(".bad") if path is not None else None
        if bad is not None and bad.exists():
            self.memory[key] = jitted
            return jitted(*args)
        if path is not None and path.exists():
            try:
                payload, in_tree, out_tree = pickle.loads(path.read_bytes())
                loaded = deserialize_and_load(payload, in_tree, out_tree)
                out = jax.block_until_ready(loaded(*args))  # errors surface here
            except Exception as exc:  # a truncated, foreign or unloadable entry
                if isinstance(exc, jax.errors.JaxRuntimeError) and "NOT_FOUND" not in str(exc):
                    raise
                self._mark_bad(path, bad)
                self.memory[key] = jitted
                return jitted(*args)
            self.loads += 1
            self.memory[key] = loaded
            return out
        self.misses += 1
        t0 = time.perf_counter()
        compiled = jitted.lower(*args).compile()
        self.last_compile_seconds = time.perf_counter() - t0
        self.memory[key] = compiled
        if path is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(pickle.dumps(serialize(compiled)))
                os.replace(tmp, path)
            except Exception:  # a read-only cache folder only costs the next run time
                pass
        return compiled(*args)

    @staticmethod
    def _mark_bad(path: Path, bad: Path) -> None:
        try:
            bad.touch()
            path.unlink()
        except OSError:
            pass
