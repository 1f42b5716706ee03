"""Keras on a chosen backend in an interpreter that may already hold Keras on another one.

Keras reads ``KERAS_BACKEND`` once, at its first import. A repro snippet sets it before
``import keras``, which is all a fresh interpreter needs; ``import_keras`` makes the same
snippet also run inside an interpreter that already imported Keras with another backend (the
conformance suite runs every plug-in's repro snippets in its own process, next to the
TensorFlow plug-in's Keras): it then imports a separate copy of the ``keras`` package for the
wanted backend and puts the interpreter's own copy back in ``sys.modules``, so neither
disturbs the other (``keras.config.set_backend`` would replace the interpreter's copy for
everyone).
"""
from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any

_COPIES: dict[str, ModuleType] = {}


def _keras_modules() -> dict[str, Any]:
    return {k: v for k, v in sys.modules.items() if k == "keras" or k.startswith("keras.")}


def import_keras(backend: str) -> ModuleType:
    """``import keras`` with ``KERAS_BACKEND=backend``: the interpreter's Keras when it has none
    yet or has this backend, else a separate copy for ``backend`` (cached)."""
    current = sys.modules.get("keras")
    if current is None:
        os.environ["KERAS_BACKEND"] = backend
        import keras

        return keras
    if current.backend.backend() == backend:
        return current
    if backend in _COPIES:
        return _COPIES[backend]
    saved, env = _keras_modules(), os.environ.get("KERAS_BACKEND")
    try:
        for k in saved:
            del sys.modules[k]
        os.environ["KERAS_BACKEND"] = backend
        import keras

        copy = keras
        _COPIES[backend] = copy
        for k in _keras_modules():
            del sys.modules[k]
    finally:
        sys.modules.update(saved)
        if env is None:
            os.environ.pop("KERAS_BACKEND", None)
        else:
            os.environ["KERAS_BACKEND"] = env
    if copy.backend.backend() != backend:
        raise RuntimeError(f"could not import Keras with the {backend} backend "
                           f"(got {copy.backend.backend()})")
    return copy


__all__ = ["import_keras"]
